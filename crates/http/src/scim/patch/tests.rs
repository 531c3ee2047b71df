#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use super::*;
use crate::scim::schemas::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::json;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patched(resource: Value, operations: Value) -> Result<Value, ScimApiError> {
    let Value::Object(mut document) = resource else { panic!("the resource must be an object") };
    let body = json!({ "Operations": operations });
    let operations = read_operations(&body)?;
    apply_operations(&mut document, &operations, &USER_RESOURCE)?;
    Ok(Value::Object(document))
}

fn user() -> Value {
    json!({
        "userName": "ann",
        "name": { "givenName": "Ann", "middleName": "B" },
        "emails": [
            { "value": "ann@work.example", "type": "work", "primary": true },
            { "value": "ann@home.example", "type": "home" },
        ],
    })
}

#[test]
fn value_filter_sets_sub_attribute() {
    let result = patched(user(), json!([{ "op": "replace", "path": "emails[type eq \"HOME\"].value", "value": "a@h.example" }]));
    assert_eq!(result.unwrap()["emails"][1], json!({ "value": "a@h.example", "type": "home" }));
}

#[test]
fn value_filter_without_match_creates_value() {
    let result = patched(user(), json!([{ "op": "add", "path": "emails[type eq \"other\" and primary eq false].value", "value": "o@x.example" }]));
    assert_eq!(result.unwrap()["emails"][2], json!({ "value": "o@x.example", "type": "other", "primary": false }));
}

#[test]
fn value_filter_remove_without_match_succeeds() {
    let result = patched(user(), json!([{ "op": "remove", "path": "emails[type eq \"fax\"]" }]));
    assert_eq!(result.unwrap(), user());
}

#[test]
fn added_primary_demotes_others() {
    let result = patched(user(), json!([{ "op": "add", "path": "emails", "value": { "value": "n@x.example", "primary": "true" } }]));
    let emails = result.unwrap()["emails"].clone();
    assert_eq!(emails[0]["primary"], json!(false));
    assert_eq!(emails[2]["primary"], json!(true), "a string boolean reads as a boolean");
}

#[test]
fn add_skips_existing_value() {
    let result = patched(user(), json!([{ "op": "add", "path": "emails", "value": [{ "value": "ann@home.example", "type": "home" }] }]));
    assert_eq!(result.unwrap()["emails"].as_array().map(Vec::len), Some(2));
}

#[test]
fn replace_complex_merges() {
    let result = patched(user(), json!([{ "op": "replace", "path": "NAME", "value": { "familyName": "Lee", "middleName": null } }]));
    assert_eq!(result.unwrap()["name"], json!({ "givenName": "Ann", "familyName": "Lee" }));
}

#[test]
fn remove_with_value_removes_listed() {
    let result = patched(user(), json!([{ "op": "remove", "path": "emails", "value": [{ "value": "ann@work.example" }] }]));
    assert_eq!(result.unwrap()["emails"], json!([{ "value": "ann@home.example", "type": "home" }]));
}

#[test]
fn pathless_value_routes_extension_attributes() {
    let operations = json!([{ "op": "add", "value": { "department": "Ops", "name.familyName": "Lee" } }]);
    let result = patched(user(), operations).unwrap();
    assert_eq!(result[ENTERPRISE], json!({ "department": "Ops" }), "an enterprise name without its URN");
    assert_eq!(result["name"]["familyName"], json!("Lee"));
}

#[test]
fn extension_removal_by_urn() {
    let mut resource = user();
    resource[ENTERPRISE] = json!({ "department": "Ops" });
    let result = patched(resource, json!([{ "op": "remove", "path": ENTERPRISE }])).unwrap();
    assert!(result.get(ENTERPRISE).is_none());
}

#[test]
fn read_only_targets_rejected() {
    for path in ["id", "meta.version", "roles", "schemas"] {
        let error = patched(user(), json!([{ "op": "replace", "path": path, "value": "x" }])).unwrap_err();
        assert_eq!(error.scim_type, Some("mutability"), "path {path}");
    }
}

#[test]
fn sub_attribute_of_several_values_needs_filter() {
    let mut resource = user();
    resource["emails"][0]["primary"] = json!(false);
    let error = patched(resource, json!([{ "op": "replace", "path": "emails.display", "value": "x" }])).unwrap_err();
    assert_eq!(error.scim_type, Some("invalidPath"));
    let result = patched(user(), json!([{ "op": "replace", "path": "emails.display", "value": "Main" }])).unwrap();
    assert_eq!(result["emails"][0]["display"], json!("Main"), "the primary value is the target");
}

#[test]
fn group_members_patch_as_values() {
    let Value::Object(mut group) = json!({ "displayName": "G", "members": [{ "value": "1" }, { "value": "2" }] }) else {
        unreachable!()
    };
    let operations = read_operations(&json!({ "Operations": [{ "op": "remove", "path": "members[value eq \"2\"]" }] })).unwrap();
    apply_operations(&mut group, &operations, &GROUP_RESOURCE).unwrap();
    assert_eq!(group["members"], json!([{ "value": "1" }]));
}

#[test]
fn filters_match_values() {
    let item = json!({ "value": "A@Example.org", "type": "work", "primary": true, "n": 3 });
    let cases = [
        ("value eq \"a@example.ORG\"", true),
        ("value co \"example\"", true),
        ("value sw \"b\"", false),
        ("primary eq true and type ne \"home\"", true),
        ("primary eq \"False\"", false),
        ("display pr", false),
        ("not (display pr)", true),
        ("n gt 2", true),
        ("display eq null", true),
        ("type eq \"home\" or value ew \".org\"", true),
    ];
    for (text, expected) in cases {
        let filter = roster_scim::parse_filter(text).unwrap();
        assert_eq!(matches(&filter, &item), expected, "filter {text}");
    }
}
