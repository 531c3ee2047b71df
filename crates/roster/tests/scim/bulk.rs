//! `/Bulk`: operations in order, `bulkId` references, `failOnErrors`, versions and limits.

use super::*;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn bulk_body(operations: Value) -> Value {
    json!({ "schemas": [BULK_REQUEST], "Operations": operations })
}

fn result_for<'a>(reply: &'a Reply, bulk_id: &str) -> &'a Value {
    reply.body["Operations"]
        .as_array()
        .and_then(|ops| ops.iter().find(|op| op["bulkId"] == bulk_id))
        .unwrap_or_else(|| panic!("no result for bulkId {bulk_id}: {}", reply.describe()))
}

fn id_from_location(result: &Value) -> String {
    result["location"].as_str().and_then(|l| l.rsplit('/').next()).unwrap_or_default().to_string()
}

api_test!(bulk_resolves_references, |server| {
    let operations = json!([
        {"method": "POST", "path": "/Groups", "bulkId": "team", "data": {"displayName": "Bulk Team", "members": [{"value": "bulkId:ann"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "ann", "data": {"schemas": [CORE_USER], "userName": "bulk.ann"}},
        {"method": "PATCH", "path": "/Users/bulkId:ann", "data": patch_body(json!([{"op": "replace", "path": "title", "value": "Lead"}]))},
    ]);
    let reply = post(&server, "/Bulk", &bulk_body(operations)).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]));

    let ann = result_for(&reply, "ann");
    assert_eq!(ann["status"], json!("201"));
    assert_eq!(ann["version"], json!("W/\"1\""));
    let ann_id = id_from_location(ann);
    let team = result_for(&reply, "team");
    assert_eq!(team["status"], json!("201"), "a forward reference waits for the operation it names");

    let group = get(&server, &format!("/Groups/{}", id_from_location(team))).await?;
    assert_eq!(group.body["members"][0]["value"], json!(ann_id));
    let user = get(&server, &format!("/Users/{ann_id}")).await?;
    assert_eq!(user.body["title"], json!("Lead"));
});

api_test!(bulk_reports_errors_per_operation, |server| {
    create_user(&server, &user_body("bulk.taken")).await?;
    let operations = json!([
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user_body("bulk.taken")},
        {"method": "POST", "path": "/Users", "bulkId": "ok", "data": user_body("bulk.fresh")},
        {"method": "PUT", "path": "/Users/999999", "data": user_body("nobody")},
        {"method": "DELETE", "path": "/Users/bulkId:missing"},
    ]);
    let reply = post(&server, "/Bulk", &bulk_body(operations)).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let dup = result_for(&reply, "dup");
    assert_eq!(dup["status"], json!("409"));
    assert_eq!(dup["response"]["scimType"], json!("uniqueness"));
    assert_eq!(result_for(&reply, "ok")["status"], json!("201"), "one failure does not stop the others");
    let statuses: Vec<&Value> = reply.body["Operations"].as_array().map(|o| o.iter().map(|op| &op["status"]).collect()).unwrap_or_default();
    assert_eq!(statuses, vec![&json!("409"), &json!("201"), &json!("404"), &json!("400")]);
});

api_test!(bulk_fail_on_errors_stops, |server| {
    create_user(&server, &user_body("fail.taken")).await?;
    let mut body = bulk_body(json!([
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("fail.taken")},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("fail.taken")},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": user_body("fail.never")},
    ]));
    body["failOnErrors"] = json!(2);
    let reply = post(&server, "/Bulk", &body).await?;
    assert_eq!(reply.body["Operations"].as_array().map(Vec::len), Some(2), "{}", reply.describe());
    let found = get(&server, "/Users?filter=userName%20eq%20%22fail.never%22").await?;
    assert_eq!(total(&found), 0, "operations after the limit do not run");
});

api_test!(bulk_versions_apply, |server| {
    let id = create_user(&server, &user_body("bulk.version")).await?;
    let operations = json!([
        {"method": "PATCH", "path": format!("/Users/{id}"), "version": "W/\"9\"", "data": patch_body(json!([{"op": "add", "path": "nickName", "value": "x"}]))},
        {"method": "PUT", "path": format!("/Users/{id}"), "version": "W/\"1\"", "data": user_body("bulk.version.renamed")},
        {"method": "DELETE", "path": format!("/Users/{id}"), "version": "W/\"2\""},
    ]);
    let reply = post(&server, "/Bulk", &bulk_body(operations)).await?;
    let statuses: Vec<&Value> = reply.body["Operations"].as_array().map(|o| o.iter().map(|op| &op["status"]).collect()).unwrap_or_default();
    assert_eq!(statuses, vec![&json!("412"), &json!("200"), &json!("204")], "{}", reply.describe());
});

api_test!(bulk_request_errors, |server| {
    let too_many: Vec<Value> = (0..1001).map(|i| json!({"method": "DELETE", "path": format!("/Users/{}", i + 1)})).collect();
    assert_scim_error(&post(&server, "/Bulk", &bulk_body(Value::Array(too_many))).await?, StatusCode::PAYLOAD_TOO_LARGE, None);

    for operations in [
        json!([{"method": "GET", "path": "/Users"}]),
        json!([{"method": "POST", "path": "/Users", "data": user_body("no.bulk.id")}]),
        json!([{"method": "POST", "path": "/Bulk", "bulkId": "x", "data": {}}]),
        json!([{"method": "POST", "path": "/Users", "bulkId": "x", "data": {}}, {"method": "POST", "path": "/Users", "bulkId": "x", "data": {}}]),
        json!([{"method": "PATCH", "path": "/Users/1"}]),
        json!("not an array"),
    ] {
        let reply = post(&server, "/Bulk", &bulk_body(operations)).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.describe());
        assert_eq!(reply.body["schemas"], json!([ERROR]));
    }
    let reply = server.send(server.request_anonymous(reqwest::Method::POST, "/scim/v2/Bulk").body("{}")).await?;
    assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    let config = get(&server, "/ServiceProviderConfig").await?;
    assert_eq!(config.body["bulk"], json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576}));
});
