//! Writes that run as one store call, and the statements they share on SQLite's connection of one-step writes.
//!
//! On SQLite each statement through sqlx is a round trip to the connection's worker thread, and those round
//! trips, not SQLite, bounded how many users per second the server could create. A one-step write runs its
//! statements through rusqlite, batched with other one-step writes (`SqliteWriter::write_direct`), on the thread
//! of the task that combines them. On PostgreSQL it runs the usual `Conn` methods in a transaction of its own.
//! Both paths run the same SQL texts.

use roster_domain::{AuditEntry, PreparedEntry, User};
use rusqlite::params;

use crate::audit::{ADVANCE_AUDIT_HEAD, INSERT_AUDIT};
use crate::group_commit::{AuditHead, direct_failed};
use crate::types::{DbTime, db_time};
use crate::users::{INSERT_USER, USER_EXISTS, custom_json, fold_opt, fold_or_empty, folded_scim_json, scim_json};
use crate::{Conn, Pools, Store, StoreError};

/// A user to create with its audit entry, and no grants.
#[derive(Debug, Clone)]
pub struct NewUserRecord {
    pub user: User,
    /// The door that created the user (`api`, `scim`, ...), stored as its origin.
    pub origin: &'static str,
    /// The create's audit entry, prepared before the write. The store sets its target to the new user's id.
    pub audit: PreparedEntry,
}

/// The outcome of [`Store::create_user`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The user was created with this id.
    Created(i64),
    /// The user's manager does not exist or is deleted, so nothing was written.
    ManagerMissing,
}

impl Store {
    /// Creates a user, after checking that its manager exists, and appends its audit entry, in a write of its own
    /// that has committed when this returns. A taken unique key fails with [`StoreError::Unique`]. Returns the
    /// record's user with the outcome.
    pub async fn create_user(&self, record: NewUserRecord) -> Result<(CreateOutcome, User), StoreError> {
        match &self.pools {
            Pools::Sqlite { write, .. } => {
                let create = move |conn: &rusqlite::Connection, head: &mut AuditHead| {
                    create_on_handle(conn, head, &record).map(|outcome| (outcome, record.user))
                };
                let created = |(outcome, _): &(CreateOutcome, User)| matches!(outcome, CreateOutcome::Created(_));
                write.write_direct(create, created).await
            }
            Pools::Postgres(_) => {
                let mut tx = self.begin().await?;
                let outcome = tx.create_user(&record).await?;
                if matches!(outcome, CreateOutcome::Created(_)) {
                    tx.commit().await?;
                }
                Ok((outcome, record.user))
            }
        }
    }
}

impl Conn {
    /// Runs [`Store::create_user`]'s statements through the `Conn` methods, inside this transaction.
    async fn create_user(&mut self, record: &NewUserRecord) -> Result<CreateOutcome, StoreError> {
        if let Some(manager_id) = record.user.manager_id
            && !self.user_exists(manager_id).await?
        {
            return Ok(CreateOutcome::ManagerMissing);
        }
        let id = self.insert_user(&record.user, record.origin).await?;
        self.append_audit(&AuditEntry { target_id: Some(id.to_string()), ..record.audit.entry.clone() }).await?;
        Ok(CreateOutcome::Created(id))
    }
}

/// Runs [`Store::create_user`]'s statements through rusqlite on SQLite's connection of one-step writes, binding what
/// the `Conn` methods of the other path bind.
fn create_on_handle(conn: &rusqlite::Connection, head: &mut AuditHead, record: &NewUserRecord) -> Result<CreateOutcome, StoreError> {
    if let Some(manager_id) = record.user.manager_id {
        let mut statement = conn.prepare_cached(USER_EXISTS).map_err(|e| direct_failed(&e))?;
        let count: i64 = statement.query_row([manager_id], |row| row.get(0)).map_err(|e| direct_failed(&e))?;
        if count == 0 {
            return Ok(CreateOutcome::ManagerMissing);
        }
    }

    let id = insert_user(conn, &record.user, record.origin)?;
    append_audit(conn, head, &record.audit, id)?;
    Ok(CreateOutcome::Created(id))
}

/// Inserts a user as `Conn::insert_user` does and returns its id.
pub(crate) fn insert_user(conn: &rusqlite::Connection, user: &User, origin: &str) -> Result<i64, StoreError> {
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
        origin,
        DbTime(user.created_at),
        DbTime(user.updated_at),
        db_time(user.archived_at),
        scim_json(user),
        folded_scim_json(&user.scim_attributes),
    ];
    let mut statement = conn.prepare_cached(INSERT_USER).map_err(|e| direct_failed(&e))?;
    statement.query_row(params, |row| row.get(0)).map_err(|e| direct_failed(&e))
}

/// Appends `prepared`, with user `target_id` as its target, after the batch's cached head, or after the stored
/// head when none is cached, and caches the new head. A trigger moves the stored head in the same statement
/// (migration 7).
pub(crate) fn append_audit(
    conn: &rusqlite::Connection,
    head: &mut AuditHead,
    prepared: &PreparedEntry,
    target_id: i64,
) -> Result<(), StoreError> {
    // The entry without its changes, which are already serialised: cloning them would cost what preparing saved.
    let source = &prepared.entry;
    let entry = AuditEntry {
        created_at: source.created_at,
        actor_token_id: source.actor_token_id,
        actor_name: source.actor_name.clone(),
        action: source.action.clone(),
        target_type: source.target_type.clone(),
        target_id: Some(target_id.to_string()),
        changes: roster_domain::Changes::new(),
        request_id: source.request_id.clone(),
    };
    let (seq, prev_hash) = match head.take() {
        Some((seq, hash)) => (seq + 1, hash),
        None => conn
            .query_row(ADVANCE_AUDIT_HEAD, [], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
            .map_err(|e| direct_failed(&e))?,
    };
    let hash = entry.chain_hash_with_changes(seq, &prev_hash, &prepared.changes_json);

    let params = params![
        seq,
        DbTime(entry.created_at),
        entry.actor_token_id,
        entry.actor_name,
        entry.action,
        entry.target_type,
        entry.target_id,
        prepared.changes_json,
        entry.request_id,
        prev_hash,
        hash,
    ];
    run(conn, INSERT_AUDIT, params)?;
    *head = Some((seq, hash));
    Ok(())
}

pub(crate) fn run(conn: &rusqlite::Connection, sql: &str, params: impl rusqlite::Params) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(|e| direct_failed(&e))?;
    statement.execute(params).map_err(|e| direct_failed(&e))?;
    Ok(())
}
