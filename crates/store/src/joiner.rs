//! A JML joiner's writes as one store call: the user, the source's claim on it, its policy grants, the audit entry
//! and the run's record of the person. On SQLite they run on the writer's handle on the calling thread, so the
//! person costs one hand-off to the connection's worker thread instead of one per statement. A first load of
//! 100,000 joiners spent most of its time in those hand-offs. Both paths run the same SQL texts.

use roster_domain::{AuditEntry, PreparedEntry, RoleAssignment, Timestamp, User};
use rusqlite::{OptionalExtension, params};

use crate::audit::{ADVANCE_AUDIT_HEAD, INSERT_AUDIT};
use crate::group_commit::direct_failed;
use crate::jml::{INSERT_RUN_ITEM, MARK_FEED_USER};
use crate::roles::INSERT_ASSIGNMENT_IF_ABSENT;
use crate::types::{DbTime, db_time};
use crate::users::{INSERT_USER, custom_json, fold_opt, fold_or_empty, folded_scim_json, scim_json};
use crate::{Conn, StoreError, UniqueField};

/// A joiner to create.
#[derive(Debug, Clone, Copy)]
pub struct NewJoiner<'a> {
    pub user: &'a User,
    /// The feed source that creates the user.
    pub source: &'a str,
    /// The policy grants, none of which a new user can hold yet.
    pub grants: &'a [RoleAssignment],
    /// The create's audit entry, prepared before the transaction; the store sets its target to the new user's id.
    pub audit: &'a PreparedEntry,
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
    /// Another run of the plan recorded the person first. The caller drops the transaction, which undoes the
    /// writes.
    AlreadyApplied,
}

impl Conn {
    /// Creates a joiner with its grants, audit entry and run item, inside this transaction. On SQLite a created
    /// joiner's writes join the batch at once, so the caller commits after [`JoinerOutcome::Created`] and drops
    /// the transaction after any other outcome.
    pub async fn create_joiner(&mut self, joiner: &NewJoiner<'_>) -> Result<JoinerOutcome, StoreError> {
        if let Conn::SqliteWrite(tx) = self {
            let created = |outcome: &JoinerOutcome| matches!(outcome, JoinerOutcome::Created(_));
            return tx.run_direct(|conn, head| create_on_handle(conn, head, joiner), created).await;
        }

        let id = match self.insert_user(joiner.user, "jml").await {
            Ok(id) => id,
            Err(StoreError::Unique(UniqueField::UniqueId)) => return Ok(JoinerOutcome::KeyTaken),
            Err(error) => return Err(error),
        };
        self.mark_feed_user(joiner.source, id, "created", joiner.at).await?;
        self.insert_assignments_if_absent(id, joiner.grants).await?;
        self.append_audit(&AuditEntry { target_id: Some(id.to_string()), ..joiner.audit.entry.clone() }).await?;
        let key = joiner.user.unique_id.as_deref().unwrap_or_default();
        if !self.insert_jml_run_item(joiner.plan_id, key, joiner.run_id, "applied", None, joiner.at).await? {
            return Ok(JoinerOutcome::AlreadyApplied);
        }
        Ok(JoinerOutcome::Created(id))
    }
}

/// Runs the joiner's statements on the SQLite writer's handle, binding what the `Conn` methods of the other path
/// bind, in the same order.
fn create_on_handle(
    conn: &rusqlite::Connection,
    head: &mut Option<(i64, String)>,
    joiner: &NewJoiner<'_>,
) -> Result<JoinerOutcome, StoreError> {
    let id = match insert_user(conn, joiner.user) {
        Ok(id) => id,
        Err(StoreError::Unique(UniqueField::UniqueId)) => return Ok(JoinerOutcome::KeyTaken),
        Err(error) => return Err(error),
    };
    let at = DbTime(joiner.at);
    run(conn, MARK_FEED_USER, params![joiner.source, id, "created", at])?;
    for grant in joiner.grants {
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

    // The entry without its changes, which are already serialised: cloning them would cost what preparing saved.
    let prepared = &joiner.audit.entry;
    let entry = AuditEntry {
        created_at: prepared.created_at,
        actor_token_id: prepared.actor_token_id,
        actor_name: prepared.actor_name.clone(),
        action: prepared.action.clone(),
        target_type: prepared.target_type.clone(),
        target_id: Some(id.to_string()),
        changes: roster_domain::Changes::new(),
        request_id: prepared.request_id.clone(),
    };
    append_audit(conn, head, &entry, &joiner.audit.changes_json)?;

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

fn insert_user(conn: &rusqlite::Connection, user: &User) -> Result<i64, StoreError> {
    let params = params![
        user.first_name,
        fold_or_empty(&user.first_name),
        user.last_name,
        fold_or_empty(&user.last_name),
        user.email,
        fold_opt(&user.email),
        user.user_name,
        roster_domain::fold(&user.user_name),
        user.unique_id,
        fold_opt(&user.unique_id),
        user.external_id,
        user.mobile_number,
        user.job_title,
        fold_or_empty(&user.job_title),
        user.department,
        fold_or_empty(&user.department),
        user.manager_id,
        user.start_date,
        user.end_date,
        custom_json(user),
        user.status.as_str(),
        "jml",
        DbTime(user.created_at),
        DbTime(user.updated_at),
        db_time(user.archived_at),
        scim_json(user),
        folded_scim_json(&user.scim_attributes),
    ];
    let mut statement = conn.prepare_cached(INSERT_USER).map_err(|e| direct_failed(&e))?;
    statement.query_row(params, |row| row.get(0)).map_err(|e| direct_failed(&e))
}

/// Appends an audit entry, whose changes `changes_json` gives, after the batch's cached head, or after the stored head when none is cached, and
/// caches the new head. A trigger moves the stored head in the same statement (migration 7).
fn append_audit(
    conn: &rusqlite::Connection,
    head: &mut Option<(i64, String)>,
    entry: &AuditEntry,
    changes_json: &str,
) -> Result<(), StoreError> {
    let (seq, prev_hash) = match head.take() {
        Some((seq, hash)) => (seq + 1, hash),
        None => conn
            .query_row(ADVANCE_AUDIT_HEAD, [], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
            .map_err(|e| direct_failed(&e))?,
    };
    let hash = entry.chain_hash_with_changes(seq, &prev_hash, changes_json);

    let params = params![
        seq,
        DbTime(entry.created_at),
        entry.actor_token_id,
        entry.actor_name,
        entry.action,
        entry.target_type,
        entry.target_id,
        changes_json,
        entry.request_id,
        prev_hash,
        hash,
    ];
    run(conn, INSERT_AUDIT, params)?;
    *head = Some((seq, hash));
    Ok(())
}

fn run(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(|e| direct_failed(&e))?;
    statement.execute(params).map_err(|e| direct_failed(&e))?;
    Ok(())
}
