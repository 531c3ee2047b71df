//! The error every function of this crate returns, shaped so the HTTP layer can render a SCIM error response.

use std::fmt;

/// The SCIM `scimType` of an error response (RFC 7644 §3.12). Every one of them is sent with status 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax is invalid, or it names an attribute or uses an operator that the server cannot filter on.
    InvalidFilter,
    /// A PATCH `path` is invalid or names an attribute that cannot be changed this way.
    InvalidPath,
    /// The request body does not have the structure its schema requires.
    InvalidSyntax,
    /// A value has the wrong type or is not allowed for its attribute.
    InvalidValue,
    /// A PATCH `remove` has no `path`, so it selects nothing.
    NoTarget,
}

impl ScimType {
    /// Returns the keyword as written in a SCIM error response.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::InvalidPath => "invalidPath",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidValue => "invalidValue",
            Self::NoTarget => "noTarget",
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An invalid filter, sort attribute, PATCH path or PATCH body, with a message meant for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub scim_type: ScimType,
    /// Character offset (0-based, counted in Unicode scalar values) into the filter or path text where the
    /// problem was found, when the error comes from parsing text.
    pub position: Option<usize>,
    /// A sentence saying what is wrong and what to write instead. It never repeats the position.
    pub message: String,
}

impl ScimError {
    pub fn new(scim_type: ScimType, message: impl Into<String>) -> Self {
        Self { scim_type, position: None, message: message.into() }
    }

    /// Creates an error located at a character offset of the text being parsed.
    pub fn at(scim_type: ScimType, position: usize, message: impl Into<String>) -> Self {
        Self { scim_type, position: Some(position), message: message.into() }
    }

    pub fn invalid_filter(message: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, message)
    }

    /// Returns the text for the `detail` member of a SCIM error response: the message and, if known, the position.
    pub fn detail(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(position) => write!(f, "{} (at character {position})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ScimError {}
