//! One-step writes, combined into batches on the writer's SQLite handle.
//!
//! A caller queues its write and waits. The first caller to find no combining task starts one. The task takes the
//! writer's lock, runs every queued write in its own savepoint on the connection of one-step writes, commits, and
//! sends each caller its result. It repeats while writes are queued, releasing the lock between batches so that
//! write transactions queued on it take their turn.

use sqlx::SqliteConnection;
use std::sync::PoisonError;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use super::{AuditHead, MAX_BATCH, SqliteWriter, WriterState, direct_failed};
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
        let keeps = matches!(&written, Ok(value) if keep(value));
        self.written = Some(written);
        keeps
    }

    fn finish(self: Box<Self>, failed: Option<&Failure>) {
        let outcome = match (failed, self.written) {
            (None, Some(written)) => written,
            (Some(failure), _) => Err(failure.to_error()),
            (None, None) => Err(StoreError::Transaction("a queued write returned before it ran".into())),
        };
        // A caller that is gone (a client that disconnected) dropped its receiver. The writes it kept commit all
        // the same.
        let _ = self.sender.send(outcome);
    }
}

impl SqliteWriter {
    /// Runs `write` on the connection of one-step writes in a savepoint of its own, batched with other such writes,
    /// and returns its result once the batch that contains its writes has committed. `keep` decides whether a
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

    /// Runs one batch of queued writes under the writer's lock, and commits it.
    async fn run_batch(&self, writes: Vec<Box<dyn DirectWrite>>) {
        let (mut guard, mut conn) = match self.lock_connection().await {
            Ok(locked) => locked,
            Err(error) => return fail_all(writes, &error),
        };

        run_on_connection(self, &mut guard, &mut conn, writes).await;

        guard.conn = Some(conn);
    }
}

/// Commits any batch of write transactions open on `conn`, then runs `writes` in a batch on the connection of
/// one-step writes, commits it, and sends each write its outcome.
async fn run_on_connection(writer: &SqliteWriter, state: &mut WriterState, conn: &mut SqliteConnection, writes: Vec<Box<dyn DirectWrite>>) {
    if let Err(error) = super::finish_pending_rollback(state, conn).await {
        return fail_all(writes, &error);
    }
    // Only one connection can hold SQLite's write lock, and the open batch's transactions wait for its commit.
    // A failed commit is logged and sent to those transactions, and does not concern these writes.
    if state.open {
        let _ = super::commit_batch(state, conn).await;
    }
    let Some(direct) = state.direct.as_mut() else {
        return fail_all(writes, &StoreError::Database(sqlx::Error::PoolClosed));
    };

    run_on_direct(writer, direct, writes).await;
}

/// Runs `writes` in one batch on the connection of one-step writes, with the writes queued meanwhile, commits it,
/// and sends each write its outcome.
///
/// The connection is borrowed mutably, though only read, because a shared reference to it, which is not `Sync`,
/// would make the task's future not `Send`.
async fn run_on_direct(writer: &SqliteWriter, direct: &mut rusqlite::Connection, writes: Vec<Box<dyn DirectWrite>>) {
    if let Err(error) = begin(direct, writer.busy_timeout).await {
        return fail_all(writes, &error);
    }

    // The batch's `BEGIN IMMEDIATE` keeps every other writer out, so the audit head one write moves is the head
    // the next write appends after.
    let mut head = None;
    let mut to_commit = Vec::with_capacity(writes.len());
    let mut ran = 0;
    let mut pending = writes.into_iter();
    let mut failure = None;
    loop {
        for mut write in pending.by_ref() {
            ran += 1;
            match run_in_savepoint(direct, &mut head, write.as_mut()) {
                Ok(true) => to_commit.push(write),
                Ok(false) => write.finish(None),
                Err(error) => {
                    write.finish(Some(&Failure::of(&error)));
                    failure = Some(error);
                    break;
                }
            }
        }
        if failure.is_some() {
            break;
        }
        // Writes queued while these ran join the batch before it commits: the commit writes each changed page
        // once, so it costs about the same for one write as for many.
        let room = MAX_BATCH.saturating_sub(ran);
        if room == 0 {
            break;
        }
        let mut more = writer.take_queued(room);
        if more.is_empty() {
            // Tasks that are about to queue a write run first, so their writes join this batch instead of waiting
            // for its commit. With 8 clients creating users this raised creates per second by about a fifth.
            tokio::task::yield_now().await;
            more = writer.take_queued(room);
        }
        if more.is_empty() {
            break;
        }
        pending = more.into_iter();
    }

    let committed = match failure {
        None => crate::direct::run(direct, "COMMIT", []),
        Some(error) => Err(error),
    };
    if let Err(error) = &committed {
        tracing::error!(error = %error, batch = to_commit.len(), "committing a batch of one-step writes failed; rolling it back");
        if let Err(rollback) = direct.execute_batch("ROLLBACK") {
            tracing::error!(error = %rollback, "rolling back a batch of one-step writes failed");
        }
    }
    let failed = committed.as_ref().err().map(Failure::of);
    for write in to_commit.into_iter().chain(pending) {
        write.finish(failed.as_ref());
    }
}

/// Begins the batch. While another connection (the CLI, say) holds the write lock, it tries again after a pause
/// that does not block the thread, until `timeout` has passed.
async fn begin(direct: &mut rusqlite::Connection, timeout: Duration) -> Result<(), StoreError> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_BUSY_PAUSE;
    let mut tries = 1;
    while !try_begin(direct)? {
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
    Ok(())
}

/// Runs `BEGIN IMMEDIATE`, whose connection has no busy handler. Returns false when another connection holds the
/// write lock.
fn try_begin(direct: &rusqlite::Connection) -> Result<bool, StoreError> {
    match direct.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => Ok(true),
        Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(error) => Err(direct_failed(&error)),
    }
}

/// Runs one write in its own savepoint and keeps or undoes its writes. An error means the savepoint could not be
/// opened, released or rolled back, so the whole batch must be abandoned.
fn run_in_savepoint(direct: &rusqlite::Connection, head: &mut AuditHead, write: &mut dyn DirectWrite) -> Result<bool, StoreError> {
    crate::direct::run(direct, "SAVEPOINT roster_tx", [])?;

    let keeps = write.run(direct, head);

    if keeps {
        crate::direct::run(direct, "RELEASE roster_tx", [])?;
    } else {
        *head = None;
        direct.execute_batch("ROLLBACK TO roster_tx; RELEASE roster_tx").map_err(|e| direct_failed(&e))?;
    }
    Ok(keeps)
}

fn fail_all(writes: Vec<Box<dyn DirectWrite>>, error: &StoreError) {
    tracing::error!(error = %error, writes = writes.len(), "a batch of queued writes could not run");
    let failure = Failure::of(error);
    for write in writes {
        write.finish(Some(&failure));
    }
}
