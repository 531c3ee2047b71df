//! Audit entries and the canonical form their hash chain covers.
//!
//! The hash covers a canonical serialisation (sorted keys, no whitespace, UTC timestamps at microsecond
//! precision) built here, never the database's own JSON or time rendering, so a chain verifies the same on SQLite
//! and PostgreSQL and after an export.

use crate::time::Timestamp;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The hash that precedes the first entry of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One changed field's value before and after the change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub before: Value,
    pub after: Value,
}

/// The changed fields of one audit entry, by name.
pub type Changes = BTreeMap<String, Change>;

/// Builds the change set between two attribute maps, keeping only the fields that differ.
pub fn diff(before: &serde_json::Map<String, Value>, after: &serde_json::Map<String, Value>) -> Changes {
    let mut changes = Changes::new();
    for (key, new_value) in after {
        let old_value = before.get(key).cloned().unwrap_or(Value::Null);
        if &old_value != new_value {
            changes.insert(key.clone(), Change { before: old_value, after: new_value.clone() });
        }
    }
    for (key, old_value) in before {
        if !after.contains_key(key) {
            changes.insert(key.clone(), Change { before: old_value.clone(), after: Value::Null });
        }
    }
    changes
}

/// One change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub created_at: Timestamp,
    pub actor_token_id: Option<i64>,
    /// The acting token's name, or `cli` and `system` for changes made outside the API.
    pub actor_name: String,
    /// What happened, such as `user.create` or `user.roles_sync`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: Changes,
    pub request_id: Option<String>,
}

/// A stored entry with its chain position and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The position in the chain, starting at 1; also the entry's id.
    pub seq: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Serialises the changes as canonical JSON.
    pub fn changes_json(&self) -> String {
        // Written field by field from the sorted change set: the canonical JSON of an object of `after` and
        // `before` pairs, without copying every value into such an object first. A test compares the two.
        let mut out = Vec::new();
        out.push(b'{');
        for (i, (field, change)) in self.changes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_scalar(&mut out, field);
            out.extend_from_slice(b":{\"after\":");
            write_canonical(&change.after, &mut out);
            out.extend_from_slice(b",\"before\":");
            write_canonical(&change.before, &mut out);
            out.push(b'}');
        }
        out.push(b'}');
        utf8(out)
    }

    /// Builds the canonical bytes that the hash of the entry at `seq` covers.
    pub fn canonical_bytes(&self, seq: i64) -> Vec<u8> {
        self.canonical_bytes_with_changes(seq, &self.changes_json())
    }

    /// Builds [`AuditEntry::canonical_bytes`] around changes that [`AuditEntry::changes_json`] serialised. The
    /// canonical JSON sorts keys, which puts `changes` between `actor_token_id` and `created_at`.
    fn canonical_bytes_with_changes(&self, seq: i64, changes_json: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(changes_json.len() + 256);
        out.extend_from_slice(b"{\"action\":");
        write_scalar(&mut out, &self.action);
        out.extend_from_slice(b",\"actor_name\":");
        write_scalar(&mut out, &self.actor_name);
        out.extend_from_slice(b",\"actor_token_id\":");
        write_scalar(&mut out, &self.actor_token_id);
        out.extend_from_slice(b",\"changes\":");
        out.extend_from_slice(changes_json.as_bytes());
        out.extend_from_slice(b",\"created_at\":");
        write_scalar(&mut out, &self.created_at.canonical());
        out.extend_from_slice(b",\"request_id\":");
        write_scalar(&mut out, &self.request_id);
        out.extend_from_slice(b",\"seq\":");
        write_scalar(&mut out, &seq);
        out.extend_from_slice(b",\"target_id\":");
        write_scalar(&mut out, &self.target_id);
        out.extend_from_slice(b",\"target_type\":");
        write_scalar(&mut out, &self.target_type);
        out.push(b'}');
        out
    }

    /// Computes the hex SHA-256 of the previous hash followed by this entry's canonical bytes.
    pub fn chain_hash(&self, seq: i64, prev_hash: &str) -> String {
        hash_bytes(prev_hash, &self.canonical_bytes(seq))
    }

    /// Computes [`AuditEntry::chain_hash`] from changes that [`AuditEntry::changes_json`] serialised; the entry's
    /// own `changes` are not read.
    pub fn chain_hash_with_changes(&self, seq: i64, prev_hash: &str, changes_json: &str) -> String {
        hash_bytes(prev_hash, &self.canonical_bytes_with_changes(seq, changes_json))
    }

    /// Serialises the changes once, so that a writer can hash and store the entry later without doing it again.
    pub fn prepare(self) -> PreparedEntry {
        let changes_json = self.changes_json();
        PreparedEntry { entry: self, changes_json }
    }
}

/// An audit entry with its changes already serialised, so that appending it under a database's write lock costs
/// only the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEntry {
    pub entry: AuditEntry,
    /// The entry's changes as [`AuditEntry::changes_json`] gives them.
    pub changes_json: String,
}

impl PreparedEntry {
    /// Computes [`AuditEntry::chain_hash`] from the serialised changes.
    pub fn chain_hash(&self, seq: i64, prev_hash: &str) -> String {
        self.entry.chain_hash_with_changes(seq, prev_hash, &self.changes_json)
    }
}

fn hash_bytes(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical);
    hex::encode(hasher.finalize())
}

/// Parses the stored changes JSON back into a change set.
pub fn parse_changes(text: &str) -> Option<Changes> {
    let value: Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    let mut changes = Changes::new();
    for (field, pair) in object {
        let before = pair.get("before").cloned().unwrap_or(Value::Null);
        let after = pair.get("after").cloned().unwrap_or(Value::Null);
        changes.insert(field.clone(), Change { before, after });
    }
    Some(changes)
}

/// Writes JSON with object keys sorted and no whitespace, whatever order the map keeps.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    utf8(out)
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(out, key);
                out.push(b':');
                if let Some(v) = map.get(*key) {
                    write_canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        other => write_scalar(out, other),
    }
}

/// Appends a string, number, boolean or null as serde_json writes it, with its escapes.
fn write_scalar(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Writing to a `Vec` cannot fail with an I/O error, and every caller passes a string, number, option or JSON
    // scalar, never a map whose keys could fail to serialise.
    let _ = serde_json::to_writer(out, value);
}

/// Turns bytes that serde_json wrote into a string. They are always UTF-8, since every input was a Rust string.
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The change set as one JSON object, the reference that `changes_json` must serialise like `canonical_json`.
    fn changes_value(changes: &Changes) -> Value {
        let map = changes
            .iter()
            .map(|(field, change)| {
                let mut pair = serde_json::Map::new();
                pair.insert("after".into(), change.after.clone());
                pair.insert("before".into(), change.before.clone());
                (field.clone(), Value::Object(pair))
            })
            .collect();
        Value::Object(map)
    }

    fn entry() -> AuditEntry {
        AuditEntry {
            created_at: Timestamp::parse("2026-01-02T03:04:05.123456Z").unwrap_or_else(|| unreachable!()),
            actor_token_id: Some(1),
            actor_name: "admin".into(),
            action: "user.create".into(),
            target_type: "user".into(),
            target_id: Some("7".into()),
            changes: diff(&serde_json::Map::new(), &serde_json::json!({"b": 1, "a": "x"}).as_object().cloned().unwrap_or_default()),
            request_id: Some("r1".into()),
        }
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let value = serde_json::json!({"b": [ {"z": 1, "y": 2} ], "a": null});
        assert_eq!(canonical_json(&value), r#"{"a":null,"b":[{"y":2,"z":1}]}"#);
    }

    #[test]
    fn hash_depends_on_prev_and_seq() {
        let e = entry();
        let h1 = e.chain_hash(1, GENESIS_HASH);
        assert_ne!(h1, e.chain_hash(2, GENESIS_HASH));
        assert_ne!(h1, e.chain_hash(1, &h1));
        assert_eq!(h1, entry().chain_hash(1, GENESIS_HASH));
    }

    #[test]
    fn canonical_bytes_are_the_whole_entry_sorted() {
        let bare = AuditEntry { actor_token_id: None, target_id: None, request_id: Some("r\"1".into()), changes: Changes::new(), ..entry() };
        for entry in [entry(), bare, rich_entry()] {
            let mut object = serde_json::Map::new();
            object.insert("seq".into(), 42.into());
            object.insert("created_at".into(), entry.created_at.canonical().into());
            object.insert("actor_token_id".into(), entry.actor_token_id.map_or(Value::Null, Value::from));
            object.insert("actor_name".into(), entry.actor_name.clone().into());
            object.insert("action".into(), entry.action.clone().into());
            object.insert("target_type".into(), entry.target_type.clone().into());
            object.insert("target_id".into(), entry.target_id.clone().map_or(Value::Null, Value::from));
            object.insert("changes".into(), changes_value(&entry.changes));
            object.insert("request_id".into(), entry.request_id.clone().map_or(Value::Null, Value::from));
            let whole = canonical_json(&Value::Object(object)).into_bytes();

            assert_eq!(entry.changes_json(), canonical_json(&changes_value(&entry.changes)), "the changes are canonical JSON");
            assert_eq!(entry.canonical_bytes(42), whole, "the bytes are the canonical JSON of every field");
            let prepared = entry.clone().prepare();
            assert_eq!(prepared.chain_hash(42, GENESIS_HASH), entry.chain_hash(42, GENESIS_HASH));
        }
    }

    /// Builds an entry whose changes contain nested values, escapes and text outside ASCII.
    fn rich_entry() -> AuditEntry {
        let before = serde_json::json!({"emails": [{"value": "a@example.com", "primary": true}], "title": "Lead \"ops\"\n"});
        let after = serde_json::json!({"emails": [], "title": "Größe \u{1F600}", "score": 1.5, "count": -3, "tab\tkey": "x"});
        AuditEntry {
            changes: diff(before.as_object().unwrap_or(&serde_json::Map::new()), after.as_object().unwrap_or(&serde_json::Map::new())),
            request_id: Some("req-\u{e9}".into()),
            ..entry()
        }
    }

    #[test]
    fn chain_hash_is_stable() {
        // Stored entries keep the hash computed when they were appended, so the canonical bytes must never change.
        let entry = rich_entry();
        assert_eq!(entry.changes_json(), r#"{"count":{"after":-3,"before":null},"emails":{"after":[],"before":[{"primary":true,"value":"a@example.com"}]},"score":{"after":1.5,"before":null},"tab\tkey":{"after":"x","before":null},"title":{"after":"Größe 😀","before":"Lead \"ops\"\n"}}"#);
        assert_eq!(entry.chain_hash(42, GENESIS_HASH), "b8b529617b9c4bbecb451c5567d529a13d1396f03c391e6463f28347bbfcaa35");
        assert_eq!(entry.prepare().chain_hash(42, GENESIS_HASH), "b8b529617b9c4bbecb451c5567d529a13d1396f03c391e6463f28347bbfcaa35");
    }

    #[test]
    fn changes_round_trip_through_json() {
        let e = entry();
        assert_eq!(parse_changes(&e.changes_json()), Some(e.changes));
    }
}
