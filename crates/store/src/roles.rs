//! The role catalogue (`role_types`) and grants (`role_assignments`).

use crate::types::{DbTime, Param, SqlBuf, db_time, opt_time};

/// Inserts one grant unless the user already has it from the same source. The parameters are those that
/// `Conn::insert_assignment_if_absent` binds, in that order.
pub(crate) const INSERT_ASSIGNMENT_IF_ABSENT: &str = "INSERT INTO role_assignments (user_id, role_type_id, resource_type, \
     resource_id, source, source_ref, approved_by, reason, expires_at, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
     $9, $10) ON CONFLICT (user_id, role_type_id, resource_type, resource_id, source, source_ref) DO NOTHING RETURNING id";
use crate::{Conn, StoreError};
use roster_domain::{RoleAssignment, RoleKey, RoleSource, RoleType, Timestamp, fold};

macro_rules! role_type_columns {
    () => {
        "id, name, description, category, resource_type, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct RoleTypeRow {
    id: i64,
    name: String,
    description: Option<String>,
    category: Option<String>,
    resource_type: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<RoleTypeRow> for RoleType {
    fn from(row: RoleTypeRow) -> Self {
        RoleType {
            id: row.id,
            name: row.name,
            description: row.description,
            category: row.category,
            resource_type: row.resource_type,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    pub(crate) role_type_id: i64,
    pub(crate) role_type_name: String,
    pub(crate) resource_type: String,
    pub(crate) resource_id: String,
    pub(crate) source: String,
    pub(crate) source_ref: String,
    pub(crate) approved_by: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) expires_at: Option<DbTime>,
    pub(crate) granted_at: DbTime,
}

#[derive(sqlx::FromRow)]
struct UserAssignmentRow {
    user_id: i64,
    #[sqlx(flatten)]
    assignment: AssignmentRow,
}

impl AssignmentRow {
    pub(crate) fn into_assignment(self) -> Result<RoleAssignment, StoreError> {
        let source = RoleSource::from_parts(&self.source, &self.source_ref)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role source {:?}", self.source)))?;
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };

        Ok(RoleAssignment {
            key: RoleKey {
                role_type_id: self.role_type_id,
                resource_type: non_empty(self.resource_type),
                resource_id: non_empty(self.resource_id),
            },
            role_type_name: self.role_type_name,
            source,
            approved_by: self.approved_by,
            reason: self.reason,
            expires_at: opt_time(self.expires_at),
            granted_at: self.granted_at.0,
        })
    }
}

impl Conn {
    /// Lists the whole role catalogue by id.
    pub async fn list_role_types(&mut self) -> Result<Vec<RoleType>, StoreError> {
        let sql = concat!("SELECT ", role_type_columns!(), " FROM role_types ORDER BY id");
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, RoleTypeRow>(sql).fetch_all(c).await?
        });
        Ok(rows.into_iter().map(RoleType::from).collect())
    }

    pub async fn role_type_by_id(&mut self, id: i64) -> Result<Option<RoleType>, StoreError> {
        let sql = concat!("SELECT ", role_type_columns!(), " FROM role_types WHERE id = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, RoleTypeRow>(sql).bind(id).fetch_optional(c).await?
        });
        Ok(row.map(RoleType::from))
    }

    pub async fn role_type_by_name(&mut self, name: &str) -> Result<Option<RoleType>, StoreError> {
        let sql = concat!("SELECT ", role_type_columns!(), " FROM role_types WHERE name_folded = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, RoleTypeRow>(sql).bind(fold(name)).fetch_optional(c).await?
        });
        Ok(row.map(RoleType::from))
    }

    /// Inserts a role type (its `id` is ignored) and returns the new id.
    pub async fn insert_role_type(&mut self, role_type: &RoleType) -> Result<i64, StoreError> {
        let sql = "INSERT INTO role_types (name, name_folded, description, category, resource_type, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&role_type.name)
                .bind(fold(&role_type.name))
                .bind(&role_type.description)
                .bind(&role_type.category)
                .bind(&role_type.resource_type)
                .bind(DbTime(role_type.created_at))
                .bind(DbTime(role_type.updated_at))
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Writes a role type's name, description and category.
    pub async fn update_role_type(&mut self, role_type: &RoleType) -> Result<(), StoreError> {
        let sql = "UPDATE role_types SET name = $1, name_folded = $2, description = $3, category = $4, updated_at = $5 \
             WHERE id = $6";
        with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(&role_type.name)
                .bind(fold(&role_type.name))
                .bind(&role_type.description)
                .bind(&role_type.category)
                .bind(DbTime(role_type.updated_at))
                .bind(role_type.id)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    pub async fn delete_role_type(&mut self, id: i64) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            sqlx::query("DELETE FROM role_types WHERE id = $1").bind(id).execute(c).await?;
        });
        Ok(())
    }

    /// Counts the distinct users holding any assignment of the role type.
    pub async fn count_role_type_holders(&mut self, role_type_id: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(DISTINCT user_id) FROM role_assignments WHERE role_type_id = $1";
        let count = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).bind(role_type_id).fetch_one(c).await?
        });
        Ok(count)
    }

    /// Lists every grant a user holds, ordered by key then source, so the output is stable.
    pub async fn user_assignments(&mut self, user_id: i64) -> Result<Vec<RoleAssignment>, StoreError> {
        let sql = "SELECT ra.role_type_id, rt.name AS role_type_name, ra.resource_type, ra.resource_id, ra.source, \
             ra.source_ref, ra.approved_by, ra.reason, ra.expires_at, ra.granted_at \
             FROM role_assignments ra JOIN role_types rt ON rt.id = ra.role_type_id \
             WHERE ra.user_id = $1 \
             ORDER BY ra.role_type_id, ra.resource_type, ra.resource_id, ra.source, ra.source_ref";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, AssignmentRow>(sql).bind(user_id).fetch_all(c).await?
        });
        rows.into_iter().map(AssignmentRow::into_assignment).collect()
    }

    /// Lists the grants of several users at once, in the order of [`Conn::user_assignments`], so that a page of
    /// users costs one query instead of one per user. Users without grants have no entry.
    pub async fn assignments_of_users(
        &mut self,
        user_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<RoleAssignment>>, StoreError> {
        let mut grants: std::collections::HashMap<i64, Vec<RoleAssignment>> = std::collections::HashMap::new();
        if user_ids.is_empty() {
            return Ok(grants);
        }

        let SqlBuf { sql, params } = assignments_of_users_sql(user_ids);
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, UserAssignmentRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        for row in rows {
            grants.entry(row.user_id).or_default().push(row.assignment.into_assignment()?);
        }
        Ok(grants)
    }

    /// Inserts one grant. Fails with a unique violation when the user already has this key from this source.
    pub async fn insert_assignment(&mut self, user_id: i64, grant: &RoleAssignment) -> Result<(), StoreError> {
        let sql = "INSERT INTO role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref, \
             approved_by, reason, expires_at, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(user_id)
                .bind(grant.key.role_type_id)
                .bind(grant.key.resource_type.clone().unwrap_or_default())
                .bind(grant.key.resource_id.clone().unwrap_or_default())
                .bind(grant.source.kind())
                .bind(grant.source.reference())
                .bind(&grant.approved_by)
                .bind(&grant.reason)
                .bind(db_time(grant.expires_at))
                .bind(DbTime(grant.granted_at))
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Inserts one grant unless the user already has this key from this source; returns true when it inserted.
    pub async fn insert_assignment_if_absent(&mut self, user_id: i64, grant: &RoleAssignment) -> Result<bool, StoreError> {
        let sql = INSERT_ASSIGNMENT_IF_ABSENT;
        let inserted = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(user_id)
                .bind(grant.key.role_type_id)
                .bind(grant.key.resource_type.clone().unwrap_or_default())
                .bind(grant.key.resource_id.clone().unwrap_or_default())
                .bind(grant.source.kind())
                .bind(grant.source.reference())
                .bind(&grant.approved_by)
                .bind(&grant.reason)
                .bind(db_time(grant.expires_at))
                .bind(DbTime(grant.granted_at))
                .fetch_optional(c)
                .await?
        });
        Ok(inserted.is_some())
    }

    /// Inserts the grants that the user does not hold yet, in one statement, and returns for each grant whether it
    /// was inserted. A grant listed twice is inserted once, the first time.
    pub async fn insert_assignments_if_absent(&mut self, user_id: i64, grants: &[RoleAssignment]) -> Result<Vec<bool>, StoreError> {
        if grants.is_empty() {
            return Ok(Vec::new());
        }
        let mut buf = SqlBuf::new(
            "INSERT INTO role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref, \
             approved_by, reason, expires_at, granted_at) VALUES ",
        );
        for (index, grant) in grants.iter().enumerate() {
            buf.push(if index == 0 { "(" } else { ", (" });
            buf.bind(Param::Int(user_id)).push(", ");
            buf.bind(Param::Int(grant.key.role_type_id)).push(", ");
            buf.bind(Param::Text(grant.key.resource_type.clone().unwrap_or_default())).push(", ");
            buf.bind(Param::Text(grant.key.resource_id.clone().unwrap_or_default())).push(", ");
            buf.bind(Param::Text(grant.source.kind().to_string())).push(", ");
            buf.bind(Param::Text(grant.source.reference().to_string())).push(", ");
            match &grant.approved_by {
                Some(approved_by) => buf.bind(Param::Text(approved_by.clone())),
                None => buf.push("NULL"),
            };
            buf.push(", ");
            match &grant.reason {
                Some(reason) => buf.bind(Param::Text(reason.clone())),
                None => buf.push("NULL"),
            };
            buf.push(", ");
            match grant.expires_at {
                Some(at) => buf.bind(Param::Time(at)),
                None => buf.push("NULL"),
            };
            buf.push(", ");
            buf.bind(Param::Time(grant.granted_at)).push(")");
        }
        buf.push(
            " ON CONFLICT (user_id, role_type_id, resource_type, resource_id, source, source_ref) DO NOTHING \
             RETURNING role_type_id, resource_type, resource_id, source, source_ref",
        );

        let SqlBuf { sql, params } = buf;
        let mut inserted = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, (i64, String, String, String, String)>(sqlx::AssertSqlSafe(sql)), &params)
                .fetch_all(c)
                .await?
        });
        let flags = grants
            .iter()
            .map(|grant| {
                let key = (
                    grant.key.role_type_id,
                    grant.key.resource_type.clone().unwrap_or_default(),
                    grant.key.resource_id.clone().unwrap_or_default(),
                    grant.source.kind().to_string(),
                    grant.source.reference().to_string(),
                );
                let found = inserted.iter().position(|row| *row == key);
                found.map(|position| inserted.swap_remove(position)).is_some()
            })
            .collect();
        Ok(flags)
    }

    /// Deletes one grant: the key from one source.
    pub async fn delete_assignment(&mut self, user_id: i64, key: &RoleKey, source: &RoleSource) -> Result<u64, StoreError> {
        let sql = "DELETE FROM role_assignments WHERE user_id = $1 AND role_type_id = $2 AND resource_type = $3 \
             AND resource_id = $4 AND source = $5 AND source_ref = $6";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(user_id)
                .bind(key.role_type_id)
                .bind(key.resource_type.clone().unwrap_or_default())
                .bind(key.resource_id.clone().unwrap_or_default())
                .bind(source.kind())
                .bind(source.reference())
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows)
    }

    /// Deletes every grant of a user and returns how many there were.
    pub async fn delete_user_assignments(&mut self, user_id: i64) -> Result<u64, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query("DELETE FROM role_assignments WHERE user_id = $1").bind(user_id).execute(c).await?.rows_affected()
        });
        Ok(rows)
    }

    /// Lists grants whose expiry has passed, oldest first.
    pub async fn expired_assignments(&mut self, now: Timestamp, limit: i64) -> Result<Vec<(i64, RoleAssignment)>, StoreError> {
        let sql = "SELECT ra.user_id, ra.role_type_id, rt.name AS role_type_name, ra.resource_type, ra.resource_id, \
             ra.source, ra.source_ref, ra.approved_by, ra.reason, ra.expires_at, ra.granted_at \
             FROM role_assignments ra JOIN role_types rt ON rt.id = ra.role_type_id \
             WHERE ra.expires_at IS NOT NULL AND ra.expires_at <= $1 ORDER BY ra.expires_at, ra.id LIMIT $2";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, ExpiredRow>(sql).bind(DbTime(now)).bind(limit).fetch_all(c).await?
        });
        rows.into_iter().map(|r| Ok((r.user_id, r.assignment.into_assignment()?))).collect()
    }
}

#[derive(sqlx::FromRow)]
struct ExpiredRow {
    user_id: i64,
    #[sqlx(flatten)]
    assignment: AssignmentRow,
}

/// Builds the query of the grants of several users, in the order of [`Conn::user_assignments`].
pub(crate) fn assignments_of_users_sql(user_ids: &[i64]) -> SqlBuf {
    let mut buf = SqlBuf::new(
        "SELECT ra.user_id, ra.role_type_id, rt.name AS role_type_name, ra.resource_type, ra.resource_id, ra.source, \
         ra.source_ref, ra.approved_by, ra.reason, ra.expires_at, ra.granted_at \
         FROM role_assignments ra JOIN role_types rt ON rt.id = ra.role_type_id \
         WHERE ra.user_id IN (",
    );
    buf.bind_list(user_ids.iter().map(|id| Param::Int(*id)));
    buf.push(") ORDER BY ra.user_id, ra.role_type_id, ra.resource_type, ra.resource_id, ra.source, ra.source_ref");
    buf
}

impl AssignmentRow {
    /// Reads a grant's columns of a row as the synchronous SQLite reader returns it. The columns are those of the
    /// `FromRow` derive.
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            role_type_id: row.get("role_type_id")?,
            role_type_name: row.get("role_type_name")?,
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            source: row.get("source")?,
            source_ref: row.get("source_ref")?,
            approved_by: row.get("approved_by")?,
            reason: row.get("reason")?,
            expires_at: row.get("expires_at")?,
            granted_at: row.get("granted_at")?,
        })
    }
}
