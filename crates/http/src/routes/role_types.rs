//! `/core/role_types`: the role catalogue.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::user::{MAX_TEXT_LEN, check_text};
use roster_domain::{FieldError, RoleTypeInput, RoleTypePatch, ValidationErrors};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::documents::{attributes, resource_data, role_type_resource};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, Path, numeric_id};
use crate::response::json_api;

/// Lists the role catalogue. Scope: `users:read`.
#[utoipa::path(get, path = "/core/role_types", tag = "role_types",
    responses((status = 200, description = "Every role type"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_role_types(State(state): State<AppState>, Auth(actor): Auth) -> Result<Response, ApiError> {
    let role_types = state.roster.list_role_types(&actor).await?;

    let data: Vec<Value> = role_types.iter().map(role_type_resource).collect();
    Ok(json_api(StatusCode::OK, json!({ "data": data })))
}

/// Adds a role type. Scope: `admin`.
#[utoipa::path(post, path = "/core/role_types", tag = "role_types",
    request_body(content = Object, description = "name, description, category and resource_type (null for a global role)",
        content_type = "application/vnd.api+json"),
    responses((status = 201, description = "Created"), (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 413, description = "Body over 1 MiB"), (status = 415, description = "Unsupported media type"),
        (status = 422, description = "Invalid attribute or taken name")),
    security(("bearer" = [])))]
pub async fn create_role_type(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let attributes = attributes(resource_data(&body, "role_types")?)?;
    let mut errors = ValidationErrors::default();
    reject_unknown(&attributes, &["name", "description", "category", "resource_type"], &mut errors);
    let input = RoleTypeInput {
        name: match attributes.get("name") {
            Some(Value::String(name)) => name.clone(),
            _ => {
                errors.push(FieldError::new("name", "blank", "is required and must be a string"));
                String::new()
            }
        },
        description: optional_text(&attributes, "description", &mut errors).flatten(),
        category: optional_text(&attributes, "category", &mut errors).flatten(),
        resource_type: optional_text(&attributes, "resource_type", &mut errors).flatten(),
    };
    errors.into_result().map_err(|e| ApiError::validation(e, "/data/attributes"))?;

    let created = state.roster.create_role_type(&actor, input).await?;

    let mut response = json_api(StatusCode::CREATED, json!({ "data": role_type_resource(&created) }));
    if let Ok(location) = HeaderValue::from_str(&format!("/core/role_types/{}", created.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Renames or redescribes a role type; its resource type is fixed. Scope: `admin`.
#[utoipa::path(patch, path = "/core/role_types/{id}", tag = "role_types",
    params(("id" = String, Path, description = "The role type's numeric id")),
    request_body(content = Object, content_type = "application/vnd.api+json"),
    responses((status = 200, description = "The updated role type"), (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such role type"), (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Unsupported media type"), (status = 422, description = "Invalid attribute or taken name")),
    security(("bearer" = [])))]
pub async fn update_role_type(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = numeric_id("role type", &segment)?;
    let attributes = attributes(resource_data(&body, "role_types")?)?;
    let mut errors = ValidationErrors::default();
    reject_unknown(&attributes, &["name", "description", "category"], &mut errors);
    if attributes.contains_key("resource_type") {
        errors.0.retain(|e| e.field != "resource_type");
        errors.push(FieldError::new("resource_type", "read_only", "is fixed at creation; create a new role type instead"));
    }
    let patch = RoleTypePatch {
        name: match optional_text(&attributes, "name", &mut errors) {
            Some(None) => {
                errors.push(FieldError::new("name", "blank", "cannot be removed"));
                None
            }
            other => other.flatten(),
        },
        description: optional_text(&attributes, "description", &mut errors),
        category: optional_text(&attributes, "category", &mut errors),
    };
    errors.into_result().map_err(|e| ApiError::validation(e, "/data/attributes"))?;

    let updated = state.roster.update_role_type(&actor, id, patch).await?;

    Ok(json_api(StatusCode::OK, json!({ "data": role_type_resource(&updated) })))
}

/// Deletes a role type that nobody holds; one still assigned gets 409 naming how many users hold it. Scope: `admin`.
#[utoipa::path(delete, path = "/core/role_types/{id}", tag = "role_types",
    params(("id" = String, Path, description = "The role type's numeric id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such role type"),
        (status = 409, description = "Still assigned")),
    security(("bearer" = [])))]
pub async fn delete_role_type(State(state): State<AppState>, Auth(actor): Auth, Path(segment): Path<String>) -> Result<Response, ApiError> {
    let id = numeric_id("role type", &segment)?;

    state.roster.delete_role_type(&actor, id).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}

fn reject_unknown(attributes: &Map<String, Value>, allowed: &[&str], errors: &mut ValidationErrors) {
    for key in attributes.keys().filter(|k| !allowed.contains(&k.as_str())) {
        errors.push(FieldError::new(key.clone(), "unknown_attribute", format!("is not writable here; use {}", allowed.join(", "))));
    }
}

fn optional_text(attributes: &Map<String, Value>, field: &str, errors: &mut ValidationErrors) -> Option<Option<String>> {
    match attributes.get(field)? {
        Value::Null => Some(None),
        Value::String(text) => match check_text(field, text, MAX_TEXT_LEN) {
            Ok(()) => Some(Some(text.clone())),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        _ => {
            errors.push(FieldError::new(field, "invalid", "must be a string or null"));
            None
        }
    }
}
