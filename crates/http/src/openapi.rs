//! The OpenAPI 3.1 description of the API, generated from the handlers' annotations.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "Identity lifecycle service: users, roles and their audit trail."),
    paths(
        routes::users::create_user,
        routes::users::list_users,
        routes::users::get_user,
        routes::users::update_user,
        routes::users::archive_user,
        routes::users::unarchive_user,
        routes::roles::get_roles,
        routes::roles::sync_roles,
        routes::role_types::list_role_types,
        routes::role_types::create_role_type,
        routes::role_types::update_role_type,
        routes::role_types::delete_role_type,
        routes::audit::list_action_logs,
        routes::scheduled_actions::list_scheduled_actions,
        routes::scheduled_actions::cancel_scheduled_action,
        routes::jml::create_plan,
        routes::jml::get_plan,
        routes::jml::list_plan_changes,
        routes::jml_configs::list_mappings,
        routes::jml_configs::get_mapping,
        routes::jml_configs::put_mapping,
        routes::jml_configs::delete_mapping,
        routes::jml_configs::list_policies,
        routes::jml_configs::get_policy,
        routes::jml_configs::put_policy,
        routes::jml_configs::delete_policy,
        routes::jml::apply_plan,
        routes::jml::get_run,
        routes::jml::post_event,
        routes::access_review::get_review,
        routes::access_review::fix_review,
        routes::tokens::list_user_tokens,
        routes::tokens::create_user_token,
        routes::tokens::revoke_user_tokens,
        routes::tokens::revoke_user_token,
        routes::health::healthz,
        routes::health::readyz,
        openapi_json,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// Serves the OpenAPI description; it needs no token.
#[utoipa::path(get, path = "/core/openapi.json", tag = "openapi",
    responses((status = 200, description = "This OpenAPI 3.1 description", content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(error) => crate::error::ApiError::internal(&error).into_response(),
    }
}
