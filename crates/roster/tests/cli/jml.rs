//! `roster jml plan|apply` and `roster access review` against a generated synthetic feed.

use crate::common::TestServer;
use crate::{assert_one_error, run};
use anyhow::Context;
use roster_jml::generate::{GenerateOptions, generate_csv};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The people in the generated feed; every one is active, since churn is zero.
const PEOPLE: usize = 12;

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name).display().to_string()
}

/// Writes a generated feed of [`PEOPLE`] active people into `dir` and returns its path.
fn write_feed(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("feed.csv");
    std::fs::write(&path, generate_csv(GenerateOptions { people: PEOPLE, churn_percent: 0, seed: 7 }))?;
    Ok(path.display().to_string())
}

/// Plans `feed` with the synthetic mapping and policy through the client and returns the JSON document.
async fn plan_json(server: &TestServer, feed: &str) -> anyhow::Result<Value> {
    let mapping = example("synthetic-mapping.toml");
    let policy = example("synthetic-policy.toml");
    run(server, &["jml", "plan", feed, "--mapping", &mapping, "--policy", &policy, "--format", "json"]).await?.json()
}

api_test!(plan_then_apply_feed, |server| {
    let dir = tempfile::tempdir()?;
    let feed = write_feed(dir.path())?;

    let planned = plan_json(&server, &feed).await?;
    let attributes = &planned["data"]["attributes"];
    assert_eq!(attributes["counts"]["create"], PEOPLE, "every generated person is a joiner: {attributes}");
    assert_eq!(attributes["changes"].as_array().map(Vec::len), Some(PEOPLE), "{attributes}");
    let plan_id = planned["data"]["id"].as_str().context("no plan id")?.to_string();

    let table = run(&server, &["jml", "plan", &feed, "--mapping", &example("synthetic-mapping.toml"), "--policy", &example("synthetic-policy.toml"), "--format", "table"]).await?;
    assert!(table.success, "{}", table.describe());
    assert!(table.stdout.starts_with("KIND"), "the counts come first: {}", table.describe());
    let create_row = table.stdout.lines().find(|line| line.starts_with("create ")).map(|line| line.split_whitespace().collect::<Vec<_>>());
    assert_eq!(create_row, Some(vec!["create", "12"]), "{}", table.describe());
    assert!(table.stdout.contains("E000001"), "each person should have a row: {}", table.describe());
    assert!(table.stdout.contains("(rule "), "each role should name its rule: {}", table.describe());
    assert!(table.stderr.contains("apply it with `roster jml apply"), "{}", table.describe());

    let applied = run(&server, &["jml", "apply", &plan_id, "--poll-interval-ms", "20", "--format", "json"]).await?;
    let run_document = applied.json()?;
    assert_eq!(run_document["data"]["attributes"]["status"], "done", "{}", applied.describe());
    assert_eq!(run_document["data"]["attributes"]["result"]["applied"], PEOPLE, "{}", applied.describe());
    assert!(applied.stderr.contains(&format!("done: {PEOPLE} applied, 0 already applied, 0 stale, 0 failed of {PEOPLE}")), "{}", applied.describe());
    assert!(applied.stderr.contains(&format!("{PEOPLE}/{PEOPLE} people applied")), "plain progress lines off a terminal: {}", applied.describe());

    let users = run(&server, &["users", "list", "--department", "Engineering", "--all"]).await?.json()?;
    let expected = generate_csv(GenerateOptions { people: PEOPLE, churn_percent: 0, seed: 7 }).lines().filter(|l| l.contains(",Engineering,")).count();
    assert_eq!(users["data"].as_array().map(Vec::len), Some(expected), "the engineers became users: {users}");

    let again = plan_json(&server, &feed).await?;
    assert_eq!(again["data"]["attributes"]["counts"]["create"], 0, "a second plan of the same feed creates nobody: {again}");
    assert_eq!(again["data"]["attributes"]["counts"]["unchanged"], PEOPLE, "{again}");
});

api_test!(plan_reports_bad_mapping, |server| {
    let dir = tempfile::tempdir()?;
    let feed = write_feed(dir.path())?;
    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, "source = \"synthetic\"\n")?;
    let mapping = mapping.display().to_string();

    let failed = run(&server, &["jml", "plan", &feed, "--mapping", &mapping, "--policy", &example("synthetic-policy.toml")]).await?;
    assert_one_error(&failed, &["422", "mapping"]);

    let missing = run(&server, &["jml", "plan", "no-such-feed.csv", "--mapping", &mapping, "--policy", &mapping]).await?;
    assert_one_error(&missing, &["cannot read the FEED file no-such-feed.csv"]);
});

api_test!(apply_reports_unknown_plan, |server| {
    let failed = run(&server, &["jml", "apply", "999999", "--poll-interval-ms", "20"]).await?;

    assert_one_error(&failed, &["404", "plan 999999 not found"]);
});

api_test!(access_review_then_fix, |server| {
    let dir = tempfile::tempdir()?;
    let feed = write_feed(dir.path())?;
    let plan_id = plan_json(&server, &feed).await?["data"]["id"].as_str().context("no plan id")?.to_string();
    let applied = run(&server, &["jml", "apply", &plan_id, "--poll-interval-ms", "20"]).await?;
    assert!(applied.success, "{}", applied.describe());

    let clean = run(&server, &["access", "review"]).await?.json()?;
    assert_eq!(clean["data"].as_array().map(Vec::len), Some(0), "a fresh apply is clean: {clean}");
    assert_eq!(clean["meta"]["reviewed"], PEOPLE, "{clean}");

    // A role written outside the service, which no approval covers.
    let user = server.get("/core/users?unique_id=E000002").await?.data_items().first().context("no user E000002")?["id"].as_str().context("no id")?.to_string();
    let user_admin = server.role_type_id("user_admin").await?;
    server
        .execute_sql(&format!(
            "INSERT INTO role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref, approved_by, \
             reason, expires_at, granted_at) VALUES ({user}, {user_admin}, '', '', 'policy', 'hand-made', 'policy', NULL, NULL, \
             '2026-01-01T00:00:00.000000Z')"
        ))
        .await?;

    let review = run(&server, &["access", "review", "--format", "csv"]).await?;
    assert!(review.success, "{}", review.describe());
    let lines: Vec<&str> = review.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("user,unique_id,email,finding,role,reason"), "{}", review.describe());
    assert_eq!(lines.len(), 2, "a header and one finding: {}", review.describe());
    assert!(lines[1].starts_with(&format!("{user},E000002,")), "{}", review.describe());
    assert!(lines[1].contains(",excess,user_admin,"), "{}", review.describe());

    let fixed = run(&server, &["access", "review", "--fix"]).await?;
    let fixed_document = fixed.json()?;
    assert_eq!(fixed_document["meta"]["fixed"], 1, "{}", fixed.describe());
    assert!(fixed.stderr.contains(&format!("fixed 1 of {PEOPLE} reviewed users")), "{}", fixed.describe());

    let after = run(&server, &["access", "review"]).await?.json()?;
    assert_eq!(after["data"].as_array().map(Vec::len), Some(0), "the fix converges: {after}");
});

api_test!(access_review_needs_scope, |server| {
    let token = server.create_cli_token("reader", &["users:read"]).await?;

    let failed = crate::common::Run::new(&server.client_with(Some(&token), &["access", "review", "--fix"]).await?);

    assert_one_error(&failed, &["403"]);
});

api_test!(stored_configs_then_plan_by_name, |server| {
    let mapping = example("synthetic-mapping.toml");
    let policy = example("synthetic-policy.toml");

    let stored = run(&server, &["jml", "mappings", "put", "synthetic", &mapping]).await?;
    assert_eq!(stored.json()?["data"]["attributes"]["version"], 1, "{}", stored.describe());
    assert!(stored.stderr.contains("stored mapping synthetic version 1"), "{}", stored.describe());
    let stored = run(&server, &["jml", "policies", "put", "birthright", &policy]).await?;
    assert!(stored.success, "{}", stored.describe());

    let listed = run(&server, &["jml", "mappings", "list", "--format", "csv"]).await?;
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("name,version,sha256,updated_at,updated_by"), "{}", listed.describe());
    assert_eq!(lines.len(), 2, "{}", listed.describe());
    assert!(lines[1].starts_with("synthetic,1,"), "{}", listed.describe());

    let printed = run(&server, &["jml", "mappings", "get", "synthetic", "--format", "table"]).await?;
    assert_eq!(printed.stdout, std::fs::read_to_string(&mapping)?, "the table format prints the file itself");

    let dir = tempfile::tempdir()?;
    let feed = write_feed(dir.path())?;
    let planned = run(&server, &["jml", "plan", &feed, "--mapping-name", "synthetic", "--policy-name", "birthright", "--format", "json"]).await?;
    let document = planned.json()?;
    let attributes = &document["data"]["attributes"];
    assert_eq!(attributes["changes"].as_array().map(Vec::len), Some(PEOPLE), "{}", planned.describe());
    assert_eq!(attributes["mapping"]["name"], "synthetic", "{attributes}");
    assert_eq!(attributes["policy"]["name"], "birthright", "{attributes}");

    let unknown = run(&server, &["jml", "plan", &feed, "--mapping-name", "nope", "--policy", &policy]).await?;
    assert_one_error(&unknown, &["422", "\"nope\"", "mapping_name"]);
    let both = run(&server, &["jml", "plan", &feed, "--mapping", &mapping, "--mapping-name", "synthetic", "--policy", &policy]).await?;
    assert!(!both.success, "a file and a name for the mapping should fail: {}", both.describe());
    assert!(both.stderr.contains("cannot be used with"), "{}", both.describe());

    let deleted = run(&server, &["jml", "mappings", "delete", "synthetic"]).await?;
    assert!(deleted.success, "{}", deleted.describe());
    assert!(deleted.stderr.contains("deleted mapping synthetic"), "{}", deleted.describe());
    let gone = run(&server, &["jml", "mappings", "get", "synthetic"]).await?;
    assert_one_error(&gone, &["404", "mapping synthetic not found"]);
});

api_test!(stored_config_put_reports_parse_error, |server| {
    let dir = tempfile::tempdir()?;
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "source = \"hr\"\nkey = [\n")?;

    let failed = run(&server, &["jml", "mappings", "put", "hr", &broken.display().to_string()]).await?;

    assert_one_error(&failed, &["422", "line 2"]);
    let listed = run(&server, &["jml", "mappings", "list"]).await?.json()?;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(0), "nothing was stored: {listed}");
});

api_test!(plan_prints_every_page, |server| {
    // More people than one page of 1000 changes holds.
    let people = 1005;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("feed.csv");
    std::fs::write(&path, generate_csv(GenerateOptions { people, churn_percent: 0, seed: 11 }))?;
    let feed = path.display().to_string();

    let planned = run(&server, &["jml", "plan", &feed, "--mapping", &example("synthetic-mapping.toml"), "--policy", &example("synthetic-policy.toml"), "--format", "csv"]).await?;

    assert!(planned.success, "{}", planned.describe());
    let keys: std::collections::BTreeSet<&str> = planned.stdout.lines().skip(1).filter_map(|line| line.split(',').next()).collect();
    assert_eq!(keys.len(), people, "every person has rows, across pages");
});

api_test!(plan_with_errors_names_skip_flag, |server| {
    let dir = tempfile::tempdir()?;
    let generated = generate_csv(GenerateOptions { people: 3, churn_percent: 0, seed: 7 });
    // The second person's key is removed, which makes their row an error.
    let mut lines: Vec<String> = generated.lines().map(str::to_string).collect();
    let broken = lines.get(2).cloned().context("the generated feed has three people")?;
    let (_, rest) = broken.split_once(',').context("a row has columns")?;
    lines[2] = format!(",{rest}");
    let path = dir.path().join("feed.csv");
    std::fs::write(&path, lines.join("\n") + "\n")?;

    let feed = path.display().to_string();
    let table = run(&server, &["jml", "plan", &feed, "--mapping", &example("synthetic-mapping.toml"), "--policy", &example("synthetic-policy.toml"), "--format", "table"]).await?;
    assert!(table.success, "{}", table.describe());
    assert!(table.stderr.contains("fix the 1 invalid row(s)"), "{}", table.describe());
    assert!(table.stderr.contains("--skip-invalid`"), "the summary names the flag that applies the rest: {}", table.describe());
});
