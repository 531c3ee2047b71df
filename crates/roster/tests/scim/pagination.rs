//! Cursor pagination (RFC 9865) of `/Users` and `/Groups`, and its errors.

use super::*;

/// Follows `nextCursor` from the first page to the last and returns the ids of every page, in order.
async fn walk_pages(server: &TestServer, path: &str, query: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    // Each page contains at least one resource, so a correct server ends well within this bound.
    for _ in 0..20 {
        let reply = get(server, &format!("{path}?{query}&cursor={cursor}")).await?;
        ensure!(reply.status == StatusCode::OK, "page after {cursor:?} failed: {}", reply.describe());
        ensure!(reply.body.get("startIndex").is_none(), "a cursor page has no startIndex: {}", reply.describe());
        pages.push(resource_ids(&reply));
        match reply.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return Ok(pages),
        }
    }
    anyhow::bail!("{path}?{query} did not end within 20 pages: {pages:?}")
}

api_test!(user_cursor_pages, |server| {
    let mut ids = Vec::new();
    for name in ["cp-e", "cp-B", "cp-d", "cp-A", "cp-c"] {
        ids.push(create_user(&server, &user_body(name)).await?);
    }
    create_user(&server, &user_body("other")).await?;
    let filter = encode("userName sw \"cp-\"");

    let by_id = walk_pages(&server, "/Users", &format!("filter={filter}&count=2")).await?;
    assert_eq!(by_id, vec![ids[0..2].to_vec(), ids[2..4].to_vec(), ids[4..5].to_vec()]);

    let by_name = walk_pages(&server, "/Users", &format!("filter={filter}&count=2&sortBy=userName&sortOrder=descending")).await?;
    let expected = [&ids[0], &ids[2], &ids[4], &ids[1], &ids[3]];
    let flat: Vec<&String> = by_name.iter().flatten().collect();
    assert_eq!(flat, expected, "descending userName, ignoring case");
    assert_eq!(by_name.len(), 3);

    let exact = walk_pages(&server, "/Users", &format!("filter={filter}&count=5")).await?;
    assert_eq!(exact, vec![ids.clone()], "a page that holds the rest has no nextCursor");

    let first = get(&server, &format!("/Users?filter={filter}&count=2&cursor=")).await?;
    assert_eq!(total(&first), 5, "totalResults counts every match");
    assert_eq!(first.body["itemsPerPage"], json!(2));
});

api_test!(cursor_survives_changes, |server| {
    let a = create_user(&server, &user_body("cs-a")).await?;
    let b = create_user(&server, &user_body("cs-b")).await?;
    let c = create_user(&server, &user_body("cs-c")).await?;
    let filter = encode("userName sw \"cs-\"");

    let first = get(&server, &format!("/Users?filter={filter}&count=1&cursor=")).await?;
    assert_eq!(resource_ids(&first), vec![a.clone()]);
    let next = first.body["nextCursor"].as_str().map(str::to_string).unwrap_or_default();

    delete(&server, &format!("/Users/{a}")).await?;
    let second = get(&server, &format!("/Users?filter={filter}&count=1&cursor={next}")).await?;
    assert_eq!(resource_ids(&second), vec![b], "deleting a user on an earlier page skips no one");
    let third = get(&server, &format!("/Users?filter={filter}&count=5&cursor={}", second.body["nextCursor"].as_str().unwrap_or(""))).await?;
    assert_eq!(resource_ids(&third), vec![c]);
});

api_test!(group_cursor_pages, |server| {
    let mut ids = Vec::new();
    for name in ["Delta", "alpha", "Charlie", "bravo"] {
        ids.push(create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": name})).await?);
    }

    let by_id = walk_pages(&server, "/Groups", "count=3").await?;
    assert_eq!(by_id, vec![ids[0..3].to_vec(), ids[3..4].to_vec()]);

    let by_name = walk_pages(&server, "/Groups", "count=1&sortBy=displayName").await?;
    let flat: Vec<String> = by_name.into_iter().flatten().collect();
    assert_eq!(flat, vec![ids[1].clone(), ids[3].clone(), ids[2].clone(), ids[0].clone()]);

    let search = json!({"count": 2, "cursor": ""});
    let reply = post(&server, "/Groups/.search", &search).await?;
    assert_eq!(resource_ids(&reply), ids[0..2].to_vec(), "a search body takes cursor too: {}", reply.describe());
    assert!(reply.body["nextCursor"].is_string(), "{}", reply.describe());
});

api_test!(invalid_cursors, |server| {
    create_user(&server, &user_body("ic-a")).await?;
    create_user(&server, &user_body("ic-b")).await?;
    create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "ic"})).await?;
    create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": "ic2"})).await?;

    let first = get(&server, "/Users?count=1&cursor=").await?;
    let user_cursor = first.body["nextCursor"].as_str().map(str::to_string).unwrap_or_default();
    let group_cursor = get(&server, "/Groups?count=1&cursor=").await?.body["nextCursor"].as_str().map(str::to_string).unwrap_or_default();

    let cases = [
        "/Users?cursor=not-a-cursor".to_string(),
        "/Users?cursor=abc".to_string(),
        format!("/Users?cursor={user_cursor}&sortBy=userName"),
        format!("/Users?cursor={user_cursor}&sortOrder=descending"),
        format!("/Users?cursor={group_cursor}"),
        format!("/Groups?cursor={user_cursor}"),
    ];
    for path in cases {
        let reply = get(&server, &path).await?;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidCursor"));
    }

    let reply = get(&server, "/Users?cursor=&startIndex=2").await?;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
});

api_test!(pagination_advertised, |server| {
    let reply = get(&server, "/ServiceProviderConfig").await?;
    let expected = json!({"cursor": true, "index": true, "defaultPaginationMethod": "index", "defaultPageSize": 100,
        "maxPageSize": 1000, "cursorTimeout": 86400});
    assert_eq!(reply.body["pagination"], expected, "{}", reply.describe());
});
