//! WAL checkpoints beside the writer.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages. Every few hundred writes,
//! that commit also copies the WAL into the database file and waits for the disk, and every transaction batched
//! behind it on the single writer waits too. A task with its own connection therefore checkpoints in `PASSIVE`
//! mode every 50 ms, which blocks neither the writer nor the readers, and copies most frames. A checkpoint first
//! waits until the WAL is on disk, and the writer's writes to the WAL can wait with it. A shorter interval leaves
//! less to write each time, so those waits are shorter: under a steady load of SCIM creates, the p99 latency was
//! 12 ms with checkpoints every 250 ms and 7 ms with every 50 ms.
//!
//! SQLite starts the WAL from the beginning again only after a checkpoint has copied every frame, which a
//! checkpoint from another connection rarely manages while the writer keeps appending. Once the WAL contains
//! [`RESTART_FRAMES`], the task therefore checkpoints once more on the writer's connection between two batches
//! (`SqliteWriter::checkpoint_between_batches`): it copies only the frames appended since, and the next write
//! starts the WAL again. Before, the writer's own checkpoint at 64 MiB did that work inside a commit, and the
//! writer stalled for about 30 ms once a second: the p99 latency of the same load was 38 ms. The writer keeps its
//! own checkpoint at [`WRITER_AUTOCHECKPOINT_PAGES`] in case the task falls behind; without any, the WAL grew to
//! about 800 MB.

use sqlx::SqliteConnection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

use crate::group_commit::SqliteWriter;

/// The WAL size, in pages, at which the writer checkpoints in its own commit: 64 MiB with 4 KiB pages.
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: &str = "16384";

/// The WAL size, in frames, from which the task checkpoints between batches so that the WAL starts again: 16 MiB
/// with 4 KiB pages.
pub(crate) const RESTART_FRAMES: i64 = 4096;

/// The schedule of the task's checkpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) interval: Duration,
    /// The WAL size, in frames, from which a checkpoint also runs between two batches of the writer.
    pub(crate) restart_frames: i64,
}

/// Stops the checkpoint task when the store closes or its last clone is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: watch::Sender<bool>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` through `conn` on `schedule`, and on `writer`'s connection when
    /// the WAL grew.
    pub(crate) fn start(mut conn: SqliteConnection, schedule: Schedule, writer: SqliteWriter, path: PathBuf) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            tracing::debug!(interval_ms = schedule.interval.as_millis() as u64, "started the SQLite checkpoint task");
            let mut ticks = tokio::time::interval(schedule.interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    // A closed channel (every store clone dropped) stops the task as a stop request does.
                    _ = stopped.changed() => break,
                }
                checkpoint(&mut conn, &writer, &path, schedule.restart_frames).await;
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

/// Copies what it can of the WAL from the task's connection, then, once the WAL is large, the rest between two
/// batches of the writer.
async fn checkpoint(conn: &mut SqliteConnection, writer: &SqliteWriter, path: &Path, restart_frames: i64) {
    let passive = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await;
    let frames = match passive {
        Ok((_busy, frames, _copied)) => frames,
        Err(error) => {
            tracing::warn!(%error, "checkpointing the SQLite WAL failed; trying again at the next interval");
            return;
        }
    };
    if frames < restart_frames {
        return;
    }

    // A checkpoint that leaves frames behind writes pages into the database file without waiting for the disk, so
    // the checkpoint between batches would wait for all of them while the writer waits. Flushing them here first
    // leaves it only the pages it copies itself.
    flush_database_file(path).await;
    match writer.checkpoint_between_batches().await {
        // A reader that still reads an older snapshot keeps the last frames, so the next interval tries again.
        Ok((frames, copied)) if copied < frames => {
            tracing::debug!(frames, copied, "a reader kept the SQLite WAL from starting again");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "checkpointing the SQLite WAL between batches failed; trying again at the next interval");
        }
    }
}

/// Waits until the pages written into the database file are on disk. A failure only makes the next checkpoint
/// between batches slower, so it is logged and ignored.
async fn flush_database_file(path: &Path) {
    let path = path.to_path_buf();
    let flushed = tokio::task::spawn_blocking(move || std::fs::File::open(&path).and_then(|file| file.sync_data())).await;
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::debug!(%error, "flushing the SQLite database file before a checkpoint failed"),
        Err(error) => tracing::debug!(%error, "the thread that flushes the SQLite database file failed"),
    }
}
