//! Creating, reading and updating users: documents, lookups, ETags, validation and uniqueness.

use crate::common::{assert_error, assert_invalid, encode_segment, user_document};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

api_test!(create_returns_user_and_roles, |server| {
    let workspace_member = server.role_type_id("workspace_member").await?;
    let body = user_document(json!({
        "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "unique_id": "E-1001",
        "external_id": "okta-1", "mobile_number": "+44 20 7946 0958", "job_title": "Analyst",
        "department": "Engineering", "start_date": "2026-01-05", "end_date": "2027-01-04",
        "custom_attributes": { "cost_centre": "CC-12" },
        "roles_attributes": [{ "role_type_id": workspace_member, "resource_type": "workspace", "resource_id": "ws-1" }],
    }));

    let reply = server.post("/core/users", &body).await?;

    assert_eq!(reply.status, StatusCode::CREATED, "creating a user should answer 201: {}", reply.describe());
    let id = reply.id()?;
    assert!(id.parse::<u64>().is_ok(), "the id should be a numeric string, not {id:?}");
    assert_eq!(reply.header("location"), Some(format!("/core/users/{id}").as_str()), "Location should name the new user");
    assert_eq!(reply.header("etag"), Some("\"1\""), "a new user should have ETag \"1\"");
    assert_eq!(reply.data()["type"], "users", "the resource type should be users");
    let expected = [
        ("first_name", json!("Ada")),
        ("last_name", json!("Lovelace")),
        ("email", json!("Ada@Example.com")),
        ("user_name", json!("Ada@Example.com")),
        ("unique_id", json!("E-1001")),
        ("external_id", json!("okta-1")),
        ("mobile_number", json!("+44 20 7946 0958")),
        ("job_title", json!("Analyst")),
        ("department", json!("Engineering")),
        ("manager_id", Value::Null),
        ("start_date", json!("2026-01-05")),
        ("end_date", json!("2027-01-04")),
        ("custom_attributes", json!({ "cost_centre": "CC-12" })),
        ("status", json!("active")),
        ("archived_at", Value::Null),
    ];
    for (name, value) in expected {
        assert_eq!(reply.attr(name), &value, "attribute {name} of the created user");
    }
    assert_eq!(reply.attr("created_at"), reply.attr("updated_at"), "a new user's updated_at should equal created_at");

    let roles = reply.body["included"].as_array().cloned().unwrap_or_default();
    assert_eq!(roles.len(), 1, "the created user should include its one role: {}", reply.describe());
    let role = &roles[0]["attributes"];
    assert_eq!(role["role_type_name"], "workspace_member", "the included role should name its role type");
    assert_eq!(role["resource_id"], "ws-1", "the included role should keep its resource id");
    assert_eq!(role["source"], "direct", "a role granted at creation should be direct");
    assert_eq!(role["approved_by"], "admin", "approved_by should default to the acting token's name");
    let linked = reply.data()["relationships"]["roles"]["data"][0]["id"].clone();
    assert_eq!(linked, roles[0]["id"], "the user's roles relationship should link the included role");
});

api_test!(get_by_id_and_email, |server| {
    let id = server.create_user(json!({ "email": "ada+ops@example.com", "first_name": "Ada" })).await?;

    let by_id = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(by_id.status, StatusCode::OK, "GET by id: {}", by_id.describe());
    assert_eq!(by_id.header("etag"), Some("\"1\""), "GET should return the user's ETag");
    assert!(by_id.data()["relationships"]["roles"]["data"].is_array(), "GET should include the roles relationship");

    for form in ["ada+ops@example.com", "ADA+OPS@Example.COM"] {
        let reply = server.get(&format!("/core/users/{}", encode_segment(form))).await?;
        assert_eq!(reply.status, StatusCode::OK, "GET by the email {form}: {}", reply.describe());
        assert_eq!(reply.id()?, id, "GET by the email {form} should find the same user");
    }
});

api_test!(unknown_user_is_404, |server| {
    let known = server.create_user(json!({ "email": "known@example.com" })).await?;
    let attributes = user_document(json!({ "job_title": "x" }));

    let cases = [
        (Method::GET, "/core/users/999999".to_string(), None),
        (Method::GET, "/core/users/nobody%40example.com".to_string(), None),
        (Method::GET, "/core/users/not-an-id".to_string(), None),
        (Method::PATCH, "/core/users/999999".to_string(), Some(attributes)),
        (Method::PATCH, "/core/users/999999/archive".to_string(), None),
        (Method::PATCH, "/core/users/999999/unarchive".to_string(), None),
        (Method::GET, "/core/users/999999/roles".to_string(), None),
        (Method::PUT, "/core/users/999999/roles".to_string(), Some(json!({ "data": [] }))),
        (Method::GET, "/core/users/999999/user_app_tokens".to_string(), None),
        (Method::DELETE, format!("/core/users/{known}/user_app_tokens/999999"), None),
    ];
    for (method, path, body) in cases {
        let mut request = server.request(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let reply = server.send(request).await?;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.describe());
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
});

api_test!(patch_changes_only_given, |server| {
    let id = server
        .create_user(json!({
            "email": "ada@example.com", "first_name": "Ada", "mobile_number": "+1 555 0100",
            "job_title": "Analyst", "custom_attributes": { "a": "1", "b": "2" },
        }))
        .await?;
    let before = server.get(&format!("/core/users/{id}")).await?;

    let patch = user_document(json!({ "job_title": "Engineer", "mobile_number": null, "custom_attributes": { "c": "3" } }));
    let reply = server.patch(&format!("/core/users/{id}"), &patch).await?;

    assert_eq!(reply.status, StatusCode::OK, "PATCH should answer 200: {}", reply.describe());
    assert_eq!(reply.attr("job_title"), "Engineer", "PATCH should set job_title");
    assert_eq!(reply.attr("mobile_number"), &Value::Null, "null should clear mobile_number");
    assert_eq!(reply.attr("custom_attributes"), &json!({ "c": "3" }), "custom_attributes should be replaced as a whole");
    for name in ["first_name", "email", "user_name", "created_at", "status"] {
        assert_eq!(reply.attr(name), before.attr(name), "PATCH should leave {name} alone");
    }
    assert_ne!(reply.attr("updated_at"), before.attr("updated_at"), "PATCH should move updated_at");
    assert_eq!(reply.header("etag"), Some("\"2\""), "PATCH should increment the version");

    let again = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(again.data(), reply.data(), "GET after PATCH should return what PATCH returned");
});

api_test!(patch_without_change_keeps_version, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com", "job_title": "Analyst" })).await?;
    let audit_before = server.audit_count().await?;

    let reply = server.patch(&format!("/core/users/{id}"), &user_document(json!({ "job_title": "Analyst" }))).await?;

    assert_eq!(reply.status, StatusCode::OK, "a PATCH that changes nothing should still answer 200: {}", reply.describe());
    assert_eq!(reply.header("etag"), Some("\"1\""), "a PATCH that changes nothing should keep the version");
    assert_eq!(server.audit_count().await?, audit_before, "a PATCH that changes nothing should write no audit entry");
});

api_test!(stale_etag_changes_nothing, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com", "job_title": "Analyst" })).await?;
    let path = format!("/core/users/{id}");
    let first = server.get(&path).await?;
    let stale = first.header("etag").unwrap_or_default().to_string();
    assert_eq!(stale, "\"1\"", "GET should return the ETag of version 1");

    let current = server
        .send(server.request(Method::PATCH, &path).header("if-match", &stale).json(&user_document(json!({ "job_title": "Engineer" }))))
        .await?;
    assert_eq!(current.status, StatusCode::OK, "PATCH with the current ETag should succeed: {}", current.describe());
    assert_eq!(current.header("etag"), Some("\"2\""), "PATCH should return the new ETag");
    let audit_before = server.audit_count().await?;

    let rejected = server
        .send(server.request(Method::PATCH, &path).header("if-match", &stale).json(&user_document(json!({ "job_title": "Manager" }))))
        .await?;

    assert_error(&rejected, StatusCode::PRECONDITION_FAILED, "stale_etag");
    assert_eq!(rejected.error()["source"]["header"], "If-Match", "the 412 should point at the If-Match header");
    let after = server.get(&path).await?;
    assert_eq!(after.attr("job_title"), "Engineer", "a stale PATCH should not change the user");
    assert_eq!(after.header("etag"), Some("\"2\""), "a stale PATCH should not change the version");
    assert_eq!(server.audit_count().await?, audit_before, "a stale PATCH should write no audit entry");

    let weak = server
        .send(server.request(Method::PATCH, &path).header("if-match", "W/\"2\"").json(&user_document(json!({ "job_title": "Lead" }))))
        .await?;
    assert_eq!(weak.status, StatusCode::OK, "a weak form of the current ETag should be accepted: {}", weak.describe());
});

api_test!(create_points_at_invalid_field, |server| {
    let developer = server.role_type_id("developer").await?;
    let workspace_member = server.role_type_id("workspace_member").await?;
    let cases = [
        ("bad email", json!({ "email": "not-an-address" }), "invalid", "/data/attributes/email"),
        ("missing email", json!({ "first_name": "Ada" }), "blank", "/data/attributes/email"),
        ("email of wrong type", json!({ "email": 42 }), "invalid", "/data/attributes/email"),
        (
            "unknown role type",
            json!({ "email": "a@example.com", "roles_attributes": [{ "role_type_id": "999999" }] }),
            "not_found",
            "/data/attributes/roles_attributes/0/role_type_id",
        ),
        ("unknown manager", json!({ "email": "a@example.com", "manager_id": "999999" }), "not_found", "/data/attributes/manager_id"),
        (
            "scoped role without resource",
            json!({ "email": "a@example.com", "roles_attributes": [{ "role_type_id": workspace_member }] }),
            "invalid",
            "/data/attributes/roles_attributes/0/resource_type",
        ),
        (
            "scoped role with wrong resource type",
            json!({ "email": "a@example.com", "roles_attributes": [
                { "role_type_id": workspace_member, "resource_type": "runbook", "resource_id": "rb-1" }] }),
            "invalid",
            "/data/attributes/roles_attributes/0/resource_type",
        ),
        (
            "global role with resource",
            json!({ "email": "a@example.com", "roles_attributes": [
                { "role_type_id": developer }, { "role_type_id": developer, "resource_type": "workspace", "resource_id": "ws-1" }] }),
            "invalid",
            "/data/attributes/roles_attributes/1/resource_type",
        ),
        (
            "same role twice",
            json!({ "email": "a@example.com", "roles_attributes": [{ "role_type_id": developer }, { "role_type_id": developer }] }),
            "duplicate",
            "/data/attributes/roles_attributes/1",
        ),
        ("end before start", json!({ "email": "a@example.com", "start_date": "2026-02-01", "end_date": "2026-01-01" }), "invalid", "/data/attributes/end_date"),
        ("bad date", json!({ "email": "a@example.com", "start_date": "2026-02-30" }), "invalid", "/data/attributes/start_date"),
        ("read-only status", json!({ "email": "a@example.com", "status": "archived" }), "read_only", "/data/attributes/status"),
        ("unknown attribute", json!({ "email": "a@example.com", "shoe_size": "42" }), "unknown_attribute", "/data/attributes/shoe_size"),
        ("bad phone", json!({ "email": "a@example.com", "mobile_number": "call me" }), "invalid", "/data/attributes/mobile_number"),
        ("name too long", json!({ "email": "a@example.com", "first_name": "x".repeat(256) }), "too_long", "/data/attributes/first_name"),
    ];

    for (case, attributes, code, pointer) in cases {
        let reply = server.post("/core/users", &user_document(attributes)).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.describe());
        assert_invalid(&reply, code, pointer);
    }

    let listed = server.get("/core/users").await?;
    assert_eq!(listed.body["meta"]["total_count"], 0, "no rejected create should have stored a user: {}", listed.describe());
    let audit = server.get("/core/action_logs?action=user.create").await?;
    assert_eq!(audit.body["meta"]["total_count"], 0, "no rejected create should have written an audit entry");
});

api_test!(unknown_attribute_suggests_name, |server| {
    let cases = [
        (json!({ "email": "a@example.com", "firstName": "Ada" }), "firstName", "did you mean first_name?"),
        (json!({ "email": "a@example.com", "roles": [] }), "roles", "did you mean roles_attributes?"),
        (json!({ "email": "a@example.com", "shoe_size": "42" }), "shoe_size", "check the spelling"),
    ];

    for (attributes, key, hint) in cases {
        let reply = server.post("/core/users", &user_document(attributes)).await?;
        assert_invalid(&reply, "unknown_attribute", &format!("/data/attributes/{key}"));
        let detail = reply.error()["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains(hint), "the error for {key} should say {hint:?}: {detail}");
    }
});

api_test!(patch_points_at_invalid_field, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com", "start_date": "2026-02-01" })).await?;
    let cases = [
        ("bad email", json!({ "email": "nope" }), "invalid", "/data/attributes/email"),
        ("removed email", json!({ "email": null }), "blank", "/data/attributes/email"),
        ("unknown manager", json!({ "manager_id": "999999" }), "not_found", "/data/attributes/manager_id"),
        ("own manager", json!({ "manager_id": id }), "invalid", "/data/attributes/manager_id"),
        ("end before start", json!({ "end_date": "2026-01-01" }), "invalid", "/data/attributes/end_date"),
        ("read-only id", json!({ "id": "7" }), "read_only", "/data/attributes/id"),
        ("unknown attribute", json!({ "roles_attributes": [] }), "unknown_attribute", "/data/attributes/roles_attributes"),
    ];

    for (case, attributes, code, pointer) in cases {
        let reply = server.patch(&format!("/core/users/{id}"), &user_document(attributes)).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.describe());
        assert_invalid(&reply, code, pointer);
    }

    let after = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(after.header("etag"), Some("\"1\""), "rejected PATCHes should leave the user at version 1");
});

api_test!(manager_id_links_users, |server| {
    let manager = server.create_user(json!({ "email": "boss@example.com" })).await?;
    let report = server.create_user(json!({ "email": "report@example.com", "manager_id": manager })).await?;

    let reply = server.get(&format!("/core/users/{report}")).await?;

    assert_eq!(reply.attr("manager_id"), &json!(manager), "manager_id should be the manager's id as a string");
});

api_test!(taken_ignores_case, |server| {
    let first = server.create_user(json!({ "email": "ada@example.com", "user_name": "ada.l", "unique_id": "E-1" })).await?;
    let cases = [
        ("email", json!({ "email": "ADA@example.com" })),
        ("user_name", json!({ "email": "other1@example.com", "user_name": "ADA.L" })),
        ("unique_id", json!({ "email": "other2@example.com", "unique_id": "e-1" })),
    ];

    for (field, attributes) in cases {
        let reply = server.post("/core/users", &user_document(attributes)).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "a taken {field} in another case: {}", reply.describe());
        assert_invalid(&reply, "taken", &format!("/data/attributes/{field}"));
    }

    let second = server.create_user(json!({ "email": "grace@example.com" })).await?;
    let patched = server.patch(&format!("/core/users/{second}"), &user_document(json!({ "email": "Ada@Example.COM" }))).await?;
    assert_invalid(&patched, "taken", "/data/attributes/email");
    let unchanged = server.get(&format!("/core/users/{first}")).await?;
    assert_eq!(unchanged.attr("email"), "ada@example.com", "a rejected PATCH should not change the user who has the email");
});

api_test!(default_user_name_is_taken, |server| {
    server.create_user(json!({ "email": "ada@example.com" })).await?;

    let reply = server.post("/core/users", &user_document(json!({ "email": "other@example.com", "user_name": "ADA@EXAMPLE.COM" }))).await?;

    assert_invalid(&reply, "taken", "/data/attributes/user_name");
});

api_test!(archived_keeps_email_taken, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com", "unique_id": "E-1" })).await?;
    let archived = server.patch_empty(&format!("/core/users/{id}/archive")).await?;
    assert_eq!(archived.status, StatusCode::NO_CONTENT, "archiving failed: {}", archived.describe());

    let reply = server.post("/core/users", &user_document(json!({ "email": "Ada@Example.com" }))).await?;
    assert_invalid(&reply, "taken", "/data/attributes/email");

    // A client that looks before it creates must be able to find the user whose email collides.
    let found = server.get("/core/users?email=ADA%40example.com&archived=true").await?;
    assert_eq!(found.ids(), vec![id.clone()], "a lookup with archived=true should find the archived holder of the email");
    let by_path = server.get("/core/users/ada%40example.com?archived=true").await?;
    assert_eq!(by_path.status, StatusCode::OK, "GET by email with archived=true should find the archived user: {}", by_path.describe());
});
