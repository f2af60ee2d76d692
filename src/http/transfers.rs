//! Volume transfers: `/os-volume-transfer` (the extension, every version) and
//! `/volume-transfers` (3.55's controller), the same calls on both (Cinder's
//! `api/contrib/volume_transfer.py` and `api/v3/volume_transfer.py`). What differs by
//! microversion: `no_snapshots` in the create's body on `/volume-transfers` (3.55) and in
//! the views (3.55), the history fields in the views (3.57), marker and sort on lists
//! (3.59), encrypted volumes (3.70).
//!
//! Policy (Cinder's defaults, until the policy engine takes these names):
//! `volume:get_all_transfers` and `volume:get_transfer` reader of the project,
//! `volume:create_transfer`, `volume:delete_transfer` member of the volume's project or
//! admin, `volume:accept_transfer` member of any project (the taker is never the owner).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{self, Body, Envelope, JsonBody, given};
use super::error::ApiError;
use super::fields::{self, Name, NoSnapshots, VolumeRef};
use super::listing::PageQuery;
use super::views::{LinkBase, Time};
use super::{AppState, guard, listing, validate, version};
use crate::actors::api::transfers::{
    AcceptTransfer, AuthKey, CreateTransfer, DeleteTransfer, GetTransfer, ListTransfers,
};
use crate::db::Resource;
use crate::db::transfers::{TransferFilter, TransferRow};

/// Links point at the extension's collection for both routes, as Cinder's one view
/// builder writes them.
const COLLECTION: &str = "os-volume-transfer";

/// What a transfer is made of: `{"transfer": ...}` of `POST /volume-transfers` and
/// `/os-volume-transfer`. Cinder's schemas refuse any other key, in the envelope and in
/// the transfer.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferCreate {
    /// The volume (UUID), which must be `available`. Required.
    #[schema(inline, required = true, nullable = false)]
    pub volume_id: Option<VolumeRef>,
    /// Name (trimmed), or null.
    #[schema(inline)]
    pub name: Option<Name>,
    /// Leave the volume's snapshots with this project (`/volume-transfers` at 3.55+; an
    /// unexpected key anywhere else).
    #[schema(inline)]
    pub no_snapshots: Option<NoSnapshots>,
}

impl Envelope for TransferCreate {
    const KEY: &'static str = "transfer";
    const STRICT_FROM: Option<u16> = Some(0);
    const ONLY_KEY: bool = true;
}

/// The body of a transfer create.
pub type CreateBody = Body<TransferCreate>;

/// The key the giver passed on: `{"accept": {"auth_key": ...}}`, nothing else.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferAccept {
    /// As the create answered it (a string; an integer is taken as its digits).
    /// Required.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline, required = true, nullable = false)]
    pub auth_key: Option<fields::AuthKey>,
}

impl Envelope for TransferAccept {
    const KEY: &'static str = "accept";
    const STRICT_FROM: Option<u16> = Some(0);
    const ONLY_KEY: bool = true;
}

/// The body of a transfer accept.
pub type AcceptBody = Body<TransferAccept>;

/// Whether the route is the 3.55 controller's (`/volume-transfers`).
fn is_v355_route(req: &HttpRequest) -> bool {
    req.path().contains("/volume-transfers")
}

fn transfer_id(req: &HttpRequest) -> String {
    guard::segment(req, "transfer_id")
}

/// The summary view: list items and the accept's answer.
fn summary(links: &LinkBase, t: &TransferRow) -> Value {
    json!({
        "id": t.id,
        "volume_id": t.volume_id,
        "name": t.display_name,
        "links": links.links(COLLECTION, &t.id),
    })
}

/// The detail view (show, the detail list, and with the key the create's answer).
fn detail(req: &HttpRequest, links: &LinkBase, t: &TransferRow) -> Value {
    let v = version::of(req);
    let mut out = json!({
        "id": t.id,
        "created_at": Time(t.created_at),
        "name": t.display_name,
        "volume_id": t.volume_id,
        "links": links.links(COLLECTION, &t.id),
    });
    if v.at_least(3, 55) {
        out["no_snapshots"] = json!(t.no_snapshots);
    }
    if v.at_least(3, 57) {
        out["destination_project_id"] = json!(t.destination_project_id);
        out["source_project_id"] = json!(t.source_project_id);
        out["accepted"] = json!(t.accepted);
    }
    out
}

/// `POST .../os-volume-transfer` and `.../volume-transfers` → **202** with the auth key,
/// the only answer that ever shows it.
#[utoipa::path(post, path = "/os-volume-transfer", summary = "Offer a volume to another project (`/volume-transfers`: no_snapshots 3.55+, encrypted 3.70+)", request_body = CreateBody, responses((status = 202, description = "Success", body = ref("#/components/schemas/TransferCreatedBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    // volume:create_transfer (admin or owner): the actor reads the volume in the
    // caller's project unless admin.
    let with_snapshot_choice = is_v355_route(&req) && version::of(&req).at_least(3, 55);
    // Below 3.55, and always on the extension's route, Cinder's schema has no such key:
    // refused as unknown whatever its value.
    if !with_snapshot_choice
        && body
            .get(TransferCreate::KEY)
            .and_then(|t| t.get("no_snapshots"))
            .is_some()
    {
        return Err(body::unexpected(Some(TransferCreate::KEY), "no_snapshots"));
    }
    let transfer: TransferCreate = body::parse(body, true)?;
    let volume_id = transfer.volume_id.map(String::from).ok_or_else(|| {
        ApiError::BadRequest(
            "Invalid input for field/attribute transfer. 'volume_id' is a required property".into(),
        )
    })?;
    let name = transfer.name.map(String::from);
    let no_snapshots = transfer.no_snapshots.is_some_and(NoSnapshots::get);
    let created = state
        .api
        .send(CreateTransfer {
            ctx,
            volume_id,
            name,
            no_snapshots,
            allow_encrypted: is_v355_route(&req) && version::of(&req).at_least(3, 70),
        })
        .await??;
    let links = LinkBase::of(&req);
    let mut view = detail(&req, &links, &created.row);
    view["auth_key"] = json!(created.auth_key.reveal());
    Ok(HttpResponse::Accepted().json(json!({ "transfer": view })))
}

/// The filters a transfer list reads beside [`PageQuery`]'s keys (of which only `limit`
/// and `offset` are read before 3.59, and on the extension's route).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "describes the query keys `listed` reads; never constructed"
)]
pub struct TransferFilters {
    /// Admins: every project's.
    all_tenants: Option<bool>,
    /// By name.
    name: Option<String>,
    /// One volume's.
    volume_id: Option<String>,
}

/// The query of a list: `all_tenants`, the `name` and `volume_id` filters, and paging.
/// Below 3.59 (and always on the extension's route) only `limit` and `offset` page, in
/// Cinder's fixed order (created, then id); from 3.59 also `marker` and the sort keys.
async fn listed(
    req: &HttpRequest,
    state: &AppState,
    ctx: crate::model::RequestContext,
) -> Result<(Vec<TransferRow>, Option<Value>), ApiError> {
    // volume:get_all_transfers (reader of the project).
    let params = guard::query(req)?;
    let mut all_tenants = false;
    let mut filter = TransferFilter::default();
    for (k, v) in &params {
        match k.as_str() {
            "all_tenants" => all_tenants = validate::boolean(v).unwrap_or(false),
            "name" => filter.name = Some(v.clone()),
            "volume_id" => filter.volume_id = Some(v.clone()),
            _ => {}
        }
    }
    let paged = is_v355_route(req) && version::of(req).at_least(3, 59);
    let max = state.limits.max_limit;
    let page = if paged {
        listing::page(
            &params,
            &["created_at", "id", "name", "volume_id"],
            ("created_at", false),
            max,
        )?
    } else {
        // Cinder's fixed order before 3.59: oldest first, then by id.
        listing::Page {
            marker: None,
            sort: vec![("created_at".into(), false)],
            ..listing::window(&params, max)?
        }
    };
    let rows = state
        .api
        .send(ListTransfers {
            ctx,
            all_tenants,
            filter,
        })
        .await??;
    let key = |t: &TransferRow, k: &str| match k {
        "created_at" => t.created_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        "name" => t.display_name.clone().unwrap_or_default(),
        "volume_id" => t.volume_id.clone(),
        _ => t.id.clone(),
    };
    let rows = listing::apply(
        rows,
        &page,
        key,
        |t| t.id.clone(),
        |m| ApiError::not_found(Resource::Transfer, m),
    )?;
    let path = if is_v355_route(req) {
        "volume-transfers"
    } else {
        COLLECTION
    };
    let next = paged
        .then(|| {
            let links = LinkBase::of(req);
            listing::next_link(
                &links,
                path,
                &params,
                &page,
                rows.len(),
                rows.last().map(|t| t.id.as_str()),
            )
        })
        .flatten();
    Ok((rows, next))
}

/// `GET .../volume-transfers` → the summary list.
#[utoipa::path(get, path = "/os-volume-transfer", summary = "List pending transfers (`/volume-transfers`: marker and sort 3.59+)", params(PageQuery, TransferFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/TransferSummaryList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (rows, next) = listed(&req, &state, ctx).await?;
    let links = LinkBase::of(&req);
    let items: Vec<Value> = rows.iter().map(|t| summary(&links, t)).collect();
    Ok(HttpResponse::Ok().json(list_body(items, next)))
}

/// `GET .../volume-transfers/detail` → the detail list.
#[utoipa::path(get, path = "/os-volume-transfer/detail", summary = "List pending transfers with details", params(PageQuery, TransferFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/TransferList"))))]
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (rows, next) = listed(&req, &state, ctx).await?;
    let links = LinkBase::of(&req);
    let items: Vec<Value> = rows.iter().map(|t| detail(&req, &links, t)).collect();
    Ok(HttpResponse::Ok().json(list_body(items, next)))
}

fn list_body(items: Vec<Value>, next: Option<Value>) -> Value {
    let mut out = json!({ "transfers": items });
    if let Some(n) = next {
        out["transfers_links"] = n;
    }
    out
}

/// `GET .../volume-transfers/{id}` → the detail view.
#[utoipa::path(get, path = "/os-volume-transfer/{transfer_id}", summary = "Show a pending transfer", responses((status = 200, description = "Success", body = ref("#/components/schemas/TransferBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    // volume:get_transfer (reader of the project).
    let t = state
        .api
        .send(GetTransfer {
            ctx,
            id: transfer_id(&req),
        })
        .await??;
    let links = LinkBase::of(&req);
    Ok(HttpResponse::Ok().json(json!({ "transfer": detail(&req, &links, &t) })))
}

/// `POST .../volume-transfers/{id}/accept` → **202** with the summary view. A wrong key
/// is 400 and changes nothing; too little quota in the taker's project is 413.
#[utoipa::path(post, path = "/os-volume-transfer/{transfer_id}/accept", summary = "Accept a transfer with its auth key", request_body = AcceptBody, responses((status = 202, description = "Success", body = ref("#/components/schemas/TransferSummaryBody"))))]
pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(accept): AcceptBody,
) -> Result<HttpResponse, ApiError> {
    // volume:accept_transfer (member of any project): the key is the authorization.
    let key = accept.auth_key.map(String::from).ok_or_else(|| {
        ApiError::BadRequest(
            "Invalid input for field/attribute accept. 'auth_key' is a required property".into(),
        )
    })?;
    let t = state
        .api
        .send(AcceptTransfer {
            ctx,
            id: transfer_id(&req),
            auth_key: AuthKey::new(key),
        })
        .await??;
    let links = LinkBase::of(&req);
    Ok(HttpResponse::Accepted().json(json!({ "transfer": summary(&links, &t) })))
}

/// `DELETE .../volume-transfers/{id}` → **202**; the volume is `available` again.
#[utoipa::path(delete, path = "/os-volume-transfer/{transfer_id}", summary = "Withdraw a transfer", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    // volume:delete_transfer (admin or owner): another project's transfer is not found.
    state
        .api
        .send(DeleteTransfer {
            ctx,
            id: transfer_id(&req),
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}
