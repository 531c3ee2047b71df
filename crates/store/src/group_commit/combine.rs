//! One-step writes, combined into batches on the writer's SQLite handle.
//!
//! A caller queues its write and waits. The first caller to find no combining task starts one. The task takes the
//! writer's lock, borrows the connection's SQLite handle from sqlx's worker thread once, runs every queued write in
//! its own savepoint, commits, and sends each caller its result. It repeats while writes are queued, releasing the lock
//! between batches so that write transactions queued on it take their turn.

use sqlx::SqliteConnection;
use sqlx::sqlite::LockedSqliteHandle;
use std::sync::PoisonError;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use super::{AuditHead, MAX_BATCH, SqliteWriter, WriterState, direct_failed, notify};
use crate::error::StoreError;

/// The first pause before a batch tries again to take the write lock from another connection. Each next pause
/// doubles, up to [`LAST_BUSY_PAUSE`].
const FIRST_BUSY_PAUSE: Duration = Duration::from_millis(1);
const LAST_BUSY_PAUSE: Duration = Duration::from_millis(50);

/// One-step writes waiting for the combining task.
#[derive(Default)]
pub(super) struct DirectQueue {
    writes: Vec<Box<dyn DirectWrite>>,
    /// Whether a combining task runs. It takes every write queued before it stops.
    combining: bool,
}

/// A queued one-step write.
trait DirectWrite: Send {
    /// Runs the write inside the savepoint the combining task opened, and returns whether to keep what it wrote.
    fn run(&mut self, conn: &rusqlite::Connection, head: &mut AuditHead) -> bool;

    /// Sends the caller the write's result, or `failed` when its writes were lost or it never ran.
    fn finish(self: Box<Self>, failed: Option<&Failure>);
}

struct QueuedWrite<T, W, K> {
    write: Option<(W, K)>,
    written: Option<Result<T, StoreError>>,
    sender: oneshot::Sender<Result<T, StoreError>>,
}

/// The reason a batch did not commit, which each of its writes returns to its caller.
#[derive(Debug, Clone)]
enum Failure {
    /// No writer within the timeout, as when another connection held the write lock for the whole busy timeout.
    TimedOut,
    /// The store is closed.
    Closed,
    Failed(String),
}

impl Failure {
    fn of(error: &StoreError) -> Self {
        match error {
            StoreError::Database(sqlx::Error::PoolTimedOut) => Self::TimedOut,
            StoreError::Database(sqlx::Error::PoolClosed) => Self::Closed,
            other => Self::Failed(other.to_string()),
        }
    }

    fn to_error(&self) -> StoreError {
        match self {
            Self::TimedOut => StoreError::Database(sqlx::Error::PoolTimedOut),
            Self::Closed => StoreError::Database(sqlx::Error::PoolClosed),
            Self::Failed(message) => StoreError::Transaction(format!("the batch did not commit: {message}")),
        }
    }
}

impl<T, W, K> DirectWrite for QueuedWrite<T, W, K>
where
    T: Send,
    W: FnOnce(&rusqlite::Connection, &mut AuditHead) -> Result<T, StoreError> + Send,
    K: FnOnce(&T) -> bool + Send,
{
    fn run(&mut self, conn: &rusqlite::Connection, head: &mut AuditHead) -> bool {
        let Some((write, keep)) = self.write.take() else {
            return false;
        };
        let written = write(conn, head);
        let kept = matches!(&written, Ok(value) if keep(value));
        self.written = Some(written);
        kept
    }

    fn finish(self: Box<Self>, failed: Option<&Failure>) {
        let outcome = match (failed, self.written) {
            (None, Some(written)) => written,
            (Some(failure), _) => Err(failure.to_error()),
            (None, None) => Err(StoreError::Transaction("a queued write returned before it ran".into())),
        };
        // A caller that is gone (a client that disconnected) dropped its receiver. Its kept writes committed all the
        // same.
        let _ = self.sender.send(outcome);
    }
}

impl SqliteWriter {
    /// Runs `write` on the writer's SQLite handle in a savepoint of its own, batched with other one-step writes,
    /// and returns its result once the batch that contains its writes has committed. `keep` says whether a
    /// successful result keeps its writes; an error always undoes them. `write` runs with the batch's cached audit
    /// head, and must leave it as the audit table's head, or clear it.
    ///
    /// The write runs in the combining task, so a caller that is dropped while it waits does not stop it.
    pub(crate) async fn write_direct<T, W, K>(&self, write: W, keep: K) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&rusqlite::Connection, &mut AuditHead) -> Result<T, StoreError> + Send + 'static,
        K: FnOnce(&T) -> bool + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let queued = Box::new(QueuedWrite { write: Some((write, keep)), written: None, sender });

        let start = {
            let mut queue = self.direct.lock().unwrap_or_else(PoisonError::into_inner);
            queue.writes.push(queued);
            !std::mem::replace(&mut queue.combining, true)
        };
        if start {
            tokio::spawn(Combining { writer: self.clone(), stopped: false }.run());
        }

        let answered = receiver.await;
        answered.map_err(|_| StoreError::Transaction("the SQLite writer stopped before a queued write finished".into()))?
    }
}

/// The combining task. However it ends, including a panic or the runtime's shutdown, it lets the next caller start
/// another, and fails the writes still queued.
struct Combining {
    writer: SqliteWriter,
    /// Whether the task found the queue empty and stopped. Another task may combine by now.
    stopped: bool,
}

impl Combining {
    async fn run(mut self) {
        loop {
            let writes = {
                let mut queue = self.writer.direct.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.writes.is_empty() {
                    queue.combining = false;
                    self.stopped = true;
                    return;
                }
                let count = queue.writes.len().min(MAX_BATCH);
                queue.writes.drain(..count).collect::<Vec<_>>()
            };

            self.writer.run_batch(writes).await;
        }
    }
}

impl Drop for Combining {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        let stranded = {
            let mut queue = self.writer.direct.lock().unwrap_or_else(PoisonError::into_inner);
            queue.combining = false;
            std::mem::take(&mut queue.writes)
        };
        if !stranded.is_empty() {
            tracing::error!(writes = stranded.len(), "the task that combines SQLite writes stopped; failing the queued writes");
        }
        for write in stranded {
            write.finish(Some(&Failure::Failed("the task that combines writes stopped".into())));
        }
    }
}

impl SqliteWriter {
    /// Takes up to `limit` queued writes, the oldest first.
    fn take_queued(&self, limit: usize) -> Vec<Box<dyn DirectWrite>> {
        let mut queue = self.direct.lock().unwrap_or_else(PoisonError::into_inner);
        let count = queue.writes.len().min(limit);
        queue.writes.drain(..count).collect()
    }

    /// Runs one batch of queued writes in the open batch of write transactions, or in a new one, and commits it.
    async fn run_batch(&self, writes: Vec<Box<dyn DirectWrite>>) {
        let (mut guard, mut conn) = match self.lock_connection().await {
            Ok(locked) => locked,
            Err(error) => return fail_all(writes, &error),
        };

        run_on_connection(self, &mut guard, &mut conn, writes).await;

        guard.conn = Some(conn);
        // A batch left open by a failure still contains transactions that wait for its commit.
        self.schedule_settle(&mut guard);
    }
}

/// Runs `writes` on the connection's handle and commits them with the open batch, then sends the outcome to every
/// write and every transaction waiting for the batch.
async fn run_on_connection(
    writer: &SqliteWriter,
    state: &mut WriterState,
    conn: &mut SqliteConnection,
    writes: Vec<Box<dyn DirectWrite>>,
) {
    if let Err(error) = super::finish_pending_rollback(state, conn).await {
        return fail_all(writes, &error);
    }
    let mut handle = match conn.lock_handle().await {
        Ok(handle) => handle,
        Err(error) => return fail_all(writes, &error.into()),
    };
    if let Err(error) = open_batch(state, &mut handle, writer.busy_timeout).await {
        return fail_all(writes, &error);
    }
    let head = &mut state.audit_head;
    let direct = match super::direct_connection(&mut state.direct, &mut handle) {
        Ok(direct) => direct,
        Err(error) => return fail_all(writes, &error),
    };

    let mut kept = Vec::with_capacity(writes.len());
    let mut ran = 0;
    let mut pending = writes.into_iter();
    let mut failure = None;
    loop {
        for mut write in pending.by_ref() {
            ran += 1;
            match run_in_savepoint(direct, head, write.as_mut()) {
                Ok(true) => kept.push(write),
                Ok(false) => write.finish(None),
                Err(error) => {
                    write.finish(Some(&Failure::of(&error)));
                    failure = Some(error);
                    break;
                }
            }
        }
        // Writes queued while these ran join the batch before it commits: the commit writes each changed page
        // once, so it costs about the same for one write as for many.
        if failure.is_some() {
            break;
        }
        let more = writer.take_queued(MAX_BATCH.saturating_sub(ran));
        if more.is_empty() {
            break;
        }
        pending = more.into_iter();
    }
    let committed = match failure {
        None => crate::direct::run(direct, "COMMIT", []),
        Some(error) => Err(error),
    };
    if committed.is_err() {
        let _ = direct.execute_batch("ROLLBACK");
    }
    drop(handle);

    state.open = false;
    // Another process (the CLI, say) may write between batches.
    state.audit_head = None;
    if let Err(error) = &committed {
        tracing::error!(error = %error, batch = kept.len(), "committing a batch of queued writes failed; rolled it back");
    }
    let failed = committed.as_ref().err().map(Failure::of);
    for write in kept.into_iter().chain(pending) {
        write.finish(failed.as_ref());
    }
    notify(state, committed.map_err(|error| error.to_string()));
}

/// Opens the batch on the locked handle unless a write transaction already did. `BEGIN IMMEDIATE` runs with the
/// busy handler off, because the combining task runs on a runtime thread, which must not sleep in SQLite's busy
/// handler. While another connection (the CLI, say) holds the write lock, it tries again after a pause that does
/// not block the thread, until the busy timeout has passed.
async fn open_batch(state: &mut WriterState, handle: &mut LockedSqliteHandle<'_>, busy_timeout: Duration) -> Result<(), StoreError> {
    if state.open {
        return Ok(());
    }
    state.audit_head = None;

    let deadline = Instant::now() + busy_timeout;
    let mut pause = FIRST_BUSY_PAUSE;
    let mut tries = 1;
    while !try_begin(super::direct_connection(&mut state.direct, handle)?, busy_timeout)? {
        if Instant::now() + pause > deadline {
            tracing::warn!(tries, "another connection held the SQLite write lock for the whole busy timeout; failing the batch");
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        if tries == 1 {
            tracing::info!("another connection holds the SQLite write lock; retrying until it is released");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LAST_BUSY_PAUSE);
        tries += 1;
    }

    if tries > 1 {
        tracing::info!(tries, "took the SQLite write lock after retrying");
    }
    state.open = true;
    Ok(())
}

/// Runs `BEGIN IMMEDIATE` with the busy handler off. Returns false when another connection holds the write lock.
fn try_begin(direct: &rusqlite::Connection, busy_timeout: Duration) -> Result<bool, StoreError> {
    direct.busy_timeout(Duration::ZERO).map_err(|e| direct_failed(&e))?;
    let begun = direct.execute_batch("BEGIN IMMEDIATE");
    // The handle is sqlx's connection too, whose statements wait for the lock as configured.
    direct.busy_timeout(busy_timeout).map_err(|e| direct_failed(&e))?;

    match begun {
        Ok(()) => Ok(true),
        Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(error) => Err(direct_failed(&error)),
    }
}

/// Runs one write in its own savepoint and keeps or undoes its writes. An error means the savepoint could not be
/// opened, released or rolled back, so the whole batch must be abandoned.
fn run_in_savepoint(direct: &rusqlite::Connection, head: &mut AuditHead, write: &mut dyn DirectWrite) -> Result<bool, StoreError> {
    crate::direct::run(direct, "SAVEPOINT roster_tx", [])?;

    let kept = write.run(direct, head);

    if kept {
        crate::direct::run(direct, "RELEASE roster_tx", [])?;
    } else {
        *head = None;
        direct.execute_batch("ROLLBACK TO roster_tx; RELEASE roster_tx").map_err(|e| direct_failed(&e))?;
    }
    Ok(kept)
}

fn fail_all(writes: Vec<Box<dyn DirectWrite>>, error: &StoreError) {
    tracing::error!(error = %error, writes = writes.len(), "a batch of queued writes could not run");
    let failure = Failure::of(error);
    for write in writes {
        write.finish(Some(&failure));
    }
}
