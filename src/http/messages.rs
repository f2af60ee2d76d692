//! `/messages` (3.3+; pagination 3.5+; cinder-api.md §17).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::error::ApiError;
use super::listing::PageQuery;
use super::views::{LinkBase, time};
use super::{AppState, guard, listing, version};
use crate::actors::api::messages::{DeleteMessage, GetMessage, ListMessages};
use crate::db::Resource;
use crate::db::messages::MessageFilter;
use crate::db::rows::MessageRow;

/// The view: `resource_type` and `resource_uuid` are left out when unset.
fn message_view(m: &MessageRow, links: &LinkBase) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("event_id".into(), json!(m.event_id));
    o.insert("user_message".into(), json!(m.user_message));
    o.insert("message_level".into(), json!(m.message_level));
    o.insert("created_at".into(), json!(time(m.created_at)));
    o.insert("guaranteed_until".into(), json!(time(m.expires_at)));
    o.insert("request_id".into(), json!(m.request_id));
    o.insert("links".into(), links.links("messages", &m.id));
    if let Some(t) = &m.resource_type {
        o.insert("resource_type".into(), json!(t));
    }
    if let Some(u) = &m.resource_uuid {
        o.insert("resource_uuid".into(), json!(u));
    }
    Value::Object(o)
}

/// `GET /messages`: filters `resource_uuid`, `resource_type`, `event_id`, `request_id`,
/// `message_level`; from 3.5 `limit`/`marker`/`offset`/`sort`.
#[utoipa::path(get, path = "/messages", summary = "List user messages (3.3+)", params(PageQuery), responses((status = 200, description = "Success", body = ref("#/components/schemas/MessageList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 3)?;
    let ver = version::of(&req);
    let params = guard::query(&req)?;
    let mut filter = MessageFilter::default();
    for (k, v) in &params {
        let slot = match k.as_str() {
            "resource_uuid" => &mut filter.resource_uuid,
            "resource_type" => &mut filter.resource_type,
            "event_id" => &mut filter.event_id,
            "request_id" => &mut filter.request_id,
            "message_level" => &mut filter.message_level,
            k if listing::PAGE_KEYS.contains(&k) || k == "all_tenants" => continue,
            other if ver.at_least(3, 31) && !ctx.is_admin => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid filters {other} are found in query options."
                )));
            }
            _ => continue,
        };
        *slot = Some(v.clone());
    }
    const SORT_KEYS: [&str; 7] = [
        "id",
        "created_at",
        "event_id",
        "message_level",
        "request_id",
        "resource_type",
        "resource_uuid",
    ];
    let paged = ver.at_least(3, 5);
    let max = state.limits.max_limit;
    let page = if paged {
        listing::page(&params, &SORT_KEYS, ("created_at", true), max)?
    } else {
        listing::page(&[], &SORT_KEYS, ("created_at", true), max)?
    };
    let all = state.api.send(ListMessages { ctx, filter }).await??;
    let key = |m: &MessageRow, k: &str| match k {
        "created_at" => time(m.created_at),
        "event_id" => m.event_id.clone(),
        "message_level" => m.message_level.clone(),
        "request_id" => m.request_id.clone(),
        "resource_type" => m.resource_type.clone().unwrap_or_default(),
        "resource_uuid" => m.resource_uuid.clone().unwrap_or_default(),
        _ => m.id.clone(),
    };
    let items = listing::apply(
        all,
        &page,
        key,
        |m| m.id.clone(),
        |id| ApiError::not_found(Resource::Message, id),
    )?;
    let links = LinkBase::of(&req);
    let messages: Vec<Value> = items.iter().map(|m| message_view(m, &links)).collect();
    let mut out = json!({ "messages": messages });
    if paged {
        let last = items.last().map(|m| m.id.as_str());
        if let Some(l) = listing::next_link(&links, "messages", &params, &page, items.len(), last) {
            out["messages_links"] = l;
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /messages/{id}`.
#[utoipa::path(get, path = "/messages/{message_id}", summary = "Show a user message (3.3+)", responses((status = 200, description = "Success", body = ref("#/components/schemas/MessageBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 3)?;
    let m = state
        .api
        .send(GetMessage {
            ctx,
            id: guard::segment(&req, "message_id"),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"message": message_view(&m, &LinkBase::of(&req))})))
}

/// `DELETE /messages/{id}` → **204**.
#[utoipa::path(delete, path = "/messages/{message_id}", summary = "Delete a user message (3.3+)", responses((status = 204, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 3)?;
    state
        .api
        .send(DeleteMessage {
            ctx,
            id: guard::segment(&req, "message_id"),
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
