//! Roster's service layer: the only code that changes users and roles. Every door (the `/core` API, the CLI and,
//! later, SCIM and the JML engine) calls it, and every change it makes is written in one transaction together
//! with its audit entry.

mod actor;
mod audit;
mod bootstrap;
mod clock;
mod error;
mod groups;
mod jml;
mod jml_config;
mod review;
mod roles;
mod scheduled_actions;
mod scheduler;
mod tokens;
mod transfer;
mod users;

pub use actor::Actor;
pub use audit::{AuditPage, AuditVerification};
pub use bootstrap::{ADMIN_TOKEN_FILE, Bootstrap};
pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use error::{Result, ServiceError};
pub use groups::{GroupList, GroupWithMembers, NewGroup};
pub use jml::{
    ACTIVATE_USER, ARCHIVE_USER, ApplyOptions, ChangeSelection, ChangesPage, ChangesQuery, EventPerson, JmlEvent, JmlSettings, MAX_CHANGES_PAGE, PlanRequest,
    StoredPlan,
};
pub use jml_config::{ConfigSource, JmlConfigKind, MAX_CONFIG_NAME_LEN, PutConfig, check_config_name, config_sha256};
pub use roster_store::{JmlConfigRecord, PlanConfigRef};
pub use roster_jml as engine;
pub use roster_store::JmlRunRecord;
pub use review::{AccessReview, ExcessRole, MissingRole, UserReview};
pub use roles::{RoleRequest, RoleTypeList, SyncOutcome};
pub use scheduled_actions::{SCHEDULED_STATUSES, ScheduledListRequest, ScheduledPage};
pub use scheduler::{EXPIRE_ROLE, SchedulerPass};
pub use roster_store::{AuditQuery, GroupQuery, Location, Page, ScheduledAction, ScheduledQuery, Store, StoreOptions, UserQuery};
pub use tokens::{CreatedToken, MAX_TOKEN_DAYS, TokenRequest, hash_secret};
pub use transfer::TableCounts;
pub use users::{PageExtras, UserList, UserListRequest, UserWithRoles, sort_value};

use std::sync::Arc;

/// How many times an operation is retried after losing a race with a concurrent writer.
const MAX_ATTEMPTS: usize = 8;

/// Waits before retry `attempt` (from 1): a few milliseconds, growing with the attempt and spread by the clock's
/// sub-millisecond digits, so writers that collided do not collide again in lockstep.
async fn retry_backoff(attempt: usize) {
    let spread = u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_micros()) % 1000);
    let base = 2u64.saturating_pow(u32::try_from(attempt).unwrap_or(10).min(8));
    tokio::time::sleep(std::time::Duration::from_micros(base * 500 + spread)).await;
}

/// Runs `attempt` until it returns a result. While it returns `None`, because the `resource` changed concurrently
/// (a version check in SQL failed), it waits and retries, and after [`MAX_ATTEMPTS`] it fails with `busy`.
async fn retry_while_changed<T, F, Fut>(resource: &str, operation: &str, mut attempt: F) -> error::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = error::Result<Option<T>>>,
{
    for number in 1..=MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
        tracing::info!(attempt = number, resource, operation, "changed concurrently; retrying");
        retry_backoff(number).await;
    }

    Err(error::ServiceError::Conflict {
        code: "busy",
        message: format!("the {resource} kept changing concurrently; retry the request"),
        details: serde_json::Value::Null,
    })
}

/// The service: a store and a clock.
#[derive(Debug, Clone)]
pub struct Roster {
    store: Store,
    clock: Arc<dyn Clock>,
    jml_settings: JmlSettings,
    /// The JML runs this process is applying, so that a stopping server can stop them and mark them interrupted.
    runs: jml::LocalRuns,
}

impl Roster {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, jml_settings: JmlSettings::default(), runs: jml::LocalRuns::default() }
    }

    /// Replaces the JML engine's settings, such as the mass-leaver threshold.
    pub fn with_jml_settings(mut self, settings: JmlSettings) -> Self {
        self.jml_settings = settings;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Checks that the database responds.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await?;
        Ok(())
    }
}
