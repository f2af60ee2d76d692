//! `GET /metrics` (Prometheus text format) and the middleware that counts requests.
//!
//! The [`Exporter`] is optional app data: `main` adds it when it installed the recorder.
//! Without it (tests, a second recorder refused, or metrics moved to their own address)
//! `/metrics` answers 404 on the API's port and the middleware's recording does nothing.
//! The metrics name nodes and pools and give their capacity, which members cannot read
//! through the API: on the API's port only an admin or the metrics token may read them.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

use super::error::ApiError;
use super::{auth, guard};

use crate::telemetry::{HTTP_DURATION, HTTP_REQUESTS};

/// Counts each request and times it. Every label comes from a closed set, since each new
/// value is a series kept for the life of the process: anyone (no token needed) could
/// otherwise grow memory and `/metrics` without bound with made-up methods or paths.
/// So the method is one of [`METHODS`] or `other`, the route a registered pattern (not
/// the path, so volume ids do not make one series each) or `unmatched`, and the status a
/// code HTTP defines (100 to 599) or `other`.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .map_or_else(|| "unmatched".to_string(), |p| route_label(&p));
    let status = status_label(res.status());
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status),
    ];
    ::metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    ::metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    Ok(res)
}

/// The methods counted under their own name.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The method's label: its name if it is one of [`METHODS`], else `other`.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// The status's label: the code when HTTP defines its class, else `other` (actix lets a
/// handler build any code up to 999).
pub fn status_label(status: actix_web::http::StatusCode) -> String {
    match status.as_u16() {
        code @ 100..=599 => code.to_string(),
        _ => "other".to_string(),
    }
}

/// The pattern without its regexes: `/v3/{project_id:[0-9a-f\-]+}/volumes` becomes
/// `/v3/{project_id}/volumes`.
pub fn route_label(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_regex = false;
    let mut depth = 0usize;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                depth += 1;
                if !in_regex {
                    out.push(ch);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    in_regex = false;
                    out.push(ch);
                }
            }
            ':' if depth == 1 => in_regex = true,
            _ if !in_regex => out.push(ch),
            _ => {}
        }
    }
    out
}

/// The recorder's handle, and who may read it where it is mounted.
#[derive(Clone)]
pub struct Exporter {
    /// What renders the metrics.
    pub handle: PrometheusHandle,
    /// A bearer token that may read them besides an admin (`CLINKER_METRICS_TOKEN`).
    pub token: Option<String>,
    /// Anyone may read them: the metrics' own address (`[metrics] listen`).
    pub open: bool,
}

impl Exporter {
    /// Whether the request carries `Authorization: Bearer <token>` with our token,
    /// compared in constant time.
    fn bearer_matches(&self, req: &HttpRequest) -> bool {
        let Some(want) = &self.token else {
            return false;
        };
        let got = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        got.len() == want.len()
            && got
                .bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// `GET /metrics`: 404 without an exporter here; on the API's port, 401 without a token
/// and 403 for a member.
#[utoipa::path(get, path = "/metrics", summary = "Prometheus metrics (admins, or the metrics token)", responses((status = 200, description = "Success", body = String, content_type = "text/plain")))]
pub async fn render(
    req: HttpRequest,
    exporter: Option<web::Data<Exporter>>,
) -> Result<HttpResponse, ApiError> {
    let Some(e) = exporter else {
        return Ok(HttpResponse::NotFound()
            .content_type("text/plain")
            .body("Metrics are not served on this address."));
    };
    if !e.open && !e.bearer_matches(&req) {
        guard::admin(&auth::context(&req)?, "metrics")?;
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(e.handle.render()))
}

/// The metrics' own address (`[metrics] listen`): `/metrics` for anyone, nothing else.
pub fn own_address(exporter: Exporter) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(Exporter {
            open: true,
            ..exporter
        }))
        .route("/metrics", web::get().to(render));
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};

    use super::{method_label, route_label, status_label};

    #[test]
    fn methods_and_statuses_come_from_a_closed_set() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["BREW", "get", "PROPFIND", "CONNECT", "TRACE", "X\u{1b}"] {
            let m = Method::from_bytes(made_up.as_bytes());
            if let Ok(m) = m {
                assert_eq!(method_label(&m), "other", "{made_up}");
            }
        }
        assert_eq!(status_label(StatusCode::ACCEPTED), "202");
        assert_eq!(status_label(StatusCode::from_u16(599)?), "599");
        assert_eq!(status_label(StatusCode::from_u16(600)?), "other");
        assert_eq!(status_label(StatusCode::from_u16(999)?), "other");
        Ok(())
    }

    #[test]
    fn regexes_are_dropped_from_patterns() {
        assert_eq!(
            route_label("/v3/{project_id:[0-9a-f\\-]+}/volumes/{volume_id}"),
            "/v3/{project_id}/volumes/{volume_id}"
        );
        assert_eq!(route_label("/v3/{p:[a-z]{2,3}}/x"), "/v3/{p}/x");
        assert_eq!(route_label("/"), "/");
    }
}
