//! Generic volume groups (Cinder's `cinder/group/api.py`): create, show, list, update,
//! delete, reset_status. The HTTP layer checks the policy.
//!
//! Cinder's create goes `creating` → scheduler → the volume manager's `create_group`,
//! whose generic path (no consistency-group driver) does no backend work and sets the
//! group `available`. Clinker's drivers have no per-group backend state either, so a
//! group is stored `available` in the transaction that validates it and counts its
//! quota: the answer (Cinder's summary view, id and name) is the same, and there is no
//! `creating` group a crash could leave behind.

use actix::prelude::*;

use super::{ApiActor, scope_of};
use crate::actors::error::ServiceError;
use crate::db::groups::{self, GroupDetail, GroupRow, Refusal};
use crate::db::{Resource, group_types, types};
use crate::model::RequestContext;

/// Cinder's `_check_default_cgsnapshot_type`: the type migrated consistency groups carry
/// is for the consistency group API only.
const CG_TYPE: &str = "default_cgsnapshot_type";

fn reserved_type() -> ServiceError {
    ServiceError::Invalid(format!(
        "Group_type {CG_TYPE} is reserved for migrating CGs to groups. Migrated group can only be operated by CG APIs."
    ))
}

/// Create a group.
#[derive(Debug, Message)]
#[rtype(result = "Result<GroupDetail, ServiceError>")]
pub struct CreateGroup {
    /// The caller, whose project owns the group.
    pub ctx: RequestContext,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The group type, by name or id.
    pub group_type: String,
    /// The volume types, by name or id (at least one).
    pub volume_types: Vec<String>,
    /// Zone; the default one when absent.
    pub availability_zone: Option<String>,
}

impl Handler<CreateGroup> for ApiActor {
    type Result = ResponseFuture<Result<GroupDetail, ServiceError>>;
    fn handle(&mut self, msg: CreateGroup, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let settings = self.shared.settings.clone();
        Box::pin(async move {
            let zone = msg
                .availability_zone
                .clone()
                .unwrap_or_else(|| settings.default_availability_zone.clone());
            if !settings.known_zones.contains(&zone) {
                return Err(ServiceError::Invalid(format!(
                    "Invalid input received: Availability zone '{zone}' is invalid."
                )));
            }
            let (admin, scope) = (msg.ctx.is_admin, scope_of(&msg.ctx));
            let wanted = msg.group_type.clone();
            let names = msg.volume_types.clone();
            let (group_type, volume_types) = db
                .run(move |c| {
                    let gt = group_types::resolve(c, &wanted, admin)?;
                    let mut vts = Vec::new();
                    for n in &names {
                        vts.push((n.clone(), types::resolve(c, n, scope.as_deref())?));
                    }
                    Ok::<_, crate::db::DbError>((gt, vts))
                })
                .await?;
            let group_type = group_type
                .ok_or_else(|| ServiceError::not_found(Resource::GroupType, &msg.group_type))?;
            if group_type.name == CG_TYPE {
                return Err(reserved_type());
            }
            let mut type_ids = Vec::new();
            for (asked, found) in volume_types {
                let t = found
                    .ok_or_else(|| ServiceError::not_found(Resource::VolumeTypeName, asked))?;
                if !type_ids.contains(&t.row.id) {
                    type_ids.push(t.row.id);
                }
            }
            let row = GroupRow {
                id: uuid::Uuid::new_v4().to_string(),
                project_id: msg.ctx.project_id.to_string(),
                user_id: msg.ctx.user_id.clone(),
                name: msg.name,
                description: msg.description,
                availability_zone: zone,
                status: "available".into(),
                group_type_id: group_type.id,
                group_snapshot_id: None,
                source_group_id: None,
                replication_status: Some("disabled".into()),
                created_at: crate::db::now(),
                updated_at: None,
            };
            let (stored, ids) = (row.clone(), type_ids.clone());
            let defaults = settings.quota_defaults.clone();
            db.write(move |c| groups::create(c, &stored, &ids, &defaults))
                .await?;
            tracing::info!(group.id = %row.id, "group created");
            Ok(GroupDetail {
                row,
                volume_types: type_ids,
            })
        })
    }
}

/// Show one group (the caller's project's unless admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<GroupDetail, ServiceError>")]
pub struct GetGroup {
    /// The caller.
    pub ctx: RequestContext,
    /// The group.
    pub id: String,
}

impl Handler<GetGroup> for ApiActor {
    type Result = ResponseFuture<Result<GroupDetail, ServiceError>>;
    fn handle(&mut self, msg: GetGroup, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope = scope_of(&msg.ctx);
            Ok(db
                .run(move |c| groups::get(c, &msg.id, scope.as_deref()))
                .await?)
        })
    }
}

/// List groups: the caller's project's, or every project's for an admin asking
/// `all_tenants`.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<GroupDetail>, ServiceError>")]
pub struct ListGroups {
    /// The caller.
    pub ctx: RequestContext,
    /// `all_tenants` (admins only; ignored otherwise).
    pub all_tenants: bool,
}

impl Handler<ListGroups> for ApiActor {
    type Result = ResponseFuture<Result<Vec<GroupDetail>, ServiceError>>;
    fn handle(&mut self, msg: ListGroups, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope =
                (!(msg.ctx.is_admin && msg.all_tenants)).then(|| msg.ctx.project_id.clone());
            Ok(db.run(move |c| groups::list(c, scope.as_deref())).await?)
        })
    }
}

/// Change a group's name or description.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct UpdateGroup {
    /// The caller.
    pub ctx: RequestContext,
    /// The group.
    pub id: String,
    /// A new name (`Some(None)`: cleared).
    pub name: Option<Option<String>>,
    /// A new description (`Some(None)`: cleared).
    pub description: Option<Option<String>>,
}

impl Handler<UpdateGroup> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: UpdateGroup, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope = scope_of(&msg.ctx);
            db.write(move |c| {
                groups::get(c, &msg.id, scope.as_deref())?;
                groups::update(c, &msg.id, msg.name, msg.description)
            })
            .await?;
            Ok(())
        })
    }
}

/// Delete a group (`POST /groups/{id}/action {"delete": ...}`).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteGroup {
    /// The caller.
    pub ctx: RequestContext,
    /// The group.
    pub id: String,
}

impl Handler<DeleteGroup> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteGroup, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope = scope_of(&msg.ctx);
            let id = msg.id.clone();
            let outcome = db
                .write(move |c| {
                    groups::get(c, &msg.id, scope.as_deref())?;
                    groups::delete(c, &msg.id, &["available", "error"])
                })
                .await?;
            match outcome {
                Ok(()) => {
                    tracing::info!(group.id = %id, "group deleted");
                    Ok(())
                }
                Err(Refusal::State(status)) => Err(ServiceError::Invalid(format!(
                    "Invalid Group: Group status must be available or error, but current status is: {status}"
                ))),
            }
        })
    }
}

/// Set a group's status (admin, 3.20).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct ResetGroupStatus {
    /// The group.
    pub id: String,
    /// One of Cinder's group statuses.
    pub status: String,
}

impl Handler<ResetGroupStatus> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: ResetGroupStatus, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            db.write(move |c| groups::reset_status(c, &msg.id, &msg.status))
                .await?;
            Ok(())
        })
    }
}
