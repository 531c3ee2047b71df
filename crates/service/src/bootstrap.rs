//! First start: seed the role catalogue and create the admin token, exactly once per database.

use roster_domain::Scope;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};

/// The file in the data directory that receives the first admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// What bootstrapping did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// This call bootstrapped the database and wrote the admin token to this file.
    Created(PathBuf),
    /// The database was bootstrapped before, by this node or another.
    AlreadyDone,
}

impl Roster {
    /// Seeds an empty database. When several nodes start at once, the one whose insert of the `bootstrapped`
    /// setting wins does the work; the others see `AlreadyDone`.
    pub async fn bootstrap(&self, data_dir: &Path) -> Result<Bootstrap> {
        let actor = Actor::system();
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        if !conn.insert_setting_if_absent("bootstrapped", &now.canonical()).await? {
            return Ok(Bootstrap::AlreadyDone);
        }
        self.seed_catalogue(&mut conn, &actor).await?;

        let request = crate::TokenRequest {
            name: "admin".into(),
            scopes: vec![Scope::Admin.as_str().into()],
            user: None,
            expires_in_days: None,
        };
        let secret = self.insert_token_in(&mut conn, &actor, request).await?.secret;
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        write_secret_file(&path, &secret)?;
        if let Err(error) = conn.commit().await {
            // The token was never stored, so the file would only mislead.
            let _ = std::fs::remove_file(&path);
            return Err(error.into());
        }

        tracing::info!(path = %path.display(), "bootstrapped the database and wrote the admin token file");
        Ok(Bootstrap::Created(path))
    }
}

/// Writes `secret` to a new file readable by the owner only.
fn write_secret_file(path: &Path, secret: &str) -> Result<()> {
    let io_error = |e: std::io::Error| ServiceError::Internal(format!("cannot write {}: {e}", path.display()));
    if path.exists() {
        return Err(ServiceError::Conflict {
            code: "admin_token_exists",
            message: format!(
                "{} already exists, probably from another database, so it was left alone and nothing was created; \
                 move it away if it belongs to no database any more, or give this database another --data-dir",
                path.display()
            ),
            details: serde_json::Value::Null,
        });
    }

    let mut options = std::fs::OpenOptions::new();
    // Never replace an existing file: it may hold the only copy of another database's admin token.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io_error)?;
    }
    writeln!(file, "{secret}").map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(())
}
