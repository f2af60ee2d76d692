//! `/snapshots` (cinder-api.md §8).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{Body, Envelope, JsonBody, Whole, actions, given, typed};
use super::error::ApiError;
use super::fields::{
    Description, DisplayDescription, DisplayName, Flag, Force, Loose, Metadata, Name, VolumeRef,
    given_newer_or_older, newer_or_older, no_arguments,
};
use super::listing::{ListFilters, PageQuery};
use super::metadata::{self, MetaItem, MetadataSet};
use super::version::ApiVersion;
use super::views::{opt_time, time};
use super::{AppState, guard, listing, policy, validate, version};
use crate::actors::api::snapshots::{CreateSnapshot, ListSnapshots, SnapshotCall, SnapshotOp};
use crate::db::Resource;
use crate::db::snapshots::{SnapshotQuery, SnapshotRecord};
use crate::model::{RequestContext, SnapshotId, SnapshotStatus, VolumeId};
use crate::policy::Action;

/// Which of Cinder's snapshot views an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `GET /snapshots`: the summary, no microversioned fields.
    Summary,
    /// Create and update: the detail view, without the extension's attributes.
    Detail,
    /// Show and `GET /snapshots/detail`: the detail view plus
    /// `os-extended-snapshot-attributes:*`. Cinder's extension extends only `show` and
    /// `detail`, and Tempest's create and update schemas refuse those keys.
    Extended,
}

fn view(s: &SnapshotRecord, ver: ApiVersion, shape: Shape) -> Value {
    let r = &s.row;
    let mut o = Map::new();
    o.insert("id".into(), json!(r.id));
    o.insert("name".into(), json!(r.display_name));
    o.insert("description".into(), json!(r.display_description));
    o.insert("status".into(), json!(r.status));
    o.insert("size".into(), json!(r.volume_size));
    o.insert("volume_id".into(), json!(r.volume_id));
    o.insert("metadata".into(), json!(s.metadata));
    o.insert("created_at".into(), json!(time(r.created_at)));
    o.insert("updated_at".into(), opt_time(r.updated_at));
    if shape != Shape::Summary {
        if ver.at_least(3, 14) {
            o.insert("group_snapshot_id".into(), Value::Null);
        }
        if ver.at_least(3, 41) {
            o.insert("user_id".into(), json!(r.user_id));
        }
        if ver.at_least(3, 65) {
            o.insert("consumes_quota".into(), json!(true));
        }
    }
    if shape == Shape::Extended {
        o.insert(
            "os-extended-snapshot-attributes:project_id".into(),
            json!(r.project_id),
        );
        o.insert(
            "os-extended-snapshot-attributes:progress".into(),
            json!(r.progress),
        );
    }
    Value::Object(o)
}

/// The keys a snapshot list sorts by: Cinder's snapshot columns the API shows, and
/// `name`, which Cinder maps to `display_name`.
const SORT_KEYS: [&str; 12] = [
    "id",
    "created_at",
    "updated_at",
    "status",
    "progress",
    "volume_id",
    "volume_size",
    "name",
    "display_name",
    "display_description",
    "project_id",
    "user_id",
];

/// A snapshot's value for sort key `k`, as a string that orders as the column does
/// (sizes zero-padded; an unset time or text sorts first, as NULL does).
fn sort_value(s: &SnapshotRecord, k: &str) -> String {
    let r = &s.row;
    match k {
        "created_at" => time(r.created_at),
        "updated_at" => r.updated_at.map(time).unwrap_or_default(),
        "status" => r.status.to_string(),
        "progress" => r.progress.clone(),
        "volume_id" => r.volume_id.clone(),
        "volume_size" => format!("{:020}", r.volume_size),
        "name" | "display_name" => r.display_name.clone().unwrap_or_default(),
        "display_description" => r.display_description.clone().unwrap_or_default(),
        "project_id" => r.project_id.to_string(),
        "user_id" => r.user_id.clone(),
        _ => r.id.to_string(),
    }
}

fn snapshot_id(req: &HttpRequest) -> Result<SnapshotId, ApiError> {
    let raw = req.match_info().get("snapshot_id").unwrap_or("");
    raw.parse()
        .map_err(|_| ApiError::not_found(Resource::Snapshot, raw))
}

async fn call(
    state: &AppState,
    ctx: RequestContext,
    id: SnapshotId,
    op: SnapshotOp,
) -> Result<Option<SnapshotRecord>, ApiError> {
    Ok(state.api.send(SnapshotCall { ctx, id, op }).await??)
}

fn gone() -> ApiError {
    ApiError::Internal("snapshot vanished during the call".into())
}

/// The snapshot to create: `{"snapshot": {...}}`. Other keys are ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SnapshotCreate {
    /// The volume to snapshot (required; `null` names no volume, hence 404).
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub volume_id: Option<Option<VolumeRef>>,
    /// Display name.
    #[schema(inline)]
    pub name: Option<Name>,
    /// The older spelling of `name`, read when `name` is absent.
    #[schema(inline)]
    pub display_name: Option<DisplayName>,
    /// Display description.
    #[schema(inline)]
    pub description: Option<Description>,
    /// The older spelling of `description`, read when `description` is absent.
    #[schema(inline)]
    pub display_description: Option<DisplayDescription>,
    /// Snapshot an in-use volume; from 3.66 always, and `false` is refused.
    #[schema(inline)]
    pub force: Option<Force>,
    /// User metadata.
    #[schema(inline)]
    pub metadata: Option<Metadata>,
}

/// The body of `POST /snapshots`.
pub type CreateBody = Body<SnapshotCreate>;

impl Envelope for SnapshotCreate {
    const KEY: &'static str = "snapshot";
    const STRICT_FROM: Option<u16> = None;
}

/// `PUT /snapshots/{id}`: `{"snapshot": {...}}` with at least one of these keys and no
/// other. A key given as `null` clears the field.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SnapshotUpdate {
    /// Display name.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub name: Option<Option<Name>>,
    /// The older spelling of `name`, read when `name` is absent.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub display_name: Option<Option<DisplayName>>,
    /// Display description.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub description: Option<Option<Description>>,
    /// The older spelling of `description`, read when `description` is absent.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub display_description: Option<Option<DisplayDescription>>,
}

/// The body of `PUT /snapshots/{id}`.
pub type UpdateBody = Body<SnapshotUpdate>;

impl Envelope for SnapshotUpdate {
    const KEY: &'static str = "snapshot";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// `POST /snapshots` → 202 `creating`.
#[utoipa::path(post, path = "/snapshots", summary = "Create a snapshot", request_body = CreateBody, responses((status = 202, description = "Success", body = ref("#/components/schemas/SnapshotBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(s): CreateBody,
) -> Result<HttpResponse, ApiError> {
    let ver = version::of(&req);
    // Cinder's schema requires the key but allows `null`; a `null` id then fails the
    // volume lookup, so it answers 404 (Tempest's `volume_id=None` test expects that).
    let volume_id: VolumeId = s
        .volume_id
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute snapshot. 'volume_id' is a required property."
                    .into(),
            )
        })?
        .ok_or_else(|| ApiError::not_found(Resource::Volume, "None"))?
        .0
        .parse()
        .map_err(|_| ApiError::BadRequest("Invalid volume_id.".into()))?;
    let force = s.force.map(Flag::get);
    if ver.at_least(3, 66) && force == Some(false) {
        return Err(ApiError::BadRequest(
            "Invalid input received: force=false is not supported from microversion 3.66.".into(),
        ));
    }
    let record = state
        .api
        .send(CreateSnapshot {
            ctx,
            volume_id,
            name: newer_or_older(s.name, s.display_name),
            description: newer_or_older(s.description, s.display_description),
            force: force.unwrap_or(false) || ver.at_least(3, 66),
            metadata: validate::capped(
                s.metadata.unwrap_or_default().into_map(),
                state.limits.max_metadata_items,
            )?,
        })
        .await??;
    Ok(created(&req, &record))
}

/// The answer to a create: 202 with the snapshot. Also the answer to a keyed retry of a
/// create whose request died before its answer was stored (see `idempotency`).
pub(crate) fn created(req: &HttpRequest, record: &SnapshotRecord) -> HttpResponse {
    let ver = version::of(req);
    HttpResponse::Accepted().json(json!({"snapshot": view(record, ver, Shape::Detail)}))
}

async fn list_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: RequestContext,
    detail: bool,
) -> Result<HttpResponse, ApiError> {
    let params = guard::query(&req)?;
    // Read (and so check) the sort even when none is given: an unknown key is a 400,
    // as in Cinder, whose database layer refuses a key that is not a snapshot column.
    let page = listing::page(
        &params,
        &SORT_KEYS,
        ("created_at", true),
        state.limits.max_limit,
    )?;
    let sorted = params
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "sort" | "sort_key" | "sort_dir"));
    let mut q = SnapshotQuery {
        project: Some(ctx.project_id.clone()),
        limit: page.limit,
        offset: page.offset,
        marker: page.marker.clone(),
        ..SnapshotQuery::default()
    };
    if sorted {
        // The database pages newest first only; a list sorted otherwise is read whole
        // (one project's snapshots, or all of them for an admin) and paged here.
        q.limit = i64::MAX;
        q.offset = 0;
        q.marker = None;
    }
    for (k, v) in &params {
        match k.as_str() {
            "status" => q.status = Some(v.clone()),
            "volume_id" => q.volume_id = Some(v.clone()),
            "name" | "display_name" => q.name = Some(v.clone()),
            "all_tenants" if ctx.is_admin && validate::boolean(v).unwrap_or(false) => {
                q.project = None
            }
            "project_id" if ctx.is_admin => q.project = Some(v.as_str().into()),
            _ => {}
        }
    }
    let ver = version::of(&req);
    let mut items = state.api.send(ListSnapshots { ctx, query: q }).await??;
    if sorted {
        items = listing::apply(
            items,
            &page,
            sort_value,
            |s| s.row.id.to_string(),
            |id| ApiError::not_found(Resource::Snapshot, id),
        )?;
    }
    let shape = if detail {
        Shape::Extended
    } else {
        Shape::Summary
    };
    let list: Vec<Value> = items.iter().map(|s| view(s, ver, shape)).collect();
    let mut out = json!({"snapshots": list});
    let path = if detail {
        "snapshots/detail"
    } else {
        "snapshots"
    };
    let links = super::views::LinkBase::of(&req);
    let last = items.last().map(|s| s.row.id.to_string());
    let last = last.as_deref();
    if let Some(next) = listing::next_link(&links, path, &params, &page, items.len(), last) {
        out["snapshots_links"] = next;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /snapshots`.
#[utoipa::path(get, path = "/snapshots", summary = "List snapshots", params(PageQuery, ListFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/SnapshotList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, false).await
}

/// `GET /snapshots/detail`.
#[utoipa::path(get, path = "/snapshots/detail", summary = "List snapshots with details", params(PageQuery, ListFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/SnapshotList"))))]
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, ctx, true).await
}

/// `GET /snapshots/{id}`.
#[utoipa::path(get, path = "/snapshots/{snapshot_id}", summary = "Show a snapshot", responses((status = 200, description = "Success", body = ref("#/components/schemas/SnapshotBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let s = call(&state, ctx, id, SnapshotOp::Get)
        .await?
        .ok_or_else(gone)?;
    Ok(HttpResponse::Ok().json(json!({"snapshot": view(&s, version::of(&req), Shape::Extended)})))
}

/// `PUT /snapshots/{id}`.
#[utoipa::path(put, path = "/snapshots/{snapshot_id}", summary = "Update a snapshot", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/SnapshotBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(s): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let op = SnapshotOp::Update {
        name: given_newer_or_older(s.name, s.display_name),
        description: given_newer_or_older(s.description, s.display_description),
    };
    if matches!(
        op,
        SnapshotOp::Update {
            name: None,
            description: None
        }
    ) {
        return Err(ApiError::BadRequest(
            "Invalid input for field/attribute snapshot: give at least one of name, description, display_name, display_description, and nothing else.".into(),
        ));
    }
    let rec = call(&state, ctx, id, op).await?.ok_or_else(gone)?;
    Ok(HttpResponse::Ok().json(json!({"snapshot": view(&rec, version::of(&req), Shape::Detail)})))
}

/// `DELETE /snapshots/{id}` → 202.
#[utoipa::path(delete, path = "/snapshots/{snapshot_id}", summary = "Delete a snapshot", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    call(&state, ctx, id, SnapshotOp::Delete { force: false }).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /snapshots/{id}/action`: os-reset_status, os-force_delete (admin),
/// os-update_snapshot_status.
/// The arguments of `os-reset_status` and `os-update_snapshot_status`: strings, any
/// other value being taken as absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StatusArgs {
    /// The status to set (`os-reset_status`: one a snapshot can have).
    #[serde(default)]
    #[schema(inline, required = true)]
    pub status: Loose,
    /// `os-update_snapshot_status`: e.g. `90%`.
    #[serde(default)]
    #[schema(inline)]
    pub progress: Loose,
}

/// The body of `POST /snapshots/{id}/action`: one key, the action. Its arguments are
/// read once the action's policy rule allowed the caller.
pub struct SnapshotActionBody;

impl PartialSchema for SnapshotActionBody {
    fn schema() -> RefOr<Schema> {
        let args = || Ref::from_schema_name(StatusArgs::name()).into();
        actions(vec![
            ("os-reset_status", args()),
            ("os-update_snapshot_status", args()),
            ("os-force_delete", no_arguments()),
            ("os-unmanage", no_arguments()),
        ])
    }
}

impl ToSchema for SnapshotActionBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((StatusArgs::name().into_owned(), StatusArgs::schema()));
    }
}

/// `POST /snapshots/{id}/action`.
#[utoipa::path(post, path = "/snapshots/{snapshot_id}/action", summary = "Run a snapshot action", request_body = SnapshotActionBody, responses((status = 202, description = "Success")))]
pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let Some((name, value)) = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(ApiError::BadRequest("Malformed request body".into()));
    };
    let rule = match name.as_str() {
        "os-reset_status" => Some(Action::SnapshotResetStatus),
        "os-force_delete" => Some(Action::SnapshotForceDelete),
        "os-update_snapshot_status" => Some(Action::SnapshotUpdateStatus),
        "os-unmanage" => Some(Action::SnapshotUnmanage),
        _ => None,
    };
    // A caller refused the action gets 404 when the snapshot is not visible to them
    // (as for a missing id), 403 when it is.
    if let Some(Err(denied)) = rule.map(|r| policy::authorize(&state, &ctx, r)) {
        call(&state, ctx.clone(), id, SnapshotOp::Get).await?;
        return Err(denied);
    }
    // Cinder reads `status` and `progress` from whatever the action's value is.
    let args = match value {
        Value::Object(_) => typed::<StatusArgs>(value.clone())?,
        _ => StatusArgs::default(),
    };
    let status = || {
        args.status
            .0
            .clone()
            .ok_or_else(|| ApiError::BadRequest("Must specify 'status'".into()))
    };
    let op = match name.as_str() {
        "os-reset_status" => {
            // Cinder's SnapshotAdminController checks the status against
            // `SnapshotStatus.ALL`: a status the column cannot hold is refused here.
            let status = status()?;
            SnapshotOp::ResetStatus(
                status
                    .parse::<SnapshotStatus>()
                    .map_err(|_| ApiError::BadRequest("Must specify a valid status".into()))?,
            )
        }
        "os-force_delete" => SnapshotOp::Delete { force: true },
        "os-unmanage" => {
            // Allowed by `snapshot_extension:snapshot_unmanage` above. No driver here can
            // let go of a snapshot without deleting it, so an admin is told so rather
            // than given a delete.
            return Err(ApiError::BadRequest(
                "Invalid snapshot: unmanaging a snapshot is not supported by this service.".into(),
            ));
        }
        "os-update_snapshot_status" => SnapshotOp::UpdateStatus {
            status: status()?,
            progress: args.progress.0.clone(),
        },
        other => {
            return Err(ApiError::BadRequest(format!(
                "There is no such action: {other}"
            )));
        }
    };
    call(&state, ctx, id, op).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// The snapshot's metadata, or `None` if it went away meanwhile.
async fn metadata_of(
    state: &AppState,
    ctx: RequestContext,
    id: SnapshotId,
) -> Result<BTreeMap<String, String>, ApiError> {
    let s = call(state, ctx, id, SnapshotOp::Get)
        .await?
        .ok_or_else(gone)?;
    Ok(s.metadata)
}

/// `GET /snapshots/{id}/metadata`.
#[utoipa::path(get, path = "/snapshots/{snapshot_id}/metadata", summary = "Show a snapshot's metadata", responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn metadata_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let metadata = metadata_of(&state, ctx, id).await?;
    Ok(HttpResponse::Ok().json(json!({ "metadata": metadata })))
}

/// `GET /snapshots/{id}/metadata/{key}`.
#[utoipa::path(get, path = "/snapshots/{snapshot_id}/metadata/{key}", summary = "Show one snapshot metadata key", responses((status = 200, description = "Success", body = ref("#/components/schemas/MetaBody"))))]
pub async fn metadata_show_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let k = req.match_info().get("key").unwrap_or("");
    match metadata_of(&state, ctx, id).await?.get(k) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({"meta": {k: v}}))),
        None => Err(ApiError::not_found(
            Resource::SnapshotMetadata {
                snapshot: id.to_string(),
            },
            k,
        )),
    }
}

async fn write(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: RequestContext,
    MetadataSet { metadata }: MetadataSet,
    replace: bool,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let metadata = validate::capped(metadata.into_map(), state.limits.max_metadata_items)?;
    let s = call(
        &state,
        ctx,
        id,
        SnapshotOp::WriteMetadata { metadata, replace },
    )
    .await?
    .ok_or_else(gone)?;
    Ok(HttpResponse::Ok().json(json!({"metadata": s.metadata})))
}

/// `POST .../metadata` (merge).
#[utoipa::path(post, path = "/snapshots/{snapshot_id}/metadata", summary = "Merge snapshot metadata", request_body = metadata::SetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn metadata_merge(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(body): metadata::SetBody,
) -> Result<HttpResponse, ApiError> {
    write(req, state, ctx, body, false).await
}

/// `PUT .../metadata` (replace).
#[utoipa::path(put, path = "/snapshots/{snapshot_id}/metadata", summary = "Replace snapshot metadata", request_body = metadata::SetBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetadataBody"))))]
pub async fn metadata_replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(body): metadata::SetBody,
) -> Result<HttpResponse, ApiError> {
    write(req, state, ctx, body, true).await
}

/// `PUT .../metadata/{key}` with `{"meta": {key: value}}`.
#[utoipa::path(put, path = "/snapshots/{snapshot_id}/metadata/{key}", summary = "Set one snapshot metadata key", request_body = metadata::ItemBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/MetaBody"))))]
pub async fn metadata_update_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(MetaItem { meta }): metadata::ItemBody,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let k = req.match_info().get("key").unwrap_or("");
    let meta = meta.into_map();
    if meta.len() != 1 || !meta.contains_key(k) {
        return Err(ApiError::BadRequest("Request body and URI mismatch".into()));
    }
    let write = SnapshotOp::WriteMetadata {
        metadata: meta.clone(),
        replace: false,
    };
    call(&state, ctx, id, write).await?;
    Ok(HttpResponse::Ok().json(json!({"meta": meta})))
}

/// `DELETE .../metadata/{key}` → 200.
#[utoipa::path(delete, path = "/snapshots/{snapshot_id}/metadata/{key}", summary = "Delete one snapshot metadata key", responses((status = 200, description = "Success")))]
pub async fn metadata_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = snapshot_id(&req)?;
    let key = req.match_info().get("key").unwrap_or("").to_string();
    call(&state, ctx, id, SnapshotOp::DeleteMetadataKey(key)).await?;
    Ok(HttpResponse::Ok().finish())
}
