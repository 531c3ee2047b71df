//! Point reads on SQLite that run on the calling thread.
//!
//! sqlx-sqlite runs every statement on a worker thread per connection, so each statement costs two thread
//! hand-offs. For an indexed lookup those hand-offs take more CPU than SQLite does, and the token lookup plus
//! the user lookup of every `GET` pay them twice. These readers use rusqlite on the same linked SQLite and
//! the same SQL text, and run on the async runtime's thread. Only lookups by a unique index take that path.
//! The few reads that scan many rows, such as a JML plan's load of every user, use the same readers from a
//! blocking thread instead (`Store::bulk_read`), so they cannot stall the runtime.

use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Maximum idle connections kept for reuse. A call never yields while it uses a connection, so at most one per
/// runtime worker thread is busy at a time. Extra connections opened under a burst are closed.
const MAX_IDLE: usize = 8;

/// Read-only SQLite connections for synchronous point reads.
#[derive(Debug)]
pub(crate) struct SyncReaders {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SyncReaders {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    /// Runs `read` on an idle connection, opening one when none is idle.
    pub(crate) fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.open()?,
        };

        let result = read(&conn);

        self.put_back(conn);
        result
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().ok()?.pop()
    }

    fn put_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(conn);
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // A reader of a WAL database waits only in rare cases, such as recovery after a crash. It must not block
        // the runtime's thread, so it fails at once and the caller reads through the sqlx pool instead.
        conn.busy_timeout(Duration::ZERO)?;
        // The same setting as the pool's connections, so a shared SQL text behaves the same on both.
        conn.pragma_update(None, "case_sensitive_like", "ON")?;
        Ok(conn)
    }
}

/// Prepares `sql`, a [`crate::types::SqlBuf`]'s text, and binds each `$n` placeholder to `params[n - 1]`. SQLite
/// numbers placeholders in the order they first appear, which need not be their numbers' order, so each is bound
/// by its name.
pub(crate) fn prepare_numbered<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[crate::types::Param],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut statement = conn.prepare_cached(sql)?;
    for index in 1..=statement.parameter_count() {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|digits| digits.parse::<usize>().ok());
        let param = number.and_then(|n| n.checked_sub(1)).and_then(|n| params.get(n));
        let Some(param) = param else {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "placeholder {index} of a built query has no value among its {} parameters",
                params.len()
            )));
        };
        statement.raw_bind_parameter(index, param)?;
    }
    Ok(statement)
}
