//! The JML engine's tables: plans, runs, run items and feed source membership.
//!
//! `roster export` carries all four tables with their ids: feed membership, so complete feeds keep their leavers
//! after a move, and plans, runs and run items, so a plan made before a move can still be read and applied after it.

use crate::types::{DbTime, Param, SqlBuf, opt_time};
use crate::{Conn, Store, StoreError};
use roster_domain::Timestamp;
use rusqlite::OptionalExtension;
use std::sync::Arc;

/// A stored plan. `body` is the plan's summary as JSON: its counts, errors and warnings, holding only mapped
/// attributes. Its changes are rows of their own, `change_count` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct JmlPlanRecord {
    pub id: i64,
    pub source: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub has_errors: bool,
    /// The policy text the plan was computed with; webhook events of the same source reuse it.
    pub policy: String,
    pub body: String,
    pub change_count: i64,
    /// The mapping the plan was computed with; `None` for plans made before this was recorded, and for the
    /// built-in mapping of webhook events.
    pub mapping_used: Option<PlanConfigRef>,
    /// The policy the plan was computed with; `None` for plans made before this was recorded.
    pub policy_used: Option<PlanConfigRef>,
}

/// The mapping or policy a plan used: the stored one's name and version, or neither for an uploaded file, and the
/// hex SHA-256 of the text either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanConfigRef {
    pub name: Option<String>,
    pub version: Option<i64>,
    pub sha256: String,
}

impl PlanConfigRef {
    fn from_columns(name: Option<String>, version: Option<i64>, sha256: Option<String>) -> Option<Self> {
        sha256.map(|sha256| Self { name, version, sha256 })
    }
}

/// A plan to insert. It stays unformed, invisible to every reader, until [`Conn::form_jml_plan`] gives it its
/// summary.
#[derive(Debug, Clone, Copy)]
pub struct NewJmlPlan<'a> {
    pub source: &'a str,
    pub created_at: Timestamp,
    pub created_by: &'a str,
    pub policy: &'a str,
    pub mapping_used: Option<&'a PlanConfigRef>,
    pub policy_used: Option<&'a PlanConfigRef>,
}

/// A plan's summary, written when all its changes are.
#[derive(Debug, Clone, Copy)]
pub struct PlanSummary<'a> {
    pub has_errors: bool,
    pub body: &'a str,
    pub change_count: i64,
}

/// One change of a plan to insert: its position in apply order (from 1), the kind the plan's counts count it
/// under, whether it schedules an action, and the change as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlanChange {
    pub position: i64,
    pub kind: String,
    pub scheduled: bool,
    pub body: String,
}

/// A selection of a plan's changes: those after `after` in apply order, optionally of one counted kind or only
/// the scheduled ones, skipping `offset` of them and returning at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChangesQuery<'a> {
    pub after: i64,
    pub kind: Option<&'a str>,
    pub scheduled_only: bool,
    pub offset: i64,
    pub limit: i64,
}

/// The maximum number of changes in one insert statement. At five parameters each, a statement stays well inside
/// both backends' parameter limits.
pub const PLAN_CHANGES_BATCH: usize = 500;

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: i64,
    source: String,
    created_at: DbTime,
    created_by: String,
    has_errors: i64,
    policy: String,
    body: String,
    change_count: i64,
    mapping_name: Option<String>,
    mapping_version: Option<i64>,
    mapping_sha256: Option<String>,
    policy_name: Option<String>,
    policy_version: Option<i64>,
    policy_sha256: Option<String>,
}

impl From<PlanRow> for JmlPlanRecord {
    fn from(row: PlanRow) -> Self {
        Self {
            id: row.id,
            source: row.source,
            created_at: row.created_at.0,
            created_by: row.created_by,
            has_errors: row.has_errors != 0,
            policy: row.policy,
            body: row.body,
            change_count: row.change_count,
            mapping_used: PlanConfigRef::from_columns(row.mapping_name, row.mapping_version, row.mapping_sha256),
            policy_used: PlanConfigRef::from_columns(row.policy_name, row.policy_version, row.policy_sha256),
        }
    }
}

macro_rules! plan_columns {
    () => {
        "id, source, created_at, created_by, has_errors, policy, body, change_count, mapping_name, mapping_version, \
         mapping_sha256, policy_name, policy_version, policy_sha256"
    };
}

/// The policy of a source's latest applied plan.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedPolicy {
    pub plan_id: i64,
    pub policy: String,
    pub policy_used: Option<PlanConfigRef>,
}

/// A stored run of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct JmlRunRecord {
    pub id: i64,
    pub plan_id: i64,
    /// `running`, `done`, `refused` or `failed`.
    pub status: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Counts per outcome as a JSON object.
    pub counts: String,
    pub message: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    plan_id: i64,
    status: String,
    created_at: DbTime,
    created_by: String,
    updated_at: DbTime,
    finished_at: Option<DbTime>,
    counts: String,
    message: Option<String>,
}

impl From<RunRow> for JmlRunRecord {
    fn from(row: RunRow) -> Self {
        Self {
            id: row.id,
            plan_id: row.plan_id,
            status: row.status,
            created_at: row.created_at.0,
            created_by: row.created_by,
            updated_at: row.updated_at.0,
            finished_at: opt_time(row.finished_at),
            counts: row.counts,
            message: row.message,
        }
    }
}

/// The outcome of one person in a plan.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JmlRunItem {
    pub person_key: String,
    pub run_id: i64,
    /// `applied`, `stale` or `failed`.
    pub outcome: String,
    pub detail: Option<String>,
}

/// A user as a plan compares it with a feed: the attributes a mapping can set, its state and version, its
/// manager's `unique_id`, and whether the source created or adopted it. Nothing else, since a plan keeps one
/// for every user with a `unique_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JmlUserRecord {
    pub id: i64,
    pub unique_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub mobile_number: Option<String>,
    pub start_date: Option<time::Date>,
    pub end_date: Option<time::Date>,
    pub status: roster_domain::LifecycleState,
    pub version: i64,
    pub manager_unique_id: Option<String>,
    pub owned: bool,
}

/// A role a policy rule grants a user, as a plan compares it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyGrant {
    pub user_id: i64,
    pub role_type_name: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// The rule's name; a policy grant always has one.
    pub rule: Option<String>,
}

/// A user holding an email or user name that a plan probes, with the folded values it holds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdentifierHolder {
    pub id: i64,
    pub email_folded: Option<String>,
    pub user_name_folded: String,
    pub unique_id_folded: Option<String>,
}

/// Values per holder query. Each is bound once and used in both `IN` lists, so a query has this many parameters,
/// well below SQLite's limit of 32,766 and PostgreSQL's of 65,535.
pub const HOLDER_BATCH: usize = 1000;

/// Builds the holder query for one batch: the same SQL text on both backends.
fn holders_sql(batch: &[String]) -> SqlBuf {
    let mut buf = SqlBuf::default();
    let mut placeholders = Vec::with_capacity(batch.len());
    for value in batch {
        buf.params.push(Param::Text(value.clone()));
        placeholders.push(format!("${}", buf.params.len()));
    }
    let list = placeholders.join(", ");
    buf.push("SELECT id, email_folded, user_name_folded, unique_id_folded FROM users WHERE status <> 'deleted' AND (email_folded IN (")
        .push(&list)
        .push(") OR user_name_folded IN (")
        .push(&list)
        .push("))");
    buf
}

macro_rules! run_columns {
    () => {
        "id, plan_id, status, created_at, created_by, updated_at, finished_at, counts, message"
    };
}

impl Conn {
    /// Inserts an unformed plan, with an empty summary, and returns its id.
    pub async fn insert_jml_plan(&mut self, plan: &NewJmlPlan<'_>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO jml_plans (source, created_at, created_by, has_errors, policy, body, formed, mapping_name, \
             mapping_version, mapping_sha256, policy_name, policy_version, policy_sha256) \
             VALUES ($1, $2, $3, 0, $4, '{}', 0, $5, $6, $7, $8, $9, $10) RETURNING id";
        let mapping = plan.mapping_used;
        let policy = plan.policy_used;
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(plan.source)
                .bind(DbTime(plan.created_at))
                .bind(plan.created_by)
                .bind(plan.policy)
                .bind(mapping.and_then(|r| r.name.as_deref()))
                .bind(mapping.and_then(|r| r.version))
                .bind(mapping.map(|r| r.sha256.as_str()))
                .bind(policy.and_then(|r| r.name.as_deref()))
                .bind(policy.and_then(|r| r.version))
                .bind(policy.map(|r| r.sha256.as_str()))
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Inserts changes of an unformed plan, [`PLAN_CHANGES_BATCH`] to a statement.
    pub async fn insert_jml_plan_changes(&mut self, plan_id: i64, changes: &[NewPlanChange]) -> Result<(), StoreError> {
        for batch in changes.chunks(PLAN_CHANGES_BATCH) {
            let mut buf = SqlBuf::new("INSERT INTO jml_plan_changes (plan_id, position, kind, scheduled, body) VALUES ");
            for (index, change) in batch.iter().enumerate() {
                buf.push(if index == 0 { "(" } else { ", (" });
                buf.bind(Param::Int(plan_id)).push(", ");
                buf.bind(Param::Int(change.position)).push(", ");
                buf.bind(Param::Text(change.kind.clone())).push(", ");
                buf.bind(Param::Int(i64::from(change.scheduled))).push(", ");
                buf.bind(Param::Text(change.body.clone())).push(")");
            }

            let SqlBuf { sql, params } = buf;
            with_conn!(self, |c| {
                bind_params!(sqlx::query(sqlx::AssertSqlSafe(sql)), &params).execute(c).await?;
            });
        }
        Ok(())
    }

    /// Writes an unformed plan's summary and makes it readable. Returns false when no unformed plan has this id.
    pub async fn form_jml_plan(&mut self, id: i64, summary: &PlanSummary<'_>) -> Result<bool, StoreError> {
        let sql = "UPDATE jml_plans SET has_errors = $1, body = $2, change_count = $3, formed = 1 \
             WHERE id = $4 AND formed = 0";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(i64::from(summary.has_errors))
                .bind(summary.body)
                .bind(summary.change_count)
                .bind(id)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(rows == 1)
    }

    /// Deletes unformed plans created before `before`, with their changes: plans whose forming failed, or whose
    /// server stopped while forming them. Returns how many plans it deleted.
    pub async fn delete_unformed_jml_plans(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let changes = "DELETE FROM jml_plan_changes WHERE plan_id IN \
             (SELECT id FROM jml_plans WHERE formed = 0 AND created_at <= $1)";
        let plans = "DELETE FROM jml_plans WHERE formed = 0 AND created_at <= $1";
        let deleted = with_conn!(self, |c| {
            sqlx::query(changes).bind(DbTime(before)).execute(&mut *c).await?;
            sqlx::query(plans).bind(DbTime(before)).execute(&mut *c).await?.rows_affected()
        });
        Ok(deleted)
    }

    /// Deletes an unformed plan with its changes; a formed plan is left alone.
    pub async fn delete_unformed_jml_plan(&mut self, id: i64) -> Result<(), StoreError> {
        let changes = "DELETE FROM jml_plan_changes WHERE plan_id = $1 AND EXISTS \
             (SELECT 1 FROM jml_plans p WHERE p.id = $1 AND p.formed = 0)";
        let plan = "DELETE FROM jml_plans WHERE id = $1 AND formed = 0";
        with_conn!(self, |c| {
            sqlx::query(changes).bind(id).execute(&mut *c).await?;
            sqlx::query(plan).bind(id).execute(&mut *c).await?;
        });
        Ok(())
    }

    /// Loads a formed plan's summary.
    pub async fn jml_plan(&mut self, id: i64) -> Result<Option<JmlPlanRecord>, StoreError> {
        let sql = concat!("SELECT ", plan_columns!(), " FROM jml_plans WHERE id = $1 AND formed = 1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, PlanRow>(sql).bind(id).fetch_optional(c).await?
        });
        Ok(row.map(JmlPlanRecord::from))
    }

    /// Reads a page of a plan's changes in apply order, as (position, change as JSON).
    pub async fn jml_plan_changes(&mut self, plan_id: i64, query: &PlanChangesQuery<'_>) -> Result<Vec<(i64, String)>, StoreError> {
        let mut buf = SqlBuf::new("SELECT position, body FROM jml_plan_changes WHERE plan_id = ");
        buf.bind(Param::Int(plan_id));
        buf.push(" AND position > ").bind(Param::Int(query.after));
        if let Some(kind) = query.kind {
            buf.push(" AND kind = ").bind(Param::Text(kind.to_string()));
        }
        if query.scheduled_only {
            buf.push(" AND scheduled = 1");
        }
        buf.push(" ORDER BY position LIMIT ").bind(Param::Int(query.limit));
        buf.push(" OFFSET ").bind(Param::Int(query.offset));

        let SqlBuf { sql, params } = buf;
        let rows = with_conn!(self, |c| {
            bind_params!(sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
        });
        Ok(rows)
    }

    /// Finds the policy of the source's latest applied plan: one with a run that finished, or that applied at
    /// least one person before it stopped. A plan that no run applied is a draft and decides nothing.
    pub async fn latest_applied_jml_policy(&mut self, source: &str) -> Result<Option<AppliedPolicy>, StoreError> {
        let sql = "SELECT p.id, p.policy, p.policy_name, p.policy_version, p.policy_sha256 FROM jml_plans p \
             WHERE p.source = $1 AND (EXISTS (SELECT 1 FROM jml_runs r WHERE r.plan_id = p.id AND r.status = 'done') \
             OR EXISTS (SELECT 1 FROM jml_run_items i WHERE i.plan_id = p.id AND i.outcome = 'applied')) \
             ORDER BY p.id DESC LIMIT 1";
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String, Option<String>, Option<i64>, Option<String>)>(sql)
                .bind(source)
                .fetch_optional(c)
                .await?
        });
        Ok(row.map(|(plan_id, policy, name, version, sha256)| AppliedPolicy {
            plan_id,
            policy,
            policy_used: PlanConfigRef::from_columns(name, version, sha256),
        }))
    }

    pub async fn insert_jml_run(&mut self, plan_id: i64, status: &str, at: Timestamp, by: &str) -> Result<i64, StoreError> {
        let sql = "INSERT INTO jml_runs (plan_id, status, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $3) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).bind(plan_id).bind(status).bind(DbTime(at)).bind(by).fetch_one(c).await?
        });
        Ok(id)
    }

    pub async fn jml_run(&mut self, id: i64) -> Result<Option<JmlRunRecord>, StoreError> {
        let sql = concat!("SELECT ", run_columns!(), " FROM jml_runs WHERE id = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, RunRow>(sql).bind(id).fetch_optional(c).await?
        });
        Ok(row.map(JmlRunRecord::from))
    }

    /// Lists the runs of a plan, oldest first.
    pub async fn jml_runs_of_plan(&mut self, plan_id: i64) -> Result<Vec<JmlRunRecord>, StoreError> {
        let sql = concat!("SELECT ", run_columns!(), " FROM jml_runs WHERE plan_id = $1 ORDER BY id");
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, RunRow>(sql).bind(plan_id).fetch_all(c).await?
        });
        Ok(rows.into_iter().map(JmlRunRecord::from).collect())
    }

    /// Records a run's progress; `finished` also sets `finished_at`.
    pub async fn update_jml_run(
        &mut self,
        id: i64,
        status: &str,
        counts: &str,
        message: Option<&str>,
        at: Timestamp,
        finished: bool,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE jml_runs SET status = $1, counts = $2, message = $3, updated_at = $4, \
             finished_at = CASE WHEN $5 = 1 THEN $4 ELSE finished_at END WHERE id = $6";
        with_conn!(self, |c| {
            sqlx::query(sql)
                .bind(status)
                .bind(counts)
                .bind(message)
                .bind(DbTime(at))
                .bind(i64::from(finished))
                .bind(id)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Marks the plan's runs that still say `running` as `interrupted`; returns how many. A run whose server died
    /// keeps `running` until then. A run that is in fact still going sets its own status again when it ends.
    pub async fn interrupt_jml_runs(&mut self, plan_id: i64, at: Timestamp) -> Result<u64, StoreError> {
        let sql = "UPDATE jml_runs SET status = 'interrupted', updated_at = $1, \
             message = 'a newer run of the plan started; it finishes the work' WHERE plan_id = $2 AND status = 'running'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(plan_id).execute(c).await?.rows_affected()
        });
        Ok(rows)
    }

    /// Marks a run whose status is still `running` as `interrupted` with `message`; returns false for any other run.
    pub async fn interrupt_jml_run(&mut self, id: i64, at: Timestamp, message: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE jml_runs SET status = 'interrupted', updated_at = $1, message = $2 WHERE id = $3 AND status = 'running'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(message).bind(id).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    /// Records one person's outcome. Returns false when the plan already has an outcome for this person, so a
    /// rerun never applies anyone twice.
    pub async fn insert_jml_run_item(
        &mut self,
        plan_id: i64,
        person_key: &str,
        run_id: i64,
        outcome: &str,
        detail: Option<&str>,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let sql = INSERT_RUN_ITEM;
        let inserted = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(plan_id)
                .bind(person_key)
                .bind(run_id)
                .bind(outcome)
                .bind(detail)
                .bind(DbTime(at))
                .fetch_optional(c)
                .await?
        });
        Ok(inserted.is_some())
    }

    /// Lists the outcomes recorded for a plan's people, by key.
    pub async fn jml_run_items(&mut self, plan_id: i64) -> Result<Vec<JmlRunItem>, StoreError> {
        let sql = "SELECT person_key, run_id, outcome, detail FROM jml_run_items WHERE plan_id = $1 ORDER BY person_key";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, JmlRunItem>(sql).bind(plan_id).fetch_all(c).await?
        });
        Ok(rows)
    }

    /// Records that a feed source created or adopted a user; an existing record is kept.
    pub async fn mark_feed_user(&mut self, source: &str, user_id: i64, relation: &str, at: Timestamp) -> Result<(), StoreError> {
        let sql = MARK_FEED_USER;
        with_conn!(self, |c| {
            sqlx::query(sql).bind(source).bind(user_id).bind(relation).bind(DbTime(at)).execute(c).await?;
        });
        Ok(())
    }

    /// Loads the users with a `unique_id` that are not deleted, each with its manager's `unique_id` and whether
    /// `source` created or adopted it.
    pub async fn jml_users(&mut self, source: &str) -> Result<Vec<JmlUserRecord>, StoreError> {
        let sql = JML_USERS;
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, JmlUserRow>(sql).bind(source).fetch_all(c).await?
        });
        rows.into_iter().map(JmlUserRow::into_record).collect()
    }

    /// Finds the users, other than deleted ones, whose folded email or folded user name is one of `folded`. The
    /// values go in batches of [`HOLDER_BATCH`], each one query that the indexes on both columns serve.
    pub async fn identifier_holders(&mut self, folded: &[String]) -> Result<Vec<IdentifierHolder>, StoreError> {
        let mut holders = Vec::new();
        for batch in folded.chunks(HOLDER_BATCH) {
            let buf = holders_sql(batch);
            let SqlBuf { sql, params } = buf;
            let rows = with_conn!(self, |c| {
                bind_params!(sqlx::query_as::<_, IdentifierHolder>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(c).await?
            });
            holders.extend(rows);
        }
        Ok(holders)
    }

    /// Lists every grant from a policy rule: the user, the role type's name, the resource and the rule. Only
    /// these columns, since a plan reads one row per grant of every user. A global role's resource is stored as
    /// empty text and read back as none, as for every other assignment.
    pub async fn policy_grants(&mut self) -> Result<Vec<PolicyGrant>, StoreError> {
        let sql = POLICY_GRANTS;
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, PolicyGrant>(sql).fetch_all(c).await?
        });
        Ok(rows)
    }

    /// Loads the user that is not deleted with this `unique_id`, compared case-insensitively.
    pub async fn user_by_unique_id(&mut self, unique_id: &str) -> Result<Option<roster_domain::User>, StoreError> {
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, crate::users::UserRow>(USER_BY_UNIQUE_ID).bind(roster_domain::fold(unique_id)).fetch_optional(c).await?
        });
        row.map(crate::users::UserRow::into_user).transpose()
    }

    /// Lists the pending scheduled actions of the given kinds, as (user id, kind, due time).
    pub async fn pending_actions_of_kinds(&mut self, kinds: &[&str]) -> Result<Vec<(i64, String, Timestamp)>, StoreError> {
        let sql = "SELECT user_id, kind, due_at FROM scheduled_actions WHERE status = 'pending' ORDER BY id";
        let rows = with_conn!(self, |c| {
            sqlx::query_as::<_, (i64, String, DbTime)>(sql).fetch_all(c).await?
        });
        Ok(rows.into_iter().filter(|(_, kind, _)| kinds.contains(&kind.as_str())).map(|(u, k, t)| (u, k, t.0)).collect())
    }

    /// Cancels a user's pending scheduled actions of one kind; returns how many.
    pub async fn cancel_user_actions(&mut self, user_id: i64, kind: &str, at: Timestamp, reason: &str) -> Result<u64, StoreError> {
        let sql = "UPDATE scheduled_actions SET status = 'cancelled', applied_at = $1, result = $2 \
             WHERE user_id = $3 AND kind = $4 AND status = 'pending'";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(reason).bind(user_id).bind(kind).execute(c).await?.rows_affected()
        });
        Ok(rows)
    }
}

#[derive(sqlx::FromRow)]
struct JmlUserRow {
    id: i64,
    unique_id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    mobile_number: Option<String>,
    start_date: Option<time::Date>,
    end_date: Option<time::Date>,
    status: String,
    version: i64,
    manager_unique_id: Option<String>,
    owned: i64,
}

impl JmlUserRow {
    /// Reads the row as the synchronous SQLite reader returns it; the columns are those of the `FromRow` derive.
    fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            unique_id: row.get("unique_id")?,
            first_name: row.get("first_name")?,
            last_name: row.get("last_name")?,
            email: row.get("email")?,
            job_title: row.get("job_title")?,
            department: row.get("department")?,
            mobile_number: row.get("mobile_number")?,
            start_date: row.get("start_date")?,
            end_date: row.get("end_date")?,
            status: row.get("status")?,
            version: row.get("version")?,
            manager_unique_id: row.get("manager_unique_id")?,
            owned: row.get("owned")?,
        })
    }

    fn into_record(self) -> Result<JmlUserRecord, StoreError> {
        let status = roster_domain::LifecycleState::parse(&self.status)
            .ok_or_else(|| StoreError::Corrupt(format!("user {} has unknown status {:?}", self.id, self.status)))?;
        Ok(JmlUserRecord {
            id: self.id,
            unique_id: self.unique_id,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            job_title: self.job_title,
            department: self.department,
            mobile_number: self.mobile_number,
            start_date: self.start_date,
            end_date: self.end_date,
            status,
            version: self.version,
            manager_unique_id: self.manager_unique_id,
            owned: self.owned != 0,
        })
    }
}

impl PolicyGrant {
    fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            user_id: row.get("user_id")?,
            role_type_name: row.get("role_type_name")?,
            resource_type: row.get("resource_type")?,
            resource_id: row.get("resource_id")?,
            rule: row.get("rule")?,
        })
    }
}

const JML_USERS: &str = concat!(
    "SELECT ",
    "u.id, u.unique_id, u.first_name, u.last_name, u.email, u.job_title, u.department, u.mobile_number, \
     u.start_date, u.end_date, u.status, u.version, m.unique_id AS manager_unique_id, \
     CAST(CASE WHEN f.user_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS owned \
     FROM users u LEFT JOIN users m ON m.id = u.manager_id \
     LEFT JOIN jml_feed_users f ON f.user_id = u.id AND f.source = $1 \
     WHERE u.unique_id IS NOT NULL AND u.status <> 'deleted' ORDER BY u.id"
);

/// Records a person's outcome unless the plan has one; the parameters are those that `Conn::insert_jml_run_item`
/// binds, in that order.
pub(crate) const INSERT_RUN_ITEM: &str = "INSERT INTO jml_run_items (plan_id, person_key, run_id, outcome, detail, \
     applied_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id, person_key) DO NOTHING RETURNING run_id";

/// Records that a source created or adopted a user, keeping an existing record.
pub(crate) const MARK_FEED_USER: &str = "INSERT INTO jml_feed_users (source, user_id, relation, since) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (source, user_id) DO NOTHING";

/// Counts the users that [`JML_USERS`] loads. The count only sizes the list: users created between the two reads
/// make it grow once.
const COUNT_JML_USERS: &str = "SELECT COUNT(*) FROM users WHERE unique_id IS NOT NULL AND status <> 'deleted'";

const USER_BY_UNIQUE_ID: &str =
    concat!("SELECT ", crate::users::user_columns!(), " FROM users WHERE unique_id_folded = $1 AND status <> 'deleted'");

const POLICY_GRANTS: &str = "SELECT ra.user_id, rt.name AS role_type_name, NULLIF(ra.resource_type, '') AS resource_type, \
     NULLIF(ra.resource_id, '') AS resource_id, ra.source_ref AS rule \
     FROM role_assignments ra JOIN role_types rt ON rt.id = ra.role_type_id \
     WHERE ra.source = 'policy' ORDER BY ra.user_id, ra.id";

impl Store {
    /// Loads what [`Conn::jml_users`] loads and passes each record through `convert` as it is read, keeping what
    /// `convert` returns. On SQLite the scan runs on a synchronous reader in a blocking thread (see
    /// `Store::bulk_read`). Converting there frees each record on the thread that read it, because a plan loads
    /// one record per user and a list of them all would cost as much memory again. `convert` may run over some rows twice when that
    /// reader fails and the scan starts again through the pool, so it must have no side effects.
    pub async fn jml_users<T, F>(&self, source: &str, convert: F) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        F: Fn(JmlUserRecord) -> Option<T> + Send + Sync + 'static,
    {
        let convert = Arc::new(convert);
        let bound = source.to_string();
        let scan_convert = Arc::clone(&convert);
        let scanned = self
            .bulk_read(move |c| {
                // Sized up front, because growing a list of 100,000 users keeps the old and the new list in memory at once.
                let count: i64 = c.query_row(COUNT_JML_USERS, [], |row| row.get(0))?;
                let mut statement = c.prepare(JML_USERS)?;
                let mut rows = statement.query([bound])?;
                let mut converted = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
                while let Some(row) = rows.next()? {
                    match JmlUserRow::from_rusqlite(row)?.into_record() {
                        Ok(record) => converted.extend(scan_convert(record)),
                        Err(error) => return Ok(Err(error)),
                    }
                }
                Ok(Ok(converted))
            })
            .await;

        let records = match scanned {
            Some(converted) => return converted,
            None => self.read().await?.jml_users(source).await?,
        };
        Ok(records.into_iter().filter_map(|record| convert(record)).collect())
    }

    /// Loads the committed user that [`Conn::user_by_unique_id`] loads, on the synchronous SQLite reader, which
    /// reads no write transaction's uncommitted changes. `None` on PostgreSQL or when that reader failed: the caller
    /// then asks its own connection, as a caller inside a transaction must not wait for a second one.
    pub fn committed_user_by_unique_id(&self, unique_id: &str) -> Option<Result<Option<roster_domain::User>, StoreError>> {
        let folded = roster_domain::fold(unique_id);
        let read = |c: &rusqlite::Connection| {
            c.prepare_cached(USER_BY_UNIQUE_ID)?.query_row([&folded], crate::users::UserRow::from_rusqlite).optional()
        };
        let row = self.point_read(read)?;
        Some(row.map(crate::users::UserRow::into_user).transpose())
    }

    /// Folds what [`Conn::policy_grants`] lists into `init` with `add`, on a synchronous SQLite reader when there
    /// is one, so the grants are never all held at once. When that reader fails, the fold starts again from a
    /// clone of `init` through the pool.
    pub async fn fold_policy_grants<A, F>(&self, init: A, add: F) -> Result<A, StoreError>
    where
        A: Clone + Send + 'static,
        F: Fn(&mut A, PolicyGrant) + Send + Sync + 'static,
    {
        let add = Arc::new(add);
        let scan_add = Arc::clone(&add);
        let scan_init = init.clone();
        let scanned = self
            .bulk_read(move |c| {
                let mut statement = c.prepare(POLICY_GRANTS)?;
                let mut rows = statement.query([])?;
                let mut folded = scan_init;
                while let Some(row) = rows.next()? {
                    scan_add(&mut folded, PolicyGrant::from_rusqlite(row)?);
                }
                Ok(folded)
            })
            .await;

        if let Some(folded) = scanned {
            return Ok(folded);
        }
        let mut folded = init;
        for grant in self.read().await?.policy_grants().await? {
            add(&mut folded, grant);
        }
        Ok(folded)
    }
}

