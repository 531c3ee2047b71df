//! `/core/users`: create, list, get, update, archive and restore users.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::filter::{CmpOp, Filter, FilterValue, Sort, SortKey, UserAttr};
use roster_domain::{LifecycleState, Timestamp};
use roster_service::{Page, PageExtras, UserListRequest, UserWithRoles};
use serde_json::{Value, json};

use crate::AppState;
use crate::documents::{UserResource, read_new_user, read_user_patch, user_document};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, OptionalJsonBody, Path, if_match, user_ref};
use crate::query::Params;
use crate::response::{json_api, with_etag};

const LIST_PARAMETERS: &[&str] = &[
    "query",
    "email",
    "unique_id",
    "role_type_id",
    "department",
    "archived",
    "updated_since",
    "sort",
    "page[size]",
    "page[number]",
    "page[after]",
    "count",
];

/// Creates a user and its roles in one transaction. Scope: `users:write` (and `roles:write` with roles).
#[utoipa::path(post, path = "/core/users", tag = "users",
    request_body(content = Object, description = "A users document; `roles_attributes` lists roles to grant",
        content_type = "application/vnd.api+json"),
    responses((status = 201, description = "Created; `Location` names the user"),
        (status = 400, description = "Malformed JSON"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Unsupported media type"),
        (status = 422, description = "Invalid attribute, unknown role type or manager, or a taken email, user_name or unique_id")),
    security(("bearer" = [])))]
pub async fn create_user(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let (new, roles) = read_new_user(&body)?;

    let created = state.roster.create_user(&actor, new, roles).await?;

    let mut response = with_etag(json_api(StatusCode::CREATED, user_document(&created)), created.user.version);
    if let Ok(location) = HeaderValue::from_str(&format!("/core/users/{}", created.user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Lists users with filters, sorting and pages. Scope: `users:read`.
///
/// `meta.total_count` is computed on the first page (no `page[after]`, and `page[number]` absent or 1) and on
/// any page with `count=true`; other pages leave it out, to keep deep iteration cheap.
#[utoipa::path(get, path = "/core/users", tag = "users",
    params(("query" = Option<String>, Query, description = "Case-insensitive substring of first name, last name or email"),
        ("email" = Option<String>, Query), ("unique_id" = Option<String>, Query), ("role_type_id" = Option<String>, Query),
        ("department" = Option<String>, Query),
        ("archived" = Option<bool>, Query, description = "true lists only archived users; default false"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339 time"),
        ("sort" = Option<String>, Query, description = "id, last_name, created_at or updated_at; a leading - for descending"),
        ("page[size]" = Option<u32>, Query, description = "1 to 100, default 25"),
        ("page[number]" = Option<u32>, Query, description = "offset pages, from 1"),
        ("page[after]" = Option<String>, Query, description = "keyset cursor from links.next"),
        ("count" = Option<bool>, Query, description = "true adds meta.total_count on any page")),
    responses((status = 200, description = "A page of users"), (status = 400, description = "Invalid parameter"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope")),
    security(("bearer" = [])))]
pub async fn list_users(State(state): State<AppState>, Auth(actor): Auth, OriginalUri(uri): OriginalUri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query(), LIST_PARAMETERS)?;
    let request = list_request(&params)?;
    let page_number = params.positive_int("page[number]")?;

    let list = state.roster.list_users(&actor, request.clone()).await?;

    let data: Vec<UserResource<'_>> = list.users.iter().map(UserResource::new).collect();
    let mut meta = json!({ "page_size": request.limit });
    if let (Some(total), Some(map)) = (list.total, meta.as_object_mut()) {
        map.insert("total_count".into(), total.into());
    }
    let next = match (list.users.last(), page_number) {
        (Some(_), Some(number)) if list.users.len() == request.limit as usize => {
            Some(format!("/core/users?{}", params.with_page("page[number]", &(number + 1).to_string())))
        }
        (Some(last), None) if list.users.len() == request.limit as usize => {
            let value = roster_service::sort_value(last, request.sort.key);
            let cursor = encode_cursor(request.sort.key, value.as_ref(), last.id);
            Some(format!("/core/users?{}", params.with_page("page[after]", &cursor)))
        }
        _ => None,
    };
    Ok(json_api(StatusCode::OK, UserListDocument { data, meta, links: json!({ "next": next }) }))
}

/// The body of a user list. Typed rather than a `Value`, so that the page's users serialise straight from the
/// store's rows.
#[derive(serde::Serialize)]
struct UserListDocument<'a> {
    data: Vec<UserResource<'a>>,
    meta: Value,
    links: Value,
}

fn list_request(params: &Params) -> Result<UserListRequest, ApiError> {
    let mut terms = Vec::new();

    let archived = params.bool("archived")?.unwrap_or(false);
    terms.push(if archived {
        Filter::StatusIn(vec![LifecycleState::Archived])
    } else {
        Filter::StatusIn(vec![LifecycleState::Pending, LifecycleState::Active, LifecycleState::Suspended])
    });
    if let Some(query) = params.text("query").filter(|q| !q.trim().is_empty()) {
        let query = query.trim();
        terms.push(Filter::Or(vec![
            Filter::text(UserAttr::FirstName, CmpOp::Co, query),
            Filter::text(UserAttr::LastName, CmpOp::Co, query),
            Filter::text(UserAttr::Email, CmpOp::Co, query),
        ]));
    }
    for (name, attr) in [("email", UserAttr::Email), ("unique_id", UserAttr::UniqueId), ("department", UserAttr::Department)] {
        if let Some(value) = params.text(name) {
            terms.push(Filter::text(attr, CmpOp::Eq, value.trim()));
        }
    }
    if let Some(role_type_id) = params.positive_int("role_type_id")? {
        terms.push(Filter::HasRole(role_type_id));
    }
    if let Some(since) = params.timestamp("updated_since")? {
        terms.push(Filter::Cmp { attr: UserAttr::UpdatedAt, op: CmpOp::Ge, value: FilterValue::Time(since), case_exact: true });
    }

    let sort = match params.text("sort") {
        None => Sort::default(),
        Some(text) => Sort::parse(text).ok_or_else(|| {
            ApiError::bad_parameter("sort", format!("{text:?} is not a sort key; use id, last_name, created_at or updated_at, with a leading - for descending"))
        })?,
    };
    let limit = params.page_size()?;
    let (page, first_page) = match (params.text("page[after]"), params.positive_int("page[number]")?) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_parameter("page[after]", "give page[after] or page[number], not both"));
        }
        (Some(cursor), None) => (decode_cursor(cursor, sort.key)?, false),
        (None, Some(number)) => {
            let offset = u64::try_from(number - 1).unwrap_or(0).saturating_mul(u64::from(limit));
            (Page::Offset(offset), number == 1)
        }
        (None, None) => (Page::Offset(0), true),
    };
    let with_total = first_page || params.bool("count")?.unwrap_or(false);

    let extras = PageExtras { total: with_total, ..PageExtras::default() };
    Ok(UserListRequest { filter: Filter::and(terms), sort, limit, page, extras })
}

/// Encodes a keyset cursor as `key:id:value`.
fn encode_cursor(key: SortKey, value: Option<&FilterValue>, id: i64) -> String {
    let value = match value {
        Some(FilterValue::Text(text)) => text.clone(),
        Some(FilterValue::Time(t)) => t.canonical(),
        Some(FilterValue::Int(v)) => v.to_string(),
        Some(FilterValue::Date(d)) => d.to_string(),
        None => String::new(),
    };
    format!("{}:{id}:{value}", key.as_str())
}

fn decode_cursor(cursor: &str, key: SortKey) -> Result<Page, ApiError> {
    let invalid = || ApiError::bad_parameter("page[after]", "the cursor is invalid or belongs to another sort; use links.next as given");
    let mut parts = cursor.splitn(3, ':');
    let (Some(name), Some(id), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if name != key.as_str() {
        return Err(invalid());
    }
    let id = id.parse::<i64>().map_err(|_| invalid())?;
    let value = match key {
        SortKey::Id => None,
        SortKey::LastName | SortKey::UserName | SortKey::DisplayName => Some(FilterValue::Text(value.to_string())),
        SortKey::CreatedAt | SortKey::UpdatedAt => Some(FilterValue::Time(Timestamp::parse(value).ok_or_else(invalid)?)),
    };
    Ok(Page::After { value, id })
}

/// Gets a user, with its roles and an `ETag`. Scope: `users:read`.
#[utoipa::path(get, path = "/core/users/{id_or_email}", tag = "users",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email"),
        ("archived" = Option<bool>, Query, description = "true also finds archived users")),
    responses((status = 200, description = "The user and its roles"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user")),
    security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query(), &["archived"])?;
    let user_ref = user_ref(&segment)?;

    let found = state.roster.get_user(&actor, &user_ref, params.bool("archived")?.unwrap_or(false)).await?;

    Ok(user_response(StatusCode::OK, &found))
}

/// Updates any writable attributes; `If-Match` with a stale ETag gets 412. Scope: `users:write`.
#[utoipa::path(patch, path = "/core/users/{id_or_email}", tag = "users",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email"),
        ("If-Match" = Option<String>, Header, description = "The ETag of a GET; a stale one changes nothing")),
    request_body(content = Object, content_type = "application/vnd.api+json"),
    responses((status = 200, description = "The updated user"), (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such user"), (status = 409, description = "Concurrent changes; retry"),
        (status = 412, description = "Stale If-Match"), (status = 413, description = "Body over 1 MiB"),
        (status = 415, description = "Unsupported media type"), (status = 422, description = "Invalid attribute or taken value")),
    security(("bearer" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;
    let expected = if_match(&headers)?;
    let patch = read_user_patch(&body)?;

    let updated = state.roster.update_user(&actor, &user_ref, patch, expected).await?;

    Ok(user_response(StatusCode::OK, &updated))
}

/// Archives a user: snapshot, remove every role, disable its tokens. Idempotent. Scope: `users:write`.
#[utoipa::path(patch, path = "/core/users/{id_or_email}/archive", tag = "users",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    responses((status = 204, description = "Archived (or already archived)"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such user"),
        (status = 409, description = "Concurrent changes; retry")),
    security(("bearer" = [])))]
pub async fn archive_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    OptionalJsonBody(_body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;

    state.roster.archive_user(&actor, &user_ref).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Restores an archived user; `meta.restore_roles` reapplies the snapshot's direct roles. Scope: `users:write`
/// (and `roles:write` to restore roles).
#[utoipa::path(patch, path = "/core/users/{id_or_email}/unarchive", tag = "users",
    params(("id_or_email" = String, Path, description = "A numeric id or a URL-encoded email")),
    request_body(content = Object, description = "Optional: {\"meta\": {\"restore_roles\": true, \"skip_missing_role_types\": true}}",
        content_type = "application/vnd.api+json"),
    responses((status = 200, description = "The restored user"), (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The snapshot needs role types that no longer exist"),
        (status = 415, description = "Unsupported media type")),
    security(("bearer" = [])))]
pub async fn unarchive_user(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(segment): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let user_ref = user_ref(&segment)?;
    let meta = body.as_ref().and_then(|b| b.get("meta"));
    let flag = |name: &str| -> Result<bool, ApiError> {
        match meta.and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::invalid_json(format!("meta.{name} must be true or false"))),
        }
    };
    let restore_roles = flag("restore_roles")?;
    let skip_missing = flag("skip_missing_role_types")?;

    let restored = state.roster.unarchive_user(&actor, &user_ref, restore_roles, skip_missing).await?;

    Ok(user_response(StatusCode::OK, &restored))
}

fn user_response(status: StatusCode, found: &UserWithRoles) -> Response {
    with_etag(json_api(status, user_document(found)), found.user.version)
}
