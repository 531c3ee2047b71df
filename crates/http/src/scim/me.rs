//! `/scim/v2/Me` (RFC 7644 §3.11): the user that owns the request's token, served as `/Users/{id}` serves it.
//! A token without an owner (such as the first admin token) names no user, and `/Me` answers 404 for it.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_service::Actor;

use crate::AppState;
use crate::scim::error::ScimApiError;
use crate::scim::extract::{ScimAuth, ScimJson};
use crate::scim::users::{delete_user_by_id, patch_user_by_id, replace_user_by_id, show_user};

fn owner(actor: &Actor) -> Result<i64, ScimApiError> {
    actor.user_id.ok_or_else(|| {
        ScimApiError::not_found(
            "this token is not owned by a user, so /Me names no resource; use a token created for a user, or \
             address the user under /Users",
        )
    })
}

pub async fn get_me(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ScimApiError> {
    let id = owner(&actor)?;
    show_user(&state, &actor, id, &headers, uri.query()).await
}

pub async fn replace_me(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = owner(&actor)?;
    replace_user_by_id(&state, &actor, id, &headers, uri.query(), &body).await
}

pub async fn patch_me(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = owner(&actor)?;
    patch_user_by_id(&state, &actor, id, &headers, uri.query(), &body).await
}

pub async fn delete_me(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
) -> Result<Response, ScimApiError> {
    let id = owner(&actor)?;
    delete_user_by_id(&state, &actor, id, &headers).await
}
