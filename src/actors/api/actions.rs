//! Volume actions (`POST /volumes/{id}/action`, cinder-api.md §6). Every status check is
//! a compare-and-set, so a wrong-state call changes nothing and answers 400.

use actix::prelude::*;

use super::{ApiActor, ApiShared, scope_of};
use crate::actors::dispatch::queue;
use crate::actors::error::ServiceError;
use crate::actors::protocol::{
    CheckHost, ExtendVolumeOnNode, InitializeConnection, NodeWork, RevertVolumeOnNode,
    TerminateConnection,
};
use crate::db::quotas::{EXTEND_INTENT, ExtendIntent};
use crate::db::rows::AttachmentRow;
use crate::db::volumes::VolumeRecord;
use crate::db::{DbError, Resource, attachments, quotas, volumes};
use crate::drivers::ConnectionInfo;
use crate::model::{
    AttachStatus, RequestContext, SnapshotId, SnapshotStatus, VolumeId, VolumeStatus, quota,
};

/// What an action asks for, already parsed and schema-checked by the HTTP layer.
#[derive(Debug, Clone, PartialEq)]
pub enum VolumeActionKind {
    /// `os-extend`; `allow_in_use` from 3.42.
    Extend {
        /// The new size in GiB.
        new_size: u64,
        /// Whether an `in-use` volume may grow.
        allow_in_use: bool,
    },
    /// `os-reset_status` (admin).
    ResetStatus {
        /// New status.
        status: Option<VolumeStatus>,
        /// New attach status (`detached` also removes every attachment).
        attach_status: Option<AttachStatus>,
    },
    /// `os-set_bootable`.
    SetBootable(bool),
    /// `os-update_readonly_flag`.
    UpdateReadonly(bool),
    /// `os-reserve`.
    Reserve,
    /// `os-unreserve`.
    Unreserve,
    /// `os-begin_detaching`.
    BeginDetaching,
    /// `os-roll_detaching`.
    RollDetaching,
    /// `os-attach` (legacy).
    Attach {
        /// The server.
        instance_uuid: Option<String>,
        /// The host.
        host_name: Option<String>,
        /// The device path.
        mountpoint: String,
        /// `rw` or `ro`.
        mode: String,
    },
    /// `os-detach` (legacy).
    Detach {
        /// Which attachment, when there are several.
        attachment_id: Option<String>,
    },
    /// `os-initialize_connection`.
    InitializeConnection {
        /// os-brick's connector.
        connector: serde_json::Value,
    },
    /// `os-terminate_connection`.
    TerminateConnection {
        /// os-brick's connector.
        connector: serde_json::Value,
    },
    /// `os-retype`.
    Retype {
        /// Name or id of the new type.
        new_type: String,
    },
    /// `revert` (3.40).
    Revert {
        /// The snapshot to go back to (the volume's latest).
        snapshot_id: String,
    },
    /// `os-extend_volume_completion` (3.71, admin): Nova's answer to a
    /// `volume-extended` event. Cinder accepts it only for a volume its volume service
    /// left `extending` until Nova confirms; Clinker finishes every extend itself (it
    /// has no Nova to wait for), so no volume ever awaits it and the call is refused as
    /// Cinder refuses it for a volume that is not waiting.
    ExtendCompletion {
        /// Whether Nova failed to extend its side.
        error: bool,
    },
}

/// What an action answers beyond success.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Nothing to show.
    Done,
    /// `os-initialize_connection`'s answer.
    Connection(ConnectionInfo),
}

/// Run one volume action.
#[derive(Debug, Message)]
#[rtype(result = "Result<ActionOutcome, ServiceError>")]
pub struct VolumeAction {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
    /// The action.
    pub action: VolumeActionKind,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::InvalidState(format!("Invalid volume: {}", msg.into()))
}

fn state_error(what: &'static str) -> impl Fn(DbError) -> ServiceError {
    move |e| match e {
        DbError::Conflict => invalid(what),
        other => other.into(),
    }
}

impl Handler<VolumeAction> for ApiActor {
    type Result = ResponseFuture<Result<ActionOutcome, ServiceError>>;

    fn handle(&mut self, msg: VolumeAction, _: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move { run(&shared, msg).await })
    }
}

async fn load(
    s: &ApiShared,
    ctx: &RequestContext,
    id: VolumeId,
) -> Result<VolumeRecord, ServiceError> {
    let (key, scope) = (id.to_string(), scope_of(ctx));
    s.db.run(move |c| volumes::get(c, &key, scope.as_ref()))
        .await
        .map_err(ServiceError::from)
}

async fn transition(
    s: &ApiShared,
    id: VolumeId,
    from: &'static [VolumeStatus],
    to: VolumeStatus,
    what: &'static str,
) -> Result<(), ServiceError> {
    let key = id.to_string();
    s.db.run(move |c| volumes::transition(c, &key, from, to))
        .await
        .map_err(state_error(what))
}

async fn run(s: &ApiShared, msg: VolumeAction) -> Result<ActionOutcome, ServiceError> {
    let id = msg.id;
    let v = load(s, &msg.ctx, id).await?;
    let key = id.to_string();
    use VolumeActionKind as K;
    match msg.action {
        K::Extend {
            new_size,
            allow_in_use,
        } => extend(s, &msg.ctx, &v, new_size, allow_in_use).await?,
        K::ResetStatus {
            status,
            attach_status,
        } => {
            s.db.run(move |c| {
                if attach_status == Some(AttachStatus::Detached) {
                    attachments::delete_all_of(c, &key)?;
                }
                volumes::reset_status(c, &key, status, attach_status)
            })
            .await?;
        }
        K::SetBootable(b) => {
            if v.row.status == VolumeStatus::Maintenance {
                return Err(invalid("Volume is in maintenance."));
            }
            s.db.run(move |c| volumes::set_bootable(c, &key, b)).await?;
        }
        K::UpdateReadonly(ro) => {
            if v.row.status != VolumeStatus::Available {
                return Err(invalid(
                    "Volume status must be available to update readonly flag.",
                ));
            }
            let value = if ro { "True" } else { "False" };
            s.db.run(move |c| attachments::set_admin_metadata(c, &key, "readonly", value))
                .await?;
        }
        K::Reserve => {
            let from: &'static [VolumeStatus] = if v.row.multiattach {
                &[VolumeStatus::Available, VolumeStatus::InUse]
            } else {
                &[VolumeStatus::Available]
            };
            transition(
                s,
                id,
                from,
                VolumeStatus::Attaching,
                "Volume status must be available to reserve.",
            )
            .await?;
        }
        K::Unreserve => {
            if v.row.status == VolumeStatus::Attaching {
                s.db.run(move |c| attachments::derive_volume_status(c, &key))
                    .await?;
            }
        }
        K::BeginDetaching => {
            if v.row.attach_status != AttachStatus::Attached {
                return Err(invalid(
                    "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.",
                ));
            }
            transition(s, id, &[VolumeStatus::InUse], VolumeStatus::Detaching, "Unable to detach volume. Volume status must be 'in-use' and attach_status must be 'attached' to detach.").await?;
        }
        K::RollDetaching => {
            if v.row.status == VolumeStatus::Detaching {
                transition(
                    s,
                    id,
                    &[VolumeStatus::Detaching],
                    VolumeStatus::InUse,
                    "Volume is not detaching.",
                )
                .await?;
            }
        }
        K::Attach {
            instance_uuid,
            host_name,
            mountpoint,
            mode,
        } => attach(s, &v, instance_uuid, host_name, mountpoint, mode).await?,
        K::Detach { attachment_id } => detach(s, &v, attachment_id).await?,
        K::InitializeConnection { connector } => {
            if v.row.status == VolumeStatus::Maintenance {
                return Err(invalid("Volume is in maintenance."));
            }
            let mut info = connect(s, &v, connector.clone()).await?;
            let readonly = v
                .admin_metadata
                .get("readonly")
                .is_some_and(|r| r == "True");
            let mode = v
                .admin_metadata
                .get("attached_mode")
                .cloned()
                .unwrap_or_else(|| if readonly { "ro".into() } else { "rw".into() });
            info.data
                .insert("access_mode".into(), serde_json::json!(mode));
            info.data
                .insert("encrypted".into(), serde_json::json!(false));
            info.data
                .insert("qos_specs".into(), serde_json::Value::Null);
            info.data
                .insert("cacheable".into(), serde_json::json!(false));
            return Ok(ActionOutcome::Connection(info));
        }
        K::TerminateConnection { connector } => {
            disconnect(s, &v, connector).await?;
            if v.row.status == VolumeStatus::Attaching {
                s.db.run(move |c| attachments::derive_volume_status(c, &key))
                    .await?;
            }
        }
        K::Retype { new_type } => retype(s, &msg.ctx, &v, new_type).await?,
        K::Revert { snapshot_id } => revert(s, &msg.ctx, &v, snapshot_id).await?,
        K::ExtendCompletion { error: _ } => {
            return Err(invalid(if v.row.status == VolumeStatus::Extending {
                "Volume is not waiting for an extend completion: Clinker finishes extends on its node without waiting for Nova."
            } else {
                "Volume is not being extended."
            }));
        }
    }
    Ok(ActionOutcome::Done)
}

fn never_placed() -> ServiceError {
    invalid("Volume has no host: it was never placed on a node.")
}

async fn connect(
    s: &ApiShared,
    v: &VolumeRecord,
    connector: serde_json::Value,
) -> Result<ConnectionInfo, ServiceError> {
    let host = v.row.host.as_ref().ok_or_else(never_placed)?;
    let msg = InitializeConnection {
        volume_id: v
            .row
            .id
            .parse()
            .map_err(|_| ServiceError::Internal("bad id".into()))?,
        size_gb: v.row.size.max(0) as u64,
        connector,
    };
    s.dispatcher.initialize(host, msg).await
}

async fn disconnect(
    s: &ApiShared,
    v: &VolumeRecord,
    connector: serde_json::Value,
) -> Result<(), ServiceError> {
    let host = v.row.host.as_ref().ok_or_else(never_placed)?;
    let msg = TerminateConnection {
        volume_id: v
            .row
            .id
            .parse()
            .map_err(|_| ServiceError::Internal("bad id".into()))?,
        size_gb: v.row.size.max(0) as u64,
        connector,
    };
    s.dispatcher.terminate(host, msg).await
}

async fn extend(
    s: &ApiShared,
    ctx: &RequestContext,
    v: &VolumeRecord,
    new_size: u64,
    allow_in_use: bool,
) -> Result<(), ServiceError> {
    let old = v.row.size.max(0) as u64;
    if new_size <= old {
        return Err(ServiceError::Invalid(format!(
            "Invalid input received: New size for extend must be greater than current size. (current: {old}, extended: {new_size})."
        )));
    }
    let from: &'static [VolumeStatus] = if allow_in_use {
        &[VolumeStatus::Available, VolumeStatus::InUse]
    } else {
        &[VolumeStatus::Available]
    };
    let host = v.row.host.clone().ok_or_else(never_placed)?;
    let local = s.dispatcher.is_local(host.node());
    let volume_id: VolumeId = v
        .row
        .id
        .parse()
        .map_err(|_| ServiceError::Internal("bad id".into()))?;
    let (request, to) = (ctx.request_id.clone(), host.clone());
    let (project, key) = (v.row.project_id.clone(), v.row.id.clone());
    // Like a create, the growth counts against `gigabytes` and the type's own key, which
    // the delete gives back in full.
    let per_type = format!("{}{}", quota::GIGABYTES_PREFIX, v.type_name);
    let defaults = s.settings.quota_defaults.clone();
    let expire = s.settings.reservation_expire_seconds;
    // The size the volume has once it is ours (`extending`); the one read above may be
    // stale if another extend finished meanwhile, and the growth must count from this.
    let current = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(old));
    let seen = current.clone();
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let snapshot_busy = busy.clone();
    // The status, the reservation and the intent (target size, reservation ids) are
    // stored together, so a node that restarts mid-extend can finish it exactly.
    let work =
        s.db.run(move |c| {
            quotas::limit_check(
                c,
                &project,
                quota::PER_VOLUME_GIGABYTES,
                new_size as i64,
                &defaults,
            )?;
            crate::db::write_txn(c, |c| {
                // Claim the row first (it is locked from here on), then read its size.
                volumes::begin_transient(c, &key, from, VolumeStatus::Extending)?;
                let size = volumes::get(c, &key, None)?.row.size.max(0) as u64;
                seen.store(size, std::sync::atomic::Ordering::Relaxed);
                if new_size <= size {
                    // Rolls the claim back; answered below as a bad size.
                    return Err(DbError::Conflict);
                }
                // A snapshot being taken copies the volume at the size it recorded; the
                // extend waits until it is done (read after the claim, so a snapshot
                // accepted concurrently is either seen here or refused by `extending`).
                let taking = crate::db::snapshots::of_volume(c, &key)?
                    .iter()
                    .any(|s| s.status == SnapshotStatus::Creating);
                if taking {
                    snapshot_busy.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(DbError::Conflict);
                }
                let delta = (new_size - size) as i64;
                let deltas = [(quota::GIGABYTES, delta), (per_type.as_str(), delta)];
                let ids = quotas::reserve(c, &project, &deltas, expire, &defaults)?;
                let intent = ExtendIntent {
                    new_size,
                    reservations: ids.clone(),
                };
                let json = serde_json::to_string(&intent)
                    .map_err(|e| DbError::Config(format!("extend intent: {e}")))?;
                attachments::set_admin_metadata(c, &key, EXTEND_INTENT, &json)?;
                let work = NodeWork::Extend(ExtendVolumeOnNode {
                    volume_id,
                    project_id: project.clone(),
                    request_id: request.clone(),
                    host: to.clone(),
                    old_size: size,
                    new_size,
                    reservations: ids,
                });
                if !local {
                    queue(c, to.node(), work.clone())?;
                }
                Ok(work)
            })
        })
        .await;
    let old = current.load(std::sync::atomic::Ordering::Relaxed);
    let busy = busy.load(std::sync::atomic::Ordering::Relaxed);
    let work = work.map_err(|e| match e {
        DbError::Conflict if busy => {
            invalid("A snapshot of the volume is being created; extend it once that is done.")
        }
        DbError::Conflict if new_size <= old => ServiceError::Invalid(format!(
            "Invalid input received: New size for extend must be greater than current size. (current: {old}, extended: {new_size})."
        )),
        DbError::Conflict => invalid("Volume status must be 'available' to extend."),
        other => other.into(),
    })?;
    s.dispatcher.deliver(host.node(), work).await
}

async fn attach(
    s: &ApiShared,
    v: &VolumeRecord,
    instance_uuid: Option<String>,
    host_name: Option<String>,
    mountpoint: String,
    mode: String,
) -> Result<(), ServiceError> {
    if v.row.status == VolumeStatus::Maintenance {
        return Err(invalid("Volume is in maintenance."));
    }
    let attached = v
        .attachments
        .iter()
        .any(|a| a.attach_status == AttachStatus::Attached);
    if attached && !v.row.multiattach {
        return Err(invalid(
            "Volume is already attached and is not multiattach.",
        ));
    }
    let readonly = v
        .admin_metadata
        .get("readonly")
        .is_some_and(|r| r == "True");
    if readonly && mode != "ro" {
        return Err(invalid("Volume is read-only: attach it with mode 'ro'."));
    }
    let now = crate::db::now();
    let row = AttachmentRow {
        id: uuid::Uuid::new_v4().to_string(),
        volume_id: v.row.id.clone(),
        project_id: v.row.project_id.clone(),
        instance_uuid,
        attached_host: host_name,
        mountpoint: Some(mountpoint),
        attach_status: AttachStatus::Attached,
        attach_mode: Some(mode.clone()),
        connection_info: None,
        connector: None,
        attach_time: Some(now),
        detach_time: None,
        created_at: now,
        updated_at: None,
    };
    let key = v.row.id.clone();
    s.db.run(move |c| {
        crate::db::write_txn(c, |c| {
            attachments::insert(c, &row)?;
            attachments::set_admin_metadata(c, &key, "attached_mode", &mode)?;
            Ok(())
        })?;
        attachments::derive_volume_status(c, &key)
    })
    .await?;
    Ok(())
}

async fn detach(
    s: &ApiShared,
    v: &VolumeRecord,
    attachment_id: Option<String>,
) -> Result<(), ServiceError> {
    if v.row.status == VolumeStatus::Maintenance {
        return Err(invalid("Volume is in maintenance."));
    }
    let target = match attachment_id {
        Some(a) => v
            .attachments
            .iter()
            .find(|x| x.id == a)
            .ok_or_else(|| ServiceError::not_found(Resource::VolumeAttachment, a))?,
        None if v.attachments.len() == 1 => &v.attachments[0],
        None if v.attachments.is_empty() => return Err(invalid("Volume is not attached.")),
        None => {
            return Err(invalid(
                "Volume has more than one attachment: name the attachment_id to detach.",
            ));
        }
    };
    if let Some(connector) = target
        .connector
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
    {
        disconnect(s, v, connector).await?;
    }
    let (att, key) = (target.id.clone(), v.row.id.clone());
    s.db.run(move |c| {
        attachments::delete(c, &att)?;
        attachments::derive_volume_status(c, &key)
    })
    .await?;
    Ok(())
}

async fn retype(
    s: &ApiShared,
    ctx: &RequestContext,
    v: &VolumeRecord,
    new_type: String,
) -> Result<(), ServiceError> {
    let t = super::types::resolve_type(&s.db, ctx, &new_type).await?;
    if t.row.id == v.row.volume_type_id {
        return Err(ServiceError::Invalid(
            "Invalid input received: New volume type must be different from the current one."
                .into(),
        ));
    }
    if ![VolumeStatus::Available, VolumeStatus::InUse].contains(&v.row.status) {
        return Err(invalid(
            "Volume status must be available or in-use to retype.",
        ));
    }
    if let Some(host) = &v.row.host {
        s.dispatcher
            .host_check
            .send(CheckHost {
                host: host.clone(),
                extra_specs: t.extra_specs.clone(),
            })
            .await?
            .map_err(|why| {
                // The filter's reason names the pool and the type's extra specs, which
                // only admins may read (cinder-api.md §10): members get the verdict.
                let why = if ctx.is_admin {
                    format!(": {why}")
                } else {
                    tracing::info!(volume = %v.row.id, reason = %why, "retype refused by the node's filters");
                    String::new()
                };
                invalid(format!(
                    "The volume's node cannot hold type {}{why}. Clinker does not migrate volumes between nodes.",
                    t.row.name
                ))
            })?;
    }
    let (key, type_id, from) = (v.row.id.clone(), t.row.id.clone(), v.row.status);
    // The per-type usage moves with the volume, in the type change's own transaction:
    // the new type's `volumes_<type>`/`gigabytes_<type>` are reserved against their
    // limits (413 if over) and committed, the old type's given back.
    let project = v.row.project_id.clone();
    let size = v.row.size;
    let (old_name, new_name) = (v.type_name.clone(), t.row.name.clone());
    let defaults = s.settings.quota_defaults.clone();
    let expire = s.settings.reservation_expire_seconds;
    s.db.write(move |c| {
        crate::db::write_txn(c, |c| {
            volumes::set_type(c, &key, from, &type_id)?;
            let per_type = |name: &str| {
                vec![
                    (format!("{}{name}", crate::model::quota::VOLUMES_PREFIX), 1),
                    (
                        format!("{}{name}", crate::model::quota::GIGABYTES_PREFIX),
                        size,
                    ),
                ]
            };
            let gained = per_type(&new_name);
            let gained: Vec<(&str, i64)> = gained.iter().map(|(r, d)| (r.as_str(), *d)).collect();
            let ids = crate::db::quotas::reserve(c, &project, &gained, expire, &defaults)?;
            crate::db::quotas::commit(c, &ids)?;
            let lost = per_type(&old_name);
            let lost: Vec<(&str, i64)> = lost.iter().map(|(r, d)| (r.as_str(), *d)).collect();
            crate::db::quotas::release(c, &project, &lost)
        })
    })
    .await
    .map_err(|e| match e {
        DbError::Conflict => invalid("Volume changed during the retype."),
        other => other.into(),
    })
}

async fn revert(
    s: &ApiShared,
    ctx: &RequestContext,
    v: &VolumeRecord,
    snapshot_id: String,
) -> Result<(), ServiceError> {
    let key = v.row.id.clone();
    let snaps =
        s.db.run(move |c| crate::db::snapshots::of_volume(c, &key))
            .await?;
    // The body's id is parsed here, after the volume was found, so a missing volume is
    // still what a bad request on it is told first; text that is no UUID names none.
    let wanted: Option<SnapshotId> = snapshot_id.parse().ok();
    let snap = snaps
        .iter()
        .find(|x| Some(x.id) == wanted)
        .ok_or_else(|| ServiceError::not_found(Resource::Snapshot, &snapshot_id))?;
    if snaps.first().map(|x| x.id) != Some(snap.id) {
        return Err(ServiceError::Invalid(
            "Invalid input received: Cannot revert volume to a snapshot that is not the latest one.".into(),
        ));
    }
    if snap.volume_size != v.row.size {
        return Err(ServiceError::Invalid(
            "Invalid input received: Cannot revert volume whose size differs from the snapshot's."
                .into(),
        ));
    }
    let host = v.row.host.clone().ok_or_else(never_placed)?;
    let local = s.dispatcher.is_local(host.node());
    let bad_id = |_| ServiceError::Internal("bad id".into());
    let work = NodeWork::Revert(RevertVolumeOnNode {
        volume_id: v.row.id.parse().map_err(bad_id)?,
        snapshot_id: snap.id,
        size_gb: v.row.size.max(0) as u64,
        project_id: ctx.project_id.clone(),
        request_id: ctx.request_id.clone(),
    });
    let (key, sid, to, queued) = (v.row.id.clone(), snap.id, host.clone(), work.clone());
    s.db.run(move |c| {
        crate::db::write_txn(c, |c| {
            volumes::transition(c, &key, &[VolumeStatus::Available], VolumeStatus::Reverting)?;
            crate::db::snapshots::transition(
                c,
                &sid,
                &[SnapshotStatus::Available],
                SnapshotStatus::Restoring,
            )?;
            if !local {
                queue(c, to.node(), queued.clone())?;
            }
            Ok(())
        })
    })
    .await
    .map_err(|e| match e {
        DbError::Conflict => ServiceError::Conflict(
            "Volume must be available and the snapshot available to revert.".into(),
        ),
        other => other.into(),
    })?;
    s.dispatcher.deliver(host.node(), work).await
}
