//! `/types/{type_id}/encryption` (Cinder's `api/contrib/volume_type_encryption.py`):
//! create, show, show one field, update, delete. Every call is admin
//! (`volume_extension:volume_type_encryption:{create,get,update,delete}`, admin API in
//! Cinder's defaults). Create, update and delete are refused while a volume has the type.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::views::Time;
use super::{AppState, guard};
use crate::actors::api::encryption::{EncryptionCall, EncryptionOp};
use crate::db::Resource;
use crate::db::encryption::{EncryptionChange, EncryptionRow};

/// Where the key manager is used: by the consumer (Nova) or by the storage.
const CONTROL_LOCATIONS: [&str; 2] = ["front-end", "back-end"];

/// Cinder's `DB_MAX_INT`, the largest key size it stores.
const MAX_KEY_SIZE: i64 = 0x7FFF_FFFF;

/// `{"encryption": ...}` of a create or an update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptionRequest {
    /// The fields; a create needs `provider` and `control_location`.
    pub encryption: EncryptionSpecs,
}

/// A type's encryption as a request gives it. Other keys are taken and ignored, as
/// Cinder's schema allows them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EncryptionSpecs {
    /// e.g. `luks`, at most 255 characters.
    #[schema(value_type = Option<String>)]
    pub provider: Option<Value>,
    /// `front-end` or `back-end`.
    #[schema(value_type = Option<String>)]
    pub control_location: Option<Value>,
    /// e.g. `aes-xts-plain64`, or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub cipher: Option<Value>,
    /// Bits (an integer or its digits), or null.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub key_size: Option<Value>,
}

/// Keeps a key given as `null` apart from a key left out: `Some(Value::Null)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn invalid(field: &str, v: &Value, why: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: {v}. {why}"
    ))
}

/// A string field of at most 255 characters.
fn short_text(field: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) if s.chars().count() <= 255 => Ok(s.clone()),
        Value::String(_) => Err(invalid(field, v, "It is longer than 255 characters.")),
        _ => Err(invalid(field, v, &format!("{v} is not of type 'string'"))),
    }
}

fn control_location(v: &Value) -> Result<String, ApiError> {
    match v.as_str() {
        Some(c) if CONTROL_LOCATIONS.contains(&c) => Ok(c.to_string()),
        _ => Err(invalid(
            "control_location",
            v,
            &format!("{v} is not one of ['front-end', 'back-end']"),
        )),
    }
}

/// `key_size`: null, a non-negative integer, or a string of digits (Cinder converts it).
fn key_size(v: &Value) -> Result<Option<i64>, ApiError> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (0..=MAX_KEY_SIZE).contains(&n) => Ok(Some(n)),
        _ => Err(invalid(
            "key_size",
            v,
            "It must be an integer between 0 and 2147483647.",
        )),
    }
}

/// The fields a request sets, checked.
fn change_of(s: &EncryptionSpecs) -> Result<EncryptionChange, ApiError> {
    Ok(EncryptionChange {
        provider: s
            .provider
            .as_ref()
            .map(|v| short_text("provider", v))
            .transpose()?,
        control_location: s
            .control_location
            .as_ref()
            .map(control_location)
            .transpose()?,
        cipher: s
            .cipher
            .as_ref()
            .map(|v| match v {
                Value::Null => Ok(None),
                other => short_text("cipher", other).map(Some),
            })
            .transpose()?,
        key_size: s.key_size.as_ref().map(key_size).transpose()?,
    })
}

/// The request's own fields as Cinder echoes them (`key_size` as a number).
fn echo(change: &EncryptionChange) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(p) = &change.provider {
        out.insert("provider".into(), json!(p));
    }
    if let Some(c) = &change.control_location {
        out.insert("control_location".into(), json!(c));
    }
    if let Some(c) = &change.cipher {
        out.insert("cipher".into(), json!(c));
    }
    if let Some(k) = &change.key_size {
        out.insert("key_size".into(), json!(k));
    }
    out
}

fn parse(body: Value) -> Result<EncryptionChange, ApiError> {
    if body.get("encryption").is_none() {
        return Err(ApiError::BadRequest(
            "Missing required element 'encryption' in request body.".into(),
        ));
    }
    let EncryptionRequest { encryption } = serde_json::from_value(body).map_err(|e| {
        ApiError::BadRequest(format!("Invalid input for field/attribute encryption. {e}"))
    })?;
    change_of(&encryption)
}

/// The full view: every column, with Cinder's soft-delete fields (never deleted here).
fn full_view(e: &EncryptionRow) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("volume_type_id".into(), json!(e.volume_type_id));
    out.insert("encryption_id".into(), json!(e.encryption_id));
    out.insert("cipher".into(), json!(e.cipher));
    out.insert("key_size".into(), json!(e.key_size));
    out.insert("provider".into(), json!(e.provider));
    out.insert("control_location".into(), json!(e.control_location));
    out.insert("created_at".into(), json!(Time(e.created_at)));
    out.insert("updated_at".into(), json!(e.updated_at.map(Time)));
    out.insert("deleted".into(), json!(false));
    out.insert("deleted_at".into(), Value::Null);
    out
}

fn type_id(req: &HttpRequest) -> String {
    guard::segment(req, "type_id")
}

async fn call(
    state: &AppState,
    ctx: crate::model::RequestContext,
    type_id: String,
    op: EncryptionOp,
) -> Result<Option<EncryptionRow>, ApiError> {
    Ok(state
        .api
        .send(EncryptionCall { ctx, type_id, op })
        .await??)
}

/// `GET /types/{id}/encryption` → the entry, unwrapped, or `{}` for a type without one.
#[utoipa::path(get, path = "/types/{type_id}/encryption", summary = "Show a type's encryption (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/Encryption"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let found = call(&state, ctx, type_id(&req), EncryptionOp::Get).await?;
    Ok(HttpResponse::Ok().json(found.as_ref().map(full_view).unwrap_or_default()))
}

/// `GET /types/{id}/encryption/{key}` → `{"<key>": value}`; a key the entry lacks (or a
/// type without an entry) is 404.
#[utoipa::path(get, path = "/types/{type_id}/encryption/{key}", summary = "Show one field of a type's encryption (admin)", responses((status = 200, description = "Success", body = Object)))]
pub async fn show_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = type_id(&req);
    let key = guard::segment(&req, "key");
    let found = call(&state, ctx, id.clone(), EncryptionOp::Get).await?;
    let value = found
        .as_ref()
        .map(full_view)
        .and_then(|mut m| m.remove(&key))
        .ok_or_else(|| ApiError::not_found(Resource::Encryption, &id))?;
    Ok(HttpResponse::Ok().json(json!({ key: value })))
}

/// `POST /types/{id}/encryption` → **200** `{"encryption": ...}` with the new ids.
#[utoipa::path(post, path = "/types/{type_id}/encryption", summary = "Create a type's encryption (admin; refused once a volume has the type)", request_body = EncryptionRequest, responses((status = 200, description = "Success", body = ref("#/components/schemas/EncryptionEchoBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let change = parse(body)?;
    let required = |field: &str| {
        ApiError::BadRequest(format!(
            "Invalid input for field/attribute encryption. '{field}' is a required property"
        ))
    };
    let op = EncryptionOp::Create {
        provider: change
            .provider
            .clone()
            .ok_or_else(|| required("provider"))?,
        control_location: change
            .control_location
            .clone()
            .ok_or_else(|| required("control_location"))?,
        cipher: change.cipher.clone().flatten(),
        key_size: change.key_size.flatten(),
    };
    let row = call(&state, ctx, type_id(&req), op)
        .await?
        .ok_or_else(|| ApiError::Internal("create answered no entry".into()))?;
    let mut out = echo(&change);
    out.insert("volume_type_id".into(), json!(row.volume_type_id));
    out.insert("encryption_id".into(), json!(row.encryption_id));
    Ok(HttpResponse::Ok().json(json!({ "encryption": out })))
}

/// `PUT /types/{id}/encryption/{encryption_id}` → **200** echoing the changed fields.
/// The id in the path is not looked at, as in Cinder: a type has one entry.
#[utoipa::path(put, path = "/types/{type_id}/encryption/{key}", summary = "Update a type's encryption; the last segment is the encryption id (admin)", request_body = EncryptionRequest, responses((status = 200, description = "Success", body = ref("#/components/schemas/EncryptionEchoBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let change = parse(body)?;
    let out = echo(&change);
    call(&state, ctx, type_id(&req), EncryptionOp::Update(change)).await?;
    Ok(HttpResponse::Ok().json(json!({ "encryption": out })))
}

/// `DELETE /types/{id}/encryption/{encryption_id}` → **202**.
#[utoipa::path(delete, path = "/types/{type_id}/encryption/{key}", summary = "Delete a type's encryption; the last segment is the encryption id (admin)", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    call(&state, ctx, type_id(&req), EncryptionOp::Delete).await?;
    Ok(HttpResponse::Accepted().finish())
}
