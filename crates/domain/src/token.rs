//! API tokens as the domain sees them: never the secret, only its metadata.

use crate::scope::Scopes;
use crate::time::Timestamp;

/// A stored token's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scopes: Scopes,
    /// The user the token belongs to; its tokens stop working while that user is not active.
    pub user_id: Option<i64>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Set when the owner was archived; such a token stays disabled after a restore.
    pub disabled_at: Option<Timestamp>,
}

impl TokenInfo {
    /// Names the token's state at `now`: `active`, `revoked`, `disabled` or `expired`.
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.disabled_at.is_some() {
            "disabled"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }

    /// Says why the token no longer works at `now`, or `None` when it does.
    pub fn inactive_reason(&self, now: Timestamp) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            return Some("token revoked");
        }
        if self.disabled_at.is_some() {
            return Some("token disabled because its owner was archived; create a new one");
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Some("token expired");
        }
        None
    }
}

/// What a new token should carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTokenSpec {
    pub name: String,
    pub scopes: Scopes,
    pub user_id: Option<i64>,
    pub expires_at: Option<Timestamp>,
}
