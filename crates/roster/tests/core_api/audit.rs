//! The audit trail: `/core/action_logs` with its filters and pages, request ids, and `roster audit verify`
//! detecting a row edited directly in the database.

use crate::common::{Reply, TestServer, assert_error, user_document};
use anyhow::ensure;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
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

fn attribute<'a>(entry: &'a Value, name: &str) -> &'a Value {
    &entry["attributes"][name]
}

/// Writes a small history: the admin creates Ada and renames her; a second admin token, owned by a robot user,
/// creates and renames Grace. Returns (Ada's id, Grace's id, the second token's id).
async fn history(server: &TestServer) -> anyhow::Result<(String, String, String)> {
    let robot = server.create_user(json!({ "email": "robot@example.com" })).await?;
    let (token_id, secret) = server.create_user_token(&robot, "hr-sync", &["admin"]).await?;
    let ada = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let renamed = server.patch(&format!("/core/users/{ada}"), &user_document(json!({ "first_name": "Ada" }))).await?;
    ensure!(renamed.status == StatusCode::OK, "renaming Ada failed: {}", renamed.describe());

    let created = server
        .send(server.request_as(&secret, Method::POST, "/core/users").json(&user_document(json!({ "email": "grace@example.com" }))))
        .await?;
    ensure!(created.status == StatusCode::CREATED, "creating Grace failed: {}", created.describe());
    let grace = created.id()?;
    let patch = user_document(json!({ "first_name": "Grace" }));
    let renamed = server.send(server.request_as(&secret, Method::PATCH, &format!("/core/users/{grace}")).json(&patch)).await?;
    ensure!(renamed.status == StatusCode::OK, "renaming Grace failed: {}", renamed.describe());
    Ok((ada, grace, token_id))
}

api_test!(action_logs_record_writes, |server| {
    let (ada, _, _) = history(&server).await?;

    let reply = server.get(&format!("/core/action_logs?user_id={ada}")).await?;

    assert_eq!(reply.status, StatusCode::OK, "GET /core/action_logs: {}", reply.describe());
    let actions: Vec<&str> = reply.data_items().iter().filter_map(|e| attribute(e, "action").as_str()).collect();
    assert_eq!(actions, vec!["user.update", "user.create"], "Ada's entries, newest first");
    let update = &reply.data_items()[0];
    assert_eq!(update["type"], "action_logs", "entries should be action_logs resources");
    assert_eq!(attribute(update, "actor_name"), "admin", "the actor should be the admin token");
    assert_eq!(attribute(update, "target_type"), "user", "the target type should be user");
    assert_eq!(attribute(update, "target_id"), ada.as_str(), "the target should be Ada");
    assert_eq!(attribute(update, "changes")["first_name"], json!({ "before": null, "after": "Ada" }), "the change should hold before and after");
    assert!(attribute(update, "hash").as_str().is_some_and(|h| h.len() == 64), "each entry should carry its hash: {update}");
    assert!(attribute(update, "created_at").is_string(), "each entry should carry its time: {update}");
});

api_test!(action_logs_filter, |server| {
    let (ada, grace, token_id) = history(&server).await?;
    let everything = server.get("/core/action_logs?page[size]=100").await?;
    let entries = everything.data_items().to_vec();

    let by_actor = server.get(&format!("/core/action_logs?actor_id={token_id}")).await?;
    assert_eq!(by_actor.data_items().len(), 2, "the second token made two changes: {}", by_actor.describe());
    for entry in by_actor.data_items() {
        assert_eq!(attribute(entry, "actor_id"), token_id.as_str(), "actor_id should filter by token: {entry}");
        assert_eq!(attribute(entry, "actor_name"), "hr-sync", "the entry should name the acting token: {entry}");
        assert_eq!(attribute(entry, "target_id"), grace.as_str(), "the second token acted only on Grace: {entry}");
    }

    let by_action = server.get("/core/action_logs?action=user.update").await?;
    let targets: BTreeSet<&str> = by_action.data_items().iter().filter_map(|e| attribute(e, "target_id").as_str()).collect();
    assert_eq!(targets, BTreeSet::from([ada.as_str(), grace.as_str()]), "action=user.update should list both renames");
    assert!(by_action.data_items().iter().all(|e| attribute(e, "action") == "user.update"), "action should filter by action");

    let by_filter_family = server.get("/core/action_logs?filter[action]=user.update").await?;
    assert_eq!(by_filter_family.ids(), by_action.ids(), "filter[action] should mean the same as action");

    // Entries are newest first, so entries[2] is the third newest.
    let pivot = attribute(&entries[2], "created_at").as_str().unwrap_or_default().to_string();
    let after = server.get(&format!("/core/action_logs?created_after={pivot}")).await?;
    let expected_after: Vec<String> = entries[..2].iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
    assert_eq!(after.ids(), expected_after, "created_after should list only the later entries");
    let before = server.get(&format!("/core/action_logs?created_before={pivot}")).await?;
    let expected_before: Vec<String> = entries[3..].iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
    assert_eq!(before.ids(), expected_before, "created_before should list only the earlier entries");

    let bad = server.get("/core/action_logs?created_after=yesterday").await?;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(bad.error()["source"]["parameter"], "created_after", "the 400 should name the parameter");
});

api_test!(action_logs_pages, |server| {
    history(&server).await?;
    let everything = server.get("/core/action_logs?page[size]=100").await?;
    let all_ids = everything.ids();
    let total = everything.body["meta"]["total_count"].as_u64().unwrap_or_default();
    assert_eq!(total as usize, all_ids.len(), "meta.total_count should count every entry");
    assert!(all_ids.len() > 7, "the history and the bootstrap should have written several entries: {}", everything.describe());

    let pages = all_pages(&server, "/core/action_logs?page[size]=3").await?;
    let paged: Vec<String> = pages.iter().flat_map(Reply::ids).collect();
    assert_eq!(paged, all_ids, "following links.next should visit every entry once, newest first");
    assert!(pages.iter().all(|p| p.data_items().len() <= 3), "no page should exceed page[size]");
    assert_eq!(pages[0].body["meta"]["total_count"].as_u64(), Some(total), "the first page should carry meta.total_count");
    assert!(pages[1].body["meta"].get("total_count").is_none(), "later pages should leave total_count out: {}", pages[1].describe());

    let second = server.get("/core/action_logs?page[size]=3&page[number]=2").await?;
    assert_eq!(second.ids(), all_ids[3..6].to_vec(), "page[number]=2 should skip the first page");

    let ascending = server.get("/core/action_logs?sort=id&page[size]=100").await?;
    let mut reversed = all_ids.clone();
    reversed.reverse();
    assert_eq!(ascending.ids(), reversed, "sort=id should list the oldest first");

    let oversized = server.get("/core/action_logs?page[size]=101").await?;
    assert_error(&oversized, StatusCode::BAD_REQUEST, "invalid_parameter");
});

api_test!(action_logs_chain_links, |server| {
    history(&server).await?;

    let reply = server.get("/core/action_logs?sort=id&page[size]=100").await?;

    let entries = reply.data_items();
    assert_eq!(attribute(&entries[0], "prev_hash"), &json!("0".repeat(64)), "the first entry should link to the genesis hash");
    for pair in entries.windows(2) {
        assert_eq!(attribute(&pair[1], "prev_hash"), attribute(&pair[0], "hash"), "entry {} should link to entry {}", pair[1]["id"], pair[0]["id"]);
    }
});

api_test!(request_id_reaches_audit, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;

    let reply = server
        .send(
            server
                .request(Method::PATCH, &format!("/core/users/{id}"))
                .header("x-request-id", "trace-7f3a")
                .json(&user_document(json!({ "job_title": "Engineer" }))),
        )
        .await?;

    assert_eq!(reply.header("x-request-id"), Some("trace-7f3a"), "the response should echo the client's request id");
    let audit = server.get(&format!("/core/action_logs?user_id={id}&action=user.update")).await?;
    assert_eq!(attribute(&audit.data_items()[0], "request_id"), "trace-7f3a", "the audit entry should carry the request id");
    let generated = server.get("/healthz").await?;
    assert!(generated.header("x-request-id").is_some_and(|v| !v.is_empty()), "every response should carry a request id");
});

/// Runs `roster audit verify` on the server's data.
async fn verify(server: &TestServer) -> anyhow::Result<(bool, String)> {
    let output = server.cli(&["audit", "verify"]).await?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

/// Returns the sequence number of the entry that recorded creating `user_id`.
async fn creation_entry(server: &TestServer, user_id: &str) -> anyhow::Result<i64> {
    let reply = server.get(&format!("/core/action_logs?user_id={user_id}&action=user.create")).await?;
    let id = reply.data_items().first().and_then(|e| e["id"].as_str()).unwrap_or_default();
    id.parse().map_err(|_| anyhow::anyhow!("no creation entry for user {user_id}: {}", reply.describe()))
}

api_test!(audit_verify_detects_edit, |server| {
    let (ada, _, _) = history(&server).await?;
    let (verified, output) = verify(&server).await?;
    assert!(verified, "audit verify should pass on an untouched chain: {output}");
    assert!(output.contains("audit chain verified"), "audit verify should report success: {output}");
    let seq = creation_entry(&server, &ada).await?;

    let edited = server.execute_sql(&format!("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = {seq}")).await?;
    assert_eq!(edited, 1, "the tampering UPDATE should change one row");

    let (verified, output) = verify(&server).await?;
    assert!(!verified, "audit verify should fail after a row was edited: {output}");
    assert!(output.contains(&format!("entry {seq}:")), "audit verify should name the edited entry {seq}: {output}");
});

api_test!(audit_verify_detects_removal, |server| {
    let (ada, _, _) = history(&server).await?;
    let seq = creation_entry(&server, &ada).await?;

    let removed = server.execute_sql(&format!("DELETE FROM audit_log WHERE seq = {seq}")).await?;
    assert_eq!(removed, 1, "the tampering DELETE should remove one row");

    let (verified, output) = verify(&server).await?;
    assert!(!verified, "audit verify should fail after a row was removed: {output}");
    assert!(output.contains(&format!("entry {seq}")), "audit verify should name the missing entry {seq}: {output}");
});
