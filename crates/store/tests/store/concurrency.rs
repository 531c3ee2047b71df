//! Concurrent writers. SQLite has one writer, so these check that concurrent transactions queue for it instead of
//! failing with `database is locked`. On PostgreSQL they check the same outcome with parallel writers.

use crate::common::user;
use roster_domain::{LifecycleState, User};
use roster_store::Store;

/// Inserts `count` users named `{prefix}-{n}`, each from its own task in its own transaction, and returns the
/// errors of those that failed.
async fn insert_concurrently(store: &Store, prefix: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let mut tasks = Vec::new();
    for n in 0..count {
        let store = store.clone();
        let person = User { email: Some(format!("{prefix}-{n}@example.com")), ..user(&format!("{prefix}-{n}")) };
        tasks.push(tokio::spawn(async move {
            // Reading before writing, as a service checks that an email is free before it creates the user, is
            // what fails with `database is locked` on SQLite when a transaction does not take the write lock first.
            let mut tx = store.begin().await?;
            tx.user_by_email(person.email.as_deref().unwrap_or_default()).await?;
            tx.insert_user(&person, "api").await?;
            tx.commit().await?;
            anyhow::Ok(())
        }));
    }

    let mut failures = Vec::new();
    for task in tasks {
        if let Err(error) = task.await? {
            failures.push(format!("{error:#}"));
        }
    }
    Ok(failures)
}

store_test!(concurrent_inserts_all_commit, |db| {
    const WRITERS: usize = 50;

    let failures = insert_concurrently(&db.store, "writer", WRITERS).await?;
    assert!(failures.is_empty(), "every concurrent insert should commit, but these failed: {failures:?}");

    let count = db.store.read().await?.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(count, WRITERS as i64, "each of the {WRITERS} inserts should have stored one user");
});

store_test!(two_stores_write_at_once, |db| {
    const WRITERS_PER_STORE: usize = 25;

    // A second store has its own writer, as a CLI process or another node would, so on SQLite the two contend
    // for the file's write lock and rely on the busy timeout.
    let other = db.connect_another().await?;
    let (ours, theirs) = tokio::join!(
        insert_concurrently(&db.store, "ours", WRITERS_PER_STORE),
        insert_concurrently(&other, "theirs", WRITERS_PER_STORE),
    );
    other.close().await;
    let failures: Vec<String> = ours?.into_iter().chain(theirs?).collect();
    assert!(failures.is_empty(), "every insert from either store should commit, but these failed: {failures:?}");

    let count = db.store.read().await?.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(count, 2 * WRITERS_PER_STORE as i64, "both stores' inserts should all be stored");
});

store_test!(abandoned_writes_leave_others_committed, |db| {
    const WRITERS: usize = 60;

    // On SQLite, concurrent transactions share batches: an abandoned or failed one must be rolled back alone while
    // the others in its batch commit. Every third transaction is dropped without commit, and every fifth collides
    // with an email that an earlier transaction stored.
    let mut first = db.store.begin().await?;
    first.insert_user(&User { email: Some("taken@example.com".into()), ..user("taken") }, "api").await?;
    first.commit().await?;

    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let email = if n % 5 == 0 { "taken@example.com".to_string() } else { format!("batch-{n}@example.com") };
            let person = User { email: Some(email), ..user(&format!("batch-{n}")) };
            let mut tx = store.begin().await?;
            let inserted = tx.insert_user(&person, "api").await;
            tokio::task::yield_now().await;
            if n % 3 == 0 {
                drop(tx);
                return anyhow::Ok(false);
            }
            inserted?;
            tx.commit().await?;
            anyhow::Ok(true)
        }));
    }

    let mut committed = 0;
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await? {
            Ok(true) => committed += 1,
            Ok(false) => {}
            Err(error) => assert!(n % 5 == 0, "transaction {n} failed although its email was free: {error:#}"),
        }
    }
    let expected = (0..WRITERS).filter(|n| n % 3 != 0 && n % 5 != 0).count();
    assert_eq!(committed, expected, "every transaction that was neither dropped nor colliding should commit");

    let mut reader = db.store.read().await?;
    let stored = reader.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(stored, expected as i64 + 1, "only the committed transactions' users should be stored");
    for n in (0..WRITERS).filter(|n| n % 3 == 0 && n % 5 != 0) {
        let found = reader.user_by_email(&format!("batch-{n}@example.com")).await?;
        assert!(found.is_none(), "the user of dropped transaction {n} should not be stored");
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_is_checkpointed_beside_the_writer() -> anyhow::Result<()> {
    crate::common::run_on(roster_store::Backend::Sqlite, true, |db| async move {
        let roster_store::Location::Sqlite(path) = db.location.clone() else {
            anyhow::bail!("the SQLite leg should have a file location");
        };
        let size = || std::fs::metadata(&path).map(|m| m.len());
        let before = size()?;

        let failures = insert_concurrently(&db.store, "checkpointed", 200).await?;
        assert!(failures.is_empty(), "every insert should commit, but these failed: {failures:?}");

        // 200 inserts stay far below the writer's own checkpoint threshold, so only the checkpoint task can move
        // the new pages into the database file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while size()? <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file should grow within 10 s as the checkpoint task copies the WAL into it"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_starts_again_under_steady_writes() -> anyhow::Result<()> {
    // A store of its own on a file of its own: a second store's checkpoints on the same file would compete for
    // SQLite's checkpoint lock, which no server has to share.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("steady.db");
    let wal = dir.path().join("steady.db-wal");
    let location = roster_store::Location::Sqlite(path);
    let options = roster_store::StoreOptions { sqlite_wal_restart_frames: 64, ..crate::common::test_options() };
    let store = Store::connect(&location, &options).await?;
    store.migrate().await?;

    // Writers that always queue for the writer leave no gap in which a checkpoint from another connection could
    // copy the last frames, so only the checkpoint between batches lets the WAL start again. Without it, these
    // writes left a WAL of 31 MB in each of four runs. With it, eight runs ended between 0.9 MB and 2.3 MB, and one
    // earlier run at 4.2 MB, when slow disk flushes let the WAL grow between two checkpoints.
    let mut writers = Vec::new();
    for stream in 0..4 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..500 {
                let mut tx = store.begin().await?;
                tx.insert_user(&user(&format!("steady-{stream}-{n}")), "api").await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }

    let wal_bytes = std::fs::metadata(&wal)?.len();
    assert!(
        wal_bytes < 12 * 1024 * 1024,
        "the WAL should start again once it contains 64 frames, so it stays under 12 MiB, but it is {wal_bytes} bytes"
    );
    store.close().await;
    Ok(())
}
