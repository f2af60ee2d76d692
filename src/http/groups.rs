//! `/groups` (3.13; Cinder's `cinder/api/v3/groups.py`, `views/groups.py`): create, list,
//! detail, show, update, and the actions `delete`, `reset_status` (3.20) and the
//! replication family (3.38).
//!
//! Policy (Cinder's `cinder/policies/groups.py`, `group_actions.py`): `group:get` and
//! `group:get_all` reader, `group:create`, `group:update`, `group:delete` and the
//! replication actions member, `group:reset_status` admin (checked here, by action).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{Body, Envelope, JsonBody, element, given};
use super::error::ApiError;
use super::fields::{AvailabilityZone, Description, Name};
use super::views::{LinkBase, Time};
use super::{AppState, guard, listing, policy, validate, version};
use crate::actors::api::groups::{
    CreateGroup, DeleteGroup, GetGroup, ListGroups, ResetGroupStatus, UpdateGroup,
};
use crate::db::Resource;
use crate::db::groups::{GroupDetail, STATUSES};
use crate::policy::Action;

/// Groups came with 3.13.
const GROUPS_FROM: u16 = 13;

/// `POST /groups`: `{"group": {...}}`; other keys are refused, as Cinder's schema does.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupCreate {
    /// Name.
    #[schema(inline)]
    pub name: Option<Name>,
    /// Description.
    #[schema(inline)]
    pub description: Option<Description>,
    /// The group type, by name or id (required).
    #[schema(value_type = Option<String>)]
    pub group_type: Option<Value>,
    /// The volume types the group may hold, by name or id (required, at least one; a
    /// list, or a comma-separated string as cinderclient sends).
    #[schema(value_type = Option<Vec<String>>)]
    pub volume_types: Option<Value>,
    /// Zone.
    #[schema(inline)]
    pub availability_zone: Option<AvailabilityZone>,
}

/// The body of `POST /groups`.
pub type CreateBody = Body<GroupCreate>;

impl Envelope for GroupCreate {
    const KEY: &'static str = "group";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// `PUT /groups/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupUpdate {
    /// A new name; `null` clears it.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub name: Option<Option<Name>>,
    /// A new description; `null` clears it.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub description: Option<Option<Description>>,
    /// Volume ids to add, comma-separated.
    #[schema(value_type = Option<String>)]
    pub add_volumes: Option<Value>,
    /// Volume ids to remove, comma-separated.
    #[schema(value_type = Option<String>)]
    pub remove_volumes: Option<Value>,
}

/// The body of `PUT /groups/{id}`.
pub type UpdateBody = Body<GroupUpdate>;

impl Envelope for GroupUpdate {
    const KEY: &'static str = "group";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// A group in the detail view (the answer's schema; built with `json!`).
#[derive(Serialize, ToSchema)]
pub struct Group {
    /// UUID.
    pub id: String,
    /// Status.
    pub status: String,
    /// Zone.
    pub availability_zone: String,
    /// Creation time.
    pub created_at: String,
    /// Name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// The group type's id.
    pub group_type: String,
    /// The volume types' ids.
    pub volume_types: Vec<String>,
    /// 3.14+.
    pub group_snapshot_id: Option<String>,
    /// 3.14+.
    pub source_group_id: Option<String>,
    /// 3.38+.
    pub replication_status: Option<String>,
    /// 3.58+, admins.
    pub project_id: Option<String>,
}

/// `{"group": <Group>}`.
#[derive(Serialize, ToSchema)]
pub struct GroupBody {
    /// The group.
    pub group: Group,
}

/// A group in the summary view (list, create's answer).
#[derive(Serialize, ToSchema)]
pub struct GroupSummary {
    /// UUID.
    pub id: String,
    /// Name.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// `{"group": <GroupSummary>}`.
#[derive(Serialize, ToSchema)]
pub struct GroupSummaryBody {
    /// The group.
    pub group: GroupSummary,
}

/// `{"groups": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct GroupList {
    /// The groups.
    pub groups: Vec<Group>,
}

fn summary(g: &GroupDetail) -> Value {
    json!({"id": g.row.id, "name": g.row.name})
}

fn detail(
    req: &HttpRequest,
    state: &AppState,
    ctx: &crate::model::RequestContext,
    g: &GroupDetail,
) -> Value {
    let v = version::of(req);
    let mut out = json!({
        "id": g.row.id,
        "status": g.row.status,
        "availability_zone": g.row.availability_zone,
        "created_at": Time(g.row.created_at),
        "name": g.row.name,
        "description": g.row.description,
        "group_type": g.row.group_type_id,
        "volume_types": g.volume_types,
    });
    if v.at_least(3, 14) {
        out["group_snapshot_id"] = json!(g.row.group_snapshot_id);
        out["source_group_id"] = json!(g.row.source_group_id);
    }
    if v.at_least(3, 38) {
        out["replication_status"] = json!(g.row.replication_status);
    }
    if v.at_least(3, 58) && policy::allows(state, ctx, Action::GroupProjectAttribute) {
        out["project_id"] = json!(g.row.project_id);
    }
    out
}

fn group_id(req: &HttpRequest) -> String {
    guard::segment(req, "group_id")
}

/// Volume types as a list of strings or one comma-separated string.
fn volume_types(v: Option<&Value>, name: &str) -> Result<Vec<String>, ApiError> {
    let missing = || {
        ApiError::BadRequest(format!(
            "volume_types must be provided to create group {name}."
        ))
    };
    let list: Vec<String> = match v {
        None | Some(Value::Null) => return Err(missing()),
        Some(Value::String(s)) => s.split(',').map(|t| t.trim().to_string()).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|t| {
                t.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Invalid input for field/attribute volume_types. Value: {t}. {t} is not of type 'string'"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "Invalid input for field/attribute volume_types. Value: {other}. {other} is not of type 'string', 'array'"
            )));
        }
    };
    let list: Vec<String> = list.into_iter().filter(|t| !t.is_empty()).collect();
    if list.is_empty() {
        return Err(missing());
    }
    Ok(list)
}

/// `POST /groups` → **202** with the summary view.
#[utoipa::path(post, path = "/groups", summary = "Create a group (3.13+)", request_body = CreateBody, responses((status = 202, description = "Success", body = GroupSummaryBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(g): CreateBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUPS_FROM)?;
    let name = g.name.map(String::from);
    let shown = name.clone().unwrap_or_else(|| "None".into());
    let group_type = validate::text("group_type", g.group_type.as_ref())?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "group_type must be provided to create group {shown}."
            ))
        })?;
    let volume_types = volume_types(g.volume_types.as_ref(), &shown)?;
    let created = state
        .api
        .send(CreateGroup {
            ctx,
            name,
            description: g.description.map(String::from),
            group_type,
            volume_types,
            availability_zone: g.availability_zone.map(String::from),
        })
        .await??;
    Ok(HttpResponse::Accepted().json(json!({ "group": summary(&created) })))
}

async fn listed(
    req: &HttpRequest,
    state: &AppState,
    ctx: crate::model::RequestContext,
) -> Result<(Vec<GroupDetail>, Option<Value>), ApiError> {
    guard::min_version(req, GROUPS_FROM)?;
    let params = guard::query(req)?;
    let all_tenants = params
        .iter()
        .any(|(k, v)| k == "all_tenants" && validate::boolean(v).unwrap_or(false));
    let page = listing::page(
        &params,
        &["id", "name", "status", "created_at"],
        ("created_at", true),
        state.limits.max_limit,
    )?;
    let filters = group_filters(req, &params, ctx.is_admin)?;
    let mut rows = state.api.send(ListGroups { ctx, all_tenants }).await??;
    rows.retain(|g| {
        filters
            .iter()
            .all(|(k, v)| column(g, k).is_some_and(|c| c.as_deref() == Some(v.as_str())))
    });
    let key = |g: &GroupDetail, k: &str| match k {
        "name" => g.row.name.clone().unwrap_or_default(),
        "status" => g.row.status.clone(),
        "created_at" => super::views::time(g.row.created_at),
        _ => g.row.id.clone(),
    };
    let rows = listing::apply(
        rows,
        &page,
        key,
        |g| g.row.id.clone(),
        |m| ApiError::not_found(Resource::Group, m),
    )?;
    let next = listing::next_link(
        &LinkBase::of(req),
        "groups",
        &params,
        &page,
        rows.len(),
        rows.last().map(|g| g.row.id.as_str()),
    );
    Ok((rows, next))
}

/// The list's filters: every query key that neither pages nor widens the list. Cinder
/// filters groups on any of their columns; from 3.31 a member may use only the `group`
/// resource filters (`name`, Cinder's default `resource_filters.json`).
fn group_filters(
    req: &HttpRequest,
    params: &[(String, String)],
    is_admin: bool,
) -> Result<Vec<(String, String)>, ApiError> {
    let strict = version::of(req).at_least(3, 31) && !is_admin;
    let mut out = Vec::new();
    for (k, v) in params {
        if listing::PAGE_KEYS.contains(&k.as_str()) || k == "all_tenants" || k == "list_volume" {
            continue;
        }
        if strict && k != "name" {
            return Err(ApiError::BadRequest(format!(
                "Invalid filters {k} are found in query options."
            )));
        }
        out.push((k.clone(), v.clone()));
    }
    Ok(out)
}

/// A group's column by its filter name; `None` for a key that is no column, which (as in
/// Cinder's query) matches no group.
fn column(g: &GroupDetail, key: &str) -> Option<Option<String>> {
    let r = &g.row;
    Some(match key {
        "id" => Some(r.id.clone()),
        "name" => r.name.clone(),
        "description" => r.description.clone(),
        "status" => Some(r.status.clone()),
        "availability_zone" => Some(r.availability_zone.clone()),
        "group_type_id" => Some(r.group_type_id.clone()),
        "project_id" => Some(r.project_id.clone()),
        "user_id" => Some(r.user_id.clone()),
        "group_snapshot_id" => r.group_snapshot_id.clone(),
        "source_group_id" => r.source_group_id.clone(),
        "replication_status" => r.replication_status.clone(),
        _ => return None,
    })
}

/// `GET /groups` → the summary list.
#[utoipa::path(get, path = "/groups", summary = "List groups (3.13+)", responses((status = 200, description = "Success", body = GroupList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (rows, next) = listed(&req, &state, ctx).await?;
    let mut out = json!({"groups": rows.iter().map(summary).collect::<Vec<_>>()});
    if let Some(l) = next {
        out["group_links"] = l;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /groups/detail`.
#[utoipa::path(get, path = "/groups/detail", summary = "List groups with details (3.13+)", responses((status = 200, description = "Success", body = GroupList)))]
pub async fn list_detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (rows, next) = listed(&req, &state, ctx.clone()).await?;
    let mut out =
        json!({"groups": rows.iter().map(|g| detail(&req, &state, &ctx, g)).collect::<Vec<_>>()});
    if let Some(l) = next {
        out["group_links"] = l;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /groups/{id}`.
#[utoipa::path(get, path = "/groups/{group_id}", summary = "Show a group (3.13+)", responses((status = 200, description = "Success", body = GroupBody)))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUPS_FROM)?;
    let g = state
        .api
        .send(GetGroup {
            ctx: ctx.clone(),
            id: group_id(&req),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"group": detail(&req, &state, &ctx, &g)})))
}

/// `PUT /groups/{id}` → **202**, no body (Cinder's answer).
#[utoipa::path(put, path = "/groups/{group_id}", summary = "Rename or re-describe a group (3.13+)", request_body = UpdateBody, responses((status = 202, description = "Success")))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(g): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUPS_FROM)?;
    let listed = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    if listed(&g.add_volumes) || listed(&g.remove_volumes) {
        // Clinker's volumes have no group membership yet: refused, never pretended.
        return Err(ApiError::BadRequest(
            "Invalid Group: adding or removing volumes is not supported by this deployment.".into(),
        ));
    }
    if g.name.is_none() && g.description.is_none() {
        return Err(ApiError::BadRequest(
            "Name, description, add_volumes, and remove_volumes can not be all empty in the request body."
                .into(),
        ));
    }
    state
        .api
        .send(UpdateGroup {
            ctx,
            id: group_id(&req),
            name: g.name.map(|n| n.map(String::from)),
            description: g.description.map(|d| d.map(String::from)),
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}

/// `POST /groups/{id}/action`: `delete`, `reset_status` (3.20), `enable_replication`,
/// `disable_replication`, `failover_replication`, `list_replication_targets` (3.38).
#[utoipa::path(post, path = "/groups/{group_id}/action", summary = "Delete a group, reset its status (3.20+) or a replication action (3.38+)", request_body = Object, responses((status = 202, description = "Success")))]
pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUPS_FROM)?;
    let name = body
        .as_object()
        .and_then(|o| o.keys().next().cloned())
        .unwrap_or_default();
    let id = group_id(&req);
    let v = version::of(&req);
    match name.as_str() {
        "delete" => {
            policy::authorize(&state, &ctx, Action::GroupDelete)?;
            let d = element(&body, "delete")?;
            if let Some(k) = d.keys().find(|k| *k != "delete-volumes") {
                return Err(ApiError::BadRequest(format!(
                    "Invalid input for field/attribute delete. Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            state.api.send(DeleteGroup { ctx, id }).await??;
            Ok(HttpResponse::Accepted().finish())
        }
        "reset_status" if v.at_least(3, 20) => {
            policy::authorize(&state, &ctx, Action::GroupResetStatus)?;
            let r = element(&body, "reset_status")?;
            let status = r
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_lowercase)
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Invalid input for field/attribute reset_status. 'status' is a required property"
                            .into(),
                    )
                })?;
            if !STATUSES.contains(&status.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "Invalid input for field/attribute status. Value: {status}. '{status}' is not a 'group_status'"
                )));
            }
            state
                .api
                .send(GetGroup {
                    ctx,
                    id: id.clone(),
                })
                .await??;
            state.api.send(ResetGroupStatus { id, status }).await??;
            Ok(HttpResponse::Accepted().finish())
        }
        "enable_replication"
        | "disable_replication"
        | "failover_replication"
        | "list_replication_targets"
            if v.at_least(3, 38) =>
        {
            let rule = match name.as_str() {
                "enable_replication" => Action::GroupEnableReplication,
                "disable_replication" => Action::GroupDisableReplication,
                "failover_replication" => Action::GroupFailoverReplication,
                _ => Action::GroupListReplicationTargets,
            };
            policy::authorize(&state, &ctx, rule)?;
            state
                .api
                .send(GetGroup {
                    ctx,
                    id: id.clone(),
                })
                .await??;
            // Cinder's `_check_type`: only a group whose type enables replication goes
            // on; Clinker replicates nothing, so no group type does.
            Err(ApiError::BadRequest(format!(
                "Invalid group type: Group {id} is not a replication group type."
            )))
        }
        _ => Err(ApiError::BadRequest(
            "There is no such action: ".to_string() + &name,
        )),
    }
}
