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

/// One page of a cursor walk: its resource ids and its cursors.
#[derive(Debug, Clone, PartialEq)]
struct CursorPage {
    ids: Vec<String>,
    next: Option<String>,
    previous: Option<String>,
}

async fn read_page(server: &TestServer, path: &str, query: &str, cursor: &str) -> anyhow::Result<CursorPage> {
    let reply = get(server, &format!("{path}?{query}&cursor={cursor}")).await?;
    ensure!(reply.status == StatusCode::OK, "page at {cursor:?} failed: {}", reply.describe());
    let cursor_of = |name: &str| reply.body[name].as_str().map(str::to_string);
    Ok(CursorPage { ids: resource_ids(&reply), next: cursor_of("nextCursor"), previous: cursor_of("previousCursor") })
}

/// Follows `nextCursor` from the first page to the last, then `previousCursor` back to the first, and returns the
/// pages of both walks, each in the order it was read.
async fn walk_both_ways(server: &TestServer, path: &str, query: &str) -> anyhow::Result<(Vec<CursorPage>, Vec<CursorPage>)> {
    let mut forward = vec![read_page(server, path, query, "").await?];
    // Each page contains at least one resource, so a correct server ends well within these bounds.
    while let Some(next) = forward.last().and_then(|page| page.next.clone()) {
        ensure!(forward.len() < 20, "{path}?{query} did not end within 20 pages: {forward:?}");
        forward.push(read_page(server, path, query, &next).await?);
    }
    let mut backward = Vec::new();
    let mut previous = forward.last().and_then(|page| page.previous.clone());
    while let Some(cursor) = previous {
        ensure!(backward.len() < 20, "{path}?{query} did not reach the start within 20 pages: {backward:?}");
        let page = read_page(server, path, query, &cursor).await?;
        previous = page.previous.clone();
        backward.push(page);
    }
    Ok((forward, backward))
}

/// Checks that walking back over `forward` returned the same pages, and where each walk has its cursors.
fn assert_walks_agree(forward: &[CursorPage], backward: &[CursorPage], label: &str) {
    let forward_ids: Vec<&Vec<String>> = forward.iter().map(|page| &page.ids).collect();
    let mut backward_ids: Vec<&Vec<String>> = backward.iter().map(|page| &page.ids).collect();
    backward_ids.reverse();
    assert_eq!(backward_ids, forward_ids[..forward_ids.len() - 1], "{label}: previous pages repeat the next pages");
    assert!(forward[0].previous.is_none(), "{label}: the first page has no previousCursor");
    for (index, page) in forward.iter().enumerate().skip(1) {
        assert!(page.previous.is_some(), "{label}: page {index} has a previousCursor");
    }
    assert!(backward.last().is_some_and(|page| page.previous.is_none()), "{label}: the start has no previousCursor");
    for (index, page) in backward.iter().enumerate() {
        assert!(page.next.is_some(), "{label}: backward page {index} has a nextCursor");
    }
}

api_test!(user_previous_cursor_pages, |server| {
    let mut ids = Vec::new();
    for name in ["pp-e", "pp-B", "pp-d", "pp-A", "pp-c", "pp-g", "pp-F"] {
        ids.push(create_user(&server, &user_body(name)).await?);
    }
    create_user(&server, &user_body("other")).await?;
    let filter = encode("userName sw \"pp-\"");

    let queries = [
        format!("filter={filter}&count=2"),
        format!("filter={filter}&count=3&sortBy=userName&sortOrder=descending"),
        format!("filter={filter}&count=2&sortBy=meta.created"),
        format!("filter={filter}&count=7"),
    ];
    for query in queries {
        let (forward, backward) = walk_both_ways(&server, "/Users", &query).await?;
        let flat: Vec<String> = forward.iter().flat_map(|page| page.ids.clone()).collect();
        assert_eq!(flat.len(), ids.len(), "{query}: the forward walk lists every user once");
        if forward.len() > 1 {
            assert_walks_agree(&forward, &backward, &query);
        } else {
            assert!(backward.is_empty(), "{query}: a single page has no previousCursor");
        }
    }

    let query = format!("filter={filter}&count=3");
    let (forward, backward) = walk_both_ways(&server, "/Users", &query).await?;
    let next_of_first = backward.last().and_then(|page| page.next.clone()).unwrap_or_default();
    let second = read_page(&server, "/Users", &query, &next_of_first).await?;
    assert_eq!(second.ids, forward[1].ids, "the nextCursor of a page read backwards leads forward again");

    let search = json!({"filter": "userName sw \"pp-\"", "count": 4, "cursor": forward[1].previous.clone()});
    let reply = post(&server, "/Users/.search", &search).await?;
    assert_eq!(resource_ids(&reply), forward[0].ids[..].to_vec(), "a search body takes previousCursor: {}", reply.describe());
});

api_test!(previous_cursor_sees_changes, |server| {
    let b = create_user(&server, &user_body("pc-b")).await?;
    let c = create_user(&server, &user_body("pc-c")).await?;
    let d = create_user(&server, &user_body("pc-d")).await?;
    let e = create_user(&server, &user_body("pc-e")).await?;
    let query = format!("filter={}&count=2&sortBy=userName", encode("userName sw \"pc-\""));

    let first = read_page(&server, "/Users", &query, "").await?;
    assert_eq!(first.ids, vec![b.clone(), c.clone()]);
    let second = read_page(&server, "/Users", &query, &first.next.clone().unwrap_or_default()).await?;
    assert_eq!(second.ids, vec![d.clone(), e]);

    delete(&server, &format!("/Users/{c}")).await?;
    let a = create_user(&server, &user_body("pc-a")).await?;
    let back = read_page(&server, "/Users", &query, &second.previous.clone().unwrap_or_default()).await?;
    assert_eq!(back.ids, vec![a, b], "the previous page holds the users now before the page, in order");
    assert!(back.previous.is_none(), "the previous page reaches the start, so it has no previousCursor");

    delete(&server, &format!("/Users/{d}")).await?;
    let again = read_page(&server, "/Users", &query, &second.previous.clone().unwrap_or_default()).await?;
    assert_eq!(again.ids.len(), 2, "a deleted user named by the cursor still marks the position");
});

api_test!(group_previous_cursor_pages, |server| {
    for name in ["Delta", "alpha", "Charlie", "bravo", "Echo"] {
        create_group(&server, &json!({"schemas": [CORE_GROUP], "displayName": name})).await?;
    }
    for query in ["count=2", "count=2&sortBy=displayName", "count=3&sortBy=displayName&sortOrder=descending"] {
        let (forward, backward) = walk_both_ways(&server, "/Groups", query).await?;
        assert_walks_agree(&forward, &backward, query);
    }

    let forward = walk_both_ways(&server, "/Groups", "count=2").await?.0;
    let search = json!({"count": 2, "cursor": forward[2].previous.clone()});
    let reply = post(&server, "/Groups/.search", &search).await?;
    assert_eq!(resource_ids(&reply), forward[1].ids, "a search body takes previousCursor: {}", reply.describe());
    assert!(reply.body["previousCursor"].is_string(), "{}", reply.describe());
});

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
