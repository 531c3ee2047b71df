//! Everything that differs between SQLite and PostgreSQL. Query texts themselves are shared.

/// The database engine behind a [`crate::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Runs `$body` with `$c` bound to the backend's `&mut Connection`; the body compiles once per backend, so a
/// single SQL text serves both.
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn.raw() {
            $crate::Raw::Sqlite($c) => $body,
            $crate::Raw::Postgres($c) => $body,
            $crate::Raw::Ended => return Err($crate::StoreError::Transaction("the write transaction has ended".into()).into()),
        }
    };
}

/// Binds a list of [`crate::types::Param`] to a query of either backend.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::types::Param::Int(v) => query.bind(*v),
                $crate::types::Param::Text(v) => query.bind(v.clone()),
                $crate::types::Param::Date(v) => query.bind(*v),
                $crate::types::Param::Time(v) => query.bind($crate::types::DbTime(*v)),
            };
        }
        query
    }};
}

/// Returns the SQL that serialises concurrent migration runs: an advisory lock on PostgreSQL. SQLite needs none,
/// because the migration transaction begins `IMMEDIATE`.
pub(crate) fn migration_lock(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some("SELECT pg_advisory_xact_lock(7365237861)"),
    }
}

/// Appended to a `SELECT` that claims rows for update. PostgreSQL locks the claimed rows and lets other nodes skip
/// them; SQLite has no row locks and needs none, because its one writer serialises every write transaction.
macro_rules! postgres_lock_suffix {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
}
macro_rules! sqlite_lock_suffix {
    () => {
        ""
    };
}

/// Sets a PostgreSQL identity sequence to the table's largest id (or 1 when empty).
macro_rules! postgres_reset_sequence {
    ($table:literal) => {
        concat!(
            "SELECT setval(pg_get_serial_sequence('",
            $table,
            "', 'id'), COALESCE((SELECT MAX(id) FROM ",
            $table,
            "), 0) + 1, false)"
        )
    };
}

/// Gives a PostgreSQL transaction one snapshot for all its statements; SQLite's WAL readers have that already.
pub(crate) const POSTGRES_SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// Names the index behind a unique violation: PostgreSQL reports the constraint, SQLite only a message such as
/// `UNIQUE constraint failed: users.email_folded`.
pub(crate) fn unique_violation_target(error: &dyn sqlx::error::DatabaseError) -> String {
    match error.constraint() {
        Some(constraint) => constraint.to_string(),
        None => error.message().to_string(),
    }
}

/// Removes the password from a PostgreSQL URL so it can be logged or shown in an error.
pub fn redact_postgres_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "postgres://<unparseable url>".to_string();
    };
    let (authority_and_path, query) = rest.split_once('?').map_or((rest, None), |(a, q)| (a, Some(q)));
    let (authority, path) = authority_and_path.split_once('/').map_or((authority_and_path, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let user = authority.rsplit_once('@').map(|(userinfo, _)| userinfo.split(':').next().unwrap_or(""));

    let mut out = format!("{scheme}://");
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        out.push_str(user);
        out.push('@');
    }
    out.push_str(host);
    if !path.is_empty() {
        out.push('/');
        out.push_str(path);
    }
    if query.is_some_and(|q| q.contains("password")) {
        out.push_str("?<options redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_password() {
        let shown = redact_postgres_url("postgres://roster:s3cret@db.internal:5432/roster");
        assert_eq!(shown, "postgres://roster@db.internal:5432/roster");
    }

    #[test]
    fn redact_removes_password_option() {
        let shown = redact_postgres_url("postgres://db/roster?password=s3cret");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
