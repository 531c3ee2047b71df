//! Request extractors: the bearer token, the request id and JSON:API bodies, each failing with the API's error
//! format instead of axum's plain-text rejections.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use roster_domain::UserRef;
use roster_service::Actor;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// The largest ordinary request body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The request id, set by the request middleware and returned as `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?;
        let text = header_value.to_str().map_err(|_| ApiError::unauthorized("unreadable Authorization header"))?;
        let secret = match text.split_once(' ') {
            Some((scheme, secret)) if scheme.eq_ignore_ascii_case("bearer") => secret.trim(),
            _ => return Err(ApiError::unauthorized("the Authorization header is not a Bearer token")),
        };

        let actor = state.roster.authenticate(secret, request_id).await?;
        Ok(Auth(actor))
    }
}

/// A JSON request body: `application/vnd.api+json` or `application/json`, at most [`MAX_BODY_BYTES`].
#[derive(Debug, Clone)]
pub struct JsonBody(pub Value);

/// A JSON request body that may be absent (an empty body yields `None`).
#[derive(Debug, Clone)]
pub struct OptionalJsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        match read_json(request).await? {
            Some(value) => Ok(JsonBody(value)),
            None => Err(ApiError::invalid_json("the request body is empty; send a JSON:API document")),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for OptionalJsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(OptionalJsonBody(read_json(request).await?))
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        format!("the body exceeds {MAX_BODY_BYTES} bytes; send fewer records per request"),
    )
}

async fn read_json(request: Request) -> Result<Option<Value>, ApiError> {
    let (parts, body) = request.into_parts();

    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY_BYTES).await.map_err(|_| too_large())?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }

    check_media_type(parts.headers.get(header::CONTENT_TYPE))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::invalid_json(format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column()))
    })?;
    Ok(Some(value))
}

/// Accepts `application/vnd.api+json` and `application/json`, with any parameters such as `charset`.
fn check_media_type(value: Option<&axum::http::HeaderValue>) -> Result<(), ApiError> {
    let essence = value
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/vnd.api+json" | "application/json" => Ok(()),
        "" => Err(unsupported("the request has a body but no Content-Type")),
        other => Err(unsupported(&format!("Content-Type {other} is not supported"))),
    }
}

fn unsupported(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Unsupported media type",
        format!("{why}; send application/vnd.api+json or application/json"),
    )
}

/// The path parameters of a route. It wraps axum's `Path`, whose rejection is plain text, so a bad segment gets
/// the API's error format.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status().is_server_error() => Err(ApiError::internal(&rejection.body_text())),
            // The routes take their path parameters as strings, so a matched route fails here only on a segment
            // that is not UTF-8 once percent-decoded. Such a segment names no user, role type or token.
            Err(rejection) => Err(ApiError::not_found(format!(
                "no such resource ({}); check the percent-encoding of the path",
                rejection.body_text()
            ))),
        }
    }
}

/// Parses the `{id-or-email}` path segment.
pub fn user_ref(segment: &str) -> Result<UserRef, ApiError> {
    // No stored email contains a control character, and PostgreSQL rejects NUL in a text parameter.
    if segment.chars().any(char::is_control) {
        return Err(ApiError::not_found("no user has an address with control characters; check the path"));
    }
    UserRef::parse(segment).ok_or_else(|| {
        ApiError::not_found(format!("user {segment:?} not found; address a user by numeric id or by email"))
    })
}

/// Parses a numeric id path segment.
pub fn numeric_id(resource: &str, segment: &str) -> Result<i64, ApiError> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(format!("{resource} {segment:?} not found; ids are positive integers")))
}

/// Parses `If-Match`: a quoted version such as `"3"` (a weak `W/` prefix is accepted), or `*` for any version.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let unquoted = text.trim_start_matches("W/").trim_matches('"');
    unquoted.parse::<i64>().map(Some).map_err(|_| {
        ApiError::with_source(
            StatusCode::PRECONDITION_FAILED,
            "stale_etag",
            "Precondition failed",
            format!("If-Match {text:?} is not an ETag this server issued; use the ETag header of a GET"),
            crate::error::Source::Header("If-Match".into()),
        )
    })
}
