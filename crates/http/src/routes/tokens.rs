//! `/core/users/{id}/user_app_tokens`: a user's API tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_service::TokenRequest;
use serde_json::{Value, json};

use crate::AppState;
use crate::documents::{attributes, resource_data, token_resource};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, Path, numeric_id, user_ref};
use crate::response::json_api;

/// Lists the user's tokens (never their secrets). Scope: `admin`.
#[utoipa::path(get, path = "/core/users/{id_or_email}/user_app_tokens", tag = "tokens",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    responses((status = 200, description = "The user's tokens"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user")),
    security(("bearer" = [])))]
pub async fn list_user_tokens(State(state): State<AppState>, Auth(actor): Auth, Path(segment): Path<String>) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;

    let tokens = state.roster.list_tokens(&actor, Some(&user_ref)).await?;

    let now = state.roster.clock().now();
    let data: Vec<Value> = tokens.iter().map(|t| token_resource(t, now)).collect();
    Ok(json_api(StatusCode::OK, json!({ "data": data })))
}

/// Creates a token owned by the user; the secret is in `attributes.token`, returned this once. Scope: `admin`.
#[utoipa::path(post, path = "/core/users/{id_or_email}/user_app_tokens", tag = "tokens",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    request_body(content = Object, description = "name, scopes (array) and optional expires_in_days", content_type = "application/vnd.api+json"),
    responses((status = 201, description = "Created; attributes.token holds the secret"), (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such user"), (status = 409, description = "The user is not active"),
        (status = 413, description = "Body over 1 MiB"), (status = 415, description = "Unsupported media type"),
        (status = 422, description = "Invalid name, scope or expiry")),
    security(("bearer" = [])))]
pub async fn create_user_token(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;
    let attributes = attributes(resource_data(&body, "user_app_tokens")?)?;
    let name = attributes.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let scopes = match attributes.get("scopes") {
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let expires_in_days = match attributes.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            ApiError::validation(
                roster_domain::ValidationErrors::single("expires_in_days", "invalid", "must be a whole number of days"),
                "/data/attributes",
            )
        })?),
    };
    let request = TokenRequest { name, scopes, user: Some(user_ref), expires_in_days };

    let created = state.roster.create_token(&actor, request).await?;

    let mut resource = token_resource(&created.info, state.roster.clock().now());
    if let Some(attributes) = resource.get_mut("attributes").and_then(Value::as_object_mut) {
        attributes.insert("token".into(), Value::String(created.secret));
    }
    Ok(json_api(StatusCode::CREATED, json!({ "data": resource })))
}

/// Revokes every working token of the user. Scope: `admin`.
#[utoipa::path(delete, path = "/core/users/{id_or_email}/user_app_tokens", tag = "tokens",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user")),
    security(("bearer" = [])))]
pub async fn revoke_user_tokens(State(state): State<AppState>, Auth(actor): Auth, Path(segment): Path<String>) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;

    let tokens = state.roster.list_tokens(&actor, Some(&user_ref)).await?;
    for token in tokens.iter().filter(|t| t.revoked_at.is_none()) {
        state.roster.revoke_token(&actor, token.id, Some(&user_ref)).await?;
    }

    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Revokes one of the user's tokens. Scope: `admin`.
#[utoipa::path(delete, path = "/core/users/{id_or_email}/user_app_tokens/{token_id}", tag = "tokens",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email"),
        ("token_id" = String, Path, description = "The token's numeric id")),
    responses((status = 204, description = "Revoked"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user or token")),
    security(("bearer" = [])))]
pub async fn revoke_user_token(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path((segment, token_segment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;
    let token_id = numeric_id("token", &token_segment)?;

    state.roster.revoke_token(&actor, token_id, Some(&user_ref)).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}
