//! `/core/scheduled_actions`: future-dated work such as grant expiries, listed and cancelled.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::UserRef;
use roster_service::{SCHEDULED_STATUSES, ScheduledAction, ScheduledListRequest};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Auth, Path, numeric_id};
use crate::query::Params;
use crate::response::json_api;

const PARAMETERS: &[&str] = &["status", "user", "kind", "page[size]", "page[number]", "page[after]", "count"];

/// Lists scheduled actions of every kind in the order they were scheduled. Scope: `users:read`.
///
/// `meta.total_count` is computed on the first page and on any page with `count=true`.
#[utoipa::path(get, path = "/core/scheduled_actions", tag = "scheduled_actions",
    params(("status" = Option<String>, Query, description = "pending, done, failed or cancelled"),
        ("user" = Option<String>, Query, description = "The user's numeric id or email; archived users included"),
        ("kind" = Option<String>, Query, description = "Such as expire_role"),
        ("page[size]" = Option<u32>, Query, description = "1 to 100, default 25"),
        ("page[number]" = Option<u32>, Query, description = "offset pages, from 1"),
        ("page[after]" = Option<String>, Query, description = "The id to continue after, from links.next"),
        ("count" = Option<bool>, Query, description = "true adds meta.total_count on any page")),
    responses((status = 200, description = "A page of scheduled actions"), (status = 400, description = "Invalid parameter"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_scheduled_actions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query(), PARAMETERS)?;
    let status = params.text("status").map(str::to_string);
    if let Some(status) = &status
        && !SCHEDULED_STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::bad_parameter("status", format!("{status:?} is not a status; use one of {}", SCHEDULED_STATUSES.join(", "))));
    }
    let user = match params.text("user") {
        None => None,
        Some(text) => Some(UserRef::parse(text.trim()).ok_or_else(|| {
            ApiError::bad_parameter("user", format!("{text:?} is neither a numeric user id nor an email"))
        })?),
    };
    let limit = params.page_size()?;
    let page_number = params.positive_int("page[number]")?;
    let after_id = params.positive_int("page[after]")?;
    if after_id.is_some() && page_number.is_some() {
        return Err(ApiError::bad_parameter("page[after]", "give page[after] or page[number], not both"));
    }
    let first_page = after_id.is_none() && page_number.is_none_or(|n| n == 1);
    let request = ScheduledListRequest {
        status,
        user,
        kind: params.text("kind").map(str::to_string),
        after_id,
        offset: page_number.map_or(0, |n| u64::try_from(n - 1).unwrap_or(0).saturating_mul(u64::from(limit))),
        limit,
        with_total: first_page || params.bool("count")?.unwrap_or(false),
    };

    let page = state.roster.list_scheduled_actions(&actor, request).await?;

    let data: Vec<Value> = page.actions.iter().map(scheduled_resource).collect();
    let mut meta = json!({ "page_size": limit });
    if let (Some(total), Some(map)) = (page.total, meta.as_object_mut()) {
        map.insert("total_count".into(), total.into());
    }
    let next = match (page.next_after, page_number) {
        (Some(_), Some(number)) => Some(format!("/core/scheduled_actions?{}", params.with_page("page[number]", &(number + 1).to_string()))),
        (Some(after), None) => Some(format!("/core/scheduled_actions?{}", params.with_page("page[after]", &after.to_string()))),
        _ => None,
    };
    Ok(json_api(StatusCode::OK, json!({ "data": data, "meta": meta, "links": { "next": next } })))
}

/// Cancels a pending scheduled action, so it never runs; the cancellation is audited. Scope: `users:write`,
/// and also `roles:write` to cancel a grant expiry, since that keeps the role granted.
#[utoipa::path(delete, path = "/core/scheduled_actions/{id}", tag = "scheduled_actions",
    params(("id" = String, Path, description = "The scheduled action's numeric id")),
    responses((status = 204, description = "Cancelled"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such scheduled action"),
        (status = 409, description = "The action is already done, failed or cancelled (code not_pending)")),
    security(("bearer" = [])))]
pub async fn cancel_scheduled_action(State(state): State<AppState>, Auth(actor): Auth, Path(segment): Path<String>) -> Result<Response, ApiError> {
    let id = numeric_id("scheduled action", &segment)?;

    state.roster.cancel_scheduled_action(&actor, id).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Renders an action of any kind; `payload` is the kind's own JSON, passed through unchanged.
fn scheduled_resource(action: &ScheduledAction) -> Value {
    json!({
        "type": "scheduled_actions",
        "id": action.id.to_string(),
        "attributes": {
            "kind": action.kind,
            "user_id": action.user_id.to_string(),
            "due_at": action.due_at.canonical(),
            "status": action.status,
            "payload": action.payload,
            "created_at": action.created_at.canonical(),
            "created_by": action.created_by,
            "applied_at": action.applied_at.map(|at| at.canonical()),
            "result": action.result,
        }
    })
}
