//! Concurrent writers. SQLite has one writer, so these check that concurrent transactions queue for it instead of
//! failing with `database is locked`. On PostgreSQL they check the same outcome with parallel writers.

use crate::common::{insert_user, user};
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
    // copy the last frames, so only the checkpoint between batches lets the WAL start again. Each start writes a
    // new WAL header with the next checkpoint sequence number (bytes 12 to 15, big-endian). The test counts the
    // starts instead of measuring the WAL file, whose size depends on how often a loaded machine runs the
    // checkpoint task. On a busy 2-core machine the WAL started 7 to 24 times in a run, and never with the
    // threshold out of reach.
    let checkpoint_sequence = || -> anyhow::Result<u32> {
        let header = std::fs::read(&wal)?;
        let bytes = header.get(12..16).ok_or_else(|| anyhow::anyhow!("the WAL has no header"))?;
        Ok(u32::from_be_bytes(bytes.try_into()?))
    };
    let before = checkpoint_sequence()?;

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

    let starts = checkpoint_sequence()?.wrapping_sub(before);
    assert!(starts >= 3, "the WAL should start again each time it contains 64 frames, but it started {starts} times");
    store.close().await;
    Ok(())
}

/// Builds a create's audit entry. The store sets its target when it creates the user.
fn create_audit(request: usize) -> roster_domain::PreparedEntry {
    roster_domain::AuditEntry {
        created_at: crate::common::at("2026-12-05T10:00:00Z"),
        actor_token_id: None,
        actor_name: "admin".into(),
        action: "user.create".into(),
        target_type: "user".into(),
        target_id: None,
        changes: roster_domain::Changes::new(),
        request_id: Some(format!("req-{request}")),
    }
    .prepare()
}

/// What a one-step create of request `n` should end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Created,
    EmailTaken,
    ManagerMissing,
}

/// Runs `count` one-step creates named `{prefix}-{n}` at once, from tasks of their own. Every seventh takes an email
/// stored before, and every eleventh names a manager that does not exist. Returns what each ended in.
async fn create_concurrently(store: &Store, prefix: &str, count: usize) -> anyhow::Result<Vec<(Expected, Expected)>> {
    let mut tasks = Vec::new();
    for n in 0..count {
        let store = store.clone();
        let (expected, person) = if n % 7 == 0 {
            (Expected::EmailTaken, User { email: Some("taken@example.com".into()), ..user(&format!("{prefix}-{n}")) })
        } else if n % 11 == 0 {
            (Expected::ManagerMissing, User { manager_id: Some(999_999), ..user(&format!("{prefix}-{n}")) })
        } else {
            (Expected::Created, User { email: Some(format!("{prefix}-{n}@example.com")), ..user(&format!("{prefix}-{n}")) })
        };
        let record = roster_store::NewUserRecord { user: person, origin: "api", audit: create_audit(n) };
        tasks.push(tokio::spawn(async move {
            let outcome = match store.create_user(record).await {
                Ok((roster_store::CreateOutcome::Created(_), _)) => Expected::Created,
                Ok((roster_store::CreateOutcome::ManagerMissing, _)) => Expected::ManagerMissing,
                Err(roster_store::StoreError::Unique(roster_store::UniqueField::Email)) => Expected::EmailTaken,
                Err(error) => anyhow::bail!("create {n} failed: {error}"),
            };
            anyhow::Ok((expected, outcome))
        }));
    }

    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await??);
    }
    Ok(outcomes)
}

/// Checks that the audit chain has `expected` entries, each following the one before it.
async fn assert_chain_intact(store: &Store, expected: usize) -> anyhow::Result<()> {
    let chain = store.read().await?.audit_range(0, expected as i64 + 10).await?;
    assert_eq!(chain.len(), expected, "the audit chain should hold one entry per committed write");
    for pair in chain.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "sequence numbers should leave no gap");
        assert_eq!(pair[1].prev_hash, pair[0].hash, "entry {} should link to the one before it", pair[1].seq);
    }
    Ok(())
}

store_test!(one_step_creates_beside_transactions, |db| {
    const CREATES: usize = 80;
    const TRANSACTIONS: usize = 10;

    insert_user(&db.store, &User { email: Some("taken@example.com".into()), ..user("taken") }).await?;

    // On SQLite one-step creates run in batches of their own, after committing any batch of write transactions
    // left open. Some of them fail or write nothing, which must undo only their own savepoint.
    let mut appends = Vec::new();
    for n in 0..TRANSACTIONS {
        let store = db.store.clone();
        appends.push(tokio::spawn(async move {
            let entry = roster_domain::AuditEntry { target_id: Some(format!("t{n}")), ..create_audit(n).entry };
            let mut tx = store.begin().await?;
            tx.append_audit(&entry).await?;
            tokio::task::yield_now().await;
            tx.commit().await?;
            anyhow::Ok(())
        }));
    }
    let outcomes = create_concurrently(&db.store, "step", CREATES).await?;
    for append in appends {
        append.await??;
    }

    for (n, (expected, outcome)) in outcomes.iter().enumerate() {
        assert_eq!(outcome, expected, "create {n} should end as its input dictates");
    }
    let created = outcomes.iter().filter(|(_, outcome)| *outcome == Expected::Created).count();
    let stored = db.store.read().await?.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(stored, created as i64 + 1, "each created user, and the one stored before, should be stored");
    assert_chain_intact(&db.store, created + TRANSACTIONS).await?;
});

store_test!(one_step_creates_from_two_stores, |db| {
    const CREATES_PER_STORE: usize = 30;

    insert_user(&db.store, &User { email: Some("taken@example.com".into()), ..user("taken") }).await?;

    // On SQLite the second store's writer takes the file's write lock now and then, so a batch must wait for it
    // without sleeping in SQLite's busy handler on a runtime thread.
    let other = db.connect_another().await?;
    let (ours, theirs) = tokio::join!(
        create_concurrently(&db.store, "ours", CREATES_PER_STORE),
        create_concurrently(&other, "theirs", CREATES_PER_STORE),
    );
    other.close().await;

    let outcomes: Vec<_> = ours?.into_iter().chain(theirs?).collect();
    for (expected, outcome) in &outcomes {
        assert_eq!(outcome, expected, "every create should end as its input dictates");
    }
    let created = outcomes.iter().filter(|(_, outcome)| *outcome == Expected::Created).count();
    let stored = db.store.read().await?.count_users_in_state(LifecycleState::Active).await?;
    assert_eq!(stored, created as i64 + 1, "both stores' created users should be stored");
    assert_chain_intact(&db.store, created).await?;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_step_create_waits_for_lock() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("busy.db");
    let location = roster_store::Location::Sqlite(path.clone());
    let options = roster_store::StoreOptions {
        sqlite_busy_timeout: std::time::Duration::from_millis(200),
        ..crate::common::test_options()
    };
    let store = Store::connect(&location, &options).await?;
    store.migrate().await?;
    let record = |name: &str, n| roster_store::NewUserRecord { user: user(name), origin: "api", audit: create_audit(n) };

    // Another process holds the write lock for longer than the busy timeout: the create fails, can be retried, and
    // leaves nothing behind.
    let other = rusqlite::Connection::open(&path)?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let failed = store.create_user(record("late", 1)).await;
    assert!(
        matches!(&failed, Err(error) if error.is_retryable()),
        "a create that cannot take the write lock within the busy timeout should fail as retryable: {failed:?}"
    );

    // The lock is released while the next create waits for it: the create goes through.
    let waiting = tokio::spawn({
        let store = store.clone();
        async move { store.create_user(record("patient", 2)).await }
    });
    tokio::task::yield_now().await;
    other.execute_batch("COMMIT")?;
    let (outcome, _) = waiting.await??;
    assert!(matches!(outcome, roster_store::CreateOutcome::Created(_)), "the waiting create should commit: {outcome:?}");

    let mut reader = store.read().await?;
    assert_eq!(reader.count_users_in_state(LifecycleState::Active).await?, 1, "only the waiting create's user is stored");
    assert_eq!(reader.audit_range(0, 10).await?.len(), 1, "and only its audit entry");
    drop(reader);
    store.close().await;
    Ok(())
}
