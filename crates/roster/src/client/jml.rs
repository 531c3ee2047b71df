//! The `jml plan`, `jml apply` and `access review` commands. They upload files, start runs and print what the
//! server returns; planning, applying and reviewing happen in the server.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::api::{ApiClient, ClientArgs};
use super::output::{Format, Table, cell};

/// `roster jml plan FEED --mapping M --policy P`, or with `--mapping-name` and `--policy-name`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The HR feed: a CSV or JSON Lines file.
    feed: PathBuf,
    #[command(flatten)]
    files: PlanFiles,
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// The mapping, the policy and whether the feed is complete.
#[derive(Debug, Args)]
struct PlanFiles {
    /// The mapping file (TOML): which feed column feeds which attribute.
    #[arg(long, required_unless_present = "mapping_name", conflicts_with = "mapping_name")]
    mapping: Option<PathBuf>,
    /// The name of a mapping stored on the server with `roster jml mappings put`, instead of --mapping.
    #[arg(long)]
    mapping_name: Option<String>,
    /// The policy file (TOML): the birthright role rules.
    #[arg(long, required_unless_present = "policy_name", conflicts_with = "policy_name")]
    policy: Option<PathBuf>,
    /// The name of a policy stored on the server with `roster jml policies put`, instead of --policy.
    #[arg(long)]
    policy_name: Option<String>,
    /// The feed lists everyone, so users this feed's source created or adopted who are missing from it leave.
    #[arg(long)]
    full_feed: bool,
}

/// `roster jml apply PLAN_ID`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The id of a plan that `roster jml plan` printed.
    plan_id: u64,
    /// Apply a plan with row errors, leaving those rows out.
    #[arg(long)]
    skip_invalid: bool,
    /// Apply a plan that archives more active users than the server's mass-leaver threshold allows.
    #[arg(long)]
    allow_mass_leavers: bool,
    /// Milliseconds between two polls of the run's progress.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    poll_interval_ms: u64,
    /// The format of the summary printed when the run ends.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// `roster access ...`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: AccessCommand,
}

#[derive(Debug, Subcommand)]
enum AccessCommand {
    /// List active users whose held roles differ from the approved ones: excess and missing roles.
    Review {
        /// Converge every finding (revoke excess roles, grant missing ones) and list what was fixed.
        #[arg(long)]
        fix: bool,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

/// Uploads a feed with its mapping and policy, or their stored names, prints the plan with every change and, on
/// stderr, its id.
pub async fn run_plan(args: PlanArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    let files = &args.files;
    let form = Form::new();
    let form = match (&files.mapping, &files.mapping_name) {
        (Some(path), _) => form.part("mapping", Part::text(read_text(path, "--mapping")?)),
        (None, Some(name)) => form.part("mapping_name", Part::text(name.clone())),
        (None, None) => bail!("give --mapping FILE or --mapping-name NAME"),
    };
    let form = match (&files.policy, &files.policy_name) {
        (Some(path), _) => form.part("policy", Part::text(read_text(path, "--policy")?)),
        (None, Some(name)) => form.part("policy_name", Part::text(name.clone())),
        (None, None) => bail!("give --policy FILE or --policy-name NAME"),
    };
    let form = form
        .part("full_feed", Part::text(files.full_feed.to_string()))
        // NOTE: the feed is read into memory before the upload starts, so the client needs as much memory as
        // the file is large.
        .part("feed", Part::bytes(read_bytes(&args.feed, "FEED")?).file_name(file_name(&args.feed)));
    let mut document = api.send_form("/core/jml/plans", form).await?;

    let changes = fetch_changes(&api, &document).await?;
    if let Some(attributes) = document["data"]["attributes"].as_object_mut() {
        attributes.insert("changes".into(), Value::Array(changes));
    }
    print_plan(&document, Format::resolve(args.format))
}

/// Pages through a plan's changes, largest pages first, and returns each change's attributes in plan order.
async fn fetch_changes(api: &ApiClient, plan: &Value) -> anyhow::Result<Vec<Value>> {
    let id = plan["data"]["id"].as_str().context("the server's plan has no id")?;
    let items = api.get_all(&format!("/core/jml/plans/{id}/changes?page%5Bsize%5D=1000"), None).await?;
    Ok(items.into_iter().map(|mut item| item["attributes"].take()).collect())
}

/// Starts a run of a plan, follows it until it ends and prints its result.
pub async fn run_apply(args: ApplyArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    let body = json!({ "meta": { "skip_invalid": args.skip_invalid, "allow_mass_leavers": args.allow_mass_leavers } });
    let started = api.send(Method::POST, &format!("/core/jml/plans/{}/apply", args.plan_id), Some(&body)).await?;
    let run_id = started["data"]["id"].as_str().context("the server's reply to apply has no run id")?.to_string();

    let document = follow_run(&api, &run_id, Duration::from_millis(args.poll_interval_ms)).await?;
    let attributes = &document["data"]["attributes"];
    let result = &attributes["result"];

    let mut table = Table::new(&["KEY", "OUTCOME", "REASON"]);
    for failure in result["failures"].as_array().into_iter().flatten() {
        table.push(vec![cell(&failure["key"]), "failed".into(), cell(&failure["reason"])]);
    }
    for key in result["stale_keys"].as_array().into_iter().flatten() {
        table.push(vec![cell(key), "stale".into(), "changed since the plan was made; plan again to include it".into()]);
    }
    let format = Format::resolve(args.format);
    if format != Format::Table || !table.rows.is_empty() {
        table.print(format, &document)?;
    }

    let status = cell(&attributes["status"]);
    let count = |name: &str| result[name].as_u64().unwrap_or(0);
    eprintln!(
        "run {run_id} {status}: {} applied, {} already applied, {} stale, {} failed of {}",
        count("applied"),
        count("already_applied"),
        count("stale"),
        count("failed"),
        count("total"),
    );
    if status != "done" {
        let message = attributes["message"].as_str().unwrap_or("no message");
        bail!("run {run_id} ended as {status}: {message}; run `roster jml apply {}` again to finish it", args.plan_id);
    }
    Ok(())
}

/// Lists the access review's findings, or fixes them with `--fix`.
pub async fn run_access(args: AccessArgs) -> anyhow::Result<()> {
    let api = ApiClient::new(&args.client)?;
    match args.command {
        AccessCommand::Review { fix, format } => {
            let document = if fix {
                api.send(Method::POST, "/core/access_review/fix", Some(&json!({}))).await?
            } else {
                api.get("/core/access_review").await?
            };

            let mut table = Table::new(&["USER", "UNIQUE ID", "EMAIL", "FINDING", "ROLE", "REASON"]);
            for finding in document["data"].as_array().into_iter().flatten() {
                let attributes = &finding["attributes"];
                let user = [cell(&finding["id"]), cell(&attributes["unique_id"]), cell(&attributes["email"])];
                for excess in attributes["excess"].as_array().into_iter().flatten() {
                    table.push(finding_row(&user, "excess", excess, cell(&excess["reason"])));
                }
                for missing in attributes["missing"].as_array().into_iter().flatten() {
                    table.push(finding_row(&user, "missing", missing, format!("granted by rule {}", cell(&missing["rule"]))));
                }
            }
            table.print(Format::resolve(format), &document)?;

            let meta = &document["meta"];
            if fix {
                eprintln!("fixed {} of {} reviewed users", cell(&meta["fixed"]), cell(&meta["reviewed"]));
            } else {
                eprintln!("{} of {} reviewed users have findings", cell(&meta["findings"]), cell(&meta["reviewed"]));
            }
            Ok(())
        }
    }
}

/// Polls a run until its status is no longer `running`, drawing a progress bar on a terminal and printing a
/// line per poll otherwise. Returns the run's last document.
async fn follow_run(api: &ApiClient, run_id: &str, interval: Duration) -> anyhow::Result<Value> {
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(None, if terminal { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    bar.set_style(
        ProgressStyle::with_template("{spinner} run {msg} [{bar:40}] {pos}/{len} people, {elapsed}")
            .context("the progress bar template is invalid")?
            .progress_chars("=> "),
    );
    bar.set_message(run_id.to_string());

    let started = Instant::now();
    let mut last_line = None;
    let mut failures_shown = 0;
    loop {
        let document = match api.get(&format!("/core/jml/runs/{run_id}")).await {
            Ok(document) => document,
            Err(error) => {
                bar.abandon();
                return Err(error);
            }
        };
        let attributes = &document["data"]["attributes"];
        let result = &attributes["result"];
        let total = result["total"].as_u64();
        let done = ["applied", "already_applied", "stale", "failed"].iter().filter_map(|name| result[*name].as_u64()).sum::<u64>();
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);

        // Failures are printed as they appear; `suspend` hides the bar meanwhile so the lines do not tear it.
        let failures = result["failures"].as_array().map(Vec::as_slice).unwrap_or_default();
        for failure in failures.iter().skip(failures_shown) {
            bar.suspend(|| eprintln!("failed {} (line {}): {}", cell(&failure["key"]), cell(&failure["line"]), cell(&failure["reason"])));
        }
        failures_shown = failures_shown.max(failures.len());

        let running = attributes["status"] == "running";
        if !terminal {
            let line = format!("run {run_id}: {done}/{} people applied", total.map_or("?".to_string(), |t| t.to_string()));
            if last_line.as_ref() != Some(&line) {
                eprintln!("{line}");
                last_line = Some(line);
            }
        }
        if !running {
            bar.finish_and_clear();
            tracing::debug!(run_id, seconds = started.elapsed().as_secs_f64(), "run ended");
            return Ok(document);
        }
        tokio::time::sleep(interval).await;
    }
}

/// Prints a plan: counts per kind, then one row per change of a person, then row errors and warnings. JSON
/// prints the server's document. The plan id goes to stderr so that stdout stays the plan.
fn print_plan(document: &Value, format: Format) -> anyhow::Result<()> {
    let data = &document["data"];
    let attributes = &data["attributes"];
    let id = cell(&data["id"]);

    let mut changes = Table::new(&["KEY", "LINE", "KIND", "CHANGE"]);
    for change in attributes["changes"].as_array().into_iter().flatten() {
        let row = |text: String| vec![cell(&change["key"]), cell(&change["line"]), cell(&change["kind"]), text];
        let descriptions = describe_change(change);
        if descriptions.is_empty() {
            changes.push(row(String::new()));
        }
        for text in descriptions {
            changes.push(row(text));
        }
    }
    for error in attributes["errors"].as_array().into_iter().flatten() {
        changes.push(vec![cell(&error["key"]), cell(&error["line"]), "error".into(), cell(&error["reason"])]);
    }
    for warning in attributes["warnings"].as_array().into_iter().flatten() {
        changes.push(vec![cell(&warning["key"]), cell(&warning["line"]), "warning".into(), cell(&warning["message"])]);
    }

    match format {
        Format::Table => {
            let mut counts = Table::new(&["KIND", "COUNT"]);
            for (kind, count) in attributes["counts"].as_object().into_iter().flatten() {
                counts.push(vec![kind.clone(), cell(count)]);
            }
            counts.print(format, document)?;
            println!();
            changes.print(format, document)?;
        }
        Format::Csv | Format::Json => changes.print(format, document)?,
    }

    let counts = attributes["counts"].as_object().into_iter().flatten();
    let summary: Vec<String> =
        counts.filter(|(_, count)| count.as_u64().is_some_and(|c| c > 0)).map(|(kind, count)| format!("{} {kind}", cell(count))).collect();
    let summary = if summary.is_empty() { "nothing to do".to_string() } else { summary.join(", ") };
    let errors = attributes["counts"]["errors"].as_u64().unwrap_or(0);
    if errors > 0 {
        eprintln!(
            "plan {id}: {summary}; fix the {errors} invalid row(s) and plan again, or apply the rest with `roster jml apply {id} --skip-invalid`"
        );
    } else {
        eprintln!("plan {id}: {summary}; apply it with `roster jml apply {id}`");
    }
    Ok(())
}

/// Describes one person's change as lines: attribute changes old → new, roles added and removed with their rule,
/// and a scheduled action with its time.
fn describe_change(change: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    if change["state_before"] != change["state_after"] {
        lines.push(format!("state {} → {}", or_none(&change["state_before"]), or_none(&change["state_after"])));
    }
    for (name, values) in change["changes"].as_object().into_iter().flatten() {
        lines.push(format!("{name}: {} → {}", or_none(&values["before"]), or_none(&values["after"])));
    }
    for (sign, key) in [("+", "roles_added"), ("-", "roles_removed")] {
        for role in change[key].as_array().into_iter().flatten() {
            lines.push(format!("{sign}{} (rule {})", grant_text(role), cell(&role["rule"])));
        }
    }
    let scheduled = &change["scheduled"];
    if !scheduled.is_null() {
        lines.push(format!("scheduled {} at {}", cell(&scheduled["kind"]), cell(&scheduled["at"])));
    }
    lines
}

fn grant_text(role: &Value) -> String {
    match (role["resource_type"].as_str(), role["resource_id"].as_str()) {
        (Some(kind), Some(id)) => format!("{} on {kind}:{id}", cell(&role["role"])),
        _ => cell(&role["role"]),
    }
}

fn finding_row(user: &[String; 3], finding: &str, role: &Value, reason: String) -> Vec<String> {
    let name = role["role_type_name"].as_str().map_or_else(|| cell(&role["role_type_id"]), str::to_string);
    let role_text = match (role["resource_type"].as_str(), role["resource_id"].as_str()) {
        (Some(kind), Some(id)) if !kind.is_empty() => format!("{name} on {kind}:{id}"),
        _ => name,
    };
    let mut row = user.to_vec();
    row.extend([finding.to_string(), role_text, reason]);
    row
}


fn or_none(value: &Value) -> String {
    if value.is_null() { "(none)".to_string() } else { cell(value) }
}

fn read_text(path: &Path, option: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read the {option} file {}", path.display()))
}

fn read_bytes(path: &Path, option: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {option} file {}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "feed".to_string(), |name| name.to_string_lossy().into_owned())
}
