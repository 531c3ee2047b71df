//! The `scheduled_actions` table.

use crate::types::{DbTime, opt_time};
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

    /// Lists actions by due time, optionally only those with a status, after a keyset id.
    pub async fn list_scheduled_actions(
        &mut self,
        status: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ScheduledAction>, StoreError> {
        let sql = concat!(
            "SELECT ",
            scheduled_columns!(),
            " FROM scheduled_actions WHERE ($1 = '' OR status = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, ScheduledRow>(sql)
                .bind(status.unwrap_or(""))
                .bind(after_id)
                .bind(limit)
                .fetch_all(c)
                .await?
        });
        rows.into_iter().map(ScheduledRow::into_action).collect()
    }
}
