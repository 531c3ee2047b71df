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

use axum::Router;
use axum::routing::{delete, get, patch};
use roster_service::Roster;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub roster: Roster,
}

/// Builds the application with every route and middleware.
pub fn app(roster: Roster) -> Router {
    let state = AppState { roster };

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
