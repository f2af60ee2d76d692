//! Small endpoints: `/extensions` and `/resource_filters` (3.33) (cinder-api.md §18).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::ApiError;
use super::{AppState, guard};

/// `(alias, name, description)` of the extensions Clinker serves.
const EXTENSIONS: [(&str, &str, &str); 11] = [
    (
        "os-availability-zone",
        "AvailabilityZones",
        "Describe Availability Zones.",
    ),
    ("os-quota-sets", "Quotas", "Quota management support."),
    (
        "os-quota-class-sets",
        "QuotaClasses",
        "Quota classes management support.",
    ),
    ("os-services", "Services", "Services support."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    (
        "os-extended-services",
        "ExtendedServices",
        "Extended services support.",
    ),
    (
        "scheduler-stats",
        "Scheduler_stats",
        "Scheduler stats support.",
    ),
    ("capabilities", "Capabilities", "Capabilities support."),
    ("qos-specs", "Qos_specs_manage", "QoS specs support."),
    (
        "os-types-extra-specs",
        "TypesExtraSpecs",
        "Type extra specs support.",
    ),
    (
        "os-volume-type-access",
        "VolumeTypeAccess",
        "Volume type access support.",
    ),
];

/// `GET /extensions`.
#[utoipa::path(get, path = "/extensions", summary = "List extensions", responses((status = 200, description = "Success", body = Object)))]
pub async fn list(Caller(_ctx): Caller) -> Result<HttpResponse, ApiError> {
    let list: Vec<Value> = EXTENSIONS
        .iter()
        .map(|(alias, name, description)| {
            json!({"alias": alias, "name": name, "description": description,
                   "updated": "2026-11-25T00:00:00+00:00", "links": []})
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "extensions": list })))
}

/// The filters members may use per resource (Cinder's default `resource_filters.json`).
const RESOURCE_FILTERS: [(&str, &[&str]); 6] = [
    (
        "volume",
        &[
            "name",
            "status",
            "metadata",
            "bootable",
            "migration_status",
            "availability_zone",
            "group_id",
            "size",
            "created_at",
            "updated_at",
            "consumes_quota",
        ],
    ),
    (
        "snapshot",
        &[
            "name",
            "status",
            "volume_id",
            "metadata",
            "availability_zone",
            "consumes_quota",
        ],
    ),
    (
        "attachment",
        &["volume_id", "status", "instance_id", "attach_status"],
    ),
    (
        "message",
        &[
            "resource_uuid",
            "resource_type",
            "event_id",
            "request_id",
            "message_level",
        ],
    ),
    ("pool", &["name", "volume_type"]),
    ("volume_type", &["is_public", "extra_specs"]),
];

/// `GET /resource_filters[?resource=volume]` (3.33+).
#[utoipa::path(get, path = "/resource_filters", summary = "Filters each list accepts (3.33+)", responses((status = 200, description = "Success", body = Object)))]
pub async fn resource_filters(
    req: HttpRequest,
    _state: web::Data<AppState>,
    Caller(_ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 33)?;
    let wanted = guard::query(&req)?
        .into_iter()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v);
    let list: Vec<Value> = RESOURCE_FILTERS
        .iter()
        .filter(|(r, _)| wanted.as_deref().is_none_or(|w| w == *r))
        .map(|(r, f)| json!({"resource": r, "filters": f}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "resource_filters": list })))
}
