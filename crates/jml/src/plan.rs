//! The plan: a pure function from the feed's people, the current users and the policy to the change per person.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use time::{Date, OffsetDateTime};

use crate::error::{RowError, RowWarning};
use crate::feed::Feed;
use crate::mapping::{CompiledMapping, FeedStatus, ManagerRef, Person, name_match_key, render_email, split_full_name};
use crate::policy::{Grant, Policy, Subject};

/// A user's lifecycle state in the engine's terms; deleted users are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserState {
    Pending,
    Active,
    Suspended,
    Archived,
}

impl UserState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Archived => "archived",
        }
    }
}

/// The attributes the engine manages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attributes {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub mobile_number: Option<String>,
    #[serde(with = "iso_date")]
    pub start_date: Option<Date>,
    #[serde(with = "iso_date")]
    pub end_date: Option<Date>,
    /// The manager's key (`unique_id`), resolved to a user id when applied.
    pub manager_key: Option<String>,
}

impl Attributes {
    fn fields(&self) -> BTreeMap<&'static str, Option<String>> {
        [
            ("first_name", self.first_name.clone()),
            ("last_name", self.last_name.clone()),
            ("email", self.email.clone()),
            ("job_title", self.job_title.clone()),
            ("department", self.department.clone()),
            ("mobile_number", self.mobile_number.clone()),
            ("start_date", self.start_date.map(|d| d.to_string())),
            ("end_date", self.end_date.map(|d| d.to_string())),
            ("manager", self.manager_key.clone()),
        ]
        .into_iter()
        .collect()
    }
}

/// A user as it is now, with what the plan compares against.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentUser {
    pub id: i64,
    pub unique_id: String,
    pub attributes: Attributes,
    pub state: UserState,
    /// The roles the user has through policy rules, with the rule behind each.
    pub policy_roles: PolicyRoles,
    /// Whether this feed source created or adopted the user; only such users leave when missing from a
    /// complete feed.
    pub owned: bool,
    /// Pending scheduled lifecycle actions: (kind, due time).
    pub scheduled: Vec<(ScheduledKind, OffsetDateTime)>,
    /// What the user's state is summarised by; a different value at apply time makes the person stale.
    pub fingerprint: String,
}

/// The roles a user has through policy rules, each with the rule behind it, in grant order. Users can share the
/// entries, since a policy grants the same few roles to many people. A plan of 100,000 users then keeps each
/// entry once instead of once per user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRoles(Vec<Arc<(Grant, String)>>);

impl PolicyRoles {
    /// Builds the roles from shared entries; of two entries for one grant, the first is kept.
    pub fn new(mut entries: Vec<Arc<(Grant, String)>>) -> Self {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        entries.shrink_to_fit();
        Self(entries)
    }

    /// Returns the rule behind `grant`, if the user has it through a rule.
    pub fn get(&self, grant: &Grant) -> Option<&String> {
        let index = self.0.binary_search_by(|entry| entry.0.cmp(grant)).ok()?;
        self.0.get(index).map(|entry| &entry.1)
    }

    /// Returns the grants with their rules, in grant order.
    pub fn iter(&self) -> impl Iterator<Item = (&Grant, &String)> {
        self.0.iter().map(|entry| (&entry.0, &entry.1))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl From<BTreeMap<Grant, String>> for PolicyRoles {
    fn from(roles: BTreeMap<Grant, String>) -> Self {
        Self::new(roles.into_iter().map(Arc::new).collect())
    }
}

/// A future-dated lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduledKind {
    Activate,
    Archive,
}

/// What happens to a person's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Create,
    Update,
    Activate,
    Suspend,
    Restore,
    Archive,
    None,
}

impl ChangeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Activate => "activate",
            Self::Suspend => "suspend",
            Self::Restore => "restore",
            Self::Archive => "archive",
            Self::None => "none",
        }
    }
}

/// One attribute's old and new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeChange {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A role added or removed, with the rule behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    #[serde(flatten)]
    pub grant: Grant,
    pub rule: String,
}

/// A scheduled lifecycle action the plan creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub kind: ScheduledKind,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// For an activation: the roles granted on the day.
    #[serde(default)]
    pub roles: Vec<RoleChange>,
}

/// The change for one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonChange {
    pub key: String,
    /// The feed line, or `None` for a leaver missing from a complete feed.
    pub line: Option<u64>,
    pub user_id: Option<i64>,
    pub kind: ChangeKind,
    pub state_before: Option<UserState>,
    pub state_after: Option<UserState>,
    /// The target attributes, applied as a whole.
    pub attributes: Attributes,
    /// The attributes that change, old and new.
    pub changes: BTreeMap<String, AttributeChange>,
    pub roles_added: Vec<RoleChange>,
    pub roles_removed: Vec<RoleChange>,
    pub scheduled: Option<Scheduled>,
    /// The user's fingerprint when planned; `None` for a new user.
    pub fingerprint: Option<String>,
}

impl PersonChange {
    /// Whether applying this change would do anything.
    /// Returns the kind under which the plan's counts count this change. A change without a state change (kind
    /// `none`) counts as an `update`.
    pub fn counted_kind(&self) -> ChangeKind {
        if self.kind == ChangeKind::None { ChangeKind::Update } else { self.kind }
    }

    pub fn is_noop(&self) -> bool {
        self.kind == ChangeKind::None
            && self.changes.is_empty()
            && self.roles_added.is_empty()
            && self.roles_removed.is_empty()
            && self.scheduled.is_none()
    }
}

/// Options of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// The feed lists everyone: users this source created or adopted who are missing from it leave.
    pub full_feed: bool,
}

/// A computed plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub source: String,
    pub options: PlanOptions,
    /// Counts per change kind, plus `scheduled`, `unchanged` and `errors`.
    pub counts: BTreeMap<String, usize>,
    /// Changes in apply order: a manager before the people who report to them. No-ops are left out. Empty in a
    /// plan that [`PlanStream::finish`] returns, whose caller took the changes one by one.
    #[serde(default)]
    pub changes: Vec<PersonChange>,
    pub errors: Vec<RowError>,
    pub warnings: Vec<RowWarning>,
}

/// Everything a plan is computed from.
#[derive(Debug)]
pub struct PlanInput<'a> {
    pub mapping: &'a CompiledMapping,
    pub policy: &'a Policy,
    pub feed: Feed,
    /// Users with a `unique_id`, in every state but deleted.
    pub users: Vec<CurrentUser>,
    /// The emails and user names that users other than deleted ones hold, for every value
    /// [`identifiers_to_look_up`] asked for.
    pub taken: TakenIdentifiers,
    pub now: OffsetDateTime,
    pub options: PlanOptions,
}

/// A user that has an email or user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user_id: i64,
    /// The holder's folded `unique_id`; a holder with the person's own key is that person.
    pub unique_id: Option<String>,
}

/// Emails and user names held by users that are not deleted, keyed by their folded (lower-case) text.
///
/// A plan may contain 100,000 joiners, so the service does not load the email of every user in the database. It
/// calls [`PreparedFeed::identifiers_to_look_up`] for the values the plan probes, looks them up in one batched
/// query, records them here and repeats until nothing is missing. Each round adds only values that no round looked
/// up before.
#[derive(Debug, Clone, Default)]
pub struct TakenIdentifiers {
    /// Every value looked up, held or not.
    pub looked_up: BTreeSet<String>,
    pub emails: BTreeMap<String, Holder>,
    pub user_names: BTreeMap<String, Holder>,
    /// The maps hold every taken value, so nothing needs looking up; for callers that load all users.
    pub complete: bool,
}

impl TakenIdentifiers {
    fn is_known(&self, folded: &str) -> bool {
        self.complete || self.looked_up.contains(folded)
    }
}

/// How many further variants (`jane.doe3@...`, `jane.doe4@...`) a round looks up once a derived email is taken,
/// so a name that many users share needs few rounds. The first round looks up the plain address only.
const VARIANT_LOOKAHEAD: u32 = 4;

fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// The state a feed row requests at `now`, and the scheduled action it needs.
enum Target {
    Active,
    ActiveUntil(OffsetDateTime),
    Pending(Option<OffsetDateTime>),
    Suspended,
    Gone,
}

/// The feed's usable people and what reading them found.
struct Prepared {
    /// The usable people in apply order.
    people: Vec<Person>,
    /// Folded keys of every row with a key, usable or not.
    present: BTreeSet<String>,
    errors: Vec<RowError>,
    warnings: Vec<RowWarning>,
}

/// A feed read against the current users once per plan: its people, their managers and what reading them found.
/// Every look-up round and the plan itself reuse it, so a round costs the email choice, not a re-read of the feed.
pub struct PreparedFeed<'u> {
    mapping: &'u CompiledMapping,
    users: &'u [CurrentUser],
    users_by_key: BTreeMap<String, &'u CurrentUser>,
    /// Folded emails of the loaded users, with each holder; see [`Derived::loaded_emails`].
    loaded_emails: HashMap<String, &'u CurrentUser>,
    prepared: Prepared,
}

impl<'u> PreparedFeed<'u> {
    pub fn new(mapping: &'u CompiledMapping, feed: Feed, users: &'u [CurrentUser]) -> Self {
        let users_by_key: BTreeMap<String, &CurrentUser> = users.iter().map(|u| (fold(&u.unique_id), u)).collect();
        let prepared = prepare(mapping, feed, &users_by_key);
        let loaded_emails = users
            .iter()
            .filter_map(|user| Some((fold(user.attributes.email.as_deref()?), user)))
            .collect();
        Self { mapping, users, users_by_key, loaded_emails, prepared }
    }

    /// Returns the folded emails and user names that the plan would probe and `taken` lacks. The service looks
    /// them up, adds them to `taken` and calls this again until the set is empty. Then [`PreparedFeed::plan`] finds
    /// every clash with an existing user.
    pub fn identifiers_to_look_up(&self, taken: &TakenIdentifiers) -> BTreeSet<String> {
        let order: Vec<&Person> = self.prepared.people.iter().collect();
        assign_emails(self.mapping, &order, &self.users_by_key, &self.loaded_emails, taken).unknown
    }

    /// Computes the plan with all its changes.
    pub fn plan(self, policy: &Policy, taken: &TakenIdentifiers, now: OffsetDateTime, options: PlanOptions) -> Plan {
        let mut stream = self.stream(policy, taken, now, options);
        let changes: Vec<PersonChange> = stream.by_ref().collect();
        Plan { changes, ..stream.finish() }
    }

    /// Computes the plan one change at a time, in apply order, so that a caller can store a large plan's changes
    /// as they form instead of holding them all. [`PlanStream::finish`] then gives the plan's counts, errors and
    /// warnings.
    pub fn stream<'p>(
        self,
        policy: &'p Policy,
        taken: &TakenIdentifiers,
        now: OffsetDateTime,
        options: PlanOptions,
    ) -> PlanStream<'u, 'p> {
        let Self { mapping, users, users_by_key, loaded_emails, prepared } = self;
        let Prepared { people, present, mut errors, mut warnings } = prepared;
        let managers: BTreeSet<String> = people
            .iter()
            .filter(|p| p.status != FeedStatus::Terminated)
            .filter_map(|p| resolved_manager(p).map(fold))
            .collect();

        let order: Vec<&Person> = people.iter().collect();
        let emails = assign_emails(mapping, &order, &users_by_key, &loaded_emails, taken);
        warnings.extend(emails.warnings);
        errors.extend(emails.errors);
        // Only a caller that skipped the look-up rounds leaves values unknown; such people are left out, not guessed.
        let with_errors: BTreeSet<String> = errors.iter().filter_map(|e| e.key.as_deref().map(fold)).collect();
        for person in &order {
            let key = fold(&person.key);
            if !emails.chosen.contains_key(&key) && !with_errors.contains(&key) {
                errors.push(RowError::new(
                    person.line,
                    Some(person.key.clone()),
                    "the email could not be checked against existing users; plan again".into(),
                ));
            }
        }
        errors.sort_by_key(|e| e.line);
        drop(order);

        PlanStream {
            mapping,
            policy,
            users,
            users_by_key,
            now,
            options,
            people: people.into_iter(),
            present,
            managers,
            chosen: emails.chosen,
            errors,
            warnings,
            leavers: None,
            counts: Counts::default(),
        }
    }
}

/// A plan being computed: an iterator over its changes in apply order, the feed's people first and then the
/// leavers of a complete feed. Changes that change nothing are left out.
pub struct PlanStream<'u, 'p> {
    mapping: &'u CompiledMapping,
    policy: &'p Policy,
    users: &'u [CurrentUser],
    users_by_key: BTreeMap<String, &'u CurrentUser>,
    now: OffsetDateTime,
    options: PlanOptions,
    people: std::vec::IntoIter<Person>,
    present: BTreeSet<String>,
    /// Folded keys of the people who manage someone in the feed.
    managers: BTreeSet<String>,
    chosen: BTreeMap<String, Option<String>>,
    errors: Vec<RowError>,
    warnings: Vec<RowWarning>,
    /// The leavers still to yield, once the feed's people are done.
    leavers: Option<std::vec::IntoIter<&'u CurrentUser>>,
    counts: Counts,
}

impl Iterator for PlanStream<'_, '_> {
    type Item = PersonChange;

    fn next(&mut self) -> Option<PersonChange> {
        for mut person in self.people.by_ref() {
            let Some(email) = self.chosen.get(&fold(&person.key)) else { continue };
            let current = self.users_by_key.get(&fold(&person.key)).copied();
            let target_attributes = Attributes {
                first_name: person.first_name.clone(),
                last_name: person.last_name.clone(),
                email: email.clone(),
                job_title: person.job_title.clone(),
                department: person.department.clone(),
                mobile_number: person.mobile_number.clone(),
                start_date: person.start_date,
                end_date: person.end_date,
                manager_key: match person.manager.take() {
                    Some(ManagerRef::Key(key)) => Some(key),
                    _ => None,
                },
            };
            let desired = self.policy.evaluate(Subject {
                department: person.department.as_deref(),
                job_title: person.job_title.as_deref(),
                is_manager: self.managers.contains(&fold(&person.key)),
            });
            let target = target_of(self.mapping, &person, self.now);
            let change = person_change(&person, current, target_attributes, desired, target, &mut self.warnings);
            if !change.is_noop() {
                self.counts.add(&change);
                return Some(change);
            }
        }

        if self.leavers.is_none() {
            self.leavers = Some(self.leavers().into_iter());
        }
        let change = leaver_change(self.leavers.as_mut()?.next()?);
        self.counts.add(&change);
        Some(change)
    }
}

impl<'u> PlanStream<'u, '_> {
    /// Returns the users a complete feed archives, by key. A row whose key cannot be read may be anyone, so a
    /// complete feed with such rows archives no one, because its missing people may be exactly those rows.
    fn leavers(&mut self) -> Vec<&'u CurrentUser> {
        if !self.options.full_feed {
            return Vec::new();
        }
        let keyless: Vec<u64> = self.errors.iter().filter(|e| e.key.is_none()).map(|e| e.line).collect();
        if let Some(first) = keyless.first() {
            self.warnings.push(RowWarning {
                line: *first,
                key: String::new(),
                message: format!(
                    "{} row(s) have no readable key, so this complete feed archives nobody: a person missing from it \
                     may be one of those rows; fix them and plan again",
                    keyless.len()
                ),
            });
            return Vec::new();
        }

        let mut leavers: Vec<&CurrentUser> = self
            .users
            .iter()
            .filter(|u| u.owned && u.state != UserState::Archived && !self.present.contains(&fold(&u.unique_id)))
            .collect();
        // By key rather than id: a run applies several people at once, so ids need not follow feed order.
        leavers.sort_by(|a, b| a.unique_id.cmp(&b.unique_id).then(a.id.cmp(&b.id)));
        leavers
    }

    /// Returns the rows the plan leaves out, which are known before the first change.
    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }

    /// Ends the plan, computing whatever changes the caller did not take, and returns it without its changes.
    pub fn finish(mut self) -> Plan {
        for _ in self.by_ref() {}

        let planned = self.chosen.len();
        let counts = self.counts.into_map(planned, self.errors.len());
        Plan {
            source: self.mapping.mapping.source.clone(),
            options: self.options,
            counts,
            changes: Vec::new(),
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

/// Returns the folded emails and user names that the plan of `feed` would probe and `taken` lacks. A caller that
/// asks more than once should use [`PreparedFeed::identifiers_to_look_up`], which reads the feed only once.
pub fn identifiers_to_look_up(
    mapping: &CompiledMapping,
    feed: &Feed,
    users: &[CurrentUser],
    taken: &TakenIdentifiers,
) -> BTreeSet<String> {
    PreparedFeed::new(mapping, feed.clone(), users).identifiers_to_look_up(taken)
}

/// Computes the plan.
pub fn compute_plan(input: PlanInput<'_>) -> Plan {
    let PlanInput { mapping, policy, feed, users, taken, now, options } = input;
    PreparedFeed::new(mapping, feed, &users).plan(policy, &taken, now, options)
}

fn leaver_change(user: &CurrentUser) -> PersonChange {
    PersonChange {
        key: user.unique_id.clone(),
        line: None,
        user_id: Some(user.id),
        kind: ChangeKind::Archive,
        state_before: Some(user.state),
        state_after: Some(UserState::Archived),
        attributes: user.attributes.clone(),
        changes: BTreeMap::new(),
        roles_added: Vec::new(),
        roles_removed: user.policy_roles.iter().map(|(grant, rule)| RoleChange { grant: grant.clone(), rule: rule.clone() }).collect(),
        scheduled: None,
        fingerprint: Some(user.fingerprint.clone()),
    }
}

/// The changes of a plan counted per kind as they form.
#[derive(Debug, Default)]
struct Counts {
    per_kind: BTreeMap<String, usize>,
    /// Changes of people in the feed, as opposed to leavers missing from it.
    from_feed: usize,
}

impl Counts {
    fn add(&mut self, change: &PersonChange) {
        *self.per_kind.entry(change.counted_kind().as_str().into()).or_default() += 1;
        if change.scheduled.is_some() {
            *self.per_kind.entry("scheduled".into()).or_default() += 1;
        }
        if change.line.is_some() {
            self.from_feed += 1;
        }
    }

    /// Returns the counts per kind, plus `unchanged` and `errors`; `planned` is the number of feed people the plan
    /// covers (rows without errors).
    fn into_map(self, planned: usize, errors: usize) -> BTreeMap<String, usize> {
        let mut counts = self.per_kind;
        for kind in ["create", "update", "activate", "suspend", "restore", "archive", "scheduled"] {
            counts.entry(kind.into()).or_default();
        }
        counts.insert("unchanged".into(), planned.saturating_sub(self.from_feed));
        counts.insert("errors".into(), errors);
        counts
    }
}

/// Reads the rows into people, rejecting duplicated keys, resolves their managers and puts them in apply order.
fn prepare(mapping: &CompiledMapping, feed: Feed, users_by_key: &BTreeMap<String, &CurrentUser>) -> Prepared {
    let Feed { rows, mut errors } = feed;
    let mut warnings = Vec::new();

    // Read rows, rejecting duplicated keys. Keys of rejected rows still count as present, so a complete feed
    // never turns a person with a bad row into a leaver.
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut first_line: BTreeMap<String, (u64, Option<String>)> = BTreeMap::new();
    let mut people: Vec<Person> = Vec::with_capacity(rows.len());
    let mut duplicated: BTreeSet<String> = BTreeSet::new();
    // Each row is freed once read, so the feed and its people are not both held whole.
    for row in rows {
        match mapping.read_row(&row) {
            Ok(person) => {
                let folded = fold(&person.key);
                present.insert(folded.clone());
                let name = name_match_key(person.first_name.as_deref(), person.last_name.as_deref());
                if let Some((line, _)) = first_line.get(&folded) {
                    errors.push(RowError::new(
                        person.line,
                        Some(person.key.clone()),
                        format!("the key {} is also used on line {line}; each person needs their own key", person.key),
                    ));
                    duplicated.insert(folded);
                    continue;
                }
                first_line.insert(folded, (person.line, Some(name)));
                people.push(person);
            }
            Err(error) => {
                if let Some(key) = &error.key {
                    present.insert(fold(key));
                }
                errors.push(error);
            }
        }
    }
    // A key used on two lines is an error on both, since the plan cannot tell which row is right.
    for key in &duplicated {
        if let Some(index) = people.iter().position(|p| fold(&p.key) == *key)
            && let Some(person) = people.get(index)
        {
            errors.push(RowError::new(
                person.line,
                Some(person.key.clone()),
                format!("the key {} is used on more than one line", person.key),
            ));
            people.remove(index);
        }
    }
    errors.sort_by_key(|e| e.line);

    let managers = resolve_managers(&people, users_by_key, &mut warnings);
    // Each person keeps only the resolved key, so no second map of 100,000 keys is needed.
    for (person, manager) in people.iter_mut().zip(managers) {
        person.manager = manager.map(ManagerRef::Key);
    }

    let order = apply_order(&people);
    put_in_order(&mut people, &order);
    Prepared { people, present, errors, warnings }
}

fn role_changes(roles: &BTreeMap<Grant, String>) -> Vec<RoleChange> {
    roles.iter().map(|(grant, rule)| RoleChange { grant: grant.clone(), rule: rule.clone() }).collect()
}

fn target_of(mapping: &CompiledMapping, person: &Person, now: OffsetDateTime) -> Target {
    let starts = person.start_date.and_then(|d| mapping.start_of(d));
    match person.status {
        FeedStatus::Terminated => match person.end_date.and_then(|d| mapping.termination_instant(d)) {
            Some(ends) if ends > now => Target::ActiveUntil(ends),
            _ => Target::Gone,
        },
        FeedStatus::Pending => Target::Pending(starts),
        FeedStatus::Active if starts.is_some_and(|s| s > now) => Target::Pending(starts),
        FeedStatus::Active => Target::Active,
        FeedStatus::Suspended => Target::Suspended,
    }
}

/// Moves `people` into `order`, a permutation of their indices, in place: a second list of 100,000 people would
/// cost as much memory again.
fn put_in_order(people: &mut [Person], order: &[usize]) {
    // destination[i] is where the person now at i belongs. Each swap puts one person in place for good, so the
    // loop ends. An order that is not a permutation changes nothing, and apply_order never returns one.
    let mut destination = vec![usize::MAX; people.len()];
    for (position, &index) in order.iter().enumerate() {
        match destination.get_mut(index) {
            Some(slot) if *slot == usize::MAX => *slot = position,
            _ => return,
        }
    }
    if order.len() != people.len() {
        return;
    }
    for index in 0..people.len() {
        while let Some(&target) = destination.get(index)
            && target != index
        {
            people.swap(index, target);
            destination.swap(index, target);
        }
    }
}

/// Returns the indices of `people` in apply order: each manager before the people who report to them, otherwise in
/// feed order.
fn apply_order(people: &[Person]) -> Vec<usize> {
    let by_key: BTreeMap<String, usize> = people.iter().enumerate().map(|(index, p)| (fold(&p.key), index)).collect();
    let mut placed = vec![false; people.len()];
    let mut order = Vec::with_capacity(people.len());
    for (index, person) in people.iter().enumerate() {
        // Walk up the manager chain, then place from the top down; the placed flags also stop cycles.
        let mut chain = vec![index];
        let mut cursor = person;
        while let Some(&manager) = resolved_manager(cursor).and_then(|k| by_key.get(&fold(k))) {
            let Some(manager_person) = people.get(manager) else { break };
            if placed.get(manager).copied().unwrap_or(true) || chain.contains(&manager) {
                break;
            }
            chain.push(manager);
            cursor = manager_person;
        }
        for member in chain.into_iter().rev() {
            if let Some(slot) = placed.get_mut(member)
                && !*slot
            {
                *slot = true;
                order.push(member);
            }
        }
    }
    order
}

/// Returns a person's manager key once [`resolve_managers`] has resolved it.
fn resolved_manager(person: &Person) -> Option<&str> {
    match &person.manager {
        Some(ManagerRef::Key(key)) => Some(key),
        _ => None,
    }
}

/// Resolves each person's manager to a key, in the order of `people`, warning about those that cannot be
/// resolved.
fn resolve_managers(
    people: &[Person],
    users_by_key: &BTreeMap<String, &CurrentUser>,
    warnings: &mut Vec<RowWarning>,
) -> Vec<Option<String>> {
    let keys: BTreeMap<String, &str> = people.iter().map(|p| (fold(&p.key), p.key.as_str())).collect();
    let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for person in people {
        let name = name_match_key(person.first_name.as_deref(), person.last_name.as_deref());
        by_name.entry(name).or_default().push(person.key.as_str());
    }

    let mut resolved = Vec::with_capacity(people.len());
    for person in people {
        let Some(reference) = &person.manager else {
            resolved.push(None);
            continue;
        };
        let found: Result<String, String> = match reference {
            ManagerRef::Key(key) => match (keys.get(&fold(key)), users_by_key.get(&fold(key))) {
                (Some(found), _) => Ok((*found).to_string()),
                (None, Some(user)) => Ok(user.unique_id.clone()),
                (None, None) => Err(format!("no person or user has the manager key {key}")),
            },
            ManagerRef::Name(name) => {
                let (first, last) = split_full_name(name);
                match by_name.get(&name_match_key(first.as_deref(), last.as_deref())).map(Vec::as_slice) {
                    Some([only]) => Ok((*only).to_string()),
                    Some(several) if several.len() > 1 => Err(format!("the manager name {name:?} matches {} people", several.len())),
                    _ => Err(format!("no person in the feed is named {name:?}")),
                }
            }
        };
        let manager = match found {
            Ok(key) if fold(&key) == fold(&person.key) => {
                warnings.push(RowWarning {
                    line: person.line,
                    key: person.key.clone(),
                    message: "the person is listed as their own manager; manager left empty".into(),
                });
                None
            }
            Ok(key) => Some(key),
            Err(message) => {
                warnings.push(RowWarning {
                    line: person.line,
                    key: person.key.clone(),
                    message: format!("{message}; manager left empty"),
                });
                None
            }
        };
        resolved.push(manager);
    }
    resolved
}

/// The email chosen per person, and the rows that an email or user name clash leaves out.
#[derive(Debug, Default)]
struct EmailAssignment {
    /// By folded key: the email of each person the plan covers. People left out for a clash have no entry.
    chosen: BTreeMap<String, Option<String>>,
    errors: Vec<RowError>,
    warnings: Vec<RowWarning>,
    /// Folded values the choice needed but `taken` lacks.
    unknown: BTreeSet<String>,
}

/// A value probed against the users' emails and user names: free, held by someone else, or not looked up yet.
enum Probe {
    Free,
    Held(String),
    Unknown,
}

/// Chooses each person's email in apply order: the feed's, else the user's current one, else one derived from the
/// template, numbered on a clash (`jane.doe2@...`), so the same feed and users always give the same addresses.
///
/// A joiner's user name is its email, or its key when it has none, so a joiner clashes with another user's email
/// or user name. A clash of an email the feed gives, or of a joiner's key used as user name, is an error for the
/// row, since only the feed can fix it. A derived email moves on to the next free variant, with a warning.
fn assign_emails(
    mapping: &CompiledMapping,
    order: &[&Person],
    users_by_key: &BTreeMap<String, &CurrentUser>,
    loaded_emails: &HashMap<String, &CurrentUser>,
    taken: &TakenIdentifiers,
) -> EmailAssignment {
    let mut result = EmailAssignment::default();
    let mut derived = Derived {
        claimed: claim_given_emails(order, &mut result.errors),
        next_variant: HashMap::new(),
        loaded_emails,
    };
    let rejected: BTreeSet<String> = result.errors.iter().filter_map(|e| e.key.as_deref().map(fold)).collect();

    for person in order {
        let own_key = fold(&person.key);
        if rejected.contains(&own_key) {
            continue;
        }
        let current = users_by_key.get(&own_key).copied();
        let email = match &person.email {
            Some(email) => check_given_email(person, email, current, taken, &mut result),
            None => derive_email(mapping, person, current, taken, &mut derived, &mut result),
        };
        let Ok(email) = email else { continue };

        if current.is_none() && email.is_none() {
            let probe = probe(&taken.user_names, taken, &own_key, &own_key);
            if clash_error(person, probe, format!("the key {} is the user name of user", person.key), "give the person an email", &mut result) {
                continue;
            }
        }
        result.chosen.insert(own_key, email);
    }
    result
}

/// Claims each email the feed gives for its first row; a later row giving the same email is an error.
fn claim_given_emails(order: &[&Person], errors: &mut Vec<RowError>) -> BTreeMap<String, String> {
    let mut by_line: Vec<&&Person> = order.iter().filter(|p| p.email.is_some()).collect();
    by_line.sort_by_key(|p| p.line);

    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    let mut lines: BTreeMap<String, u64> = BTreeMap::new();
    for person in by_line {
        let Some(email) = &person.email else { continue };
        let folded = fold(email);
        if let Some(line) = lines.get(&folded) {
            errors.push(RowError::new(
                person.line,
                Some(person.key.clone()),
                format!("the email {email} is also given on line {line}; each person needs their own email"),
            ));
            continue;
        }
        lines.insert(folded.clone(), person.line);
        claimed.insert(folded, fold(&person.key));
    }
    claimed
}

/// Checks an email the feed gives against the users' emails, and a joiner's also against their user names.
fn check_given_email(
    person: &Person,
    email: &str,
    current: Option<&CurrentUser>,
    taken: &TakenIdentifiers,
    result: &mut EmailAssignment,
) -> Result<Option<String>, ()> {
    let own_key = fold(&person.key);
    let folded = fold(email);
    let unchanged = current.and_then(|u| u.attributes.email.as_deref()).is_some_and(|e| fold(e) == folded);
    if unchanged {
        return Ok(Some(email.to_string()));
    }

    let fix = "fix the email in the feed, or change the other user";
    let probe_email = probe(&taken.emails, taken, &folded, &own_key);
    if clash_error(person, probe_email, format!("the email {email} belongs to user"), fix, result) {
        return Err(());
    }
    if current.is_none() {
        let probe_name = probe(&taken.user_names, taken, &folded, &own_key);
        if clash_error(person, probe_name, format!("the email {email}, which becomes the user name, is the user name of user"), fix, result) {
            return Err(());
        }
    }
    Ok(Some(email.to_string()))
}

/// Records a clash as an error for the row, or an unknown value as one to look up. Returns whether the row has
/// no usable value.
fn clash_error(person: &Person, probe: (Probe, String), what: String, fix: &str, result: &mut EmailAssignment) -> bool {
    match probe {
        (Probe::Free, _) => false,
        (Probe::Unknown, folded) => {
            result.unknown.insert(folded);
            true
        }
        (Probe::Held(holder), _) => {
            result.errors.push(RowError::new(
                person.line,
                Some(person.key.clone()),
                format!("{what} {holder}, another person; {fix}"),
            ));
            true
        }
    }
}

/// Looks `folded` up in one of the maps: free, held by a user other than the person with `own_key`, or unknown.
fn probe(map: &BTreeMap<String, Holder>, taken: &TakenIdentifiers, folded: &str, own_key: &str) -> (Probe, String) {
    if !taken.is_known(folded) {
        return (Probe::Unknown, folded.to_string());
    }
    let probe = match map.get(folded) {
        Some(holder) if holder.unique_id.as_deref() != Some(own_key) => Probe::Held(holder.user_id.to_string()),
        _ => Probe::Free,
    };
    (probe, folded.to_string())
}

/// The state that deriving emails in apply order carries from one person to the next.
struct Derived<'u> {
    /// Folded emails taken by earlier people of the feed, with the folded key of each.
    claimed: BTreeMap<String, String>,
    /// Per folded base address, the variant number the last person deriving it took.
    next_variant: HashMap<String, u32>,
    /// Folded emails of the users the plan loaded, with each holder. Such an email is taken without a look-up,
    /// so the look-up rounds skip the variants that the feed's own users hold, which in a steady state are nearly
    /// all of them.
    loaded_emails: &'u HashMap<String, &'u CurrentUser>,
}

/// Picks the user's current email, else derives one from the template, taking the first variant that no other
/// user and no earlier person of the feed holds. A joiner's variant must also be free as a user name.
fn derive_email(
    mapping: &CompiledMapping,
    person: &Person,
    current: Option<&CurrentUser>,
    taken: &TakenIdentifiers,
    derived: &mut Derived<'_>,
    result: &mut EmailAssignment,
) -> Result<Option<String>, ()> {
    if let Some(email) = current.and_then(|u| u.attributes.email.clone()) {
        return Ok(Some(email));
    }
    if person.status == FeedStatus::Terminated {
        return Ok(None);
    }
    let Some(settings) = &mapping.mapping.email else { return Ok(None) };
    let base = render_email(&settings.template, person.first_name.as_deref(), person.last_name.as_deref());
    let Some((local, domain)) = base.split_once('@') else { return Ok(None) };

    let own_key = fold(&person.key);
    let variant = |number: u32| if number == 1 { base.clone() } else { format!("{local}{number}@{domain}") };
    // Variants below the last one given for this address were taken, so the next person starts there: a name
    // that thousands share costs one try each, not thousands.
    let base_folded = fold(&base);
    let mut number = derived.next_variant.get(&base_folded).copied().unwrap_or(1);
    let held_by_loaded = |folded: &str| derived.loaded_emails.get(folded).is_some_and(|holder| fold(&holder.unique_id) != own_key);
    loop {
        let candidate = variant(number);
        let folded = fold(&candidate);
        if held_by_loaded(&folded) {
            number += 1;
            continue;
        }
        if !taken.is_known(&folded) {
            // Once the plain address is taken, later variants are likely taken too, so one round looks up several,
            // and twice as far each round, so a name that n people share needs about log2(n) rounds. Variants that
            // loaded users hold count for nothing here, since they cost no look-up.
            let looked_up_below = (1..number).filter(|n| !held_by_loaded(&fold(&variant(*n)))).count();
            let count = if looked_up_below == 0 { 1 } else { 1 + (VARIANT_LOOKAHEAD as usize).max(looked_up_below) };
            result.unknown.extend((number..).map(|n| fold(&variant(n))).filter(|f| !held_by_loaded(f)).take(count));
            return Err(());
        }
        let held = |map: &BTreeMap<String, Holder>| map.get(&folded).is_some_and(|h| h.unique_id.as_deref() != Some(own_key.as_str()));
        let clashes = held(&taken.emails)
            || (current.is_none() && held(&taken.user_names))
            || derived.claimed.get(&folded).is_some_and(|holder| *holder != own_key);
        if !clashes {
            derived.claimed.insert(folded, own_key);
            derived.next_variant.insert(base_folded, number);
            break;
        }
        number += 1;
    }

    let candidate = variant(number);
    if number > 1 {
        result.warnings.push(RowWarning {
            line: person.line,
            key: person.key.clone(),
            message: format!("the derived email {base} is taken; using {candidate}"),
        });
    }
    Ok(Some(candidate))
}

fn person_change(
    person: &Person,
    current: Option<&CurrentUser>,
    target_attributes: Attributes,
    desired: BTreeMap<Grant, String>,
    target: Target,
    warnings: &mut Vec<RowWarning>,
) -> PersonChange {
    let mut change = PersonChange {
        key: person.key.clone(),
        line: Some(person.line),
        user_id: current.map(|u| u.id),
        kind: ChangeKind::None,
        state_before: current.map(|u| u.state),
        state_after: current.map(|u| u.state),
        attributes: target_attributes,
        changes: BTreeMap::new(),
        roles_added: Vec::new(),
        roles_removed: Vec::new(),
        scheduled: None,
        fingerprint: current.map(|u| u.fingerprint.clone()),
    };

    let Some(current) = current else {
        // A new person. Terminated people who were never users cause no action.
        let (state, roles, scheduled) = match target {
            Target::Gone => return change,
            Target::Active => (UserState::Active, desired, None),
            Target::ActiveUntil(at) => (UserState::Active, desired, Some(Scheduled { kind: ScheduledKind::Archive, at, roles: vec![] })),
            Target::Suspended => (UserState::Suspended, desired, None),
            Target::Pending(at) => {
                let scheduled = at.map(|at| Scheduled { kind: ScheduledKind::Activate, at, roles: role_changes(&desired) });
                if scheduled.is_none() {
                    warnings.push(RowWarning {
                        line: person.line,
                        key: person.key.clone(),
                        message: "a future starter without a start date is created pending and needs activating by hand".into(),
                    });
                }
                (UserState::Pending, BTreeMap::new(), scheduled)
            }
        };
        if change.attributes.email.is_none() {
            warnings.push(RowWarning {
                line: person.line,
                key: person.key.clone(),
                message: "the person has no email and the mapping derives none".into(),
            });
        }
        change.kind = ChangeKind::Create;
        change.state_after = Some(state);
        change.changes = diff_attributes(&Attributes::default(), &change.attributes);
        change.roles_added = role_changes(&roles);
        change.scheduled = scheduled;
        return change;
    };

    let has_scheduled = |kind: ScheduledKind, at: OffsetDateTime| current.scheduled.contains(&(kind, at));
    let (kind, state_after, roles, scheduled) = match (target, current.state) {
        (Target::Gone, UserState::Archived) => return change,
        (Target::Gone, _) => {
            change.kind = ChangeKind::Archive;
            change.state_after = Some(UserState::Archived);
            change.roles_removed =
                current.policy_roles.iter().map(|(grant, rule)| RoleChange { grant: grant.clone(), rule: rule.clone() }).collect();
            change.attributes = current.attributes.clone();
            return change;
        }
        (Target::Active, UserState::Archived) => (ChangeKind::Restore, UserState::Active, desired, None),
        (Target::Active, UserState::Pending | UserState::Suspended) => (ChangeKind::Activate, UserState::Active, desired, None),
        (Target::Active, UserState::Active) => (ChangeKind::None, UserState::Active, desired, None),
        (Target::ActiveUntil(at), state) => {
            let scheduled = (!has_scheduled(ScheduledKind::Archive, at)).then_some(Scheduled { kind: ScheduledKind::Archive, at, roles: vec![] });
            let kind = match state {
                UserState::Archived => ChangeKind::Restore,
                UserState::Pending | UserState::Suspended => ChangeKind::Activate,
                UserState::Active => ChangeKind::None,
            };
            (kind, UserState::Active, desired, scheduled)
        }
        (Target::Suspended, UserState::Suspended) => (ChangeKind::None, UserState::Suspended, desired, None),
        (Target::Suspended, UserState::Archived) => (ChangeKind::Restore, UserState::Suspended, desired, None),
        (Target::Suspended, _) => (ChangeKind::Suspend, UserState::Suspended, desired, None),
        (Target::Pending(at), state) => {
            let scheduled = at
                .filter(|at| !has_scheduled(ScheduledKind::Activate, *at))
                .map(|at| Scheduled { kind: ScheduledKind::Activate, at, roles: role_changes(&desired) });
            match state {
                // A rehire with a future start date returns as pending and gets its roles on the day.
                UserState::Archived => (ChangeKind::Restore, UserState::Pending, BTreeMap::new(), scheduled),
                UserState::Pending => (ChangeKind::None, UserState::Pending, BTreeMap::new(), scheduled),
                // An active user is not sent back to pending by a start date that moved.
                other => (ChangeKind::None, other, desired, None),
            }
        }
    };

    change.kind = kind;
    change.state_after = Some(state_after);
    change.changes = diff_attributes(&current.attributes, &change.attributes);
    for (grant, rule) in &roles {
        if current.policy_roles.get(grant) != Some(rule) {
            change.roles_added.push(RoleChange { grant: grant.clone(), rule: rule.clone() });
        }
    }
    for (grant, rule) in current.policy_roles.iter() {
        if roles.get(grant) != Some(rule) {
            change.roles_removed.push(RoleChange { grant: grant.clone(), rule: rule.clone() });
        }
    }
    change.scheduled = scheduled;
    change
}

fn diff_attributes(before: &Attributes, after: &Attributes) -> BTreeMap<String, AttributeChange> {
    let before = before.fields();
    after
        .fields()
        .into_iter()
        .filter(|(name, value)| before.get(name) != Some(value))
        .map(|(name, value)| {
            (name.to_string(), AttributeChange { before: before.get(name).cloned().flatten(), after: value })
        })
        .collect()
}

/// Dates as `YYYY-MM-DD` text, since the `time` crate's default serde form is a tuple.
mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;
    use time::macros::format_description;

    const FORMAT: &[time::format_description::FormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => serializer.serialize_some(&date.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|t| Date::parse(&t, FORMAT).map_err(serde::de::Error::custom)).transpose()
    }
}
