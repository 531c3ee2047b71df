//! Roster's joiner-mover-leaver engine, without I/O: reading HR feeds through a mapping, evaluating the access
//! policy, and computing the plan of changes per person. The service layer loads the current users, stores the
//! plan and applies it.

pub mod error;
pub mod feed;
pub mod generate;
pub mod mapping;
pub mod plan;
pub mod policy;

pub use error::{JmlError, RowError, RowWarning};
pub use feed::{Feed, Row, read_feed};
pub use mapping::{CompiledMapping, FeedStatus, Mapping, Person};
pub use plan::{
    AttributeChange, Attributes, ChangeKind, CurrentUser, Holder, Plan, PlanInput, PlanOptions, PersonChange, RoleChange,
    PlanStream, PolicyRoles, PreparedFeed, Scheduled, ScheduledKind, TakenIdentifiers, UserState, compute_plan, identifiers_to_look_up,
};
pub use policy::{Grant, Policy, Subject};

/// Reads a feed through a mapping; only the mapped columns are kept.
pub fn read_mapped_feed(bytes: &[u8], mapping: &CompiledMapping) -> Result<Feed, JmlError> {
    read_feed(bytes, &mapping.columns(), &mapping.required_columns())
}

#[cfg(test)]
mod tests;
