//! `/attachments` (cinder-api.md §9; 3.27+, `os-complete` 3.44+, `mode` 3.54+).

use std::borrow::Cow;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{Body, Envelope, Whole};
use super::error::ApiError;
use super::fields::{Connector, InstanceUuid, VolumeUuid};
use super::guard::Since;
use super::views::time;
use super::{AppState, guard, listing, validate, version};
use crate::actors::api::attachments::{
    AttachmentAnswer, AttachmentCall, AttachmentOp, ListAttachments,
};
use crate::db::Resource;
use crate::db::attachments::AttachmentQuery;
use crate::db::rows::AttachmentRow;

/// The attachment to create (Cinder's `attachments.create` schema).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttachmentCreate {
    /// The volume.
    #[schema(inline, required = true, nullable = false)]
    pub volume_uuid: Option<VolumeUuid>,
    /// The instance.
    #[schema(inline)]
    pub instance_uuid: Option<InstanceUuid>,
    /// The host's connector; without it the attachment is only reserved.
    #[schema(inline)]
    pub connector: Option<Connector>,
    /// 3.54+: `rw` or `ro`; ignored before.
    #[schema(inline)]
    pub mode: Option<AttachMode>,
}

impl Envelope for AttachmentCreate {
    const KEY: &'static str = "attachment";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `POST /attachments`.
pub type CreateBody = Body<AttachmentCreate>;

/// `mode` of an attachment create. Read from 3.54 only, so its check is made then
/// ([`AttachMode::check`]): an older request's `mode` is ignored whatever it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachMode(Value);

impl AttachMode {
    /// `rw`, `ro` or none (`null`), else Cinder's refusal.
    pub fn check(self) -> Result<Option<String>, ApiError> {
        match validate::text("mode", Some(&self.0))? {
            Some(m) if m != "rw" && m != "ro" => Err(ApiError::BadRequest(format!(
                "Invalid input for field/attribute mode. Value: {m}."
            ))),
            other => Ok(other),
        }
    }
}

impl<'de> Deserialize<'de> for AttachMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(AttachMode)
    }
}

impl PartialSchema for AttachMode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["rw", "ro"]))
            .into()
    }
}

impl ToSchema for AttachMode {}

/// The change of `PUT /attachments/{id}`: the connector, which completes the reservation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AttachmentUpdate {
    /// The host's connector.
    #[schema(inline, required = true, nullable = false)]
    pub connector: Option<Connector>,
}

impl Envelope for AttachmentUpdate {
    const KEY: &'static str = "attachment";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `PUT /attachments/{id}`.
pub type UpdateBody = Body<AttachmentUpdate>;

/// The body of `POST /attachments/{id}/action`: one key, the action; `os-complete`
/// (whose value is ignored) is the only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete;

impl<'de> Deserialize<'de> for Complete {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.keys().next())
        {
            Some(k) if k == "os-complete" => Ok(Complete),
            Some(k) => Err(D::Error::custom(format!("There is no such action: {k}"))),
            None => Err(D::Error::custom("Malformed request body")),
        }
    }
}

impl PartialSchema for Complete {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "os-complete",
                ObjectBuilder::new().schema_type(SchemaType::AnyValue),
            )
            .required("os-complete")
            .into()
    }
}

impl ToSchema for Complete {
    fn name() -> Cow<'static, str> {
        "AttachmentComplete".into()
    }
}

/// The body of `POST /attachments/{id}/action`.
pub type ActionBody = Whole<Complete>;

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
#[utoipa::path(post, path = "/attachments", summary = "Create an attachment", request_body = CreateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
    Body(a): CreateBody,
) -> Result<HttpResponse, ApiError> {
    let volume_id = a
        .volume_uuid
        .map(String::from)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute volume_uuid. Value: None.".into(),
            )
        })?
        .parse()
        .map_err(|_| ApiError::BadRequest("Invalid volume_uuid.".into()))?;
    let mode = match a.mode {
        Some(m) if version::of(&req).at_least(3, 54) => m.check()?,
        _ => None,
    };
    let op = AttachmentOp::Create {
        volume_id,
        instance_uuid: a.instance_uuid.map(String::from),
        connector: a.connector.and_then(|c| c.0),
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
#[utoipa::path(get, path = "/attachments/{attachment_id}", summary = "Show an attachment", responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
) -> Result<HttpResponse, ApiError> {
    let id = attachment_id(&req)?;
    match one(&state, ctx, Some(id), AttachmentOp::Get).await? {
        AttachmentAnswer::One(row) => {
            Ok(HttpResponse::Ok().json(json!({"attachment": detail(&row, true)})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// `PUT /attachments/{id}` with a connector → 200.
#[utoipa::path(put, path = "/attachments/{attachment_id}", summary = "Update an attachment (give the connector)", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
    Body(a): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    let id = attachment_id(&req)?;
    let connector = a
        .connector
        .and_then(|c| c.0)
        .ok_or_else(|| ApiError::BadRequest("Must specify 'connector'".into()))?;
    match one(&state, ctx, Some(id), AttachmentOp::Update { connector }).await? {
        AttachmentAnswer::One(row) => {
            Ok(HttpResponse::Ok().json(json!({"attachment": detail(&row, true)})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// `POST /attachments/{id}/action` `{"os-complete": null}` → 204 (3.44).
#[utoipa::path(post, path = "/attachments/{attachment_id}/action", summary = "Complete an attachment (3.44+)", request_body = ActionBody, responses((status = 204, description = "Success")))]
pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<44>,
    Whole(Complete): ActionBody,
) -> Result<HttpResponse, ApiError> {
    let id = attachment_id(&req)?;
    one(&state, ctx, Some(id), AttachmentOp::Complete).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /attachments/{id}` → 200 with the volume's remaining attachments.
#[utoipa::path(delete, path = "/attachments/{attachment_id}", summary = "Delete an attachment", responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentList"))))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
) -> Result<HttpResponse, ApiError> {
    let id = attachment_id(&req)?;
    match one(&state, ctx, Some(id), AttachmentOp::Delete).await? {
        AttachmentAnswer::Remaining(rows) => {
            let list: Vec<Value> = rows.iter().map(summary).collect();
            Ok(HttpResponse::Ok().json(json!({"attachments": list})))
        }
        _ => Err(ApiError::Internal("unexpected answer".into())),
    }
}

/// The query keys an attachment list reads (`marker` and sorting are ignored).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "describes the query keys `list_view` reads; never constructed"
)]
pub struct AttachmentFilters {
    /// The most items to return.
    limit: Option<i64>,
    /// How many to skip.
    offset: Option<i64>,
    /// Admins: every project's.
    all_tenants: Option<bool>,
    /// One volume's.
    volume_id: Option<String>,
    /// In this status (`attach_status` is the same).
    status: Option<String>,
    /// One instance's.
    instance_id: Option<String>,
}

async fn list_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: crate::model::RequestContext,
    detailed: bool,
) -> Result<HttpResponse, ApiError> {
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
#[utoipa::path(get, path = "/attachments", summary = "List attachments", params(AttachmentFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, false).await
}

/// `GET /attachments/detail`.
#[utoipa::path(get, path = "/attachments/detail", summary = "List attachments with details", params(AttachmentFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/AttachmentList"))))]
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<27>,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, true).await
}
