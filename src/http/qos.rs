//! `/qos-specs` and type associations (cinder-api.md §11). All admin.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::body::{JsonBody, element};
use super::error::ApiError;
use super::views::LinkBase;
use super::{AppState, guard, validate};
use crate::actors::api::qos::{ChangeQos, CreateQos, GetQos, ListQos, QosAssociations, QosChange};
use crate::db::qos::QosDetail;

const CONSUMERS: [&str; 3] = ["back-end", "front-end", "both"];

fn qos_view(q: &QosDetail) -> Value {
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": q.specs})
}

fn consumer(v: &Value) -> Result<String, ApiError> {
    match v.as_str() {
        Some(c) if CONSUMERS.contains(&c) => Ok(c.to_string()),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid input received: Valid consumer of QoS specs are: {} (got {v}).",
            CONSUMERS.join(", ")
        ))),
    }
}

/// The key/value pairs of a `qos_specs` body other than `name` and `consumer`; values
/// are strings (numbers and booleans are taken as their text).
fn specs_of(m: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    m.iter()
        .filter(|(k, _)| k.as_str() != "name" && k.as_str() != "consumer")
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "Invalid input for field/attribute {k}. Value: {other}. {other} is not of type 'string'"
                    )));
                }
            };
            if k.is_empty() || k.chars().count() > 255 || text.chars().count() > 255 {
                return Err(ApiError::BadRequest(format!(
                    "Invalid input for field/attribute {k}. It is longer than 255 characters."
                )));
            }
            Ok((k.clone(), text))
        })
        .collect()
}

fn qos_id(req: &HttpRequest) -> String {
    guard::segment(req, "qos_id")
}

/// `GET /qos-specs`.
pub async fn list(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let all = state.api.send(ListQos { ctx }).await??;
    let list: Vec<Value> = all.iter().map(qos_view).collect();
    Ok(HttpResponse::Ok().json(json!({ "qos_specs": list })))
}

/// `GET /qos-specs/{id}` → the entry and its links.
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
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let m = element(&body, "qos_specs")?;
    let name = validate::text("name", m.get("name"))?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute qos_specs. 'name' is a required property".into(),
            )
        })?;
    let consumer = match m.get("consumer") {
        None | Some(Value::Null) => "back-end".to_string(),
        Some(c) => consumer(c)?,
    };
    let q = state
        .api
        .send(CreateQos {
            ctx,
            name,
            consumer,
            specs: validate::capped(specs_of(m)?, state.limits.max_metadata_items)?,
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
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let m = element(&body, "qos_specs")?;
    let new_consumer = match m.get("consumer") {
        None => None,
        Some(c) => Some(consumer(c)?),
    };
    let specs = validate::capped(specs_of(m)?, state.limits.max_metadata_items)?;
    let set = QosChange::Set {
        consumer: new_consumer,
        specs,
    };
    change(&state, ctx, qos_id(&req), set).await?;
    Ok(HttpResponse::Ok().json(json!({ "qos_specs": m })))
}

/// `DELETE /qos-specs/{id}[?force=true]` → **202**; in use without force → 400.
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
pub async fn delete_keys(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let keys: Vec<String> = body
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|k| k.as_str().map(str::to_string)).collect())
        .ok_or_else(|| {
            ApiError::BadRequest("Missing required element 'keys' in request body.".into())
        })?;
    change(&state, ctx, qos_id(&req), QosChange::DeleteKeys(keys)).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /qos-specs/{id}/associations`.
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
pub async fn disassociate_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    change(&state, ctx, qos_id(&req), QosChange::Disassociate(None)).await?;
    Ok(HttpResponse::Accepted().finish())
}
