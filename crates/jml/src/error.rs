//! Errors of the engine: a whole-input error, and per-row errors that leave the rest of the plan intact.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An input that cannot be used at all.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum JmlError {
    /// The mapping file is invalid; the message names the setting and the fix.
    #[error("invalid mapping: {0}")]
    Mapping(String),
    /// The policy file is invalid; the message names the rule and the fix.
    #[error("invalid policy: {0}")]
    Policy(String),
    /// The feed as a whole cannot be read.
    #[error("invalid feed: {0}")]
    Feed(String),
}

impl JmlError {
    /// Returns the message without the kind of input, for callers that name the input themselves, as an API
    /// error's field does.
    pub fn reason(&self) -> &str {
        match self {
            Self::Mapping(reason) | Self::Policy(reason) | Self::Feed(reason) => reason,
        }
    }
}

/// A row the plan leaves out, with its line in the feed and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: u64,
    /// The row's key, when it has one.
    pub key: Option<String>,
    pub reason: String,
}

impl RowError {
    pub fn new(line: u64, key: Option<String>, reason: String) -> Self {
        Self { line, key, reason }
    }
}

/// Something the plan resolved by itself but that a reviewer should see, such as an unresolved manager or an
/// email clash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowWarning {
    pub line: u64,
    pub key: String,
    pub message: String,
}
