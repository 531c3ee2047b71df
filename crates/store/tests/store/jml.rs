//! The JML tables: plans, runs, run items that stop a person being applied twice, and feed source membership.

use crate::common::{at, insert_user, user};
use roster_domain::User;

/// Returns a plan of source `hr` created at `created_at`, with no stored mapping or policy.
fn new_plan(created_at: roster_domain::Timestamp, policy: &str) -> roster_store::NewJmlPlan<'_> {
    roster_store::NewJmlPlan { source: "hr", created_at, created_by: "admin", policy, mapping_used: None, policy_used: None }
}

store_test!(run_item_recorded_once, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let mut tx = db.store.begin().await?;
    let plan_id = tx.insert_jml_plan(&new_plan(now, "")).await?;
    tx.form_jml_plan(plan_id, &roster_store::PlanSummary { has_errors: false, body: "{}", change_count: 0 }).await?;
    let run_id = tx.insert_jml_run(plan_id, "running", now, "admin").await?;
    assert!(tx.insert_jml_run_item(plan_id, "E1", run_id, "applied", None, now).await?);
    assert!(!tx.insert_jml_run_item(plan_id, "E1", run_id, "applied", None, now).await?, "a second outcome must be refused");
    tx.update_jml_run(run_id, "done", "{\"applied\":1}", None, now, true).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let items = conn.jml_run_items(plan_id).await?;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].outcome, "applied");
    let run = conn.jml_run(run_id).await?.expect("the run exists");
    assert_eq!(run.status, "done");
    assert_eq!(run.finished_at, Some(now));
    let plan = conn.jml_plan(plan_id).await?.expect("the plan exists");
    assert!(!plan.has_errors);
});

store_test!(latest_applied_policy_skips_drafts, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let mut tx = db.store.begin().await?;
    let plan = |policy: &'static str| new_plan(now, policy);
    let finished = tx.insert_jml_plan(&plan("finished")).await?;
    let run = tx.insert_jml_run(finished, "running", now, "admin").await?;
    tx.update_jml_run(run, "done", "{}", None, now, true).await?;
    let interrupted = tx.insert_jml_plan(&plan("interrupted")).await?;
    let run = tx.insert_jml_run(interrupted, "running", now, "admin").await?;
    tx.insert_jml_run_item(interrupted, "E1", run, "applied", None, now).await?;
    tx.insert_jml_plan(&plan("draft")).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let applied = conn.latest_applied_jml_policy("hr").await?.expect("a plan was applied");
    assert_eq!(
        (applied.plan_id, applied.policy.as_str()),
        (interrupted, "interrupted"),
        "the latest plan that applied anyone decides, not the later draft"
    );
    assert_eq!(conn.latest_applied_jml_policy("payroll").await?, None, "another source has no applied plan");
});

fn change(position: i64, kind: &str, scheduled: bool) -> roster_store::NewPlanChange {
    roster_store::NewPlanChange { position, kind: kind.into(), scheduled, body: format!("{{\"n\":{position}}}") }
}

store_test!(plan_changes_written_in_batches_and_read_in_pages, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let plan = new_plan(now, "");
    // More changes than one insert statement takes, every third an archive and every tenth scheduled.
    let count = i64::try_from(roster_store::PLAN_CHANGES_BATCH * 2 + 7)?;
    let changes: Vec<_> = (1..=count).map(|n| change(n, if n % 3 == 0 { "archive" } else { "create" }, n % 10 == 0)).collect();
    let mut tx = db.store.begin().await?;
    let plan_id = tx.insert_jml_plan(&plan).await?;
    tx.insert_jml_plan_changes(plan_id, &changes).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    assert_eq!(conn.jml_plan(plan_id).await?, None, "an unformed plan is invisible");
    drop(conn);
    let mut tx = db.store.begin().await?;
    let summary = roster_store::PlanSummary { has_errors: true, body: "{\"counts\":{}}", change_count: count };
    assert!(tx.form_jml_plan(plan_id, &summary).await?);
    assert!(!tx.form_jml_plan(plan_id, &summary).await?, "a formed plan is formed once");
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let plan = conn.jml_plan(plan_id).await?.expect("the formed plan is visible");
    assert_eq!((plan.change_count, plan.has_errors, plan.body.as_str()), (count, true, "{\"counts\":{}}"));
    let query = |after, kind, scheduled_only, offset, limit| roster_store::PlanChangesQuery { after, kind, scheduled_only, offset, limit };
    let positions = |rows: Vec<(i64, String)>| rows.into_iter().map(|(position, _)| position).collect::<Vec<_>>();

    let all = conn.jml_plan_changes(plan_id, &query(0, None, false, 0, 5000)).await?;
    assert_eq!(all.len(), changes.len(), "every change is stored once");
    assert_eq!(all[41], (42, "{\"n\":42}".to_string()), "each change keeps its position and body");
    assert_eq!(positions(conn.jml_plan_changes(plan_id, &query(10, None, false, 0, 3)).await?), vec![11, 12, 13]);
    assert_eq!(positions(conn.jml_plan_changes(plan_id, &query(10, Some("archive"), false, 1, 3)).await?), vec![15, 18, 21]);
    assert_eq!(positions(conn.jml_plan_changes(plan_id, &query(0, None, true, 0, 3)).await?), vec![10, 20, 30]);
    assert_eq!(positions(conn.jml_plan_changes(plan_id, &query(0, Some("archive"), true, 0, 2)).await?), vec![30, 60]);
    assert!(conn.jml_plan_changes(plan_id, &query(count, None, false, 0, 10)).await?.is_empty());
    assert_eq!(conn.count_rows("jml_plan_changes").await?, count, "an export carries every change");
});

store_test!(unformed_plans_deleted, |db| {
    let created = at("2026-12-04T10:00:00Z");
    let plan = new_plan(created, "");
    let summary = roster_store::PlanSummary { has_errors: false, body: "{}", change_count: 1 };
    let mut tx = db.store.begin().await?;
    let formed = tx.insert_jml_plan(&plan).await?;
    tx.insert_jml_plan_changes(formed, &[change(1, "create", false)]).await?;
    tx.form_jml_plan(formed, &summary).await?;
    let failed = tx.insert_jml_plan(&plan).await?;
    tx.insert_jml_plan_changes(failed, &[change(1, "create", false)]).await?;
    let abandoned = tx.insert_jml_plan(&plan).await?;
    tx.insert_jml_plan_changes(abandoned, &[change(1, "create", false)]).await?;
    let recent = tx.insert_jml_plan(&new_plan(at("2026-12-05T10:00:00Z"), "")).await?;
    tx.commit().await?;

    let mut tx = db.store.begin().await?;
    tx.delete_unformed_jml_plan(failed).await?;
    tx.delete_unformed_jml_plan(formed).await?;
    assert_eq!(tx.delete_unformed_jml_plans(at("2026-12-04T12:00:00Z")).await?, 1, "only the abandoned plan is old enough");
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    assert!(conn.jml_plan(formed).await?.is_some(), "a formed plan is never deleted as unformed");
    assert_eq!(conn.count_rows("jml_plans").await?, 2, "the formed plan and the recent unformed one remain");
    assert_eq!(conn.count_rows("jml_plan_changes").await?, 1, "only the formed plan's change remains");
    let query = roster_store::PlanChangesQuery { after: 0, kind: None, scheduled_only: false, offset: 0, limit: 10 };
    assert_eq!(conn.jml_plan_changes(formed, &query).await?.len(), 1);
    assert!(conn.jml_plan_changes(recent, &query).await?.is_empty());
});

store_test!(feed_users_marked_per_source, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let manager = insert_user(&db.store, &User { unique_id: Some("M1".into()), ..user("manager") }).await?;
    let member = insert_user(&db.store, &User { unique_id: Some("E1".into()), manager_id: Some(manager.id), ..user("member") }).await?;
    insert_user(&db.store, &user("no-key")).await?;

    let mut tx = db.store.begin().await?;
    tx.mark_feed_user("hr", member.id, "created", now).await?;
    tx.mark_feed_user("hr", member.id, "adopted", now).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let users = conn.jml_users("hr").await?;
    assert_eq!(db.store.jml_users("hr", Some).await?, users, "the store's scan should load what a pooled connection loads");
    assert_eq!(users.len(), 2, "only users with a unique_id are listed");
    let listed = users.iter().find(|u| u.id == member.id).expect("the member is listed");
    assert!(listed.owned);
    assert_eq!(listed.manager_unique_id.as_deref(), Some("M1"));
    assert!(!users.iter().any(|u| u.id == manager.id && u.owned));
    assert!(conn.jml_users("payroll").await?.iter().all(|u| !u.owned), "membership is per source");
    assert_eq!(conn.user_by_unique_id("e1").await?.map(|u| u.id), Some(member.id));
    match (db.backend(), db.store.committed_user_by_unique_id("e1").transpose()?) {
        (roster_store::Backend::Sqlite, Some(found)) => {
            assert_eq!(found, conn.user_by_unique_id("E1").await?, "the synchronous reader should load the same user")
        }
        (roster_store::Backend::Postgres, None) => {}
        (backend, other) => anyhow::bail!("{backend:?} should read on the synchronous reader only on SQLite: {other:?}"),
    }
    assert_eq!(db.store.committed_user_by_unique_id("nobody").transpose()?.flatten(), None);

    assert_eq!(conn.count_rows("jml_feed_users").await?, 1);
    let exported = conn.export_rows("jml_feed_users", 0, 10).await?;
    assert_eq!(exported.len(), 1, "an export carries feed membership");
    let roster_store::ExportRecord::JmlFeedUsers(row) = &exported[0].1 else { anyhow::bail!("expected a jml_feed_users record") };
    assert_eq!(row.user_id, member.id);
    assert_eq!(row.relation, "created", "the first relation recorded is kept");
});

store_test!(config_versions_checked_in_sql, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let record = roster_store::JmlConfigRecord {
        id: 0,
        kind: "mapping".into(),
        name: "hr".into(),
        body: "source = \"hr\"".into(),
        version: 1,
        sha256: "a".repeat(64),
        created_at: now,
        updated_at: now,
        updated_by: "admin".into(),
    };

    let mut tx = db.store.begin().await?;
    let id = tx.insert_jml_config(&record).await?;
    assert!(id.is_some(), "the first insert stores the row");
    assert_eq!(tx.insert_jml_config(&record).await?, None, "a second insert of the same kind and name stores nothing");
    let policy = roster_store::JmlConfigRecord { kind: "policy".into(), ..record.clone() };
    assert!(tx.insert_jml_config(&policy).await?.is_some(), "a policy may share a mapping's name");

    let replaced = roster_store::JmlConfigRecord { body: "source = \"hr2\"".into(), version: 2, ..record.clone() };
    assert!(tx.update_jml_config(&replaced, 1).await?);
    assert!(!tx.update_jml_config(&replaced, 1).await?, "a stale expected version changes nothing");
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let stored = conn.jml_config("mapping", "hr").await?.expect("the mapping exists");
    assert_eq!(stored.version, 2);
    assert_eq!(stored.body, "source = \"hr2\"");
    assert_eq!(stored.created_at, now);
    assert_eq!(conn.jml_configs("mapping").await?.len(), 1);
    assert_eq!(conn.count_rows("jml_configs").await?, 2);
    let exported = conn.export_rows("jml_configs", 0, 10).await?;
    assert_eq!(exported.len(), 2, "an export carries stored configurations");
    drop(conn);

    let mut tx = db.store.begin().await?;
    let deleted = tx.delete_jml_config("mapping", "hr").await?;
    assert_eq!(deleted.map(|d| d.version), Some(2), "the delete returns the deleted row");
    assert_eq!(tx.delete_jml_config("mapping", "hr").await?, None);
    tx.commit().await?;
});

store_test!(policy_grants_list_only_rule_grants, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let alice = insert_user(&db.store, &User { unique_id: Some("E1".into()), ..user("alice") }).await?;
    let bob = insert_user(&db.store, &User { unique_id: Some("E2".into()), ..user("bob") }).await?;
    let mut tx = db.store.begin().await?;
    let global = roster_domain::RoleType {
        id: 0,
        name: "Badge holder".into(),
        description: None,
        category: None,
        resource_type: None,
        created_at: now,
        updated_at: now,
    };
    let global = roster_domain::RoleType { id: tx.insert_role_type(&global).await?, ..global };
    let scoped = roster_domain::RoleType { name: "Desk".into(), resource_type: Some("site".into()), ..global.clone() };
    let scoped = roster_domain::RoleType { id: tx.insert_role_type(&scoped).await?, ..scoped };
    let grant = |role: &roster_domain::RoleType, resource_id: Option<&str>, source: roster_domain::RoleSource| {
        roster_domain::RoleAssignment {
            key: roster_domain::RoleKey {
                role_type_id: role.id,
                resource_type: role.resource_type.clone(),
                resource_id: resource_id.map(String::from),
            },
            role_type_name: role.name.clone(),
            source,
            approved_by: None,
            reason: None,
            expires_at: None,
            granted_at: now,
        }
    };
    let policy = |rule: &str| roster_domain::RoleSource::Policy(rule.into());
    tx.insert_assignment_if_absent(alice.id, &grant(&global, None, policy("everyone"))).await?;
    tx.insert_assignment_if_absent(alice.id, &grant(&scoped, Some("paris"), policy("office"))).await?;
    tx.insert_assignment_if_absent(bob.id, &grant(&scoped, Some("oslo"), roster_domain::RoleSource::Direct)).await?;
    tx.commit().await?;

    let grants = db.store.read().await?.policy_grants().await?;
    assert_eq!(db.store.fold_policy_grants(Vec::new(), |all, grant| all.push(grant)).await?, grants, "the store's scan should list what a pooled connection lists");
    let grant_of = |user_id: i64, role: &str, resource_type: Option<&str>, resource_id: Option<&str>, rule: &str| {
        roster_store::PolicyGrant {
            user_id,
            role_type_name: role.into(),
            resource_type: resource_type.map(String::from),
            resource_id: resource_id.map(String::from),
            rule: Some(rule.into()),
        }
    };
    assert_eq!(
        grants,
        vec![
            grant_of(alice.id, "Badge holder", None, None, "everyone"),
            grant_of(alice.id, "Desk", Some("site"), Some("paris"), "office"),
        ],
        "only grants from policy rules should be listed, with their role names and rules, and not the direct grant"
    );
});

store_test!(plan_from_older_export_split_into_rows, |db| {
    // An export line as Roster wrote it before plan changes had rows: the changes inside the body.
    let line = serde_json::json!({
        "table": "jml_plans",
        "row": {
            "id": 3, "source": "hr", "created_at": "2026-12-04T10:00:00Z", "created_by": "admin", "has_errors": 0,
            "policy": "", "body": r#"{"counts":{},"changes":[{"key":"E1","kind":"create"},{"key":"E2","kind":"none"}]}"#
        }
    });
    let record: roster_store::ExportRecord = serde_json::from_value(line)?;
    let mut tx = db.store.begin().await?;
    tx.import_record(&record).await?;
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let plan = conn.jml_plan(3).await?.expect("an imported plan is formed");
    assert_eq!(plan.change_count, 2);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&plan.body)?["changes"], serde_json::json!([]));
    let query = roster_store::PlanChangesQuery { after: 0, kind: Some("update"), scheduled_only: false, offset: 0, limit: 10 };
    let updates = conn.jml_plan_changes(3, &query).await?;
    assert_eq!(updates.len(), 1, "a change of kind none is stored as an update: {updates:?}");
    assert_eq!(updates[0].0, 2, "the changes keep their order");
});

fn create_entry(now: roster_domain::Timestamp) -> roster_domain::AuditEntry {
    roster_domain::AuditEntry {
        created_at: now,
        actor_token_id: None,
        actor_name: "admin".into(),
        action: "user.create".into(),
        target_type: "user".into(),
        target_id: None,
        changes: roster_domain::Changes::new(),
        request_id: None,
    }
}

store_test!(joiner_created_in_one_call, |db| {
    let now = at("2026-12-04T10:00:00Z");
    let role = roster_domain::RoleType {
        id: 0,
        name: "viewer".into(),
        description: None,
        category: None,
        resource_type: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.store.begin().await?;
    let role = roster_domain::RoleType { id: tx.insert_role_type(&role).await?, ..role };
    let plan_id = tx
        .insert_jml_plan(&new_plan(now, ""))
        .await?;
    let run_id = tx.insert_jml_run(plan_id, "running", now, "admin").await?;
    tx.append_audit(&create_entry(now)).await?;
    tx.commit().await?;
    let grant = roster_domain::RoleAssignment {
        key: roster_domain::RoleKey { role_type_id: role.id, resource_type: None, resource_id: None },
        role_type_name: role.name.clone(),
        source: roster_domain::RoleSource::Policy("everyone".into()),
        approved_by: Some("policy".into()),
        reason: None,
        expires_at: None,
        granted_at: now,
    };
    let audit = create_entry(now).prepare();
    let person = User { unique_id: Some("E1".into()), first_name: Some("Ada".into()), start_date: Some(time::macros::date!(2026 - 01 - 05)), ..user("ada") };
    let joiner = roster_store::NewJoiner { user: person.clone(), source: "hr".into(), grants: vec![grant], audit, plan_id, run_id, at: now };

    let created = db.store.create_joiner(joiner.clone()).await?;
    // A write transaction in the next batch appends after the joiner's entry.
    let mut tx = db.store.begin().await?;
    tx.append_audit(&create_entry(now)).await?;
    tx.commit().await?;

    let roster_store::JoinerOutcome::Created(id) = created else { anyhow::bail!("the joiner was not created: {created:?}") };
    let mut conn = db.store.read().await?;
    let stored = conn.user_by_id(id).await?.expect("the joiner exists");
    assert_eq!((stored.first_name.as_deref(), stored.start_date), (Some("Ada"), person.start_date), "the user is stored as given");
    assert_eq!(conn.user_by_unique_id("e1").await?.map(|u| u.id), Some(id), "the folded key is stored");
    assert!(conn.jml_users("hr").await?.iter().any(|u| u.id == id && u.owned), "the source owns the joiner");
    assert_eq!(conn.user_assignments(id).await?.len(), 1, "the grant is stored");
    assert_eq!(conn.jml_run_items(plan_id).await?.len(), 1, "the run records the person");
    let chain = conn.audit_range(0, 10).await?;
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[1].entry.target_id.as_deref(), Some(id.to_string().as_str()), "the audit entry names the new user");
    for pair in chain.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "each entry links to the one before it");
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    assert_eq!(conn.audit_head().await?, (chain[2].seq, chain[2].hash.clone()), "the head is the last entry");
    drop(conn);

    // The same key again is taken, and a person the run already recorded is undone.
    let same_key = User { user_name: "ada.again".into(), ..person.clone() };
    let outcome = db.store.create_joiner(roster_store::NewJoiner { user: same_key, ..joiner.clone() }).await?;
    assert_eq!(outcome, roster_store::JoinerOutcome::KeyTaken);
    let other = User { unique_id: Some("E2".into()), ..user("bob") };
    let mut recorded = db.store.begin().await?;
    recorded.insert_jml_run_item(plan_id, "E2", run_id, "applied", None, now).await?;
    recorded.commit().await?;
    let outcome = db.store.create_joiner(roster_store::NewJoiner { user: other, ..joiner }).await?;
    assert_eq!(outcome, roster_store::JoinerOutcome::AlreadyApplied);
    let mut conn = db.store.read().await?;
    assert_eq!(conn.user_by_unique_id("E2").await?, None, "an undone joiner leaves no user behind");
    assert_eq!(conn.audit_range(0, 10).await?.len(), 3, "nor an audit entry");
});
