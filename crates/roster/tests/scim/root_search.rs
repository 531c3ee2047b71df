//! `POST /.search` at the root: Users and Groups in one list.

use super::*;

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

fn resource_types(reply: &Reply) -> Vec<String> {
    reply.body["Resources"]
        .as_array()
        .map(|items| items.iter().filter_map(|r| r["meta"]["resourceType"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

api_test!(root_search_lists_both_types, |server| {
    let ann = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "rs-ann", "displayName": "Ops Ann"})).await?;
    let bob = create_user(&server, &user_body("rs-bob")).await?;
    let ops = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Ops Team", "members": [{"value": ann}]})).await?;
    let dev = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Dev Team"})).await?;

    let reply = post(&server, "/.search", &json!({"schemas": [SEARCH_REQUEST]})).await?;
    assert_eq!(total(&reply), 4);
    assert_eq!(resource_ids(&reply), vec![ann.clone(), bob.clone(), ops.clone(), dev.clone()], "users first, then groups");
    assert_eq!(resource_types(&reply), vec!["User", "User", "Group", "Group"]);
    assert_eq!(reply.body["Resources"][2]["schemas"], json!([CORE_GROUP]));
    assert_eq!(reply.body["Resources"][0]["schemas"][0], json!(CORE_USER));

    let reply = post(&server, "/.search", &json!({"filter": "displayName sw \"ops\""})).await?;
    assert_eq!(resource_ids(&reply), vec![ann.clone(), ops.clone()], "displayName exists on both types");

    let reply = post(&server, "/.search", &json!({"filter": "userName eq \"rs-bob\""})).await?;
    assert_eq!(resource_ids(&reply), vec![bob.clone()], "userName matches no group");
    let reply = post(&server, "/.search", &json!({"filter": format!("members.value eq \"{ann}\"")})).await?;
    assert_eq!(resource_ids(&reply), vec![ops.clone()], "members matches no user");

    let reply = post(&server, "/.search", &json!({"filter": "displayName co \"team\" or userName pr", "startIndex": 2, "count": 2})).await?;
    assert_eq!(total(&reply), 2, "userName pr fails for groups, so groups match nothing: {}", reply.describe());
    let reply = post(&server, "/.search", &json!({"filter": "displayName pr", "startIndex": 2, "count": 2})).await?;
    assert_eq!(total(&reply), 3);
    assert_eq!(reply.body["startIndex"], json!(2));
    assert_eq!(resource_ids(&reply), vec![ops.clone(), dev.clone()], "a page may span both types");
    let reply = post(&server, "/.search", &json!({"startIndex": 4, "count": 10})).await?;
    assert_eq!(resource_ids(&reply), vec![dev.clone()], "a page may start among the groups");

    let reply = post(&server, "/.search", &json!({"attributes": ["displayName"], "count": 4})).await?;
    let first = reply.body["Resources"][0].as_object().cloned().unwrap_or_default();
    let mut keys: Vec<&String> = first.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["displayName", "id", "schemas"], "{}", reply.describe());
    let reply = post(&server, "/.search", &json!({"excludedAttributes": ["members"], "filter": "displayName eq \"ops team\""})).await?;
    assert!(reply.body["Resources"][0].get("members").is_none(), "{}", reply.describe());
});

api_test!(root_search_errors, |server| {
    let cases = [
        (json!({"filter": "userName eq"}), "invalidFilter"),
        (json!({"filter": "nickName gt true"}), "invalidFilter"),
        (json!({"filter": "unknownAttribute eq \"x\""}), "invalidFilter"),
        (json!({"sortBy": "userName"}), "invalidValue"),
        (json!({"cursor": ""}), "invalidValue"),
        (json!({"count": "lots"}), "invalidValue"),
    ];
    for (body, scim_type) in cases {
        let reply = post(&server, "/.search", &body).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some(scim_type));
    }
});
