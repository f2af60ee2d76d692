//! What a node does at start, before it takes new work, and then periodically:
//!
//! - **Start-up recovery** ([`plan`]): every volume or snapshot of the node left in a
//!   transitional state is resumed or rolled back to a stable one. Creates, deletes,
//!   extends (their target size and reservations are stored with the `extending`
//!   status), reverts and snapshot creates/deletes run again (driver verbs are
//!   idempotent); `attaching`/`detaching`/`reserved` are derived again from the
//!   volume's attachments (a legacy `os-reserve` or `os-begin_detaching` whose caller
//!   is gone is undone, a consumer's attachment is kept); `retyping` goes back to the
//!   status before it.
//! - **Comparison with the backend** ([`reconcile`]): a backing object no row names is
//!   reported (log and metric) and removed once older than the grace period (a younger
//!   one may belong to a create in flight); a volume or snapshot row in a stable state
//!   whose backing object is missing goes to `error` with a user message. At start only,
//!   exports of volumes that no attachment holds are torn down.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use tracing::{info, warn};

use super::{Ctx, Op};
use crate::actors::error::ServiceError;
use crate::actors::protocol::{
    CreateSnapshotOnNode, CreateVolumeOnNode, DeleteSnapshotOnNode, DeleteVolumeOnNode,
    ExtendVolumeOnNode, ReconcileReport, RevertVolumeOnNode,
};
use crate::actors::user_messages::{self, Action, Detail};
use crate::db::rows::{SnapshotRow, VolumeRow};
use crate::db::{DbError, attachments, snapshots, volumes};
use crate::drivers::{BackingKind, BackingObject, DriverError, VolumeRef};
use crate::model::{RequestId, SnapshotId, SnapshotStatus, VolumeId, VolumeStatus};

/// An extend's intent, stored under [`EXTEND_INTENT`] while the volume is `extending`
/// (the quota expiry reads it too, to keep the intent's reservations).
pub use crate::db::quotas::{EXTEND_INTENT, ExtendIntent};

/// Volume states in which the volume's backing object must exist.
const NEEDS_BACKING: &[VolumeStatus] = &[
    VolumeStatus::Available,
    VolumeStatus::InUse,
    VolumeStatus::Reserved,
    VolumeStatus::Attaching,
    VolumeStatus::Detaching,
];

fn parse_id(id: &str) -> Result<uuid::Uuid, ServiceError> {
    id.parse()
        .map_err(|_| ServiceError::Internal(format!("bad id {id}")))
}

/// Rolls back what cannot be resumed and returns the operations to run again, in the
/// order they should be queued. Runs before the node takes new work.
pub(super) async fn plan(c: &Ctx) -> Result<Vec<Op>, ServiceError> {
    let node = c.node.name.clone();
    let (rows, snaps) =
        c.db.run(move |db| {
            let rows = volumes::unfinished_on_node(db, &node)?;
            let ids: Vec<String> = volumes::all_on_node(db, &node)?
                .into_iter()
                .map(|r| r.id)
                .collect();
            let snaps: Vec<SnapshotRow> = snapshots::of_volumes(db, &ids)?
                .into_iter()
                .filter(|s| {
                    [
                        SnapshotStatus::Creating,
                        SnapshotStatus::Deleting,
                        SnapshotStatus::Restoring,
                    ]
                    .contains(&s.status)
                })
                .collect();
            Ok((rows, snaps))
        })
        .await?;
    // Snapshot creates first: a snapshot accepted before an extend or a revert of its
    // volume must copy the volume as it was (the queue had them in that order).
    let mut ops = Vec::new();
    let mut later = Vec::new();
    let reverting: HashSet<&str> = rows
        .iter()
        .filter(|r| r.status == VolumeStatus::Reverting)
        .map(|r| r.id.as_str())
        .collect();
    for row in &rows {
        if let Some(op) = resume_volume(c, row, &snaps).await? {
            later.push(op);
        }
    }
    for s in &snaps {
        let request_id = RequestId::internal("recovery");
        let (snapshot_id, volume_id) = (s.id, VolumeId(parse_id(&s.volume_id)?));
        let volume_size = s.volume_size.max(0) as u64;
        match s.status {
            SnapshotStatus::Creating => ops.push(Op::CreateSnapshot(CreateSnapshotOnNode {
                snapshot_id,
                volume_id,
                volume_size,
                project_id: s.project_id.clone(),
                request_id,
            })),
            SnapshotStatus::Deleting => later.push(Op::DeleteSnapshot(DeleteSnapshotOnNode {
                snapshot_id,
                volume_id,
                volume_size,
                project_id: s.project_id.clone(),
                request_id,
            })),
            // `restoring` with its volume reverting is resumed with the revert.
            _ if reverting.contains(s.volume_id.as_str()) => {}
            _ => {
                let key = s.id;
                settle(
                    c.db.run(move |db| {
                        snapshots::transition(
                            db,
                            &key,
                            &[SnapshotStatus::Restoring],
                            SnapshotStatus::Available,
                        )
                    })
                    .await,
                )?;
            }
        }
        info!(node.id = %c.node.name, snapshot.id = %s.id, status = %s.status, "recovering unfinished snapshot");
    }
    // A cascade delete queued the snapshots' deletes before the volume's; the delete of
    // the volume checks its row anyway, so the order among the rest does not matter.
    later.sort_by_key(|op| !matches!(op, Op::DeleteSnapshot(_)));
    ops.extend(later);
    Ok(ops)
}

/// A compare-and-set that lost (someone moved the row) is not an error here.
fn settle(r: Result<(), DbError>) -> Result<(), ServiceError> {
    claimed(r).map(drop)
}

/// Whether a compare-and-set won; losing it (the row moved or went) is no error.
fn claimed(r: Result<(), DbError>) -> Result<bool, ServiceError> {
    match r {
        Ok(()) => Ok(true),
        Err(DbError::Conflict | DbError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The operation that finishes `row`, or `None` once it is rolled back in the database.
async fn resume_volume(
    c: &Ctx,
    row: &VolumeRow,
    snaps: &[SnapshotRow],
) -> Result<Option<Op>, ServiceError> {
    let status = row.status;
    let volume_id = VolumeId(parse_id(&row.id)?);
    let request_id = RequestId::internal("recovery");
    let key = row.id.clone();
    // The rows come from `unfinished_on_node`, which only finds volumes placed here.
    let placed = || {
        row.host
            .clone()
            .ok_or_else(|| ServiceError::Internal(format!("volume {} has no host", row.id)))
    };
    info!(node.id = %c.node.name, volume.id = %row.id, status = %row.status, "recovering unfinished volume");
    let op = match status {
        VolumeStatus::Deleting => Op::Delete(DeleteVolumeOnNode {
            volume_id,
            project_id: row.project_id.clone(),
            request_id,
        }),
        VolumeStatus::Creating => {
            let spec = row.request_spec.clone();
            let host = placed()?;
            Op::Create(CreateVolumeOnNode {
                volume_id,
                project_id: row.project_id.clone(),
                request_id,
                host,
                spec,
                cast_seq: 0,
            })
        }
        VolumeStatus::Extending => {
            let k = key.clone();
            let intent =
                c.db.run(move |db| volumes::get(db, &k, None))
                    .await?
                    .admin_metadata
                    .get(EXTEND_INTENT)
                    .and_then(|j| serde_json::from_str::<ExtendIntent>(j).ok());
            match intent {
                Some(i) if i.new_size > row.size.max(0) as u64 => Op::Extend(ExtendVolumeOnNode {
                    volume_id,
                    project_id: row.project_id.clone(),
                    request_id,
                    host: placed()?,
                    old_size: row.size.max(0) as u64,
                    new_size: i.new_size,
                    reservations: i.reservations,
                }),
                // No usable intent: nothing says how far to grow, so the extend is undone.
                _ => {
                    settle(
                        c.db.run(move |db| {
                            volumes::restore_previous(db, &key, VolumeStatus::Extending)
                        })
                        .await,
                    )?;
                    return Ok(None);
                }
            }
        }
        VolumeStatus::Reverting => {
            match snaps
                .iter()
                .find(|s| s.volume_id == row.id && s.status == SnapshotStatus::Restoring)
            {
                Some(s) => Op::Revert(RevertVolumeOnNode {
                    volume_id,
                    snapshot_id: s.id,
                    size_gb: row.size.max(0) as u64,
                    project_id: row.project_id.clone(),
                    request_id,
                }),
                None => {
                    settle(
                        c.db.run(move |db| {
                            volumes::transition(
                                db,
                                &key,
                                &[VolumeStatus::Reverting],
                                VolumeStatus::Available,
                            )
                        })
                        .await,
                    )?;
                    return Ok(None);
                }
            }
        }
        VolumeStatus::Retyping => {
            settle(
                c.db.run(move |db| volumes::restore_previous(db, &key, VolumeStatus::Retyping))
                    .await,
            )?;
            return Ok(None);
        }
        // Attaching, detaching, reserved: what the attachments say, nothing more. The
        // caller of a legacy os-reserve / os-begin_detaching is gone with the old process.
        _ => {
            settle(
                c.db.run(move |db| attachments::derive_volume_status(db, &key))
                    .await,
            )?;
            return Ok(None);
        }
    };
    Ok(Some(op))
}

/// Lists the backend; `None` when the driver cannot.
async fn list_backing(c: &Ctx) -> Result<Option<Vec<BackingObject>>, ServiceError> {
    let driver = c.driver.clone();
    let listed = actix_web::rt::task::spawn_blocking(move || driver.list_backing())
        .await
        .map_err(|e| ServiceError::Internal(format!("driver task failed: {e}")))?;
    match listed {
        Ok(objects) => Ok(Some(objects)),
        Err(DriverError::NotSupported { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Compares the backend with the rows of this node (see the module's description).
/// `at_start`: also tear down exports no attachment holds (later, a legacy attach may
/// sit between its `os-initialize_connection` and its `os-attach`).
pub(super) async fn reconcile(c: &Ctx, at_start: bool) -> Result<ReconcileReport, ServiceError> {
    let node = c.node.name.clone();
    // Rows first, then the backend: a row seen stable before the listing had its object
    // before the listing, so a missing object is really missing (or being deleted, which
    // the compare-and-set below notices).
    let (rows, snaps, held) =
        c.db.run(move |db| {
            let rows = volumes::all_on_node(db, &node)?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let snaps = snapshots::of_volumes(db, &ids)?;
            let held: HashSet<String> = attachments::of_volumes(db, &ids)?.into_keys().collect();
            Ok((rows, snaps, held))
        })
        .await?;
    let Some(objects) = list_backing(c).await? else {
        return Ok(ReconcileReport::default());
    };
    let vols: HashMap<uuid::Uuid, &VolumeRow> = rows
        .iter()
        .filter_map(|r| Some((r.id.parse().ok()?, r)))
        .collect();
    let snap_rows: HashMap<uuid::Uuid, &SnapshotRow> = snaps.iter().map(|s| (s.id.0, s)).collect();
    let mut report = ReconcileReport::default();
    let mut present: HashSet<(BackingKind, uuid::Uuid)> = HashSet::new();
    let grace = c.node.orphan_grace;
    for o in &objects {
        if !o.temporary {
            present.insert((o.kind, o.id));
        }
        let named = match o.kind {
            BackingKind::Volume => vols.get(&o.id).is_some_and(|r| {
                !o.temporary
                    || [VolumeStatus::Creating, VolumeStatus::Reverting].contains(&r.status)
            }),
            BackingKind::Snapshot => snap_rows
                .get(&o.id)
                .is_some_and(|s| !o.temporary || s.status == SnapshotStatus::Creating),
        };
        if named {
            if at_start && o.exported && !held.contains(&o.id.to_string()) {
                remove_export(c, o.id, &mut report).await;
            }
            continue;
        }
        report.orphans_found += 1;
        let age = SystemTime::now()
            .duration_since(o.modified)
            .unwrap_or_default();
        warn!(node.id = %c.node.name, object = %o.name, age_seconds = age.as_secs(), "backing object with no row");
        if age >= grace && still_orphan(c, o).await? {
            let (d, obj) = (c.driver.clone(), o.clone());
            match super::blocking(&d, move |d| d.remove_backing(&obj)).await {
                Ok(()) => {
                    report.orphans_removed += 1;
                    info!(node.id = %c.node.name, object = %o.name, "removed a backing object with no row");
                }
                Err(e) => {
                    warn!(node.id = %c.node.name, object = %o.name, error = %e, "could not remove a backing object with no row")
                }
            }
        }
    }
    for r in &rows {
        let status = r.status;
        let Ok(id) = r.id.parse::<uuid::Uuid>() else {
            continue;
        };
        if NEEDS_BACKING.contains(&status) && !present.contains(&(BackingKind::Volume, id)) {
            mark_missing_volume(c, r, status, &mut report).await?;
        }
    }
    for s in &snaps {
        let id = s.id.0;
        if s.status == SnapshotStatus::Available && !present.contains(&(BackingKind::Snapshot, id))
        {
            mark_missing_snapshot(c, s, &mut report).await?;
        }
    }
    crate::telemetry::reconciled(
        &c.node.name,
        report.orphans_found,
        report.orphans_removed,
        report.missing,
    );
    Ok(report)
}

async fn remove_export(c: &Ctx, id: uuid::Uuid, report: &mut ReconcileReport) {
    let vref = VolumeRef {
        id: VolumeId(id),
        size_gb: 0,
    };
    match super::blocking(&c.driver, move |d| d.remove_export(&vref)).await {
        Ok(()) => {
            report.exports_removed += 1;
            info!(node.id = %c.node.name, volume.id = %id, "removed the export of a volume no attachment holds");
        }
        Err(e) => {
            warn!(node.id = %c.node.name, volume.id = %id, error = %e, "could not remove a stale export")
        }
    }
}

/// Reads the database again right before a removal: a create may have stored its row
/// since the first read.
async fn still_orphan(c: &Ctx, o: &BackingObject) -> Result<bool, ServiceError> {
    let (kind, object, temporary) = (o.kind, o.id, o.temporary);
    let id = object.to_string();
    Ok(c.db
        .run(move |db| {
            Ok(match kind {
                BackingKind::Volume => match volumes::get(db, &id, None) {
                    Ok(v) => {
                        temporary
                            && ![VolumeStatus::Creating, VolumeStatus::Reverting]
                                .contains(&v.row.status)
                    }
                    Err(DbError::NotFound { .. }) => true,
                    Err(e) => return Err(e),
                },
                BackingKind::Snapshot => match snapshots::get(db, &SnapshotId(object), None) {
                    Ok(s) => temporary && s.row.status != SnapshotStatus::Creating,
                    Err(DbError::NotFound { .. }) => true,
                    Err(e) => return Err(e),
                },
            })
        })
        .await?)
}

async fn mark_missing_volume(
    c: &Ctx,
    r: &VolumeRow,
    status: VolumeStatus,
    report: &mut ReconcileReport,
) -> Result<(), ServiceError> {
    let key = r.id.clone();
    let moved =
        c.db.run(move |db| volumes::transition(db, &key, &[status], VolumeStatus::Error))
            .await;
    if !claimed(moved)? {
        return Ok(());
    }
    report.missing += 1;
    warn!(node.id = %c.node.name, volume.id = %r.id, was = %r.status, "volume's backing storage is missing; volume set to error");
    user_messages::record_for_volume(
        &c.db,
        &r.project_id,
        &RequestId::internal("reconcile"),
        VolumeId(parse_id(&r.id)?),
        Action::CheckBacking,
        Detail::Unknown,
        format!(
            "node {} has no backing storage for the volume (it was {}); its data is lost",
            c.node.name, r.status
        ),
    )
    .await;
    Ok(())
}

async fn mark_missing_snapshot(
    c: &Ctx,
    s: &SnapshotRow,
    report: &mut ReconcileReport,
) -> Result<(), ServiceError> {
    let key = s.id;
    let moved =
        c.db.run(move |db| {
            snapshots::transition(
                db,
                &key,
                &[SnapshotStatus::Available],
                SnapshotStatus::Error,
            )
        })
        .await;
    if !claimed(moved)? {
        return Ok(());
    }
    report.missing += 1;
    warn!(node.id = %c.node.name, snapshot.id = %s.id, "snapshot's backing storage is missing; snapshot set to error");
    user_messages::record_for_snapshot(
        &c.db,
        &s.project_id,
        &RequestId::internal("reconcile"),
        s.id,
        Action::CheckBacking,
        Detail::Unknown,
        format!(
            "node {} has no backing storage for the snapshot",
            c.node.name
        ),
    )
    .await;
    Ok(())
}
