//! SCIM error responses (RFC 7644 §3.12) and the one place that maps service errors to them.
//!
//! Every error under `/scim/v2` is `{"schemas": [ERROR_URN], "status": "400", "scimType": "...", "detail": "..."}`
//! with `Content-Type: application/scim+json`. `status` is a string, as the RFC's examples write it. A 5xx body
//! carries only an error id, which is also logged with the cause.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::{FieldError, ValidationErrors};
use roster_scim::{ScimError, ScimType};
use roster_service::ServiceError;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::scim::SCIM_MEDIA_TYPE;

/// The schema URN of an error response.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimApiError {
    pub status: StatusCode,
    /// The `scimType` keyword; RFC 7644 defines them for 400 and 409 only.
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimApiError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into() }
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type.as_str()), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }

    /// A 400 with `scimType` `mutability`: the request tries to change an attribute that cannot be changed.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }

    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, None, detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request body exceeds maxPayloadSize ({limit} bytes); send a smaller request"),
        )
    }

    /// Builds a 500 whose detail contains only an error id, and logs the cause under the same id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let error_id = uuid::Uuid::new_v4().to_string();
        tracing::error!(error_id = %error_id, error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            format!("the server failed; quote error id {error_id} when reporting it"),
        )
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(scim_type.to_string()));
        }
        body
    }
}

impl IntoResponse for ScimApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<ScimError> for ScimApiError {
    fn from(error: ScimError) -> Self {
        Self::bad_request(error.scim_type, error.detail())
    }
}

/// Converts the `/core` error of a shared extractor (the bearer token) into a SCIM error with the same status.
impl From<ApiError> for ScimApiError {
    fn from(error: ApiError) -> Self {
        let detail = error.items.first().map_or_else(|| "the request failed".to_string(), |item| item.detail.clone());
        Self::new(error.status, None, detail)
    }
}

impl From<ServiceError> for ScimApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Validation(errors) => Self::invalid_value(validation_detail(&errors)),
            ServiceError::Taken { field } => Self::uniqueness(format!(
                "{} is already used by another user (compared case-insensitively); choose another value",
                scim_attribute_name(field)
            )),
            ServiceError::NotFound { resource, id, .. } => Self::not_found(format!("{} {id} not found", scim_resource(resource))),
            ServiceError::PreconditionFailed { expected } => Self::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                format!("If-Match names version {expected}, which is no longer current; GET the resource and retry"),
            ),
            ServiceError::Conflict { message, .. } => Self::new(StatusCode::CONFLICT, None, message),
            ServiceError::Unauthorized(reason) => Self::new(
                StatusCode::UNAUTHORIZED,
                None,
                format!("{reason}; send a valid token as 'Authorization: Bearer <token>'"),
            ),
            ServiceError::Forbidden(scope) => Self::new(
                StatusCode::FORBIDDEN,
                None,
                format!("this token lacks the scope {scope}; use a token that has it"),
            ),
            ServiceError::Unavailable(cause) => {
                let error_id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %error_id, error = %cause, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    format!("the database is unavailable; retry later (error id {error_id})"),
                )
            }
            ServiceError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// Joins field errors into one detail sentence, naming each field by its SCIM attribute.
pub fn validation_detail(errors: &ValidationErrors) -> String {
    let parts: Vec<String> = errors.0.iter().map(field_detail).collect();
    parts.join("; ")
}

fn field_detail(error: &FieldError) -> String {
    let (head, rest) = match error.field.split_once('/') {
        Some((head, rest)) => (head, Some(rest)),
        None => (error.field.as_str(), None),
    };
    let name = scim_attribute_name(head);
    match rest {
        Some(rest) => format!("{name}/{rest} {}", error.message),
        None => format!("{name} {}", error.message),
    }
}

/// Names a Roster field by the SCIM attribute it maps to, so messages use the client's vocabulary.
pub fn scim_attribute_name(field: &str) -> &str {
    match field {
        "user_name" => "userName",
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "email" => "emails",
        "mobile_number" => "phoneNumbers",
        "job_title" => "title",
        "external_id" => "externalId",
        "unique_id" => "employeeNumber",
        "manager_id" => "manager",
        "display_name" => "displayName",
        other => other,
    }
}

fn scim_resource(resource: &str) -> &str {
    match resource {
        "user" => "User",
        "group" => "Group",
        other => other,
    }
}
