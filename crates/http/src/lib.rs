//! Roster's HTTP API: the `/core` JSON:API routes, the SCIM 2.0 service provider at `/scim/v2`, health probes and
//! the OpenAPI description.

mod documents;
pub mod error;
mod extract;
mod middleware;
mod openapi;
mod query;
mod response;
mod routes;
pub mod scim;

pub use error::ERROR_CODES;
pub use openapi::ApiDoc;
pub use routes::jml::DEFAULT_MAX_UPLOAD_BYTES;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post};
use extract::MAX_BODY_BYTES;
use roster_service::Roster;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub roster: Roster,
    /// The largest feed upload accepted by `POST /core/jml/plans`, in bytes.
    pub max_upload_bytes: usize,
}

/// Builds the application with every route and middleware, and the default feed upload limit.
pub fn app(roster: Roster) -> Router {
    app_with_upload_limit(roster, routes::jml::DEFAULT_MAX_UPLOAD_BYTES)
}

/// Builds the application with a feed upload limit in bytes.
pub fn app_with_upload_limit(roster: Roster, max_upload_bytes: usize) -> Router {
    let state = AppState { roster, max_upload_bytes };

    let core = Router::new()
        .route("/core/users", get(routes::users::list_users).post(routes::users::create_user))
        .route("/core/users/{id_or_email}", get(routes::users::get_user).patch(routes::users::update_user))
        .route("/core/users/{id_or_email}/archive", patch(routes::users::archive_user))
        .route("/core/users/{id_or_email}/unarchive", patch(routes::users::unarchive_user))
        .route("/core/users/{id_or_email}/roles", get(routes::roles::get_roles).put(routes::roles::sync_roles))
        .route(
            "/core/users/{id_or_email}/user_app_tokens",
            get(routes::tokens::list_user_tokens)
                .post(routes::tokens::create_user_token)
                .delete(routes::tokens::revoke_user_tokens),
        )
        .route("/core/users/{id_or_email}/user_app_tokens/{token_id}", delete(routes::tokens::revoke_user_token))
        .route("/core/role_types", get(routes::role_types::list_role_types).post(routes::role_types::create_role_type))
        .route(
            "/core/role_types/{id}",
            patch(routes::role_types::update_role_type).delete(routes::role_types::delete_role_type),
        )
        .route("/core/action_logs", get(routes::audit::list_action_logs))
        .route("/core/scheduled_actions", get(routes::scheduled_actions::list_scheduled_actions))
        .route("/core/scheduled_actions/{id}", delete(routes::scheduled_actions::cancel_scheduled_action))
        .route(
            "/core/jml/plans",
            // The handler enforces the feed's own limit while it streams; this only lifts axum's default.
            post(routes::jml::create_plan).layer(DefaultBodyLimit::max(max_upload_bytes.saturating_add(4 * MAX_BODY_BYTES))),
        )
        .route("/core/jml/plans/{id}", get(routes::jml::get_plan))
        .route("/core/jml/plans/{id}/changes", get(routes::jml::list_plan_changes))
        .route("/core/jml/mappings", get(routes::jml_configs::list_mappings))
        .route(
            "/core/jml/mappings/{name}",
            get(routes::jml_configs::get_mapping).put(routes::jml_configs::put_mapping).delete(routes::jml_configs::delete_mapping),
        )
        .route("/core/jml/policies", get(routes::jml_configs::list_policies))
        .route(
            "/core/jml/policies/{name}",
            get(routes::jml_configs::get_policy).put(routes::jml_configs::put_policy).delete(routes::jml_configs::delete_policy),
        )
        .route("/core/jml/plans/{id}/apply", post(routes::jml::apply_plan))
        .route("/core/jml/runs/{id}", get(routes::jml::get_run))
        .route("/core/jml/events", post(routes::jml::post_event))
        .route("/core/access_review", get(routes::access_review::get_review))
        .route("/core/access_review/fix", post(routes::access_review::fix_review))
        .route("/core/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .nest(scim::SCIM_PREFIX, scim::router());

    core.fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .with_state(state)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::request_context))
}
