//! `ApiActor`: validation and the API flows. It keeps no long-lived state of its own;
//! the database holds every intent before anything is cast.

use crate::actors::mailbox::UntilAsked;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use actix::prelude::*;

use super::dispatch::{Dispatcher, JournalHandle, queue};
use super::error::ServiceError;
use super::protocol::{DeleteSnapshotOnNode, DeleteVolumeOnNode, NodeWork};
use crate::db::rows::{FlowRunRow, MessageRow};
use crate::db::volumes::{ListQuery, VolumeRecord};
use crate::db::{Db, DbError, Resource, quotas};
use crate::model::{
    AttachStatus, ProjectId, RequestContext, SnapshotStatus, VolumeId, VolumeStatus,
};

pub mod actions;
pub mod attachments;
pub mod catalogue;
pub mod create;
pub mod encryption;
pub mod group_types;
pub mod groups;
pub mod hosts;
pub mod idempotency;
pub mod messages;
pub mod metadata;
pub mod qos;
pub mod quota_sets;
pub mod snapshots;
pub mod transfers;
pub mod types;

pub use create::{CreateVolume, VolumeCreateRequest};

/// Settings the API flows need.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Zone for volumes created without one.
    pub default_availability_zone: String,
    /// Zones that have at least one node.
    pub known_zones: Zones,
    /// Name of the type used when a create names none.
    pub default_volume_type: String,
    /// Name of the group type `GET /group_types/default` shows (Cinder's
    /// `default_group_type`); `None`: that call answers 404, as Cinder's does unset.
    pub default_group_type: Option<String>,
    /// Quota defaults.
    pub quota_defaults: quotas::Defaults,
    /// Seconds before an uncommitted reservation expires.
    pub reservation_expire_seconds: i64,
    /// The most metadata items (extra specs, QoS specs) a merge may leave on a resource.
    pub max_metadata_items: usize,
}

/// Shared by the flows the actor runs.
pub(crate) struct ApiShared {
    pub(crate) db: Db,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) journal: JournalHandle,
    pub(crate) settings: ApiSettings,
    /// For tests: the task of `volume_create_api` that fails after doing its work.
    #[cfg(feature = "test-hooks")]
    pub(crate) fail_at: Option<&'static str>,
    /// The scheduler, for pools and enable/disable (`None`: those calls are unavailable).
    pub(crate) scheduler_queries: Option<catalogue::SchedulerQueries>,
}

impl ApiShared {
    /// The failure a test injected in `task` with `ApiActor::failing_at`. The
    /// controller's own build has no `test-hooks`, so no failure there.
    pub(crate) fn fail_point(&self, task: &'static str) -> Result<(), ServiceError> {
        #[cfg(feature = "test-hooks")]
        if self.fail_at == Some(task) {
            return Err(ServiceError::Internal(format!(
                "failure injected in {task}"
            )));
        }
        #[cfg(not(feature = "test-hooks"))]
        let _ = (self, task);
        Ok(())
    }
}

/// Serves the API's requests.
pub struct ApiActor {
    shared: Rc<ApiShared>,
}

impl ApiActor {
    /// An API actor casting through `dispatcher`.
    pub fn new(
        db: Db,
        dispatcher: Dispatcher,
        journal: JournalHandle,
        settings: ApiSettings,
    ) -> Self {
        Self {
            shared: Rc::new(ApiShared {
                db,
                dispatcher,
                journal,
                settings,
                #[cfg(feature = "test-hooks")]
                fail_at: None,
                scheduler_queries: None,
            }),
        }
    }

    /// Lets the catalogue calls (pools, capabilities, enabling nodes) reach the scheduler.
    pub fn with_scheduler_queries(mut self, queries: catalogue::SchedulerQueries) -> Self {
        if let Some(s) = Rc::get_mut(&mut self.shared) {
            s.scheduler_queries = Some(queries);
        }
        self
    }

    /// For tests: make `task` of `volume_create_api` fail after it has done its work, so
    /// its revert and every earlier one must run.
    #[cfg(feature = "test-hooks")]
    pub fn failing_at(mut self, task: &'static str) -> Self {
        if let Some(s) = Rc::get_mut(&mut self.shared) {
            s.fail_at = Some(task);
        }
        self
    }
}

impl Actor for ApiActor {
    type Context = Context<Self>;
}

/// The project a caller is limited to: its own, unless it is an admin.
fn scope_of(ctx: &RequestContext) -> Option<ProjectId> {
    (!ctx.is_admin).then(|| ctx.project_id.clone())
}

/// Show one volume.
#[derive(Debug, Message)]
#[rtype(result = "Result<VolumeRecord, ServiceError>")]
pub struct GetVolume {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
}

impl Handler<GetVolume> for ApiActor {
    type Result = ResponseFuture<Result<VolumeRecord, ServiceError>>;
    fn handle(&mut self, msg: GetVolume, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (id, scope) = (msg.id.to_string(), scope_of(&msg.ctx));
            db.run(move |c| crate::db::volumes::get(c, &id, scope.as_ref()))
                .await
                .map_err(ServiceError::from)
        })
    }
}

/// List volumes.
#[derive(Debug, Message)]
#[rtype(result = "Result<(Vec<VolumeRecord>, Option<i64>), ServiceError>")]
pub struct ListVolumes {
    /// The caller.
    pub ctx: RequestContext,
    /// Filters and pagination; `project` is forced to the caller's unless admin.
    pub query: ListQuery,
    /// Also count every match (`with_count`).
    pub with_count: bool,
}

impl Handler<ListVolumes> for ApiActor {
    type Result = UntilAsked<Result<(Vec<VolumeRecord>, Option<i64>), ServiceError>>;
    fn handle(&mut self, msg: ListVolumes, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        UntilAsked(Box::pin(async move {
            let mut q = msg.query;
            if !msg.ctx.is_admin {
                q.project = Some(msg.ctx.project_id.clone());
            }
            db.run(move |c| {
                let items = crate::db::volumes::list(c, &q)?;
                let count = if msg.with_count {
                    Some(crate::db::volumes::count(c, &q)?)
                } else {
                    None
                };
                Ok((items, count))
            })
            .await
            .map_err(ServiceError::from)
        }))
    }
}

/// Change a volume's name, description or metadata.
#[derive(Debug, Message)]
#[rtype(result = "Result<VolumeRecord, ServiceError>")]
pub struct UpdateVolume {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
    /// New name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// New description.
    pub description: Option<Option<String>>,
    /// Replaces all user metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

impl Handler<UpdateVolume> for ApiActor {
    type Result = ResponseFuture<Result<VolumeRecord, ServiceError>>;
    fn handle(&mut self, msg: UpdateVolume, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id;
            let scope = scope_of(&msg.ctx);
            db.run(move |c| {
                let key = id.to_string();
                let v = crate::db::volumes::get(c, &key, scope.as_ref())?;
                if v.row.status == VolumeStatus::Maintenance {
                    return Err(DbError::Conflict);
                }
                crate::db::volumes::update_fields(
                    c,
                    &key,
                    msg.name,
                    msg.description,
                    msg.metadata,
                )?;
                crate::db::volumes::get(c, &key, None)
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict => ServiceError::InvalidState(
                    "Invalid volume: Volume is in maintenance and cannot be updated.".into(),
                ),
                other => other.into(),
            })
        })
    }
}

/// Delete a volume (202: the node finishes it).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteVolume {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
    /// Admin: skip the status check (attached volumes are still refused).
    pub force: bool,
    /// Delete its snapshots first (they must be `available` or `error`).
    pub cascade: bool,
}

const DELETE_REFUSED: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

impl Handler<DeleteVolume> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteVolume, _: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move { delete_volume(&shared, msg).await })
    }
}

async fn delete_volume(shared: &ApiShared, msg: DeleteVolume) -> Result<(), ServiceError> {
    let id = msg.id;
    let scope = scope_of(&msg.ctx);
    let key = id.to_string();
    let (force, cascade) = (msg.force, msg.cascade);
    // Never scheduled: nothing exists on any node, so the row and its quota go now.
    // Otherwise compare-and-set to `deleting` (with the snapshots, for cascade); the node
    // does the rest, snapshots first (its per-volume queue keeps the order).
    let nodes = shared.dispatcher.nodes.clone();
    let (project, request) = (msg.ctx.project_id.clone(), msg.ctx.request_id.clone());
    let (host, works) = shared
        .db
        .write(move |c| {
            let (attach_status, host) =
                crate::db::volumes::attach_status_and_host(c, &key, scope.as_deref())?;
            if attach_status == AttachStatus::Attached {
                return Err(DbError::Conflict);
            }
            // The snapshots are read after the volume's row is claimed (inside the
            // same transaction), so a snapshot being created concurrently is either
            // seen here or refused by the volume's new status: a volume never goes
            // `deleting` under a snapshot the check did not see.
            let refused = |snaps: &[crate::db::rows::SnapshotRow]| {
                !snaps.is_empty()
                    && (!cascade
                        || snaps.iter().any(|s| {
                            !snapshots::CASCADE_SNAPSHOT_STATES.contains(&s.status)
                        }))
            };
            match host {
                None => {
                    if refused(&crate::db::snapshots::of_volume(c, &key)?) {
                        return Err(DbError::Conflict);
                    }
                    // Only while still unplaced: if the scheduler placed it
                    // meanwhile, this is a `creating` volume and is refused.
                    if !crate::db::volumes::destroy_unplaced_and_release(c, &key)? {
                        return Err(DbError::Conflict);
                    }
                    Ok((None, Vec::new()))
                }
                Some(h) => crate::db::write_txn(c, |c| {
                    // The node reads the source while it makes a copy (Cinder holds a
                    // lock for it); refused rather than queued, and no force overrides it.
                    let current = crate::db::snapshots::of_volume(c, &key)?;
                    let snapshot_ids = current.iter().map(|s| s.id.to_string());
                    for source in std::iter::once(key.clone()).chain(snapshot_ids) {
                        if crate::db::volumes::copies_in_progress(c, &source)? > 0 {
                            return Err(DbError::Busy);
                        }
                    }
                    let from: Vec<VolumeStatus> = if force {
                        VolumeStatus::ALL
                            .iter()
                            .copied()
                            .filter(|s| *s != VolumeStatus::Deleting)
                            .collect()
                    } else {
                        VolumeStatus::DELETABLE.to_vec()
                    };
                    crate::db::volumes::transition(c, &key, &from, VolumeStatus::Deleting)?;
                    let snaps = crate::db::snapshots::of_volume(c, &key)?;
                    if refused(&snaps) {
                        return Err(DbError::Conflict);
                    }
                    for s in &snaps {
                        crate::db::snapshots::transition(
                            c,
                            &s.id,
                            &[s.status],
                            SnapshotStatus::Deleting,
                        )?;
                    }
                    // Snapshots first: the node's per-volume queue keeps this order.
                    let mut works: Vec<NodeWork> = snaps
                        .iter()
                        .map(|s| {
                            NodeWork::DeleteSnapshot(DeleteSnapshotOnNode {
                                snapshot_id: s.id,
                                volume_id: id,
                                volume_size: s.volume_size.max(0) as u64,
                                project_id: s.project_id.clone(),
                                request_id: request.clone(),
                            })
                        })
                        .collect();
                    works.push(NodeWork::Delete(DeleteVolumeOnNode {
                        volume_id: id,
                        project_id: project,
                        request_id: request,
                    }));
                    if !nodes.contains_key(h.node()) {
                        for w in &works {
                            queue(c, h.node(), w.clone())?;
                        }
                    }
                    Ok((Some(h), works))
                }),
            }
        })
        .await
        .map_err(|e| match e {
            DbError::Conflict => ServiceError::InvalidState(DELETE_REFUSED.into()),
            DbError::Busy => ServiceError::InvalidState(
                "Invalid volume: Volume (or one of its snapshots) is the source of a volume that is still being created; delete it once that volume is available or in error.".into(),
            ),
            other => other.into(),
        })?;
    let Some(host) = host else { return Ok(()) };
    // A node of another process has its rows already (queued with the status change).
    for w in works {
        shared.dispatcher.deliver(host.node(), w).await?;
    }
    Ok(())
}

/// A volume's timeline: every flow run about it, and its user messages.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Flow runs in order.
    pub runs: Vec<FlowRunRow>,
    /// User messages, newest first.
    pub messages: Vec<MessageRow>,
}

/// Read a volume's timeline (it outlives the volume).
#[derive(Debug, Message)]
#[rtype(result = "Result<Timeline, ServiceError>")]
pub struct GetTimeline {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
}

impl Handler<GetTimeline> for ApiActor {
    type Result = ResponseFuture<Result<Timeline, ServiceError>>;
    fn handle(&mut self, msg: GetTimeline, _: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move {
            // Runs wait a few milliseconds in the journal's buffer; include them.
            shared.journal.flush().await?;
            let (key, scope) = (msg.id.to_string(), scope_of(&msg.ctx));
            let t = shared
                .db
                .run(move |c| {
                    Ok(Timeline {
                        runs: crate::db::timeline::for_resource(c, &key, scope.as_deref())?,
                        messages: crate::db::messages::for_resource(c, &key, scope.as_deref())?,
                    })
                })
                .await?;
            if t.runs.is_empty() {
                return Err(ServiceError::not_found(Resource::Volume, msg.id));
            }
            Ok(t)
        })
    }
}

/// The zones volumes may be created in: those of this controller's own nodes, and of
/// every node an agent registered, as the controller's watch finds them.
#[derive(Debug, Clone, Default)]
pub struct Zones(std::sync::Arc<std::sync::RwLock<BTreeSet<String>>>);

impl Zones {
    /// These zones.
    pub fn of(zones: BTreeSet<String>) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(zones)))
    }

    /// Whether `zone` is known.
    pub fn contains(&self, zone: &str) -> bool {
        self.0.read().is_ok_and(|z| z.contains(zone))
    }

    /// Makes `zone` known.
    pub fn add(&self, zone: &str) {
        if !self.contains(zone)
            && let Ok(mut z) = self.0.write()
        {
            z.insert(zone.to_string());
        }
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
