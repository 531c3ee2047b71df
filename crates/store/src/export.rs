//! Whole-table reads and writes for moving a deployment between backends. Rows keep their ids, so references,
//! the audit chain and snapshot contents stay valid after an import.

use crate::types::DbTime;
use crate::{Backend, Conn, NewPlanChange, StoreError};
use serde::{Deserialize, Serialize};
use time::Date;

impl Serialize for DbTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DbTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        roster_domain::Timestamp::deserialize(deserializer).map(DbTime)
    }
}

/// Serialises dates as `YYYY-MM-DD`, not `time`'s default tuple form.
mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(value: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(date) => serializer.serialize_str(&date.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => Date::parse(&text, &format).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// A `users` row with every column but the folded ones, which are derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub user_name: String,
    pub unique_id: Option<String>,
    pub external_id: Option<String>,
    pub mobile_number: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub manager_id: Option<i64>,
    #[serde(with = "iso_date")]
    pub start_date: Option<Date>,
    #[serde(with = "iso_date")]
    pub end_date: Option<Date>,
    pub custom_attributes: String,
    pub scim_attributes: String,
    pub status: String,
    pub origin: String,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub archived_at: Option<DbTime>,
    pub deleted_at: Option<DbTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct RoleTypeRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub resource_type: Option<String>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AssignmentRow {
    pub id: i64,
    pub user_id: i64,
    pub role_type_id: i64,
    pub resource_type: String,
    pub resource_id: String,
    pub source: String,
    pub source_ref: String,
    pub approved_by: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<DbTime>,
    pub granted_at: DbTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SnapshotRow {
    pub id: i64,
    pub user_id: i64,
    pub taken_at: DbTime,
    pub attributes: String,
    pub roles: String,
    pub restored_at: Option<DbTime>,
}

/// A `tokens` row: the secret's hash, never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub scopes: String,
    pub user_id: Option<i64>,
    pub created_at: DbTime,
    pub expires_at: Option<DbTime>,
    pub revoked_at: Option<DbTime>,
    pub disabled_at: Option<DbTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ScheduledRow {
    pub id: i64,
    pub kind: String,
    pub user_id: i64,
    pub payload: String,
    pub due_at: DbTime,
    pub status: String,
    pub created_at: DbTime,
    pub created_by: String,
    pub applied_at: Option<DbTime>,
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub created_at: DbTime,
    pub actor_token_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: String,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub display_name: String,
    pub external_id: Option<String>,
    pub scim_attributes: String,
    pub version: i64,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct GroupMemberRow {
    pub group_id: i64,
    pub user_id: i64,
    pub added_at: DbTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct GroupRoleRow {
    pub group_id: i64,
    pub role_type_id: i64,
    pub resource_type: String,
    pub resource_id: String,
}

/// Which users a JML feed source created or adopted, so complete feeds keep their leavers after a move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlFeedUserRow {
    pub source: String,
    pub user_id: i64,
    pub relation: String,
    pub since: DbTime,
}

/// A stored JML mapping or policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlConfigRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub body: String,
    pub version: i64,
    pub sha256: String,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub updated_by: String,
}

/// A stored JML plan with the policy it was computed with and its body (mapped attributes only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlPlanRow {
    pub id: i64,
    pub source: String,
    pub created_at: DbTime,
    pub created_by: String,
    pub has_errors: i64,
    pub policy: String,
    /// The plan's summary. Exports made before changes had rows of their own also carry the changes here.
    pub body: String,
    /// Absent in exports made before plans were formed in steps, whose plans were all formed.
    #[serde(default = "formed_default")]
    pub formed: i64,
    #[serde(default)]
    pub change_count: i64,
    /// The stored mapping and policy the plan used; absent in exports made before they could be stored.
    #[serde(default)]
    pub mapping_name: Option<String>,
    #[serde(default)]
    pub mapping_version: Option<i64>,
    #[serde(default)]
    pub mapping_sha256: Option<String>,
    #[serde(default)]
    pub policy_name: Option<String>,
    #[serde(default)]
    pub policy_version: Option<i64>,
    #[serde(default)]
    pub policy_sha256: Option<String>,
}

fn formed_default() -> i64 {
    1
}

/// One change of a stored plan, at its position in apply order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlPlanChangeRow {
    pub plan_id: i64,
    pub position: i64,
    pub kind: String,
    pub scheduled: i64,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlRunRow {
    pub id: i64,
    pub plan_id: i64,
    pub status: String,
    pub created_at: DbTime,
    pub created_by: String,
    pub updated_at: DbTime,
    pub finished_at: Option<DbTime>,
    pub counts: String,
    pub message: Option<String>,
}

/// One person's outcome in a plan; carrying it keeps a rerun of an imported plan from applying anyone twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct JmlRunItemRow {
    pub plan_id: i64,
    pub person_key: String,
    pub run_id: i64,
    pub outcome: String,
    pub detail: Option<String>,
    pub applied_at: DbTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
}

/// One line of an export: a row of one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "table", content = "row", rename_all = "snake_case")]
pub enum ExportRecord {
    Settings(SettingRow),
    RoleTypes(RoleTypeRow),
    Users(UserRow),
    RoleAssignments(AssignmentRow),
    Snapshots(SnapshotRow),
    Tokens(TokenRow),
    ScheduledActions(ScheduledRow),
    Groups(GroupRow),
    GroupMembers(GroupMemberRow),
    GroupRoles(GroupRoleRow),
    JmlFeedUsers(JmlFeedUserRow),
    JmlConfigs(JmlConfigRow),
    JmlPlans(JmlPlanRow),
    JmlPlanChanges(JmlPlanChangeRow),
    JmlRuns(JmlRunRow),
    JmlRunItems(JmlRunItemRow),
    AuditLog(AuditRow),
}

/// The tables in dependency order, which is the order of an export and of an import.
pub const EXPORT_TABLES: &[&str] = &[
    "settings",
    "role_types",
    "users",
    "role_assignments",
    "snapshots",
    "tokens",
    "scheduled_actions",
    "groups",
    "group_members",
    "group_roles",
    "jml_feed_users",
    "jml_configs",
    "jml_plans",
    "jml_plan_changes",
    "jml_runs",
    "jml_run_items",
    "audit_log",
];

impl Conn {
    /// Reads up to `limit` rows of `table` with a key above `after`, in key order.
    pub async fn export_rows(&mut self, table: &str, after: i64, limit: i64) -> Result<Vec<(i64, ExportRecord)>, StoreError> {
        macro_rules! page {
            ($row:ty, $variant:ident, $sql:expr, $key:ident) => {{
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, $row>($sql).bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().map(|r| (r.$key, ExportRecord::$variant(r))).collect()
            }};
        }
        let records = match table {
            "settings" => {
                // Settings have text keys and few rows, so one page contains them all.
                if after > 0 {
                    return Ok(Vec::new());
                }
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, SettingRow>("SELECT key, value FROM settings ORDER BY key").fetch_all(c).await?
                });
                rows.into_iter().enumerate().map(|(i, r)| (i64::try_from(i).unwrap_or(0) + 1, ExportRecord::Settings(r))).collect()
            }
            "role_types" => page!(RoleTypeRow, RoleTypes, "SELECT id, name, description, category, resource_type, created_at, updated_at FROM role_types WHERE id > $1 ORDER BY id LIMIT $2", id),
            "users" => page!(UserRow, Users, "SELECT id, first_name, last_name, email, user_name, unique_id, external_id, mobile_number, job_title, department, manager_id, start_date, end_date, custom_attributes, scim_attributes, status, origin, version, created_at, updated_at, archived_at, deleted_at FROM users WHERE id > $1 ORDER BY id LIMIT $2", id),
            "role_assignments" => page!(AssignmentRow, RoleAssignments, "SELECT id, user_id, role_type_id, resource_type, resource_id, source, source_ref, approved_by, reason, expires_at, granted_at FROM role_assignments WHERE id > $1 ORDER BY id LIMIT $2", id),
            "snapshots" => page!(SnapshotRow, Snapshots, "SELECT id, user_id, taken_at, attributes, roles, restored_at FROM snapshots WHERE id > $1 ORDER BY id LIMIT $2", id),
            "tokens" => page!(TokenRow, Tokens, "SELECT id, name, token_hash, scopes, user_id, created_at, expires_at, revoked_at, disabled_at FROM tokens WHERE id > $1 ORDER BY id LIMIT $2", id),
            "scheduled_actions" => page!(ScheduledRow, ScheduledActions, "SELECT id, kind, user_id, payload, due_at, status, created_at, created_by, applied_at, result FROM scheduled_actions WHERE id > $1 ORDER BY id LIMIT $2", id),
            "groups" => page!(GroupRow, Groups, "SELECT id, display_name, external_id, scim_attributes, version, created_at, updated_at FROM groups WHERE id > $1 ORDER BY id LIMIT $2", id),
            // Tables with composite keys page by position; the export's snapshot transaction keeps positions stable.
            "group_members" => {
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, GroupMemberRow>("SELECT group_id, user_id, added_at FROM group_members ORDER BY group_id, user_id LIMIT $2 OFFSET $1")
                        .bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().zip(after + 1..).map(|(r, key)| (key, ExportRecord::GroupMembers(r))).collect()
            }
            "group_roles" => {
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, GroupRoleRow>("SELECT group_id, role_type_id, resource_type, resource_id FROM group_roles ORDER BY group_id, role_type_id, resource_type, resource_id LIMIT $2 OFFSET $1")
                        .bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().zip(after + 1..).map(|(r, key)| (key, ExportRecord::GroupRoles(r))).collect()
            }
            "jml_feed_users" => {
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, JmlFeedUserRow>("SELECT source, user_id, relation, since FROM jml_feed_users ORDER BY source, user_id LIMIT $2 OFFSET $1")
                        .bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().zip(after + 1..).map(|(r, key)| (key, ExportRecord::JmlFeedUsers(r))).collect()
            }
            "jml_configs" => page!(JmlConfigRow, JmlConfigs, "SELECT id, kind, name, body, version, sha256, created_at, updated_at, updated_by FROM jml_configs WHERE id > $1 ORDER BY id LIMIT $2", id),
            "jml_plans" => page!(JmlPlanRow, JmlPlans, "SELECT id, source, created_at, created_by, has_errors, policy, body, formed, change_count, mapping_name, mapping_version, mapping_sha256, policy_name, policy_version, policy_sha256 FROM jml_plans WHERE id > $1 ORDER BY id LIMIT $2", id),
            "jml_plan_changes" => {
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, JmlPlanChangeRow>("SELECT plan_id, position, kind, scheduled, body FROM jml_plan_changes ORDER BY plan_id, position LIMIT $2 OFFSET $1")
                        .bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().zip(after + 1..).map(|(r, key)| (key, ExportRecord::JmlPlanChanges(r))).collect()
            }
            "jml_runs" => page!(JmlRunRow, JmlRuns, "SELECT id, plan_id, status, created_at, created_by, updated_at, finished_at, counts, message FROM jml_runs WHERE id > $1 ORDER BY id LIMIT $2", id),
            "jml_run_items" => {
                let rows = with_conn!(self, |c| {
                    sqlx::query_as::<_, JmlRunItemRow>("SELECT plan_id, person_key, run_id, outcome, detail, applied_at FROM jml_run_items ORDER BY plan_id, person_key LIMIT $2 OFFSET $1")
                        .bind(after).bind(limit).fetch_all(c).await?
                });
                rows.into_iter().zip(after + 1..).map(|(r, key)| (key, ExportRecord::JmlRunItems(r))).collect()
            }
            "audit_log" => page!(AuditRow, AuditLog, "SELECT seq, created_at, actor_token_id, actor_name, action, target_type, target_id, changes, request_id, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", seq),
            other => return Err(StoreError::Corrupt(format!("unknown table {other:?}"))),
        };
        Ok(records)
    }

    /// Counts the rows of a table that an export covers.
    pub async fn count_rows(&mut self, table: &str) -> Result<i64, StoreError> {
        let sql = match table {
            "settings" => "SELECT COUNT(*) FROM settings",
            "role_types" => "SELECT COUNT(*) FROM role_types",
            "users" => "SELECT COUNT(*) FROM users",
            "role_assignments" => "SELECT COUNT(*) FROM role_assignments",
            "snapshots" => "SELECT COUNT(*) FROM snapshots",
            "tokens" => "SELECT COUNT(*) FROM tokens",
            "scheduled_actions" => "SELECT COUNT(*) FROM scheduled_actions",
            "groups" => "SELECT COUNT(*) FROM groups",
            "group_members" => "SELECT COUNT(*) FROM group_members",
            "group_roles" => "SELECT COUNT(*) FROM group_roles",
            "jml_feed_users" => "SELECT COUNT(*) FROM jml_feed_users",
            "jml_configs" => "SELECT COUNT(*) FROM jml_configs",
            "jml_plans" => "SELECT COUNT(*) FROM jml_plans",
            "jml_plan_changes" => "SELECT COUNT(*) FROM jml_plan_changes",
            "jml_runs" => "SELECT COUNT(*) FROM jml_runs",
            "jml_run_items" => "SELECT COUNT(*) FROM jml_run_items",
            "audit_log" => "SELECT COUNT(*) FROM audit_log",
            other => return Err(StoreError::Corrupt(format!("unknown table {other:?}"))),
        };
        let count = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await?
        });
        Ok(count)
    }

    /// Writes one exported row with its original key.
    pub async fn import_record(&mut self, record: &ExportRecord) -> Result<(), StoreError> {
        match record {
            ExportRecord::Settings(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
                    .bind(&r.key).bind(&r.value).execute(c).await?;
            }),
            ExportRecord::RoleTypes(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO role_types (id, name, name_folded, description, category, resource_type, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(r.id).bind(&r.name).bind(roster_domain::fold(&r.name)).bind(&r.description).bind(&r.category)
                    .bind(&r.resource_type).bind(r.created_at).bind(r.updated_at).execute(c).await?;
            }),
            ExportRecord::Users(r) => {
                let fold = |v: &Option<String>| v.as_deref().map(roster_domain::fold);
                let fold_or_empty = |v: &Option<String>| v.as_deref().map(roster_domain::fold).unwrap_or_default();
                let scim_attributes_folded = crate::users::folded_scim_text(r.id, &r.scim_attributes)?;
                with_conn!(self, |c| {
                    sqlx::query("INSERT INTO users (id, first_name, first_name_folded, last_name, last_name_folded, email, email_folded, user_name, user_name_folded, unique_id, unique_id_folded, external_id, mobile_number, job_title, job_title_folded, department, department_folded, manager_id, start_date, end_date, custom_attributes, scim_attributes, status, origin, version, created_at, updated_at, archived_at, deleted_at, scim_attributes_folded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)")
                        .bind(r.id).bind(&r.first_name).bind(fold_or_empty(&r.first_name)).bind(&r.last_name)
                        .bind(fold_or_empty(&r.last_name)).bind(&r.email).bind(fold(&r.email)).bind(&r.user_name)
                        .bind(roster_domain::fold(&r.user_name)).bind(&r.unique_id).bind(fold(&r.unique_id))
                        .bind(&r.external_id).bind(&r.mobile_number).bind(&r.job_title).bind(fold_or_empty(&r.job_title))
                        .bind(&r.department).bind(fold_or_empty(&r.department)).bind(r.manager_id).bind(r.start_date)
                        .bind(r.end_date).bind(&r.custom_attributes).bind(&r.scim_attributes).bind(&r.status).bind(&r.origin).bind(r.version)
                        .bind(r.created_at).bind(r.updated_at).bind(r.archived_at).bind(r.deleted_at)
                        .bind(&scim_attributes_folded).execute(c).await?;
                })
            }
            ExportRecord::RoleAssignments(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO role_assignments (id, user_id, role_type_id, resource_type, resource_id, source, source_ref, approved_by, reason, expires_at, granted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                    .bind(r.id).bind(r.user_id).bind(r.role_type_id).bind(&r.resource_type).bind(&r.resource_id)
                    .bind(&r.source).bind(&r.source_ref).bind(&r.approved_by).bind(&r.reason).bind(r.expires_at)
                    .bind(r.granted_at).execute(c).await?;
            }),
            ExportRecord::Snapshots(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO snapshots (id, user_id, taken_at, attributes, roles, restored_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(r.id).bind(r.user_id).bind(r.taken_at).bind(&r.attributes).bind(&r.roles).bind(r.restored_at)
                    .execute(c).await?;
            }),
            ExportRecord::Tokens(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO tokens (id, name, token_hash, scopes, user_id, created_at, expires_at, revoked_at, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(r.id).bind(&r.name).bind(&r.token_hash).bind(&r.scopes).bind(r.user_id).bind(r.created_at)
                    .bind(r.expires_at).bind(r.revoked_at).bind(r.disabled_at).execute(c).await?;
            }),
            ExportRecord::ScheduledActions(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO scheduled_actions (id, kind, user_id, payload, due_at, status, created_at, created_by, applied_at, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(r.id).bind(&r.kind).bind(r.user_id).bind(&r.payload).bind(r.due_at).bind(&r.status)
                    .bind(r.created_at).bind(&r.created_by).bind(r.applied_at).bind(&r.result).execute(c).await?;
            }),
            ExportRecord::Groups(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO groups (id, display_name, display_name_folded, external_id, scim_attributes, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(r.id).bind(&r.display_name).bind(roster_domain::fold(&r.display_name)).bind(&r.external_id)
                    .bind(&r.scim_attributes).bind(r.version).bind(r.created_at).bind(r.updated_at).execute(c).await?;
            }),
            ExportRecord::GroupMembers(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)")
                    .bind(r.group_id).bind(r.user_id).bind(r.added_at).execute(c).await?;
            }),
            ExportRecord::GroupRoles(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO group_roles (group_id, role_type_id, resource_type, resource_id) VALUES ($1, $2, $3, $4)")
                    .bind(r.group_id).bind(r.role_type_id).bind(&r.resource_type).bind(&r.resource_id).execute(c).await?;
            }),
            ExportRecord::JmlFeedUsers(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO jml_feed_users (source, user_id, relation, since) VALUES ($1, $2, $3, $4)")
                    .bind(&r.source).bind(r.user_id).bind(&r.relation).bind(r.since).execute(c).await?;
            }),
            ExportRecord::JmlConfigs(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO jml_configs (id, kind, name, body, version, sha256, created_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(r.id).bind(&r.kind).bind(&r.name).bind(&r.body).bind(r.version).bind(&r.sha256)
                    .bind(r.created_at).bind(r.updated_at).bind(&r.updated_by).execute(c).await?;
            }),
            ExportRecord::JmlPlans(r) => {
                let (body, legacy_changes) = split_legacy_plan_body(r)?;
                let change_count = r.change_count.max(i64::try_from(legacy_changes.len()).unwrap_or(i64::MAX));
                with_conn!(self, |c| {
                    sqlx::query("INSERT INTO jml_plans (id, source, created_at, created_by, has_errors, policy, body, formed, change_count, mapping_name, mapping_version, mapping_sha256, policy_name, policy_version, policy_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
                        .bind(r.id).bind(&r.source).bind(r.created_at).bind(&r.created_by).bind(r.has_errors).bind(&r.policy)
                        .bind(&body).bind(r.formed).bind(change_count).bind(&r.mapping_name).bind(r.mapping_version)
                        .bind(&r.mapping_sha256).bind(&r.policy_name).bind(r.policy_version).bind(&r.policy_sha256)
                        .execute(c).await?;
                });
                self.insert_jml_plan_changes(r.id, &legacy_changes).await?;
            }
            ExportRecord::JmlPlanChanges(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO jml_plan_changes (plan_id, position, kind, scheduled, body) VALUES ($1, $2, $3, $4, $5)")
                    .bind(r.plan_id).bind(r.position).bind(&r.kind).bind(r.scheduled).bind(&r.body).execute(c).await?;
            }),
            ExportRecord::JmlRuns(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO jml_runs (id, plan_id, status, created_at, created_by, updated_at, finished_at, counts, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(r.id).bind(r.plan_id).bind(&r.status).bind(r.created_at).bind(&r.created_by).bind(r.updated_at)
                    .bind(r.finished_at).bind(&r.counts).bind(&r.message).execute(c).await?;
            }),
            ExportRecord::JmlRunItems(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO jml_run_items (plan_id, person_key, run_id, outcome, detail, applied_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(r.plan_id).bind(&r.person_key).bind(r.run_id).bind(&r.outcome).bind(&r.detail).bind(r.applied_at)
                    .execute(c).await?;
            }),
            ExportRecord::AuditLog(r) => with_conn!(self, |c| {
                sqlx::query("INSERT INTO audit_log (seq, created_at, actor_token_id, actor_name, action, target_type, target_id, changes, request_id, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                    .bind(r.seq).bind(r.created_at).bind(r.actor_token_id).bind(&r.actor_name).bind(&r.action)
                    .bind(&r.target_type).bind(&r.target_id).bind(&r.changes).bind(&r.request_id).bind(&r.prev_hash)
                    .bind(&r.hash).execute(&mut *c).await?;
                sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(r.seq).bind(&r.hash).execute(&mut *c).await?;
            }),
        }
        Ok(())
    }

    /// Sets a user's manager without touching its version; an import sets managers after every user exists.
    pub async fn import_manager(&mut self, user_id: i64, manager_id: i64) -> Result<(), StoreError> {
        with_conn!(self, |c| {
            sqlx::query("UPDATE users SET manager_id = $1 WHERE id = $2").bind(manager_id).bind(user_id).execute(c).await?;
        });
        Ok(())
    }

    /// Moves PostgreSQL's identity sequences past the imported ids, so new rows do not collide with them.
    /// SQLite's AUTOINCREMENT already tracks the largest id inserted.
    pub async fn reset_id_sequences(&mut self) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            return Ok(());
        }
        let tables = [
            "role_types",
            "users",
            "role_assignments",
            "snapshots",
            "tokens",
            "scheduled_actions",
            "groups",
            "jml_configs",
            "jml_plans",
            "jml_runs",
        ];
        for table in tables {
            let sql = match table {
                "jml_configs" => postgres_reset_sequence!("jml_configs"),
                "groups" => postgres_reset_sequence!("groups"),
                "jml_plans" => postgres_reset_sequence!("jml_plans"),
                "jml_runs" => postgres_reset_sequence!("jml_runs"),
                "role_types" => postgres_reset_sequence!("role_types"),
                "users" => postgres_reset_sequence!("users"),
                "role_assignments" => postgres_reset_sequence!("role_assignments"),
                "snapshots" => postgres_reset_sequence!("snapshots"),
                "tokens" => postgres_reset_sequence!("tokens"),
                _ => postgres_reset_sequence!("scheduled_actions"),
            };
            with_conn!(self, |c| {
                sqlx::query(sql).execute(c).await?;
            });
        }
        Ok(())
    }
}

/// Splits the changes out of the body of a plan exported before changes had rows of their own, as migration 8
/// does for a stored plan, and returns the body without them and the changes. A plan without changes in its body
/// comes back as it is.
fn split_legacy_plan_body(plan: &JmlPlanRow) -> Result<(String, Vec<NewPlanChange>), StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("plan {} has an unreadable body: {e}", plan.id));
    let mut body: serde_json::Value = serde_json::from_str(&plan.body).map_err(corrupt)?;
    let Some(serde_json::Value::Array(changes)) = body.get_mut("changes").filter(|c| c.as_array().is_some_and(|a| !a.is_empty())) else {
        return Ok((plan.body.clone(), Vec::new()));
    };

    let changes = std::mem::take(changes);
    let rows = changes
        .into_iter()
        .zip(1..)
        .map(|(change, position)| {
            let kind = match change.get("kind").and_then(serde_json::Value::as_str) {
                None | Some("none") => "update".to_string(),
                Some(kind) => kind.to_string(),
            };
            let scheduled = change.get("scheduled").is_some_and(serde_json::Value::is_object);
            NewPlanChange { position, kind, scheduled, body: change.to_string() }
        })
        .collect();
    Ok((body.to_string(), rows))
}
