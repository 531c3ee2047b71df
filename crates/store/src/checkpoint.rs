//! WAL checkpoints beside the writer.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages. Every few hundred writes,
//! that commit also copies the WAL into the database file and waits for the disk, and every transaction batched
//! behind it on the single writer waits too. A task with its own connection therefore checkpoints in
//! `PASSIVE` mode at a fixed interval, which blocks neither the writer nor the readers.
//!
//! The writer still checkpoints itself at a much larger WAL size ([`WRITER_AUTOCHECKPOINT_PAGES`]). SQLite starts
//! the WAL from the beginning again only after a checkpoint has copied every frame, which a checkpoint from another
//! connection rarely manages while the writer keeps appending. Without the writer's own checkpoint the WAL grew to
//! about 800 MB under a steady benchmark load; by the time it runs, most pages are already copied.

use sqlx::{Executor, SqliteConnection};
use std::time::Duration;
use tokio::sync::watch;

/// The WAL size, in pages, at which the writer checkpoints in its own commit: 64 MiB with 4 KiB pages.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: &str = "16384";

/// Stops the checkpoint task when the store closes or its last clone is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: watch::Sender<bool>,
}

impl Checkpointer {
    /// Starts checkpointing through `conn` every `interval`.
    pub(crate) fn start(mut conn: SqliteConnection, interval: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            tracing::debug!(interval_ms = interval.as_millis() as u64, "started the SQLite checkpoint task");
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    // A closed channel (every store clone dropped) stops the task as a stop request does.
                    _ = stopped.changed() => break,
                }
                if let Err(error) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await {
                    tracing::warn!(%error, "checkpointing the SQLite WAL failed; trying again at the next interval");
                }
            }
            if let Err(error) = sqlx::Connection::close(conn).await {
                tracing::warn!(%error, "closing the SQLite checkpoint connection failed");
            }
            tracing::debug!("stopped the SQLite checkpoint task");
        });
        Self { stop }
    }

    /// Stops the task; the last connection to close checkpoints what remains.
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }
}
