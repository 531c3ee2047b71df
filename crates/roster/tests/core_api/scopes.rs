//! Scope enforcement on every route: a token without the required scope gets 403, one with it does not.

use crate::common::{TestServer, assert_error};
use anyhow::{Context, ensure};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// One route and method that the router serves, written as in the OpenAPI description.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The scope a token needs; `None` for routes that need no token.
    pub scope: Option<&'static str>,
}

const fn route(method: &'static str, path: &'static str, scope: Option<&'static str>) -> Route {
    Route { method, path, scope }
}

/// Every route the router serves, with the scope it requires.
pub const ROUTES: &[Route] = &[
    route("GET", "/core/users", Some("users:read")),
    route("POST", "/core/users", Some("users:write")),
    route("GET", "/core/users/{id_or_email}", Some("users:read")),
    route("PATCH", "/core/users/{id_or_email}", Some("users:write")),
    route("PATCH", "/core/users/{id_or_email}/archive", Some("users:write")),
    route("PATCH", "/core/users/{id_or_email}/unarchive", Some("users:write")),
    route("GET", "/core/users/{id_or_email}/roles", Some("users:read")),
    route("PUT", "/core/users/{id_or_email}/roles", Some("roles:write")),
    route("GET", "/core/users/{id_or_email}/user_app_tokens", Some("admin")),
    route("POST", "/core/users/{id_or_email}/user_app_tokens", Some("admin")),
    route("DELETE", "/core/users/{id_or_email}/user_app_tokens", Some("admin")),
    route("DELETE", "/core/users/{id_or_email}/user_app_tokens/{token_id}", Some("admin")),
    route("GET", "/core/role_types", Some("users:read")),
    route("POST", "/core/role_types", Some("admin")),
    route("PATCH", "/core/role_types/{id}", Some("admin")),
    route("DELETE", "/core/role_types/{id}", Some("admin")),
    route("GET", "/core/action_logs", Some("audit:read")),
    route("GET", "/core/scheduled_actions", Some("users:read")),
    route("DELETE", "/core/scheduled_actions/{id}", Some("users:write")),
    route("POST", "/core/jml/plans", Some("users:write")),
    route("GET", "/core/jml/plans/{id}", Some("users:read")),
    route("GET", "/core/jml/plans/{id}/changes", Some("users:read")),
    route("GET", "/core/jml/mappings", Some("users:read")),
    route("GET", "/core/jml/mappings/{name}", Some("users:read")),
    route("PUT", "/core/jml/mappings/{name}", Some("users:write")),
    route("DELETE", "/core/jml/mappings/{name}", Some("users:write")),
    route("GET", "/core/jml/policies", Some("users:read")),
    route("GET", "/core/jml/policies/{name}", Some("users:read")),
    route("PUT", "/core/jml/policies/{name}", Some("users:write")),
    route("DELETE", "/core/jml/policies/{name}", Some("users:write")),
    route("POST", "/core/jml/plans/{id}/apply", Some("users:write")),
    route("GET", "/core/jml/runs/{id}", Some("users:read")),
    route("POST", "/core/jml/events", Some("users:write")),
    route("GET", "/core/access_review", Some("users:read")),
    route("POST", "/core/access_review/fix", Some("users:write")),
    route("GET", "/core/openapi.json", None),
    route("GET", "/healthz", None),
    route("GET", "/readyz", None),
];

/// The scopes other than `admin`; `admin` implies all of them.
const PLAIN_SCOPES: [&str; 4] = ["users:read", "users:write", "roles:write", "audit:read"];

/// One concrete request for a route, and the scopes it needs.
struct Case {
    /// The route as written in [`ROUTES`].
    route: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    /// Every scope the request needs; a token with exactly these succeeds.
    needs: &'static [&'static str],
    /// The status a token with the needed scopes gets.
    success: StatusCode,
    /// Send a JML feed upload (multipart form) instead of `body`.
    upload: bool,
}

/// Creates a user to act on and returns its id.
async fn target(server: &TestServer, email: &str) -> anyhow::Result<String> {
    server.create_user(json!({ "email": email })).await
}

/// Creates a user, archives it and returns its id.
async fn archived_target(server: &TestServer, email: &str, role_type_id: &str) -> anyhow::Result<String> {
    let id = server.create_user(json!({ "email": email, "roles_attributes": [{ "role_type_id": role_type_id }] })).await?;
    let reply = server.patch_empty(&format!("/core/users/{id}/archive")).await?;
    ensure!(reply.status == StatusCode::NO_CONTENT, "archiving {email} failed: {}", reply.describe());
    Ok(id)
}

/// Creates an unassigned role type and returns its id.
async fn spare_role_type(server: &TestServer, name: &str) -> anyhow::Result<String> {
    let reply = server.post("/core/role_types", &json!({ "data": { "type": "role_types", "attributes": { "name": name } } })).await?;
    ensure!(reply.status == StatusCode::CREATED, "creating role type {name} failed: {}", reply.describe());
    reply.id()
}

/// Builds one case per route and method that needs a token, each on its own fixtures, because the successful
/// request of some (archive, delete) changes them.
async fn cases(server: &TestServer) -> anyhow::Result<Vec<Case>> {
    let developer = server.role_type_id("developer").await?;
    let reader = target(server, "reader@example.com").await?;
    let edited = target(server, "edited@example.com").await?;
    let to_archive = target(server, "to-archive@example.com").await?;
    let to_unarchive = archived_target(server, "to-unarchive@example.com", &developer).await?;
    let to_restore = archived_target(server, "to-restore@example.com", &developer).await?;
    let synced = target(server, "synced@example.com").await?;
    let token_owner = target(server, "token-owner@example.com").await?;
    let (one_token, _) = server.create_user_token(&token_owner, "to-revoke", &["users:read"]).await?;
    let renamed_type = spare_role_type(server, "to_rename").await?;
    let deleted_type = spare_role_type(server, "to_delete").await?;
    let expiring = server
        .create_user(json!({ "email": "expiring@example.com", "roles_attributes": [{ "role_type_id": developer, "expires_at": "2099-01-01T00:00:00Z" }] }))
        .await?;
    let listed = server.get(&format!("/core/scheduled_actions?user={expiring}")).await?;
    let expiry = listed.ids().first().cloned().with_context(|| format!("the expiring grant scheduled no action: {}", listed.describe()))?;

    let user_body = |email: &str| Some(json!({ "data": { "type": "users", "attributes": { "email": email } } }));
    let with_role = Some(json!({ "data": { "type": "users", "attributes": {
        "email": "new-with-role@example.com", "roles_attributes": [{ "role_type_id": developer }],
    } } }));
    let token_body = Some(json!({ "data": { "type": "user_app_tokens", "attributes": { "name": "ci", "scopes": ["users:read"] } } }));
    let role_type_body = Some(json!({ "data": { "type": "role_types", "attributes": { "name": "new_role" } } }));
    let rename_body = Some(json!({ "data": { "type": "role_types", "attributes": { "description": "renamed" } } }));
    let sync_body = Some(json!({ "data": [{ "role_type_id": developer }] }));
    let patch_body = Some(json!({ "data": { "type": "users", "attributes": { "job_title": "Engineer" } } }));
    let restore_body = Some(json!({ "meta": { "restore_roles": true } }));

    let (plan_id, _) = crate::jml::plan(server, crate::jml::sales_feed(2).as_bytes(), &crate::jml::example("synthetic-mapping.toml")?,
        &crate::jml::example("synthetic-policy.toml")?, false).await?;
    let applied = crate::jml::start_apply(server, &plan_id, json!({})).await?;
    ensure!(applied.status == StatusCode::ACCEPTED, "applying a plan failed: {}", applied.describe());
    let run_id = applied.id()?;
    crate::jml::wait_run(server, &run_id).await?;
    let event_body = Some(json!({ "data": { "type": "jml_events", "attributes": {
        "source": "synthetic", "event": "mover", "person": { "unique_id": "E1", "last_name": "Person", "department": "Engineering" },
    } } }));

    let mapping_body = Some(json!({ "data": { "attributes": { "body": crate::jml::example("synthetic-mapping.toml")? } } }));
    let policy_body = Some(json!({ "data": { "attributes": { "body": crate::jml::example("synthetic-policy.toml")? } } }));
    for (collection, body) in [("mappings", &mapping_body), ("policies", &policy_body)] {
        for name in ["kept", "to-delete"] {
            let stored = server.put(&format!("/core/jml/{collection}/{name}"), body.as_ref().context("no body")?).await?;
            ensure!(stored.status == StatusCode::CREATED, "storing {collection}/{name} failed: {}", stored.describe());
        }
    }

    let case = |route, method, path: String, body, needs, success| Case { route, method, path, body, needs, success, upload: false };
    Ok(vec![
        Case { upload: true, ..case("/core/jml/plans", Method::POST, "/core/jml/plans".into(), None, &["users:write"], StatusCode::CREATED) },
        case("/core/jml/plans/{id}", Method::GET, format!("/core/jml/plans/{plan_id}"), None, &["users:read"], StatusCode::OK),
        case(
            "/core/jml/plans/{id}/apply",
            Method::POST,
            format!("/core/jml/plans/{plan_id}/apply"),
            None,
            &["users:write", "roles:write"],
            StatusCode::ACCEPTED,
        ),
        case("/core/jml/plans/{id}/changes", Method::GET, format!("/core/jml/plans/{plan_id}/changes"), None, &["users:read"], StatusCode::OK),
        case("/core/jml/mappings", Method::GET, "/core/jml/mappings".into(), None, &["users:read"], StatusCode::OK),
        case("/core/jml/mappings/{name}", Method::GET, "/core/jml/mappings/kept".into(), None, &["users:read"], StatusCode::OK),
        case("/core/jml/mappings/{name}", Method::PUT, "/core/jml/mappings/new".into(), mapping_body, &["users:write"], StatusCode::CREATED),
        case("/core/jml/mappings/{name}", Method::DELETE, "/core/jml/mappings/to-delete".into(), None, &["users:write"], StatusCode::NO_CONTENT),
        case("/core/jml/policies", Method::GET, "/core/jml/policies".into(), None, &["users:read"], StatusCode::OK),
        case("/core/jml/policies/{name}", Method::GET, "/core/jml/policies/kept".into(), None, &["users:read"], StatusCode::OK),
        case("/core/jml/policies/{name}", Method::PUT, "/core/jml/policies/new".into(), policy_body, &["users:write"], StatusCode::CREATED),
        case("/core/jml/policies/{name}", Method::DELETE, "/core/jml/policies/to-delete".into(), None, &["users:write"], StatusCode::NO_CONTENT),
        case("/core/jml/runs/{id}", Method::GET, format!("/core/jml/runs/{run_id}"), None, &["users:read"], StatusCode::OK),
        case("/core/access_review", Method::GET, "/core/access_review".into(), None, &["users:read"], StatusCode::OK),
        case("/core/access_review/fix", Method::POST, "/core/access_review/fix".into(), None, &["users:write", "roles:write"], StatusCode::OK),
        case("/core/jml/events", Method::POST, "/core/jml/events".into(), event_body, &["users:write", "roles:write"], StatusCode::OK),
        case("/core/users", Method::GET, "/core/users".into(), None, &["users:read"], StatusCode::OK),
        case("/core/users", Method::POST, "/core/users".into(), user_body("new@example.com"), &["users:write"], StatusCode::CREATED),
        case("/core/users", Method::POST, "/core/users".into(), with_role, &["users:write", "roles:write"], StatusCode::CREATED),
        case("/core/users/{id_or_email}", Method::GET, format!("/core/users/{reader}"), None, &["users:read"], StatusCode::OK),
        case("/core/users/{id_or_email}", Method::PATCH, format!("/core/users/{edited}"), patch_body, &["users:write"], StatusCode::OK),
        case(
            "/core/users/{id_or_email}/archive",
            Method::PATCH,
            format!("/core/users/{to_archive}/archive"),
            None,
            &["users:write"],
            StatusCode::NO_CONTENT,
        ),
        case(
            "/core/users/{id_or_email}/unarchive",
            Method::PATCH,
            format!("/core/users/{to_unarchive}/unarchive"),
            None,
            &["users:write"],
            StatusCode::OK,
        ),
        case(
            "/core/users/{id_or_email}/unarchive",
            Method::PATCH,
            format!("/core/users/{to_restore}/unarchive"),
            restore_body,
            &["users:write", "roles:write"],
            StatusCode::OK,
        ),
        case("/core/users/{id_or_email}/roles", Method::GET, format!("/core/users/{reader}/roles"), None, &["users:read"], StatusCode::OK),
        case("/core/users/{id_or_email}/roles", Method::PUT, format!("/core/users/{synced}/roles"), sync_body, &["roles:write"], StatusCode::OK),
        case(
            "/core/users/{id_or_email}/user_app_tokens",
            Method::GET,
            format!("/core/users/{token_owner}/user_app_tokens"),
            None,
            &["admin"],
            StatusCode::OK,
        ),
        case(
            "/core/users/{id_or_email}/user_app_tokens",
            Method::POST,
            format!("/core/users/{token_owner}/user_app_tokens"),
            token_body,
            &["admin"],
            StatusCode::CREATED,
        ),
        case(
            "/core/users/{id_or_email}/user_app_tokens/{token_id}",
            Method::DELETE,
            format!("/core/users/{token_owner}/user_app_tokens/{one_token}"),
            None,
            &["admin"],
            StatusCode::NO_CONTENT,
        ),
        case(
            "/core/users/{id_or_email}/user_app_tokens",
            Method::DELETE,
            format!("/core/users/{token_owner}/user_app_tokens"),
            None,
            &["admin"],
            StatusCode::NO_CONTENT,
        ),
        case("/core/role_types", Method::GET, "/core/role_types".into(), None, &["users:read"], StatusCode::OK),
        case("/core/role_types", Method::POST, "/core/role_types".into(), role_type_body, &["admin"], StatusCode::CREATED),
        case("/core/role_types/{id}", Method::PATCH, format!("/core/role_types/{renamed_type}"), rename_body, &["admin"], StatusCode::OK),
        case("/core/role_types/{id}", Method::DELETE, format!("/core/role_types/{deleted_type}"), None, &["admin"], StatusCode::NO_CONTENT),
        case("/core/action_logs", Method::GET, "/core/action_logs".into(), None, &["audit:read"], StatusCode::OK),
        case("/core/scheduled_actions", Method::GET, "/core/scheduled_actions".into(), None, &["users:read"], StatusCode::OK),
        // Cancelling a grant expiry keeps the role granted, so it also needs roles:write.
        case(
            "/core/scheduled_actions/{id}",
            Method::DELETE,
            format!("/core/scheduled_actions/{expiry}"),
            None,
            &["users:write", "roles:write"],
            StatusCode::NO_CONTENT,
        ),
    ])
}

/// Creates tokens for every scope set the cases use, owned by one active user, keyed by their sorted scopes.
async fn tokens_for(server: &TestServer, cases: &[Case]) -> anyhow::Result<BTreeMap<Vec<&'static str>, String>> {
    let owner = target(server, "robot@example.com").await?;
    let mut sets: BTreeSet<Vec<&'static str>> = BTreeSet::new();
    for case in cases {
        sets.insert(sorted(case.needs.to_vec()));
        for missing in case.needs {
            sets.insert(all_but(missing));
        }
    }

    let mut tokens = BTreeMap::new();
    for (index, scopes) in sets.into_iter().enumerate() {
        let (_, secret) = server.create_user_token(&owner, &format!("scopes-{index}"), &scopes).await?;
        tokens.insert(scopes, secret);
    }
    Ok(tokens)
}

fn sorted(mut scopes: Vec<&'static str>) -> Vec<&'static str> {
    scopes.sort_unstable();
    scopes
}

/// Returns every plain scope except `missing`. For `admin` that is every plain scope, which together are not admin.
fn all_but(missing: &str) -> Vec<&'static str> {
    sorted(PLAIN_SCOPES.into_iter().filter(|s| *s != missing).collect())
}

async fn send_case(server: &TestServer, token: &str, case: &Case) -> anyhow::Result<crate::common::Reply> {
    let mut request = server.request_as(token, case.method.clone(), &case.path);
    if case.upload {
        request = request.multipart(crate::jml::upload_form(
            crate::jml::sales_feed(1).as_bytes(),
            &crate::jml::example("synthetic-mapping.toml")?,
            &crate::jml::example("synthetic-policy.toml")?,
            false,
        ));
    }
    if let Some(body) = &case.body {
        request = request.json(body);
    }
    server.send(request).await
}

api_test!(every_route_checks_scope, |server| {
    let cases = cases(&server).await?;
    let tokens = tokens_for(&server, &cases).await?;

    let covered: BTreeSet<(String, &str)> = cases.iter().map(|c| (c.method.to_string(), c.route)).collect();
    for route in ROUTES.iter().filter(|r| r.scope.is_some()) {
        assert!(covered.contains(&(route.method.to_string(), route.path)), "no case checks {} {}", route.method, route.path);
        let declared = route.scope.unwrap_or_default();
        for case in cases.iter().filter(|c| c.route == route.path && c.method.as_str() == route.method) {
            assert!(case.needs.contains(&declared), "a case of {} {} should need {declared}, not {:?}", route.method, route.path, case.needs);
        }
    }

    for case in &cases {
        let described = format!("{} {} needing {:?}", case.method, case.path, case.needs);
        for missing in case.needs {
            let lacking = &tokens[&all_but(missing)];
            // The server rejects an upload before reading its body and may close the connection while the client
            // still writes the body, which loses the reply; such a send is tried again up to three times.
            let mut rejected = send_case(&server, lacking, case).await;
            for _ in 0..3 {
                if !(case.upload && rejected.is_err()) {
                    break;
                }
                rejected = send_case(&server, lacking, case).await;
            }
            let rejected = rejected?;
            assert_error(&rejected, StatusCode::FORBIDDEN, "forbidden");
            let detail = rejected.error()["detail"].as_str().unwrap_or("");
            assert!(detail.contains(missing), "the 403 for {described} should name the missing scope {missing}: {detail}");
        }

        let allowed = send_case(&server, &tokens[&sorted(case.needs.to_vec())], case).await?;
        assert_eq!(allowed.status, case.success, "{described} with exactly those scopes: {}", allowed.describe());
    }
});

api_test!(admin_implies_every_scope, |server| {
    let owner = server.create_user(json!({ "email": "owner@example.com" })).await?;
    let (_, admin) = server.create_user_token(&owner, "second-admin", &["admin"]).await?;

    for (method, path) in [(Method::GET, "/core/users"), (Method::GET, "/core/action_logs"), (Method::GET, "/core/role_types")] {
        let reply = server.send(server.request_as(&admin, method.clone(), path)).await?;
        assert_eq!(reply.status, StatusCode::OK, "an admin token should pass {method} {path}: {}", reply.describe());
    }
    let created = server.send(server.request_as(&admin, Method::POST, "/core/users").json(&crate::common::user_document(json!({
        "email": "by-admin@example.com",
    }))))
    .await?;
    assert_eq!(created.status, StatusCode::CREATED, "an admin token should create users: {}", created.describe());
});

api_test!(rejected_body_closes_connection, |server| {
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    let form = crate::jml::upload_form(
        crate::jml::sales_feed(1).as_bytes(),
        &crate::jml::example("synthetic-mapping.toml")?,
        &crate::jml::example("synthetic-policy.toml")?,
        false,
    );
    // The server rejects the upload before it reads the body, so the connection cannot carry another request.
    let rejected = server.send(server.request_as(&reader, Method::POST, "/core/jml/plans").multipart(form)).await?;
    assert_error(&rejected, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(rejected.headers.get("connection").and_then(|v| v.to_str().ok()), Some("close"), "{:?}", rejected.headers);

    let read = server.send(server.request_as(&reader, Method::GET, "/core/users")).await?;
    assert_eq!(read.status, StatusCode::OK, "{}", read.describe());
    assert_eq!(read.headers.get("connection"), None, "a request without a body keeps its connection");
    let missing = server.send(server.request_as(&reader, Method::GET, "/core/users/999999")).await?;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers.get("connection"), None, "an error without a request body keeps the connection");
});
