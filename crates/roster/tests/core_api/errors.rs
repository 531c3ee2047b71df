//! Error classes that apply to every route (malformed JSON, body size, media type) and odd inputs that must get
//! a 4xx, never a 5xx.

use crate::common::{TestServer, assert_error, assert_error_format, user_document};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

api_test!(malformed_json_is_400, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let cases = [
        (Method::POST, "/core/users".to_string()),
        (Method::PATCH, format!("/core/users/{id}")),
        (Method::PUT, format!("/core/users/{id}/roles")),
        (Method::POST, "/core/role_types".to_string()),
    ];

    for (method, path) in cases {
        let request = server.request(method.clone(), &path).header("content-type", "application/vnd.api+json").body("{\"data\": {");
        let reply = server.send(request).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path} with truncated JSON: {}", reply.describe());
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_json");
    }
});

api_test!(not_a_document_is_400, |server| {
    for body in [json!([]), json!("text"), json!({ "attributes": {} }), json!({ "data": "x" })] {
        let reply = server.post("/core/users", &body).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "POST /core/users with {body}: {}", reply.describe());
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_json");
    }
});

api_test!(empty_body_is_400, |server| {
    let reply = server.send(server.request(Method::POST, "/core/users").header("content-type", "application/json")).await?;

    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_json");
});

api_test!(both_media_types_accepted, |server| {
    for (index, media_type) in ["application/vnd.api+json", "application/json", "application/json; charset=utf-8"].iter().enumerate() {
        let body = user_document(json!({ "email": format!("user{index}@example.com") })).to_string();
        let reply = server.send(server.request(Method::POST, "/core/users").header("content-type", *media_type).body(body)).await?;
        assert_eq!(reply.status, StatusCode::CREATED, "Content-Type {media_type} should be accepted: {}", reply.describe());
    }
});

api_test!(wrong_media_type_is_415, |server| {
    let body = user_document(json!({ "email": "ada@example.com" })).to_string();
    for media_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = server.request(Method::POST, "/core/users").body(body.clone());
        if let Some(media_type) = media_type {
            request = request.header("content-type", media_type);
        }
        let reply = server.send(request).await?;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type {media_type:?}: {}", reply.describe());
        assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let listed = server.get("/core/users").await?;
    assert_eq!(listed.body["meta"]["total_count"], 0, "a 415 should store nothing");
});

/// Builds a JSON:API document of just over 1 MiB: a valid user whose custom attribute is padded.
fn oversized_document() -> String {
    let padding = "x".repeat(1024 * 1024);
    user_document(json!({ "email": "big@example.com", "custom_attributes": { "padding": padding } })).to_string()
}

api_test!(large_body_is_413, |server| {
    let reply = server
        .send(server.request(Method::POST, "/core/users").header("content-type", "application/vnd.api+json").body(oversized_document()))
        .await?;

    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
});

/// Sends a request over a raw connection with a chunked body, so the server cannot reject it by its
/// Content-Length, and returns the status code of the response.
fn send_chunked(server: &TestServer, path: &str, body: &str) -> anyhow::Result<u16> {
    let address = server.base_url().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.admin_token()
    );
    stream.write_all(head.as_bytes())?;
    for chunk in body.as_bytes().chunks(64 * 1024) {
        // The server may respond and close before the whole body is sent, which is the behaviour under test.
        if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || stream.write_all(chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");

    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    status.ok_or_else(|| anyhow::anyhow!("no HTTP status in the response: {:?}", text.chars().take(200).collect::<String>()))
}

api_test!(chunked_large_body_is_413, |server| {
    let body = oversized_document();
    let status = {
        let server = &server;
        tokio::task::block_in_place(|| send_chunked(server, "/core/users", &body))?
    };

    assert_eq!(status, 413, "a chunked body over 1 MiB should get 413");
    let listed = server.get("/core/users").await?;
    assert_eq!(listed.body["meta"]["total_count"], 0, "a 413 should store nothing");
});

api_test!(list_rejects_bad_params, |server| {
    let cases = [
        ("page[size]=101", "page[size]"),
        ("page[size]=0", "page[size]"),
        ("page[size]=abc", "page[size]"),
        ("page[size]=99999999999999999999999", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=-3", "page[number]"),
        ("page[after]=garbage", "page[after]"),
        ("page[after]=id:abc:", "page[after]"),
        ("sort=-id&page[after]=last_name:5:x", "page[after]"),
        ("page[after]=id:5:&page[number]=2", "page[after]"),
        ("sort=shoe_size", "sort"),
        ("sort=", "sort"),
        ("archived=maybe", "archived"),
        ("updated_since=yesterday", "updated_since"),
        ("role_type_id=-5", "role_type_id"),
        ("role_type_id=developer", "role_type_id"),
        ("colour=red", "colour"),
        ("email=a%40b.c&email=d%40e.f", "email"),
    ];

    for (query, parameter) in cases {
        let reply = server.get(&format!("/core/users?{query}")).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "GET /core/users?{query}: {}", reply.describe());
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_parameter");
        assert_eq!(reply.error()["source"]["parameter"], parameter, "the 400 for {query} should name {parameter}");
    }
});

/// Sends a request and checks that the response is not a 5xx, and that a 4xx has the API's error format.
async fn assert_no_server_error(server: &TestServer, method: Method, path: &str, body: Option<String>) -> anyhow::Result<()> {
    let mut request = server.request(method.clone(), path);
    if let Some(body) = body {
        request = request.header("content-type", "application/vnd.api+json").body(body);
    }
    let reply = server.send(request).await?;
    assert!(!reply.status.is_server_error(), "{method} {path} should never get a 5xx: {}", reply.describe());
    if reply.status.is_client_error() && reply.status != StatusCode::METHOD_NOT_ALLOWED {
        assert_error_format(&reply, reply.status);
    }
    Ok(())
}

api_test!(odd_bodies_get_4xx, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let attributes = [
        json!({ "email": ["a@b.c"] }),
        json!({ "email": "a@b.c", "manager_id": 1e308 }),
        json!({ "email": "a@b.c", "manager_id": -1 }),
        json!({ "email": "a@b.c", "manager_id": "99999999999999999999999" }),
        json!({ "email": "a@b.c", "manager_id": 9_223_372_036_854_775_807_i64 }),
        json!({ "email": "a@b.c", "first_name": "nul\u{0}byte" }),
        json!({ "email": "a@b.c", "first_name": "\u{202e}\u{1F600}" }),
        json!({ "email": "a@b.c", "custom_attributes": { "k": { "nested": true } } }),
        json!({ "email": "a@b.c", "custom_attributes": { "": "empty key" } }),
        json!({ "email": "a@b.c", "custom_attributes": [1, 2] }),
        json!({ "email": "a@b.c", "start_date": "99999-01-01" }),
        json!({ "email": "a@b.c", "start_date": 20260101 }),
        json!({ "email": "a@b.c", "roles_attributes": "developer" }),
        json!({ "email": "a@b.c", "roles_attributes": [1, null, "x"] }),
        json!({ "email": "a@b.c", "roles_attributes": [{ "role_type_id": 9_223_372_036_854_775_807_i64 }] }),
        json!({ "email": "a@b.c", "roles_attributes": [{ "role_type_id": "1e3" }] }),
        json!({ "email": "a@b.c", "roles_attributes": [{ "role_type_id": 1, "expires_at": "9999-12-31T23:59:59Z" }] }),
        json!({ "email": "a@b.c", "roles_attributes": [{ "role_type_id": 1, "expires_at": "+10000-01-01T00:00:00Z" }] }),
        json!({ "email": format!("{}@example.com", "a".repeat(300)) }),
        json!({ "email": "\u{0}@example.com" }),
        json!({ "user_name": "x".repeat(10_000), "email": "b@c.d" }),
        json!(null),
        json!([]),
    ];
    for attributes in attributes {
        let body = user_document(attributes).to_string();
        assert_no_server_error(&server, Method::POST, "/core/users", Some(body.clone())).await?;
        assert_no_server_error(&server, Method::PATCH, &format!("/core/users/{id}"), Some(body)).await?;
    }

    let documents = [
        nested,
        "{\"data\": {\"type\": 5}}".to_string(),
        "{\"data\": {\"type\": \"role_types\", \"attributes\": {\"email\": \"a@b.c\"}}}".to_string(),
        "\u{feff}{\"data\": {}}".to_string(),
        "{\"data\": {\"attributes\": {\"email\": \"a@b.c\"}}} trailing".to_string(),
        "{\"data\": {\"attributes\": {\"email\": \"\\ud800@b.c\"}}}".to_string(),
        "1".repeat(5000),
    ];
    for body in documents {
        assert_no_server_error(&server, Method::POST, "/core/users", Some(body.clone())).await?;
        assert_no_server_error(&server, Method::PUT, &format!("/core/users/{id}/roles"), Some(body.clone())).await?;
        assert_no_server_error(&server, Method::PATCH, &format!("/core/users/{id}/unarchive"), Some(body.clone())).await?;
        assert_no_server_error(&server, Method::POST, "/core/role_types", Some(body)).await?;
    }

    let sync_bodies = [
        json!({ "data": [{ "role_type_id": 1, "resource_type": 7 }] }),
        json!({ "data": [{ "attributes": null }] }),
        json!({ "data": [{ "attributes": { "role_type_id": "1", "source": "policy" } }] }),
        json!({ "data": [{ "role_type_id": 1, "source": "robot" }] }),
        json!({ "data": [{ "role_type_id": 1, "reason": "r".repeat(5000) }] }),
        json!({ "data": {} }),
    ];
    for body in sync_bodies {
        assert_no_server_error(&server, Method::PUT, &format!("/core/users/{id}/roles"), Some(body.to_string())).await?;
    }
});

api_test!(odd_paths_get_4xx, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let paths = [
        "/core/users/%00",
        "/core/users/%FF",
        "/core/users/%F0%9F%98%80%40example.com",
        "/core/users/99999999999999999999999",
        "/core/users/-1",
        "/core/users/0",
        "/core/users/1.5",
        "/core/users/%40",
        "/core/users/a%00b%40example.com",
        "/core/users/%2e%2e",
        "/core/users//roles",
        "/core/role_types/abc",
        "/core/users?query=%00",
        "/core/users?query=%FF",
        "/core/users?query=%25%5F%5C",
        "/core/users?query=%F0%9F%98%80",
        "/core/users?email=%00",
        "/core/users?page[number]=99999999999999999",
        "/core/users?page[number]=9223372036854775807&page[size]=100",
        "/core/users?sort=created_at&page[after]=created_at:1:9999-12-31T23:59:59Z",
        "/core/users?sort=created_at&page[after]=created_at:99999999999999999999:2026-01-01T00:00:00Z",
        "/core/users?sort=last_name&page[after]=last_name:1:%00",
        "/core/users?updated_since=9999-12-31T23:59:59Z",
        "/core/users?%zz=1",
        "/core/users?page%5Bsize%5D=5",
        "/core/action_logs?user_id=99999999999999999999",
        "/core/action_logs?page[after]=-1",
        "/core/action_logs?page[number]=9223372036854775807&page[size]=100",
        "/core/action_logs?action=%00",
    ];
    for path in paths {
        assert_no_server_error(&server, Method::GET, path, None).await?;
    }

    let patch = user_document(json!({ "job_title": "x" })).to_string();
    for if_match in ["garbage", "\"99999999999999999999999\"", "W/", "\"-1\"", ""] {
        let reply = server
            .send(
                server
                    .request(Method::PATCH, &format!("/core/users/{id}"))
                    .header("if-match", if_match)
                    .header("content-type", "application/json")
                    .body(patch.clone()),
            )
            .await?;
        assert!(reply.status.is_client_error(), "If-Match {if_match:?} should get a 4xx: {}", reply.describe());
    }

    let long_id = server.send(server.request(Method::GET, "/core/users").header("x-request-id", "x".repeat(500))).await?;
    assert_eq!(long_id.status, StatusCode::OK, "an overlong request id should be replaced, not rejected: {}", long_id.describe());
    let echoed = long_id.header("x-request-id").unwrap_or_default();
    assert!(echoed.len() <= 64, "an overlong request id should not be echoed: {echoed}");

    let huge_token = server.send(server.request_as(&format!("rst_{}", "A".repeat(10_000)), Method::GET, "/core/users")).await?;
    assert_eq!(huge_token.status, StatusCode::UNAUTHORIZED, "an oversized token should get 401: {}", huge_token.describe());
});

api_test!(unicode_round_trips, |server| {
    let attributes = json!({
        "email": "Élodie.Ñúñez@Exämple.com", "first_name": "Élodie", "last_name": "Ñúñez 😀",
        "department": "Forschung & Entwicklung",
    });
    let id = server.create_user(attributes.clone()).await?;

    let reply = server.get(&format!("/core/users/{id}")).await?;
    for name in ["email", "first_name", "last_name", "department"] {
        assert_eq!(reply.attr(name), &attributes[name], "{name} should come back as sent");
    }
    let by_email = server.get(&format!("/core/users/{}", crate::common::encode_segment("élodie.ñúñez@exämple.COM"))).await?;
    assert_eq!(by_email.id().ok(), Some(id.clone()), "a Unicode email should be found in another case: {}", by_email.describe());
    let taken = server.post("/core/users", &user_document(json!({ "email": "ÉLODIE.ÑÚÑEZ@EXÄMPLE.COM" }))).await?;
    assert_eq!(taken.error_code(), Some("taken"), "a Unicode email in upper case should be taken: {}", taken.describe());
    let queried = server.get(&format!("/core/users?query={}", crate::common::encode_segment("ÑÚÑ"))).await?;
    assert_eq!(queried.ids(), vec![id], "query should match Unicode case-insensitively");
});
