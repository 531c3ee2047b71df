//! Schema migrations on both backends, and that the two backends' schemas stay in step.

use crate::common::run_on_both;
use roster_store::MIGRATIONS;
use std::collections::BTreeSet;

fn all_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

#[test]
fn migration_versions_ascend() {
    let versions = all_versions();
    for pair in versions.windows(2) {
        assert!(pair[0] < pair[1], "MIGRATIONS must list versions in ascending order without repeats: {versions:?}");
    }
}

store_test!(migrate_applies_every_version, unmigrated, |db| {
    let applied = db.store.migrate().await?;
    assert_eq!(applied, all_versions(), "the first migrate should apply every version in MIGRATIONS");

    let recorded = db.store.applied_versions().await?;
    assert_eq!(recorded, all_versions(), "schema_migrations should record every version in MIGRATIONS");
});

store_test!(migrate_twice_is_noop, |db| {
    let mut tx = db.store.begin().await?;
    tx.insert_setting_if_absent("marker", "kept").await?;
    tx.commit().await?;
    let columns_before = db.table_columns().await?;

    let applied = db.store.migrate().await?;
    assert!(applied.is_empty(), "a second migrate should apply nothing, but applied {applied:?}");

    let recorded = db.store.applied_versions().await?;
    assert_eq!(recorded, all_versions(), "a second migrate should leave schema_migrations as it was");

    let columns_after = db.table_columns().await?;
    assert_eq!(columns_after, columns_before, "a second migrate should leave every table as it was");

    let marker = db.store.read().await?.setting("marker").await?;
    assert_eq!(marker.as_deref(), Some("kept"), "a second migrate should keep existing rows");
});

store_test!(concurrent_migrations_apply_once, unmigrated, |db| {
    let other = db.connect_another().await?;
    let (first, second) = tokio::join!(db.store.migrate(), other.migrate());
    let first = first?;
    let second = second?;
    other.close().await;

    let mut combined = first.clone();
    combined.extend(&second);
    combined.sort();
    assert_eq!(
        combined,
        all_versions(),
        "two stores migrating at once should apply each version exactly once between them, \
         but one applied {first:?} and the other {second:?}"
    );

    let recorded = db.store.applied_versions().await?;
    assert_eq!(recorded, all_versions(), "schema_migrations should record each version once");
});

store_test!(migrate_creates_expected_tables, |db| {
    let tables: BTreeSet<String> = db.table_columns().await?.into_keys().collect();
    let expected =
        ["users", "role_types", "role_assignments", "snapshots", "tokens", "audit_log", "audit_head", "settings"];
    for table in expected {
        assert!(
            tables.contains(table),
            "the {} database should have table {table} after migrating, but has {tables:?}",
            db.backend().as_str()
        );
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_match_across_backends() -> anyhow::Result<()> {
    run_on_both(true, |sqlite, postgres| async move {
        let sqlite_tables = sqlite.table_columns().await?;
        let postgres_tables = postgres.table_columns().await?;

        let sqlite_names: BTreeSet<&String> = sqlite_tables.keys().collect();
        let postgres_names: BTreeSet<&String> = postgres_tables.keys().collect();
        assert!(!postgres_names.is_empty(), "the PostgreSQL test schema has no tables, so search_path was not applied");
        assert_eq!(sqlite_names, postgres_names, "SQLite and PostgreSQL should have the same tables");

        for (table, sqlite_columns) in &sqlite_tables {
            let postgres_columns = postgres_tables.get(table).cloned().unwrap_or_default();
            let sqlite_set: BTreeSet<&String> = sqlite_columns.iter().collect();
            let postgres_set: BTreeSet<&String> = postgres_columns.iter().collect();
            assert_eq!(sqlite_set, postgres_set, "table {table} should have the same columns on SQLite and PostgreSQL");
        }
        Ok(())
    })
    .await
}

store_test!(folded_scim_attributes_filled_by_migration, |db| {
    use roster_domain::filter::{CmpOp, Filter, StoredAttr, UserAttr};

    let attributes = serde_json::json!({"displayName": "ÉLODIE Mercier"});
    let person = roster_domain::User {
        scim_attributes: attributes.as_object().cloned().unwrap_or_default(),
        ..crate::common::user("elodie")
    };
    crate::common::insert_user(&db.store, &person).await?;
    // Turn the database back into one from before the folded copy existed.
    db.execute_raw(&[
        "ALTER TABLE users DROP COLUMN scim_attributes_folded",
        "DELETE FROM schema_migrations WHERE version = 5",
    ])
    .await?;

    let applied = db.store.migrate().await?;
    assert_eq!(applied, vec![5], "only the folded copy's migration should be pending");

    let filter = Filter::text(UserAttr::Stored(StoredAttr::DisplayName), CmpOp::Eq, "élodie mercier");
    let count = db.store.read().await?.count_users(&filter).await?;
    assert_eq!(count, 1, "the migration should fold the attributes of users stored before it");
});

store_test!(plan_changes_moved_to_rows_by_migration, |db| {
    // Turn the database back into one from before plan changes had rows, holding a plan with its changes inline.
    db.execute_raw(&[
        "DROP TABLE jml_plan_changes",
        "ALTER TABLE jml_plans DROP COLUMN formed",
        "ALTER TABLE jml_plans DROP COLUMN change_count",
        "DELETE FROM schema_migrations WHERE version = 8",
        r#"INSERT INTO jml_plans (id, source, created_at, created_by, has_errors, policy, body)
           VALUES (7, 'hr', '2026-12-04T10:00:00Z', 'admin', 0, '',
           '{"source":"hr","counts":{"update":1},"changes":[{"key":"E1","kind":"none"},{"key":"E2","kind":"archive","scheduled":{"kind":"archive"}}],"errors":[]}')"#,
    ])
    .await?;

    let applied = db.store.migrate().await?;
    assert_eq!(applied, vec![8], "only the plan changes' migration should be pending");

    let mut conn = db.store.read().await?;
    let plan = conn.jml_plan(7).await?.expect("a plan stored before the migration stays readable");
    assert_eq!(plan.change_count, 2);
    let body: serde_json::Value = serde_json::from_str(&plan.body)?;
    assert_eq!(body["changes"], serde_json::json!([]), "the changes leave the plan's body");
    assert_eq!(body["counts"], serde_json::json!({"update": 1}), "the rest of the body is kept");
    let all = roster_store::PlanChangesQuery { after: 0, kind: None, scheduled_only: false, offset: 0, limit: 10 };
    let rows = conn.jml_plan_changes(7, &all).await?;
    let keys: Vec<(i64, serde_json::Value)> =
        rows.iter().map(|(position, body)| Ok((*position, serde_json::from_str::<serde_json::Value>(body)?["key"].clone()))).collect::<anyhow::Result<_>>()?;
    assert_eq!(keys, vec![(1, "E1".into()), (2, "E2".into())], "the changes keep their order");
    let updates = conn.jml_plan_changes(7, &roster_store::PlanChangesQuery { kind: Some("update"), ..all }).await?;
    assert_eq!(updates.len(), 1, "a change of kind none is stored as the update it is counted as");
    let scheduled = conn.jml_plan_changes(7, &roster_store::PlanChangesQuery { scheduled_only: true, ..all }).await?;
    assert_eq!(scheduled.first().map(|(position, _)| *position), Some(2), "a scheduled change is marked");
});
