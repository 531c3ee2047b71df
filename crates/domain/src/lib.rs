//! Roster's domain: the types every door shares, their validation, the filter AST and the
//! audit trail's canonical form. Nothing here performs I/O.

pub mod audit;
pub mod error;
pub mod filter;
pub mod group;
pub mod role;
pub mod scope;
pub mod time;
pub mod token;
pub mod user;

pub use audit::{AuditEntry, AuditRecord, Change, Changes, PreparedEntry};
pub use error::{FieldError, ValidationErrors};
pub use group::{Group, GroupChange, GroupFilter, GroupMember};
pub use filter::{
    CmpOp, ElementFilter, Filter, FilterValue, MultiValuedAttr, Sort, SortDirection, SortKey, StoredAttr, SubAttr,
    UserAttr,
};
pub use role::{DirectGrant, RoleAssignment, RoleKey, RoleSource, RoleType, RoleTypeInput, RoleTypePatch};
pub use scope::{Scope, Scopes};
pub use time::Timestamp;
pub use token::{NewTokenSpec, TokenInfo};
pub use user::{
    Email, LifecycleState, NewUser, User, UserName, UserPatch, UserRef, fold,
};
