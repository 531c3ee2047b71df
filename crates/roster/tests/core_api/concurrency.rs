//! Concurrent writers: uniqueness holds when many requests race for the same email.

use crate::common::{Reply, user_document};
use reqwest::StatusCode;
use serde_json::json;

/// How many creates race for one email.
const RACERS: usize = 20;

api_test!(same_email_race_one_wins, |server| {
    let server = std::sync::Arc::new(server);
    let mut racers = tokio::task::JoinSet::new();
    for index in 0..RACERS {
        let server = server.clone();
        // Case variants of one address, each with its own user_name, so only the email collides.
        let email = match index % 4 {
            0 => "race@example.com".to_string(),
            1 => "RACE@example.com".to_string(),
            2 => "Race@Example.COM".to_string(),
            _ => "rAcE@eXaMpLe.CoM".to_string(),
        };
        let body = user_document(json!({ "email": email, "user_name": format!("racer-{index}") }));
        racers.spawn(async move { server.post("/core/users", &body).await });
    }

    let mut replies: Vec<Reply> = Vec::new();
    while let Some(joined) = racers.join_next().await {
        replies.push(joined??);
    }

    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "exactly one of {RACERS} racing creates should win");
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "a losing create should get 422: {}", reply.describe());
        assert_eq!(reply.error_code(), Some("taken"), "a losing create should get code taken: {}", reply.describe());
        assert_eq!(reply.pointers(), vec!["/data/attributes/email".to_string()], "a losing create should point at email");
    }
    let listed = server.get("/core/users?email=race%40example.com").await?;
    assert_eq!(listed.ids().len(), 1, "exactly one user should hold the email: {}", listed.describe());
    let audit = server.get("/core/action_logs?action=user.create").await?;
    assert_eq!(audit.body["meta"]["total_count"], 1, "only the winner should have an audit entry");
});

api_test!(parallel_patches_stay_consistent, |server| {
    let id = server.create_user(json!({ "email": "ada@example.com" })).await?;
    let server = std::sync::Arc::new(server);
    let mut writers = tokio::task::JoinSet::new();
    for index in 0..10 {
        let server = server.clone();
        let path = format!("/core/users/{id}");
        let body = user_document(json!({ "custom_attributes": { "writer": index.to_string() }, "job_title": format!("job {index}") }));
        writers.spawn(async move { server.patch(&path, &body).await });
    }

    // A PATCH without If-Match retries on the fresh row a few times, then gives up with 409 busy so the client can
    // retry. Either way it is applied whole or not at all.
    let mut applied = 0;
    while let Some(joined) = writers.join_next().await {
        let reply = joined??;
        match reply.status {
            StatusCode::OK => applied += 1,
            _ => assert_eq!(reply.error_code(), Some("busy"), "a PATCH should succeed or get 409 busy: {}", reply.describe()),
        }
    }
    assert!(applied >= 1, "at least one of the racing PATCHes should apply");
    let user = server.get(&format!("/core/users/{id}")).await?;
    let expected_etag = format!("\"{}\"", applied + 1);
    assert_eq!(user.header("etag"), Some(expected_etag.as_str()), "each applied PATCH should increment the version once");
    let audit = server.get(&format!("/core/action_logs?user_id={id}&action=user.update")).await?;
    assert_eq!(audit.body["meta"]["total_count"], applied, "each applied PATCH should have exactly one audit entry");
});
