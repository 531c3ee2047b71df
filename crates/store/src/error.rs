//! Store errors.

use thiserror::Error;

/// Which unique attribute a write collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    UserName,
    UniqueId,
    RoleTypeName,
    TokenHash,
    /// Another unique index; the write is a duplicate but not of a user-visible attribute.
    Other,
}

impl UniqueField {
    pub(crate) fn from_target(target: &str) -> Self {
        if target.contains("email_folded") {
            Self::Email
        } else if target.contains("user_name_folded") {
            Self::UserName
        } else if target.contains("unique_id_folded") {
            Self::UniqueId
        } else if target.contains("role_types") && target.contains("name_folded") {
            Self::RoleTypeName
        } else if target.contains("token_hash") {
            Self::TokenHash
        } else {
            Self::Other
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unique constraint violated on {0:?}")]
    Unique(UniqueField),
    #[error("a referenced row does not exist")]
    ForeignKey,
    /// Stored data that this version cannot read, such as an unknown lifecycle state.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A write transaction could not commit, or was used after it ended.
    #[error("the write transaction failed: {0}")]
    Transaction(String),
}

impl StoreError {
    /// Tells whether retrying the whole transaction may succeed: a serialisation failure or deadlock on
    /// PostgreSQL, or a lock timeout on SQLite.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40001") | Some("40P01") | Some("5") | Some("6") | Some("517"))
            }
            Self::Database(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }
}

impl StoreError {
    /// Tells whether a failed connection attempt may succeed later: a refused or timed-out connection, or a
    /// server that is starting or shutting down. A wrong password or an unknown database or role is not.
    pub fn is_transient_connect_error(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)) => true,
            // 57P03: the server is starting up or shutting down.
            Self::Database(sqlx::Error::Database(db)) => db.code().as_deref() == Some("57P03"),
            _ => false,
        }
    }

    /// Describes the error for an operator, with a hint where a common mistake causes it.
    pub fn describe(&self) -> String {
        match self {
            Self::Database(sqlx::Error::PoolTimedOut) => "no connection within the timeout".to_string(),
            Self::Database(sqlx::Error::Database(db)) => {
                let message = db.message();
                let hint = if message.contains("no schema has been selected") {
                    "; the schema named in search_path does not exist, so create it first"
                } else if message.contains("does not exist") && message.contains("database") {
                    "; create the database or fix its name in the URL"
                } else if message.contains("password authentication failed")
                    || (message.contains("role \"") && message.contains("does not exist"))
                {
                    "; check the user name and password in the URL"
                } else {
                    ""
                };
                format!("{message}{hint}")
            }
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let target = crate::dialect::unique_violation_target(db.as_ref());
                    return Self::Unique(UniqueField::from_target(&target));
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return Self::ForeignKey,
                _ => {}
            }
        }
        Self::Database(error)
    }
}
