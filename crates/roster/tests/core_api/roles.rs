//! A user's roles and role sync: the diff, dry runs, restoring a saved GET, and ETags.

use crate::common::{Reply, TestServer, assert_error, assert_invalid};
use anyhow::ensure;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Role type ids by name, for the roles these tests grant.
struct Catalogue {
    developer: String,
    stakeholder: String,
    workspace_member: String,
    runbook_admin: String,
}

async fn catalogue(server: &TestServer) -> anyhow::Result<Catalogue> {
    Ok(Catalogue {
        developer: server.role_type_id("developer").await?,
        stakeholder: server.role_type_id("stakeholder").await?,
        workspace_member: server.role_type_id("workspace_member").await?,
        runbook_admin: server.role_type_id("runbook_admin").await?,
    })
}

/// Lists the ids of the role resources under `meta.NAME` of a sync response.
fn meta_ids(reply: &Reply, name: &str) -> Vec<String> {
    let items = reply.body["meta"][name].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
}

/// Removes `granted_at`, which a dry run reports as "now" and an apply stores as its own "now".
fn without_granted_at(resources: &Value) -> Value {
    let mut resources = resources.clone();
    if let Some(items) = resources.as_array_mut() {
        for item in items {
            if let Some(attributes) = item["attributes"].as_object_mut() {
                attributes.remove("granted_at");
            }
        }
    }
    resources
}

async fn sync(server: &TestServer, id: &str, query: &str, body: &Value) -> anyhow::Result<Reply> {
    server.put(&format!("/core/users/{id}/roles{query}"), body).await
}

api_test!(get_roles_lists_fields, |server| {
    let roles = catalogue(&server).await?;
    let id = server
        .create_user(json!({
            "email": "ada@example.com",
            "roles_attributes": [
                { "role_type_id": roles.workspace_member, "resource_type": "workspace", "resource_id": "ws-1",
                  "approved_by": "cto", "reason": "joiner", "expires_at": "2099-01-01T00:00:00+02:00" },
            ],
        }))
        .await?;

    let reply = server.get(&format!("/core/users/{id}/roles")).await?;

    assert_eq!(reply.status, StatusCode::OK, "GET roles: {}", reply.describe());
    assert_eq!(reply.header("etag"), Some("\"1\""), "GET roles should return the user's ETag");
    let role = &reply.data_items()[0];
    assert_eq!(role["type"], "role_assignments", "each role should be a role_assignments resource");
    let attributes = &role["attributes"];
    let expected = [
        ("role_type_id", json!(roles.workspace_member)),
        ("role_type_name", json!("workspace_member")),
        ("resource_type", json!("workspace")),
        ("resource_id", json!("ws-1")),
        ("source", json!("direct")),
        ("approved_by", json!("cto")),
        ("reason", json!("joiner")),
        ("expires_at", json!("2098-12-31T22:00:00.000000Z")),
    ];
    for (name, value) in expected {
        assert_eq!(attributes[name], value, "role attribute {name}");
    }
    assert!(attributes["granted_at"].is_string(), "granted_at should be set: {role}");
});

api_test!(dry_run_changes_nothing, |server| {
    let roles = catalogue(&server).await?;
    let id = server
        .create_user(json!({
            "email": "ada@example.com",
            "roles_attributes": [{ "role_type_id": roles.developer }, { "role_type_id": roles.stakeholder }],
        }))
        .await?;
    let before = server.get(&format!("/core/users/{id}/roles")).await?;
    let audit_before = server.audit_count().await?;
    let desired = json!({ "data": [
        { "role_type_id": roles.stakeholder },
        { "role_type_id": roles.workspace_member, "resource_type": "workspace", "resource_id": "ws-9", "reason": "mover" },
    ] });

    let dry = sync(&server, &id, "?dry_run=true", &desired).await?;

    assert_eq!(dry.status, StatusCode::OK, "a dry run should answer 200: {}", dry.describe());
    assert_eq!(dry.body["meta"]["dry_run"], true, "a dry run should say so in meta.dry_run");
    let after_dry = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(after_dry.body, before.body, "a dry run should leave the roles as they were");
    assert_eq!(after_dry.header("etag"), before.header("etag"), "a dry run should leave the version as it was");
    assert_eq!(server.audit_count().await?, audit_before, "a dry run should write no audit entry");

    let applied = sync(&server, &id, "", &desired).await?;

    assert_eq!(applied.status, StatusCode::OK, "applying should answer 200: {}", applied.describe());
    assert_eq!(applied.body["meta"]["dry_run"], false, "an apply should say meta.dry_run false");
    for name in ["added", "removed", "updated", "unchanged", "previous"] {
        assert_eq!(meta_ids(&applied, name), meta_ids(&dry, name), "meta.{name} of the apply should equal the dry run's");
        assert_eq!(
            without_granted_at(&applied.body["meta"][name]),
            without_granted_at(&dry.body["meta"][name]),
            "meta.{name} of the apply should carry the same terms as the dry run's"
        );
    }
    assert_eq!(without_granted_at(&applied.body["data"]), without_granted_at(&dry.body["data"]), "data of the apply should equal the dry run's");
    let workspace_role = format!("{}:workspace:ws-9", roles.workspace_member);
    let stakeholder_role = format!("{}::", roles.stakeholder);
    let developer_role = format!("{}::", roles.developer);
    assert_eq!(meta_ids(&applied, "added"), vec![workspace_role], "the workspace role should be added");
    assert_eq!(meta_ids(&applied, "removed"), vec![developer_role], "developer should be removed");
    assert_eq!(meta_ids(&applied, "unchanged"), vec![stakeholder_role], "stakeholder should be unchanged");
    assert_eq!(meta_ids(&applied, "previous").len(), 2, "meta.previous should list both earlier roles");
    assert_eq!(applied.header("etag"), Some("\"2\""), "an apply should increment the version");
    let stored = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(stored.body["data"], applied.body["data"], "GET after the apply should return the new set");
    assert_eq!(server.audit_count().await?, audit_before + 1, "an apply should write one audit entry");
});

api_test!(saved_roles_restore_after_move, |server| {
    let roles = catalogue(&server).await?;
    let id = server
        .create_user(json!({
            "email": "ada@example.com",
            "roles_attributes": [
                { "role_type_id": roles.developer, "approved_by": "cto", "reason": "joiner" },
                { "role_type_id": roles.workspace_member, "resource_type": "workspace", "resource_id": "ws-1",
                  "expires_at": "2099-03-01T12:00:00.5Z" },
                { "role_type_id": roles.runbook_admin, "resource_type": "runbook", "resource_id": "rb-1",
                  "approved_by": "ops lead", "reason": "on call", "expires_at": "2098-01-01T00:00:00Z" },
            ],
        }))
        .await?;
    let saved = server.get(&format!("/core/users/{id}/roles")).await?;
    ensure!(saved.status == StatusCode::OK, "GET roles failed: {}", saved.describe());

    let moved = sync(&server, &id, "", &json!({ "data": [
        { "role_type_id": roles.stakeholder },
        { "role_type_id": roles.workspace_member, "resource_type": "workspace", "resource_id": "ws-2" },
    ] }))
    .await?;
    assert_eq!(moved.status, StatusCode::OK, "the mover sync failed: {}", moved.describe());

    let restored = sync(&server, &id, "", &saved.body).await?;

    assert_eq!(restored.status, StatusCode::OK, "PUT of the saved GET response should succeed: {}", restored.describe());
    let after = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(after.ids(), saved.ids(), "the saved response should restore the same role keys");
    // A role that was removed and granted again has a new granted_at, so the comparison leaves it out.
    assert_eq!(without_granted_at(&after.body["data"]), without_granted_at(&saved.body["data"]), "the saved response should restore every term");
});

api_test!(same_set_changes_nothing, |server| {
    let roles = catalogue(&server).await?;
    let id = server
        .create_user(json!({ "email": "ada@example.com", "roles_attributes": [{ "role_type_id": roles.developer, "reason": "joiner" }] }))
        .await?;
    let saved = server.get(&format!("/core/users/{id}/roles")).await?;
    let audit_before = server.audit_count().await?;

    let reply = sync(&server, &id, "", &saved.body).await?;

    assert_eq!(reply.status, StatusCode::OK, "syncing the current set should answer 200: {}", reply.describe());
    assert_eq!(meta_ids(&reply, "unchanged").len(), 1, "the one role should be unchanged");
    assert_eq!(reply.header("etag"), Some("\"1\""), "syncing the current set should keep the version");
    assert_eq!(server.audit_count().await?, audit_before, "syncing the current set should write no audit entry");
    let after = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(after.body, saved.body, "syncing the current set should keep granted_at and every other field");
});

api_test!(sync_updates_terms, |server| {
    let roles = catalogue(&server).await?;
    let id = server
        .create_user(json!({ "email": "ada@example.com", "roles_attributes": [{ "role_type_id": roles.developer, "reason": "joiner" }] }))
        .await?;

    let reply = sync(&server, &id, "", &json!({ "data": [{ "role_type_id": roles.developer, "reason": "promoted" }] })).await?;

    assert_eq!(reply.status, StatusCode::OK, "changing a reason should answer 200: {}", reply.describe());
    assert_eq!(meta_ids(&reply, "updated").len(), 1, "a changed reason should be reported under meta.updated: {}", reply.describe());
    let after = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(after.data_items()[0]["attributes"]["reason"], "promoted", "the new reason should be stored");
});

api_test!(sync_ignores_other_sources, |server| {
    let roles = catalogue(&server).await?;
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;

    let reply = sync(&server, &id, "", &json!({ "data": [
        { "role_type_id": roles.developer },
        { "role_type_id": roles.stakeholder, "source": "group", "source_ref": "42" },
    ] }))
    .await?;

    assert_eq!(reply.status, StatusCode::OK, "a body with a group grant should be accepted: {}", reply.describe());
    let after = server.get(&format!("/core/users/{id}/roles")).await?;
    let names: Vec<&str> = after.data_items().iter().filter_map(|r| r["attributes"]["role_type_name"].as_str()).collect();
    assert_eq!(names, vec!["developer"], "only the direct grant should be applied");
});

api_test!(sync_is_all_or_nothing, |server| {
    let roles = catalogue(&server).await?;
    let id = server.create_user(json!({ "email": "ada@example.com", "roles_attributes": [{ "role_type_id": roles.developer }] })).await?;
    let before = server.get(&format!("/core/users/{id}/roles")).await?;

    let reply = sync(&server, &id, "", &json!({ "data": [
        { "role_type_id": roles.stakeholder },
        { "role_type_id": "999999" },
    ] }))
    .await?;

    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown role type should fail the sync: {}", reply.describe());
    assert_invalid(&reply, "not_found", "/data/1/role_type_id");
    let after = server.get(&format!("/core/users/{id}/roles")).await?;
    assert_eq!(after.body, before.body, "a failed sync should change no role");
});

api_test!(sync_points_at_invalid_item, |server| {
    let roles = catalogue(&server).await?;
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let cases = [
        ("scoped role without resource", json!([{ "role_type_id": roles.workspace_member }]), "invalid", "/data/0/resource_type"),
        ("global role with resource", json!([{ "role_type_id": roles.developer, "resource_type": "workspace", "resource_id": "w" }]), "invalid", "/data/0/resource_type"),
        ("expiry in the past", json!([{ "role_type_id": roles.developer, "expires_at": "2001-01-01T00:00:00Z" }]), "invalid", "/data/0/expires_at"),
        ("bad expiry", json!([{ "role_type_id": roles.developer, "expires_at": "soon" }]), "invalid", "/data/0/expires_at"),
        ("missing role type", json!([{ "reason": "x" }]), "blank", "/data/0/role_type_id"),
        ("duplicate", json!([{ "role_type_id": roles.developer }, { "role_type_id": roles.developer }]), "duplicate", "/data/1"),
    ];

    for (case, items, code, pointer) in cases {
        let reply = sync(&server, &id, "", &json!({ "data": items })).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.describe());
        assert_invalid(&reply, code, pointer);
    }
});

api_test!(sync_checks_if_match, |server| {
    let roles = catalogue(&server).await?;
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let path = format!("/core/users/{id}/roles");
    let patched = server.patch(&format!("/core/users/{id}"), &crate::common::user_document(json!({ "job_title": "Engineer" }))).await?;
    assert_eq!(patched.header("etag"), Some("\"2\""), "the PATCH should move the user to version 2");
    let body = json!({ "data": [{ "role_type_id": roles.developer }] });

    let stale = server.send(server.request(Method::PUT, &path).header("if-match", "\"1\"").json(&body)).await?;

    assert_error(&stale, StatusCode::PRECONDITION_FAILED, "stale_etag");
    let unchanged = server.get(&path).await?;
    assert_eq!(unchanged.data_items().len(), 0, "a stale sync should grant nothing");

    let current = server.send(server.request(Method::PUT, &path).header("if-match", "\"2\"").json(&body)).await?;
    assert_eq!(current.status, StatusCode::OK, "a sync with the current ETag should succeed: {}", current.describe());
    assert_eq!(current.header("etag"), Some("\"3\""), "the sync should move the user to version 3");
});

api_test!(sync_rejects_bad_dry_run, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;

    let reply = sync(&server, &id, "?dry_run=perhaps", &json!({ "data": [] })).await?;

    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(reply.error()["source"]["parameter"], "dry_run", "the 400 should name the parameter");
});
