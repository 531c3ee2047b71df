//! The role catalogue and role assignments.

use crate::error::{FieldError, ValidationErrors};
use crate::time::Timestamp;
use crate::user::{MAX_TEXT_LEN, check_text};
use serde::Serialize;
use std::fmt;

/// An entry of the role catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleType {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    /// The resource type every assignment of this role must be scoped to, or `None` for a global role.
    pub resource_type: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The attributes of a role type to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTypeInput {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub resource_type: Option<String>,
}

impl RoleTypeInput {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();

        if let Err(e) = check_text("name", &self.name, MAX_TEXT_LEN) {
            errors.push(e);
        }
        if let Some(resource_type) = &self.resource_type
            && let Err(e) = check_resource_type("resource_type", resource_type)
        {
            errors.push(e);
        }

        errors.into_result()
    }
}

/// A partial update of a role type. The resource type is fixed at creation, because changing it would
/// invalidate every existing assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleTypePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub category: Option<Option<String>>,
}

/// Checks a resource type name: lower-case letters, digits and `_`, as in `workspace`.
pub fn check_resource_type(field: &str, text: &str) -> Result<(), FieldError> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(field, "invalid", "must be 1 to 64 lower-case letters, digits or '_', such as workspace"))
    }
}

/// What identifies an assignment: a user holds each key at most once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RoleKey {
    pub role_type_id: i64,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

impl RoleKey {
    /// Checks the key against its role type's scope rule.
    pub fn validate_against(&self, role_type: &RoleType) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();

        match &role_type.resource_type {
            Some(required) => {
                if self.resource_type.as_deref() != Some(required.as_str()) {
                    errors.push(FieldError::new(
                        "resource_type",
                        "invalid",
                        format!("must be '{required}', because role type '{}' is scoped to a {required}", role_type.name),
                    ));
                }
                match &self.resource_id {
                    Some(id) => {
                        if let Err(e) = check_text("resource_id", id, MAX_TEXT_LEN) {
                            errors.push(e);
                        }
                    }
                    None => errors.push(FieldError::new(
                        "resource_id",
                        "blank",
                        format!("is required: role type '{}' needs the id of a {required}", role_type.name),
                    )),
                }
            }
            None => {
                if self.resource_type.is_some() || self.resource_id.is_some() {
                    errors.push(FieldError::new(
                        "resource_type",
                        "invalid",
                        format!(
                            "must be left out or null, because role type '{}' is global",
                            role_type.name
                        ),
                    ));
                }
            }
        }

        errors.into_result()
    }
}

/// Where an assignment came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleSource {
    /// An explicit grant through the API, with its approver.
    Direct,
    /// A birthright policy rule, by name.
    Policy(String),
    /// Membership of a group, by the group's id.
    Group(String),
}

impl RoleSource {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Policy(_) => "policy",
            Self::Group(_) => "group",
        }
    }

    /// The rule name or group id; empty for direct grants.
    pub fn reference(&self) -> &str {
        match self {
            Self::Direct => "",
            Self::Policy(rule) => rule,
            Self::Group(group) => group,
        }
    }

    pub fn from_parts(kind: &str, reference: &str) -> Option<Self> {
        match kind {
            "direct" => Some(Self::Direct),
            "policy" => Some(Self::Policy(reference.to_string())),
            "group" => Some(Self::Group(reference.to_string())),
            _ => None,
        }
    }
}

impl fmt::Display for RoleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct => f.write_str("direct"),
            Self::Policy(rule) => write!(f, "policy:{rule}"),
            Self::Group(group) => write!(f, "group:{group}"),
        }
    }
}

/// One grant of a role to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub key: RoleKey,
    pub role_type_name: String,
    pub source: RoleSource,
    pub approved_by: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub granted_at: Timestamp,
}

impl RoleAssignment {
    /// The grant as recorded in audit entries and snapshots.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "role_type_id": self.key.role_type_id,
            "role_type_name": self.role_type_name,
            "resource_type": self.key.resource_type,
            "resource_id": self.key.resource_id,
            "source": self.source.kind(),
            "source_ref": self.source.reference(),
            "approved_by": self.approved_by,
            "reason": self.reason,
            "expires_at": self.expires_at.map(|t| t.canonical()),
            "granted_at": self.granted_at.canonical(),
        })
    }
}

/// A direct grant requested through the API, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectGrant {
    pub key: RoleKey,
    pub approved_by: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_type(resource_type: Option<&str>) -> RoleType {
        let now = Timestamp::from_unix_micros(0).unwrap_or_else(|| unreachable!());
        RoleType {
            id: 1,
            name: "editor".into(),
            description: None,
            category: None,
            resource_type: resource_type.map(String::from),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn scoped_role_needs_resource() {
        let key = RoleKey { role_type_id: 1, resource_type: None, resource_id: None };
        assert!(key.validate_against(&role_type(Some("runbook"))).is_err());
    }

    #[test]
    fn scoped_role_accepts_matching_resource() {
        let key = RoleKey { role_type_id: 1, resource_type: Some("runbook".into()), resource_id: Some("7".into()) };
        assert!(key.validate_against(&role_type(Some("runbook"))).is_ok());
    }

    #[test]
    fn global_role_rejects_resource() {
        let key = RoleKey { role_type_id: 1, resource_type: Some("runbook".into()), resource_id: Some("7".into()) };
        assert!(key.validate_against(&role_type(None)).is_err());
    }
}
