//! Roster's storage layer, the only code that contains SQL.
//!
//! Every query has one SQL text with `$1` placeholders that runs on SQLite and on PostgreSQL. The [`with_conn!`]
//! macro compiles each query body once per backend, so a query cannot drift between the two; the few real
//! differences live in [`dialect`].

#[macro_use]
mod dialect;
mod direct;
mod audit;
mod checkpoint;
mod error;
mod export;
mod filter_sql;
mod group_commit;
mod groups;
mod jml;
mod joiner;
mod jml_configs;
mod migrate;
mod review;
mod roles;
mod scheduled;
mod settings;
mod snapshots;
mod sync_read;
mod tokens;
mod types;
mod user_page;
mod users;

pub use audit::AuditQuery;
pub use dialect::Backend;
pub use direct::{CreateOutcome, NewUserRecord};
pub use error::{StoreError, UniqueField};
pub use export::{EXPORT_TABLES, ExportRecord};
pub use groups::GroupQuery;
pub use jml::{
    AppliedPolicy, HOLDER_BATCH, IdentifierHolder, JmlPlanRecord, JmlRunItem, JmlRunRecord, JmlUserRecord, NewJmlPlan, NewPlanChange,
    PLAN_CHANGES_BATCH, PlanChangesQuery, PlanConfigRef, PlanSummary, PolicyGrant,
};
pub use jml_configs::JmlConfigRecord;
pub use joiner::{JoinerOutcome, NewJoiner};
pub use migrate::{MIGRATIONS, Migration};
pub use review::ReviewUser;
pub use scheduled::{ScheduledAction, ScheduledQuery};
pub use snapshots::Snapshot;
pub use tokens::TokenLookup;
pub use user_page::{PageExtras, UserPage};
pub use users::{Page, UserQuery, sort_value};
pub use sqlx::Error as SqlxError;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection as _, PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The location of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// Describes the location for logs and errors without any password.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => dialect::redact_postgres_url(url),
        }
    }
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum connections of the PostgreSQL pool, or of the SQLite reader pool (SQLite has one writer).
    pub max_connections: u32,
    /// How long a request waits for a free connection before it fails.
    pub acquire_timeout: Duration,
    /// How long SQLite waits for another process's write lock, such as a CLI command's, before it fails.
    pub sqlite_busy_timeout: Duration,
    /// PostgreSQL `statement_timeout`; `None` keeps the server's setting.
    pub statement_timeout: Option<Duration>,
    /// How often SQLite's WAL is checkpointed into the database file beside the writer (see `checkpoint`).
    pub sqlite_checkpoint_interval: Duration,
    /// The WAL size, in frames, from which a checkpoint also runs between two batches of the writer, so that the
    /// WAL starts from the beginning again (see `checkpoint`).
    pub sqlite_wal_restart_frames: i64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            sqlite_checkpoint_interval: Duration::from_millis(50),
            sqlite_wal_restart_frames: checkpoint::RESTART_FRAMES,
        }
    }
}

/// Settings of every SQLite connection, as `PRAGMA` names and values.
const CONNECTION_PRAGMAS: [(&str, &str); 3] = [
    ("synchronous", "NORMAL"),
    ("foreign_keys", "ON"),
    // Makes LIKE case-sensitive as on PostgreSQL. Case-insensitive matching uses the folded columns.
    ("case_sensitive_like", "ON"),
];

/// Settings of both writer connections, on top of [`CONNECTION_PRAGMAS`].
const WRITER_PRAGMAS: [(&str, &str); 2] = [
    ("wal_autocheckpoint", checkpoint::WRITER_AUTOCHECKPOINT_PAGES),
    // Each write is a savepoint in its batch, and SQLite keeps the pages a savepoint first changes in a sub-journal
    // so it can roll back. In memory, that costs no write to a temporary file.
    ("temp_store", "MEMORY"),
];

/// Reads that may run at once on synchronous SQLite readers in blocking threads. Each uses a reader connection,
/// whose page cache fills as it reads, and a thread. Without a bound, 32 concurrent list requests took the server's
/// peak memory from 58 MB to 87 MB.
const MAX_CONCURRENT_SCANS: usize = 4;

#[derive(Debug, Clone)]
enum Pools {
    /// One writer connection serialises writes, so concurrent requests queue for it instead of meeting
    /// `database is locked`; readers run in parallel under WAL.
    Sqlite {
        write: group_commit::SqliteWriter,
        read: sqlx::SqlitePool,
        point: Arc<sync_read::SyncReaders>,
        /// Permits for reads on `point` in blocking threads (`Store::bulk_read`).
        scans: Arc<tokio::sync::Semaphore>,
        checkpoint: Arc<checkpoint::Checkpointer>,
    },
    Postgres(sqlx::PgPool),
}

/// A handle on the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
}

impl Store {
    /// Connects without retrying; the caller decides how long to keep trying.
    pub async fn connect(location: &Location, options: &StoreOptions) -> Result<Self, StoreError> {
        let pools = match location {
            Location::Sqlite(path) => Self::sqlite_pools(path, options).await?,
            Location::Postgres(url) => Self::postgres_pool(url, options).await?,
        };
        Ok(Self { pools })
    }

    async fn sqlite_pools(path: &std::path::Path, options: &StoreOptions) -> Result<Pools, StoreError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(options.sqlite_busy_timeout)
            .disable_statement_logging();
        let base = CONNECTION_PRAGMAS.iter().fold(base, |base, &(name, value)| base.pragma(name, value));

        // A local file cannot drop a connection, so the pools skip the ping that would otherwise cost every
        // checkout a round trip to the connection's worker thread.
        let writer_options = WRITER_PRAGMAS.iter().fold(base.clone(), |base, &(name, value)| base.pragma(name, value));
        let writer = writer_options.connect().await?;
        let direct = group_commit::open_direct(path, CONNECTION_PRAGMAS.iter().chain(&WRITER_PRAGMAS))?;
        let write = group_commit::SqliteWriter::new(writer, direct, options.acquire_timeout, options.sqlite_busy_timeout);
        let checkpoint = Arc::new(checkpoint::Checkpointer::start(
            base.connect().await?,
            checkpoint::Schedule {
                interval: options.sqlite_checkpoint_interval,
                restart_frames: options.sqlite_wal_restart_frames,
            },
            write.clone(),
            path.to_path_buf(),
        ));
        let read = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(base.read_only(true))
            .await?;

        let point = Arc::new(sync_read::SyncReaders::new(path.to_path_buf()));
        let scans = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_SCANS));

        Ok(Pools::Sqlite { write, read, point, scans, checkpoint })
    }

    async fn postgres_pool(url: &str, options: &StoreOptions) -> Result<Pools, StoreError> {
        let mut connect = PgConnectOptions::from_str(url)?.disable_statement_logging();
        if let Some(timeout) = options.statement_timeout {
            connect = connect.options([("statement_timeout", format!("{}", timeout.as_millis()))]);
        }

        // One direct connection first: a pool reports every failure as a timeout, while this returns the cause
        // (refused, unknown database, wrong password), so the caller can tell what to retry.
        let probe = tokio::time::timeout(options.acquire_timeout, PgConnection::connect_with(&connect))
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))??;
        let _ = sqlx::Connection::close(probe).await;

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;

        Ok(Pools::Postgres(pool))
    }

    pub fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations; safe to run from several nodes at once.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        migrate::run(self).await
    }

    /// Lists the schema versions applied so far.
    pub async fn applied_versions(&self) -> Result<Vec<i64>, StoreError> {
        migrate::applied_versions(self).await
    }

    /// Takes a reader connection. On SQLite it cannot write.
    pub async fn read(&self) -> Result<Conn, StoreError> {
        match &self.pools {
            Pools::Sqlite { read, .. } => Ok(Conn::SqliteRead(read.acquire().await?)),
            Pools::Postgres(pool) => Ok(Conn::PostgresRead(pool.acquire().await?)),
        }
    }

    /// Runs an indexed point read on the calling thread on SQLite (see `sync_read`). `None` on PostgreSQL, or
    /// when the synchronous reader failed: the caller then reads through the pool, which reports any error.
    pub(crate) fn point_read<T>(&self, read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Option<T> {
        let Pools::Sqlite { point, .. } = &self.pools else {
            return None;
        };

        match point.with(read) {
            Ok(value) => Some(value),
            Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
                tracing::debug!(%error, "synchronous SQLite read found the database busy; reading through the pool");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "synchronous SQLite read failed; reading through the pool instead");
                None
            }
        }
    }

    /// Runs a read that may scan many rows on a synchronous SQLite reader, in a blocking thread so it cannot stall
    /// the runtime. sqlx hands each row across a channel from its connection thread, which for the hundreds of
    /// thousands of rows a JML plan reads costs more than SQLite does. `None` on PostgreSQL, or when the reader
    /// failed: the caller then reads through the pool, which reports any error.
    pub(crate) async fn bulk_read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Option<T> {
        let Pools::Sqlite { point, scans, .. } = &self.pools else {
            return None;
        };

        let Ok(permit) = Arc::clone(scans).acquire_owned().await else {
            return None;
        };
        let readers = Arc::clone(point);
        let scan = move || {
            let _permit = permit;
            readers.with(read)
        };
        match tokio::task::spawn_blocking(scan).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, "synchronous SQLite scan failed; reading through the pool instead");
                None
            }
            Err(error) => {
                tracing::warn!(%error, "the thread of a synchronous SQLite scan failed; reading through the pool instead");
                None
            }
        }
    }

    /// Begins a write transaction. On SQLite it is a savepoint in the writer's current batch, whose outer
    /// transaction begins `IMMEDIATE` and so takes the write lock at once, instead of failing half-way with
    /// `database is locked` when it first writes.
    pub async fn begin(&self) -> Result<Conn, StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => Ok(Conn::SqliteWrite(write.begin().await?)),
            Pools::Postgres(pool) => Ok(Conn::PostgresTx(pool.begin().await?)),
        }
    }

    /// Begins a read-only transaction whose queries all read one consistent snapshot, as an export needs.
    pub async fn begin_snapshot(&self) -> Result<Conn, StoreError> {
        match &self.pools {
            Pools::Sqlite { read, .. } => Ok(Conn::SqliteTx(read.begin().await?)),
            Pools::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(dialect::POSTGRES_SNAPSHOT).execute(&mut *tx).await?;
                Ok(Conn::PostgresTx(tx))
            }
        }
    }

    /// Checks that the database responds to a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        with_conn!(conn, |c| {
            sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)").fetch_one(c).await?;
        });
        Ok(())
    }

    /// Waits for checked-out connections to return and closes the pools.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { write, read, checkpoint, .. } => {
                checkpoint.stop();
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// A connection: a reader, or a write transaction that commits with [`Conn::commit`] and rolls back when dropped.
pub enum Conn {
    SqliteRead(PoolConnection<Sqlite>),
    SqliteWrite(group_commit::WriteTx),
    SqliteTx(Transaction<'static, Sqlite>),
    PostgresRead(PoolConnection<Postgres>),
    PostgresTx(Transaction<'static, Postgres>),
}

/// A borrowed backend connection; what [`with_conn!`] matches on.
pub(crate) enum Raw<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
    /// A write transaction after its commit; unreachable through the public API, which consumes it.
    Ended,
}

impl Conn {
    pub(crate) fn raw(&mut self) -> Raw<'_> {
        match self {
            Self::SqliteRead(c) => Raw::Sqlite(c),
            Self::SqliteTx(t) => Raw::Sqlite(t),
            Self::SqliteWrite(t) => t.conn().map_or(Raw::Ended, Raw::Sqlite),
            Self::PostgresRead(c) => Raw::Postgres(c),
            Self::PostgresTx(t) => Raw::Postgres(t),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::SqliteRead(_) | Self::SqliteTx(_) | Self::SqliteWrite(_) => Backend::Sqlite,
            Self::PostgresRead(_) | Self::PostgresTx(_) => Backend::Postgres,
        }
    }

    /// Commits a write transaction; a reader has nothing to commit.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::SqliteTx(t) => t.commit().await?,
            Self::SqliteWrite(t) => t.commit().await?,
            Self::PostgresTx(t) => t.commit().await?,
            Self::SqliteRead(_) | Self::PostgresRead(_) => {}
        }
        Ok(())
    }
}
