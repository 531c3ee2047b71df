//! `roster users list|get|create|update|archive|unarchive`.

use crate::common::{Run, TestServer};
use crate::{assert_one_error, run};
use anyhow::Context;
use serde_json::Value;

async fn create(server: &TestServer, email: &str, last_name: &str) -> anyhow::Result<String> {
    let created = run(server, &["users", "create", "--email", email, "--first-name", "Test", "--last-name", last_name]).await?;
    let document = created.json()?;
    document["data"]["id"].as_str().map(str::to_string).context("the created user has no id")
}

api_test!(create_then_get_with_roles, |server| {
    let created = run(&server, &[
        "users", "create", "--first-name", "Ada", "--last-name", "Lovelace", "--email", "ada@example.com",
        "--unique-id", "E1001", "--department", "Engineering", "--role", "developer",
        "--role", "workspace_member:workspace:analytics",
    ])
    .await?;

    let document = created.json()?;
    assert_eq!(document["data"]["attributes"]["unique_id"], "E1001", "{}", created.describe());
    let id = document["data"]["id"].as_str().context("no id")?.to_string();

    let fetched = run(&server, &["users", "get", "ada@example.com"]).await?.json()?;
    assert_eq!(fetched["data"]["id"], Value::String(id.clone()), "get by email should find the created user");
    let roles: Vec<String> = fetched["included"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{}:{}", r["attributes"]["role_type_name"].as_str().unwrap_or(""), r["attributes"]["resource_id"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(roles, vec!["developer:".to_string(), "workspace_member:analytics".to_string()], "both roles should be granted");

    let table = run(&server, &["users", "get", &id, "--format", "table"]).await?;
    assert!(table.success, "{}", table.describe());
    assert!(table.stdout.lines().any(|l| l.starts_with("department") && l.ends_with("Engineering")), "{}", table.describe());
    assert!(table.stdout.contains("workspace_member (6) workspace:analytics"), "the table should list the scoped role: {}", table.describe());
});

api_test!(create_reports_invalid_email, |server| {
    let failed = run(&server, &["users", "create", "--first-name", "Bad", "--email", "not-an-email"]).await?;

    assert_one_error(&failed, &["422", "email", "(at /data/attributes/email)"]);
    assert!(failed.stdout.is_empty(), "a failed create should print nothing on stdout: {}", failed.describe());
});

api_test!(create_reports_unknown_role_name, |server| {
    let failed = run(&server, &["users", "create", "--email", "x@example.com", "--role", "astronaut"]).await?;

    assert_one_error(&failed, &["astronaut", "no role type is named"]);
});

api_test!(list_filters_pages_and_formats, |server| {
    for (email, last) in [("ada@example.com", "Lovelace"), ("grace@example.com", "Hopper"), ("linus@example.com", "Torvalds")] {
        create(&server, email, last).await?;
    }

    let all = run(&server, &["users", "list", "--all", "--page-size", "1"]).await?.json()?;
    let emails: Vec<&str> = all["data"].as_array().into_iter().flatten().filter_map(|u| u["attributes"]["email"].as_str()).collect();
    assert_eq!(emails, vec!["ada@example.com", "grace@example.com", "linus@example.com"], "--all should follow every page");

    let limited = run(&server, &["users", "list", "--limit", "2", "--page-size", "1"]).await?.json()?;
    assert_eq!(limited["data"].as_array().map(Vec::len), Some(2), "--limit 2 should stop after two users");

    let found = run(&server, &["users", "list", "--query", "hopp", "--format", "csv"]).await?;
    assert!(found.success, "{}", found.describe());
    let lines: Vec<&str> = found.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("id,email,first_name,last_name,department,job_title,status"), "{}", found.describe());
    assert_eq!(lines.len(), 2, "the query should match Grace only: {}", found.describe());
    assert!(lines[1].contains("grace@example.com,Test,Hopper"), "{}", found.describe());

    let table = run(&server, &["users", "list", "--format", "table"]).await?;
    assert!(table.stdout.starts_with("ID  EMAIL"), "the table should start with its header: {}", table.describe());
    assert_eq!(table.stdout.lines().count(), 4, "a header and three users: {}", table.describe());
});

api_test!(list_reports_bad_parameter, |server| {
    let failed = run(&server, &["users", "list", "--role-type-id", "abc"]).await?;

    assert_one_error(&failed, &["400", "(parameter role_type_id)"]);
});

api_test!(update_sets_and_clears_attributes, |server| {
    let id = create(&server, "ada@example.com", "Lovelace").await?;
    run(&server, &["users", "update", &id, "--job-title", "Engineer"]).await?.json()?;

    let updated = run(&server, &["users", "update", "ada@example.com", "--department", "Research", "--job-title", ""]).await?.json()?;

    assert_eq!(updated["data"]["attributes"]["department"], "Research");
    assert_eq!(updated["data"]["attributes"]["job_title"], Value::Null, "an empty value should clear the attribute");
    let nothing = run(&server, &["users", "update", &id]).await?;
    assert_one_error(&nothing, &["nothing to update"]);
    let unknown = run(&server, &["users", "update", "nobody@example.com", "--department", "X"]).await?;
    assert_one_error(&unknown, &["404", "nobody@example.com"]);
});

api_test!(archive_and_unarchive_restore_roles, |server| {
    let created = run(&server, &["users", "create", "--email", "ada@example.com", "--role", "developer"]).await?.json()?;
    let id = created["data"]["id"].as_str().context("no id")?.to_string();

    let archived = run(&server, &["users", "archive", "ada@example.com"]).await?;
    assert!(archived.success, "{}", archived.describe());
    assert_eq!(archived.stdout.trim(), "archived user ada@example.com");
    let archived_get = run(&server, &["users", "get", &id]).await?;
    assert_one_error(&archived_get, &["404", "not found"]);
    let listed = run(&server, &["users", "list", "--archived"]).await?.json()?;
    assert_eq!(listed["data"][0]["attributes"]["status"], "archived", "--archived should list the archived user");

    let restored = run(&server, &["users", "unarchive", &id, "--restore-roles"]).await?;
    assert!(restored.success, "{}", restored.describe());
    let roles = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(roles.data_items().len(), 1, "--restore-roles should bring the developer role back: {}", roles.describe());

    let again = run(&server, &["users", "unarchive", "nobody@example.com"]).await?;
    assert_one_error(&again, &["404"]);
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    let denied = Run::new(&server.client_with(Some(&reader), &["users", "archive", &id]).await?);
    assert_one_error(&denied, &["403", "users:write"]);
});

api_test!(client_reports_missing_token_and_server, |server| {
    let anonymous = Run::new(&server.client_with(None, &["users", "list"]).await?);
    assert_one_error(&anonymous, &["ROSTER_TOKEN", "--token-file"]);

    let wrong = Run::new(&server.client_with(Some("not-a-token"), &["users", "list"]).await?);
    assert_one_error(&wrong, &["401"]);

    let token_file = server.data_dir().join("admin-token");
    let from_file = Run::new(&server.client_with(None, &["users", "list", "--token-file", &token_file.display().to_string()]).await?);
    assert!(from_file.success, "--token-file should authenticate: {}", from_file.describe());

    // Nothing listens on port 1 of loopback.
    let unreachable = Run::new(&server.client_at("http://127.0.0.1:1", Some(server.admin_token()), &["users", "list"]).await?);
    assert_one_error(&unreachable, &["cannot connect to http://127.0.0.1:1", "--url"]);
});
