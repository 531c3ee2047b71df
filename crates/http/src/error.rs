//! The API's error format and the one place that maps service errors to HTTP.
//!
//! Every error body is `{"errors": [{"status", "code", "title", "detail", "source"}]}` (JSON:API §7). The `code`
//! values are stable and listed in the README. A 5xx body carries only an error id, which is also logged with the
//! cause, so internals never reach a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::ValidationErrors;
use roster_service::ServiceError;
use serde_json::{Value, json};

/// The JSON:API media type.
pub const JSON_API: &str = "application/vnd.api+json";

/// Where in the request an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    None,
    /// A JSON Pointer (RFC 6901) into the request body.
    Pointer(String),
    /// A query parameter.
    Parameter(String),
    Header(String),
}

/// One error object.
#[derive(Debug, Clone)]
pub struct ApiErrorItem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub source: Source,
    pub meta: Option<Value>,
}

/// An error response of one or more error objects sharing a status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub items: Vec<ApiErrorItem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::with_source(status, code, title, detail, Source::None)
    }

    pub fn with_source(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
        source: Source,
    ) -> Self {
        let item = ApiErrorItem { status, code, title, detail: detail.into(), source, meta: None };
        Self { status, items: vec![item] }
    }

    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> Self {
        Self::with_source(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "Invalid query parameter",
            detail,
            Source::Parameter(parameter.to_string()),
        )
    }

    pub fn invalid_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", "Malformed JSON", detail)
    }

    /// A 422 for each field error, with pointers under `base` (such as `/data/attributes`).
    pub fn validation(errors: ValidationErrors, base: &str) -> Self {
        let items = errors
            .0
            .into_iter()
            .map(|e| ApiErrorItem {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: e.code,
                title: "Invalid attribute",
                detail: format!("{} {}", e.field, e.message),
                source: Source::Pointer(format!("{base}/{}", e.field)),
                meta: None,
            })
            .collect();
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, items }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    /// A 500 whose body holds only an error id; the cause is logged under the same id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let error_id = uuid::Uuid::new_v4().to_string();
        tracing::error!(error_id = %error_id, error = %cause, "internal error");
        let mut error = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            format!("the server failed; quote error id {error_id} when reporting it"),
        );
        if let Some(item) = error.items.first_mut() {
            item.meta = Some(json!({ "error_id": error_id }));
        }
        error
    }

    /// Maps a service error, with body pointers for validation errors under `pointer_base`.
    pub fn from_service(error: ServiceError, pointer_base: &str) -> Self {
        match error {
            ServiceError::Validation(errors) => Self::validation(errors, pointer_base),
            ServiceError::Taken { field } => Self::with_source(
                StatusCode::UNPROCESSABLE_ENTITY,
                "taken",
                "Already taken",
                format!("{field} is already used by another record (compared case-insensitively); choose another"),
                Source::Pointer(format!("{pointer_base}/{field}")),
            ),
            ServiceError::NotFound { resource, id, hint: None } => Self::not_found(format!("{resource} {id} not found")),
            ServiceError::NotFound { resource, id, hint: Some(hint) } => {
                Self::not_found(format!("{resource} {id} not found: {hint}"))
            }
            ServiceError::PreconditionFailed { expected } => Self::with_source(
                StatusCode::PRECONDITION_FAILED,
                "stale_etag",
                "Precondition failed",
                format!("If-Match names version {expected}, which is no longer current; GET the resource and retry"),
                Source::Header("If-Match".into()),
            ),
            ServiceError::Conflict { code, message, details } => {
                let mut error = Self::new(StatusCode::CONFLICT, code, "Conflict", message);
                if !details.is_null()
                    && let Some(item) = error.items.first_mut()
                {
                    item.meta = Some(details);
                }
                error
            }
            ServiceError::Unauthorized(reason) => Self::unauthorized(reason),
            ServiceError::Forbidden(scope) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                format!("this token lacks the scope {scope}; use a token that has it"),
            ),
            ServiceError::Unavailable(cause) => {
                let error_id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %error_id, error = %cause, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    format!("the database is unavailable; retry later (error id {error_id})"),
                )
            }
            ServiceError::Internal(cause) => Self::internal(&cause),
        }
    }

    pub fn unauthorized(reason: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            format!("{reason}; send a valid token as 'Authorization: Bearer <token>'"),
        )
    }

    pub fn body(&self) -> Value {
        let errors: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                let mut object = json!({
                    "status": item.status.as_u16().to_string(),
                    "code": item.code,
                    "title": item.title,
                    "detail": item.detail,
                });
                let source = match &item.source {
                    Source::None => None,
                    Source::Pointer(p) => Some(json!({ "pointer": p })),
                    Source::Parameter(p) => Some(json!({ "parameter": p })),
                    Source::Header(h) => Some(json!({ "header": h })),
                };
                if let (Some(source), Some(map)) = (source, object.as_object_mut()) {
                    map.insert("source".into(), source);
                }
                if let (Some(meta), Some(map)) = (&item.meta, object.as_object_mut()) {
                    map.insert("meta".into(), meta.clone());
                }
                object
            })
            .collect();
        json!({ "errors": errors })
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::from_service(error, "/data/attributes")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_API));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Documents every stable error code for the README and the OpenAPI description.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("invalid_json", 400, "the body is not valid JSON or not a JSON:API document"),
    ("invalid_parameter", 400, "a query parameter is unknown or has an invalid value"),
    ("invalid_form", 400, "a JML plan upload is not a multipart form with the parts feed, mapping and policy"),
    ("unauthorized", 401, "the token is missing, unknown, expired, revoked or its owner is not active"),
    ("forbidden", 403, "the token lacks the scope the route requires"),
    ("not_found", 404, "no such user, role type, token, scheduled action or route"),
    ("method_not_allowed", 405, "the route does not support the method"),
    ("busy", 409, "the resource kept changing concurrently; retry"),
    ("invalid_state", 409, "the user's lifecycle state does not allow the change"),
    ("missing_role_types", 409, "a restore needs role types that no longer exist"),
    ("role_type_in_use", 409, "a role type that is still assigned cannot be deleted"),
    ("not_pending", 409, "the scheduled action is already done, failed or cancelled"),
    ("plan_has_errors", 409, "a JML plan with invalid rows is applied without skip_invalid"),
    ("mass_leavers", 409, "a JML plan archives more active users than the threshold, without allow_mass_leavers"),
    ("stale_etag", 412, "If-Match names a version that is no longer current"),
    ("payload_too_large", 413, "the body exceeds the size limit"),
    ("unsupported_media_type", 415, "the body is not application/vnd.api+json or application/json, or a JML plan upload is not multipart/form-data"),
    ("invalid", 422, "an attribute has an invalid value"),
    ("blank", 422, "a required attribute is missing or empty"),
    ("too_long", 422, "an attribute is longer than allowed"),
    ("taken", 422, "an email, user_name, unique_id or role type name is already used"),
    ("not_found", 422, "an id in the body, such as role_type_id or manager_id, names nothing that exists"),
    ("duplicate", 422, "the same role assignment is listed twice"),
    ("read_only", 422, "an attribute cannot be written through this route"),
    ("unknown_attribute", 422, "the body names an attribute the resource does not have"),
    ("internal", 500, "the server failed; the body holds an error id that is also logged"),
    ("unavailable", 503, "the database is unavailable"),
];
