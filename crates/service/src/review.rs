//! The access review: for every active user, the roles it has against the roles that are approved today.
//!
//! A grant is approved when a policy rule still grants it (with the policy of the latest plan of each feed source
//! that created or adopted the user), when a group the user belongs to still carries it, or when it was granted
//! directly with an approver and has not expired. Every other grant is excess, and every policy grant the user
//! lacks is missing.

use roster_domain::{Change, Changes, LifecycleState, RoleAssignment, RoleKey, RoleSource, RoleType, Scope, Timestamp};
use roster_jml::{Grant, Policy, Subject};
use roster_store::ReviewUser;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::users::roles_json;

/// A grant held without a current approval, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ExcessRole {
    pub assignment: RoleAssignment,
    pub reason: String,
}

/// A policy grant the user lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingRole {
    pub key: RoleKey,
    pub role_type_name: String,
    pub rule: String,
}

/// One user whose held roles differ from the approved ones.
#[derive(Debug, Clone, PartialEq)]
pub struct UserReview {
    pub user_id: i64,
    pub unique_id: Option<String>,
    pub email: Option<String>,
    pub excess: Vec<ExcessRole>,
    pub missing: Vec<MissingRole>,
}

/// The result of a review: the users with differences, and how many active users were reviewed.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessReview {
    pub reviewed: usize,
    pub findings: Vec<UserReview>,
    /// Users converged by a fix; zero for a plain review.
    pub fixed: usize,
}

impl Roster {
    /// Compares approved and held roles of every active user. Requires `users:read`.
    pub async fn access_review(&self, actor: &Actor) -> Result<AccessReview> {
        actor.require(Scope::UsersRead)?;
        self.review().await
    }

    /// Converges every finding of a review: excess grants are revoked and missing policy grants added, each user
    /// in its own transaction with its audit entry. Returns the review taken before the fix. Requires
    /// `users:write` and `roles:write`.
    pub async fn fix_access_review(&self, actor: &Actor) -> Result<AccessReview> {
        actor.require(Scope::UsersWrite)?;
        actor.require(Scope::RolesWrite)?;
        let mut review = self.review().await?;
        for finding in &review.findings {
            if self.fix_user(actor, finding).await? {
                review.fixed += 1;
            } else {
                tracing::warn!(user_id = finding.user_id, "user changed during the access review fix; review again");
            }
        }
        tracing::info!(fixed = review.fixed, findings = review.findings.len(), "fixed access review findings");
        Ok(review)
    }

    async fn review(&self) -> Result<AccessReview> {
        let now = self.clock.now();
        let mut conn = self.store.read().await?;
        let users = conn.review_users().await?;
        let managers: BTreeSet<i64> = conn.manager_ids().await?.into_iter().collect();
        let role_types: HashMap<String, RoleType> =
            conn.list_role_types().await?.into_iter().map(|rt| (rt.name.clone(), rt)).collect();
        let mut held: HashMap<i64, Vec<RoleAssignment>> = HashMap::new();
        for (user_id, assignment) in conn.active_assignments().await? {
            held.entry(user_id).or_default().push(assignment);
        }
        let mut group_grants: HashMap<i64, BTreeSet<(String, RoleKey)>> = HashMap::new();
        for (user_id, group_id, key) in conn.member_group_grants().await? {
            group_grants.entry(user_id).or_default().insert((group_id.to_string(), key));
        }
        let mut sources: HashMap<i64, Vec<String>> = HashMap::new();
        for (user_id, source) in conn.feed_sources().await? {
            sources.entry(user_id).or_default().push(source);
        }
        let mut policies: HashMap<String, Option<Policy>> = HashMap::new();
        for source in sources.values().flatten() {
            if !policies.contains_key(source) {
                let latest = conn.latest_applied_jml_policy(source).await?;
                let policy = match latest {
                    Some(applied) => Some(Policy::parse(&applied.policy).map_err(|e| {
                        ServiceError::Internal(format!("the stored policy of plan {} is unreadable: {e}", applied.plan_id))
                    })?),
                    None => None,
                };
                policies.insert(source.clone(), policy);
            }
        }
        drop(conn);

        let mut findings = Vec::new();
        for user in &users {
            let subject = Subject {
                department: user.department.as_deref(),
                job_title: user.job_title.as_deref(),
                is_manager: managers.contains(&user.id),
            };
            let user_policies: Vec<&Policy> =
                sources.get(&user.id).into_iter().flatten().filter_map(|s| policies.get(s).and_then(Option::as_ref)).collect();
            let finding = review_user(
                user,
                held.remove(&user.id).unwrap_or_default(),
                group_grants.remove(&user.id).unwrap_or_default(),
                &user_policies,
                subject,
                &role_types,
                now,
            );
            if !finding.excess.is_empty() || !finding.missing.is_empty() {
                findings.push(finding);
            }
        }
        Ok(AccessReview { reviewed: users.len(), findings, fixed: 0 })
    }

    async fn fix_user(&self, actor: &Actor, finding: &UserReview) -> Result<bool> {
        let now = self.clock.now();
        let mut conn = self.store.begin().await?;
        let Some(user) = conn.user_by_id(finding.user_id).await? else { return Ok(false) };
        if user.status != LifecycleState::Active {
            return Ok(false);
        }

        let before = conn.user_assignments(user.id).await?;
        for excess in &finding.excess {
            conn.delete_assignment(user.id, &excess.assignment.key, &excess.assignment.source).await?;
        }
        for missing in &finding.missing {
            let assignment = RoleAssignment {
                key: missing.key.clone(),
                role_type_name: missing.role_type_name.clone(),
                source: RoleSource::Policy(missing.rule.clone()),
                approved_by: Some("policy".into()),
                reason: Some(format!("policy rule {}", missing.rule)),
                expires_at: None,
                granted_at: now,
            };
            conn.insert_assignment_if_absent(user.id, &assignment).await?;
        }
        if !conn.touch_user(user.id, user.version, now).await? {
            return Ok(false);
        }

        let after = conn.user_assignments(user.id).await?;
        let reasons: Vec<serde_json::Value> =
            finding.excess.iter().map(|e| json!({ "role_type_name": e.assignment.role_type_name, "reason": e.reason })).collect();
        let mut changes = Changes::new();
        changes.insert("roles".into(), Change { before: roles_json(&before), after: roles_json(&after) });
        changes.insert("excess_reasons".into(), Change { before: serde_json::Value::Null, after: reasons.into() });
        conn.append_audit(&self.audit_entry(actor, "access_review.fix", "user", Some(user.id.to_string()), changes)).await?;
        conn.commit().await?;
        Ok(true)
    }
}

fn review_user(
    user: &ReviewUser,
    held: Vec<RoleAssignment>,
    group_grants: BTreeSet<(String, RoleKey)>,
    policies: &[&Policy],
    subject: Subject<'_>,
    role_types: &HashMap<String, RoleType>,
    now: Timestamp,
) -> UserReview {
    let key_of = |grant: &Grant| {
        role_types.get(&grant.role).map(|rt| RoleKey {
            role_type_id: rt.id,
            resource_type: grant.resource_type.clone(),
            resource_id: grant.resource_id.clone(),
        })
    };
    // Every (key, rule) a rule grants today, and the first rule per key for grants that are missing.
    let mut approved_by_rule: BTreeSet<(RoleKey, String)> = BTreeSet::new();
    let mut granted_today: BTreeMap<RoleKey, (String, String)> = BTreeMap::new();
    for policy in policies {
        for (grant, rule) in policy.matching_grants(subject) {
            if let Some(key) = key_of(&grant) {
                approved_by_rule.insert((key, rule));
            }
        }
        for (grant, rule) in policy.evaluate(subject) {
            if let Some(key) = key_of(&grant) {
                granted_today.entry(key).or_insert((grant.role.clone(), rule));
            }
        }
    }

    let mut excess = Vec::new();
    let mut approved_policy_keys = BTreeSet::new();
    for assignment in held {
        let reason = match &assignment.source {
            RoleSource::Policy(rule) => {
                if approved_by_rule.contains(&(assignment.key.clone(), rule.clone())) {
                    approved_policy_keys.insert(assignment.key.clone());
                    None
                } else {
                    Some(format!("policy rule {rule:?} no longer grants it"))
                }
            }
            RoleSource::Group(group) => (!group_grants.contains(&(group.clone(), assignment.key.clone())))
                .then(|| format!("group {group} no longer grants it to this user")),
            RoleSource::Direct => match (assignment.approved_by.as_deref().map(str::trim), assignment.expires_at) {
                (None | Some(""), _) => Some("a direct grant without an approver".to_string()),
                (_, Some(expires)) if expires <= now => Some(format!("the grant expired at {}", expires.canonical())),
                _ => None,
            },
        };
        if let Some(reason) = reason {
            excess.push(ExcessRole { assignment, reason });
        }
    }
    let missing = granted_today
        .into_iter()
        .filter(|(key, _)| !approved_policy_keys.contains(key))
        .map(|(key, (role_type_name, rule))| MissingRole { key, role_type_name, rule })
        .collect();

    UserReview { user_id: user.id, unique_id: user.unique_id.clone(), email: user.email.clone(), excess, missing }
}
