//! Repairs for the value variants that real SCIM clients send in PATCH operations, each of which a strict client
//! never sends, so applying them does not change the meaning of a conformant request.

use crate::error::{ScimError, ScimType};
use crate::filter::{CompValue, CompareOp, ScimFilter};
use crate::parser::parse_attr_path_only;
use crate::schema;
use serde_json::{Map, Value};

/// Reads a boolean sent either as JSON `true`/`false` or as the string `"true"`/`"false"` in any letter case, as
/// Microsoft Entra ID sends `"False"` for `active`. Returns `None` for anything else, which the caller reports as
/// `invalidValue`.
pub fn normalise_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Rewrites the dotted and URN-qualified member names of a path-less PATCH value into nested objects.
///
/// `{"name.givenName": "Ann"}` becomes `{"name": {"givenName": "Ann"}}`, and
/// `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"}` becomes
/// `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}`. A name qualified with a
/// core schema URN moves to the top level, and one qualified with an unknown URN is kept as sent. Members merge
/// into an object already present under the same name (the name compared without regard to case), so
/// `{"name": {"familyName": "Li"}, "name.givenName": "Ann"}` keeps both. A value that is not an object is returned
/// unchanged.
///
/// Fails with `invalidPath` for a name with more than one sub-attribute, and with `invalidValue` when two members
/// give different values for one attribute or a sub-attribute is set inside a value that is not an object.
pub fn expand_dotted_keys(value: Value) -> Result<Value, ScimError> {
    let Value::Object(members) = value else {
        return Ok(value);
    };

    let mut expanded = Map::new();
    for (key, member_value) in members {
        let target = split_member_name(&key)?;
        let mut keys: Vec<String> = Vec::with_capacity(3);
        if let Some(urn) = target.extension {
            keys.push(urn.to_string());
        }
        keys.push(target.attribute);
        keys.extend(target.sub_attribute);
        insert_nested(&mut expanded, &keys, member_value, &key)?;
    }
    Ok(Value::Object(expanded))
}

/// The place of a member of a path-less value in the resource.
struct MemberTarget {
    /// The URN of the extension that contains the attribute, or `None` for a core attribute.
    extension: Option<&'static str>,
    attribute: String,
    sub_attribute: Option<String>,
}

fn split_member_name(key: &str) -> Result<MemberTarget, ScimError> {
    // A name that is a schema URN itself (an extension's object) stays as it is.
    if let Some(urn) = schema::resource_schema(key) {
        return Ok(MemberTarget { extension: None, attribute: urn.to_string(), sub_attribute: None });
    }
    // Only names that contain a `.` or `:` need splitting. Any other name is kept exactly, even one outside the
    // attribute grammar, for the caller to check.
    if !key.contains(['.', ':']) {
        return Ok(MemberTarget { extension: None, attribute: key.to_string(), sub_attribute: None });
    }

    let path = parse_attr_path_only(key, ScimType::InvalidPath).map_err(|error| ScimError {
        message: format!("the value member {key:?} is not an attribute name: {}", error.message),
        ..error
    })?;
    let extension = match path.schema.as_deref() {
        None => None,
        Some(urn) => match schema::resource_schema(urn) {
            Some(known) if schema::is_core(known) => None,
            Some(known) => Some(known),
            // An unknown URN may name an extension's whole object or one of its attributes. The two cannot be
            // distinguished, so the member stays as sent.
            None => {
                return Ok(MemberTarget { extension: None, attribute: key.to_string(), sub_attribute: None });
            }
        },
    };
    Ok(MemberTarget { extension, attribute: path.name, sub_attribute: path.sub_attribute })
}

/// Sets `keys` (a path of member names) in `object` to `value`, creating or merging objects on the way.
fn insert_nested(
    object: &mut Map<String, Value>,
    keys: &[String],
    value: Value,
    original: &str,
) -> Result<(), ScimError> {
    let Some((first, rest)) = keys.split_first() else {
        return Ok(());
    };
    let existing_key =
        object.keys().find(|existing| existing.eq_ignore_ascii_case(first)).cloned().unwrap_or_else(|| first.clone());

    if rest.is_empty() {
        match (object.get_mut(&existing_key), value) {
            (None, value) => {
                object.insert(existing_key, value);
            }
            (Some(Value::Object(present)), Value::Object(incoming)) => {
                for (key, member_value) in incoming {
                    insert_nested(present, &[key], member_value, original)?;
                }
            }
            (Some(present), value) if *present == value => {}
            (Some(_), _) => return Err(conflict(original)),
        }
        return Ok(());
    }

    let slot = object.entry(existing_key).or_insert_with(|| Value::Object(Map::new()));
    match slot {
        Value::Object(inner) => insert_nested(inner, rest, value, original),
        _ => Err(conflict(original)),
    }
}

fn conflict(key: &str) -> ScimError {
    ScimError::new(
        ScimType::InvalidValue,
        format!("the value member {key:?} conflicts with another member that sets the same attribute differently"),
    )
}

/// Turns a manager sent as a plain id (`"value": "42"`) into the enterprise extension's complex form
/// `{"value": "42"}`, and an empty string or `null` into `null`, since an empty manager id can only mean "no manager".
/// Objects and other values are returned unchanged for the caller to check.
pub fn normalise_manager(value: Value) -> Value {
    match value {
        Value::String(id) if id.trim().is_empty() => Value::Null,
        Value::String(id) => single_member_object("value", Value::String(id)),
        Value::Number(id) => single_member_object("value", Value::String(id.to_string())),
        other => other,
    }
}

fn single_member_object(key: &str, value: Value) -> Value {
    let mut object = Map::new();
    object.insert(key.to_string(), value);
    Value::Object(object)
}

/// Reads the member ids of a `members` value: an array of `{"value": id}` objects, as in
/// `{"op": "remove", "path": "members", "value": [{"value": "2819c223"}]}`, or one such object. Ids may be strings
/// or numbers and are returned as strings. Fails with `invalidValue` naming the first element that has no id.
pub fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let elements: Vec<&Value> = match value {
        Value::Array(elements) => elements.iter().collect(),
        Value::Object(_) => vec![value],
        other => {
            return Err(ScimError::new(
                ScimType::InvalidValue,
                format!("members must be an array of objects such as [{{\"value\": \"2819c223\"}}], found {other}"),
            ));
        }
    };

    elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| {
            let id = element
                .as_object()
                .and_then(|object| object.iter().find(|(key, _)| key.eq_ignore_ascii_case("value")).map(|(_, id)| id));
            match id {
                Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
                Some(Value::Number(id)) => Ok(id.to_string()),
                _ => Err(ScimError::new(
                    ScimType::InvalidValue,
                    format!("members[{index}] has no id; write it as {{\"value\": \"2819c223\"}}, found {element}"),
                )),
            }
        })
        .collect()
}

/// Returns the member ids that a value filter such as `value eq "2819c223"` (or several joined with `or`) selects,
/// for a PATCH `members[...]` path, so one member can be removed without reading the whole group. Returns `None`
/// for any other filter, which the caller evaluates in full.
pub fn member_ids_in_filter(filter: &ScimFilter) -> Option<Vec<String>> {
    match filter {
        ScimFilter::Compare { path, op: CompareOp::Eq, value }
            if path.schema.is_none() && path.sub_attribute.is_none() && path.name.eq_ignore_ascii_case("value") =>
        {
            match value {
                CompValue::String(id) => Some(vec![id.clone()]),
                CompValue::Number(id) => Some(vec![id.clone()]),
                _ => None,
            }
        }
        ScimFilter::Or(terms) => {
            let mut ids = Vec::new();
            for term in terms {
                ids.extend(member_ids_in_filter(term)?);
            }
            Some(ids)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
