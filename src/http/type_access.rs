//! Private-type access (`/types/{id}/os-volume-type-access`, `/types/{id}/action`) and
//! per-project default types (`/default-types`, 3.62). All admin (cinder-api.md §10).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Caller;
use super::body::{JsonBody, element};
use super::error::ApiError;
use super::{AppState, guard, validate};
use crate::actors::api::types::{
    ChangeTypeAccess, GetDefaultTypes, ListTypeAccess, SetDefaultType, UnsetDefaultType,
};
use crate::policy::Action;

/// `GET /types/{id}/os-volume-type-access` (admin; a public type is 404).
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
    let project = validate::text("project", args.get("project"))?
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
pub async fn set_default(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    guard::min_version(&req, 62)?;
    let project = guard::segment(&req, "target_project");
    let d = element(&body, "default_type")?;
    let volume_type = validate::text("volume_type", d.get("volume_type"))?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute default_type. Value: {}. 'volume_type' is a required property",
                Value::Object(d.clone())
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
