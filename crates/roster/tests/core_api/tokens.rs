//! API tokens: `/core/users/{id}/user_app_tokens`, `roster token ...`, and every reason for a 401.

use crate::common::{TestServer, assert_error, assert_invalid};
use anyhow::ensure;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn token_document(attributes: Value) -> Value {
    json!({ "data": { "type": "user_app_tokens", "attributes": attributes } })
}

async fn status_with(server: &TestServer, token: &str) -> anyhow::Result<StatusCode> {
    Ok(server.send(server.request_as(token, Method::GET, "/core/users")).await?.status)
}

api_test!(user_token_lifecycle, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let path = format!("/core/users/{id}/user_app_tokens");

    let created = server
        .post(&path, &token_document(json!({ "name": "ada-laptop", "scopes": ["users:read"], "expires_in_days": 30 })))
        .await?;

    assert_eq!(created.status, StatusCode::CREATED, "POST user_app_tokens: {}", created.describe());
    let secret = created.attr("token").as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("rst_"), "the secret should start with rst_: {secret:?}");
    assert!(secret.len() >= 4 + 43, "the secret should carry 256 random bits in base64: {secret:?}");
    assert_eq!(created.attr("scopes"), &json!(["users:read"]), "the token should carry the requested scope");
    assert_eq!(created.attr("user_id"), id.as_str(), "the token should belong to the user");
    assert!(created.attr("expires_at").is_string(), "expires_in_days should set expires_at");
    assert_eq!(created.attr("active"), true, "a new token should be active");
    let token_id = created.id()?;
    assert_eq!(status_with(&server, &secret).await?, StatusCode::OK, "the new token should work");

    let listed = server.get(&path).await?;
    assert_eq!(listed.status, StatusCode::OK, "GET user_app_tokens: {}", listed.describe());
    assert_eq!(listed.ids(), vec![token_id.clone()], "the list should hold the user's one token");
    assert!(!listed.text.contains(&secret), "the list should never contain the secret");
    assert!(listed.data_items()[0]["attributes"].get("token").is_none(), "listed tokens should have no token attribute");

    let revoked = server.delete(&format!("{path}/{token_id}")).await?;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "DELETE one token: {}", revoked.describe());
    assert_eq!(status_with(&server, &secret).await?, StatusCode::UNAUTHORIZED, "a revoked token should get 401");
    let after = server.get(&path).await?;
    assert!(after.data_items()[0]["attributes"]["revoked_at"].is_string(), "the list should show revoked_at: {}", after.describe());
    assert_eq!(after.data_items()[0]["attributes"]["active"], false, "a revoked token should be listed as inactive");
});

api_test!(delete_revokes_all_tokens, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let (_, first) = server.create_user_token(&id, "one", &["users:read"]).await?;
    let (_, second) = server.create_user_token(&id, "two", &["users:read"]).await?;
    let other = server.create_user(json!({ "email": "grace@example.com" })).await?;
    let (_, bystander) = server.create_user_token(&other, "three", &["users:read"]).await?;

    let reply = server.delete(&format!("/core/users/{id}/user_app_tokens")).await?;

    assert_eq!(reply.status, StatusCode::NO_CONTENT, "DELETE user_app_tokens: {}", reply.describe());
    assert_eq!(status_with(&server, &first).await?, StatusCode::UNAUTHORIZED, "the user's first token should be revoked");
    assert_eq!(status_with(&server, &second).await?, StatusCode::UNAUTHORIZED, "the user's second token should be revoked");
    assert_eq!(status_with(&server, &bystander).await?, StatusCode::OK, "another user's token should keep working");
});

api_test!(other_users_token_is_404, |server| {
    let ada = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let grace = server.create_user(json!({ "email": "grace@example.com" })).await?;
    let (token_id, secret) = server.create_user_token(&grace, "grace-laptop", &["users:read"]).await?;

    let reply = server.delete(&format!("/core/users/{ada}/user_app_tokens/{token_id}")).await?;

    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(status_with(&server, &secret).await?, StatusCode::OK, "the token of another user should stay valid");
});

api_test!(token_create_points_at_field, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let path = format!("/core/users/{id}/user_app_tokens");
    let cases = [
        ("unknown scope", json!({ "name": "x", "scopes": ["users:read", "superuser"] }), "invalid", "/data/attributes/scopes/1"),
        ("no scope", json!({ "name": "x", "scopes": [] }), "blank", "/data/attributes/scopes"),
        ("no name", json!({ "scopes": ["users:read"] }), "blank", "/data/attributes/name"),
        ("zero days", json!({ "name": "x", "scopes": ["users:read"], "expires_in_days": 0 }), "invalid", "/data/attributes/expires_in_days"),
        ("days not a number", json!({ "name": "x", "scopes": ["users:read"], "expires_in_days": "7" }), "invalid", "/data/attributes/expires_in_days"),
    ];

    for (case, attributes, code, pointer) in cases {
        let reply = server.post(&path, &token_document(attributes)).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.describe());
        assert_invalid(&reply, code, pointer);
    }
    let listed = server.get(&path).await?;
    assert_eq!(listed.data_items().len(), 0, "no rejected request should have created a token");
});

api_test!(unauthorized_is_401, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let (revoked_id, revoked) = server.create_user_token(&id, "revoked", &["users:read"]).await?;
    let reply = server.delete(&format!("/core/users/{id}/user_app_tokens/{revoked_id}")).await?;
    ensure!(reply.status == StatusCode::NO_CONTENT, "revoking failed: {}", reply.describe());
    let (expired_id, expired) = server.create_user_token(&id, "expired", &["users:read"]).await?;
    let moved = server
        .execute_sql(&format!("UPDATE tokens SET expires_at = '2020-01-01T00:00:00.000000Z' WHERE id = {expired_id}"))
        .await?;
    ensure!(moved == 1, "moving the expiry into the past changed {moved} rows");
    let unknown = format!("rst_{}", "A".repeat(43));

    let cases = [
        ("a missing header", None, None),
        ("a Basic header", Some("Basic YWRhOnNlY3JldA=="), None),
        ("a token that is not Roster's", Some("Bearer hello"), None),
        ("an unknown token", None, Some(unknown.as_str())),
        ("a revoked token", None, Some(revoked.as_str())),
        ("an expired token", None, Some(expired.as_str())),
    ];
    for (case, header, token) in cases {
        let mut request = server.request_anonymous(Method::GET, "/core/users");
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let reply = server.send(request).await?;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case} should get 401: {}", reply.describe());
        assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{case}: a 401 should challenge with Bearer");
    }
});

api_test!(cli_token_create, |server| {
    let secret = server.create_cli_token("ci", &["users:read", "audit:read"]).await?;

    assert!(secret.starts_with("rst_"), "stdout should start with the token: {secret:?}");
    assert!(!secret.contains(char::is_whitespace), "stdout should hold only the token: {secret:?}");
    assert_eq!(status_with(&server, &secret).await?, StatusCode::OK, "the CLI token should read users");
    let audit = server.send(server.request_as(&secret, Method::GET, "/core/action_logs")).await?;
    assert_eq!(audit.status, StatusCode::OK, "the CLI token should read the audit trail: {}", audit.describe());
    let write = server
        .send(server.request_as(&secret, Method::POST, "/core/users").json(&crate::common::user_document(json!({ "email": "x@example.com" }))))
        .await?;
    assert_error(&write, StatusCode::FORBIDDEN, "forbidden");

    let listed = server.cli(&["token", "list"]).await?;
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(listed.status.success(), "roster token list failed: {}", String::from_utf8_lossy(&listed.stderr));
    assert!(listing.lines().any(|l| l.split_whitespace().nth(1) == Some("ci")), "roster token list should show the ci token: {listing}");
    assert!(!listing.contains(&secret), "roster token list should never print a secret");
});

api_test!(cli_token_for_user, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;

    let output = server
        .cli(&["token", "create", "--name", "ada-cli", "--scope", "users:read", "--user", "ADA@example.com", "--expires-in", "7"])
        .await?;

    assert!(output.status.success(), "roster token create --user failed: {}", String::from_utf8_lossy(&output.stderr));
    let secret = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let listed = server.get(&format!("/core/users/{id}/user_app_tokens")).await?;
    let token = listed.data_items().first().cloned().unwrap_or_default();
    assert_eq!(token["attributes"]["name"], "ada-cli", "the CLI token should belong to the user: {}", listed.describe());
    assert!(token["attributes"]["expires_at"].is_string(), "--expires-in should set expires_at: {token}");
    assert_eq!(status_with(&server, &secret).await?, StatusCode::OK, "the user's CLI token should work");

    let token_id = token["id"].as_str().unwrap_or_default().to_string();
    let revoked = server.cli(&["token", "revoke", &token_id]).await?;
    assert!(revoked.status.success(), "roster token revoke failed: {}", String::from_utf8_lossy(&revoked.stderr));
    assert_eq!(status_with(&server, &secret).await?, StatusCode::UNAUTHORIZED, "a token revoked by the CLI should get 401 at once");

    let rejected = server.cli(&["token", "create", "--name", "x", "--scope", "everything"]).await?;
    assert!(!rejected.status.success(), "an unknown scope should make roster token create fail");
    assert!(rejected.stdout.is_empty(), "a failed roster token create should print nothing on stdout");
});
