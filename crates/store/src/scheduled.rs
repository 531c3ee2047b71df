//! The `scheduled_actions` table.

use crate::types::{DbTime, Param, SqlBuf, opt_time};
use crate::{Conn, StoreError};
use roster_domain::Timestamp;

/// A stored scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledAction {
    pub id: i64,
    /// What to do, such as `expire_role`.
    pub kind: String,
    pub user_id: i64,
    /// Kind-specific details as JSON, such as the role key of an expiry.
    pub payload: serde_json::Value,
    pub due_at: Timestamp,
    /// `pending`, `done`, `cancelled` or `failed`.
    pub status: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub applied_at: Option<Timestamp>,
    /// What applying it did, or why it failed.
    pub result: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ScheduledRow {
    id: i64,
    kind: String,
    user_id: i64,
    payload: String,
    due_at: DbTime,
    status: String,
    created_at: DbTime,
    created_by: String,
    applied_at: Option<DbTime>,
    result: Option<String>,
}

impl ScheduledRow {
    fn into_action(self) -> Result<ScheduledAction, StoreError> {
        let payload = serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("scheduled action {} has invalid payload: {e}", self.id)))?;
        Ok(ScheduledAction {
            id: self.id,
            kind: self.kind,
            user_id: self.user_id,
            payload,
            due_at: self.due_at.0,
            status: self.status,
            created_at: self.created_at.0,
            created_by: self.created_by,
            applied_at: opt_time(self.applied_at),
            result: self.result,
        })
    }
}

macro_rules! scheduled_columns {
    () => {
        "id, kind, user_id, payload, due_at, status, created_at, created_by, applied_at, result"
    };
}

macro_rules! claim_sql {
    ($suffix:expr) => {
        concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM scheduled_actions WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT 1",
            $suffix
        )
    };
}

impl Conn {
    pub async fn insert_scheduled_action(
        &mut self,
        kind: &str,
        user_id: i64,
        payload: &serde_json::Value,
        due_at: Timestamp,
        created_at: Timestamp,
        created_by: &str,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO scheduled_actions (kind, user_id, payload, due_at, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(kind)
                .bind(user_id)
                .bind(roster_domain::audit::canonical_json(payload))
                .bind(DbTime(due_at))
                .bind(DbTime(created_at))
                .bind(created_by)
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Claims the oldest due pending action inside this transaction. On PostgreSQL the row stays locked until
    /// commit and other nodes skip it (`FOR UPDATE SKIP LOCKED`); on SQLite the single writer serialises claims.
    pub async fn claim_due_action(&mut self, now: Timestamp) -> Result<Option<ScheduledAction>, StoreError> {
        let row = match self.raw() {
            crate::Raw::Sqlite(c) => {
                sqlx::query_as::<_, ScheduledRow>(claim_sql!(sqlite_lock_suffix!()))
                    .bind(DbTime(now))
                    .fetch_optional(c)
                    .await?
            }
            crate::Raw::Postgres(c) => {
                sqlx::query_as::<_, ScheduledRow>(claim_sql!(postgres_lock_suffix!()))
                    .bind(DbTime(now))
                    .fetch_optional(c)
                    .await?
            }
            crate::Raw::Ended => return Err(StoreError::Transaction("the write transaction has ended".into())),
        };
        row.map(ScheduledRow::into_action).transpose()
    }

    /// Records the outcome of a pending action; returns false when it was no longer pending.
    pub async fn finish_scheduled_action(
        &mut self,
        id: i64,
        status: &str,
        at: Timestamp,
        result: &str,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE scheduled_actions SET status = $1, applied_at = $2, result = $3 \
             WHERE id = $4 AND status = 'pending'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(status).bind(DbTime(at)).bind(result).bind(id).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    pub async fn scheduled_action(&mut self, id: i64) -> Result<Option<ScheduledAction>, StoreError> {
        let sql = concat!("SELECT ", scheduled_columns!(), " FROM scheduled_actions WHERE id = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, ScheduledRow>(sql).bind(id).fetch_optional(c).await?
        });
        row.map(ScheduledRow::into_action).transpose()
    }

    /// Lists the actions matching `query`'s filters in id order (the order they were scheduled in).
    pub async fn list_scheduled_actions(&mut self, query: &ScheduledQuery) -> Result<Vec<ScheduledAction>, StoreError> {
        let mut buf = SqlBuf::new(concat!("SELECT ", scheduled_columns!(), " FROM scheduled_actions WHERE 1 = 1"));
        push_scheduled_conditions(&mut buf, query);
        if let Some(after) = query.after_id {
            buf.push(" AND id > ");
            buf.bind(Param::Int(after));
        }
        buf.push(" ORDER BY id LIMIT ");
        buf.bind(Param::Int(i64::from(query.limit)));
        if query.offset > 0 {
            buf.push(" OFFSET ");
            buf.bind(Param::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        }

        let SqlBuf { sql, params } = buf;
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, ScheduledRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        rows.into_iter().map(ScheduledRow::into_action).collect()
    }

    /// Counts the actions matching `query`'s filters, ignoring its page.
    pub async fn count_scheduled_actions(&mut self, query: &ScheduledQuery) -> Result<i64, StoreError> {
        let mut buf = SqlBuf::new("SELECT COUNT(*) FROM scheduled_actions WHERE 1 = 1");
        push_scheduled_conditions(&mut buf, query);

        let SqlBuf { sql, params } = buf;
        let count = with_conn!(self, |c| {
            bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params).fetch_one(c).await?
        });
        Ok(count)
    }
}

/// A page of scheduled actions, in id order.
#[derive(Debug, Clone, Default)]
pub struct ScheduledQuery {
    /// `pending`, `done`, `cancelled` or `failed`.
    pub status: Option<String>,
    pub user_id: Option<i64>,
    pub kind: Option<String>,
    /// Continue after this id (keyset pagination).
    pub after_id: Option<i64>,
    pub offset: u64,
    pub limit: u32,
}

fn push_scheduled_conditions(buf: &mut SqlBuf, query: &ScheduledQuery) {
    if let Some(status) = &query.status {
        buf.push(" AND status = ");
        buf.bind(Param::Text(status.clone()));
    }
    if let Some(user_id) = query.user_id {
        buf.push(" AND user_id = ");
        buf.bind(Param::Int(user_id));
    }
    if let Some(kind) = &query.kind {
        buf.push(" AND kind = ");
        buf.bind(Param::Text(kind.clone()));
    }
}
