//! The test harness: a fresh database for each test and backend, and [`store_test!`], which runs one test body on
//! SQLite and on PostgreSQL.
//!
//! SQLite gets a database file in a new temporary directory. PostgreSQL gets a new schema `roster_test_<uuid>` in
//! the database that `ROSTER_TEST_DATABASE_URL` names. The store's connections select it through `search_path`,
//! and the schema is dropped when the test ends. When the variable is unset, the PostgreSQL leg is skipped with a
//! notice on stderr, except under `CI=true`, where it fails. A set variable whose server cannot be reached always
//! fails, because whoever set it expects the PostgreSQL leg to run.

use anyhow::{Context, bail};
use roster_domain::{LifecycleState, Timestamp, User};
use roster_store::{Backend, Location, Store, StoreOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::Once;
use std::time::Duration;
use tempfile::TempDir;

/// The environment variable with the URL of the PostgreSQL database that tests create their schemas in.
pub const DATABASE_URL_VAR: &str = "ROSTER_TEST_DATABASE_URL";

/// How long to wait for the PostgreSQL server before failing the test.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long teardown waits for the store's connections to close before it drops the schema anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

static SKIP_NOTICE: Once = Once::new();

/// Defines a module `$name` holding two tests, `sqlite` and `postgres`, that each run `$body` on a fresh database
/// bound to `$db` (a [`TestDb`]). The body may use `?`. The database is migrated first unless the second argument
/// is `unmigrated`.
macro_rules! store_test {
    ($name:ident, |$db:ident| $body:block) => {
        store_test!(@define $name, true, $db, $body);
    };
    ($name:ident, unmigrated, |$db:ident| $body:block) => {
        store_test!(@define $name, false, $db, $body);
    };
    (@define $name:ident, $migrate:expr, $db:ident, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                $crate::common::run_on(roster_store::Backend::Sqlite, $migrate, |$db| async move {
                    $body
                    Ok(())
                })
                .await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                $crate::common::run_on(roster_store::Backend::Postgres, $migrate, |$db| async move {
                    $body
                    Ok(())
                })
                .await
            }
        }
    };
}

/// A fresh database for one test, and a store connected to it.
#[derive(Debug, Clone)]
pub struct TestDb {
    pub store: Store,
    pub location: Location,
    /// The PostgreSQL schema that the store's connections use; `None` on SQLite.
    pub schema: Option<String>,
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Connects a second store to the same database, as another node or a CLI process would.
    pub async fn connect_another(&self) -> anyhow::Result<Store> {
        Store::connect(&self.location, &test_options())
            .await
            .with_context(|| format!("connecting a second store to {} failed", self.location.redacted()))
    }

    /// Lists each table's column names in column order, read from the database catalog rather than through the
    /// store.
    pub async fn table_columns(&self) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let rows: Vec<(String, String)> = match (&self.location, &self.schema) {
            (Location::Sqlite(path), _) => {
                let options = SqliteConnectOptions::new().filename(path).read_only(true);
                let mut conn = SqliteConnection::connect_with(&options).await?;
                let rows = sqlx::query_as(
                    "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name, p.cid",
                )
                .fetch_all(&mut conn)
                .await?;
                conn.close().await?;
                rows
            }
            (Location::Postgres(url), Some(schema)) => {
                let mut conn = PgConnection::connect(url).await?;
                let rows = sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
                )
                .bind(schema)
                .fetch_all(&mut conn)
                .await?;
                conn.close().await?;
                rows
            }
            (Location::Postgres(_), None) => bail!("a PostgreSQL test database has no schema name"),
        };

        let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (table, column) in rows {
            tables.entry(table).or_default().push(column);
        }
        Ok(tables)
    }
}

impl TestDb {
    /// Runs SQL statements on a connection of their own, around the store, as an older Roster or an operator
    /// would have.
    pub async fn execute_raw(&self, statements: &[&str]) -> anyhow::Result<()> {
        match (&self.location, &self.schema) {
            (Location::Sqlite(path), _) => {
                let options = SqliteConnectOptions::new().filename(path);
                let mut conn = SqliteConnection::connect_with(&options).await?;
                for statement in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(*statement)).execute(&mut conn).await?;
                }
                conn.close().await?;
            }
            (Location::Postgres(url), Some(schema)) => {
                let mut conn = PgConnection::connect(url).await?;
                sqlx::query("SELECT set_config('search_path', $1, false)").bind(schema).execute(&mut conn).await?;
                for statement in statements {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(*statement)).execute(&mut conn).await?;
                }
                conn.close().await?;
            }
            (Location::Postgres(_), None) => bail!("a PostgreSQL test database has no schema name"),
        }
        Ok(())
    }
}

/// What a test leaves behind to remove: the temporary directory or the PostgreSQL schema.
enum Teardown {
    Sqlite(TempDir),
    Postgres { admin_url: String, schema: String },
}

/// A database made for one test, with what removes it.
struct Provisioned {
    db: TestDb,
    teardown: Teardown,
}

impl Provisioned {
    /// Closes the store and removes the database.
    async fn release(self) -> anyhow::Result<()> {
        // A body that leaked a connection must not hang the test, so closing is bounded. Dropping the schema
        // afterwards is safe because an idle PostgreSQL connection has no lock that would block `DROP SCHEMA`.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.db.store.close()).await;

        match self.teardown {
            Teardown::Sqlite(dir) => {
                let path = dir.path().display().to_string();
                dir.close().with_context(|| format!("removing the test directory {path} failed"))
            }
            Teardown::Postgres { admin_url, schema } => drop_schema(&admin_url, &schema).await,
        }
    }
}

/// Store options for tests: the defaults, with small pools because tests run in parallel against one
/// PostgreSQL server.
pub fn test_options() -> StoreOptions {
    StoreOptions { max_connections: 4, sqlite_checkpoint_interval: Duration::from_millis(20), ..StoreOptions::default() }
}

/// Runs `body` on a fresh database of `backend`, migrated when `migrate` is set, and removes the database
/// afterwards, also when the body fails or panics. Returns without running the body when the PostgreSQL leg is
/// skipped.
pub async fn run_on<F, Fut>(backend: Backend, migrate: bool, body: F) -> anyhow::Result<()>
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let Some(provisioned) = provision(backend, migrate).await? else {
        return Ok(());
    };

    // The body runs as its own task, so a failed assert comes back as a `JoinError` and teardown still runs.
    let outcome = tokio::spawn(body(provisioned.db.clone())).await;
    let released = provisioned.release().await;

    match outcome {
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(error.into()),
        Ok(result) => result.and(released),
    }
}

/// Runs `body` on a fresh SQLite and a fresh PostgreSQL database at once, for tests that compare the two.
/// Returns without running the body when the PostgreSQL leg is skipped.
pub async fn run_on_both<F, Fut>(migrate: bool, body: F) -> anyhow::Result<()>
where
    F: FnOnce(TestDb, TestDb) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let Some(postgres) = provision(Backend::Postgres, migrate).await? else {
        return Ok(());
    };
    let sqlite = match provision(Backend::Sqlite, migrate).await {
        Ok(Some(sqlite)) => sqlite,
        Ok(None) => bail!("the SQLite leg was skipped, which should never happen"),
        Err(error) => {
            let _ = postgres.release().await;
            return Err(error);
        }
    };

    let outcome = tokio::spawn(body(sqlite.db.clone(), postgres.db.clone())).await;
    let released = sqlite.release().await.and(postgres.release().await);

    match outcome {
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(error.into()),
        Ok(result) => result.and(released),
    }
}

async fn provision(backend: Backend, migrate: bool) -> anyhow::Result<Option<Provisioned>> {
    let provisioned = match backend {
        Backend::Sqlite => provision_sqlite().await?,
        Backend::Postgres => match provision_postgres().await? {
            Some(provisioned) => provisioned,
            None => return Ok(None),
        },
    };

    if migrate && let Err(error) = provisioned.db.store.migrate().await {
        let _ = provisioned.release().await;
        return Err(
            anyhow::Error::new(error).context(format!("migrating the {} test database failed", backend.as_str()))
        );
    }
    Ok(Some(provisioned))
}

async fn provision_sqlite() -> anyhow::Result<Provisioned> {
    let dir = tempfile::Builder::new().prefix("roster-store-test-").tempdir()?;
    let location = Location::Sqlite(dir.path().join("roster.db"));
    let store = Store::connect(&location, &test_options())
        .await
        .with_context(|| format!("opening the SQLite test database {} failed", location.redacted()))?;

    Ok(Provisioned { db: TestDb { store, location, schema: None }, teardown: Teardown::Sqlite(dir) })
}

async fn provision_postgres() -> anyhow::Result<Option<Provisioned>> {
    let Some(admin_url) = postgres_url()? else {
        return Ok(None);
    };

    // The name is generated here from hex digits only, so it is safe to splice into SQL.
    let schema = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = connect_admin(&admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating the test schema {schema} failed"))?;
    admin.close().await?;

    let location = Location::Postgres(with_search_path(&admin_url, &schema));
    let store = match Store::connect(&location, &test_options()).await {
        Ok(store) => store,
        Err(error) => {
            let _ = drop_schema(&admin_url, &schema).await;
            bail!("connecting the store to {} failed: {error}", location.redacted());
        }
    };

    let db = TestDb { store, location, schema: Some(schema.clone()) };
    Ok(Some(Provisioned { db, teardown: Teardown::Postgres { admin_url, schema } }))
}

async fn drop_schema(admin_url: &str, schema: &str) -> anyhow::Result<()> {
    let mut admin = connect_admin(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping the test schema {schema} failed"))?;
    admin.close().await?;
    Ok(())
}

/// Returns the PostgreSQL URL, `None` when the leg is skipped, or an error when `CI=true` requires it.
fn postgres_url() -> anyhow::Result<Option<String>> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => bail!(
            "{DATABASE_URL_VAR} is not set, and CI=true requires the PostgreSQL tests: set it to a database URL \
             such as postgres://postgres@127.0.0.1:5432/test"
        ),
        _ => {
            // libtest captures `eprintln!` of passing tests, so the notice goes straight to stderr, once per run.
            SKIP_NOTICE.call_once(|| {
                let _ = writeln!(std::io::stderr(), "skipped postgres: {DATABASE_URL_VAR} is not set");
            });
            Ok(None)
        }
    }
}

async fn connect_admin(url: &str) -> anyhow::Result<PgConnection> {
    let redacted = Location::Postgres(url.to_string()).redacted();
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => {
            bail!("connecting to PostgreSQL at {redacted} failed: {error}; start the server or fix {DATABASE_URL_VAR}")
        }
        Err(_) => bail!(
            "connecting to PostgreSQL at {redacted} timed out after {}s; start the server or fix {DATABASE_URL_VAR}",
            CONNECT_TIMEOUT.as_secs()
        ),
    }
}

/// Adds a `search_path` option to a PostgreSQL URL; sqlx appends it to any `options` the URL already has.
fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// Parses an RFC 3339 timestamp literal written in a test.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("timestamp literals in tests are valid RFC 3339")
}

/// Builds an active user with only a user name and fixed timestamps; each test sets the attributes it checks.
pub fn user(user_name: &str) -> User {
    User {
        id: 0,
        first_name: None,
        last_name: None,
        email: None,
        user_name: user_name.to_string(),
        unique_id: None,
        external_id: None,
        mobile_number: None,
        job_title: None,
        department: None,
        manager_id: None,
        start_date: None,
        end_date: None,
        custom_attributes: BTreeMap::new(),
        scim_attributes: serde_json::Map::new(),
        status: LifecycleState::Active,
        version: 1,
        created_at: at("2026-01-05T09:00:00Z"),
        updated_at: at("2026-01-05T09:00:00Z"),
        archived_at: None,
    }
}

/// Inserts `user` in its own transaction and returns it as stored: with its new id and version 1.
pub async fn insert_user(store: &Store, user: &User) -> anyhow::Result<User> {
    let mut tx = store.begin().await?;
    let id = tx.insert_user(user, "api").await?;
    tx.commit().await?;
    Ok(User { id, version: 1, ..user.clone() })
}
