//! Stored JML mappings and policies, plans that name them, and paging through a plan's changes.

use crate::common::*;
use crate::jml::{all_changes, example, plan, sales_feed, upload_form, with_changes};
use anyhow::{Context, ensure};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Stores `body` as TOML under `/core/jml/{collection}/{name}`.
async fn put_toml(server: &TestServer, collection: &str, name: &str, body: &str) -> anyhow::Result<Reply> {
    let request = server
        .request(Method::PUT, &format!("/core/jml/{collection}/{name}"))
        .header("Content-Type", "application/toml")
        .body(body.to_string());
    server.send(request).await
}

/// Plans a feed with a stored mapping and policy named by the form parts `mapping_name` and `policy_name`.
async fn plan_by_name(server: &TestServer, feed: &[u8], mapping: &str, policy: &str) -> anyhow::Result<Reply> {
    let form = Form::new()
        .part("mapping_name", Part::text(mapping.to_string()))
        .part("policy_name", Part::text(policy.to_string()))
        .part("full_feed", Part::text("false"))
        .part("feed", Part::bytes(feed.to_vec()).file_name("feed.csv"));
    server.send(server.request(Method::POST, "/core/jml/plans").multipart(form)).await
}

/// Returns the hex SHA-256 of a text as the service computes it. A known vector checks that it is SHA-256.
fn sha256_hex(text: &str) -> String {
    roster_service::config_sha256(text)
}

#[test]
fn sha256_hex_is_sha256() {
    assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "FIPS 180-2 example");
}

api_test!(stored_config_round_trip, |server| {
    let mapping = example("synthetic-mapping.toml")?;

    let created = put_toml(&server, "mappings", "hr", &mapping).await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.describe());
    assert_eq!(created.attr("name"), "hr");
    assert_eq!(created.attr("body"), mapping.as_str());
    assert_eq!(created.attr("version"), 1);
    assert_eq!(created.attr("sha256"), sha256_hex(&mapping).as_str());
    assert_eq!(created.attr("updated_by"), "admin", "{}", created.text);
    assert!(created.attr("updated_at").is_string());

    let fetched = server.get("/core/jml/mappings/hr").await?;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.describe());
    assert_eq!(fetched.attr("body"), mapping.as_str());
    assert_eq!(fetched.header("etag"), Some("\"1\""));

    let audit_before = server.audit_count().await?;
    let same = put_toml(&server, "mappings", "hr", &mapping).await?;
    assert_eq!(same.status, StatusCode::OK, "{}", same.describe());
    assert_eq!(same.attr("version"), 1, "the same text keeps its version");
    assert_eq!(server.audit_count().await?, audit_before, "storing the same text changes nothing");

    let edited = format!("{mapping}\n# edited\n");
    let replaced = put_toml(&server, "mappings", "hr", &edited).await?;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.describe());
    assert_eq!(replaced.attr("version"), 2);
    assert_eq!(replaced.attr("sha256"), sha256_hex(&edited).as_str());

    let policy = example("synthetic-policy.toml")?;
    let document = json!({ "data": { "type": "jml_policies", "attributes": { "body": policy } } });
    let by_json = server.put("/core/jml/policies/default", &document).await?;
    assert_eq!(by_json.status, StatusCode::CREATED, "a JSON:API body works too: {}", by_json.describe());
    assert_eq!(by_json.attr("body"), policy.as_str());

    let listed = server.get("/core/jml/mappings").await?;
    assert_eq!(listed.ids(), vec!["hr".to_string()], "{}", listed.text);
    assert_eq!(listed.data_items()[0]["attributes"]["version"], 2);
    let policies = server.get("/core/jml/policies").await?;
    assert_eq!(policies.ids(), vec!["default".to_string()], "mappings and policies are separate: {}", policies.text);

    let actions = server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action IN ('jml_mapping.create', 'jml_mapping.update')").await?;
    assert_eq!(actions, 2, "one audit entry per create and per replace");

    let deleted = server.delete("/core/jml/policies/default").await?;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.describe());
    assert_error(&server.get("/core/jml/policies/default").await?, StatusCode::NOT_FOUND, "not_found");
    assert_error(&server.delete("/core/jml/policies/default").await?, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'jml_policy.delete'").await?, 1);
    let verify = server.cli(&["audit", "verify"]).await?;
    assert!(verify.status.success(), "the audit chain verifies: {}", String::from_utf8_lossy(&verify.stderr));
});

api_test!(invalid_config_stores_nothing, |server| {
    let audit_before = server.audit_count().await?;

    let broken = put_toml(&server, "mappings", "hr", "source = \"hr\"\nkey = [\n").await?;
    assert_error(&broken, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let detail = broken.error()["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("line 2"), "the parser's message names the line: {detail}");
    assert_eq!(broken.pointers(), vec!["/body".to_string()]);

    let incomplete = put_toml(&server, "mappings", "hr", "source = \"hr\"\n").await?;
    assert_error(&incomplete, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let grants_nothing = put_toml(&server, "policies", "p", "[[rule]]\nname = \"x\"\n").await?;
    assert_error(&grants_nothing, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let missing_body = server.put("/core/jml/policies/p", &json!({ "data": { "attributes": {} } })).await?;
    assert_invalid(&missing_body, "invalid", "/data/attributes/body");
    let broken_json = server.put("/core/jml/policies/p", &json!({ "data": { "attributes": { "body": "[[rule" } } })).await?;
    assert_invalid(&broken_json, "invalid", "/data/attributes/body");

    let mapping = example("synthetic-mapping.toml")?;
    for name in ["Upper", "-dash", "has space", ".hidden", &"a".repeat(65)] {
        let bad_name = put_toml(&server, "mappings", &encode_segment(name), &mapping).await?;
        assert_error(&bad_name, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
        let detail = bad_name.error()["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("a-z, 0-9"), "the error for {name:?} states the pattern: {detail}");
    }
    let longest = put_toml(&server, "mappings", &"a".repeat(64), &mapping).await?;
    assert_eq!(longest.status, StatusCode::CREATED, "64 characters are allowed: {}", longest.describe());
    server.delete(&format!("/core/jml/mappings/{}", "a".repeat(64))).await?;

    let wrong_type = server
        .send(server.request(Method::PUT, "/core/jml/mappings/hr").header("Content-Type", "image/png").body(mapping.clone()))
        .await?;
    assert_error(&wrong_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    assert_eq!(server.query_i64("SELECT COUNT(*) FROM jml_configs").await?, 0, "nothing was stored");
    let audited = server.query_i64("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'jml_%'").await?;
    assert_eq!(audited, 2, "only the 64-character name's create and delete were audited");
    assert_eq!(server.audit_count().await?, audit_before + 2);

    // A broken replacement keeps the stored version.
    put_toml(&server, "mappings", "hr", &mapping).await?;
    let broken_replace = put_toml(&server, "mappings", "hr", "key = ").await?;
    assert_error(&broken_replace, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let kept = server.get("/core/jml/mappings/hr").await?;
    assert_eq!(kept.attr("version"), 1);
    assert_eq!(kept.attr("body"), mapping.as_str());
});

api_test!(plan_by_name_equals_upload, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    put_toml(&server, "mappings", "synthetic", &mapping).await?;
    put_toml(&server, "policies", "birthright", &policy).await?;
    let feed = sales_feed(12);

    let (_, uploaded) = plan(&server, feed.as_bytes(), &mapping, &policy, false).await?;
    let named = plan_by_name(&server, feed.as_bytes(), "synthetic", "birthright").await?;
    assert_eq!(named.status, StatusCode::CREATED, "{}", named.describe());
    let (named_id, by_name) = with_changes(&server, &named).await?;

    assert_eq!(by_name["counts"], uploaded["counts"]);
    assert_eq!(by_name["changes"], uploaded["changes"], "the same files give the same changes");
    assert_eq!(by_name["changes"].as_array().map(Vec::len), Some(12));
    assert_eq!(by_name["mapping"], json!({ "name": "synthetic", "version": 1, "sha256": sha256_hex(&mapping) }));
    assert_eq!(by_name["policy"], json!({ "name": "birthright", "version": 1, "sha256": sha256_hex(&policy) }));
    assert_eq!(uploaded["mapping"], json!({ "name": null, "version": null, "sha256": sha256_hex(&mapping) }));

    // The plan keeps what it used after the stored policy changes or goes.
    put_toml(&server, "policies", "birthright", &format!("{policy}\n# v2\n")).await?;
    server.delete("/core/jml/mappings/synthetic").await?;
    let shown = server.get(&format!("/core/jml/plans/{named_id}")).await?;
    assert_eq!(shown.attr("policy")["version"], 1, "{}", shown.text);
    assert_eq!(shown.attr("mapping")["name"], "synthetic", "{}", shown.text);
    assert!(shown.attr("changes").is_null(), "the plan resource leaves the changes to their own route: {}", shown.text);
    assert_eq!(shown.attr("change_count"), 12);

    // A file for one and a name for the other.
    let form = Form::new()
        .part("mapping", Part::text(mapping.clone()))
        .part("policy_name", Part::text("birthright"))
        .part("feed", Part::bytes(feed.clone().into_bytes()).file_name("feed.csv"));
    let mixed = server.send(server.request(Method::POST, "/core/jml/plans").multipart(form)).await?;
    assert_eq!(mixed.status, StatusCode::CREATED, "{}", mixed.describe());
    assert_eq!(mixed.attr("policy")["version"], 2);
});

api_test!(plan_rejects_unknown_or_double_config, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    put_toml(&server, "policies", "birthright", &policy).await?;
    let feed = sales_feed(2);

    let unknown = plan_by_name(&server, feed.as_bytes(), "nope", "birthright").await?;
    assert_invalid(&unknown, "not_found", "/mapping_name");
    let detail = unknown.error()["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("\"nope\""), "the error names the unknown name: {detail}");
    assert!(detail.contains("PUT /core/jml/mappings/nope"), "the error says how to store it: {detail}");
    let unknown_policy = plan_by_name(&server, feed.as_bytes(), "nope", "missing").await?;
    assert_eq!(unknown_policy.pointers(), vec!["/mapping_name".to_string()], "the first unknown name fails");

    let both = upload_form(feed.as_bytes(), &mapping, &policy, false).part("policy_name", Part::text("birthright"));
    let doubled = server.send(server.request(Method::POST, "/core/jml/plans").multipart(both)).await?;
    assert_invalid(&doubled, "invalid", "/policy_name");

    let neither = Form::new().part("policy_name", Part::text("birthright")).part("feed", Part::bytes(feed.into_bytes()).file_name("f.csv"));
    let missing = server.send(server.request(Method::POST, "/core/jml/plans").multipart(neither)).await?;
    assert_error(&missing, StatusCode::BAD_REQUEST, "invalid_form");
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM jml_plans").await?, 0, "no plan was stored");
});

/// Builds a feed of E1..E`n` in Sales, with E1..E`moved` moved to Engineering.
fn moved_feed(n: usize, moved: usize) -> String {
    sales_feed(n)
        .lines()
        .map(|line| {
            let key: usize = line.split(',').next().and_then(|k| k.strip_prefix('E')).and_then(|k| k.parse().ok()).unwrap_or(usize::MAX);
            if key <= moved { line.replace(",Sales,", ",Engineering,") } else { line.to_string() }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

api_test!(changes_paged_exactly_once, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let (first, _) = plan(&server, sales_feed(25).as_bytes(), &mapping, &policy, false).await?;
    let started = crate::jml::start_apply(&server, &first, json!({})).await?;
    ensure!(started.status == StatusCode::ACCEPTED, "{}", started.describe());
    crate::jml::wait_run(&server, &started.id()?).await?;

    // Five movers and, from a complete feed, five leavers.
    let form = upload_form(moved_feed(20, 5).as_bytes(), &mapping, &policy, true);
    let reply = server.send(server.request(Method::POST, "/core/jml/plans").multipart(form)).await?;
    ensure!(reply.status == StatusCode::CREATED, "{}", reply.describe());
    let id = reply.id()?;
    assert_eq!(reply.attr("change_count"), 10, "{}", reply.text);
    assert!(reply.attr("changes").is_null(), "POST returns the summary only: {}", reply.text);
    assert_eq!(reply.data()["links"]["changes"], format!("/core/jml/plans/{id}/changes"));

    let first_page = server.get(&format!("/core/jml/plans/{id}/changes?page[size]=3")).await?;
    assert_eq!(first_page.status, StatusCode::OK, "{}", first_page.describe());
    assert_eq!(first_page.data_items().len(), 3);
    assert_eq!(first_page.body["meta"]["total_count"], 10);
    assert!(first_page.body["links"]["next"].as_str().is_some_and(|n| n.contains("page%5Bafter%5D=3")), "{}", first_page.text);

    let paged = all_changes(&server, &format!("/core/jml/plans/{id}/changes?page[size]=3")).await?;
    let keys: Vec<String> = paged.iter().map(|(_, c)| c["key"].as_str().unwrap_or_default().to_string()).collect();
    let unique: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 10, "every change once: {keys:?}");
    assert_eq!(unique.len(), 10, "no change twice: {keys:?}");
    let whole = all_changes(&server, &format!("/core/jml/plans/{id}/changes?page[size]=1000")).await?;
    assert_eq!(paged, whole, "pages of 3 join to the one page of 1000");
    let ids: Vec<String> = whole.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, (1..=10).map(|i| i.to_string()).collect::<Vec<_>>(), "ids are positions in the plan");

    let mut numbered = Vec::new();
    for number in 1..=4 {
        let page = server.get(&format!("/core/jml/plans/{id}/changes?page[size]=3&page[number]={number}")).await?;
        numbered.extend(page.data_items().iter().map(|item| item["attributes"]["key"].clone()));
        assert_eq!(page.body["links"]["next"].is_string(), number < 4, "page {number}: {}", page.text);
    }
    let numbered_keys: Vec<Value> = whole.iter().map(|(_, c)| c["key"].clone()).collect();
    assert_eq!(numbered, numbered_keys, "offset pages give the same order");

    let archives = all_changes(&server, &format!("/core/jml/plans/{id}/changes?filter[kind]=archive&page[size]=2")).await?;
    let archived: Vec<&str> = archives.iter().filter_map(|(_, c)| c["key"].as_str()).collect();
    assert_eq!(archived, vec!["E21", "E22", "E23", "E24", "E25"]);
    let updates = server.get(&format!("/core/jml/plans/{id}/changes?kind=update")).await?;
    assert_eq!(updates.body["meta"]["total_count"], 5, "{}", updates.text);
    assert!(updates.data_items().iter().all(|c| c["attributes"]["kind"] == "none"), "movers change no state: {}", updates.text);
    assert_eq!(updates.body["meta"]["total_count"], reply.attr("counts")["update"], "the filter matches the counts");
    assert!(updates.body["links"]["next"].is_null());

    let bad_kind = server.get(&format!("/core/jml/plans/{id}/changes?kind=hire")).await?;
    assert_error(&bad_kind, StatusCode::BAD_REQUEST, "invalid_parameter");
    let too_big = server.get(&format!("/core/jml/plans/{id}/changes?page[size]=1001")).await?;
    assert_error(&too_big, StatusCode::BAD_REQUEST, "invalid_parameter");
    let both = server.get(&format!("/core/jml/plans/{id}/changes?page[after]=2&page[number]=2")).await?;
    assert_error(&both, StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_error(&server.get("/core/jml/plans/999999/changes").await?, StatusCode::NOT_FOUND, "not_found");
});

api_test!(changes_default_page_size, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let (id, planned) = plan(&server, sales_feed(150).as_bytes(), &mapping, &policy, false).await?;
    assert_eq!(planned["changes"].as_array().map(Vec::len), Some(150));

    let page = server.get(&format!("/core/jml/plans/{id}/changes")).await?;
    assert_eq!(page.data_items().len(), 100, "100 changes per page unless page[size] says otherwise");
    assert_eq!(page.body["meta"]["page_size"], 100);
    let next = page.body["links"]["next"].as_str().context("a second page")?.to_string();
    let rest = server.get(&next).await?;
    assert_eq!(rest.data_items().len(), 50);
    assert!(rest.body["links"]["next"].is_null());
});

api_test!(changes_need_scope, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    let policy = example("synthetic-policy.toml")?;
    let (id, _) = plan(&server, sales_feed(1).as_bytes(), &mapping, &policy, false).await?;
    put_toml(&server, "mappings", "hr", &mapping).await?;

    let auditor = server.create_cli_token("auditor", &["audit:read"]).await?;
    let reader = server.create_cli_token("reader", &["users:read"]).await?;
    for path in [format!("/core/jml/plans/{id}/changes"), "/core/jml/mappings".into(), "/core/jml/mappings/hr".into()] {
        let anonymous = server.send(server.request_anonymous(Method::GET, &path)).await?;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
        let forbidden = server.send(server.request_as(&auditor, Method::GET, &path)).await?;
        assert_error(&forbidden, StatusCode::FORBIDDEN, "forbidden");
        let allowed = server.send(server.request_as(&reader, Method::GET, &path)).await?;
        assert_eq!(allowed.status, StatusCode::OK, "{path}: {}", allowed.describe());
    }

    let put = server
        .send(server.request_as(&reader, Method::PUT, "/core/jml/mappings/hr").header("Content-Type", "application/toml").body("key ="))
        .await?;
    assert_error(&put, StatusCode::FORBIDDEN, "forbidden");
    let delete = server.send(server.request_as(&reader, Method::DELETE, "/core/jml/mappings/hr")).await?;
    assert_error(&delete, StatusCode::FORBIDDEN, "forbidden");
    let anonymous_put = server.send(server.request_anonymous(Method::PUT, "/core/jml/policies/p")).await?;
    assert_error(&anonymous_put, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(server.get("/core/jml/mappings/hr").await?.attr("version"), 1, "the reader changed nothing");
});

api_test!(export_import_carries_configs, |server| {
    let mapping = example("synthetic-mapping.toml")?;
    put_toml(&server, "mappings", "hr", &mapping).await?;
    put_toml(&server, "mappings", "hr", &format!("{mapping}\n# v2\n")).await?;
    put_toml(&server, "policies", "birthright", &example("synthetic-policy.toml")?).await?;

    let export = server.data_dir().join("configs-export.jsonl");
    let exported = server.cli(&["export", "--output", &export.display().to_string()]).await?;
    assert!(exported.status.success(), "export failed: {}", String::from_utf8_lossy(&exported.stderr));
    let text = std::fs::read_to_string(&export)?;
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("\"table\":\"jml_configs\"")).collect();
    assert_eq!(rows.len(), 2, "one row per stored file: {text}");

    // Into a new SQLite database, then out again: the rows come back unchanged.
    let target = tempfile::tempdir()?;
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["import", "--input"])
        .arg(&export)
        .arg("--data-dir")
        .arg(target.path())
        .env_remove("ROSTER_DATABASE_URL")
        .output()?;
    assert!(import.status.success(), "import failed: {}", String::from_utf8_lossy(&import.stderr));
    let again = target.path().join("again.jsonl");
    let reexport = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["export", "--output"])
        .arg(&again)
        .arg("--data-dir")
        .arg(target.path())
        .env_remove("ROSTER_DATABASE_URL")
        .output()?;
    assert!(reexport.status.success(), "export of the import failed: {}", String::from_utf8_lossy(&reexport.stderr));
    let again_text = std::fs::read_to_string(&again)?;
    let again_rows: Vec<&str> = again_text.lines().filter(|l| l.contains("\"table\":\"jml_configs\"")).collect();
    assert_eq!(again_rows, rows);
});
