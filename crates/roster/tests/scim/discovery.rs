//! Discovery: `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes`, readable without a token.

use super::*;
use reqwest::Method;

async fn anonymous(server: &TestServer, path: &str) -> anyhow::Result<Reply> {
    server.send(server.request_anonymous(Method::GET, &format!("/scim/v2{path}"))).await
}

api_test!(service_provider_config, |server| {
    let reply = anonymous(&server, "/ServiceProviderConfig").await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert!(reply.header("content-type").unwrap_or("").starts_with(SCIM_JSON));
    let config = &reply.body;

    assert_eq!(config["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
    assert_eq!(config["patch"]["supported"], json!(true));
    assert_eq!(config["filter"], json!({"supported": true, "maxResults": 1000}));
    assert_eq!(config["changePassword"]["supported"], json!(false));
    assert_eq!(config["sort"]["supported"], json!(true));
    assert_eq!(config["etag"]["supported"], json!(true));
    assert_eq!(config["authenticationSchemes"][0]["type"], json!("oauthbearertoken"));
    assert_eq!(config["bulk"]["supported"], json!(true));
    assert_eq!(config["meta"]["resourceType"], json!("ServiceProviderConfig"));
});

api_test!(schemas_listed, |server| {
    let reply = anonymous(&server, "/Schemas").await?;
    assert_eq!(total(&reply), 3);
    let ids: Vec<&str> = reply.body["Resources"].as_array().map(|r| r.iter().filter_map(|s| s["id"].as_str()).collect()).unwrap_or_default();
    assert_eq!(ids, vec![CORE_USER, ENTERPRISE, CORE_GROUP]);

    let reply = anonymous(&server, &format!("/Schemas/{CORE_USER}")).await?;
    assert_eq!(reply.status, StatusCode::OK);
    let attributes = reply.body["attributes"].as_array().cloned().unwrap_or_default();
    let user_name = attributes.iter().find(|a| a["name"] == "userName").cloned().unwrap_or_default();
    assert_eq!(user_name["required"], json!(true));
    assert_eq!(user_name["uniqueness"], json!("server"));
    assert_eq!(user_name["caseExact"], json!(false));
    assert!(attributes.iter().all(|a| a["name"] != "password"), "Roster keeps no passwords, so the schema has none");
    let roles = attributes.iter().find(|a| a["name"] == "roles").cloned().unwrap_or_default();
    assert_eq!(roles["mutability"], json!("readOnly"));

    assert_scim_error(&anonymous(&server, "/Schemas/urn:nothing").await?, StatusCode::NOT_FOUND, None);
});

api_test!(group_roles_list_catalogue_with_token, |server| {
    let role_values = |reply: &Reply| -> Value {
        let roles = reply.body["attributes"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "roles").cloned());
        let value = roles.and_then(|r| r["subAttributes"].as_array().and_then(|s| s.iter().find(|x| x["name"] == "value").cloned()));
        value.map(|v| v["canonicalValues"].clone()).unwrap_or(Value::Null)
    };
    let developer = server.role_type_id("developer").await?;

    let with_token = get(&server, &format!("/Schemas/{CORE_GROUP}")).await?;
    let listed = role_values(&with_token);
    assert!(listed.as_array().is_some_and(|v| v.contains(&json!(developer))), "global roles are listed: {listed}");
    let without = anonymous(&server, &format!("/Schemas/{CORE_GROUP}")).await?;
    assert_eq!(role_values(&without), Value::Null, "an anonymous caller sees no catalogue");
});

api_test!(resource_types_listed, |server| {
    let reply = anonymous(&server, "/ResourceTypes").await?;
    assert_eq!(total(&reply), 2);

    let user = anonymous(&server, "/ResourceTypes/User").await?;
    assert_eq!(user.body["endpoint"], json!("/Users"));
    assert_eq!(user.body["schema"], json!(CORE_USER));
    assert_eq!(user.body["schemaExtensions"], json!([{"schema": ENTERPRISE, "required": false}]));
    let group = anonymous(&server, "/ResourceTypes/Group").await?;
    assert_eq!(group.body["endpoint"], json!("/Groups"));
    assert_scim_error(&anonymous(&server, "/ResourceTypes/Device").await?, StatusCode::NOT_FOUND, None);
});
