//! `/types` and `/types/{id}/extra_specs` (cinder-api.md §10).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::body::{Body, Envelope, Whole, given};
use super::error::ApiError;
use super::fields::{
    AccessIsPublic, Boolean, Description, ExtraSpec, ExtraSpecs, IsPublic, Name, TypeName,
    type_name_missing,
};
use super::listing::PageQuery;
use super::views::LinkBase;
use super::{AppState, guard, listing, policy, validate, version};
use crate::actors::api::types::{
    CreateType, DeleteType, ExtraSpecsWrite, GetDefaultType, GetType, ListTypes, UpdateType,
    WriteExtraSpecs,
};
use crate::db::Resource;
use crate::db::group_types::GroupTypeRow;
use crate::db::rows::VolumeTypeRow;
use crate::db::types::{TypeDetail, TypeFilter};
use crate::model::RequestContext;
use crate::policy::Action;

/// Extra specs members may read (Cinder's `USER_VISIBLE_EXTRA_SPECS`).
const USER_VISIBLE_SPECS: [&str; 3] = [
    "RESKEY:availability_zones",
    "multiattach",
    "replication_enabled",
];

/// Which admin-only parts of a type view a caller sees, by Cinder's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeFields {
    /// Every extra spec, not only [`USER_VISIBLE_SPECS`]
    /// (`volume_extension:types_extra_specs:read_sensitive`).
    pub sensitive_specs: bool,
    /// `qos_specs_id` (`volume_extension:access_types_qos_specs_id`).
    pub qos_specs_id: bool,
}

impl TypeFields {
    /// What the policy lets `ctx` see.
    pub fn of(state: &AppState, ctx: &RequestContext) -> Self {
        Self {
            sensitive_specs: policy::allows(state, ctx, Action::ExtraSpecsReadSensitive),
            qos_specs_id: policy::allows(state, ctx, Action::TypeQosSpecsId),
        }
    }
}

/// The extra specs a caller sees: all of them, or only the user-visible ones.
pub fn visible_specs(t: &TypeDetail, sensitive: bool) -> BTreeMap<String, String> {
    t.extra_specs
        .iter()
        .filter(|(k, _)| sensitive || USER_VISIBLE_SPECS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Which variant of the type view a response uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeShape {
    /// Show and list: with `os-volume-type-access:is_public`, and `qos_specs_id` for admins.
    Show,
    /// Create: with the access key, without `qos_specs_id`.
    Created,
    /// `GET /types/default`: with `qos_specs_id` for admins, no access key.
    Plain,
    /// Update: neither key. Cinder's `types_manage` renders create and update with the
    /// older view, which has no `qos_specs_id`, and the access extension extends create
    /// but not update.
    Updated,
}

/// Cinder's volume type view.
pub fn type_view(t: &TypeDetail, shown: TypeFields, shape: TypeShape) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(t.row.id));
    o.insert("name".into(), json!(t.row.name));
    o.insert("description".into(), json!(t.row.description));
    o.insert("is_public".into(), json!(t.row.is_public));
    o.insert(
        "extra_specs".into(),
        json!(visible_specs(t, shown.sensitive_specs)),
    );
    if matches!(shape, TypeShape::Show | TypeShape::Created) {
        o.insert(
            "os-volume-type-access:is_public".into(),
            json!(t.row.is_public),
        );
    }
    if matches!(shape, TypeShape::Show | TypeShape::Plain) && shown.qos_specs_id {
        o.insert("qos_specs_id".into(), json!(t.qos_specs_id));
    }
    Value::Object(o)
}

fn type_id(req: &HttpRequest) -> String {
    guard::segment(req, "type_id")
}

/// `GET /types`: public types plus private ones shared with the caller; admins choose with
/// `is_public` (`true` default, `false`, `none` = all). 3.52+: `extra_specs` filter.
#[utoipa::path(get, path = "/types", summary = "List volume types", params(PageQuery, ("is_public" = Option<String>, Query, description = "Admins: `true` (the default), `false` or `none` (all)."), ("extra_specs" = Option<String>, Query, description = "3.52+: a dict of extra specs the types must have.")), responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeTypeList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let params = guard::query(&req)?;
    let ver = version::of(&req);
    let mut filter = TypeFilter {
        is_public: Some(true),
        ..TypeFilter::default()
    };
    for (k, v) in &params {
        match k.as_str() {
            "is_public" if ctx.is_admin => {
                filter.is_public = if v.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(validate::boolean(v).ok_or_else(|| {
                        ApiError::BadRequest(format!("Invalid is_public filter [{v}]"))
                    })?)
                }
            }
            "extra_specs" if ver.at_least(3, 52) => {
                filter.extra_specs = guard::dict(v).ok_or_else(|| {
                    ApiError::BadRequest(format!("Invalid extra_specs filter: {v}"))
                })?
            }
            k if listing::PAGE_KEYS.contains(&k) || k == "is_public" || k == "all_tenants" => {}
            other if ver.at_least(3, 31) && !ctx.is_admin && other != "extra_specs" => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid filters {other} are found in query options."
                )));
            }
            _ => {}
        }
    }
    let page = type_list_page(&params, state.limits.max_limit)?;
    let all = state
        .api
        .send(ListTypes {
            ctx: ctx.clone(),
            filter,
        })
        .await??;
    let items = sort_types(
        all,
        &page,
        |t: &TypeDetail| TypeColumns::from(&t.row),
        Resource::VolumeType,
    )?;
    let shown = TypeFields::of(&state, &ctx);
    let types: Vec<Value> = items
        .iter()
        .map(|t| type_view(t, shown, TypeShape::Show))
        .collect();
    let mut out = json!({ "volume_types": types });
    let last = items.last().map(|t| t.row.id.as_str());
    if let Some(l) = listing::next_link(
        &LinkBase::of(&req),
        "types",
        &params,
        &page,
        items.len(),
        last,
    ) {
        out["volume_type_links"] = l;
    }
    Ok(HttpResponse::Ok().json(out))
}

/// The columns a type list sorts by. Volume types and group types have the same ones
/// (Cinder's `volume_types` and `group_types` tables), and their lists the same sort
/// keys.
#[derive(Debug, Clone, Copy)]
pub struct TypeColumns<'a> {
    /// UUID: the marker's key and the last tie-break.
    pub id: &'a str,
    /// Name.
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Public.
    pub is_public: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// The columns of rows that have them all under the same names.
macro_rules! type_columns_of {
    ($($row:ty),+) => {$(
        impl<'a> From<&'a $row> for TypeColumns<'a> {
            fn from(r: &'a $row) -> Self {
                TypeColumns {
                    id: &r.id,
                    name: &r.name,
                    description: r.description.as_deref(),
                    is_public: r.is_public,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                }
            }
        }
    )+};
}

type_columns_of!(VolumeTypeRow, GroupTypeRow);

impl TypeColumns<'_> {
    /// The sort keys a type list takes.
    const SORT_KEYS: [&'static str; 6] = [
        "id",
        "name",
        "description",
        "is_public",
        "created_at",
        "updated_at",
    ];

    /// What `key` (one of [`Self::SORT_KEYS`]) sorts by.
    fn sort_value(&self, key: &str) -> String {
        match key {
            "name" => self.name.to_owned(),
            "description" => self.description.unwrap_or_default().to_owned(),
            "is_public" => self.is_public.to_string(),
            "created_at" => super::views::time(self.created_at),
            "updated_at" => self.updated_at.map(super::views::time).unwrap_or_default(),
            _ => self.id.to_owned(),
        }
    }
}

/// The page a type list's query asks for: its sort keys, newest first by default.
pub fn type_list_page(
    params: &[(String, String)],
    max_limit: i64,
) -> Result<listing::Page, ApiError> {
    listing::page(
        params,
        &TypeColumns::SORT_KEYS,
        ("created_at", true),
        max_limit,
    )
}

/// `items` sorted and cut to `page`; a marker not among them is `resource` not found.
pub fn sort_types<T>(
    items: Vec<T>,
    page: &listing::Page,
    columns: fn(&T) -> TypeColumns<'_>,
    resource: Resource,
) -> Result<Vec<T>, ApiError> {
    listing::apply(
        items,
        page,
        |t, k| columns(t).sort_value(k),
        |t| columns(t).id.to_owned(),
        |m| ApiError::not_found(resource, m),
    )
}

/// `GET /types/{id}`.
#[utoipa::path(get, path = "/types/{type_id}", summary = "Show a volume type", responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeTypeBody"))))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .api
        .send(GetType {
            ctx: ctx.clone(),
            id: type_id(&req),
        })
        .await??;
    Ok(HttpResponse::Ok()
        .json(json!({"volume_type": type_view(&t, TypeFields::of(&state, &ctx), TypeShape::Show)})))
}

/// `GET /types/default`: the caller's project default, else the configured default.
#[utoipa::path(get, path = "/types/default", summary = "Show the default type", responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeTypeBody"))))]
pub async fn show_default(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .api
        .send(GetDefaultType { ctx: ctx.clone() })
        .await??;
    Ok(HttpResponse::Ok().json(
        json!({"volume_type": type_view(&t, TypeFields::of(&state, &ctx), TypeShape::Plain)}),
    ))
}

/// The volume type to create (Cinder's `volume_types.create` schema): any other key is
/// refused at every version.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VolumeTypeCreate {
    /// Name, unique.
    #[schema(inline, required = true, nullable = false)]
    pub name: Option<TypeName>,
    /// Description.
    #[schema(inline)]
    pub description: Option<Description>,
    /// Extra specs.
    #[schema(inline)]
    pub extra_specs: Option<ExtraSpecs>,
    /// Visible to every project (default true).
    #[serde(rename = "os-volume-type-access:is_public")]
    #[schema(inline)]
    pub is_public: Option<AccessIsPublic>,
}

/// The body of `POST /types`.
pub type CreateBody = Body<VolumeTypeCreate>;

impl Envelope for VolumeTypeCreate {
    const KEY: &'static str = "volume_type";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// The changes of `PUT /types/{id}`: at least one of them; any other key is refused.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VolumeTypeUpdate {
    /// Name (`null` leaves it as it is).
    #[schema(inline)]
    pub name: Option<Name>,
    /// Description (`null` clears it).
    #[serde(default, deserialize_with = "given")]
    #[schema(inline)]
    pub description: Option<Option<Description>>,
    /// Visible to every project (`null` leaves it as it is).
    #[schema(inline)]
    pub is_public: Option<IsPublic>,
}

/// The body of `PUT /types/{id}`.
pub type UpdateBody = Body<VolumeTypeUpdate>;

impl Envelope for VolumeTypeUpdate {
    const KEY: &'static str = "volume_type";
    const STRICT_FROM: Option<u16> = Some(0);
}

/// `{"extra_specs": {...}}` of `POST /types/{id}/extra_specs`.
impl Envelope for ExtraSpecs {
    const KEY: &'static str = "extra_specs";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `POST /types/{id}/extra_specs`.
pub type SpecsBody = Body<ExtraSpecs>;

/// The body of `PUT /types/{id}/extra_specs/{key}`.
pub type SpecBody = Whole<ExtraSpec>;

/// `POST /types` (admin) → **200**.
#[utoipa::path(post, path = "/types", summary = "Create a volume type (admin)", request_body = CreateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeTypeBody"))))]
pub async fn create(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(v): CreateBody,
) -> Result<HttpResponse, ApiError> {
    let TypeName(name) = v.name.ok_or_else(|| type_name_missing(&Value::Null))?;
    let msg = CreateType {
        ctx: ctx.clone(),
        name,
        description: v.description.map(String::from),
        is_public: v.is_public.is_none_or(Boolean::get),
        extra_specs: validate::capped(
            v.extra_specs.unwrap_or_default().into_map(),
            state.limits.max_metadata_items,
        )?,
    };
    let t = state.api.send(msg).await??;
    Ok(HttpResponse::Ok().json(
        json!({"volume_type": type_view(&t, TypeFields::of(&state, &ctx), TypeShape::Created)}),
    ))
}

/// `PUT /types/{id}` (admin): name, description, is_public; at least one.
#[utoipa::path(put, path = "/types/{type_id}", summary = "Update a volume type (admin)", request_body = UpdateBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/VolumeTypeBody"))))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(v): UpdateBody,
) -> Result<HttpResponse, ApiError> {
    let name = match v.name.map(String::from) {
        Some(n) if n.is_empty() => {
            return Err(ApiError::BadRequest(
                "Volume type name can not be empty.".into(),
            ));
        }
        n => n,
    };
    let description = v.description.map(|d| d.map(String::from));
    let is_public = v.is_public.map(Boolean::get);
    if name.is_none() && description.is_none() && is_public.is_none() {
        return Err(ApiError::BadRequest(
            "Specify volume type name, description, is_public or a combination thereof.".into(),
        ));
    }
    let msg = UpdateType {
        ctx: ctx.clone(),
        id: type_id(&req),
        name,
        description,
        is_public,
    };
    let t = state.api.send(msg).await??;
    Ok(HttpResponse::Ok().json(
        json!({"volume_type": type_view(&t, TypeFields::of(&state, &ctx), TypeShape::Updated)}),
    ))
}

/// `DELETE /types/{id}` (admin) → **202**.
#[utoipa::path(delete, path = "/types/{type_id}", summary = "Delete a volume type (admin)", responses((status = 202, description = "Success")))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .api
        .send(DeleteType {
            ctx,
            id: type_id(&req),
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}

/// `GET /types/{id}/extra_specs` (members see the user-visible ones only).
#[utoipa::path(get, path = "/types/{type_id}/extra_specs", summary = "List extra specs", responses((status = 200, description = "Success", body = ref("#/components/schemas/ExtraSpecsBody"))))]
pub async fn specs_list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let t = state
        .api
        .send(GetType {
            ctx: ctx.clone(),
            id: type_id(&req),
        })
        .await??;
    Ok(HttpResponse::Ok().json(
        json!({"extra_specs": visible_specs(&t, TypeFields::of(&state, &ctx).sensitive_specs)}),
    ))
}

/// `GET /types/{id}/extra_specs/{key}` → `{key: value}`.
#[utoipa::path(get, path = "/types/{type_id}/extra_specs/{key}", summary = "Show one extra spec", responses((status = 200, description = "Success", body = ExtraSpec)))]
pub async fn specs_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = (type_id(&req), guard::segment(&req, "key"));
    let t = state
        .api
        .send(GetType {
            ctx: ctx.clone(),
            id: id.clone(),
        })
        .await??;
    match visible_specs(&t, TypeFields::of(&state, &ctx).sensitive_specs).get(&key) {
        Some(v) => Ok(HttpResponse::Ok().json(json!({ key: v }))),
        None => Err(ApiError::not_found(
            Resource::ExtraSpec { volume_type: id },
            key,
        )),
    }
}

/// `POST /types/{id}/extra_specs` (admin) → 200, echoing the specs.
#[utoipa::path(post, path = "/types/{type_id}/extra_specs", summary = "Set extra specs (admin)", request_body = SpecsBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/ExtraSpecsBody"))))]
pub async fn specs_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Body(specs): SpecsBody,
) -> Result<HttpResponse, ApiError> {
    let specs = validate::capped(specs.into_map(), state.limits.max_metadata_items)?;
    state
        .api
        .send(WriteExtraSpecs {
            ctx,
            id: type_id(&req),
            write: ExtraSpecsWrite::Set(specs.clone()),
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({ "extra_specs": specs })))
}

/// `PUT /types/{id}/extra_specs/{key}` with `{key: value}` (admin) → 200, echoed.
#[utoipa::path(put, path = "/types/{type_id}/extra_specs/{key}", summary = "Set one extra spec (admin)", request_body = SpecBody, responses((status = 200, description = "Success", body = ExtraSpec)))]
pub async fn specs_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    Whole(ExtraSpec(spec)): SpecBody,
) -> Result<HttpResponse, ApiError> {
    let key = guard::segment(&req, "key");
    let Some((k, value)) = spec.filter(|(k, _)| *k == key) else {
        return Err(ApiError::BadRequest("Request body and URI mismatch".into()));
    };
    let specs = BTreeMap::from([(k, value)]);
    state
        .api
        .send(WriteExtraSpecs {
            ctx,
            id: type_id(&req),
            write: ExtraSpecsWrite::Set(specs.clone()),
        })
        .await??;
    Ok(HttpResponse::Ok().json(specs))
}

/// `DELETE /types/{id}/extra_specs/{key}` (admin) → **202**.
#[utoipa::path(delete, path = "/types/{type_id}/extra_specs/{key}", summary = "Delete one extra spec (admin)", responses((status = 202, description = "Success")))]
pub async fn specs_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    state
        .api
        .send(WriteExtraSpecs {
            ctx,
            id: type_id(&req),
            write: ExtraSpecsWrite::Delete(guard::segment(&req, "key")),
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}
