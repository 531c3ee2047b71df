//! `roster scheduled list|cancel` and its alias `roster jml scheduled`.

use crate::common::TestServer;
use crate::{assert_one_error, run};
use anyhow::Context;
use serde_json::json;

/// Creates a user whose developer role expires in 2099, which schedules one `expire_role` action.
async fn user_with_expiry(server: &TestServer, email: &str) -> anyhow::Result<String> {
    let developer = server.role_type_id("developer").await?;
    server.create_user(json!({ "email": email, "roles_attributes": [{ "role_type_id": developer, "expires_at": "2099-01-01T00:00:00Z" }] })).await
}

api_test!(list_in_every_format, |server| {
    let ada = user_with_expiry(&server, "ada@example.com").await?;
    user_with_expiry(&server, "grace@example.com").await?;

    let listed = run(&server, &["scheduled", "list", "--user", "ada@example.com"]).await?.json()?;
    let actions = listed["data"].as_array().context("no data array")?;
    assert_eq!(actions.len(), 1, "--user should select Ada's action: {listed}");
    assert_eq!(actions[0]["attributes"]["kind"], "expire_role");
    assert_eq!(actions[0]["attributes"]["user_id"], serde_json::Value::String(ada));
    assert_eq!(actions[0]["attributes"]["status"], "pending");

    let csv = run(&server, &["jml", "scheduled", "--format", "csv", "--status", "pending"]).await?;
    assert!(csv.success, "{}", csv.describe());
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("id,kind,user,due,status,created_by,payload,result"), "{}", csv.describe());
    assert_eq!(lines.len(), 3, "a header and two pending actions: {}", csv.describe());

    let table = run(&server, &["scheduled", "--format", "table"]).await?;
    assert!(table.stdout.starts_with("ID  KIND"), "{}", table.describe());
    assert!(table.stdout.contains("expire_role"), "{}", table.describe());
});

api_test!(list_reports_bad_status, |server| {
    let failed = run(&server, &["jml", "scheduled", "list", "--status", "bogus"]).await?;

    assert_one_error(&failed, &["400", "(parameter status)", "pending, done, failed, cancelled"]);
});

api_test!(cancel_then_cancel_again, |server| {
    let ada = user_with_expiry(&server, "ada@example.com").await?;
    let listed = run(&server, &["scheduled", "list", "--user", &ada]).await?.json()?;
    let id = listed["data"][0]["id"].as_str().context("no scheduled action")?.to_string();

    let cancelled = run(&server, &["scheduled", "cancel", &id]).await?;
    assert!(cancelled.success, "{}", cancelled.describe());
    assert_eq!(cancelled.stdout.trim(), format!("cancelled scheduled action {id}"));
    let cancelled_list = run(&server, &["jml", "scheduled", "list", "--status", "cancelled"]).await?.json()?;
    assert_eq!(cancelled_list["data"][0]["id"], serde_json::Value::String(id.clone()), "the action should now be cancelled: {cancelled_list}");

    let again = run(&server, &["jml", "scheduled", "cancel", &id]).await?;
    assert_one_error(&again, &["409", "already cancelled"]);
    let unknown = run(&server, &["scheduled", "cancel", "999999"]).await?;
    assert_one_error(&unknown, &["404", "scheduled action 999999 not found"]);
});
