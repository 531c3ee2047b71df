//! Groups: membership, and the role grants a group gives each active member.
//!
//! A group's grants are stored on each member as assignments with source `group` and the group's id, so a
//! member holds a role once per key however many sources grant it, and leaving the group revokes only the grants
//! that came from it.

use roster_domain::user::{MAX_TEXT_LEN, check_text};
use roster_domain::{
    Change, Group, GroupChange, GroupMember, LifecycleState, RoleAssignment, RoleKey, RoleSource,
    Scope, Timestamp, ValidationErrors,
};
use roster_store::{Conn, GroupQuery};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::users::check_if_match;
use crate::Roster;

/// A group with its members and the roles it grants.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupWithMembers {
    pub group: Group,
    pub members: Vec<GroupMember>,
    pub roles: Vec<RoleKey>,
}

/// One page of groups.
#[derive(Debug, Clone)]
pub struct GroupList {
    pub groups: Vec<GroupWithMembers>,
    pub total: i64,
}

/// A group to create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    pub scim_attributes: serde_json::Map<String, Value>,
    pub members: Vec<i64>,
    pub roles: Vec<RoleKey>,
}

/// Users in these states receive their groups' grants; pending users receive them when they start, and archived
/// or deleted users hold no roles.
fn receives_grants(state: LifecycleState) -> bool {
    matches!(state, LifecycleState::Active | LifecycleState::Suspended)
}

fn members_json(ids: &[i64]) -> Value {
    Value::Array(ids.iter().map(|id| Value::from(*id)).collect())
}

impl Roster {
    /// Creates a group with members and role grants. Requires `users:write`, and `roles:write` with roles.
    pub async fn create_group(&self, actor: &Actor, new: NewGroup) -> Result<GroupWithMembers> {
        actor.require(Scope::UsersWrite)?;
        if !new.roles.is_empty() {
            actor.require(Scope::RolesWrite)?;
        }
        check_text("displayName", &new.display_name, MAX_TEXT_LEN)?;
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        self.check_group_roles(&mut conn, &new.roles).await?;
        let mut group = Group {
            id: 0,
            display_name: new.display_name,
            external_id: new.external_id,
            scim_attributes: new.scim_attributes,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        group.id = conn.insert_group(&group).await?;
        conn.set_group_roles(group.id, &new.roles).await?;
        let members: Vec<i64> = new.members.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        for user_id in &members {
            self.join_group(&mut conn, &group, &new.roles, *user_id, now).await?;
        }

        let mut changes = roster_domain::audit::diff(&serde_json::Map::new(), &group_json(&group));
        changes.insert("members_added".into(), Change { before: Value::Null, after: members_json(&members) });
        if !new.roles.is_empty() {
            changes.insert("roles".into(), Change { before: Value::Null, after: keys_json(&new.roles) });
        }
        conn.append_audit(&self.audit_entry(actor, "group.create", "group", Some(group.id.to_string()), changes)).await?;
        let members = conn.group_members(group.id).await?;
        conn.commit().await?;

        tracing::info!(group_id = group.id, members = members.len(), "created group");
        Ok(GroupWithMembers { group, members, roles: new.roles })
    }

    /// Loads a group; with `include_members` also its members. Requires `users:read`.
    pub async fn get_group(&self, actor: &Actor, id: i64, include_members: bool) -> Result<GroupWithMembers> {
        actor.require(Scope::UsersRead)?;

        let mut conn = self.store.read().await?;
        let group = conn.group_by_id(id).await?.ok_or_else(|| ServiceError::not_found("group", id))?;
        let members = if include_members { conn.group_members(id).await? } else { Vec::new() };
        let roles = conn.group_roles(id).await?;

        Ok(GroupWithMembers { group, members, roles })
    }

    /// Lists groups. Requires `users:read`.
    pub async fn list_groups(&self, actor: &Actor, query: GroupQuery, include_members: bool) -> Result<GroupList> {
        actor.require(Scope::UsersRead)?;

        let mut conn = self.store.read().await?;
        let total = conn.count_groups(&query.filter).await?;
        let page = if query.limit == 0 { Vec::new() } else { conn.list_groups(&query).await? };
        let mut groups = Vec::with_capacity(page.len());
        for group in page {
            let members = if include_members { conn.group_members(group.id).await? } else { Vec::new() };
            let roles = conn.group_roles(group.id).await?;
            groups.push(GroupWithMembers { group, members, roles });
        }

        Ok(GroupList { groups, total })
    }

    /// Changes a group's attributes, members or roles in one transaction. Adding or removing a member touches only
    /// that member. Requires `users:write`, and `roles:write` to change roles.
    pub async fn modify_group(&self, actor: &Actor, id: i64, change: GroupChange, if_match: Option<i64>) -> Result<GroupWithMembers> {
        actor.require(Scope::UsersWrite)?;
        if change.roles.is_some() {
            actor.require(Scope::RolesWrite)?;
        }
        if let Some(name) = &change.display_name {
            check_text("displayName", name, MAX_TEXT_LEN)?;
        }

        crate::retry_while_changed("group", "modify", || self.try_modify_group(actor, id, &change, if_match)).await
    }

    async fn try_modify_group(
        &self,
        actor: &Actor,
        id: i64,
        change: &GroupChange,
        if_match: Option<i64>,
    ) -> Result<Option<GroupWithMembers>> {
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let current = conn.group_by_id(id).await?.ok_or_else(|| ServiceError::not_found("group", id))?;
        check_if_match(if_match, current.version)?;
        let mut next = current.clone();
        if let Some(name) = &change.display_name {
            next.display_name = name.clone();
        }
        if let Some(external_id) = &change.external_id {
            next.external_id = external_id.clone();
        }
        if let Some(attributes) = &change.scim_attributes {
            next.scim_attributes = attributes.clone();
        }
        let attributes_changed = next != current;
        // The version bump comes first because its row update also serialises concurrent changes of the group.
        // A change that turns out to change nothing is rolled back below.
        next.updated_at = now;
        if !conn.update_group(&next, current.version).await? {
            return Ok(None);
        }
        next.version = current.version + 1;

        let old_roles = conn.group_roles(id).await?;
        let roles = match &change.roles {
            Some(roles) if *roles != old_roles => {
                self.check_group_roles(&mut conn, roles).await?;
                conn.set_group_roles(id, roles).await?;
                roles.clone()
            }
            _ => old_roles.clone(),
        };
        let (to_add, to_remove) = self.membership_delta(&mut conn, id, change).await?;
        let mut added = Vec::new();
        for user_id in &to_add {
            if self.join_group(&mut conn, &next, &roles, *user_id, now).await? {
                added.push(*user_id);
            }
        }
        let mut removed = Vec::new();
        for user_id in &to_remove {
            if conn.remove_group_member(id, *user_id).await? {
                conn.delete_group_grants(*user_id, id).await?;
                removed.push(*user_id);
            }
        }
        if roles != old_roles {
            self.regrant_members(&mut conn, &next, &roles, now).await?;
        }

        // A request that changes nothing, such as a periodic sync sending the same name and members again, keeps
        // the version and writes no audit entry. Dropping the transaction rolls back the version bump.
        if !attributes_changed && added.is_empty() && removed.is_empty() && roles == old_roles {
            let members = conn.group_members(id).await?;
            drop(conn);
            return Ok(Some(GroupWithMembers { group: current, members, roles }));
        }

        let mut changes = roster_domain::audit::diff(&group_json(&current), &group_json(&next));
        if !added.is_empty() {
            changes.insert("members_added".into(), Change { before: Value::Null, after: members_json(&added) });
        }
        if !removed.is_empty() {
            changes.insert("members_removed".into(), Change { before: members_json(&removed), after: Value::Null });
        }
        if roles != old_roles {
            changes.insert("roles".into(), Change { before: keys_json(&old_roles), after: keys_json(&roles) });
        }
        conn.append_audit(&self.audit_entry(actor, "group.update", "group", Some(id.to_string()), changes)).await?;
        let members = conn.group_members(id).await?;
        conn.commit().await?;

        tracing::info!(group_id = id, added = added.len(), removed = removed.len(), "updated group");
        Ok(Some(GroupWithMembers { group: next, members, roles }))
    }

    /// Works out which users to add and remove, reading the current membership only for a full replacement.
    async fn membership_delta(&self, conn: &mut Conn, id: i64, change: &GroupChange) -> Result<(Vec<i64>, Vec<i64>)> {
        let mut add: BTreeSet<i64> = change.add_members.iter().copied().collect();
        let mut remove: BTreeSet<i64> = change.remove_members.iter().copied().collect();

        if let Some(wanted) = &change.replace_members {
            let wanted: BTreeSet<i64> = wanted.iter().copied().collect();
            let current: BTreeSet<i64> = conn.group_members(id).await?.into_iter().map(|m| m.user_id).collect();
            remove.extend(current.difference(&wanted));
            add.extend(wanted.difference(&current));
        }
        let overlap: Vec<i64> = add.intersection(&remove).copied().collect();
        for user_id in overlap {
            remove.remove(&user_id);
        }

        Ok((add.into_iter().collect(), remove.into_iter().collect()))
    }

    /// Adds a member and gives it the group's grants if its state allows; returns false when it was a member.
    async fn join_group(&self, conn: &mut Conn, group: &Group, roles: &[RoleKey], user_id: i64, now: Timestamp) -> Result<bool> {
        let user = conn.user_by_id(user_id).await?.ok_or_else(|| {
            ServiceError::field("members", "not_found", format!("user {user_id} does not exist; give the id of an existing user"))
        })?;
        if !conn.add_group_member(group.id, user_id, now).await? {
            return Ok(false);
        }
        if receives_grants(user.status) {
            self.grant_group_roles(conn, group.id, roles, user_id, now).await?;
        }
        Ok(true)
    }

    async fn grant_group_roles(&self, conn: &mut Conn, group_id: i64, roles: &[RoleKey], user_id: i64, now: Timestamp) -> Result<()> {
        for key in roles {
            let role_type = conn.role_type_by_id(key.role_type_id).await?;
            let grant = RoleAssignment {
                key: key.clone(),
                role_type_name: role_type.map(|r| r.name).unwrap_or_default(),
                source: RoleSource::Group(group_id.to_string()),
                approved_by: None,
                reason: None,
                expires_at: None,
                granted_at: now,
            };
            conn.insert_assignment_if_absent(user_id, &grant).await?;
        }
        Ok(())
    }

    /// Rewrites every member's grants from this group after the group's roles changed.
    async fn regrant_members(&self, conn: &mut Conn, group: &Group, roles: &[RoleKey], now: Timestamp) -> Result<()> {
        for member in conn.group_members(group.id).await? {
            conn.delete_group_grants(member.user_id, group.id).await?;
            let Some(user) = conn.user_by_id(member.user_id).await? else { continue };
            if receives_grants(user.status) {
                self.grant_group_roles(conn, group.id, roles, member.user_id, now).await?;
            }
        }
        Ok(())
    }

    /// Gives a user the grants of every group it belongs to, as when it becomes active again.
    pub(crate) async fn regrant_user_groups(&self, conn: &mut Conn, user_id: i64, now: Timestamp) -> Result<()> {
        for group_id in conn.user_group_ids(user_id).await? {
            let roles = conn.group_roles(group_id).await?;
            self.grant_group_roles(conn, group_id, &roles, user_id, now).await?;
        }
        Ok(())
    }

    /// Deletes a group and revokes the grants it gave its members. Requires `users:write`.
    pub async fn delete_group(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require(Scope::UsersWrite)?;

        let mut conn = self.store.begin().await?;
        let group = conn.group_by_id(id).await?.ok_or_else(|| ServiceError::not_found("group", id))?;
        let members = conn.group_members(id).await?;
        for member in &members {
            conn.delete_group_grants(member.user_id, id).await?;
        }
        conn.delete_group(id).await?;

        let mut changes = roster_domain::audit::diff(&group_json(&group), &serde_json::Map::new());
        let ids: Vec<i64> = members.iter().map(|m| m.user_id).collect();
        changes.insert("members_removed".into(), Change { before: members_json(&ids), after: Value::Null });
        conn.append_audit(&self.audit_entry(actor, "group.delete", "group", Some(id.to_string()), changes)).await?;
        conn.commit().await?;

        tracing::info!(group_id = id, members = ids.len(), "deleted group");
        Ok(())
    }

    /// Checks that every role key names an existing role type with the right scope.
    async fn check_group_roles(&self, conn: &mut Conn, roles: &[RoleKey]) -> Result<()> {
        let mut errors = ValidationErrors::default();
        for (index, key) in roles.iter().enumerate() {
            match conn.role_type_by_id(key.role_type_id).await? {
                Some(role_type) => {
                    if let Err(found) = key.validate_against(&role_type) {
                        found.0.into_iter().for_each(|e| errors.push(e.nested(&format!("roles/{index}"))));
                    }
                }
                None => errors.push(roster_domain::FieldError::new(
                    format!("roles/{index}/value"),
                    "not_found",
                    format!("role type {} does not exist; GET /core/role_types lists the catalogue", key.role_type_id),
                )),
            }
        }
        errors.into_result()?;
        Ok(())
    }
}

fn group_json(group: &Group) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("display_name".into(), group.display_name.clone().into());
    map.insert("external_id".into(), group.external_id.clone().map_or(Value::Null, Value::from));
    if !group.scim_attributes.is_empty() {
        map.insert("scim_attributes".into(), Value::Object(group.scim_attributes.clone()));
    }
    map
}

fn keys_json(keys: &[RoleKey]) -> Value {
    Value::Array(
        keys.iter()
            .map(|k| json!({ "role_type_id": k.role_type_id, "resource_type": k.resource_type, "resource_id": k.resource_id }))
            .collect(),
    )
}
