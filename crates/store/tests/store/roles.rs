//! The role catalogue and role assignments.

use crate::common::{at, insert_user, user};
use roster_domain::{RoleAssignment, RoleKey, RoleSource, RoleType, Timestamp};
use roster_store::{Store, StoreError, UniqueField};

fn role_type(name: &str, resource_type: Option<&str>) -> RoleType {
    RoleType {
        id: 0,
        name: name.to_string(),
        description: Some(format!("{name} role")),
        category: Some("operations".into()),
        resource_type: resource_type.map(String::from),
        created_at: at("2026-01-02T03:04:05.678901Z"),
        updated_at: at("2026-01-02T03:04:05.678901Z"),
    }
}

async fn insert_role_type(store: &Store, role_type: &RoleType) -> anyhow::Result<RoleType> {
    let mut tx = store.begin().await?;
    let id = tx.insert_role_type(role_type).await?;
    tx.commit().await?;
    Ok(RoleType { id, ..role_type.clone() })
}

/// Builds a direct grant of `role` that never expires; scoped roles get resource id `7`.
fn grant(role: &RoleType) -> RoleAssignment {
    RoleAssignment {
        key: RoleKey {
            role_type_id: role.id,
            resource_type: role.resource_type.clone(),
            resource_id: role.resource_type.as_ref().map(|_| "7".to_string()),
        },
        role_type_name: role.name.clone(),
        source: RoleSource::Direct,
        approved_by: Some("security-lead".into()),
        reason: Some("on-call rota".into()),
        expires_at: None,
        granted_at: at("2026-01-10T08:00:00.000123Z"),
    }
}

fn expiring(role: &RoleType, resource_id: &str, expires_at: Timestamp) -> RoleAssignment {
    let mut grant = grant(role);
    grant.key.resource_id = Some(resource_id.to_string());
    grant.expires_at = Some(expires_at);
    grant
}

store_test!(role_type_found_ignoring_case, |db| {
    let stored = insert_role_type(&db.store, &role_type("Runbook Editor", Some("runbook"))).await?;

    let mut conn = db.store.read().await?;
    let by_name = conn.role_type_by_name("RUNBOOK editor").await?;
    assert_eq!(by_name, Some(stored.clone()), "RUNBOOK editor should find the role type named Runbook Editor");

    let by_id = conn.role_type_by_id(stored.id).await?;
    assert_eq!(by_id, Some(stored), "loading by id should return the role type as inserted");

    let missing = conn.role_type_by_name("Runbook Viewer").await?;
    assert_eq!(missing, None, "a name that was never inserted should find nothing");
});

store_test!(role_type_name_is_unique, |db| {
    insert_role_type(&db.store, &role_type("Éditeur", None)).await?;

    let mut tx = db.store.begin().await?;
    let result = tx.insert_role_type(&role_type("ÉDITEUR", None)).await;
    assert!(
        matches!(result, Err(StoreError::Unique(UniqueField::RoleTypeName))),
        "a role type name differing only in case should fail with Unique(RoleTypeName), but got {result:?}"
    );
});

store_test!(assignments_insert_list_delete, |db| {
    let holder = insert_user(&db.store, &user("holder")).await?;
    let global = insert_role_type(&db.store, &role_type("auditor", None)).await?;
    let scoped = insert_role_type(&db.store, &role_type("editor", Some("runbook"))).await?;
    let global_grant = grant(&global);
    let scoped_grant = RoleAssignment { expires_at: Some(at("2026-12-31T23:59:59.999999Z")), ..grant(&scoped) };

    let mut tx = db.store.begin().await?;
    tx.insert_assignment(holder.id, &scoped_grant).await?;
    tx.insert_assignment(holder.id, &global_grant).await?;
    tx.commit().await?;

    let listed = db.store.read().await?.user_assignments(holder.id).await?;
    assert_eq!(
        listed,
        vec![global_grant.clone(), scoped_grant.clone()],
        "user_assignments should return both grants as inserted, ordered by role type id"
    );

    let mut tx = db.store.begin().await?;
    let deleted = tx.delete_assignment(holder.id, &global_grant.key, &RoleSource::Direct).await?;
    let deleted_again = tx.delete_assignment(holder.id, &global_grant.key, &RoleSource::Direct).await?;
    tx.commit().await?;
    assert_eq!(deleted, 1, "deleting an existing grant should delete one row");
    assert_eq!(deleted_again, 0, "deleting the same grant again should delete nothing");

    let remaining = db.store.read().await?.user_assignments(holder.id).await?;
    assert_eq!(remaining, vec![scoped_grant], "only the scoped grant should remain");

    let mut tx = db.store.begin().await?;
    let cleared = tx.delete_user_assignments(holder.id).await?;
    tx.commit().await?;
    assert_eq!(cleared, 1, "delete_user_assignments should report the one remaining grant");
});

store_test!(same_key_two_sources, |db| {
    let holder = insert_user(&db.store, &user("holder")).await?;
    let role = insert_role_type(&db.store, &role_type("auditor", None)).await?;
    let direct = grant(&role);
    let from_group =
        RoleAssignment { source: RoleSource::Group("g-42".into()), approved_by: None, reason: None, ..direct.clone() };

    let mut tx = db.store.begin().await?;
    tx.insert_assignment(holder.id, &direct).await?;
    tx.insert_assignment(holder.id, &from_group).await?;
    tx.commit().await?;

    let listed = db.store.read().await?.user_assignments(holder.id).await?;
    assert_eq!(listed, vec![direct.clone(), from_group.clone()], "one key from two sources should be two grants");

    let mut tx = db.store.begin().await?;
    tx.delete_assignment(holder.id, &direct.key, &RoleSource::Direct).await?;
    tx.commit().await?;

    let remaining = db.store.read().await?.user_assignments(holder.id).await?;
    assert_eq!(remaining, vec![from_group], "deleting the direct grant should keep the group's grant");
});

store_test!(duplicate_grant_is_rejected, |db| {
    let holder = insert_user(&db.store, &user("holder")).await?;
    let role = insert_role_type(&db.store, &role_type("auditor", None)).await?;

    let mut tx = db.store.begin().await?;
    tx.insert_assignment(holder.id, &grant(&role)).await?;
    let result = tx.insert_assignment(holder.id, &grant(&role)).await;
    assert!(
        matches!(result, Err(StoreError::Unique(_))),
        "the same key from the same source twice should be a unique violation, but got {result:?}"
    );
});

store_test!(grant_needs_existing_user, |db| {
    let role = insert_role_type(&db.store, &role_type("auditor", None)).await?;

    let mut tx = db.store.begin().await?;
    let result = tx.insert_assignment(424242, &grant(&role)).await;
    assert!(
        matches!(result, Err(StoreError::ForeignKey)),
        "a grant to a user id that does not exist should fail with ForeignKey, but got {result:?}"
    );
});

store_test!(holders_counted_once, |db| {
    let first = insert_user(&db.store, &user("first")).await?;
    let second = insert_user(&db.store, &user("second")).await?;
    let editor = insert_role_type(&db.store, &role_type("editor", Some("runbook"))).await?;
    let auditor = insert_role_type(&db.store, &role_type("auditor", None)).await?;
    let unused = insert_role_type(&db.store, &role_type("unused", None)).await?;

    let mut tx = db.store.begin().await?;
    let mut other_runbook = grant(&editor);
    other_runbook.key.resource_id = Some("8".into());
    tx.insert_assignment(first.id, &grant(&editor)).await?;
    tx.insert_assignment(first.id, &other_runbook).await?;
    tx.insert_assignment(second.id, &grant(&editor)).await?;
    tx.insert_assignment(second.id, &grant(&auditor)).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let editors = conn.count_role_type_holders(editor.id).await?;
    assert_eq!(editors, 2, "two users hold editor, one of them twice, so the count should be 2");

    let auditors = conn.count_role_type_holders(auditor.id).await?;
    assert_eq!(auditors, 1, "one user holds auditor");

    let nobody = conn.count_role_type_holders(unused.id).await?;
    assert_eq!(nobody, 0, "nobody holds the unused role type");
});

store_test!(expired_assignments_oldest_first, |db| {
    let first = insert_user(&db.store, &user("first")).await?;
    let second = insert_user(&db.store, &user("second")).await?;
    let role = insert_role_type(&db.store, &role_type("editor", Some("runbook"))).await?;
    let now = at("2026-06-01T12:00:00.000000Z");

    let long_ago = expiring(&role, "1", at("2026-06-01T10:00:00Z"));
    let just_now = expiring(&role, "2", now);
    let recently = expiring(&role, "3", at("2026-06-01T11:59:59.999999Z"));
    let later = expiring(&role, "4", at("2026-06-01T12:00:00.000001Z"));
    let permanent = grant(&role);

    let mut tx = db.store.begin().await?;
    tx.insert_assignment(first.id, &recently).await?;
    tx.insert_assignment(second.id, &long_ago).await?;
    tx.insert_assignment(first.id, &later).await?;
    tx.insert_assignment(second.id, &just_now).await?;
    tx.insert_assignment(first.id, &permanent).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let expired = conn.expired_assignments(now, 10).await?;
    assert_eq!(
        expired,
        vec![(second.id, long_ago.clone()), (first.id, recently), (second.id, just_now)],
        "grants expiring at or before now should be listed oldest first with their holders"
    );

    let limited = conn.expired_assignments(now, 1).await?;
    assert_eq!(limited, vec![(second.id, long_ago)], "a limit of 1 should return only the oldest expired grant");
});

store_test!(assignments_of_several_users, |db| {
    let first = insert_user(&db.store, &user("first")).await?;
    let second = insert_user(&db.store, &user("second")).await?;
    let without = insert_user(&db.store, &user("without")).await?;
    let global = insert_role_type(&db.store, &role_type("auditor", None)).await?;
    let scoped = insert_role_type(&db.store, &role_type("editor", Some("runbook"))).await?;

    let mut tx = db.store.begin().await?;
    tx.insert_assignment(first.id, &grant(&scoped)).await?;
    tx.insert_assignment(first.id, &grant(&global)).await?;
    tx.insert_assignment(second.id, &grant(&scoped)).await?;
    tx.commit().await?;

    let mut reader = db.store.read().await?;
    let batch = reader.assignments_of_users(&[first.id, second.id, without.id]).await?;
    for holder in [&first, &second] {
        let one_by_one = reader.user_assignments(holder.id).await?;
        assert_eq!(batch.get(&holder.id), Some(&one_by_one), "user {} should get the same grants in a batch", holder.id);
    }
    assert!(!batch.contains_key(&without.id), "a user without grants should have no entry");
    assert!(reader.assignments_of_users(&[]).await?.is_empty(), "no ids should give no grants");
});

store_test!(assignments_inserted_together_if_absent, |db| {
    let global = insert_role_type(&db.store, &role_type("viewer", None)).await?;
    let scoped = insert_role_type(&db.store, &role_type("editor", Some("workspace"))).await?;
    let person = insert_user(&db.store, &user("together")).await?;
    let held = grant(&global);
    let new = RoleAssignment { expires_at: Some(at("2027-01-01T00:00:00Z")), approved_by: None, reason: None, ..grant(&scoped) };
    let by_rule = RoleAssignment { source: RoleSource::Policy("everyone".into()), ..grant(&global) };

    let mut tx = db.store.begin().await?;
    assert!(tx.insert_assignment_if_absent(person.id, &held).await?);
    let inserted = tx.insert_assignments_if_absent(person.id, &[held.clone(), new.clone(), by_rule.clone(), new.clone()]).await?;
    tx.commit().await?;

    assert_eq!(inserted, vec![false, true, true, false], "a held grant and a repeated one are not inserted");
    let stored = db.store.read().await?.user_assignments(person.id).await?;
    assert_eq!(stored.len(), 3, "{stored:?}");
    let scoped_grant = stored.iter().find(|a| a.key.role_type_id == scoped.id).expect("the scoped grant is stored");
    assert_eq!(scoped_grant.expires_at, new.expires_at);
    assert_eq!((scoped_grant.approved_by.as_deref(), scoped_grant.reason.as_deref()), (None, None), "absent values stay NULL");
    assert!(stored.iter().any(|a| a.source == RoleSource::Policy("everyone".into())), "the same role from another source is its own grant");
    assert!(db.store.begin().await?.insert_assignments_if_absent(person.id, &[]).await?.is_empty());
});
