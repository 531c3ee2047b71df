//! The SCIM Group representation of a Roster group, the reading of Group documents, and the translation of
//! Group filters into the domain's [`GroupFilter`].
//!
//! A group's `roles` attribute lists the role grants every active member receives, each value encoded as a
//! user's `roles` are (see [`role_value`]). Members are users, given by id.

use roster_domain::filter::CmpOp;
use roster_domain::{GroupFilter, RoleKey};
use roster_scim::schema::{CORE_GROUP, resource_schema};
use roster_scim::{AttrPath, CompValue, CompareOp, ScimError, ScimFilter, member_ids, member_ids_in_filter};
use roster_service::GroupWithMembers;
use serde_json::{Map, Value, json};

use crate::scim::error::ScimApiError;
use crate::scim::etag;
use crate::scim::user_document::{check_value, parse_role_value, role_value};
use crate::scim::schemas::{GROUP_SCHEMA, common_attribute};

/// Renders a group; `members` is false when the caller did not load them, and the attribute is then left out.
pub fn render_group(found: &GroupWithMembers, members: bool, base: &str) -> Value {
    let group = &found.group;
    let mut document = Map::new();
    let mut schemas = vec![Value::String(CORE_GROUP.to_string())];

    for (key, value) in &group.scim_attributes {
        if key.contains(':') {
            schemas.push(Value::String(key.clone()));
        }
        document.insert(key.clone(), value.clone());
    }
    document.insert("id".into(), group.id.to_string().into());
    if let Some(external_id) = &group.external_id {
        document.insert("externalId".into(), external_id.clone().into());
    }
    document.insert("displayName".into(), group.display_name.clone().into());
    if members && !found.members.is_empty() {
        let values: Vec<Value> = found
            .members
            .iter()
            .map(|member| {
                json!({
                    "value": member.user_id.to_string(),
                    "$ref": format!("{base}/Users/{}", member.user_id),
                    "type": "User",
                })
            })
            .collect();
        document.insert("members".into(), Value::Array(values));
    }
    if !found.roles.is_empty() {
        let values: Vec<Value> = found.roles.iter().map(role_json).collect();
        document.insert("roles".into(), Value::Array(values));
    }
    document.insert("schemas".into(), Value::Array(schemas));
    document.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at.canonical(),
            "lastModified": group.updated_at.canonical(),
            "location": format!("{base}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(document)
}

fn role_json(key: &RoleKey) -> Value {
    let mut value = Map::new();
    value.insert("value".into(), role_value(key).into());
    if let Some(resource_type) = &key.resource_type {
        value.insert("type".into(), resource_type.clone().into());
    }
    Value::Object(value)
}

/// A Group document read into Roster's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupInput {
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// `None` when the document has no `members`.
    pub members: Option<Vec<i64>>,
    /// `None` when the document has no `roles`.
    pub roles: Option<Vec<RoleKey>>,
    pub scim_attributes: Map<String, Value>,
}

impl GroupInput {
    pub fn display_name(&self) -> Result<String, ScimApiError> {
        self.display_name
            .clone()
            .ok_or_else(|| ScimApiError::invalid_value("displayName is required; give the group's name"))
    }
}

/// Reads a Group document (a POST or PUT body, or a patched rendering).
pub fn read_group(document: &Value) -> Result<GroupInput, ScimApiError> {
    let Value::Object(members) = document else {
        return Err(ScimApiError::invalid_syntax("a Group must be a JSON object with schemas and displayName"));
    };

    let mut input = GroupInput::default();
    for (key, value) in members {
        if let Some(urn) = resource_schema(key) {
            if urn == CORE_GROUP
                && let Value::Object(inner) = value
            {
                let nested = read_group(&Value::Object(inner.clone()))?;
                merge_inputs(&mut input, nested);
                continue;
            }
            return Err(ScimApiError::invalid_value(format!("a Group has no attributes of the schema {urn}")));
        }
        if let Some(common) = common_attribute(key) {
            if common.name == "externalId" {
                input.external_id = match value {
                    Value::Null => None,
                    Value::String(text) if text.trim().is_empty() => None,
                    Value::String(text) => Some(text.clone()),
                    other => return Err(ScimApiError::invalid_value(format!("externalId must be a string, found {other}"))),
                };
            }
            continue;
        }
        match GROUP_SCHEMA.attribute(key).map(|definition| definition.name) {
            Some("displayName") => {
                input.display_name = match value {
                    Value::Null => None,
                    Value::String(text) => Some(text.clone()),
                    other => return Err(ScimApiError::invalid_value(format!("displayName must be a string, found {other}"))),
                };
            }
            Some("members") => input.members = Some(read_member_ids(value)?),
            Some("roles") => input.roles = Some(read_roles(value)?),
            _ => {
                if !value.is_null() {
                    input.scim_attributes.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Ok(input)
}

fn merge_inputs(input: &mut GroupInput, nested: GroupInput) {
    input.display_name = nested.display_name.or(input.display_name.take());
    input.external_id = nested.external_id.or(input.external_id.take());
    input.members = nested.members.or(input.members.take());
    input.roles = nested.roles.or(input.roles.take());
    input.scim_attributes.extend(nested.scim_attributes);
}

/// Reads member ids from a `members` value. Ids that are not positive integers cannot name a Roster user, so they
/// are skipped with a log line, and an identity provider that sends a foreign id does not fail a whole group push.
/// An integer id of a user that does not exist fails the request in the service.
pub fn read_member_ids(value: &Value) -> Result<Vec<i64>, ScimApiError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let ids = member_ids(value)?;
    Ok(numeric_ids(&ids))
}

/// Keeps the ids that are positive integers.
pub fn numeric_ids(ids: &[String]) -> Vec<i64> {
    let mut numeric = Vec::with_capacity(ids.len());
    for id in ids {
        match id.trim().parse::<i64>() {
            Ok(id) if id > 0 => numeric.push(id),
            _ => tracing::info!(member = %id, "skipped a group member id that names no Roster user"),
        }
    }
    numeric
}

fn read_roles(value: &Value) -> Result<Vec<RoleKey>, ScimApiError> {
    let Some(definition) = GROUP_SCHEMA.attribute("roles") else { return Ok(Vec::new()) };
    let Some(Value::Array(items)) = check_value(definition, value.clone())? else { return Ok(Vec::new()) };
    let mut keys = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let text = item.get("value").and_then(Value::as_str).unwrap_or("");
        let key = parse_role_value(text).ok_or_else(|| {
            ScimApiError::invalid_value(format!(
                "roles[{index}].value {text:?} is not a role; write the role type id, and for a scoped role its \
                 resource type and id, as in \"2\" or \"6:workspace:analytics\""
            ))
        })?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.sort();
    Ok(keys)
}

// ---- filters ----

/// Translates a SCIM filter on Groups into the domain's group filter. `displayName` compares ignoring case,
/// `externalId` and `id` exactly; `members` and `members.value` take `eq` with a user id.
pub fn translate_group_filter(filter: &ScimFilter) -> Result<GroupFilter, ScimError> {
    match filter {
        ScimFilter::And(terms) => Ok(GroupFilter::And(terms.iter().map(translate_group_filter).collect::<Result<_, _>>()?)),
        ScimFilter::Or(terms) => Ok(GroupFilter::Or(terms.iter().map(translate_group_filter).collect::<Result<_, _>>()?)),
        ScimFilter::Not(inner) => Ok(GroupFilter::Not(Box::new(translate_group_filter(inner)?))),
        ScimFilter::Present(path) => match group_attribute(path)? {
            GroupAttribute::DisplayName | GroupAttribute::Id => Ok(GroupFilter::All),
            GroupAttribute::ExternalId => Ok(GroupFilter::ExternalIdPresent),
            GroupAttribute::MemberValue => Err(unsupported(path, "pr")),
        },
        ScimFilter::Compare { path, op, value } => compare(path, *op, value),
        ScimFilter::ValuePath { path, filter } => {
            if !matches!(group_attribute(path)?, GroupAttribute::MemberValue) || path.sub_attribute.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "Groups support a value filter only on members, as in members[value eq \"42\"], not on {path}"
                )));
            }
            let ids = member_ids_in_filter(filter).ok_or_else(|| {
                ScimError::invalid_filter("a members value filter must compare value with eq, as in members[value eq \"42\"]")
            })?;
            Ok(has_any_member(&ids))
        }
    }
}

enum GroupAttribute {
    DisplayName,
    ExternalId,
    Id,
    MemberValue,
}

fn group_attribute(path: &AttrPath) -> Result<GroupAttribute, ScimError> {
    if let Some(urn) = &path.schema
        && !urn.eq_ignore_ascii_case(CORE_GROUP)
    {
        return Err(ScimError::invalid_filter(format!("{path} is not a Group attribute")));
    }
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub_attribute.as_deref().map(str::to_ascii_lowercase);
    match (name.as_str(), sub.as_deref()) {
        ("displayname", None) => Ok(GroupAttribute::DisplayName),
        ("externalid", None) => Ok(GroupAttribute::ExternalId),
        ("id", None) => Ok(GroupAttribute::Id),
        ("members", None | Some("value")) => Ok(GroupAttribute::MemberValue),
        _ => Err(ScimError::invalid_filter(format!(
            "Groups cannot be filtered on {path}; filter on displayName, externalId, id or members.value"
        ))),
    }
}

fn compare(path: &AttrPath, op: CompareOp, value: &CompValue) -> Result<GroupFilter, ScimError> {
    let text = match value {
        CompValue::String(text) => Some(text.clone()),
        CompValue::Number(literal) => Some(literal.clone()),
        CompValue::Bool(_) | CompValue::Null => None,
    };
    match group_attribute(path)? {
        GroupAttribute::DisplayName | GroupAttribute::ExternalId => {
            let text = text.ok_or_else(|| ScimError::invalid_filter(format!("{path} is compared with a string")))?;
            if matches!(group_attribute(path)?, GroupAttribute::DisplayName) {
                Ok(GroupFilter::DisplayName(domain_op(op), text))
            } else {
                Ok(GroupFilter::ExternalId(domain_op(op), text))
            }
        }
        GroupAttribute::Id => {
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(unsupported(path, op.as_str()));
            }
            match text.as_deref().and_then(|t| t.parse::<i64>().ok()) {
                Some(id) => Ok(GroupFilter::Id(domain_op(op), id)),
                None if op == CompareOp::Eq => Ok(GroupFilter::Or(Vec::new())),
                None if op == CompareOp::Ne => Ok(GroupFilter::All),
                None => Err(ScimError::invalid_filter(format!("{path} {op} needs a numeric id such as \"42\""))),
            }
        }
        GroupAttribute::MemberValue => {
            if op != CompareOp::Eq {
                return Err(unsupported(path, op.as_str()));
            }
            Ok(has_any_member(&text.into_iter().collect::<Vec<_>>()))
        }
    }
}

/// Matches groups with any of the users; an id that is not an integer matches nothing.
fn has_any_member(ids: &[String]) -> GroupFilter {
    let terms: Vec<GroupFilter> =
        ids.iter().filter_map(|id| id.trim().parse::<i64>().ok()).map(GroupFilter::HasMember).collect();
    match terms.len() {
        1 => terms.into_iter().next().unwrap_or(GroupFilter::Or(Vec::new())),
        _ => GroupFilter::Or(terms),
    }
}

fn unsupported(path: &AttrPath, op: &str) -> ScimError {
    ScimError::invalid_filter(format!("Groups cannot be filtered with {path} {op}"))
}

fn domain_op(op: CompareOp) -> CmpOp {
    match op {
        CompareOp::Eq => CmpOp::Eq,
        CompareOp::Ne => CmpOp::Ne,
        CompareOp::Co => CmpOp::Co,
        CompareOp::Sw => CmpOp::Sw,
        CompareOp::Ew => CmpOp::Ew,
        CompareOp::Gt => CmpOp::Gt,
        CompareOp::Ge => CmpOp::Ge,
        CompareOp::Lt => CmpOp::Lt,
        CompareOp::Le => CmpOp::Le,
    }
}
