//! The `groups`, `group_members` and `group_roles` tables.

use crate::types::{DbTime, Param, SqlBuf};
use crate::{Conn, StoreError};
use roster_domain::filter::CmpOp;
use roster_domain::{Group, GroupFilter, GroupMember, RoleKey, Timestamp, fold};

macro_rules! group_columns {
    () => {
        "id, display_name, external_id, scim_attributes, version, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: i64,
    display_name: String,
    external_id: Option<String>,
    scim_attributes: String,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl GroupRow {
    fn into_group(self) -> Result<Group, StoreError> {
        let scim_attributes = serde_json::from_str(&self.scim_attributes)
            .map_err(|e| StoreError::Corrupt(format!("group {} has invalid scim_attributes: {e}", self.id)))?;
        Ok(Group {
            id: self.id,
            display_name: self.display_name,
            external_id: self.external_id,
            scim_attributes,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

fn scim_json(group: &Group) -> String {
    serde_json::Value::Object(group.scim_attributes.clone()).to_string()
}

/// A page of groups.
#[derive(Debug, Clone)]
pub struct GroupQuery {
    pub filter: GroupFilter,
    /// Sort by display name instead of id.
    pub by_display_name: bool,
    pub descending: bool,
    pub offset: u64,
    pub limit: u32,
    /// Continue after the group with this folded display name (ignored when sorting by id) and id: keyset
    /// pagination, which [`GroupQuery::offset`] then follows.
    pub after: Option<(String, i64)>,
    /// End just before the group with this folded display name (ignored when sorting by id) and id: the `limit`
    /// groups nearest before it, returned in the sort order (keyset pagination backwards, for a previous page).
    /// Used only when `after` is `None`.
    pub before: Option<(String, i64)>,
}

fn push_group_filter(buf: &mut SqlBuf, filter: &GroupFilter) {
    match filter {
        GroupFilter::All => {
            buf.push("1 = 1");
        }
        GroupFilter::And(terms) | GroupFilter::Or(terms) => {
            let (joiner, empty) = if matches!(filter, GroupFilter::And(_)) { (" AND ", "1 = 1") } else { (" OR ", "1 = 0") };
            if terms.is_empty() {
                buf.push(empty);
                return;
            }
            buf.push("(");
            for (i, term) in terms.iter().enumerate() {
                if i > 0 {
                    buf.push(joiner);
                }
                push_group_filter(buf, term);
            }
            buf.push(")");
        }
        GroupFilter::Not(inner) => {
            buf.push("NOT COALESCE((");
            push_group_filter(buf, inner);
            buf.push("), FALSE)");
        }
        GroupFilter::DisplayName(op, value) => push_text(buf, "display_name_folded", *op, fold(value)),
        GroupFilter::ExternalId(op, value) => push_text(buf, "external_id", *op, value.clone()),
        GroupFilter::Id(op, id) => {
            buf.push("id").push(symbol(*op));
            buf.bind(Param::Int(*id));
        }
        GroupFilter::HasMember(user_id) => {
            buf.push("EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id AND gm.user_id = ");
            buf.bind(Param::Int(*user_id));
            buf.push(")");
        }
        GroupFilter::ExternalIdPresent => {
            buf.push("(external_id IS NOT NULL AND external_id <> '')");
        }
    }
}

fn symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Ne => " <> ",
        CmpOp::Gt => " > ",
        CmpOp::Ge => " >= ",
        CmpOp::Lt => " < ",
        CmpOp::Le => " <= ",
        CmpOp::Eq | CmpOp::Co | CmpOp::Sw | CmpOp::Ew => " = ",
    }
}

fn push_text(buf: &mut SqlBuf, column: &str, op: CmpOp, value: String) {
    let escaped: String = value.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    let pattern = match op {
        CmpOp::Co => Some(format!("%{escaped}%")),
        CmpOp::Sw => Some(format!("{escaped}%")),
        CmpOp::Ew => Some(format!("%{escaped}")),
        _ => None,
    };
    match pattern {
        Some(pattern) => {
            buf.push(column).push(" LIKE ");
            buf.bind(Param::Text(pattern));
            buf.push(" ESCAPE '\\'");
        }
        None if op == CmpOp::Ne => {
            buf.push("(").push(column).push(" IS NULL OR ").push(column).push(" <> ");
            buf.bind(Param::Text(value));
            buf.push(")");
        }
        None => {
            buf.push(column).push(symbol(op));
            buf.bind(Param::Text(value));
        }
    }
}

impl Conn {
    /// Inserts a group (its `id` and `version` are ignored) and returns the new id.
    pub async fn insert_group(&mut self, group: &Group) -> Result<i64, StoreError> {
        let sql = "INSERT INTO groups (display_name, display_name_folded, external_id, scim_attributes, version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $6) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&group.display_name)
                .bind(fold(&group.display_name))
                .bind(&group.external_id)
                .bind(scim_json(group))
                .bind(DbTime(group.created_at))
                .bind(DbTime(group.updated_at))
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Writes a group's attributes if its version is still `expected_version`, and increments the version.
    pub async fn update_group(&mut self, group: &Group, expected_version: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE groups SET display_name = $1, display_name_folded = $2, external_id = $3, \
             scim_attributes = $4, updated_at = $5, version = version + 1 WHERE id = $6 AND version = $7";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(&group.display_name)
                .bind(fold(&group.display_name))
                .bind(&group.external_id)
                .bind(scim_json(group))
                .bind(DbTime(group.updated_at))
                .bind(group.id)
                .bind(expected_version)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }

    pub async fn group_by_id(&mut self, id: i64) -> Result<Option<Group>, StoreError> {
        let sql = concat!("SELECT ", group_columns!(), " FROM groups WHERE id = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, GroupRow>(sql).bind(id).fetch_optional(c).await?
        });
        row.map(GroupRow::into_group).transpose()
    }

    pub async fn delete_group(&mut self, id: i64) -> Result<bool, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query("DELETE FROM groups WHERE id = $1").bind(id).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    /// Lists one page of groups.
    pub async fn list_groups(&mut self, query: &GroupQuery) -> Result<Vec<Group>, StoreError> {
        let mut buf = SqlBuf::new(concat!("SELECT ", group_columns!(), " FROM groups WHERE "));
        push_group_filter(&mut buf, &query.filter);
        // A page before a group reads the reversed order from that group, so LIMIT keeps the groups nearest to it,
        // and puts the groups back in the sort order after reading them.
        let backward = query.after.is_none() && query.before.is_some();
        let (comparison, direction) = if query.descending != backward { (" < ", " DESC") } else { (" > ", " ASC") };
        match query.after.as_ref().or(query.before.as_ref()) {
            Some((display_name, id)) if query.by_display_name => {
                buf.push(" AND (display_name_folded, id)").push(comparison).push("(");
                buf.bind(Param::Text(display_name.clone()));
                buf.push(", ");
                buf.bind(Param::Int(*id));
                buf.push(")");
            }
            Some((_, id)) => {
                buf.push(" AND id").push(comparison);
                buf.bind(Param::Int(*id));
            }
            None => {}
        }
        if query.by_display_name {
            buf.push(" ORDER BY display_name_folded").push(direction).push(", id").push(direction);
        } else {
            buf.push(" ORDER BY id").push(direction);
        }
        buf.push(" LIMIT ");
        buf.bind(Param::Int(i64::from(query.limit)));
        buf.push(" OFFSET ");
        buf.bind(Param::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));

        let SqlBuf { sql, params } = buf;
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, GroupRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        let mut groups = rows.into_iter().map(GroupRow::into_group).collect::<Result<Vec<Group>, StoreError>>()?;
        if backward {
            groups.reverse();
        }
        Ok(groups)
    }

    pub async fn count_groups(&mut self, filter: &GroupFilter) -> Result<i64, StoreError> {
        let mut buf = SqlBuf::new("SELECT COUNT(*) FROM groups WHERE ");
        push_group_filter(&mut buf, filter);
        let SqlBuf { sql, params } = buf;
        let count = with_conn!(self, |c| {
            bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params).fetch_one(c).await?
        });
        Ok(count)
    }

    /// Lists a group's members by user id.
    pub async fn group_members(&mut self, group_id: i64) -> Result<Vec<GroupMember>, StoreError> {
        let sql = "SELECT gm.user_id, u.user_name FROM group_members gm JOIN users u ON u.id = gm.user_id \
             WHERE gm.group_id = $1 ORDER BY gm.user_id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String)>(sql).bind(group_id).fetch_all(c).await?
        });
        Ok(rows.into_iter().map(|(user_id, user_name)| GroupMember { user_id, user_name }).collect())
    }

    /// Adds a member; returns false when the user was a member already.
    pub async fn add_group_member(&mut self, group_id: i64, user_id: i64, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id";
        let inserted = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).bind(group_id).bind(user_id).bind(DbTime(at)).fetch_optional(c).await?
        });
        Ok(inserted.is_some())
    }

    /// Removes a member; returns false when the user was not a member.
    pub async fn remove_group_member(&mut self, group_id: i64, user_id: i64) -> Result<bool, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
                .bind(group_id)
                .bind(user_id)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Lists the ids of the groups a user belongs to.
    pub async fn user_group_ids(&mut self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let ids = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>("SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id")
                .bind(user_id)
                .fetch_all(c)
                .await?
        });
        Ok(ids)
    }

    /// Lists the groups of several users at once, as (group id, display name) in group id order, so that a page of
    /// users costs one query instead of one per user. Users in no group have no entry.
    pub async fn groups_of_users(
        &mut self,
        user_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<(i64, String)>>, StoreError> {
        let mut groups: std::collections::HashMap<i64, Vec<(i64, String)>> = std::collections::HashMap::new();
        if user_ids.is_empty() {
            return Ok(groups);
        }

        let SqlBuf { sql, params } = groups_of_users_sql(user_ids);
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, (i64, i64, String)>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        for (user_id, group_id, display_name) in rows {
            groups.entry(user_id).or_default().push((group_id, display_name));
        }
        Ok(groups)
    }

    /// Removes a user from every group and returns the groups it left.
    pub async fn remove_user_from_groups(&mut self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let ids = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>("DELETE FROM group_members WHERE user_id = $1 RETURNING group_id")
                .bind(user_id)
                .fetch_all(c)
                .await?
        });
        Ok(ids)
    }

    /// Lists the role keys a group grants.
    pub async fn group_roles(&mut self, group_id: i64) -> Result<Vec<RoleKey>, StoreError> {
        let sql = "SELECT role_type_id, resource_type, resource_id FROM group_roles WHERE group_id = $1 \
             ORDER BY role_type_id, resource_type, resource_id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String, String)>(sql).bind(group_id).fetch_all(c).await?
        });
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        Ok(rows
            .into_iter()
            .map(|(role_type_id, resource_type, resource_id)| RoleKey {
                role_type_id,
                resource_type: non_empty(resource_type),
                resource_id: non_empty(resource_id),
            })
            .collect())
    }

    /// Replaces the role keys a group grants.
    pub async fn set_group_roles(&mut self, group_id: i64, roles: &[RoleKey]) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            sqlx::query("DELETE FROM group_roles WHERE group_id = $1").bind(group_id).execute(&mut *c).await?;
            for key in roles {
                sqlx::query(
                    "INSERT INTO group_roles (group_id, role_type_id, resource_type, resource_id) VALUES ($1, $2, $3, $4)",
                )
                .bind(group_id)
                .bind(key.role_type_id)
                .bind(key.resource_type.clone().unwrap_or_default())
                .bind(key.resource_id.clone().unwrap_or_default())
                .execute(&mut *c)
                .await?;
            }
        });
        Ok(())
    }

    /// Deletes every grant that a group gave a user.
    pub async fn delete_group_grants(&mut self, user_id: i64, group_id: i64) -> Result<u64, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query("DELETE FROM role_assignments WHERE user_id = $1 AND source = 'group' AND source_ref = $2")
                .bind(user_id)
                .bind(group_id.to_string())
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows)
    }
}

/// Builds the query of the groups of several users, as (user id, group id, display name) in user and group id
/// order.
pub(crate) fn groups_of_users_sql(user_ids: &[i64]) -> SqlBuf {
    let mut buf = SqlBuf::new(
        "SELECT gm.user_id, g.id, g.display_name FROM group_members gm JOIN groups g ON g.id = gm.group_id \
         WHERE gm.user_id IN (",
    );
    buf.bind_list(user_ids.iter().map(|id| Param::Int(*id)));
    buf.push(") ORDER BY gm.user_id, g.id");
    buf
}
