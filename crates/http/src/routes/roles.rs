//! `/core/users/{id}/roles`: a user's roles and role sync.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_domain::RoleAssignment;
use serde_json::{Value, json};

use crate::AppState;
use crate::documents::{RoleView, group_roles, read_role_sync};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, Path, if_match, user_ref};
use crate::query::Params;
use crate::response::{json_api, with_etag};

fn role_resources(grants: &[RoleAssignment]) -> Vec<Value> {
    group_roles(grants).iter().map(RoleView::resource).collect()
}

/// Lists the user's role assignments, one per key with every source that grants it. Scope: `users:read`.
#[utoipa::path(get, path = "/core/users/{id_or_email}/roles", tag = "roles",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    responses((status = 200, description = "The user's role assignments"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user")),
    security(("bearer" = [])))]
pub async fn get_roles(State(state): State<AppState>, Auth(actor): Auth, Path(segment): Path<String>) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;

    let (version, roles) = state.roster.user_roles(&actor, &user_ref).await?;

    Ok(with_etag(json_api(StatusCode::OK, json!({ "data": role_resources(&roles) })), version))
}

/// Makes the user's direct roles equal the body's set, all or nothing; `dry_run=true` only reports the diff.
/// Scope: `roles:write`.
#[utoipa::path(put, path = "/core/users/{id_or_email}/roles", tag = "roles",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email"),
        ("dry_run" = Option<bool>, Query, description = "true returns the diff and changes nothing"),
        ("If-Match" = Option<String>, Header, description = "The user's ETag; a stale one changes nothing")),
    request_body(content = Object, description = "The complete desired set, in the shape GET returns", content_type = "application/vnd.api+json"),
    responses((status = 200, description = "The new set with meta.added, removed, updated, unchanged and previous"),
        (status = 400, description = "Malformed JSON or parameter"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user"),
        (status = 409, description = "The user is pending or archived, or kept changing"),
        (status = 412, description = "Stale If-Match"), (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Unsupported media type"), (status = 422, description = "Unknown role type or invalid scope")),
    security(("bearer" = [])))]
pub async fn sync_roles(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query(), &["dry_run"])?;
    let dry_run = params.bool("dry_run")?.unwrap_or(false);
    let user_ref = user_ref(&segment)?;
    let expected = if_match(&headers)?;
    let desired = read_role_sync(&body)?;

    let outcome = state
        .roster
        .sync_roles(&actor, &user_ref, desired, dry_run, expected)
        .await
        // The service names fields from `data` on, as in `data/0/role_type_id`.
        .map_err(|e| ApiError::from_service(e, ""))?;

    let body = json!({
        "data": role_resources(&outcome.roles),
        "meta": {
            "dry_run": outcome.dry_run,
            "added": role_resources(&outcome.added),
            "removed": role_resources(&outcome.removed),
            "updated": role_resources(&outcome.updated),
            "unchanged": role_resources(&outcome.unchanged),
            "previous": role_resources(&outcome.previous),
        }
    });
    Ok(with_etag(json_api(StatusCode::OK, body), outcome.version))
}
