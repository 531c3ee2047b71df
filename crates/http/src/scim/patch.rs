//! Applies PATCH operations (RFC 7644 §3.5.2) to a rendered resource. The caller then reads the patched document
//! the way it reads a PUT body, so PATCH and PUT share one mapping onto Roster's fields.
//!
//! Rules beyond the RFC's letter, each for a known client:
//! - `add` and `replace` on a value filter that matches nothing create the value from the filter's `eq` terms,
//!   as Microsoft Entra ID expects when it sets `emails[type eq "work"].value` on a user without a work email.
//! - `remove` with a value filter that matches nothing succeeds, so a retried request does not fail.
//! - `remove` on a multi-valued attribute with a `value` removes only the listed values, as Entra removes group
//!   members with `{"op": "remove", "path": "members", "value": [{"value": "..."}]}`.
//! - Booleans sent as the strings `"True"` and `"False"` are read as booleans.
//!
//! A value filter is evaluated here over the values of one attribute of one resource, never over stored rows.

use roster_scim::{CompValue, CompareOp, PatchOp, PatchOpKind, PatchPath, ScimFilter, ScimType};
use roster_scim::{expand_dotted_keys, normalise_bool, parse_patch_request, schema};
use roster_domain::fold;
use serde_json::{Map, Value};

use crate::scim::MAX_OPERATIONS;
use crate::scim::error::ScimApiError;
use crate::scim::schemas::{AttrType, AttributeDef, Located, Mutability, ResourceSchemas, SchemaDef};

/// Reads a PATCH body and checks the operation count against [`MAX_OPERATIONS`].
pub fn read_operations(body: &Value) -> Result<Vec<PatchOp>, ScimApiError> {
    let operations = parse_patch_request(body)?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimApiError::invalid_value(format!(
            "the request has {} operations, more than the maximum of {MAX_OPERATIONS}; split it into several requests",
            operations.len()
        )));
    }
    Ok(operations)
}

/// Applies `operations` in order to `resource`, a rendered resource of the type `schemas` describes.
pub fn apply_operations(
    resource: &mut Map<String, Value>,
    operations: &[PatchOp],
    schemas: &ResourceSchemas,
) -> Result<(), ScimApiError> {
    for operation in operations {
        match &operation.path {
            None => apply_without_path(resource, operation.op, operation.value.clone(), schemas)?,
            Some(path) => apply_with_path(resource, operation.op, path, operation.value.clone(), schemas)?,
        }
    }
    Ok(())
}

fn apply_without_path(
    resource: &mut Map<String, Value>,
    kind: PatchOpKind,
    value: Value,
    schemas: &ResourceSchemas,
) -> Result<(), ScimApiError> {
    let Value::Object(members) = expand_dotted_keys(value)? else {
        return Err(ScimApiError::invalid_value(
            "an operation without a path needs an object of attributes as its value, such as {\"active\": false}",
        ));
    };

    for (key, member_value) in members {
        if let Some(extension) = schemas.extension(&key) {
            match member_value {
                Value::Object(inner) => {
                    let container = extension_object(resource, extension.id, true).ok_or_else(|| missing_object(extension.id))?;
                    for (name, inner_value) in inner {
                        let target = Target { schema: Some(extension), name: &name, filter: None, sub_attribute: None };
                        apply_attribute(container, &target, kind, inner_value, false)?;
                    }
                }
                // `{URN: null}` unassigns the whole extension, as a `remove` whose path is the URN does.
                Value::Null => {
                    if kind != PatchOpKind::Add
                        && let Some(key) = resource.keys().find(|k| k.eq_ignore_ascii_case(extension.id)).cloned()
                    {
                        resource.remove(&key);
                    }
                }
                other => {
                    return Err(ScimApiError::invalid_value(format!(
                        "the value of {} must be an object of its attributes, found {other}",
                        extension.id
                    )));
                }
            }
            continue;
        }
        if schema::resource_schema(&key).is_some_and(|urn| urn.eq_ignore_ascii_case(schemas.core.id)) {
            let Value::Object(inner) = member_value else { continue };
            for (name, inner_value) in inner {
                apply_located(resource, schemas, &name, kind, inner_value)?;
            }
            continue;
        }
        apply_located(resource, schemas, &key, kind, member_value)?;
    }
    Ok(())
}

/// Applies a path-less member named without a URN, in the schema that defines it.
fn apply_located(
    resource: &mut Map<String, Value>,
    schemas: &ResourceSchemas,
    name: &str,
    kind: PatchOpKind,
    value: Value,
) -> Result<(), ScimApiError> {
    match schemas.locate(name) {
        Located::Extension(extension, _) => {
            let container = extension_object(resource, extension.id, true).ok_or_else(|| missing_object(extension.id))?;
            let target = Target { schema: Some(extension), name, filter: None, sub_attribute: None };
            apply_attribute(container, &target, kind, value, false)
        }
        Located::Core(_) => {
            let target = Target { schema: Some(schemas.core), name, filter: None, sub_attribute: None };
            apply_attribute(resource, &target, kind, value, false)
        }
    }
}

fn apply_with_path(
    resource: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Value,
    schemas: &ResourceSchemas,
) -> Result<(), ScimApiError> {
    let extension = match &path.schema {
        Some(urn) if urn.eq_ignore_ascii_case(schemas.core.id) => None,
        Some(urn) => match schemas.extension(urn) {
            Some(extension) => Some(extension),
            None => {
                return Err(ScimApiError::bad_request(
                    ScimType::InvalidPath,
                    format!("the path {path} names the schema {urn}, which this resource does not have"),
                ));
            }
        },
        None => match schemas.locate(&path.attribute) {
            Located::Extension(extension, _) => Some(extension),
            Located::Core(_) => None,
        },
    };

    let target = Target {
        schema: Some(extension.unwrap_or(schemas.core)),
        name: &path.attribute,
        filter: path.value_filter.as_ref(),
        sub_attribute: path.sub_attribute.as_deref(),
    };
    match extension {
        None => apply_attribute(resource, &target, kind, value, true),
        Some(extension) => match extension_object(resource, extension.id, kind != PatchOpKind::Remove) {
            Some(container) => apply_attribute(container, &target, kind, value, true),
            // Removing from an extension the resource does not have changes nothing.
            None => Ok(()),
        },
    }
}

/// Returns the extension's object in `resource`, creating it when `create` is set.
fn extension_object<'a>(resource: &'a mut Map<String, Value>, urn: &str, create: bool) -> Option<&'a mut Map<String, Value>> {
    let key = resource.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned();
    let key = match key {
        Some(key) => key,
        None if create => urn.to_string(),
        None => return None,
    };
    let slot = resource.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

fn missing_object(urn: &str) -> ScimApiError {
    ScimApiError::internal(&format!("the object of {urn} could not be created"))
}

/// The attribute an operation targets, within one schema's object.
struct Target<'a> {
    schema: Option<&'static SchemaDef>,
    name: &'a str,
    filter: Option<&'a ScimFilter>,
    sub_attribute: Option<&'a str>,
}

fn apply_attribute(
    container: &mut Map<String, Value>,
    target: &Target<'_>,
    kind: PatchOpKind,
    value: Value,
    explicit_path: bool,
) -> Result<(), ScimApiError> {
    let definition = target
        .schema
        .and_then(|schema| schema.attribute(target.name))
        .or_else(|| crate::scim::schemas::common_attribute(target.name));
    let sub_definition = match (definition, target.sub_attribute) {
        (Some(definition), Some(sub)) => definition.sub_attribute(sub),
        _ => None,
    };
    let read_only = |d: Option<&AttributeDef>| d.is_some_and(|d| d.mutability == Mutability::ReadOnly);
    if read_only(definition) || read_only(sub_definition) {
        if explicit_path {
            return Err(ScimApiError::mutability(format!(
                "{} is read-only and cannot be changed with PATCH",
                target.sub_attribute.map_or_else(|| target.name.to_string(), |sub| format!("{}.{sub}", target.name))
            )));
        }
        // A path-less value that repeats a read-only attribute, as clients that send back a whole resource do,
        // is ignored.
        return Ok(());
    }

    let key = container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(target.name))
        .cloned()
        .unwrap_or_else(|| definition.map_or_else(|| target.name.to_string(), |d| d.name.to_string()));
    let sub_key = target.sub_attribute.map(|sub| sub_definition.map_or_else(|| sub.to_string(), |d| d.name.to_string()));
    let value = normalise_value(definition, sub_definition, value);
    let multi_valued = definition.map_or_else(
        || container.get(&key).is_some_and(Value::is_array) || value.is_array(),
        |d| d.multi_valued,
    );

    if let Some(filter) = target.filter {
        if !multi_valued {
            return Err(ScimApiError::bad_request(
                ScimType::InvalidPath,
                format!("{} is not multi-valued, so a value filter cannot select its values", target.name),
            ));
        }
        return apply_filtered(container, &key, filter, sub_key.as_deref(), kind, value);
    }
    match sub_key {
        Some(sub_key) if multi_valued => apply_sub_attribute_of_values(container, &key, &sub_key, kind, value),
        Some(sub_key) => apply_sub_attribute(container, &key, &sub_key, kind, value),
        None => apply_whole(container, &key, multi_valued, kind, value),
    }
}

/// Reads booleans sent as strings, in the attribute itself or in the sub-attributes of its values.
fn normalise_value(definition: Option<&AttributeDef>, sub_definition: Option<&AttributeDef>, value: Value) -> Value {
    if let Some(sub_definition) = sub_definition {
        return normalise_simple(sub_definition, value);
    }
    let Some(definition) = definition else { return value };
    match value {
        Value::Array(items) if definition.kind == AttrType::Complex => {
            Value::Array(items.into_iter().map(|item| normalise_sub_attributes(definition, item)).collect())
        }
        Value::Object(_) if definition.kind == AttrType::Complex => normalise_sub_attributes(definition, value),
        other => normalise_simple(definition, other),
    }
}

fn normalise_simple(definition: &AttributeDef, value: Value) -> Value {
    if definition.kind == AttrType::Boolean
        && value.is_string()
        && let Some(flag) = normalise_bool(&value)
    {
        return Value::Bool(flag);
    }
    value
}

fn normalise_sub_attributes(definition: &AttributeDef, value: Value) -> Value {
    let Value::Object(members) = value else { return value };
    let normalised = members
        .into_iter()
        .map(|(key, member)| match definition.sub_attribute(&key) {
            Some(sub_definition) => (key, normalise_simple(sub_definition, member)),
            None => (key, member),
        })
        .collect();
    Value::Object(normalised)
}

fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn into_values(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn apply_whole(
    container: &mut Map<String, Value>,
    key: &str,
    multi_valued: bool,
    kind: PatchOpKind,
    value: Value,
) -> Result<(), ScimApiError> {
    match kind {
        PatchOpKind::Remove if multi_valued && !is_unassigned(&value) => {
            let listed = into_values(value);
            if let Some(Value::Array(items)) = container.get_mut(key) {
                items.retain(|item| !listed.iter().any(|given| same_value(given, item)));
                if items.is_empty() {
                    container.remove(key);
                }
            }
        }
        PatchOpKind::Remove => {
            container.remove(key);
        }
        PatchOpKind::Add if is_unassigned(&value) => {}
        PatchOpKind::Add if multi_valued => {
            let slot = container.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
            if !slot.is_array() {
                let existing = std::mem::take(slot);
                *slot = Value::Array(if existing.is_null() { Vec::new() } else { vec![existing] });
            }
            if let Value::Array(items) = slot {
                let mut added = Vec::new();
                for item in into_values(value) {
                    if !items.contains(&item) {
                        items.push(item);
                        added.push(items.len() - 1);
                    }
                }
                demote_other_primaries(items, &added);
            }
        }
        PatchOpKind::Replace if is_unassigned(&value) => {
            container.remove(key);
        }
        PatchOpKind::Replace if multi_valued => {
            container.insert(key.to_string(), Value::Array(into_values(value)));
        }
        PatchOpKind::Add | PatchOpKind::Replace => match (container.get_mut(key), value) {
            // RFC 7644 §3.5.2.1 and §3.5.2.3: sub-attributes of a complex attribute that the value does not
            // name are left unchanged.
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge_object(existing, incoming),
            (_, value) => {
                container.insert(key.to_string(), value);
            }
        },
    }
    Ok(())
}

/// Sets or removes the members of `incoming` in `existing`, matching names without regard to case.
fn merge_object(existing: &mut Map<String, Value>, incoming: Map<String, Value>) {
    for (name, value) in incoming {
        let key = existing.keys().find(|k| k.eq_ignore_ascii_case(&name)).cloned().unwrap_or(name);
        if value.is_null() {
            existing.remove(&key);
        } else {
            existing.insert(key, value);
        }
    }
}

/// Tells whether a value listed in a `remove` names a stored value: by `value` when the listed one has it, or
/// else by equality.
fn same_value(given: &Value, stored: &Value) -> bool {
    let value_of = |v: &Value| -> Option<Value> {
        v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")).map(|(_, v)| v.clone())
    };
    match (value_of(given), value_of(stored)) {
        (Some(a), Some(b)) => text_of(&a) == text_of(&b),
        _ => given == stored,
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Sets `primary` to false on every value outside `keep` when a value in `keep` is primary, since RFC 7643
/// §2.4 allows one primary value.
fn demote_other_primaries(items: &mut [Value], keep: &[usize]) {
    let is_primary = |item: &Value| item.get("primary").is_some_and(|p| p == &Value::Bool(true));
    if !keep.iter().any(|index| items.get(*index).is_some_and(is_primary)) {
        return;
    }
    for (index, item) in items.iter_mut().enumerate() {
        if !keep.contains(&index)
            && is_primary(item)
            && let Value::Object(object) = item
        {
            object.insert("primary".into(), Value::Bool(false));
        }
    }
}

fn apply_sub_attribute(
    container: &mut Map<String, Value>,
    key: &str,
    sub_key: &str,
    kind: PatchOpKind,
    value: Value,
) -> Result<(), ScimApiError> {
    if kind == PatchOpKind::Remove || value.is_null() {
        let now_empty = match container.get_mut(key) {
            Some(Value::Object(object)) => {
                if let Some(found) = object.keys().find(|k| k.eq_ignore_ascii_case(sub_key)).cloned() {
                    object.remove(&found);
                }
                object.is_empty()
            }
            _ => false,
        };
        if now_empty {
            container.remove(key);
        }
        return Ok(());
    }

    let slot = container.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(object) = slot else {
        return Err(ScimApiError::bad_request(
            ScimType::InvalidPath,
            format!("{key} has no sub-attributes, so {key}.{sub_key} names nothing"),
        ));
    };
    let mut incoming = Map::new();
    incoming.insert(sub_key.to_string(), value);
    merge_object(object, incoming);
    Ok(())
}

/// Applies `attribute.subAttribute` without a value filter to a multi-valued attribute: a removal applies to
/// every value, and a change to the primary value, or to the only one, or to a new value when there is none.
fn apply_sub_attribute_of_values(
    container: &mut Map<String, Value>,
    key: &str,
    sub_key: &str,
    kind: PatchOpKind,
    value: Value,
) -> Result<(), ScimApiError> {
    let slot = container.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = slot else {
        return Err(ScimApiError::bad_request(ScimType::InvalidPath, format!("{key} is not multi-valued")));
    };

    if kind == PatchOpKind::Remove || value.is_null() {
        for item in items.iter_mut() {
            if let Value::Object(object) = item
                && let Some(found) = object.keys().find(|k| k.eq_ignore_ascii_case(sub_key)).cloned()
            {
                object.remove(&found);
            }
        }
        items.retain(|item| item.as_object().is_none_or(|o| !o.is_empty()));
    } else {
        let primary = items.iter().position(|item| item.get("primary") == Some(&Value::Bool(true)));
        let index = match (primary, items.len()) {
            (Some(index), _) => index,
            (None, 0) => {
                items.push(Value::Object(Map::new()));
                0
            }
            (None, 1) => 0,
            (None, _) => {
                return Err(ScimApiError::bad_request(
                    ScimType::InvalidPath,
                    format!(
                        "{key} has several values and none is primary; select one with a filter such as \
                         {key}[type eq \"work\"].{sub_key}"
                    ),
                ));
            }
        };
        if let Some(Value::Object(object)) = items.get_mut(index) {
            let mut incoming = Map::new();
            incoming.insert(sub_key.to_string(), value);
            merge_object(object, incoming);
        }
    }
    if items.is_empty() {
        container.remove(key);
    }
    Ok(())
}

fn apply_filtered(
    container: &mut Map<String, Value>,
    key: &str,
    filter: &ScimFilter,
    sub_key: Option<&str>,
    kind: PatchOpKind,
    value: Value,
) -> Result<(), ScimApiError> {
    if kind == PatchOpKind::Remove && !container.contains_key(key) {
        return Ok(());
    }
    let slot = container.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        let existing = std::mem::take(slot);
        *slot = Value::Array(if existing.is_null() { Vec::new() } else { vec![existing] });
    }
    let Value::Array(items) = slot else { return Ok(()) };
    let mut matched: Vec<usize> = items.iter().enumerate().filter(|(_, item)| matches(filter, item)).map(|(i, _)| i).collect();

    if kind == PatchOpKind::Remove {
        match sub_key {
            None => {
                for index in matched.iter().rev() {
                    items.remove(*index);
                }
            }
            Some(sub_key) => {
                for index in &matched {
                    if let Some(Value::Object(object)) = items.get_mut(*index)
                        && let Some(found) = object.keys().find(|k| k.eq_ignore_ascii_case(sub_key)).cloned()
                    {
                        object.remove(&found);
                    }
                }
            }
        }
    } else {
        if matched.is_empty() {
            let Some(element) = element_from_filter(filter) else {
                return Err(ScimApiError::bad_request(
                    ScimType::NoTarget,
                    format!("no value of {key} matches the filter [{filter}], and the filter does not describe a new value"),
                ));
            };
            items.push(Value::Object(element));
            matched.push(items.len() - 1);
        }
        for index in &matched {
            let Some(Value::Object(object)) = items.get_mut(*index) else { continue };
            match (sub_key, &value) {
                (Some(sub_key), value) => {
                    let mut incoming = Map::new();
                    incoming.insert(sub_key.to_string(), value.clone());
                    merge_object(object, incoming);
                }
                (None, Value::Object(incoming)) => merge_object(object, incoming.clone()),
                (None, other) => {
                    return Err(ScimApiError::invalid_value(format!(
                        "a value of {key} selected by a filter is replaced by an object of sub-attributes, found {other}"
                    )));
                }
            }
        }
        demote_other_primaries(items, &matched);
    }
    if items.is_empty() {
        container.remove(key);
    }
    Ok(())
}

/// Builds a new value from a filter made only of `eq` comparisons joined by `and`, such as
/// `type eq "work" and primary eq true`.
fn element_from_filter(filter: &ScimFilter) -> Option<Map<String, Value>> {
    match filter {
        ScimFilter::Compare { path, op: CompareOp::Eq, value } if path.schema.is_none() && path.sub_attribute.is_none() => {
            let json = match value {
                CompValue::String(text) => Value::String(text.clone()),
                CompValue::Bool(flag) => Value::Bool(*flag),
                CompValue::Number(literal) => serde_json::from_str(literal).ok()?,
                CompValue::Null => return None,
            };
            let mut element = Map::new();
            element.insert(path.name.clone(), json);
            Some(element)
        }
        ScimFilter::And(terms) => {
            let mut element = Map::new();
            for term in terms {
                element.extend(element_from_filter(term)?);
            }
            Some(element)
        }
        _ => None,
    }
}

/// Evaluates a value filter against one value of a multi-valued attribute.
pub fn matches(filter: &ScimFilter, item: &Value) -> bool {
    match filter {
        ScimFilter::And(terms) => terms.iter().all(|term| matches(term, item)),
        ScimFilter::Or(terms) => terms.iter().any(|term| matches(term, item)),
        ScimFilter::Not(inner) => !matches(inner, item),
        ScimFilter::Present(path) => lookup(item, &path.name, path.sub_attribute.as_deref()).is_some_and(|v| !is_unassigned(v)),
        ScimFilter::Compare { path, op, value } => compare(lookup(item, &path.name, path.sub_attribute.as_deref()), *op, value),
        ScimFilter::ValuePath { .. } => false,
    }
}

fn lookup<'a>(item: &'a Value, name: &str, sub_attribute: Option<&str>) -> Option<&'a Value> {
    let Value::Object(object) = item else {
        // A value of a multi-valued attribute of simple values is its own `value`.
        return (name.eq_ignore_ascii_case("value") && sub_attribute.is_none()).then_some(item);
    };
    let found = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)?;
    match sub_attribute {
        None => Some(found),
        Some(sub) => found.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub)).map(|(_, v)| v),
    }
}

fn compare(actual: Option<&Value>, op: CompareOp, expected: &CompValue) -> bool {
    let actual = actual.filter(|v| !v.is_null());
    match (actual, expected) {
        (None, CompValue::Null) => op == CompareOp::Eq,
        (Some(_), CompValue::Null) => op == CompareOp::Ne,
        (None, _) => op == CompareOp::Ne,
        (Some(Value::Bool(flag)), expected) => match bool_of(expected) {
            Some(wanted) => match op {
                CompareOp::Eq => *flag == wanted,
                CompareOp::Ne => *flag != wanted,
                _ => false,
            },
            None => op == CompareOp::Ne,
        },
        (Some(Value::Number(number)), CompValue::Number(literal)) => {
            match (number.as_f64(), literal.parse::<f64>().ok()) {
                (Some(a), Some(b)) => compare_ordered(a.partial_cmp(&b), op),
                _ => false,
            }
        }
        (Some(actual), expected) => {
            let expected = match expected {
                CompValue::String(text) => text.clone(),
                CompValue::Number(literal) => literal.clone(),
                CompValue::Bool(flag) => flag.to_string(),
                CompValue::Null => return false,
            };
            compare_text(&text_of(actual), op, &expected)
        }
    }
}

fn bool_of(value: &CompValue) -> Option<bool> {
    match value {
        CompValue::Bool(flag) => Some(*flag),
        CompValue::String(text) => normalise_bool(&Value::String(text.clone())),
        _ => None,
    }
}

/// Compares text ignoring case, as the `caseExact: false` sub-attributes (`type`, `display`, `value` of emails)
/// require; ids are digits, so ignoring case changes nothing for them.
fn compare_text(actual: &str, op: CompareOp, expected: &str) -> bool {
    let (left, right) = (fold(actual), fold(expected));
    match op {
        CompareOp::Co => left.contains(&right),
        CompareOp::Sw => left.starts_with(&right),
        CompareOp::Ew => left.ends_with(&right),
        _ => compare_ordered(Some(left.cmp(&right)), op),
    }
}

fn compare_ordered(ordering: Option<std::cmp::Ordering>, op: CompareOp) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (ordering, op) {
        (None, CompareOp::Ne) => true,
        (None, _) => false,
        (Some(ordering), CompareOp::Eq) => ordering == Equal,
        (Some(ordering), CompareOp::Ne) => ordering != Equal,
        (Some(ordering), CompareOp::Gt) => ordering == Greater,
        (Some(ordering), CompareOp::Ge) => ordering != Less,
        (Some(ordering), CompareOp::Lt) => ordering == Less,
        (Some(ordering), CompareOp::Le) => ordering != Greater,
        (Some(_), CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => false,
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
