//! Users: create, read, list, update, archive and restore.

use roster_domain::filter::{Filter, Sort};
use roster_domain::{
    Change, Changes, FieldError, LifecycleState, NewUser, RoleAssignment, RoleSource, Scope, Timestamp, User,
    UserPatch, UserRef, audit::diff,
};
use roster_store::{Conn, CreateOutcome, NewUserRecord, Page, UserQuery};
use std::collections::HashMap;

pub use roster_store::{PageExtras, sort_value};
use serde_json::Value;

use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::roles::{RoleRequest, ValidatedGrant};
use crate::Roster;

/// A user with the roles it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct UserWithRoles {
    pub user: User,
    pub roles: Vec<RoleAssignment>,
}

/// A list request from any door.
#[derive(Debug, Clone)]
pub struct UserListRequest {
    pub filter: Filter,
    pub sort: Sort,
    pub limit: u32,
    pub page: Page,
    /// The extras to read beside the users: the total number of matches, their roles, their groups.
    pub extras: PageExtras,
}

/// One page of users.
#[derive(Debug, Clone, Default)]
pub struct UserList {
    pub users: Vec<User>,
    pub total: Option<i64>,
    /// The roles of each user that has any, when requested.
    pub roles: HashMap<i64, Vec<RoleAssignment>>,
    /// (group id, display name) of each user in any group, in group id order, when requested.
    pub groups: HashMap<i64, Vec<(i64, String)>>,
}

pub(crate) fn status_change(before: LifecycleState, after: LifecycleState) -> Change {
    Change { before: before.as_str().into(), after: after.as_str().into() }
}

pub(crate) fn roles_json(roles: &[RoleAssignment]) -> Value {
    Value::Array(roles.iter().map(RoleAssignment::to_json).collect())
}

impl Roster {
    /// Loads a user by id or email; archived users count as missing unless `include_archived` is set, and deleted
    /// users always do.
    pub(crate) async fn load_user(&self, conn: &mut Conn, user_ref: &UserRef, include_archived: bool) -> Result<User> {
        let user = match user_ref {
            UserRef::Id(id) => conn.user_by_id(*id).await?,
            UserRef::Email(email) => conn.user_by_email(email).await?,
        };
        match user {
            Some(user) if include_archived || user.status != LifecycleState::Archived => Ok(user),
            _ => Err(ServiceError::not_found("user", user_ref)),
        }
    }

    async fn check_manager(&self, conn: &mut Conn, manager_id: Option<i64>, user_id: Option<i64>) -> Result<()> {
        let Some(manager_id) = manager_id else { return Ok(()) };
        if Some(manager_id) == user_id {
            return Err(ServiceError::field("manager_id", "invalid", "a user cannot be their own manager"));
        }
        if !conn.user_exists(manager_id).await? {
            return Err(missing_manager(manager_id));
        }
        Ok(())
    }

    /// Creates a user and its direct roles in one transaction. Requires `users:write`, and `roles:write` when
    /// roles are given.
    pub async fn create_user(&self, actor: &Actor, new: NewUser, roles: Vec<RoleRequest>) -> Result<UserWithRoles> {
        actor.require(Scope::UsersWrite)?;
        if !roles.is_empty() {
            actor.require(Scope::RolesWrite)?;
        }
        new.validate()?;
        let now = self.clock.now();

        let user = new_user_record(&new, now);
        if roles.is_empty() {
            return self.create_user_without_roles(actor, &new, user).await;
        }

        let mut conn = self.store.begin().await?;
        self.check_manager(&mut conn, new.manager_id, None).await?;
        let grants = self.validate_grants(&mut conn, &roles, "roles_attributes", now).await?;

        let mut user = user;
        user.id = conn.insert_user(&user, "api").await.map_err(|e| taken_on_create(e, &new))?;
        let assignments = self.insert_grants(&mut conn, user.id, &grants, actor, now).await?;

        let mut changes = diff(&serde_json::Map::new(), &user.attributes_json());
        if !assignments.is_empty() {
            changes.insert("roles".into(), Change { before: Value::Array(vec![]), after: roles_json(&assignments) });
        }
        conn.append_audit(&self.audit_entry(actor, "user.create", "user", Some(user.id.to_string()), changes)).await?;
        conn.commit().await?;

        tracing::info!(user_id = user.id, roles = assignments.len(), "created user");
        Ok(UserWithRoles { user, roles: self.user_roles_view(assignments) })
    }

    /// Creates a user that has no roles in one store call, which on SQLite joins a batch of such writes instead of
    /// costing a round trip to the writer per statement. Its audit entry is prepared before the write.
    async fn create_user_without_roles(&self, actor: &Actor, new: &NewUser, user: User) -> Result<UserWithRoles> {
        let changes = diff(&serde_json::Map::new(), &user.attributes_json());
        let audit = self.audit_entry(actor, "user.create", "user", None, changes).prepare();

        let record = NewUserRecord { user, origin: "api", audit };
        let (outcome, mut user) = self.store.create_user(record).await.map_err(|e| taken_on_create(e, new))?;
        let CreateOutcome::Created(id) = outcome else {
            return Err(missing_manager(new.manager_id.unwrap_or_default()));
        };

        user.id = id;
        tracing::info!(user_id = user.id, roles = 0, "created user");
        Ok(UserWithRoles { user, roles: Vec::new() })
    }

    /// Loads a user with its roles. Requires `users:read`.
    pub async fn get_user(&self, actor: &Actor, user_ref: &UserRef, include_archived: bool) -> Result<UserWithRoles> {
        actor.require(Scope::UsersRead)?;

        let found = match user_ref {
            UserRef::Id(id) => self.store.user_with_grants_by_id(*id).await?,
            UserRef::Email(email) => self.store.user_with_grants_by_email(email).await?,
        };

        match found {
            Some((user, roles)) if include_archived || user.status != LifecycleState::Archived => {
                Ok(UserWithRoles { user, roles })
            }
            Some(_) => Err(ServiceError::NotFound {
                resource: "user",
                id: user_ref.to_string(),
                hint: Some("it is archived; add archived=true to read it"),
            }),
            None => Err(ServiceError::not_found("user", user_ref)),
        }
    }

    /// Lists users. Requires `users:read`.
    pub async fn list_users(&self, actor: &Actor, request: UserListRequest) -> Result<UserList> {
        actor.require(Scope::UsersRead)?;

        let query = UserQuery { filter: request.filter, sort: request.sort, limit: request.limit, page: request.page };
        let page = self.store.user_page(&query, request.extras).await?;

        Ok(UserList { users: page.users, total: page.total, roles: page.grants, groups: page.groups })
    }

    /// Applies a partial update. With `if_match`, a stale version fails with 412 and changes nothing; without it,
    /// a concurrent change is retried on the fresh row. Requires `users:write`.
    pub async fn update_user(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        patch: UserPatch,
        if_match: Option<i64>,
    ) -> Result<UserWithRoles> {
        self.update_user_in_states(actor, user_ref, patch, if_match, false).await
    }

    /// Applies a partial update as [`Roster::update_user`] does, and also to an archived user. SCIM needs this
    /// because an identity provider keeps managing the attributes of a user it has deactivated. Requires
    /// `users:write`.
    pub async fn update_user_including_archived(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        patch: UserPatch,
        if_match: Option<i64>,
    ) -> Result<UserWithRoles> {
        self.update_user_in_states(actor, user_ref, patch, if_match, true).await
    }

    async fn update_user_in_states(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        patch: UserPatch,
        if_match: Option<i64>,
        include_archived: bool,
    ) -> Result<UserWithRoles> {
        actor.require(Scope::UsersWrite)?;

        let attempt = || self.try_update_user(actor, user_ref, &patch, if_match, include_archived);

        crate::retry_while_changed("user", "update", attempt).await
    }

    async fn try_update_user(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        patch: &UserPatch,
        if_match: Option<i64>,
        include_archived: bool,
    ) -> Result<Option<UserWithRoles>> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = self.load_user(&mut conn, user_ref, include_archived).await?;
        check_if_match(if_match, current.version)?;
        if let Some(Some(manager_id)) = patch.manager_id {
            self.check_manager(&mut conn, Some(manager_id), Some(current.id)).await?;
        }

        let mut next = patch.apply_to(&current);
        UserPatch::validate_result(&next)?;
        let changes = diff(&current.attributes_json(), &next.attributes_json());
        let roles = conn.user_assignments(current.id).await?;
        if changes.is_empty() {
            return Ok(Some(UserWithRoles { user: current, roles }));
        }

        next.updated_at = now;
        if !conn.update_user(&next, current.version).await? {
            return match if_match {
                Some(expected) => Err(ServiceError::PreconditionFailed { expected: expected.to_string() }),
                None => Ok(None),
            };
        }
        next.version = current.version + 1;
        conn.append_audit(&self.audit_entry(actor, "user.update", "user", Some(next.id.to_string()), changes)).await?;
        conn.commit().await?;

        tracing::info!(user_id = next.id, "updated user");
        Ok(Some(UserWithRoles { user: next, roles }))
    }

    /// Archives a user: in one transaction it snapshots the attributes and roles, removes every role assignment,
    /// disables the user's tokens and records the change. Archiving an archived user changes nothing. Requires
    /// `users:write`.
    pub async fn archive_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<()> {
        actor.require(Scope::UsersWrite)?;

        let attempt = || async { Ok(self.try_archive_user(actor, user_ref).await?.then_some(())) };

        crate::retry_while_changed("user", "archive", attempt).await
    }

    async fn try_archive_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<bool> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = self.load_user(&mut conn, user_ref, true).await?;
        if current.status == LifecycleState::Archived {
            return Ok(true);
        }

        let Some(changes) = self.archive_in_tx(&mut conn, &current, now).await? else {
            return Ok(false);
        };
        conn.append_audit(&self.audit_entry(actor, "user.archive", "user", Some(current.id.to_string()), changes))
            .await?;
        conn.commit().await?;

        tracing::info!(user_id = current.id, "archived user");
        Ok(true)
    }

    /// Archives a user that is not archived inside the caller's transaction: snapshot, roles removed, tokens
    /// disabled. Returns the changes for the audit entry the caller writes, or `None` when the user's version
    /// moved on, so the caller retries or reports the user as changed.
    pub(crate) async fn archive_in_tx(&self, conn: &mut Conn, current: &User, now: Timestamp) -> Result<Option<Changes>> {
        let mut next = current.clone();
        next.status = LifecycleState::Archived;
        next.archived_at = Some(now);
        next.updated_at = now;
        if !conn.update_user(&next, current.version).await? {
            return Ok(None);
        }

        let roles = conn.user_assignments(current.id).await?;
        let attributes = Value::Object(current.attributes_json());
        conn.insert_snapshot(current.id, now, &attributes, &roles_json(&roles)).await?;
        conn.delete_user_assignments(current.id).await?;
        let disabled = conn.disable_user_tokens(current.id, now).await?;

        let mut changes = Changes::new();
        changes.insert("status".into(), status_change(current.status, LifecycleState::Archived));
        changes.insert("roles".into(), Change { before: roles_json(&roles), after: Value::Array(vec![]) });
        if !disabled.is_empty() {
            changes.insert(
                "disabled_token_ids".into(),
                Change { before: Value::Null, after: Value::Array(disabled.iter().map(|id| (*id).into()).collect()) },
            );
        }
        Ok(Some(changes))
    }

    /// Restores an archived user. With `restore_roles` it reapplies the snapshot's direct roles exactly. A role
    /// type that no longer exists fails the whole restore with 409 unless `skip_missing_role_types` is set.
    /// Tokens disabled by the archive stay disabled. Requires `users:write`, and `roles:write` to restore roles.
    pub async fn unarchive_user(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        restore_roles: bool,
        skip_missing_role_types: bool,
    ) -> Result<UserWithRoles> {
        actor.require(Scope::UsersWrite)?;
        if restore_roles {
            actor.require(Scope::RolesWrite)?;
        }

        let attempt = || self.try_unarchive_user(actor, user_ref, restore_roles, skip_missing_role_types);

        crate::retry_while_changed("user", "unarchive", attempt).await
    }

    async fn try_unarchive_user(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        restore_roles: bool,
        skip_missing: bool,
    ) -> Result<Option<UserWithRoles>> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = self.load_user(&mut conn, user_ref, true).await?;
        if current.status != LifecycleState::Archived {
            let roles = conn.user_assignments(current.id).await?;
            return Ok(Some(UserWithRoles { user: current, roles }));
        }
        let snapshot = conn.latest_snapshot(current.id).await?;
        let (grants, missing) = match (&snapshot, restore_roles) {
            (Some(snapshot), true) => self.snapshot_grants(&mut conn, &snapshot.roles).await?,
            _ => (Vec::new(), Vec::new()),
        };
        if !missing.is_empty() && !skip_missing {
            return Err(ServiceError::Conflict {
                code: "missing_role_types",
                message: format!(
                    "the snapshot holds {} role type(s) that no longer exist; restore without them by sending \
                     {{\"meta\": {{\"restore_roles\": true, \"skip_missing_role_types\": true}}}}",
                    missing.len()
                ),
                details: serde_json::json!({ "missing_role_types": missing }),
            });
        }

        let mut next = current.clone();
        next.status = LifecycleState::Active;
        next.archived_at = None;
        next.updated_at = now;
        if !conn.update_user(&next, current.version).await? {
            return Ok(None);
        }
        next.version = current.version + 1;

        for grant in &grants {
            conn.insert_assignment(current.id, grant).await?;
            self.schedule_expiry(&mut conn, current.id, grant, actor).await?;
        }
        self.regrant_user_groups(&mut conn, current.id, now).await?;
        if let (Some(snapshot), true) = (&snapshot, restore_roles) {
            conn.mark_snapshot_restored(snapshot.id, now).await?;
        }

        let mut changes = Changes::new();
        changes.insert("status".into(), status_change(current.status, LifecycleState::Active));
        if !grants.is_empty() {
            changes.insert("roles".into(), Change { before: Value::Array(vec![]), after: roles_json(&grants) });
        }
        if !missing.is_empty() {
            changes.insert("skipped_role_types".into(), Change { before: Value::Null, after: Value::Array(missing) });
        }
        conn.append_audit(&self.audit_entry(actor, "user.unarchive", "user", Some(current.id.to_string()), changes))
            .await?;
        let roles = conn.user_assignments(current.id).await?;
        conn.commit().await?;

        tracing::info!(user_id = current.id, roles = roles.len(), "unarchived user");
        Ok(Some(UserWithRoles { user: next, roles }))
    }

    /// Activates a pending or suspended user, giving it its groups' grants; an active user is left as it is, and
    /// an archived one must be restored with [`Roster::unarchive_user`]. Requires `users:write`.
    pub async fn activate_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<UserWithRoles> {
        actor.require(Scope::UsersWrite)?;

        crate::retry_while_changed("user", "activation", || self.try_activate_user(actor, user_ref)).await
    }

    async fn try_activate_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<Option<UserWithRoles>> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = self.load_user(&mut conn, user_ref, true).await?;
        if !matches!(current.status, LifecycleState::Pending | LifecycleState::Suspended) {
            let roles = conn.user_assignments(current.id).await?;
            return Ok(Some(UserWithRoles { user: current, roles }));
        }

        let mut next = current.clone();
        next.status = LifecycleState::Active;
        next.updated_at = now;
        if !conn.update_user(&next, current.version).await? {
            return Ok(None);
        }
        next.version = current.version + 1;
        self.regrant_user_groups(&mut conn, current.id, now).await?;

        let mut changes = Changes::new();
        changes.insert("status".into(), status_change(current.status, LifecycleState::Active));
        conn.append_audit(&self.audit_entry(actor, "user.activate", "user", Some(current.id.to_string()), changes))
            .await?;
        let roles = conn.user_assignments(current.id).await?;
        conn.commit().await?;

        tracing::info!(user_id = current.id, "activated user");
        Ok(Some(UserWithRoles { user: next, roles }))
    }

    /// Deletes a user as SCIM `DELETE` does: in one transaction it archives the user (snapshot, roles removed,
    /// tokens disabled), removes it from every group and marks it deleted, which releases its unique keys.
    /// From then on it exists only in the audit trail. Requires `users:write`.
    pub async fn delete_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<()> {
        actor.require(Scope::UsersWrite)?;

        let attempt = || async { Ok(self.try_delete_user(actor, user_ref).await?.then_some(())) };

        crate::retry_while_changed("user", "delete", attempt).await
    }

    async fn try_delete_user(&self, actor: &Actor, user_ref: &UserRef) -> Result<bool> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = self.load_user(&mut conn, user_ref, true).await?;
        if !conn.mark_user_deleted(current.id, current.version, now).await? {
            return Ok(false);
        }

        let roles = conn.user_assignments(current.id).await?;
        if current.status != LifecycleState::Archived {
            let attributes = Value::Object(current.attributes_json());
            conn.insert_snapshot(current.id, now, &attributes, &roles_json(&roles)).await?;
        }
        conn.delete_user_assignments(current.id).await?;
        let disabled = conn.disable_user_tokens(current.id, now).await?;
        let groups = conn.remove_user_from_groups(current.id).await?;

        let mut changes = Changes::new();
        changes.insert("status".into(), status_change(current.status, LifecycleState::Deleted));
        if !roles.is_empty() {
            changes.insert("roles".into(), Change { before: roles_json(&roles), after: Value::Array(vec![]) });
        }
        if !groups.is_empty() {
            let ids = Value::Array(groups.iter().map(|id| (*id).into()).collect());
            changes.insert("groups_left".into(), Change { before: ids, after: Value::Null });
        }
        if !disabled.is_empty() {
            let ids = Value::Array(disabled.iter().map(|id| (*id).into()).collect());
            changes.insert("disabled_token_ids".into(), Change { before: Value::Null, after: ids });
        }
        conn.append_audit(&self.audit_entry(actor, "user.delete", "user", Some(current.id.to_string()), changes))
            .await?;
        conn.commit().await?;

        tracing::info!(user_id = current.id, "deleted user");
        Ok(true)
    }

    /// Reads the direct grants of a snapshot, split into those whose role type still exists and a description
    /// of each missing role type.
    async fn snapshot_grants(&self, conn: &mut Conn, roles: &Value) -> Result<(Vec<RoleAssignment>, Vec<Value>)> {
        let mut grants = Vec::new();
        let mut missing = Vec::new();

        for item in roles.as_array().map(Vec::as_slice).unwrap_or_default() {
            let Some(grant) = assignment_from_json(item) else {
                return Err(ServiceError::Internal("a snapshot contains an unreadable role entry".into()));
            };
            if grant.source != RoleSource::Direct {
                continue;
            }
            match conn.role_type_by_id(grant.key.role_type_id).await? {
                Some(role_type) => grants.push(RoleAssignment { role_type_name: role_type.name, ..grant }),
                None => missing.push(serde_json::json!({
                    "role_type_id": grant.key.role_type_id,
                    "role_type_name": grant.role_type_name,
                })),
            }
        }
        missing.dedup();

        Ok((grants, missing))
    }

    /// Inserts validated direct grants for a new user, with the actor as the default approver.
    async fn insert_grants(
        &self,
        conn: &mut Conn,
        user_id: i64,
        grants: &[ValidatedGrant],
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Vec<RoleAssignment>> {
        let mut assignments = Vec::with_capacity(grants.len());
        for grant in grants {
            let assignment = grant.to_assignment(actor, now, None);
            conn.insert_assignment(user_id, &assignment).await?;
            self.schedule_expiry(conn, user_id, &assignment, actor).await?;
            assignments.push(assignment);
        }
        Ok(assignments)
    }

    fn user_roles_view(&self, mut roles: Vec<RoleAssignment>) -> Vec<RoleAssignment> {
        roles.sort_by(|a, b| a.key.cmp(&b.key));
        roles
    }
}

/// Returns the error for a manager id that names no user, or a deleted one.
fn missing_manager(manager_id: i64) -> ServiceError {
    ServiceError::field("manager_id", "not_found", format!("user {manager_id} does not exist; give the id of an existing user"))
}

/// Builds the active user that `new` describes, before the store gives it an id.
fn new_user_record(new: &NewUser, now: Timestamp) -> User {
    User {
        id: 0,
        first_name: new.first_name.clone(),
        last_name: new.last_name.clone(),
        email: new.email.as_ref().map(|e| e.as_str().to_string()),
        user_name: new.effective_user_name().map(|u| u.as_str().to_string()).unwrap_or_default(),
        unique_id: new.unique_id.clone(),
        external_id: new.external_id.clone(),
        mobile_number: new.mobile_number.clone(),
        job_title: new.job_title.clone(),
        department: new.department.clone(),
        manager_id: new.manager_id,
        start_date: new.start_date,
        end_date: new.end_date,
        custom_attributes: new.custom_attributes.clone(),
        scim_attributes: new.scim_attributes.clone(),
        status: LifecycleState::Active,
        version: 1,
        created_at: now,
        updated_at: now,
        archived_at: None,
    }
}

/// Maps a unique violation on insert to the field the client sent. When the user name defaulted from the email
/// and both collide, SQLite reports the user name's index and PostgreSQL the email's, so both name the email.
fn taken_on_create(error: roster_store::StoreError, new: &NewUser) -> ServiceError {
    match ServiceError::from(error) {
        ServiceError::Taken { field: "user_name" } if new.user_name.is_none() => ServiceError::Taken { field: "email" },
        other => other,
    }
}

/// Fails with 412 when the client's expected version is not the current one.
pub(crate) fn check_if_match(if_match: Option<i64>, current: i64) -> Result<()> {
    match if_match {
        Some(expected) if expected != current => Err(ServiceError::PreconditionFailed { expected: expected.to_string() }),
        _ => Ok(()),
    }
}

/// Parses a grant from its audit and snapshot form.
pub(crate) fn assignment_from_json(value: &Value) -> Option<RoleAssignment> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    let time = |key: &str| text(key).and_then(|t| Timestamp::parse(&t));

    Some(RoleAssignment {
        key: roster_domain::RoleKey {
            role_type_id: value.get("role_type_id")?.as_i64()?,
            resource_type: text("resource_type"),
            resource_id: text("resource_id"),
        },
        role_type_name: text("role_type_name").unwrap_or_default(),
        source: RoleSource::from_parts(&text("source")?, &text("source_ref").unwrap_or_default())?,
        approved_by: text("approved_by"),
        reason: text("reason"),
        expires_at: time("expires_at"),
        granted_at: time("granted_at")?,
    })
}

/// Builds the error for a grant listed twice in one request.
pub(crate) fn duplicate_grant(pointer: &str) -> FieldError {
    FieldError::new(
        pointer,
        "duplicate",
        "this role assignment is listed twice; list each (role_type_id, resource_type, resource_id) once",
    )
}
