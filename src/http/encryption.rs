//! `/types/{type_id}/encryption` (Cinder's `api/contrib/volume_type_encryption.py`):
//! create, show, show one field, update, delete. Every call is admin
//! (`volume_extension:volume_type_encryption:{create,get,update,delete}`, admin API in
//! Cinder's defaults). Create, update and delete are refused while a volume has the type.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{Body, Envelope, given};
use super::error::ApiError;
use super::fields::{Cipher, ControlLocation, KeySize, Provider};
use super::views::Time;
use super::{AppState, guard};
use crate::actors::api::encryption::{EncryptionCall, EncryptionOp};
use crate::db::Resource;
use crate::db::encryption::{EncryptionChange, EncryptionRow};

/// A type's encryption as a create or an update gives it: `{"encryption": ...}` and no
/// other key. Other keys inside are taken and ignored, as Cinder's schema allows them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EncryptionSpecs {
    /// e.g. `luks`, at most 255 characters. Required by a create.
    #[schema(inline)]
    pub provider: Option<Provider>,
    /// `front-end` or `back-end`. Required by a create.
    #[schema(inline)]
    pub control_location: Option<ControlLocation>,
    /// e.g. `aes-xts-plain64`, or null.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub cipher: Option<Option<Cipher>>,
    /// Bits (an integer or its digits), or null.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub key_size: Option<Option<KeySize>>,
}

impl Envelope for EncryptionSpecs {
    const KEY: &'static str = "encryption";
    const STRICT_FROM: Option<u16> = None;
    const ONLY_KEY: bool = true;
}

/// The body of a create or an update.
pub type EncryptionBody = Body<EncryptionSpecs>;

impl From<EncryptionSpecs> for EncryptionChange {
    fn from(s: EncryptionSpecs) -> Self {
        EncryptionChange {
            provider: s.provider.map(String::from),
            control_location: s.control_location.map(|c| c.as_ref().to_owned()),
            cipher: s.cipher.map(|c| c.map(String::from)),
            key_size: s.key_size.map(|k| k.map(|KeySize(n)| n)),
        }
    }
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
#[utoipa::path(post, path = "/types/{type_id}/encryption", summary = "Create a type's encryption (admin; refused once a volume has the type)", request_body = EncryptionBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/EncryptionEchoBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(specs): EncryptionBody,
) -> Result<HttpResponse, ApiError> {
    let change = EncryptionChange::from(specs);
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
#[utoipa::path(put, path = "/types/{type_id}/encryption/{key}", summary = "Update a type's encryption; the last segment is the encryption id (admin)", request_body = EncryptionBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/EncryptionEchoBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(specs): EncryptionBody,
) -> Result<HttpResponse, ApiError> {
    let change = EncryptionChange::from(specs);
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
