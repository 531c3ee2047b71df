//! `roster roles get|sync`, including a saved `roles get` output restoring access exactly.

use crate::common::TestServer;
use crate::{assert_one_error, run};
use anyhow::Context;
use serde_json::{Value, json};

/// Reduces a roles document to what a restore must reproduce, sorted: role type, resource, approver, reason,
/// expiry and grant time.
fn access(document: &Value) -> Vec<Value> {
    let mut grants: Vec<Value> = document["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|role| {
            let a = &role["attributes"];
            json!([a["role_type_id"], a["resource_type"], a["resource_id"], a["approved_by"], a["reason"], a["expires_at"], a["granted_at"]])
        })
        .collect();
    grants.sort_by_key(|g| g.to_string());
    grants
}

fn write_file(server: &TestServer, name: &str, text: &str) -> anyhow::Result<String> {
    let path = server.data_dir().join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {} failed", path.display()))?;
    Ok(path.display().to_string())
}

api_test!(get_sync_round_trip_restores_access, |server| {
    let developer = server.role_type_id("developer").await?;
    let manager = server.role_type_id("workspace_manager").await?;
    let member = server.role_type_id("workspace_member").await?;
    let body = json!({ "data": { "type": "users", "attributes": { "email": "ada@example.com", "roles_attributes": [
        { "role_type_id": developer, "reason": "team member" },
        { "role_type_id": manager, "resource_type": "workspace", "resource_id": "analytics", "expires_at": "2099-01-01T00:00:00Z", "approved_by": "cto" },
    ] } } });
    let created = server.post("/core/users", &body).await?;
    anyhow::ensure!(created.status == reqwest::StatusCode::CREATED, "creating Ada failed: {}", created.describe());

    // Redirected output defaults to JSON, which is what sync reads back.
    let saved = run(&server, &["roles", "get", "ada@example.com"]).await?;
    let original = saved.json()?;
    let saved_path = write_file(&server, "ada-roles.json", &saved.stdout)?;
    assert_eq!(access(&original).len(), 2, "Ada should hold two roles: {}", saved.describe());

    let moved = json!({ "data": [{ "role_type_id": member, "resource_type": "workspace", "resource_id": "research" }] });
    let moved_path = write_file(&server, "moved.json", &moved.to_string())?;
    let preview = run(&server, &["roles", "sync", "ada@example.com", "--file", &moved_path, "--dry-run", "--format", "table"]).await?;
    assert!(preview.success, "{}", preview.describe());
    let changes: Vec<&str> = preview.stdout.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(changes, vec!["add", "remove", "remove"], "the preview should add one role and remove two: {}", preview.describe());
    assert!(preview.stderr.contains("dry run, nothing changed"), "{}", preview.describe());
    let unchanged = run(&server, &["roles", "get", "ada@example.com"]).await?.json()?;
    assert_eq!(access(&unchanged), access(&original), "a dry run should change nothing");

    let applied = run(&server, &["roles", "sync", "ada@example.com", "--file", &moved_path]).await?.json()?;
    assert_eq!(applied["meta"]["added"].as_array().map(Vec::len), Some(1), "{applied}");
    assert_eq!(applied["meta"]["removed"].as_array().map(Vec::len), Some(2), "{applied}");

    let restored = run(&server, &["roles", "sync", "ada@example.com", "--file", &saved_path]).await?;
    assert!(restored.success, "{}", restored.describe());
    let after = run(&server, &["roles", "get", "ada@example.com"]).await?.json()?;
    let strip_granted = |grants: Vec<Value>| -> Vec<Value> {
        grants.into_iter().map(|g| Value::Array(g.as_array().map(|a| a[..6].to_vec()).unwrap_or_default())).collect()
    };
    // A role granted again gets a new granted_at, as the API documents; everything else must match.
    assert_eq!(strip_granted(access(&after)), strip_granted(access(&original)), "syncing the saved output should restore access exactly");

    let again = run(&server, &["roles", "sync", "ada@example.com", "--file", &saved_path]).await?.json()?;
    assert_eq!(access(&again), access(&after), "syncing the same file twice should change nothing the second time");
    assert_eq!(again["meta"]["unchanged"].as_array().map(Vec::len), Some(2), "{again}");
});

api_test!(get_reports_unknown_user, |server| {
    let failed = run(&server, &["roles", "get", "nobody@example.com"]).await?;

    assert_one_error(&failed, &["404", "nobody@example.com"]);
});

api_test!(get_prints_table, |server| {
    let developer = server.role_type_id("developer").await?;
    server.create_user(json!({ "email": "ada@example.com", "roles_attributes": [{ "role_type_id": developer }] })).await?;

    let table = run(&server, &["roles", "get", "ada@example.com", "--format", "table"]).await?;

    assert!(table.stdout.starts_with("ROLE TYPE"), "{}", table.describe());
    assert!(table.stdout.contains("developer (2)"), "{}", table.describe());
});

api_test!(sync_reports_invalid_file_and_role, |server| {
    server.create_user(json!({ "email": "ada@example.com" })).await?;
    let not_json = write_file(&server, "broken.json", "{ not json")?;
    let unknown_role = write_file(&server, "unknown.json", &json!({ "data": [{ "role_type_id": "9999" }] }).to_string())?;

    let broken = run(&server, &["roles", "sync", "ada@example.com", "--file", &not_json]).await?;
    assert_one_error(&broken, &["broken.json", "is not valid JSON"]);

    let rejected = run(&server, &["roles", "sync", "ada@example.com", "--file", &unknown_role]).await?;
    assert_one_error(&rejected, &["422", "(at /data/0/role_type_id)"]);
    let roles = server.get("/core/users/ada%40example.com/roles").await?;
    assert!(roles.data_items().is_empty(), "a rejected sync should grant nothing: {}", roles.describe());
});
