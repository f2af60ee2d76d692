//! Checks the admin and catalogue handlers make before sending their message: the admin
//! policy (403 `forbidden` in Cinder's words), the microversion a route needs (404, as
//! Cinder answers a method above the requested version), and the query string.

use actix_web::HttpRequest;

use super::error::ApiError;
use super::version;
use crate::model::RequestContext;

/// Refuses non-admins: "Policy doesn't allow `action` to be performed."
pub fn admin(ctx: &RequestContext, action: &str) -> Result<(), ApiError> {
    if ctx.is_admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "Policy doesn't allow {action} to be performed."
        )))
    }
}

/// Refuses requests below `3.minor` as if the route did not exist.
pub fn min_version(req: &HttpRequest, minor: u16) -> Result<(), ApiError> {
    if version::of(req).at_least(3, minor) {
        Ok(())
    } else {
        Err(ApiError::NotFound(
            "The resource could not be found.".into(),
        ))
    }
}

/// The query string as ordered pairs.
pub fn query(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .map_err(|_| ApiError::BadRequest("Malformed query string.".into()))
}

/// A path segment by name (empty when the route has none).
pub fn segment(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// A dict filter value as Cinder's clients send it (`{'k': 'v'}`, a Python literal) or
/// as JSON; string values only.
pub fn dict(s: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let json: serde_json::Value = serde_json::from_str(s)
        .or_else(|_| serde_json::from_str(&s.replace('\'', "\"")))
        .ok()?;
    json.as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}
