//! Keystone tokens, as keystonemiddleware's `auth_token` checks them for Cinder, natively.
//!
//! Clinker signs in as its service user (password method, scoped to its project) and keeps
//! that service token, renewing it shortly before it expires; one renewal runs at a time
//! and every request waiting for it gets its result. A user's token is validated with
//! `GET /v3/auth/tokens?nocatalog` (`X-Auth-Token`: the service token, `X-Subject-Token`:
//! the user's). Keystone's answers map as keystonemiddleware maps them: 200 vouches, 404
//! (unknown, expired or revoked) refuses the caller (401), 401 means Keystone no longer
//! takes the service token (renewed once and the validation retried), and anything else,
//! or no answer at all, is Keystone being unavailable (503). Valid tokens are cached
//! ([`cache`]) so a token seen again costs no round trip.

pub mod cache;
pub mod token;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::json;
use tracing::{info, warn};

use crate::config::KeystoneAuthConfig;
pub use token::Identity;

/// A service token this close to its expiry is renewed before use (keystoneauth's
/// `MIN_TOKEN_LIFE_SECONDS`), so it cannot lapse between our check and Keystone's.
const RENEW_BEFORE: chrono::Duration = chrono::Duration::seconds(120);

/// Largest Keystone answer read; a token body without its catalog is a few KiB.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Why a request gets no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller's token is missing, unknown, expired or revoked, or a service token
    /// lacks a service role: 401.
    #[error("{0}")]
    Invalid(String),
    /// Keystone cannot be reached, or refuses Clinker's service user: 503.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
struct ServiceToken {
    token: Arc<str>,
    expires_at: DateTime<Utc>,
}

/// The validator: configuration, service token and cache. Shared by every worker.
#[derive(Debug)]
pub struct Keystone {
    conf: KeystoneAuthConfig,
    v3: String,
    challenge: String,
    service: RwLock<Option<ServiceToken>>,
    renewing: tokio::sync::Mutex<()>,
    cache: cache::TokenCache,
    /// Validations under way, by token key: a burst of requests with one uncached token
    /// (a client starting 32 requests at once) makes one Keystone call, not 32.
    inflight: std::sync::Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    service_roles: Vec<String>,
}

/// How one call to Keystone went, before its status is read.
enum Answer {
    Got(
        StatusCode,
        actix_web::http::header::HeaderMap,
        actix_web::web::Bytes,
    ),
    Unreachable(String),
}

impl Keystone {
    /// A validator for the `[keystone_authtoken]` table (already checked).
    pub fn new(conf: &KeystoneAuthConfig) -> Self {
        Self {
            v3: conf.v3_url(),
            challenge: format!("Keystone uri=\"{}\"", conf.www_authenticate_uri()),
            service: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
            cache: cache::TokenCache::new(conf.token_cache_time),
            inflight: std::sync::Mutex::new(HashMap::new()),
            service_roles: conf
                .service_token_roles
                .iter()
                .map(|r| r.to_lowercase())
                .collect(),
            conf: conf.clone(),
        }
    }

    /// The `WWW-Authenticate` value of a 401: where to get a token.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// Keystone's v3 root (`http://keystone:5000/v3`).
    pub fn v3_url(&self) -> &str {
        &self.v3
    }

    /// The caller's identity from its token, and the service token's check when one is
    /// sent (keystonemiddleware: it must be valid and, with
    /// `service_token_roles_required`, hold one of `service_token_roles`).
    pub async fn authenticate(
        &self,
        user_token: &str,
        service_token: Option<&str>,
    ) -> Result<Arc<Identity>, Refusal> {
        if let Some(service) = service_token {
            let identity = self.validate(service).await?;
            if !identity.has_any_role(&self.service_roles) {
                if self.conf.service_token_roles_required {
                    info!(user = %identity.user_name, "X-Service-Token without a service role refused");
                    return Err(Refusal::Invalid(
                        "The service token does not carry a service role.".into(),
                    ));
                }
                warn!(user = %identity.user_name, "X-Service-Token without a service role accepted (service_token_roles_required = false)");
            }
        }
        self.validate(user_token).await
    }

    /// One token's identity: from the cache, else from Keystone.
    pub async fn validate(&self, token: &str) -> Result<Arc<Identity>, Refusal> {
        let key = cache::key(token);
        let now = Utc::now();
        let lookup = self.cache.get(&key, now);
        crate::telemetry::keystone_cache(matches!(lookup, cache::Lookup::Hit(_)));
        match lookup {
            cache::Lookup::Hit(identity) => return Ok(identity),
            cache::Lookup::Expired => {
                self.cache.remove(&key);
                return Err(Refusal::Invalid("The token has expired.".into()));
            }
            cache::Lookup::Miss => {}
        }
        // One validation per token at a time; whoever waited finds the answer cached.
        let gate = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        let outcome = match self.cache.get(&key, Utc::now()) {
            cache::Lookup::Hit(identity) => Ok(identity),
            _ => self.validate_uncached(token, key).await,
        };
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        outcome
    }

    /// Asks Keystone about a token and caches it if valid.
    async fn validate_uncached(
        &self,
        token: &str,
        key: [u8; 32],
    ) -> Result<Arc<Identity>, Refusal> {
        let started = Instant::now();
        let outcome = self.ask_keystone(token).await;
        crate::telemetry::keystone_validation(
            match &outcome {
                Ok(_) => "valid",
                Err(Refusal::Invalid(_)) => "invalid",
                Err(Refusal::Unavailable(_)) => "unavailable",
            },
            started.elapsed(),
        );
        let identity = Arc::new(outcome?);
        let now = Utc::now();
        if identity.expires_at <= now {
            return Err(Refusal::Invalid("The token has expired.".into()));
        }
        self.cache.put(key, identity.clone(), now);
        Ok(identity)
    }

    /// `GET /v3/auth/tokens?nocatalog`, renewing the service token once if Keystone no
    /// longer takes it.
    async fn ask_keystone(&self, token: &str) -> Result<Identity, Refusal> {
        let mut renewed = false;
        loop {
            let service = self.service_token().await?;
            let url = format!("{}/auth/tokens?nocatalog", self.v3);
            let answer = self
                .call(|c| {
                    c.get(&url)
                        .insert_header(("X-Auth-Token", &*service))
                        .insert_header(("X-Subject-Token", token))
                        .send()
                })
                .await;
            let (status, body) = match answer {
                Answer::Got(status, _, body) => (status, body),
                Answer::Unreachable(e) => {
                    warn!(url = %self.v3, error = %e, "Keystone is unreachable: tokens cannot be validated");
                    return Err(unreachable());
                }
            };
            match status {
                StatusCode::OK => {
                    return token::parse(&body).map_err(|e| {
                        warn!(error = %e, "Keystone's token body does not parse");
                        unavailable()
                    });
                }
                StatusCode::NOT_FOUND => {
                    return Err(Refusal::Invalid(
                        "The request you have made requires authentication.".into(),
                    ));
                }
                StatusCode::UNAUTHORIZED if !renewed => {
                    info!("Keystone no longer takes the service token; renewing it");
                    self.forget_service_token(&service);
                    renewed = true;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    warn!(
                        user = %self.conf.username,
                        status = status.as_u16(),
                        "Keystone refuses the service user's token when validating tokens \
                         (does the user hold the admin or service role?)"
                    );
                    return Err(refused());
                }
                other => {
                    warn!(
                        status = other.as_u16(),
                        "Keystone answered a token validation with an error"
                    );
                    return Err(unavailable());
                }
            }
        }
    }

    /// The service token, renewed first if it is missing or about to expire.
    async fn service_token(&self) -> Result<Arc<str>, Refusal> {
        if let Some(t) = self.fresh_service_token() {
            return Ok(t);
        }
        // One renewal at a time: whoever waited here finds the new token on the second look.
        let _renewing = self.renewing.lock().await;
        if let Some(t) = self.fresh_service_token() {
            return Ok(t);
        }
        let issued = self
            .issue(
                &self.conf.username,
                &self.conf.user_domain_name,
                self.conf.password.expose(),
                &self.conf.project_name,
                &self.conf.project_domain_name,
            )
            .await;
        let (token, expires_at) = match issued {
            Ok(Issued::Token {
                token, expires_at, ..
            }) => (token, expires_at),
            Ok(Issued::Refused(status)) => {
                warn!(
                    user = %self.conf.username,
                    project = %self.conf.project_name,
                    status,
                    "Keystone refuses Clinker's service user: check [keystone_authtoken] \
                     username, password, domains and project"
                );
                return Err(refused());
            }
            Err(e) => {
                warn!(url = %self.v3, error = %e, "Keystone is unreachable: no service token");
                return Err(unreachable());
            }
        };
        let token: Arc<str> = token.into();
        info!(user = %self.conf.username, %expires_at, "service token obtained from Keystone");
        *self.service.write().unwrap_or_else(|e| e.into_inner()) = Some(ServiceToken {
            token: token.clone(),
            expires_at,
        });
        Ok(token)
    }

    fn fresh_service_token(&self) -> Option<Arc<str>> {
        let held = self.service.read().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|t| t.expires_at - Utc::now() > RENEW_BEFORE)
            .map(|t| t.token.clone())
    }

    /// Drops the service token if it is still `stale`, so the next use renews it.
    fn forget_service_token(&self, stale: &Arc<str>) {
        let mut held = self.service.write().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_some_and(|t| Arc::ptr_eq(&t.token, stale)) {
            *held = None;
        }
    }

    /// `POST /v3/auth/tokens` with the password method, scoped to a project given by name.
    /// Also what the console's sign-in relays.
    pub async fn issue(
        &self,
        user: &str,
        user_domain: &str,
        password: &str,
        project: &str,
        project_domain: &str,
    ) -> Result<Issued, String> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": user_domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": project_domain}}}
        }});
        let url = format!("{}/auth/tokens?nocatalog", self.v3);
        match self.call(|c| c.post(&url).send_json(&body)).await {
            Answer::Unreachable(e) => Err(e),
            Answer::Got(StatusCode::CREATED, headers, body) => {
                let token = headers
                    .get("X-Subject-Token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
                    .ok_or("Keystone issued a token without X-Subject-Token")?;
                let identity = token::parse(&body).map_err(|e| e.to_string())?;
                Ok(Issued::Token {
                    token,
                    expires_at: identity.expires_at,
                    identity,
                })
            }
            Answer::Got(status, _, _) => Ok(Issued::Refused(status.as_u16())),
        }
    }

    /// One request to Keystone, tried again (after 0.5 s, 1 s, 2 s, ...) while Keystone
    /// cannot be reached, `http_request_max_retries` times at most.
    async fn call(&self, send: impl Fn(&awc::Client) -> awc::SendClientRequest) -> Answer {
        let timeout = Duration::from_secs(self.conf.http_connect_timeout);
        // A client per call: awc's client belongs to one thread and the validator is
        // shared by all workers; calls are made on cache misses only.
        let client = awc::Client::builder()
            .timeout(timeout)
            .connector(awc::Connector::new().timeout(timeout))
            .disable_redirects()
            .finish();
        let mut delay = Duration::from_millis(500);
        let mut tries_left = self.conf.http_request_max_retries;
        loop {
            let error = match send(&client).await {
                Ok(mut res) => match res.body().limit(MAX_ANSWER_BYTES).await {
                    Ok(body) => return Answer::Got(res.status(), res.headers().clone(), body),
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if tries_left == 0 {
                return Answer::Unreachable(error);
            }
            tries_left -= 1;
            actix_rt::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    }
}

/// What `POST /v3/auth/tokens` gave.
#[derive(Debug)]
pub enum Issued {
    /// A token, its body and its expiry.
    Token {
        /// The token (`X-Subject-Token`).
        token: String,
        /// Its expiry.
        expires_at: DateTime<Utc>,
        /// Who it names.
        identity: Identity,
    },
    /// Keystone refused, with this status.
    Refused(u16),
}

fn unavailable() -> Refusal {
    Refusal::Unavailable(
        "The Keystone service is temporarily unavailable: tokens cannot be validated.".into(),
    )
}

fn unreachable() -> Refusal {
    Refusal::Unavailable(
        "The Keystone service cannot be reached: tokens cannot be validated.".into(),
    )
}

fn refused() -> Refusal {
    Refusal::Unavailable(
        "Keystone refuses this service's own credentials: tokens cannot be validated.".into(),
    )
}
