//! Errors: authentication and scopes, malformed bodies, limits, unknown routes and methods, and inputs that must
//! never produce a 500.

use super::*;
use reqwest::Method;

api_test!(authentication_required, |server| {
    let reply = server.send(server.request_anonymous(Method::GET, "/scim/v2/Users")).await?;
    assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));

    let reply = server.send(server.request_as("rst_not-a-real-token", Method::GET, "/scim/v2/Users/1")).await?;
    assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    let basic = server.request_anonymous(Method::GET, "/scim/v2/Groups").header("Authorization", "Basic dXNlcjpwYXNz");
    assert_scim_error(&server.send(basic).await?, StatusCode::UNAUTHORIZED, None);
});

api_test!(scopes_enforced, |server| {
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    let writer = server.create_cli_token("writer", &["users:write"]).await?;
    let id = create_user(&server, &user_body("scoped@example.org")).await?;

    let reply = server.send(server.request_as(&reader, Method::GET, &format!("/scim/v2/Users/{id}"))).await?;
    assert_eq!(reply.status, StatusCode::OK, "users:read may read: {}", reply.describe());
    let create = server.request_as(&reader, Method::POST, "/scim/v2/Users").header("Content-Type", SCIM_JSON).body(user_body("nope").to_string());
    assert_scim_error(&server.send(create).await?, StatusCode::FORBIDDEN, None);
    let remove = server.request_as(&reader, Method::DELETE, &format!("/scim/v2/Users/{id}"));
    assert_scim_error(&server.send(remove).await?, StatusCode::FORBIDDEN, None);

    let list = server.request_as(&writer, Method::GET, "/scim/v2/Users");
    assert_scim_error(&server.send(list).await?, StatusCode::FORBIDDEN, None);

    let both = server.create_cli_token("idp", &["users:read", "users:write"]).await?;
    let deactivate = patch_body(json!([{"op": "replace", "path": "active", "value": false}]));
    let request = server.request_as(&both, Method::PATCH, &format!("/scim/v2/Users/{id}")).header("Content-Type", SCIM_JSON).body(deactivate.to_string());
    assert_eq!(server.send(request).await?.status, StatusCode::OK, "deactivating needs users:write");
    let reactivate = patch_body(json!([{"op": "replace", "path": "active", "value": true}]));
    let request = server.request_as(&both, Method::PATCH, &format!("/scim/v2/Users/{id}")).header("Content-Type", SCIM_JSON).body(reactivate.to_string());
    let reply = server.send(request).await?;
    assert_scim_error(&reply, StatusCode::FORBIDDEN, None);
    assert!(reply.body["detail"].as_str().unwrap_or("").contains("roles:write"), "restoring roles needs roles:write: {}", reply.describe());
});

api_test!(malformed_bodies, |server| {
    let raw = |method: Method, path: &str, body: &'static str| {
        server.request(method, &format!("/scim/v2{path}")).header("Content-Type", SCIM_JSON).body(body)
    };
    let id = create_user(&server, &user_body("malformed")).await?;

    for (method, path, body) in [
        (Method::POST, "/Users".to_string(), "{\"userName\": "),
        (Method::POST, "/Users".to_string(), "[1, 2]"),
        (Method::POST, "/Users".to_string(), ""),
        (Method::PUT, format!("/Users/{id}"), "not json"),
        (Method::PATCH, format!("/Users/{id}"), "{\"Operations\": }"),
        (Method::PATCH, format!("/Users/{id}"), "{}"),
        (Method::POST, "/Groups".to_string(), "\"text\""),
        (Method::POST, "/Users/.search".to_string(), "[]"),
    ] {
        let reply = server.send(raw(method.clone(), &path, body)).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    }
    let reply = post(&server, "/Users", &json!({"not": "a scim resource"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Users", &json!({"userName": 42})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Users", &json!({"userName": "x".repeat(300)})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Users", &json!({"userName": "tab\there"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Users", &json!({"userName": "ok", "emails": "ok@example.org"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Users", &json!({"userName": "ok", "active": "sometimes"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(payload_limit, |server| {
    let big = json!({"schemas": [CORE_USER], "userName": "big", "displayName": "x".repeat(1024 * 1024)});
    let reply = post(&server, "/Users", &big).await?;
    assert_scim_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, None);
});

api_test!(unknown_routes_and_methods, |server| {
    assert_scim_error(&get(&server, "/Nothing").await?, StatusCode::NOT_FOUND, None);
    assert_scim_error(&get(&server, "/Users/abc").await?, StatusCode::NOT_FOUND, None);
    assert_scim_error(&get(&server, "/Users/0").await?, StatusCode::NOT_FOUND, None);
    assert_scim_error(&get(&server, "/Users/99999999999999999999").await?, StatusCode::NOT_FOUND, None);
    assert_scim_error(&get(&server, "/Groups/42").await?, StatusCode::NOT_FOUND, None);

    for (method, path) in [
        (Method::DELETE, "/Users"),
        (Method::PUT, "/Groups"),
        (Method::POST, "/Users/1"),
        (Method::PUT, "/ServiceProviderConfig"),
        (Method::POST, "/Schemas"),
        (Method::DELETE, "/ResourceTypes/User"),
        (Method::GET, "/Bulk"),
    ] {
        let reply = scim(&server, method.clone(), path, None).await?;
        assert_scim_error(&reply, StatusCode::METHOD_NOT_ALLOWED, None);
    }
});

api_test!(no_input_causes_server_error, |server| {
    let id = create_user(&server, &user_body("robust")).await?;
    let filters = [
        "", " ", "(", ")", "not", "userName eq \"\\uZZZZ\"", "emails[type eq \"work\"]]", "a.b.c eq 1",
        "userName eq 1e999999", "meta.created eq \"not a time\"", "id gt \"x\"", "emails[emails[value pr]]",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"", "x eq \"\u{1F600}\"",
    ];
    for filter in filters {
        let reply = get(&server, &format!("/Users?filter={}", encode(filter))).await?;
        assert!(reply.status.as_u16() < 500, "filter {filter:?}: {}", reply.describe());
        let reply = get(&server, &format!("/Groups?filter={}", encode(filter))).await?;
        assert!(reply.status.as_u16() < 500, "group filter {filter:?}: {}", reply.describe());
    }
    let paths = ["", "[", "emails[", "emails[type eq]", "name..x", "urn:", "é.ü", "members[value eq \"1\"].x.y", "$ref"];
    for path in paths {
        for op in ["add", "replace", "remove"] {
            let operation = json!([{"op": op, "path": path, "value": {"value": "x"}}]);
            let reply = patch(&server, &format!("/Users/{id}"), operation).await?;
            assert!(reply.status.as_u16() < 500, "{op} {path:?}: {}", reply.describe());
        }
    }
    for value in [json!(null), json!([]), json!({}), json!(1.5), json!([[[]]]), json!({"a.b.c": 1}), json!({"name": {"givenName": {"x": 1}}})] {
        let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "value": value}])).await?;
        assert!(reply.status.as_u16() < 500, "value {value}: {}", reply.describe());
        let reply = post(&server, "/Users", &json!({"userName": "r", "name": value, "emails": value, "urn:x": value})).await?;
        assert!(reply.status.as_u16() < 500, "body with {value}: {}", reply.describe());
    }
    for query in ["attributes=", "attributes=urn:", "excludedAttributes=%C3%A9,,,", "startIndex=-99999999999999999999", "count=1.5"] {
        let reply = get(&server, &format!("/Users?{query}")).await?;
        assert!(reply.status.as_u16() < 500, "query {query:?}: {}", reply.describe());
    }
});
