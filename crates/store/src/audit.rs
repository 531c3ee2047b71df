//! The `audit_log` table and its hash chain.

use crate::types::{DbTime, Param, SqlBuf};
use crate::{Conn, StoreError};
use roster_domain::audit::parse_changes;
use roster_domain::{AuditEntry, AuditRecord, Timestamp};

macro_rules! audit_columns {
    () => {
        "seq, created_at, actor_token_id, actor_name, action, target_type, target_id, changes, request_id, prev_hash, hash"
    };
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    created_at: DbTime,
    actor_token_id: Option<i64>,
    actor_name: String,
    action: String,
    target_type: String,
    target_id: Option<String>,
    changes: String,
    request_id: Option<String>,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn into_record(self) -> Result<AuditRecord, StoreError> {
        let changes = parse_changes(&self.changes)
            .ok_or_else(|| StoreError::Corrupt(format!("audit entry {} has invalid changes", self.seq)))?;
        Ok(AuditRecord {
            seq: self.seq,
            entry: AuditEntry {
                created_at: self.created_at.0,
                actor_token_id: self.actor_token_id,
                actor_name: self.actor_name,
                action: self.action,
                target_type: self.target_type,
                target_id: self.target_id,
                changes,
                request_id: self.request_id,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// A page of the audit trail. Entries are listed newest first unless `ascending` is set.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub target_user_id: Option<i64>,
    pub actor_token_id: Option<i64>,
    pub action: Option<String>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    pub ascending: bool,
    /// Continue after this sequence number (keyset pagination).
    pub after_seq: Option<i64>,
    pub offset: u64,
    pub limit: u32,
}

/// Takes the next sequence number and returns it with the chain head's hash, which the next entry links to.
pub(crate) const ADVANCE_AUDIT_HEAD: &str = "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash";

/// Appends an entry; the parameters are those that `Conn::append_audit` binds, in that order.
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, created_at, actor_token_id, actor_name, action, \
     target_type, target_id, changes, request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

impl Conn {
    /// Appends an entry to the chain and returns it with its hashes.
    ///
    /// Incrementing the head row first takes its row lock (PostgreSQL) or relies on the single writer (SQLite),
    /// so appends from every node serialise on it and the chain never forks. The lock is held until the
    /// surrounding transaction commits. On SQLite, an append after another in the same open batch takes the head
    /// from the writer's memory instead (see `group_commit`), and the trigger still moves the row.
    pub async fn append_audit(&mut self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let cached = match self {
            Conn::SqliteWrite(tx) => tx.cached_audit_head(),
            _ => None,
        };
        let (seq, prev_hash) = match cached {
            Some((head_seq, head_hash)) => (head_seq + 1, head_hash),
            // On PostgreSQL the UPDATE also locks the head row, which orders the appends of concurrent writers.
            None => with_conn!(self, |c| {
                sqlx::query_as::<_, (i64, String)>(ADVANCE_AUDIT_HEAD)
                    .fetch_one(c)
                    .await?
            }),
        };

        let hash = entry.chain_hash(seq, &prev_hash);

        let sql = INSERT_AUDIT;
        let inserted: Result<(), StoreError> = async {
            with_conn!(self, |c| {
                sqlx::query(sql)
                    .bind(seq)
                    .bind(DbTime(entry.created_at))
                    .bind(entry.actor_token_id)
                    .bind(&entry.actor_name)
                    .bind(&entry.action)
                    .bind(&entry.target_type)
                    .bind(&entry.target_id)
                    .bind(entry.changes_json())
                    .bind(&entry.request_id)
                    .bind(&prev_hash)
                    .bind(&hash)
                    .execute(&mut *c)
                    .await?;
            });
            Ok(())
        }
        .await;
        // A trigger on audit_log (migration 7) moves audit_head to this entry's seq and hash in the same statement.
        if let Conn::SqliteWrite(tx) = self {
            tx.cache_audit_head(inserted.is_ok().then(|| (seq, hash.clone())));
        }
        inserted?;

        Ok(AuditRecord { seq, entry: entry.clone(), prev_hash, hash })
    }

    /// Lists audit entries matching `query`.
    pub async fn list_audit(&mut self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let mut buf = SqlBuf::new(concat!("SELECT ", audit_columns!(), " FROM audit_log WHERE 1 = 1"));
        push_audit_conditions(&mut buf, query);

        if let Some(after) = query.after_seq {
            buf.push(if query.ascending { " AND seq > " } else { " AND seq < " });
            buf.bind(Param::Int(after));
        }
        buf.push(if query.ascending { " ORDER BY seq ASC" } else { " ORDER BY seq DESC" });
        buf.push(" LIMIT ");
        buf.bind(Param::Int(i64::from(query.limit)));
        if query.offset > 0 {
            buf.push(" OFFSET ");
            buf.bind(Param::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        }

        let SqlBuf { sql, params } = buf;
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, AuditRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    /// Counts the entries matching `query`'s filters.
    pub async fn count_audit(&mut self, query: &AuditQuery) -> Result<i64, StoreError> {
        let mut buf = SqlBuf::new("SELECT COUNT(*) FROM audit_log WHERE 1 = 1");
        push_audit_conditions(&mut buf, query);

        let SqlBuf { sql, params } = buf;
        let count = with_conn!(self, |c| {
            bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params).fetch_one(c).await?
        });
        Ok(count)
    }

    /// Reads the chain in order, `limit` entries after `after_seq`, for verification and export.
    pub async fn audit_range(&mut self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = concat!("SELECT ", audit_columns!(), " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, AuditRow>(sql).bind(after_seq).bind(limit).fetch_all(c).await?
        });
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    /// Returns the chain head: the last sequence number and hash.
    pub async fn audit_head(&mut self) -> Result<(i64, String), StoreError> {
        let head = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String)>("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(c).await?
        });
        Ok(head)
    }
}

fn push_audit_conditions(buf: &mut SqlBuf, query: &AuditQuery) {
    if let Some(user_id) = query.target_user_id {
        buf.push(" AND target_type = 'user' AND target_id = ");
        buf.bind(Param::Text(user_id.to_string()));
    }
    if let Some(actor) = query.actor_token_id {
        buf.push(" AND actor_token_id = ");
        buf.bind(Param::Int(actor));
    }
    if let Some(action) = &query.action {
        buf.push(" AND action = ");
        buf.bind(Param::Text(action.clone()));
    }
    if let Some(after) = query.created_after {
        buf.push(" AND created_at > ");
        buf.bind(Param::Time(after));
    }
    if let Some(before) = query.created_before {
        buf.push(" AND created_at < ");
        buf.bind(Param::Time(before));
    }
}
