//! The settings table, which nodes use to elect the one that bootstraps.

store_test!(setting_inserted_once, |db| {
    let mut tx = db.store.begin().await?;
    let first = tx.insert_setting_if_absent("bootstrapped", "node-a").await?;
    let second = tx.insert_setting_if_absent("bootstrapped", "node-b").await?;
    tx.commit().await?;
    assert!(first, "the first insert of a setting should report that it inserted it");
    assert!(!second, "a second insert of the same setting should report that it inserted nothing");

    let value = db.store.read().await?.setting("bootstrapped").await?;
    assert_eq!(value.as_deref(), Some("node-a"), "the second insert should keep the first value");
});

store_test!(missing_setting_is_none, |db| {
    let value = db.store.read().await?.setting("never-set").await?;
    assert_eq!(value, None, "a setting that was never inserted should read as None");
});

store_test!(concurrent_inserts_elect_one, |db| {
    const NODES: usize = 10;

    let mut tasks = Vec::new();
    for node in 0..NODES {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await?;
            let inserted = tx.insert_setting_if_absent("leader", &format!("node-{node}")).await?;
            tx.commit().await?;
            anyhow::Ok(inserted)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await?? {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one of {NODES} concurrent inserts of the same setting should win");
});
