//! Request context: the request id, one tracing span per request, the request log line, and JSON errors for
//! unknown routes, wrong methods and panics.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use tracing::Instrument;

use crate::error::ApiError;
use crate::extract::RequestId;

const REQUEST_ID_HEADER: &str = "x-request-id";

/// Accepts a client's request id when it is short and plain, so ids can be traced across services; otherwise
/// makes one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Wraps each request in a span with the method, the matched route (never the full URI, whose path may hold an
/// email and whose query may hold search terms) and the request id, and logs one line when it ends.
pub async fn request_context(mut request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let close_after_error = carries_body(&request) && matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    let span = tracing::info_span!("request", method = %method, route = %route, request_id = %id);
    let started = Instant::now();

    let mut response = next.run(request).instrument(span.clone()).await;

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(status, latency_ms = format!("{latency_ms:.2}"), "request"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if close_after_error && (response.status().is_client_error() || response.status().is_server_error()) {
        // A handler may reject a request, such as an upload without the scope, before it reads the body. The
        // server then closes the connection, since it cannot find where the next request starts, and a client
        // that reused the connection would lose its next request. RFC 9112 section 9.6 has a server that intends
        // to close send the "close" option.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Returns whether the request's headers announce a body: a non-zero `Content-Length`, or a `Transfer-Encoding`.
fn carries_body(request: &Request) -> bool {
    let headers = request.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    length.is_some_and(|length| length > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

pub async fn not_found() -> Response {
    ApiError::not_found("no such route; GET /core/openapi.json lists the API").into_response()
}

pub async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
        "this route does not support the method; GET /core/openapi.json lists the methods",
    )
    .into_response()
}

/// Turns a panic into a 500 with an error id; the panic message is logged, never returned.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string());
    ApiError::internal(&format!("handler panicked: {message}")).into_response()
}
