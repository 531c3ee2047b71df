//! Validation errors that name the offending field, so every door can point a client at it.

use std::fmt;

/// One invalid value: where it is, a stable code and a sentence saying what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The attribute name as the client wrote it, such as `email` or `roles_attributes/0/role_type_id`.
    pub field: String,
    /// A stable, documented code such as `invalid`, `blank`, `too_long` or `taken`.
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }

    /// Prefixes the field with a parent path, as in `roles_attributes/0`.
    pub fn nested(mut self, parent: &str) -> Self {
        self.field = format!("{parent}/{}", self.field);
        self
    }
}

/// A non-empty list of field errors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns `Ok(())` when nothing was collected, so validators can end with `errors.into_result()`.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    pub fn single(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}
