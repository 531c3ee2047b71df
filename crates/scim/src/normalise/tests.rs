#![allow(clippy::expect_used, clippy::panic)]

use super::*;
use crate::parser::parse_filter;
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn booleans_normalise() {
    let cases = [
        (json!(true), Some(true)),
        (json!(false), Some(false)),
        (json!("True"), Some(true)),
        (json!("False"), Some(false)),
        (json!("TRUE"), Some(true)),
        (json!(" false "), Some(false)),
        (json!("yes"), None),
        (json!(1), None),
        (json!(null), None),
        (json!(["true"]), None),
    ];
    for (value, expected) in cases {
        assert_eq!(normalise_bool(&value), expected, "value {value}");
    }
}

fn expanded(value: Value) -> Value {
    match expand_dotted_keys(value.clone()) {
        Ok(expanded) => expanded,
        Err(error) => panic!("{value} did not expand: {error}"),
    }
}

#[test]
fn dotted_keys_expand() {
    let cases = [
        (
            json!({"name.givenName": "Oskar-Emil", "name.familyName": "Lindqvist Berg", "displayName": "Oskar"}),
            json!({"name": {"givenName": "Oskar-Emil", "familyName": "Lindqvist Berg"}, "displayName": "Oskar"}),
        ),
        (
            json!({"name": {"familyName": "Li", "middleName": "T"}, "name.givenName": "Ann"}),
            json!({"name": {"familyName": "Li", "middleName": "T", "givenName": "Ann"}}),
        ),
        (
            json!({"Name": {"familyName": "Li"}, "name.givenName": "Ann"}),
            json!({"Name": {"familyName": "Li", "givenName": "Ann"}}),
        ),
        (
            json!({format!("{ENTERPRISE}:department"): "R&D", format!("{ENTERPRISE}:manager.value"): "42"}),
            json!({ENTERPRISE: {"department": "R&D", "manager": {"value": "42"}}}),
        ),
        (
            json!({ENTERPRISE: {"costCenter": "4130"}, format!("{ENTERPRISE}:department"): "R&D"}),
            json!({ENTERPRISE: {"costCenter": "4130", "department": "R&D"}}),
        ),
        (
            json!({"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "Ann", "active": false}),
            json!({"name": {"givenName": "Ann"}, "active": false}),
        ),
        (json!({"name.givenName": "Ann", "name": {"givenName": "Ann"}}), json!({"name": {"givenName": "Ann"}})),
        (
            json!({"urn:example:custom:1.0:User": {"badge": 7}, "odd key": 1}),
            json!({"urn:example:custom:1.0:User": {"badge": 7}, "odd key": 1}),
        ),
        (json!("not an object"), json!("not an object")),
        (json!({}), json!({})),
    ];
    for (input, expected) in cases {
        assert_eq!(expanded(input.clone()), expected, "input {input}");
    }
}

#[test]
fn conflicting_dotted_keys_are_rejected() {
    let cases = [
        (json!({"name": "Ann", "name.givenName": "Ann"}), ScimType::InvalidValue, "\"name.givenName\" conflicts"),
        (json!({"name": {"givenName": "Bo"}, "name.givenName": "Ann"}), ScimType::InvalidValue, "conflicts"),
        (json!({"name.givenName.x": "Ann"}), ScimType::InvalidPath, "has more than one sub-attribute"),
        (json!({"emails[type eq \"work\"].value": "a@example.com"}), ScimType::InvalidPath, "is not an attribute name"),
    ];
    for (input, scim_type, fragment) in cases {
        let error = expand_dotted_keys(input.clone()).expect_err("invalid member name");
        assert_eq!(error.scim_type, scim_type, "input {input}");
        assert!(error.message.contains(fragment), "message for {input} was {:?}", error.message);
    }
}

#[test]
fn managers_normalise() {
    let cases = [
        (json!("42"), json!({"value": "42"})),
        (json!(42), json!({"value": "42"})),
        (json!({"value": "42"}), json!({"value": "42"})),
        (json!(""), Value::Null),
        (json!("  "), Value::Null),
        (Value::Null, Value::Null),
        (json!(true), json!(true)),
    ];
    for (input, expected) in cases {
        assert_eq!(normalise_manager(input.clone()), expected, "input {input}");
    }
}

#[test]
fn member_ids_read_arrays_and_objects() {
    let cases = [
        (json!([{"value": "2819c223"}, {"value": "902c246b"}]), vec!["2819c223", "902c246b"]),
        (json!([{"Value": 42, "display": "Ann"}]), vec!["42"]),
        (json!({"value": "2819c223"}), vec!["2819c223"]),
        (json!([]), vec![]),
    ];
    for (input, expected) in cases {
        assert_eq!(member_ids(&input), Ok(expected.into_iter().map(str::to_string).collect()), "input {input}");
    }
}

#[test]
fn member_ids_reject_values_without_ids() {
    let cases = [
        (json!("2819c223"), "members must be an array of objects"),
        (json!([{"display": "Ann"}]), "members[0] has no id"),
        (json!([{"value": "1"}, "2"]), "members[1] has no id"),
        (json!([{"value": ""}]), "members[0] has no id"),
    ];
    for (input, fragment) in cases {
        let error = member_ids(&input).expect_err("no id");
        assert_eq!(error.scim_type, ScimType::InvalidValue);
        assert!(error.message.contains(fragment), "message for {input} was {:?}", error.message);
    }
}

#[test]
fn member_ids_come_from_simple_filters() {
    let cases = [
        (r#"value eq "2819c223""#, Some(vec!["2819c223"])),
        (r#"VALUE eq "a" or value eq "b""#, Some(vec!["a", "b"])),
        ("value eq 42", Some(vec!["42"])),
        (r#"value ne "a""#, None),
        (r#"value eq "a" and display eq "Ann""#, None),
        (r#"display eq "Ann""#, None),
        ("value eq true", None),
        (r#"value eq "a" or display pr"#, None),
    ];
    for (input, expected) in cases {
        let filter = parse_filter(input).expect("valid filter");
        let expected = expected.map(|ids| ids.into_iter().map(str::to_string).collect::<Vec<_>>());
        assert_eq!(member_ids_in_filter(&filter), expected, "input {input:?}");
    }
}
