//! A JML joiner's writes as one store call: the user, the source's claim on it, its policy grants, the audit entry
//! and the run's record of the person. On SQLite they run through rusqlite, batched with other one-step writes,
//! instead of costing a round trip to sqlx's connection thread per statement. A first load of 100,000 joiners
//! spent most of its time in those round trips. Both paths run the same SQL texts.

use roster_domain::{AuditEntry, PreparedEntry, RoleAssignment, Timestamp, User};
use rusqlite::{OptionalExtension, params};

use crate::direct::{append_audit, insert_user, run};
use crate::group_commit::{AuditHead, direct_failed};
use crate::jml::{INSERT_RUN_ITEM, MARK_FEED_USER};
use crate::roles::INSERT_ASSIGNMENT_IF_ABSENT;
use crate::types::{DbTime, db_time};
use crate::{Conn, Pools, Store, StoreError, UniqueField};

/// A joiner to create.
#[derive(Debug, Clone)]
pub struct NewJoiner {
    pub user: User,
    /// The feed source that creates the user.
    pub source: String,
    /// The policy grants, none of which a new user can hold yet.
    pub grants: Vec<RoleAssignment>,
    /// The create's audit entry, prepared before the write. The store sets its target to the new user's id.
    pub audit: PreparedEntry,
    pub plan_id: i64,
    pub run_id: i64,
    pub at: Timestamp,
}

/// The outcome of creating a joiner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinerOutcome {
    /// The user was created with this id.
    Created(i64),
    /// Another user has the joiner's key, so nothing was written.
    KeyTaken,
    /// Another run of the plan recorded the person first, so the writes were undone.
    AlreadyApplied,
}

impl Store {
    /// Creates a joiner with its grants, audit entry and run item, in a write of its own that has committed when
    /// this returns with [`JoinerOutcome::Created`]. Any other outcome writes nothing.
    pub async fn create_joiner(&self, joiner: NewJoiner) -> Result<JoinerOutcome, StoreError> {
        let created = |outcome: &JoinerOutcome| matches!(outcome, JoinerOutcome::Created(_));
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let create = move |conn: &rusqlite::Connection, head: &mut AuditHead| create_on_handle(conn, head, &joiner);
                write.write_direct(create, created).await
            }
            Pools::Postgres(_) => {
                let mut tx = self.begin().await?;
                let outcome = tx.create_joiner(&joiner).await?;
                if created(&outcome) {
                    tx.commit().await?;
                }
                Ok(outcome)
            }
        }
    }
}

impl Conn {
    /// Runs [`Store::create_joiner`]'s statements through the `Conn` methods, inside this transaction. The caller
    /// drops the transaction after any outcome but [`JoinerOutcome::Created`].
    async fn create_joiner(&mut self, joiner: &NewJoiner) -> Result<JoinerOutcome, StoreError> {
        let id = match self.insert_user(&joiner.user, "jml").await {
            Ok(id) => id,
            Err(StoreError::Unique(UniqueField::UniqueId)) => return Ok(JoinerOutcome::KeyTaken),
            Err(error) => return Err(error),
        };
        self.mark_feed_user(&joiner.source, id, "created", joiner.at).await?;
        self.insert_assignments_if_absent(id, &joiner.grants).await?;
        self.append_audit(&AuditEntry { target_id: Some(id.to_string()), ..joiner.audit.entry.clone() }).await?;
        let key = joiner.user.unique_id.as_deref().unwrap_or_default();
        if !self.insert_jml_run_item(joiner.plan_id, key, joiner.run_id, "applied", None, joiner.at).await? {
            return Ok(JoinerOutcome::AlreadyApplied);
        }
        Ok(JoinerOutcome::Created(id))
    }
}

/// Runs the joiner's statements through rusqlite on SQLite's connection of one-step writes, binding what the `Conn`
/// methods of the other path bind, in the same order.
fn create_on_handle(conn: &rusqlite::Connection, head: &mut AuditHead, joiner: &NewJoiner) -> Result<JoinerOutcome, StoreError> {
    let id = match insert_user(conn, &joiner.user, "jml") {
        Ok(id) => id,
        Err(StoreError::Unique(UniqueField::UniqueId)) => return Ok(JoinerOutcome::KeyTaken),
        Err(error) => return Err(error),
    };
    let at = DbTime(joiner.at);
    run(conn, MARK_FEED_USER, params![joiner.source, id, "created", at])?;
    for grant in &joiner.grants {
        let params = params![
            id,
            grant.key.role_type_id,
            grant.key.resource_type.clone().unwrap_or_default(),
            grant.key.resource_id.clone().unwrap_or_default(),
            grant.source.kind(),
            grant.source.reference(),
            grant.approved_by,
            grant.reason,
            db_time(grant.expires_at),
            DbTime(grant.granted_at),
        ];
        let mut statement = conn.prepare_cached(INSERT_ASSIGNMENT_IF_ABSENT).map_err(|e| direct_failed(&e))?;
        statement.query_row(params, |row| row.get::<_, i64>(0)).optional().map_err(|e| direct_failed(&e))?;
    }

    append_audit(conn, head, &joiner.audit, id)?;

    let key = joiner.user.unique_id.as_deref().unwrap_or_default();
    let mut statement = conn.prepare_cached(INSERT_RUN_ITEM).map_err(|e| direct_failed(&e))?;
    let recorded = statement
        .query_row(params![joiner.plan_id, key, joiner.run_id, "applied", None::<String>, at], |row| row.get::<_, i64>(0))
        .optional()
        .map_err(|e| direct_failed(&e))?;
    match recorded {
        Some(_) => Ok(JoinerOutcome::Created(id)),
        None => Ok(JoinerOutcome::AlreadyApplied),
    }
}
