//! The SCIM User representation of a Roster user, and the reading of User documents into Roster's fields.
//!
//! Mapping (RFC 7643 §4.1 and §4.3):
//!
//! | SCIM | Roster |
//! |---|---|
//! | `userName` | `user_name` |
//! | `name.givenName`, `name.familyName` | `first_name`, `last_name` |
//! | the primary email, else the first of type `work`, else the first | `email` |
//! | the first phone number of type `mobile` whose value is a phone number | `mobile_number` |
//! | `title` | `job_title` |
//! | `externalId` | `external_id` |
//! | `active` | true exactly in the active state |
//! | enterprise `employeeNumber`, `department`, `manager.value` | `unique_id`, `department`, `manager_id` |
//! | `roles` (read-only) | the user's role assignments |
//!
//! Every other attribute, the other emails and phone numbers, and the sub-attributes of `name` and of the mapped
//! email and phone number are kept in `scim_attributes` as sent (with attribute names in their canonical case) and
//! returned intact. The mapped email and phone number keep their place and sub-attributes; only their `value`
//! follows the Roster field, so a change through `/core` shows here.

use roster_domain::user::{MAX_TEXT_LEN, check_phone, check_text};
use roster_domain::{Email, LifecycleState, NewUser, RoleAssignment, RoleKey, User, UserName, UserPatch};
use roster_scim::schema::{CORE_USER, ENTERPRISE_USER, resource_schema};
use roster_scim::{expand_dotted_keys, normalise_bool, normalise_manager};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

use crate::scim::error::ScimApiError;
use crate::scim::etag;
use crate::scim::schemas::{AttrType, AttributeDef, ENTERPRISE_SCHEMA, Located, USER_RESOURCE};

/// Top-level attributes that are never stored: read-only, derived, or (`password`) never kept by Roster.
const NOT_STORED: [&str; 6] = ["id", "meta", "schemas", "roles", "groups", "password"];

/// Renders a user. `roles` is `None` when the caller did not load them, and the attribute is then left out.
pub fn render_user(user: &User, roles: Option<&[RoleAssignment]>, base: &str) -> Value {
    let stored = &user.scim_attributes;
    let mut document = Map::new();
    let mut schemas = vec![Value::String(CORE_USER.to_string())];

    document.insert("id".into(), user.id.to_string().into());
    if let Some(external_id) = &user.external_id {
        document.insert("externalId".into(), external_id.clone().into());
    }
    document.insert("userName".into(), user.user_name.clone().into());

    let mut name = stored.get("name").and_then(Value::as_object).cloned().unwrap_or_default();
    name.retain(|key, _| !key.eq_ignore_ascii_case("givenName") && !key.eq_ignore_ascii_case("familyName"));
    if let Some(first_name) = &user.first_name {
        name.insert("givenName".into(), first_name.clone().into());
    }
    if let Some(last_name) = &user.last_name {
        name.insert("familyName".into(), last_name.clone().into());
    }
    if !name.is_empty() {
        document.insert("name".into(), Value::Object(name));
    }

    for (key, value) in stored {
        if ["name", "emails", "phoneNumbers"].contains(&key.as_str()) || key.eq_ignore_ascii_case(ENTERPRISE_USER) {
            continue;
        }
        if key.contains(':') {
            schemas.push(Value::String(key.clone()));
        }
        document.insert(key.clone(), value.clone());
    }
    if let Some(title) = &user.job_title {
        document.insert("title".into(), title.clone().into());
    }
    document.insert("active".into(), (user.status == LifecycleState::Active).into());
    if let Some(emails) = render_mapped_values(stored.get("emails"), user.email.as_deref(), &EMAILS) {
        document.insert("emails".into(), emails);
    }
    if let Some(phones) = render_mapped_values(stored.get("phoneNumbers"), user.mobile_number.as_deref(), &PHONES) {
        document.insert("phoneNumbers".into(), phones);
    }
    if let Some(roles) = roles
        && !roles.is_empty()
    {
        document.insert("roles".into(), render_roles(roles));
    }

    let mut enterprise = stored.get(ENTERPRISE_USER).and_then(Value::as_object).cloned().unwrap_or_default();
    enterprise.retain(|key, _| {
        !["employeeNumber", "department", "manager"].iter().any(|mapped| key.eq_ignore_ascii_case(mapped))
    });
    if let Some(unique_id) = &user.unique_id {
        enterprise.insert("employeeNumber".into(), unique_id.clone().into());
    }
    if let Some(department) = &user.department {
        enterprise.insert("department".into(), department.clone().into());
    }
    if let Some(manager_id) = user.manager_id {
        enterprise.insert("manager".into(), json!({ "value": manager_id.to_string(), "$ref": format!("{base}/Users/{manager_id}") }));
    }
    if !enterprise.is_empty() {
        schemas.push(Value::String(ENTERPRISE_USER.to_string()));
        document.insert(ENTERPRISE_USER.into(), Value::Object(enterprise));
    }

    document.insert("schemas".into(), Value::Array(schemas));
    document.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at.canonical(),
            "lastModified": user.updated_at.canonical(),
            "location": format!("{base}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(document)
}

/// Adds the read-only `groups` attribute (RFC 7643 §4.1.2) to a rendered user: one value per group the user is a
/// direct member of, given as (group id, display name). Roster's groups have no nested groups, so every
/// membership is `direct`. A user in no group gets no `groups` attribute.
pub fn insert_groups(document: &mut Value, groups: &[(i64, String)], base: &str) {
    let Value::Object(object) = document else { return };
    if groups.is_empty() {
        return;
    }
    let values: Vec<Value> = groups
        .iter()
        .map(|(id, display_name)| {
            json!({
                "value": id.to_string(),
                "$ref": format!("{base}/Groups/{id}"),
                "display": display_name,
                "type": "direct",
            })
        })
        .collect();
    object.insert("groups".into(), Value::Array(values));
}

/// Renders role assignments as SCIM `roles`, one value per role key however many sources grant it, ordered by
/// key.
pub fn render_roles(roles: &[RoleAssignment]) -> Value {
    let mut sorted: Vec<&RoleAssignment> = roles.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut seen = BTreeSet::new();
    let mut values = Vec::new();
    for role in sorted {
        if !seen.insert(role.key.clone()) {
            continue;
        }
        let mut value = Map::new();
        value.insert("value".into(), role_value(&role.key).into());
        if !role.role_type_name.is_empty() {
            value.insert("display".into(), role.role_type_name.clone().into());
        }
        if let Some(resource_type) = &role.key.resource_type {
            value.insert("type".into(), resource_type.clone().into());
        }
        values.push(Value::Object(value));
    }
    Value::Array(values)
}

/// Encodes a role key as a SCIM role `value`: the role type id for a global role, or
/// `role_type_id:resource_type:resource_id` for a scoped one, as in `6:workspace:analytics`.
pub fn role_value(key: &RoleKey) -> String {
    match (&key.resource_type, &key.resource_id) {
        (None, None) => key.role_type_id.to_string(),
        (resource_type, resource_id) => format!(
            "{}:{}:{}",
            key.role_type_id,
            resource_type.as_deref().unwrap_or(""),
            resource_id.as_deref().unwrap_or("")
        ),
    }
}

/// Parses a SCIM role `value` in the form that [`role_value`] writes.
pub fn parse_role_value(text: &str) -> Option<RoleKey> {
    let mut parts = text.trim().splitn(3, ':');
    let role_type_id = parts.next()?.parse::<i64>().ok().filter(|id| *id > 0)?;
    let non_empty = |part: Option<&str>| part.filter(|p| !p.is_empty()).map(str::to_string);
    Some(RoleKey { role_type_id, resource_type: non_empty(parts.next()), resource_id: non_empty(parts.next()) })
}

/// The mapping of one Roster field onto a multi-valued attribute (`emails` or `phoneNumbers`).
struct MappedValues {
    /// Picks the value that maps onto the field.
    select: fn(&[Value]) -> Option<usize>,
    /// Tells whether a selected value's text would be stored in the field. A selected value that maps but whose
    /// field is empty was cleared through `/core`, and is dropped; one that does not map is kept.
    maps: fn(&str) -> bool,
    /// The value rendered for a field that no stored value carries, as for a user created through `/core`.
    fresh: fn(&str) -> Value,
}

const EMAILS: MappedValues = MappedValues {
    select: select_email,
    maps: |_| true,
    fresh: |email| json!({ "value": email, "type": "work", "primary": true }),
};

const PHONES: MappedValues = MappedValues {
    select: select_mobile,
    maps: |text| check_phone("phoneNumbers", text).is_ok(),
    fresh: |number| json!({ "value": number, "type": "mobile", "primary": true }),
};

fn member<'a>(item: &'a Value, name: &str) -> Option<&'a Value> {
    item.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn text_member<'a>(item: &'a Value, name: &str) -> Option<&'a str> {
    member(item, name).and_then(Value::as_str)
}

fn has_type(item: &Value, wanted: &str) -> bool {
    text_member(item, "type").is_some_and(|t| t.eq_ignore_ascii_case(wanted))
}

fn select_email(items: &[Value]) -> Option<usize> {
    items
        .iter()
        .position(|item| member(item, "primary") == Some(&Value::Bool(true)))
        .or_else(|| items.iter().position(|item| has_type(item, "work")))
        .or(if items.is_empty() { None } else { Some(0) })
}

fn select_mobile(items: &[Value]) -> Option<usize> {
    items.iter().position(|item| has_type(item, "mobile"))
}

fn render_mapped_values(stored: Option<&Value>, field: Option<&str>, mapping: &MappedValues) -> Option<Value> {
    let mut items = stored.and_then(Value::as_array).cloned().unwrap_or_default();
    match ((mapping.select)(&items), field) {
        (Some(index), Some(field)) => {
            if let Some(Value::Object(item)) = items.get_mut(index) {
                item.retain(|k, _| !k.eq_ignore_ascii_case("value"));
                item.insert("value".into(), field.into());
            }
        }
        (Some(index), None) => {
            let mapped = items.get(index).and_then(|item| text_member(item, "value")).is_some_and(mapping.maps);
            if mapped {
                items.remove(index);
            }
        }
        (None, Some(field)) => items.insert(0, (mapping.fresh)(field)),
        (None, None) => {}
    }
    if items.is_empty() { None } else { Some(Value::Array(items)) }
}

/// A User document read into Roster's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInput {
    pub user_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub mobile_number: Option<String>,
    pub job_title: Option<String>,
    pub external_id: Option<String>,
    pub unique_id: Option<String>,
    pub department: Option<String>,
    pub manager_id: Option<i64>,
    pub scim_attributes: Map<String, Value>,
    /// `None` when the document has no `active`.
    pub active: Option<bool>,
}

impl UserInput {
    fn user_name(&self) -> Result<UserName, ScimApiError> {
        let Some(text) = &self.user_name else {
            return Err(ScimApiError::invalid_value(
                "userName is required; give the user's login name, such as \"bjensen@example.com\"",
            ));
        };
        UserName::parse("userName", text).map_err(|e| ScimApiError::invalid_value(format!("userName {}", e.message)))
    }

    pub fn to_new_user(&self) -> Result<NewUser, ScimApiError> {
        Ok(NewUser {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            user_name: Some(self.user_name()?),
            unique_id: self.unique_id.clone(),
            external_id: self.external_id.clone(),
            mobile_number: self.mobile_number.clone(),
            job_title: self.job_title.clone(),
            department: self.department.clone(),
            manager_id: self.manager_id,
            start_date: None,
            end_date: None,
            custom_attributes: Default::default(),
            scim_attributes: self.scim_attributes.clone(),
        })
    }

    /// Builds the patch that makes `current` equal this document, naming only the fields that change. Roster
    /// fields SCIM does not map (dates and custom attributes) are left alone.
    pub fn replacement_for(&self, current: &User) -> Result<UserPatch, ScimApiError> {
        fn changed<T: PartialEq + Clone>(current: &T, requested: &T) -> Option<T> {
            if current == requested { None } else { Some(requested.clone()) }
        }
        let user_name = self.user_name()?;
        let current_email = current.email.clone();
        let requested_email = self.email.as_ref().map(|e| e.as_str().to_string());
        // A user created through `/core` stores no SCIM attributes, but its rendering carries its email as
        // `emails`, which reading stores. Attributes equal to those of its unchanged rendering are no change.
        let unchanged = read_user(&render_user(current, None, ""))?.scim_attributes;
        let scim_attributes =
            if self.scim_attributes == unchanged { None } else { changed(&current.scim_attributes, &self.scim_attributes) };

        Ok(UserPatch {
            first_name: changed(&current.first_name, &self.first_name),
            last_name: changed(&current.last_name, &self.last_name),
            email: (current_email != requested_email).then(|| self.email.clone()),
            user_name: (current.user_name != user_name.as_str()).then_some(user_name),
            unique_id: changed(&current.unique_id, &self.unique_id),
            external_id: changed(&current.external_id, &self.external_id),
            mobile_number: changed(&current.mobile_number, &self.mobile_number),
            job_title: changed(&current.job_title, &self.job_title),
            department: changed(&current.department, &self.department),
            manager_id: changed(&current.manager_id, &self.manager_id),
            start_date: None,
            end_date: None,
            custom_attributes: None,
            scim_attributes,
        })
    }
}

/// Reads a User document (a POST or PUT body, or a patched rendering).
pub fn read_user(document: &Value) -> Result<UserInput, ScimApiError> {
    let Value::Object(members) = expand_dotted_keys(document.clone())? else {
        return Err(ScimApiError::invalid_syntax("a User must be a JSON object with schemas and userName"));
    };

    let mut input = UserInput::default();
    let mut enterprise: Vec<(String, Value)> = Vec::new();
    let mut pending: Vec<(String, Value)> = members.into_iter().collect();

    while let Some((key, value)) = pending.pop() {
        if let Some(urn) = resource_schema(&key) {
            match (urn, value) {
                (_, Value::Null) => {}
                (ENTERPRISE_USER, Value::Object(inner)) => enterprise.extend(inner),
                (CORE_USER, Value::Object(inner)) => pending.extend(inner),
                (urn, Value::Object(_)) => {
                    return Err(ScimApiError::invalid_value(format!("a User has no attributes of the schema {urn}")));
                }
                (urn, other) => {
                    return Err(ScimApiError::invalid_value(format!("{urn} must be an object of attributes, found {other}")));
                }
            }
            continue;
        }
        if NOT_STORED.iter().any(|name| key.eq_ignore_ascii_case(name)) {
            continue;
        }
        match USER_RESOURCE.locate(&key) {
            Located::Extension(_, definition) => enterprise.push((definition.name.to_string(), value)),
            Located::Core(Some(definition)) => read_core_attribute(&mut input, definition, value)?,
            // An attribute no schema defines, such as an unknown extension's object, is kept as sent.
            Located::Core(None) => {
                if !value.is_null() {
                    input.scim_attributes.insert(key, value);
                }
            }
        }
    }

    let mut stored_enterprise = Map::new();
    for (key, value) in enterprise {
        read_enterprise_attribute(&mut input, &mut stored_enterprise, &key, value)?;
    }
    if !stored_enterprise.is_empty() {
        input.scim_attributes.insert(ENTERPRISE_USER.into(), Value::Object(stored_enterprise));
    }
    Ok(input)
}

fn read_core_attribute(input: &mut UserInput, definition: &AttributeDef, value: Value) -> Result<(), ScimApiError> {
    match definition.name {
        "userName" => {
            input.user_name = match value {
                Value::Null => None,
                Value::String(text) => Some(text),
                other => return Err(ScimApiError::invalid_value(format!("userName must be a string, found {other}"))),
            };
        }
        "externalId" => input.external_id = optional_text("externalId", &value, MAX_TEXT_LEN)?,
        "title" => input.job_title = optional_text("title", &value, MAX_TEXT_LEN)?,
        "active" => {
            input.active = match &value {
                Value::Null => None,
                other => Some(normalise_bool(other).ok_or_else(|| {
                    ScimApiError::invalid_value(format!("active must be true or false, found {other}"))
                })?),
            };
        }
        "name" => {
            let Some(Value::Object(mut name)) = check_value(definition, value)? else { return Ok(()) };
            input.first_name = take_text(&mut name, "givenName", "name.givenName")?;
            input.last_name = take_text(&mut name, "familyName", "name.familyName")?;
            if !name.is_empty() {
                input.scim_attributes.insert("name".into(), Value::Object(name));
            }
        }
        "emails" => {
            let Some(Value::Array(items)) = check_value(definition, value)? else { return Ok(()) };
            if let Some(index) = select_email(&items) {
                let text = items.get(index).and_then(|item| text_member(item, "value")).ok_or_else(|| {
                    ScimApiError::invalid_value(format!("emails[{index}] has no value; give the address as \"value\""))
                })?;
                let email = Email::parse("emails", text.trim())
                    .map_err(|e| ScimApiError::invalid_value(format!("emails[{index}].value {}", e.message)))?;
                input.email = Some(email);
            }
            input.scim_attributes.insert("emails".into(), Value::Array(items));
        }
        "phoneNumbers" => {
            let Some(Value::Array(items)) = check_value(definition, value)? else { return Ok(()) };
            input.mobile_number = select_mobile(&items)
                .and_then(|index| items.get(index))
                .and_then(|item| text_member(item, "value"))
                .filter(|text| check_phone("phoneNumbers", text).is_ok())
                .map(str::to_string);
            input.scim_attributes.insert("phoneNumbers".into(), Value::Array(items));
        }
        name => {
            if let Some(checked) = check_value(definition, value)? {
                input.scim_attributes.insert(name.to_string(), checked);
            }
        }
    }
    Ok(())
}

fn read_enterprise_attribute(
    input: &mut UserInput,
    stored: &mut Map<String, Value>,
    key: &str,
    value: Value,
) -> Result<(), ScimApiError> {
    let Some(definition) = ENTERPRISE_SCHEMA.attribute(key) else {
        if !value.is_null() {
            stored.insert(key.to_string(), value);
        }
        return Ok(());
    };
    match definition.name {
        "employeeNumber" => input.unique_id = optional_text("employeeNumber", &value, MAX_TEXT_LEN)?,
        "department" => input.department = optional_text("department", &value, MAX_TEXT_LEN)?,
        "manager" => input.manager_id = read_manager(value)?,
        name => {
            if let Some(checked) = check_value(definition, value)? {
                stored.insert(name.to_string(), checked);
            }
        }
    }
    Ok(())
}

/// Reads the enterprise `manager`: `{"value": "42"}`, the plain id `"42"` that some clients send, or
/// `{"$ref": ".../Users/42"}` without a value.
fn read_manager(value: Value) -> Result<Option<i64>, ScimApiError> {
    let invalid = |found: &Value| {
        ScimApiError::invalid_value(format!(
            "manager.value must be the id of a Roster user, such as {{\"value\": \"42\"}}, found {found}"
        ))
    };
    let manager = normalise_manager(value);
    let id = match &manager {
        Value::Null => return Ok(None),
        Value::Object(_) => match (member(&manager, "value"), text_member(&manager, "$ref")) {
            (Some(value), _) if !value.is_null() => value.clone(),
            (_, Some(reference)) => Value::String(reference.trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string()),
            _ => Value::Null,
        },
        other => return Err(invalid(other)),
    };
    match &id {
        Value::Null => Ok(None),
        Value::String(text) if text.trim().is_empty() => Ok(None),
        Value::String(text) => text.trim().parse::<i64>().ok().filter(|id| *id > 0).map(Some).ok_or_else(|| invalid(&id)),
        Value::Number(number) => number.as_i64().filter(|id| *id > 0).map(Some).ok_or_else(|| invalid(&id)),
        other => Err(invalid(other)),
    }
}

/// Reads an optional text field of Roster: null, an empty string or only spaces mean "no value".
fn optional_text(name: &str, value: &Value, max: usize) -> Result<Option<String>, ScimApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.trim().is_empty() => Ok(None),
        Value::String(text) => match check_text(name, text, max) {
            Ok(()) => Ok(Some(text.clone())),
            Err(e) => Err(ScimApiError::invalid_value(format!("{name} {}", e.message))),
        },
        other => Err(ScimApiError::invalid_value(format!("{name} must be a string, found {other}"))),
    }
}

fn take_text(object: &mut Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, ScimApiError> {
    let Some(key) = object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned() else { return Ok(None) };
    let value = object.remove(&key).unwrap_or(Value::Null);
    optional_text(path, &value, MAX_TEXT_LEN)
}

/// Checks a value against its attribute definition and returns it with sub-attribute names in their canonical
/// case and booleans sent as strings read as booleans. Returns `None` for an unassigned value (null, an empty
/// array or an empty object), which RFC 7643 §2.5 treats as absent.
pub fn check_value(definition: &AttributeDef, value: Value) -> Result<Option<Value>, ScimApiError> {
    if definition.multi_valued {
        let items = match value {
            Value::Null => return Ok(None),
            Value::Array(items) => items,
            // One value where an array is expected, as some clients send for a single email.
            single => vec![single],
        };
        let mut checked = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let path = format!("{}[{index}]", definition.name);
            if let Some(item) = check_single(definition, &path, item)? {
                checked.push(item);
            }
        }
        return Ok(if checked.is_empty() { None } else { Some(Value::Array(checked)) });
    }
    check_single(definition, definition.name, value)
}

fn check_single(definition: &AttributeDef, path: &str, value: Value) -> Result<Option<Value>, ScimApiError> {
    if value.is_null() {
        return Ok(None);
    }
    if definition.kind != AttrType::Complex {
        return check_simple(definition, path, value).map(Some);
    }
    let Value::Object(members) = value else {
        return Err(ScimApiError::invalid_value(format!("{path} must be an object of sub-attributes, found {value}")));
    };
    let mut checked = Map::new();
    for (key, member_value) in members {
        if member_value.is_null() {
            continue;
        }
        match definition.sub_attribute(&key) {
            Some(sub) => {
                let value = check_simple(sub, &format!("{path}.{}", sub.name), member_value)?;
                checked.insert(sub.name.to_string(), value);
            }
            None => {
                checked.insert(key, member_value);
            }
        }
    }
    Ok(if checked.is_empty() { None } else { Some(Value::Object(checked)) })
}

fn check_simple(definition: &AttributeDef, path: &str, value: Value) -> Result<Value, ScimApiError> {
    match (definition.kind, value) {
        (AttrType::Boolean, value) => normalise_bool(&value)
            .map(Value::Bool)
            .ok_or_else(|| ScimApiError::invalid_value(format!("{path} must be true or false, found {value}"))),
        (_, Value::String(text)) => Ok(Value::String(text)),
        (_, other) => Err(ScimApiError::invalid_value(format!("{path} must be a string, found {other}"))),
    }
}

#[cfg(test)]
mod tests;
