//! Checks handlers make before sending their message: admin-only surfaces of Clinker's
//! own that no Cinder rule names (`/metrics`; Cinder's rules are `super::policy`), the
//! microversion a route needs (404, as Cinder answers a method above the requested
//! version), and the query string.

use actix_web::body::MessageBody;
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError};
use std::future::{Ready, ready};

use super::error::ApiError;
use super::version;
use crate::model::RequestContext;

/// Refuses a context that is not an admin one: "Policy doesn't allow `action` to be
/// performed."
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

/// [`min_version`] as an extractor: listed before a handler's body, so a request below
/// 3.`MINOR` is answered 404 whatever its body holds, as when the check opened the
/// handler.
pub struct Since<const MINOR: u16>;

impl<const MINOR: u16> FromRequest for Since<MINOR> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(min_version(req, MINOR).map(|()| Since))
    }
}

/// The query string as ordered pairs. A NUL in a name or value, decoded from `%00` or
/// from a JSON escape inside a value (`?metadata={"k":"a\u0000b"}`), is refused here for
/// every handler, since PostgreSQL cannot store or compare it.
pub fn query(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .map_err(|_| ApiError::BadRequest("Malformed query string.".into()))?;
    if pairs.iter().any(|(k, v)| carries_nul(k) || carries_nul(v)) {
        return Err(ApiError::BadRequest(
            "Invalid input: the query string contains a NUL character.".into(),
        ));
    }
    Ok(pairs)
}

/// Whether a decoded query value is or encodes a NUL: raw, or as a JSON `\u0000` in a
/// value that handlers will read as JSON or as a Python literal (see [`dict`]).
fn carries_nul(v: &str) -> bool {
    if v.contains('\0') {
        return true;
    }
    if !v.contains("\\u") {
        return false;
    }
    json_or_python(v).is_some_and(|j| super::body::has_nul(&j))
}

/// A query value read as JSON, or as the Python literal Cinder's clients send
/// (`{'k': 'v'}`): the one reading [`dict`] and the NUL check share.
fn json_or_python(s: &str) -> Option<serde_json::Value> {
    serde_json::from_str(s)
        .or_else(|_| serde_json::from_str(&s.replace('\'', "\"")))
        .ok()
}

/// A path segment by name (empty when the route has none).
pub fn segment(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// A dict filter value as Cinder's clients send it (`{'k': 'v'}`, a Python literal) or
/// as JSON; string values only.
pub fn dict(s: &str) -> Option<std::collections::BTreeMap<String, String>> {
    json_or_python(s)?
        .as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

/// Whether a URI's path or query carries a NUL character (`%00`, the only way one can
/// reach a URI). PostgreSQL refuses NUL in text, so such a filter, marker or key
/// would fail in the database instead of being refused here.
pub fn has_nul(uri: &actix_web::http::Uri) -> bool {
    uri.path_and_query()
        .is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00"))
}

/// Refuses a request whose path or query carries a NUL character with 400, before any
/// handler (or database) sees it.
pub async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if has_nul(req.uri()) {
        let (http, _) = req.into_parts();
        let res = ApiError::BadRequest("Invalid input: the URL contains a NUL character.".into())
            .error_response();
        return Ok(ServiceResponse::new(http, res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::{carries_nul, has_nul};

    #[test]
    fn nul_in_query_values_is_seen_raw_or_json_escaped() {
        assert!(carries_nul("a\0b"));
        assert!(carries_nul(r#"{"k":"a\u0000b"}"#));
        assert!(carries_nul(r#"{'k\u0000':'v'}"#));
        assert!(carries_nul(r#""\u0000""#));
        assert!(!carries_nul(r#"{"k":"a\u0041b"}"#));
        assert!(!carries_nul(r#"{"k":"v"}"#));
        assert!(!carries_nul("plain"));
    }

    #[test]
    fn nul_in_path_or_query_is_seen_in_either_case() -> Result<(), Box<dyn std::error::Error>> {
        assert!(has_nul(&"/v3/volumes?name=a%00b".parse()?));
        assert!(has_nul(&"/v3/volumes/x/metadata/k%00".parse()?));
        assert!(has_nul(&"/v3/volumes?marker=%00".parse()?));
        assert!(!has_nul(&"/v3/volumes?name=a%200b".parse()?));
        assert!(!has_nul(&"/v3/volumes?name=100".parse()?));
        Ok(())
    }
}
