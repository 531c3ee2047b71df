//! `/core/jml/mappings` and `/core/jml/policies`: JML mappings and policies stored by name, which a plan can
//! name instead of uploading the files.
//!
//! A PUT body is the TOML file itself (`application/toml` or `text/plain`), or a JSON:API document
//! `{"data": {"attributes": {"body": "..."}}}` (`application/vnd.api+json` or `application/json`). Every
//! response is JSON:API.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_service::{JmlConfigKind, JmlConfigRecord};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, Source};
use crate::extract::{Auth, MAX_BODY_BYTES, Path};
use crate::response::{json_api, with_etag};

/// The media type family of a PUT body: the TOML file itself, or a JSON:API document.
enum BodyFormat {
    Toml,
    JsonApi,
}

fn body_format(request: &Request) -> Result<BodyFormat, ApiError> {
    let essence = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/toml" | "text/plain" => Ok(BodyFormat::Toml),
        "application/vnd.api+json" | "application/json" => Ok(BodyFormat::JsonApi),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            format!(
                "Content-Type {other:?} is not supported; send the TOML file as application/toml or text/plain, or \
                 a JSON:API document with data.attributes.body"
            ),
        )),
    }
}

/// Reads the TOML text of a PUT body in either format.
async fn read_config_body(request: Request) -> Result<(String, &'static str), ApiError> {
    let format = body_format(&request)?;
    let bytes = axum::body::to_bytes(Body::new(request.into_body()), MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("the body exceeds {MAX_BODY_BYTES} bytes; a mapping or policy must be smaller"),
        )
    })?;

    match format {
        BodyFormat::Toml => {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::invalid_json("the body is not UTF-8 text; save the TOML file as UTF-8"))?;
            Ok((text, ""))
        }
        BodyFormat::JsonApi => {
            let document: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::invalid_json(format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column()))
            })?;
            let text = document.pointer("/data/attributes/body").and_then(Value::as_str).ok_or_else(|| {
                ApiError::with_source(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Invalid attribute",
                    "data.attributes.body is missing or not a string; send the TOML file's text there",
                    Source::Pointer("/data/attributes/body".into()),
                )
            })?;
            Ok((text.to_string(), "/data/attributes"))
        }
    }
}

async fn list(state: AppState, actor: roster_service::Actor, kind: JmlConfigKind) -> Result<Response, ApiError> {
    let configs = state.roster.list_jml_configs(&actor, kind).await?;
    let data: Vec<Value> = configs.iter().map(|config| config_resource(kind, config)).collect();
    Ok(json_api(StatusCode::OK, json!({ "data": data, "meta": { "total_count": data.len() } })))
}

async fn get_one(state: AppState, actor: roster_service::Actor, kind: JmlConfigKind, name: &str) -> Result<Response, ApiError> {
    let config = state.roster.get_jml_config(&actor, kind, name).await?;
    Ok(with_etag(json_api(StatusCode::OK, json!({ "data": config_resource(kind, &config) })), config.version))
}

async fn put(state: AppState, actor: roster_service::Actor, kind: JmlConfigKind, name: &str, request: Request) -> Result<Response, ApiError> {
    // Checked before the body is read, as for a plan upload.
    actor.require(roster_domain::Scope::UsersWrite)?;
    let (body, pointer_base) = read_config_body(request).await?;

    let put = state.roster.put_jml_config(&actor, kind, name, body).await.map_err(|e| ApiError::from_service(e, pointer_base))?;

    let status = if put.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(with_etag(json_api(status, json!({ "data": config_resource(kind, &put.config) })), put.config.version))
}

async fn delete(state: AppState, actor: roster_service::Actor, kind: JmlConfigKind, name: &str) -> Result<Response, ApiError> {
    state.roster.delete_jml_config(&actor, kind, name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn config_resource(kind: JmlConfigKind, config: &JmlConfigRecord) -> Value {
    json!({
        "type": format!("jml_{}", kind.collection()),
        "id": config.name,
        "attributes": {
            "name": config.name,
            "body": config.body,
            "version": config.version,
            "sha256": config.sha256,
            "created_at": config.created_at.canonical(),
            "updated_at": config.updated_at.canonical(),
            "updated_by": config.updated_by,
        },
        "links": { "self": format!("/core/jml/{}/{}", kind.collection(), config.name) },
    })
}

/// Lists the stored mappings by name, each with its body. Scope: `users:read`.
#[utoipa::path(get, path = "/core/jml/mappings", tag = "jml",
    responses((status = 200, description = "Every stored mapping"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_mappings(State(state): State<AppState>, Auth(actor): Auth) -> Result<Response, ApiError> {
    list(state, actor, JmlConfigKind::Mapping).await
}

/// Shows a stored mapping; the `ETag` is its version. Scope: `users:read`.
#[utoipa::path(get, path = "/core/jml/mappings/{name}", tag = "jml",
    params(("name" = String, Path, description = "The mapping's name")),
    responses((status = 200, description = "The mapping"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such mapping")),
    security(("bearer" = [])))]
pub async fn get_mapping(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>) -> Result<Response, ApiError> {
    get_one(state, actor, JmlConfigKind::Mapping, &name).await
}

/// Stores a mapping under a name, or replaces its text, after parsing it as a plan would. Scope: `users:write`.
///
/// The name matches `[a-z0-9][a-z0-9._-]{0,63}`. Storing the text the mapping already has changes nothing and
/// keeps its version.
#[utoipa::path(put, path = "/core/jml/mappings/{name}", tag = "jml",
    params(("name" = String, Path, description = "The mapping's name: [a-z0-9][a-z0-9._-]{0,63}")),
    request_body(content_type = "application/toml", description = "The mapping file, or a JSON:API document with data.attributes.body"),
    responses((status = 201, description = "Created"), (status = 200, description = "Replaced, or unchanged"),
        (status = 400, description = "Malformed JSON or not UTF-8"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 413, description = "The body exceeds 1 MiB"),
        (status = 415, description = "Unsupported Content-Type"),
        (status = 422, description = "Invalid name, or a mapping a plan would reject")),
    security(("bearer" = [])))]
pub async fn put_mapping(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>, request: Request) -> Result<Response, ApiError> {
    put(state, actor, JmlConfigKind::Mapping, &name, request).await
}

/// Deletes a stored mapping. Plans made with it keep its name, version and hash. Scope: `users:write`.
#[utoipa::path(delete, path = "/core/jml/mappings/{name}", tag = "jml",
    params(("name" = String, Path, description = "The mapping's name")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such mapping")),
    security(("bearer" = [])))]
pub async fn delete_mapping(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>) -> Result<Response, ApiError> {
    delete(state, actor, JmlConfigKind::Mapping, &name).await
}

/// Lists the stored policies by name, each with its body. Scope: `users:read`.
#[utoipa::path(get, path = "/core/jml/policies", tag = "jml",
    responses((status = 200, description = "Every stored policy"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_policies(State(state): State<AppState>, Auth(actor): Auth) -> Result<Response, ApiError> {
    list(state, actor, JmlConfigKind::Policy).await
}

/// Shows a stored policy; the `ETag` is its version. Scope: `users:read`.
#[utoipa::path(get, path = "/core/jml/policies/{name}", tag = "jml",
    params(("name" = String, Path, description = "The policy's name")),
    responses((status = 200, description = "The policy"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such policy")),
    security(("bearer" = [])))]
pub async fn get_policy(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>) -> Result<Response, ApiError> {
    get_one(state, actor, JmlConfigKind::Policy, &name).await
}

/// Stores a policy under a name, or replaces its text, after parsing it as a plan would. Scope: `users:write`.
///
/// The name matches `[a-z0-9][a-z0-9._-]{0,63}`. The roles a policy grants are checked against the role
/// catalogue when a plan uses it, since the catalogue may change in between.
#[utoipa::path(put, path = "/core/jml/policies/{name}", tag = "jml",
    params(("name" = String, Path, description = "The policy's name: [a-z0-9][a-z0-9._-]{0,63}")),
    request_body(content_type = "application/toml", description = "The policy file, or a JSON:API document with data.attributes.body"),
    responses((status = 201, description = "Created"), (status = 200, description = "Replaced, or unchanged"),
        (status = 400, description = "Malformed JSON or not UTF-8"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 413, description = "The body exceeds 1 MiB"),
        (status = 415, description = "Unsupported Content-Type"),
        (status = 422, description = "Invalid name, or a policy a plan would reject")),
    security(("bearer" = [])))]
pub async fn put_policy(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>, request: Request) -> Result<Response, ApiError> {
    put(state, actor, JmlConfigKind::Policy, &name, request).await
}

/// Deletes a stored policy. Plans made with it keep its name, version and hash. Scope: `users:write`.
#[utoipa::path(delete, path = "/core/jml/policies/{name}", tag = "jml",
    params(("name" = String, Path, description = "The policy's name")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such policy")),
    security(("bearer" = [])))]
pub async fn delete_policy(State(state): State<AppState>, Auth(actor): Auth, Path(name): Path<String>) -> Result<Response, ApiError> {
    delete(state, actor, JmlConfigKind::Policy, &name).await
}
