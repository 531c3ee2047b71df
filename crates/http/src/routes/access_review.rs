//! `/core/access_review`: approved roles against held roles, and the fix that converges them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use roster_service::{AccessReview, UserReview};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::Auth;
use crate::response::json_api;

/// Lists every active user whose held roles differ from the approved ones: excess roles (held without a current
/// approval, with the reason) and missing roles (a policy rule grants them). Scope: `users:read`.
#[utoipa::path(get, path = "/core/access_review", tag = "access_review",
    responses((status = 200, description = "The findings; empty data means approved equals provisioned"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn get_review(State(state): State<AppState>, Auth(actor): Auth) -> Result<Response, ApiError> {
    let review = state.roster.access_review(&actor).await?;
    Ok(json_api(StatusCode::OK, review_document(&review)))
}

/// Converges every finding, one user per transaction with its audit entry, and returns the findings it fixed.
/// Scopes: `users:write` and `roles:write`.
#[utoipa::path(post, path = "/core/access_review/fix", tag = "access_review",
    responses((status = 200, description = "The findings that were fixed, and meta.fixed"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn fix_review(State(state): State<AppState>, Auth(actor): Auth) -> Result<Response, ApiError> {
    let review = state.roster.fix_access_review(&actor).await?;
    Ok(json_api(StatusCode::OK, review_document(&review)))
}

fn review_document(review: &AccessReview) -> Value {
    let data: Vec<Value> = review.findings.iter().map(finding_resource).collect();
    json!({
        "data": data,
        "meta": { "reviewed": review.reviewed, "findings": review.findings.len(), "fixed": review.fixed },
    })
}

fn finding_resource(finding: &UserReview) -> Value {
    let excess: Vec<Value> = finding
        .excess
        .iter()
        .map(|e| {
            json!({
                "role_type_id": e.assignment.key.role_type_id.to_string(),
                "role_type_name": e.assignment.role_type_name,
                "resource_type": e.assignment.key.resource_type,
                "resource_id": e.assignment.key.resource_id,
                "source": e.assignment.source.kind(),
                "source_ref": e.assignment.source.reference(),
                "reason": e.reason,
            })
        })
        .collect();
    let missing: Vec<Value> = finding
        .missing
        .iter()
        .map(|m| {
            json!({
                "role_type_id": m.key.role_type_id.to_string(),
                "role_type_name": m.role_type_name,
                "resource_type": m.key.resource_type,
                "resource_id": m.key.resource_id,
                "rule": m.rule,
            })
        })
        .collect();
    json!({
        "type": "access_review_findings",
        "id": finding.user_id.to_string(),
        "attributes": { "unique_id": finding.unique_id, "email": finding.email, "excess": excess, "missing": missing },
    })
}
