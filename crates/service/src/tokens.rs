//! API tokens: creation, authentication, listing and revocation.
//!
//! A secret is `rst_` followed by 32 random bytes in URL-safe base64 (256 bits). Only its SHA-256 is stored;
//! a slow password hash is unnecessary for random secrets of this size and would cost every request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_domain::user::{MAX_TEXT_LEN, check_text};
use roster_domain::{AuditEntry, Change, Changes, LifecycleState, NewTokenSpec, Scope, TokenInfo, UserRef};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Roster;
use roster_store::Conn;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};

const SECRET_PREFIX: &str = "rst_";
const SECRET_BYTES: usize = 32;
/// The longest lifetime `--expires-in` accepts: about ten years.
pub const MAX_TOKEN_DAYS: i64 = 3660;

/// A new token: its stored metadata and the secret, which is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub info: TokenInfo,
    pub secret: String,
}

/// Hashes a secret for storage and lookup.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn generate_secret() -> Result<String> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| ServiceError::Internal(format!("no random source: {e}")))?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What a token request asks for, before validation.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub name: String,
    pub scopes: Vec<String>,
    pub user: Option<UserRef>,
    pub expires_in_days: Option<i64>,
}

impl Roster {
    /// Authenticates a bearer secret. The token and its owner's state are read from the database on every call.
    pub async fn authenticate(&self, secret: &str, request_id: Option<String>) -> Result<Actor> {
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 128 {
            return Err(ServiceError::Unauthorized("unknown token"));
        }
        let hash = hash_secret(secret);

        let Some(found) = self.store.token_by_hash(&hash).await? else {
            return Err(ServiceError::Unauthorized("unknown token"));
        };

        // The lookup matched on the hash already; comparing again in constant time keeps timing from depending
        // on how much of a guessed hash matched, should the lookup ever become a prefix or range scan.
        if !bool::from(found.token_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(ServiceError::Unauthorized("unknown token"));
        }
        if let Some(reason) = found.token.inactive_reason(self.clock.now()) {
            return Err(ServiceError::Unauthorized(reason));
        }
        if found.token.user_id.is_some() && found.owner_status != Some(LifecycleState::Active) {
            return Err(ServiceError::Unauthorized("the token's owner is not active (pending, suspended, archived or deleted)"));
        }

        Ok(Actor {
            token_id: Some(found.token.id),
            name: found.token.name,
            scopes: found.token.scopes,
            user_id: found.token.user_id,
            request_id,
        })
    }

    /// Creates a token and returns its secret once. Requires `admin`.
    pub async fn create_token(&self, actor: &Actor, request: TokenRequest) -> Result<CreatedToken> {
        actor.require(Scope::Admin)?;

        let mut conn = self.store.begin().await?;
        let created = self.insert_token_in(&mut conn, actor, request).await?;
        conn.commit().await?;

        tracing::info!(token_id = created.info.id, "created token");
        Ok(created)
    }

    /// Validates a token request and stores the token with its audit entry inside `conn`'s transaction.
    pub(crate) async fn insert_token_in(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        request: TokenRequest,
    ) -> Result<CreatedToken> {
        let now = self.clock.now();
        let scopes = parse_scopes(&request.scopes)?;
        check_text("name", &request.name, MAX_TEXT_LEN)?;
        let expires_at = match request.expires_in_days {
            None => None,
            Some(days) if (1..=MAX_TOKEN_DAYS).contains(&days) => now.checked_add(time::Duration::days(days)),
            Some(days) => {
                return Err(ServiceError::field(
                    "expires_in_days",
                    "invalid",
                    format!("{days} is out of range; give a number of days from 1 to {MAX_TOKEN_DAYS}"),
                ));
            }
        };
        let user_id = match &request.user {
            Some(user_ref) => {
                let user = self.load_user(conn, user_ref, false).await?;
                if user.status != LifecycleState::Active {
                    return Err(ServiceError::Conflict {
                        code: "invalid_state",
                        message: format!("user {} is {}; only active users can own working tokens", user.id, user.status),
                        details: serde_json::Value::Null,
                    });
                }
                Some(user.id)
            }
            None => None,
        };

        let spec = NewTokenSpec { name: request.name, scopes, user_id, expires_at };
        let secret = generate_secret()?;
        let id = conn.insert_token(&hash_secret(&secret), &spec, now).await?;

        let created = |value: serde_json::Value| Change { before: serde_json::Value::Null, after: value };
        let mut changes = Changes::new();
        changes.insert("name".into(), created(spec.name.clone().into()));
        changes.insert("scopes".into(), created(spec.scopes.to_stored().into()));
        changes.insert("user_id".into(), created(spec.user_id.map_or(serde_json::Value::Null, Into::into)));
        changes.insert(
            "expires_at".into(),
            created(spec.expires_at.map_or(serde_json::Value::Null, |t| t.canonical().into())),
        );
        conn.append_audit(&self.audit_entry(actor, "token.create", "token", Some(id.to_string()), changes)).await?;

        let info = TokenInfo {
            id,
            name: spec.name,
            scopes: spec.scopes,
            user_id: spec.user_id,
            created_at: now,
            expires_at: spec.expires_at,
            revoked_at: None,
            disabled_at: None,
        };
        Ok(CreatedToken { info, secret })
    }

    /// Lists tokens, optionally only those of one user. Requires `admin`.
    pub async fn list_tokens(&self, actor: &Actor, user: Option<&UserRef>) -> Result<Vec<TokenInfo>> {
        actor.require(Scope::Admin)?;

        let mut conn = self.store.read().await?;
        let user_id = match user {
            Some(user_ref) => Some(self.load_user(&mut conn, user_ref, true).await?.id),
            None => None,
        };
        Ok(conn.list_tokens(user_id).await?)
    }

    /// Revokes a token; when `owner` is given, the token must belong to that user. Requires `admin`.
    pub async fn revoke_token(&self, actor: &Actor, id: i64, owner: Option<&UserRef>) -> Result<TokenInfo> {
        actor.require(Scope::Admin)?;
        let now = self.clock.now();

        let mut conn = self.store.begin().await?;
        let token = conn.token_by_id(id).await?.ok_or_else(|| ServiceError::not_found("token", id))?;
        if let Some(owner) = owner {
            let user = self.load_user(&mut conn, owner, true).await?;
            if token.user_id != Some(user.id) {
                return Err(ServiceError::not_found("token", id));
            }
        }
        if token.revoked_at.is_some() {
            return Ok(token);
        }

        conn.revoke_token(id, now).await?;
        let mut changes = Changes::new();
        changes.insert(
            "revoked_at".into(),
            Change { before: serde_json::Value::Null, after: now.canonical().into() },
        );
        conn.append_audit(&self.audit_entry(actor, "token.revoke", "token", Some(id.to_string()), changes)).await?;
        conn.commit().await?;

        tracing::info!(token_id = id, "revoked token");
        Ok(TokenInfo { revoked_at: Some(now), ..token })
    }

    pub(crate) fn audit_entry(
        &self,
        actor: &Actor,
        action: &str,
        target_type: &str,
        target_id: Option<String>,
        changes: Changes,
    ) -> AuditEntry {
        AuditEntry {
            created_at: self.clock.now(),
            actor_token_id: actor.token_id,
            actor_name: actor.name.clone(),
            action: action.into(),
            target_type: target_type.into(),
            target_id,
            changes,
            request_id: actor.request_id.clone(),
        }
    }
}

fn parse_scopes(names: &[String]) -> Result<roster_domain::Scopes> {
    if names.is_empty() {
        return Err(ServiceError::field("scopes", "blank", format!("give at least one scope of: {}", Scope::names())));
    }
    let mut scopes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match Scope::parse(name) {
            Some(scope) => scopes.push(scope),
            None => {
                return Err(ServiceError::field(
                    format!("scopes/{i}"),
                    "invalid",
                    format!("unknown scope {name:?}; valid scopes are {}", Scope::names()),
                ));
            }
        }
    }
    Ok(roster_domain::Scopes::new(scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_has_256_bits() {
        let secret = generate_secret().unwrap_or_default();
        let encoded = secret.trim_start_matches(SECRET_PREFIX);
        assert_eq!(URL_SAFE_NO_PAD.decode(encoded).map(|b| b.len()).ok(), Some(32));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(hash_secret("abc").len(), 64);
        assert_ne!(hash_secret("abc"), hash_secret("abd"));
    }
}
