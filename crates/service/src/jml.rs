//! The JML engine's service side: plans computed from a feed and stored, runs that apply a stored plan one person
//! per transaction, webhook events through the same engine, and the scheduled activations and archives that
//! future dates create.

use roster_domain::{
    Change, Changes, LifecycleState, RoleAssignment, RoleKey, RoleSource, RoleType, Scope, Timestamp, User,
};
use roster_jml::{
    Attributes, ChangeKind, CurrentUser, Grant, Holder, Mapping, PersonChange, Plan, PlanOptions, PlanStream, Policy,
    PolicyRoles, PreparedFeed, RoleChange, ScheduledKind, TakenIdentifiers, UserState, read_mapped_feed,
};
use roster_store::{
    Conn, JmlPlanRecord, JmlRunRecord, JoinerOutcome, NewJmlPlan, NewJoiner, NewPlanChange, PlanChangesQuery, PlanConfigRef, PlanSummary, ScheduledAction,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};
use crate::jml_config::{ConfigSource, JmlConfigKind};
use crate::users::{roles_json, status_change};

/// Activates a pending user on its start date and grants the roles planned for it.
pub const ACTIVATE_USER: &str = "activate_user";
/// Archives a user when its termination date passes.
pub const ARCHIVE_USER: &str = "archive_user";

/// The approver recorded on grants that a policy rule makes.
const POLICY_APPROVER: &str = "policy";

/// Settings of the JML engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JmlSettings {
    /// A plan that archives more than this percentage of the active users is refused unless the apply allows
    /// mass leavers.
    pub mass_leaver_percent: f64,
}

impl Default for JmlSettings {
    fn default() -> Self {
        Self { mass_leaver_percent: 5.0 }
    }
}

/// A feed upload with its mapping and policy, each uploaded or named.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub mapping: ConfigSource,
    pub policy: ConfigSource,
    pub feed: Vec<u8>,
    pub full_feed: bool,
}

/// A stored plan with its runs.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub id: i64,
    pub created_at: Timestamp,
    pub created_by: String,
    /// The plan without its changes, which a client reads page by page ([`Roster::list_jml_plan_changes`]): a
    /// first load of 100,000 people has as many, and holding them all for a summary cost hundreds of megabytes.
    pub plan: Plan,
    /// How many changes the plan holds.
    pub change_count: usize,
    pub runs: Vec<JmlRunRecord>,
    /// The mapping the plan used; `None` for older plans and webhook events.
    pub mapping_used: Option<PlanConfigRef>,
    /// The policy the plan used; `None` for older plans.
    pub policy_used: Option<PlanConfigRef>,
}

/// The largest page of a plan's changes.
pub const MAX_CHANGES_PAGE: usize = 1000;

/// A name under which a plan's counts count changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSelection {
    /// Changes of this kind, where `update` includes changes of kind `none` (attributes or roles without a
    /// state change).
    Kind(ChangeKind),
    /// Changes that schedule an activation or an archive, whatever their kind.
    Scheduled,
}

impl ChangeSelection {
    /// Returns the name under which the plan's counts count the selected changes.
    fn count_name(&self) -> &'static str {
        match self {
            Self::Kind(kind) => kind.as_str(),
            Self::Scheduled => "scheduled",
        }
    }
}

/// The selection and page of a plan's changes to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesQuery {
    /// Only the changes that the plan's counts count under this name.
    pub kind: Option<ChangeSelection>,
    /// Only changes after this position in the plan, counted from 1 over all kinds.
    pub after: Option<usize>,
    /// Matching changes to skip before the page.
    pub offset: usize,
    /// At most this many changes, up to [`MAX_CHANGES_PAGE`].
    pub limit: usize,
}

/// A page of a plan's changes, each with its position in the plan (from 1).
#[derive(Debug, Clone)]
pub struct ChangesPage {
    pub changes: Vec<(usize, PersonChange)>,
    /// How many changes match the kind filter in the whole plan.
    pub total: usize,
    /// The position to continue after, when more changes match.
    pub next_after: Option<usize>,
}

/// Flags of an apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Apply a plan that has row errors, leaving those rows out.
    pub skip_invalid: bool,
    /// Apply a plan that archives more users than the mass-leaver threshold allows.
    pub allow_mass_leavers: bool,
}

/// A webhook event: one person's joiner, mover or leaver change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JmlEvent {
    /// The feed source whose latest plan's policy applies, such as `hr`.
    pub source: String,
    /// `joiner`, `mover` or `leaver`.
    pub event: String,
    /// The start date of a joiner or the last working day of a leaver, as `YYYY-MM-DD`.
    pub effective_date: Option<String>,
    pub person: EventPerson,
}

/// The person of a webhook event, in Roster's attribute names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventPerson {
    pub unique_id: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub mobile_number: Option<String>,
    pub manager_unique_id: Option<String>,
}

/// What happened to one person of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Applied,
    /// The user changed since the plan was made; re-plan to include them.
    Stale,
    /// An earlier run of the same plan already applied this person.
    AlreadyApplied,
    Failed(String),
}

/// The mapping webhook events are read through: Roster's own attribute names and ISO dates in UTC.
const EVENT_MAPPING: &str = r#"
source = "events"
key = "unique_id"
[columns]
first_name = "first_name"
last_name = "last_name"
email = "email"
job_title = "job_title"
department = "department"
mobile_number = "mobile_number"
start_date = "start_date"
end_date = "end_date"
[status]
column = "status"
active = ["active"]
terminated = ["terminated"]
[manager]
key_column = "manager_unique_id"
"#;

/// Builds the error for an input that the engine rejects, named by `field`. The message leaves out the engine's
/// own name for the input.
fn invalid(field: &str, error: &roster_jml::JmlError) -> ServiceError {
    ServiceError::field(field, "invalid", error.reason().to_string())
}

fn state_of(status: LifecycleState) -> Option<UserState> {
    match status {
        LifecycleState::Pending => Some(UserState::Pending),
        LifecycleState::Active => Some(UserState::Active),
        LifecycleState::Suspended => Some(UserState::Suspended),
        LifecycleState::Archived => Some(UserState::Archived),
        LifecycleState::Deleted => None,
    }
}

fn lifecycle_of(state: UserState) -> LifecycleState {
    match state {
        UserState::Pending => LifecycleState::Pending,
        UserState::Active => LifecycleState::Active,
        UserState::Suspended => LifecycleState::Suspended,
        UserState::Archived => LifecycleState::Archived,
    }
}

fn scheduled_kind_name(kind: ScheduledKind) -> &'static str {
    match kind {
        ScheduledKind::Activate => ACTIVATE_USER,
        ScheduledKind::Archive => ARCHIVE_USER,
    }
}

impl Roster {
    /// Computes a plan from a feed, its mapping and a policy, and stores it. Changes no user. Requires
    /// `users:write`, since the plan is the first step of a change.
    pub async fn create_jml_plan(&self, actor: &Actor, request: PlanRequest) -> Result<StoredPlan> {
        actor.require(Scope::UsersWrite)?;
        let PlanRequest { mapping, policy, feed, full_feed } = request;
        let (mapping_text, mapping_used, policy_text, policy_used) = {
            let mut conn = self.store.read().await?;
            let (mapping_text, mapping_used) = self.resolve_config(&mut conn, JmlConfigKind::Mapping, mapping).await?;
            let (policy_text, policy_used) = self.resolve_config(&mut conn, JmlConfigKind::Policy, policy).await?;
            (mapping_text, mapping_used, policy_text, policy_used)
        };

        let mapping = Mapping::parse(&mapping_text).map_err(|e| invalid("mapping", &e))?;
        let policy = Policy::parse(&policy_text).map_err(|e| invalid("policy", &e))?;
        let started = std::time::Instant::now();
        let mapped = read_mapped_feed(&feed, &mapping).map_err(|e| invalid("feed", &e))?;
        drop(feed);
        let options = PlanOptions { full_feed };

        let configs = PlanConfigs { policy_text: &policy_text, mapping_used: Some(mapping_used), policy_used: Some(policy_used) };
        let stored = self.form_plan(actor, &mapping, &policy, mapped, options, configs, RowErrors::Keep).await?;
        tracing::info!(
            plan_id = stored.id,
            changes = stored.change_count,
            errors = stored.plan.errors.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "created JML plan"
        );
        Ok(stored)
    }

    /// Computes a plan and stores it as it forms: the plan's row, then its changes in batches, each batch in its
    /// own transaction, then its summary, which makes it readable. Only one batch of changes is in memory at a
    /// time. A plan whose forming fails is deleted.
    #[allow(clippy::too_many_arguments)]
    async fn form_plan(
        &self,
        actor: &Actor,
        mapping: &roster_jml::CompiledMapping,
        policy: &Policy,
        feed: roster_jml::Feed,
        options: PlanOptions,
        configs: PlanConfigs<'_>,
        row_errors: RowErrors,
    ) -> Result<StoredPlan> {
        let users = self.current_users(&mapping.mapping.source, policy).await?;
        let prepared = PreparedFeed::new(mapping, feed, &users);
        let taken = self.look_up_identifiers(&prepared).await?;
        let mut stream = prepared.stream(policy, &taken, self.clock.now().as_datetime(), options);
        if row_errors == RowErrors::Reject
            && let Some(error) = stream.errors().first()
        {
            return Err(ServiceError::field("person", "invalid", error.reason.clone()));
        }

        let now = self.clock.now();
        let id = self.insert_unformed_plan(actor, &mapping.mapping.source, &configs, now).await?;
        let formed = match self.write_plan_changes(id, &mut stream).await {
            Ok(change_count) => self.form_stored_plan(id, stream.finish(), change_count).await,
            Err(error) => Err(error),
        };
        let (plan, change_count) = match formed {
            Ok(formed) => formed,
            Err(error) => {
                self.discard_unformed_plan(id).await;
                return Err(error);
            }
        };

        Ok(StoredPlan {
            id,
            created_at: now,
            created_by: actor.name.clone(),
            plan,
            change_count,
            runs: Vec::new(),
            mapping_used: configs.mapping_used,
            policy_used: configs.policy_used,
        })
    }

    /// Loads the users a plan compares the feed with: every user with a `unique_id` that is not deleted, with the
    /// roles policy rules granted it and the activations and archives scheduled for it.
    async fn current_users(&self, source: &str, policy: &Policy) -> Result<Vec<CurrentUser>> {
        let mut conn = self.store.read().await?;
        check_policy_roles(policy, &conn.list_role_types().await?)?;

        let mut scheduled: HashMap<i64, Vec<(ScheduledKind, time::OffsetDateTime)>> = HashMap::new();
        for (user_id, kind, due) in conn.pending_actions_of_kinds(&[ACTIVATE_USER, ARCHIVE_USER]).await? {
            let kind = if kind == ACTIVATE_USER { ScheduledKind::Activate } else { ScheduledKind::Archive };
            scheduled.entry(user_id).or_default().push((kind, due.as_datetime()));
        }
        drop(conn);

        // Grants first: their rows are the most numerous, and their memory is free again before users load.
        let grants = self.store.fold_policy_grants(GrantIndex::default(), GrantIndex::add).await?;
        let policy_roles = grants.by_user;
        let users = self
            .store
            .jml_users(source, move |record| {
                let state = state_of(record.status)?;
                Some(CurrentUser {
                    id: record.id,
                    unique_id: record.unique_id,
                    attributes: Attributes {
                        first_name: record.first_name,
                        last_name: record.last_name,
                        email: record.email,
                        job_title: record.job_title,
                        department: record.department,
                        mobile_number: record.mobile_number,
                        start_date: record.start_date,
                        end_date: record.end_date,
                        manager_key: record.manager_unique_id,
                    },
                    state,
                    policy_roles: PolicyRoles::new(policy_roles.get(&record.id).cloned().unwrap_or_default()),
                    owned: record.owned,
                    scheduled: scheduled.get(&record.id).cloned().unwrap_or_default(),
                    fingerprint: record.version.to_string(),
                })
            })
            .await?;
        Ok(users)
    }

    /// Looks up the emails and user names the plan probes, in rounds of batched queries. The first round queries
    /// every email the feed gives or derives, and later ones only the numbered variants of derived emails that
    /// turned out taken. Each round queries only values that no earlier round queried, so the rounds end.
    async fn look_up_identifiers(&self, prepared: &PreparedFeed<'_>) -> Result<TakenIdentifiers> {
        let mut taken = TakenIdentifiers::default();
        let mut conn = self.store.read().await?;
        loop {
            let wanted = prepared.identifiers_to_look_up(&taken);
            if wanted.is_empty() {
                return Ok(taken);
            }

            let values: Vec<String> = wanted.iter().cloned().collect();
            for holder in conn.identifier_holders(&values).await? {
                let owner = Holder { user_id: holder.id, unique_id: holder.unique_id_folded };
                if let Some(email) = holder.email_folded.filter(|e| wanted.contains(e)) {
                    taken.emails.insert(email, owner.clone());
                }
                if wanted.contains(&holder.user_name_folded) {
                    taken.user_names.insert(holder.user_name_folded, owner);
                }
            }
            taken.looked_up.extend(wanted);
        }
    }

    /// Inserts the plan's row, unformed, after deleting plans that were left unformed a day ago or earlier.
    async fn insert_unformed_plan(&self, actor: &Actor, source: &str, configs: &PlanConfigs<'_>, now: Timestamp) -> Result<i64> {
        let record = NewJmlPlan {
            source,
            created_at: now,
            created_by: &actor.name,
            policy: configs.policy_text,
            mapping_used: configs.mapping_used.as_ref(),
            policy_used: configs.policy_used.as_ref(),
        };
        let abandoned_before = Timestamp::from_datetime(now.as_datetime() - time::Duration::days(1));

        let mut conn = self.store.begin().await?;
        let abandoned = conn.delete_unformed_jml_plans(abandoned_before).await?;
        let id = conn.insert_jml_plan(&record).await?;
        conn.commit().await?;

        if abandoned > 0 {
            tracing::warn!(plans = abandoned, "deleted JML plans left unformed for a day");
        }
        Ok(id)
    }

    /// Writes the stream's changes in batches of [`PLAN_WRITE_BATCH`], each in its own transaction, and returns how
    /// many it wrote.
    async fn write_plan_changes(&self, id: i64, stream: &mut PlanStream<'_, '_>) -> Result<usize> {
        let mut written = 0;
        loop {
            let mut batch = Vec::with_capacity(PLAN_WRITE_BATCH);
            for change in stream.by_ref().take(PLAN_WRITE_BATCH) {
                written += 1;
                batch.push(plan_change_row(written, &change)?);
            }
            if batch.is_empty() {
                return Ok(written);
            }

            let mut conn = self.store.begin().await?;
            conn.insert_jml_plan_changes(id, &batch).await?;
            conn.commit().await?;
        }
    }

    /// Writes the plan's summary, which makes it readable, and returns the plan and its number of changes.
    async fn form_stored_plan(&self, id: i64, plan: Plan, change_count: usize) -> Result<(Plan, usize)> {
        let body = serde_json::to_string(&plan).map_err(|e| ServiceError::Internal(format!("serialising a plan failed: {e}")))?;
        let summary = PlanSummary {
            has_errors: !plan.errors.is_empty(),
            body: &body,
            change_count: i64::try_from(change_count).unwrap_or(i64::MAX),
        };

        let mut conn = self.store.begin().await?;
        if !conn.form_jml_plan(id, &summary).await? {
            return Err(ServiceError::Internal(format!("plan {id} vanished while it formed")));
        }
        conn.commit().await?;
        Ok((plan, change_count))
    }

    /// Deletes a plan whose forming failed. A failure here is logged, not returned: the caller returns the error
    /// that stopped the plan, and a later plan deletes what is left a day on.
    async fn discard_unformed_plan(&self, id: i64) {
        let deleted = async {
            let mut conn = self.store.begin().await?;
            conn.delete_unformed_jml_plan(id).await?;
            conn.commit().await
        };
        if let Err(error) = deleted.await {
            tracing::error!(plan_id = id, error = %error, "deleting a JML plan whose forming failed failed");
        }
    }

    /// Loads a stored plan and its runs. Requires `users:read`.
    pub async fn get_jml_plan(&self, actor: &Actor, id: i64) -> Result<StoredPlan> {
        actor.require(Scope::UsersRead)?;
        let mut conn = self.store.read().await?;
        let record = conn.jml_plan(id).await?.ok_or_else(|| ServiceError::not_found("plan", id))?;
        let runs = conn.jml_runs_of_plan(id).await?;
        let plan = parse_plan(&record)?;
        Ok(StoredPlan {
            id,
            created_at: record.created_at,
            created_by: record.created_by,
            plan,
            change_count: usize::try_from(record.change_count).unwrap_or(0),
            runs,
            mapping_used: record.mapping_used,
            policy_used: record.policy_used,
        })
    }

    /// Lists a page of a stored plan's changes in apply order, optionally of one kind. Requires `users:read`.
    pub async fn list_jml_plan_changes(&self, actor: &Actor, id: i64, query: ChangesQuery) -> Result<ChangesPage> {
        actor.require(Scope::UsersRead)?;
        let mut conn = self.store.read().await?;
        let record = conn.jml_plan(id).await?.ok_or_else(|| ServiceError::not_found("plan", id))?;
        let plan = parse_plan(&record)?;

        let total = match query.kind {
            None => usize::try_from(record.change_count).unwrap_or(0),
            Some(selection) => plan.counts.get(selection.count_name()).copied().unwrap_or(0),
        };
        let limit = query.limit.clamp(1, MAX_CHANGES_PAGE);
        let rows = conn
            .jml_plan_changes(
                id,
                &PlanChangesQuery {
                    after: i64::try_from(query.after.unwrap_or(0)).unwrap_or(i64::MAX),
                    kind: match query.kind {
                        Some(ChangeSelection::Kind(kind)) => Some(kind.as_str()),
                        _ => None,
                    },
                    scheduled_only: query.kind == Some(ChangeSelection::Scheduled),
                    offset: i64::try_from(query.offset).unwrap_or(i64::MAX),
                    limit: i64::try_from(limit + 1).unwrap_or(i64::MAX),
                },
            )
            .await?;
        let mut selected = parse_changes(id, rows)?;

        let has_more = selected.len() > limit;
        selected.truncate(limit);
        let next_after = if has_more { selected.last().map(|(position, _)| *position) } else { None };
        Ok(ChangesPage { changes: selected, total, next_after })
    }

    /// Loads a run. Requires `users:read`.
    pub async fn get_jml_run(&self, actor: &Actor, id: i64) -> Result<JmlRunRecord> {
        actor.require(Scope::UsersRead)?;
        let mut conn = self.store.read().await?;
        conn.jml_run(id).await?.ok_or_else(|| ServiceError::not_found("run", id))
    }

    /// Starts applying a stored plan and returns the new run, which goes on in the background. People whom an
    /// earlier run of the plan applied are skipped, so applying again finishes an interrupted run. Requires
    /// `users:write` and `roles:write`.
    ///
    /// Earlier runs of the plan that still say `running`, such as one whose server died, become `interrupted`.
    pub async fn apply_jml_plan(&self, actor: &Actor, id: i64, options: ApplyOptions) -> Result<JmlRunRecord> {
        let (record, run_id) = self.start_run(actor, id, options).await?;
        let roster = self.clone();
        let actor = actor.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = roster.execute_run(&actor, &record, run_id).await {
                tracing::error!(run_id, error = %error, "JML run failed");
                let _ = roster.finish_run(run_id, "failed", &json!({}), Some(&error.to_string())).await;
            }
            roster.runs.forget(run_id);
        });
        self.runs.track(run_id, task.abort_handle());
        let mut conn = self.store.read().await?;
        conn.jml_run(run_id).await?.ok_or_else(|| ServiceError::Internal("a new run vanished".into()))
    }

    async fn start_run(&self, actor: &Actor, id: i64, options: ApplyOptions) -> Result<(JmlPlanRecord, i64)> {
        actor.require(Scope::UsersWrite)?;
        actor.require(Scope::RolesWrite)?;
        let mut conn = self.store.read().await?;
        let mut record = conn.jml_plan(id).await?.ok_or_else(|| ServiceError::not_found("plan", id))?;
        let plan = parse_plan(&record)?;
        // The run reads the plan's changes page by page and needs nothing of its summary.
        record.body = String::new();
        if !plan.errors.is_empty() && !options.skip_invalid {
            return Err(ServiceError::Conflict {
                code: "plan_has_errors",
                message: format!(
                    "the plan has {} invalid row(s); fix the feed and plan again, or apply with skip_invalid to leave them out",
                    plan.errors.len()
                ),
                details: json!({ "errors": plan.errors.len() }),
            });
        }

        let leavers = plan.counts.get(ChangeKind::Archive.as_str()).copied().unwrap_or(0);
        let active = conn.count_users_in_state(LifecycleState::Active).await?;
        let limit = self.jml_settings.mass_leaver_percent;
        #[allow(clippy::cast_precision_loss)]
        let share = if active > 0 { leavers as f64 * 100.0 / active as f64 } else { 0.0 };
        if leavers > 0 && share > limit && !options.allow_mass_leavers {
            return Err(ServiceError::Conflict {
                code: "mass_leavers",
                message: format!(
                    "the plan archives {leavers} of {active} active users ({share:.1}%), more than the {limit}% \
                     threshold; check the feed, or apply with allow_mass_leavers"
                ),
                details: json!({ "leavers": leavers, "active_users": active, "threshold_percent": limit }),
            });
        }
        drop(conn);

        let mut conn = self.store.begin().await?;
        conn.interrupt_jml_runs(id, self.clock.now()).await?;
        let run_id = conn.insert_jml_run(id, "running", self.clock.now(), &actor.name).await?;
        conn.commit().await?;
        tracing::info!(plan_id = id, run_id, changes = record.change_count, "started JML run");
        Ok((record, run_id))
    }

    /// Stops the runs this process is applying and marks them `interrupted`, so that after a restart they do not
    /// read as still running, and applying the plan again finishes them. A person whose commit had begun still
    /// commits. The server calls this when it stops.
    pub async fn stop_local_runs(&self) {
        let runs = self.runs.take_all();
        for (_, task) in &runs {
            task.abort();
        }

        for (run_id, _) in runs {
            let marked = async {
                let mut conn = self.store.begin().await?;
                let marked = conn.interrupt_jml_run(run_id, self.clock.now(), STOPPED_RUN_MESSAGE).await?;
                conn.commit().await?;
                Ok::<bool, ServiceError>(marked)
            };
            match marked.await {
                Ok(true) => tracing::warn!(run_id, "stopped a JML run because the server is stopping; apply its plan again to finish it"),
                Ok(false) => {}
                Err(error) => tracing::error!(run_id, error = %error, "marking a stopped JML run as interrupted failed"),
            }
        }
    }

    async fn finish_run(&self, run_id: i64, status: &str, counts: &Value, message: Option<&str>) -> Result<()> {
        let mut conn = self.store.begin().await?;
        conn.update_jml_run(run_id, status, &counts.to_string(), message, self.clock.now(), status != "running").await?;
        conn.commit().await?;
        Ok(())
    }

    /// Applies the plan's changes a page at a time, in apply order, and records the run's result.
    async fn execute_run(&self, actor: &Actor, record: &JmlPlanRecord, run_id: i64) -> Result<Value> {
        let role_types: HashMap<String, RoleType> = {
            let mut conn = self.store.read().await?;
            conn.list_role_types().await?.into_iter().map(|rt| (rt.name.clone(), rt)).collect()
        };
        let shared = Arc::new(RunShared { actor: actor.clone(), record: record.clone(), role_types, run_id });
        let mut tally = RunTally::new(usize::try_from(record.change_count).unwrap_or(0));

        let mut page = self.apply_page(record.id, 0).await?;
        while let Some(&(last, _)) = page.last() {
            // The next page is read while this one is applied, so the writer does not wait for the read.
            let roster = self.clone();
            let plan_id = record.id;
            let next = tokio::spawn(async move { roster.apply_page(plan_id, last).await });

            let changes: Vec<Arc<PersonChange>> = page.into_iter().map(|(_, change)| Arc::new(change)).collect();
            // A page ends every wave before the next page starts, so a manager on an earlier page has committed.
            for wave in apply_waves(&changes) {
                self.apply_wave(&shared, wave, &mut tally).await?;
            }
            page = next.await.map_err(|e| ServiceError::Internal(format!("reading the next page of plan {plan_id} stopped: {e}")))??;
        }

        let result = tally.result();
        self.finish_run(run_id, "done", &result, None).await?;
        tracing::info!(run_id, applied = tally.applied, stale = tally.stale.len(), failed = tally.failures.len(), "finished JML run");
        Ok(result)
    }

    /// Reads the changes of a plan's run that follow position `after`, [`APPLY_PAGE`] of them.
    async fn apply_page(&self, plan_id: i64, after: i64) -> Result<Vec<(i64, PersonChange)>> {
        let query = PlanChangesQuery {
            after,
            kind: None,
            scheduled_only: false,
            offset: 0,
            limit: i64::try_from(apply_page_size()).unwrap_or(i64::MAX),
        };
        let rows = {
            let mut conn = self.store.read().await?;
            conn.jml_plan_changes(plan_id, &query).await?
        };
        let changes = parse_changes(plan_id, rows)?;
        Ok(changes.into_iter().map(|(position, change)| (i64::try_from(position).unwrap_or(i64::MAX), change)).collect())
    }

    /// Applies one wave of changes, several at once, and tallies their outcomes in plan order.
    async fn apply_wave(&self, shared: &Arc<RunShared>, wave: Vec<&Arc<PersonChange>>, tally: &mut RunTally) -> Result<()> {
        // Each person still commits alone; running several at once lets their commits share one SQLite batch
        // (group commit) or use several PostgreSQL connections.
        let concurrency = apply_concurrency();
        let mut in_flight = InFlight::default();
        let mut pending = wave.into_iter();
        loop {
            while in_flight.len() < concurrency
                && let Some(change) = pending.next()
            {
                in_flight.spawn(self.clone(), Arc::clone(shared), Arc::clone(change));
            }
            let Some((change, outcome)) = in_flight.next().await? else { return Ok(()) };
            tally.add(shared.run_id, &change, outcome?);

            crash_point(tally.done);
            pause_point(tally.done).await;
            if tally.done.is_multiple_of(tally.progress_every()) {
                self.finish_run(shared.run_id, "running", &tally.result(), None).await?;
            }
        }
    }

    /// Applies one person's change in its own transaction with its audit entry, or records why not.
    async fn apply_person(
        &self,
        actor: &Actor,
        record: &JmlPlanRecord,
        change: &PersonChange,
        run_id: i64,
        role_types: &HashMap<String, RoleType>,
    ) -> Result<Outcome> {
        let now = self.clock.now();
        // On SQLite a joiner is looked up before the write transaction, off the single writer: a user that another
        // request creates in between makes the insert fail on the unique key, which reports the person as stale.
        let joiner = match change.user_id {
            Some(_) => None,
            None => self.store.committed_user_by_unique_id(&change.key).transpose()?,
        };
        let prepared = self.prepare_joiner(change, joiner.as_ref(), now)?;
        // A joiner that no committed user holds, with nothing to schedule, takes the one-step path.
        let prepared = match prepared {
            Some(prepared) if change.scheduled.is_none() && change.fingerprint.is_none() => {
                return self.create_joiner(actor, record, change, prepared, run_id, role_types, now).await;
            }
            other => other,
        };
        let mut conn = self.store.begin().await?;
        let current = match (change.user_id, joiner) {
            (Some(id), _) => conn.user_by_id(id).await?,
            (None, Some(found)) => found,
            (None, None) => conn.user_by_unique_id(&change.key).await?,
        };
        let is_stale = match (&change.fingerprint, &current) {
            (Some(fingerprint), Some(user)) => *fingerprint != user.version.to_string(),
            (Some(_), None) | (None, Some(_)) => true,
            (None, None) => false,
        };
        if is_stale {
            if !conn.insert_jml_run_item(record.id, &change.key, run_id, "stale", None, now).await? {
                return Ok(Outcome::AlreadyApplied);
            }
            conn.commit().await?;
            return Ok(Outcome::Stale);
        }

        let applied = match current {
            None => self.create_person(&mut conn, actor, record, change, prepared, role_types, now).await,
            Some(user) => self.change_person(&mut conn, actor, record, change, user, role_types, now).await,
        };
        match applied {
            Ok(true) => {}
            Ok(false) => return Ok(Outcome::Stale),
            Err(error @ (ServiceError::Internal(_) | ServiceError::Unavailable(_))) => return Err(error),
            Err(error) => return Ok(Outcome::Failed(error.to_string())),
        }
        if !conn.insert_jml_run_item(record.id, &change.key, run_id, "applied", None, now).await? {
            // Another run of this plan applied the person first; dropping the transaction undoes this attempt.
            return Ok(Outcome::AlreadyApplied);
        }
        conn.commit().await?;
        Ok(Outcome::Applied)
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_person(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        record: &JmlPlanRecord,
        change: &PersonChange,
        prepared: Option<PreparedJoiner>,
        role_types: &HashMap<String, RoleType>,
        now: Timestamp,
    ) -> Result<bool> {
        let PreparedJoiner { mut user, mut changes } = match prepared {
            Some(prepared) => prepared,
            None => {
                let manager_id = self.manager_id(conn, change.attributes.manager_key.as_deref()).await?;
                PreparedJoiner::new(change, manager_id, now)
            }
        };

        user.id = match conn.insert_user(&user, "jml").await {
            Ok(id) => id,
            Err(roster_store::StoreError::Unique(roster_store::UniqueField::UniqueId)) => return Ok(false),
            Err(error) => return Err(error.into()),
        };
        conn.mark_feed_user(&record.source, user.id, "created", now).await?;
        let granted = self.grant_policy_roles(conn, user.id, &change.roles_added, role_types, now).await?;
        let scheduled = self.schedule_for(conn, user.id, change, role_types, actor).await?;

        if !granted.is_empty() {
            changes.insert("roles".into(), Change { before: json!([]), after: roles_json(&granted) });
        }
        add_plan_fields(&mut changes, record.id, scheduled);
        conn.append_audit(&self.audit_entry(actor, "user.create", "user", Some(user.id.to_string()), changes)).await?;
        Ok(true)
    }

    /// Creates a joiner whose user was prepared before the write and who schedules nothing: every write in one
    /// store call, which on SQLite joins a batch of such writes, and commits.
    #[allow(clippy::too_many_arguments)]
    async fn create_joiner(
        &self,
        actor: &Actor,
        record: &JmlPlanRecord,
        change: &PersonChange,
        prepared: PreparedJoiner,
        run_id: i64,
        role_types: &HashMap<String, RoleType>,
        now: Timestamp,
    ) -> Result<Outcome> {
        let PreparedJoiner { user, mut changes } = prepared;
        let grants = match policy_assignments(&change.roles_added, role_types, now) {
            Ok(grants) => grants,
            Err(error) => return Ok(Outcome::Failed(error.to_string())),
        };
        if !grants.is_empty() {
            changes.insert("roles".into(), Change { before: json!([]), after: roles_json(&grants) });
        }
        add_plan_fields(&mut changes, record.id, None);
        let audit = self.audit_entry(actor, "user.create", "user", None, changes).prepare();

        let joiner = NewJoiner { user, source: record.source.clone(), grants, audit, plan_id: record.id, run_id, at: now };

        match self.store.create_joiner(joiner).await? {
            JoinerOutcome::Created(_) => Ok(Outcome::Applied),
            JoinerOutcome::KeyTaken => Ok(Outcome::Stale),
            // Another run of this plan applied the person first, so the store undid this attempt.
            JoinerOutcome::AlreadyApplied => Ok(Outcome::AlreadyApplied),
        }
    }

    /// Prepares a joiner's user before the write transaction when its manager can be read off the writer (on
    /// SQLite), so the single writer is held only for the writes. `None` when the transaction must look the manager
    /// up, on PostgreSQL, or when the person is no joiner.
    fn prepare_joiner(&self, change: &PersonChange, joiner: Option<&Option<User>>, now: Timestamp) -> Result<Option<PreparedJoiner>> {
        if change.user_id.is_some() || !matches!(joiner, Some(None)) {
            return Ok(None);
        }
        let Some(manager_id) = self.committed_manager_id(change.attributes.manager_key.as_deref()).transpose()? else {
            return Ok(None);
        };
        Ok(Some(PreparedJoiner::new(change, manager_id, now)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_person(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        record: &JmlPlanRecord,
        change: &PersonChange,
        current: User,
        role_types: &HashMap<String, RoleType>,
        now: Timestamp,
    ) -> Result<bool> {
        conn.mark_feed_user(&record.source, current.id, "adopted", now).await?;

        if change.kind == ChangeKind::Archive {
            if current.status == LifecycleState::Archived {
                return Ok(true);
            }
            conn.cancel_user_actions(current.id, ARCHIVE_USER, now, "cancelled: the user was archived").await?;
            let Some(mut changes) = self.archive_in_tx(conn, &current, now).await? else { return Ok(false) };
            add_plan_fields(&mut changes, record.id, None);
            conn.append_audit(&self.audit_entry(actor, "user.archive", "user", Some(current.id.to_string()), changes))
                .await?;
            return Ok(true);
        }

        let mut next = current.clone();
        let attributes = &change.attributes;
        for field in change.changes.keys() {
            match field.as_str() {
                "first_name" => next.first_name = attributes.first_name.clone(),
                "last_name" => next.last_name = attributes.last_name.clone(),
                "email" => next.email = attributes.email.clone().or(next.email),
                "job_title" => next.job_title = attributes.job_title.clone(),
                "department" => next.department = attributes.department.clone(),
                "mobile_number" => next.mobile_number = attributes.mobile_number.clone(),
                "start_date" => next.start_date = attributes.start_date,
                "end_date" => next.end_date = attributes.end_date,
                "manager" => next.manager_id = self.manager_id(conn, attributes.manager_key.as_deref()).await?,
                _ => {}
            }
        }
        if next.manager_id == Some(current.id) {
            next.manager_id = None;
        }
        let state = change.state_after.map_or(current.status, lifecycle_of);
        next.status = state;
        if current.status == LifecycleState::Archived && state != LifecycleState::Archived {
            next.archived_at = None;
        }
        next.updated_at = now;
        let mut changes = roster_domain::audit::diff(&current.attributes_json(), &next.attributes_json());

        let roles_before = conn.user_assignments(current.id).await?;
        for removed in &change.roles_removed {
            let Some(role_type) = role_types.get(&removed.grant.role) else { continue };
            let key = role_key(role_type, &removed.grant);
            conn.delete_assignment(current.id, &key, &RoleSource::Policy(removed.rule.clone())).await?;
        }
        self.grant_policy_roles(conn, current.id, &change.roles_added, role_types, now).await?;
        if state == LifecycleState::Active && current.status != LifecycleState::Active {
            self.regrant_user_groups(conn, current.id, now).await?;
        }
        let roles_after = conn.user_assignments(current.id).await?;
        if roles_after != roles_before {
            changes.insert("roles".into(), Change { before: roles_json(&roles_before), after: roles_json(&roles_after) });
        }
        let scheduled = self.schedule_for(conn, current.id, change, role_types, actor).await?;

        if changes.is_empty() && scheduled.is_none() {
            return Ok(true);
        }
        if !conn.update_user(&next, current.version).await? {
            return Ok(false);
        }
        add_plan_fields(&mut changes, record.id, scheduled);
        let action = match change.kind {
            ChangeKind::Restore => "user.unarchive",
            ChangeKind::Activate => "user.activate",
            ChangeKind::Suspend => "user.suspend",
            _ => "user.update",
        };
        conn.append_audit(&self.audit_entry(actor, action, "user", Some(current.id.to_string()), changes)).await?;
        Ok(true)
    }

    /// Finds the manager's user id. A run applies managers in an earlier wave than their reports, so a manager
    /// the run creates has committed before this is asked, and on SQLite the read stays off the single writer.
    async fn manager_id(&self, conn: &mut Conn, manager_key: Option<&str>) -> Result<Option<i64>> {
        if let Some(found) = self.committed_manager_id(manager_key) {
            return found;
        }
        let Some(key) = manager_key else { return Ok(None) };
        Ok(conn.user_by_unique_id(key).await?.map(|manager| manager.id))
    }

    /// Finds the manager's user id on the committed reader, off the writer. `None` when the store has no such
    /// reader (PostgreSQL), so the caller asks its own connection.
    fn committed_manager_id(&self, manager_key: Option<&str>) -> Option<Result<Option<i64>>> {
        let Some(key) = manager_key else { return Some(Ok(None)) };
        let found = self.store.committed_user_by_unique_id(key)?;
        Some(found.map(|manager| manager.map(|m| m.id)).map_err(ServiceError::from))
    }

    /// Inserts policy grants and returns them; a role type that no longer exists fails the person.
    async fn grant_policy_roles(
        &self,
        conn: &mut Conn,
        user_id: i64,
        roles: &[RoleChange],
        role_types: &HashMap<String, RoleType>,
        now: Timestamp,
    ) -> Result<Vec<RoleAssignment>> {
        let assignments = policy_assignments(roles, role_types, now)?;

        let inserted = conn.insert_assignments_if_absent(user_id, &assignments).await?;
        Ok(assignments.into_iter().zip(inserted).filter_map(|(assignment, inserted)| inserted.then_some(assignment)).collect())
    }

    /// Replaces the user's pending action of the planned kind with the planned one; returns its id.
    async fn schedule_for(
        &self,
        conn: &mut Conn,
        user_id: i64,
        change: &PersonChange,
        role_types: &HashMap<String, RoleType>,
        actor: &Actor,
    ) -> Result<Option<i64>> {
        let Some(scheduled) = &change.scheduled else { return Ok(None) };
        let kind = scheduled_kind_name(scheduled.kind);
        let now = self.clock.now();
        conn.cancel_user_actions(user_id, kind, now, "replaced by a newer plan").await?;
        let roles: Vec<Value> = scheduled
            .roles
            .iter()
            .filter_map(|role| {
                let role_type = role_types.get(&role.grant.role)?;
                Some(json!({
                    "role_type_id": role_type.id,
                    "role_type_name": role_type.name,
                    "resource_type": role.grant.resource_type,
                    "resource_id": role.grant.resource_id,
                    "rule": role.rule,
                }))
            })
            .collect();
        let due = Timestamp::from_datetime(scheduled.at);
        let id = conn.insert_scheduled_action(kind, user_id, &json!({ "roles": roles }), due, now, &actor.name).await?;
        Ok(Some(id))
    }

    /// Applies one webhook event through the same engine as a feed: it plans the single person with the policy of
    /// the source's latest applied plan, stores that plan and applies it at once. Requires `users:write` and
    /// `roles:write`.
    pub async fn apply_jml_event(&self, actor: &Actor, event: JmlEvent) -> Result<(StoredPlan, JmlRunRecord)> {
        actor.require(Scope::UsersWrite)?;
        actor.require(Scope::RolesWrite)?;
        let (policy_text, policy_used) = {
            let mut conn = self.store.read().await?;
            let latest = conn.latest_applied_jml_policy(&event.source).await?;
            latest.map(|applied| (applied.policy, applied.policy_used)).ok_or_else(|| {
                ServiceError::field(
                    "source",
                    "not_found",
                    format!(
                        "no plan has been applied for source {:?}; apply a feed's plan first, whose policy events then use",
                        event.source
                    ),
                )
            })?
        };
        let policy = Policy::parse(&policy_text).map_err(|e| invalid("policy", &e))?;
        let mut mapping = Mapping::parse(EVENT_MAPPING).map_err(|e| ServiceError::Internal(e.to_string()))?;
        mapping.mapping.source = event.source.clone();

        let date = match &event.effective_date {
            None => None,
            Some(text) => Some(mapping.parse_date(text).ok_or_else(|| {
                ServiceError::field("effective_date", "invalid", format!("{text:?} is not a date such as 2027-01-04"))
            })?),
        };
        let (status, start_date, end_date) = match event.event.as_str() {
            "joiner" => ("active", date, None),
            "mover" => ("active", None, None),
            "leaver" => ("terminated", None, date.or(Some(self.clock.now().as_datetime().date()))),
            other => {
                return Err(ServiceError::field("event", "invalid", format!("{other:?} is not joiner, mover or leaver")));
            }
        };
        let person = &event.person;
        let mut fields = BTreeMap::new();
        let mut put = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                fields.insert(name.to_string(), value);
            }
        };
        put("unique_id", Some(person.unique_id.clone()));
        put("first_name", person.first_name.clone());
        put("last_name", Some(person.last_name.clone()));
        put("email", person.email.clone());
        put("job_title", person.job_title.clone());
        put("department", person.department.clone());
        put("mobile_number", person.mobile_number.clone());
        put("manager_unique_id", person.manager_unique_id.clone());
        put("start_date", start_date.map(|d| d.to_string()));
        put("end_date", end_date.map(|d| d.to_string()));
        put("status", Some(status.to_string()));
        let feed = roster_jml::Feed { rows: vec![roster_jml::Row::new(1, fields)], errors: Vec::new() };

        // NOTE: the plan sees only this person, so `is_manager` rules hold only through the feed's later plans.
        let configs = PlanConfigs { policy_text: &policy_text, mapping_used: None, policy_used };
        let stored = self.form_plan(actor, &mapping, &policy, feed, PlanOptions::default(), configs, RowErrors::Reject).await?;
        let (record, run_id) = self.start_run(actor, stored.id, ApplyOptions { skip_invalid: false, allow_mass_leavers: true }).await?;
        self.execute_run(actor, &record, run_id).await?;
        let mut conn = self.store.read().await?;
        let run = conn.jml_run(run_id).await?.ok_or_else(|| ServiceError::Internal("a finished run vanished".into()))?;
        Ok((stored, run))
    }

    /// Activates a pending user on its start date with the roles planned for it, inside the claiming transaction.
    pub(crate) async fn scheduled_activation(&self, conn: &mut Conn, action: &ScheduledAction, now: Timestamp) -> Result<Option<String>> {
        let Some(user) = conn.user_by_id(action.user_id).await? else { return Ok(None) };
        if user.status != LifecycleState::Pending {
            return Ok(None);
        }
        let mut next = user.clone();
        next.status = LifecycleState::Active;
        next.updated_at = now;
        if !conn.update_user(&next, user.version).await? {
            return Err(ServiceError::Internal("the user changed while it was activated".into()));
        }

        let mut granted = Vec::new();
        for role in action.payload.get("roles").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let Some(role_type_id) = role.get("role_type_id").and_then(Value::as_i64) else { continue };
            let Some(role_type) = conn.role_type_by_id(role_type_id).await? else { continue };
            let text = |name: &str| role.get(name).and_then(Value::as_str).map(str::to_string);
            let rule = text("rule").unwrap_or_default();
            let assignment = RoleAssignment {
                key: RoleKey { role_type_id, resource_type: text("resource_type"), resource_id: text("resource_id") },
                role_type_name: role_type.name,
                source: RoleSource::Policy(rule.clone()),
                approved_by: Some(POLICY_APPROVER.into()),
                reason: Some(format!("policy rule {rule}")),
                expires_at: None,
                granted_at: now,
            };
            if conn.insert_assignment_if_absent(user.id, &assignment).await? {
                granted.push(assignment);
            }
        }
        self.regrant_user_groups(conn, user.id, now).await?;

        let mut changes = Changes::new();
        changes.insert("status".into(), status_change(user.status, LifecycleState::Active));
        if !granted.is_empty() {
            changes.insert("roles".into(), Change { before: json!([]), after: roles_json(&granted) });
        }
        changes.insert("scheduled_action_id".into(), Change { before: Value::Null, after: action.id.into() });
        conn.append_audit(&self.audit_entry(&Actor::system(), "user.activate", "user", Some(user.id.to_string()), changes))
            .await?;
        Ok(Some(format!("activated user {} with {} role(s)", user.id, granted.len())))
    }

    /// Archives a user whose termination date has passed, inside the claiming transaction.
    pub(crate) async fn scheduled_archive(&self, conn: &mut Conn, action: &ScheduledAction, now: Timestamp) -> Result<Option<String>> {
        let Some(user) = conn.user_by_id(action.user_id).await? else { return Ok(None) };
        if user.status == LifecycleState::Archived {
            return Ok(None);
        }
        let Some(mut changes) = self.archive_in_tx(conn, &user, now).await? else {
            return Err(ServiceError::Internal("the user changed while it was archived".into()));
        };
        changes.insert("scheduled_action_id".into(), Change { before: Value::Null, after: action.id.into() });
        conn.append_audit(&self.audit_entry(&Actor::system(), "user.archive", "user", Some(user.id.to_string()), changes))
            .await?;
        Ok(Some(format!("archived user {}", user.id)))
    }
}

/// Builds the policy grants of `roles`; a role type that no longer exists fails the person.
fn policy_assignments(roles: &[RoleChange], role_types: &HashMap<String, RoleType>, now: Timestamp) -> Result<Vec<RoleAssignment>> {
    roles
        .iter()
        .map(|role| {
            let role_type = role_types.get(&role.grant.role).ok_or_else(|| ServiceError::Conflict {
                code: "missing_role_types",
                message: format!("the role type {:?} no longer exists; fix the policy and plan again", role.grant.role),
                details: Value::Null,
            })?;
            Ok(RoleAssignment {
                key: role_key(role_type, &role.grant),
                role_type_name: role_type.name.clone(),
                source: RoleSource::Policy(role.rule.clone()),
                approved_by: Some(POLICY_APPROVER.into()),
                reason: Some(format!("policy rule {}", role.rule)),
                expires_at: None,
                granted_at: now,
            })
        })
        .collect()
}

/// A joiner's new user and the audit entry's attribute changes, worked out before the write transaction.
struct PreparedJoiner {
    user: User,
    changes: Changes,
}

impl PreparedJoiner {
    fn new(change: &PersonChange, manager_id: Option<i64>, now: Timestamp) -> Self {
        let attributes = &change.attributes;
        let state = change.state_after.unwrap_or(UserState::Active);
        let user = User {
            id: 0,
            first_name: attributes.first_name.clone(),
            last_name: attributes.last_name.clone(),
            email: attributes.email.clone(),
            user_name: attributes.email.clone().unwrap_or_else(|| change.key.clone()),
            unique_id: Some(change.key.clone()),
            external_id: None,
            mobile_number: attributes.mobile_number.clone(),
            job_title: attributes.job_title.clone(),
            department: attributes.department.clone(),
            manager_id,
            start_date: attributes.start_date,
            end_date: attributes.end_date,
            custom_attributes: BTreeMap::new(),
            scim_attributes: serde_json::Map::new(),
            status: lifecycle_of(state),
            version: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        let changes = roster_domain::audit::diff(&serde_json::Map::new(), &user.attributes_json());
        Self { user, changes }
    }
}

/// The policy grants of every user, each distinct grant and rule held once and shared by its users.
#[derive(Debug, Clone, Default)]
struct GrantIndex {
    shared: HashMap<(Grant, String), Arc<(Grant, String)>>,
    by_user: HashMap<i64, Vec<Arc<(Grant, String)>>>,
}

impl GrantIndex {
    fn add(&mut self, grant: roster_store::PolicyGrant) {
        let role = Grant { role: grant.role_type_name, resource_type: grant.resource_type, resource_id: grant.resource_id };
        let entry = (role, grant.rule.unwrap_or_default());
        let entry = match self.shared.get(&entry) {
            Some(shared) => Arc::clone(shared),
            None => Arc::clone(self.shared.entry(entry.clone()).or_insert_with(|| Arc::new(entry))),
        };
        self.by_user.entry(grant.user_id).or_default().push(entry);
    }
}

/// The message of a run that a stopping server interrupted.
const STOPPED_RUN_MESSAGE: &str = "the server stopped during the run; apply the plan again to finish it";

/// The runs a process is applying, by run id, with the handle that stops each one.
#[derive(Debug, Clone, Default)]
pub(crate) struct LocalRuns(Arc<std::sync::Mutex<HashMap<i64, tokio::task::AbortHandle>>>);

impl LocalRuns {
    fn track(&self, run_id: i64, task: tokio::task::AbortHandle) {
        if let Ok(mut runs) = self.0.lock() {
            runs.insert(run_id, task);
        }
    }

    fn forget(&self, run_id: i64) {
        if let Ok(mut runs) = self.0.lock() {
            runs.remove(&run_id);
        }
    }

    fn take_all(&self) -> Vec<(i64, tokio::task::AbortHandle)> {
        self.0.lock().map(|mut runs| runs.drain().collect()).unwrap_or_default()
    }
}

/// Changes of a plan written in one transaction while the plan forms: about a megabyte of JSON.
const PLAN_WRITE_BATCH: usize = 1000;

/// Changes of a plan that a run reads at once.
const APPLY_PAGE: usize = 2000;

/// Returns how many changes a run reads at once. Debug builds take `ROSTER_TEST_JML_APPLY_PAGE`, so that tests
/// cross page boundaries with a few people.
fn apply_page_size() -> usize {
    #[cfg(debug_assertions)]
    if let Some(size) = std::env::var("ROSTER_TEST_JML_APPLY_PAGE").ok().and_then(|v| v.parse::<usize>().ok()) {
        return size.max(1);
    }
    APPLY_PAGE
}

/// The mapping and policy a plan is computed with, as the plan records them.
struct PlanConfigs<'a> {
    policy_text: &'a str,
    mapping_used: Option<PlanConfigRef>,
    policy_used: Option<PlanConfigRef>,
}

/// The handling of rows that the engine rejects while a plan forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowErrors {
    /// Store them with the plan, which a run then applies only with `skip_invalid`.
    Keep,
    /// Store nothing and return the first one, as a webhook event of one person does.
    Reject,
}

/// Returns a change as the row that stores it, at `position` in apply order.
fn plan_change_row(position: usize, change: &PersonChange) -> Result<NewPlanChange> {
    let body = serde_json::to_string(change).map_err(|e| ServiceError::Internal(format!("serialising a plan change failed: {e}")))?;
    Ok(NewPlanChange {
        position: i64::try_from(position).unwrap_or(i64::MAX),
        kind: change.counted_kind().as_str().to_string(),
        scheduled: change.scheduled.is_some(),
        body,
    })
}

/// Parses stored changes of plan `plan_id`, keeping their positions.
fn parse_changes(plan_id: i64, rows: Vec<(i64, String)>) -> Result<Vec<(usize, PersonChange)>> {
    rows.into_iter()
        .map(|(position, body)| {
            let change = serde_json::from_str(&body)
                .map_err(|e| ServiceError::Internal(format!("change {position} of plan {plan_id} is unreadable: {e}")))?;
            Ok((usize::try_from(position).unwrap_or(0), change))
        })
        .collect()
}

/// The outcomes of a run so far.
struct RunTally {
    total: usize,
    done: usize,
    applied: u64,
    already_applied: u64,
    failures: Vec<Value>,
    stale: Vec<String>,
}

impl RunTally {
    fn new(total: usize) -> Self {
        Self { total, done: 0, applied: 0, already_applied: 0, failures: Vec::new(), stale: Vec::new() }
    }

    fn add(&mut self, run_id: i64, change: &PersonChange, outcome: Outcome) {
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::AlreadyApplied => self.already_applied += 1,
            Outcome::Stale => self.stale.push(change.key.clone()),
            Outcome::Failed(reason) => {
                tracing::warn!(run_id, line = change.line, reason = %reason, "JML person change failed");
                self.failures.push(json!({ "key": change.key, "line": change.line, "reason": reason }));
            }
        }
        self.done += 1;
    }

    /// Returns how many people pass between two records of the run's progress: about a hundred records a run, and
    /// never more often than every 100 people, so that a large run does not spend its writer on progress.
    fn progress_every(&self) -> usize {
        (self.total / 100).max(100)
    }

    /// Returns the run's counts as they are stored with it.
    fn result(&self) -> Value {
        json!({
            "total": self.total,
            "applied": self.applied,
            "stale": self.stale.len(),
            "already_applied": self.already_applied,
            "failed": self.failures.len(),
            "failures": self.failures,
            "stale_keys": self.stale,
        })
    }
}

/// Most person changes of one run in flight at once. Beyond about 8, SQLite batches gain little because its
/// single writer runs one transaction at a time, and PostgreSQL competes with the server for the same cores.
const APPLY_CONCURRENCY: usize = 8;

/// Returns how many person changes a run applies at once. Debug builds with `ROSTER_TEST_JML_CRASH_AFTER` or
/// `ROSTER_TEST_JML_PAUSE_AFTER` set apply one at a time, so that exactly that many people have committed when the
/// process stops or the run holds.
fn apply_concurrency() -> usize {
    #[cfg(debug_assertions)]
    if std::env::var_os("ROSTER_TEST_JML_CRASH_AFTER").is_some() || std::env::var_os("ROSTER_TEST_JML_PAUSE_AFTER").is_some() {
        return 1;
    }
    APPLY_CONCURRENCY
}

/// The state that every person change of a run shares.
struct RunShared {
    actor: Actor,
    record: JmlPlanRecord,
    role_types: HashMap<String, RoleType>,
    run_id: i64,
}

/// Person changes being applied in their own tasks, oldest first. Dropping it aborts the tasks, so a run that
/// stops on an error applies no further person; a person whose commit has begun still commits.
#[derive(Default)]
struct InFlight {
    tasks: VecDeque<(Arc<PersonChange>, tokio::task::JoinHandle<Result<Outcome>>)>,
}

impl InFlight {
    fn len(&self) -> usize {
        self.tasks.len()
    }

    fn spawn(&mut self, roster: Roster, shared: Arc<RunShared>, change: Arc<PersonChange>) {
        let task_change = Arc::clone(&change);
        let task = tokio::spawn(async move {
            let RunShared { actor, record, role_types, run_id } = shared.as_ref();
            roster.apply_person(actor, record, &task_change, *run_id, role_types).await
        });
        self.tasks.push_back((change, task));
    }

    /// Waits for the oldest change; `None` when none is in flight.
    async fn next(&mut self) -> Result<Option<(Arc<PersonChange>, Result<Outcome>)>> {
        let Some((change, task)) = self.tasks.pop_front() else { return Ok(None) };
        let outcome = task.await.map_err(|e| ServiceError::Internal(format!("applying person {} stopped: {e}", change.key)))?;
        Ok(Some((change, outcome)))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Splits the changes, in plan order, into waves that can run concurrently. A person whose manager also changes
/// in this plan goes in a later wave than the manager, so a new manager exists before their reports look them up.
/// Each wave keeps plan order.
fn apply_waves(changes: &[Arc<PersonChange>]) -> Vec<Vec<&Arc<PersonChange>>> {
    let mut wave_of_key: HashMap<String, usize> = HashMap::with_capacity(changes.len());
    let mut waves: Vec<Vec<&Arc<PersonChange>>> = Vec::new();
    for change in changes {
        let manager_wave = change.attributes.manager_key.as_deref().and_then(|key| wave_of_key.get(&roster_domain::fold(key)));
        let wave = manager_wave.map_or(0, |wave| wave + 1);
        wave_of_key.insert(roster_domain::fold(&change.key), wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        if let Some(members) = waves.get_mut(wave) {
            members.push(change);
        }
    }
    waves
}

fn role_key(role_type: &RoleType, grant: &Grant) -> RoleKey {
    RoleKey { role_type_id: role_type.id, resource_type: grant.resource_type.clone(), resource_id: grant.resource_id.clone() }
}

fn add_plan_fields(changes: &mut Changes, plan_id: i64, scheduled: Option<i64>) {
    changes.insert("jml_plan_id".into(), Change { before: Value::Null, after: plan_id.into() });
    if let Some(id) = scheduled {
        changes.insert("scheduled_action_id".into(), Change { before: Value::Null, after: id.into() });
    }
}

fn parse_plan(record: &JmlPlanRecord) -> Result<Plan> {
    serde_json::from_str(&record.body).map_err(|e| ServiceError::Internal(format!("plan {} is unreadable: {e}", record.id)))
}

/// Checks every grant of the policy against the catalogue: the role type exists and the resource fits it.
fn check_policy_roles(policy: &Policy, role_types: &[RoleType]) -> Result<()> {
    for rule in &policy.rules {
        for grant in &rule.grant {
            let Some(role_type) = role_types.iter().find(|rt| rt.name == grant.role) else {
                return Err(ServiceError::field(
                    "policy",
                    "invalid",
                    format!("rule {:?} grants the role {:?}, which is not in the role catalogue", rule.name, grant.role),
                ));
            };
            if let Err(errors) = role_key(role_type, grant).validate_against(role_type) {
                let reason = errors.0.first().map(|e| e.message.clone()).unwrap_or_default();
                return Err(ServiceError::field(
                    "policy",
                    "invalid",
                    format!("rule {:?} grants {:?} with an invalid resource: {reason}", rule.name, grant.role),
                ));
            }
        }
    }
    Ok(())
}

/// Pauses a run for good after `applied` people when `ROSTER_TEST_JML_PAUSE_AFTER` is that number. Only debug builds read
/// the variable, so tests can stop a server while a run is certainly in progress.
async fn pause_point(applied: usize) {
    #[cfg(debug_assertions)]
    if std::env::var("ROSTER_TEST_JML_PAUSE_AFTER").ok().and_then(|v| v.parse::<usize>().ok()) == Some(applied) {
        tracing::warn!(applied, "holding the JML run at the pause point (ROSTER_TEST_JML_PAUSE_AFTER)");
        std::future::pending::<()>().await;
    }
    #[cfg(not(debug_assertions))]
    let _ = applied;
}

/// Stops the process after `applied` people of a run when `ROSTER_TEST_JML_CRASH_AFTER` says so. Only debug
/// builds read the variable, so tests can kill a server mid-run and check that a rerun resumes it.
fn crash_point(applied: usize) {
    #[cfg(debug_assertions)]
    if std::env::var("ROSTER_TEST_JML_CRASH_AFTER").ok().and_then(|v| v.parse::<usize>().ok()) == Some(applied) {
        tracing::error!(applied, "stopping the process at the JML crash point (ROSTER_TEST_JML_CRASH_AFTER)");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = applied;
}
