//! `/scim/v2/Bulk` (RFC 7644 §3.7): several operations in one request.
//!
//! Each operation runs through the SCIM routes as a request of its own, with the caller's token and request id,
//! so it is authorised, validated and audited exactly as it would be alone, in its own transaction. Operations run
//! in order; one that refers by `bulkId` to a resource that a later operation creates waits until that operation
//! has run. `failOnErrors` stops the run after that many errors, and the response lists the operations that ran.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use tower::ServiceExt;

use crate::AppState;
use crate::extract::RequestId;
use crate::scim::error::ScimApiError;
use crate::scim::extract::{ScimAuth, parse_json};
use crate::scim::{MAX_OPERATIONS, MAX_PAYLOAD_BYTES, SCIM_MEDIA_TYPE, SCIM_PREFIX, scim_response};

const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// One operation of a bulk request, checked.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
}

/// Runs a bulk request. The body is read here rather than by an extractor, so that the token is checked before a
/// large body is parsed.
pub async fn bulk(State(state): State<AppState>, ScimAuth(_actor): ScimAuth, request: Request) -> Result<Response, ScimApiError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES).await.map_err(|_| ScimApiError::payload_too_large(MAX_PAYLOAD_BYTES))?;
    let document = parse_json(&bytes)?;
    let (operations, fail_on_errors) = read_bulk_request(&document)?;

    let results = run(&state, &parts.headers, parts.extensions.get::<RequestId>().cloned(), operations, fail_on_errors).await;

    Ok(scim_response(StatusCode::OK, json!({ "schemas": [BULK_RESPONSE_URN], "Operations": results })))
}

fn read_bulk_request(document: &Value) -> Result<(Vec<Operation>, Option<usize>), ScimApiError> {
    let Some(object) = document.as_object() else {
        return Err(ScimApiError::invalid_syntax("a bulk request must be a JSON object with schemas and Operations"));
    };
    let member = |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    if let Some(schemas) = member("schemas") {
        let listed = schemas.as_array().is_some_and(|list| list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_URN))));
        if !listed {
            return Err(ScimApiError::invalid_syntax(format!("schemas must be an array containing {BULK_REQUEST_URN}")));
        }
    }
    let fail_on_errors = match member("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_u64().filter(|n| *n > 0) {
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => return Err(ScimApiError::invalid_value(format!("failOnErrors must be a positive integer, found {value}"))),
        },
    };
    let Some(Value::Array(items)) = member("Operations") else {
        return Err(ScimApiError::invalid_syntax("a bulk request needs an Operations array"));
    };
    if items.len() > MAX_OPERATIONS {
        return Err(ScimApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request has {} operations, more than maxOperations ({MAX_OPERATIONS}); split it", items.len()),
        ));
    }

    let mut seen = Vec::new();
    let mut operations = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let operation = read_operation(index, item)?;
        if let Some(bulk_id) = &operation.bulk_id {
            if seen.contains(bulk_id) {
                return Err(ScimApiError::invalid_value(format!("Operations[{index}] repeats the bulkId {bulk_id:?}; each must be unique")));
            }
            seen.push(bulk_id.clone());
        }
        operations.push(operation);
    }
    Ok((operations, fail_on_errors))
}

fn read_operation(index: usize, item: &Value) -> Result<Operation, ScimApiError> {
    let Some(object) = item.as_object() else {
        return Err(ScimApiError::invalid_syntax(format!("Operations[{index}] must be an object with method and path")));
    };
    let text = |name: &str| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str()).map(str::to_string);

    let method = match text("method").map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        _ => return Err(ScimApiError::invalid_syntax(format!("Operations[{index}].method must be POST, PUT, PATCH or DELETE"))),
    };
    let Some(path) = text("path") else {
        return Err(ScimApiError::invalid_syntax(format!("Operations[{index}] has no path, such as /Users")));
    };
    let valid_path = ["/Users", "/Groups"].iter().any(|base| path == *base || path.starts_with(&format!("{base}/")));
    if !valid_path || path.contains(['?', '#']) || path.contains("/.") {
        return Err(ScimApiError::invalid_value(format!(
            "Operations[{index}].path {path:?} must name /Users, /Groups or one of their resources"
        )));
    }
    let bulk_id = text("bulkId");
    if method == Method::POST && bulk_id.is_none() {
        return Err(ScimApiError::invalid_syntax(format!("Operations[{index}] is a POST and needs a bulkId")));
    }
    let data = object.iter().find(|(k, _)| k.eq_ignore_ascii_case("data")).map(|(_, v)| v.clone());
    if method != Method::DELETE && data.is_none() {
        return Err(ScimApiError::invalid_syntax(format!("Operations[{index}] ({method}) has no data")));
    }
    Ok(Operation { method, bulk_id, version: text("version"), path, data })
}

/// Runs the operations, retrying those whose `bulkId` references were not yet resolved after each pass that
/// made progress.
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    request_id: Option<RequestId>,
    operations: Vec<Operation>,
    fail_on_errors: Option<usize>,
) -> Vec<Value> {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(operations.len());
    let mut errors = 0;
    let mut pending = operations;

    loop {
        let mut deferred = Vec::new();
        let before = pending.len();
        for operation in pending {
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                return results;
            }
            let Some(resolved) = resolve(&operation, &ids) else {
                deferred.push(operation);
                continue;
            };
            let result = execute(state, headers, request_id.clone(), &operation, resolved).await;
            if let (Some(bulk_id), Some(id)) = (&operation.bulk_id, &result.id) {
                ids.insert(bulk_id.clone(), id.clone());
            }
            if result.failed {
                errors += 1;
            }
            results.push(result.json);
        }
        if deferred.is_empty() {
            return results;
        }
        if deferred.len() == before {
            // No operation could run, so the remaining references name no bulkId of this request, or form a cycle.
            for operation in deferred {
                if fail_on_errors.is_some_and(|limit| errors >= limit) {
                    break;
                }
                let error = ScimApiError::bad_request(
                    roster_scim::ScimType::InvalidValue,
                    "the operation refers to a bulkId that no operation of this request creates, or to one in a cycle",
                );
                errors += 1;
                results.push(failure(&operation, &error.status, error.body()));
            }
            return results;
        }
        pending = deferred;
    }
}

/// An operation with its `bulkId:` references replaced by ids; `None` while a reference is unresolved.
struct Resolved {
    path: String,
    data: Option<Value>,
}

fn resolve(operation: &Operation, ids: &HashMap<String, String>) -> Option<Resolved> {
    let mut path_segments = Vec::new();
    for segment in operation.path.split('/') {
        match segment.strip_prefix("bulkId:") {
            Some(bulk_id) => path_segments.push(ids.get(bulk_id)?.clone()),
            None => path_segments.push(segment.to_string()),
        }
    }
    let data = match &operation.data {
        Some(data) => Some(replace_references(data, ids)?),
        None => None,
    };
    Some(Resolved { path: path_segments.join("/"), data })
}

fn replace_references(value: &Value, ids: &HashMap<String, String>) -> Option<Value> {
    Some(match value {
        Value::String(text) => match text.strip_prefix("bulkId:") {
            Some(bulk_id) => Value::String(ids.get(bulk_id)?.clone()),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|item| replace_references(item, ids)).collect::<Option<_>>()?),
        Value::Object(members) => {
            let mut replaced = Map::new();
            for (key, member) in members {
                replaced.insert(key.clone(), replace_references(member, ids)?);
            }
            Value::Object(replaced)
        }
        other => other.clone(),
    })
}

struct OperationResult {
    json: Value,
    id: Option<String>,
    failed: bool,
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request_id: Option<RequestId>,
    operation: &Operation,
    resolved: Resolved,
) -> OperationResult {
    let mut request = Request::builder().method(operation.method.clone()).uri(format!("{SCIM_PREFIX}{}", resolved.path));
    for name in [header::AUTHORIZATION, header::HOST, HeaderName::from_static("x-forwarded-proto")] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value.clone());
        }
    }
    if let Some(version) = &operation.version
        && let Ok(value) = HeaderValue::from_str(version)
    {
        request = request.header(header::IF_MATCH, value);
    }
    let body = match &resolved.data {
        Some(data) => {
            request = request.header(header::CONTENT_TYPE, SCIM_MEDIA_TYPE);
            Body::from(data.to_string())
        }
        None => Body::empty(),
    };
    let request = match request.body(body) {
        Ok(mut request) => {
            if let Some(request_id) = request_id {
                request.extensions_mut().insert(request_id);
            }
            request
        }
        Err(error) => {
            let error = ScimApiError::internal(&format!("building a bulk operation's request failed: {error}"));
            return OperationResult { json: failure(operation, &error.status, error.body()), id: None, failed: true };
        }
    };

    let router = axum::Router::new().nest(SCIM_PREFIX, crate::scim::router()).with_state(state.clone());
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let version = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);

    if !status.is_success() {
        return OperationResult { json: failure(operation, &status, body), id: None, failed: true };
    }
    let id = body.get("id").and_then(Value::as_str).map(str::to_string);
    let mut json = Map::new();
    json.insert("method".into(), operation.method.as_str().into());
    if let Some(bulk_id) = &operation.bulk_id {
        json.insert("bulkId".into(), bulk_id.clone().into());
    }
    if let Some(location) = location.or_else(|| body.pointer("/meta/location").and_then(Value::as_str).map(str::to_string)) {
        json.insert("location".into(), location.into());
    }
    if let Some(version) = version {
        json.insert("version".into(), version.into());
    }
    json.insert("status".into(), status.as_u16().to_string().into());
    OperationResult { json: Value::Object(json), id, failed: false }
}

fn failure(operation: &Operation, status: &StatusCode, response: Value) -> Value {
    let mut json = Map::new();
    json.insert("method".into(), operation.method.as_str().into());
    if let Some(bulk_id) = &operation.bulk_id {
        json.insert("bulkId".into(), bulk_id.clone().into());
    }
    json.insert("status".into(), status.as_u16().to_string().into());
    json.insert("response".into(), response);
    Value::Object(json)
}
