//! Lists: filters over every filterable attribute, sorting, paging, `attributes`, `excludedAttributes` and
//! `POST /Users/.search`.

use super::*;

async fn filtered(server: &TestServer, filter: &str) -> anyhow::Result<Vec<String>> {
    let reply = get(server, &format!("/Users?filter={}&sortBy=userName", encode(filter))).await?;
    ensure!(reply.status == StatusCode::OK, "filter {filter:?} failed: {}", reply.describe());
    Ok(resource_ids(&reply))
}

api_test!(filters_on_mapped_attributes, |server| {
    let manager = create_user(&server, &user_body("f-boss")).await?;
    let alice = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "f-alice", "externalId": "A-1", "title": "Engineer",
        "name": {"givenName": "Alice", "familyName": "Archer"},
        "emails": [{"value": "alice@corp.example", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0101", "type": "mobile"}],
        ENTERPRISE: {"employeeNumber": "N-1", "department": "R&D", "manager": {"value": manager}}});
    let alice = create_user(&server, &alice).await?;
    let bob = json!({"schemas": [CORE_USER], "userName": "f-bob", "title": "Designer", "name": {"familyName": "Baker"}});
    let bob = create_user(&server, &bob).await?;
    patch(&server, &format!("/Users/{bob}"), json!([{"op": "replace", "path": "active", "value": false}])).await?;

    let cases: Vec<(String, Vec<&String>)> = vec![
        (format!("id eq \"{alice}\""), vec![&alice]),
        ("externalId eq \"A-1\"".into(), vec![&alice]),
        ("name.givenName sw \"ali\"".into(), vec![&alice]),
        ("name.familyName ew \"KER\"".into(), vec![&bob]),
        ("title co \"sign\"".into(), vec![&bob]),
        ("emails[type eq \"work\" and primary eq true]".into(), vec![&alice]),
        ("emails.value pr".into(), vec![&alice]),
        ("phoneNumbers.value co \"0101\"".into(), vec![&alice]),
        ("employeeNumber eq \"n-1\"".into(), vec![&alice]),
        (format!("{ENTERPRISE}:department eq \"r&d\""), vec![&alice]),
        (format!("manager.value eq \"{manager}\""), vec![&alice]),
        ("active eq false and userName sw \"f-\"".into(), vec![&bob]),
        ("active eq true and userName sw \"f-\"".into(), vec![&alice, &manager]),
        ("userName sw \"f-\" and not (title pr)".into(), vec![&manager]),
        ("userName sw \"f-\" and meta.created gt \"2000-01-01T00:00:00Z\"".into(), vec![&alice, &bob, &manager]),
        ("userName ne \"f-alice\" and userName sw \"f-\"".into(), vec![&bob, &manager]),
        ("emails[type eq \"home\"]".into(), vec![]),
    ];
    for (filter, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(filtered(&server, &filter).await?, expected, "filter {filter}");
    }
});

api_test!(filter_errors_are_invalid_filter, |server| {
    for bad in ["roles eq \"x\"", "meta.created co \"2020\"", "active gt true", "id sw 1", "emails[value eq \"a\"", "\u{0}"] {
        let reply = get(&server, &format!("/Users?filter={}", encode(bad))).await?;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "filter {bad:?}: {}", reply.describe());
        assert_eq!(reply.body["schemas"], json!([ERROR]));
    }
});

api_test!(sorting_and_paging, |server| {
    let c = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "s-carol", "name": {"familyName": "Alpha"}})).await?;
    let a = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "S-ANNE", "name": {"familyName": "Gamma"}})).await?;
    let b = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "s-bea", "name": {"familyName": "Beta"}})).await?;
    let filter = encode("userName sw \"s-\"");

    let by_name = get(&server, &format!("/Users?filter={filter}&sortBy=userName")).await?;
    assert_eq!(resource_ids(&by_name), vec![a.clone(), b.clone(), c.clone()], "userName sorts ignoring case");
    let descending = get(&server, &format!("/Users?filter={filter}&sortBy=userName&sortOrder=DESCENDING")).await?;
    assert_eq!(resource_ids(&descending), vec![c.clone(), b.clone(), a.clone()]);
    let family = get(&server, &format!("/Users?filter={filter}&sortBy=name.familyName")).await?;
    assert_eq!(resource_ids(&family), vec![c.clone(), b.clone(), a.clone()]);
    let created = get(&server, &format!("/Users?filter={filter}&sortBy=meta.created&sortOrder=descending")).await?;
    assert_eq!(resource_ids(&created), vec![b.clone(), a.clone(), c.clone()]);

    let second = get(&server, &format!("/Users?filter={filter}&sortBy=userName&startIndex=2&count=1")).await?;
    assert_eq!(resource_ids(&second), vec![b.clone()]);
    assert_eq!(second.body["startIndex"], json!(2));
    assert_eq!(second.body["itemsPerPage"], json!(1));
    assert_eq!(second.body["totalResults"], json!(3));

    let reply = get(&server, "/Users?sortBy=nickName").await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = get(&server, "/Users?sortOrder=sideways").await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(attribute_selection, |server| {
    let body = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "proj", "displayName": "Pro J",
        "name": {"givenName": "Pro", "familyName": "Jay"}, ENTERPRISE: {"department": "Ops", "costCenter": "9"}});
    let id = create_user(&server, &body).await?;

    let reply = get(&server, &format!("/Users/{id}?attributes=userName,name.familyName")).await?;
    let mut keys: Vec<&String> = reply.body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    keys.sort();
    assert_eq!(keys, vec!["id", "name", "schemas", "userName"], "{}", reply.describe());
    assert_eq!(reply.body["name"], json!({"familyName": "Jay"}));

    let reply = get(&server, &format!("/Users/{id}?excludedAttributes=displayName,{ENTERPRISE}:costCenter,id")).await?;
    assert!(reply.body.get("displayName").is_none());
    assert_eq!(reply.body["id"], json!(id), "id is always returned");
    assert_eq!(reply.body[ENTERPRISE], json!({"department": "Ops"}));

    let reply = get(&server, &format!("/Users?filter=userName%20eq%20%22proj%22&attributes={ENTERPRISE}:department")).await?;
    assert_eq!(reply.body["Resources"][0][ENTERPRISE], json!({"department": "Ops"}));
    assert!(reply.body["Resources"][0].get("userName").is_none());

    let reply = post(&server, "/Users?attributes=userName", &user_body("proj2")).await?;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.body.get("active").is_none(), "attributes applies to a POST response too: {}", reply.describe());
});

api_test!(search_endpoint, |server| {
    let first = create_user(&server, &user_body("search-one")).await?;
    create_user(&server, &user_body("search-two")).await?;
    create_user(&server, &user_body("other")).await?;

    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"search-\"", "sortBy": "userName", "sortOrder": "ascending",
        "startIndex": 1, "count": 1, "attributes": ["userName"]});
    let reply = post(&server, "/Users/.search", &body).await?;
    assert_eq!(total(&reply), 2);
    assert_eq!(resource_ids(&reply), vec![first]);
    assert!(reply.body["Resources"][0].get("meta").is_none(), "attributes as an array: {}", reply.describe());

    let reply = post(&server, "/Users/.search", &json!({"filter": "userName eq"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    let reply = post(&server, "/Users/.search", &json!({"count": "lots"})).await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(lists_include_archived_not_deleted, |server| {
    let kept = create_user(&server, &user_body("l-kept")).await?;
    let archived = create_user(&server, &user_body("l-archived")).await?;
    let deleted = create_user(&server, &user_body("l-deleted")).await?;
    patch(&server, &format!("/Users/{archived}"), json!([{"op": "replace", "path": "active", "value": false}])).await?;
    delete(&server, &format!("/Users/{deleted}")).await?;

    let reply = get(&server, "/Users?filter=userName%20sw%20%22l-%22").await?;
    assert_eq!(total(&reply), 2);
    assert_eq!(resource_ids(&reply), vec![kept, archived]);
    let all = get(&server, "/Users").await?;
    assert!(!resource_ids(&all).contains(&deleted));
});

api_test!(filters_on_stored_attributes, |server| {
    let elodie = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "st-elodie", "displayName": "Élodie Mercier",
        "nickName": "Lodie", "locale": "fr-FR", "timezone": "Europe/Paris", "userType": "Employee",
        "preferredLanguage": "fr", "profileUrl": "https://example.org/élodie",
        "name": {"formatted": "Dr Élodie Mercier", "honorificPrefix": "Dr"},
        ENTERPRISE: {"costCenter": "CC-4200", "organization": "Acme", "division": "Labs"}});
    let elodie = create_user(&server, &elodie).await?;
    let femi = json!({"schemas": [CORE_USER, ENTERPRISE], "userName": "st-femi", "displayName": "Femi Adeyemi",
        "locale": "en-GB", ENTERPRISE: {"costCenter": "cc-1000"}});
    let femi = create_user(&server, &femi).await?;
    let bare = create_user(&server, &user_body("st-bare")).await?;

    let cases: Vec<(String, Vec<&String>)> = vec![
        ("displayName eq \"ÉLODIE MERCIER\"".into(), vec![&elodie]),
        ("displayName co \"adey\"".into(), vec![&femi]),
        ("displayName sw \"élo\"".into(), vec![&elodie]),
        ("displayName ew \"MERCIER\"".into(), vec![&elodie]),
        ("userName sw \"st-\" and displayName ne \"femi adeyemi\"".into(), vec![&bare, &elodie]),
        ("userName sw \"st-\" and displayName pr".into(), vec![&elodie, &femi]),
        ("userName sw \"st-\" and not (nickName pr)".into(), vec![&bare, &femi]),
        ("locale gt \"en\" and locale lt \"fr\"".into(), vec![&femi]),
        ("locale ge \"fr-fr\"".into(), vec![&elodie]),
        ("locale le \"EN-GB\"".into(), vec![&femi]),
        ("timezone eq \"europe/paris\"".into(), vec![&elodie]),
        ("userType eq \"employee\"".into(), vec![&elodie]),
        ("preferredLanguage eq \"FR\"".into(), vec![&elodie]),
        ("profileUrl co \"ÉLODIE\"".into(), vec![&elodie]),
        ("name.formatted sw \"dr \"".into(), vec![&elodie]),
        ("name[honorificPrefix eq \"dr\"]".into(), vec![&elodie]),
        ("costCenter eq \"cc-4200\"".into(), vec![&elodie]),
        (format!("{ENTERPRISE}:costCenter sw \"CC-1\""), vec![&femi]),
        ("organization eq \"ACME\" and division eq \"labs\"".into(), vec![&elodie]),
    ];
    for (filter, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(filtered(&server, &filter).await?, expected, "filter {filter}");
    }

    patch(&server, &format!("/Users/{femi}"), json!([{"op": "replace", "path": "displayName", "value": "Oluwafemi"}])).await?;
    assert_eq!(filtered(&server, "displayName eq \"OLUWAFEMI\"").await?, vec![femi.clone()], "a PATCH updates the folded copy");
    assert_eq!(filtered(&server, "displayName co \"adey\"").await?, Vec::<String>::new(), "the old value no longer matches");
});

api_test!(filters_on_multi_valued_attributes, |server| {
    let ana = json!({"schemas": [CORE_USER], "userName": "mv-ana",
        "emails": [{"value": "ana@corp.example", "type": "work", "primary": true}, {"value": "Ana@Home.example", "type": "home"}],
        "phoneNumbers": [{"value": "+1 555 0101", "type": "mobile"}, {"value": "+1 555 0199", "type": "work"}],
        "addresses": [{"type": "work", "locality": "Paris"}, {"type": "home", "locality": "Lyon", "primary": true}],
        "ims": [{"value": "ana.chat", "type": "xmpp"}],
        "entitlements": [{"value": "Admin"}],
        "photos": [{"value": "https://photos.example/ana.JPG", "type": "photo"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAw", "display": "Ana's cert"}]});
    let ana = create_user(&server, &ana).await?;
    let bo = json!({"schemas": [CORE_USER], "userName": "mv-bo",
        "emails": [{"value": "bo@corp.example", "type": "work"}],
        "phoneNumbers": [{"value": "tel:+1-201-555-0123", "type": "mobile"}],
        "addresses": [{"type": "home", "locality": "PARIS"}]});
    let bo = create_user(&server, &bo).await?;
    let cy = create_user(&server, &user_body("mv-cy")).await?;

    let cases: Vec<(&str, Vec<&String>)> = vec![
        ("addresses[type eq \"work\" and locality eq \"paris\"]", vec![&ana]),
        ("addresses[type eq \"home\" and locality eq \"paris\"]", vec![&bo]),
        ("addresses.locality eq \"PARIS\"", vec![&ana, &bo]),
        ("ADDRESSES.LOCALITY eq \"lyon\"", vec![&ana]),
        ("addresses pr", vec![&ana, &bo]),
        ("userName sw \"mv-\" and not (addresses.type eq \"work\")", vec![&bo, &cy]),
        ("addresses[not (type eq \"work\")]", vec![&ana, &bo]),
        ("addresses.type ne \"work\"", vec![&ana, &bo]),
        ("addresses[primary eq true]", vec![&ana]),
        ("addresses.locality gt \"m\"", vec![&ana, &bo]),
        ("userName sw \"mv-\" and addresses.region eq null", vec![&ana, &bo, &cy]),
        ("addresses.locality ne null", vec![&ana, &bo]),
        ("ims.value co \"CHAT\"", vec![&ana]),
        ("ims sw \"ANA\"", vec![&ana]),
        ("entitlements[value eq \"admin\"]", vec![&ana]),
        ("photos.type eq \"photo\"", vec![&ana]),
        ("photos.value ew \".jpg\"", vec![&ana]),
        ("x509Certificates pr", vec![&ana]),
        ("x509Certificates[display co \"CERT\" and value pr]", vec![&ana]),
        ("ims pr or addresses[locality eq \"paris\"]", vec![&ana, &bo]),
        ("emails.value eq \"ana@home.example\"", vec![&ana]),
        ("emails.value eq \"ana@corp.example\"", vec![&ana]),
        ("emails[type eq \"home\"]", vec![&ana]),
        ("emails[type eq \"work\"]", vec![&ana, &bo]),
        ("emails co \"CORP.example\"", vec![&ana, &bo]),
        ("phoneNumbers.value eq \"tel:+1-201-555-0123\"", vec![&bo]),
        ("phoneNumbers[type eq \"work\" and value sw \"+1 555\"]", vec![&ana]),
        ("phoneNumbers[type eq \"mobile\"]", vec![&ana, &bo]),
    ];
    for (filter, expected) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(filtered(&server, filter).await?, expected, "filter {filter}");
    }

    let search = post(&server, "/Users/.search", &json!({"filter": "addresses[locality eq \"lyon\"]"})).await?;
    assert_eq!(resource_ids(&search), vec![ana.clone()], "a search body filters the same way");

    patch(&server, &format!("/Users/{bo}"), json!([{"op": "replace", "path": "addresses", "value": [{"locality": "Berlin"}]}]))
        .await?;
    assert_eq!(filtered(&server, "addresses.locality eq \"paris\"").await?, vec![ana.clone()], "a PATCH updates the kept values");
    assert_eq!(filtered(&server, "addresses.locality eq \"berlin\"").await?, vec![bo.clone()], "the new value matches");
});

api_test!(multi_valued_filter_errors_name_the_fix, |server| {
    let cases = [
        ("x509Certificates.value eq \"MIIB\"", "x509Certificates.value is binary"),
        ("addresses eq \"Paris\"", "addresses.locality"),
        ("addresses[street eq \"x\"]", "streetAddress"),
        ("addresses[primary co true]", "primary is a boolean"),
    ];
    for (filter, detail) in cases {
        let reply = get(&server, &format!("/Users?filter={}", encode(filter))).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        let text = reply.body["detail"].as_str().unwrap_or_default();
        assert!(text.contains(detail), "detail for {filter:?} was {text:?}, expected it to contain {detail:?}");
    }
});

api_test!(sort_by_display_name, |server| {
    let b = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "dn-1", "displayName": "beta"})).await?;
    let none = create_user(&server, &user_body("dn-2")).await?;
    let a = create_user(&server, &json!({"schemas": [CORE_USER], "userName": "dn-3", "displayName": "ALPHA"})).await?;
    let filter = encode("userName sw \"dn-\"");

    let ascending = get(&server, &format!("/Users?filter={filter}&sortBy=displayName")).await?;
    assert_eq!(resource_ids(&ascending), vec![none.clone(), a.clone(), b.clone()], "a missing displayName sorts first");
    let descending = get(&server, &format!("/Users?filter={filter}&sortBy=displayName&sortOrder=descending")).await?;
    assert_eq!(resource_ids(&descending), vec![b, a, none]);
});
