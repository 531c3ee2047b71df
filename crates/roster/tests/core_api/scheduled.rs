//! `/core/scheduled_actions`: listing future-dated work with filters and pages, and cancelling a pending action.

use crate::common::{TestServer, assert_error};
use anyhow::{Context, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An expiry far enough ahead that no test run reaches it.
const LATER: &str = "2099-01-01T00:00:00Z";

/// Creates a user holding `developer` until [`LATER`], which schedules one `expire_role` action. Returns the
/// user's id.
async fn user_with_expiring_role(server: &TestServer, email: &str) -> anyhow::Result<String> {
    let developer = server.role_type_id("developer").await?;
    server
        .create_user(json!({ "email": email, "roles_attributes": [{ "role_type_id": developer, "expires_at": LATER }] }))
        .await
}

/// Lists every pending action and returns the id of the one for `user_id`.
async fn action_for(server: &TestServer, user_id: &str) -> anyhow::Result<String> {
    let reply = server.get(&format!("/core/scheduled_actions?user={user_id}")).await?;
    ensure!(reply.status == StatusCode::OK, "listing scheduled actions failed: {}", reply.describe());
    let ids = reply.ids();
    ensure!(ids.len() == 1, "user {user_id} should have one scheduled action: {}", reply.describe());
    Ok(ids[0].clone())
}

fn statuses(items: &[Value]) -> Vec<String> {
    items.iter().map(|item| item["attributes"]["status"].as_str().unwrap_or("").to_string()).collect()
}

api_test!(list_renders_every_attribute, |server| {
    let ada = user_with_expiring_role(&server, "ada@example.com").await?;

    let reply = server.get("/core/scheduled_actions").await?;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    let items = reply.data_items();
    assert_eq!(items.len(), 1, "one grant with an expiry should schedule one action: {}", reply.describe());
    let action = &items[0];
    assert_eq!(action["type"], "scheduled_actions");
    let attributes = &action["attributes"];
    assert_eq!(attributes["kind"], "expire_role");
    assert_eq!(attributes["user_id"], Value::String(ada.clone()));
    assert_eq!(attributes["due_at"], "2099-01-01T00:00:00.000000Z");
    assert_eq!(attributes["status"], "pending");
    assert_eq!(attributes["created_by"], "admin", "the action should name the token that granted the role");
    assert!(attributes["created_at"].is_string(), "created_at should be a time: {action}");
    assert_eq!(attributes["payload"]["role_type_name"], "developer", "the payload should name the expiring role: {action}");
    assert_eq!(attributes["applied_at"], Value::Null);
    assert_eq!(attributes["result"], Value::Null);
    assert_eq!(reply.body["meta"]["total_count"], 1);
});

api_test!(list_filters_and_pages, |server| {
    let ada = user_with_expiring_role(&server, "ada@example.com").await?;
    let grace = user_with_expiring_role(&server, "grace@example.com").await?;
    let linus = user_with_expiring_role(&server, "linus@example.com").await?;
    let cancelled = action_for(&server, &grace).await?;
    let reply = server.delete(&format!("/core/scheduled_actions/{cancelled}")).await?;
    ensure!(reply.status == StatusCode::NO_CONTENT, "cancelling failed: {}", reply.describe());

    let pending = server.get("/core/scheduled_actions?status=pending").await?;
    assert_eq!(statuses(pending.data_items()), vec!["pending", "pending"], "status=pending should leave out the cancelled action");
    assert_eq!(pending.body["meta"]["total_count"], 2);

    let by_email = server.get("/core/scheduled_actions?filter[user]=grace%40example.com").await?;
    assert_eq!(by_email.ids(), vec![cancelled.clone()], "user given as an email should select Grace's action");
    assert_eq!(statuses(by_email.data_items()), vec!["cancelled"]);

    let by_kind = server.get(&format!("/core/scheduled_actions?kind=expire_role&user={ada}")).await?;
    assert_eq!(by_kind.data_items().len(), 1, "kind and user together should select Ada's action: {}", by_kind.describe());
    let other_kind = server.get("/core/scheduled_actions?kind=archive_user").await?;
    assert!(other_kind.data_items().is_empty(), "no archive_user action exists: {}", other_kind.describe());

    let unknown_user = server.get("/core/scheduled_actions?user=nobody%40example.com").await?;
    assert_eq!(unknown_user.status, StatusCode::OK, "an unknown user should give an empty list: {}", unknown_user.describe());
    assert!(unknown_user.data_items().is_empty());
    assert_eq!(unknown_user.body["meta"]["total_count"], 0);

    let mut seen = Vec::new();
    let mut next = Some("/core/scheduled_actions?page[size]=1".to_string());
    while let Some(path) = next {
        let page = server.get(&path).await?;
        ensure!(page.status == StatusCode::OK, "GET {path} failed: {}", page.describe());
        seen.extend(page.ids());
        next = page.body["links"]["next"].as_str().map(str::to_string);
        ensure!(seen.len() <= 10, "links.next did not end");
    }
    let users: Vec<String> = [&ada, &grace, &linus].iter().map(|u| u.to_string()).collect();
    assert_eq!(seen.len(), 3, "walking pages of one should visit every action once: {seen:?} for users {users:?}");
    let mut sorted = seen.clone();
    sorted.sort_by_key(|id| id.parse::<i64>().unwrap_or(0));
    assert_eq!(seen, sorted, "pages should follow id order");

    let second = server.get("/core/scheduled_actions?page[size]=2&page[number]=2").await?;
    assert_eq!(second.ids(), seen[2..].to_vec(), "page[number]=2 should hold the third action");
});

api_test!(list_rejects_bad_parameters, |server| {
    let cases = [
        ("status=bogus", "status"),
        ("user=not%20a%20user", "user"),
        ("page[size]=101", "page[size]"),
        ("page[after]=1&page[number]=1", "page[after]"),
        ("sort=id", "sort"),
    ];
    for (query, parameter) in cases {
        let reply = server.get(&format!("/core/scheduled_actions?{query}")).await?;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_parameter");
        assert_eq!(reply.error()["source"]["parameter"], parameter, "?{query} should name its parameter: {}", reply.describe());
    }
});

api_test!(cancel_is_audited_once, |server| {
    let ada = user_with_expiring_role(&server, "ada@example.com").await?;
    let action = action_for(&server, &ada).await?;
    let audit_before = server.audit_count().await?;

    let reply = server.delete(&format!("/core/scheduled_actions/{action}")).await?;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.describe());
    let listed = server.get(&format!("/core/scheduled_actions?user={ada}")).await?;
    let attributes = &listed.data_items()[0]["attributes"];
    assert_eq!(attributes["status"], "cancelled");
    assert_eq!(attributes["result"], "cancelled by admin");
    assert!(attributes["applied_at"].is_string(), "a cancelled action should record when: {attributes}");
    assert_eq!(server.audit_count().await?, audit_before + 1, "the cancellation should add one audit entry");

    let entries = server.get(&format!("/core/action_logs?user_id={ada}&action=scheduled_action.cancel")).await?;
    let entry = entries.data_items().first().context("no scheduled_action.cancel entry for Ada")?;
    let changes = &entry["attributes"]["changes"];
    assert_eq!(changes["scheduled_action_id"]["after"], action.parse::<i64>()?, "the entry should name the action: {entry}");
    assert_eq!(changes["status"]["before"], "pending");
    assert_eq!(changes["status"]["after"], "cancelled");
    assert_eq!(changes["kind"]["after"], "expire_role");

    let again = server.delete(&format!("/core/scheduled_actions/{action}")).await?;
    assert_error(&again, StatusCode::CONFLICT, "not_pending");
    assert!(again.error()["detail"].as_str().unwrap_or("").contains("already cancelled"), "{}", again.describe());
    assert_eq!(server.audit_count().await?, audit_before + 1, "a rejected cancel should not be audited");
});

api_test!(cancel_rejects_unknown_and_finished, |server| {
    let ada = user_with_expiring_role(&server, "ada@example.com").await?;
    let action = action_for(&server, &ada).await?;

    let unknown = server.delete("/core/scheduled_actions/999999").await?;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let not_numeric = server.delete("/core/scheduled_actions/abc").await?;
    assert_error(&not_numeric, StatusCode::NOT_FOUND, "not_found");

    // The scheduler marks an applied action done; setting that directly avoids waiting for a pass.
    let changed = server.execute_sql(&format!("UPDATE scheduled_actions SET status = 'done' WHERE id = {action}")).await?;
    ensure!(changed == 1, "marking the action done changed {changed} rows");
    let done = server.delete(&format!("/core/scheduled_actions/{action}")).await?;
    assert_error(&done, StatusCode::CONFLICT, "not_pending");
    assert_eq!(done.error()["meta"]["status"], "done", "{}", done.describe());
});

api_test!(scopes_guard_list_and_cancel, |server| {
    let ada = user_with_expiring_role(&server, "ada@example.com").await?;
    let action = action_for(&server, &ada).await?;
    let path = format!("/core/scheduled_actions/{action}");
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    let auditor = server.create_cli_token("auditor", &["audit:read"]).await?;
    let user_writer = server.create_cli_token("user-writer", &["users:write"]).await?;
    let role_writer = server.create_cli_token("role-writer", &["users:write", "roles:write"]).await?;

    let listed = server.send(server.request_as(&reader, Method::GET, "/core/scheduled_actions")).await?;
    assert_eq!(listed.status, StatusCode::OK, "users:read should list: {}", listed.describe());
    let denied = server.send(server.request_as(&auditor, Method::GET, "/core/scheduled_actions")).await?;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let anonymous = server.send(server.request_anonymous(Method::GET, "/core/scheduled_actions")).await?;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");

    let by_reader = server.send(server.request_as(&reader, Method::DELETE, &path)).await?;
    assert_error(&by_reader, StatusCode::FORBIDDEN, "forbidden");
    let by_user_writer = server.send(server.request_as(&user_writer, Method::DELETE, &path)).await?;
    assert_error(&by_user_writer, StatusCode::FORBIDDEN, "forbidden");
    assert!(by_user_writer.error()["detail"].as_str().unwrap_or("").contains("roles:write"), "{}", by_user_writer.describe());
    let by_role_writer = server.send(server.request_as(&role_writer, Method::DELETE, &path)).await?;
    assert_eq!(by_role_writer.status, StatusCode::NO_CONTENT, "users:write with roles:write should cancel an expiry: {}", by_role_writer.describe());
});
