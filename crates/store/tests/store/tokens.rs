//! API tokens: lookup by hash with the owner's state, revocation and disabling.

use crate::common::{at, insert_user, user};
use roster_domain::{LifecycleState, NewTokenSpec, Scope, Scopes, User};
use roster_store::{Store, StoreError, UniqueField};

fn spec(name: &str, user_id: Option<i64>) -> NewTokenSpec {
    NewTokenSpec {
        name: name.to_string(),
        scopes: Scopes::new(vec![Scope::UsersRead, Scope::AuditRead]),
        user_id,
        expires_at: Some(at("2027-01-01T00:00:00.000001Z")),
    }
}

async fn insert_token(store: &Store, hash: &str, spec: &NewTokenSpec) -> anyhow::Result<i64> {
    let mut tx = store.begin().await?;
    let id = tx.insert_token(hash, spec, at("2026-01-01T00:00:00.123456Z")).await?;
    tx.commit().await?;
    Ok(id)
}

store_test!(token_lookup_reads_owner_status, |db| {
    let owner = insert_user(&db.store, &user("owner")).await?;
    let token_spec = spec("deploy bot", Some(owner.id));
    let id = insert_token(&db.store, "hash-owner", &token_spec).await?;

    let found = db.store.read().await?.token_by_hash("hash-owner").await?;
    let found =
        found.ok_or_else(|| anyhow::anyhow!("the token inserted with hash-owner was not found by that hash"))?;
    assert_eq!(found.token.id, id, "the lookup should return the inserted token");
    assert_eq!(found.token_hash, "hash-owner", "the lookup should return the stored hash for comparison");
    assert_eq!(found.token.name, token_spec.name, "the token's name should read back unchanged");
    assert_eq!(found.token.scopes, token_spec.scopes, "the token's scopes should read back unchanged");
    assert_eq!(found.token.user_id, Some(owner.id), "the token's owner should read back unchanged");
    assert_eq!(found.token.created_at, at("2026-01-01T00:00:00.123456Z"), "created_at should keep its microseconds");
    assert_eq!(found.token.expires_at, token_spec.expires_at, "expires_at should keep its microseconds");
    assert_eq!(found.owner_status, Some(LifecycleState::Active), "the owner is active");

    let suspended = User { status: LifecycleState::Suspended, ..owner };
    let mut tx = db.store.begin().await?;
    tx.update_user(&suspended, 1).await?;
    tx.commit().await?;

    let found = db.store.read().await?.token_by_hash("hash-owner").await?;
    assert_eq!(
        found.and_then(|f| f.owner_status),
        Some(LifecycleState::Suspended),
        "the lookup should read the owner's current state, which is now suspended"
    );
});

store_test!(token_without_owner, |db| {
    insert_token(&db.store, "hash-service", &spec("service", None)).await?;

    let found = db.store.read().await?.token_by_hash("hash-service").await?;
    let found = found.ok_or_else(|| anyhow::anyhow!("the token inserted with hash-service was not found"))?;
    assert_eq!(found.owner_status, None, "a token without an owner should have no owner state");
});

store_test!(unknown_hash_finds_nothing, |db| {
    insert_token(&db.store, "hash-known", &spec("known", None)).await?;

    let found = db.store.read().await?.token_by_hash("hash-unknown").await?;
    assert!(found.is_none(), "a hash that was never stored should find no token");
});

store_test!(duplicate_hash_is_rejected, |db| {
    insert_token(&db.store, "hash-twice", &spec("first", None)).await?;

    let mut tx = db.store.begin().await?;
    let result = tx.insert_token("hash-twice", &spec("second", None), at("2026-01-02T00:00:00Z")).await;
    assert!(
        matches!(result, Err(StoreError::Unique(UniqueField::TokenHash))),
        "a second token with the same hash should fail with Unique(TokenHash), but got {result:?}"
    );
});

store_test!(revoke_token_once, |db| {
    let id = insert_token(&db.store, "hash-revoke", &spec("revoked", None)).await?;
    let revoked_at = at("2026-02-02T02:02:02.000202Z");

    let mut tx = db.store.begin().await?;
    let first = tx.revoke_token(id, revoked_at).await?;
    let second = tx.revoke_token(id, at("2026-03-03T00:00:00Z")).await?;
    tx.commit().await?;
    assert!(first, "revoking a working token should succeed");
    assert!(!second, "revoking an already revoked token should report nothing to revoke");

    let found = db.store.read().await?.token_by_hash("hash-revoke").await?;
    assert_eq!(
        found.and_then(|f| f.token.revoked_at),
        Some(revoked_at),
        "the lookup should show the first revocation's time"
    );
});

store_test!(disable_user_tokens_skips_revoked, |db| {
    let owner = insert_user(&db.store, &user("owner")).await?;
    let other = insert_user(&db.store, &user("other")).await?;
    let first = insert_token(&db.store, "hash-1", &spec("one", Some(owner.id))).await?;
    let revoked = insert_token(&db.store, "hash-2", &spec("two", Some(owner.id))).await?;
    let third = insert_token(&db.store, "hash-3", &spec("three", Some(owner.id))).await?;
    let others = insert_token(&db.store, "hash-4", &spec("four", Some(other.id))).await?;
    let disabled_at = at("2026-05-05T05:05:05.000005Z");

    let mut tx = db.store.begin().await?;
    tx.revoke_token(revoked, at("2026-05-01T00:00:00Z")).await?;
    let mut disabled = tx.disable_user_tokens(owner.id, disabled_at).await?;
    let disabled_again = tx.disable_user_tokens(owner.id, disabled_at).await?;
    tx.commit().await?;

    disabled.sort();
    assert_eq!(disabled, vec![first, third], "only the owner's working tokens should be disabled");
    assert!(disabled_again.is_empty(), "a second call should find no working token, but disabled {disabled_again:?}");

    let mut conn = db.store.read().await?;
    let first_token = conn.token_by_id(first).await?;
    assert_eq!(first_token.and_then(|t| t.disabled_at), Some(disabled_at), "a disabled token should carry disabled_at");

    let revoked_token = conn.token_by_id(revoked).await?;
    assert_eq!(revoked_token.and_then(|t| t.disabled_at), None, "a revoked token should not be disabled as well");

    let others_token = conn.token_by_id(others).await?;
    assert_eq!(others_token.and_then(|t| t.disabled_at), None, "another user's token should stay working");
});
