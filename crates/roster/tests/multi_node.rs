//! Several `roster serve` processes on one PostgreSQL database behave as one system, and an SQLite deployment
//! moves to PostgreSQL with nothing lost.
//!
//! These tests need PostgreSQL: they run when `ROSTER_TEST_DATABASE_URL` is set, print that they were skipped
//! otherwise, and fail under `CI=true` when it is missing.

#![allow(clippy::expect_used, clippy::panic)]

use futures::future::join_all;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_roster");

/// Returns the test database URL, or `None` (after saying so) when the PostgreSQL leg is skipped.
fn database_url() -> Option<String> {
    match std::env::var("ROSTER_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but ROSTER_TEST_DATABASE_URL is not set; point it at a PostgreSQL database")
        }
        _ => {
            println!("skipped postgres: ROSTER_TEST_DATABASE_URL is not set");
            None
        }
    }
}

/// A schema of its own for one test, dropped at the end.
struct Schema {
    base_url: String,
    name: String,
}

impl Schema {
    async fn create(base_url: &str) -> Schema {
        let name = format!("roster_nodes_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(base_url).await.expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&mut conn).await.expect("create schema");
        Schema { base_url: base_url.to_string(), name }
    }

    /// The URL that makes the server use this schema.
    fn url(&self) -> String {
        let separator = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.base_url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.base_url)
            .arg("-qc")
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A running `roster serve` process, killed when dropped.
struct Node {
    child: Child,
    base: String,
    _data_dir: tempfile::TempDir,
    data_path: PathBuf,
}

impl Node {
    fn start(database: Option<&str>, data_dir: Option<&Path>, env: &[(&str, &str)]) -> Node {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_path = data_dir.map_or_else(|| temp.path().to_path_buf(), Path::to_path_buf);
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--scheduler-interval-ms", "20", "--data-dir"])
            .arg(&data_path)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        let mut child = command.spawn().expect("start roster serve");

        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("server exited before listening").expect("read stdout");
            if let Some(rest) = line.strip_prefix("Roster is listening on ") {
                break rest.split_whitespace().next().expect("address").to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));

        Node { child, base, _data_dir: temp, data_path }
    }

    fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_path.join("admin-token")).expect("admin token file").trim().to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that sends the admin token.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    token: String,
}

impl Api {
    fn new(token: String) -> Api {
        Api { client: reqwest::Client::new(), token }
    }

    async fn send(&self, method: reqwest::Method, url: String, body: Option<Value>, if_match: Option<&str>) -> (u16, Value, Option<String>) {
        let mut request = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", "application/vnd.api+json").body(body.to_string());
        }
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let etag = response.headers().get("etag").map(|v| v.to_str().unwrap_or("").to_string());
        let text = response.text().await.expect("body");
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") };
        (status, value, etag)
    }

    async fn get(&self, url: String) -> Value {
        let (status, body, _) = self.send(reqwest::Method::GET, url.clone(), None, None).await;
        assert_eq!(status, 200, "GET {url} returned {body}");
        body
    }
}

fn user_body(email: &str, extra: Value) -> Value {
    let mut attributes = json!({ "first_name": "Test", "last_name": "User", "email": email });
    if let (Some(map), Some(more)) = (attributes.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    json!({ "data": { "type": "users", "attributes": attributes } })
}

/// Reads every audit entry, oldest first.
async fn audit_entries(api: &Api, base: &str, query: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut next = Some(format!("{base}/core/action_logs?sort=id&page[size]=100{query}"));
    while let Some(url) = next {
        let page = api.get(url).await;
        entries.extend(page["data"].as_array().cloned().unwrap_or_default());
        next = page["links"]["next"].as_str().map(|path| format!("{base}{path}"));
    }
    entries
}

fn verify_chain(database: &str) -> std::process::Output {
    Command::new(BIN).args(["audit", "verify", "--database", database]).output().expect("run roster audit verify")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_keep_invariants() {
    let Some(base_url) = database_url() else { return };
    let schema = Schema::create(&base_url).await;
    let first = Node::start(Some(&schema.url()), None, &[]);
    let second = Node::start(Some(&schema.url()), None, &[]);
    let api = Api::new(first.admin_token());
    let nodes = [first.base.clone(), second.base.clone()];

    // Clashing creates: each email is sent four times, in two letter cases, to both nodes at once.
    let creates = (0..10).flat_map(|i| {
        let nodes = nodes.clone();
        (0..4).map(move |k| {
            let email = if k % 2 == 0 { format!("clash{i}@example.com") } else { format!("CLASH{i}@Example.com") };
            (i, nodes[k % 2].clone(), email)
        })
    });
    let results = join_all(creates.map(|(i, node, email)| {
        let api = api.clone();
        async move { (i, api.send(reqwest::Method::POST, format!("{node}/core/users"), Some(user_body(&email, json!({}))), None).await) }
    }))
    .await;
    for i in 0..10 {
        let won = results.iter().filter(|(n, (status, _, _))| *n == i && *status == 201).count();
        let taken = results
            .iter()
            .filter(|(n, (status, body, _))| *n == i && *status == 422 && body["errors"][0]["code"] == "taken")
            .count();
        assert_eq!(won, 1, "email clash{i}: exactly one create must win");
        assert_eq!(taken, 3, "email clash{i}: the other creates must get 422 taken");
    }

    // Concurrent updates with ETags through both nodes: every success moves the version by exactly one.
    let (status, created, _) =
        api.send(reqwest::Method::POST, format!("{}/core/users", nodes[0]), Some(user_body("target@example.com", json!({}))), None).await;
    assert_eq!(status, 201, "create target: {created}");
    let id = created["data"]["id"].as_str().expect("id").to_string();
    let updates = join_all((0..20).map(|i| {
        let api = api.clone();
        let node = nodes[i % 2].clone();
        let id = id.clone();
        async move {
            let (_, _, etag) = api.send(reqwest::Method::GET, format!("{node}/core/users/{id}"), None, None).await;
            let body = json!({ "data": { "type": "users", "attributes": { "job_title": format!("title {i}") } } });
            api.send(reqwest::Method::PATCH, format!("{node}/core/users/{id}"), Some(body), etag.as_deref()).await.0
        }
    }))
    .await;
    let succeeded = updates.iter().filter(|s| **s == 200).count();
    let stale = updates.iter().filter(|s| **s == 412).count();
    assert!(succeeded >= 1, "at least one update must succeed");
    assert_eq!(succeeded + stale, 20, "every update must succeed or get 412: {updates:?}");
    let user = api.get(format!("{}/core/users/{id}", nodes[1])).await;
    assert_eq!(user["data"]["meta"]["version"], json!(1 + succeeded), "the version must count every successful update");
    let update_entries = audit_entries(&api, &nodes[0], &format!("&user_id={id}&action=user.update")).await;
    assert_eq!(update_entries.len(), succeeded, "each successful update must have one audit entry");

    // Concurrent role syncs without If-Match: each applies on top of the one before, none is lost.
    let sets = [json!([{ "role_type_id": "2" }]), json!([{ "role_type_id": "3" }]), json!([{ "role_type_id": "2" }, { "role_type_id": "3" }])];
    let syncs = join_all((0..12).map(|i| {
        let api = api.clone();
        let node = nodes[i % 2].clone();
        let id = id.clone();
        let body = json!({ "data": sets[i % 3] });
        async move { api.send(reqwest::Method::PUT, format!("{node}/core/users/{id}/roles"), Some(body), None).await.0 }
    }))
    .await;
    assert!(syncs.iter().all(|s| *s == 200), "every sync must apply: {syncs:?}");
    let sync_entries = audit_entries(&api, &nodes[0], &format!("&user_id={id}&action=user.roles_sync")).await;
    for pair in sync_entries.windows(2) {
        assert_eq!(
            pair[1]["attributes"]["changes"]["roles"]["before"], pair[0]["attributes"]["changes"]["roles"]["after"],
            "a role sync must start from the previous sync's result"
        );
    }
    let final_roles = api.get(format!("{}/core/users/{id}/roles", nodes[0])).await;
    let last_after = sync_entries.last().map(|e| e["attributes"]["changes"]["roles"]["after"].clone()).unwrap_or(json!([]));
    assert_eq!(
        final_roles["data"].as_array().map(Vec::len),
        last_after.as_array().map(Vec::len),
        "the stored roles must be the last sync's result"
    );

    // A due scheduled action: a grant that expires within the minute, seen by two nodes whose clocks are an
    // hour ahead, is revoked exactly once.
    let expires_at = time_after(Duration::from_secs(60));
    let body = user_body("expiring@example.com", json!({ "roles_attributes": [{ "role_type_id": "1", "expires_at": expires_at }] }));
    let (status, expiring, _) = api.send(reqwest::Method::POST, format!("{}/core/users", nodes[0]), Some(body), None).await;
    assert_eq!(status, 201, "create expiring: {expiring}");
    let expiring_id = expiring["data"]["id"].as_str().expect("id").to_string();
    let ahead = [("ROSTER_TEST_CLOCK_OFFSET_SECS", "3600")];
    let third = Node::start(Some(&schema.url()), None, &ahead);
    let fourth = Node::start(Some(&schema.url()), None, &ahead);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let roles = api.get(format!("{}/core/users/{expiring_id}/roles", third.base)).await;
        if roles["data"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "the expired grant was not revoked within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let expiries = audit_entries(&api, &fourth.base, &format!("&user_id={expiring_id}&action=role.expire")).await;
    assert_eq!(expiries.len(), 1, "the expiry must be applied exactly once across nodes");

    // The audit trail is one unbroken chain after all of the above.
    let verified = verify_chain(&schema.url());
    assert!(verified.status.success(), "audit verify failed: {}", String::from_utf8_lossy(&verified.stderr));
}

/// Formats a time `after` from now as RFC 3339.
fn time_after(after: Duration) -> String {
    let at = time::OffsetDateTime::now_utc() + after;
    at.format(&time::format_description::well_known::Rfc3339).expect("format time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sqlite_import_postgres() {
    let Some(base_url) = database_url() else { return };
    let schema = Schema::create(&base_url).await;
    let data = tempfile::tempdir().expect("temp dir");

    // Build some history on SQLite: users with roles, a mover, a leaver, a token and an expiring grant.
    let sqlite = Node::start(None, Some(data.path()), &[]);
    let api = Api::new(sqlite.admin_token());
    for i in 0..25 {
        let roles = json!([{ "role_type_id": "2" }, { "role_type_id": "6", "resource_type": "workspace", "resource_id": format!("w{i}") }]);
        let (status, body, _) = api
            .send(reqwest::Method::POST, format!("{}/core/users", sqlite.base), Some(user_body(&format!("moved{i}@example.com"), json!({ "roles_attributes": roles, "unique_id": format!("E{i}") }))), None)
            .await;
        assert_eq!(status, 201, "create: {body}");
    }
    let mover = json!({ "data": { "type": "users", "attributes": { "department": "Research" } } });
    api.send(reqwest::Method::PATCH, format!("{}/core/users/moved1@example.com", sqlite.base), Some(mover), None).await;
    api.send(reqwest::Method::PATCH, format!("{}/core/users/moved2@example.com/archive", sqlite.base), None, None).await;
    let token = json!({ "data": { "type": "user_app_tokens", "attributes": { "name": "ci", "scopes": ["users:read"] } } });
    api.send(reqwest::Method::POST, format!("{}/core/users/moved3@example.com/user_app_tokens", sqlite.base), Some(token), None).await;
    let expiring = json!({ "data": [{ "role_type_id": "1", "expires_at": time_after(Duration::from_secs(86_400)) }] });
    api.send(reqwest::Method::PUT, format!("{}/core/users/moved4@example.com/roles", sqlite.base), Some(expiring), None).await;
    let before = snapshot_api(&api, &sqlite.base).await;
    drop(sqlite);

    let export = data.path().join("export.jsonl");
    let exported = Command::new(BIN).args(["export", "--output"]).arg(&export).arg("--data-dir").arg(data.path()).output().expect("export");
    assert!(exported.status.success(), "export failed: {}", String::from_utf8_lossy(&exported.stderr));
    let imported = Command::new(BIN).args(["import", "--input"]).arg(&export).args(["--database", &schema.url()]).output().expect("import");
    assert!(imported.status.success(), "import failed: {}", String::from_utf8_lossy(&imported.stderr));

    let postgres = Node::start(Some(&schema.url()), None, &[]);
    let after = snapshot_api(&api, &postgres.base).await;
    assert_eq!(after.0, before.0, "every user must come across unchanged");
    assert_eq!(after.1, before.1, "every role assignment must come across unchanged");
    assert_eq!(after.2, before.2, "every audit entry must come across unchanged");

    let verified = verify_chain(&schema.url());
    assert!(verified.status.success(), "audit verify after import failed: {}", String::from_utf8_lossy(&verified.stderr));
    let (status, _, _) = api
        .send(reqwest::Method::POST, format!("{}/core/users", postgres.base), Some(user_body("after-import@example.com", json!({}))), None)
        .await;
    assert_eq!(status, 201, "a new user after the import must not collide with imported ids");
}

/// Builds a complete synthetic feed of the active people E1..En.
fn jml_feed(n: usize) -> String {
    let mut feed = "employee_id,name,email,department,job_title,manager_id,status,start_date,end_date\n".to_string();
    for i in 1..=n {
        feed.push_str(&format!("E{i},\"Person, Number{i}\",,Sales,Account Executive,,Active,2020-01-01,\n"));
    }
    feed
}

fn example_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {} failed: {e}", path.display()))
}

/// Uploads a complete feed with the synthetic mapping and policy; returns the plan document's `data`.
async fn plan_feed(api: &Api, base: &str, feed: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("mapping", example_file("synthetic-mapping.toml"))
        .text("policy", example_file("synthetic-policy.toml"))
        .text("full_feed", "true")
        .part("feed", reqwest::multipart::Part::bytes(feed.as_bytes().to_vec()).file_name("feed.csv"));
    let response = api.client.post(format!("{base}/core/jml/plans")).bearer_auth(&api.token).multipart(form).send().await.expect("plan");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("plan JSON");
    assert_eq!(status, 201, "planning failed: {body}");
    body["data"].clone()
}

/// Applies a plan, waits until its run has finished and returns the run's attributes.
async fn apply_plan(api: &Api, base: &str, plan_id: &str) -> Value {
    let meta = json!({ "meta": { "allow_mass_leavers": true } });
    let (status, body, _) = api.send(reqwest::Method::POST, format!("{base}/core/jml/plans/{plan_id}/apply"), Some(meta), None).await;
    assert_eq!(status, 202, "apply failed: {body}");
    let run_id = body["data"]["id"].as_str().expect("run id").to_string();
    let started = Instant::now();
    loop {
        let run = api.get(format!("{base}/core/jml/runs/{run_id}")).await;
        if run["data"]["attributes"]["status"] != "running" {
            return run["data"]["attributes"].clone();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "run {run_id} did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lists the keys of the people a plan archives, from the plan's first page of archive changes.
async fn archived_keys(api: &Api, base: &str, plan: &Value) -> Vec<String> {
    let id = plan["id"].as_str().expect("plan id");
    let page = api.get(format!("{base}/core/jml/plans/{id}/changes?kind=archive&page[size]=1000")).await;
    let changes = page["data"].as_array().cloned().unwrap_or_default();
    changes.iter().filter_map(|c| c["attributes"]["key"].as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_keeps_jml_plans_and_feed_users() {
    let Some(base_url) = database_url() else { return };
    let schema = Schema::create(&base_url).await;
    let data = tempfile::tempdir().expect("temp dir");

    // On SQLite the feed creates E1..E5; X1 comes through the API with a key the feed never lists.
    let sqlite = Node::start(None, Some(data.path()), &[]);
    let api = Api::new(sqlite.admin_token());
    let first = plan_feed(&api, &sqlite.base, &jml_feed(5)).await;
    let first_id = first["id"].as_str().expect("plan id").to_string();
    let run = apply_plan(&api, &sqlite.base, &first_id).await;
    assert_eq!(run["result"]["applied"], 5, "{run}");
    let (status, body, _) = api
        .send(reqwest::Method::POST, format!("{}/core/users", sqlite.base), Some(user_body("x1@example.com", json!({ "unique_id": "X1" }))), None)
        .await;
    assert_eq!(status, 201, "create: {body}");
    drop(sqlite);

    let export = data.path().join("export.jsonl");
    let exported = Command::new(BIN).args(["export", "--output"]).arg(&export).arg("--data-dir").arg(data.path()).output().expect("export");
    assert!(exported.status.success(), "export failed: {}", String::from_utf8_lossy(&exported.stderr));
    let imported = Command::new(BIN).args(["import", "--input"]).arg(&export).args(["--database", &schema.url()]).output().expect("import");
    assert!(imported.status.success(), "import failed: {}", String::from_utf8_lossy(&imported.stderr));

    // The plan and its run came across with their ids, and the run items keep a rerun from applying anyone twice.
    // The imported admin token still works, and the new database gets no token of its own.
    let postgres = Node::start(Some(&schema.url()), None, &[]);
    let stored = api.get(format!("{}/core/jml/plans/{first_id}", postgres.base)).await;
    assert_eq!(stored["data"]["attributes"]["runs"].as_array().map(Vec::len), Some(1), "{stored}");
    let rerun = apply_plan(&api, &postgres.base, &first_id).await;
    assert_eq!(rerun["result"]["already_applied"], 5, "{rerun}");
    assert_eq!(rerun["result"]["applied"], 0, "{rerun}");

    // Feed ownership survived: a complete feed without E5 archives E5, never X1.
    let second = plan_feed(&api, &postgres.base, &jml_feed(4)).await;
    let second_id: i64 = second["id"].as_str().and_then(|id| id.parse().ok()).expect("numeric plan id");
    assert!(second_id > first_id.parse::<i64>().unwrap_or(i64::MAX), "a new plan must not reuse an imported id");
    assert_eq!(archived_keys(&api, &postgres.base, &second).await, vec!["E5".to_string()], "{second}");
    let left = apply_plan(&api, &postgres.base, &second_id.to_string()).await;
    assert_eq!(left["result"]["applied"], 1, "{left}");
    let x1 = api.get(format!("{}/core/users/x1@example.com", postgres.base)).await;
    assert_eq!(x1["data"]["attributes"]["status"], "active", "a user the feed does not own stays: {x1}");
    let e5 = api.get(format!("{}/core/users?unique_id=E5&archived=true", postgres.base)).await;
    assert_eq!(e5["data"][0]["attributes"]["status"], "archived", "{e5}");
}

/// Reads every user (active and archived), their roles and the audit trail through the API.
async fn snapshot_api(api: &Api, base: &str) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut users = Vec::new();
    for archived in ["false", "true"] {
        let mut next = Some(format!("{base}/core/users?page[size]=100&archived={archived}"));
        while let Some(url) = next {
            let page = api.get(url).await;
            users.extend(page["data"].as_array().cloned().unwrap_or_default());
            next = page["links"]["next"].as_str().map(|path| format!("{base}{path}"));
        }
    }
    let mut roles = Vec::new();
    for user in &users {
        let id = user["id"].as_str().unwrap_or_default();
        if user["attributes"]["status"] != "archived" {
            roles.push(api.get(format!("{base}/core/users/{id}/roles")).await);
        }
    }
    let audit = audit_entries(api, base, "").await;
    (users, roles, audit)
}
