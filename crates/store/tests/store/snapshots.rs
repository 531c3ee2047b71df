//! Snapshots of archived users.

use crate::common::{at, insert_user, user};
use serde_json::json;

store_test!(latest_snapshot_round_trips, |db| {
    let owner = insert_user(&db.store, &user("archived")).await?;
    let attributes = json!({"last_name": "Müller", "custom_attributes": {"cost_centre": "CC-1"}, "manager_id": null});
    let roles = json!([{"role_type_id": 1, "resource_id": "7", "expires_at": "2026-12-31T23:59:59.999999Z"}]);

    let mut tx = db.store.begin().await?;
    tx.insert_snapshot(owner.id, at("2026-01-01T00:00:00.000001Z"), &json!({"old": true}), &json!([])).await?;
    let latest_id = tx.insert_snapshot(owner.id, at("2026-02-01T00:00:00.000002Z"), &attributes, &roles).await?;
    tx.commit().await?;

    let latest = db.store.read().await?.latest_snapshot(owner.id).await?;
    let latest = latest.ok_or_else(|| anyhow::anyhow!("the user with two snapshots has no latest snapshot"))?;
    assert_eq!(latest.id, latest_id, "the latest snapshot should be the one inserted last");
    assert_eq!(latest.taken_at, at("2026-02-01T00:00:00.000002Z"), "taken_at should keep its microseconds");
    assert_eq!(latest.attributes, attributes, "the attributes JSON should read back unchanged");
    assert_eq!(latest.roles, roles, "the roles JSON should read back unchanged");
    assert_eq!(latest.restored_at, None, "a new snapshot should not be restored");
});

store_test!(snapshot_marked_restored, |db| {
    let owner = insert_user(&db.store, &user("restored")).await?;
    let restored_at = at("2026-03-03T03:03:03.000303Z");

    let mut tx = db.store.begin().await?;
    let id = tx.insert_snapshot(owner.id, at("2026-03-01T00:00:00Z"), &json!({}), &json!([])).await?;
    tx.mark_snapshot_restored(id, restored_at).await?;
    tx.commit().await?;

    let latest = db.store.read().await?.latest_snapshot(owner.id).await?;
    assert_eq!(latest.and_then(|s| s.restored_at), Some(restored_at), "the snapshot should carry its restore time");
});

store_test!(user_without_snapshot, |db| {
    let owner = insert_user(&db.store, &user("never-archived")).await?;

    let latest = db.store.read().await?.latest_snapshot(owner.id).await?;
    assert_eq!(latest, None, "a user that was never archived should have no snapshot");
});
