//! Who is acting: the authenticated token (or the CLI or the system) and the request it serves.

use roster_domain::{Scope, Scopes};

use crate::error::{Result, ServiceError};

/// The caller of a service operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub token_id: Option<i64>,
    /// The token's name, or `cli` or `system`; recorded in audit entries and as the default approver.
    pub name: String,
    pub scopes: Scopes,
    /// The user who owns the token, if any.
    pub user_id: Option<i64>,
    /// The request id, recorded in audit entries and logs.
    pub request_id: Option<String>,
}

impl Actor {
    /// The command line, acting directly on the database with full rights.
    pub fn cli() -> Self {
        Self { token_id: None, name: "cli".into(), scopes: Scopes::new(vec![Scope::Admin]), user_id: None, request_id: None }
    }

    /// The server itself, for bootstrapping and scheduled work.
    pub fn system() -> Self {
        Self {
            token_id: None,
            name: "system".into(),
            scopes: Scopes::new(vec![Scope::Admin]),
            user_id: None,
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Fails with `Forbidden` unless the actor holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.allows(scope) { Ok(()) } else { Err(ServiceError::Forbidden(scope)) }
    }
}
