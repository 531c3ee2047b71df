//! API token scopes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A permission a token may carry. `admin` implies every other scope, including scopes added later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    UsersWrite,
    #[serde(rename = "roles:write")]
    RolesWrite,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [Scope::UsersRead, Scope::UsersWrite, Scope::RolesWrite, Scope::AuditRead, Scope::Admin];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::RolesWrite => "roles:write",
            Self::AuditRead => "audit:read",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Lists the valid scope names for error messages.
    pub fn names() -> String {
        Self::ALL.map(|s| s.as_str()).join(", ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The set of scopes a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(mut scopes: Vec<Scope>) -> Self {
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    pub fn allows(&self, needed: Scope) -> bool {
        self.0.contains(&Scope::Admin) || self.0.contains(&needed)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    /// Serialises as space-separated names, the form stored in the database.
    pub fn to_stored(&self) -> String {
        self.0.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Parses the stored form, skipping names this version does not know, so an older node never grants more.
    pub fn from_stored(text: &str) -> Self {
        Self::new(text.split_whitespace().filter_map(Scope::parse).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_implies_everything() {
        let scopes = Scopes::new(vec![Scope::Admin]);
        assert!(Scope::ALL.iter().all(|s| scopes.allows(*s)));
    }

    #[test]
    fn read_does_not_imply_write() {
        let scopes = Scopes::new(vec![Scope::UsersRead]);
        assert!(!scopes.allows(Scope::UsersWrite));
    }

    #[test]
    fn stored_form_round_trips() {
        let scopes = Scopes::new(vec![Scope::AuditRead, Scope::UsersRead]);
        assert_eq!(Scopes::from_stored(&scopes.to_stored()), scopes);
    }
}
