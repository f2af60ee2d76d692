//! `/volumes/{id}/metadata[/{key}]` (cinder-api.md §5).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
use super::{AppState, validate};
use crate::actors::api::metadata::{DeleteMetadataKey, GetMetadata, MetadataWrite, WriteMetadata};
use crate::db::Resource;
use crate::model::VolumeId;

fn ids(req: &HttpRequest) -> Result<(VolumeId, String), ApiError> {
    let raw = req.match_info().get("volume_id").unwrap_or("");
    let id = super::volumes::volume_id(raw)?;
    Ok((id, req.match_info().get("key").unwrap_or("").to_string()))
}

/// `GET .../metadata`.
pub async fn show_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = ids(&req)?;
    let m = state.api.send(GetMetadata { ctx, id }).await??;
    Ok(HttpResponse::Ok().json(json!({ "metadata": m })))
}

async fn write_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: crate::model::RequestContext,
    body: serde_json::Value,
    mode: MetadataWrite,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = ids(&req)?;
    if !body
        .get("metadata")
        .is_some_and(serde_json::Value::is_object)
    {
        return Err(ApiError::BadRequest(
            "Malformed request body: 'metadata' must be an object.".into(),
        ));
    }
    let metadata = validate::capped(
        validate::metadata("metadata", body.get("metadata"))?,
        state.limits.max_metadata_items,
    )?;
    let m = state
        .api
        .send(WriteMetadata {
            ctx,
            id,
            metadata,
            mode,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "metadata": m })))
}

/// `POST .../metadata`: add or overwrite keys; answers with the whole set.
pub async fn merge(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    write_all(req, state, ctx, body, MetadataWrite::Merge).await
}

/// `PUT .../metadata`: replace the whole set.
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    write_all(req, state, ctx, body, MetadataWrite::Replace).await
}

/// `GET .../metadata/{key}`.
pub async fn show_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = ids(&req)?;
    let m = state.api.send(GetMetadata { ctx, id }).await??;
    match m.get(&key) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({ "meta": { key: v } }))),
        None => Err(ApiError::not_found(
            Resource::VolumeMetadata {
                volume: id.to_string(),
            },
            key,
        )),
    }
}

/// `PUT .../metadata/{key}` with `{"meta": {key: value}}`.
pub async fn update_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = ids(&req)?;
    let meta = validate::metadata("meta", body.get("meta"))?;
    if meta.len() != 1 {
        return Err(ApiError::BadRequest(
            "Request body contains too many items.".into(),
        ));
    }
    if !meta.contains_key(&key) {
        return Err(ApiError::BadRequest("Request body and URI mismatch".into()));
    }
    let all = state
        .api
        .send(WriteMetadata {
            ctx,
            id,
            metadata: meta,
            mode: MetadataWrite::Merge,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "meta": { key.clone(): all.get(&key) } })))
}

/// `DELETE .../metadata/{key}` → 200, empty.
pub async fn delete_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = ids(&req)?;
    state.api.send(DeleteMetadataKey { ctx, id, key }).await??;
    Ok(HttpResponse::Ok().finish())
}
