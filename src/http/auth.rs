//! noauth: `X-Auth-Token: <user>:<project>`. Users named in `admin_users` are admins;
//! everyone else sees only their own project.

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
    let (user, project) = match token.split_once(':') {
        Some((u, p)) => (u, p),
        None => (token, token),
    };
    if user.is_empty() || project.is_empty() || user.len() > 255 || project.len() > 255 {
        return Err(ApiError::Unauthorized("Malformed X-Auth-Token.".into()));
    }
    if let Some(path_project) = req.match_info().get("project_id")
        && path_project != project
    {
        return Err(ApiError::BadRequest("Malformed request url".into()));
    }
    let is_admin = req
        .app_data::<actix_web::web::Data<AppState>>()
        .is_some_and(|s| s.admin_users.iter().any(|a| a == user));
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_default();
    Ok(RequestContext {
        user_id: user.to_string(),
        project_id: project.to_string(),
        is_admin,
        request_id,
    })
}
