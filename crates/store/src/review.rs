//! Reads for the access review: every active user's grants, group grants and feed sources in a few queries.

use crate::roles::AssignmentRow;
use crate::{Conn, StoreError};
use roster_domain::{RoleAssignment, RoleKey};

/// An active user as the access review needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewUser {
    pub id: i64,
    pub unique_id: Option<String>,
    pub email: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct ReviewAssignmentRow {
    user_id: i64,
    #[sqlx(flatten)]
    assignment: AssignmentRow,
}

impl Conn {
    /// Lists the active users by id.
    pub async fn review_users(&mut self) -> Result<Vec<ReviewUser>, StoreError> {
        let sql = "SELECT id, unique_id, email, department, job_title, version FROM users WHERE status = 'active' ORDER BY id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, ReviewUser>(sql).fetch_all(c).await?
        });
        Ok(rows)
    }

    /// Lists the ids of users who manage someone who is not archived or deleted.
    pub async fn manager_ids(&mut self) -> Result<Vec<i64>, StoreError> {
        let sql = "SELECT DISTINCT manager_id FROM users \
             WHERE manager_id IS NOT NULL AND status IN ('active', 'pending', 'suspended') ORDER BY manager_id";
        let rows = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).fetch_all(c).await?
        });
        Ok(rows)
    }

    /// Lists every grant of every active user, with the user id.
    pub async fn active_assignments(&mut self) -> Result<Vec<(i64, RoleAssignment)>, StoreError> {
        let sql = "SELECT ra.user_id, ra.role_type_id, rt.name AS role_type_name, ra.resource_type, ra.resource_id, \
             ra.source, ra.source_ref, ra.approved_by, ra.reason, ra.expires_at, ra.granted_at \
             FROM role_assignments ra JOIN role_types rt ON rt.id = ra.role_type_id \
             JOIN users u ON u.id = ra.user_id WHERE u.status = 'active' ORDER BY ra.user_id, ra.id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, ReviewAssignmentRow>(sql).fetch_all(c).await?
        });
        rows.into_iter().map(|r| Ok((r.user_id, r.assignment.into_assignment()?))).collect()
    }

    /// Lists what each group member is granted through its groups: (user id, group id, role key).
    pub async fn member_group_grants(&mut self) -> Result<Vec<(i64, i64, RoleKey)>, StoreError> {
        let sql = "SELECT gm.user_id, gm.group_id, gr.role_type_id, gr.resource_type, gr.resource_id \
             FROM group_members gm JOIN group_roles gr ON gr.group_id = gm.group_id ORDER BY gm.user_id, gm.group_id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, i64, i64, String, String)>(sql).fetch_all(c).await?
        });
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        Ok(rows
            .into_iter()
            .map(|(user_id, group_id, role_type_id, resource_type, resource_id)| {
                (user_id, group_id, RoleKey { role_type_id, resource_type: non_empty(resource_type), resource_id: non_empty(resource_id) })
            })
            .collect())
    }

    /// Lists which feed sources created or adopted each user: (user id, source).
    pub async fn feed_sources(&mut self) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = "SELECT user_id, source FROM jml_feed_users ORDER BY user_id, source";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String)>(sql).fetch_all(c).await?
        });
        Ok(rows)
    }
}
