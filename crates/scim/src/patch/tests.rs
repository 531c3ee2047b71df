#![allow(clippy::expect_used, clippy::panic)]

use super::*;
use crate::filter::{AttrPath, CompValue, CompareOp};
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn path(
    schema: Option<&str>,
    attribute: &str,
    value_filter: Option<ScimFilter>,
    sub_attribute: Option<&str>,
) -> PatchPath {
    PatchPath {
        schema: schema.map(str::to_string),
        attribute: attribute.to_string(),
        value_filter,
        sub_attribute: sub_attribute.map(str::to_string),
    }
}

fn eq(name: &str, value: &str) -> ScimFilter {
    ScimFilter::Compare {
        path: AttrPath::new(name, None),
        op: CompareOp::Eq,
        value: CompValue::String(value.to_string()),
    }
}

fn parsed_path(input: &str) -> PatchPath {
    match PatchPath::parse(input) {
        Ok(path) => path,
        Err(error) => panic!("{input:?} did not parse: {error}"),
    }
}

#[test]
fn patch_paths_parse() {
    let manager = format!("{ENTERPRISE}:manager");
    let manager_value = format!("{ENTERPRISE}:manager.value");
    let cases = vec![
        ("userName", path(None, "userName", None, None)),
        ("name.givenName", path(None, "name", None, Some("givenName"))),
        (r#"emails[type eq "work"]"#, path(None, "emails", Some(eq("type", "work")), None)),
        (r#"emails[type eq "work"].value"#, path(None, "emails", Some(eq("type", "work")), Some("value"))),
        (r#"members[value eq "2819c223"]"#, path(None, "members", Some(eq("value", "2819c223")), None)),
        (
            r#"addresses[type eq "work" and primary eq true].streetAddress"#,
            path(
                None,
                "addresses",
                Some(ScimFilter::And(vec![
                    eq("type", "work"),
                    ScimFilter::Compare {
                        path: AttrPath::new("primary", None),
                        op: CompareOp::Eq,
                        value: CompValue::Bool(true),
                    },
                ])),
                Some("streetAddress"),
            ),
        ),
        (manager.as_str(), path(Some(ENTERPRISE), "manager", None, None)),
        (manager_value.as_str(), path(Some(ENTERPRISE), "manager", None, Some("value"))),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            path(Some("urn:ietf:params:scim:schemas:core:2.0:User"), "name", None, Some("familyName")),
        ),
        ("  title  ", path(None, "title", None, None)),
        ("members[$ref pr]", path(None, "members", Some(ScimFilter::Present(AttrPath::new("$ref", None))), None)),
    ];
    for (input, expected) in cases {
        assert_eq!(parsed_path(input), expected, "input {input:?}");
    }
}

#[test]
fn patch_paths_print_back() {
    for input in [
        "name.givenName",
        r#"emails[type eq "work"].value"#,
        r#"members[value eq "2819c223"]"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ] {
        let parsed = parsed_path(input);
        assert_eq!(parsed.to_string(), input);
        assert_eq!(parsed_path(&parsed.to_string()), parsed);
    }
}

#[test]
fn patch_path_schema_membership() {
    assert!(parsed_path("userName").is_in_schema(crate::schema::CORE_USER));
    assert!(!parsed_path("userName").is_in_schema(ENTERPRISE));
    assert!(parsed_path(&format!("{}:department", ENTERPRISE.to_ascii_uppercase())).is_in_schema(ENTERPRISE));
}

#[test]
fn invalid_patch_paths_are_rejected() {
    let cases = [
        ("", Some(0), "the path is empty"),
        (r#"emails[type eq "work""#, Some(21), "to close the [ at character 6"),
        (r#"emails[type eq "work"]value"#, Some(22), "unexpected `value` after the path"),
        (r#"emails[type eq "work"].value.x"#, Some(28), "unexpected `.x` after the path"),
        (r#"name.givenName[type eq "x"]"#, None, "a value filter must follow the attribute name, not name.givenName"),
        ("name.givenName.x", Some(0), "more than one sub-attribute"),
        ("emails value", Some(7), "unexpected `value` after the path"),
        (ENTERPRISE, None, "names a whole schema, not an attribute"),
        (r#"emails[members[value eq "x"]]"#, Some(14), "cannot contain another value path"),
    ];
    for (input, position, fragment) in cases {
        let error = PatchPath::parse(input).expect_err(input);
        assert_eq!(error.scim_type, ScimType::InvalidPath, "input {input:?}");
        assert_eq!(error.position, position, "position for {input:?}: {}", error.message);
        assert!(error.message.contains(fragment), "message for {input:?} was {:?}", error.message);
    }
}

fn operations(body: Value) -> Vec<PatchOp> {
    match parse_patch_request(&body) {
        Ok(operations) => operations,
        Err(error) => panic!("{body} did not parse: {error}"),
    }
}

#[test]
fn operation_names_ignore_case() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "ADD", "path": "title", "value": "Lead"},
            {"op": "REMOVE", "path": "nickName"},
            {"op": "add", "value": {"displayName": "Ann"}},
        ]
    });
    let parsed = operations(body);
    let kinds: Vec<PatchOpKind> = parsed.iter().map(|operation| operation.op).collect();
    assert_eq!(kinds, vec![PatchOpKind::Replace, PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Add]);

    assert_eq!(parsed[0].path, Some(path(None, "active", None, None)));
    assert_eq!(parsed[0].value, json!("False"));
    assert_eq!(parsed[2].value, Value::Null);
    assert_eq!(parsed[3].path, None);
    assert_eq!(parsed[3].value, json!({"displayName": "Ann"}));
}

#[test]
fn request_member_names_ignore_case() {
    let body = json!({"operations": [{"OP": "replace", "Path": "title", "VALUE": "Lead"}]});
    assert_eq!(
        operations(body),
        vec![PatchOp { op: PatchOpKind::Replace, path: Some(path(None, "title", None, None)), value: json!("Lead") }]
    );
}

#[test]
fn value_path_operations_keep_their_filter() {
    let body = json!({"Operations": [{"op": "remove", "path": "members[value eq \"2819c223\"]"}]});
    let parsed = operations(body);
    assert_eq!(parsed[0].path, Some(path(None, "members", Some(eq("value", "2819c223")), None)));
}

#[test]
fn whole_schema_paths_become_pathless() {
    let body = json!({"Operations": [{"op": "replace", "path": ENTERPRISE, "value": {"department": "R&D"}}]});
    let parsed = operations(body);
    assert_eq!(parsed[0].path, None);
    assert_eq!(parsed[0].value, json!({ENTERPRISE: {"department": "R&D"}}));
}

#[test]
fn whole_extension_removal_becomes_pathless() {
    let body = json!({"Operations": [{"op": "remove", "path": ENTERPRISE}]});
    let parsed = operations(body);
    assert_eq!(parsed[0].op, PatchOpKind::Remove);
    assert_eq!(parsed[0].path, None);
    assert_eq!(parsed[0].value, json!({ENTERPRISE: null}));
}

#[test]
fn invalid_requests_are_rejected() {
    let cases = [
        (json!([]), ScimType::InvalidSyntax, "the PATCH body must be a JSON object"),
        (
            json!({"schemas": ["urn:x"], "Operations": []}),
            ScimType::InvalidSyntax,
            "schemas must be an array containing",
        ),
        (json!({"schemas": "x", "Operations": []}), ScimType::InvalidSyntax, "schemas must be an array containing"),
        (json!({}), ScimType::InvalidSyntax, "the PATCH body has no Operations"),
        (json!({"Operations": {}}), ScimType::InvalidSyntax, "Operations must be an array"),
        (json!({"Operations": []}), ScimType::InvalidSyntax, "Operations is empty"),
        (json!({"Operations": ["add"]}), ScimType::InvalidSyntax, "Operations[0] must be an object"),
        (
            json!({"Operations": [{"path": "x", "value": 1}]}),
            ScimType::InvalidSyntax,
            "Operations[0].op must be add, replace or remove; it is missing",
        ),
        (json!({"Operations": [{"op": "move", "path": "x"}]}), ScimType::InvalidSyntax, "found \"move\""),
        (json!({"Operations": [{"op": 1}]}), ScimType::InvalidSyntax, "found 1"),
        (
            json!({"Operations": [{"op": "add", "path": "title"}]}),
            ScimType::InvalidSyntax,
            "Operations[0] (add) has no value",
        ),
        (json!({"Operations": [{"op": "remove"}]}), ScimType::NoTarget, "Operations[0] (remove) has no path"),
        (json!({"Operations": [{"op": "remove", "path": null}]}), ScimType::NoTarget, "has no path"),
        (json!({"Operations": [{"op": "add", "path": 5, "value": 1}]}), ScimType::InvalidPath, "path must be a string"),
        (
            json!({"Operations": [{"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User"}]}),
            ScimType::InvalidPath,
            "removes the whole core schema",
        ),
        (
            json!({"Operations": [{"op": "add", "path": "title", "value": 1}, {"op": "remove", "path": "emails["}]}),
            ScimType::InvalidPath,
            "Operations[1].path \"emails[\": expected an expression, found the end of the text",
        ),
    ];
    for (body, scim_type, fragment) in cases {
        let error = parse_patch_request(&body).expect_err("invalid request");
        assert_eq!(error.scim_type, scim_type, "body {body}: {}", error.message);
        assert!(error.message.contains(fragment), "message for {body} was {:?}", error.message);
    }
}

#[test]
fn path_errors_keep_their_position() {
    let body = json!({"Operations": [{"op": "remove", "path": "emails[type eq \"work\""}]});
    let error = parse_patch_request(&body).expect_err("unclosed bracket");
    assert_eq!(error.position, Some(21));
    assert_eq!(error.scim_type, ScimType::InvalidPath);
}
