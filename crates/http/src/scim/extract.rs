//! Extractors for SCIM requests: the bearer token, JSON bodies, path segments and conditional headers, each
//! failing with a SCIM error instead of the `/core` format or axum's plain text.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use roster_service::Actor;
use serde_json::Value;

use crate::AppState;
use crate::extract::Auth;
use crate::scim::MAX_PAYLOAD_BYTES;
use crate::scim::error::ScimApiError;

/// The authenticated caller, with the same tokens and scopes as `/core`.
#[derive(Debug, Clone)]
pub struct ScimAuth(pub Actor);

impl FromRequestParts<AppState> for ScimAuth {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Auth(actor) = Auth::from_request_parts(parts, state).await?;
        Ok(Self(actor))
    }
}

/// Authenticates the request if it carries a bearer token, for endpoints that respond without one but show more
/// with one. Any failure reads as no token.
pub async fn optional_actor(state: &AppState, headers: &HeaderMap) -> Option<Actor> {
    let text = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state.roster.authenticate(secret.trim(), None).await.ok()
}

/// A JSON request body: `application/scim+json` or `application/json` (parameters such as `charset` are
/// ignored), or no `Content-Type` at all, which some clients omit. At most [`MAX_PAYLOAD_BYTES`].
#[derive(Debug, Clone)]
pub struct ScimJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimApiError::invalid_syntax("the request body is empty; send a SCIM JSON document"));
        }
        check_media_type(&parts.headers)?;
        Ok(Self(parse_json(&bytes)?))
    }
}

/// Reads a body of at most [`MAX_PAYLOAD_BYTES`], checking `Content-Length` first.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ScimApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_PAYLOAD_BYTES as u64) {
        return Err(ScimApiError::payload_too_large(MAX_PAYLOAD_BYTES));
    }
    axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await.map_err(|_| ScimApiError::payload_too_large(MAX_PAYLOAD_BYTES))
}

/// Parses JSON text, reporting a syntax error as `invalidSyntax` with its line and column.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ScimApiError::invalid_syntax(format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column()))
    })
}

fn check_media_type(headers: &HeaderMap) -> Result<(), ScimApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(()) };
    let essence = value.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/scim+json" | "application/json" | "" => Ok(()),
        other => Err(ScimApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            format!("Content-Type {other} is not supported; send application/scim+json or application/json"),
        )),
    }
}

/// The `{id}` segment of a resource path.
#[derive(Debug, Clone)]
pub struct ScimPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ScimPath {
    type Rejection = ScimApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(segment)) => Ok(Self(segment)),
            Err(rejection) if rejection.status().is_server_error() => Err(ScimApiError::internal(&rejection.body_text())),
            Err(_) => Err(ScimApiError::not_found("no such resource; check the percent-encoding of the path")),
        }
    }
}

/// Parses a resource id: Roster's ids are positive integers, so any other segment names nothing.
pub fn resource_id(resource: &str, segment: &str) -> Result<i64, ScimApiError> {
    segment
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ScimApiError::not_found(format!("{resource} {segment:?} not found; ids are positive integers")))
}

/// A parsed `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version.
    Any,
    /// The versions listed; a tag this server did not issue is kept as `None`, which matches no version.
    Versions(Vec<Option<i64>>),
}

impl Precondition {
    /// Reads the header `name`; `None` when it is absent. Weak (`W/"3"`) and strong (`"3"`) tags compare the
    /// same, because a version identifies the whole resource.
    pub fn read(headers: &HeaderMap, name: header::HeaderName) -> Option<Self> {
        let text = headers.get(name)?.to_str().unwrap_or("").trim().to_string();
        if text == "*" {
            return Some(Self::Any);
        }
        let versions = text
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').parse::<i64>().ok())
            .collect();
        Some(Self::Versions(versions))
    }

    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&Some(version)),
        }
    }

    /// Returns the one version to check in the store's `WHERE` clause: `None` for `*`, and for a list of several
    /// tags the one that is current, so the store still rejects a change that raced with this request.
    pub fn expected_version(&self, current: i64) -> Result<Option<i64>, ScimApiError> {
        match self {
            Self::Any => Ok(None),
            Self::Versions(_) if self.matches(current) => Ok(Some(current)),
            Self::Versions(_) => Err(ScimApiError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                format!(
                    "If-Match does not name the current version {}; GET the resource and retry",
                    crate::scim::etag(current)
                ),
            )),
        }
    }
}
