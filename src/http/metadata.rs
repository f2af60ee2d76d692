//! `/volumes/{id}/metadata[/{key}]` (cinder-api.md §5).

use std::collections::BTreeMap;

use actix_web::http::header::{ETAG, IF_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::Whole;
use super::error::ApiError;
use super::fields::Metadata;
use super::{AppState, validate, version};
use crate::actors::api::metadata::{DeleteMetadataKey, GetMetadata, MetadataWrite, WriteMetadata};
use crate::db::Resource;
use crate::model::{RequestContext, VolumeId};

/// The ETag of a volume's metadata (3.15, Cinder's `ETAGS`): a digest of the answer
/// `GET .../metadata` gives. Cinder sends the MD5 of its JSON; a client only echoes the
/// value back in `If-Match`, so this one is the SHA-256 of ours (keys sorted, so one set
/// always has one tag). Unquoted, as Cinder sends it.
pub fn etag(metadata: &BTreeMap<String, String>) -> String {
    let body = json!({ "metadata": metadata }).to_string();
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `If-Match` (absent: yes) names `tag`: `*`, or one of its comma-separated
/// tags, quoted or not, weak or strong (webob, which Cinder reads it with, takes both).
fn if_match_names(req: &HttpRequest, tag: &str) -> bool {
    let Some(header) = req.headers().get(IF_MATCH) else {
        return true;
    };
    let Ok(text) = header.to_str() else {
        return false;
    };
    text.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        let t = t
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(t);
        t == "*" || t == tag
    })
}

/// From 3.15, a write with an `If-Match` that does not name the metadata's current ETag
/// is refused with 412 before anything is written (Cinder's `_validate_etag`). Like
/// Cinder's, the check and the write are two steps: it catches a client writing over
/// a change it has not read, not two writes racing each other.
async fn check_if_match(
    req: &HttpRequest,
    state: &AppState,
    ctx: &RequestContext,
    id: VolumeId,
) -> Result<(), ApiError> {
    if !version::of(req).at_least(3, 15) || !req.headers().contains_key(IF_MATCH) {
        return Ok(());
    }
    let current = state
        .api
        .send(GetMetadata {
            ctx: ctx.clone(),
            id,
        })
        .await??;
    if if_match_names(req, &etag(&current)) {
        Ok(())
    } else {
        Err(ApiError::PreconditionFailed(
            "The metadata has changed since the ETag given in If-Match was read.".into(),
        ))
    }
}

/// `{"metadata": {...}}` of a metadata merge or replace, of a volume or a snapshot.
/// Anything but an object under `metadata` is refused with Cinder's words for it.
#[derive(Debug, Clone, ToSchema)]
pub struct MetadataSet {
    /// The pairs.
    #[schema(inline)]
    pub metadata: Metadata,
}

impl<'de> Deserialize<'de> for MetadataSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let body = Value::deserialize(d)?;
        match body.get("metadata") {
            Some(m @ Value::Object(_)) => validate::metadata("metadata", Some(m))
                .map(|m| MetadataSet {
                    metadata: Metadata(m),
                })
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "Malformed request body: 'metadata' must be an object.",
            )),
        }
    }
}

/// The body of a metadata merge or replace.
pub type SetBody = Whole<MetadataSet>;

/// `{"meta": {"<key>": "<value>"}}` of a one-key write. Checked as metadata; whether it
/// holds exactly the path's key is the handler's check (an absent `meta` is no pair).
#[derive(Debug, Clone, ToSchema)]
pub struct MetaItem {
    /// One pair, whose key is the path's.
    #[schema(inline)]
    pub meta: Metadata,
}

impl<'de> Deserialize<'de> for MetaItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let body = Value::deserialize(d)?;
        validate::metadata("meta", body.get("meta"))
            .map(|m| MetaItem { meta: Metadata(m) })
            .map_err(D::Error::custom)
    }
}

/// The body of a one-key write.
pub type ItemBody = Whole<MetaItem>;

fn ids(req: &HttpRequest) -> Result<(VolumeId, String), ApiError> {
    let raw = req.match_info().get("volume_id").unwrap_or("");
    let id = super::volumes::volume_id(raw)?;
    Ok((id, req.match_info().get("key").unwrap_or("").to_string()))
}

/// `GET .../metadata`.
#[utoipa::path(get, path = "/volumes/{volume_id}/metadata", summary = "Show a volume's metadata (3.15+: with an ETag)", responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn show_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = ids(&req)?;
    let m = state.api.send(GetMetadata { ctx, id }).await??;
    let mut answer = HttpResponse::Ok();
    if version::of(&req).at_least(3, 15) {
        answer.insert_header((ETAG, etag(&m)));
    }
    Ok(answer.json(json!({ "metadata": m })))
}

async fn write_all(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: RequestContext,
    MetadataSet { metadata }: MetadataSet,
    mode: MetadataWrite,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = ids(&req)?;
    let metadata = validate::capped(metadata.into_map(), state.limits.max_metadata_items)?;
    // Cinder checks If-Match on PUT (replace) only, not on POST (merge).
    if mode == MetadataWrite::Replace {
        check_if_match(&req, &state, &ctx, id).await?;
    }
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
#[utoipa::path(post, path = "/volumes/{volume_id}/metadata", summary = "Merge metadata", request_body = SetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn merge(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(body): SetBody,
) -> Result<HttpResponse, ApiError> {
    write_all(req, state, ctx, body, MetadataWrite::Merge).await
}

/// `PUT .../metadata`: replace the whole set.
#[utoipa::path(put, path = "/volumes/{volume_id}/metadata", summary = "Replace metadata (3.15+: If-Match, 412 when stale)", request_body = SetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(body): SetBody,
) -> Result<HttpResponse, ApiError> {
    write_all(req, state, ctx, body, MetadataWrite::Replace).await
}

/// `GET .../metadata/{key}`.
#[utoipa::path(get, path = "/volumes/{volume_id}/metadata/{key}", summary = "Show one metadata key", responses((status = 200, description = "Success", body = ref("#/components/schemas/MetaBody"))))]
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
#[utoipa::path(put, path = "/volumes/{volume_id}/metadata/{key}", summary = "Set one metadata key (3.15+: If-Match, 412 when stale)", request_body = ItemBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetaBody"))))]
pub async fn update_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(MetaItem { meta }): ItemBody,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = ids(&req)?;
    let meta = meta.into_map();
    // Cinder checks the ETag before it looks at the item.
    check_if_match(&req, &state, &ctx, id).await?;
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
#[utoipa::path(delete, path = "/volumes/{volume_id}/metadata/{key}", summary = "Delete one metadata key", responses((status = 200, description = "Success")))]
pub async fn delete_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = ids(&req)?;
    state.api.send(DeleteMetadataKey { ctx, id, key }).await??;
    Ok(HttpResponse::Ok().finish())
}
