//! JML mappings and policies stored by name, so that every node of a deployment plans with the same files.

use crate::types::DbTime;
use crate::{Conn, StoreError};
use roster_domain::Timestamp;

/// A stored mapping or policy. `kind` is `mapping` or `policy`; `version` starts at 1 and grows by one with each
/// replacement, and `sha256` is the hex SHA-256 of `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JmlConfigRecord {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub body: String,
    pub version: i64,
    pub sha256: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

#[derive(sqlx::FromRow)]
struct ConfigRow {
    id: i64,
    kind: String,
    name: String,
    body: String,
    version: i64,
    sha256: String,
    created_at: DbTime,
    updated_at: DbTime,
    updated_by: String,
}

impl From<ConfigRow> for JmlConfigRecord {
    fn from(row: ConfigRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            body: row.body,
            version: row.version,
            sha256: row.sha256,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
            updated_by: row.updated_by,
        }
    }
}

macro_rules! config_columns {
    () => {
        "id, kind, name, body, version, sha256, created_at, updated_at, updated_by"
    };
}

impl Conn {
    /// Loads one stored mapping or policy.
    pub async fn jml_config(&mut self, kind: &str, name: &str) -> Result<Option<JmlConfigRecord>, StoreError> {
        let sql = concat!("SELECT ", config_columns!(), " FROM jml_configs WHERE kind = $1 AND name = $2");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, ConfigRow>(sql).bind(kind).bind(name).fetch_optional(c).await?
        });
        Ok(row.map(JmlConfigRecord::from))
    }

    /// Lists the stored configurations of one kind by name.
    pub async fn jml_configs(&mut self, kind: &str) -> Result<Vec<JmlConfigRecord>, StoreError> {
        let sql = concat!("SELECT ", config_columns!(), " FROM jml_configs WHERE kind = $1 ORDER BY name");
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, ConfigRow>(sql).bind(kind).fetch_all(c).await?
        });
        Ok(rows.into_iter().map(JmlConfigRecord::from).collect())
    }

    /// Inserts a configuration at version 1 and returns its id, or `None` when one of that kind and name already
    /// exists, such as one that a concurrent request stored first.
    pub async fn insert_jml_config(&mut self, record: &JmlConfigRecord) -> Result<Option<i64>, StoreError> {
        let sql = "INSERT INTO jml_configs (kind, name, body, version, sha256, created_at, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (kind, name) DO NOTHING RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&record.kind)
                .bind(&record.name)
                .bind(&record.body)
                .bind(record.version)
                .bind(&record.sha256)
                .bind(DbTime(record.created_at))
                .bind(DbTime(record.updated_at))
                .bind(&record.updated_by)
                .fetch_optional(c)
                .await?
        });
        Ok(id)
    }

    /// Writes the body, version, hash and update fields of `record` over a configuration that is still at
    /// `expected_version`. Returns false when it changed or vanished since it was read.
    pub async fn update_jml_config(&mut self, record: &JmlConfigRecord, expected_version: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE jml_configs SET body = $1, version = $2, sha256 = $3, updated_at = $4, updated_by = $5 \
             WHERE kind = $6 AND name = $7 AND version = $8";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(&record.body)
                .bind(record.version)
                .bind(&record.sha256)
                .bind(DbTime(record.updated_at))
                .bind(&record.updated_by)
                .bind(&record.kind)
                .bind(&record.name)
                .bind(expected_version)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Deletes a configuration and returns the deleted row, or `None` when there was none.
    pub async fn delete_jml_config(&mut self, kind: &str, name: &str) -> Result<Option<JmlConfigRecord>, StoreError> {
        let sql = concat!("DELETE FROM jml_configs WHERE kind = $1 AND name = $2 RETURNING ", config_columns!());
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, ConfigRow>(sql).bind(kind).bind(name).fetch_optional(c).await?
        });
        Ok(row.map(JmlConfigRecord::from))
    }
}
