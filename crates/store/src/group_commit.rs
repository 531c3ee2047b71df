//! Group commit for SQLite's single writer connection.
//!
//! Each write transaction of the service runs as a savepoint inside one outer transaction. When it commits while
//! other write transactions queue for the connection, it releases its savepoint and waits, and the batch commits
//! once: either when a transaction finds no other transaction queued behind it, or from a background task. A transaction's
//! `commit` returns only after the batch's `COMMIT` succeeded, so nothing is acknowledged before it is durable.
//! Consecutive rows share B-tree pages, so a batch writes each page to the WAL once instead of once per
//! transaction, which is where single-row commits spend their time.
//!
//! A write of one step ([`SqliteWriter::write_direct`]) does not use that connection. It queues a closure, and one
//! combining task runs every queued closure in its own savepoint on a second writer connection, which rusqlite
//! drives on the task's own thread, then commits them together. The writer's lock keeps the two connections from
//! writing at once. Each statement through sqlx is a round trip to its connection's worker thread, and under load
//! those round trips, not SQLite, bounded how many users per second the server could create.

use sqlx::{Executor, SqliteConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::error::StoreError;

mod combine;

/// Statements the one-step writer connection keeps prepared: those of every one-step write, with room.
const DIRECT_STATEMENT_CACHE: usize = 64;

/// Maximum transactions in one batch, so that a long queue still commits regularly.
const MAX_BATCH: usize = 64;

/// The audit chain's head (seq, hash), as the open batch last moved it.
pub(crate) type AuditHead = Option<(i64, String)>;

/// The writer connections and the state of the batch that is open on the sqlx one.
struct WriterState {
    /// The connection of one-step writes. It writes only while the batch on `conn` is closed. `None` after the
    /// store closed.
    direct: Option<rusqlite::Connection>,
    /// `None` while a transaction has it checked out, or after the store closed.
    conn: Option<SqliteConnection>,
    /// Whether the outer transaction on `conn` has begun and not yet committed.
    open: bool,
    /// A transaction was dropped inside its savepoint; the next holder rolls the savepoint back.
    rollback_pending: bool,
    /// Transactions that released their savepoint and wait for the batch's `COMMIT`.
    waiters: Vec<oneshot::Sender<Result<(), String>>>,
    /// A background task will take the lock and commit whatever batch is open by then.
    settle_scheduled: bool,
    closed: bool,
    /// The audit chain's head (seq, hash) as the open batch last moved it. The batch's `BEGIN IMMEDIATE` keeps
    /// every other writer out, so while the batch is open this equals the `audit_head` row and an append can skip
    /// reading it: one round trip fewer to the connection thread per audited write. Cleared whenever the batch
    /// ends or a savepoint rolls back, since the row may then differ.
    audit_head: AuditHead,
}

/// The SQLite writer: one connection shared by batches of write transactions.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    state: Arc<Mutex<WriterState>>,
    /// Write transactions waiting for the lock.
    queued: Arc<AtomicUsize>,
    /// One-step writes waiting for the combining task.
    direct: Arc<std::sync::Mutex<combine::DirectQueue>>,
    acquire_timeout: Duration,
    /// How long a batch of one-step writes waits for another connection's write lock, as the sqlx connection's
    /// busy timeout does for a write transaction.
    busy_timeout: Duration,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").field("queued", &self.queued.load(Ordering::Relaxed)).finish()
    }
}

/// Decrements the queue count however the wait for the lock ends, including when the caller is cancelled.
struct QueuedGuard(Arc<AtomicUsize>);

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SqliteWriter {
    /// Makes a writer of `conn`, for write transactions, and `direct`, for one-step writes. Both must have the
    /// same settings (see [`open_direct`]).
    pub(crate) fn new(conn: SqliteConnection, direct: rusqlite::Connection, acquire_timeout: Duration, busy_timeout: Duration) -> Self {
        let state = WriterState {
            direct: Some(direct),
            conn: Some(conn),
            open: false,
            rollback_pending: false,
            waiters: Vec::new(),
            settle_scheduled: false,
            closed: false,
            audit_head: None,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            queued: Arc::new(AtomicUsize::new(0)),
            direct: Arc::default(),
            acquire_timeout,
            busy_timeout,
        }
    }

    /// Begins a write transaction: a savepoint inside the open batch, or inside a new `BEGIN IMMEDIATE`.
    pub(crate) async fn begin(&self) -> Result<WriteTx, StoreError> {
        // The work runs in its own task, because a request future can be dropped at any await (a client that
        // disconnects), and that must not lose the connection or leave the batch half-begun. If the caller is
        // gone, the task's result is dropped, which rolls the new savepoint back.
        let writer = self.clone();
        tokio::spawn(async move { writer.begin_in_task().await }).await.map_err(task_failed)?
    }

    async fn begin_in_task(&self) -> Result<WriteTx, StoreError> {
        let (mut guard, mut conn) = self.lock_connection().await?;

        let started = start_savepoint(&mut guard, &mut conn).await;
        match started {
            Ok(()) => Ok(WriteTx { guard: Some(guard), conn: Some(conn), writer: self.clone() }),
            Err(error) => {
                guard.conn = Some(conn);
                self.schedule_settle(&mut guard);
                Err(error)
            }
        }
    }

    /// Waits for the writer's lock and takes its connection out of it.
    async fn lock_connection(&self) -> Result<(OwnedMutexGuard<WriterState>, SqliteConnection), StoreError> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let queued = QueuedGuard(Arc::clone(&self.queued));
        let mut guard = tokio::time::timeout(self.acquire_timeout, Arc::clone(&self.state).lock_owned())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?;
        drop(queued);

        if guard.closed {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        let Some(conn) = guard.conn.take() else {
            return Err(StoreError::Transaction("the SQLite writer connection is missing".into()));
        };
        Ok((guard, conn))
    }

    /// Commits the open batch from a background task, so that waiters never depend on a later request arriving.
    fn schedule_settle(&self, state: &mut WriterState) {
        if !state.open || state.settle_scheduled {
            return;
        }
        state.settle_scheduled = true;

        let writer = self.clone();
        tokio::spawn(async move {
            let mut guard = Arc::clone(&writer.state).lock_owned().await;
            guard.settle_scheduled = false;
            let Some(mut conn) = guard.conn.take() else { return };
            if let Err(error) = finish_pending_rollback(&mut guard, &mut conn).await {
                tracing::error!(error = %error, "rolling back an abandoned write transaction failed");
            }
            if guard.open
                && let Err(error) = commit_batch(&mut guard, &mut conn).await
            {
                tracing::error!(error = %error, "committing a batch of write transactions failed");
            }
            guard.conn = Some(conn);
        });
    }

    /// Commits the open batch, if any, and checkpoints the WAL on the writer's connection before another write
    /// transaction can begin. Only a checkpoint that copies every frame lets the next write start the WAL from
    /// the beginning again, and no other connection can copy the last frames while the writer keeps appending.
    /// Returns the WAL's frames and how many of them are now copied, as `wal_checkpoint` reports them.
    pub(crate) async fn checkpoint_between_batches(&self) -> Result<(i64, i64), StoreError> {
        let mut guard = Arc::clone(&self.state).lock_owned().await;
        if guard.closed {
            return Ok((0, 0));
        }
        let Some(mut conn) = guard.conn.take() else {
            return Err(StoreError::Transaction("the SQLite writer connection is missing".into()));
        };

        let checkpointed = checkpoint_idle_writer(&mut guard, &mut conn).await;

        guard.conn = Some(conn);
        checkpointed
    }

    /// Commits any open batch and closes the connection.
    pub(crate) async fn close(&self) {
        let mut guard = self.state.lock().await;
        guard.closed = true;
        let Some(mut conn) = guard.conn.take() else { return };
        if let Err(error) = finish_pending_rollback(&mut guard, &mut conn).await {
            tracing::error!(error = %error, "rolling back an abandoned write transaction failed");
        }
        if guard.open
            && let Err(error) = commit_batch(&mut guard, &mut conn).await
        {
            tracing::error!(error = %error, "committing the last batch of write transactions failed");
        }
        if let Some(direct) = guard.direct.take()
            && let Err((_, error)) = direct.close()
        {
            tracing::warn!(error = %error, "closing the SQLite connection of one-step writes failed");
        }
        if let Err(error) = sqlx::Connection::close(conn).await {
            tracing::warn!(error = %error, "closing the SQLite writer connection failed");
        }
    }
}

/// One write transaction: the writer connection, held until it commits or is dropped.
pub struct WriteTx {
    guard: Option<OwnedMutexGuard<WriterState>>,
    conn: Option<SqliteConnection>,
    writer: SqliteWriter,
}

impl WriteTx {
    /// Returns the connection, which is present from `begin` until `commit` or drop.
    pub(crate) fn conn(&mut self) -> Option<&mut SqliteConnection> {
        self.conn.as_mut()
    }

    /// Returns the audit chain's head in the open batch, when an earlier append in the batch recorded it.
    pub(crate) fn cached_audit_head(&self) -> AuditHead {
        self.guard.as_ref().and_then(|state| state.audit_head.clone())
    }

    /// Records the audit chain's head after an append, or clears it (`None`) when an append failed.
    pub(crate) fn cache_audit_head(&mut self, head: AuditHead) {
        if let Some(state) = self.guard.as_mut() {
            state.audit_head = head;
        }
    }

    /// Releases the savepoint and returns once the batch that contains it has committed.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        // In its own task for the reason given at `SqliteWriter::begin`: a commit that has started must finish.
        tokio::spawn(self.commit_in_task()).await.map_err(task_failed)?
    }

    async fn commit_in_task(mut self) -> Result<(), StoreError> {
        let (Some(mut guard), Some(mut conn)) = (self.guard.take(), self.conn.take()) else {
            return Err(StoreError::Transaction("a committed write transaction was used again".into()));
        };

        if let Err(error) = conn.execute("RELEASE roster_tx").await {
            // The savepoint still exists; the next holder rolls it back and the batch goes on without it.
            guard.rollback_pending = true;
            guard.audit_head = None;
            guard.conn = Some(conn);
            self.writer.schedule_settle(&mut guard);
            return Err(error.into());
        }

        let others_queued = self.writer.queued.load(Ordering::SeqCst) > 0;
        if others_queued && guard.waiters.len() + 1 < MAX_BATCH {
            let (sender, receiver) = oneshot::channel();
            guard.waiters.push(sender);
            guard.conn = Some(conn);
            self.writer.schedule_settle(&mut guard);
            drop(guard);
            return match receiver.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(message)) => Err(StoreError::Transaction(format!("the batch commit failed: {message}"))),
                Err(_) => Err(StoreError::Transaction("the batch ended without committing".into())),
            };
        }

        let committed = commit_batch(&mut guard, &mut conn).await;
        guard.conn = Some(conn);
        committed
    }
}

impl Drop for WriteTx {
    /// Marks the savepoint of a transaction dropped without commit for rollback. The next holder or the background
    /// task that commits the batch rolls it back, because rolling back needs an `await`.
    fn drop(&mut self) {
        if let (Some(mut guard), Some(conn)) = (self.guard.take(), self.conn.take()) {
            guard.conn = Some(conn);
            guard.rollback_pending = true;
            guard.audit_head = None;
            self.writer.schedule_settle(&mut guard);
        }
    }
}

/// Opens the batch if none is open, and starts the transaction's savepoint.
async fn start_savepoint(state: &mut WriterState, conn: &mut SqliteConnection) -> Result<(), StoreError> {
    finish_pending_rollback(state, conn).await?;
    if !state.open {
        state.audit_head = None;
        conn.execute("BEGIN IMMEDIATE").await?;
        state.open = true;
    }
    conn.execute("SAVEPOINT roster_tx").await?;
    Ok(())
}

/// Rolls back the savepoint of a dropped transaction, keeping the rest of the batch. If SQLite already rolled
/// back the whole transaction (it does so on some I/O and memory errors), the batch is lost and its waiters fail.
async fn finish_pending_rollback(state: &mut WriterState, conn: &mut SqliteConnection) -> Result<(), StoreError> {
    if !state.rollback_pending {
        return Ok(());
    }
    state.rollback_pending = false;
    state.audit_head = None;

    let rolled_back = conn.execute("ROLLBACK TO roster_tx; RELEASE roster_tx").await;
    if let Err(error) = rolled_back {
        tracing::error!(error = %error, "rolling back to a savepoint failed; abandoning the whole batch");
        let _ = conn.execute("ROLLBACK").await;
        state.open = false;
        notify(state, Err(error.to_string()));
        return Err(error.into());
    }
    Ok(())
}

/// Commits the open batch, then checkpoints passively on the writer's connection while no transaction uses it.
async fn checkpoint_idle_writer(state: &mut WriterState, conn: &mut SqliteConnection) -> Result<(i64, i64), StoreError> {
    finish_pending_rollback(state, conn).await?;
    if state.open {
        commit_batch(state, conn).await?;
    }

    let (_busy, frames, copied) =
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
    Ok((frames, copied))
}

/// Commits the outer transaction and sends the outcome to every waiting transaction.
async fn commit_batch(state: &mut WriterState, conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let committed = conn.execute("COMMIT").await;
    state.open = false;
    // Another process (the CLI, say) may write between batches.
    state.audit_head = None;

    match committed {
        Ok(_) => {
            notify(state, Ok(()));
            Ok(())
        }
        Err(error) => {
            tracing::error!(error = %error, batch = state.waiters.len() + 1, "committing a batch failed; rolling back");
            let _ = conn.execute("ROLLBACK").await;
            notify(state, Err(error.to_string()));
            Err(error.into())
        }
    }
}

/// Opens the connection of one-step writes with `pragmas`, the settings that `Store::connect` gives the sqlx writer
/// connection. Its busy handler is off, because the combining task runs on a runtime thread, which must not sleep
/// in SQLite's busy handler. The task waits for another connection's lock itself (see `combine`).
pub(crate) fn open_direct<'a>(
    path: &std::path::Path,
    pragmas: impl IntoIterator<Item = &'a (&'a str, &'a str)>,
) -> Result<rusqlite::Connection, StoreError> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let direct = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| direct_failed(&e))?;

    for (name, value) in pragmas {
        direct.pragma_update(None, name, value).map_err(|e| direct_failed(&e))?;
    }
    direct.busy_timeout(Duration::ZERO).map_err(|e| direct_failed(&e))?;
    direct.set_prepared_statement_cache_capacity(DIRECT_STATEMENT_CACHE);
    Ok(direct)
}

/// Turns an error of a statement run through rusqlite into a store error, as sqlx's errors are turned.
pub(crate) fn direct_failed(error: &rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(failure, message)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Unique(crate::error::UniqueField::from_target(message.as_deref().unwrap_or_default()))
        }
        rusqlite::Error::SqliteFailure(failure, _) if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            StoreError::ForeignKey
        }
        other => StoreError::Transaction(format!("a statement on the SQLite writer failed: {other}")),
    }
}

fn task_failed(error: tokio::task::JoinError) -> StoreError {
    StoreError::Transaction(format!("the task that ran the SQLite writer failed: {error}"))
}

fn notify(state: &mut WriterState, outcome: Result<(), String>) {
    for waiter in state.waiters.drain(..) {
        // A waiter whose request was cancelled has dropped its receiver; its change committed all the same.
        let _ = waiter.send(outcome.clone());
    }
}
