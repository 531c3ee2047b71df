//! Property test of the PATCH engine and the User and Group readers: for generated operations, applying them to a
//! rendered resource and reading the result must return, with a value or an error, and never panic.
//!
//! Operations come from bytes: a letter-case variant of each `op`, a path built from attribute names, URNs, value
//! filters, sub-attributes and stray characters, and a JSON value of mixed types and depths. A longer run than the
//! 10,000 cases here, such as `PROPTEST_CASES=1000000 cargo test -p roster-http patch_never_panics --release`,
//! explores further.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use super::*;
use crate::scim::group_document::read_group;
use crate::scim::schemas::{GROUP_RESOURCE, USER_RESOURCE};
use crate::scim::user_document::read_user;
use proptest::prelude::*;
use serde_json::json;

/// Choices read from bytes; once the bytes run out every choice is the first option.
struct Choices<'a> {
    bytes: &'a [u8],
    next: usize,
}

impl Choices<'_> {
    fn below(&mut self, n: usize) -> usize {
        let byte = self.bytes.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        usize::from(byte) % n
    }

    fn pick<'b>(&mut self, options: &[&'b str]) -> &'b str {
        options[self.below(options.len())]
    }
}

const OPS: [&str; 8] = ["add", "replace", "remove", "Add", "REPLACE", "Remove", "move", ""];
const NAMES: [&str; 18] = [
    "userName", "name", "emails", "phoneNumbers", "addresses", "active", "title", "displayName", "members", "roles",
    "manager", "employeeNumber", "department", "id", "meta", "externalId", "schemas", "x",
];
const SUBS: [&str; 8] = ["value", "type", "primary", "givenName", "display", "$ref", "formatted", "é"];
const URNS: [&str; 5] = [
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
    "urn:ietf:params:scim:schemas:core:2.0:Group:",
    "urn:x:",
    "",
];
const FILTERS: [&str; 8] = [
    "[type eq \"work\"]", "[value eq \"1\"]", "[primary eq true]", "[not (type pr)]", "[type eq \"work\"",
    "[value eq \"1\" or value eq \"2\"]", "[]", "[display co \"a\" and type sw \"w\"]",
];

fn path(choices: &mut Choices<'_>) -> Option<String> {
    if choices.below(6) == 0 {
        return None;
    }
    let mut text = choices.pick(&URNS).to_string();
    text.push_str(choices.pick(&NAMES));
    if choices.below(3) == 0 {
        text.push_str(choices.pick(&FILTERS));
    }
    if choices.below(3) == 0 {
        text.push('.');
        text.push_str(choices.pick(&SUBS));
    }
    if choices.below(10) == 0 {
        text.push_str(choices.pick(&[".", "..", "[", "]", " ", "\"", ":"]));
    }
    Some(text)
}

fn value(choices: &mut Choices<'_>, depth: usize) -> Value {
    let kinds = if depth >= 3 { 6 } else { 9 };
    match choices.below(kinds) {
        0 => Value::Null,
        1 => json!(choices.below(2) == 0),
        2 => json!(choices.pick(&["True", "false", "", "1", "ann@example.org", "+1 555 0100", "urn:x"])),
        3 => json!(choices.below(1000)),
        4 => json!(-1.5),
        5 => json!(choices.pick(&["x", "y"]).repeat(choices.below(4) * 100)),
        6 => {
            let items = (0..choices.below(4)).map(|_| value(choices, depth + 1)).collect();
            Value::Array(items)
        }
        _ => {
            let mut object = Map::new();
            for _ in 0..choices.below(4) {
                let key = match choices.below(3) {
                    0 => choices.pick(&SUBS).to_string(),
                    1 => choices.pick(&NAMES).to_string(),
                    _ => format!("{}{}.{}", choices.pick(&URNS), choices.pick(&NAMES), choices.pick(&SUBS)),
                };
                object.insert(key, value(choices, depth + 1));
            }
            Value::Object(object)
        }
    }
}

fn operations(bytes: &[u8]) -> Value {
    let mut choices = Choices { bytes, next: 0 };
    let count = 1 + choices.below(4);
    let items: Vec<Value> = (0..count)
        .map(|_| {
            let mut operation = Map::new();
            operation.insert("op".into(), json!(choices.pick(&OPS)));
            if let Some(path) = path(&mut choices) {
                operation.insert("path".into(), json!(path));
            }
            if choices.below(5) != 0 {
                operation.insert("value".into(), value(&mut choices, 0));
            }
            Value::Object(operation)
        })
        .collect();
    json!({ "Operations": items })
}

fn user() -> Map<String, Value> {
    let Value::Object(user) = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "1",
        "userName": "ann",
        "name": { "givenName": "Ann" },
        "emails": [{ "value": "ann@example.org", "type": "work", "primary": true }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "manager": { "value": "2" } },
        "meta": { "resourceType": "User" },
    }) else {
        unreachable!()
    };
    user
}

fn group() -> Map<String, Value> {
    let Value::Object(group) = json!({ "id": "1", "displayName": "G", "roles": [{ "value": "2" }] }) else {
        unreachable!()
    };
    group
}

/// Runs 10,000 cases, or `PROPTEST_CASES` when it is set.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn patch_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        let body = operations(&bytes);
        if let Ok(parsed) = read_operations(&body) {
            let mut document = user();
            if apply_operations(&mut document, &parsed, &USER_RESOURCE).is_ok() {
                let _ = read_user(&Value::Object(document));
            }
            let mut document = group();
            if apply_operations(&mut document, &parsed, &GROUP_RESOURCE).is_ok() {
                let _ = read_group(&Value::Object(document));
            }
        }
        let _ = read_user(&value(&mut Choices { bytes: &bytes, next: 0 }, 0));
    }
}
