//! Who callers are: `auth_strategy` and the `[keystone_authtoken]` table, named and
//! defaulted as keystonemiddleware's options so a Cinder `cinder.conf` section carries over.

use std::fmt;
use std::net::ToSocketAddrs;

use serde::{Deserialize, Serialize};

/// How a request's `X-Auth-Token` becomes a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStrategy {
    /// The token is `user:project[:roles]` and is believed: for a try on one machine.
    #[default]
    Noauth,
    /// The token is a Keystone token, validated by Keystone.
    Keystone,
}

/// A secret read from the file or the environment. Its `Debug` hides it and it is never
/// serialized, so neither a log line of the config nor a dump of it can show it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether none was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// `[keystone_authtoken]`: the service user Clinker validates tokens as, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeystoneAuthConfig {
    /// The Keystone address clients are told to authenticate at, in
    /// `WWW-Authenticate: Keystone uri="..."`. Default: `auth_url`.
    pub www_authenticate_uri: Option<String>,
    /// Keystone's public endpoint, `http://keystone:5000` or `.../v3` (`/v3` is added when
    /// missing). Tokens are validated at `{auth_url}/v3/auth/tokens`.
    pub auth_url: String,
    /// The service user's name. Default `cinder`.
    pub username: String,
    /// The service user's password; env `CLINKER_KEYSTONE_PASSWORD` wins over the file.
    /// Never logged, never serialized.
    #[serde(skip_serializing)]
    pub password: Secret,
    /// The service user's domain. Default `Default`.
    pub user_domain_name: String,
    /// The project the service token is scoped to. Default `service`.
    pub project_name: String,
    /// That project's domain. Default `Default`.
    pub project_domain_name: String,
    /// Seconds a validated token is believed without asking Keystone again (never past
    /// its `expires_at`); 0 asks Keystone on every request. Default 300.
    pub token_cache_time: u64,
    /// Seconds one request to Keystone may take, connection included. Default 10
    /// (keystonemiddleware waits forever; a hung Keystone should not hold every request).
    pub http_connect_timeout: u64,
    /// How often a request that could not reach Keystone is tried again, waiting 0.5 s,
    /// then 1 s, 2 s, ... between tries. Default 3.
    pub http_request_max_retries: u32,
    /// Roles one of which an `X-Service-Token` must carry. Default `["service"]`.
    pub service_token_roles: Vec<String>,
    /// Whether a service token without one of `service_token_roles` is refused (401).
    /// Default true.
    pub service_token_roles_required: bool,
}

impl Default for KeystoneAuthConfig {
    fn default() -> Self {
        Self {
            www_authenticate_uri: None,
            auth_url: String::new(),
            username: "cinder".into(),
            password: Secret::default(),
            user_domain_name: "Default".into(),
            project_name: "service".into(),
            project_domain_name: "Default".into(),
            token_cache_time: 300,
            http_connect_timeout: 10,
            http_request_max_retries: 3,
            service_token_roles: vec!["service".into()],
            service_token_roles_required: true,
        }
    }
}

impl KeystoneAuthConfig {
    /// Keystone's v3 root, without a trailing slash.
    pub fn v3_url(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }

    /// Where clients are sent to authenticate.
    pub fn www_authenticate_uri(&self) -> &str {
        self.www_authenticate_uri
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(&self.auth_url)
    }

    /// Why the table cannot be used with `auth_strategy = "keystone"`, if it cannot.
    pub fn problem(&self) -> Option<String> {
        // Built without TLS (awc's default features off): an https URL would fail on
        // the first request, so it is refused at start-up instead.
        if !self.auth_url.starts_with("http://") {
            return Some(format!(
                "keystone_authtoken.auth_url: '{}' must be an http:// URL (this build has \
                 no TLS client; put Keystone's internal http endpoint here)",
                self.auth_url
            ));
        }
        if self.auth_url.contains(['?', '#']) {
            return Some("keystone_authtoken.auth_url: no query or fragment".into());
        }
        if self.www_authenticate_uri().contains('"') {
            return Some("keystone_authtoken.www_authenticate_uri: no '\"' in it".into());
        }
        for (key, value) in [
            ("username", &self.username),
            ("user_domain_name", &self.user_domain_name),
            ("project_name", &self.project_name),
            ("project_domain_name", &self.project_domain_name),
        ] {
            if value.is_empty() {
                return Some(format!("keystone_authtoken.{key}: must be set"));
            }
        }
        if self.password.is_empty() {
            return Some(
                "keystone_authtoken.password: must be set (or env CLINKER_KEYSTONE_PASSWORD)"
                    .into(),
            );
        }
        if self.http_connect_timeout == 0 {
            return Some("keystone_authtoken.http_connect_timeout: must be at least 1".into());
        }
        None
    }
}

/// Whether every address `listen` resolves to is a loopback one. An address that does not
/// resolve is left to the bind to report.
pub fn is_loopback_only(listen: &str) -> bool {
    match listen.to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => true,
    }
}
