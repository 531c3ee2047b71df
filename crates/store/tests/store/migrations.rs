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
