//! Group types and their specs (Cinder's `cinder/api/v3/group_types.py`,
//! `group_specs.py`, `cinder/volume/group_types.py`). The HTTP layer checks the admin
//! policy of the writes and the specs; lists and shows have no policy in Cinder.

use std::collections::BTreeMap;

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::group_types::{self, GroupTypeChange, GroupTypeDetail, GroupTypeRow, Refusal};
use crate::model::RequestContext;

fn refused(r: Refusal, id: &str) -> ServiceError {
    match r {
        // Cinder's `GroupTypeExists` names the type by the name that was taken.
        Refusal::NameTaken(name) => {
            ServiceError::Conflict(format!("Group Type {name} already exists."))
        }
        Refusal::InUse => {
            tracing::info!(group_type.id = %id, "group type in use, not deleted");
            ServiceError::Invalid("Target group type is still in use.".into())
        }
    }
}

/// List the group types a caller sees: admins by `is_public` (`None`: all), everyone else
/// the public ones.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<GroupTypeDetail>, ServiceError>")]
pub struct ListGroupTypes {
    /// The caller.
    pub ctx: RequestContext,
    /// Admins' visibility filter.
    pub is_public: Option<bool>,
}

impl Handler<ListGroupTypes> for ApiActor {
    type Result = ResponseFuture<Result<Vec<GroupTypeDetail>, ServiceError>>;
    fn handle(&mut self, msg: ListGroupTypes, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let is_public = if msg.ctx.is_admin {
            msg.is_public
        } else {
            Some(true)
        };
        Box::pin(async move { Ok(db.run(move |c| group_types::list(c, is_public)).await?) })
    }
}

/// Show one group type by id, or the configured default for `default`.
#[derive(Debug, Message)]
#[rtype(result = "Result<GroupTypeDetail, ServiceError>")]
pub struct GetGroupType {
    /// Whether the caller is an admin (who alone sees private types).
    pub admin: bool,
    /// The id, or `default`.
    pub id: String,
}

impl Handler<GetGroupType> for ApiActor {
    type Result = ResponseFuture<Result<GroupTypeDetail, ServiceError>>;
    fn handle(&mut self, msg: GetGroupType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let configured = self.shared.settings.default_group_type.clone();
        let admin = msg.admin;
        Box::pin(async move {
            if msg.id != "default" {
                return Ok(db.run(move |c| group_types::get(c, &msg.id, admin)).await?);
            }
            // Cinder reads the configured default by name, whoever asks; unset or naming
            // no type, it answers this 404.
            let missing = || ServiceError::Missing("Default group type can not be found.".into());
            let name = configured.ok_or_else(missing)?;
            let found = db
                .run(move |c| match group_types::resolve(c, &name, true)? {
                    Some(row) => group_types::get(c, &row.id, true).map(Some),
                    None => Ok(None),
                })
                .await?;
            found.ok_or_else(missing)
        })
    }
}

/// Create a group type (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<GroupTypeDetail, ServiceError>")]
pub struct CreateGroupType {
    /// Name, trimmed and not empty.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Visibility.
    pub is_public: bool,
    /// Its specs.
    pub group_specs: BTreeMap<String, String>,
}

impl Handler<CreateGroupType> for ApiActor {
    type Result = ResponseFuture<Result<GroupTypeDetail, ServiceError>>;
    fn handle(&mut self, msg: CreateGroupType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let row = GroupTypeRow {
                id: uuid::Uuid::new_v4().to_string(),
                name: msg.name,
                description: msg.description,
                is_public: msg.is_public,
                created_at: crate::db::now(),
                updated_at: None,
            };
            let (stored, specs) = (row.clone(), msg.group_specs.clone());
            db.write(move |c| group_types::create(c, &stored, &specs))
                .await?
                .map_err(|r| refused(r, &row.id))?;
            tracing::info!(group_type.id = %row.id, "group type created");
            Ok(GroupTypeDetail {
                row,
                group_specs: msg.group_specs,
            })
        })
    }
}

/// Change a group type's name, description or visibility (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<GroupTypeDetail, ServiceError>")]
pub struct UpdateGroupType {
    /// The type.
    pub id: String,
    /// What changes.
    pub change: GroupTypeChange,
}

impl Handler<UpdateGroupType> for ApiActor {
    type Result = ResponseFuture<Result<GroupTypeDetail, ServiceError>>;
    fn handle(&mut self, msg: UpdateGroupType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id.clone();
            db.write(move |c| group_types::update(c, &msg.id, &msg.change))
                .await?
                .map_err(|r| refused(r, &id))?;
            Ok(db.run(move |c| group_types::get(c, &id, true)).await?)
        })
    }
}

/// Delete a group type no group uses (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteGroupType {
    /// The type.
    pub id: String,
}

impl Handler<DeleteGroupType> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteGroupType, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id.clone();
            db.write(move |c| group_types::delete(c, &msg.id))
                .await?
                .map_err(|r| refused(r, &id))?;
            tracing::info!(group_type.id = %id, "group type deleted");
            Ok(())
        })
    }
}

/// A change to a group type's specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSpecsWrite {
    /// Add or replace these keys.
    Set(BTreeMap<String, String>),
    /// Remove this key.
    Delete(String),
}

/// Write a group type's specs (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct WriteGroupSpecs {
    /// The type.
    pub id: String,
    /// The change.
    pub write: GroupSpecsWrite,
}

impl Handler<WriteGroupSpecs> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: WriteGroupSpecs, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let max = self.shared.settings.max_metadata_items;
        Box::pin(async move {
            let id = msg.id;
            db.write(move |c| match &msg.write {
                GroupSpecsWrite::Set(specs) => group_types::set_specs(c, &id, specs, max),
                GroupSpecsWrite::Delete(key) => {
                    // A missing type answers for the type, before the key.
                    group_types::get(c, &id, true)?;
                    group_types::delete_spec(c, &id, key)
                }
            })
            .await?;
            Ok(())
        })
    }
}
