//! The `tokens` table. Only SHA-256 hashes of secrets are stored.

use crate::types::{DbTime, db_time, opt_time};
use crate::{Conn, Store, StoreError};
use roster_domain::{LifecycleState, NewTokenSpec, Scopes, Timestamp, TokenInfo};

macro_rules! token_columns {
    () => {
        "t.id, t.name, t.scopes, t.user_id, t.created_at, t.expires_at, t.revoked_at, t.disabled_at"
    };
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    scopes: String,
    user_id: Option<i64>,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    disabled_at: Option<DbTime>,
}

impl From<TokenRow> for TokenInfo {
    fn from(row: TokenRow) -> Self {
        TokenInfo {
            id: row.id,
            name: row.name,
            scopes: Scopes::from_stored(&row.scopes),
            user_id: row.user_id,
            created_at: row.created_at.0,
            expires_at: opt_time(row.expires_at),
            revoked_at: opt_time(row.revoked_at),
            disabled_at: opt_time(row.disabled_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct LookupRow {
    #[sqlx(flatten)]
    token: TokenRow,
    token_hash: String,
    owner_status: Option<String>,
}

const TOKEN_BY_HASH_SQL: &str = concat!(
    "SELECT ",
    token_columns!(),
    ", t.token_hash, u.status AS owner_status FROM tokens t LEFT JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1"
);

impl LookupRow {
    /// Reads the row as the synchronous SQLite reader returns it; the columns are those of the `FromRow` derive.
    fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            token: TokenRow {
                id: row.get("id")?,
                name: row.get("name")?,
                scopes: row.get("scopes")?,
                user_id: row.get("user_id")?,
                created_at: row.get("created_at")?,
                expires_at: row.get("expires_at")?,
                revoked_at: row.get("revoked_at")?,
                disabled_at: row.get("disabled_at")?,
            },
            token_hash: row.get("token_hash")?,
            owner_status: row.get("owner_status")?,
        })
    }

    fn into_lookup(self) -> TokenLookup {
        TokenLookup {
            token: self.token.into(),
            token_hash: self.token_hash,
            owner_status: self.owner_status.as_deref().and_then(LifecycleState::parse),
        }
    }
}

impl Store {
    /// Finds a token by the hash of its secret, as [`Conn::token_by_hash`] does, on the synchronous SQLite
    /// reader when there is one. It reads the database on every call too: nothing is cached.
    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenLookup>, StoreError> {
        let read = |c: &rusqlite::Connection| {
            let mut statement = c.prepare_cached(TOKEN_BY_HASH_SQL)?;
            let mut rows = statement.query([token_hash])?;
            rows.next()?.map(LookupRow::from_rusqlite).transpose()
        };
        if let Some(row) = self.point_read(read) {
            return Ok(row.map(LookupRow::into_lookup));
        }

        self.read().await?.token_by_hash(token_hash).await
    }
}

/// A token found by its hash, with its owner's state read in the same query.
#[derive(Debug, Clone)]
pub struct TokenLookup {
    pub token: TokenInfo,
    /// The stored hash, for the constant-time comparison the caller makes.
    pub token_hash: String,
    /// The owning user's lifecycle state, or `None` for a token without an owner.
    pub owner_status: Option<LifecycleState>,
}

impl Conn {
    pub async fn insert_token(&mut self, token_hash: &str, spec: &NewTokenSpec, created_at: Timestamp) -> Result<i64, StoreError> {
        let sql = "INSERT INTO tokens (name, token_hash, scopes, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        let id = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&spec.name)
                .bind(token_hash)
                .bind(spec.scopes.to_stored())
                .bind(spec.user_id)
                .bind(DbTime(created_at))
                .bind(db_time(spec.expires_at))
                .fetch_one(c)
                .await?
        });
        Ok(id)
    }

    /// Finds a token by the hash of its secret. Token validity is read here on every request, never cached, so
    /// a revocation or an owner's archive takes effect at once on every node.
    pub async fn token_by_hash(&mut self, token_hash: &str) -> Result<Option<TokenLookup>, StoreError> {
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, LookupRow>(TOKEN_BY_HASH_SQL).bind(token_hash).fetch_optional(c).await?
        });
        Ok(row.map(LookupRow::into_lookup))
    }

    pub async fn token_by_id(&mut self, id: i64) -> Result<Option<TokenInfo>, StoreError> {
        let sql = concat!("SELECT ", token_columns!(), " FROM tokens t WHERE t.id = $1");
        let row = with_conn!(self, |c| {
            sqlx::query_as::<_, TokenRow>(sql).bind(id).fetch_optional(c).await?
        });
        Ok(row.map(TokenInfo::from))
    }

    /// Lists tokens by id: all of them, or only those a user owns.
    pub async fn list_tokens(&mut self, user_id: Option<i64>) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = match user_id {
            Some(user_id) => {
                let sql = concat!("SELECT ", token_columns!(), " FROM tokens t WHERE t.user_id = $1 ORDER BY t.id");
                with_conn!(self, |c| {
                    sqlx::query_as::<_, TokenRow>(sql).bind(user_id).fetch_all(c).await?
                })
            }
            None => {
                let sql = concat!("SELECT ", token_columns!(), " FROM tokens t ORDER BY t.id");
                with_conn!(self, |c| {
                    sqlx::query_as::<_, TokenRow>(sql).fetch_all(c).await?
                })
            }
        };
        Ok(rows.into_iter().map(TokenInfo::from).collect())
    }

    /// Revokes a token that is not yet revoked; returns false when there was nothing to revoke.
    pub async fn revoke_token(&mut self, id: i64, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let rows = with_conn!(self, |c| {
            sqlx::query(sql).bind(DbTime(at)).bind(id).execute(c).await?.rows_affected()
        });
        Ok(rows == 1)
    }

    /// Disables every working token a user owns and returns their ids.
    pub async fn disable_user_tokens(&mut self, user_id: i64, at: Timestamp) -> Result<Vec<i64>, StoreError> {
        let sql = "UPDATE tokens SET disabled_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND disabled_at IS NULL \
             RETURNING id";
        let ids = with_conn!(self, |c| {
            sqlx::query_scalar::<_, i64>(sql).bind(DbTime(at)).bind(user_id).fetch_all(c).await?
        });
        Ok(ids)
    }
}
