//! `/scim/v2/Groups`: create, read, list, search, replace, patch and delete groups.
//!
//! Membership changes go to the service as additions and removals, so adding one member to a group of 10,000
//! touches one row. Only a `replace` of all members, or a removal with a filter other than
//! `members[value eq "..."]`, reads the whole membership.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_domain::{GroupChange, GroupFilter, fold};
use roster_scim::{PatchOp, PatchOpKind, ScimType, expand_dotted_keys, member_ids, member_ids_in_filter, parse_filter};
use roster_scim::schema::CORE_GROUP;
use roster_service::{Actor, GroupQuery, GroupWithMembers, NewGroup};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::AppState;
use crate::scim::cursor::{Cursor, page_cursors};
use crate::scim::error::ScimApiError;
use crate::scim::extract::{Precondition, ScimAuth, ScimJson, ScimPath, resource_id};
use crate::scim::group_document::{GroupInput, numeric_ids, read_group, read_member_ids, render_group, translate_group_filter};
use crate::scim::list::{ListRequest, QueryParams};
use crate::scim::patch::{apply_operations, matches, read_operations};
use crate::scim::projection::Projection;
use crate::scim::schemas::GROUP_RESOURCE;
use crate::scim::{base_url, scim_response, with_etag};

/// Creates a group with its members and role grants (which need `roles:write`).
pub async fn create_group(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let projection = QueryParams::parse(uri.query())?.projection();
    let input = read_group(&body)?;
    let new = NewGroup {
        display_name: input.display_name()?,
        external_id: input.external_id.clone(),
        scim_attributes: input.scim_attributes.clone(),
        members: input.members.clone().unwrap_or_default(),
        roles: input.roles.clone().unwrap_or_default(),
    };

    let created = state.roster.create_group(&actor, new).await?;

    let base = base_url(&headers);
    let mut response = group_response(StatusCode::CREATED, &created, &base, &projection);
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/Groups/{}", created.group.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Gets a group. `excludedAttributes=members` (as Microsoft Entra ID sends) skips reading the members.
pub async fn get_group(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ScimApiError> {
    let id = resource_id("Group", &segment)?;
    let projection = QueryParams::parse(uri.query())?.projection();

    let found = state.roster.get_group(&actor, id, projection.includes("members")).await?;

    if Precondition::read(&headers, header::IF_NONE_MATCH).is_some_and(|p| p.matches(found.group.version)) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), found.group.version));
    }
    Ok(group_response(StatusCode::OK, &found, &base_url(&headers), &projection))
}

/// Lists groups, with `filter` on displayName, externalId, id and members.value, and `sortBy` displayName or id.
pub async fn list_groups(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ScimApiError> {
    let request = ListRequest::from_query(uri.query())?;
    list_page(&state, &actor, &request, &base_url(&headers)).await
}

/// Lists groups as a `POST /Groups/.search` body requests.
pub async fn search_groups(
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
        Some(text) => translate_group_filter(&parse_filter(text)?)?,
        None => GroupFilter::All,
    };
    let by_display_name = match request.sort_by.as_deref().map(str::trim) {
        None => false,
        Some(sort_by) => {
            let name = sort_by.rsplit(':').next().unwrap_or(sort_by);
            if name.eq_ignore_ascii_case("displayName") {
                true
            } else if name.eq_ignore_ascii_case("id") {
                false
            } else {
                return Err(ScimApiError::invalid_value(format!(
                    "groups cannot be sorted by {sort_by}; sort by displayName or id"
                )));
            }
        }
    };
    let sort_key = if by_display_name { "display_name" } else { "id" };
    let requested = request
        .continuation()
        .map(|text| Cursor::decode(text, "Group", sort_key, request.descending))
        .transpose()?;
    let position = requested.as_ref().map(|cursor| (cursor.value.clone(), cursor.id));
    let backward = requested.as_ref().is_some_and(|cursor| cursor.backward);
    let query = GroupQuery {
        filter,
        by_display_name,
        descending: request.descending,
        offset: if request.cursor.is_some() { 0 } else { request.offset() },
        limit: request.rows_to_read(),
        after: if backward { None } else { position.clone() },
        before: if backward { position } else { None },
    };

    let mut list = state.roster.list_groups(actor, query, request.projection.includes("members")).await?;

    let cursors = page_cursors(request, requested.as_ref(), &mut list.groups, |found, backward| {
        group_cursor(found, sort_key, request.descending, backward).encode()
    });
    let resources: Vec<Value> = list.groups.iter().map(|found| render_group(found, true, base)).collect();
    Ok(scim_response(StatusCode::OK, request.response(list.total, resources, cursors)))
}

/// Returns the cursor of the page that starts after a group, or with `backward` the page that ends before it.
fn group_cursor(found: &GroupWithMembers, sort_key: &str, descending: bool, backward: bool) -> Cursor {
    let group = &found.group;
    let value = if sort_key == "display_name" { fold(&group.display_name) } else { String::new() };
    Cursor { resource_type: "Group".into(), sort_key: sort_key.into(), descending, backward, id: group.id, value }
}

/// Replaces a group (RFC 7644 §3.5.1): its name, external id, other attributes and whole membership. `roles`
/// left out of the body leaves the group's role grants alone, so an identity provider that does not know them
/// never revokes them by accident.
pub async fn replace_group(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = resource_id("Group", &segment)?;
    let projection = QueryParams::parse(uri.query())?.projection();
    let input = read_group(&body)?;

    let current = state.roster.get_group(&actor, id, false).await?;
    let expected = expected_version(&headers, current.group.version)?;
    let mut change = attribute_change(&current, &input)?;
    change.replace_members = Some(input.members.clone().unwrap_or_default());
    let updated = state.roster.modify_group(&actor, id, change, expected).await?;

    Ok(group_response(StatusCode::OK, &updated, &base_url(&headers), &projection))
}

/// Applies PATCH operations and responds 200 with the group.
pub async fn patch_group(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimApiError> {
    let id = resource_id("Group", &segment)?;
    let projection = QueryParams::parse(uri.query())?.projection();
    let operations = read_operations(&body)?;

    let current = state.roster.get_group(&actor, id, false).await?;
    let expected = expected_version(&headers, current.group.version)?;
    let base = base_url(&headers);
    let mut members = MemberChanges::default();
    let mut other_operations = Vec::with_capacity(operations.len());
    for operation in operations {
        if let Some(operation) = members.take(&state, &actor, id, operation, &base).await? {
            other_operations.push(operation);
        }
    }
    let Value::Object(mut document) = render_group(&current, false, &base) else {
        return Err(ScimApiError::internal(&"a rendered group is not a JSON object"));
    };
    apply_operations(&mut document, &other_operations, &GROUP_RESOURCE)?;
    let mut patched = read_group(&Value::Object(document))?;
    // The rendering lists `roles` whenever the group has some, so a patched document without them removed them.
    patched.roles.get_or_insert_with(Vec::new);
    let mut change = attribute_change(&current, &patched)?;
    members.fill(&mut change);

    let updated = state.roster.modify_group(&actor, id, change, expected).await?;

    Ok(group_response(StatusCode::OK, &updated, &base, &projection))
}

/// Deletes a group and revokes the grants it gave its members.
pub async fn delete_group(
    State(state): State<AppState>,
    ScimAuth(actor): ScimAuth,
    ScimPath(segment): ScimPath,
    headers: HeaderMap,
) -> Result<Response, ScimApiError> {
    let id = resource_id("Group", &segment)?;
    if Precondition::read(&headers, header::IF_MATCH).is_some() {
        let current = state.roster.get_group(&actor, id, false).await?;
        expected_version(&headers, current.group.version)?;
    }

    state.roster.delete_group(&actor, id).await?;

    Ok(StatusCode::NO_CONTENT.into_response())
}

fn expected_version(headers: &HeaderMap, current: i64) -> Result<Option<i64>, ScimApiError> {
    match Precondition::read(headers, header::IF_MATCH) {
        Some(precondition) => precondition.expected_version(current),
        None => Ok(None),
    }
}

/// Builds the change of everything but the members, naming only what differs from `current`.
fn attribute_change(current: &GroupWithMembers, input: &GroupInput) -> Result<GroupChange, ScimApiError> {
    let group = &current.group;
    let display_name = input.display_name()?;
    let roles = input.roles.clone().filter(|roles| {
        let mut existing = current.roles.clone();
        existing.sort();
        *roles != existing
    });
    Ok(GroupChange {
        display_name: (display_name != group.display_name).then_some(display_name),
        external_id: (input.external_id != group.external_id).then(|| input.external_id.clone()),
        scim_attributes: (input.scim_attributes != group.scim_attributes).then(|| input.scim_attributes.clone()),
        replace_members: None,
        add_members: Vec::new(),
        remove_members: Vec::new(),
        roles,
    })
}

/// The membership changes of a PATCH, folded in request order into one replacement or one set of additions and
/// removals.
#[derive(Debug, Default)]
struct MemberChanges {
    replace: Option<BTreeSet<i64>>,
    add: BTreeSet<i64>,
    remove: BTreeSet<i64>,
}

impl MemberChanges {
    fn add(&mut self, ids: Vec<i64>) {
        for id in ids {
            self.remove.remove(&id);
            match &mut self.replace {
                Some(all) => {
                    all.insert(id);
                }
                None => {
                    self.add.insert(id);
                }
            }
        }
    }

    fn remove(&mut self, ids: Vec<i64>) {
        for id in ids {
            self.add.remove(&id);
            match &mut self.replace {
                Some(all) => {
                    all.remove(&id);
                }
                None => {
                    self.remove.insert(id);
                }
            }
        }
    }

    fn replace(&mut self, ids: Vec<i64>) {
        self.replace = Some(ids.into_iter().collect());
        self.add.clear();
        self.remove.clear();
    }

    fn fill(self, change: &mut GroupChange) {
        change.replace_members = self.replace.map(|all| all.into_iter().collect());
        change.add_members = self.add.into_iter().collect();
        change.remove_members = self.remove.into_iter().collect();
    }

    /// Takes the membership part of an operation, and returns what is left for the attribute engine, if
    /// anything.
    async fn take(
        &mut self,
        state: &AppState,
        actor: &Actor,
        group_id: i64,
        operation: PatchOp,
        base: &str,
    ) -> Result<Option<PatchOp>, ScimApiError> {
        let Some(path) = &operation.path else {
            return self.take_from_value(operation);
        };
        let names_members = path.attribute.eq_ignore_ascii_case("members")
            && path.schema.as_deref().is_none_or(|urn| urn.eq_ignore_ascii_case(CORE_GROUP));
        if !names_members {
            return Ok(Some(operation));
        }
        if path.sub_attribute.is_some() {
            return Err(ScimApiError::bad_request(
                ScimType::InvalidPath,
                format!("{path}: a member's attributes cannot be changed; add or remove the member instead"),
            ));
        }

        match (operation.op, &path.value_filter) {
            (PatchOpKind::Add, None) => self.add(read_member_ids(&operation.value)?),
            (PatchOpKind::Replace, None) => self.replace(read_member_ids(&operation.value)?),
            (PatchOpKind::Remove, None) if operation.value.is_null() => self.replace(Vec::new()),
            (PatchOpKind::Remove, None) => self.remove(numeric_ids(&member_ids(&operation.value)?)),
            (PatchOpKind::Remove, Some(filter)) => match member_ids_in_filter(filter) {
                Some(ids) => self.remove(numeric_ids(&ids)),
                None => {
                    // Any other filter is evaluated over the current members.
                    let found = state.roster.get_group(actor, group_id, true).await?;
                    let selected = found
                        .members
                        .iter()
                        .filter(|member| {
                            let value = json!({
                                "value": member.user_id.to_string(),
                                "$ref": format!("{base}/Users/{}", member.user_id),
                                "type": "User",
                                "display": member.user_name,
                            });
                            matches(filter, &value)
                        })
                        .map(|member| member.user_id)
                        .collect();
                    self.remove(selected);
                }
            },
            (PatchOpKind::Add | PatchOpKind::Replace, Some(_)) => {
                return Err(ScimApiError::bad_request(
                    ScimType::InvalidPath,
                    format!("{path}: members are added with the path members and a value such as [{{\"value\": \"42\"}}]"),
                ));
            }
        }
        Ok(None)
    }

    /// Takes `members` out of a path-less value, as in `{"op": "add", "value": {"members": [...]}}`.
    fn take_from_value(&mut self, operation: PatchOp) -> Result<Option<PatchOp>, ScimApiError> {
        let Value::Object(mut members) = expand_dotted_keys(operation.value)? else {
            return Err(ScimApiError::invalid_value(
                "an operation without a path needs an object of attributes as its value, such as {\"displayName\": \"Sales\"}",
            ));
        };
        let key = members.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned();
        if let Some(value) = key.and_then(|key| members.remove(&key)) {
            match operation.op {
                PatchOpKind::Add => self.add(read_member_ids(&value)?),
                PatchOpKind::Replace => self.replace(read_member_ids(&value)?),
                PatchOpKind::Remove => self.remove(read_member_ids(&value)?),
            }
        }
        if members.is_empty() {
            return Ok(None);
        }
        Ok(Some(PatchOp { op: operation.op, path: None, value: Value::Object(members) }))
    }
}

fn group_response(status: StatusCode, found: &GroupWithMembers, base: &str, projection: &Projection) -> Response {
    let document = projection.apply(render_group(found, true, base));
    with_etag(scim_response(status, document), found.group.version)
}
