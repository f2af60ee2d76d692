//! `/group_types` and `/group_types/{id}/group_specs` (3.11; Cinder's
//! `cinder/api/v3/group_types.py`, `group_specs.py`, `views/group_types.py`).
//!
//! Policy (Cinder's `cinder/policies/group_types.py`): lists and shows have no rule, the
//! writes and every specs call are `admin_api`, and a type's view carries its
//! `group_specs` only for a caller `group:access_group_types_specs` allows (admins).
//! Every call is 404 below 3.11, as Cinder's versioned controller answers.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{Body, Envelope, JsonBody, given};
use super::error::ApiError;
use super::fields::{Description, Field, Flag, GroupSpecs, Name};
use super::guard::Since;
use super::types::{TypeColumns, sort_types, type_list_page};
use super::views::LinkBase;
use super::{AppState, guard, listing, policy, validate};
use crate::actors::api::group_types::{
    CreateGroupType, DeleteGroupType, GetGroupType, GroupSpecsWrite, ListGroupTypes,
    UpdateGroupType, WriteGroupSpecs,
};
use crate::db::Resource;
use crate::db::group_types::{GroupTypeChange, GroupTypeDetail};
use crate::model::RequestContext;
use crate::policy::Action;

/// Group types came with 3.11.
const GROUP_TYPES_FROM: u16 = 11;

/// The `is_public` field of a group type body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsPublicKey {}

impl Field for IsPublicKey {
    const NAME: &'static str = "is_public";
}

/// `{"group_specs": {...}}` of `POST /group_types/{id}/group_specs`, and no other key.
impl Envelope for GroupSpecs {
    const KEY: &'static str = "group_specs";
    const STRICT_FROM: Option<u16> = None;
    const ONLY_KEY: bool = true;
}

/// The body of `POST /group_types/{id}/group_specs`.
pub type SpecsBody = Body<GroupSpecs>;

/// `POST /group_types`: `{"group_type": {...}}`; other keys are refused, as Cinder's
/// schema has `additionalProperties: false`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupTypeCreate {
    /// Unique name, 1 to 255 characters.
    #[schema(inline)]
    pub name: Option<Name>,
    /// Description.
    #[schema(inline)]
    pub description: Option<Description>,
    /// Visible to every project (default true).
    #[schema(value_type = Option<bool>)]
    pub is_public: Option<Flag<IsPublicKey>>,
    /// Specs.
    #[schema(inline)]
    pub group_specs: Option<GroupSpecs>,
}

/// The body of `POST /group_types`.
pub type CreateBody = Body<GroupTypeCreate>;

impl Envelope for GroupTypeCreate {
    const KEY: &'static str = "group_type";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// `PUT /group_types/{id}`: at least one of name, description, is_public.
#[derive(Debug, Deserialize, ToSchema)]
pub struct GroupTypeUpdate {
    /// A new name (not blank).
    #[schema(inline)]
    pub name: Option<Name>,
    /// A new description; `null` clears it.
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub description: Option<Option<Description>>,
    /// New visibility.
    #[schema(value_type = Option<bool>)]
    pub is_public: Option<Flag<IsPublicKey>>,
}

/// The body of `PUT /group_types/{id}`.
pub type UpdateBody = Body<GroupTypeUpdate>;

impl Envelope for GroupTypeUpdate {
    const KEY: &'static str = "group_type";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// A group type as the views show it (the answer's schema; built with `json!`).
#[derive(Serialize, ToSchema)]
pub struct GroupType {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Visible to every project.
    pub is_public: bool,
    /// Specs (admins only).
    pub group_specs: Option<BTreeMap<String, String>>,
}

/// `{"group_type": <GroupType>}`.
#[derive(Serialize, ToSchema)]
pub struct GroupTypeBody {
    /// The type.
    pub group_type: GroupType,
}

/// `{"group_types": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct GroupTypeList {
    /// The types.
    pub group_types: Vec<GroupType>,
    /// The next page, when one was cut short.
    pub group_type_links: Option<Vec<super::openapi::Link>>,
}

/// `{"group_specs": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct GroupSpecsBody {
    /// The specs.
    pub group_specs: BTreeMap<String, String>,
}

fn view(t: &GroupTypeDetail, specs_shown: bool) -> Value {
    let mut v = json!({
        "id": t.row.id,
        "name": t.row.name,
        "description": t.row.description,
        "is_public": t.row.is_public,
    });
    if specs_shown {
        v["group_specs"] = json!(t.group_specs);
    }
    v
}

fn specs_shown(state: &AppState, ctx: &RequestContext) -> bool {
    policy::allows(state, ctx, Action::GroupTypeSpecsShown)
}

fn type_id(req: &HttpRequest) -> String {
    guard::segment(req, "group_type_id")
}

/// `GET /group_types`: public ones; admins choose with `is_public` (`true` default,
/// `false`, `none` = all).
#[utoipa::path(get, path = "/group_types", summary = "List group types (3.11+)", responses((status = 200, description = "Success", body = GroupTypeList)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let params = guard::query(&req)?;
    let mut is_public = Some(true);
    if let Some((_, v)) = params.iter().find(|(k, _)| k == "is_public") {
        // Cinder's `_parse_is_public`: `none` is every type, a boolean string picks.
        is_public =
            if v.eq_ignore_ascii_case("none") {
                None
            } else {
                Some(validate::boolean(v).ok_or_else(|| {
                    ApiError::BadRequest(format!("Invalid is_public filter [{v}]"))
                })?)
            };
    }
    let page = type_list_page(&params, state.limits.max_limit)?;
    let all = state
        .api
        .send(ListGroupTypes {
            ctx: ctx.clone(),
            is_public,
        })
        .await??;
    let items = sort_types(
        all,
        &page,
        |t: &GroupTypeDetail| TypeColumns::from(&t.row),
        Resource::GroupType,
    )?;
    let shown = specs_shown(&state, &ctx);
    let mut out = json!({
        "group_types": items.iter().map(|t| view(t, shown)).collect::<Vec<_>>(),
    });
    let last = items.last().map(|t| t.row.id.as_str());
    if let Some(l) = listing::next_link(
        &LinkBase::of(&req),
        "group_types",
        &params,
        &page,
        items.len(),
        last,
    ) {
        out["group_type_links"] = l;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /group_types/{id}`; `default` is the configured default group type.
#[utoipa::path(get, path = "/group_types/{group_type_id}", summary = "Show a group type, or the default one (3.11+)", responses((status = 200, description = "Success", body = GroupTypeBody)))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let t = state
        .api
        .send(GetGroupType {
            admin: ctx.is_admin,
            id: type_id(&req),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"group_type": view(&t, specs_shown(&state, &ctx))})))
}

/// `POST /group_types` (admin) → **202**.
#[utoipa::path(post, path = "/group_types", summary = "Create a group type (3.11+)", request_body = CreateBody, responses((status = 202, description = "Success", body = GroupTypeBody)))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(g): CreateBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let name = g
        .name
        .map(String::from)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "Invalid input for field/attribute group_type. 'name' is a required property and may not be blank."
                    .into(),
            )
        })?;
    let msg = CreateGroupType {
        name,
        description: g.description.map(String::from),
        is_public: g.is_public.is_none_or(Flag::get),
        group_specs: validate::capped(
            g.group_specs.unwrap_or_default().0,
            state.limits.max_metadata_items,
        )?,
    };
    let t = state.api.send(msg).await??;
    Ok(HttpResponse::Accepted().json(json!({"group_type": view(&t, specs_shown(&state, &ctx))})))
}

/// `PUT /group_types/{id}` (admin) → 200 with the type.
#[utoipa::path(put, path = "/group_types/{group_type_id}", summary = "Update a group type (3.11+)", request_body = UpdateBody, responses((status = 200, description = "Success", body = GroupTypeBody)))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(g): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let name = match g.name.map(String::from) {
        Some(n) if n.is_empty() => {
            return Err(ApiError::BadRequest(
                "Group type name can not be empty.".into(),
            ));
        }
        other => other,
    };
    // A null description changes nothing, as in Cinder (its update drops None fields):
    // cinderclient's `group-type-update --is-public` sends `"description": null`.
    let change = GroupTypeChange {
        name,
        description: g.description.flatten().map(|d| Some(String::from(d))),
        is_public: g.is_public.map(Flag::get),
    };
    if change == GroupTypeChange::default() {
        return Err(ApiError::BadRequest(
            "Specify group type name, description or a combination thereof.".into(),
        ));
    }
    let t = state
        .api
        .send(UpdateGroupType {
            id: type_id(&req),
            change,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"group_type": view(&t, specs_shown(&state, &ctx))})))
}

/// `DELETE /group_types/{id}` (admin) → **202**; 400 while groups use it.
#[utoipa::path(delete, path = "/group_types/{group_type_id}", summary = "Delete a group type no group uses (3.11+)", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    state
        .api
        .send(DeleteGroupType { id: type_id(&req) })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}

/// The type's specs, read as an admin (the route's rule already let the caller in).
async fn specs_of(
    req: &HttpRequest,
    state: &AppState,
) -> Result<BTreeMap<String, String>, ApiError> {
    let t = state
        .api
        .send(GetGroupType {
            admin: true,
            id: type_id(req),
        })
        .await??;
    Ok(t.group_specs)
}

/// `GET /group_types/{id}/group_specs` (admin).
#[utoipa::path(get, path = "/group_types/{group_type_id}/group_specs", summary = "List a group type's specs (3.11+)", responses((status = 200, description = "Success", body = GroupSpecsBody)))]
pub async fn specs_list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let specs = specs_of(&req, &state).await?;
    Ok(HttpResponse::Ok().json(json!({ "group_specs": specs })))
}

/// `GET /group_types/{id}/group_specs/{key}` (admin) → `{key: value}`.
#[utoipa::path(get, path = "/group_types/{group_type_id}/group_specs/{key}", summary = "Show one group spec (3.11+)", responses((status = 200, description = "Success", body = BTreeMap<String, String>)))]
pub async fn specs_show(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let key = guard::segment(&req, "key");
    match specs_of(&req, &state).await?.get(&key) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({ key: v }))),
        // The show's own wording, which differs from the delete's (`Resource`'s).
        None => Err(ApiError::NotFound(format!(
            "Group Type {} has no extra spec with key {key}.",
            type_id(&req)
        ))),
    }
}

/// `POST /group_types/{id}/group_specs` (admin) → **202**, echoing the body.
#[utoipa::path(post, path = "/group_types/{group_type_id}/group_specs", summary = "Add or replace group specs (3.11+)", request_body = SpecsBody, responses((status = 202, description = "Success", body = GroupSpecsBody)))]
pub async fn specs_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    _: Since<GROUP_TYPES_FROM>,
    Body(specs): SpecsBody,
) -> Result<HttpResponse, ApiError> {
    let specs = validate::capped(specs.into_map(), state.limits.max_metadata_items)?;
    state
        .api
        .send(WriteGroupSpecs {
            id: type_id(&req),
            write: GroupSpecsWrite::Set(specs.clone()),
        })
        .await??;
    Ok(HttpResponse::Accepted().json(json!({ "group_specs": specs })))
}

/// `PUT /group_types/{id}/group_specs/{key}` with `{key: value}` (admin) → 200, echoed.
#[utoipa::path(put, path = "/group_types/{group_type_id}/group_specs/{key}", summary = "Set one group spec (3.11+)", request_body = BTreeMap<String, String>, responses((status = 200, description = "Success", body = BTreeMap<String, String>)))]
pub async fn specs_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    let key = guard::segment(&req, "key");
    let specs = validate::extra_specs("group_specs", Some(&body))?;
    if specs.len() != 1 {
        return Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute group_specs. Value: {body}. It must have exactly one property."
        )));
    }
    if !specs.contains_key(&key) {
        return Err(ApiError::BadRequest("Request body and URI mismatch".into()));
    }
    state
        .api
        .send(WriteGroupSpecs {
            id: type_id(&req),
            write: GroupSpecsWrite::Set(specs.clone()),
        })
        .await??;
    Ok(HttpResponse::Ok().json(specs))
}

/// `DELETE /group_types/{id}/group_specs/{key}` (admin) → **202**.
#[utoipa::path(delete, path = "/group_types/{group_type_id}/group_specs/{key}", summary = "Remove one group spec (3.11+)", responses((status = 202, description = "Success")))]
pub async fn specs_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, GROUP_TYPES_FROM)?;
    state
        .api
        .send(WriteGroupSpecs {
            id: type_id(&req),
            write: GroupSpecsWrite::Delete(guard::segment(&req, "key")),
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}
