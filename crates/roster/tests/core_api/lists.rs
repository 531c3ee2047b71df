//! Listing users: filters, sort keys in both directions, offset pages, keyset iteration and the total count.

use crate::common::{Reply, TestServer, user_document};
use anyhow::ensure;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// Follows `links.next` from `first_path` and returns every page.
async fn all_pages(server: &TestServer, first_path: &str) -> anyhow::Result<Vec<Reply>> {
    let mut pages = Vec::new();
    let mut next = Some(first_path.to_string());
    while let Some(path) = next {
        let reply = server.get(&path).await?;
        ensure!(reply.status == StatusCode::OK, "GET {path} failed: {}", reply.describe());
        next = reply.body["links"]["next"].as_str().map(str::to_string);
        pages.push(reply);
        ensure!(pages.len() <= 100, "links.next did not end after 100 pages");
    }
    Ok(pages)
}

fn ids_of(pages: &[Reply]) -> Vec<String> {
    pages.iter().flat_map(Reply::ids).collect()
}

async fn ids(server: &TestServer, path: &str) -> anyhow::Result<Vec<String>> {
    let reply = server.get(path).await?;
    ensure!(reply.status == StatusCode::OK, "GET {path} failed: {}", reply.describe());
    let total = reply.body["meta"]["total_count"].as_u64();
    ensure!(total == Some(reply.ids().len() as u64), "GET {path}: meta.total_count {total:?} disagrees with the page: {}", reply.describe());
    Ok(reply.ids())
}

api_test!(list_filters_users, |server| {
    let developer = server.role_type_id("developer").await?;
    let stakeholder = server.role_type_id("stakeholder").await?;
    let ada = server
        .create_user(json!({ "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "unique_id": "E-1",
            "department": "Engineering", "roles_attributes": [{ "role_type_id": developer }] }))
        .await?;
    let grace = server
        .create_user(json!({ "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example", "unique_id": "E-2",
            "department": "engineering", "roles_attributes": [{ "role_type_id": stakeholder }] }))
        .await?;
    let alan = server
        .create_user(json!({ "first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "unique_id": "E-3",
            "department": "Research" }))
        .await?;
    let adam = server.create_user(json!({ "first_name": "Adam", "last_name": "Smith", "email": "adam@example.com" })).await?;
    let archived = server.patch_empty(&format!("/core/users/{adam}/archive")).await?;
    ensure!(archived.status == StatusCode::NO_CONTENT, "archiving Adam failed: {}", archived.describe());
    let touched = server.patch(&format!("/core/users/{alan}"), &user_document(json!({ "job_title": "Cryptanalyst" }))).await?;
    let alan_updated = touched.attr("updated_at").as_str().unwrap_or_default().to_string();

    let cases = [
        ("query=ADA", vec![ada.clone()]),
        ("query=lovelace", vec![ada.clone()]),
        ("query=navy", vec![grace.clone()]),
        ("query=%25", vec![]),
        ("query=_", vec![]),
        ("query=a&archived=true", vec![adam.clone()]),
        ("email=ADA%40EXAMPLE.COM", vec![ada.clone()]),
        ("email=ada", vec![]),
        ("unique_id=e-2", vec![grace.clone()]),
        ("department=ENGINEERING", vec![ada.clone(), grace.clone()]),
        ("department=engineering&query=grace", vec![grace.clone()]),
        (&format!("role_type_id={developer}") as &str, vec![ada.clone()]),
        ("archived=true", vec![adam.clone()]),
        ("archived=false", vec![ada.clone(), grace.clone(), alan.clone()]),
        (&format!("updated_since={alan_updated}"), vec![alan.clone()]),
        ("updated_since=2000-01-01T00:00:00Z", vec![ada.clone(), grace.clone(), alan.clone()]),
        ("filter[email]=grace%40navy.example", vec![grace.clone()]),
    ];
    for (query, expected) in cases {
        let found = ids(&server, &format!("/core/users?sort=id&{query}")).await?;
        assert_eq!(found, expected, "GET /core/users?{query}");
    }
});

/// The six users of the sort tests: last names out of creation order, with ties that differ only in case.
const LAST_NAMES: [&str; 6] = ["Zeta", "alpha", "Mu", "beta", "Alpha", "mu"];

/// Orders two listed users by `key` (an attribute, or `id`), with the id breaking ties as the server does.
fn compare(a: &Value, b: &Value, key: &str) -> Ordering {
    let id = |v: &Value| v["id"].as_str().and_then(|s| s.parse::<i64>().ok()).unwrap_or_default();
    let value = |v: &Value| v["attributes"][key].as_str().unwrap_or_default().to_lowercase();
    match key {
        "id" => id(a).cmp(&id(b)),
        _ => value(a).cmp(&value(b)).then(id(a).cmp(&id(b))),
    }
}

async fn sort_fixture(server: &TestServer) -> anyhow::Result<Vec<Value>> {
    let mut ids = Vec::new();
    for (index, last_name) in LAST_NAMES.iter().enumerate() {
        ids.push(server.create_user(json!({ "email": format!("u{index}@example.com"), "last_name": last_name })).await?);
    }
    // Touch users out of creation order, so updated_at orders them differently from created_at.
    for index in [3, 0, 5] {
        let reply = server.patch(&format!("/core/users/{}", ids[index]), &user_document(json!({ "job_title": "moved" }))).await?;
        ensure!(reply.status == StatusCode::OK, "touching user {index} failed: {}", reply.describe());
    }
    let all = server.get("/core/users?sort=id&page[size]=100").await?;
    Ok(all.data_items().to_vec())
}

api_test!(list_sorts_both_ways, |server| {
    let users = sort_fixture(&server).await?;

    for key in ["id", "last_name", "created_at", "updated_at"] {
        let mut ascending = users.clone();
        ascending.sort_by(|a, b| compare(a, b, key));
        let expected: Vec<String> = ascending.iter().filter_map(|u| u["id"].as_str().map(str::to_string)).collect();
        let mut reversed = expected.clone();
        reversed.reverse();

        assert_eq!(ids(&server, &format!("/core/users?sort={key}")).await?, expected, "sort={key}");
        assert_eq!(ids(&server, &format!("/core/users?sort=-{key}")).await?, reversed, "sort=-{key}");

        let pages = all_pages(&server, &format!("/core/users?sort={key}&page[size]=2")).await?;
        assert_eq!(ids_of(&pages), expected, "keyset pages of 2 with sort={key} should keep the order across ties");
        let pages = all_pages(&server, &format!("/core/users?sort=-{key}&page[size]=2")).await?;
        assert_eq!(ids_of(&pages), reversed, "keyset pages of 2 with sort=-{key} should keep the order across ties");
    }
});

api_test!(list_offset_pages, |server| {
    let users = sort_fixture(&server).await?;
    let all: Vec<String> = users.iter().filter_map(|u| u["id"].as_str().map(str::to_string)).collect();

    let second = server.get("/core/users?sort=id&page[size]=2&page[number]=2").await?;
    assert_eq!(second.ids(), all[2..4].to_vec(), "page[number]=2 of size 2 should hold the third and fourth users");
    assert!(second.body["meta"].get("total_count").is_none(), "a later page should leave total_count out: {}", second.describe());
    let counted = server.get("/core/users?sort=id&page[size]=2&page[number]=2&count=true").await?;
    assert_eq!(counted.body["meta"]["total_count"], 6, "count=true should add total_count to any page");

    let pages = all_pages(&server, "/core/users?sort=id&page[size]=4&page[number]=1").await?;
    assert_eq!(ids_of(&pages), all, "following links.next from page[number]=1 should visit every user once");
    assert_eq!(pages[0].body["meta"]["total_count"], 6, "page[number]=1 is the first page and should carry total_count");

    let beyond = server.get("/core/users?sort=id&page[size]=4&page[number]=9").await?;
    assert_eq!(beyond.ids().len(), 0, "a page beyond the end should be empty");
    assert_eq!(beyond.body["links"]["next"], Value::Null, "a page beyond the end should have no next link");

    let oversized = server.get("/core/users?page[size]=101").await?;
    crate::common::assert_error(&oversized, StatusCode::BAD_REQUEST, "invalid_parameter");
    let largest = server.get("/core/users?page[size]=100").await?;
    assert_eq!(largest.status, StatusCode::OK, "page[size]=100 is the maximum and should be accepted: {}", largest.describe());
});

/// How many users the keyset test iterates over: more than two pages of the maximum size.
const MANY_USERS: usize = 230;

api_test!(keyset_visits_each_once, |server| {
    let server = std::sync::Arc::new(server);
    let mut creators = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let server = server.clone();
        creators.spawn(async move {
            let mut created = Vec::new();
            for index in (worker..MANY_USERS).step_by(8) {
                let attributes = json!({ "email": format!("user{index}@example.com"), "last_name": format!("Family{:02}", index % 23) });
                created.push(server.create_user(attributes).await?);
            }
            anyhow::Ok(created)
        });
    }
    let mut created = BTreeSet::new();
    while let Some(joined) = creators.join_next().await {
        created.extend(joined??);
    }
    assert_eq!(created.len(), MANY_USERS, "every create should have made a distinct user");

    let default_page = server.get("/core/users").await?;
    assert_eq!(default_page.ids().len(), 25, "the default page size should be 25");
    assert_eq!(default_page.body["meta"]["total_count"], MANY_USERS, "the first page should carry meta.total_count");

    for sort in ["id", "-id", "last_name", "-last_name", "created_at", "-created_at", "updated_at", "-updated_at"] {
        let pages = all_pages(&server, &format!("/core/users?sort={sort}&page[size]=100")).await?;
        let visited = ids_of(&pages);
        let distinct: BTreeSet<String> = visited.iter().cloned().collect();

        assert_eq!(visited.len(), MANY_USERS, "sort={sort}: keyset iteration should visit {MANY_USERS} users");
        assert_eq!(distinct, created, "sort={sort}: keyset iteration should visit each user exactly once");
        assert_eq!(pages.len(), 3, "sort={sort}: {MANY_USERS} users should take three pages of 100");
        assert_eq!(pages[0].body["meta"]["total_count"], MANY_USERS, "sort={sort}: the first page should carry the total");
        let cursor = pages[0].body["links"]["next"].as_str().unwrap_or_default();
        assert!(cursor.contains("page%5Bafter%5D=") || cursor.contains("page[after]="), "sort={sort}: links.next should use a keyset cursor: {cursor}");
    }
});
