//! Choosing and opening the database from the command line's settings.

use anyhow::{Context, bail};
use clap::Args;
use roster_service::{Location, Store, StoreOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the data lives; every command that touches the database takes these.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory for the embedded SQLite database and the first admin token.
    #[arg(long, env = "ROSTER_DATA_DIR", default_value = "./roster-data")]
    pub data_dir: PathBuf,

    /// A PostgreSQL URL (postgres://user:password@host:port/database); without it Roster uses SQLite in --data-dir.
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,

    /// Maximum database connections (the SQLite reader pool, or the PostgreSQL pool).
    #[arg(long, env = "ROSTER_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,

    /// Seconds a request waits for a free database connection.
    #[arg(long, env = "ROSTER_DB_ACQUIRE_TIMEOUT", default_value_t = 10)]
    pub db_acquire_timeout: u64,

    /// Seconds to keep retrying an unreachable database at start-up before giving up.
    #[arg(long, env = "ROSTER_DB_CONNECT_TIMEOUT", default_value_t = 30)]
    pub db_connect_timeout: u64,
}

impl DatabaseArgs {
    pub fn location(&self) -> Location {
        match &self.database {
            Some(url) => Location::Postgres(url.clone()),
            None => Location::Sqlite(self.data_dir.join("roster.db")),
        }
    }

    fn options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_secs(self.db_acquire_timeout.max(1)),
            ..StoreOptions::default()
        }
    }

    /// Creates the data directory, readable by its owner only, since it holds the database and the admin token.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create the data directory {}", self.data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let metadata = std::fs::metadata(&self.data_dir)?;
            if metadata.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700)).with_context(|| {
                    format!("cannot restrict the permissions of {}", self.data_dir.display())
                })?;
            }
        }
        Ok(())
    }

    /// Opens a database that must exist already, as commands that read or change a deployment need: a mistyped
    /// `--data-dir` would otherwise create an empty database, and an export of it would succeed with nothing in it.
    pub async fn open_existing(&self) -> anyhow::Result<Store> {
        if let Location::Sqlite(path) = self.location()
            && !path.exists()
        {
            bail!(
                "no Roster database at {}; pass the --data-dir that the server uses, or --database for PostgreSQL",
                path.display()
            );
        }
        self.open().await
    }

    /// Connects and migrates, retrying an unreachable database for `--db-connect-timeout` seconds.
    pub async fn open(&self) -> anyhow::Result<Store> {
        if let Some(url) = &self.database
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!("--database takes a postgres:// URL; for SQLite leave it out and use --data-dir");
        }
        if self.database.is_none() {
            self.ensure_data_dir()?;
        }
        let location = self.location();
        let shown = location.redacted();
        let deadline = Instant::now() + Duration::from_secs(self.db_connect_timeout);
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1;

        let store = loop {
            let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            let mut options = self.options();
            options.acquire_timeout = options.acquire_timeout.min(remaining);
            match Store::connect(&location, &options).await {
                Ok(store) => break store,
                Err(error) if !error.is_transient_connect_error() => {
                    bail!("cannot connect to {shown}: {}", error.describe())
                }
                Err(error) if Instant::now() < deadline => {
                    tracing::warn!(database = %shown, attempt, error = %error, "database unreachable; retrying");
                    // The last wait is cut short at the deadline, so the final attempt happens when it passes.
                    tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(error) => bail!(
                    "cannot connect to {shown} after {attempt} attempt(s) over {} s: {}; check that the database \
                     runs and the URL is right",
                    self.db_connect_timeout,
                    error.describe()
                ),
            }
        };

        let applied = store.migrate().await.map_err(|e| anyhow::anyhow!("cannot migrate {shown}: {}", e.describe()))?;
        if !applied.is_empty() {
            tracing::info!(database = %shown, versions = ?applied, "migrated the database");
        }
        Ok(store)
    }
}
