//! `/attachments` (cinder-api.md §9; 3.27+, `os-complete` 3.44+, `mode` 3.54+).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Caller;
use super::body::{JsonBody, element};
use super::error::ApiError;
use super::views::time;
use super::{AppState, guard, listing, validate, version};
use crate::actors::api::attachments::{
    AttachmentAnswer, AttachmentCall, AttachmentOp, ListAttachments,
};
use crate::db::Resource;
use crate::db::attachments::AttachmentQuery;
use crate::db::rows::AttachmentRow;

fn gate(req: &HttpRequest, minor: u16) -> Result<(), ApiError> {
    if version::of(req).at_least(3, minor) {
        Ok(())
    } else {
        Err(ApiError::NotFound(
            "The resource could not be found.".into(),
        ))
    }
}

fn summary(a: &AttachmentRow) -> Value {
    json!({"id": a.id, "status": a.attach_status, "instance": a.instance_uuid, "volume_id": a.volume_id})
}

/// The detail view. `with_connection` is false in lists: credentials appear only in
/// answers about one attachment, to its project.
fn detail(a: &AttachmentRow, with_connection: bool) -> Value {
    let mut v = summary(a);
    v["attached_at"] = json!(a.attach_time.map(time).unwrap_or_default());
    v["detached_at"] = json!(a.detach_time.map(time).unwrap_or_default());
    v["attach_mode"] = json!(a.attach_mode);
    v["connection_info"] = if with_connection {
        a.connection_info
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_else(|| json!({}))
    } else {
        json!({})
    };
    v
}

fn attachment_id(req: &HttpRequest) -> Result<uuid::Uuid, ApiError> {
    let raw = req.match_info().get("attachment_id").unwrap_or("");
    raw.parse()
        .map_err(|_| ApiError::not_found(Resource::Attachment, raw))
}

async fn one(
    state: &AppState,
    ctx: crate::model::RequestContext,
    id: Option<uuid::Uuid>,
    op: AttachmentOp,
) -> Result<AttachmentAnswer, ApiError> {
    Ok(state.api.send(AttachmentCall { ctx, id, op }).await??)
}

/// `POST /attachments` → 200 with the attachment.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 27)?;
    let a = element(&body, "attachment")?;
    let volume_id = validate::uuid("volume_uuid", a.get("volume_uuid"))?
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute volume_uuid. Value: None.".into(),
            )
        })?
        .parse()
        .map_err(|_| ApiError::BadRequest("Invalid volume_uuid.".into()))?;
    let mode = if version::of(&req).at_least(3, 54) {
        match validate::text("mode", a.get("mode"))? {
            Some(m) if m != "rw" && m != "ro" => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid input for field/attribute mode. Value: {m}."
                )));
            }
            other => other,
        }
    } else {
        None
    };
    let connector = a.get("connector").filter(|c| c.is_object()).cloned();
    let op = AttachmentOp::Create {
        volume_id,
        instance_uuid: validate::text("instance_uuid", a.get("instance_uuid"))?,
        connector,
        mode,
    };
    match one(&state, ctx, None, op).await? {
        AttachmentAnswer::One(row) => {
            Ok(HttpResponse::Ok().json(json!({"attachment": detail(&row, true)})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// `GET /attachments/{id}`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 27)?;
    let id = attachment_id(&req)?;
    match one(&state, ctx, Some(id), AttachmentOp::Get).await? {
        AttachmentAnswer::One(row) => {
            Ok(HttpResponse::Ok().json(json!({"attachment": detail(&row, true)})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// `PUT /attachments/{id}` with a connector → 200.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 27)?;
    let id = attachment_id(&req)?;
    let a = element(&body, "attachment")?;
    let connector = a
        .get("connector")
        .filter(|c| c.is_object())
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("Must specify 'connector'".into()))?;
    match one(&state, ctx, Some(id), AttachmentOp::Update { connector }).await? {
        AttachmentAnswer::One(row) => {
            Ok(HttpResponse::Ok().json(json!({"attachment": detail(&row, true)})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// `POST /attachments/{id}/action` `{"os-complete": null}` → 204 (3.44).
pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 44)?;
    let id = attachment_id(&req)?;
    match body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.keys().next())
    {
        Some(k) if k == "os-complete" => {
            one(&state, ctx, Some(id), AttachmentOp::Complete).await?;
            Ok(HttpResponse::NoContent().finish())
        }
        Some(k) => Err(ApiError::BadRequest(format!(
            "There is no such action: {k}"
        ))),
        None => Err(ApiError::BadRequest("Malformed request body".into())),
    }
}

/// `DELETE /attachments/{id}` → 200 with the volume's remaining attachments.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 27)?;
    let id = attachment_id(&req)?;
    match one(&state, ctx, Some(id), AttachmentOp::Delete).await? {
        AttachmentAnswer::Remaining(rows) => {
            let list: Vec<Value> = rows.iter().map(summary).collect();
            Ok(HttpResponse::Ok().json(json!({"attachments": list})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

async fn list_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: crate::model::RequestContext,
    detailed: bool,
) -> Result<HttpResponse, ApiError> {
    gate(&req, 27)?;
    let params = guard::query(&req)?;
    // (Attachments ignore `marker`.)
    let page = listing::window(&params, state.limits.max_limit)?;
    let mut q = AttachmentQuery {
        project: Some(ctx.project_id.clone()),
        limit: page.limit,
        offset: page.offset,
        ..AttachmentQuery::default()
    };
    for (k, v) in &params {
        match k.as_str() {
            "volume_id" => q.volume_id = Some(v.clone()),
            "status" | "attach_status" => q.status = Some(v.clone()),
            "instance_id" => q.instance_id = Some(v.clone()),
            "all_tenants" if ctx.is_admin && validate::boolean(v).unwrap_or(false) => {
                q.project = None
            }
            _ => {}
        }
    }
    let rows = state.api.send(ListAttachments { ctx, query: q }).await??;
    let list: Vec<Value> = rows
        .iter()
        .map(|a| {
            if detailed {
                detail(a, false)
            } else {
                summary(a)
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"attachments": list})))
}

/// `GET /attachments`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, false).await
}

/// `GET /attachments/detail`.
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, true).await
}
