//! The `snapshots` table: a user's attributes and grants taken just before archiving.

use crate::types::{DbTime, opt_time};
use crate::{Conn, StoreError};
use roster_domain::Timestamp;

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub id: i64,
    pub user_id: i64,
    pub taken_at: Timestamp,
    /// The user's attributes as a JSON object.
    pub attributes: serde_json::Value,
    /// The user's grants as a JSON array of [`roster_domain::RoleAssignment::to_json`] objects.
    pub roles: serde_json::Value,
    pub restored_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    id: i64,
    user_id: i64,
    taken_at: DbTime,
    attributes: String,
    roles: String,
    restored_at: Option<DbTime>,
}

impl SnapshotRow {
    fn into_snapshot(self) -> Result<Snapshot, StoreError> {
        let parse = |text: &str| {
            serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("snapshot {} is not JSON: {e}", self.id)))
        };
        Ok(Snapshot {
            id: self.id,
            user_id: self.user_id,
            taken_at: self.taken_at.0,
            attributes: parse(&self.attributes)?,
            roles: parse(&self.roles)?,
            restored_at: opt_time(self.restored_at),
        })
    }
}

impl Conn {
    pub async fn insert_snapshot(
        &mut self,
        user_id: i64,
        taken_at: Timestamp,
        attributes: &serde_json::Value,
        roles: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO snapshots (user_id, taken_at, attributes, roles) VALUES ($1, $2, $3, $4) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(user_id)
                .bind(DbTime(taken_at))
                .bind(attributes.to_string())
                .bind(roles.to_string())
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Loads the user's newest snapshot.
    pub async fn latest_snapshot(&mut self, user_id: i64) -> Result<Option<Snapshot>, StoreError> {
        let sql = "SELECT id, user_id, taken_at, attributes, roles, restored_at FROM snapshots WHERE user_id = $1 \
             ORDER BY id DESC LIMIT 1";
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, SnapshotRow>(sql).bind(user_id).fetch_optional(c).await?
        });
        row.map(SnapshotRow::into_snapshot).transpose()
    }

    pub async fn mark_snapshot_restored(&mut self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            sqlx::query("UPDATE snapshots SET restored_at = $1 WHERE id = $2").bind(DbTime(at)).bind(id).execute(c).await?;
        });
        Ok(())
    }
}
