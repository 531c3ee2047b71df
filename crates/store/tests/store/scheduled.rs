//! Scheduled actions: filtered lists, pages and counts.

use crate::common::{at, insert_user, user};
use roster_store::ScheduledQuery;
use serde_json::json;

store_test!(list_filters_by_status_user_kind, |db| {
    let ada = insert_user(&db.store, &user("ada")).await?;
    let bob = insert_user(&db.store, &user("bob")).await?;
    let created = at("2026-01-01T00:00:00Z");

    let mut tx = db.store.begin().await?;
    let first = tx.insert_scheduled_action("expire_role", ada.id, &json!({"role_type_id": 1}), at("2026-02-01T00:00:00Z"), created, "tester").await?;
    let second = tx.insert_scheduled_action("archive_user", ada.id, &json!({}), at("2026-03-01T00:00:00Z"), created, "tester").await?;
    let third = tx.insert_scheduled_action("expire_role", bob.id, &json!({"role_type_id": 2}), at("2026-04-01T00:00:00Z"), created, "tester").await?;
    assert!(tx.finish_scheduled_action(second, "cancelled", created, "cancelled by tester").await?, "a pending action should be cancellable");
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let all = conn.list_scheduled_actions(&ScheduledQuery { limit: 10, ..Default::default() }).await?;
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), vec![first, second, third], "an unfiltered list should hold every action in id order");

    let pending = ScheduledQuery { status: Some("pending".into()), limit: 10, ..Default::default() };
    let found = conn.list_scheduled_actions(&pending).await?;
    assert_eq!(found.iter().map(|a| a.id).collect::<Vec<_>>(), vec![first, third], "status=pending should leave out the cancelled action");
    assert_eq!(conn.count_scheduled_actions(&pending).await?, 2, "the count should match the pending list");

    let for_ada = ScheduledQuery { user_id: Some(ada.id), limit: 10, ..Default::default() };
    let found = conn.list_scheduled_actions(&for_ada).await?;
    assert_eq!(found.iter().map(|a| a.id).collect::<Vec<_>>(), vec![first, second], "user_id should select ada's actions only");

    let expiries = ScheduledQuery { kind: Some("expire_role".into()), user_id: Some(bob.id), limit: 10, ..Default::default() };
    let found = conn.list_scheduled_actions(&expiries).await?;
    assert_eq!(found.len(), 1, "kind and user_id together should select one action");
    assert_eq!(found[0].payload, json!({"role_type_id": 2}), "the payload should read back unchanged");
    assert_eq!(found[0].created_by, "tester", "created_by should read back unchanged");

    let cancelled = conn.scheduled_action(second).await?;
    assert_eq!(cancelled.as_ref().map(|a| a.status.as_str()), Some("cancelled"), "the cancelled action should be stored as cancelled");
    assert_eq!(cancelled.and_then(|a| a.result), Some("cancelled by tester".to_string()), "the cancellation should record its result");
});

store_test!(list_pages_by_keyset_and_offset, |db| {
    let owner = insert_user(&db.store, &user("paged")).await?;
    let created = at("2026-01-01T00:00:00Z");
    let mut ids = Vec::new();
    let mut tx = db.store.begin().await?;
    for day in 1..=5 {
        let due = at(&format!("2026-02-0{day}T00:00:00Z"));
        ids.push(tx.insert_scheduled_action("expire_role", owner.id, &json!({}), due, created, "tester").await?);
    }
    tx.commit().await?;

    let mut conn = db.store.read().await?;
    let first_page = conn.list_scheduled_actions(&ScheduledQuery { limit: 2, ..Default::default() }).await?;
    let after = first_page.last().map(|a| a.id);
    let second_page = conn.list_scheduled_actions(&ScheduledQuery { limit: 2, after_id: after, ..Default::default() }).await?;
    let by_offset = conn.list_scheduled_actions(&ScheduledQuery { limit: 2, offset: 2, ..Default::default() }).await?;

    assert_eq!(first_page.iter().map(|a| a.id).collect::<Vec<_>>(), ids[..2].to_vec(), "the first page should hold the first two ids");
    assert_eq!(second_page.iter().map(|a| a.id).collect::<Vec<_>>(), ids[2..4].to_vec(), "after_id should continue with the next two");
    assert_eq!(by_offset.iter().map(|a| a.id).collect::<Vec<_>>(), ids[2..4].to_vec(), "offset 2 should give the same page");
});

store_test!(finished_action_cannot_be_cancelled, |db| {
    let owner = insert_user(&db.store, &user("finished")).await?;
    let created = at("2026-01-01T00:00:00Z");
    let mut tx = db.store.begin().await?;
    let id = tx.insert_scheduled_action("expire_role", owner.id, &json!({}), created, created, "tester").await?;
    assert!(tx.finish_scheduled_action(id, "done", created, "revoked").await?, "the first finish should apply");
    let again = tx.finish_scheduled_action(id, "cancelled", created, "cancelled by tester").await?;
    tx.commit().await?;

    assert!(!again, "a done action should not change to cancelled");
    let stored = db.store.read().await?.scheduled_action(id).await?;
    assert_eq!(stored.map(|a| a.status), Some("done".to_string()), "the action should stay done");
});
