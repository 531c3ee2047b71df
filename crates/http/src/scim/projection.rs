//! The `attributes` and `excludedAttributes` parameters (RFC 7644 §3.4.2.5): which attributes of a rendered
//! resource the response keeps.
//!
//! Names match without regard to case. A name may carry a sub-attribute (`name.givenName`) and a schema URN
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`), and a bare extension URN names the
//! extension's whole object. `schemas` and `id` are always returned.

use roster_scim::schema::{RESOURCE_SCHEMAS, is_core};
use serde_json::{Map, Value};

/// Attributes returned whatever the parameters say.
const ALWAYS_RETURNED: [&str; 2] = ["schemas", "id"];

/// One requested attribute: where it lives and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AttributeRef {
    /// The extension URN whose object holds the attribute, or `None` for a top-level attribute.
    extension: Option<String>,
    /// `None` for a bare extension URN, which names the extension's whole object.
    name: Option<String>,
    sub_attribute: Option<String>,
}

impl AttributeRef {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if text.get(..4).is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:")) {
            return Some(Self::parse_qualified(text));
        }
        let (name, sub_attribute) = split_sub_attribute(text);
        Some(Self { extension: None, name: Some(name), sub_attribute })
    }

    /// Parses a URN-qualified name. A known schema URN is split off the attribute name; any other URN is taken to
    /// name a whole extension object.
    fn parse_qualified(text: &str) -> Self {
        for urn in RESOURCE_SCHEMAS {
            if text.eq_ignore_ascii_case(urn) {
                return Self { extension: Some(urn.to_string()), name: None, sub_attribute: None };
            }
            let qualified = text.get(..urn.len()).is_some_and(|prefix| prefix.eq_ignore_ascii_case(urn));
            let rest = text.get(urn.len()..).and_then(|rest| rest.strip_prefix(':')).filter(|rest| !rest.is_empty());
            if let (true, Some(rest)) = (qualified, rest) {
                let (name, sub_attribute) = split_sub_attribute(rest);
                let extension = if is_core(urn) { None } else { Some(urn.to_string()) };
                return Self { extension, name: Some(name), sub_attribute };
            }
        }
        Self { extension: Some(text.to_string()), name: None, sub_attribute: None }
    }
}

fn split_sub_attribute(text: &str) -> (String, Option<String>) {
    match text.split_once('.') {
        Some((name, sub)) => (name.to_string(), Some(sub.to_string())),
        None => (text.to_string(), None),
    }
}

/// The attributes a request selects for its response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    attributes: Vec<AttributeRef>,
    excluded: Vec<AttributeRef>,
}

impl Projection {
    /// Builds a projection from the comma-separated parameter values.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let parse = |text: Option<&str>| -> Vec<AttributeRef> {
            text.map(|t| t.split(',').filter_map(AttributeRef::parse).collect()).unwrap_or_default()
        };
        Self { attributes: parse(attributes), excluded: parse(excluded) }
    }

    /// Builds a projection from the arrays of a search request body.
    pub fn from_lists(attributes: &[String], excluded: &[String]) -> Self {
        Self {
            attributes: attributes.iter().filter_map(|a| AttributeRef::parse(a)).collect(),
            excluded: excluded.iter().filter_map(|a| AttributeRef::parse(a)).collect(),
        }
    }

    /// Returns whether the response will contain the top-level attribute `name` at all, so a handler can skip
    /// loading it (as `excludedAttributes=members` skips a group's members).
    pub fn includes(&self, name: &str) -> bool {
        let names = |r: &AttributeRef| r.extension.is_none() && r.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name));
        if !self.attributes.is_empty() && !self.attributes.iter().any(names) {
            return false;
        }
        !self.excluded.iter().any(|r| names(r) && r.sub_attribute.is_none())
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut object) = resource else { return resource };

        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for key in ALWAYS_RETURNED {
                if let Some(value) = object.get(key) {
                    kept.insert(key.to_string(), value.clone());
                }
            }
            for reference in &self.attributes {
                copy_attribute(&object, &mut kept, reference);
            }
            object = kept;
        }
        for reference in &self.excluded {
            remove_attribute(&mut object, reference);
        }
        Value::Object(object)
    }
}

fn find_key(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Copies the part of `source` that `reference` names into `target`.
fn copy_attribute(source: &Map<String, Value>, target: &mut Map<String, Value>, reference: &AttributeRef) {
    let (source, target) = match &reference.extension {
        None => (source, target),
        Some(urn) => {
            let Some(key) = find_key(source, urn) else { return };
            let Some(Value::Object(inner)) = source.get(&key) else { return };
            let Some(name) = &reference.name else {
                target.insert(key, Value::Object(inner.clone()));
                return;
            };
            let slot = target.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(slot) = slot else { return };
            copy_named(inner, slot, name, reference.sub_attribute.as_deref());
            return;
        }
    };
    if let Some(name) = &reference.name {
        copy_named(source, target, name, reference.sub_attribute.as_deref());
    }
}

fn copy_named(source: &Map<String, Value>, target: &mut Map<String, Value>, name: &str, sub_attribute: Option<&str>) {
    let Some(key) = find_key(source, name) else { return };
    let Some(value) = source.get(&key) else { return };
    let Some(sub_attribute) = sub_attribute else {
        target.insert(key, value.clone());
        return;
    };
    match value {
        Value::Object(inner) => {
            let Some(sub_key) = find_key(inner, sub_attribute) else { return };
            let slot = target.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if let (Value::Object(slot), Some(sub_value)) = (slot, inner.get(&sub_key)) {
                slot.insert(sub_key, sub_value.clone());
            }
        }
        Value::Array(items) => {
            let projected: Vec<Value> = items
                .iter()
                .filter_map(|item| {
                    let inner = item.as_object()?;
                    let sub_key = find_key(inner, sub_attribute)?;
                    let mut element = Map::new();
                    element.insert(sub_key.clone(), inner.get(&sub_key)?.clone());
                    Some(Value::Object(element))
                })
                .collect();
            if !projected.is_empty() {
                target.insert(key, Value::Array(projected));
            }
        }
        _ => {}
    }
}

fn remove_attribute(object: &mut Map<String, Value>, reference: &AttributeRef) {
    match (&reference.extension, &reference.name) {
        (None, Some(name)) => remove_named(object, name, reference.sub_attribute.as_deref()),
        (Some(urn), name) => {
            let Some(key) = find_key(object, urn) else { return };
            match name {
                None => {
                    object.remove(&key);
                }
                Some(name) => {
                    let now_empty = match object.get_mut(&key) {
                        Some(Value::Object(inner)) => {
                            remove_named(inner, name, reference.sub_attribute.as_deref());
                            inner.is_empty()
                        }
                        _ => false,
                    };
                    if now_empty {
                        object.remove(&key);
                    }
                }
            }
        }
        (None, None) => {}
    }
}

fn remove_named(object: &mut Map<String, Value>, name: &str, sub_attribute: Option<&str>) {
    let Some(key) = find_key(object, name) else { return };
    if ALWAYS_RETURNED.contains(&key.as_str()) {
        return;
    }
    let Some(sub_attribute) = sub_attribute else {
        object.remove(&key);
        return;
    };
    match object.get_mut(&key) {
        Some(Value::Object(inner)) => {
            if let Some(sub_key) = find_key(inner, sub_attribute) {
                inner.remove(&sub_key);
            }
        }
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item
                    && let Some(sub_key) = find_key(inner, sub_attribute)
                {
                    inner.remove(&sub_key);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "7",
            "userName": "ann",
            "name": { "givenName": "Ann", "familyName": "Lee" },
            "emails": [{ "value": "ann@example.com", "type": "work" }],
            ENTERPRISE: { "department": "R&D", "costCenter": "42" },
        })
    }

    #[test]
    fn attributes_keep_named_and_always() {
        let projected = Projection::new(Some("USERNAME,name.givenName"), None).apply(user());
        assert_eq!(projected, json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "7",
            "userName": "ann",
            "name": { "givenName": "Ann" },
        }));
    }

    #[test]
    fn attributes_take_extension_paths() {
        let text = format!("{ENTERPRISE}:department,emails.value");
        let projected = Projection::new(Some(&text), None).apply(user());
        assert_eq!(projected[ENTERPRISE], json!({ "department": "R&D" }));
        assert_eq!(projected["emails"], json!([{ "value": "ann@example.com" }]));
    }

    #[test]
    fn excluded_removes_but_keeps_id() {
        let text = format!("id,name,{ENTERPRISE}:department,{ENTERPRISE}:costCenter");
        let projected = Projection::new(None, Some(&text)).apply(user());
        assert_eq!(projected["id"], "7");
        assert!(projected.get("name").is_none());
        assert!(projected.get(ENTERPRISE).is_none(), "an emptied extension object should be dropped");
    }

    #[test]
    fn includes_reports_members() {
        assert!(Projection::default().includes("members"));
        assert!(!Projection::new(None, Some("members")).includes("members"));
        assert!(!Projection::new(Some("displayName"), None).includes("members"));
        assert!(Projection::new(Some("members.value"), None).includes("members"));
    }
}
