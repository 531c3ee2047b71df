//! Users: the attribute mapping, attributes kept intact, PUT, ETags, roles, and one store shared with `/core`.

use super::*;
use reqwest::Method;

fn full_user(user_name: &str) -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "userName": user_name,
        "externalId": "ext-17",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane", "formatted": "Ms. Barbara J Jensen"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work mail"},
            {"value": "babs@jensen.example", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+1 555 555 8377", "type": "mobile"}, {"value": "555-555-5555", "type": "work"}],
        "addresses": [{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "type": "work", "primary": true}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        "locale": "en-US",
        "password": "t1meMa$heen",
        ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations"},
        "urn:example:params:scim:schemas:extension:badge:2.0:User": {"badge": "B-12"},
    })
}

api_test!(create_maps_every_field, |server| {
    let reply = post(&server, "/Users", &full_user("bjensen")).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    let id = scim_id(&reply)?;

    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.status, StatusCode::OK);
    for (field, expected) in [
        ("user_name", json!("bjensen")),
        ("first_name", json!("Barbara")),
        ("last_name", json!("Jensen")),
        ("email", json!("bjensen@example.com")),
        ("mobile_number", json!("+1 555 555 8377")),
        ("job_title", json!("Tour Guide")),
        ("external_id", json!("ext-17")),
        ("unique_id", json!("701984")),
        ("department", json!("Tour Operations")),
        ("status", json!("active")),
    ] {
        assert_eq!(core.attr(field), &expected, "/core field {field}");
    }
});

api_test!(attributes_without_field_kept_intact, |server| {
    let sent = full_user("intact");
    let id = create_user(&server, &sent).await?;

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    for key in ["name", "displayName", "nickName", "emails", "phoneNumbers", "addresses", "x509Certificates", "locale", "externalId"] {
        assert_eq!(user[key], sent[key], "{key} should come back as sent");
    }
    assert_eq!(user[ENTERPRISE], sent[ENTERPRISE]);
    let badge = "urn:example:params:scim:schemas:extension:badge:2.0:User";
    assert_eq!(user[badge], sent[badge], "an unknown extension's object is kept");
    let schemas = user["schemas"].as_array().cloned().unwrap_or_default();
    assert!(schemas.contains(&json!(badge)), "schemas lists the unknown extension: {schemas:?}");
    assert!(schemas.contains(&json!(ENTERPRISE)), "schemas lists the enterprise extension: {schemas:?}");
    assert!(user.get("password").is_none(), "a password is never stored or returned");
    let stored = server.query_i64(&format!("SELECT COUNT(*) FROM users WHERE scim_attributes LIKE '%t1meMa%' AND id = {id}")).await?;
    assert_eq!(stored, 0, "the password must not reach the database");
});

api_test!(resource_meta_and_headers, |server| {
    let reply = post(&server, "/Users", &user_body("meta.check")).await?;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = scim_id(&reply)?;

    let meta = &reply.body["meta"];
    assert_eq!(meta["resourceType"], json!("User"));
    assert!(meta["created"].as_str().is_some_and(|t| t.ends_with('Z')), "created is an RFC 3339 UTC time: {meta}");
    assert_eq!(meta["created"], meta["lastModified"]);
    assert_eq!(meta["version"], json!("W/\"1\""));
    assert_eq!(reply.header("etag"), Some("W/\"1\""), "the ETag header equals meta.version");
    let location = format!("{}/scim/v2/Users/{id}", server.base_url());
    assert_eq!(meta["location"], json!(location));
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert!(id.parse::<i64>().is_ok(), "ids are Roster's numeric ids as strings");
    assert_eq!(reply.body["schemas"], json!([CORE_USER]));
});

api_test!(user_without_email_allowed, |server| {
    let id = create_user(&server, &user_body("no-email-user")).await?;

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert!(user.get("emails").is_none());
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &Value::Null);
    assert_eq!(core.attr("user_name"), &json!("no-email-user"));

    let missing = json!({"schemas": [CORE_USER], "emails": [{"value": "x@example.org"}]});
    assert_scim_error(&post(&server, "/Users", &missing).await?, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(core_users_visible_through_scim, |server| {
    let id = server
        .create_user(json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
            "mobile_number": "+44 20 7946 0958", "unique_id": "E1001", "department": "Engineering", "job_title": "Engineer"}))
        .await?;

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert_eq!(user["userName"], json!("ada@example.com"));
    assert_eq!(user["name"], json!({"givenName": "Ada", "familyName": "Lovelace"}));
    assert_eq!(user["emails"], json!([{"value": "ada@example.com", "type": "work", "primary": true}]));
    assert_eq!(user["phoneNumbers"], json!([{"value": "+44 20 7946 0958", "type": "mobile", "primary": true}]));
    assert_eq!(user["title"], json!("Engineer"));
    assert_eq!(user[ENTERPRISE], json!({"employeeNumber": "E1001", "department": "Engineering"}));
    let found = get(&server, "/Users?filter=emails%20eq%20%22ADA%40example.com%22").await?;
    assert_eq!(resource_ids(&found), vec![id]);
});

api_test!(core_changes_show_in_scim, |server| {
    let id = create_user(&server, &full_user("shared.row")).await?;

    let change = common::user_document(json!({"email": "new.address@example.com", "mobile_number": "+1 555 0199"}));
    let reply = server.patch(&format!("/core/users/{id}"), &change).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert_eq!(user["emails"][0]["value"], json!("new.address@example.com"), "the mapped email follows /core");
    assert_eq!(user["emails"][0]["display"], json!("Work mail"), "its other sub-attributes stay");
    assert_eq!(user["emails"][1]["value"], json!("babs@jensen.example"), "other emails stay");
    assert_eq!(user["phoneNumbers"][0]["value"], json!("+1 555 0199"));
    assert_eq!(user["meta"]["version"], json!("W/\"2\""));
});

api_test!(put_replaces_attributes, |server| {
    let id = create_user(&server, &full_user("put.me")).await?;

    let body = json!({"schemas": [CORE_USER], "userName": "put.me", "name": {"givenName": "Barb"}, "title": "Manager",
        "id": "999", "meta": {"version": "W/\"77\""}});
    let reply = put(&server, &format!("/Users/{id}"), &body).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert_eq!(user["id"], json!(id), "a read-only id in the body is ignored");
    assert_eq!(user["name"], json!({"givenName": "Barb"}));
    assert_eq!(user["title"], json!("Manager"));
    for gone in ["displayName", "nickName", "emails", "phoneNumbers", "addresses", ENTERPRISE, "externalId"] {
        assert!(user.get(gone).is_none(), "PUT without {gone} clears it: {user}");
    }
    assert_eq!(user["active"], json!(true), "PUT without active leaves the state alone");
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("email"), &Value::Null);
    assert_eq!(core.attr("unique_id"), &Value::Null);

    let reply = put(&server, &format!("/Users/{id}"), &json!({"schemas": [CORE_USER], "title": "x"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(etags_guard_changes, |server| {
    let id = create_user(&server, &user_body("etag.user")).await?;
    let path = format!("/Users/{id}");
    let title = |value: &str| patch_body(json!([{"op": "replace", "path": "title", "value": value}]));

    let fresh = server.request(Method::PATCH, &format!("/scim/v2{path}")).header("If-Match", "W/\"1\"").body(title("A").to_string());
    let reply = server.send(fresh).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.header("etag"), Some("W/\"2\""));

    for stale in ["W/\"1\"", "\"1\"", "\"not-a-version\""] {
        let request = server.request(Method::PATCH, &format!("/scim/v2{path}")).header("If-Match", stale).body(title("B").to_string());
        assert_scim_error(&server.send(request).await?, StatusCode::PRECONDITION_FAILED, None);
    }
    let put_stale = server.request(Method::PUT, &format!("/scim/v2{path}")).header("If-Match", "W/\"1\"").body(user_body("etag.user").to_string());
    assert_scim_error(&server.send(put_stale).await?, StatusCode::PRECONDITION_FAILED, None);
    let delete_stale = server.request(Method::DELETE, &format!("/scim/v2{path}")).header("If-Match", "W/\"1\"");
    assert_scim_error(&server.send(delete_stale).await?, StatusCode::PRECONDITION_FAILED, None);
    assert_eq!(get(&server, &path).await?.body["title"], json!("A"), "stale requests change nothing");

    let strong = server.request(Method::PATCH, &format!("/scim/v2{path}")).header("If-Match", "\"2\"").body(title("C").to_string());
    assert_eq!(server.send(strong).await?.status, StatusCode::OK, "a strong tag of the current version matches");
    let any = server.request(Method::PATCH, &format!("/scim/v2{path}")).header("If-Match", "*").body(title("D").to_string());
    assert_eq!(server.send(any).await?.status, StatusCode::OK);

    let cached = server.request(Method::GET, &format!("/scim/v2{path}")).header("If-None-Match", "W/\"4\"");
    let reply = server.send(cached).await?;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{}", reply.describe());
    assert_eq!(reply.header("etag"), Some("W/\"4\""));
    assert!(reply.text.is_empty());
    let changed = server.request(Method::GET, &format!("/scim/v2{path}")).header("If-None-Match", "W/\"3\"");
    assert_eq!(server.send(changed).await?.status, StatusCode::OK);
});

api_test!(roles_rendered_read_only, |server| {
    let id = create_user(&server, &user_body("role.holder")).await?;
    let developer = server.role_type_id("developer").await?;
    let member = server.role_type_id("workspace_member").await?;
    let roles = json!({"data": [
        {"role_type_id": developer},
        {"role_type_id": member, "resource_type": "workspace", "resource_id": "analytics"},
    ]});
    let reply = server.put(&format!("/core/users/{id}/roles"), &roles).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let user = get(&server, &format!("/Users/{id}")).await?.body;
    assert_eq!(user["roles"], json!([
        {"value": developer, "display": "developer"},
        {"value": format!("{member}:workspace:analytics"), "display": "workspace_member", "type": "workspace"},
    ]));
    let listed = get(&server, "/Users?filter=userName%20eq%20%22role.holder%22").await?;
    assert_eq!(listed.body["Resources"][0]["roles"], user["roles"], "lists show roles too");

    let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "add", "path": "roles", "value": [{"value": "1"}]}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("mutability"));
    let mut body = user_body("role.holder");
    body["roles"] = json!([{"value": "1"}]);
    let reply = put(&server, &format!("/Users/{id}"), &body).await?;
    assert_eq!(reply.status, StatusCode::OK, "roles in a PUT body are ignored: {}", reply.describe());
    assert_eq!(reply.body["roles"], user["roles"]);
});

api_test!(me_serves_token_owner, |server| {
    let id = create_user(&server, &user_body("me.myself")).await?;
    let (_, secret) = server.create_user_token(&id, "own token", &["users:read", "users:write"]).await?;

    let reply = server.send(server.request_as(&secret, Method::GET, "/scim/v2/Me")).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["id"], json!(id));
    let change = patch_body(json!([{"op": "replace", "path": "displayName", "value": "Me"}]));
    let request = server.request_as(&secret, Method::PATCH, "/scim/v2/Me").header("Content-Type", SCIM_JSON).body(change.to_string());
    let reply = server.send(request).await?;
    assert_eq!(reply.body["displayName"], json!("Me"), "{}", reply.describe());

    let reply = get(&server, "/Me").await?;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
});
