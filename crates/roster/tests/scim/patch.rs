//! PATCH: value paths, sub-attributes, extension paths, multi-valued attributes and the errors a PATCH can get.

use super::*;

async fn user_with_emails(server: &TestServer, user_name: &str) -> anyhow::Result<String> {
    let body = json!({"schemas": [CORE_USER], "userName": user_name, "name": {"givenName": "Pat", "familyName": "Ch"},
        "emails": [{"value": format!("{user_name}@work.example"), "type": "work", "primary": true},
                   {"value": format!("{user_name}@home.example"), "type": "home"}],
        "phoneNumbers": [{"value": "+1 555 0001", "type": "mobile"}]});
    create_user(server, &body).await
}

api_test!(value_path_replaces_mapped_email, |server| {
    let id = user_with_emails(&server, "vp").await?;

    let operations = json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "vp.new@work.example"}]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["emails"][0], json!({"value": "vp.new@work.example", "type": "work", "primary": true}));
    assert_eq!(reply.body["emails"][1]["value"], json!("vp@home.example"));
    assert!(reply.header("etag").is_some(), "a PATCH answers with the ETag");

    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &json!("vp.new@work.example"));
});

api_test!(value_path_without_match_adds_value, |server| {
    let id = create_user(&server, &user_body("vp.add")).await?;
    let path = format!("/Users/{id}");

    let operations = json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "vp.add@work.example"},
        {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 20 7946 0000"},
        {"op": "add", "path": "addresses[type eq \"home\"].locality", "value": "Leeds"},
    ]);
    let reply = patch(&server, &path, operations).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["emails"], json!([{"type": "work", "value": "vp.add@work.example"}]));
    assert_eq!(reply.body["addresses"], json!([{"type": "home", "locality": "Leeds"}]));
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &json!("vp.add@work.example"));
    assert_eq!(core.attr("mobile_number"), &json!("+44 20 7946 0000"));

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "emails[display pr].value", "value": "x@y.example"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("noTarget"));
});

api_test!(value_path_remove_and_primary_switch, |server| {
    let id = user_with_emails(&server, "vr").await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).await?;
    assert_eq!(reply.body["emails"].as_array().map(Vec::len), Some(1), "{}", reply.describe());

    let added = json!([{"op": "add", "path": "emails", "value": [{"value": "vr@new.example", "type": "other", "primary": true}]}]);
    let reply = patch(&server, &path, added).await?;
    assert_eq!(reply.body["emails"][0]["primary"], json!(false), "adding a primary value demotes the old one");
    assert_eq!(reply.body["emails"][1]["primary"], json!(true));
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &json!("vr@new.example"), "the primary email is Roster's email");

    let reply = patch(&server, &path, json!([{"op": "remove", "path": "emails"}])).await?;
    assert!(reply.body.get("emails").is_none());
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &Value::Null);
});

api_test!(sub_attributes_and_whole_values, |server| {
    let id = user_with_emails(&server, "sub").await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([
        {"op": "replace", "path": "name.givenName", "value": "Patricia"},
        {"op": "remove", "path": "name.familyName"},
        {"op": "add", "path": "name.honorificPrefix", "value": "Dr."},
    ])).await?;
    assert_eq!(reply.body["name"], json!({"givenName": "Patricia", "honorificPrefix": "Dr."}), "{}", reply.describe());

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "name", "value": {"familyName": "Chen"}}])).await?;
    assert_eq!(reply.body["name"], json!({"givenName": "Patricia", "honorificPrefix": "Dr.", "familyName": "Chen"}),
        "replacing a complex attribute keeps the sub-attributes it does not name");

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "phoneNumbers", "value": [{"value": "+1 555 0002", "type": "work"}]}])).await?;
    assert_eq!(reply.body["phoneNumbers"], json!([{"value": "+1 555 0002", "type": "work"}]));
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("mobile_number"), &Value::Null, "a work number is not the mobile number");

    let reply = patch(&server, &path, json!([{"op": "add", "value": {"emails": [{"value": "third@x.example", "type": "other"}]}}])).await?;
    assert_eq!(reply.body["emails"].as_array().map(Vec::len), Some(3), "a path-less add appends to a multi-valued attribute");
});

api_test!(enterprise_paths, |server| {
    let id = create_user(&server, &user_body("ent")).await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([{"op": "add", "path": ENTERPRISE, "value": {"department": "Ops", "costCenter": "7"}}])).await?;
    assert_eq!(reply.body[ENTERPRISE], json!({"department": "Ops", "costCenter": "7"}), "{}", reply.describe());
    assert!(reply.body["schemas"].as_array().is_some_and(|s| s.contains(&json!(ENTERPRISE))));

    let reply = patch(&server, &path, json!([{"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "EN-5"}])).await?;
    assert_eq!(reply.body[ENTERPRISE]["employeeNumber"], json!("EN-5"));
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("unique_id"), &json!("EN-5"));

    let reply = patch(&server, &path, json!([{"op": "remove", "path": ENTERPRISE}])).await?;
    assert!(reply.body.get(ENTERPRISE).is_none(), "removing the extension's URN removes all of it: {}", reply.describe());
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("department"), &Value::Null);

    let reply = patch(&server, &path, json!([{"op": "remove", "path": CORE_USER}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidPath"));
    let reply = patch(&server, &path, json!([{"op": "add", "path": "urn:example:unknown:2.0:User:badge", "value": "x"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidPath"));
});

api_test!(read_only_and_invalid_targets, |server| {
    let id = create_user(&server, &user_body("ro")).await?;
    let path = format!("/Users/{id}");

    for (operation, scim_type) in [
        (json!({"op": "replace", "path": "id", "value": "5"}), "mutability"),
        (json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}), "mutability"),
        (json!({"op": "remove", "path": "active"}), "mutability"),
        (json!({"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}), "invalidPath"),
        (json!({"op": "replace", "path": "title[value eq \"x\"]", "value": "x"}), "invalidPath"),
        (json!({"op": "remove"}), "noTarget"),
        (json!({"op": "add", "path": "title"}), "invalidSyntax"),
        (json!({"op": "replace", "path": "title", "value": 42}), "invalidValue"),
        (json!({"op": "replace", "path": "userName", "value": ""}), "invalidValue"),
        (json!({"op": "replace", "path": "emails", "value": [{"value": "not an email"}]}), "invalidValue"),
        (json!({"op": "replace", "value": "not an object"}), "invalidValue"),
        (json!({"op": "replace", "path": "name", "value": "flat"}), "invalidValue"),
    ] {
        let reply = patch(&server, &path, json!([operation])).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    let reply = patch(&server, &path, json!([{"op": "replace", "value": {"id": "5", "meta": {}, "nickName": "R"}}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "read-only members of a path-less value are ignored: {}", reply.describe());
    assert_eq!(reply.body["id"], json!(id));

    let too_many: Vec<Value> = (0..1001).map(|i| json!({"op": "add", "path": "nickName", "value": format!("n{i}")})).collect();
    let reply = patch(&server, &path, Value::Array(too_many)).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let body = json!({"schemas": ["urn:wrong"], "Operations": [{"op": "add", "path": "nickName", "value": "x"}]});
    let reply = scim(&server, reqwest::Method::PATCH, &path, Some(&body)).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
});

api_test!(failed_operation_changes_nothing, |server| {
    let id = create_user(&server, &user_body("atomic")).await?;

    let reply = patch(&server, &format!("/Users/{id}"), json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "7"},
    ])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("mutability"));

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert!(user.get("title").is_none(), "a PATCH is all or nothing: {user}");
    assert_eq!(user["meta"]["version"], json!("W/\"1\""));
});
