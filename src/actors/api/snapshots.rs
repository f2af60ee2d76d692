//! Snapshots (cinder-api.md §8): create on the volume's node, list, show, update, delete,
//! metadata and the admin actions.

use crate::actors::mailbox::UntilAsked;
use std::collections::BTreeMap;

use actix::prelude::*;

use super::{ApiActor, ApiShared, scope_of};
use crate::actors::dispatch::queue;
use crate::actors::error::ServiceError;
use crate::actors::protocol::{CreateSnapshotOnNode, DeleteSnapshotOnNode, NodeWork};
use crate::db::rows::SnapshotRow;
use crate::db::snapshots::{SnapshotQuery, SnapshotRecord};
use crate::db::{DbError, quotas, snapshots, volumes};
use crate::model::{RequestContext, SnapshotId, SnapshotStatus, VolumeId, VolumeStatus, quota};

/// Create a snapshot (202, `creating`).
#[derive(Debug, Message)]
#[rtype(result = "Result<SnapshotRecord, ServiceError>")]
pub struct CreateSnapshot {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub volume_id: VolumeId,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Allow an `in-use` volume (always allowed from 3.66).
    pub force: bool,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
}

/// What one snapshot call asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotOp {
    /// Show it.
    Get,
    /// Rename or describe it.
    Update {
        /// New name.
        name: Option<Option<String>>,
        /// New description.
        description: Option<Option<String>>,
    },
    /// Delete it (`force`: any status, admin).
    Delete {
        /// Skip the status check.
        force: bool,
    },
    /// Merge (`replace` false) or replace its metadata.
    WriteMetadata {
        /// The keys.
        metadata: BTreeMap<String, String>,
        /// Replace all.
        replace: bool,
    },
    /// Remove one metadata key.
    DeleteMetadataKey(String),
    /// Admin: set any status Cinder knows.
    ResetStatus(SnapshotStatus),
    /// Nova's status update: `creating` -> creating/available/error,
    /// `deleting` -> deleting/error_deleting.
    UpdateStatus {
        /// New status.
        status: String,
        /// New progress (`NN%`).
        progress: Option<String>,
    },
}

/// Act on one snapshot; answers with its state afterwards (`None` once deleted).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<SnapshotRecord>, ServiceError>")]
pub struct SnapshotCall {
    /// The caller.
    pub ctx: RequestContext,
    /// The snapshot.
    pub id: SnapshotId,
    /// What to do.
    pub op: SnapshotOp,
}

/// List snapshots.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<SnapshotRecord>, ServiceError>")]
pub struct ListSnapshots {
    /// The caller.
    pub ctx: RequestContext,
    /// Filters; `project` is forced to the caller's unless admin.
    pub query: SnapshotQuery,
}

impl Handler<CreateSnapshot> for ApiActor {
    type Result = ResponseFuture<Result<SnapshotRecord, ServiceError>>;
    fn handle(&mut self, msg: CreateSnapshot, _: &mut Self::Context) -> Self::Result {
        let s = self.shared.clone();
        Box::pin(async move { create(&s, msg).await })
    }
}

async fn create(s: &ApiShared, msg: CreateSnapshot) -> Result<SnapshotRecord, ServiceError> {
    let (key, scope) = (msg.volume_id.to_string(), scope_of(&msg.ctx));
    let v =
        s.db.run(move |c| volumes::get(c, &key, scope.as_ref()))
            .await
            .map_err(ServiceError::from)?;
    let allowed: &[VolumeStatus] = if msg.force {
        &[VolumeStatus::Available, VolumeStatus::InUse]
    } else {
        &[VolumeStatus::Available]
    };
    if !allowed.contains(&v.row.status) {
        return Err(ServiceError::InvalidState(format!(
            "Invalid volume: Volume {} status must be available, or in-use with force, to take a snapshot (it is {}).",
            v.row.id, v.row.status
        )));
    }
    let host = v.row.host.clone().ok_or_else(|| {
        ServiceError::InvalidState("Invalid volume: the volume was never placed on a node.".into())
    })?;
    let local = s.dispatcher.is_local(host.node());
    let id = SnapshotId::new();
    let row = SnapshotRow {
        id,
        volume_id: v.row.id.clone(),
        project_id: v.row.project_id.clone(),
        user_id: msg.ctx.user_id.clone(),
        status: SnapshotStatus::Creating,
        progress: "0%".into(),
        volume_size: v.row.size,
        display_name: msg.name,
        display_description: msg.description,
        volume_type_id: v.row.volume_type_id.clone(),
        provider_location: None,
        request_id: msg.ctx.request_id.0.clone(),
        created_at: crate::db::now(),
        updated_at: None,
    };
    let defaults = s.settings.quota_defaults.clone();
    let expire = s.settings.reservation_expire_seconds;
    let (mut r, m) = (row, msg.metadata.clone());
    // Reserve, insert and commit; any failure gives everything back, so a refused
    // snapshot leaves no row and no reservation.
    // The volume's status is claimed again (compare-and-set on the status read above)
    // in the same transaction, so a delete of the volume that raced this call either
    // sees the new snapshot or makes this insert fail; a snapshot never appears under a
    // volume being deleted. Its size is read after that claim: an extend that finished
    // since the first read is what the snapshot copies.
    let (vkey, seen) = (v.row.id.clone(), v.row.status);
    let (volume_id, request, to) = (msg.volume_id, msg.ctx.request_id.clone(), host.clone());
    let work = move |r: &SnapshotRow| {
        NodeWork::CreateSnapshot(CreateSnapshotOnNode {
            snapshot_id: id,
            volume_id,
            volume_size: r.volume_size.max(0) as u64,
            project_id: r.project_id.clone(),
            request_id: request.clone(),
        })
    };
    let queued = work.clone();
    let row = s
        .db
        .run(move |c| {
            crate::db::write_txn(c, |c| {
                volumes::transition(c, &vkey, &[seen], seen)?;
                r.volume_size = volumes::get(c, &vkey, None)?.row.size;
                let ids = quotas::reserve(
                    c,
                    &r.project_id,
                    &[(quota::SNAPSHOTS, 1), (quota::GIGABYTES, r.volume_size)],
                    expire,
                    &defaults,
                )?;
                snapshots::insert(c, &r, &m)?;
                quotas::commit(c, &ids)?;
                if !local {
                    queue(c, to.node(), queued(&r))?;
                }
                Ok(r)
            })
        })
        .await
        .map_err(|e| match e {
            DbError::OverQuota(q) if q.resource == quota::SNAPSHOTS => ServiceError::OverQuota(q),
            DbError::Conflict => ServiceError::InvalidState(format!(
                "Invalid volume: Volume {} changed while the snapshot was being taken; it must be available, or in-use with force.",
                msg.volume_id
            )),
            other => other.into(),
        })?;
    s.dispatcher.deliver(host.node(), work(&row)).await?;
    Ok(SnapshotRecord {
        row,
        metadata: msg.metadata,
    })
}

impl Handler<ListSnapshots> for ApiActor {
    type Result = UntilAsked<Result<Vec<SnapshotRecord>, ServiceError>>;
    fn handle(&mut self, msg: ListSnapshots, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        UntilAsked(Box::pin(async move {
            let mut q = msg.query;
            if !msg.ctx.is_admin {
                q.project = Some(msg.ctx.project_id.clone());
            }
            db.run(move |c| snapshots::list(c, &q))
                .await
                .map_err(ServiceError::from)
        }))
    }
}

impl Handler<SnapshotCall> for ApiActor {
    type Result = ResponseFuture<Result<Option<SnapshotRecord>, ServiceError>>;
    fn handle(&mut self, msg: SnapshotCall, _: &mut Self::Context) -> Self::Result {
        let s = self.shared.clone();
        Box::pin(async move { call(&s, msg).await })
    }
}

async fn call(s: &ApiShared, msg: SnapshotCall) -> Result<Option<SnapshotRecord>, ServiceError> {
    let (key, scope) = (msg.id, scope_of(&msg.ctx));
    let snap =
        s.db.run(move |c| snapshots::get(c, &key, scope.as_ref()))
            .await
            .map_err(ServiceError::from)?;
    let key = msg.id;
    let bad_state = |what: &str| ServiceError::InvalidState(format!("Invalid snapshot: {what}"));
    match msg.op {
        SnapshotOp::Get => return Ok(Some(snap)),
        SnapshotOp::Update { name, description } => {
            s.db.run(move |c| snapshots::update_fields(c, &key, name, description))
                .await?;
        }
        SnapshotOp::WriteMetadata { metadata, replace } => {
            let max_items = s.settings.max_metadata_items;
            s.db.run(move |c| snapshots::write_metadata(c, &key, &metadata, replace, max_items))
                .await?;
        }
        SnapshotOp::DeleteMetadataKey(k) => {
            s.db.run(move |c| snapshots::delete_metadata_key(c, &key, &k))
                .await?;
        }
        SnapshotOp::ResetStatus(status) => {
            s.db.run(move |c| snapshots::transition(c, &key, &[snap.row.status], status))
                .await?;
        }
        SnapshotOp::UpdateStatus { status, progress } => {
            use SnapshotStatus as S;
            let allowed: &[S] = match snap.row.status {
                S::Creating => &[S::Creating, S::Available, S::Error],
                S::Deleting => &[S::Deleting, S::ErrorDeleting],
                _ => &[],
            };
            // A status Cinder does not know is refused like a transition it forbids.
            let to = status.parse::<S>().ok().filter(|t| allowed.contains(t));
            let Some(to) = to else {
                return Err(bad_state(&format!(
                    "Snapshot status {} cannot be updated to {status}.",
                    snap.row.status
                )));
            };
            let from = snap.row.status;
            s.db.run(move |c| {
                snapshots::transition(c, &key, &[from], to)?;
                if let Some(p) = progress {
                    snapshots::set_progress(c, &key, &p)?;
                }
                Ok(())
            })
            .await?;
        }
        SnapshotOp::Delete { force } => {
            delete(s, &msg.ctx, &snap, force).await?;
            return Ok(None);
        }
    }
    let key = msg.id;
    Ok(Some(
        s.db.run(move |c| snapshots::get(c, &key, None)).await?,
    ))
}

/// Moves a snapshot to `deleting` and casts the delete to its volume's node.
pub(super) async fn delete(
    s: &ApiShared,
    ctx: &RequestContext,
    snap: &SnapshotRecord,
    force: bool,
) -> Result<(), ServiceError> {
    let key = snap.row.id;
    let vol = snap.row.volume_id.clone();
    let from: Vec<SnapshotStatus> = if force {
        vec![snap.row.status]
    } else {
        vec![SnapshotStatus::Available, SnapshotStatus::Error]
    };
    let bad_id = |_| ServiceError::Internal("bad id".into());
    let work = NodeWork::DeleteSnapshot(DeleteSnapshotOnNode {
        snapshot_id: snap.row.id,
        volume_id: snap.row.volume_id.parse().map_err(bad_id)?,
        volume_size: snap.row.volume_size.max(0) as u64,
        project_id: snap.row.project_id.clone(),
        request_id: ctx.request_id.clone(),
    });
    let nodes = s.dispatcher.nodes.clone();
    let queued = work.clone();
    let host = s
        .db
        .run(move |c| {
            let v = volumes::get(c, &vol, None)?;
            crate::db::write_txn(c, |c| {
                // A volume being made from it reads it on the node (Cinder locks it).
                if volumes::copies_in_progress(c, &key.to_string())? > 0 {
                    return Err(DbError::Busy);
                }
                snapshots::transition(c, &key, &from, SnapshotStatus::Deleting)?;
                if let Some(h) = &v.row.host
                    && !nodes.contains_key(h.node())
                {
                    queue(c, h.node(), queued.clone())?;
                }
                Ok(())
            })?;
            Ok(v.row.host)
        })
        .await
        .map_err(|e| match e {
            DbError::Conflict => ServiceError::InvalidState(
                "Invalid snapshot: Snapshot status must be available or error and must not be part of a group.".into(),
            ),
            DbError::Busy => ServiceError::InvalidState(
                "Invalid snapshot: Snapshot is the source of a volume that is still being created; delete it once that volume is available or in error.".into(),
            ),
            other => other.into(),
        })?;
    let host = host.ok_or_else(|| {
        ServiceError::Unavailable("the snapshot's volume was never placed".into())
    })?;
    s.dispatcher.deliver(host.node(), work).await
}

/// The states a volume must be in to be deleted with its snapshots (`cascade`).
pub(super) const CASCADE_SNAPSHOT_STATES: [SnapshotStatus; 2] =
    [SnapshotStatus::Available, SnapshotStatus::Error];
