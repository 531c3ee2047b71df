//! The `users` table.

use crate::dialect::Backend;
use crate::filter_sql::{push_filter, stored_value};
use crate::types::{DbTime, Param, SqlBuf, db_time, opt_time};
use crate::{Conn, Store, StoreError};
use roster_domain::filter::{Filter, FilterValue, Sort, SortDirection, SortKey, StoredAttr};
use crate::roles::AssignmentRow;
use roster_domain::{LifecycleState, RoleAssignment, Timestamp, User, fold};
use std::collections::BTreeMap;
use time::Date;

macro_rules! user_columns {
    () => {
        "id, first_name, last_name, email, user_name, unique_id, external_id, mobile_number, job_title, department, \
         manager_id, start_date, end_date, custom_attributes, scim_attributes, status, version, created_at, updated_at, \
         archived_at"
    };
}
pub(crate) use user_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    user_name: String,
    unique_id: Option<String>,
    external_id: Option<String>,
    mobile_number: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    manager_id: Option<i64>,
    start_date: Option<Date>,
    end_date: Option<Date>,
    custom_attributes: String,
    scim_attributes: String,
    status: String,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    archived_at: Option<DbTime>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let status = LifecycleState::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("user {} has unknown status {:?}", self.id, self.status)))?;
        let custom_attributes: BTreeMap<String, String> = serde_json::from_str(&self.custom_attributes)
            .map_err(|e| StoreError::Corrupt(format!("user {} has invalid custom_attributes: {e}", self.id)))?;
        let scim_attributes: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&self.scim_attributes)
            .map_err(|e| StoreError::Corrupt(format!("user {} has invalid scim_attributes: {e}", self.id)))?;

        Ok(User {
            id: self.id,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            user_name: self.user_name,
            unique_id: self.unique_id,
            external_id: self.external_id,
            mobile_number: self.mobile_number,
            job_title: self.job_title,
            department: self.department,
            manager_id: self.manager_id,
            start_date: self.start_date,
            end_date: self.end_date,
            custom_attributes,
            scim_attributes,
            status,
            version: self.version,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            archived_at: opt_time(self.archived_at),
        })
    }
}

/// Inserts a user; the parameters are those that `Conn::insert_user` binds, in that order.
pub(crate) const INSERT_USER: &str = "INSERT INTO users (first_name, first_name_folded, last_name, last_name_folded, \
     email, email_folded, user_name, user_name_folded, unique_id, unique_id_folded, external_id, mobile_number, job_title, \
     job_title_folded, department, department_folded, manager_id, start_date, end_date, custom_attributes, status, \
     origin, version, created_at, updated_at, archived_at, scim_attributes, scim_attributes_folded) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 1, \
     $23, $24, $25, $26, $27) RETURNING id";

pub(crate) fn fold_opt(value: &Option<String>) -> Option<String> {
    value.as_deref().map(fold)
}

pub(crate) fn fold_or_empty(value: &Option<String>) -> String {
    value.as_deref().map(fold).unwrap_or_default()
}

pub(crate) fn custom_json(user: &User) -> String {
    serde_json::to_string(&user.custom_attributes).unwrap_or_else(|_| "{}".to_string())
}

pub(crate) fn scim_json(user: &User) -> String {
    serde_json::Value::Object(user.scim_attributes.clone()).to_string()
}

/// Returns `scim_attributes` with every string value folded (keys unchanged), as stored in
/// `scim_attributes_folded` so that filters on attributes kept as sent can ignore case.
pub(crate) fn folded_scim_json(attributes: &serde_json::Map<String, serde_json::Value>) -> String {
    fn fold_strings(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(text) => serde_json::Value::String(fold(text)),
            serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(fold_strings).collect()),
            serde_json::Value::Object(members) => {
                serde_json::Value::Object(members.iter().map(|(k, v)| (k.clone(), fold_strings(v))).collect())
            }
            other => other.clone(),
        }
    }
    let folded: serde_json::Map<String, serde_json::Value> =
        attributes.iter().map(|(k, v)| (k.clone(), fold_strings(v))).collect();
    serde_json::Value::Object(folded).to_string()
}

/// Folds the stored `scim_attributes` text of user `id`, for rows that were written without the folded copy.
pub(crate) fn folded_scim_text(id: i64, text: &str) -> Result<String, StoreError> {
    let attributes: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("user {id} has invalid scim_attributes: {e}")))?;
    Ok(folded_scim_json(&attributes))
}

/// A user row joined with one of its grants, or with none (all grant columns null).
#[derive(sqlx::FromRow)]
struct UserGrantRow {
    #[sqlx(flatten)]
    user: UserRow,
    role_type_id: Option<i64>,
    role_type_name: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    source: Option<String>,
    source_ref: Option<String>,
    approved_by: Option<String>,
    reason: Option<String>,
    expires_at: Option<DbTime>,
    granted_at: Option<DbTime>,
}

impl UserGrantRow {
    fn grant(&mut self) -> Option<AssignmentRow> {
        Some(AssignmentRow {
            role_type_id: self.role_type_id?,
            role_type_name: self.role_type_name.take()?,
            resource_type: self.resource_type.take()?,
            resource_id: self.resource_id.take()?,
            source: self.source.take()?,
            source_ref: self.source_ref.take()?,
            approved_by: self.approved_by.take(),
            reason: self.reason.take(),
            expires_at: self.expires_at,
            granted_at: self.granted_at?,
        })
    }
}

/// Folds joined rows of one user into the user and its grants.
fn fold_user_grants(rows: Vec<UserGrantRow>) -> Result<Option<(User, Vec<RoleAssignment>)>, StoreError> {
    let mut grants = Vec::with_capacity(rows.len());
    let mut user = None;
    for mut row in rows {
        if let Some(grant) = row.grant() {
            grants.push(grant.into_assignment()?);
        }
        if user.is_none() {
            user = Some(row.user);
        }
    }
    match user {
        Some(user) => Ok(Some((user.into_user()?, grants))),
        None => Ok(None),
    }
}

macro_rules! user_with_grants_sql {
    ($condition:literal) => {
        concat!(
            "SELECT u.id, u.first_name, u.last_name, u.email, u.user_name, u.unique_id, u.external_id, \
             u.mobile_number, u.job_title, u.department, u.manager_id, u.start_date, u.end_date, \
             u.custom_attributes, u.scim_attributes, u.status, u.version, u.created_at, u.updated_at, u.archived_at, \
             ra.role_type_id, rt.name AS role_type_name, ra.resource_type, ra.resource_id, ra.source, ra.source_ref, \
             ra.approved_by, ra.reason, ra.expires_at, ra.granted_at \
             FROM users u LEFT JOIN role_assignments ra ON ra.user_id = u.id \
             LEFT JOIN role_types rt ON rt.id = ra.role_type_id \
             WHERE ",
            $condition,
            " AND u.status <> 'deleted' \
             ORDER BY ra.role_type_id, ra.resource_type, ra.resource_id, ra.source, ra.source_ref"
        )
    };
}

/// Counts the users that are not deleted with this id: 1 or 0.
pub(crate) const USER_EXISTS: &str = "SELECT COUNT(*) FROM users WHERE id = $1 AND status <> 'deleted'";

const USER_WITH_GRANTS_BY_ID: &str = user_with_grants_sql!("u.id = $1");
const USER_WITH_GRANTS_BY_EMAIL: &str = user_with_grants_sql!("u.email_folded = $1");

impl UserRow {
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// Reads the user's columns of a row as the synchronous SQLite reader returns it. The row starts with the
    /// columns of `user_columns!()`, in that order: reading by position spares a search of the column names per
    /// value, which took a tenth of a SCIM page's time.
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            first_name: row.get(1)?,
            last_name: row.get(2)?,
            email: row.get(3)?,
            user_name: row.get(4)?,
            unique_id: row.get(5)?,
            external_id: row.get(6)?,
            mobile_number: row.get(7)?,
            job_title: row.get(8)?,
            department: row.get(9)?,
            manager_id: row.get(10)?,
            start_date: row.get(11)?,
            end_date: row.get(12)?,
            custom_attributes: row.get(13)?,
            scim_attributes: row.get(14)?,
            status: row.get(15)?,
            version: row.get(16)?,
            created_at: row.get(17)?,
            updated_at: row.get(18)?,
            archived_at: row.get(19)?,
        })
    }
}

impl UserGrantRow {
    /// Reads the row as the synchronous SQLite reader returns it; the columns are those of the `FromRow` derive.
    fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let user = UserRow::from_rusqlite(row)?;
        Ok(Self {
            user,
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

impl Store {
    /// Loads a user that is not deleted together with its grants, as [`Conn::user_with_grants_by_id`] does, on
    /// the synchronous SQLite reader when there is one.
    pub async fn user_with_grants_by_id(&self, id: i64) -> Result<Option<(User, Vec<RoleAssignment>)>, StoreError> {
        if let Some(rows) = self.point_read(|c| user_grant_rows(c, USER_WITH_GRANTS_BY_ID, rusqlite::types::Value::Integer(id))) {
            return fold_user_grants(rows);
        }

        self.read().await?.user_with_grants_by_id(id).await
    }

    /// Loads the user that is not deleted with this email (compared case-insensitively) and its grants, on the
    /// synchronous SQLite reader when there is one.
    pub async fn user_with_grants_by_email(&self, email: &str) -> Result<Option<(User, Vec<RoleAssignment>)>, StoreError> {
        let folded = rusqlite::types::Value::Text(fold(email));
        if let Some(rows) = self.point_read(|c| user_grant_rows(c, USER_WITH_GRANTS_BY_EMAIL, folded)) {
            return fold_user_grants(rows);
        }

        self.read().await?.user_with_grants_by_email(email).await
    }
}

fn user_grant_rows(c: &rusqlite::Connection, sql: &str, key: rusqlite::types::Value) -> rusqlite::Result<Vec<UserGrantRow>> {
    let mut statement = c.prepare_cached(sql)?;
    let rows = statement.query_map([key], UserGrantRow::from_rusqlite)?;
    rows.collect()
}

/// The start of a page of users.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// Skip this many rows (offset pagination).
    Offset(u64),
    /// Continue after the row with this sort value and id (keyset pagination).
    After { value: Option<FilterValue>, id: i64 },
    /// End just before the row with this sort value and id: the `limit` rows nearest before it, returned in the
    /// sort order (keyset pagination backwards, for a previous page).
    Before { value: Option<FilterValue>, id: i64 },
}

/// A list request.
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub filter: Filter,
    pub sort: Sort,
    pub limit: u32,
    pub page: Page,
}

fn sort_column(key: SortKey, backend: Backend) -> std::borrow::Cow<'static, str> {
    match key {
        SortKey::Id => "id".into(),
        SortKey::LastName => "last_name_folded".into(),
        SortKey::UserName => "user_name_folded".into(),
        SortKey::CreatedAt => "created_at".into(),
        SortKey::UpdatedAt => "updated_at".into(),
        SortKey::DisplayName => {
            format!("COALESCE({}, '')", stored_value(backend, "scim_attributes_folded", StoredAttr::DisplayName)).into()
        }
    }
}

/// Returns the value of the sort column for `user`, as a keyset cursor carries it.
pub fn sort_value(user: &User, key: SortKey) -> Option<FilterValue> {
    match key {
        SortKey::Id => None,
        SortKey::LastName => Some(FilterValue::Text(fold_or_empty(&user.last_name))),
        SortKey::UserName => Some(FilterValue::Text(fold(&user.user_name))),
        SortKey::CreatedAt => Some(FilterValue::Time(user.created_at)),
        SortKey::UpdatedAt => Some(FilterValue::Time(user.updated_at)),
        SortKey::DisplayName => {
            Some(FilterValue::Text(StoredAttr::DisplayName.lookup(&user.scim_attributes).map(fold).unwrap_or_default()))
        }
    }
}

fn filter_param(value: &FilterValue) -> Param {
    match value {
        FilterValue::Text(v) => Param::Text(v.clone()),
        FilterValue::Int(v) => Param::Int(*v),
        FilterValue::Date(v) => Param::Date(*v),
        FilterValue::Time(v) => Param::Time(*v),
    }
}

impl Conn {
    /// Inserts a user (its `id` and `version` are ignored) and returns the new id.
    pub async fn insert_user(&mut self, user: &User, origin: &str) -> Result<i64, StoreError> {
        let sql = INSERT_USER;
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&user.first_name)
                .bind(fold_or_empty(&user.first_name))
                .bind(&user.last_name)
                .bind(fold_or_empty(&user.last_name))
                .bind(&user.email)
                .bind(fold_opt(&user.email))
                .bind(&user.user_name)
                .bind(fold(&user.user_name))
                .bind(&user.unique_id)
                .bind(fold_opt(&user.unique_id))
                .bind(&user.external_id)
                .bind(&user.mobile_number)
                .bind(&user.job_title)
                .bind(fold_or_empty(&user.job_title))
                .bind(&user.department)
                .bind(fold_or_empty(&user.department))
                .bind(user.manager_id)
                .bind(user.start_date)
                .bind(user.end_date)
                .bind(custom_json(user))
                .bind(user.status.as_str())
                .bind(origin)
                .bind(DbTime(user.created_at))
                .bind(DbTime(user.updated_at))
                .bind(db_time(user.archived_at))
                .bind(scim_json(user))
                .bind(folded_scim_json(&user.scim_attributes))
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Writes every attribute of `user` if its stored version is still `expected_version`, and increments the
    /// version. Returns false when the version no longer matches (or the user is gone), changing nothing. The
    /// check is in the `WHERE` clause, so two writers can never both succeed from the same version.
    pub async fn update_user(&mut self, user: &User, expected_version: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET first_name = $1, first_name_folded = $2, last_name = $3, last_name_folded = $4, \
             email = $5, email_folded = $6, user_name = $7, user_name_folded = $8, unique_id = $9, \
             unique_id_folded = $10, external_id = $11, mobile_number = $12, job_title = $13, job_title_folded = $14, \
             department = $15, department_folded = $16, manager_id = $17, start_date = $18, end_date = $19, \
             custom_attributes = $20, status = $21, updated_at = $22, archived_at = $23, scim_attributes = $24, \
             scim_attributes_folded = $25, version = version + 1 WHERE id = $26 AND version = $27 \
             AND status <> 'deleted'";
        let result = with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(&user.first_name)
                .bind(fold_or_empty(&user.first_name))
                .bind(&user.last_name)
                .bind(fold_or_empty(&user.last_name))
                .bind(&user.email)
                .bind(fold_opt(&user.email))
                .bind(&user.user_name)
                .bind(fold(&user.user_name))
                .bind(&user.unique_id)
                .bind(fold_opt(&user.unique_id))
                .bind(&user.external_id)
                .bind(&user.mobile_number)
                .bind(&user.job_title)
                .bind(fold_or_empty(&user.job_title))
                .bind(&user.department)
                .bind(fold_or_empty(&user.department))
                .bind(user.manager_id)
                .bind(user.start_date)
                .bind(user.end_date)
                .bind(custom_json(user))
                .bind(user.status.as_str())
                .bind(DbTime(user.updated_at))
                .bind(db_time(user.archived_at))
                .bind(scim_json(user))
                .bind(folded_scim_json(&user.scim_attributes))
                .bind(user.id)
                .bind(expected_version)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(result == 1)
    }

    /// Increments a user's version after a change to its roles, if it is still `expected_version`.
    pub async fn touch_user(&mut self, id: i64, expected_version: i64, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3 AND status <> 'deleted'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(id).bind(expected_version).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    /// Marks a user deleted if its version is still `expected_version`. Its unique keys are released, because the
    /// unique indexes cover only users that are not deleted.
    pub async fn mark_user_deleted(&mut self, id: i64, expected_version: i64, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET status = 'deleted', deleted_at = $1, updated_at = $1, version = version + 1 \
             WHERE id = $2 AND version = $3 AND status <> 'deleted'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(id).bind(expected_version).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    /// Loads a user that is not deleted.
    pub async fn user_by_id(&mut self, id: i64) -> Result<Option<User>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1 AND status <> 'deleted'");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, UserRow>(sql).bind(id).fetch_optional(c).await?
        });
        row.map(UserRow::into_user).transpose()
    }

    /// Loads the user that is not deleted with this email, compared case-insensitively.
    pub async fn user_by_email(&mut self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email_folded = $1 AND status <> 'deleted'");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, UserRow>(sql).bind(fold(email)).fetch_optional(c).await?
        });
        row.map(UserRow::into_user).transpose()
    }

    /// Loads a user that is not deleted together with its grants, in one query.
    pub async fn user_with_grants_by_id(&mut self, id: i64) -> Result<Option<(User, Vec<RoleAssignment>)>, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, UserGrantRow>(USER_WITH_GRANTS_BY_ID).bind(id).fetch_all(c).await?
        });
        fold_user_grants(rows)
    }

    /// Loads the user that is not deleted with this email (compared case-insensitively) and its grants.
    pub async fn user_with_grants_by_email(&mut self, email: &str) -> Result<Option<(User, Vec<RoleAssignment>)>, StoreError> {
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, UserGrantRow>(USER_WITH_GRANTS_BY_EMAIL).bind(fold(email)).fetch_all(c).await?
        });
        fold_user_grants(rows)
    }

    /// Tells whether a user that is not deleted has this id.
    pub async fn user_exists(&mut self, id: i64) -> Result<bool, StoreError> {
        let count = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(USER_EXISTS).bind(id).fetch_one(c).await?
        });
        Ok(count > 0)
    }

    /// Lists one page of users that are not deleted.
    pub async fn list_users(&mut self, query: &UserQuery) -> Result<Vec<User>, StoreError> {
        let (SqlBuf { sql, params }, backward) = list_sql(query, self.backend());

        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        let mut users = rows.into_iter().map(UserRow::into_user).collect::<Result<Vec<User>, StoreError>>()?;
        if backward {
            users.reverse();
        }
        Ok(users)
    }

    /// Counts the users that are not deleted and match `filter`.
    pub async fn count_users(&mut self, filter: &Filter) -> Result<i64, StoreError> {
        let SqlBuf { sql, params } = count_sql(filter, self.backend());

        let count = with_conn!(self, |c| {
            bind_params!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), &params).fetch_one(c).await?
        });
        Ok(count)
    }

    /// Fills `scim_attributes_folded` for every user from its `scim_attributes`, in pages of ids. The migration
    /// that adds the column runs it in its own transaction, because the folding happens in Rust.
    pub(crate) async fn fill_folded_scim_attributes(&mut self) -> Result<u64, StoreError> {
        let select = "SELECT id, scim_attributes FROM users WHERE id > $1 AND scim_attributes <> '{}' ORDER BY id LIMIT 1000";
        let update = "UPDATE users SET scim_attributes_folded = $1 WHERE id = $2";
        let mut after = 0_i64;
        let mut filled = 0_u64;
        loop {
            let rows = with_conn!(self, |c| {
                sqlx::query_as::<_, (i64, String)>(select).bind(after).fetch_all(&mut *c).await?
            });
            let Some((last_id, _)) = rows.last() else { break };
            after = *last_id;

            for (id, text) in rows {
                let folded = folded_scim_text(id, &text)?;
                with_conn!(self, |c| {
                    sqlx::query(update).bind(folded).bind(id).execute(&mut *c).await?;
                });
                filled += 1;
            }
        }
        Ok(filled)
    }

    /// Counts users in a lifecycle state.
    pub async fn count_users_in_state(&mut self, state: LifecycleState) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM users WHERE status = $1";
        let count = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).bind(state.as_str()).fetch_one(c).await?
        });
        Ok(count)
    }
}

/// Builds the query of one page of users that are not deleted. The flag is true when the rows come in the reverse
/// of the sort order, as a page before a row reads them, so the caller must reverse them.
pub(crate) fn list_sql(query: &UserQuery, backend: Backend) -> (SqlBuf, bool) {
    let mut buf = SqlBuf::new(concat!("SELECT ", user_columns!(), " FROM users WHERE status <> 'deleted' AND "));
    push_filter(&mut buf, &query.filter, backend);

    let column = sort_column(query.sort.key, backend);
    let column = column.as_ref();
    // A page before a row reads the reversed order from that row, so LIMIT keeps the rows nearest to it, and
    // puts the rows back in the sort order after reading them.
    let backward = matches!(query.page, Page::Before { .. });
    let (comparison, direction) = match (query.sort.direction, backward) {
        (SortDirection::Asc, false) | (SortDirection::Desc, true) => (" > ", " ASC"),
        (SortDirection::Desc, false) | (SortDirection::Asc, true) => (" < ", " DESC"),
    };
    if let Page::After { value, id } | Page::Before { value, id } = &query.page {
        match value {
            Some(value) if query.sort.key != SortKey::Id => {
                buf.push(" AND (").push(column).push(", id)").push(comparison).push("(");
                buf.bind(filter_param(value));
                buf.push(", ");
                buf.bind(Param::Int(*id));
                buf.push(")");
            }
            _ => {
                buf.push(" AND id").push(comparison);
                buf.bind(Param::Int(*id));
            }
        }
    }

    buf.push(" ORDER BY ").push(column).push(direction);
    if query.sort.key != SortKey::Id {
        buf.push(", id").push(direction);
    }
    buf.push(" LIMIT ");
    buf.bind(Param::Int(i64::from(query.limit)));
    if let Page::Offset(offset) = query.page
        && offset > 0
    {
        buf.push(" OFFSET ");
        buf.bind(Param::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    }
    (buf, backward)
}

/// Builds the count of the users that are not deleted and match `filter`.
pub(crate) fn count_sql(filter: &Filter, backend: Backend) -> SqlBuf {
    // With a condition, SQLite visits every row or index entry that may match. Without one, it counts each page of
    // the smallest index at once. A count of every user that is not deleted, which a SCIM page without a filter
    // requests, therefore subtracts the deleted users, whose partial index contains only them. On 10,000 users
    // that took 0.05 ms instead of 0.7 ms.
    if matches_every_live_user(filter) {
        return SqlBuf::new(
            "SELECT (SELECT COUNT(*) FROM users) - (SELECT COUNT(*) FROM users WHERE status = 'deleted')",
        );
    }

    let mut buf = SqlBuf::new("SELECT COUNT(*) FROM users WHERE status <> 'deleted' AND ");
    push_filter(&mut buf, filter, backend);
    buf
}

/// Returns whether `filter` keeps every user that is not deleted: no condition, or only lifecycle conditions that
/// name every state but deleted.
fn matches_every_live_user(filter: &Filter) -> bool {
    match filter {
        Filter::All => true,
        Filter::StatusIn(states) => LifecycleState::LIVE.iter().all(|state| states.contains(state)),
        Filter::And(terms) => terms.iter().all(matches_every_live_user),
        _ => false,
    }
}
