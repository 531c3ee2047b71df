#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use super::*;
use roster_domain::Timestamp;

fn stored_user(document: &Value) -> User {
    let input = read_user(document).unwrap();
    let new = input.to_new_user().unwrap();
    let now = Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap();
    User {
        id: 7,
        first_name: new.first_name,
        last_name: new.last_name,
        email: new.email.map(Email::into_string),
        user_name: new.user_name.map(|u| u.as_str().to_string()).unwrap_or_default(),
        unique_id: new.unique_id,
        external_id: new.external_id,
        mobile_number: new.mobile_number,
        job_title: new.job_title,
        department: new.department,
        manager_id: new.manager_id,
        start_date: None,
        end_date: None,
        custom_attributes: Default::default(),
        scim_attributes: new.scim_attributes,
        status: LifecycleState::Active,
        version: 1,
        created_at: now,
        updated_at: now,
        archived_at: None,
    }
}

fn sample() -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "USERNAME": "ann",
        "name": { "GivenName": "Ann", "familyName": "Lee", "middleName": "B" },
        "emails": [
            { "value": "ann@home.example", "type": "home" },
            { "Value": "ann@work.example", "type": "work" },
        ],
        "phoneNumbers": [{ "value": "tel:+1-201-555-0123", "type": "mobile" }],
        "displayName": "Ann Lee",
        "active": "True",
        ENTERPRISE_USER: { "employeeNumber": "42", "manager": "9", "costCenter": "C1" },
    })
}

#[test]
fn reads_mapped_fields() {
    let input = read_user(&sample()).unwrap();
    assert_eq!(input.user_name.as_deref(), Some("ann"), "attribute names match in any case");
    assert_eq!(input.first_name.as_deref(), Some("Ann"));
    assert_eq!(input.email.as_ref().map(Email::as_str), Some("ann@work.example"), "the work email, as none is primary");
    assert_eq!(input.mobile_number, None, "a value that is not a phone number stays only in the attributes");
    assert_eq!(input.unique_id.as_deref(), Some("42"));
    assert_eq!(input.manager_id, Some(9), "a plain manager id reads as manager.value");
    assert_eq!(input.active, Some(true));
    assert_eq!(input.scim_attributes["name"], json!({ "middleName": "B" }));
    assert_eq!(input.scim_attributes[ENTERPRISE_USER], json!({ "costCenter": "C1" }));
}

#[test]
fn rendering_reads_back_unchanged() {
    let user = stored_user(&sample());
    let rendered = render_user(&user, None, "http://h/scim/v2");
    let again = read_user(&rendered).unwrap();

    assert_eq!(again.replacement_for(&user).unwrap(), UserPatch::default(), "render then read must not change anything");
    assert_eq!(rendered["emails"][1], json!({ "value": "ann@work.example", "type": "work" }));
    assert_eq!(rendered["phoneNumbers"], json!([{ "value": "tel:+1-201-555-0123", "type": "mobile" }]));
    assert_eq!(rendered[ENTERPRISE_USER]["manager"], json!({ "value": "9", "$ref": "http://h/scim/v2/Users/9" }));
}

#[test]
fn core_user_reads_back_unchanged() {
    // A user created through `/core`, with an email but no stored SCIM attributes.
    let user = User { scim_attributes: Map::new(), ..stored_user(&sample()) };
    let rendered = render_user(&user, None, "http://h/scim/v2");
    let again = read_user(&rendered).unwrap();

    assert_eq!(again.replacement_for(&user).unwrap(), UserPatch::default(), "render then read must not change anything");

    let mut nicknamed = rendered.clone();
    nicknamed["nickName"] = json!("Annie");
    let patch = read_user(&nicknamed).unwrap().replacement_for(&user).unwrap();
    assert_eq!(patch.scim_attributes.as_ref().and_then(|a| a.get("nickName")), Some(&json!("Annie")), "a new attribute is stored");
}

#[test]
fn field_change_elsewhere_shows() {
    let mut user = stored_user(&sample());
    user.email = Some("new@work.example".into());
    user.mobile_number = Some("+1 201 555 0199".into());
    let rendered = render_user(&user, None, "");

    assert_eq!(rendered["emails"][1]["value"], json!("new@work.example"));
    assert_eq!(rendered["phoneNumbers"][0]["value"], json!("+1 201 555 0199"));
    user.email = None;
    assert_eq!(render_user(&user, None, "")["emails"].as_array().map(Vec::len), Some(1), "a cleared email is dropped");
}

#[test]
fn role_values_round_trip() {
    for key in [
        RoleKey { role_type_id: 2, resource_type: None, resource_id: None },
        RoleKey { role_type_id: 6, resource_type: Some("workspace".into()), resource_id: Some("a:b".into()) },
    ] {
        assert_eq!(parse_role_value(&role_value(&key)), Some(key));
    }
    for bad in ["", "x", "0", "-1", "2.5"] {
        assert_eq!(parse_role_value(bad), None, "value {bad:?}");
    }
}

#[test]
fn rejects_wrong_types() {
    for document in [
        json!({ "userName": ["a"] }),
        json!({ "userName": "a", "name": "Ann" }),
        json!({ "userName": "a", "emails": [{ "value": 5 }] }),
        json!({ "userName": "a", "emails": [{ "value": "no-at-sign" }] }),
        json!({ "userName": "a", "title": "x".repeat(300) }),
        json!({ "userName": "a", ENTERPRISE_USER: { "manager": { "value": "boss" } } }),
        json!({ "userName": "a", CORE_GROUP_URN: { "displayName": "x" } }),
        json!("a string"),
    ] {
        let error = read_user(&document).unwrap_err();
        assert_eq!(error.status, axum::http::StatusCode::BAD_REQUEST, "document {document}");
    }
}

const CORE_GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
