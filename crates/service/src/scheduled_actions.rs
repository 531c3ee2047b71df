//! Listing and cancelling scheduled actions. The scheduler that applies them is in `scheduler.rs`.

use roster_domain::{Change, Changes, Scope, UserRef};
use roster_store::{ScheduledAction, ScheduledQuery};
use serde_json::{Value, json};

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::scheduler::EXPIRE_ROLE;

/// The statuses a scheduled action can have; only `pending` ones run or can be cancelled.
pub const SCHEDULED_STATUSES: [&str; 4] = ["pending", "done", "failed", "cancelled"];

/// A list request for scheduled actions.
#[derive(Debug, Clone, Default)]
pub struct ScheduledListRequest {
    /// One of [`SCHEDULED_STATUSES`].
    pub status: Option<String>,
    /// The user the actions apply to, by id or email; archived users count.
    pub user: Option<UserRef>,
    pub kind: Option<String>,
    pub after_id: Option<i64>,
    pub offset: u64,
    pub limit: u32,
    /// Compute the total number of matches (an extra query).
    pub with_total: bool,
}

/// One page of scheduled actions.
#[derive(Debug, Clone)]
pub struct ScheduledPage {
    pub actions: Vec<ScheduledAction>,
    pub total: Option<i64>,
    /// The id to continue after, when this page was full.
    pub next_after: Option<i64>,
}

impl Roster {
    /// Lists scheduled actions of every kind. Requires `users:read`.
    pub async fn list_scheduled_actions(&self, actor: &Actor, request: ScheduledListRequest) -> Result<ScheduledPage> {
        actor.require(Scope::UsersRead)?;
        if let Some(status) = &request.status
            && !SCHEDULED_STATUSES.contains(&status.as_str())
        {
            return Err(ServiceError::field("status", "invalid", format!("must be one of {}", SCHEDULED_STATUSES.join(", "))));
        }

        let mut conn = self.store.read().await?;
        let user_id = match &request.user {
            None => None,
            Some(user_ref) => match self.load_user(&mut conn, user_ref, true).await {
                Ok(user) => Some(user.id),
                // An unknown user has no scheduled actions: the list is empty, as for any filter that matches nothing.
                Err(ServiceError::NotFound { .. }) => return Ok(ScheduledPage { actions: Vec::new(), total: request.with_total.then_some(0), next_after: None }),
                Err(other) => return Err(other),
            },
        };
        let query = ScheduledQuery {
            status: request.status.clone(),
            user_id,
            kind: request.kind.clone(),
            after_id: request.after_id,
            offset: request.offset,
            limit: request.limit,
        };
        let actions = conn.list_scheduled_actions(&query).await?;
        let total = if request.with_total { Some(conn.count_scheduled_actions(&query).await?) } else { None };

        let next_after = match actions.last() {
            Some(last) if actions.len() == request.limit as usize => Some(last.id),
            _ => None,
        };
        Ok(ScheduledPage { actions, total, next_after })
    }

    /// Cancels a pending action so that the scheduler never applies it, and audits the cancellation. Requires
    /// `users:write`, and also `roles:write` for a grant expiry, because cancelling one keeps the role granted.
    pub async fn cancel_scheduled_action(&self, actor: &Actor, id: i64) -> Result<ScheduledAction> {
        actor.require(Scope::UsersWrite)?;
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let Some(action) = conn.scheduled_action(id).await? else {
            return Err(ServiceError::not_found("scheduled action", id));
        };
        if action.kind == EXPIRE_ROLE {
            actor.require(Scope::RolesWrite)?;
        }
        let result = format!("cancelled by {}", actor.name);
        // The update matches only a pending row. On PostgreSQL it waits while a scheduler has the row
        // claimed and then sees its final status, so an action is either applied or cancelled, never both.
        if action.status != "pending" || !conn.finish_scheduled_action(id, "cancelled", now, &result).await? {
            let status = conn.scheduled_action(id).await?.map_or(action.status, |current| current.status);
            return Err(ServiceError::Conflict {
                code: "not_pending",
                message: format!("scheduled action {id} is already {status}; only pending actions can be cancelled"),
                details: json!({ "status": status }),
            });
        }

        let mut changes = Changes::new();
        changes.insert("scheduled_action_id".into(), Change { before: Value::Null, after: id.into() });
        changes.insert("kind".into(), Change { before: Value::Null, after: action.kind.clone().into() });
        changes.insert("due_at".into(), Change { before: Value::Null, after: action.due_at.canonical().into() });
        changes.insert("status".into(), Change { before: "pending".into(), after: "cancelled".into() });
        let entry = self.audit_entry(actor, "scheduled_action.cancel", "user", Some(action.user_id.to_string()), changes);
        conn.append_audit(&entry).await?;
        conn.commit().await?;

        tracing::info!(action_id = id, kind = %action.kind, user_id = action.user_id, "cancelled scheduled action");
        Ok(ScheduledAction { status: "cancelled".into(), applied_at: Some(now), result: Some(result), ..action })
    }
}
