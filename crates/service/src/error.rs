//! The service layer's error type. The HTTP layer maps each variant to a status and a stable code in one place.

use roster_domain::{FieldError, ValidationErrors};
use roster_store::{StoreError, UniqueField};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ServiceError {
    /// One or more attributes are invalid; each error names its field.
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// A unique attribute is already used by another user or role type.
    #[error("{field} is already taken")]
    Taken { field: &'static str },
    /// `hint`, when set, explains how the client can still reach the resource, as for an archived user.
    #[error("{resource} {id} not found")]
    NotFound { resource: &'static str, id: String, hint: Option<&'static str> },
    /// `If-Match` named a version that is no longer current.
    #[error("the resource changed since version {expected}; fetch it again and retry")]
    PreconditionFailed { expected: String },
    /// The request conflicts with the current state; `code` is stable and documented.
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: serde_json::Value },
    #[error("authentication failed: {0}")]
    Unauthorized(&'static str),
    #[error("the token lacks the scope {0}")]
    Forbidden(roster_domain::Scope),
    /// The database is unreachable or too busy; the client may retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationErrors::single(field, code, message))
    }

    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        Self::NotFound { resource, id: id.to_string(), hint: None }
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        Self::Validation(error.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unique(UniqueField::Email) => Self::Taken { field: "email" },
            StoreError::Unique(UniqueField::UserName) => Self::Taken { field: "user_name" },
            StoreError::Unique(UniqueField::UniqueId) => Self::Taken { field: "unique_id" },
            StoreError::Unique(UniqueField::RoleTypeName) => Self::Taken { field: "name" },
            StoreError::Database(sqlx_error) if is_unavailable(&sqlx_error) => {
                Self::Unavailable(StoreError::Database(sqlx_error))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

fn is_unavailable(error: &roster_store::SqlxError) -> bool {
    matches!(
        error,
        roster_store::SqlxError::PoolTimedOut | roster_store::SqlxError::PoolClosed | roster_store::SqlxError::Io(_)
    )
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
