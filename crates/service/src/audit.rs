//! Reading and verifying the audit trail.

use roster_domain::audit::GENESIS_HASH;
use roster_domain::{AuditRecord, Scope};
use roster_store::AuditQuery;

use crate::Roster;
use crate::actor::Actor;
use crate::error::Result;

/// One page of audit entries.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    pub total: Option<i64>,
    /// The sequence number to continue after, when this page was full.
    pub next_after: Option<i64>,
}

/// The result of checking the hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// How many entries were checked.
    pub checked: i64,
    /// The first entry that does not match, with the reason; `None` when the chain verifies.
    pub first_mismatch: Option<(i64, String)>,
}

/// How many entries verification reads per query.
const VERIFY_BATCH: i64 = 1000;

impl Roster {
    /// Lists audit entries. Requires `audit:read`.
    pub async fn list_audit(&self, actor: &Actor, query: AuditQuery, with_total: bool) -> Result<AuditPage> {
        actor.require(Scope::AuditRead)?;

        let mut conn = self.store.read().await?;
        let entries = conn.list_audit(&query).await?;
        let total = if with_total { Some(conn.count_audit(&query).await?) } else { None };

        let next_after = match entries.last() {
            Some(last) if entries.len() == query.limit as usize => Some(last.seq),
            _ => None,
        };
        Ok(AuditPage { entries, total, next_after })
    }

    /// Recomputes every hash of the chain in order and names the first entry that does not match: an edited
    /// entry, a removed one (a gap in the sequence) or a head that disagrees with the last entry.
    pub async fn verify_audit(&self) -> Result<AuditVerification> {
        let mut conn = self.store.read().await?;
        verify_chain(&mut conn).await
    }
}

/// Verifies the chain as read through `conn`, which may include an uncommitted import.
pub(crate) async fn verify_chain(conn: &mut roster_store::Conn) -> Result<AuditVerification> {
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1;
    let mut checked = 0;

    loop {
        let batch = conn.audit_range(expected_seq - 1, VERIFY_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for record in &batch {
            if let Some(reason) = check_record(record, expected_seq, &expected_prev) {
                return Ok(AuditVerification { checked, first_mismatch: Some((record.seq, reason)) });
            }
            expected_prev = record.hash.clone();
            expected_seq += 1;
            checked += 1;
        }
    }

    let (head_seq, head_hash) = conn.audit_head().await?;
    if head_seq != expected_seq - 1 || head_hash != expected_prev {
        let reason = format!("the chain head is at entry {head_seq} but the log ends at entry {}", expected_seq - 1);
        return Ok(AuditVerification { checked, first_mismatch: Some((expected_seq, reason)) });
    }
    Ok(AuditVerification { checked, first_mismatch: None })
}

fn check_record(record: &AuditRecord, expected_seq: i64, expected_prev: &str) -> Option<String> {
    if record.seq != expected_seq {
        return Some(format!("entry {expected_seq} is missing; the next stored entry is {}", record.seq));
    }
    if record.prev_hash != expected_prev {
        return Some("prev_hash does not equal the previous entry's hash".into());
    }
    if record.entry.chain_hash(record.seq, &record.prev_hash) != record.hash {
        return Some("the stored hash does not match the entry's contents".into());
    }
    None
}
