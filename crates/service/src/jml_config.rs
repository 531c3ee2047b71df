//! JML mappings and policies stored on the server by name. A plan can name them instead of uploading the files,
//! and the database stores them, so every node of a deployment reads the same ones.

use roster_domain::Scope;
use roster_jml::{Mapping, Policy};
use roster_store::{Conn, JmlConfigRecord, PlanConfigRef};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Roster;
use crate::actor::Actor;
use crate::error::{Result, ServiceError};

/// The maximum length of a stored mapping or policy name, in characters.
pub const MAX_CONFIG_NAME_LEN: usize = 64;

/// The kind of a stored configuration file: a mapping or a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JmlConfigKind {
    Mapping,
    Policy,
}

impl JmlConfigKind {
    /// Returns the value of the `kind` column, which is also the name of the plan upload's part.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapping => "mapping",
            Self::Policy => "policy",
        }
    }

    /// Returns the collection's path segment under `/core/jml`.
    pub fn collection(self) -> &'static str {
        match self {
            Self::Mapping => "mappings",
            Self::Policy => "policies",
        }
    }

    /// Returns the audit trail's target type.
    fn target_type(self) -> &'static str {
        match self {
            Self::Mapping => "jml_mapping",
            Self::Policy => "jml_policy",
        }
    }

    /// Parses the text as a plan does, so a stored file that a plan would reject is never stored. A policy's
    /// roles are checked against the role catalogue only when a plan uses it, since the catalogue may change.
    fn check(self, body: &str) -> Result<()> {
        let parsed = match self {
            Self::Mapping => Mapping::parse(body).map(|_| ()),
            Self::Policy => Policy::parse(body).map(|_| ()),
        };
        parsed.map_err(|e| ServiceError::field("body", "invalid", format!("is not a valid {}: {e}", self.as_str())))
    }
}

/// A mapping or policy of a plan request: the uploaded text, or the name of a stored one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    Text(String),
    Stored(String),
}

/// The outcome of storing a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutConfig {
    pub config: JmlConfigRecord,
    /// True when no configuration of that name existed before.
    pub created: bool,
}

/// Returns the hex SHA-256 of a configuration text.
pub fn config_sha256(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Checks a name against `[a-z0-9][a-z0-9._-]{0,63}`, a pattern that is safe in a URL path, a file name and a
/// shell without quoting.
pub fn check_config_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= MAX_CONFIG_NAME_LEN {
        return Ok(());
    }
    Err(ServiceError::field(
        "name",
        "invalid",
        format!(
            "{name:?} is not a valid name; use 1 to {MAX_CONFIG_NAME_LEN} characters of a-z, 0-9, '.', '_' and '-', \
             starting with a letter or digit"
        ),
    ))
}

fn config_json(config: &JmlConfigRecord) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("body".into(), config.body.clone().into());
    map.insert("version".into(), config.version.into());
    map.insert("sha256".into(), config.sha256.clone().into());
    map
}

impl Roster {
    /// Stores a mapping or policy under a name, creating it or replacing its body. The text must parse as a plan
    /// would parse it. Storing the text it already has changes nothing. Requires `users:write`, as planning does.
    pub async fn put_jml_config(&self, actor: &Actor, kind: JmlConfigKind, name: &str, body: String) -> Result<PutConfig> {
        actor.require(Scope::UsersWrite)?;
        check_config_name(name)?;
        kind.check(&body)?;

        let put = crate::retry_while_changed(kind.as_str(), "put", || self.try_put_jml_config(actor, kind, name, &body)).await?;

        tracing::info!(kind = kind.as_str(), name, version = put.config.version, created = put.created, "stored JML configuration");
        Ok(put)
    }

    /// Makes one attempt of [`Self::put_jml_config`]. Returns `None` when a concurrent request changed the same name
    /// first.
    async fn try_put_jml_config(&self, actor: &Actor, kind: JmlConfigKind, name: &str, body: &str) -> Result<Option<PutConfig>> {
        let now = self.clock.now();
        let mut conn = self.store.begin().await?;
        let current = conn.jml_config(kind.as_str(), name).await?;
        let sha256 = config_sha256(body);
        if let Some(current) = &current
            && current.sha256 == sha256
        {
            return Ok(Some(PutConfig { config: current.clone(), created: false }));
        }

        let mut next = JmlConfigRecord {
            id: current.as_ref().map_or(0, |c| c.id),
            kind: kind.as_str().to_string(),
            name: name.to_string(),
            body: body.to_string(),
            version: current.as_ref().map_or(1, |c| c.version + 1),
            sha256,
            created_at: current.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
            updated_by: actor.name.clone(),
        };
        let written = match &current {
            None => conn.insert_jml_config(&next).await?.map(|id| next.id = id).is_some(),
            Some(current) => conn.update_jml_config(&next, current.version).await?,
        };
        if !written {
            return Ok(None);
        }

        let before = current.as_ref().map(config_json).unwrap_or_default();
        let changes = roster_domain::audit::diff(&before, &config_json(&next));
        let action = format!("{}.{}", kind.target_type(), if current.is_none() { "create" } else { "update" });
        conn.append_audit(&self.audit_entry(actor, &action, kind.target_type(), Some(name.to_string()), changes)).await?;
        conn.commit().await?;
        Ok(Some(PutConfig { config: next, created: current.is_none() }))
    }

    /// Lists the stored configurations of one kind by name. Requires `users:read`, as reading a plan does.
    pub async fn list_jml_configs(&self, actor: &Actor, kind: JmlConfigKind) -> Result<Vec<JmlConfigRecord>> {
        actor.require(Scope::UsersRead)?;
        let mut conn = self.store.read().await?;
        Ok(conn.jml_configs(kind.as_str()).await?)
    }

    /// Loads one stored configuration. Requires `users:read`.
    pub async fn get_jml_config(&self, actor: &Actor, kind: JmlConfigKind, name: &str) -> Result<JmlConfigRecord> {
        actor.require(Scope::UsersRead)?;
        let mut conn = self.store.read().await?;
        conn.jml_config(kind.as_str(), name).await?.ok_or_else(|| ServiceError::not_found(kind.as_str(), name))
    }

    /// Deletes a stored configuration with its audit entry. Plans made with it keep the name, version and hash
    /// they recorded. Requires `users:write`.
    pub async fn delete_jml_config(&self, actor: &Actor, kind: JmlConfigKind, name: &str) -> Result<()> {
        actor.require(Scope::UsersWrite)?;
        let mut conn = self.store.begin().await?;
        let deleted = conn.delete_jml_config(kind.as_str(), name).await?.ok_or_else(|| ServiceError::not_found(kind.as_str(), name))?;

        let changes = roster_domain::audit::diff(&config_json(&deleted), &Map::new());
        let action = format!("{}.delete", kind.target_type());
        conn.append_audit(&self.audit_entry(actor, &action, kind.target_type(), Some(name.to_string()), changes)).await?;
        conn.commit().await?;
        tracing::info!(kind = kind.as_str(), name, "deleted JML configuration");
        Ok(())
    }

    /// Resolves a plan request's mapping or policy to its text and the reference the plan records. An unknown
    /// name fails as a field error on the part that named it, such as `mapping_name`.
    pub(crate) async fn resolve_config(&self, conn: &mut Conn, kind: JmlConfigKind, source: ConfigSource) -> Result<(String, PlanConfigRef)> {
        match source {
            ConfigSource::Text(text) => {
                let reference = PlanConfigRef { name: None, version: None, sha256: config_sha256(&text) };
                Ok((text, reference))
            }
            ConfigSource::Stored(name) => {
                let part = format!("{}_name", kind.as_str());
                let stored = conn.jml_config(kind.as_str(), &name).await?.ok_or_else(|| {
                    ServiceError::field(
                        part.clone(),
                        "not_found",
                        format!(
                            "names {name:?}, which is not a stored {kind}; store it with PUT /core/jml/{}/{name} or \
                             upload the file as the {kind} part",
                            kind.collection(),
                            kind = kind.as_str()
                        ),
                    )
                })?;
                let reference = PlanConfigRef { name: Some(stored.name), version: Some(stored.version), sha256: stored.sha256 };
                Ok((stored.body, reference))
            }
        }
    }
}
