//! The SCIM 2.0 service provider at `/scim/v2` (RFC 7643 and RFC 7644).
//!
//! It is one more door onto the service layer. Handlers authenticate with the same bearer tokens as `/core`,
//! translate SCIM documents into domain types and back, and call the same service functions. A user created here
//! is therefore the same row that `/core` lists. Nothing here queries the store.

mod bulk;
mod cursor;
mod discovery;
mod error;
mod extract;
mod group_document;
mod groups;
mod list;
mod me;
mod patch;
mod projection;
mod schemas;
mod search;
mod user_document;
mod users;

pub use error::{ERROR_URN, ScimApiError};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::AppState;

/// The path the SCIM service provider is mounted at.
pub const SCIM_PREFIX: &str = "/scim/v2";

/// The SCIM media type (RFC 7644 §8.1), sent on every SCIM response.
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";

/// The largest request body, in bytes, advertised as `bulk.maxPayloadSize` and enforced on every request.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// The largest page a list returns, advertised as `filter.maxResults`. A larger `count` is reduced to it.
pub const MAX_RESULTS: u32 = 1000;

/// The page size when a list request gives no `count`.
pub const DEFAULT_COUNT: u32 = 100;

/// The maximum number of operations in one PATCH request or one bulk request, advertised as `bulk.maxOperations`.
pub const MAX_OPERATIONS: usize = 1000;

/// Builds the SCIM routes, to be nested under [`SCIM_PREFIX`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(users::list_users).post(users::create_user))
        .route("/Users/.search", post(users::search_users))
        .route(
            "/Users/{id}",
            get(users::get_user).put(users::replace_user).patch(users::patch_user).delete(users::delete_user),
        )
        .route("/Groups", get(groups::list_groups).post(groups::create_group))
        .route("/Groups/.search", post(groups::search_groups))
        .route(
            "/Groups/{id}",
            get(groups::get_group).put(groups::replace_group).patch(groups::patch_group).delete(groups::delete_group),
        )
        .route("/Me", get(me::get_me).put(me::replace_me).patch(me::patch_me).delete(me::delete_me))
        .route("/.search", post(search::search_all_types))
        .route("/Bulk", post(bulk::bulk))
        .route("/ServiceProviderConfig", get(discovery::service_provider_config))
        .route("/Schemas", get(discovery::list_schemas))
        .route("/Schemas/{id}", get(discovery::get_schema))
        .route("/ResourceTypes", get(discovery::list_resource_types))
        .route("/ResourceTypes/{id}", get(discovery::get_resource_type))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
}

async fn not_found() -> Response {
    ScimApiError::not_found(
        "no such SCIM endpoint; the endpoints are /Users, /Groups, /Me, /Bulk, /ServiceProviderConfig, /Schemas and \
         /ResourceTypes",
    )
    .into_response()
}

async fn method_not_allowed() -> Response {
    ScimApiError::method_not_allowed(
        "this endpoint does not support the method; /ResourceTypes and /ServiceProviderConfig list what is supported",
    )
    .into_response()
}

/// Turns a panic into a SCIM 500 with an error id; the panic message is logged, never returned.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string());
    ScimApiError::internal(&format!("SCIM handler panicked: {message}")).into_response()
}

/// Builds a SCIM JSON response.
pub fn scim_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    response
}

/// Formats a resource version as the weak ETag used in the `ETag` header and `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Adds the `ETag` header for a resource version.
pub fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Returns the absolute base URL of the SCIM endpoints as the client addressed them, such as
/// `http://127.0.0.1:8080/scim/v2`, for `meta.location` and `Location`. It trusts `X-Forwarded-Proto` for the
/// scheme, for servers behind a TLS-terminating proxy. Without a usable `Host` header it returns the bare prefix.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c)));
    let scheme = match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    match host {
        Some(host) => format!("{scheme}://{host}{SCIM_PREFIX}"),
        None => SCIM_PREFIX.to_string(),
    }
}
