//! Lifecycle through `active` and `DELETE`: archive, restore with roles, activation, and the audit trail.

use super::*;

async fn grant_developer(server: &TestServer, id: &str) -> anyhow::Result<String> {
    let developer = server.role_type_id("developer").await?;
    let reply = server.put(&format!("/core/users/{id}/roles"), &json!({"data": [{"role_type_id": developer}]})).await?;
    ensure!(reply.status == StatusCode::OK, "granting a role failed: {}", reply.describe());
    Ok(developer)
}

async fn core_roles(server: &TestServer, id: &str) -> anyhow::Result<Vec<String>> {
    let reply = server.get(&format!("/core/users/{id}/roles")).await?;
    ensure!(reply.status == StatusCode::OK, "reading roles failed: {}", reply.describe());
    Ok(reply.data_items().iter().filter_map(|r| r["attributes"]["role_type_id"].as_str().map(str::to_string)).collect())
}

api_test!(deactivate_then_reactivate_restores_roles, |server| {
    let id = create_user(&server, &user_body("leaver@example.org")).await?;
    let developer = grant_developer(&server, &id).await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "active", "value": false}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(false));
    assert!(reply.body.get("roles").is_none(), "an archived user holds no roles: {}", reply.describe());
    let held = server.query_i64(&format!("SELECT COUNT(*) FROM role_assignments WHERE user_id = {id}")).await?;
    assert_eq!(held, 0, "archiving removes every assignment");

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "active", "value": true}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(true));
    assert_eq!(reply.body["roles"][0]["value"], json!(developer), "the snapshot's roles come back: {}", reply.describe());
    assert_eq!(core_roles(&server, &id).await?, vec![developer]);
});

api_test!(archived_user_stays_patchable, |server| {
    let id = create_user(&server, &user_body("still.managed@example.org")).await?;
    let path = format!("/Users/{id}");
    patch(&server, &path, json!([{"op": "replace", "path": "active", "value": false}])).await?;

    let operations = json!([
        {"op": "replace", "path": "displayName", "value": "Still Managed"},
        {"op": "replace", "path": "title", "value": "Former Lead"},
        {"op": "replace", "path": "active", "value": false},
    ]);
    let reply = patch(&server, &path, operations).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(false), "the user stays archived");
    assert_eq!(reply.body["title"], json!("Former Lead"));

    let mut body = user_body("still.managed@example.org");
    body["active"] = json!(false);
    body["nickName"] = json!("Stil");
    let reply = put(&server, &path, &body).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["nickName"], json!("Stil"));
    assert_eq!(reply.body["active"], json!(false));
});

api_test!(deactivation_with_changes_in_one_patch, |server| {
    let id = create_user(&server, &user_body("mover@example.org")).await?;

    let operations = json!([
        {"op": "replace", "path": "title", "value": "Alumnus"},
        {"op": "replace", "path": "active", "value": "False"},
    ]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let core = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(core.attr("status"), &json!("archived"));
    assert_eq!(core.attr("job_title"), &json!("Alumnus"), "the attribute change is stored before the archive");
});

api_test!(create_inactive_user, |server| {
    let mut body = user_body("born.inactive@example.org");
    body["active"] = json!(false);
    let reply = post(&server, "/Users", &body).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(false));

    let id = scim_id(&reply)?;
    let core = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(core.attr("status"), &json!("archived"));
});

api_test!(activate_pending_and_suspended, |server| {
    for state in ["pending", "suspended"] {
        let id = create_user(&server, &user_body(&format!("{state}.user@example.org"))).await?;
        // No API door makes a pending or suspended user yet, so the test sets the state directly.
        server.execute_sql(&format!("UPDATE users SET status = '{state}' WHERE id = {id}")).await?;
        let before = get(&server, &format!("/Users/{id}")).await?;
        assert_eq!(before.body["active"], json!(false), "{state} reads as inactive");

        let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "value": {"active": true}}])).await?;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
        assert_eq!(reply.body["active"], json!(true));
        let core = server.get(&format!("/core/users/{id}")).await?;
        assert_eq!(core.attr("status"), &json!("active"), "a {state} user is activated, not restored");
    }
});

api_test!(each_transition_audited_once, |server| {
    let id = create_user(&server, &user_body("audited@example.org")).await?;
    let path = format!("/Users/{id}");
    let start = server.audit_count().await?;

    patch(&server, &path, json!([{"op": "replace", "path": "active", "value": false}])).await?;
    assert_eq!(server.audit_count().await?, start + 1, "a deactivation is one audit entry");
    patch(&server, &path, json!([{"op": "replace", "path": "active", "value": false}])).await?;
    assert_eq!(server.audit_count().await?, start + 1, "deactivating again changes nothing");
    patch(&server, &path, json!([{"op": "replace", "path": "active", "value": true}])).await?;
    assert_eq!(server.audit_count().await?, start + 2);
    assert_eq!(delete(&server, &path).await?.status, StatusCode::NO_CONTENT);
    assert_eq!(server.audit_count().await?, start + 3, "a delete is one audit entry");
});

api_test!(delete_of_archived_user, |server| {
    let id = create_user(&server, &user_body("archived.then.deleted@example.org")).await?;
    patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "path": "active", "value": false}])).await?;

    assert_eq!(delete(&server, &format!("/Users/{id}")).await?.status, StatusCode::NO_CONTENT);
    assert_scim_error(&get(&server, &format!("/Users/{id}")).await?, StatusCode::NOT_FOUND, None);
    let again = create_user(&server, &user_body("archived.then.deleted@example.org")).await?;
    assert_ne!(again, id);
});

api_test!(core_user_deactivation_audited_once, |server| {
    // A user created through `/core` stores no SCIM attributes, and a PATCH of `active` alone must not add any.
    let id = server.create_user(json!({"email": "core.leaver@example.org", "first_name": "Lin"})).await?;
    let path = format!("/Users/{id}");
    let start = server.audit_count().await?;

    let reply = patch(&server, &path, json!([{"op": "Replace", "path": "active", "value": "False"}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(server.audit_count().await?, start + 1, "a deactivation is one audit entry");
    assert_eq!(reply.body["meta"]["version"], json!("W/\"2\""), "the user changed once: {}", reply.describe());
    assert_eq!(reply.body["emails"][0]["value"], json!("core.leaver@example.org"));
});
