//! Liveness and readiness probes; neither needs a token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// Tells that the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// Tells whether the database answers; load balancers route only to ready nodes.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers"), (status = 503, description = "The database does not answer")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.roster.ready().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "unavailable" }))).into_response()
        }
    }
}
