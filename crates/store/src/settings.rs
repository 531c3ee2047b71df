//! The `settings` table: small facts about the deployment, such as whether it was bootstrapped.

use crate::{Conn, StoreError};

impl Conn {
    /// Inserts a setting unless it exists; returns true when this call inserted it. Several nodes starting at once
    /// use this to elect the one that bootstraps.
    pub async fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> Result<bool, StoreError> {
        let sql = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING key";
        let inserted = with_conn!(self, |c| {
            sqlx::query_scalar::<_, String>(sql).bind(key).bind(value).fetch_optional(c).await?
        });
        Ok(inserted.is_some())
    }

    pub async fn setting(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let value = with_conn!(self, |c| {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(c).await?
        });
        Ok(value)
    }
}
