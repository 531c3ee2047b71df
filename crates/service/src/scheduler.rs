//! Scheduled actions: creating them, and applying due ones exactly once across every node.

use roster_domain::{Change, Changes, RoleAssignment, RoleSource, Timestamp};
use roster_store::{Conn, ScheduledAction};
use serde_json::{Value, json};

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::users::assignment_from_json;

/// Revokes one grant when its expiry passes.
pub const EXPIRE_ROLE: &str = "expire_role";

/// The counts of one scheduler pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchedulerPass {
    pub applied: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Roster {
    /// Schedules the revocation of a grant that carries an expiry.
    pub(crate) async fn schedule_expiry(&self, conn: &mut Conn, user_id: i64, grant: &RoleAssignment, actor: &Actor) -> Result<()> {
        let Some(expires_at) = grant.expires_at else { return Ok(()) };
        conn.insert_scheduled_action(EXPIRE_ROLE, user_id, &grant.to_json(), expires_at, self.clock.now(), &actor.name)
            .await?;
        Ok(())
    }

    /// Applies up to `max` due actions, each claimed and applied in its own transaction, so a crash in between
    /// leaves the action pending for the next pass on any node.
    pub async fn run_due_actions(&self, max: usize) -> Result<SchedulerPass> {
        let mut pass = SchedulerPass::default();

        for _ in 0..max {
            let now = self.clock.now();
            let mut conn = self.store.begin().await?;
            let Some(action) = conn.claim_due_action(now).await? else { break };

            match self.apply_action(&mut conn, &action, now).await {
                Ok(Some(result)) => {
                    conn.finish_scheduled_action(action.id, "done", now, &result).await?;
                    conn.commit().await?;
                    tracing::info!(action_id = action.id, kind = %action.kind, user_id = action.user_id, "applied scheduled action");
                    pass.applied += 1;
                }
                Ok(None) => {
                    conn.finish_scheduled_action(action.id, "done", now, "skipped: no longer applies").await?;
                    conn.commit().await?;
                    pass.skipped += 1;
                }
                Err(error @ (ServiceError::Internal(_) | ServiceError::Unavailable(_))) => {
                    // Rolled back on drop; the action stays pending for the next pass.
                    tracing::error!(action_id = action.id, error = %error, "scheduled action failed; will retry");
                    return Err(error);
                }
                Err(error) => {
                    drop(conn);
                    self.mark_failed(action.id, &error.to_string()).await?;
                    tracing::warn!(action_id = action.id, error = %error, "scheduled action cannot be applied; marked failed");
                    pass.failed += 1;
                }
            }
        }

        Ok(pass)
    }

    async fn mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        let mut conn = self.store.begin().await?;
        conn.finish_scheduled_action(id, "failed", self.clock.now(), reason).await?;
        conn.commit().await?;
        Ok(())
    }

    /// Applies one action inside the claiming transaction; `None` when it no longer applies.
    async fn apply_action(&self, conn: &mut Conn, action: &ScheduledAction, now: Timestamp) -> Result<Option<String>> {
        match action.kind.as_str() {
            EXPIRE_ROLE => self.expire_grant(conn, action, now).await,
            crate::jml::ACTIVATE_USER => self.scheduled_activation(conn, action, now).await,
            crate::jml::ARCHIVE_USER => self.scheduled_archive(conn, action, now).await,
            other => Err(ServiceError::Conflict {
                code: "unknown_action",
                message: format!("this version cannot apply scheduled actions of kind {other:?}"),
                details: Value::Null,
            }),
        }
    }

    async fn expire_grant(&self, conn: &mut Conn, action: &ScheduledAction, now: Timestamp) -> Result<Option<String>> {
        let Some(planned) = assignment_from_json(&action.payload) else {
            return Err(ServiceError::Conflict { code: "invalid_action", message: "unreadable expiry payload".into(), details: Value::Null });
        };
        let Some(user) = conn.user_by_id(action.user_id).await? else { return Ok(None) };
        let grants = conn.user_assignments(user.id).await?;
        let current = grants
            .iter()
            .find(|g| g.key == planned.key && g.source == planned.source && g.expires_at.is_some_and(|at| at <= now));
        let Some(current) = current else { return Ok(None) };

        if !conn.touch_user(user.id, user.version, now).await? {
            return Err(ServiceError::Internal("the user changed while its grant expired".into()));
        }
        conn.delete_assignment(user.id, &current.key, &RoleSource::Direct).await?;

        let mut changes = Changes::new();
        changes.insert("roles".into(), Change { before: json!([current.to_json()]), after: json!([]) });
        changes.insert("scheduled_action_id".into(), Change { before: Value::Null, after: action.id.into() });
        let actor = Actor::system();
        conn.append_audit(&self.audit_entry(&actor, "role.expire", "user", Some(user.id.to_string()), changes)).await?;

        Ok(Some(format!("revoked role type {} from user {}", current.key.role_type_id, user.id)))
    }
}
