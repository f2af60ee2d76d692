//! `/os-quota-sets`, `/os-quota-class-sets` and `/limits` (cinder-api.md §12, §13).

use std::collections::BTreeMap;

use actix::{Handler, Message};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{Body, Envelope};
use super::error::ApiError;
use super::{AppState, guard, validate};
use crate::actors::api::ApiActor;
use crate::actors::api::quota_sets::{
    DeleteQuotaSet, GetQuotaClass, GetQuotaDefaults, GetQuotaSet, UpdateQuotaClass, UpdateQuotaSet,
};
use crate::actors::error::ServiceError;
use crate::db::quotas::Usage;
use crate::model::{RequestContext, quota};

/// Keys a quota-set body may carry that are not resources; they are ignored.
const NON_QUOTA_KEYS: [&str; 2] = ["id", "tenant_id"];

/// A limit: an integer (or a string of one) from -1 to 2^31-1.
fn limit_value(key: &str, v: &Value) -> Result<i64, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::BadRequest(format!("Invalid input received: {key} must be an integer."))
    })?;
    if n < -1 {
        return Err(ApiError::BadRequest(format!(
            "Invalid input received: {key} must be >= -1"
        )));
    }
    if n > validate::MAX_INT as i64 {
        return Err(ApiError::BadRequest(format!(
            "Invalid input received: {key} must be <= {}",
            validate::MAX_INT
        )));
    }
    Ok(n)
}

/// New limits by resource name (`volumes`, `gigabytes`, `snapshots`,
/// `per_volume_gigabytes`, ...), each -1 (none) to 2^31-1; `id` and `tenant_id` are
/// ignored.
#[derive(Debug, Clone, Default)]
pub struct QuotaLimits(pub BTreeMap<String, i64>);

impl<'de> Deserialize<'de> for QuotaLimits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::<String, Value>::deserialize(d)?
            .iter()
            .filter(|(k, _)| !NON_QUOTA_KEYS.contains(&k.as_str()))
            .map(|(k, v)| Ok((k.clone(), limit_value(k, v)?)))
            .collect::<Result<_, ApiError>>()
            .map(QuotaLimits)
            .map_err(D::Error::custom)
    }
}

impl PartialSchema for QuotaLimits {
    fn schema() -> RefOr<Schema> {
        let limit = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
            .minimum(Some(-1))
            .maximum(Some(validate::MAX_INT));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "New limits (-1: none) by resource name, e.g. `volumes`, `gigabytes`, \
                 `snapshots`, `per_volume_gigabytes`.",
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(limit.into())))
            .into()
    }
}

impl ToSchema for QuotaLimits {}

/// `{"quota_set": {...}}` of `PUT /os-quota-sets/{project}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct QuotaSetUpdate(#[schema(inline)] pub QuotaLimits);

impl Envelope for QuotaSetUpdate {
    const KEY: &'static str = "quota_set";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `PUT /os-quota-sets/{project}`.
pub type SetBody = Body<QuotaSetUpdate>;

/// `{"quota_class_set": {...}}` of `PUT /os-quota-class-sets/{class}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct QuotaClassSetUpdate(#[schema(inline)] pub QuotaLimits);

impl Envelope for QuotaClassSetUpdate {
    const KEY: &'static str = "quota_class_set";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `PUT /os-quota-class-sets/{class}`.
pub type ClassSetBody = Body<QuotaClassSetUpdate>;

fn with_id(limits: BTreeMap<String, i64>, id: Option<&str>) -> Value {
    let mut o: Map<String, Value> = limits.into_iter().map(|(k, v)| (k, json!(v))).collect();
    if let Some(id) = id {
        o.insert("id".into(), json!(id));
    }
    Value::Object(o)
}

/// `GET /os-quota-sets/{project}[?usage=true]`.
#[utoipa::path(get, path = "/os-quota-sets/{target_project}", summary = "Show a project's quotas", params(("usage" = Option<bool>, Query, description = "Each limit with its usage.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/QuotaSetBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let target = guard::segment(&req, "target_project");
    let mut usage = false;
    for (k, v) in guard::query(&req)? {
        if k == "usage" {
            usage = validate::boolean(&v)
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid value '{v}' for usage.")))?;
        }
    }
    let set = state
        .api
        .send(GetQuotaSet {
            ctx,
            project: target.clone(),
        })
        .await??;
    let mut o = Map::new();
    for (k, u) in set {
        let v = if usage {
            json!({"limit": u.limit, "in_use": u.in_use, "reserved": u.reserved})
        } else {
            json!(u.limit)
        };
        o.insert(k, v);
    }
    o.insert("id".into(), json!(target));
    Ok(HttpResponse::Ok().json(json!({ "quota_set": o })))
}

/// `GET /os-quota-sets/{project}/defaults`.
#[utoipa::path(get, path = "/os-quota-sets/{target_project}/defaults", summary = "Default quotas", responses((status = 200, description = "Success", body = ref("#/components/schemas/QuotaSetBody"))))]
pub async fn defaults(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let target = guard::segment(&req, "target_project");
    let d = state.api.send(GetQuotaDefaults { ctx }).await??;
    Ok(HttpResponse::Ok().json(json!({ "quota_set": with_id(d, Some(&target)) })))
}

/// A `PUT` of limits (admin): `limits` sent in the message `change` makes of them;
/// answers the limits afterwards, without `id`, under `key`.
async fn put_limits<M>(
    state: &AppState,
    ctx: RequestContext,
    QuotaLimits(limits): QuotaLimits,
    key: &str,
    change: impl FnOnce(RequestContext, BTreeMap<String, i64>) -> M,
) -> Result<HttpResponse, ApiError>
where
    M: Message<Result = Result<BTreeMap<String, i64>, ServiceError>> + Send + 'static,
    ApiActor: Handler<M>,
{
    let after = state.api.send(change(ctx, limits)).await??;
    Ok(HttpResponse::Ok().json(json!({ key: with_id(after, None) })))
}

/// `PUT /os-quota-sets/{project}` (admin) → 200, the limits without `id`.
#[utoipa::path(put, path = "/os-quota-sets/{target_project}", summary = "Update a project's quotas (admin)", request_body = SetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/QuotaSetBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(QuotaSetUpdate(limits)): SetBody,
) -> Result<HttpResponse, ApiError> {
    let project = guard::segment(&req, "target_project");
    put_limits(&state, ctx, limits, "quota_set", |ctx, limits| {
        UpdateQuotaSet {
            ctx,
            project,
            limits,
        }
    })
    .await
}

/// `DELETE /os-quota-sets/{project}` (admin) → **200**, empty body.
#[utoipa::path(delete, path = "/os-quota-sets/{target_project}", summary = "Reset a project's quotas (admin)", responses((status = 200, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .api
        .send(DeleteQuotaSet {
            ctx,
            project: guard::segment(&req, "target_project"),
        })
        .await??;
    Ok(HttpResponse::Ok().finish())
}

/// `GET /os-quota-class-sets/{class}` (admin).
#[utoipa::path(get, path = "/os-quota-class-sets/{class}", summary = "Show a quota class (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/QuotaClassSetBody"))))]
pub async fn class_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let class = guard::segment(&req, "class");
    let l = state
        .api
        .send(GetQuotaClass {
            ctx,
            class: class.clone(),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "quota_class_set": with_id(l, Some(&class)) })))
}

/// `PUT /os-quota-class-sets/{class}` (admin) → 200, the limits without `id`.
#[utoipa::path(put, path = "/os-quota-class-sets/{class}", summary = "Update a quota class (admin)", request_body = ClassSetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/QuotaClassSetBody"))))]
pub async fn class_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(QuotaClassSetUpdate(limits)): ClassSetBody,
) -> Result<HttpResponse, ApiError> {
    let class = guard::segment(&req, "class");
    put_limits(&state, ctx, limits, "quota_class_set", |ctx, limits| {
        UpdateQuotaClass { ctx, class, limits }
    })
    .await
}

/// `GET /limits`: absolute limits and committed usage (reservations excluded); `rate`
/// is always empty. From 3.39 admins may ask about another project (`?project_id=`).
#[utoipa::path(get, path = "/limits", summary = "The caller's limits and usage", params(("project_id" = Option<String>, Query, description = "3.39+, admins: another project.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/LimitsBody"))))]
pub async fn limits(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let mut project = ctx.project_id.to_string();
    if ctx.is_admin && super::version::of(&req).at_least(3, 39) {
        for (k, v) in guard::query(&req)? {
            if k == "project_id" {
                project = v;
            }
        }
    }
    let set = state.api.send(GetQuotaSet { ctx, project }).await??;
    let get = |r: &str| {
        set.get(r).copied().unwrap_or(Usage {
            limit: -1,
            in_use: 0,
            reserved: 0,
        })
    };
    let absolute = json!({
        "maxTotalVolumes": get(quota::VOLUMES).limit,
        "maxTotalSnapshots": get(quota::SNAPSHOTS).limit,
        "maxTotalVolumeGigabytes": get(quota::GIGABYTES).limit,
        "maxTotalBackups": get(quota::BACKUPS).limit,
        "maxTotalBackupGigabytes": get(quota::BACKUP_GIGABYTES).limit,
        "totalVolumesUsed": get(quota::VOLUMES).in_use,
        "totalGigabytesUsed": get(quota::GIGABYTES).in_use,
        "totalSnapshotsUsed": get(quota::SNAPSHOTS).in_use,
        "totalBackupsUsed": get(quota::BACKUPS).in_use,
        "totalBackupGigabytesUsed": get(quota::BACKUP_GIGABYTES).in_use,
    });
    Ok(HttpResponse::Ok().json(json!({"limits": {"rate": [], "absolute": absolute}})))
}
