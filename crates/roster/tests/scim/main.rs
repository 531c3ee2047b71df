//! Integration tests of the SCIM 2.0 service provider at `/scim/v2`. Each test starts the real `roster` binary on
//! an ephemeral loopback port and talks SCIM to it over HTTP; each `api_test!` runs on SQLite and on PostgreSQL,
//! as `common` describes.
//!
//! `cases` contains the interoperability cases taken from real clients' traffic, one test per case plus tests of the
//! kind of fault behind each.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod bulk;
mod cases;
mod discovery;
mod errors;
mod fuzz;
mod groups;
mod lifecycle;
mod lists;
mod pagination;
mod patch;
mod root_search;
mod users;

use anyhow::{Context, ensure};
use common::{Reply, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const SCIM_JSON: &str = "application/scim+json";
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Sends a SCIM request with the admin token; `body` is sent as `application/scim+json`.
pub async fn scim(server: &TestServer, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
    let mut request = server.request(method, &format!("/scim/v2{path}")).header("Accept", SCIM_JSON);
    if let Some(body) = body {
        request = request.header("Content-Type", SCIM_JSON).body(body.to_string());
    }
    server.send(request).await
}

pub async fn get(server: &TestServer, path: &str) -> anyhow::Result<Reply> {
    scim(server, Method::GET, path, None).await
}

pub async fn post(server: &TestServer, path: &str, body: &Value) -> anyhow::Result<Reply> {
    scim(server, Method::POST, path, Some(body)).await
}

pub async fn put(server: &TestServer, path: &str, body: &Value) -> anyhow::Result<Reply> {
    scim(server, Method::PUT, path, Some(body)).await
}

pub async fn patch(server: &TestServer, path: &str, operations: Value) -> anyhow::Result<Reply> {
    scim(server, Method::PATCH, path, Some(&patch_body(operations))).await
}

pub async fn delete(server: &TestServer, path: &str) -> anyhow::Result<Reply> {
    scim(server, Method::DELETE, path, None).await
}

/// Wraps operations in a PatchOp message.
pub fn patch_body(operations: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": operations })
}

/// Builds a minimal User document.
pub fn user_body(user_name: &str) -> Value {
    json!({ "schemas": [CORE_USER], "userName": user_name, "active": true })
}

/// Creates a user through SCIM and returns its id. Fails unless the status is 201.
pub async fn create_user(server: &TestServer, body: &Value) -> anyhow::Result<String> {
    let reply = post(server, "/Users", body).await?;
    ensure!(reply.status == StatusCode::CREATED, "creating a SCIM user failed: {}", reply.describe());
    scim_id(&reply)
}

/// Creates a group through SCIM and returns its id.
pub async fn create_group(server: &TestServer, body: &Value) -> anyhow::Result<String> {
    let reply = post(server, "/Groups", body).await?;
    ensure!(reply.status == StatusCode::CREATED, "creating a SCIM group failed: {}", reply.describe());
    scim_id(&reply)
}

/// Returns the `id` of a SCIM resource.
pub fn scim_id(reply: &Reply) -> anyhow::Result<String> {
    reply.body["id"].as_str().map(str::to_string).with_context(|| format!("the response has no id: {}", reply.describe()))
}

/// Checks that `reply` is a SCIM error with `status` and, when given, `scim_type`.
#[track_caller]
pub fn assert_scim_error(reply: &Reply, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(reply.status, status, "unexpected status: {}", reply.describe());
    assert_eq!(reply.body["schemas"], json!([ERROR]), "an error should carry the Error schema: {}", reply.describe());
    assert_eq!(reply.body["status"], json!(status.as_str()), "status should be the code as a string: {}", reply.describe());
    assert!(reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "an error needs a detail: {}", reply.describe());
    if let Some(scim_type) = scim_type {
        assert_eq!(reply.body["scimType"], json!(scim_type), "unexpected scimType: {}", reply.describe());
    }
    let content_type = reply.header("content-type").unwrap_or("");
    assert!(content_type.starts_with(SCIM_JSON), "an error should be application/scim+json, not {content_type:?}");
}

/// Returns the `totalResults` of a list response.
#[track_caller]
pub fn total(reply: &Reply) -> i64 {
    assert_eq!(reply.status, StatusCode::OK, "the list failed: {}", reply.describe());
    reply.body["totalResults"].as_i64().unwrap_or_else(|| panic!("no totalResults: {}", reply.describe()))
}

/// Lists the ids of a list response's resources, in order.
pub fn resource_ids(reply: &Reply) -> Vec<String> {
    reply.body["Resources"]
        .as_array()
        .map(|items| items.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Percent-encodes a filter for a query string, with spaces as `%20`.
pub fn encode(text: &str) -> String {
    common::encode_segment(text)
}
