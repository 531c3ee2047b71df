//! Groups: sets of users, optionally carrying role grants that every member receives.

use crate::filter::CmpOp;
use crate::role::RoleKey;
use crate::time::Timestamp;

/// A stored group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: i64,
    pub display_name: String,
    pub external_id: Option<String>,
    /// SCIM attributes without a Roster field, kept as the client sent them.
    pub scim_attributes: serde_json::Map<String, serde_json::Value>,
    /// Incremented on every change to the group, its members or its roles; the ETag.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A member as a group lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub user_id: i64,
    pub user_name: String,
}

/// A filter over groups.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupFilter {
    All,
    And(Vec<GroupFilter>),
    Or(Vec<GroupFilter>),
    Not(Box<GroupFilter>),
    /// Compares the display name, ignoring case.
    DisplayName(CmpOp, String),
    /// Compares the external id exactly.
    ExternalId(CmpOp, String),
    Id(CmpOp, i64),
    /// The group has this user as a member.
    HasMember(i64),
    /// The attribute has a value: `displayName` always does, `externalId` may not.
    ExternalIdPresent,
}

/// What a group change asks for; `None` leaves that part alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupChange {
    pub display_name: Option<String>,
    pub external_id: Option<Option<String>>,
    pub scim_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Replaces the whole membership.
    pub replace_members: Option<Vec<i64>>,
    pub add_members: Vec<i64>,
    pub remove_members: Vec<i64>,
    /// Replaces the roles the group grants.
    pub roles: Option<Vec<RoleKey>>,
}
