//! What Keystone says about a token (`GET /v3/auth/tokens` and `POST /v3/auth/tokens`
//! bodies), reduced to what a request context needs.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A token Keystone vouched for: who, in which scope, with which roles, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id.
    pub user_id: String,
    /// The user's name, for log lines.
    pub user_name: String,
    /// The project the token is scoped to; `None` for a system, domain or unscoped token.
    pub project_id: Option<String>,
    /// That project's name, for the console's header.
    pub project_name: Option<String>,
    /// Whether the token is scoped to the whole system (`"system": {"all": true}`).
    pub system_scope: bool,
    /// Role names, lower case, implied roles included (Keystone expands them).
    pub roles: Vec<String>,
    /// When Keystone stops honouring the token.
    pub expires_at: DateTime<Utc>,
}

impl Identity {
    /// Whether it holds one of `wanted` (lower case).
    pub fn has_any_role(&self, wanted: &[String]) -> bool {
        self.roles.iter().any(|r| wanted.iter().any(|w| w == r))
    }
}

#[derive(Deserialize)]
struct Body {
    token: Token,
}

#[derive(Deserialize)]
struct Token {
    expires_at: DateTime<Utc>,
    user: Named,
    project: Option<Named>,
    system: Option<serde_json::Value>,
    #[serde(default)]
    roles: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    #[serde(default)]
    name: String,
}

/// Parses a token body (`{"token": {...}}`) as Keystone's v3 API returns it.
pub fn parse(body: &[u8]) -> Result<Identity, serde_json::Error> {
    let Body { token } = serde_json::from_slice(body)?;
    let (project_id, project_name) = match token.project {
        Some(p) => (Some(p.id), Some(p.name).filter(|n| !n.is_empty())),
        None => (None, None),
    };
    let mut roles: Vec<String> = token
        .roles
        .into_iter()
        .map(|r| r.name.to_lowercase())
        .collect();
    roles.sort();
    roles.dedup();
    Ok(Identity {
        user_id: token.user.id,
        user_name: token.user.name,
        project_id,
        project_name,
        system_scope: token
            .system
            .as_ref()
            .and_then(|s| s.get("all"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        roles,
        expires_at: token.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_project_token_gives_its_user_project_and_roles() -> Result<(), serde_json::Error> {
        let body = br#"{"token": {"methods": ["password"], "expires_at": "2030-01-02T03:04:05.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "0a0a", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "Member"}, {"id": "r2", "name": "reader"}],
            "is_domain": false, "audit_ids": ["x"], "issued_at": "2030-01-02T02:04:05.000000Z"}}"#;
        let id = parse(body)?;
        assert_eq!(id.user_id, "u1");
        assert_eq!(id.project_id.as_deref(), Some("0a0a"));
        assert_eq!(id.project_name.as_deref(), Some("demo"));
        assert_eq!(id.roles, ["member", "reader"]);
        assert!(!id.system_scope);
        assert_eq!(id.expires_at.to_rfc3339(), "2030-01-02T03:04:05+00:00");
        Ok(())
    }

    #[test]
    fn a_system_token_has_no_project() -> Result<(), serde_json::Error> {
        let body = br#"{"token": {"expires_at": "2030-01-02T03:04:05Z", "user": {"id": "u1", "name": "admin"},
            "system": {"all": true}, "roles": [{"id": "r", "name": "admin"}]}}"#;
        let id = parse(body)?;
        assert!(id.system_scope);
        assert_eq!(id.project_id, None);
        Ok(())
    }

    #[test]
    fn a_body_without_expiry_or_user_is_refused() {
        assert!(parse(br#"{"token": {"user": {"id": "u"}}}"#).is_err());
        assert!(parse(br#"{"token": {"expires_at": "2030-01-02T03:04:05Z"}}"#).is_err());
        assert!(parse(b"not json").is_err());
    }
}
