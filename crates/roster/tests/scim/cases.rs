//! The interoperability cases IC01 to IC14, each sending the requests a real client sends and checking what the
//! case expects, followed by tests of the kind of fault behind the case.

use super::*;
use reqwest::Method;

async fn get_user(server: &TestServer, id: &str) -> anyhow::Result<Value> {
    let reply = get(server, &format!("/Users/{id}")).await?;
    ensure!(reply.status == StatusCode::OK, "GET user {id} failed: {}", reply.describe());
    Ok(reply.body)
}

// IC01: Microsoft Entra ID sends the boolean `active` as the string "False".
api_test!(ic01_active_as_string, |server| {
    let id = create_user(&server, &user_body("lena.marchetti@example.org")).await?;

    let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "Replace", "path": "active", "value": "False"}])).await?;

    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());
    assert_eq!(get_user(&server, &id).await?["active"], json!(false));
});

api_test!(ic01_kind_booleans_as_strings_anywhere, |server| {
    let id = create_user(&server, &user_body("bool.strings@example.org")).await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([{"op": "replace", "value": {"active": "FALSE"}}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(false), "a path-less \"FALSE\" should deactivate");

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "active", "value": "true"}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(true), "\"true\" should reactivate");

    let emails = json!([{"op": "add", "path": "emails", "value": [{"value": "b@example.org", "type": "work", "primary": "True"}]}]);
    let reply = patch(&server, &path, emails).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["emails"][0]["primary"], json!(true), "a sub-attribute's \"True\" should read as true");

    let reply = patch(&server, &path, json!([{"op": "replace", "path": "active", "value": "maybe"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    assert_eq!(get_user(&server, &id).await?["active"], json!(true), "a rejected PATCH should change nothing");
});

// IC02: operation names in mixed case.
api_test!(ic02_op_names_any_case, |server| {
    let body = json!({"schemas": [CORE_USER], "userName": "ines.valcourt@example.org", "active": true,
        "displayName": "Ines Valcourt", "nickName": "Nessa"});
    let id = create_user(&server, &body).await?;

    let operations = json!([
        {"op": "Replace", "path": "displayName", "value": "Ines Valcourt-Ruiz"},
        {"op": "add", "path": "title", "value": "Payroll Lead"},
        {"op": "REMOVE", "path": "nickName"},
    ]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let user = get_user(&server, &id).await?;
    assert_eq!(user["displayName"], json!("Ines Valcourt-Ruiz"));
    assert_eq!(user["title"], json!("Payroll Lead"));
    assert!(user.get("nickName").is_none(), "nickName should be removed: {user}");
});

api_test!(ic02_kind_unknown_op_rejected, |server| {
    let id = create_user(&server, &user_body("op.names@example.org")).await?;
    let path = format!("/Users/{id}");

    let reply = patch(&server, &path, json!([{"op": "rEpLaCe", "path": "title", "value": "Lead"}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let reply = patch(&server, &path, json!([{"op": "move", "path": "title", "value": "x"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let body = json!({"schemas": [PATCH_OP], "operations": [{"OP": "ADD", "PATH": "nickName", "VALUE": "Al"}]});
    let reply = scim(&server, Method::PATCH, &path, Some(&body)).await?;
    assert_eq!(reply.status, StatusCode::OK, "member names of the request should match in any case: {}", reply.describe());
    assert_eq!(reply.body["nickName"], json!("Al"));
});

// IC03: a path-less value with dotted keys.
api_test!(ic03_dotted_keys_without_path, |server| {
    let body = json!({"schemas": [CORE_USER], "userName": "oskar.lindqvist@example.org", "active": true,
        "name": {"givenName": "Oskar", "familyName": "Lindqvist", "middleName": "T"}});
    let id = create_user(&server, &body).await?;

    let operations = json!([{"op": "replace", "value": {
        "name.givenName": "Oskar-Emil", "name.familyName": "Lindqvist Berg", "displayName": "Oskar-Emil Lindqvist Berg"}}]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let user = get_user(&server, &id).await?;
    assert_eq!(user["name"]["givenName"], json!("Oskar-Emil"));
    assert_eq!(user["name"]["familyName"], json!("Lindqvist Berg"));
    assert_eq!(user["name"]["middleName"], json!("T"), "sub-attributes not named should stay");
    assert!(user.get("name.givenName").is_none(), "a dotted key must not be stored as such: {user}");
    assert_eq!(user["displayName"], json!("Oskar-Emil Lindqvist Berg"));
});

api_test!(ic03_kind_qualified_keys_without_path, |server| {
    let id = create_user(&server, &user_body("qualified.keys@example.org")).await?;

    let operations = json!([{"op": "add", "value": {
        format!("{ENTERPRISE}:department"): "Logistics",
        format!("{CORE_USER}:title"): "Driver",
        "name.familyName": "Moreau",
    }}]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let user = get_user(&server, &id).await?;
    assert_eq!(user[ENTERPRISE]["department"], json!("Logistics"));
    assert_eq!(user["title"], json!("Driver"));
    assert_eq!(user["name"]["familyName"], json!("Moreau"));
    let core = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(core.attr("department"), &json!("Logistics"), "the mapped field should be visible to /core");
    assert_eq!(core.attr("last_name"), &json!("Moreau"));
});

// IC04: Okta deactivates with a path-less replace of `active`.
api_test!(ic04_okta_deactivation, |server| {
    let id = create_user(&server, &user_body("maren.solheim@example.org")).await?;

    let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "value": {"active": false}}])).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let user = get_user(&server, &id).await?;
    assert_eq!(user["active"], json!(false));
    assert_eq!(user["userName"], json!("maren.solheim@example.org"));
});

api_test!(ic04_kind_deactivation_archives_everywhere, |server| {
    let id = create_user(&server, &user_body("deactivated@example.org")).await?;

    let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "value": {"active": false}}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());

    let core = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(core.attr("status"), &json!("archived"), "SCIM deactivation should archive the user");
    let hidden = server.get(&format!("/core/users/{id}")).await?;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "/core hides archived users by default");
    let found = get(&server, "/Users?filter=active%20eq%20false%20and%20userName%20eq%20%22deactivated%40example.org%22").await?;
    assert_eq!(total(&found), 1, "SCIM filters should still find the deactivated user");

    let mut body = user_body("deactivated@example.org");
    body["active"] = json!(true);
    let reply = put(&server, &format!("/Users/{id}"), &body).await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.body["active"], json!(true), "PUT with active true should restore the user");
});

// IC05: a no-op PATCH during a periodic sync.
api_test!(ic05_noop_patch, |server| {
    let body = json!({"schemas": [CORE_USER], "userName": "farah.quint@example.org", "active": true, "displayName": "Farah Quint"});
    let id = create_user(&server, &body).await?;
    let before = get(&server, &format!("/Users/{id}")).await?;
    let audit_before = server.audit_count().await?;

    let operations = json!([
        {"op": "replace", "path": "displayName", "value": "Farah Quint"},
        {"op": "replace", "path": "active", "value": true},
    ]);
    let reply = patch(&server, &format!("/Users/{id}"), operations).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let user = get_user(&server, &id).await?;
    assert_eq!(user["displayName"], json!("Farah Quint"));
    assert_eq!(user["active"], json!(true));
    assert_eq!(user["meta"]["version"], before.body["meta"]["version"], "a no-op should not change the version");
    assert_eq!(server.audit_count().await?, audit_before, "a no-op should write no audit entry");
});

// IC06: a duplicate userName is 409 with scimType uniqueness.
api_test!(ic06_duplicate_user_name, |server| {
    create_user(&server, &user_body("noor.haddad@example.org")).await?;

    let reply = post(&server, "/Users", &user_body("noor.haddad@example.org")).await?;

    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
});

api_test!(ic06_kind_every_unique_key_clashes, |server| {
    let first = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "unique.one", "active": true,
        "emails": [{"value": "unique.one@example.org", "primary": true}], ENTERPRISE: {"employeeNumber": "E-100"}});
    create_user(&server, &first).await?;
    let second = create_user(&server, &user_body("unique.two")).await?;

    let reply = post(&server, "/Users", &user_body("UNIQUE.ONE")).await?;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    let clash_email = json!({"schemas": [CORE_USER], "userName": "unique.three", "emails": [{"value": "Unique.One@Example.org"}]});
    assert_scim_error(&post(&server, "/Users", &clash_email).await?, StatusCode::CONFLICT, Some("uniqueness"));
    let clash_number = json!({"schemas": [CORE_USER], "userName": "unique.four", ENTERPRISE: {"employeeNumber": "e-100"}});
    assert_scim_error(&post(&server, "/Users", &clash_number).await?, StatusCode::CONFLICT, Some("uniqueness"));

    let reply = patch(&server, &format!("/Users/{second}"), json!([{"op": "replace", "path": "userName", "value": "Unique.One"}])).await?;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    let reply = put(&server, &format!("/Users/{second}"), &user_body("unique.ONE")).await?;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
});

// IC07: `userName eq` matches case-insensitively.
api_test!(ic07_user_name_filter_ignores_case, |server| {
    create_user(&server, &user_body("Greta.Vanterpool@Example.org")).await?;

    let reply = get(&server, "/Users?filter=userName%20eq%20%22greta.vanterpool%40example.org%22").await?;
    assert_eq!(total(&reply), 1);
    assert_eq!(reply.body["Resources"][0]["userName"], json!("Greta.Vanterpool@Example.org"));
    assert_eq!(reply.body["schemas"][0], json!(LIST_RESPONSE));

    let reply = get(&server, "/Users?filter=UserName%20EQ%20%22GRETA.VANTERPOOL%40EXAMPLE.ORG%22").await?;
    assert_eq!(total(&reply), 1, "attribute name and operator case must not matter");
});

api_test!(ic07_kind_case_rules_per_attribute, |server| {
    let body = json!({"schemas": [CORE_USER], "userName": "case.rules", "externalId": "Ext-ABC",
        "emails": [{"value": "Case.Rules@Example.org", "type": "work"}], "name": {"familyName": "Ærø"}});
    create_user(&server, &body).await?;

    let emails = get(&server, &format!("/Users?filter={}", encode("emails.value eq \"case.rules@example.ORG\""))).await?;
    assert_eq!(total(&emails), 1, "emails compare ignoring case");
    let unicode = get(&server, &format!("/Users?filter={}", encode("name.familyName eq \"ærø\""))).await?;
    assert_eq!(total(&unicode), 1, "case folding covers non-ASCII letters");
    let exact = get(&server, &format!("/Users?filter={}", encode("externalId eq \"ext-abc\""))).await?;
    assert_eq!(total(&exact), 0, "externalId is caseExact");
    let exact = get(&server, &format!("/Users?filter={}", encode("externalId eq \"Ext-ABC\""))).await?;
    assert_eq!(total(&exact), 1);
});

// IC08: a compound filter with `and` and a parenthesised `or`.
api_test!(ic08_compound_filter, |server| {
    let make = |user_name: &str, given: &str, family: &str, email: &str| {
        json!({"schemas": [CORE_USER], "userName": user_name, "active": true,
            "name": {"givenName": given, "familyName": family}, "emails": [{"value": email, "type": "work"}]})
    };
    let u1 = create_user(&server, &make("f1-adaeze.okonkwo@example.org", "Adaeze", "Okonkwo", "adaeze.okonkwo@example.net")).await?;
    create_user(&server, &make("f1-chidi.okonkwo@example.org", "Chidi", "Okonkwo", "chidi.okonkwo@example.com")).await?;
    create_user(&server, &make("f1-sigrid.halvorsen@example.org", "Sigrid", "Halvorsen", "sigrid.halvorsen@example.net")).await?;

    let filter = "name.familyName eq \"Okonkwo\" and (emails.value co \"example.net\" or emails.value co \"example.org\")";
    let reply = get(&server, &format!("/Users?filter={}", encode(filter))).await?;
    assert_eq!(total(&reply), 1);
    assert_eq!(resource_ids(&reply), vec![u1]);

    let unbalanced = "name.familyName eq \"Okonkwo\" and (emails.value co \"example.net\"";
    let reply = get(&server, &format!("/Users?filter={}", encode(unbalanced))).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
});

api_test!(ic08_kind_precedence_and_not, |server| {
    let make = |user_name: &str, title: &str, department: &str| {
        json!({"schemas": [CORE_USER, ENTERPRISE], "userName": user_name, "title": title, ENTERPRISE: {"department": department}})
    };
    let a = create_user(&server, &make("prec-a", "Engineer", "R&D")).await?;
    let b = create_user(&server, &make("prec-b", "Engineer", "Sales")).await?;
    let c = create_user(&server, &make("prec-c", "Manager", "Sales")).await?;

    // `and` binds tighter than `or`: userName eq a, or (title Manager and department Sales).
    let filter = "userName eq \"prec-a\" or title eq \"Manager\" and department eq \"Sales\"";
    let reply = get(&server, &format!("/Users?filter={}&sortBy=userName", encode(filter))).await?;
    assert_eq!(resource_ids(&reply), vec![a.clone(), c.clone()]);

    let filter = "userName sw \"prec-\" and not (department eq \"Sales\")";
    let reply = get(&server, &format!("/Users?filter={}", encode(filter))).await?;
    assert_eq!(resource_ids(&reply), vec![a.clone()]);

    let filter = "userName sw \"prec-\" and not(title eq \"Engineer\")";
    let reply = get(&server, &format!("/Users?filter={}", encode(filter))).await?;
    assert_eq!(resource_ids(&reply), vec![c]);
    let _ = b;

    for bad in ["userName eq", "userName eq \"a\" and", "(userName eq \"a\"", "userName zz \"a\"", "nosuch eq \"a\""] {
        let reply = get(&server, &format!("/Users?filter={}", encode(bad))).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
});

// IC09: `count=0` returns no resources but the true total.
api_test!(ic09_count_zero, |server| {
    for n in 1..=3 {
        create_user(&server, &user_body(&format!("pgtest-0{n}@example.org"))).await?;
    }
    let filter = encode("userName sw \"pgtest-\"");

    let reply = get(&server, &format!("/Users?filter={filter}&count=0")).await?;
    assert_eq!(total(&reply), 3);
    assert!(resource_ids(&reply).is_empty(), "count=0 should return no resources: {}", reply.describe());

    let reply = get(&server, &format!("/Users?filter={filter}&count=-5")).await?;
    assert_eq!(total(&reply), 3);
    assert!(resource_ids(&reply).is_empty(), "a negative count reads as 0");

    let reply = get(&server, &format!("/Users?filter={filter}&count=2")).await?;
    assert_eq!(total(&reply), 3, "totalResults counts the whole result set");
    assert_eq!(resource_ids(&reply).len(), 2);
    assert_eq!(reply.body["itemsPerPage"], json!(2));
});

api_test!(ic09_kind_start_index_bounds, |server| {
    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.push(create_user(&server, &user_body(&format!("page-{n}"))).await?);
    }
    let filter = encode("userName sw \"page-\"");

    let reply = get(&server, &format!("/Users?filter={filter}&startIndex=3&count=10")).await?;
    assert_eq!(resource_ids(&reply), ids[2..].to_vec());
    assert_eq!(reply.body["startIndex"], json!(3));
    let reply = get(&server, &format!("/Users?filter={filter}&startIndex=0&count=1")).await?;
    assert_eq!(resource_ids(&reply), ids[..1].to_vec(), "startIndex below 1 reads as 1");
    assert_eq!(reply.body["startIndex"], json!(1));
    let reply = get(&server, &format!("/Users?filter={filter}&startIndex=9")).await?;
    assert_eq!(total(&reply), 4);
    assert!(resource_ids(&reply).is_empty(), "a page past the end is empty");
    let reply = get(&server, &format!("/Users?filter={filter}&count=100000")).await?;
    assert_eq!(resource_ids(&reply).len(), 4, "a count above maxResults is reduced, not rejected");
    let reply = get(&server, &format!("/Users?filter={filter}&count=ten")).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

async fn three_member_group(server: &TestServer, prefix: &str) -> anyhow::Result<(String, [String; 3])> {
    let a = create_user(server, &user_body(&format!("{prefix}-amara.diallo@example.org"))).await?;
    let b = create_user(server, &user_body(&format!("{prefix}-bo.lindgren@example.org"))).await?;
    let c = create_user(server, &user_body(&format!("{prefix}-cyrus.nadeem@example.org"))).await?;
    let body = json!({"schemas": [CORE_GROUP], "displayName": format!("{prefix} Finance Approvers"),
        "members": [{"value": a}, {"value": b}, {"value": c}]});
    let group = create_group(server, &body).await?;
    Ok((group, [a, b, c]))
}

fn member_ids(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

// IC10: remove one member with `members[value eq "..."]`.
api_test!(ic10_remove_member_by_filter, |server| {
    let (group, [a, b, c]) = three_member_group(&server, "g1").await?;

    let path = format!("members[value eq \"{b}\"]");
    let reply = patch(&server, &format!("/Groups/{group}"), json!([{"op": "remove", "path": path}])).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let reply = get(&server, &format!("/Groups/{group}")).await?;
    assert_eq!(member_ids(&reply.body), vec![a, c]);
});

api_test!(ic10_kind_every_way_to_remove_members, |server| {
    let (group, [a, b, c]) = three_member_group(&server, "g2").await?;
    let path = format!("/Groups/{group}");

    let reply = patch(&server, &path, json!([{"op": "remove", "path": "members", "value": [{"value": a}]}])).await?;
    assert_eq!(member_ids(&reply.body), vec![b.clone(), c.clone()], "removal by value array: {}", reply.describe());

    let filter = format!("members[value eq \"{b}\" or value eq \"{c}\"]");
    let reply = patch(&server, &path, json!([{"op": "remove", "path": filter}])).await?;
    assert_eq!(member_ids(&reply.body), Vec::<String>::new(), "removal by an or filter: {}", reply.describe());

    let reply = patch(&server, &path, json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])).await?;
    assert_eq!(reply.status, StatusCode::OK, "removing a non-member succeeds, so retries do too: {}", reply.describe());

    let reply = patch(&server, &path, json!([{"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}])).await?;
    assert_eq!(member_ids(&reply.body), vec![a.clone(), b.clone()]);
    let reply = patch(&server, &path, json!([{"op": "remove", "path": "members[type eq \"User\"]"}])).await?;
    assert_eq!(member_ids(&reply.body), Vec::<String>::new(), "any other filter is evaluated over the members");

    let reply = patch(&server, &path, json!([{"op": "add", "path": "members", "value": [{"value": c}]}, {"op": "remove", "path": "members"}])).await?;
    assert_eq!(member_ids(&reply.body), Vec::<String>::new(), "remove without a value removes every member");
});

// IC11: adding a member to a group of more than 100 members.
api_test!(ic11_add_member_to_large_group, |server| {
    let group = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "All Warehouse Staff"})).await?;
    for i in 1..=150 {
        let member = create_user(&server, &user_body(&format!("wh-{i:03}@example.org"))).await?;
        let reply = patch(&server, &format!("/Groups/{group}"), json!([{"op": "Add", "path": "members", "value": [{"value": member}]}])).await?;
        ensure!(reply.status == StatusCode::OK, "adding member {i} failed: {}", reply.describe());
    }
    let newbie = create_user(&server, &user_body("wh-newcomer@example.org")).await?;

    let started = std::time::Instant::now();
    let reply = patch(&server, &format!("/Groups/{group}"), json!([{"op": "Add", "path": "members", "value": [{"value": newbie}]}])).await?;
    let elapsed = started.elapsed();
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());
    assert!(elapsed < std::time::Duration::from_secs(2), "adding one member took {elapsed:?}");

    let reply = get(&server, &format!("/Groups/{group}")).await?;
    let members = member_ids(&reply.body);
    assert_eq!(members.len(), 151);
    assert!(members.contains(&newbie));
    let reply = get(&server, &format!("/Groups/{group}?excludedAttributes=members")).await?;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.get("members").is_none(), "excludedAttributes=members should omit members: {}", reply.describe());
});

// IC12: DELETE, then DELETE, GET and PATCH again.
api_test!(ic12_delete_is_final, |server| {
    let id = create_user(&server, &user_body("wren.castellano@example.org")).await?;
    let reply = delete(&server, &format!("/Users/{id}")).await?;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.describe());

    let reply = delete(&server, &format!("/Users/{id}")).await?;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
    assert_scim_error(&get(&server, &format!("/Users/{id}")).await?, StatusCode::NOT_FOUND, None);
    let reply = get(&server, "/Users?filter=userName%20eq%20%22wren.castellano%40example.org%22").await?;
    assert_eq!(total(&reply), 0);
    let reply = patch(&server, &format!("/Users/{id}"), json!([{"op": "replace", "path": "active", "value": true}])).await?;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
});

api_test!(ic12_kind_deleted_user_everywhere, |server| {
    let body = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "gone@example.org",
        "emails": [{"value": "gone@example.org", "primary": true}], ENTERPRISE: {"employeeNumber": "G-1"}});
    let id = create_user(&server, &body).await?;
    let group = create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "Leavers", "members": [{"value": id}]})).await?;
    assert_eq!(delete(&server, &format!("/Users/{id}")).await?.status, StatusCode::NO_CONTENT);

    assert_scim_error(&put(&server, &format!("/Users/{id}"), &user_body("gone@example.org")).await?, StatusCode::NOT_FOUND, None);
    let core = server.get(&format!("/core/users/{id}?archived=true")).await?;
    assert_eq!(core.status, StatusCode::NOT_FOUND, "/core should not find a deleted user either");
    let reply = get(&server, &format!("/Groups/{group}")).await?;
    assert_eq!(member_ids(&reply.body), Vec::<String>::new(), "a deleted user leaves its groups");
    let all = get(&server, "/Users?filter=active%20eq%20false").await?;
    assert!(!resource_ids(&all).contains(&id), "inactive filters do not find deleted users");

    let again = create_user(&server, &body).await?;
    assert_ne!(again, id, "the released keys should let a new user take them");
});

// IC13: a body with `Content-Type: application/scim+json; charset=utf-8`.
api_test!(ic13_content_type_with_charset, |server| {
    let body = json!({"schemas": [CORE_USER], "userName": "aurelio.basso@example.org",
        "name": {"givenName": "Aurelio", "familyName": "Basso"}, "active": true});
    let request = server
        .request(Method::POST, "/scim/v2/Users")
        .header("Content-Type", "application/scim+json; charset=utf-8")
        .header("Accept", SCIM_JSON)
        .body(body.to_string());
    let reply = server.send(request).await?;

    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.describe());
    assert!(reply.header("content-type").unwrap_or("").starts_with(SCIM_JSON));
    let location = reply.header("location").unwrap_or("").to_string();
    assert!(!location.is_empty(), "a 201 needs a Location header");
    assert_eq!(reply.body["meta"]["location"], json!(location), "Location should equal meta.location");
    assert_eq!(reply.body["userName"], json!("aurelio.basso@example.org"));
    assert_eq!(reply.body["meta"]["resourceType"], json!("User"));

    let plain = server
        .request(Method::POST, "/scim/v2/Users")
        .header("Content-Type", "application/json")
        .body(user_body("aurelio.basso.json@example.org").to_string());
    assert_eq!(server.send(plain).await?.status, StatusCode::CREATED, "plain application/json should be accepted");
});

api_test!(ic13_kind_media_types, |server| {
    let none = server.request(Method::POST, "/scim/v2/Users").body(user_body("no.type@example.org").to_string());
    assert_eq!(server.send(none).await?.status, StatusCode::CREATED, "a body without Content-Type is accepted");

    let upper = server
        .request(Method::POST, "/scim/v2/Users")
        .header("Content-Type", "Application/SCIM+JSON;Charset=UTF-8")
        .body(user_body("upper.type@example.org").to_string());
    assert_eq!(server.send(upper).await?.status, StatusCode::CREATED, "media types compare ignoring case");

    let xml = server
        .request(Method::POST, "/scim/v2/Users")
        .header("Content-Type", "application/xml")
        .body("<user/>");
    assert_scim_error(&server.send(xml).await?, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
});

// IC14: removing the enterprise manager by its URN path.
api_test!(ic14_remove_manager_by_urn, |server| {
    let manager = create_user(&server, &user_body("ottilie.ferrand@example.org")).await?;
    let body = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "jonah.pellerin@example.org", "active": true,
        ENTERPRISE: {"department": "Logistics", "manager": {"value": manager}}});
    let employee = create_user(&server, &body).await?;
    let path = format!("/Users/{employee}");

    let reply = patch(&server, &path, json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager")}])).await?;
    assert!([200, 204].contains(&reply.status.as_u16()), "PATCH failed: {}", reply.describe());

    let user = get_user(&server, &employee).await?;
    assert!(user[ENTERPRISE].get("manager").is_none(), "manager should be removed: {user}");
    assert_eq!(user[ENTERPRISE]["department"], json!("Logistics"));

    let reply = patch(&server, &path, json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": manager}])).await?;
    assert!([200, 204, 400].contains(&reply.status.as_u16()), "{}", reply.describe());
    assert_eq!(reply.status, StatusCode::OK, "Roster reads a plain manager id as manager.value");
    assert_eq!(get_user(&server, &employee).await?[ENTERPRISE]["manager"]["value"], json!(manager));
});

api_test!(ic14_kind_manager_forms, |server| {
    let manager = create_user(&server, &user_body("boss@example.org")).await?;
    let employee = create_user(&server, &user_body("worker@example.org")).await?;
    let path = format!("/Users/{employee}");

    let reply = patch(&server, &path, json!([{"op": "replace", "value": {ENTERPRISE: {"manager": manager}}}])).await?;
    assert_eq!(reply.body[ENTERPRISE]["manager"]["value"], json!(manager), "a plain id in a path-less value: {}", reply.describe());
    let reply = patch(&server, &path, json!([{"op": "remove", "path": format!("{ENTERPRISE}:manager.value")}])).await?;
    assert!(reply.body.get(ENTERPRISE).and_then(|e| e.get("manager")).is_none(), "removing manager.value clears it: {}", reply.describe());

    let reply = patch(&server, &path, json!([{"op": "add", "path": "manager", "value": {"value": manager}}])).await?;
    assert_eq!(reply.body[ENTERPRISE]["manager"]["value"], json!(manager), "an unqualified enterprise path: {}", reply.describe());
    let reply = patch(&server, &path, json!([{"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": ""}}])).await?;
    assert!(reply.body.get(ENTERPRISE).and_then(|e| e.get("manager")).is_none(), "an empty manager id clears it: {}", reply.describe());

    let core = server.get(&format!("/core/users/{employee}")).await?;
    assert_eq!(core.attr("manager_id"), &Value::Null);

    let reply = patch(&server, &path, json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": "not-an-id"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = patch(&server, &path, json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": "999999"}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = patch(&server, &path, json!([{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": employee}])).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});
