//! The role catalogue, a user's roles, and role sync.

use roster_domain::user::{MAX_TEXT_LEN, check_text};
use roster_domain::{
    Change, Changes, FieldError, LifecycleState, RoleAssignment, RoleKey, RoleSource, RoleType, RoleTypeInput,
    RoleTypePatch, Scope, Timestamp, UserRef, ValidationErrors,
};
use roster_store::{Conn, StoreError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::users::{check_if_match, duplicate_grant};
use crate::Roster;

/// A requested direct grant, before validation. For the optional fields, `None` means "not given" and
/// `Some(None)` an explicit null.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRequest {
    pub key: RoleKey,
    pub approved_by: Option<Option<String>>,
    pub reason: Option<Option<String>>,
    pub expires_at: Option<Option<Timestamp>>,
    /// The source the client sent; grants from other sources are kept by their source and ignored by sync.
    pub source: Option<String>,
}

/// A grant checked against the catalogue.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedGrant {
    request: RoleRequest,
    role_type: RoleType,
}

impl ValidatedGrant {
    /// Builds the stored grant; fields the request left out come from `existing` or else the defaults.
    pub(crate) fn to_assignment(&self, actor: &Actor, now: Timestamp, existing: Option<&RoleAssignment>) -> RoleAssignment {
        let approved_by = match &self.request.approved_by {
            Some(Some(name)) => Some(name.clone()),
            _ => existing.and_then(|e| e.approved_by.clone()).or_else(|| Some(actor.name.clone())),
        };
        let reason = match &self.request.reason {
            Some(reason) => reason.clone(),
            None => existing.and_then(|e| e.reason.clone()),
        };
        let expires_at = match &self.request.expires_at {
            Some(expires_at) => *expires_at,
            None => existing.and_then(|e| e.expires_at),
        };

        RoleAssignment {
            key: self.request.key.clone(),
            role_type_name: self.role_type.name.clone(),
            source: RoleSource::Direct,
            approved_by,
            reason,
            expires_at,
            granted_at: existing.map_or(now, |e| e.granted_at),
        }
    }
}

/// The result of a role sync: the new direct set and the diff against the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// Every role the user holds afterwards (or would hold, on a dry run).
    pub roles: Vec<RoleAssignment>,
    pub added: Vec<RoleAssignment>,
    pub removed: Vec<RoleAssignment>,
    pub unchanged: Vec<RoleAssignment>,
    /// Grants whose key stays but whose approver, reason or expiry changes.
    pub updated: Vec<RoleAssignment>,
    /// Every role the user held before.
    pub previous: Vec<RoleAssignment>,
    pub dry_run: bool,
    /// The user's version afterwards, for the ETag.
    pub version: i64,
}

/// The catalogue.
pub type RoleTypeList = Vec<RoleType>;

/// The catalogue a new database starts with: (name, category, resource type, description).
const DEFAULT_CATALOGUE: &[(&str, &str, Option<&str>, &str)] = &[
    ("user_admin", "global", None, "Manages users and their roles"),
    ("developer", "global", None, "Builds and operates the organisation's applications"),
    ("stakeholder", "global", None, "Reads reports and status"),
    ("workspace_manager", "workspace", Some("workspace"), "Manages one workspace and its members"),
    ("workspace_runbook_creator", "workspace", Some("workspace"), "Creates runbooks in one workspace"),
    ("workspace_member", "workspace", Some("workspace"), "Works in one workspace"),
    ("runbook_admin", "runbook", Some("runbook"), "Administers one runbook"),
    ("runbook_editor", "runbook", Some("runbook"), "Edits one runbook"),
];

fn grant_json(roles: &[RoleAssignment]) -> Value {
    Value::Array(roles.iter().map(RoleAssignment::to_json).collect())
}

fn same_terms(a: &RoleAssignment, b: &RoleAssignment) -> bool {
    a.approved_by == b.approved_by && a.reason == b.reason && a.expires_at == b.expires_at
}

impl Roster {
    /// Checks requested direct grants against the catalogue and each other, skipping entries of another source.
    /// Errors point at `{pointer}/{index}/...`, with the index counting every entry.
    pub(crate) async fn validate_grants(
        &self,
        conn: &mut Conn,
        requests: &[RoleRequest],
        pointer: &str,
        now: Timestamp,
    ) -> Result<Vec<ValidatedGrant>> {
        let mut errors = ValidationErrors::default();
        let mut grants = Vec::with_capacity(requests.len());
        let mut seen = BTreeSet::new();
        let mut catalogue: BTreeMap<i64, Option<RoleType>> = BTreeMap::new();

        for (index, request) in requests.iter().enumerate() {
            if request.source.as_deref().is_some_and(|source| source != "direct") {
                continue;
            }
            let at = format!("{pointer}/{index}");
            if let std::collections::btree_map::Entry::Vacant(slot) = catalogue.entry(request.key.role_type_id) {
                slot.insert(conn.role_type_by_id(request.key.role_type_id).await?);
            }
            let Some(Some(role_type)) = catalogue.get(&request.key.role_type_id) else {
                errors.push(FieldError::new(
                    format!("{at}/role_type_id"),
                    "not_found",
                    format!(
                        "role type {} does not exist; GET /core/role_types lists the catalogue",
                        request.key.role_type_id
                    ),
                ));
                continue;
            };

            if let Err(found) = request.key.validate_against(role_type) {
                found.0.into_iter().for_each(|e| errors.push(e.nested(&at)));
                continue;
            }
            if !seen.insert(request.key.clone()) {
                errors.push(duplicate_grant(&at));
                continue;
            }
            if let Some(Some(expires_at)) = request.expires_at
                && expires_at <= now
            {
                errors.push(FieldError::new(
                    format!("{at}/expires_at"),
                    "invalid",
                    format!("{expires_at} is in the past; give a future time or leave expires_at out"),
                ));
            }
            for (field, value) in [("approved_by", &request.approved_by), ("reason", &request.reason)] {
                if let Some(Some(text)) = value
                    && let Err(e) = check_text(field, text, if field == "reason" { 1000 } else { MAX_TEXT_LEN })
                {
                    errors.push(e.nested(&at));
                }
            }

            grants.push(ValidatedGrant { request: request.clone(), role_type: role_type.clone() });
        }

        errors.into_result()?;
        Ok(grants)
    }

    /// Lists a user's role assignments. Requires `users:read`.
    pub async fn user_roles(&self, actor: &Actor, user_ref: &UserRef) -> Result<(i64, Vec<RoleAssignment>)> {
        actor.require(Scope::UsersRead)?;

        let mut conn = self.store.read().await?;
        let user = self.load_user(&mut conn, user_ref, false).await?;
        let roles = conn.user_assignments(user.id).await?;

        Ok((user.version, roles))
    }

    /// Lists the groups of several users, as (group id, display name), in one query. Requires `users:read`.
    pub async fn groups_of_users(&self, actor: &Actor, user_ids: &[i64]) -> Result<HashMap<i64, Vec<(i64, String)>>> {
        actor.require(Scope::UsersRead)?;

        let mut conn = self.store.read().await?;
        Ok(conn.groups_of_users(user_ids).await?)
    }

    /// Makes the user's direct grants equal `desired`, all or nothing. Requested grants with another source are
    /// ignored, because their source keeps them. Requires `roles:write`.
    pub async fn sync_roles(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        desired: Vec<RoleRequest>,
        dry_run: bool,
        if_match: Option<i64>,
    ) -> Result<SyncOutcome> {
        actor.require(Scope::RolesWrite)?;

        let attempt = || self.try_sync_roles(actor, user_ref, &desired, dry_run, if_match);

        crate::retry_while_changed("user", "role sync", attempt).await
    }

    async fn try_sync_roles(
        &self,
        actor: &Actor,
        user_ref: &UserRef,
        desired: &[RoleRequest],
        dry_run: bool,
        if_match: Option<i64>,
    ) -> Result<Option<SyncOutcome>> {
        let now = self.clock.now();

        let mut conn = if dry_run { self.store.read().await? } else { self.store.begin().await? };
        let user = self.load_user(&mut conn, user_ref, false).await?;
        check_if_match(if_match, user.version)?;
        if matches!(user.status, LifecycleState::Pending) {
            return Err(ServiceError::Conflict {
                code: "invalid_state",
                message: format!("user {} is pending and holds no roles until it starts", user.id),
                details: Value::Null,
            });
        }
        let grants = self.validate_grants(&mut conn, desired, "data", now).await?;
        let previous = conn.user_assignments(user.id).await?;

        let current: BTreeMap<RoleKey, RoleAssignment> = previous
            .iter()
            .filter(|a| a.source == RoleSource::Direct)
            .map(|a| (a.key.clone(), a.clone()))
            .collect();
        let mut outcome = SyncOutcome {
            roles: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
            unchanged: Vec::new(),
            updated: Vec::new(),
            previous: previous.clone(),
            dry_run,
            version: user.version,
        };
        let wanted: BTreeSet<RoleKey> = grants.iter().map(|g| g.request.key.clone()).collect();
        for grant in &grants {
            let existing = current.get(&grant.request.key);
            let assignment = grant.to_assignment(actor, now, existing);
            match existing {
                None => outcome.added.push(assignment),
                Some(old) if same_terms(old, &assignment) => outcome.unchanged.push(assignment),
                Some(_) => outcome.updated.push(assignment),
            }
        }
        outcome.removed = current.values().filter(|a| !wanted.contains(&a.key)).cloned().collect();

        let mut after: Vec<RoleAssignment> = previous
            .iter()
            .filter(|a| a.source != RoleSource::Direct)
            .cloned()
            .chain(outcome.added.iter().cloned())
            .chain(outcome.updated.iter().cloned())
            .chain(outcome.unchanged.iter().cloned())
            .collect();
        after.sort_by(|a, b| (&a.key, a.source.kind()).cmp(&(&b.key, b.source.kind())));
        outcome.roles = after;

        let changed = !(outcome.added.is_empty() && outcome.removed.is_empty() && outcome.updated.is_empty());
        if dry_run || !changed {
            return Ok(Some(outcome));
        }
        if user.status == LifecycleState::Archived {
            return Err(ServiceError::Conflict {
                code: "invalid_state",
                message: format!("user {} is archived; unarchive it before granting roles", user.id),
                details: Value::Null,
            });
        }

        if !conn.touch_user(user.id, user.version, now).await? {
            return match if_match {
                Some(expected) => Err(ServiceError::PreconditionFailed { expected: expected.to_string() }),
                None => Ok(None),
            };
        }
        outcome.version = user.version + 1;
        for grant in outcome.removed.iter().chain(outcome.updated.iter()) {
            conn.delete_assignment(user.id, &grant.key, &RoleSource::Direct).await?;
        }
        for grant in outcome.added.iter().chain(outcome.updated.iter()) {
            conn.insert_assignment(user.id, grant).await?;
            self.schedule_expiry(&mut conn, user.id, grant, actor).await?;
        }

        let direct_before: Vec<RoleAssignment> = current.values().cloned().collect();
        let direct_after: Vec<RoleAssignment> =
            outcome.roles.iter().filter(|a| a.source == RoleSource::Direct).cloned().collect();
        let mut changes = Changes::new();
        changes.insert("roles".into(), Change { before: grant_json(&direct_before), after: grant_json(&direct_after) });
        conn.append_audit(&self.audit_entry(actor, "user.roles_sync", "user", Some(user.id.to_string()), changes))
            .await?;
        conn.commit().await?;

        tracing::info!(
            user_id = user.id,
            added = outcome.added.len(),
            removed = outcome.removed.len(),
            updated = outcome.updated.len(),
            "synced roles"
        );
        Ok(Some(outcome))
    }

    /// Lists the role catalogue. Requires `users:read`.
    pub async fn list_role_types(&self, actor: &Actor) -> Result<RoleTypeList> {
        actor.require(Scope::UsersRead)?;

        let mut conn = self.store.read().await?;
        Ok(conn.list_role_types().await?)
    }

    /// Adds a role type to the catalogue. Requires `admin`.
    pub async fn create_role_type(&self, actor: &Actor, input: RoleTypeInput) -> Result<RoleType> {
        actor.require(Scope::Admin)?;
        input.validate()?;

        let mut conn = self.store.begin().await?;
        let role_type = self.insert_role_type(&mut conn, actor, input).await?;
        conn.commit().await?;

        Ok(role_type)
    }

    async fn insert_role_type(&self, conn: &mut Conn, actor: &Actor, input: RoleTypeInput) -> Result<RoleType> {
        let now = self.clock.now();
        let mut role_type = RoleType {
            id: 0,
            name: input.name,
            description: input.description,
            category: input.category,
            resource_type: input.resource_type,
            created_at: now,
            updated_at: now,
        };
        role_type.id = conn.insert_role_type(&role_type).await?;

        let after = role_type_json(&role_type);
        let changes = roster_domain::audit::diff(&serde_json::Map::new(), &after);
        conn.append_audit(&self.audit_entry(actor, "role_type.create", "role_type", Some(role_type.id.to_string()), changes))
            .await?;
        Ok(role_type)
    }

    /// Renames or redescribes a role type. Requires `admin`.
    pub async fn update_role_type(&self, actor: &Actor, id: i64, patch: RoleTypePatch) -> Result<RoleType> {
        actor.require(Scope::Admin)?;
        if let Some(name) = &patch.name {
            check_text("name", name, MAX_TEXT_LEN)?;
        }

        let mut conn = self.store.begin().await?;
        let current = conn.role_type_by_id(id).await?.ok_or_else(|| ServiceError::not_found("role type", id))?;
        let mut next = current.clone();
        if let Some(name) = patch.name {
            next.name = name;
        }
        if let Some(description) = patch.description {
            next.description = description;
        }
        if let Some(category) = patch.category {
            next.category = category;
        }
        let changes = roster_domain::audit::diff(&role_type_json(&current), &role_type_json(&next));
        if changes.is_empty() {
            return Ok(current);
        }

        next.updated_at = self.clock.now();
        conn.update_role_type(&next).await?;
        conn.append_audit(&self.audit_entry(actor, "role_type.update", "role_type", Some(id.to_string()), changes))
            .await?;
        conn.commit().await?;

        Ok(next)
    }

    /// Removes a role type nobody holds. Requires `admin`.
    pub async fn delete_role_type(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Scope::Admin)?;

        let mut conn = self.store.begin().await?;
        let current = conn.role_type_by_id(id).await?.ok_or_else(|| ServiceError::not_found("role type", id))?;
        let holders = conn.count_role_type_holders(id).await?;
        if holders > 0 {
            return Err(ServiceError::Conflict {
                code: "role_type_in_use",
                message: format!(
                    "role type '{}' is still assigned to {holders} user(s); remove those assignments first",
                    current.name
                ),
                details: serde_json::json!({ "users_holding": holders }),
            });
        }

        match conn.delete_role_type(id).await {
            Ok(()) => {}
            Err(StoreError::ForeignKey) => {
                return Err(ServiceError::Conflict {
                    code: "role_type_in_use",
                    message: format!("role type '{}' is still referenced; remove its assignments first", current.name),
                    details: Value::Null,
                });
            }
            Err(other) => return Err(other.into()),
        }
        let changes = roster_domain::audit::diff(&role_type_json(&current), &serde_json::Map::new());
        conn.append_audit(&self.audit_entry(actor, "role_type.delete", "role_type", Some(id.to_string()), changes))
            .await?;
        conn.commit().await?;

        Ok(())
    }

    /// Inserts the default catalogue; called once, when the database is bootstrapped.
    pub(crate) async fn seed_catalogue(&self, conn: &mut Conn, actor: &Actor) -> Result<()> {
        for (name, category, resource_type, description) in DEFAULT_CATALOGUE {
            let input = RoleTypeInput {
                name: (*name).into(),
                description: Some((*description).into()),
                category: Some((*category).into()),
                resource_type: resource_type.map(String::from),
            };
            self.insert_role_type(conn, actor, input).await?;
        }
        Ok(())
    }
}

fn role_type_json(role_type: &RoleType) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("name".into(), role_type.name.clone().into());
    map.insert("description".into(), role_type.description.clone().map_or(Value::Null, Into::into));
    map.insert("category".into(), role_type.category.clone().map_or(Value::Null, Into::into));
    map.insert("resource_type".into(), role_type.resource_type.clone().map_or(Value::Null, Into::into));
    map
}
