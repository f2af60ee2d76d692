//! `/types` and `/types/{id}/extra_specs` (cinder-api.md §10).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::body::{JsonBody, element};
use super::error::ApiError;
use super::views::LinkBase;
use super::{AppState, guard, listing, policy, validate, version};
use crate::actors::api::types::{
    CreateType, DeleteType, ExtraSpecsWrite, GetDefaultType, GetType, ListTypes, UpdateType,
    WriteExtraSpecs,
};
use crate::db::Resource;
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

/// A JSON boolean or one of Cinder's boolean strings.
pub fn boolean_value(field: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => validate::boolean(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'boolean'"
            ))
        }),
        other => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type 'boolean'"
        ))),
    }
}

fn unexpected(element: &str, m: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {element}. Additional properties are not allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

/// Extra specs: keys `^[a-zA-Z0-9-_:.]{1,255}$` (no spaces), string values of at most 255.
pub fn extra_specs(field: &str, v: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |reason: String| {
        ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {}. {reason}",
            v.unwrap_or(&Value::Null)
        ))
    };
    let map = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(invalid(format!("{other} is not of type 'object'"))),
    };
    let mut out = BTreeMap::new();
    for (k, val) in map {
        let key_ok = !k.is_empty()
            && k.chars().count() <= 255
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
        if !key_ok {
            return Err(invalid(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let Value::String(s) = val else {
            return Err(invalid(format!("{val} is not of type 'string'")));
        };
        if s.chars().count() > 255 {
            return Err(invalid(format!("'{s}' is too long")));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

/// `GET /types`: public types plus private ones shared with the caller; admins choose with
/// `is_public` (`true` default, `false`, `none` = all). 3.52+: `extra_specs` filter.
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
    const SORT_KEYS: [&str; 6] = [
        "id",
        "name",
        "description",
        "is_public",
        "created_at",
        "updated_at",
    ];
    let page = listing::page(
        &params,
        &SORT_KEYS,
        ("created_at", true),
        state.limits.max_limit,
    )?;
    let all = state
        .api
        .send(ListTypes {
            ctx: ctx.clone(),
            filter,
        })
        .await??;
    let key = |t: &TypeDetail, k: &str| match k {
        "name" => t.row.name.clone(),
        "description" => t.row.description.clone().unwrap_or_default(),
        "is_public" => t.row.is_public.to_string(),
        "created_at" => super::views::time(t.row.created_at),
        "updated_at" => t.row.updated_at.map(super::views::time).unwrap_or_default(),
        _ => t.row.id.clone(),
    };
    let items = listing::apply(
        all,
        &page,
        key,
        |t| t.row.id.clone(),
        |m| ApiError::not_found(Resource::VolumeType, m),
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

/// `GET /types/{id}`.
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

/// `POST /types` (admin) → **200**.
pub async fn create(
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let v = element(&body, "volume_type")?;
    unexpected(
        "volume_type",
        v,
        &[
            "name",
            "description",
            "extra_specs",
            "os-volume-type-access:is_public",
        ],
    )?;
    let name = validate::text("name", v.get("name"))?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute name. Value: {}. Name has a minimum character requirement of 1.",
                v.get("name").unwrap_or(&Value::Null)
            ))
        })?;
    let is_public = match v.get("os-volume-type-access:is_public") {
        None | Some(Value::Null) => true,
        Some(p) => boolean_value("os-volume-type-access:is_public", p)?,
    };
    let msg = CreateType {
        ctx: ctx.clone(),
        name,
        description: validate::text("description", v.get("description"))?,
        is_public,
        extra_specs: validate::capped(
            extra_specs("extra_specs", v.get("extra_specs"))?,
            state.limits.max_metadata_items,
        )?,
    };
    let t = state.api.send(msg).await??;
    Ok(HttpResponse::Ok().json(
        json!({"volume_type": type_view(&t, TypeFields::of(&state, &ctx), TypeShape::Created)}),
    ))
}

/// `PUT /types/{id}` (admin): name, description, is_public; at least one.
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let v = element(&body, "volume_type")?;
    unexpected("volume_type", v, &["name", "description", "is_public"])?;
    let name = match v.get("name") {
        None | Some(Value::Null) => None,
        Some(_) => Some(
            validate::text("name", v.get("name"))?
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::BadRequest("Volume type name can not be empty.".into()))?,
        ),
    };
    let description = match v.get("description") {
        None => None,
        Some(_) => Some(validate::text("description", v.get("description"))?),
    };
    let is_public = match v.get("is_public") {
        None | Some(Value::Null) => None,
        Some(p) => Some(boolean_value("is_public", p)?),
    };
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
pub async fn specs_create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    element(&body, "extra_specs")?;
    let specs = validate::capped(
        extra_specs("extra_specs", body.get("extra_specs"))?,
        state.limits.max_metadata_items,
    )?;
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
pub async fn specs_update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = guard::segment(&req, "key");
    let specs = extra_specs("extra_specs", Some(&body))?;
    if specs.len() > 1 {
        return Err(ApiError::BadRequest(
            "Request body contains too many items.".into(),
        ));
    }
    if !specs.contains_key(&key) {
        return Err(ApiError::BadRequest("Request body and URI mismatch".into()));
    }
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
