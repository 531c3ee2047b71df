//! Property tests of the PATCH reader and the value repairs: for generated PATCH bodies, paths and values, reading
//! and repairing must return, with a value or an error, and never panic.
//!
//! Bodies come from bytes: member names in any letter case, `op` values valid and not, paths built from attribute
//! names, URNs, value filters, sub-attributes and stray characters, and JSON values of mixed types and depths.
//! Every path that parses must print back to text that parses to the same path. `PROPTEST_CASES` sets the number
//! of cases (10,000 by default), for longer runs.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use roster_scim::{
    PatchPath, expand_dotted_keys, member_ids, member_ids_in_filter, normalise_bool, normalise_manager,
    parse_patch_request,
};
use serde_json::{Map, Value, json};

/// Choices read from bytes. Once the bytes run out every choice is the first option, so each input is finite and
/// shrinking the bytes shrinks the input.
struct Choices<'a> {
    bytes: &'a [u8],
    next: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let byte = self.bytes.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        byte
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn pick<'b>(&mut self, options: &[&'b str]) -> &'b str {
        options[self.below(options.len())]
    }
}

const MEMBER_NAMES: [&str; 10] =
    ["schemas", "Operations", "operations", "OPERATIONS", "op", "OP", "path", "Path", "value", "VALUE"];
const OPS: [&str; 7] = ["add", "replace", "remove", "Add", "REPLACE", "Remove", "rEmOvE"];
const INVALID_OPS: [&str; 4] = ["move", "", "add ", "delete"];
const SCHEMAS: [&str; 4] = [
    "urn:ietf:params:scim:api:messages:2.0:PatchOp",
    "URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "",
];
const ATTRIBUTES: [&str; 16] = [
    "userName", "name", "emails", "phoneNumbers", "active", "title", "members", "roles", "manager", "department",
    "employeeNumber", "displayName", "meta", "id", "x", "é",
];
const URNS: [&str; 6] = [
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
    "urn:ietf:params:scim:schemas:core:2.0:Group:",
    "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:",
    "urn:x:",
    "",
];
const SUB_ATTRIBUTES: [&str; 8] = ["value", "type", "primary", "givenName", "display", "$ref", "formatted", "Value"];
const FILTERS: [&str; 12] = [
    "[type eq \"work\"]",
    "[value eq \"1\"]",
    "[VALUE EQ 42]",
    "[primary eq true]",
    "[not (type pr)]",
    "[value eq \"1\" or value eq \"2\"]",
    "[display co \"a\" and type sw \"w\"]",
    "[type eq \"work\"",
    "[]",
    "[[type eq \"a\"]]",
    "[type eq \"\\u0022\"]",
    "[value gt 1e400]",
];
const STRAY: [&str; 12] = [".", "..", "[", "]", " ", "\"", ":", "(", ")", "\\", "\u{0}", "😀"];

/// Writes a PATCH path from the grammar's parts, sometimes with a stray character inside.
fn path_text(choices: &mut Choices<'_>) -> String {
    let mut text = choices.pick(&URNS).to_string();
    text.push_str(choices.pick(&ATTRIBUTES));
    if choices.below(3) == 0 {
        text.push_str(choices.pick(&FILTERS));
    }
    if choices.below(3) == 0 {
        text.push('.');
        text.push_str(choices.pick(&SUB_ATTRIBUTES));
    }
    if choices.below(8) == 0 {
        let position = choices.below(text.len() + 1);
        if text.is_char_boundary(position) {
            text.insert_str(position, choices.pick(&STRAY));
        }
    }
    if choices.below(10) == 0 {
        // A path that is only a schema URN, which the reader turns into a path-less operation.
        text = choices.pick(&URNS).trim_end_matches(':').to_string();
    }
    text
}

fn json_value(choices: &mut Choices<'_>, depth: usize) -> Value {
    let kinds = if depth >= 3 { 7 } else { 10 };
    match choices.below(kinds) {
        0 => Value::Null,
        1 => json!(choices.below(2) == 0),
        2 => json!(choices.pick(&["True", "FALSE", " false ", "yes", "", "1", "42", "ann@example.org"])),
        3 => json!(choices.below(1000)),
        4 => json!(-1.5),
        5 => json!(u64::MAX),
        6 => json!(choices.pick(&STRAY)),
        7 => {
            let items = (0..choices.below(4)).map(|_| json_value(choices, depth + 1)).collect();
            Value::Array(items)
        }
        _ => {
            let mut object = Map::new();
            for _ in 0..choices.below(4) {
                let key = match choices.below(4) {
                    0 => choices.pick(&SUB_ATTRIBUTES).to_string(),
                    1 => choices.pick(&ATTRIBUTES).to_string(),
                    2 => path_text(choices),
                    _ => format!("{}{}.{}", choices.pick(&URNS), choices.pick(&ATTRIBUTES), choices.pick(&SUB_ATTRIBUTES)),
                };
                object.insert(key, json_value(choices, depth + 1));
            }
            Value::Object(object)
        }
    }
}

fn operation(choices: &mut Choices<'_>) -> Value {
    if choices.below(12) == 0 {
        return json_value(choices, 2);
    }
    let mut operation = Map::new();
    if choices.below(16) != 0 {
        let name = if choices.below(4) == 0 { "OP" } else { "op" };
        let op = match choices.below(16) {
            0 => json_value(choices, 3),
            1 => json!(choices.pick(&INVALID_OPS)),
            _ => json!(choices.pick(&OPS)),
        };
        operation.insert(name.into(), op);
    }
    if choices.below(6) != 0 {
        let path = if choices.below(12) == 0 { json_value(choices, 3) } else { json!(path_text(choices)) };
        operation.insert(choices.pick(&["path", "Path", "PATH"]).into(), path);
    }
    if choices.below(8) != 0 {
        operation.insert(choices.pick(&["value", "Value"]).into(), json_value(choices, 0));
    }
    Value::Object(operation)
}

/// Builds a PATCH request body: usually well formed, sometimes with missing, misnamed or mistyped members.
fn patch_body(bytes: &[u8]) -> Value {
    let mut choices = Choices { bytes, next: 0 };
    if choices.below(16) == 0 {
        return json_value(&mut choices, 0);
    }
    let mut body = Map::new();
    if choices.below(4) != 0 {
        let schemas = match choices.below(5) {
            0 => json_value(&mut choices, 2),
            _ => json!([choices.pick(&SCHEMAS)]),
        };
        body.insert("schemas".into(), schemas);
    }
    let count = if choices.below(16) == 0 { 0 } else { 1 + choices.below(4) };
    let operations: Vec<Value> = (0..count).map(|_| operation(&mut choices)).collect();
    let name = choices.pick(&MEMBER_NAMES[1..4]);
    body.insert(name.into(), Value::Array(operations));
    Value::Object(body)
}

/// Checks that a path that parses prints back to text that parses to the same path.
fn check_path_round_trip(path: &PatchPath) -> Result<(), TestCaseError> {
    let printed = path.to_string();
    let reparsed = PatchPath::parse(&printed);
    prop_assert_eq!(reparsed.as_ref(), Ok(path), "printed {:?}", printed);
    Ok(())
}

/// Returns the number of cases: `PROPTEST_CASES` when it is set, and otherwise 10,000.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(10_000)
}

/// Returns the configuration, which saves failing inputs beside this file in `patch_properties.regressions`.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Each case reads a generated PATCH body, parses a generated path and arbitrary text as paths, and runs every
    /// value repair over a generated value.
    #[test]
    fn patch_reading_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        noise in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        let body = patch_body(&bytes);
        if let Ok(operations) = parse_patch_request(&body) {
            let sent = ["Operations", "operations", "OPERATIONS"]
                .iter()
                .find_map(|name| body.get(*name).and_then(Value::as_array))
                .map_or(0, Vec::len);
            prop_assert_eq!(operations.len(), sent, "every operation of {} should be read", body);
            for operation in &operations {
                if let Some(path) = &operation.path {
                    check_path_round_trip(path)?;
                }
            }
        }

        let mut choices = Choices { bytes: &bytes, next: 0 };
        let path = path_text(&mut choices);
        if let Ok(parsed) = PatchPath::parse(&path) {
            check_path_round_trip(&parsed)?;
            if let Some(filter) = &parsed.value_filter {
                let _ = member_ids_in_filter(filter);
            }
        }
        let noisy = String::from_utf8_lossy(&noise);
        if let Ok(parsed) = PatchPath::parse(&noisy) {
            check_path_round_trip(&parsed)?;
        }

        let value = json_value(&mut Choices { bytes: &noise, next: 0 }, 0);
        let _ = expand_dotted_keys(value.clone());
        let _ = normalise_manager(value.clone());
        let _ = member_ids(&value);
        let expected = match &value {
            Value::Bool(flag) => Some(*flag),
            Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        };
        prop_assert_eq!(normalise_bool(&value), expected, "normalise_bool({})", value);
    }
}
