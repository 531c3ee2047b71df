//! Storing and loading users: lookups, case-insensitive uniqueness, versioned updates and timestamps.

use crate::common::{at, insert_user, user};
use roster_domain::{LifecycleState, User};
use roster_store::{StoreError, UniqueField};
use std::collections::BTreeMap;
use time::macros::date;

/// Builds a user with every attribute set.
fn full_user() -> User {
    User {
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        email: Some("Jane.Doe@Example.com".into()),
        unique_id: Some("E-1001".into()),
        external_id: Some("hr-77".into()),
        mobile_number: Some("+44 20 7946 0958".into()),
        job_title: Some("Engineer".into()),
        department: Some("Platform".into()),
        start_date: Some(date!(2026 - 02 - 01)),
        end_date: Some(date!(2027 - 01 - 31)),
        custom_attributes: BTreeMap::from([("cost_centre".to_string(), "CC-12".to_string())]),
        scim_attributes: serde_json::json!({ "displayName": "Ada L.", "addresses": [{ "locality": "London" }] })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        status: LifecycleState::Pending,
        created_at: at("2026-01-05T09:00:00.123456Z"),
        updated_at: at("2026-01-06T10:30:00.654321Z"),
        ..user("jdoe")
    }
}

store_test!(insert_then_load_by_id, |db| {
    let manager = insert_user(&db.store, &user("manager")).await?;
    let stored = insert_user(&db.store, &User { manager_id: Some(manager.id), ..full_user() }).await?;

    let loaded = db.store.read().await?.user_by_id(stored.id).await?;
    assert_eq!(loaded, Some(stored), "loading by id should return every attribute as inserted, with version 1");
});

store_test!(unknown_id_finds_nothing, |db| {
    let loaded = db.store.read().await?.user_by_id(424242).await?;
    assert_eq!(loaded, None, "an id that was never inserted should find no user");
});

store_test!(email_lookup_ignores_case, |db| {
    let stored = insert_user(&db.store, &full_user()).await?;

    let mut conn = db.store.read().await?;
    let found = conn.user_by_email("jane.doe@EXAMPLE.COM").await?;
    assert_eq!(found.map(|u| u.id), Some(stored.id), "jane.doe@EXAMPLE.COM should find Jane.Doe@Example.com");
});

store_test!(email_lookup_folds_unicode, |db| {
    let elodie = User { email: Some("Élodie@Example.com".into()), ..user("elodie") };
    let stored = insert_user(&db.store, &elodie).await?;

    let mut conn = db.store.read().await?;
    let lower = conn.user_by_email("élodie@example.com").await?;
    assert_eq!(lower.map(|u| u.id), Some(stored.id), "élodie@example.com should find Élodie@Example.com");

    let upper = conn.user_by_email("ÉLODIE@EXAMPLE.COM").await?;
    assert_eq!(upper.map(|u| u.id), Some(stored.id), "ÉLODIE@EXAMPLE.COM should find Élodie@Example.com");

    let other = conn.user_by_email("elodie@example.com").await?;
    assert_eq!(other, None, "elodie@example.com without the accent is another address and should find nothing");
});

store_test!(duplicate_keys_name_field, |db| {
    let first =
        User { email: Some("Élodie.Martin@Example.com".into()), unique_id: Some("EMP-7".into()), ..user("EMartin") };
    insert_user(&db.store, &first).await?;

    let cases = [
        ("email", User { email: Some("élodie.martin@example.COM".into()), ..user("other1") }, UniqueField::Email),
        ("user_name", User { email: Some("other2@example.com".into()), ..user("emartin") }, UniqueField::UserName),
        ("unique_id", User { unique_id: Some("emp-7".into()), ..user("other3") }, UniqueField::UniqueId),
    ];
    for (attribute, duplicate, field) in cases {
        let mut tx = db.store.begin().await?;
        let result = tx.insert_user(&duplicate, "api").await;
        assert!(
            matches!(result, Err(StoreError::Unique(f)) if f == field),
            "a user whose {attribute} differs from an existing one only in case should fail with \
             Unique({field:?}), but got {result:?}"
        );
    }

    let count = db.store.read().await?.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(count, 1, "no duplicate should have been stored");
});

store_test!(archived_user_keeps_keys, |db| {
    let archived = User {
        email: Some("gone@example.com".into()),
        status: LifecycleState::Archived,
        archived_at: Some(at("2026-03-01T00:00:00Z")),
        ..user("gone")
    };
    insert_user(&db.store, &archived).await?;

    let mut tx = db.store.begin().await?;
    let result = tx.insert_user(&User { email: Some("GONE@example.com".into()), ..user("new") }, "api").await;
    assert!(
        matches!(result, Err(StoreError::Unique(UniqueField::Email))),
        "an archived user's email should stay taken, but inserting it again gave {result:?}"
    );
    drop(tx);

    let found = db.store.read().await?.user_by_email("gone@example.com").await?;
    assert_eq!(
        found.map(|u| u.status),
        Some(LifecycleState::Archived),
        "a lookup by email should find the archived user that holds the address"
    );
});

store_test!(deleted_user_releases_keys, |db| {
    let deleted = User {
        email: Some("reused@example.com".into()),
        unique_id: Some("U-1".into()),
        status: LifecycleState::Deleted,
        ..user("reused")
    };
    let deleted = insert_user(&db.store, &deleted).await?;
    let replacement =
        User { email: Some("Reused@example.com".into()), unique_id: Some("u-1".into()), ..user("Reused") };
    let replacement = insert_user(&db.store, &replacement).await?;

    let mut conn = db.store.read().await?;
    let by_id = conn.user_by_id(deleted.id).await?;
    assert_eq!(by_id, None, "a deleted user should not be found by id");

    let exists = conn.user_exists(deleted.id).await?;
    assert!(!exists, "a deleted user should not exist for user_exists");

    let by_email = conn.user_by_email("reused@example.com").await?;
    assert_eq!(by_email.map(|u| u.id), Some(replacement.id), "the email lookup should find the new holder");
});

store_test!(update_with_current_version, |db| {
    let stored = insert_user(&db.store, &full_user()).await?;
    let changed = User {
        job_title: Some("Staff Engineer".into()),
        updated_at: at("2026-02-01T08:00:00.000001Z"),
        ..stored.clone()
    };

    let mut tx = db.store.begin().await?;
    let updated = tx.update_user(&changed, stored.version).await?;
    tx.commit().await?;
    assert!(updated, "an update with the stored version should succeed");

    let loaded = db.store.read().await?.user_by_id(stored.id).await?;
    assert_eq!(
        loaded,
        Some(User { version: stored.version + 1, ..changed }),
        "the update should write every attribute and increment the version"
    );
});

store_test!(update_with_stale_version, |db| {
    let stored = insert_user(&db.store, &full_user()).await?;
    let first = User { job_title: Some("First".into()), ..stored.clone() };
    let second = User { job_title: Some("Second".into()), ..stored.clone() };

    let mut tx = db.store.begin().await?;
    let first_updated = tx.update_user(&first, stored.version).await?;
    tx.commit().await?;
    assert!(first_updated, "the first update from version 1 should succeed");

    let mut tx = db.store.begin().await?;
    let second_updated = tx.update_user(&second, stored.version).await?;
    tx.commit().await?;
    assert!(!second_updated, "a second update from the same version 1 should be rejected");

    let loaded = db.store.read().await?.user_by_id(stored.id).await?;
    assert_eq!(
        loaded,
        Some(User { version: 2, ..first }),
        "the rejected update should change nothing, so the first update's values and version 2 remain"
    );
});

store_test!(update_into_taken_email, |db| {
    insert_user(&db.store, &User { email: Some("taken@example.com".into()), ..user("holder") }).await?;
    let other = insert_user(&db.store, &User { email: Some("free@example.com".into()), ..user("other") }).await?;

    let mut tx = db.store.begin().await?;
    let result = tx.update_user(&User { email: Some("TAKEN@example.com".into()), ..other }, 1).await;
    assert!(
        matches!(result, Err(StoreError::Unique(UniqueField::Email))),
        "changing an email to one another user holds should fail with Unique(Email), but got {result:?}"
    );
});

store_test!(touch_user_checks_version, |db| {
    let stored = insert_user(&db.store, &user("touched")).await?;
    let touched_at = at("2026-04-01T12:00:00.000042Z");

    let mut tx = db.store.begin().await?;
    let current = tx.touch_user(stored.id, 1, touched_at).await?;
    let stale = tx.touch_user(stored.id, 1, touched_at).await?;
    tx.commit().await?;
    assert!(current, "touching with the stored version should succeed");
    assert!(!stale, "touching again with the old version should be rejected");

    let loaded = db.store.read().await?.user_by_id(stored.id).await?.map(|u| (u.version, u.updated_at));
    assert_eq!(loaded, Some((2, touched_at)), "a touch should increment the version and set updated_at");
});

store_test!(timestamps_keep_microseconds, |db| {
    let cases = [
        ("2026-01-05T09:00:00.123456Z", "2026-01-05T09:00:00.000001Z", "2026-01-05T09:00:00.999999Z"),
        ("1999-12-31T23:59:59.999999Z", "2000-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000000Z"),
        // Nanoseconds are truncated when the Timestamp is built, so the stored value is the truncated one.
        ("2026-06-30T23:59:59.123456789Z", "2026-07-01T01:02:03.5+02:00", "2038-01-19T03:14:08.000007Z"),
    ];
    for (index, (created, updated, archived)) in cases.into_iter().enumerate() {
        let original = User {
            created_at: at(created),
            updated_at: at(updated),
            archived_at: Some(at(archived)),
            ..user(&format!("clock{index}"))
        };
        let stored = insert_user(&db.store, &original).await?;

        let loaded = db.store.read().await?.user_by_id(stored.id).await?;
        let times =
            loaded.map(|u| (u.created_at.canonical(), u.updated_at.canonical(), u.archived_at.map(|t| t.canonical())));
        let expected = (
            original.created_at.canonical(),
            original.updated_at.canonical(),
            original.archived_at.map(|t| t.canonical()),
        );
        assert_eq!(times, Some(expected), "timestamps {created}, {updated} and {archived} should read back unchanged");
    }
});

fn create_entry(now: roster_domain::Timestamp) -> roster_domain::AuditEntry {
    let mut changes = roster_domain::Changes::new();
    changes.insert(
        "user_name".into(),
        roster_domain::Change { before: serde_json::Value::Null, after: serde_json::json!("created") },
    );
    roster_domain::AuditEntry {
        created_at: now,
        actor_token_id: None,
        actor_name: "admin".into(),
        action: "user.create".into(),
        target_type: "user".into(),
        target_id: None,
        changes,
        request_id: Some("req-create".into()),
    }
}

store_test!(user_created_in_one_call, |db| {
    let now = at("2026-12-05T10:00:00Z");
    let manager = insert_user(&db.store, &user("boss")).await?;
    let mut tx = db.store.begin().await?;
    tx.append_audit(&create_entry(now)).await?;
    tx.commit().await?;
    let audit = create_entry(now).prepare();
    let person = User { manager_id: Some(manager.id), ..full_user() };
    let record = roster_store::NewUserRecord { user: person.clone(), origin: "api", audit };

    let (created, returned) = db.store.create_user(record.clone()).await?;
    // A write transaction in the next batch appends after the new user's entry.
    let mut tx = db.store.begin().await?;
    tx.append_audit(&create_entry(now)).await?;
    tx.commit().await?;

    let roster_store::CreateOutcome::Created(id) = created else { anyhow::bail!("the user was not created: {created:?}") };
    let mut conn = db.store.read().await?;
    let stored = conn.user_by_id(id).await?.ok_or_else(|| anyhow::anyhow!("the created user was not found"))?;
    assert_eq!(returned, person, "the record's user is returned as given");
    assert_eq!(stored, User { id, ..person.clone() }, "the user should be stored with every attribute as given");
    let chain = conn.audit_range(0, 10).await?;
    assert_eq!(chain.len(), 3, "the create's entry sits between the two others");
    assert_eq!(chain[1].entry.target_id.as_deref(), Some(id.to_string().as_str()), "the audit entry names the new user");
    assert_eq!(chain[1].entry.changes, create_entry(now).changes, "the prepared changes are stored");
    for pair in chain.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "each entry links to the one before it");
    }
    drop(conn);

    let same_email = User { user_name: "someone.else".into(), unique_id: None, ..person.clone() };
    let error = db.store.create_user(roster_store::NewUserRecord { user: same_email, ..record.clone() }).await;
    assert!(matches!(error, Err(StoreError::Unique(UniqueField::Email))), "a taken email should be reported: {error:?}");

    let orphan = User { manager_id: Some(id + 1000), email: Some("orphan@example.com".into()), ..user("orphan") };
    let (outcome, _) = db.store.create_user(roster_store::NewUserRecord { user: orphan, ..record }).await?;
    assert_eq!(outcome, roster_store::CreateOutcome::ManagerMissing, "an unknown manager writes nothing");
    let mut conn = db.store.read().await?;
    assert_eq!(conn.user_by_email("orphan@example.com").await?, None, "no user is left behind");
    assert_eq!(conn.count_users(&roster_domain::filter::Filter::All).await?, 2, "only the manager and the created user exist");
    assert_eq!(conn.audit_range(0, 10).await?.len(), 3, "nor an audit entry");
});
