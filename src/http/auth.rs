//! Who the caller is, by `auth_strategy`.
//!
//! noauth: `X-Auth-Token: <user>:<project>[:<role>,<role>...]`. Without roles, users
//! named in `admin_users` hold `admin`, `member` and `reader`, everyone else `member` and
//! `reader`.
//!
//! keystone: [`authenticate`] has Keystone vouch for the token before any handler runs
//! (see [`crate::keystone`]) and leaves the identity in the request's extensions; the
//! context is built from it alone, so headers a client adds (`X-Roles`,
//! `X-Project-Id`, ...) count for nothing. Every 401 then carries Keystone's body and
//! `WWW-Authenticate: Keystone uri="..."`, as keystonemiddleware answers.
//!
//! Either way, whether a context is an admin one is the policy's `context_is_admin`.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, dev::Payload, web};
use serde_json::json;

use super::AppState;
use super::error::ApiError;
use crate::config::{AuthStrategy, Config};
use crate::keystone::{Identity, Keystone, Refusal};
use crate::model::{RequestContext, RequestId};

/// How tokens are checked: the process's `auth_strategy`.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// Tokens are `user:project[:roles]`, believed as written.
    Noauth,
    /// Tokens are Keystone's, validated by it.
    Keystone(Arc<Keystone>),
}

impl Authenticator {
    /// The authenticator `config` asks for.
    pub fn from_config(config: &Config) -> Self {
        match config.auth_strategy {
            AuthStrategy::Noauth => Self::Noauth,
            AuthStrategy::Keystone => {
                Self::Keystone(Arc::new(Keystone::new(&config.keystone_authtoken)))
            }
        }
    }
}

/// The identity Keystone vouched for, put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Identity>);

/// With Keystone: validates `X-Auth-Token` (and `X-Service-Token` when sent) before the
/// request goes on, answering 401 or 503 itself when Keystone refuses or cannot answer.
/// A request without a token goes on unauthenticated: `GET /`, the version documents, the
/// console's files and `/metrics` with its bearer token need none, and every other route
/// refuses it in [`context`]. Any 401 leaves with Keystone's body and challenge.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let keystone = match req.app_data::<web::Data<AppState>>().map(|s| &s.auth) {
        Some(Authenticator::Keystone(k)) => k.clone(),
        _ => return Ok(next.call(req).await?.map_into_left_body()),
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let (token, service) = (header("X-Auth-Token"), header("X-Service-Token"));
    if let Some(token) = token.filter(|_| !is_version_document(req.path())) {
        match keystone.authenticate(&token, service.as_deref()).await {
            Ok(identity) => {
                req.extensions_mut().insert(Authenticated(identity));
            }
            Err(Refusal::Invalid(reason)) => {
                tracing::info!(%reason, "token refused");
                let (http, _) = req.into_parts();
                let res = unauthorized(&keystone);
                return Ok(ServiceResponse::new(http, res).map_into_right_body());
            }
            Err(Refusal::Unavailable(message)) => {
                let (http, _) = req.into_parts();
                let res = HttpResponse::ServiceUnavailable().json(json!({
                    "serviceUnavailable": {"code": 503, "message": message}
                }));
                return Ok(ServiceResponse::new(http, res).map_into_right_body());
            }
        }
    }
    let res = next.call(req).await?;
    if res.status() == StatusCode::UNAUTHORIZED {
        let (http, _) = res.into_parts();
        return Ok(ServiceResponse::new(http, unauthorized(&keystone)).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}

/// keystonemiddleware's 401: its body, and where to get a token.
fn unauthorized(keystone: &Keystone) -> HttpResponse {
    let mut res = HttpResponse::Unauthorized().json(json!({"error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }}));
    if let Ok(v) = HeaderValue::from_str(keystone.challenge()) {
        res.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    res
}

/// `GET /`, `/v3`, `/v3/` and `/v3/{project_id}`: open to anyone, token or not, so a
/// stale token does not stop version discovery.
fn is_version_document(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    match path.strip_prefix("/v3") {
        _ if path.is_empty() => true,
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|p| !p.contains('/') && is_project_id(p)),
        None => false,
    }
}

/// The caller of a `/v3` request, checked against the project in the path.
#[derive(Debug, Clone)]
pub struct Caller(pub RequestContext);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(context(req).map(Caller))
    }
}

/// Builds the request context from the token and checks the path's project id.
pub fn context(req: &HttpRequest) -> Result<RequestContext, ApiError> {
    let state = req.app_data::<web::Data<AppState>>();
    if let Some(Authenticator::Keystone(_)) = state.map(|s| &s.auth) {
        let identity = req.extensions().get::<Authenticated>().cloned();
        let Some(Authenticated(identity)) = identity else {
            return Err(ApiError::Unauthorized(
                "The request you have made requires authentication.".into(),
            ));
        };
        return keystone_context(req, state, &identity);
    }
    let token = req
        .headers()
        .get("X-Auth-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "Authentication required: send X-Auth-Token: <user>:<project>.".into(),
            )
        })?;
    let mut parts = token.splitn(3, ':');
    let user = parts.next().unwrap_or(token);
    let project = parts.next().unwrap_or(user);
    let roles = parts.next().map(roles_of);
    if !is_user_name(user)
        || !is_project_id(project)
        || roles
            .as_ref()
            .is_some_and(|r| r.is_empty() || !r.iter().all(|x| is_user_name(x)))
    {
        return Err(ApiError::Unauthorized("Malformed X-Auth-Token.".into()));
    }
    check_path_project(req, project)?;
    let roles = roles.unwrap_or_else(|| {
        let admin = state.is_some_and(|s| s.admin_users.iter().any(|a| a == user));
        let implied = if admin {
            &["admin", "member", "reader"][..]
        } else {
            &["member", "reader"][..]
        };
        implied.iter().map(|r| r.to_string()).collect()
    });
    Ok(finish(req, state, user, project, roles))
}

/// The context of a token Keystone vouched for. Its project becomes the owner of rows and
/// a segment of paths, so a project id the routes cannot name is refused; a token scoped
/// to the system (or a domain) has no project, and rules needing one are false for it.
fn keystone_context(
    req: &HttpRequest,
    state: Option<&web::Data<AppState>>,
    identity: &Identity,
) -> Result<RequestContext, ApiError> {
    let project = identity.project_id.as_deref().unwrap_or("");
    if !project.is_empty() && !is_project_id(project) {
        return Err(ApiError::Forbidden(format!(
            "Project id '{project}' is not one Clinker can serve: its ids are hex and dashes."
        )));
    }
    check_path_project(req, project)?;
    Ok(finish(
        req,
        state,
        &identity.user_id,
        project,
        identity.roles.clone(),
    ))
}

/// A path naming a project must name the caller's.
fn check_path_project(req: &HttpRequest, project: &str) -> Result<(), ApiError> {
    match req.match_info().get("project_id") {
        Some(path_project) if path_project != project => {
            Err(ApiError::BadRequest("Malformed request url".into()))
        }
        _ => Ok(()),
    }
}

fn finish(
    req: &HttpRequest,
    state: Option<&web::Data<AppState>>,
    user: &str,
    project: &str,
    roles: Vec<String>,
) -> RequestContext {
    let is_admin = state.is_some_and(|s| s.policy.is_admin(user, project, &roles));
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_default();
    RequestContext {
        user_id: user.to_string(),
        project_id: project.into(),
        is_admin,
        roles,
        request_id,
    }
}

/// A token's roles: comma-separated, lower-cased as Keystone returns them.
fn roles_of(list: &str) -> Vec<String> {
    list.split(',')
        .map(|r| r.trim().to_lowercase())
        .filter(|r| !r.is_empty())
        .collect()
}

/// Longest project id or user name a token may carry (Keystone's column width).
const MAX_TOKEN_PART: usize = 64;

/// A project id as the routes take one (`{project_id:[0-9a-f\-]+}`): lower-case hex and
/// dashes, so a Keystone id (32 hex) or a UUID. The token's project becomes the
/// `project_id` of every row and of paths in replies, so anything else (`../../etc`, a
/// newline) would be a project no URL can name, written everywhere.
pub fn is_project_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TOKEN_PART
        && s.bytes().any(|b| b.is_ascii_hexdigit())
        && s.bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))
}

/// A user name: free text as in Keystone, but bounded and without control characters,
/// since it is stored and logged as given.
fn is_user_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TOKEN_PART && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::{is_project_id, is_user_name, is_version_document};

    #[test]
    fn version_documents_are_the_root_and_v3_with_or_without_a_project() {
        for open in ["/", "", "/v3", "/v3/", "/v3/0a0a", "/v3/0a0a/"] {
            assert!(is_version_document(open), "{open:?}");
        }
        for closed in [
            "/v3/0a0a/volumes",
            "/v3/volumes",
            "/v3/types",
            "/metrics",
            "/v30",
        ] {
            assert!(!is_version_document(closed), "{closed:?}");
        }
    }

    #[test]
    fn projects_are_hex_or_uuids_like_the_routes() {
        assert!(is_project_id("0a0a"));
        assert!(is_project_id("5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c"));
        assert!(is_project_id("5e2c0a7d-4b3f-4e1a-9c8d-7b6a5f4e3d2c"));
        for bad in [
            "",
            "-",
            "../../etc",
            "alice",
            "0A0A",
            "0a0a/..",
            "0a0a\n",
            "0a 0a",
            "0a0a:1",
            "\u{0660}",
            &"a".repeat(65),
        ] {
            assert!(!is_project_id(bad), "{bad:?} was accepted");
        }
    }

    #[test]
    fn user_names_are_bounded_and_printable() {
        assert!(is_user_name("alice"));
        assert!(is_user_name("Zoë O'Brien"));
        for bad in [
            "",
            "a\nb",
            "a\rb",
            "\u{1b}[31m",
            "a\0",
            "\u{85}",
            &"u".repeat(65),
        ] {
            assert!(!is_user_name(bad), "{bad:?} was accepted");
        }
    }
}
