//! Groups: members, role grants, filters, PUT and PATCH of membership, and groups of 10,000 members.

use super::*;
use futures::StreamExt;
use reqwest::Method;

fn members_of(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

async fn core_role_sources(server: &TestServer, user: &str) -> anyhow::Result<Vec<Value>> {
    let reply = server.get(&format!("/core/users/{user}/roles")).await?;
    ensure!(reply.status == StatusCode::OK, "reading roles failed: {}", reply.describe());
    Ok(reply.data_items().iter().map(|r| r["attributes"]["sources"].clone()).collect())
}

api_test!(create_and_read_group, |server| {
    let alice = create_user(&server, &user_body("g-alice")).await?;
    let body = json!({"schemas": [CORE_GROUP], "displayName": "Engineering", "externalId": "okta-00g1",
        "members": [{"value": alice, "display": "g-alice"}], "description": "kept as sent"});
    let reply = post(&server, "/Groups", &body).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    let id = scim_id(&reply)?;
    let location = format!("{}/scim/v2/Groups/{id}", server.base_url());
    assert_eq!(reply.header("location"), Some(location.as_str()));

    let group = get(&server, &format!("/Groups/{id}")).await?.body;
    assert_eq!(group["displayName"], json!("Engineering"));
    assert_eq!(group["externalId"], json!("okta-00g1"));
    assert_eq!(group["description"], json!("kept as sent"));
    assert_eq!(group["members"], json!([{"value": alice, "$ref": format!("{}/scim/v2/Users/{alice}", server.base_url()), "type": "User"}]));
    assert_eq!(group["meta"]["resourceType"], json!("Group"));
    assert_eq!(group["meta"]["location"], json!(location));
    assert_eq!(group["schemas"], json!([CORE_GROUP]));

    let reply = post(&server, "/Groups", &json!({"schemas": [CORE_GROUP], "members": []})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Groups", &json!({"displayName": "Ghosts", "members": [{"value": "999999"}]})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Groups", &json!({"displayName": "Foreign", "members": [{"value": "fake-member-id"}]})).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "an id that cannot name a user is skipped: {}", reply.describe());
    assert!(reply.body.get("members").is_none());
});

api_test!(group_filters_and_sorting, |server| {
    let alice = create_user(&server, &user_body("gf-alice")).await?;
    let ops = create_group(&server, &json!({"displayName": "Ops Team", "externalId": "X-1", "members": [{"value": alice}]})).await?;
    let dev = create_group(&server, &json!({"displayName": "dev team"})).await?;
    let admins = create_group(&server, &json!({"displayName": "Admins", "externalId": "X-2"})).await?;

    let cases: Vec<(String, Vec<&String>)> = vec![
        ("displayName eq \"OPS TEAM\"".into(), vec![&ops]),
        ("displayName ew \"team\"".into(), vec![&dev, &ops]),
        ("externalId eq \"X-2\"".into(), vec![&admins]),
        ("externalId eq \"x-2\"".into(), vec![]),
        ("externalId pr".into(), vec![&admins, &ops]),
        (format!("id eq \"{dev}\""), vec![&dev]),
        (format!("members.value eq \"{alice}\""), vec![&ops]),
        (format!("members[value eq \"{alice}\"]"), vec![&ops]),
        ("members eq \"not-a-user\"".into(), vec![]),
        ("not (displayName sw \"a\") and displayName pr".into(), vec![&dev, &ops]),
    ];
    for (filter, expected) in cases {
        let reply = get(&server, &format!("/Groups?filter={}&sortBy=displayName", encode(&filter))).await?;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(resource_ids(&reply), expected, "filter {filter}: {}", reply.describe());
    }
    for bad in ["members.display eq \"x\"", "meta.created gt \"2020-01-01T00:00:00Z\"", "displayName eq"] {
        let reply = get(&server, &format!("/Groups?filter={}", encode(bad))).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }

    let reply = get(&server, "/Groups?sortBy=displayName&sortOrder=descending&count=2").await?;
    assert_eq!(resource_ids(&reply), vec![ops.clone(), dev.clone()]);
    assert_eq!(total(&reply), 3);
    let reply = get(&server, "/Groups?count=0").await?;
    assert_eq!(total(&reply), 3);
    assert!(resource_ids(&reply).is_empty());
    let reply = get(&server, "/Groups?sortBy=externalId").await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = post(&server, "/Groups/.search", &json!({"filter": "displayName sw \"adm\""})).await?;
    assert_eq!(resource_ids(&reply), vec![admins]);
});

api_test!(put_and_patch_membership, |server| {
    let a = create_user(&server, &user_body("pm-a")).await?;
    let b = create_user(&server, &user_body("pm-b")).await?;
    let c = create_user(&server, &user_body("pm-c")).await?;
    let id = create_group(&server, &json!({"displayName": "Rotation", "members": [{"value": a}, {"value": b}]})).await?;
    let path = format!("/Groups/{id}");

    let reply = put(&server, &path, &json!({"schemas": [CORE_GROUP], "displayName": "Rotation 2", "members": [{"value": c}]})).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(members_of(&reply.body), vec![c.clone()], "PUT replaces the membership");
    assert_eq!(reply.body["displayName"], json!("Rotation 2"));

    let reply = patch(&server, &path, json!([
        {"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]},
        {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
        {"op": "add", "value": {"members": [{"value": a}], "displayName": "Rotation 3"}},
    ])).await?;
    assert_eq!(members_of(&reply.body), vec![a.clone(), b.clone(), c.clone()], "operations apply in order: {}", reply.describe());
    assert_eq!(reply.body["displayName"], json!("Rotation 3"));

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "members", "value": [{"value": b}]}])).await?;
    assert_eq!(members_of(&reply.body), vec![b.clone()]);
    let reply = patch(&server, &path, json!([{"op": "replace", "path": "externalId", "value": "ext"}])).await?;
    assert_eq!(reply.body["externalId"], json!("ext"));
    assert_eq!(members_of(&reply.body), vec![b.clone()], "changing an attribute leaves the members alone");
    let reply = patch(&server, &path, json!([{"op": "remove", "path": "displayName"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = patch(&server, &path, json!([{"op": "replace", "path": "members[value eq \"1\"].display", "value": "x"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidPath"));

    let stale = server.request(Method::PATCH, &format!("/scim/v2{path}")).header("If-Match", "W/\"1\"")
        .body(patch_body(json!([{"op": "add", "path": "members", "value": [{"value": a}]}])).to_string());
    assert_scim_error(&server.send(stale).await?, StatusCode::PRECONDITION_FAILED, None);

    assert_eq!(delete(&server, &path).await?.status, StatusCode::NO_CONTENT);
    assert_scim_error(&get(&server, &path).await?, StatusCode::NOT_FOUND, None);
    assert_scim_error(&delete(&server, &path).await?, StatusCode::NOT_FOUND, None);
});

api_test!(group_role_grants, |server| {
    let member = create_user(&server, &user_body("granted")).await?;
    let other = create_user(&server, &user_body("granted-too")).await?;
    let developer = server.role_type_id("developer").await?;
    let workspace = server.role_type_id("workspace_member").await?;
    let scoped = format!("{workspace}:workspace:analytics");
    let body = json!({"displayName": "Developers", "members": [{"value": member}], "roles": [{"value": developer}, {"value": scoped}]});
    let id = create_group(&server, &body).await?;
    let path = format!("/Groups/{id}");

    let group = get(&server, &path).await?.body;
    assert_eq!(group["roles"], json!([{"value": developer}, {"value": scoped, "type": "workspace"}]));
    assert_eq!(core_role_sources(&server, &member).await?.len(), 2, "members receive the group's roles");
    let user = get(&server, &format!("/Users/{member}")).await?.body;
    assert_eq!(user["roles"][0]["value"], json!(developer));

    let reply = patch(&server, &path, json!([{"op": "add", "path": "members", "value": [{"value": other}]}])).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(core_role_sources(&server, &other).await?.len(), 2, "a new member receives them");
    let reply = patch(&server, &path, json!([{"op": "remove", "path": format!("members[value eq \"{other}\"]")}])).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(core_role_sources(&server, &other).await?.is_empty(), "leaving the group revokes them");

    let direct = server.put(&format!("/core/users/{member}/roles"), &json!({"data": [{"role_type_id": developer}]})).await?;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.describe());
    let reply = patch(&server, &path, json!([{"op": "remove", "path": "roles", "value": [{"value": developer}]}])).await?;
    assert_eq!(reply.body["roles"], json!([{"value": scoped, "type": "workspace"}]), "{}", reply.describe());
    let sources = core_role_sources(&server, &member).await?;
    assert!(sources.contains(&json!(["direct"])), "a role held directly stays: {sources:?}");

    let reply = put(&server, &path, &json!({"displayName": "Developers", "members": [{"value": member}]})).await?;
    assert_eq!(reply.body["roles"], json!([{"value": scoped, "type": "workspace"}]), "PUT without roles keeps them");
    let reply = patch(&server, &path, json!([{"op": "remove", "path": "roles"}])).await?;
    assert!(reply.body.get("roles").is_none(), "{}", reply.describe());

    for bad in [json!([{"value": "developer"}]), json!([{"value": "999"}]), json!([{"value": format!("{workspace}")}])] {
        let reply = patch(&server, &path, json!([{"op": "add", "path": "roles", "value": bad}])).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    }
});

api_test!(roles_need_roles_write, |server| {
    let writer = server.create_cli_token("idp", &["users:read", "users:write"]).await?;
    let developer = server.role_type_id("developer").await?;
    let body = json!({"displayName": "No Grants", "roles": [{"value": developer}]});
    let request = server.request_as(&writer, Method::POST, "/scim/v2/Groups").header("Content-Type", SCIM_JSON).body(body.to_string());
    assert_scim_error(&server.send(request).await?, StatusCode::FORBIDDEN, None);

    let plain = json!({"displayName": "Plain"});
    let request = server.request_as(&writer, Method::POST, "/scim/v2/Groups").header("Content-Type", SCIM_JSON).body(plain.to_string());
    let reply = server.send(request).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "a group without roles needs only users:write: {}", reply.describe());
});

api_test!(ten_thousand_members, |server| {
    const MEMBERS: usize = 10_000;
    let ids: Vec<anyhow::Result<String>> = futures::stream::iter(0..=MEMBERS)
        .map(|i| {
            let server = &server;
            async move { create_user(server, &user_body(&format!("big-{i:05}"))).await }
        })
        .buffered(16)
        .collect()
        .await;
    let mut ids: Vec<String> = ids.into_iter().collect::<anyhow::Result<_>>()?;
    let newcomer = ids.pop().context("no users were created")?;

    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let reply = post(&server, "/Groups?excludedAttributes=members", &json!({"displayName": "Everyone", "members": members})).await?;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    let id = scim_id(&reply)?;
    let path = format!("/Groups/{id}");

    let started = std::time::Instant::now();
    let add = json!([{"op": "add", "path": "members", "value": [{"value": newcomer}]}]);
    let reply = scim(&server, Method::PATCH, &format!("{path}?excludedAttributes=members"), Some(&patch_body(add))).await?;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert!(elapsed < std::time::Duration::from_secs(2), "adding one member to 10,000 took {elapsed:?}");

    let reply = get(&server, &path).await?;
    assert_eq!(members_of(&reply.body).len(), MEMBERS + 1);
    let reply = get(&server, &format!("/Groups?filter={}&excludedAttributes=members", encode(&format!("members[value eq \"{newcomer}\"]")))).await?;
    assert_eq!(resource_ids(&reply), vec![id.clone()]);
    let reply = patch(&server, &path, json!([{"op": "remove", "path": format!("members[value eq \"{newcomer}\"]")}])).await?;
    assert_eq!(members_of(&reply.body).len(), MEMBERS);
});

api_test!(users_list_their_groups, |server| {
    let ann = create_user(&server, &user_body("ug-ann")).await?;
    let bob = create_user(&server, &user_body("ug-bob")).await?;
    let ops = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Ops", "members": [{"value": ann}]})).await?;
    let dev = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Dev", "members": [{"value": ann}, {"value": bob}]})).await?;

    let reply = get(&server, &format!("/Users/{ann}")).await?;
    let groups = &reply.body["groups"];
    assert_eq!(groups.as_array().map(Vec::len), Some(2), "{}", reply.describe());
    assert_eq!(groups[0]["value"], json!(ops));
    assert_eq!(groups[0]["display"], json!("Ops"));
    assert_eq!(groups[0]["type"], json!("direct"));
    assert!(groups[0]["$ref"].as_str().is_some_and(|r| r.ends_with(&format!("/scim/v2/Groups/{ops}"))), "{groups}");
    assert_eq!(groups[1]["value"], json!(dev));

    let list = get(&server, &format!("/Users?filter={}&sortBy=userName", encode("userName sw \"ug-\""))).await?;
    assert_eq!(list.body["Resources"][0]["groups"], *groups, "a list shows the same groups as a read");
    assert_eq!(list.body["Resources"][1]["groups"][0]["value"], json!(dev));

    let lonely = create_user(&server, &user_body("ug-lonely")).await?;
    let reply = get(&server, &format!("/Users/{lonely}")).await?;
    assert!(reply.body.get("groups").is_none(), "a user in no group has no groups: {}", reply.describe());
    let reply = get(&server, &format!("/Users/{ann}?excludedAttributes=groups")).await?;
    assert!(reply.body.get("groups").is_none(), "{}", reply.describe());
    let reply = get(&server, &format!("/Users?attributes=groups.display&filter={}", encode("userName eq \"ug-bob\""))).await?;
    assert_eq!(reply.body["Resources"][0]["groups"], json!([{"display": "Dev"}]), "{}", reply.describe());

    patch(&server, &format!("/Groups/{dev}"), json!([{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}])).await?;
    let reply = get(&server, &format!("/Users/{bob}")).await?;
    assert!(reply.body.get("groups").is_none(), "leaving a group shows at once: {}", reply.describe());
});

api_test!(users_filter_by_group, |server| {
    let ann = create_user(&server, &user_body("fg-ann")).await?;
    let bob = create_user(&server, &user_body("fg-bob")).await?;
    let carl = create_user(&server, &user_body("fg-carl")).await?;
    let ops = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Ops", "members": [{"value": ann}, {"value": bob}]})).await?;
    create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Dev", "members": [{"value": bob}]})).await?;

    let cases = [
        (format!("groups.value eq \"{ops}\""), vec![&ann, &bob]),
        (format!("groups[value eq \"{ops}\"]"), vec![&ann, &bob]),
        (format!("userName sw \"fg-\" and not (groups.value eq \"{ops}\")"), vec![&carl]),
        ("userName sw \"fg-\" and groups pr".to_string(), vec![&ann, &bob]),
        ("groups.value eq \"999999\"".to_string(), vec![]),
    ];
    for (filter, expected) in cases {
        let reply = get(&server, &format!("/Users?filter={}&sortBy=userName", encode(&filter))).await?;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(resource_ids(&reply), expected, "filter {filter}: {}", reply.describe());
    }

    let reply = get(&server, &format!("/Users?filter={}", encode("groups.value ne \"1\""))).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
});

api_test!(users_groups_read_only, |server| {
    let ann = create_user(&server, &user_body("ro-ann")).await?;
    let ops = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Ops"})).await?;

    let reply = patch(&server, &format!("/Users/{ann}"), json!([{"op": "add", "path": "groups", "value": [{"value": ops}]}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("mutability"));

    let mut body = user_body("ro-ann");
    body["groups"] = json!([{"value": ops}]);
    let reply = put(&server, &format!("/Users/{ann}"), &body).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert!(reply.body.get("groups").is_none(), "a PUT ignores groups: {}", reply.describe());

    let reply = get(&server, &format!("/Schemas/{CORE_USER}")).await?;
    let attributes = reply.body["attributes"].as_array().cloned().unwrap_or_default();
    let groups = attributes.iter().find(|a| a["name"] == "groups").cloned().unwrap_or_default();
    assert_eq!(groups["mutability"], json!("readOnly"), "{groups}");
    assert_eq!(groups["multiValued"], json!(true));
    let subs: Vec<&str> = groups["subAttributes"].as_array().map(|s| s.iter().filter_map(|a| a["name"].as_str()).collect()).unwrap_or_default();
    assert_eq!(subs, vec!["value", "$ref", "display", "type"]);
});
