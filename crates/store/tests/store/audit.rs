//! The audit trail's hash chain: linking, recomputation, equality across backends and concurrent appends.

use crate::common::{at, run_on_both};
use roster_domain::audit::GENESIS_HASH;
use roster_domain::{AuditEntry, AuditRecord, Change, Changes};
use roster_store::{AuditQuery, Store};
use serde_json::json;

/// Builds the `index`th entry of a test. Its values include non-ASCII text, nesting, numbers and nulls, so a
/// backend's own JSON or time rendering would show up as a different hash.
fn entry(index: usize) -> AuditEntry {
    let mut changes = Changes::new();
    changes.insert("last_name".into(), Change { before: json!(null), after: json!(format!("Müller-{index}")) });
    changes.insert(
        "custom_attributes".into(),
        Change { before: json!({"z": 1, "a": [1.5, true]}), after: json!({"a": [], "b": {"é": "ü"}}) },
    );
    let by_token = index.is_multiple_of(2);
    AuditEntry {
        created_at: at(&format!("2026-03-04T05:06:{:02}.{:06}Z", index % 60, 123_456 + index)),
        actor_token_id: if by_token { Some(7) } else { None },
        actor_name: if by_token { "deploy bot".into() } else { "system".into() },
        action: "user.update".into(),
        target_type: "user".into(),
        target_id: Some(index.to_string()),
        changes,
        request_id: Some(format!("req-{index}")),
    }
}

async fn append(store: &Store, entry: &AuditEntry) -> anyhow::Result<AuditRecord> {
    let mut tx = store.begin().await?;
    let record = tx.append_audit(entry).await?;
    tx.commit().await?;
    Ok(record)
}

/// Reads the whole chain in order.
async fn read_chain(store: &Store) -> anyhow::Result<Vec<AuditRecord>> {
    let mut conn = store.read().await?;
    let mut chain: Vec<AuditRecord> = Vec::new();
    loop {
        let after = chain.last().map_or(0, |r| r.seq);
        let page = conn.audit_range(after, 100).await?;
        if page.is_empty() {
            return Ok(chain);
        }
        chain.extend(page);
    }
}

/// Asserts that `chain` is numbered 1, 2, 3 and so on, starts at the genesis hash, links each entry to the
/// previous one's hash, and that each stored hash equals the one recomputed from the entry as read back.
fn assert_chain_verifies(chain: &[AuditRecord]) {
    let mut prev_hash = GENESIS_HASH.to_string();
    for (position, record) in chain.iter().enumerate() {
        let expected_seq = position as i64 + 1;
        assert_eq!(record.seq, expected_seq, "the chain should have no gap or repeat before seq {}", record.seq);
        assert_eq!(record.prev_hash, prev_hash, "entry {} should link to the previous entry's hash", record.seq);
        assert_eq!(
            record.hash,
            record.entry.chain_hash(record.seq, &record.prev_hash),
            "entry {}'s stored hash should equal the hash recomputed from the entry as read back",
            record.seq
        );
        prev_hash = record.hash.clone();
    }
}

store_test!(appends_form_chain, |db| {
    let mut appended = Vec::new();
    for index in 0..5 {
        appended.push(append(&db.store, &entry(index)).await?);
    }

    let chain = read_chain(&db.store).await?;
    assert_eq!(chain, appended, "reading the chain back should return the records append_audit returned");
    assert_chain_verifies(&chain);

    let head = db.store.read().await?.audit_head().await?;
    let last = chain.last().map(|r| (r.seq, r.hash.clone()));
    assert_eq!(Some(head), last, "audit_head should be the last entry's seq and hash");
});

store_test!(entries_read_back_unchanged, |db| {
    let entries: Vec<AuditEntry> = (0..3).map(entry).collect();
    for entry in &entries {
        append(&db.store, entry).await?;
    }

    let chain = read_chain(&db.store).await?;
    let read_back: Vec<AuditEntry> = chain.into_iter().map(|r| r.entry).collect();
    assert_eq!(read_back, entries, "every field of every entry should read back as appended");
});

store_test!(empty_chain_head_is_genesis, |db| {
    let head = db.store.read().await?.audit_head().await?;
    assert_eq!(head, (0, GENESIS_HASH.to_string()), "a new database's chain head should be seq 0 and the genesis hash");
});

store_test!(rolled_back_append_leaves_head, |db| {
    append(&db.store, &entry(0)).await?;
    let head_before = db.store.read().await?.audit_head().await?;

    let mut tx = db.store.begin().await?;
    tx.append_audit(&entry(1)).await?;
    drop(tx);

    let head_after = db.store.read().await?.audit_head().await?;
    assert_eq!(head_after, head_before, "an append whose transaction rolled back should leave the head as it was");

    let next = append(&db.store, &entry(2)).await?;
    assert_eq!(next.seq, 2, "the next append after a rollback should take the next seq without a gap");
    assert_chain_verifies(&read_chain(&db.store).await?);
});

store_test!(concurrent_appends_one_chain, |db| {
    const TASKS: usize = 20;
    const APPENDS_PER_TASK: usize = 10;

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..APPENDS_PER_TASK {
                append(&store, &entry(task * APPENDS_PER_TASK + index)).await?;
            }
            anyhow::Ok(())
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(error) = task.await? {
            failures.push(format!("{error:#}"));
        }
    }
    assert!(failures.is_empty(), "every concurrent append should commit, but these failed: {failures:?}");

    let chain = read_chain(&db.store).await?;
    assert_eq!(chain.len(), TASKS * APPENDS_PER_TASK, "every append should have one entry in the chain");
    assert_chain_verifies(&chain);

    let head = db.store.read().await?.audit_head().await?;
    let last = chain.last().map(|r| (r.seq, r.hash.clone()));
    assert_eq!(Some(head), last, "audit_head should be the last entry after concurrent appends");
});

store_test!(appends_mixed_with_rollbacks_keep_one_chain, |db| {
    // Concurrent writers share SQLite batches, in which appends take the chain head from the writer's memory. A
    // transaction dropped after its append must not leave a later append linked to the rolled-back entry.
    const TASKS: usize = 8;
    const ROUNDS: usize = 12;

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut kept = 0;
            for round in 0..ROUNDS {
                let mut tx = store.begin().await?;
                tx.append_audit(&entry(task * ROUNDS + round)).await?;
                tx.append_audit(&entry(task * ROUNDS + round)).await?;
                if (task + round) % 3 == 0 {
                    drop(tx);
                } else {
                    tx.commit().await?;
                    kept += 2;
                }
            }
            anyhow::Ok(kept)
        }));
    }
    let mut kept = 0;
    for task in tasks {
        kept += task.await??;
    }

    let chain = read_chain(&db.store).await?;
    assert_eq!(chain.len(), kept, "every committed append, and no rolled-back one, should be in the chain");
    assert_chain_verifies(&chain);
    let head = db.store.read().await?.audit_head().await?;
    assert_eq!(Some(head), chain.last().map(|r| (r.seq, r.hash.clone())), "audit_head should be the last entry");
});

store_test!(appends_from_another_process_keep_one_chain, |db| {
    // The CLI writes to the same database as a running server; each store's next append must read the head the
    // other one moved.
    let other = db.connect_another().await?;
    for index in 0..6 {
        let store = if index % 2 == 0 { &db.store } else { &other };
        let mut tx = store.begin().await?;
        tx.append_audit(&entry(index)).await?;
        tx.append_audit(&entry(index + 100)).await?;
        tx.commit().await?;
    }
    other.close().await;

    let chain = read_chain(&db.store).await?;
    assert_eq!(chain.len(), 12, "both stores' appends should all be in the chain");
    assert_chain_verifies(&chain);
});

store_test!(list_audit_filters_and_pages, |db| {
    // Six entries at seq 1 to 6: the token 7 acts in the even ones, seq 4 is an archive, and seq 2 and 5 both
    // target user 1.
    for index in 0..6 {
        let mut entry = entry(index);
        if index == 3 {
            entry.action = "user.archive".into();
        }
        if index == 4 {
            entry.target_id = Some("1".into());
        }
        append(&db.store, &entry).await?;
    }
    let page = AuditQuery { limit: 100, ..AuditQuery::default() };
    let cases = [
        ("target user 1, newest first", AuditQuery { target_user_id: Some(1), ..page.clone() }, vec![5, 2]),
        ("actor token 7", AuditQuery { actor_token_id: Some(7), ..page.clone() }, vec![5, 3, 1]),
        ("action user.archive", AuditQuery { action: Some("user.archive".into()), ..page.clone() }, vec![4]),
        (
            "created strictly between entries 2 and 5",
            AuditQuery {
                created_after: Some(entry(1).created_at),
                created_before: Some(entry(4).created_at),
                ..page.clone()
            },
            vec![4, 3],
        ),
        (
            "ascending after seq 2, two at a time",
            AuditQuery { ascending: true, after_seq: Some(2), limit: 2, ..page.clone() },
            vec![3, 4],
        ),
        ("descending after seq 3", AuditQuery { after_seq: Some(3), ..page.clone() }, vec![2, 1]),
        ("offset 1, two at a time", AuditQuery { offset: 1, limit: 2, ..page.clone() }, vec![5, 4]),
    ];

    let mut conn = db.store.read().await?;
    for (description, query, expected) in cases {
        let listed: Vec<i64> = conn.list_audit(&query).await?.into_iter().map(|r| r.seq).collect();
        assert_eq!(listed, expected, "audit query \"{description}\" listed the wrong entries");
    }

    let counted = conn.count_audit(&AuditQuery { actor_token_id: Some(7), ..page }).await?;
    assert_eq!(counted, 3, "count_audit should count the 3 entries of token 7, whatever the page size");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_match_across_backends() -> anyhow::Result<()> {
    run_on_both(true, |sqlite, postgres| async move {
        for index in 0..5 {
            append(&sqlite.store, &entry(index)).await?;
            append(&postgres.store, &entry(index)).await?;
        }

        let sqlite_hashes: Vec<String> = read_chain(&sqlite.store).await?.into_iter().map(|r| r.hash).collect();
        let postgres_hashes: Vec<String> = read_chain(&postgres.store).await?.into_iter().map(|r| r.hash).collect();
        assert_eq!(sqlite_hashes.len(), 5, "SQLite should hold the 5 appended entries");
        assert_eq!(sqlite_hashes, postgres_hashes, "the same entries should give the same hashes on both backends");
        Ok(())
    })
    .await
}
