//! Version discovery (`GET /`, `GET /v3/`) and microversion negotiation.

use std::fmt;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, body::MessageBody};
use serde_json::json;

use super::error::ApiError;

/// A `3.N` microversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Always 3.
    pub major: u16,
    /// The minor number.
    pub minor: u16,
}

/// The lowest version served, and what a request without a header gets.
pub const MIN_VERSION: ApiVersion = ApiVersion { major: 3, minor: 0 };

/// The highest version advertised: only versions whose behaviour is all implemented.
/// Raise it as the features of each version land (cinder-api.md §19).
pub const MAX_VERSION: ApiVersion = ApiVersion {
    major: 3,
    minor: 71,
};

impl ApiVersion {
    /// `3.N`.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// True when the request runs at `major.minor` or later.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= ApiVersion::new(major, minor)
    }

    /// Parses `X.Y` strictly: digits only, no leading zero in Y unless it is 0.
    fn parse(s: &str) -> Option<ApiVersion> {
        let (a, b) = s.split_once('.')?;
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes().all(|c| c.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
        };
        if !ok(a) || !ok(b) {
            return None;
        }
        Some(ApiVersion::new(a.parse().ok()?, b.parse().ok()?))
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Reads `OpenStack-API-Version: volume X.Y` (absent: 3.0). The ceiling is the app's
/// `max_version` ([`MAX_VERSION`] unless a test raised it).
pub fn negotiate(req: &HttpRequest) -> Result<ApiVersion, ApiError> {
    let max = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map_or(MAX_VERSION, |s| s.max_version);
    let Some(raw) = req.headers().get("OpenStack-API-Version") else {
        return Ok(MIN_VERSION);
    };
    let raw = raw
        .to_str()
        .map_err(|_| ApiError::BadRequest("Invalid OpenStack-API-Version header.".into()))?;
    let Some(item) = raw.split(',').find(|p| p.contains("volume")) else {
        return Err(ApiError::BadRequest(format!(
            "Invalid OpenStack-API-Version header '{raw}': no 'volume' service named."
        )));
    };
    let wanted = item.split_whitespace().nth(1).unwrap_or("");
    if wanted.eq_ignore_ascii_case("latest") {
        return Ok(max);
    }
    let v = ApiVersion::parse(wanted).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "API Version String {wanted} is of invalid format. Must be of format MajorNum.MinorNum."
        ))
    })?;
    if v < MIN_VERSION || v > max {
        return Err(ApiError::NotAcceptable(format!(
            "Version {v} is not supported by the API. Minimum is {MIN_VERSION} and maximum is {max}."
        )));
    }
    Ok(v)
}

/// Middleware for `/v3`: negotiates the version, stores it in the request, and echoes it
/// on every response (errors included).
pub async fn microversion(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let version = match negotiate(req.request()) {
        Ok(v) => v,
        Err(e) => {
            let (http, _) = req.into_parts();
            let mut res = e.error_response();
            echo(res.headers_mut(), MIN_VERSION);
            return Ok(ServiceResponse::new(http, res).map_into_right_body());
        }
    };
    req.extensions_mut().insert(version);
    let mut res = next.call(req).await?;
    echo(res.headers_mut(), version);
    Ok(res.map_into_left_body())
}

fn echo(h: &mut actix_web::http::header::HeaderMap, v: ApiVersion) {
    if let Ok(value) = HeaderValue::from_str(&format!("volume {v}")) {
        h.insert(HeaderName::from_static("openstack-api-version"), value);
    }
    h.insert(
        actix_web::http::header::VARY,
        HeaderValue::from_static("OpenStack-API-Version"),
    );
}

/// The request's version (set by [`microversion`]).
pub fn of(req: &HttpRequest) -> ApiVersion {
    req.extensions()
        .get::<ApiVersion>()
        .copied()
        .unwrap_or(MIN_VERSION)
}

fn document(req: &HttpRequest) -> serde_json::Value {
    let info = req.connection_info();
    let self_href = format!("{}://{}/v3/", info.scheme(), info.host());
    json!({"versions": [{
        "id": "v3.0",
        "status": "CURRENT",
        "version": MAX_VERSION.to_string(),
        "min_version": MIN_VERSION.to_string(),
        "updated": "2026-11-25T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": self_href}
        ],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.volume+json;version=3"
        }]
    }]})
}

/// `GET /`: 300 Multiple Choices with the version list.
#[utoipa::path(get, path = "/", summary = "Version discovery", security(()), responses((status = 300, description = "The versions", body = Object)))]
pub async fn root(req: HttpRequest) -> HttpResponse {
    HttpResponse::MultipleChoices().json(document(&req))
}

/// `GET /v3/`: 200 with the same document; no token needed (keystoneauth asks first).
#[utoipa::path(get, path = "/v3/", summary = "The v3 version document", security(()), responses((status = 200, description = "Success", body = Object)))]
pub async fn v3(req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().json(document(&req))
}

/// `GET /v3/{project_id}`: [`v3`] where keystoneauth was given an endpoint ending in
/// the project id.
#[utoipa::path(get, path = "/v3/{project_id}", summary = "The v3 version document", security(()), responses((status = 200, description = "Success", body = Object)))]
pub async fn v3_project(req: HttpRequest) -> HttpResponse {
    v3(req).await
}

/// `GET /v3`: redirect to `/v3/`.
#[utoipa::path(get, path = "/v3", summary = "Redirect to /v3/", security(()), responses((status = 302, description = "To /v3/")))]
pub async fn v3_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((actix_web::http::header::LOCATION, "/v3/"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(ApiVersion::parse("3.0"), Some(ApiVersion::new(3, 0)));
        assert_eq!(ApiVersion::parse("3.71"), Some(ApiVersion::new(3, 71)));
        for bad in ["3.x", "3.01", "4", "", "3.", ".1", "3.1.2"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }
}
