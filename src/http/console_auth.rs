//! How the console signs in: `GET /clinker/v1/console/config` tells the page which
//! `auth_strategy` the server runs, and with Keystone, `POST /clinker/v1/console/auth/tokens`
//! relays a user name, password and project to Keystone's `POST /v3/auth/tokens` and hands
//! the token back.
//!
//! The relay is a convenience for a browser, which cannot reach Keystone itself when
//! Keystone sends no CORS headers (it does not by default). It holds nothing: the password
//! goes to Keystone and is dropped, the token comes back in `X-Subject-Token` as Keystone
//! gives it, and the page sends it as `X-Auth-Token` like any client, validated on every
//! call as any token is. Its hostile-input rules:
//! - the upstream is `[keystone_authtoken] auth_url`, never anything from the request;
//! - the body is JSON (`Content-Type` required: a cross-site form cannot post here),
//!   at most [`MAX_SIGN_IN_BYTES`], four known string fields, each bounded;
//! - Keystone's call has the configured timeout (`http_connect_timeout`);
//! - neither the password nor the token is logged, echoed in an error, or cached;
//! - with `auth_strategy = "noauth"` the route answers 404 (Cinder's `itemNotFound`):
//!   there is no Keystone to relay to, and noauth's sign-in needs no server round trip.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, dev::Payload, web};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use super::AppState;
use super::auth::Authenticator;
use super::body::JsonBody;
use super::error::ApiError;
use crate::keystone::Issued;

/// Largest sign-in body: four short strings and a password of up to Keystone's default
/// `max_password_length` (4096) fit several times over.
pub const MAX_SIGN_IN_BYTES: usize = 16 * 1024;

/// Longest password relayed: Keystone's default `[identity] max_password_length`.
const MAX_PASSWORD: usize = 4096;

/// Longest user, project or domain name: Keystone's columns are 255 (users) and 64
/// (projects, domains) wide.
const MAX_NAME: usize = 255;

/// Every refusal of the form's shape: fixed text, since serde's own messages quote the
/// offending value, which may be the password.
const MALFORMED: &str =
    "The sign-in takes {\"user\", \"password\", \"project\", \"domain\"}, each a string.";

/// The domain used when the form leaves it empty, Keystone's bootstrap domain.
const DEFAULT_DOMAIN: &str = "Default";

/// `GET /clinker/v1/console/config`: what the sign-in page must know before anyone signs
/// in. Open to all: it tells only the strategy, which any 401 tells too.
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    let body = match &state.auth {
        Authenticator::Noauth => json!({"auth_strategy": "noauth"}),
        Authenticator::Keystone(_) => json!({
            "auth_strategy": "keystone",
            "keystone": {"default_domain": DEFAULT_DOMAIN},
        }),
    };
    HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(body)
}

/// The form, as the page posts it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
    password: String,
    project: String,
    #[serde(default)]
    domain: Option<String>,
}

/// The debug form hides the password, should anyone ever print one.
impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("user", &self.user)
            .field("project", &self.project)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// 503 saying that Keystone is the trouble, as the token check's 503 does
/// (`ApiError::Unavailable` would say only "temporarily unavailable"); the cause is
/// logged where it is known.
fn unavailable(message: &str) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .json(json!({"serviceUnavailable": {"code": 503, "message": message}}))
}

/// A name Keystone could hold: not empty, bounded, no control characters (it is logged).
fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Reads and checks the form. Every refusal is fixed text: serde's own messages quote
/// the offending value, which may be the password.
async fn read_form(req: &HttpRequest, payload: &mut Payload) -> Result<SignIn, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "The sign-in takes Content-Type: application/json.".into(),
        ));
    }
    let JsonBody(body) = JsonBody::read(req, payload, MAX_SIGN_IN_BYTES).await?;
    // serde reads a struct from an array too (`["alice", "pw", "demo"]`): only an object
    // names its fields.
    if !body.is_object() {
        return Err(ApiError::BadRequest(MALFORMED.into()));
    }
    let form: SignIn =
        serde_json::from_value(body).map_err(|_| ApiError::BadRequest(MALFORMED.into()))?;
    if !is_name(&form.user, MAX_NAME) {
        return Err(ApiError::BadRequest(format!(
            "Enter a user name of 1 to {MAX_NAME} printable characters."
        )));
    }
    if form.password.is_empty() || form.password.len() > MAX_PASSWORD {
        return Err(ApiError::BadRequest(format!(
            "Enter a password of 1 to {MAX_PASSWORD} bytes."
        )));
    }
    if !is_name(&form.project, 64) {
        return Err(ApiError::BadRequest(
            "Enter a project name of 1 to 64 printable characters.".into(),
        ));
    }
    if form.domain.as_deref().is_some_and(|d| !is_name(d, 64)) {
        return Err(ApiError::BadRequest(
            "The domain is a name of 1 to 64 printable characters.".into(),
        ));
    }
    Ok(form)
}

/// `POST /clinker/v1/console/auth/tokens`: `{"user", "password", "project", "domain"}`
/// (the domain is the user's and the project's, `Default` when left out) relayed as a
/// project-scoped password authentication. 201 with the token in `X-Subject-Token` and
/// `{"token": {"user", "project", "roles", "expires_at"}}`; Keystone's refusal (wrong
/// password, unknown user or project, no role on it) is a 401, whichever it was, as
/// Keystone answers; Keystone unreachable or failing is a 503.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Authenticator::Keystone(keystone) = &state.auth else {
        return Err(ApiError::NotFound(
            "This server runs with auth_strategy = \"noauth\": the console signs in \
             without Keystone, and there is no token to relay."
                .into(),
        ));
    };
    let mut payload = payload.into_inner();
    let form = read_form(&req, &mut payload).await?;
    let domain = form
        .domain
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_DOMAIN);
    let issued = keystone
        .issue(&form.user, domain, &form.password, &form.project, domain)
        .await;
    drop(form.password);
    let (token, identity) = match issued {
        Ok(Issued::Token {
            token, identity, ..
        }) => (token, identity),
        Ok(Issued::Refused(status @ (401 | 403 | 404))) => {
            info!(user = %form.user, project = %form.project, %domain, status,
                "console sign-in refused by Keystone");
            return Err(ApiError::Unauthorized(
                "The request you have made requires authentication.".into(),
            ));
        }
        Ok(Issued::Refused(400)) => {
            return Err(ApiError::BadRequest(
                "Keystone refused the sign-in as malformed.".into(),
            ));
        }
        Ok(Issued::Refused(status)) => {
            warn!(status, "Keystone answered a console sign-in with an error");
            return Ok(unavailable(
                "Keystone could not issue a token; try again later.",
            ));
        }
        Err(cause) => {
            warn!(url = %keystone.v3_url(), error = %cause, "console sign-in: Keystone cannot be reached or answered oddly");
            return Ok(unavailable("Keystone cannot be reached; try again later."));
        }
    };
    info!(user = %identity.user_name, project = ?identity.project_id, "console sign-in through Keystone");
    let body: Value = json!({"token": {
        "user": {"id": identity.user_id, "name": identity.user_name},
        "project": {"id": identity.project_id, "name": identity.project_name},
        "roles": identity.roles,
        "expires_at": identity.expires_at,
    }});
    Ok(HttpResponse::Created()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .insert_header(("X-Subject-Token", token))
        .json(body))
}
