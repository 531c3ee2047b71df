//! `/scim/v2/Users`: create, read, list, search, replace, patch and delete users.
//!
//! SCIM reads include archived users (shown with `active: false`), so an identity provider can find and
//! re-enable them; deleted users are invisible. `active` drives the lifecycle: false archives, true restores an
//! archived user with its snapshot's roles or activates a pending or suspended one.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::filter::{Filter, FilterValue, Sort, SortDirection, SortKey};
use roster_domain::{LifecycleState, Timestamp, User, UserPatch, UserRef};
use roster_scim::schema::{CORE_USER, ENTERPRISE_USER};
use roster_scim::{PatchOp, PatchOpKind, parse_user_filter, translate_user_sort_by};
use roster_service::{Actor, Page, PageExtras, UserList, UserListRequest, UserWithRoles, sort_value};
use serde_json::Value;

use crate::AppState;
use crate::scim::cursor::{Cursor, invalid_cursor, page_cursors};
use crate::scim::error::ScimApiError;
use crate::scim::extract::{Precondition, ScimAuth, ScimJson, ScimPath, resource_id};
use crate::scim::list::{ListRequest, QueryParams};
use crate::scim::patch::{apply_operations, read_operations};
use crate::scim::projection::Projection;
use crate::scim::schemas::USER_RESOURCE;
use crate::scim::user_document::{UserInput, insert_groups, read_user, render_user};
use crate::scim::{base_url, scim_response, with_etag};

/// The states SCIM lists and finds: every state but deleted.
pub(crate) const VISIBLE_STATES: [LifecycleState; 4] = LifecycleState::LIVE;

/// Creates a user. `active: false` in the body archives it right after creation.
pub async fn create_user(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let projection = QueryParams::parse(uri.query())?.projection();
    let input = read_user(&body)?;
    let new = input.to_new_user()?;

    let created = state.roster.create_user(&actor, new, Vec::new()).await?;
    let found = if input.active == Some(false) {
        let user_ref = UserRef::Id(created.user.id);
        state.roster.archive_user(&actor, &user_ref).await?;
        state.roster.get_user(&actor, &user_ref, true).await?
    } else {
        created
    };

    // A user just created belongs to no group, so its document needs no look-up of groups.
    let base = base_url(&headers);
    let document = render_user(&found.user, Some(&found.roles), &base);
    let mut response = with_etag(scim_response(StatusCode::CREATED, projection.apply(document)), found.user.version);
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/Users/{}", found.user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Gets a user. `If-None-Match` with the current ETag returns 304 without a body.
pub async fn get_user(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ScimApiError> {
    let id = resource_id("User", &segment)?;
    show_user(&state, &actor, id, &headers, uri.query()).await
}

/// Renders one user for `GET /Users/{id}` and `GET /Me`.
pub async fn show_user(
    state: &AppState,
    actor: &Actor,
    id: i64,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, ScimApiError> {
    let projection = QueryParams::parse(query)?.projection();

    let found = state.roster.get_user(actor, &UserRef::Id(id), true).await?;

    if Precondition::read(headers, header::IF_NONE_MATCH).is_some_and(|p| p.matches(found.user.version)) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), found.user.version));
    }
    user_response(state, actor, StatusCode::OK, &found, &base_url(headers), &projection).await
}

/// Lists users, with `filter`, `sortBy`, `sortOrder`, `startIndex`, `count`, `attributes` and
/// `excludedAttributes`.
pub async fn list_users(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ScimApiError> {
    let request = ListRequest::from_query(uri.query())?;
    list_page(&state, &actor, &request, &base_url(&headers)).await
}

/// Lists users as a `POST /Users/.search` body requests (RFC 7644 §3.4.3).
pub async fn search_users(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let request = ListRequest::from_search_body(&body)?;
    list_page(&state, &actor, &request, &base_url(&headers)).await
}

async fn list_page(state: &AppState, actor: &Actor, request: &ListRequest, base: &str) -> Result<Response, ScimApiError> {
    let filter = match &request.filter {
        Some(text) => parse_user_filter(text)?,
        None => Filter::All,
    };
    let direction = if request.descending { SortDirection::Desc } else { SortDirection::Asc };
    let key = match &request.sort_by {
        Some(sort_by) => translate_user_sort_by(sort_by)?,
        None => SortKey::Id,
    };
    let sort = Sort { key, direction };
    let requested = request
        .continuation()
        .map(|text| Cursor::decode(text, "User", sort.key.as_str(), sort.direction == SortDirection::Desc))
        .transpose()?;
    let page = match &requested {
        Some(cursor) => cursor_page(cursor, sort)?,
        None => Page::Offset(if request.cursor.is_some() { 0 } else { request.offset() }),
    };
    let list_request = UserListRequest {
        filter: Filter::and(vec![Filter::StatusIn(VISIBLE_STATES.to_vec()), filter]),
        sort,
        limit: request.rows_to_read(),
        page,
        extras: page_extras(request),
    };

    let mut list = state.roster.list_users(actor, list_request).await?;

    let cursors = page_cursors(request, requested.as_ref(), &mut list.users, |user, backward| {
        user_cursor(user, sort, backward).encode()
    });
    let resources = render_users(&list, request, base);
    let total = list.total.unwrap_or(resources.len() as i64);
    Ok(scim_response(StatusCode::OK, request.response(total, resources, cursors)))
}

/// Returns the extras a list of users reads beside them: the total, and the roles and groups when the response
/// shows them.
pub(crate) fn page_extras(request: &ListRequest) -> PageExtras {
    PageExtras { total: true, grants: request.projection.includes("roles"), groups: request.projection.includes("groups") }
}

/// Renders a page of users with the roles and groups the list read for the whole page.
pub(crate) fn render_users(list: &UserList, request: &ListRequest, base: &str) -> Vec<Value> {
    let with_roles = request.projection.includes("roles");
    list.users
        .iter()
        .map(|user| {
            let user_roles = with_roles.then(|| list.roles.get(&user.id).map_or(&[][..], Vec::as_slice));
            let mut document = render_user(user, user_roles, base);
            if let Some(user_groups) = list.groups.get(&user.id) {
                insert_groups(&mut document, user_groups, base);
            }
            document
        })
        .collect()
}

/// Reads a user list cursor into the keyset page after the user it names, or before it for a `previousCursor`.
fn cursor_page(cursor: &Cursor, sort: Sort) -> Result<Page, ScimApiError> {
    let value = match sort.key {
        SortKey::Id => None,
        SortKey::LastName | SortKey::UserName | SortKey::DisplayName => Some(FilterValue::Text(cursor.value.clone())),
        SortKey::CreatedAt | SortKey::UpdatedAt => {
            let time = Timestamp::parse(&cursor.value)
                .ok_or_else(|| invalid_cursor("the cursor holds an invalid timestamp; send cursor= (empty) to start again"))?;
            Some(FilterValue::Time(time))
        }
    };
    Ok(if cursor.backward { Page::Before { value, id: cursor.id } } else { Page::After { value, id: cursor.id } })
}

/// Returns the cursor of the page that starts after `user`, or with `backward` the page that ends before it.
fn user_cursor(user: &User, sort: Sort, backward: bool) -> Cursor {
    let value = match sort_value(user, sort.key) {
        Some(FilterValue::Text(text)) => text,
        Some(FilterValue::Time(time)) => time.canonical(),
        Some(FilterValue::Int(number)) => number.to_string(),
        Some(FilterValue::Date(date)) => date.to_string(),
        None => String::new(),
    };
    Cursor {
        resource_type: "User".into(),
        sort_key: sort.key.as_str().into(),
        descending: sort.direction == SortDirection::Desc,
        backward,
        id: user.id,
        value,
    }
}

/// Replaces a user's attributes (RFC 7644 §3.5.1). Attributes the body leaves out are cleared, except `active`,
/// whose absence leaves the lifecycle state alone, and the Roster fields SCIM does not map.
pub async fn replace_user(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = resource_id("User", &segment)?;
    replace_user_by_id(&state, &actor, id, &headers, uri.query(), &body).await
}

/// Applies a PUT body to user `id`, for `PUT /Users/{id}` and `PUT /Me`.
pub async fn replace_user_by_id(
    state: &AppState,
    actor: &Actor,
    id: i64,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &Value,
) -> Result<Response, ScimApiError> {
    let projection = QueryParams::parse(query)?.projection();
    let input = read_user(body)?;
    let user_ref = UserRef::Id(id);

    let current = state.roster.get_user(actor, &user_ref, true).await?;
    let updated = apply_user_input(state, actor, &current, input, headers).await?;

    user_response(state, actor, StatusCode::OK, &updated, &base_url(headers), &projection).await
}

/// Applies PATCH operations (RFC 7644 §3.5.2) and responds 200 with the whole user. Every conformance suite
/// accepts 200, while scim-sanity 0.7.4 fails a 204.
pub async fn patch_user(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = resource_id("User", &segment)?;
    patch_user_by_id(&state, &actor, id, &headers, uri.query(), &body).await
}

/// Applies a PATCH body to user `id`, for `PATCH /Users/{id}` and `PATCH /Me`.
pub async fn patch_user_by_id(
    state: &AppState,
    actor: &Actor,
    id: i64,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &Value,
) -> Result<Response, ScimApiError> {
    let projection = QueryParams::parse(query)?.projection();
    let operations = read_operations(body)?;
    if let Some(operation) = operations.iter().find(|op| removes_active(op)) {
        return Err(ScimApiError::mutability(format!(
            "{} cannot be removed, because every Roster user has a lifecycle state; replace active with false to \
             deactivate the user",
            operation.path.as_ref().map_or_else(|| "active".to_string(), ToString::to_string)
        )));
    }
    let user_ref = UserRef::Id(id);

    let current = state.roster.get_user(actor, &user_ref, true).await?;
    let base = base_url(headers);
    let Value::Object(mut document) = render_user(&current.user, None, &base) else {
        return Err(ScimApiError::internal(&"a rendered user is not a JSON object"));
    };
    // Without the rendered `active`, the patched document has `active` only when an operation set it, so a
    // PATCH that leaves `active` alone never changes the lifecycle state.
    document.remove("active");
    // The manager's `$ref` is derived from its value, and left in, it would keep a manager whose value an
    // operation removes.
    if let Some(Value::Object(manager)) = document.get_mut(ENTERPRISE_USER).and_then(|e| e.get_mut("manager")) {
        manager.remove("$ref");
    }
    apply_operations(&mut document, &operations, &USER_RESOURCE)?;
    let input = read_user(&Value::Object(document))?;
    let updated = apply_user_input(state, actor, &current, input, headers).await?;

    user_response(state, actor, StatusCode::OK, &updated, &base, &projection).await
}

fn removes_active(operation: &PatchOp) -> bool {
    operation.op == PatchOpKind::Remove
        && operation.path.as_ref().is_some_and(|path| {
            path.attribute.eq_ignore_ascii_case("active") && path.is_in_schema(CORE_USER)
        })
}

/// Makes a user match a read document: attribute changes, then the lifecycle change that `active` requests.
///
/// A reactivation runs first and a deactivation last, so a deactivated user's archive snapshot contains the
/// attributes of this request.
/// NOTE: the attribute update and the lifecycle change are separate transactions, each with its own audit
/// entry. `If-Match` is checked by the first write's `WHERE` clause when the attributes change, and otherwise
/// against the version read at the start of the request.
async fn apply_user_input(
    state: &AppState,
    actor: &Actor,
    current: &UserWithRoles,
    input: UserInput,
    headers: &HeaderMap,
) -> Result<UserWithRoles, ScimApiError> {
    let user_ref = UserRef::Id(current.user.id);
    let mut expected = match Precondition::read(headers, header::IF_MATCH) {
        Some(precondition) => precondition.expected_version(current.user.version)?,
        None => None,
    };
    let patch = input.replacement_for(&current.user)?;
    let status = current.user.status;

    if input.active == Some(true) && status != LifecycleState::Active {
        match status {
            // Restoring reapplies the snapshot's roles, which needs `roles:write`; role types deleted since the
            // archive are skipped rather than failing the identity provider's re-enable.
            LifecycleState::Archived => {
                state.roster.unarchive_user(actor, &user_ref, true, true).await?;
            }
            LifecycleState::Pending | LifecycleState::Suspended => {
                state.roster.activate_user(actor, &user_ref).await?;
            }
            LifecycleState::Active | LifecycleState::Deleted => {}
        }
        expected = None;
    }
    if patch != UserPatch::default() {
        state.roster.update_user_including_archived(actor, &user_ref, patch, expected).await?;
    }
    if input.active == Some(false) && status != LifecycleState::Archived {
        state.roster.archive_user(actor, &user_ref).await?;
    }

    Ok(state.roster.get_user(actor, &user_ref, true).await?)
}

/// Deletes a user: from then on it is invisible to every API and its `userName`, email and employee number may
/// be taken by a new user.
pub async fn delete_user(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
) -> Result<Response, ScimApiError> {
    let id = resource_id("User", &segment)?;
    delete_user_by_id(&state, &actor, id, &headers).await
}

/// Deletes user `id`, for `DELETE /Users/{id}` and `DELETE /Me`.
pub async fn delete_user_by_id(state: &AppState, actor: &Actor, id: i64, headers: &HeaderMap) -> Result<Response, ScimApiError> {
    let user_ref = UserRef::Id(id);
    if let Some(precondition) = Precondition::read(headers, header::IF_MATCH) {
        let current = state.roster.get_user(actor, &user_ref, true).await?;
        precondition.expected_version(current.user.version)?;
    }

    state.roster.delete_user(actor, &user_ref).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Renders one user with its roles and, unless the projection leaves it out, its groups.
async fn user_response(
    state: &AppState,
    actor: &Actor,
    status: StatusCode,
    found: &UserWithRoles,
    base: &str,
    projection: &Projection,
) -> Result<Response, ScimApiError> {
    let mut document = render_user(&found.user, Some(&found.roles), base);
    if projection.includes("groups") {
        let groups = state.roster.groups_of_users(actor, &[found.user.id]).await?;
        if let Some(user_groups) = groups.get(&found.user.id) {
            insert_groups(&mut document, user_groups, base);
        }
    }
    Ok(with_etag(scim_response(status, projection.apply(document)), found.user.version))
}
