//! PATCH paths and operations (RFC 7644 §3.5.2), read into neutral types that a PATCH engine applies.
//!
//! Reading tolerates the variants of real clients that do not change an operation's meaning: operation names in
//! any letter case, member names of the request in any letter case, and a `path` that is only an extension's
//! schema URN. Values are passed on as sent; the helpers in [`crate::normalise`] repair the value variants.

use crate::error::{ScimError, ScimType};
use crate::filter::ScimFilter;
use crate::parser::{PathParts, parse_path_parts};
use crate::schema;
use serde_json::{Map, Value};
use std::fmt;

/// A parsed PATCH `path`: `attribute`, `attribute.subAttribute`, `attribute[filter]` or
/// `attribute[filter].subAttribute`, each optionally qualified with a schema URN.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The schema URN written before the attribute, such as
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, as the client wrote it.
    pub schema: Option<String>,
    pub attribute: String,
    /// The filter in brackets, which selects values of a multi-valued attribute.
    pub value_filter: Option<ScimFilter>,
    /// The sub-attribute, whether written as `name.givenName` or after a value filter as in `emails[...].value`.
    pub sub_attribute: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path. Errors have `scimType` `invalidPath` and the character offset of the problem.
    ///
    /// A path that is only a resource schema URN, such as the enterprise extension's, is rejected here because it
    /// names no attribute; [`parse_patch_request`] turns such an operation into one without a path.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        if let Some(urn) = schema::resource_schema(text.trim()) {
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!("the path {urn} names a whole schema, not an attribute; name an attribute such as {urn}:title"),
            ));
        }

        let PathParts { path, value_filter, trailing_sub_attribute } = parse_path_parts(text)?;
        if value_filter.is_some() && path.sub_attribute.is_some() {
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!(
                    "a value filter must follow the attribute name, not {path}; write a path such as \
                     emails[type eq \"work\"].value"
                ),
            ));
        }
        Ok(Self {
            schema: path.schema,
            attribute: path.name,
            value_filter,
            sub_attribute: path.sub_attribute.or(trailing_sub_attribute),
        })
    }

    /// Returns whether the path is qualified with `urn`, or, when `urn` is a core schema, is not qualified at all.
    /// URNs are compared without regard to letter case.
    pub fn is_in_schema(&self, urn: &str) -> bool {
        match &self.schema {
            Some(schema) => schema.eq_ignore_ascii_case(urn),
            None => schema::is_core(urn),
        }
    }
}

impl std::str::FromStr for PatchPath {
    type Err = ScimError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attribute)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub_attribute) = &self.sub_attribute {
            write!(f, ".{sub_attribute}")?;
        }
        Ok(())
    }
}

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    /// Parses `add`, `replace` or `remove` in any letter case, since clients send `Replace` and `ADD`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Add, Self::Replace, Self::Remove].into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(text))
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    /// The target; `None` means the value is an object of attributes to add or replace on the resource. A
    /// `remove` has no path only when the client named a whole extension, and its value is then `{URN: null}`.
    pub path: Option<PatchPath>,
    /// The value as sent, or `Value::Null` when the operation has none (only `remove` may omit it).
    pub value: Value,
}

/// Reads the operations of a PATCH request body (`urn:ietf:params:scim:api:messages:2.0:PatchOp`).
///
/// Checks that the body is an object whose `schemas`, when present, lists the PatchOp URN, and whose `Operations`
/// is a non-empty array. Each operation needs a known `op`; `add` and `replace` need a `value`, and `remove` needs a
/// `path` (`noTarget` otherwise, as RFC 7644 §3.5.2.2 requires). Member names are matched without regard to letter
/// case, as SCIM attribute names are. An `add` or `replace` whose path is only a resource schema URN becomes an
/// operation without a path whose value is `{URN: value}`. That means the same, because a path-less value is a set
/// of the resource's attributes, in which an extension's attributes sit under its URN. A `remove` whose path is an
/// extension's URN removes all of the extension's attributes, so it becomes an operation without a path whose value
/// is `{URN: null}`. Removing the whole core schema is rejected with `invalidPath`.
///
/// A missing `schemas` member is accepted, for clients that leave it out. The caller enforces `maxOperations`.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(syntax_error("the PATCH body must be a JSON object with schemas and Operations"));
    };

    if let Some(schemas) = member(body, "schemas") {
        let lists_patch_op = schemas.as_array().is_some_and(|list| {
            list.iter().any(|urn| urn.as_str().is_some_and(|u| u.eq_ignore_ascii_case(schema::PATCH_OP)))
        });
        if !lists_patch_op {
            return Err(syntax_error(format!("schemas must be an array containing {}", schema::PATCH_OP)));
        }
    }

    let Some(operations) = member(body, "Operations") else {
        return Err(syntax_error(
            "the PATCH body has no Operations; send an array of operations such as \
             [{\"op\": \"replace\", \"path\": \"active\", \"value\": false}]",
        ));
    };
    let Some(operations) = operations.as_array() else {
        return Err(syntax_error("Operations must be an array of operations"));
    };
    if operations.is_empty() {
        return Err(syntax_error("Operations is empty; send at least one operation"));
    }

    operations.iter().enumerate().map(|(index, operation)| parse_operation(index, operation)).collect()
}

fn parse_operation(index: usize, operation: &Value) -> Result<PatchOp, ScimError> {
    let Some(operation) = operation.as_object() else {
        return Err(syntax_error(format!("Operations[{index}] must be an object with op, path and value")));
    };

    let op_text = member(operation, "op").and_then(Value::as_str);
    let Some(op) = op_text.and_then(PatchOpKind::parse) else {
        let found = match member(operation, "op") {
            Some(value) => format!("found {value}"),
            None => "it is missing".to_string(),
        };
        return Err(syntax_error(format!("Operations[{index}].op must be add, replace or remove; {found}")));
    };

    let value = member(operation, "value").cloned();
    let path = match member(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.as_str()),
        Some(other) => {
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!("Operations[{index}].path must be a string, found {other}"),
            ));
        }
    };

    if op != PatchOpKind::Remove && value.is_none() {
        return Err(syntax_error(format!("Operations[{index}] ({op}) has no value; send the value to {op}")));
    }
    let value = value.unwrap_or(Value::Null);

    let Some(path) = path else {
        if op == PatchOpKind::Remove {
            return Err(ScimError::new(
                ScimType::NoTarget,
                format!("Operations[{index}] (remove) has no path; name the attribute to remove"),
            ));
        }
        return Ok(PatchOp { op, path: None, value });
    };

    if let Some(urn) = schema::resource_schema(path.trim()) {
        if op == PatchOpKind::Remove && schema::is_core(urn) {
            return Err(ScimError::new(
                ScimType::InvalidPath,
                format!(
                    "Operations[{index}] removes the whole core schema {urn}; remove its attributes by name, such \
                     as title"
                ),
            ));
        }
        let mut wrapped = Map::new();
        let value = if op == PatchOpKind::Remove { Value::Null } else { value };
        wrapped.insert(urn.to_string(), value);
        return Ok(PatchOp { op, path: None, value: Value::Object(wrapped) });
    }

    let path = PatchPath::parse(path).map_err(|error| ScimError {
        message: format!("Operations[{index}].path {}: {}", quote_path(path), error.message),
        ..error
    })?;
    Ok(PatchOp { op, path: Some(path), value })
}

/// Returns the member named `name`, preferring an exact match and otherwise matching without regard to case.
fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

fn syntax_error(message: impl Into<String>) -> ScimError {
    ScimError::new(ScimType::InvalidSyntax, message)
}

fn quote_path(path: &str) -> String {
    serde_json::to_string(path).unwrap_or_else(|_| path.to_string())
}

#[cfg(test)]
mod tests;
