//! `/core/action_logs`: the audit trail.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::AuditRecord;
use roster_service::AuditQuery;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::query::Params;
use crate::response::json_api;

const PARAMETERS: &[&str] = &[
    "user_id",
    "actor_id",
    "action",
    "created_after",
    "created_before",
    "sort",
    "page[size]",
    "page[number]",
    "page[after]",
    "count",
];

/// Lists audit entries, newest first unless `sort=id`. Scope: `audit:read`.
///
/// `meta.total_count` is computed on the first page and on any page with `count=true`.
#[utoipa::path(get, path = "/core/action_logs", tag = "audit",
    params(("user_id" = Option<String>, Query, description = "Entries about this user"),
        ("actor_id" = Option<String>, Query, description = "Entries made with this token id"),
        ("action" = Option<String>, Query, description = "Such as user.create or user.roles_sync"),
        ("created_after" = Option<String>, Query, description = "RFC 3339 time"),
        ("created_before" = Option<String>, Query, description = "RFC 3339 time"),
        ("sort" = Option<String>, Query, description = "id (oldest first) or -id (newest first, the default)"),
        ("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query),
        ("page[after]" = Option<String>, Query, description = "The id to continue after, from links.next"),
        ("count" = Option<bool>, Query)),
    responses((status = 200, description = "A page of audit entries"), (status = 400, description = "Invalid parameter"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_action_logs(State(state): State<AppState>, Auth(actor): Auth, OriginalUri(uri): OriginalUri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query(), PARAMETERS)?;
    let ascending = match params.text("sort") {
        None | Some("-id") => false,
        Some("id") => true,
        Some(other) => return Err(ApiError::bad_parameter("sort", format!("{other:?} is not a sort key; use id or -id"))),
    };
    let limit = params.page_size()?;
    let page_number = params.positive_int("page[number]")?;
    let after_seq = params.positive_int("page[after]")?;
    if after_seq.is_some() && page_number.is_some() {
        return Err(ApiError::bad_parameter("page[after]", "give page[after] or page[number], not both"));
    }
    let query = AuditQuery {
        target_user_id: params.positive_int("user_id")?,
        actor_token_id: params.positive_int("actor_id")?,
        action: params.text("action").map(str::to_string),
        created_after: params.timestamp("created_after")?,
        created_before: params.timestamp("created_before")?,
        ascending,
        after_seq,
        offset: page_number.map_or(0, |n| u64::try_from(n - 1).unwrap_or(0).saturating_mul(u64::from(limit))),
        limit,
    };
    let first_page = after_seq.is_none() && page_number.is_none_or(|n| n == 1);
    let with_total = first_page || params.bool("count")?.unwrap_or(false);

    let page = state.roster.list_audit(&actor, query, with_total).await?;

    let data: Vec<Value> = page.entries.iter().map(audit_resource).collect();
    let mut meta = json!({ "page_size": limit });
    if let (Some(total), Some(map)) = (page.total, meta.as_object_mut()) {
        map.insert("total_count".into(), total.into());
    }
    let next = match (page.next_after, page_number) {
        (Some(_), Some(number)) => Some(format!("/core/action_logs?{}", params.with_page("page[number]", &(number + 1).to_string()))),
        (Some(after), None) => Some(format!("/core/action_logs?{}", params.with_page("page[after]", &after.to_string()))),
        _ => None,
    };
    Ok(json_api(StatusCode::OK, json!({ "data": data, "meta": meta, "links": { "next": next } })))
}

fn audit_resource(record: &AuditRecord) -> Value {
    let entry = &record.entry;
    let changes: serde_json::Map<String, Value> = entry
        .changes
        .iter()
        .map(|(field, change)| (field.clone(), json!({ "before": change.before, "after": change.after })))
        .collect();
    json!({
        "type": "action_logs",
        "id": record.seq.to_string(),
        "attributes": {
            "created_at": entry.created_at.canonical(),
            "actor_id": entry.actor_token_id.map(|id| id.to_string()),
            "actor_name": entry.actor_name,
            "action": entry.action,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "changes": changes,
            "request_id": entry.request_id,
            "prev_hash": record.prev_hash,
            "hash": record.hash,
        }
    })
}
