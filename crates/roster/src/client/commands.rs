//! The client commands: arguments, the requests they send and how their results print.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

use super::api::{ApiClient, ClientArgs, encode_segment, query_string};
use super::output::{Format, Table, cell};

/// `roster users ...`.
#[derive(Debug, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List users, following pages until --limit.
    List(ListUsers),
    /// Show one user and its roles.
    Get {
        /// The user's numeric id or email.
        user: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Create a user, optionally with roles, in one transaction.
    Create {
        #[command(flatten)]
        fields: UserFields,
        /// A role to grant: ROLE_TYPE, or ROLE_TYPE:RESOURCE_TYPE:RESOURCE_ID for a scoped role. ROLE_TYPE is a
        /// role type's id or name. Repeat for several.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Change a user's attributes; only the options given are sent, and an empty value clears one.
    Update {
        /// The user's numeric id or email.
        user: String,
        #[command(flatten)]
        fields: UserFields,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Archive a user: snapshot it, remove its roles and disable its tokens.
    Archive {
        /// The user's numeric id or email.
        user: String,
    },
    /// Restore an archived user.
    Unarchive {
        /// The user's numeric id or email.
        user: String,
        /// Also reapply the direct roles the user held when archived.
        #[arg(long)]
        restore_roles: bool,
    },
}

#[derive(Debug, Args)]
struct ListUsers {
    /// A case-insensitive substring of first name, last name or email.
    #[arg(long)]
    query: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    unique_id: Option<String>,
    #[arg(long)]
    department: Option<String>,
    /// Only users holding this role type id.
    #[arg(long)]
    role_type_id: Option<String>,
    /// List archived users instead of the others.
    #[arg(long)]
    archived: bool,
    #[command(flatten)]
    paging: Paging,
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// How many items a list command fetches.
#[derive(Debug, Args)]
struct Paging {
    /// The maximum number of items to print.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print every item, however many pages that takes.
    #[arg(long, conflicts_with = "limit")]
    all: bool,
    /// Items per request, from 1 to the server's maximum of 100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
    page_size: u32,
}

impl Paging {
    fn limit(&self) -> Option<usize> {
        (!self.all).then_some(self.limit)
    }

    /// Returns the page size to request: `--page-size`, or the limit when that is smaller.
    fn page_size(&self) -> String {
        let size = usize::try_from(self.page_size).unwrap_or(100);
        self.limit().map_or(size, |limit| limit.clamp(1, size)).to_string()
    }
}

/// User attributes as options; each one given is sent, and an empty value sends null to clear it.
#[derive(Debug, Args)]
struct UserFields {
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    #[arg(long)]
    email: Option<String>,
    /// Defaults to the email on create.
    #[arg(long)]
    user_name: Option<String>,
    /// The HR key, such as an employee number.
    #[arg(long)]
    unique_id: Option<String>,
    #[arg(long)]
    external_id: Option<String>,
    #[arg(long)]
    mobile_number: Option<String>,
    #[arg(long)]
    job_title: Option<String>,
    #[arg(long)]
    department: Option<String>,
    /// The manager's numeric user id.
    #[arg(long)]
    manager_id: Option<String>,
    /// A date such as 2026-01-31.
    #[arg(long)]
    start_date: Option<String>,
    /// A date such as 2026-12-31.
    #[arg(long)]
    end_date: Option<String>,
}

impl UserFields {
    fn attributes(&self) -> Map<String, Value> {
        let fields = [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("email", &self.email),
            ("user_name", &self.user_name),
            ("unique_id", &self.unique_id),
            ("external_id", &self.external_id),
            ("mobile_number", &self.mobile_number),
            ("job_title", &self.job_title),
            ("department", &self.department),
            ("manager_id", &self.manager_id),
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
        ];
        let mut attributes = Map::new();
        for (name, value) in fields {
            if let Some(value) = value {
                let value = if value.is_empty() { Value::Null } else { Value::String(value.clone()) };
                attributes.insert(name.to_string(), value);
            }
        }
        attributes
    }
}

/// `roster roles ...`.
#[derive(Debug, Args)]
pub struct RolesArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: RolesCommand,
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Show a user's roles. The JSON output (`--format json`, or any redirected output) is what `roles sync` reads.
    Get {
        /// The user's numeric id or email.
        user: String,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Make a user's direct roles equal the set in a file, all or nothing, and print what changed.
    Sync {
        /// The user's numeric id or email.
        user: String,
        /// A JSON document with the complete desired set, such as saved `roles get` output; `-` reads stdin.
        #[arg(long)]
        file: PathBuf,
        /// Print what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// `roster scheduled ...`; without a subcommand it lists, taking the options of `list`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScheduledArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: Option<ScheduledCommand>,
    #[command(flatten)]
    list: ListScheduled,
}

#[derive(Debug, Subcommand)]
enum ScheduledCommand {
    /// List scheduled actions, such as grant expiries, in the order they were scheduled.
    List(ListScheduled),
    /// Cancel a pending scheduled action so that it never runs.
    Cancel {
        /// The scheduled action's id.
        id: u64,
    },
}

#[derive(Debug, Args)]
struct ListScheduled {
    /// pending, done, failed or cancelled.
    #[arg(long)]
    status: Option<String>,
    /// The user's numeric id or email.
    #[arg(long)]
    user: Option<String>,
    /// Such as expire_role.
    #[arg(long)]
    kind: Option<String>,
    #[command(flatten)]
    paging: Paging,
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// `roster jml ...`: joiner, mover and leaver work.
#[derive(Debug, Args)]
pub struct JmlArgs {
    #[command(subcommand)]
    command: JmlCommand,
}

#[derive(Debug, Subcommand)]
enum JmlCommand {
    /// Upload a feed with a mapping and a policy, or name stored ones, and print the plan: counts per kind, then
    /// each person's change. Planning changes nothing.
    Plan(super::jml::PlanArgs),
    /// Apply a plan, follow its run until it ends and print a summary.
    Apply(super::jml::ApplyArgs),
    /// Store, list, print or delete mappings kept on the server, which `jml plan --mapping-name` names.
    Mappings(super::jml_config::ConfigArgs),
    /// Store, list, print or delete policies kept on the server, which `jml plan --policy-name` names.
    Policies(super::jml_config::ConfigArgs),
    /// List or cancel scheduled actions; the same as `roster scheduled`.
    Scheduled(ScheduledArgs),
}

pub async fn run_users(args: UsersArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    match args.command {
        UsersCommand::List(list) => list_users(&api, list).await,
        UsersCommand::Get { user, format } => {
            let document = api.get(&user_path(&user)).await?;
            print_user(&document, Format::resolve(format))
        }
        UsersCommand::Create { fields, roles, format } => {
            let mut attributes = fields.attributes();
            if !roles.is_empty() {
                attributes.insert("roles_attributes".into(), Value::Array(role_requests(&api, &roles).await?));
            }
            let body = json!({ "data": { "type": "users", "attributes": attributes } });
            let document = api.send(Method::POST, "/core/users", Some(&body)).await?;
            print_user(&document, Format::resolve(format))
        }
        UsersCommand::Update { user, fields, format } => {
            let attributes = fields.attributes();
            if attributes.is_empty() {
                bail!("nothing to update; give at least one attribute option, such as --department");
            }
            let body = json!({ "data": { "type": "users", "attributes": attributes } });
            let document = api.send(Method::PATCH, &user_path(&user), Some(&body)).await?;
            print_user(&document, Format::resolve(format))
        }
        UsersCommand::Archive { user } => {
            api.send(Method::PATCH, &format!("{}/archive", user_path(&user)), None).await?;
            println!("archived user {user}");
            Ok(())
        }
        UsersCommand::Unarchive { user, restore_roles } => {
            let body = json!({ "meta": { "restore_roles": restore_roles } });
            api.send(Method::PATCH, &format!("{}/unarchive", user_path(&user)), Some(&body)).await?;
            let roles = if restore_roles { " with its roles" } else { "" };
            println!("restored user {user}{roles}");
            Ok(())
        }
    }
}

pub async fn run_roles(args: RolesArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    match args.command {
        RolesCommand::Get { user, format } => {
            let document = api.get(&format!("{}/roles", user_path(&user))).await?;
            let mut table = role_table(&[]);
            for role in document["data"].as_array().into_iter().flatten() {
                table.push(role_row(role, None));
            }
            table.print(Format::resolve(format), &document)
        }
        RolesCommand::Sync { user, file, dry_run, format } => {
            let body = read_json_file(&file)?;
            let query = if dry_run { "?dry_run=true" } else { "" };
            let document = api.send(Method::PUT, &format!("{}/roles{query}", user_path(&user)), Some(&body)).await?;

            let mut table = role_table(&["CHANGE"]);
            for (change, key) in [("add", "added"), ("remove", "removed"), ("update", "updated"), ("keep", "unchanged")] {
                for role in document["meta"][key].as_array().into_iter().flatten() {
                    table.push(role_row(role, Some(change)));
                }
            }
            table.print(Format::resolve(format), &document)?;

            let count = |key: &str| document["meta"][key].as_array().map_or(0, Vec::len);
            let (added, removed, updated, unchanged) = (count("added"), count("removed"), count("updated"), count("unchanged"));
            if dry_run {
                eprintln!("dry run, nothing changed: would add {added}, remove {removed}, update {updated}; {unchanged} unchanged");
            } else {
                eprintln!("added {added}, removed {removed}, updated {updated}; {unchanged} unchanged");
            }
            Ok(())
        }
    }
}

pub async fn run_scheduled(args: ScheduledArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    let command = args.command.unwrap_or(ScheduledCommand::List(args.list));
    match command {
        ScheduledCommand::List(list) => list_scheduled(&api, list).await,
        ScheduledCommand::Cancel { id } => {
            api.send(Method::DELETE, &format!("/core/scheduled_actions/{id}"), None).await?;
            println!("cancelled scheduled action {id}");
            Ok(())
        }
    }
}

pub async fn run_jml(args: JmlArgs) -> anyhow::Result<()> {
    match args.command {
        JmlCommand::Plan(plan) => super::jml::run_plan(plan).await,
        JmlCommand::Apply(apply) => super::jml::run_apply(apply).await,
        JmlCommand::Mappings(config) => super::jml_config::run_config(super::jml_config::ConfigKind::Mapping, config).await,
        JmlCommand::Policies(config) => super::jml_config::run_config(super::jml_config::ConfigKind::Policy, config).await,
        JmlCommand::Scheduled(scheduled) => run_scheduled(scheduled).await,
    }
}

fn user_path(user: &str) -> String {
    format!("/core/users/{}", encode_segment(user.trim()))
}

async fn list_users(api: &ApiClient, list: ListUsers) -> anyhow::Result<()> {
    let query = query_string(&[
        ("query", list.query),
        ("email", list.email),
        ("unique_id", list.unique_id),
        ("department", list.department),
        ("role_type_id", list.role_type_id),
        ("archived", list.archived.then(|| "true".to_string())),
        ("page[size]", Some(list.paging.page_size())),
    ]);
    let users = api.get_all(&format!("/core/users{query}"), list.paging.limit()).await?;

    let mut table = Table::new(&["ID", "EMAIL", "FIRST NAME", "LAST NAME", "DEPARTMENT", "JOB TITLE", "STATUS"]);
    for user in &users {
        let attributes = &user["attributes"];
        let row = ["email", "first_name", "last_name", "department", "job_title", "status"].map(|name| cell(&attributes[name]));
        table.push(std::iter::once(cell(&user["id"])).chain(row).collect());
    }
    table.print(Format::resolve(list.format), &json!({ "data": users }))
}

async fn list_scheduled(api: &ApiClient, list: ListScheduled) -> anyhow::Result<()> {
    let query = query_string(&[
        ("status", list.status),
        ("user", list.user),
        ("kind", list.kind),
        ("page[size]", Some(list.paging.page_size())),
    ]);
    let actions = api.get_all(&format!("/core/scheduled_actions{query}"), list.paging.limit()).await?;

    let mut table = Table::new(&["ID", "KIND", "USER", "DUE", "STATUS", "CREATED BY", "PAYLOAD", "RESULT"]);
    for action in &actions {
        let attributes = &action["attributes"];
        let row = ["kind", "user_id", "due_at", "status", "created_by", "payload", "result"].map(|name| cell(&attributes[name]));
        table.push(std::iter::once(cell(&action["id"])).chain(row).collect());
    }
    table.print(Format::resolve(list.format), &json!({ "data": actions }))
}

/// Prints a user document: its attributes as FIELD/VALUE rows, then its roles.
fn print_user(document: &Value, format: Format) -> anyhow::Result<()> {
    let data = &document["data"];
    let mut table = Table::new(&["FIELD", "VALUE"]);
    table.push(vec!["id".into(), cell(&data["id"])]);
    for (name, value) in data["attributes"].as_object().into_iter().flatten() {
        table.push(vec![name.clone(), cell(value)]);
    }
    let roles: Vec<&Value> =
        document["included"].as_array().into_iter().flatten().filter(|r| r["type"] == "role_assignments").collect();
    for role in roles {
        let attributes = &role["attributes"];
        let resource = resource_text(attributes);
        table.push(vec!["role".into(), format!("{}{resource}", role_name(attributes))]);
    }
    table.print(format, document)
}

fn role_table(leading: &[&'static str]) -> Table {
    let mut headers = leading.to_vec();
    headers.extend(["ROLE TYPE", "RESOURCE", "SOURCES", "APPROVED BY", "REASON", "EXPIRES", "GRANTED"]);
    Table::new(&headers)
}

fn role_row(role: &Value, change: Option<&str>) -> Vec<String> {
    let attributes = &role["attributes"];
    let sources = attributes["sources"].as_array().map(|s| s.iter().map(cell).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let mut row: Vec<String> = change.map(str::to_string).into_iter().collect();
    row.extend([
        role_name(attributes),
        resource_text(attributes).trim_start_matches(' ').to_string(),
        sources,
        cell(&attributes["approved_by"]),
        cell(&attributes["reason"]),
        cell(&attributes["expires_at"]),
        cell(&attributes["granted_at"]),
    ]);
    row
}

fn role_name(attributes: &Value) -> String {
    match attributes["role_type_name"].as_str() {
        Some(name) => format!("{name} ({})", cell(&attributes["role_type_id"])),
        None => cell(&attributes["role_type_id"]),
    }
}

/// Renders a role's resource as ` TYPE:ID`, or nothing for a global role.
fn resource_text(attributes: &Value) -> String {
    match (attributes["resource_type"].as_str(), attributes["resource_id"].as_str()) {
        (Some(kind), Some(id)) => format!(" {kind}:{id}"),
        _ => String::new(),
    }
}

/// Turns `--role` values into `roles_attributes` entries, looking role type names up in the catalogue.
async fn role_requests(api: &ApiClient, roles: &[String]) -> anyhow::Result<Vec<Value>> {
    let needs_catalogue = roles.iter().any(|r| r.split(':').next().is_some_and(|t| t.parse::<u64>().is_err()));
    let catalogue = if needs_catalogue { api.get_all("/core/role_types?page[size]=100", None).await? } else { Vec::new() };

    roles
        .iter()
        .map(|text| {
            let parts: Vec<&str> = text.split(':').collect();
            let (role_type, resource) = match parts.as_slice() {
                [role_type] => (*role_type, None),
                [role_type, resource_type, resource_id] => (*role_type, Some((*resource_type, *resource_id))),
                _ => bail!("--role {text:?} is not ROLE_TYPE or ROLE_TYPE:RESOURCE_TYPE:RESOURCE_ID"),
            };
            let role_type_id = if role_type.parse::<u64>().is_ok() {
                role_type.to_string()
            } else {
                let found = catalogue.iter().find(|r| r["attributes"]["name"] == role_type).and_then(|r| r["id"].as_str());
                found.with_context(|| format!("--role {text:?}: no role type is named {role_type:?}; `GET /core/role_types` lists them"))?.to_string()
            };
            let mut request = json!({ "role_type_id": role_type_id });
            if let (Some((resource_type, resource_id)), Some(map)) = (resource, request.as_object_mut()) {
                map.insert("resource_type".into(), resource_type.into());
                map.insert("resource_id".into(), resource_id.into());
            }
            Ok(request)
        })
        .collect()
}

fn read_json_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}
