//! The JML engine over HTTP: plans from feeds, runs, the mass-leaver brake, crash and resume, future dates,
//! rehires, leave of absence, bad rows and webhook events.

use std::io::Write;
use crate::common::*;
use anyhow::{Context, bail, ensure};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How long a test waits for a run or a scheduled action.
const WAIT: Duration = Duration::from_secs(60);
/// How often the waits poll.
const POLL: Duration = Duration::from_millis(50);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn example(name: &str) -> anyhow::Result<String> {
    let path = workspace_root().join("examples").join(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading {} failed", path.display()))
}

/// Reads the sample HR export through `ROSTER_SHARED_DIR` (default `../shared` beside the workspace). Returns
/// `None`, after a notice, when it is absent, except under `CI=true`, where that fails.
fn hr_dataset() -> anyhow::Result<Option<Vec<u8>>> {
    let shared = std::env::var("ROSTER_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("../shared"));
    let path = shared.join("data/hr/HRDataset_v14.csv");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            bail!("CI=true requires {}: {error}; set ROSTER_SHARED_DIR", path.display())
        }
        Err(_) => {
            // Written to stderr directly: the test harness hides `eprintln!` output of a passing test.
            let _ = writeln!(std::io::stderr(), "skipped: {} is absent; set ROSTER_SHARED_DIR", path.display());
            Ok(None)
        }
    }
}

/// Builds the multipart form of a plan upload.
pub(crate) fn upload_form(feed: &[u8], mapping: &str, policy: &str, full_feed: bool) -> Form {
    Form::new()
        .part("mapping", Part::text(mapping.to_string()))
        .part("policy", Part::text(policy.to_string()))
        .part("full_feed", Part::text(full_feed.to_string()))
        .part("feed", Part::bytes(feed.to_vec()).file_name("feed.csv"))
}

async fn upload(server: &TestServer, feed: &[u8], mapping: &str, policy: &str, full_feed: bool) -> anyhow::Result<Reply> {
    let form = upload_form(feed, mapping, policy, full_feed);
    server.send(server.request(Method::POST, "/core/jml/plans").multipart(form)).await
}

/// Uploads a feed and returns the plan's id and attributes, with `changes` filled in from every page of the
/// plan's changes.
pub(crate) async fn plan(server: &TestServer, feed: &[u8], mapping: &str, policy: &str, full_feed: bool) -> anyhow::Result<(String, Value)> {
    let reply = upload(server, feed, mapping, policy, full_feed).await?;
    ensure!(reply.status == StatusCode::CREATED, "planning failed: {}", reply.describe());
    with_changes(server, &reply).await
}

/// Returns a plan reply's id and attributes, with `changes` set to the attributes of every change, read page by
/// page through `links.next`.
pub(crate) async fn with_changes(server: &TestServer, reply: &Reply) -> anyhow::Result<(String, Value)> {
    let id = reply.id()?;
    let mut attributes = reply.data()["attributes"].clone();
    let changes = all_changes(server, &format!("/core/jml/plans/{id}/changes?page[size]=1000")).await?;
    attributes["changes"] = Value::Array(changes.into_iter().map(|(_, change)| change).collect());
    Ok((id, attributes))
}

/// Follows `links.next` from `path` and returns each change's id and attributes.
pub(crate) async fn all_changes(server: &TestServer, path: &str) -> anyhow::Result<Vec<(String, Value)>> {
    let mut changes = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(path) = next.take() {
        let page = server.get(&path).await?;
        ensure!(page.status == StatusCode::OK, "listing changes failed: {}", page.describe());
        for item in page.data_items() {
            changes.push((item["id"].as_str().unwrap_or_default().to_string(), item["attributes"].clone()));
        }
        next = page.body["links"]["next"].as_str().map(str::to_string);
    }
    Ok(changes)
}

pub(crate) async fn start_apply(server: &TestServer, plan_id: &str, meta: Value) -> anyhow::Result<Reply> {
    server.post(&format!("/core/jml/plans/{plan_id}/apply"), &json!({ "meta": meta })).await
}

pub(crate) async fn wait_run(server: &TestServer, run_id: &str) -> anyhow::Result<Value> {
    let started = std::time::Instant::now();
    loop {
        let reply = server.get(&format!("/core/jml/runs/{run_id}")).await?;
        ensure!(reply.status == StatusCode::OK, "reading the run failed: {}", reply.describe());
        let attributes = reply.data()["attributes"].clone();
        if attributes["status"] != "running" {
            return Ok(attributes);
        }
        ensure!(started.elapsed() < WAIT, "run {run_id} did not finish within {} s", WAIT.as_secs());
        tokio::time::sleep(POLL).await;
    }
}

/// Applies a plan, waits for the run and returns its attributes.
async fn apply(server: &TestServer, plan_id: &str, meta: Value) -> anyhow::Result<Value> {
    let reply = start_apply(server, plan_id, meta).await?;
    ensure!(reply.status == StatusCode::ACCEPTED, "applying failed: {}", reply.describe());
    let run = wait_run(server, &reply.id()?).await?;
    ensure!(run["status"] == "done", "the run did not finish: {run}");
    Ok(run)
}

fn count(plan: &Value, kind: &str) -> i64 {
    plan["counts"][kind].as_i64().unwrap_or(-1)
}

fn changed_keys(plan: &Value, kind: &str) -> Vec<String> {
    let mut keys: Vec<String> = plan["changes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["kind"] == kind)
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

async fn status_of(server: &TestServer, unique_id: &str) -> anyhow::Result<String> {
    let reply = server.get(&format!("/core/users?unique_id={unique_id}&archived=true")).await?;
    if let Some(user) = reply.data_items().first() {
        return Ok(user["attributes"]["status"].as_str().unwrap_or_default().to_string());
    }
    let reply = server.get(&format!("/core/users?unique_id={unique_id}")).await?;
    let user = reply.data_items().first().with_context(|| format!("no user has unique_id {unique_id}"))?.clone();
    Ok(user["attributes"]["status"].as_str().unwrap_or_default().to_string())
}

async fn policy_roles(server: &TestServer, unique_id: &str) -> anyhow::Result<i64> {
    server
        .query_i64(&format!(
            "SELECT COUNT(*) FROM role_assignments ra JOIN users u ON u.id = ra.user_id \
             WHERE u.unique_id = '{unique_id}' AND ra.source = 'policy'"
        ))
        .await
}

/// Rewrites the sample export: `edit` gets each record by column name and may change it.
fn edit_csv(bytes: &[u8], mut edit: impl FnMut(&mut BTreeMap<String, String>)) -> anyhow::Result<Vec<u8>> {
    let mut reader = csv::Reader::from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes));
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&headers)?;
    for record in reader.records() {
        let record = record?;
        let mut row: BTreeMap<String, String> =
            headers.iter().cloned().zip(record.iter().map(str::to_string)).collect();
        edit(&mut row);
        writer.write_record(headers.iter().map(|h| row.get(h).cloned().unwrap_or_default()))?;
    }
    Ok(writer.into_inner()?)
}

const SYNTHETIC_HEADER: &str = "employee_id,name,email,department,job_title,manager_id,status,start_date,end_date\n";

/// A synthetic feed of `n` active people in Sales, with keys E1..En.
pub(crate) fn sales_feed(n: usize) -> String {
    let mut feed = SYNTHETIC_HEADER.to_string();
    for i in 1..=n {
        feed.push_str(&format!("E{i},\"Person, Number{i}\",,Sales,Account Executive,,Active,2020-01-01,\n"));
    }
    feed
}

fn date_in(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days)).date().to_string()
}

api_test!(hr_dataset_plan_apply_and_edit, |server| {
    let Some(feed) = hr_dataset()? else { return Ok(()) };
    let mapping = example("hr-dataset-mapping.toml")?;
    let policy = example("hr-dataset-policy.toml")?;
    // Runs read a plan's changes in pages; small pages put managers and their reports on different pages.
    server.set_server_env("ROSTER_TEST_JML_APPLY_PAGE", Some("16"));
    server.restart().await?;

    let (plan_id, first) = plan(&server, &feed, &mapping, &policy, true).await?;
    assert_eq!(count(&first, "create"), 207, "every active person becomes a user: {}", first["counts"]);
    assert_eq!(count(&first, "errors"), 0, "{}", first["errors"]);
    assert_eq!(count(&first, "archive"), 0);
    assert!(first["changes"].as_array().is_some_and(|c| c.iter().all(|c| c["kind"] == "create")));
    let text = first.to_string();
    for unmapped in ["62506", "07/10/83", "Salary", "RaceDesc", "LinkedIn"] {
        assert!(!text.contains(unmapped), "the plan must not carry unmapped column data such as {unmapped}");
    }

    let run = apply(&server, &plan_id, json!({})).await?;
    assert_eq!(run["result"]["applied"], 207, "{run}");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE origin = 'jml' AND status = 'active'").await?, 207);
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE unique_id = '10084'").await?, 0, "terminated never-users cause nothing");
    assert_eq!(policy_roles(&server, "10026").await?, 2, "a production technician gets everyone's and production's role");
    let creates = server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'").await?;
    assert_eq!(creates, 207, "one audit entry per created user");
    let created = first["changes"].as_array().map(Vec::as_slice).unwrap_or_default();
    let keys: std::collections::BTreeSet<&str> = created.iter().filter_map(|c| c["key"].as_str()).collect();
    let managed = created.iter().filter(|c| c["attributes"]["manager_key"].as_str().is_some_and(|m| keys.contains(m))).count();
    assert!(managed > 100, "most people's managers are in the feed: {managed}");
    let with_manager = server.query_i64("SELECT COUNT(*) FROM users WHERE manager_id IS NOT NULL").await?;
    assert_eq!(usize::try_from(with_manager)?, managed, "every manager the run created was found for their reports");

    // The same feed again changes nothing.
    let (again_id, again) = plan(&server, &feed, &mapping, &policy, true).await?;
    assert!(again["changes"].as_array().is_some_and(Vec::is_empty), "a second plan must be empty: {}", again["counts"]);
    let rerun = apply(&server, &again_id, json!({})).await?;
    assert_eq!(rerun["result"]["applied"], 0);

    // 10026 and 10088 move, 10002 leaves, 10062 only gains whitespace.
    let edited = edit_csv(&feed, |row| match row.get("EmpID").map(String::as_str) {
        Some("10026") => {
            row.insert("Department".into(), "Sales".into());
        }
        Some("10088") => {
            row.insert("Position".into(), "Production Technician II".into());
        }
        Some("10002") => {
            row.insert("EmploymentStatus".into(), "Voluntarily Terminated".into());
            row.insert("DateofTermination".into(), "01/15/19".into());
            row.insert("Termd".into(), "1".into());
        }
        Some("10062") => {
            let department = row.get("Department").cloned().unwrap_or_default();
            row.insert("Department".into(), format!("  {department}   "));
            let position = row.get("Position").cloned().unwrap_or_default();
            row.insert("Position".into(), position.replace(' ', "   "));
        }
        _ => {}
    })?;
    let (edit_id, edit) = plan(&server, &edited, &mapping, &policy, true).await?;
    assert_eq!(changed_keys(&edit, "archive"), vec!["10002"], "{}", edit["counts"]);
    let movers: Vec<String> = edit["changes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|c| c["kind"] == "none" || c["kind"] == "update")
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();
    let mut movers = movers;
    movers.sort();
    assert_eq!(movers, vec!["10026", "10088"], "only real movers; no mover for a whitespace-only change");
    let mover = edit["changes"].as_array().and_then(|c| c.iter().find(|c| c["key"] == "10026")).cloned().unwrap_or_default();
    assert_eq!(mover["changes"]["department"]["after"], "Sales");
    assert_eq!(mover["roles_removed"][0]["rule"], "production", "{mover}");
    assert_eq!(mover["roles_added"][0]["rule"], "sales", "{mover}");

    apply(&server, &edit_id, json!({})).await?;
    assert_eq!(status_of(&server, "10002").await?, "archived");
    assert_eq!(policy_roles(&server, "10026").await?, 2);
    let (_, settled) = plan(&server, &edited, &mapping, &policy, true).await?;
    assert!(settled["changes"].as_array().is_some_and(Vec::is_empty), "applying the edit twice changes nothing: {}", settled["changes"]);
});

api_test!(mass_leaver_brake, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let (first, _) = plan(&server, sales_feed(20).as_bytes(), &mapping, &policy, true).await?;
    apply(&server, &first, json!({})).await?;

    // Two of twenty (10%) are missing from a complete feed: more than the 5% default.
    let (second, planned) = plan(&server, sales_feed(18).as_bytes(), &mapping, &policy, true).await?;
    assert_eq!(changed_keys(&planned, "archive"), vec!["E19", "E20"]);
    let audit_before = server.audit_count().await?;
    let refused = start_apply(&server, &second, json!({})).await?;
    assert_error(&refused, StatusCode::CONFLICT, "mass_leavers");
    assert_eq!(server.audit_count().await?, audit_before, "a refused plan changes nothing");
    assert_eq!(status_of(&server, "E20").await?, "active");

    apply(&server, &second, json!({ "allow_mass_leavers": true })).await?;
    assert_eq!(status_of(&server, "E20").await?, "archived");

    // Without full_feed, missing people are not leavers, and API-created users never are.
    server.create_user(json!({ "email": "api@example.com", "unique_id": "E17X" })).await?;
    let (_, partial) = plan(&server, sales_feed(5).as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(count(&partial, "archive"), 0);
    let (_, full) = plan(&server, sales_feed(17).as_bytes(), &mapping, &policy, true).await?;
    assert_eq!(changed_keys(&full, "archive"), vec!["E18"], "only users the feed created or adopted leave");

    // An export carries feed membership, so a moved deployment keeps its leavers.
    let path = server.data_dir().join("export.jsonl");
    let path_text = path.display().to_string();
    let exported = server.cli(&["export", "--output", &path_text]).await?;
    assert!(exported.status.success(), "export failed: {}", String::from_utf8_lossy(&exported.stderr));
    let text = std::fs::read_to_string(&path)?;
    assert_eq!(text.lines().filter(|l| l.contains("\"table\":\"jml_feed_users\"")).count(), 20, "one row per feed user");
});

api_test!(crash_and_resume, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = sales_feed(30);
    let (plan_id, _) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;

    // Pages of 4 put the crash in the middle of the third page.
    server.set_server_env("ROSTER_TEST_JML_CRASH_AFTER", Some("10"));
    server.set_server_env("ROSTER_TEST_JML_APPLY_PAGE", Some("4"));
    server.restart().await?;
    let started = start_apply(&server, &plan_id, json!({})).await?;
    ensure!(started.status == StatusCode::ACCEPTED, "{}", started.describe());
    let status = server.wait_for_exit(WAIT).await?;
    assert!(!status.success(), "the server stops at the crash point");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE origin = 'jml'").await?, 10, "ten people were applied");

    server.set_server_env("ROSTER_TEST_JML_CRASH_AFTER", None);
    server.start_again().await?;
    let run = apply(&server, &plan_id, json!({})).await?;
    let crashed = server.get(&format!("/core/jml/runs/{}", started.id()?)).await?;
    assert_eq!(crashed.data()["attributes"]["status"], "interrupted", "{}", crashed.text);
    assert_eq!(run["result"]["already_applied"], 10, "{run}");
    assert_eq!(run["result"]["applied"], 20, "{run}");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE origin = 'jml'").await?, 30, "nobody is created twice");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'user.create'").await?, 30);
    assert_eq!(
        server.query_i64("SELECT COUNT(*) FROM role_assignments WHERE source = 'policy'").await?,
        30,
        "the same roles as a clean run: one stakeholder grant each"
    );
    let (_, settled) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;
    assert!(settled["changes"].as_array().is_some_and(Vec::is_empty), "{}", settled["changes"]);
    let verify = server.cli(&["audit", "verify"]).await?;
    assert!(verify.status.success(), "the audit chain verifies after the crash");
});

api_test!(stop_interrupts_run, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = sales_feed(30);
    let (plan_id, _) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;

    // The run pauses after ten people, so the server certainly stops while it is in progress.
    server.set_server_env("ROSTER_TEST_JML_PAUSE_AFTER", Some("10"));
    server.restart().await?;
    let started = start_apply(&server, &plan_id, json!({})).await?;
    ensure!(started.status == StatusCode::ACCEPTED, "{}", started.describe());
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.query_i64("SELECT COUNT(*) FROM users WHERE origin = 'jml'").await? < 10 {
        ensure!(tokio::time::Instant::now() < deadline, "the run did not reach its pause point");
        tokio::time::sleep(POLL).await;
    }
    let status = server.stop().await?;
    assert!(status.success(), "the server stops cleanly during a run: {status}");

    server.set_server_env("ROSTER_TEST_JML_PAUSE_AFTER", None);
    server.start_again().await?;
    let stopped = server.get(&format!("/core/jml/runs/{}", started.id()?)).await?;
    assert_eq!(stopped.data()["attributes"]["status"], "interrupted", "a stopped run does not read as running: {}", stopped.text);
    let message = stopped.data()["attributes"]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("apply the plan again"), "the run says how to finish it: {message}");
    let run = apply(&server, &plan_id, json!({})).await?;
    assert_eq!(run["result"]["already_applied"], 10, "{run}");
    assert_eq!(run["result"]["applied"], 20, "{run}");
});

api_test!(joiner_created_elsewhere_after_plan_is_stale, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = sales_feed(3);
    let (plan_id, _) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;

    // Between review and apply, someone creates the second joiner through the API.
    let created = server
        .post("/core/users", &user_document(json!({ "last_name": "Elsewhere", "email": "elsewhere@example.com", "unique_id": "E2" })))
        .await?;
    ensure!(created.status == StatusCode::CREATED, "{}", created.describe());

    let run = apply(&server, &plan_id, json!({})).await?;
    assert_eq!(run["result"]["applied"], 2, "{run}");
    assert_eq!(run["result"]["stale"], 1, "the joiner who now exists is stale, not created again: {run}");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE unique_id_folded = 'e2'").await?, 1, "one user holds the key");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users WHERE origin = 'jml'").await?, 2);
});

api_test!(future_dates_fire_on_clock, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let start = date_in(10);
    let leave = date_in(5);
    let first = format!(
        "{SYNTHETIC_HEADER}E1,\"Now, Here\",,Engineering,Engineer,,Active,2020-01-01,\n\
         E2,\"Later, Joiner\",,Engineering,Engineer,,Active,{start},\n"
    );
    let (plan_id, planned) = plan(&server, first.as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(count(&planned, "scheduled"), 1, "{}", planned["counts"]);
    let scheduled = server.get(&format!("/core/jml/plans/{plan_id}/changes?kind=scheduled")).await?;
    let keys: Vec<&Value> = scheduled.data_items().iter().map(|change| &change["attributes"]["key"]).collect();
    assert_eq!(keys, vec!["E2"], "kind=scheduled lists the change counted as scheduled: {}", scheduled.text);
    apply(&server, &plan_id, json!({})).await?;
    assert_eq!(status_of(&server, "E2").await?, "pending");
    assert_eq!(policy_roles(&server, "E2").await?, 0, "a pending joiner holds no roles");

    let second = format!(
        "{SYNTHETIC_HEADER}E1,\"Now, Here\",,Engineering,Engineer,,Terminated,2020-01-01,{leave}\n\
         E2,\"Later, Joiner\",,Engineering,Engineer,,Active,{start},\n"
    );
    let (leave_id, leaving) = plan(&server, second.as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(count(&leaving, "archive"), 0, "a future leaver is scheduled, not archived");
    assert_eq!(count(&leaving, "scheduled"), 1, "{}", leaving["changes"]);
    apply(&server, &leave_id, json!({})).await?;
    assert_eq!(status_of(&server, "E1").await?, "active");

    // Eleven days later both actions are due.
    server.set_server_env("ROSTER_TEST_CLOCK_OFFSET_SECS", Some(&(11 * 86_400).to_string()));
    server.set_server_args(&["--scheduler-interval-ms", "20"]);
    server.restart().await?;
    let started = std::time::Instant::now();
    while status_of(&server, "E2").await? != "active" || status_of(&server, "E1").await? != "archived" {
        ensure!(started.elapsed() < WAIT, "the scheduled actions did not fire: {}", server.log_tail());
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(policy_roles(&server, "E2").await?, 3, "activation grants the planned roles");
    server.restart().await?;
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'user.activate'").await?, 1, "applied once");
    assert_eq!(
        server.query_i64("SELECT COUNT(*) FROM scheduled_actions WHERE status = 'done' AND kind IN ('activate_user', 'archive_user')").await?,
        2
    );
});

api_test!(rehire_and_leave_of_absence, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = |e1: &str, e2: &str| format!("{SYNTHETIC_HEADER}{e1}\n{e2}\n");
    let ada = "E1,\"Lovelace, Ada\",ada@example.com,Engineering,Engineer,,Active,2020-01-01,";
    let bob = "E2,\"Builder, Bob\",bob@example.com,Sales,Account Executive,,Active,2020-01-01,";
    let (first, _) = plan(&server, feed(ada, bob).as_bytes(), &mapping, &policy, false).await?;
    apply(&server, &first, json!({})).await?;
    assert_eq!(policy_roles(&server, "E1").await?, 3);

    // Bob goes on leave: suspended, roles kept, his token stops working.
    let bob_id = server.get("/core/users/bob@example.com").await?.id()?;
    let (_, token) = server.create_user_token(&bob_id, "bob-laptop", &["users:read"]).await?;
    let works = server.send(server.request_as(&token, Method::GET, "/core/role_types")).await?;
    assert_eq!(works.status, StatusCode::OK);
    let bob_leave = bob.replace("Active", "Leave of Absence");
    let (leave, planned) = plan(&server, feed(ada, &bob_leave).as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(changed_keys(&planned, "suspend"), vec!["E2"]);
    apply(&server, &leave, json!({})).await?;
    assert_eq!(status_of(&server, "E2").await?, "suspended");
    assert_eq!(policy_roles(&server, "E2").await?, 1, "a leave of absence keeps roles");
    let refused = server.send(server.request_as(&token, Method::GET, "/core/role_types")).await?;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "a suspended user's token does not work");

    // Ada leaves, then returns to Sales: she gets the current policy's roles, not her old ones.
    let ada_left = ada.replace("Active,2020-01-01,", "Terminated,2020-01-01,2024-01-01");
    let (gone, _) = plan(&server, feed(&ada_left, &bob_leave).as_bytes(), &mapping, &policy, false).await?;
    // Ada is the only active user, so her leaving trips the mass-leaver brake.
    apply(&server, &gone, json!({ "allow_mass_leavers": true })).await?;
    assert_eq!(status_of(&server, "E1").await?, "archived");
    let ada_back = ada.replace("Engineering,Engineer", "Sales,Account Executive");
    let (back, planned) = plan(&server, feed(&ada_back, bob).as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(changed_keys(&planned, "restore"), vec!["E1"]);
    assert_eq!(changed_keys(&planned, "activate"), vec!["E2"]);
    apply(&server, &back, json!({})).await?;
    assert_eq!(status_of(&server, "E1").await?, "active");
    assert_eq!(policy_roles(&server, "E1").await?, 1, "only the everyone rule applies in Sales");
    let works_again = server.send(server.request_as(&token, Method::GET, "/core/role_types")).await?;
    assert_eq!(works_again.status, StatusCode::OK, "the token works again after the leave");
});

api_test!(bad_rows_reported_by_line, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = format!(
        "{SYNTHETIC_HEADER}E1,\"Good, One\",,Sales,Rep,,Active,2020-01-01,\n\
         E2,\"Bad, Date\",,Sales,Rep,,Active,2020-13-45,\n\
         E3,\"Good, Two\",,Sales,Rep,,Active,2020-01-01,\n\
         E3,\"Other, Person\",,Sales,Rep,,Active,2020-01-01,\n"
    );
    let (plan_id, planned) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;
    let lines: Vec<i64> = planned["errors"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|e| e["line"].as_i64()).collect();
    assert_eq!(lines, vec![3, 4, 5], "{}", planned["errors"]);
    assert!(planned["errors"][0]["reason"].as_str().is_some_and(|r| r.contains("not a day of the calendar")), "{}", planned["errors"]);
    assert!(planned["errors"][1]["reason"].as_str().is_some_and(|r| r.contains("E3")), "{}", planned["errors"]);
    assert_eq!(count(&planned, "create"), 1);

    let refused = start_apply(&server, &plan_id, json!({})).await?;
    assert_error(&refused, StatusCode::CONFLICT, "plan_has_errors");
    let run = apply(&server, &plan_id, json!({ "skip_invalid": true })).await?;
    assert_eq!(run["result"]["applied"], 1);

    let bad_mapping = upload(&server, feed.as_bytes(), "source = 1", &policy, false).await?;
    assert_eq!(bad_mapping.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad_mapping.describe());
    let bad_policy = upload(&server, feed.as_bytes(), &mapping, "[[rule]]\nname = \"x\"\ngrant = [{ role = \"nope\" }]", false).await?;
    assert_eq!(bad_policy.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad_policy.describe());
});

api_test!(plan_needs_scope_and_parts, |server| {
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    let form = Form::new().part("feed", Part::text("x"));
    let forbidden = server.send(server.request_as(&reader, Method::POST, "/core/jml/plans").multipart(form)).await?;
    assert_error(&forbidden, StatusCode::FORBIDDEN, "forbidden");
    let form = Form::new().part("feed", Part::text("x"));
    let missing = server.send(server.request(Method::POST, "/core/jml/plans").multipart(form)).await?;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_form");
    let json_body = server.post("/core/jml/plans", &json!({ "feed": "x" })).await?;
    assert_error(&json_body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let unknown = server.get("/core/jml/plans/999").await?;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
});

api_test!(event_joiner_and_leaver, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let event = |kind: &str, date: Option<String>| {
        json!({ "data": { "type": "jml_events", "attributes": {
            "source": "synthetic", "event": kind, "effective_date": date,
            "person": { "unique_id": "W1", "first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com",
                "department": "Engineering" }
        }}})
    };
    let early = server.post("/core/jml/events", &event("joiner", None)).await?;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY, "events need a plan's policy first: {}", early.describe());

    let (seed, _) = plan(&server, sales_feed(1).as_bytes(), &mapping, &policy, false).await?;
    apply(&server, &seed, json!({})).await?;
    let joined = server.post("/core/jml/events", &event("joiner", Some("2020-02-01".into()))).await?;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.describe());
    assert_eq!(joined.data()["attributes"]["result"]["applied"], 1, "{}", joined.text);
    assert_eq!(status_of(&server, "W1").await?, "active");
    assert_eq!(policy_roles(&server, "W1").await?, 3);
    let email = server.query_i64("SELECT COUNT(*) FROM users WHERE email = 'grace@example.com' AND unique_id = 'W1'").await?;
    assert_eq!(email, 1, "the event's attributes are stored");

    let left = server.post("/core/jml/events", &event("leaver", Some("2021-01-01".into()))).await?;
    assert_eq!(left.status, StatusCode::OK, "{}", left.describe());
    assert_eq!(status_of(&server, "W1").await?, "archived");
});

api_test!(access_review_finds_and_fixes, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let feed = format!(
        "{SYNTHETIC_HEADER}E1,\"Lovelace, Ada\",ada@example.com,Engineering,Engineer,,Active,2020-01-01,\n\
         E2,\"Builder, Bob\",bob@example.com,Sales,Account Executive,,Active,2020-01-01,\n"
    );
    let (plan_id, _) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;
    apply(&server, &plan_id, json!({})).await?;
    let clean = server.get("/core/access_review").await?;
    assert_eq!(clean.status, StatusCode::OK, "{}", clean.describe());
    assert!(clean.data_items().is_empty(), "a fresh apply is clean: {}", clean.text);
    assert_eq!(clean.body["meta"]["reviewed"], 2);

    // A draft plan with a narrower policy, never applied, changes what is approved for no one.
    let draft_policy = policy.replace("name = \"everyone\"", "name = \"everyone\"\ndepartment = \"Nowhere\"");
    assert_ne!(draft_policy, policy, "the draft policy should differ from the applied one");
    let (_, draft) = plan(&server, feed.as_bytes(), &mapping, &draft_policy, false).await?;
    let dropped = &draft["changes"][0];
    assert!(dropped["user_id"].is_string(), "a change names its user by a numeric string id: {dropped}");
    let after_draft = server.get("/core/access_review").await?;
    assert!(after_draft.data_items().is_empty(), "an unapplied draft must not change the review: {}", after_draft.text);

    // A role added by hand outside the service, an expired grant the scheduler has not revoked, and a policy
    // grant removed by hand.
    let bob = server.get("/core/users/bob@example.com").await?.id()?;
    let ada = server.get("/core/users/ada@example.com").await?.id()?;
    let user_admin = server.role_type_id("user_admin").await?;
    let developer = server.role_type_id("developer").await?;
    server
        .execute_sql(&format!(
            "INSERT INTO role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref, approved_by, \
             reason, expires_at, granted_at) VALUES ({bob}, {user_admin}, '', '', 'policy', 'hand-made', 'policy', NULL, NULL, \
             '2026-01-01T00:00:00.000000Z')"
        ))
        .await?;
    server
        .execute_sql(&format!(
            "INSERT INTO role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref, approved_by, \
             reason, expires_at, granted_at) VALUES ({bob}, {developer}, '', '', 'direct', '', 'admin', 'trial', \
             '2020-02-01T00:00:00.000000Z', '2020-01-01T00:00:00.000000Z')"
        ))
        .await?;
    server
        .execute_sql(&format!(
            "DELETE FROM role_assignments WHERE user_id = {ada} AND role_type_id = {developer} AND source = 'policy'"
        ))
        .await?;

    let review = server.get("/core/access_review").await?;
    let findings = review.data_items();
    assert_eq!(findings.len(), 2, "{}", review.text);
    let bob_finding = findings.iter().find(|f| f["id"] == bob.as_str()).context("no finding for bob")?;
    let reasons: Vec<&str> = bob_finding["attributes"]["excess"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 2, "{bob_finding}");
    assert!(reasons.iter().any(|r| r.contains("hand-made")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("expired")), "{reasons:?}");
    let ada_finding = findings.iter().find(|f| f["id"] == ada.as_str()).context("no finding for ada")?;
    assert_eq!(ada_finding["attributes"]["missing"][0]["role_type_name"], "developer", "{ada_finding}");
    assert_eq!(ada_finding["attributes"]["missing"][0]["rule"], "engineering", "{ada_finding}");

    let fixed = server.post("/core/access_review/fix", &json!({})).await?;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.describe());
    assert_eq!(fixed.body["meta"]["fixed"], 2, "{}", fixed.text);
    let after = server.get("/core/access_review").await?;
    assert!(after.data_items().is_empty(), "the fix converges: {}", after.text);
    assert_eq!(policy_roles(&server, "E1").await?, 3);
    assert_eq!(policy_roles(&server, "E2").await?, 1);
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'access_review.fix'").await?, 2);
});

api_test!(named_time_zone_schedules_local_midnight, |server| {
    let mapping = example("synthetic-mapping.toml")?.replace("time_zone = \"UTC\"", "time_zone = \"Europe/Paris\"");
    let policy = example("synthetic-policy.toml")?;
    // Paris is at +01:00 in January and +02:00 in July; access ends when the termination date is over.
    let feed = format!(
        "{SYNTHETIC_HEADER}E1,\"Winter, Leaver\",,Sales,Rep,,Terminated,2020-01-01,2030-01-15\n\
         E2,\"Summer, Leaver\",,Sales,Rep,,Terminated,2020-01-01,2030-07-15\n\
         E3,\"Summer, Starter\",,Sales,Rep,,Active,2030-07-01,\n"
    );

    let (_, planned) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;

    let scheduled = |key: &str| -> Value {
        let changes = planned["changes"].as_array().map(Vec::as_slice).unwrap_or_default();
        changes.iter().find(|c| c["key"] == key).map(|c| c["scheduled"].clone()).unwrap_or_default()
    };
    assert_eq!(scheduled("E1")["kind"], "archive", "{}", planned["changes"]);
    assert_eq!(scheduled("E1")["at"], "2030-01-16T00:00:00+01:00", "{}", planned["changes"]);
    assert_eq!(scheduled("E2")["at"], "2030-07-16T00:00:00+02:00", "{}", planned["changes"]);
    assert_eq!(scheduled("E3")["kind"], "activate", "{}", planned["changes"]);
    assert_eq!(scheduled("E3")["at"], "2030-07-01T00:00:00+02:00", "{}", planned["changes"]);
});

api_test!(unknown_time_zone_rejected, |server| {
    let mapping = example("synthetic-mapping.toml")?.replace("time_zone = \"UTC\"", "time_zone = \"Mars/Olympus\"");
    let policy = example("synthetic-policy.toml")?;

    let reply = upload(&server, sales_feed(1).as_bytes(), &mapping, &policy, false).await?;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.describe());
    let detail = reply.error()["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("dates.time_zone"), "the error should name the setting: {}", reply.describe());
    assert!(detail.contains("Europe/Paris"), "the error should give an example: {}", reply.describe());
});

api_test!(clash_with_other_users_found_at_plan, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    // Users the feed does not own: one has E1's derived email, one E2's as user name, one the email E3's row gives.
    server.create_user(json!({ "email": "number1.person@example.com" })).await?;
    server.create_user(json!({ "email": "other@example.com", "user_name": "number2.person@example.com" })).await?;
    let holder = server.create_user(json!({ "email": "given@example.com" })).await?;
    let feed = format!(
        "{SYNTHETIC_HEADER}E1,\"Person, Number1\",,Sales,Rep,,Active,2020-01-01,\n\
         E2,\"Person, Number2\",,Sales,Rep,,Active,2020-01-01,\n\
         E3,\"Person, Number3\",GIVEN@example.com,Sales,Rep,,Active,2020-01-01,\n"
    );

    let (plan_id, planned) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;

    let email_of = |key: &str| -> Value {
        let changes = planned["changes"].as_array().map(Vec::as_slice).unwrap_or_default();
        changes.iter().find(|c| c["key"] == key).map(|c| c["attributes"]["email"].clone()).unwrap_or_default()
    };
    assert_eq!(email_of("E1"), "number1.person2@example.com", "{}", planned["changes"]);
    assert_eq!(email_of("E2"), "number2.person2@example.com", "{}", planned["changes"]);
    assert_eq!(email_of("E3"), Value::Null, "a row with an error is left out: {}", planned["changes"]);
    assert_eq!(planned["warnings"].as_array().map(Vec::len), Some(2), "{}", planned["warnings"]);
    assert_eq!(planned["errors"].as_array().map(Vec::len), Some(1), "{}", planned["errors"]);
    assert_eq!(planned["errors"][0]["line"], 4, "{}", planned["errors"]);
    let reason = planned["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(&format!("belongs to user {holder}")), "the error should name the holder: {reason}");

    let refused = start_apply(&server, &plan_id, json!({})).await?;
    assert_error(&refused, StatusCode::CONFLICT, "plan_has_errors");
    let run = apply(&server, &plan_id, json!({ "skip_invalid": true })).await?;
    assert_eq!(run["result"]["applied"], 2, "{run}");
    assert_eq!(run["result"]["failed"], 0, "no clash is left for the apply to find: {run}");
});
