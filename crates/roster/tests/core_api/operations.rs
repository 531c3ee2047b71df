//! Health probes, the OpenAPI description, and what a restart keeps.

use crate::common::{Reply, TestServer};
use crate::scopes::ROUTES;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const ADMIN_TOKEN_NOTICE: &str = "Created the first admin token";

api_test!(healthz_needs_no_token, |server| {
    let reply = server.send(server.request_anonymous(Method::GET, "/healthz")).await?;

    assert_eq!(reply.status, StatusCode::OK, "GET /healthz should answer 200 without a token: {}", reply.describe());
    assert_eq!(reply.body["status"], "ok", "GET /healthz should report status ok: {}", reply.describe());
});

api_test!(readyz_checks_database, |server| {
    let reply = server.send(server.request_anonymous(Method::GET, "/readyz")).await?;

    assert_eq!(reply.status, StatusCode::OK, "GET /readyz should answer 200 while the database answers: {}", reply.describe());
    assert_eq!(reply.body["status"], "ready", "GET /readyz should report status ready: {}", reply.describe());
});

api_test!(openapi_lists_every_route, |server| {
    let reply = server.send(server.request_anonymous(Method::GET, "/core/openapi.json")).await?;
    assert_eq!(reply.status, StatusCode::OK, "GET /core/openapi.json should answer 200 without a token: {}", reply.describe());

    let version = reply.body["openapi"].as_str().unwrap_or("");
    assert!(version.starts_with("3.1"), "the description should be OpenAPI 3.1, not {version:?}");

    let paths = reply.body["paths"].as_object().cloned().unwrap_or_default();
    let mut documented = BTreeSet::new();
    for (path, item) in &paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> =
        ROUTES.iter().map(|route| (route.method.to_string(), route.path.to_string())).collect();

    for route in &served {
        assert!(documented.contains(route), "the router serves {} {}, but the description's paths leave it out", route.0, route.1);
    }
    for route in &documented {
        assert!(served.contains(route), "the description lists {} {}, which the route table of this test lacks", route.0, route.1);
    }
});

api_test!(unknown_route_is_json_404, |server| {
    let reply = server.get("/core/no_such_thing").await?;

    crate::common::assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
});

api_test!(wrong_method_is_json_405, |server| {
    let reply = server.delete("/core/users").await?;

    crate::common::assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
});

/// Reads what a restart must keep, through the API.
async fn observable_state(server: &TestServer, user_id: &str) -> anyhow::Result<Vec<(String, Value)>> {
    let mut state = Vec::new();
    for path in [
        format!("/core/users/{user_id}"),
        format!("/core/users/{user_id}/roles"),
        "/core/users?sort=id".to_string(),
        "/core/users?archived=true".to_string(),
        "/core/role_types".to_string(),
        "/core/action_logs?page[size]=100".to_string(),
        format!("/core/users/{user_id}/user_app_tokens"),
    ] {
        let reply: Reply = server.get(&path).await?;
        anyhow::ensure!(reply.status == StatusCode::OK, "GET {path} failed: {}", reply.describe());
        state.push((path, reply.body));
    }
    Ok(state)
}

api_test!(restart_keeps_all_data, |server| {
    let first_start = server.startup_output().join("\n");
    assert!(first_start.contains(ADMIN_TOKEN_NOTICE), "the first start should announce the admin token file: {first_start}");
    assert!(!first_start.contains(server.admin_token()), "the first start should never print the token itself");

    let developer = server.role_type_id("developer").await?;
    let role_type = server
        .post("/core/role_types", &json!({ "data": { "type": "role_types", "attributes": { "name": "auditor" } } }))
        .await?;
    assert_eq!(role_type.status, StatusCode::CREATED, "creating a role type failed: {}", role_type.describe());
    let ada = server
        .create_user(json!({
            "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "unique_id": "E-1",
            "custom_attributes": { "cost_centre": "CC-1" },
            "roles_attributes": [{ "role_type_id": developer, "reason": "joiner" }],
        }))
        .await?;
    let grace = server.create_user(json!({ "email": "grace@example.com" })).await?;
    let archived = server.patch_empty(&format!("/core/users/{grace}/archive")).await?;
    assert_eq!(archived.status, StatusCode::NO_CONTENT, "archiving failed: {}", archived.describe());
    let (_, ada_token) = server.create_user_token(&ada, "ada-laptop", &["users:read"]).await?;
    let token_file = std::fs::read_to_string(server.data_dir().join("admin-token"))?;
    let before = observable_state(&server, &ada).await?;

    let status = server.restart().await?;

    assert!(status.success(), "the server should exit cleanly on SIGTERM, not with {status}");
    let second_start = server.startup_output().join("\n");
    assert!(!second_start.contains(ADMIN_TOKEN_NOTICE), "a restart should not create another admin token: {second_start}");
    let token_file_after = std::fs::read_to_string(server.data_dir().join("admin-token"))?;
    assert_eq!(token_file_after, token_file, "a restart should leave the admin token file as it was");
    let admin_tokens = server.query_i64("SELECT COUNT(*) FROM tokens WHERE name = 'admin'").await?;
    assert_eq!(admin_tokens, 1, "the database should hold exactly one admin token after a restart");

    let after = observable_state(&server, &ada).await?;
    for ((path, old), (_, new)) in before.iter().zip(&after) {
        assert_eq!(new, old, "GET {path} should answer the same after a restart");
    }
    let with_user_token = server.send(server.request_as(&ada_token, Method::GET, "/core/users")).await?;
    assert_eq!(with_user_token.status, StatusCode::OK, "a user's token should still work after a restart: {}", with_user_token.describe());
});

api_test!(logs_hold_no_token, |server| {
    let ada = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let (_, secret) = server.create_user_token(&ada, "ada-laptop", &["users:read"]).await?;
    let reply = server.send(server.request_as(&secret, Method::GET, "/core/users?query=ada")).await?;
    assert_eq!(reply.status, StatusCode::OK, "listing users with the new token failed: {}", reply.describe());
    server.stop().await?;

    let log = server.log_text();
    assert!(log.contains("request"), "the server should have logged its requests: {log}");
    assert!(!log.contains(server.admin_token()), "the log should not contain the admin token");
    assert!(!log.contains(&secret), "the log should not contain a created token");
    assert!(!log.contains("ada@example.com"), "the log should not contain an email from a path or query");
});
