//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`. They need
//! no token, because they describe the protocol and hold no data. With a token that may read the role catalogue,
//! `/Schemas` also lists the global roles a group can grant.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_scim::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};
use serde_json::{Value, json};

use crate::AppState;
use crate::scim::error::ScimApiError;
use crate::scim::extract::{ScimPath, optional_actor};
use crate::scim::list::LIST_RESPONSE_URN;
use crate::scim::schemas::{ALL_SCHEMAS, SchemaDef};
use crate::scim::{DEFAULT_COUNT, MAX_OPERATIONS, MAX_PAYLOAD_BYTES, MAX_RESULTS, base_url, scim_response};

/// The `cursorTimeout` advertised for cursor pagination, in seconds. Roster's keyset cursors stay valid for as
/// long as the server runs the same cursor format, so any value is true; one day tells clients not to keep them
/// longer than a sync run.
const CURSOR_TIMEOUT_SECONDS: u32 = 86_400;

/// Describes what this service provider supports.
pub async fn service_provider_config(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": true, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": MAX_PAYLOAD_BYTES },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        // RFC 9865: both pagination methods work on /Users and /Groups; index pagination is the default, because
        // a request without `cursor` pages by startIndex. Cursors never expire, so cursorTimeout is only a floor.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_COUNT,
            "maxPageSize": MAX_RESULTS,
            "cursorTimeout": CURSOR_TIMEOUT_SECONDS,
        },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A Roster API token sent as 'Authorization: Bearer <token>'. Reads need the users:read \
                            scope, writes users:write, and changes to roles roles:write.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_response(StatusCode::OK, body)
}

/// Lists the schemas of every resource type.
pub async fn list_schemas(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let role_values = global_role_values(&state, &headers).await;
    let resources: Vec<Value> = ALL_SCHEMAS.iter().map(|schema| render_schema(schema, &base, &role_values)).collect();
    scim_response(StatusCode::OK, list_of(resources))
}

/// Gets one schema by its URN.
pub async fn get_schema(
    State(state): State<AppState>,
    ScimPath(id): ScimPath,
    headers: HeaderMap,
) -> Result<Response, ScimApiError> {
    let schema = ALL_SCHEMAS
        .iter()
        .find(|schema| schema.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimApiError::not_found(format!("schema {id:?} not found; GET /Schemas lists them")))?;
    let role_values = global_role_values(&state, &headers).await;
    Ok(scim_response(StatusCode::OK, render_schema(schema, &base_url(&headers), &role_values)))
}

/// Lists the `roles` values of the catalogue's global role types, for a caller whose token may read the
/// catalogue; other callers get none. Scoped roles are left out, because their values name open-ended resources.
async fn global_role_values(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let Some(actor) = optional_actor(state, headers).await else { return Vec::new() };
    match state.roster.list_role_types(&actor).await {
        Ok(types) => types.iter().filter(|t| t.resource_type.is_none()).map(|t| t.id.to_string()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Renders a schema, listing `role_values` as the canonical values of a group's `roles.value`.
fn render_schema(schema: &SchemaDef, base: &str, role_values: &[String]) -> Value {
    let mut rendered = schema.to_json(base);
    if schema.id != CORE_GROUP || role_values.is_empty() {
        return rendered;
    }
    let attributes = rendered.get_mut("attributes").and_then(Value::as_array_mut);
    let roles = attributes.and_then(|list| list.iter_mut().find(|a| a["name"] == "roles"));
    let subs = roles.and_then(|roles| roles.get_mut("subAttributes")).and_then(Value::as_array_mut);
    if let Some(Value::Object(value)) = subs.and_then(|list| list.iter_mut().find(|a| a["name"] == "value")) {
        value.insert("canonicalValues".into(), json!(role_values));
    }
    rendered
}

/// Lists the resource types.
pub async fn list_resource_types(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    scim_response(StatusCode::OK, list_of(vec![user_type(&base), group_type(&base)]))
}

/// Gets one resource type by its id, `User` or `Group`.
pub async fn get_resource_type(ScimPath(id): ScimPath, headers: HeaderMap) -> Result<Response, ScimApiError> {
    let base = base_url(&headers);
    let resource = match id.as_str() {
        "User" => user_type(&base),
        "Group" => group_type(&base),
        _ => {
            return Err(ScimApiError::not_found(format!("resource type {id:?} not found; the types are User and Group")));
        }
    };
    Ok(scim_response(StatusCode::OK, resource))
}

fn user_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "description": "User Account",
        "endpoint": "/Users",
        "schema": CORE_USER,
        "schemaExtensions": [{ "schema": ENTERPRISE_USER, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
    })
}

fn group_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "description": "Group",
        "endpoint": "/Groups",
        "schema": CORE_GROUP,
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") },
    })
}

fn list_of(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
