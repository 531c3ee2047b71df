//! `POST /.search` at the root (RFC 7644 §3.4.3): one query over Users and Groups.
//!
//! The result lists the matching users first, then the matching groups, each in id order, and `startIndex` and
//! `count` page through that combined list. The filter is translated once for each type. A filter that names an
//! attribute or uses an operator one type lacks matches none of that type. A filter that fits neither type fails
//! with the error of the Users translation.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_domain::filter::{Filter, Sort};
use roster_domain::GroupFilter;
use roster_scim::{parse_filter, translate_user_filter};
use roster_service::{Actor, GroupQuery, Page, UserList, UserListRequest};

use crate::AppState;
use crate::scim::cursor::PageCursors;
use crate::scim::error::ScimApiError;
use crate::scim::extract::{ScimAuth, ScimJson};
use crate::scim::group_document::{render_group, translate_group_filter};
use crate::scim::list::ListRequest;
use crate::scim::users::{VISIBLE_STATES, page_extras, render_users};
use crate::scim::{base_url, scim_response};

/// The filters of one root search, one per resource type; `None` for a type the filter cannot apply to.
struct TypeFilters {
    users: Option<Filter>,
    groups: Option<GroupFilter>,
}

/// Searches Users and Groups together.
pub async fn search_all_types(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let request = ListRequest::from_search_body(&body)?;
    check_supported(&request)?;
    let filters = translate_for_each_type(request.filter.as_deref())?;
    let base = base_url(&headers);

    let users = search_users(&state, &actor, &request, filters.users).await?;
    let users_total = users.total.unwrap_or(users.users.len() as i64);
    let groups_offset = request.offset().saturating_sub(u64::try_from(users_total).unwrap_or(0));
    let groups_limit = request.count.saturating_sub(u32::try_from(users.users.len()).unwrap_or(u32::MAX));
    let (groups, groups_total) = search_groups(&state, &actor, &request, filters.groups, groups_offset, groups_limit).await?;

    let mut resources = render_users(&users, &request, &base);
    resources.extend(groups.iter().map(|found| render_group(found, request.projection.includes("members"), &base)));
    let total = users_total + groups_total;
    Ok(scim_response(StatusCode::OK, request.response(total, resources, PageCursors::default())))
}

/// Rejects the parameters that have no meaning across resource types.
fn check_supported(request: &ListRequest) -> Result<(), ScimApiError> {
    if request.sort_by.is_some() {
        return Err(ScimApiError::invalid_value(
            "sortBy is not supported by POST /.search at the root, because Users and Groups sort by different \
             attributes; leave it out, or search /Users/.search or /Groups/.search",
        ));
    }
    if request.cursor.is_some() {
        return Err(ScimApiError::invalid_value(
            "cursor pagination is not supported by POST /.search at the root; page with startIndex and count, or \
             search /Users/.search or /Groups/.search",
        ));
    }
    Ok(())
}

fn translate_for_each_type(text: Option<&str>) -> Result<TypeFilters, ScimApiError> {
    let Some(text) = text else {
        return Ok(TypeFilters { users: Some(Filter::All), groups: Some(GroupFilter::All) });
    };
    let parsed = parse_filter(text)?;

    let users = translate_user_filter(&parsed);
    let groups = translate_group_filter(&parsed);
    match (users, groups) {
        (Err(error), Err(_)) => Err(error.into()),
        (users, groups) => Ok(TypeFilters { users: users.ok(), groups: groups.ok() }),
    }
}

async fn search_users(
    state: &AppState,
    actor: &Actor,
    request: &ListRequest,
    filter: Option<Filter>,
) -> Result<UserList, ScimApiError> {
    let Some(filter) = filter else { return Ok(UserList::default()) };
    let list_request = UserListRequest {
        filter: Filter::and(vec![Filter::StatusIn(VISIBLE_STATES.to_vec()), filter]),
        sort: Sort::default(),
        limit: request.count,
        page: Page::Offset(request.offset()),
        extras: page_extras(request),
    };
    Ok(state.roster.list_users(actor, list_request).await?)
}

async fn search_groups(
    state: &AppState,
    actor: &Actor,
    request: &ListRequest,
    filter: Option<GroupFilter>,
    offset: u64,
    limit: u32,
) -> Result<(Vec<roster_service::GroupWithMembers>, i64), ScimApiError> {
    let Some(filter) = filter else { return Ok((Vec::new(), 0)) };
    let query = GroupQuery { filter, by_display_name: false, descending: false, offset, limit, after: None, before: None };
    let list = state.roster.list_groups(actor, query, request.projection.includes("members")).await?;
    Ok((list.groups, list.total))
}
