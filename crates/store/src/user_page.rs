//! One page of users with what a SCIM list renders beside each: the total, the grants and the groups.
//!
//! On SQLite the page's four queries run on one synchronous reader in a blocking thread, inside one read
//! transaction, so they see one snapshot. Through sqlx each of them paid two thread hand-offs plus one per row,
//! which for a page of 100 users cost more than SQLite did. Both paths run the same SQL texts.

use std::collections::HashMap;

use roster_domain::{RoleAssignment, User};

use crate::groups::groups_of_users_sql;
use crate::roles::{AssignmentRow, assignments_of_users_sql};
use crate::sync_read::prepare_numbered;
use crate::types::SqlBuf;
use crate::users::{UserRow, count_sql, list_sql};
use crate::{Store, StoreError, UserQuery};

/// The extras to read beside the users of a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageExtras {
    /// The number of users that match the filter, over all pages.
    pub total: bool,
    pub grants: bool,
    pub groups: bool,
}

/// One page of users, with the requested extras. Users without grants or groups have no entry in those maps.
#[derive(Debug, Clone, Default)]
pub struct UserPage {
    pub users: Vec<User>,
    pub total: Option<i64>,
    pub grants: HashMap<i64, Vec<RoleAssignment>>,
    /// (group id, display name) per user, in group id order.
    pub groups: HashMap<i64, Vec<(i64, String)>>,
}

/// A page as the synchronous reader returns it, before its rows become domain values.
struct PageRows {
    users: Vec<UserRow>,
    total: Option<i64>,
    grants: Vec<(i64, AssignmentRow)>,
    groups: Vec<(i64, i64, String)>,
}

impl Store {
    /// Reads one page of users that are not deleted, with the requested extras.
    pub async fn user_page(&self, query: &UserQuery, extras: PageExtras) -> Result<UserPage, StoreError> {
        let (list, backward) = list_sql(query, self.backend());
        let count = extras.total.then(|| count_sql(&query.filter, self.backend()));

        let rows = self.bulk_read(move |c| read_page(c, &list, count.as_ref(), extras)).await;

        match rows {
            Some(rows) => into_page(rows, backward),
            None => self.user_page_through_pool(query, extras).await,
        }
    }

    /// Reads the page through the pool: on PostgreSQL, or when the synchronous reader failed.
    async fn user_page_through_pool(&self, query: &UserQuery, extras: PageExtras) -> Result<UserPage, StoreError> {
        let mut conn = self.read().await?;

        let users = conn.list_users(query).await?;
        let total = if extras.total { Some(conn.count_users(&query.filter).await?) } else { None };
        let ids: Vec<i64> = users.iter().map(|user| user.id).collect();
        let grants = if extras.grants { conn.assignments_of_users(&ids).await? } else { HashMap::new() };
        let groups = if extras.groups { conn.groups_of_users(&ids).await? } else { HashMap::new() };

        Ok(UserPage { users, total, grants, groups })
    }
}

/// Runs the page's queries in one read transaction, so the total, grants and groups match the users.
fn read_page(
    conn: &rusqlite::Connection,
    list: &SqlBuf,
    count: Option<&SqlBuf>,
    extras: PageExtras,
) -> rusqlite::Result<PageRows> {
    conn.execute_batch("BEGIN")?;
    let read = read_page_queries(conn, list, count, extras);
    let ended = conn.execute_batch("COMMIT");

    // The connection goes back to the idle readers, and one left inside this transaction would keep reading its
    // snapshot.
    if ended.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let rows = read?;
    ended?;
    Ok(rows)
}

fn read_page_queries(
    conn: &rusqlite::Connection,
    list: &SqlBuf,
    count: Option<&SqlBuf>,
    extras: PageExtras,
) -> rusqlite::Result<PageRows> {
    let mut statement = prepare_numbered(conn, &list.sql, &list.params)?;
    let users = statement.raw_query().mapped(UserRow::from_rusqlite).collect::<rusqlite::Result<Vec<_>>>()?;

    let total = match count {
        Some(count) => Some(prepare_numbered(conn, &count.sql, &count.params)?.raw_query().next()?.map_or(Ok(0), |row| row.get(0))?),
        None => None,
    };

    let ids: Vec<i64> = users.iter().map(UserRow::id).collect();
    let grants = if extras.grants && !ids.is_empty() {
        let SqlBuf { sql, params } = assignments_of_users_sql(&ids);
        let mut statement = prepare_numbered(conn, &sql, &params)?;
        statement
            .raw_query()
            .mapped(|row| Ok((row.get("user_id")?, AssignmentRow::from_rusqlite(row)?)))
            .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };
    let groups = if extras.groups && !ids.is_empty() {
        let SqlBuf { sql, params } = groups_of_users_sql(&ids);
        let mut statement = prepare_numbered(conn, &sql, &params)?;
        statement.raw_query().mapped(|row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        Vec::new()
    };

    Ok(PageRows { users, total, grants, groups })
}

/// Turns the rows into domain values. With `backward`, the users of a page read backwards are put back in the sort
/// order.
fn into_page(rows: PageRows, backward: bool) -> Result<UserPage, StoreError> {
    let mut users = rows.users.into_iter().map(UserRow::into_user).collect::<Result<Vec<_>, _>>()?;
    if backward {
        users.reverse();
    }

    let mut grants: HashMap<i64, Vec<RoleAssignment>> = HashMap::new();
    for (user_id, row) in rows.grants {
        grants.entry(user_id).or_default().push(row.into_assignment()?);
    }
    let mut groups: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for (user_id, group_id, display_name) in rows.groups {
        groups.entry(user_id).or_default().push((group_id, display_name));
    }

    Ok(UserPage { users, total: rows.total, grants, groups })
}
