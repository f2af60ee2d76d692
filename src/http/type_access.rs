//! Private-type access (`/types/{id}/os-volume-type-access`, `/types/{id}/action`) and
//! per-project default types (`/default-types`, 3.62). All admin (cinder-api.md §10).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{Body, Envelope, JsonBody, actions, element, parse, typed};
use super::error::ApiError;
use super::fields::{Project, VolumeTypeRef};
use super::guard::Since;
use super::{AppState, guard};
use crate::actors::api::types::{
    ChangeTypeAccess, GetDefaultTypes, ListTypeAccess, SetDefaultType, UnsetDefaultType,
};
use crate::policy::Action;

/// The arguments of `addProjectAccess` and `removeProjectAccess`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProjectAccess {
    /// The project given or refused access.
    #[schema(inline, required = true, nullable = false, min_length = 1)]
    pub project: Option<Project>,
}

/// The body of `POST /types/{id}/action`: `{"addProjectAccess": <ProjectAccess>}` or
/// `{"removeProjectAccess": <ProjectAccess>}`. Read after the action's policy rule, as
/// Cinder reads it, so its refusals come after a 403.
pub struct TypeAccessAction;

impl PartialSchema for TypeAccessAction {
    fn schema() -> RefOr<Schema> {
        let args = || Ref::from_schema_name(ProjectAccess::name()).into();
        actions(vec![
            ("addProjectAccess", args()),
            ("removeProjectAccess", args()),
        ])
    }
}

impl ToSchema for TypeAccessAction {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ProjectAccess::name().into_owned(), ProjectAccess::schema()));
    }
}

/// A project's default type, `{"default_type": {"volume_type": <name or id>}}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DefaultTypeSet {
    /// The type's name or id.
    #[schema(inline, required = true, nullable = false, min_length = 1)]
    pub volume_type: Option<VolumeTypeRef>,
}

impl Envelope for DefaultTypeSet {
    const KEY: &'static str = "default_type";
    const STRICT_FROM: Option<u16> = None;
}

/// The body of `PUT /default-types/{project}`.
pub type DefaultBody = Body<DefaultTypeSet>;

/// `GET /types/{id}/os-volume-type-access` (admin; a public type is 404).
#[utoipa::path(get, path = "/types/{type_id}/os-volume-type-access", summary = "List projects with access (admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/TypeAccessList"))))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let id = guard::segment(&req, "type_id");
    let projects = state
        .api
        .send(ListTypeAccess {
            ctx,
            id: id.clone(),
        })
        .await??;
    let access: Vec<Value> = projects
        .iter()
        .map(|p| json!({"volume_type_id": id, "project_id": p}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "volume_type_access": access })))
}

/// `POST /types/{id}/action` with `addProjectAccess` or `removeProjectAccess` → **202**.
#[utoipa::path(post, path = "/types/{type_id}/action", summary = "Add or remove project access (admin)", request_body = TypeAccessAction, responses((status = 202, description = "Success")))]
pub async fn action(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let Some(obj) = body.as_object().filter(|o| o.len() == 1) else {
        return Err(ApiError::BadRequest("Malformed request body".into()));
    };
    let (name, args) = obj
        .iter()
        .next()
        .ok_or_else(|| ApiError::BadRequest("Malformed request body".into()))?;
    let add = match name.as_str() {
        "addProjectAccess" => true,
        "removeProjectAccess" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "There is no such action: {other}"
            )));
        }
    };
    let rule = if add {
        Action::TypeAccessAdd
    } else {
        Action::TypeAccessRemove
    };
    super::policy::authorize(&state, &ctx, rule)?;
    let project = match args {
        Value::Object(_) => typed::<ProjectAccess>(args.clone())?.project,
        _ => None,
    };
    let project = project
        .map(String::from)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute {name}. Value: {args}. 'project' is a required property"
            ))
        })?;
    state
        .api
        .send(ChangeTypeAccess {
            ctx,
            id: guard::segment(&req, "type_id"),
            project,
            add,
        })
        .await??;
    Ok(HttpResponse::Accepted().finish())
}

fn default_view(project: &str, type_id: &str) -> Value {
    json!({"project_id": project, "volume_type_id": type_id})
}

/// `PUT /default-types/{project}` `{"default_type": {"volume_type": name-or-id}}` → 200.
#[utoipa::path(put, path = "/default-types/{target_project}", summary = "Set a project's default type (3.62+, admin)", request_body = DefaultBody, responses((status = 200, description = "Success", body = ref("#/components/schemas/DefaultTypeBody"))))]
pub async fn set_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    _: Since<62>,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let project = guard::segment(&req, "target_project");
    // The refusal of a missing type echoes the object as sent.
    let sent = element(&body, DefaultTypeSet::KEY)?.clone();
    let DefaultTypeSet { volume_type } = parse::<DefaultTypeSet>(body, false)?;
    let volume_type = volume_type
        .map(String::from)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute default_type. Value: {}. 'volume_type' is a required property",
                Value::Object(sent)
            ))
        })?;
    let type_id = state
        .api
        .send(SetDefaultType {
            ctx,
            project: project.clone(),
            volume_type,
        })
        .await??;
    Ok(HttpResponse::Ok().json(json!({"default_type": default_view(&project, &type_id)})))
}

/// `GET /default-types/{project}` → 200 (404 when the project has none).
#[utoipa::path(get, path = "/default-types/{target_project}", summary = "Show a project's default type (3.62+)", responses((status = 200, description = "Success", body = ref("#/components/schemas/DefaultTypeBody"))))]
pub async fn show_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 62)?;
    let project = guard::segment(&req, "target_project");
    let found = state
        .api
        .send(GetDefaultTypes {
            ctx,
            project: Some(project),
        })
        .await??;
    let (p, t) = found
        .first()
        .ok_or_else(|| ApiError::NotFound("Default type not found.".into()))?;
    Ok(HttpResponse::Ok().json(json!({"default_type": default_view(p, t)})))
}

/// `GET /default-types` → 200 `{"default_types": [...]}`.
#[utoipa::path(get, path = "/default-types", summary = "List default types (3.62+, admin)", responses((status = 200, description = "Success", body = ref("#/components/schemas/DefaultTypeList"))))]
pub async fn list_defaults(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 62)?;
    let all = state
        .api
        .send(GetDefaultTypes { ctx, project: None })
        .await??;
    let list: Vec<Value> = all.iter().map(|(p, t)| default_view(p, t)).collect();
    Ok(HttpResponse::Ok().json(json!({ "default_types": list })))
}

/// `DELETE /default-types/{project}` → **204**.
#[utoipa::path(delete, path = "/default-types/{target_project}", summary = "Unset a project's default type (3.62+, admin)", responses((status = 204, description = "Success")))]
pub async fn unset_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 62)?;
    state
        .api
        .send(UnsetDefaultType {
            ctx,
            project: guard::segment(&req, "target_project"),
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
