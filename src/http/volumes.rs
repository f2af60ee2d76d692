//! `/v3/{project_id}/volumes` and `/v3/volumes`: create, list, show, update, delete.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{Body, Envelope, given};
use super::error::ApiError;
use super::fields::{
    AvailabilityZone, BackupRef, ConsistencyGroupRef, Description, DisplayDescription, DisplayName,
    Gib, GroupRef, ImageId, ImageRef, Metadata, Multiattach, Name, Size, SnapshotRef,
    SourceVolumeRef, VolumeTypeRef, given_newer_or_older, newer_or_older,
};
use super::listing::{ListFilters, PageQuery};
use super::views::{Detail, LinkBase, OneVolume, VolumeDetail, VolumePage, json_response};
use super::{AppState, guard, listing, validate, version};
use crate::actors::api::{
    CreateVolume, DeleteVolume, GetVolume, ListVolumes, UpdateVolume, VolumeCreateRequest,
};
use crate::db::Resource;
use crate::db::volumes::{ListQuery, SortKey, TimeFilter, TimeOp, VolumeRecord};
use crate::model::{RequestContext, VolumeId};

/// Query keys that are not filters.
const PAGING: [&str; 10] = [
    "limit",
    "marker",
    "offset",
    "sort",
    "sort_key",
    "sort_dir",
    "with_count",
    "all_tenants",
    "created_at",
    "updated_at",
];

/// About the size of one volume's detail view, to size the answer's buffer.
const ONE_VOLUME_BYTES: usize = 1_500;

/// A volume id from the path: one that does not parse is not there.
pub(super) fn volume_id(raw: &str) -> Result<VolumeId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found(Resource::Volume, raw))
}

/// The volume to create: `{"volume": {...}}` (Cinder's `volumes.create` schema). From
/// 3.53 a key not listed here is refused; before, it is ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VolumeCreate {
    /// GiB; required unless a source (snapshot, volume, backup) gives it.
    #[schema(inline)]
    pub size: Option<Size>,
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
    /// Type name or id (the default type when absent).
    #[schema(inline)]
    pub volume_type: Option<VolumeTypeRef>,
    /// Zone.
    #[schema(inline)]
    pub availability_zone: Option<AvailabilityZone>,
    /// User metadata.
    #[schema(inline)]
    pub metadata: Option<Metadata>,
    /// Create from this snapshot.
    #[schema(inline)]
    pub snapshot_id: Option<SnapshotRef>,
    /// Clone this volume.
    #[schema(inline)]
    pub source_volid: Option<SourceVolumeRef>,
    /// Create from this image.
    #[serde(rename = "imageRef")]
    #[schema(inline)]
    pub image_ref: Option<ImageRef>,
    /// The older spelling of `imageRef`, read when `imageRef` is absent.
    #[schema(inline)]
    pub image_id: Option<ImageId>,
    /// Restore this backup.
    #[schema(inline)]
    pub backup_id: Option<BackupRef>,
    /// Accepted and ignored (consistency groups are not served).
    #[schema(inline)]
    pub consistencygroup_id: Option<ConsistencyGroupRef>,
    /// Accepted and ignored (groups are not served).
    #[schema(inline)]
    pub group_id: Option<GroupRef>,
    /// Removed by Cinder: `true` is refused.
    #[schema(inline)]
    pub multiattach: Option<Multiattach>,
}

/// The body of `POST /volumes`.
pub type CreateBody = Body<VolumeCreate>;

impl Envelope for VolumeCreate {
    const KEY: &'static str = "volume";
    const STRICT_FROM: Option<u16> = Some(53);
}

/// `PUT /volumes/{id}`: `{"volume": {...}}`. Any other key is refused at every version;
/// from 3.53 an empty object is too. A key given as `null` clears the field (metadata:
/// empties it).
#[derive(Debug, Deserialize, ToSchema)]
pub struct VolumeUpdate {
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
    /// User metadata: replaces the volume's.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub metadata: Option<Option<Metadata>>,
}

/// The body of `PUT /volumes/{id}`.
pub type UpdateBody = Body<VolumeUpdate>;

impl Envelope for VolumeUpdate {
    const KEY: &'static str = "volume";
    const STRICT_FROM: Option<u16> = Some(0);
}

impl VolumeUpdate {
    /// Whether no key was given.
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.display_name.is_none()
            && self.description.is_none()
            && self.display_description.is_none()
            && self.metadata.is_none()
    }
}

/// `POST /volumes` → 202 with the volume in `creating`.
#[utoipa::path(post, path = "/volumes", summary = "Create a volume", request_body = CreateBody, responses((status = 202, description = "Success", body = ref("#/components/schemas/VolumeBody"))))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(v): CreateBody,
) -> Result<HttpResponse, ApiError> {
    let request = VolumeCreateRequest {
        size: v.size.map(Gib::get),
        name: newer_or_older(v.name, v.display_name),
        description: newer_or_older(v.description, v.display_description),
        volume_type: v.volume_type.map(String::from),
        availability_zone: v.availability_zone.map(String::from),
        metadata: validate::capped(
            v.metadata.unwrap_or_default().into_map(),
            state.limits.max_metadata_items,
        )?,
        snapshot_id: v.snapshot_id.map(String::from),
        source_volid: v.source_volid.map(String::from),
        image_ref: newer_or_older(v.image_ref, v.image_id),
        backup_id: v.backup_id.map(String::from),
    };
    let record = state
        .api
        .send(CreateVolume {
            ctx: ctx.clone(),
            request,
        })
        .await??;
    Ok(created(&req, &record, &ctx))
}

/// The answer to a create: 202 with the volume. Also the answer to a keyed retry of a
/// create whose request died before its answer was stored (see `idempotency`).
pub(crate) fn created(
    req: &HttpRequest,
    record: &VolumeRecord,
    ctx: &RequestContext,
) -> HttpResponse {
    let links = LinkBase::of(req);
    let volume = VolumeDetail::new(record, ctx, version::of(req), &links, Detail::Plain);
    json_response(
        HttpResponse::Accepted(),
        &OneVolume { volume },
        ONE_VOLUME_BYTES,
    )
}

/// `GET /volumes/{id}`.
#[utoipa::path(get, path = "/volumes/{volume_id}", summary = "Show a volume", responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = volume_id(req.match_info().get("volume_id").unwrap_or(""))?;
    let record = state
        .api
        .send(GetVolume {
            ctx: ctx.clone(),
            id,
        })
        .await??;
    let links = LinkBase::of(&req);
    let volume = VolumeDetail::new(&record, &ctx, version::of(&req), &links, Detail::Extended);
    Ok(json_response(
        HttpResponse::Ok(),
        &OneVolume { volume },
        ONE_VOLUME_BYTES,
    ))
}

/// `PUT /volumes/{id}`: name, description, metadata (replaces it).
#[utoipa::path(put, path = "/volumes/{volume_id}", summary = "Update a volume", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(v): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    let id = volume_id(req.match_info().get("volume_id").unwrap_or(""))?;
    let ver = version::of(&req);
    if ver.at_least(3, 53) && v.is_empty() {
        return Err(ApiError::BadRequest(
            "Invalid input for field/attribute volume. Value: {}. {} does not have enough properties".into(),
        ));
    }
    let metadata = match v.metadata {
        Some(m) => Some(validate::capped(
            m.unwrap_or_default().into_map(),
            state.limits.max_metadata_items,
        )?),
        None => None,
    };
    let msg = UpdateVolume {
        ctx: ctx.clone(),
        id,
        name: given_newer_or_older(v.name, v.display_name),
        description: given_newer_or_older(v.description, v.display_description),
        metadata,
    };
    let record = state.api.send(msg).await??;
    let links = LinkBase::of(&req);
    let volume = VolumeDetail::new(&record, &ctx, ver, &links, Detail::Plain);
    Ok(json_response(
        HttpResponse::Ok(),
        &OneVolume { volume },
        ONE_VOLUME_BYTES,
    ))
}

/// `DELETE /volumes/{id}[?cascade=true][&force=true]` → 202, empty.
#[utoipa::path(delete, path = "/volumes/{volume_id}", summary = "Delete a volume", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = volume_id(req.match_info().get("volume_id").unwrap_or(""))?;
    let params = guard::query(&req)?;
    let flag = |name: &str| -> Result<bool, ApiError> {
        match params.iter().find(|(k, _)| k == name) {
            None => Ok(false),
            Some((_, v)) => validate::boolean(v)
                .ok_or_else(|| ApiError::BadRequest(format!("Invalid value '{v}' for {name}."))),
        }
    };
    let cascade = flag("cascade")?;
    let force = version::of(&req).at_least(3, 23) && flag("force")?;
    if force {
        let rule = crate::policy::Action::VolumeForceDelete;
        super::policy::authorize_on_volume(&state, &ctx, id, rule).await?;
    }
    super::policy::authorize(&state, &ctx, crate::policy::Action::VolumeDelete)?;
    state
        .api
        .send(DeleteVolume {
            ctx,
            id,
            force,
            cascade,
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /volumes` (summary view).
#[utoipa::path(get, path = "/volumes", summary = "List volumes", params(PageQuery, ListFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeSummaryList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, caller, false).await
}

/// `GET /volumes/detail`.
#[utoipa::path(get, path = "/volumes/detail", summary = "List volumes with details", params(PageQuery, ListFilters), responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeList"))))]
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    list_view(req, state, caller, true).await
}

async fn list_view(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    detail: bool,
) -> Result<HttpResponse, ApiError> {
    let ver = version::of(&req);
    let params = guard::query(&req)?;
    let (query, with_count, limit) = list_query(&params, &ctx, ver, state.limits.max_limit)?;
    let (items, count) = state
        .api
        .send(ListVolumes {
            ctx: ctx.clone(),
            query,
            with_count,
        })
        .await??;
    let links = LinkBase::of(&req);
    let n = count.unwrap_or(items.len() as i64);
    let next = match items.last() {
        Some(last) if limit <= n => {
            let mut q: Vec<(String, String)> =
                params.into_iter().filter(|(k, _)| k != "marker").collect();
            q.push(("marker".into(), last.row.id.clone()));
            let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
            let path = if detail { "volumes/detail" } else { "volumes" };
            Some(format!("{}?{qs}", links.collection(path)))
        }
        _ => None,
    };
    let page = VolumePage::new(&items, &ctx, ver, &links, detail, next, count);
    Ok(json_response(HttpResponse::Ok(), &page, page.size_hint()))
}

/// Turns query parameters into a list query: filters, sort, pagination (read by
/// [`listing`], as for every list).
fn list_query(
    params: &[(String, String)],
    ctx: &crate::model::RequestContext,
    ver: version::ApiVersion,
    max_limit: i64,
) -> Result<(ListQuery, bool, i64), ApiError> {
    let page = listing::window(params, max_limit)?;
    let mut q = ListQuery {
        project: Some(ctx.project_id.clone()),
        limit: page.limit,
        offset: page.offset,
        marker: page.marker,
        sort: listing::sort_keys(params, "created_at", SortKey::parse)?,
        ..ListQuery::default()
    };
    let mut with_count = false;
    let bad = |m: String| ApiError::BadRequest(m);
    for (k, v) in params {
        match k.as_str() {
            "with_count" if ver.at_least(3, 45) => {
                with_count =
                    validate::boolean(v).ok_or_else(|| bad(format!("Invalid with_count: {v}")))?
            }
            "all_tenants" if ctx.is_admin && validate::boolean(v).unwrap_or(false) => {
                q.project = None;
            }
            "project_id" if ctx.is_admin => q.project = Some(v.as_str().into()),
            "name" | "display_name" => q.name = Some(v.clone()),
            "status" => q.status = Some(v.clone()),
            "availability_zone" => q.availability_zone = Some(v.clone()),
            "size" => {
                q.size = Some(
                    v.parse()
                        .map_err(|_| bad(format!("Invalid size filter: {v}")))?,
                )
            }
            "bootable" => {
                q.bootable = Some(if ver.at_least(3, 2) {
                    validate::boolean(v)
                        .ok_or_else(|| bad(format!("Invalid bootable filter: {v}")))?
                } else {
                    !matches!(v.as_str(), "False" | "false" | "FALSE")
                })
            }
            "metadata" => {
                q.metadata = crate::http::guard::dict(v)
                    .ok_or_else(|| bad(format!("Invalid metadata filter: {v}")))?
            }
            "created_at" | "updated_at" if ver.at_least(3, 60) => {
                q.times.extend(time_filters(k == "updated_at", v)?)
            }
            "consumes_quota" | "migration_status" | "group_id" | "glance_metadata" => {}
            // Before 3.31 Cinder silently drops filters it does not know; from 3.31 a
            // member gets 400 (admins may filter on anything).
            other if ver.at_least(3, 31) && !ctx.is_admin && !PAGING.contains(&other) => {
                return Err(bad(format!(
                    "Invalid filters {other} are found in query options."
                )));
            }
            _ => {}
        }
    }
    let limit = q.limit;
    Ok((q, with_count, limit))
}

/// `created_at=gt:2026-01-01T00:00:00,lte:2026-02-01T00:00:00` (3.60): comparisons
/// separated by commas, each `operator:ISO 8601 time`; a time without a zone is UTC.
fn time_filters(updated: bool, value: &str) -> Result<Vec<TimeFilter>, ApiError> {
    let column = if updated { "updated_at" } else { "created_at" };
    value
        .split(',')
        .map(|unit| {
            let (op, at) = unit.split_once(':').ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Comparison operator must be specified in the {column} filter '{unit}' (one of gt, gte, eq, neq, lt, lte, then ':' and a time)."
                ))
            })?;
            let op = TimeOp::parse(op).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Invalid {op} operator in the {column} filter: use gt, gte, eq, neq, lt or lte."
                ))
            })?;
            let at = parse_iso_time(at).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Invalid {column} time '{at}': expected an ISO 8601 time such as 2026-01-31T12:00:00."
                ))
            })?;
            Ok(TimeFilter { updated, op, at })
        })
        .collect()
}

/// An ISO 8601 time (with or without a zone, seconds fraction optional) or date, as UTC.
fn parse_iso_time(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, f) {
            return Some(t.naive_utc());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// `GET /volumes/summary` (3.12; `metadata` from 3.36): count and total size.
#[utoipa::path(get, path = "/volumes/summary", summary = "Volume totals (3.12+)", responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeSummaryBody"))))]
pub async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let ver = version::of(&req);
    if !ver.at_least(3, 12) {
        return Err(ApiError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    let all = req.query_string().split('&').any(|p| {
        p.split_once('=')
            .is_some_and(|(k, v)| k == "all_tenants" && validate::boolean(v) == Some(true))
    });
    let query = ListQuery {
        project: (!(ctx.is_admin && all)).then(|| ctx.project_id.clone()),
        limit: i64::MAX,
        ..ListQuery::default()
    };
    let (items, _) = state
        .api
        .send(ListVolumes {
            ctx,
            query,
            with_count: false,
        })
        .await??;
    let total_size: i64 = items.iter().map(|v| v.row.size).sum();
    let mut out = json!({"volume-summary": {"total_count": items.len(), "total_size": total_size}});
    if ver.at_least(3, 36) {
        let mut meta: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for v in &items {
            for (k, val) in &v.metadata {
                let e = meta.entry(k.clone()).or_default();
                if !e.contains(val) {
                    e.push(val.clone());
                }
            }
        }
        out["volume-summary"]["metadata"] = json!(meta);
    }
    Ok(HttpResponse::Ok().json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_filters_accept_python_and_json() {
        let want = BTreeMap::from([("k".to_string(), "v".to_string())]);
        assert_eq!(crate::http::guard::dict("{'k': 'v'}"), Some(want.clone()));
        assert_eq!(crate::http::guard::dict(r#"{"k": "v"}"#), Some(want));
        assert_eq!(crate::http::guard::dict("nope"), None);
    }

    #[test]
    fn time_filters_take_operators_and_iso_times() -> Result<(), ApiError> {
        let day = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 1, 31).and_then(|d| d.and_hms_opt(h, 0, 0))
        };
        let got = time_filters(false, "gt:2026-01-31T12:00:00+02:00,lte:2026-01-31")?;
        let want = [(TimeOp::Gt, day(10)), (TimeOp::Lte, day(0))];
        assert_eq!(got.len(), 2);
        for (f, (op, t)) in got.iter().zip(want) {
            assert_eq!((f.updated, f.op, Some(f.at)), (false, op, t));
        }
        assert_eq!(
            parse_iso_time("2026-01-31T12:00:00.5Z").map(|t| t.and_utc().timestamp_subsec_millis()),
            Some(500)
        );
        for bad in [
            "2026-01-31",
            "xx:2026-01-31",
            "gt:2026-13-01",
            "gt:",
            "gt:2026-01-31,",
        ] {
            assert!(time_filters(true, bad).is_err(), "{bad}");
        }
        Ok(())
    }
}
