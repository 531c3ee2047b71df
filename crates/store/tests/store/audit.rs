//! The audit trail's hash chain: linking, recomputation, equality across backends and concurrent appends.

use crate::common::{at, run_on_both};
use roster_domain::audit::GENESIS_HASH;
use roster_domain::{AuditEntry, AuditRecord, Change, Changes};
use roster_store::Store;
use serde_json::json;

/// Builds the `index`th entry of a test; the values include non-ASCII text, nesting, numbers and nulls, so that a
/// backend's own JSON or time rendering would show up as a different hash.
fn entry(index: usize) -> AuditEntry {
    let mut changes = Changes::new();
    changes.insert("last_name".into(), Change { before: json!(null), after: json!(format!("Müller-{index}")) });
    changes.insert(
        "custom_attributes".into(),
        Change { before: json!({"z": 1, "a": [1.5, true]}), after: json!({"a": [], "b": {"é": "ü"}}) },
    );
    AuditEntry {
        created_at: at(&format!("2026-03-04T05:06:{:02}.{:06}Z", index % 60, 123_456 + index)),
        actor_token_id: if index % 2 == 0 { Some(7) } else { None },
        actor_name: if index % 2 == 0 { "deploy bot".into() } else { "system".into() },
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
