//! Archiving and unarchiving: the snapshot, the exact restore of roles, the rejected restore, and tokens.

use crate::common::{Reply, TestServer, assert_error};
use anyhow::ensure;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Creates a user with three direct roles that carry approvers, reasons and expiries, and returns its id.
async fn user_with_roles(server: &TestServer, email: &str) -> anyhow::Result<String> {
    let developer = server.role_type_id("developer").await?;
    let workspace_manager = server.role_type_id("workspace_manager").await?;
    let runbook_editor = server.role_type_id("runbook_editor").await?;
    server
        .create_user(json!({
            "email": email,
            "roles_attributes": [
                { "role_type_id": developer, "approved_by": "cto", "reason": "joiner" },
                { "role_type_id": workspace_manager, "resource_type": "workspace", "resource_id": "ws-7",
                  "reason": "leads ws-7", "expires_at": "2099-01-31T17:00:00Z" },
                { "role_type_id": runbook_editor, "resource_type": "runbook", "resource_id": "rb-3",
                  "approved_by": "security team", "expires_at": "2098-06-30T00:00:00.123456Z" },
            ],
        }))
        .await
}

async fn archive(server: &TestServer, id: &str) -> anyhow::Result<()> {
    let reply = server.patch_empty(&format!("/core/users/{id}/archive")).await?;
    ensure!(reply.status == StatusCode::NO_CONTENT, "archiving user {id} failed: {}", reply.describe());
    Ok(())
}

async fn unarchive(server: &TestServer, id: &str, meta: Value) -> anyhow::Result<Reply> {
    server.patch(&format!("/core/users/{id}/unarchive"), &json!({ "meta": meta })).await
}

api_test!(archive_hides_user, |server| {
    let id = user_with_roles(&server, "ada@example.com").await?;

    let reply = server.patch_empty(&format!("/core/users/{id}/archive")).await?;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "archive should answer 204: {}", reply.describe());
    assert!(reply.text.is_empty(), "a 204 should have no body: {}", reply.describe());
    let hidden = server.get(&format!("/core/users/{id}")).await?;
    assert_error(&hidden, StatusCode::NOT_FOUND, "not_found");
    let detail = hidden.error()["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("archived=true"), "the 404 should say how to read an archived user: {detail}");
    let missing = server.get("/core/users/999999").await?;
    let detail = missing.error()["detail"].as_str().unwrap_or_default().to_string();
    assert!(!detail.contains("archived"), "a user that does not exist gets no hint: {detail}");
    let listed = server.get("/core/users").await?;
    assert!(!listed.ids().contains(&id), "the default list should leave archived users out: {}", listed.describe());
    let shown = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(shown.status, StatusCode::OK, "archived=true should find the archived user: {}", shown.describe());
    assert_eq!(shown.attr("status"), "archived", "the user should be archived");
    assert!(shown.attr("archived_at").is_string(), "archived_at should be set: {}", shown.describe());
    assert_eq!(shown.body["included"], json!([]), "an archived user should hold no roles: {}", shown.describe());
    let archived_list = server.get("/core/users?archived=true").await?;
    assert_eq!(archived_list.ids(), vec![id.clone()], "archived=true should list the archived user");
    let roles = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_error(&roles, StatusCode::NOT_FOUND, "not_found");
});

api_test!(archive_twice_changes_nothing, |server| {
    let id = user_with_roles(&server, "ada@example.com").await?;
    archive(&server, &id).await?;
    let before = server.get(&format!("/core/users/{id}?archived=true")).await?;
    let audit_before = server.audit_count().await?;

    let again = server.patch_empty(&format!("/core/users/{id}/archive")).await?;

    assert_eq!(again.status, StatusCode::NO_CONTENT, "archiving an archived user should answer 204: {}", again.describe());
    let after = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(after.data(), before.data(), "archiving an archived user should change nothing");
    assert_eq!(server.audit_count().await?, audit_before, "archiving an archived user should write no audit entry");
});

api_test!(archive_by_email, |server| {
    let id = server.create_user(json!({ "email": "Ada@Example.com" })).await?;

    let reply = server.patch_empty("/core/users/ada%40example.com/archive").await?;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "archive by email should answer 204: {}", reply.describe());
    let shown = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(shown.attr("status"), "archived", "the user named by email should be archived");
});

api_test!(restore_roles_exactly, |server| {
    let id = user_with_roles(&server, "ada@example.com").await?;
    let saved = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(saved.data_items().len(), 3, "the user should start with three roles: {}", saved.describe());
    archive(&server, &id).await?;

    let reply = unarchive(&server, &id, json!({ "restore_roles": true })).await?;

    assert_eq!(reply.status, StatusCode::OK, "unarchive should answer 200: {}", reply.describe());
    assert_eq!(reply.attr("status"), "active", "the user should be active again");
    assert_eq!(reply.attr("archived_at"), &Value::Null, "archived_at should be cleared");
    let restored = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(restored.ids(), saved.ids(), "the restore should bring back the same role keys");
    for (after, before) in restored.data_items().iter().zip(saved.data_items()) {
        let key = before["id"].as_str().unwrap_or_default();
        for field in ["role_type_id", "role_type_name", "resource_type", "resource_id", "source", "approved_by", "reason", "expires_at", "granted_at"] {
            assert_eq!(after["attributes"][field], before["attributes"][field], "{field} of role {key} after the restore");
        }
    }
    let included: Vec<&Value> = reply.body["included"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    assert_eq!(included.len(), 3, "the unarchive response should include the restored roles: {}", reply.describe());
});

api_test!(unarchive_without_roles, |server| {
    let id = user_with_roles(&server, "ada@example.com").await?;
    archive(&server, &id).await?;

    let reply = server.patch_empty(&format!("/core/users/{id}/unarchive")).await?;

    assert_eq!(reply.status, StatusCode::OK, "unarchive without a body should answer 200: {}", reply.describe());
    assert_eq!(reply.attr("status"), "active", "the user should be active again");
    let roles = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(roles.data_items().len(), 0, "without restore_roles no role should come back: {}", roles.describe());
    let found = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(found.status, StatusCode::OK, "an unarchived user should be found without archived=true");
});

api_test!(unarchive_active_is_noop, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let audit_before = server.audit_count().await?;

    let reply = server.patch_empty(&format!("/core/users/{id}/unarchive")).await?;

    assert_eq!(reply.status, StatusCode::OK, "unarchiving an active user should answer 200: {}", reply.describe());
    assert_eq!(reply.header("etag"), Some("\"1\""), "unarchiving an active user should not change its version");
    assert_eq!(server.audit_count().await?, audit_before, "unarchiving an active user should write no audit entry");
});

/// Creates a user holding `developer` and a new role type `contractor`, archives it, then deletes `contractor`.
/// Returns the user's id and the deleted role type's id.
async fn archived_with_deleted_role_type(server: &TestServer) -> anyhow::Result<(String, String)> {
    let created = server
        .post("/core/role_types", &json!({ "data": { "type": "role_types", "attributes": { "name": "contractor" } } }))
        .await?;
    ensure!(created.status == StatusCode::CREATED, "creating a role type failed: {}", created.describe());
    let contractor = created.id()?;
    let developer = server.role_type_id("developer").await?;
    let id = server
        .create_user(json!({
            "email": "ada@example.com",
            "roles_attributes": [{ "role_type_id": developer }, { "role_type_id": contractor, "reason": "fixed term" }],
        }))
        .await?;
    archive(server, &id).await?;
    let deleted = server.delete(&format!("/core/role_types/{contractor}")).await?;
    ensure!(deleted.status == StatusCode::NO_CONTENT, "deleting the unheld role type failed: {}", deleted.describe());
    Ok((id, contractor))
}

api_test!(restore_rejected_for_deleted_type, |server| {
    let (id, contractor) = archived_with_deleted_role_type(&server).await?;
    let audit_before = server.audit_count().await?;

    let reply = unarchive(&server, &id, json!({ "restore_roles": true })).await?;

    assert_error(&reply, StatusCode::CONFLICT, "missing_role_types");
    let missing = reply.error()["meta"]["missing_role_types"].as_array().cloned().unwrap_or_default();
    assert_eq!(missing.len(), 1, "the 409 should list the one missing role type: {}", reply.describe());
    assert_eq!(missing[0]["role_type_id"].to_string().trim_matches('"'), contractor, "the 409 should name the deleted role type's id");
    assert_eq!(missing[0]["role_type_name"], "contractor", "the 409 should name the deleted role type");
    let still = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(still.attr("status"), "archived", "a rejected restore should leave the user archived");
    assert_eq!(server.audit_count().await?, audit_before, "a rejected restore should write no audit entry");
});

api_test!(restore_skips_deleted_type, |server| {
    let (id, _) = archived_with_deleted_role_type(&server).await?;

    let reply = unarchive(&server, &id, json!({ "restore_roles": true, "skip_missing_role_types": true })).await?;

    assert_eq!(reply.status, StatusCode::OK, "skip_missing_role_types should let the restore proceed: {}", reply.describe());
    let roles = server.get(&format!("/core/users/{id}/roles")).await?;
    let names: Vec<&str> = roles.data_items().iter().filter_map(|r| r["attributes"]["role_type_name"].as_str()).collect();
    assert_eq!(names, vec!["developer"], "only the role whose type still exists should come back");
    let audit = server.get(&format!("/core/action_logs?user_id={id}&action=user.unarchive")).await?;
    let skipped = &audit.data_items()[0]["attributes"]["changes"]["skipped_role_types"]["after"];
    assert_eq!(skipped[0]["role_type_name"], "contractor", "the audit entry should record the skipped role type: {}", audit.describe());
});

api_test!(unarchive_rejects_bad_meta, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    archive(&server, &id).await?;

    let reply = unarchive(&server, &id, json!({ "restore_roles": "yes" })).await?;

    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_json");
    let still = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(still.attr("status"), "archived", "a rejected unarchive should leave the user archived");
});

api_test!(archived_owner_token_stops, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let (token_id, secret) = server.create_user_token(&id, "ada-laptop", &["users:read"]).await?;
    let works = server.send(server.request_as(&secret, Method::GET, "/core/users")).await?;
    assert_eq!(works.status, StatusCode::OK, "the owner's token should work while the owner is active: {}", works.describe());

    archive(&server, &id).await?;

    let archived = server.send(server.request_as(&secret, Method::GET, "/core/users")).await?;
    assert_error(&archived, StatusCode::UNAUTHORIZED, "unauthorized");

    let restored = unarchive(&server, &id, json!({})).await?;
    assert_eq!(restored.status, StatusCode::OK, "unarchive failed: {}", restored.describe());
    let after_restore = server.send(server.request_as(&secret, Method::GET, "/core/users")).await?;
    assert_error(&after_restore, StatusCode::UNAUTHORIZED, "unauthorized");

    let tokens = server.get(&format!("/core/users/{id}/user_app_tokens")).await?;
    let listed = tokens.data_items().iter().find(|t| t["id"] == token_id.as_str()).cloned().unwrap_or_default();
    assert!(listed["attributes"]["disabled_at"].is_string(), "the archive should have set disabled_at: {listed}");
    assert_eq!(listed["attributes"]["active"], false, "the token should be listed as inactive: {listed}");

    let (_, fresh) = server.create_user_token(&id, "ada-new-laptop", &["users:read"]).await?;
    let new_token = server.send(server.request_as(&fresh, Method::GET, "/core/users")).await?;
    assert_eq!(new_token.status, StatusCode::OK, "a returning user's new token should work: {}", new_token.describe());
});

api_test!(archived_user_gets_no_token, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    archive(&server, &id).await?;

    let body = json!({ "data": { "type": "user_app_tokens", "attributes": { "name": "x", "scopes": ["users:read"] } } });
    let reply = server.post(&format!("/core/users/{id}/user_app_tokens"), &body).await?;

    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
});
