//! `/qos-specs` and type associations (cinder-api.md §11). All admin.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{Body, Envelope, Whole, given};
use super::error::ApiError;
use super::fields::Name;
use super::views::LinkBase;
use super::{AppState, guard, validate};
use crate::actors::api::qos::{ChangeQos, CreateQos, GetQos, ListQos, QosAssociations, QosChange};
use crate::db::qos::QosDetail;

const CONSUMERS: [&str; 3] = ["back-end", "front-end", "both"];

fn qos_view(q: &QosDetail) -> Value {
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": q.specs})
}

/// Where QoS specs apply: `front-end`, `back-end` or `both`. `null` and anything else
/// are refused with Cinder's words, which list the three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer(String);

impl<'de> Deserialize<'de> for Consumer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v.as_str() {
            Some(c) if CONSUMERS.contains(&c) => Ok(Consumer(c.to_string())),
            _ => Err(D::Error::custom(format!(
                "Invalid input received: Valid consumer of QoS specs are: {} (got {v}).",
                CONSUMERS.join(", ")
            ))),
        }
    }
}

impl PartialSchema for Consumer {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(CONSUMERS))
            .into()
    }
}

impl ToSchema for Consumer {}

/// The specs themselves: every key of a `qos_specs` body other than those its struct
/// names. Values are strings (numbers and booleans are taken as their text); the keys
/// and values as sent are kept for the update's echo.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// As sent.
    raw: Map<String, Value>,
    /// As stored.
    specs: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for Specs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Map::<String, Value>::deserialize(d)?;
        let specs = raw
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(D::Error::custom(format!(
                            "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
                        )));
                    }
                };
                if k.is_empty() || k.chars().count() > 255 || text.chars().count() > 255 {
                    return Err(D::Error::custom(format!(
                        "Invalid input for field/attribute {k}. It is longer than 255 characters."
                    )));
                }
                Ok((k.clone(), text))
            })
            .collect::<Result<_, _>>()?;
        Ok(Specs { raw, specs })
    }
}

impl PartialSchema for Specs {
    fn schema() -> RefOr<Schema> {
        let value = ObjectBuilder::new().schema_type(SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Boolean,
        ]));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
            .into()
    }
}

impl ToSchema for Specs {}

/// New QoS specs: a name, where they apply, and the specs themselves as further keys
/// beside those two (`total_iops_sec`, ...).
#[derive(Debug, Deserialize, ToSchema)]
pub struct QosSpecsCreate {
    /// Name, unique.
    #[schema(inline, required = true, nullable = false)]
    pub name: Option<Name>,
    /// `front-end`, `back-end` (the default) or `both`.
    #[schema(inline)]
    pub consumer: Option<Consumer>,
    /// Every other key is a spec.
    #[serde(flatten)]
    #[schema(inline)]
    pub specs: Specs,
}

impl Envelope for QosSpecsCreate {
    const KEY: &'static str = "qos_specs";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `POST /qos-specs`.
pub type CreateBody = Body<QosSpecsCreate>;

/// A change to QoS specs: keys to set (an existing key is replaced) and, optionally, a
/// new consumer. The answer echoes what was sent.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QosSpecsUpdate {
    /// `front-end`, `back-end` or `both` (`null` is refused).
    #[serde(default, deserialize_with = "given")]
    #[schema(inline, nullable = false)]
    pub consumer: Option<Consumer>,
    /// Ignored (a name is set at create), and echoed.
    #[serde(default, deserialize_with = "given")]
    pub name: Option<Value>,
    /// The keys to set.
    #[serde(flatten)]
    #[schema(inline)]
    pub specs: Specs,
}

impl Envelope for QosSpecsUpdate {
    const KEY: &'static str = "qos_specs";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `PUT /qos-specs/{id}`.
pub type UpdateBody = Body<QosSpecsUpdate>;

/// `{"keys": [...]}` of `PUT /qos-specs/{id}/delete_keys`: anything else, or a key
/// that is not a string, is Cinder's missing-element error.
#[derive(Debug, Clone, ToSchema)]
pub struct QosKeys {
    /// The keys to remove.
    pub keys: Vec<String>,
}

impl<'de> Deserialize<'de> for QosKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d)?
            .get("keys")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|k| k.as_str().map(str::to_string)).collect())
            .map(|keys| QosKeys { keys })
            .ok_or_else(|| D::Error::custom("Missing required element 'keys' in request body."))
    }
}

/// The body of `PUT /qos-specs/{id}/delete_keys`.
pub type KeysBody = Whole<QosKeys>;

/// One type a QoS entry is associated with.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the JSON `associations` builds")]
struct QosAssociation {
    /// `volume_type`.
    association_type: String,
    /// The type's name.
    name: String,
    /// The type's id.
    id: String,
}

/// `{"qos_associations": [...]}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the JSON `associations` builds")]
struct QosAssociationList {
    /// The types.
    qos_associations: Vec<QosAssociation>,
}

fn qos_id(req: &HttpRequest) -> String {
    guard::segment(req, "qos_id")
}

/// `GET /qos-specs`.
#[utoipa::path(get, path = "/qos-specs", summary = "List QoS specs (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/QosSpecsList"))))]
pub async fn list(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let all = state.api.send(ListQos { ctx }).await??;
    let list: Vec<Value> = all.iter().map(qos_view).collect();
    Ok(HttpResponse::Ok().json(json!({ "qos_specs": list })))
}

/// `GET /qos-specs/{id}` → the entry and its links.
#[utoipa::path(get, path = "/qos-specs/{qos_id}", summary = "Show QoS specs (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/QosSpecsBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let q = state
        .api
        .send(GetQos {
            ctx,
            id: qos_id(&req),
        })
        .await??;
    let links = LinkBase::of(&req).links("qos-specs", &q.id);
    Ok(HttpResponse::Ok().json(json!({"qos_specs": qos_view(&q), "links": links})))
}

/// `POST /qos-specs` → **200** (the api-ref says 202; the code answers 200).
#[utoipa::path(post, path = "/qos-specs", summary = "Create QoS specs (admin)", request_body = CreateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/QosSpecsBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(q): CreateBody,
) -> Result<HttpResponse, ApiError> {
    let name = q
        .name
        .map(String::from)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute qos_specs. 'name' is a required property".into(),
            )
        })?;
    let consumer = q.consumer.map_or_else(|| "back-end".to_string(), |c| c.0);
    let q = state
        .api
        .send(CreateQos {
            ctx,
            name,
            consumer,
            specs: validate::capped(q.specs.specs, state.limits.max_metadata_items)?,
        })
        .await??;
    let links = LinkBase::of(&req).links("qos-specs", &q.id);
    Ok(HttpResponse::Ok().json(json!({"qos_specs": qos_view(&q), "links": links})))
}

async fn change(
    state: &AppState,
    ctx: crate::model::RequestContext,
    id: String,
    change: QosChange,
) -> Result<(), ApiError> {
    Ok(state.api.send(ChangeQos { ctx, id, change }).await??)
}

/// `PUT /qos-specs/{id}` `{"qos_specs": {k: v}}` → 200, echoing the body.
#[utoipa::path(put, path = "/qos-specs/{qos_id}", summary = "Update QoS specs (admin)", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/QosSpecsUpdateBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(q): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    let mut echo = q.specs.raw;
    if let Some(Consumer(c)) = &q.consumer {
        echo.insert("consumer".into(), json!(c));
    }
    if let Some(name) = q.name {
        echo.insert("name".into(), name);
    }
    let specs = validate::capped(q.specs.specs, state.limits.max_metadata_items)?;
    let set = QosChange::Set {
        consumer: q.consumer.map(|c| c.0),
        specs,
    };
    change(&state, ctx, qos_id(&req), set).await?;
    Ok(HttpResponse::Ok().json(json!({ "qos_specs": echo })))
}

/// `DELETE /qos-specs/{id}[?force=true]` → **202**; in use without force → 400.
#[utoipa::path(delete, path = "/qos-specs/{qos_id}", summary = "Delete QoS specs (admin)", params(("force" = Option<bool>, Query, description = "Delete even when associated.")), responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let mut force = false;
    for (k, v) in guard::query(&req)? {
        if k == "force" {
            force = validate::boolean(&v)
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid value '{v}' for force.")))?;
        }
    }
    change(&state, ctx, qos_id(&req), QosChange::Delete { force }).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `PUT /qos-specs/{id}/delete_keys` `{"keys": [...]}` → **202**.
#[utoipa::path(put, path = "/qos-specs/{qos_id}/delete_keys", summary = "Delete QoS keys (admin)", request_body = KeysBody, responses((status = 202, description = "Success")))]
pub async fn delete_keys(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(QosKeys { keys }): KeysBody,
) -> Result<HttpResponse, ApiError> {
    change(&state, ctx, qos_id(&req), QosChange::DeleteKeys(keys)).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /qos-specs/{id}/associations`.
#[utoipa::path(get, path = "/qos-specs/{qos_id}/associations", summary = "List QoS associations (admin)", responses((status = 200, description = "Success", body = QosAssociationList)))]
pub async fn associations(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .api
        .send(QosAssociations {
            ctx,
            id: qos_id(&req),
        })
        .await??;
    let out: Vec<Value> = list
        .iter()
        .map(|(id, name)| json!({"association_type": "volume_type", "name": name, "id": id}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "qos_associations": out })))
}

fn vol_type_id(req: &HttpRequest) -> Result<String, ApiError> {
    guard::query(req)?
        .into_iter()
        .find(|(k, _)| k == "vol_type_id")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest("Volume Type id must not be None.".into()))
}

/// `GET /qos-specs/{id}/associate?vol_type_id=` → **202** (a GET, as in Cinder).
#[utoipa::path(get, path = "/qos-specs/{qos_id}/associate", summary = "Associate QoS specs with a type (admin)", params(("vol_type_id" = String, Query, description = "The volume type.")), responses((status = 202, description = "Success")))]
pub async fn associate(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let t = vol_type_id(&req)?;
    change(&state, ctx, qos_id(&req), QosChange::Associate(t)).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /qos-specs/{id}/disassociate?vol_type_id=` → **202**.
#[utoipa::path(get, path = "/qos-specs/{qos_id}/disassociate", summary = "Disassociate QoS specs from a type (admin)", params(("vol_type_id" = String, Query, description = "The volume type.")), responses((status = 202, description = "Success")))]
pub async fn disassociate(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let t = vol_type_id(&req)?;
    change(&state, ctx, qos_id(&req), QosChange::Disassociate(Some(t))).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /qos-specs/{id}/disassociate_all` → **202**.
#[utoipa::path(get, path = "/qos-specs/{qos_id}/disassociate_all", summary = "Disassociate QoS specs from all types (admin)", responses((status = 202, description = "Success")))]
pub async fn disassociate_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    change(&state, ctx, qos_id(&req), QosChange::Disassociate(None)).await?;
    Ok(HttpResponse::Accepted().finish())
}
