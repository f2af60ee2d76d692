//! `/os-hosts` (admin, Cinder's deprecated `hosts` extension, rule
//! `volume_extension:hosts`): the enabled services as hosts, and one storage host's
//! volumes and snapshots per project. Cinder's `PUT /os-hosts/{host}` is not served: its
//! volume API has never implemented enabling a host (`os-services` does that).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Caller;
use super::catalogue::service_alive;
use super::error::ApiError;
use super::views::opt_time;
use super::{AppState, guard};
use crate::actors::api::catalogue::{ListServices, ServiceInfo};
use crate::actors::api::hosts::ShowHost;
use crate::db::hosts::HostUsage;

const POLICY: &str = "volume_extension:hosts";

fn host_view(s: &ServiceInfo) -> Value {
    let r = &s.row;
    json!({
        "host_name": r.host,
        // Cinder's service topic, which for its services is the binary's name.
        "service": r.service_binary,
        "zone": r.availability_zone,
        "service-status": if service_alive(r) { "available" } else { "unavailable" },
        "service-state": if r.disabled { "disabled" } else { "enabled" },
        "last-update": opt_time(r.updated_at),
    })
}

/// `GET /os-hosts[?zone=]`: every enabled service (Cinder lists only those, so
/// `service-state` is always `enabled`), optionally of one zone.
#[utoipa::path(get, path = "/os-hosts", summary = "List enabled services as hosts (admin)", params(("zone" = Option<String>, Query, description = "One zone's.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/HostList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::admin(&ctx, POLICY)?;
    let zone = guard::query(&req)?
        .into_iter()
        .rev()
        .find(|(k, _)| k == "zone")
        .map(|(_, v)| v)
        .filter(|z| !z.is_empty());
    let services = state
        .api
        .send(ListServices {
            ctx,
            host: None,
            binary: None,
        })
        .await??;
    let hosts: Vec<Value> = services
        .iter()
        .filter(|s| !s.row.disabled)
        .filter(|s| zone.as_ref().is_none_or(|z| &s.row.availability_zone == z))
        .map(host_view)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "hosts": hosts })))
}

fn resource(host: &str, project: &str, counts: [i64; 4]) -> Value {
    // Cinder sends every figure as a string.
    let [volumes, volume_gb, snapshots, snapshot_gb] = counts.map(|n| n.to_string());
    json!({"resource": {
        "host": host,
        "project": project,
        "volume_count": volumes,
        "total_volume_gb": volume_gb,
        "snapshot_count": snapshots,
        "total_snapshot_gb": snapshot_gb,
    }})
}

/// `GET /os-hosts/{host_name}`: a `(total)` row, then one row per project with volumes
/// on the host (a `cinder-volume` service, named as Cinder matches hosts); 404 when no
/// volume service is there.
#[utoipa::path(get, path = "/os-hosts/{host_name}", summary = "A host's volumes and snapshots per project (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/HostUsageList"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::admin(&ctx, POLICY)?;
    let host = guard::segment(&req, "host_name");
    let usage = state
        .api
        .send(ShowHost {
            ctx,
            host: host.clone(),
        })
        .await??;
    let total = usage.iter().fold([0i64; 4], |t, u| {
        [
            t[0] + u.volume_count,
            t[1] + u.volume_gb,
            t[2] + u.snapshot_count,
            t[3] + u.snapshot_gb,
        ]
    });
    let rows = usage.iter().map(|u: &HostUsage| {
        resource(
            &host,
            &u.project_id,
            [u.volume_count, u.volume_gb, u.snapshot_count, u.snapshot_gb],
        )
    });
    let all: Vec<Value> = std::iter::once(resource(&host, "(total)", total))
        .chain(rows)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "host": all })))
}
