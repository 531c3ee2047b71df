//! Schema migrations: one list, with an SQLite and a PostgreSQL script under the same version number.

use crate::{Store, StoreError, dialect};

/// One schema version.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// Every migration in order. A version appears once with both scripts, so the backends cannot drift apart in
/// numbering; a test compares the schemas they produce.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "users, roles, snapshots, tokens and the audit trail",
        sqlite: include_str!("../migrations/sqlite/0001_init.sql"),
        postgres: include_str!("../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        description: "scheduled actions",
        sqlite: include_str!("../migrations/sqlite/0002_scheduled_actions.sql"),
        postgres: include_str!("../migrations/postgres/0002_scheduled_actions.sql"),
    },
    Migration {
        version: 3,
        description: "SCIM attributes and groups",
        sqlite: include_str!("../migrations/sqlite/0003_scim_groups.sql"),
        postgres: include_str!("../migrations/postgres/0003_scim_groups.sql"),
    },
    Migration {
        version: 4,
        description: "JML plans, runs and feed sources",
        sqlite: include_str!("../migrations/sqlite/0004_jml.sql"),
        postgres: include_str!("../migrations/postgres/0004_jml.sql"),
    },
    Migration {
        version: FOLDED_SCIM_ATTRIBUTES,
        description: "folded copy of SCIM attributes kept as sent",
        sqlite: include_str!("../migrations/sqlite/0005_scim_attributes_folded.sql"),
        postgres: include_str!("../migrations/postgres/0005_scim_attributes_folded.sql"),
    },
    Migration {
        version: 6,
        description: "JML mappings and policies stored by name",
        sqlite: include_str!("../migrations/sqlite/0006_jml_configs.sql"),
        postgres: include_str!("../migrations/postgres/0006_jml_configs.sql"),
    },
    Migration {
        version: 7,
        description: "audit chain head moved by a trigger",
        sqlite: include_str!("../migrations/sqlite/0007_audit_head_trigger.sql"),
        postgres: include_str!("../migrations/postgres/0007_audit_head_trigger.sql"),
    },
    Migration {
        version: 8,
        description: "JML plan changes stored as rows",
        sqlite: include_str!("../migrations/sqlite/0008_jml_plan_changes.sql"),
        postgres: include_str!("../migrations/postgres/0008_jml_plan_changes.sql"),
    },
    Migration {
        version: 9,
        description: "partial index of deleted users, for fast counts",
        sqlite: include_str!("../migrations/sqlite/0009_users_deleted_index.sql"),
        postgres: include_str!("../migrations/postgres/0009_users_deleted_index.sql"),
    },
];

/// The migration that adds `users.scim_attributes_folded`, which Rust code then fills in the same transaction,
/// because the database cannot fold text as Roster does.
const FOLDED_SCIM_ATTRIBUTES: i64 = 5;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Applies each pending migration in its own transaction and returns the versions applied.
pub(crate) async fn run(store: &Store) -> Result<Vec<i64>, StoreError> {
    let mut applied = Vec::new();

    for migration in MIGRATIONS {
        let mut conn = store.begin().await?;

        if let Some(lock) = dialect::migration_lock(conn.backend()) {
            with_conn!(conn, |c| {
                sqlx::query(lock).execute(&mut *c).await?;
            });
        }
        let backend = conn.backend();
        let done = with_conn!(conn, |c| {
            sqlx::raw_sql(CREATE_TABLE).execute(&mut *c).await?;
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_one(&mut *c)
                .await?
        });
        if done > 0 {
            continue;
        }

        let script = match backend {
            dialect::Backend::Sqlite => migration.sqlite,
            dialect::Backend::Postgres => migration.postgres,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        with_conn!(conn, |c| {
            sqlx::raw_sql(script).execute(&mut *c).await?;
            sqlx::query("INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)")
                .bind(migration.version)
                .bind(migration.description)
                .bind(now)
                .execute(&mut *c)
                .await?;
        });
        if migration.version == FOLDED_SCIM_ATTRIBUTES {
            let filled = conn.fill_folded_scim_attributes().await?;
            tracing::info!(users = filled, "filled the folded SCIM attributes of existing users");
        }
        conn.commit().await?;

        tracing::info!(version = migration.version, description = migration.description, "applied migration");
        applied.push(migration.version);
    }

    Ok(applied)
}

/// Lists the applied versions.
pub(crate) async fn applied_versions(store: &Store) -> Result<Vec<i64>, StoreError> {
    let mut conn = store.read().await?;
    let versions = with_conn!(conn, |c| {
        sqlx::query_scalar::<_, i64>("SELECT version FROM schema_migrations ORDER BY version").fetch_all(c).await?
    });
    Ok(versions)
}
