//! The node's operations besides create and delete: extend, snapshots, revert, and the
//! connection calls. Each cast runs through the per-volume queue of [`super::VolumeActor`].

use tracing::{error, warn};

use super::recovery::EXTEND_INTENT;
use super::{Ctx, blocking};
use crate::actors::error::ServiceError;
use crate::actors::protocol::{
    CreateSnapshotOnNode, DeleteSnapshotOnNode, ExtendVolumeOnNode, InitializeConnection,
    RevertVolumeOnNode, TerminateConnection,
};
use crate::actors::user_messages::{self, Action, Detail};
use crate::db::DbError;
use crate::drivers::{ConnectionInfo, SnapshotRef, VolumeRef};
use crate::model::{SnapshotId, SnapshotStatus, VolumeId, VolumeStatus};

pub(super) async fn initialize_connection(
    c: Ctx,
    m: InitializeConnection,
) -> Result<ConnectionInfo, ServiceError> {
    let vref = VolumeRef {
        id: m.volume_id,
        size_gb: m.size_gb,
    };
    blocking(&c.driver, move |d| d.initialize_connection(&vref, &m.connector))
        .await
        .map_err(|e| {
            error!(volume.id = %m.volume_id, node.id = %c.node.name, error = %e, "initialize_connection failed");
            ServiceError::Internal("Unable to fetch connection information from backend.".into())
        })
}

pub(super) async fn terminate_connection(
    c: Ctx,
    m: TerminateConnection,
) -> Result<(), ServiceError> {
    let vref = VolumeRef {
        id: m.volume_id,
        size_gb: m.size_gb,
    };
    blocking(&c.driver, move |d| d.terminate_connection(&vref, &m.connector))
        .await
        .map_err(|e| {
            error!(volume.id = %m.volume_id, node.id = %c.node.name, error = %e, "terminate_connection failed");
            ServiceError::Internal("Unable to terminate volume connection from backend.".into())
        })
}

pub(super) async fn extend_volume(c: Ctx, m: ExtendVolumeOnNode) {
    let vref = VolumeRef {
        id: m.volume_id,
        size_gb: m.old_size,
    };
    let new_size = m.new_size;
    let grown = blocking(&c.driver, move |d| d.extend_volume(&vref, new_size)).await;
    let (id, reservations) = (m.volume_id.to_string(), m.reservations.clone());
    match grown {
        Ok(()) => {
            let size = m.new_size as i64;
            let done =
                c.db.run(move |db| {
                    crate::db::write_txn(db, |db| {
                        crate::db::quotas::commit(db, &reservations)?;
                        crate::db::attachments::delete_admin_metadata(db, &id, EXTEND_INTENT)?;
                        crate::db::volumes::finish_extend(db, &id, size)
                    })
                })
                .await;
            if let Err(e) = done {
                error!(volume.id = %m.volume_id, error = %e, "volume grown but not recorded")
            }
        }
        Err(e) => {
            warn!(volume.id = %m.volume_id, error = %e, "driver failed to extend volume");
            let marked =
                c.db.run(move |db| {
                    crate::db::quotas::rollback(db, &reservations)?;
                    crate::db::attachments::delete_admin_metadata(db, &id, EXTEND_INTENT)?;
                    crate::db::volumes::transition(
                        db,
                        &id,
                        &[VolumeStatus::Extending],
                        VolumeStatus::ErrorExtending,
                    )
                })
                .await;
            if marked.is_ok() {
                user_messages::record_for_volume(
                    &c.db,
                    &m.project_id,
                    &m.request_id,
                    m.volume_id,
                    Action::ExtendVolume,
                    Detail::DriverExtendFailed,
                    format!("node {} could not extend the volume: {e}", c.node.name),
                )
                .await;
            }
        }
    }
}

fn snapshot_ref(id: SnapshotId, volume_id: VolumeId, size: u64) -> SnapshotRef {
    SnapshotRef {
        id: id.0,
        volume: VolumeRef {
            id: volume_id,
            size_gb: size,
        },
    }
}

pub(super) async fn create_snapshot(c: Ctx, m: CreateSnapshotOnNode) {
    let sref = snapshot_ref(m.snapshot_id, m.volume_id, m.volume_size);
    let made = blocking(&c.driver, move |d| d.create_snapshot(&sref)).await;
    let id = m.snapshot_id;
    match made {
        Ok(update) => {
            let loc = update.provider_location;
            let marked =
                c.db.run(move |db| crate::db::snapshots::mark_created(db, &id, loc.as_deref()))
                    .await;
            if let Err(e) = marked {
                // Deleted meanwhile: do not leave the copy behind.
                warn!(snapshot.id = %m.snapshot_id, error = %e, "snapshot made but its row moved; removing it");
                let sref = snapshot_ref(m.snapshot_id, m.volume_id, m.volume_size);
                let _ = blocking(&c.driver, move |d| d.delete_snapshot(&sref)).await;
            }
        }
        Err(e) => {
            warn!(snapshot.id = %m.snapshot_id, error = %e, "driver failed to create snapshot");
            let marked =
                c.db.run(move |db| {
                    crate::db::snapshots::transition(
                        db,
                        &id,
                        &[SnapshotStatus::Creating],
                        SnapshotStatus::Error,
                    )
                })
                .await;
            if marked.is_ok() {
                user_messages::record_for_snapshot(
                    &c.db,
                    &m.project_id,
                    &m.request_id,
                    m.snapshot_id,
                    Action::CreateSnapshot,
                    Detail::SnapshotCreateFailed,
                    format!("node {} could not create the snapshot: {e}", c.node.name),
                )
                .await;
            }
        }
    }
}

pub(super) async fn delete_snapshot(c: Ctx, m: DeleteSnapshotOnNode) {
    let sref = snapshot_ref(m.snapshot_id, m.volume_id, m.volume_size);
    let removed = blocking(&c.driver, move |d| d.delete_snapshot(&sref)).await;
    let id = m.snapshot_id;
    match removed {
        Ok(()) => {
            if let Err(e) =
                c.db.run(move |db| crate::db::snapshots::destroy_and_release(db, &id))
                    .await
            {
                error!(snapshot.id = %m.snapshot_id, error = %e, "snapshot removed but its row remains; recovery will finish");
            }
        }
        Err(e) => {
            warn!(snapshot.id = %m.snapshot_id, error = %e, "driver failed to delete snapshot");
            let marked =
                c.db.run(move |db| {
                    crate::db::snapshots::transition(
                        db,
                        &id,
                        &[SnapshotStatus::Deleting],
                        SnapshotStatus::ErrorDeleting,
                    )
                })
                .await;
            if marked.is_ok() {
                user_messages::record_for_snapshot(
                    &c.db,
                    &m.project_id,
                    &m.request_id,
                    m.snapshot_id,
                    Action::DeleteSnapshot,
                    Detail::SnapshotDeleteFailed,
                    format!("node {} could not delete the snapshot: {e}", c.node.name),
                )
                .await;
            }
        }
    }
}

pub(super) async fn revert_volume(c: Ctx, m: RevertVolumeOnNode) {
    let vref = VolumeRef {
        id: m.volume_id,
        size_gb: m.size_gb,
    };
    let sref = snapshot_ref(m.snapshot_id, m.volume_id, m.size_gb);
    let reverted = blocking(&c.driver, move |d| d.revert_to_snapshot(&vref, &sref)).await;
    let (vid, sid) = (m.volume_id.to_string(), m.snapshot_id);
    let ok = reverted.is_ok();
    if let Err(e) = &reverted {
        warn!(volume.id = %m.volume_id, error = %e, "driver failed to revert volume");
    }
    let done =
        c.db.run(move |db| {
            let to = if ok {
                VolumeStatus::Available
            } else {
                VolumeStatus::Error
            };
            crate::db::volumes::transition(db, &vid, &[VolumeStatus::Reverting], to)?;
            crate::db::snapshots::transition(
                db,
                &sid,
                &[SnapshotStatus::Restoring],
                SnapshotStatus::Available,
            )
        })
        .await;
    match done {
        Ok(()) => {
            if let Err(e) = reverted {
                user_messages::record_for_volume(
                    &c.db,
                    &m.project_id,
                    &m.request_id,
                    m.volume_id,
                    Action::RevertVolume,
                    Detail::Unknown,
                    format!(
                        "node {} could not revert the volume to snapshot {}: {e}",
                        c.node.name, m.snapshot_id
                    ),
                )
                .await;
            }
        }
        Err(DbError::Conflict) => {}
        Err(e) => error!(volume.id = %m.volume_id, error = %e, "could not record the revert"),
    }
}
