//! noauth: `X-Auth-Token: <user>:<project>[:<role>,<role>...]`. Without roles, users
//! named in `admin_users` hold `admin`, `member` and `reader`, everyone else `member` and
//! `reader`. Whether a context is an admin one is the policy's `context_is_admin`.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};

use super::AppState;
use super::error::ApiError;
use crate::model::{RequestContext, RequestId};

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
    if let Some(path_project) = req.match_info().get("project_id")
        && path_project != project
    {
        return Err(ApiError::BadRequest("Malformed request url".into()));
    }
    let state = req.app_data::<actix_web::web::Data<AppState>>();
    let roles = roles.unwrap_or_else(|| {
        let admin = state.is_some_and(|s| s.admin_users.iter().any(|a| a == user));
        let implied = if admin {
            &["admin", "member", "reader"][..]
        } else {
            &["member", "reader"][..]
        };
        implied.iter().map(|r| r.to_string()).collect()
    });
    let is_admin = state.is_some_and(|s| s.policy.is_admin(user, project, &roles));
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_default();
    Ok(RequestContext {
        user_id: user.to_string(),
        project_id: project.to_string(),
        is_admin,
        roles,
        request_id,
    })
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
    use super::{is_project_id, is_user_name};

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
