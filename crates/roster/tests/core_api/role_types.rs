//! The role catalogue: the seeded entries, create, update, delete, and the rejected delete of a held role type.

use crate::common::{TestServer, assert_error, assert_invalid};
use serde_json::{Value, json};
use reqwest::StatusCode;

fn role_type_document(attributes: Value) -> Value {
    json!({ "data": { "type": "role_types", "attributes": attributes } })
}

async fn create_role_type(server: &TestServer, attributes: Value) -> anyhow::Result<crate::common::Reply> {
    server.post("/core/role_types", &role_type_document(attributes)).await
}

api_test!(catalogue_is_seeded, |server| {
    let reply = server.get("/core/role_types").await?;

    assert_eq!(reply.status, StatusCode::OK, "GET /core/role_types: {}", reply.describe());
    let seeded = [
        ("user_admin", Value::Null),
        ("developer", Value::Null),
        ("stakeholder", Value::Null),
        ("workspace_manager", json!("workspace")),
        ("workspace_runbook_creator", json!("workspace")),
        ("workspace_member", json!("workspace")),
        ("runbook_admin", json!("runbook")),
        ("runbook_editor", json!("runbook")),
    ];
    assert_eq!(reply.data_items().len(), seeded.len(), "a new database should hold the default catalogue: {}", reply.describe());
    for (name, resource_type) in seeded {
        let found = reply.data_items().iter().find(|r| r["attributes"]["name"] == name);
        assert!(found.is_some(), "the default catalogue should contain {name}");
        let found_type = found.map(|r| r["attributes"]["resource_type"].clone()).unwrap_or_default();
        assert_eq!(found_type, resource_type, "the resource type of {name}");
    }
});

api_test!(role_type_crud, |server| {
    let created = create_role_type(&server, json!({
        "name": "release_manager", "description": "Ships releases", "category": "global",
    }))
    .await?;
    assert_eq!(created.status, StatusCode::CREATED, "POST /core/role_types: {}", created.describe());
    let id = created.id()?;
    assert_eq!(created.header("location"), Some(format!("/core/role_types/{id}").as_str()), "Location should name the role type");
    assert_eq!(created.attr("resource_type"), &Value::Null, "a role type without resource_type is global");

    let scoped = create_role_type(&server, json!({ "name": "dataset_owner", "resource_type": "dataset" })).await?;
    assert_eq!(scoped.attr("resource_type"), "dataset", "a scoped role type should keep its resource type");

    let updated = server
        .patch(&format!("/core/role_types/{id}"), &role_type_document(json!({ "name": "release_captain", "description": null })))
        .await?;
    assert_eq!(updated.status, StatusCode::OK, "PATCH /core/role_types/{id}: {}", updated.describe());
    assert_eq!(updated.attr("name"), "release_captain", "PATCH should rename the role type");
    assert_eq!(updated.attr("description"), &Value::Null, "null should clear the description");
    assert_eq!(updated.attr("category"), "global", "PATCH should leave category alone");

    let listed = server.get("/core/role_types").await?;
    let names: Vec<&str> = listed.data_items().iter().filter_map(|r| r["attributes"]["name"].as_str()).collect();
    assert!(names.contains(&"release_captain"), "the list should show the new name: {names:?}");

    let deleted = server.delete(&format!("/core/role_types/{id}")).await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "DELETE of an unheld role type: {}", deleted.describe());
    let after = server.get("/core/role_types").await?;
    assert!(!after.ids().contains(&id), "the deleted role type should be gone from the list");
    let again = server.delete(&format!("/core/role_types/{id}")).await?;
    assert_error(&again, StatusCode::NOT_FOUND, "not_found");
});

api_test!(role_type_name_is_unique, |server| {
    let reply = create_role_type(&server, json!({ "name": "DEVELOPER" })).await?;

    assert_invalid(&reply, "taken", "/data/attributes/name");
});

api_test!(role_type_rejects_bad_input, |server| {
    let developer = server.role_type_id("developer").await?;
    let created = [
        ("missing name", json!({ "description": "x" }), "blank", "/data/attributes/name"),
        ("unknown attribute", json!({ "name": "x", "colour": "red" }), "unknown_attribute", "/data/attributes/colour"),
    ];
    for (case, attributes, code, pointer) in created {
        let reply = create_role_type(&server, attributes).await?;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.describe());
        assert_invalid(&reply, code, pointer);
    }

    let fixed = server.patch(&format!("/core/role_types/{developer}"), &role_type_document(json!({ "resource_type": "workspace" }))).await?;
    assert_invalid(&fixed, "read_only", "/data/attributes/resource_type");
    let unnamed = server.patch(&format!("/core/role_types/{developer}"), &role_type_document(json!({ "name": null }))).await?;
    assert_invalid(&unnamed, "blank", "/data/attributes/name");
    let unknown = server.patch("/core/role_types/999999", &role_type_document(json!({ "name": "x" }))).await?;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
});

api_test!(held_role_type_not_deleted, |server| {
    let developer = server.role_type_id("developer").await?;
    for email in ["ada@example.com", "grace@example.com"] {
        server.create_user(json!({ "email": email, "roles_attributes": [{ "role_type_id": developer }] })).await?;
    }

    let reply = server.delete(&format!("/core/role_types/{developer}")).await?;

    assert_error(&reply, StatusCode::CONFLICT, "role_type_in_use");
    let detail = reply.error()["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("2 user"), "the 409 should say how many users hold the role type: {detail}");
    assert_eq!(reply.error()["meta"]["users_holding"], 2, "meta.users_holding should count the holders: {}", reply.describe());
    let still = server.get("/core/role_types").await?;
    assert!(still.ids().contains(&developer), "a rejected delete should keep the role type");
});
