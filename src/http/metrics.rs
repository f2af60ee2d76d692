//! `GET /metrics` (Prometheus text format) and the middleware that counts requests.
//!
//! The handle is optional app data: `main` adds it when it installed the recorder. Without
//! it (tests, or a second recorder refused) `/metrics` answers 404 and the middleware's
//! recording does nothing.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::telemetry::{HTTP_DURATION, HTTP_REQUESTS};

/// Counts each request and times it, labelled with the route pattern (not the path, so
/// volume ids do not make one series each).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .map_or_else(|| "unmatched".to_string(), |p| route_label(&p));
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    ::metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    ::metrics::histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    Ok(res)
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

/// `GET /metrics`.
pub async fn render(handle: Option<web::Data<PrometheusHandle>>) -> HttpResponse {
    match handle {
        Some(h) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(h.render()),
        None => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("Metrics are not enabled in this process."),
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

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
