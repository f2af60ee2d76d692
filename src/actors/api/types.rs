//! Volume types, their extra specs and access lists, and per-project default types
//! (cinder-api.md §10). The HTTP layer checks the admin policy before sending the writes.

use crate::actors::mailbox::UntilAsked;
use std::collections::BTreeMap;

use actix::prelude::*;

use super::{ApiActor, scope_of};
use crate::actors::error::ServiceError;
use crate::db::rows::VolumeTypeRow;
use crate::db::types::{self, DeleteRefusal, TypeDetail, TypeFilter};
use crate::db::volumes::VolumeTypeRecord;
use crate::db::{Db, DbError, Resource};
use crate::model::RequestContext;

/// Cinder's 404 for a type named by a caller that does not exist or that the caller may
/// not use: one answer for both, naming only what the caller sent.
pub(super) fn unknown_type(name_or_id: String) -> ServiceError {
    ServiceError::not_found(Resource::VolumeTypeName, name_or_id)
}

/// The type a caller names (by name or id) as the caller may use it, through
/// [`types::resolve`]: every request path that takes a type reads it here.
pub(super) async fn resolve_type(
    db: &Db,
    ctx: &RequestContext,
    name_or_id: &str,
) -> Result<VolumeTypeRecord, ServiceError> {
    let (key, scope) = (name_or_id.to_string(), scope_of(ctx));
    db.run(move |c| types::resolve(c, &key, scope.as_deref()))
        .await?
        .ok_or_else(|| unknown_type(name_or_id.to_string()))
}

/// Reads a type, answering `NotFound` for one the caller cannot see.
async fn visible_type(db: &Db, ctx: &RequestContext, id: &str) -> Result<TypeDetail, ServiceError> {
    let (key, scope) = (id.to_string(), scope_of(ctx));
    db.run(move |c| types::get(c, &key, scope.as_deref()))
        .await
        .map_err(ServiceError::from)
}

/// List the types a caller may see.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<TypeDetail>, ServiceError>")]
pub struct ListTypes {
    /// The caller.
    pub ctx: RequestContext,
    /// The filter; for members it is forced to public plus shared-with-them.
    pub filter: TypeFilter,
}

impl Handler<ListTypes> for ApiActor {
    type Result = UntilAsked<Result<Vec<TypeDetail>, ServiceError>>;
    fn handle(&mut self, msg: ListTypes, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        UntilAsked(Box::pin(async move {
            let mut f = msg.filter;
            if !msg.ctx.is_admin {
                f.is_public = Some(true);
            }
            f.project = Some(msg.ctx.project_id.to_string());
            Ok(db.run(move |c| types::list(c, &f)).await?)
        }))
    }
}

/// Show one type (by id).
#[derive(Debug, Message)]
#[rtype(result = "Result<TypeDetail, ServiceError>")]
pub struct GetType {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
}

impl Handler<GetType> for ApiActor {
    type Result = ResponseFuture<Result<TypeDetail, ServiceError>>;
    fn handle(&mut self, msg: GetType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move { visible_type(&db, &msg.ctx, &msg.id).await })
    }
}

/// The default type in force for the caller's project: its own, else the configured one.
#[derive(Debug, Message)]
#[rtype(result = "Result<TypeDetail, ServiceError>")]
pub struct GetDefaultType {
    /// The caller.
    pub ctx: RequestContext,
}

impl Handler<GetDefaultType> for ApiActor {
    type Result = ResponseFuture<Result<TypeDetail, ServiceError>>;
    fn handle(&mut self, msg: GetDefaultType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let configured = self.shared.settings.default_volume_type.clone();
        Box::pin(async move {
            let (project, scope) = (msg.ctx.project_id.clone(), scope_of(&msg.ctx));
            // The project's default is read as the caller may use it, like a create
            // without a type: a private default the project lost access to is not shown.
            let (wanted, found) = db
                .run(move |c| {
                    let wanted = types::project_default(c, &project)?.unwrap_or(configured);
                    let found = match types::resolve(c, &wanted, scope.as_deref())? {
                        Some(t) => Some(types::get(c, &t.row.id, scope.as_deref())?),
                        None => None,
                    };
                    Ok::<_, DbError>((wanted, found))
                })
                .await?;
            found.ok_or_else(|| unknown_type(wanted))
        })
    }
}

/// Create a type (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<TypeDetail, ServiceError>")]
pub struct CreateType {
    /// The caller.
    pub ctx: RequestContext,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Visible to every project (default true).
    pub is_public: bool,
    /// Initial extra specs.
    pub extra_specs: BTreeMap<String, String>,
}

impl Handler<CreateType> for ApiActor {
    type Result = ResponseFuture<Result<TypeDetail, ServiceError>>;
    fn handle(&mut self, msg: CreateType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let row = VolumeTypeRow {
                id: uuid::Uuid::new_v4().to_string(),
                name: msg.name.clone(),
                description: msg.description,
                is_public: msg.is_public,
                created_at: crate::db::now(),
                updated_at: None,
            };
            let name = msg.name;
            db.run(move |c| {
                types::create(c, &row, &msg.extra_specs)?;
                types::get(c, &row.id, None)
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict => {
                    ServiceError::Conflict(format!("Volume Type {name} already exists."))
                }
                other => other.into(),
            })
        })
    }
}

/// Change a type's name, description or visibility (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<TypeDetail, ServiceError>")]
pub struct UpdateType {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New visibility.
    pub is_public: Option<bool>,
}

impl Handler<UpdateType> for ApiActor {
    type Result = ResponseFuture<Result<TypeDetail, ServiceError>>;
    fn handle(&mut self, msg: UpdateType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let name = msg.name.clone().unwrap_or_default();
            db.run(move |c| {
                types::update(
                    c,
                    &msg.id,
                    msg.name.as_deref(),
                    msg.description,
                    msg.is_public,
                )?;
                types::get(c, &msg.id, None)
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict => {
                    ServiceError::Conflict(format!("Volume Type {name} already exists."))
                }
                other => other.into(),
            })
        })
    }
}

/// Delete a type (admin): refused while volumes use it or while it is a default.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteType {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
}

impl Handler<DeleteType> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let configured = self.shared.settings.default_volume_type.clone();
        Box::pin(async move {
            let key = msg.id.clone();
            let refused = db
                .run(move |c| types::delete(c, &key, &configured))
                .await
                .map_err(ServiceError::from)?;
            match refused {
                None => Ok(()),
                Some(DeleteRefusal::InUse) => Err(ServiceError::InvalidState(
                    "Target volume type is still in use.".into(),
                )),
                Some(DeleteRefusal::Default) => Err(ServiceError::InvalidState(format!(
                    "The volume type {} is a default volume type and cannot be deleted.",
                    msg.id
                ))),
            }
        })
    }
}

/// How an extra-spec write changes the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraSpecsWrite {
    /// Add or overwrite these keys.
    Set(BTreeMap<String, String>),
    /// Remove this key.
    Delete(String),
}

/// Change a type's extra specs (admin); refused while any volume uses the type, since
/// its volumes were placed by the old specs.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct WriteExtraSpecs {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
    /// What to change.
    pub write: ExtraSpecsWrite,
}

const CACHEABLE_WITH_MULTIATTACH: &str = "cacheable cannot be set with multiattach.";

impl Handler<WriteExtraSpecs> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: WriteExtraSpecs, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let max_items = self.shared.settings.max_metadata_items;
        Box::pin(async move {
            // `Err(text)`: refused, a 400 with this text.
            let outcome: Result<(), &'static str> = db
                .run(move |c| {
                    let current = types::get(c, &msg.id, None)?;
                    if types::in_use(c, &msg.id)? {
                        return Ok(Err("Volume Type is currently in use."));
                    }
                    match msg.write {
                        ExtraSpecsWrite::Set(specs) => {
                            let on = |k: &str| {
                                specs
                                    .get(k)
                                    .or(current.extra_specs.get(k))
                                    .map(String::as_str)
                                    == Some("<is> True")
                            };
                            if on("multiattach") && on("cacheable") {
                                return Ok(Err(CACHEABLE_WITH_MULTIATTACH));
                            }
                            types::set_extra_specs(c, &msg.id, &specs, max_items)?;
                        }
                        ExtraSpecsWrite::Delete(key) => types::delete_extra_spec(c, &msg.id, &key)?,
                    }
                    Ok(Ok(()))
                })
                .await
                .map_err(ServiceError::from)?;
            outcome.map_err(|m| ServiceError::Invalid(m.to_string()))
        })
    }
}

/// The projects that may use a private type (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<String>, ServiceError>")]
pub struct ListTypeAccess {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
}

impl Handler<ListTypeAccess> for ApiActor {
    type Result = ResponseFuture<Result<Vec<String>, ServiceError>>;
    fn handle(&mut self, msg: ListTypeAccess, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id.clone();
            let list = db
                .run(move |c| {
                    let t = types::get(c, &msg.id, None)?;
                    if t.row.is_public {
                        // Cinder answers a public type's access list with "not found".
                        return Ok(None);
                    }
                    types::access_list(c, &msg.id).map(Some)
                })
                .await
                .map_err(ServiceError::from)?;
            list.ok_or_else(|| {
                ServiceError::Missing(format!(
                    "Volume type access not found for {id}: the type is public."
                ))
            })
        })
    }
}

/// Give a project access to a private type, or take it away (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct ChangeTypeAccess {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub id: String,
    /// The project.
    pub project: String,
    /// Add (true) or remove (false).
    pub add: bool,
}

impl Handler<ChangeTypeAccess> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: ChangeTypeAccess, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (id, project, add) = (msg.id.clone(), msg.project.clone(), msg.add);
            let public = db
                .run(move |c| {
                    let t = types::get(c, &msg.id, None)?;
                    if t.row.is_public {
                        return Ok(true);
                    }
                    if msg.add {
                        types::add_access(c, &msg.id, &msg.project)?;
                    } else {
                        types::remove_access(c, &msg.id, &msg.project)?;
                    }
                    Ok(false)
                })
                .await
                .map_err(|e| match e {
                    DbError::Conflict => ServiceError::Conflict(format!(
                        "Volume type access for {id} / {project} combination already exists."
                    )),
                    // Cinder answers a removal from an unknown type as the access
                    // not found (the access's own miss already says so).
                    DbError::NotFound {
                        kind: Resource::VolumeType,
                        ..
                    } if !add => ServiceError::not_found(
                        Resource::TypeAccess {
                            volume_type: id.clone(),
                        },
                        &project,
                    ),
                    other => other.into(),
                })?;
            if public {
                return Err(ServiceError::Invalid(
                    "Invalid volume type: Type access modification is not applicable to public volume type.".into(),
                ));
            }
            Ok(())
        })
    }
}

/// Set a project's default type (admin, 3.62); answers with the type's id.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, ServiceError>")]
pub struct SetDefaultType {
    /// The caller.
    pub ctx: RequestContext,
    /// The project whose default changes.
    pub project: String,
    /// The type, by name or id.
    pub volume_type: String,
}

impl Handler<SetDefaultType> for ApiActor {
    type Result = ResponseFuture<Result<String, ServiceError>>;
    fn handle(&mut self, msg: SetDefaultType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let wanted = msg.volume_type.clone();
            let found = db
                .run(move |c| {
                    // Resolved as the project it becomes the default of would use it,
                    // not as the admin asking: a private type the project was not given
                    // would otherwise be the type of its every create, or 404 them all.
                    let Some(t) = types::resolve(c, &msg.volume_type, Some(&msg.project))? else {
                        return Ok(None);
                    };
                    types::set_project_default(c, &msg.project, &t.row.id)?;
                    Ok(Some(t.row.id))
                })
                .await?;
            // An unknown type is a bad request here, not a missing resource (Cinder).
            found.ok_or_else(|| {
                ServiceError::Invalid(format!(
                    "Invalid input received: {}",
                    Resource::VolumeType.not_found(&wanted)
                ))
            })
        })
    }
}

/// Read project defaults (admin, 3.62): one project's, or every one.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(String, String)>, ServiceError>")]
pub struct GetDefaultTypes {
    /// The caller.
    pub ctx: RequestContext,
    /// One project (`NotFound` when it has none), or `None` for all.
    pub project: Option<String>,
}

impl Handler<GetDefaultTypes> for ApiActor {
    type Result = ResponseFuture<Result<Vec<(String, String)>, ServiceError>>;
    fn handle(&mut self, msg: GetDefaultTypes, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let Some(project) = msg.project else {
                return Ok(db.run(types::project_defaults).await?);
            };
            let p = project.clone();
            match db.run(move |c| types::project_default(c, &p)).await? {
                Some(t) => Ok(vec![(project, t)]),
                None => Err(ServiceError::not_found(Resource::DefaultType, project)),
            }
        })
    }
}

/// Remove a project's default type (admin, 3.62).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct UnsetDefaultType {
    /// The caller.
    pub ctx: RequestContext,
    /// The project.
    pub project: String,
}

impl Handler<UnsetDefaultType> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: UnsetDefaultType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let p = msg.project.clone();
            Ok(db.run(move |c| types::unset_project_default(c, &p)).await?)
        })
    }
}
