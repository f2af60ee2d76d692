//! `/os-availability-zone`, `/os-services`, `/scheduler-stats/get_pools` and
//! `/capabilities/{host}` (cinder-api.md §14–§16).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{JsonBody, Whole, typed};
use super::error::ApiError;
use super::fields::{Binary, Host, Service, Text};
use super::views::{opt_time, time};
use super::{AppState, guard, validate, version};
use crate::actors::api::catalogue::{
    GetBackendPools, ListPools, ListServices, ListZones, ServiceInfo, SetServiceStatus,
};
use crate::actors::protocol::PoolReport;
use crate::db::services::{ServiceRow, VOLUME_BINARY};

/// Cinder's `service_down_time`: a service silent for longer is `down`.
const SERVICE_DOWN_SECONDS: i64 = 60;

/// `GET /os-availability-zone`: the nodes' zones; available when a node there is enabled.
#[utoipa::path(get, path = "/os-availability-zone", summary = "List availability zones", responses((status = 200, description = "Success", body = ref("#/components/schemas/ZoneList"))))]
pub async fn zones(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let zones = state.api.send(ListZones { ctx }).await??;
    let info: Vec<Value> = zones
        .iter()
        .map(|(z, up)| json!({"zoneName": z, "zoneState": {"available": up}}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "availabilityZoneInfo": info })))
}

/// Whether a service has been heard from within Cinder's `service_down_time`.
pub fn service_alive(r: &ServiceRow) -> bool {
    let last = r.updated_at.unwrap_or(r.created_at);
    (crate::db::now() - last).num_seconds().abs() <= SERVICE_DOWN_SECONDS
}

fn service_view(s: &ServiceInfo, req: &HttpRequest) -> Value {
    let r = &s.row;
    let ver = version::of(req);
    let alive = service_alive(r) && !s.node_down;
    let mut o = Map::new();
    o.insert("binary".into(), json!(r.service_binary));
    o.insert("host".into(), json!(r.host));
    o.insert("zone".into(), json!(r.availability_zone));
    o.insert(
        "status".into(),
        json!(if r.disabled { "disabled" } else { "enabled" }),
    );
    o.insert("state".into(), json!(if alive { "up" } else { "down" }));
    o.insert("updated_at".into(), opt_time(r.updated_at));
    o.insert("disabled_reason".into(), json!(r.disabled_reason));
    if ver.at_least(3, 7) {
        o.insert("cluster".into(), Value::Null);
    }
    if r.service_binary == VOLUME_BINARY {
        o.insert("replication_status".into(), json!("disabled"));
        o.insert("active_backend_id".into(), Value::Null);
        o.insert("frozen".into(), json!(false));
        if ver.at_least(3, 49) {
            o.insert(
                "backend_state".into(),
                if s.has_pools {
                    json!("up")
                } else {
                    Value::Null
                },
            );
        }
    }
    Value::Object(o)
}

/// `GET /os-services[?host=][&binary=]` (admin).
#[utoipa::path(get, path = "/os-services", summary = "List services (admin)", params(("host" = Option<String>, Query, description = "One host's."), ("binary" = Option<String>, Query, description = "One binary's.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/ServiceList"))))]
pub async fn services(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (mut host, mut binary) = (None, None);
    for (k, v) in guard::query(&req)? {
        match k.as_str() {
            "host" => host = Some(v),
            "binary" | "service" => binary = Some(v),
            _ => {}
        }
    }
    let list = state.api.send(ListServices { ctx, host, binary }).await??;
    let services: Vec<Value> = list.iter().map(|s| service_view(s, &req)).collect();
    Ok(HttpResponse::Ok().json(json!({ "services": services })))
}

/// The body of `PUT /os-services/{enable|disable|disable-log-reason}`. Any body that
/// is not an object is read as an empty one (and then lacks its `host`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ServiceUpdate {
    /// The service's host (`node@backend` for a volume service).
    #[schema(inline, required = true, nullable = false, min_length = 1)]
    pub host: Option<Host>,
    /// `cinder-volume` or `cinder-scheduler`; `service` is its older name.
    #[schema(inline, nullable = false, min_length = 1)]
    pub binary: Option<Binary>,
    /// The older name of `binary`.
    #[schema(inline, nullable = false, min_length = 1)]
    pub service: Option<Service>,
    /// Why the service is disabled: required by `disable-log-reason`, ignored otherwise.
    #[schema(inline)]
    pub disabled_reason: Option<Reason>,
}

/// The body of `PUT /os-services/{action}`.
pub type UpdateBody = Whole<ServiceUpdate>;

/// `disabled_reason`: a string, trimmed; anything else is read as none. Whether it is
/// required and fits (1 to 255 characters) is the `disable-log-reason` handler's check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason(String);

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Reason(match Value::deserialize(d)? {
            Value::String(s) => s.trim().to_string(),
            _ => String::new(),
        }))
    }
}

impl PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .into()
    }
}

impl ToSchema for Reason {}

/// A field's text unless it is empty.
fn given<F>(t: Option<Text<F>>) -> Option<String> {
    t.map(String::from).filter(|s| !s.is_empty())
}

/// `PUT /os-services/{enable|disable|disable-log-reason}` (admin) with
/// `{"host", "binary"}` (or the legacy `service`).
#[utoipa::path(put, path = "/os-services/{action}", summary = "Enable or disable a service (admin)", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/ServiceUpdated"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let action = guard::segment(&req, "action");
    let (disabled, with_reason) = match action.as_str() {
        "enable" => (false, false),
        "disable" => (true, false),
        "disable-log-reason" => (true, true),
        _ => {
            return Err(ApiError::BadRequest(
                "Invalid input received: Unknown action".into(),
            ));
        }
    };
    // Read after the action, which Cinder checks first.
    let u = match body {
        Value::Object(_) => typed::<ServiceUpdate>(body)?,
        _ => ServiceUpdate::default(),
    };
    let host = given(u.host).ok_or_else(|| {
        ApiError::BadRequest("Missing required element 'host' in request body.".into())
    })?;
    let (binary_in, service_in) = (given(u.binary), given(u.service));
    let binary = binary_in.clone().or(service_in.clone()).ok_or_else(|| {
        ApiError::BadRequest("Missing required element 'binary' in request body.".into())
    })?;
    let reason = if with_reason {
        let Reason(r) = u.disabled_reason.unwrap_or_default();
        if r.is_empty() || r.chars().count() > 255 {
            return Err(ApiError::BadRequest(
                "Disabled reason contains invalid characters or is too long".into(),
            ));
        }
        Some(r)
    } else {
        None
    };
    let row = state
        .api
        .send(SetServiceStatus {
            ctx,
            host: host.clone(),
            binary,
            disabled,
            reason: reason.clone(),
        })
        .await??;
    let mut out = json!({
        "host": host,
        "service": service_in.unwrap_or_default(),
        "binary": binary_in.unwrap_or(row.service_binary),
        "status": if row.disabled { "disabled" } else { "enabled" },
        "disabled": row.disabled,
    });
    if let Some(r) = reason {
        out["disabled_reason"] = json!(r);
    } else if !row.disabled {
        // Cinder leaves the key out of the enable answer, but Tempest's `enable_service`
        // schema requires it; enabling clears the reason, so it is null (the `disable`
        // schema refuses the key, so a plain disable still has none).
        out["disabled_reason"] = Value::Null;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// What a pool reports, flattened as Cinder shows it: the pool's figures and
/// capabilities, plus the backend's keys and the report's time.
fn capabilities(r: &PoolReport) -> Map<String, Value> {
    let mut o = match serde_json::to_value(&r.pool.stats) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(extra)) = o.remove("capabilities") {
        for (k, v) in extra {
            o.entry(k).or_insert(v);
        }
    }
    o.insert(
        "volume_backend_name".into(),
        json!(r.pool.volume_backend_name),
    );
    o.insert("vendor_name".into(), json!(r.vendor_name));
    o.insert("driver_version".into(), json!(r.driver_version));
    o.insert("storage_protocol".into(), json!(r.pool.storage_protocol));
    o.insert("timestamp".into(), json!(time(r.timestamp)));
    // Cinder's drivers report `backend_state`; here it is the node's holder's liveness.
    o.insert(
        "backend_state".into(),
        json!(if r.down { "down" } else { "up" }),
    );
    o.insert("filter_function".into(), Value::Null);
    o.insert("goodness_function".into(), Value::Null);
    o
}

/// A capability filter as Cinder compares it: strings as given, booleans and numbers by
/// value, anything else by its JSON text.
fn matches(cap: Option<&Value>, wanted: &str) -> bool {
    match cap {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => s == wanted,
        Some(Value::Bool(b)) => validate::boolean(wanted) == Some(*b),
        Some(Value::Number(n)) => wanted.trim().parse::<f64>().ok() == n.as_f64(),
        Some(other) => serde_json::to_string(other).is_ok_and(|s| s == wanted),
    }
}

/// `GET /scheduler-stats/get_pools[?detail=true]` (admin). Filters from 3.28 (`name`
/// and capability keys) and 3.35 (`volume_type`).
#[utoipa::path(get, path = "/scheduler-stats/get_pools", summary = "List pools (admin)", params(("detail" = Option<bool>, Query, description = "With each pool's capabilities.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/PoolList"))))]
pub async fn pools(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let ver = version::of(&req);
    let mut detail = false;
    let mut volume_type = None;
    let mut filters = Vec::new();
    for (k, v) in guard::query(&req)? {
        match k.as_str() {
            "detail" => {
                detail = validate::boolean(&v).ok_or_else(|| {
                    ApiError::BadRequest(format!("Invalid value '{v}' for detail."))
                })?
            }
            "volume_type" if ver.at_least(3, 35) => volume_type = Some(v),
            _ if ver.at_least(3, 28) && k != "volume_type" => filters.push((k, v)),
            _ => {}
        }
    }
    let reports = state.api.send(ListPools { ctx, volume_type }).await??;
    let mut out = Vec::new();
    for r in &reports {
        let caps = capabilities(r);
        let keep = filters.iter().all(|(k, v)| {
            if k == "name" {
                r.pool.host.as_str() == v
            } else {
                matches(caps.get(k), v)
            }
        });
        if !keep {
            continue;
        }
        let mut p = json!({ "name": r.pool.host });
        if detail {
            p["capabilities"] = Value::Object(caps);
        }
        out.push(p);
    }
    Ok(HttpResponse::Ok().json(json!({ "pools": out })))
}

fn property(title: &str, description: &str, kind: &str) -> Value {
    json!({"title": title, "description": description, "type": kind})
}

/// `GET /capabilities/{node@backend}` (admin): what the backend offers to type extra specs.
#[utoipa::path(get, path = "/capabilities/{host}", summary = "A backend's capabilities (admin)", responses((status = 200, description = "Success", body = Object)))]
pub async fn capabilities_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let host = guard::segment(&req, "host");
    let pools = state
        .api
        .send(GetBackendPools {
            ctx,
            host: host.clone(),
        })
        .await??;
    let first = pools
        .first()
        .ok_or_else(|| ApiError::NotFound(format!("Can't find service: {host}")))?;
    let mut properties = Map::new();
    properties.insert(
        "thin_provisioning".into(),
        property("Thin Provisioning", "Sets thin provisioning.", "boolean"),
    );
    properties.insert(
        "compression".into(),
        property("Compression", "Enables compression.", "boolean"),
    );
    properties.insert("qos".into(), property("QoS", "Enables QoS.", "boolean"));
    properties.insert(
        "replication_enabled".into(),
        property("Replication", "Enables replication.", "boolean"),
    );
    for (k, v) in &first.pool.stats.capabilities {
        let kind = match v {
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            _ => "string",
        };
        properties
            .entry(k.clone())
            .or_insert_with(|| property(k, "Reported by the backend.", kind));
    }
    Ok(HttpResponse::Ok().json(json!({
        "namespace": format!("OS::Storage::Capabilities::{host}"),
        "vendor_name": first.vendor_name,
        "volume_backend_name": first.pool.volume_backend_name,
        "pool_name": first.pool.stats.pool_name,
        "driver_version": first.driver_version,
        "storage_protocol": first.pool.storage_protocol,
        "display_name": format!("Capabilities of {host}"),
        "description": Value::Null,
        "visibility": "public",
        "replication_targets": [],
        "properties": properties,
    })))
}
