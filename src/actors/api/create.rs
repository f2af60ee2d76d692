//! The flow `volume_create_api`: ExtractVolumeRequestTask, QuotaReserveTask,
//! EntryCreateTask, QuotaCommitTask, VolumeCastTask.
//!
//! Unlike Cinder, a failure in any task leaves nothing behind: the reverts give the quota
//! back and remove the row, so a refused request never needs cleaning up.

use std::collections::BTreeMap;
use std::rc::Rc;

use actix::prelude::*;

use super::{ApiActor, ApiShared};
use crate::actors::error::ServiceError;
use crate::actors::protocol::{CheckHost, ScheduleCreateVolume};
use crate::db::rows::VolumeRow;
use crate::db::volumes::{VolumeRecord, VolumeTypeRecord};
use crate::db::{Resource, quotas};
use crate::flow::{Flow, FlowScope, RevertFuture, Task, TaskFuture};
use crate::model::{
    AttachStatus, Host, RequestContext, SnapshotId, SnapshotStatus, VolumeId, VolumeStatus, quota,
};
use crate::scheduler::spec::RequestSpec;

/// What a client asked for, already checked against the schema by the HTTP layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeCreateRequest {
    /// GiB (at least 1, at most 2^31-1).
    pub size: Option<u64>,
    /// Name (trimmed, at most 255 characters).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Type name or id.
    pub volume_type: Option<String>,
    /// Zone.
    pub availability_zone: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Source snapshot.
    pub snapshot_id: Option<String>,
    /// Source volume.
    pub source_volid: Option<String>,
    /// Source image.
    pub image_ref: Option<String>,
    /// Source backup.
    pub backup_id: Option<String>,
}

/// Create a volume: runs `volume_create_api` and answers once the volume is cast to the
/// scheduler (status `creating`: accepted, not yet created).
#[derive(Debug, Message)]
#[rtype(result = "Result<VolumeRecord, ServiceError>")]
pub struct CreateVolume {
    /// The caller.
    pub ctx: RequestContext,
    /// The request.
    pub request: VolumeCreateRequest,
}

impl Handler<CreateVolume> for ApiActor {
    type Result = ResponseFuture<Result<VolumeRecord, ServiceError>>;

    fn handle(&mut self, msg: CreateVolume, _: &mut Self::Context) -> Self::Result {
        let shared = self.shared.clone();
        Box::pin(async move {
            let volume_id = VolumeId::new();
            let scope = FlowScope {
                resource_id: volume_id.to_string(),
                project_id: msg.ctx.project_id.clone(),
                request_id: msg.ctx.request_id.clone(),
            };
            let mut store = CreateStore {
                shared: shared.clone(),
                ctx: msg.ctx,
                req: msg.request,
                volume_id,
                size: 0,
                zone: String::new(),
                vtype: None,
                reservations: Vec::new(),
                committed: false,
                record: None,
                source: None,
            };
            create_api_flow()
                .run(&mut store, scope, &shared.journal)
                .await?;
            store
                .record
                .ok_or_else(|| ServiceError::Internal("create flow left no volume".into()))
        })
    }
}

fn create_api_flow() -> Flow<CreateStore> {
    Flow::new("volume_create_api")
        .with(ExtractVolumeRequestTask)
        .with(QuotaReserveTask)
        .with(EntryCreateTask)
        .with(QuotaCommitTask)
        .with(VolumeCastTask)
}

struct CreateStore {
    shared: Rc<ApiShared>,
    ctx: RequestContext,
    req: VolumeCreateRequest,
    volume_id: VolumeId,
    size: u64,
    zone: String,
    vtype: Option<VolumeTypeRecord>,
    reservations: Vec<String>,
    committed: bool,
    record: Option<VolumeRecord>,
    source: Option<CopySource>,
}

/// What a new volume copies (a snapshot, or a whole volume for a clone), and where it
/// lives: only the node holding it can make the copy.
struct CopySource {
    /// The snapshot; `None` for a clone of `volume_id`.
    snapshot_id: Option<SnapshotId>,
    /// The snapshot's volume, or the volume cloned.
    volume_id: String,
    size: u64,
    zone: String,
    type_id: String,
    host: Host,
    bootable: bool,
}

impl CopySource {
    fn node(&self) -> String {
        self.host.node().to_string()
    }

    /// What the size error calls the source.
    fn noun(&self) -> &'static str {
        match self.snapshot_id {
            Some(_) => "snapshot",
            None => "original volume",
        }
    }
}

async fn extract_snapshot(s: &CreateStore, id: &str) -> Result<CopySource, ServiceError> {
    let not_found = || ServiceError::not_found(Resource::Snapshot, id);
    // An id that is no UUID names no snapshot, as an unknown one does.
    let (key, scope) = (
        id.parse::<SnapshotId>().map_err(|_| not_found())?,
        (!s.ctx.is_admin).then(|| s.ctx.project_id.clone()),
    );
    let (snap, vol) = s
        .shared
        .db
        .run(move |c| {
            let snap = crate::db::snapshots::get(c, &key, scope.as_ref())?;
            let vol = crate::db::volumes::get(c, &snap.row.volume_id, None)?;
            Ok((snap, vol))
        })
        .await
        // The snapshot's volume missing too reads as the snapshot missing.
        .map_err(|e| match e {
            crate::db::DbError::NotFound { .. } => not_found(),
            other => other.into(),
        })?;
    if snap.row.status != SnapshotStatus::Available {
        return Err(ServiceError::Invalid(
            "Invalid input received: Originating snapshot status must be one of 'available' values"
                .into(),
        ));
    }
    let host = vol.row.host.clone().ok_or_else(not_found)?;
    Ok(CopySource {
        snapshot_id: Some(snap.row.id),
        volume_id: vol.row.id.clone(),
        size: snap.row.volume_size.max(0) as u64,
        zone: vol.row.availability_zone.clone(),
        type_id: snap.row.volume_type_id.clone(),
        host,
        bootable: vol.row.bootable,
    })
}

fn source_state_error(status: &str) -> ServiceError {
    ServiceError::InvalidState(format!(
        "Invalid volume: Originating source volume status must be one of 'available, in-use' values (it is '{status}')."
    ))
}

async fn extract_source_volume(s: &CreateStore, id: &str) -> Result<CopySource, ServiceError> {
    let (key, scope) = (
        id.to_string(),
        (!s.ctx.is_admin).then(|| s.ctx.project_id.clone()),
    );
    let vol = s
        .shared
        .db
        .run(move |c| crate::db::volumes::get(c, &key, scope.as_ref()))
        .await?;
    if !crate::db::volumes::CLONE_SOURCE_STATES.contains(&vol.row.status) {
        return Err(source_state_error(vol.row.status.as_str()));
    }
    // An `available` volume always has a host; this only guards a hand-edited row.
    let host = vol.row.host.clone().ok_or_else(|| {
        ServiceError::InvalidState("Invalid volume: The source volume is on no node.".into())
    })?;
    Ok(CopySource {
        snapshot_id: None,
        volume_id: vol.row.id.clone(),
        size: vol.row.size.max(0) as u64,
        zone: vol.row.availability_zone.clone(),
        type_id: vol.row.volume_type_id.clone(),
        host,
        bootable: vol.row.bootable,
    })
}

/// A copy is made on the source's node, so a type other than the source's must be one
/// that node can hold (Cinder refuses a type on another backend the same way).
async fn check_copy_type(
    s: &CreateStore,
    source: &CopySource,
    vtype: &VolumeTypeRecord,
) -> Result<(), ServiceError> {
    if vtype.row.id == source.type_id {
        return Ok(());
    }
    s.shared
        .dispatcher
        .host_check
        .send(CheckHost {
            host: source.host.clone(),
            extra_specs: vtype.extra_specs.clone(),
        })
        .await
        .map_err(|e| ServiceError::Unavailable(format!("scheduler: {e}")))?
        .map_err(|why| {
            ServiceError::Invalid(format!(
                "Invalid input received: Invalid volume_type provided: {} (requested type is not compatible; recommend omitting the type argument). The {}'s node {} cannot hold it: {why}.",
                vtype.row.id,
                source.noun(),
                source.node()
            ))
        })
}

/// Validates and normalises: size, sources, type, zone.
struct ExtractVolumeRequestTask;

impl Task<CreateStore> for ExtractVolumeRequestTask {
    fn name(&self) -> &'static str {
        "ExtractVolumeRequestTask"
    }

    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let sources = [
                &s.req.snapshot_id,
                &s.req.source_volid,
                &s.req.image_ref,
                &s.req.backup_id,
            ];
            if sources.iter().filter(|x| x.is_some()).count() > 1 {
                return Err(ServiceError::Invalid(
                    "Invalid input received: Cannot specify more than one of snapshot_id, imageRef, source_volid or backup_id.".into(),
                ));
            }
            if s.req.image_ref.is_some() || s.req.backup_id.is_some() {
                return Err(ServiceError::Invalid(
                    "Invalid input received: creating a volume from an image or a backup is not available in Clinker (it has no Glance or backup service).".into(),
                ));
            }
            if let Some(id) = s.req.snapshot_id.clone() {
                s.source = Some(extract_snapshot(s, &id).await?);
            }
            if let Some(id) = s.req.source_volid.clone() {
                s.source = Some(extract_source_volume(s, &id).await?);
            }
            let source_size = s.source.as_ref().map(|x| (x.size, x.noun()));
            s.size = match (s.req.size, source_size) {
                (Some(n), Some((min, noun))) if n < min => {
                    return Err(ServiceError::Invalid(format!(
                        "Invalid input received: Volume size '{n}'GB cannot be smaller than the {noun} size {min}GB. They must be >= {noun} size."
                    )));
                }
                (Some(n), _) => n,
                (None, Some((min, _))) => min,
                (None, None) => {
                    return Err(ServiceError::Invalid(
                        "Invalid input received: size is required.".into(),
                    ));
                }
            };

            let settings = &s.shared.settings;
            let zone = s
                .req
                .availability_zone
                .clone()
                .or_else(|| s.source.as_ref().map(|x| x.zone.clone()))
                .unwrap_or_else(|| settings.default_availability_zone.clone());
            if !settings.known_zones.contains(&zone) {
                return Err(ServiceError::Invalid(format!(
                    "Invalid input received: Availability zone '{zone}' is invalid."
                )));
            }
            s.zone = zone;

            // No type named: the project's own default (default-types API), else the
            // configured one.
            let asked = s.req.volume_type.clone();
            // A copy keeps its source's type unless another is asked for.
            let source_type = s.source.as_ref().map(|x| x.type_id.clone());
            let configured = settings.default_volume_type.clone();
            let project = s.ctx.project_id.clone();
            let scope = super::scope_of(&s.ctx);
            let (wanted, vtype) =
                s.shared
                    .db
                    .run(move |c| {
                        let wanted = match (asked, source_type) {
                            (Some(t), _) | (None, Some(t)) => t,
                            (None, None) => crate::db::types::project_default(c, &project)?
                                .unwrap_or(configured),
                        };
                        // A private type the project was not given does not exist for it.
                        let found = crate::db::types::resolve(c, &wanted, scope.as_deref())?;
                        Ok((wanted, found))
                    })
                    .await?;
            let vtype = vtype.ok_or_else(|| super::types::unknown_type(wanted))?;
            if let Some(source) = &s.source {
                check_copy_type(s, source, &vtype).await?;
            }
            s.vtype = Some(vtype);
            s.shared.fail_point(self.name())?;
            Ok(None)
        })
    }
}

/// Checks the per-volume limit and reserves `volumes` and `gigabytes`, overall and for
/// the volume's type.
struct QuotaReserveTask;

impl Task<CreateStore> for QuotaReserveTask {
    fn name(&self) -> &'static str {
        "QuotaReserveTask"
    }

    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let project = s.ctx.project_id.clone();
            let size = s.size as i64;
            let defaults = s.shared.settings.quota_defaults.clone();
            let expire = s.shared.settings.reservation_expire_seconds;
            let type_name = s
                .vtype
                .as_ref()
                .map(|t| t.row.name.clone())
                .ok_or_else(|| ServiceError::Internal("no volume type extracted".into()))?;
            s.reservations = s
                .shared
                .db
                .write(move |c| {
                    quotas::limit_check(c, &project, quota::PER_VOLUME_GIGABYTES, size, &defaults)?;
                    let deltas = quota::volume_deltas(&type_name, size);
                    let deltas: Vec<(&str, i64)> =
                        deltas.iter().map(|(r, d)| (r.as_str(), *d)).collect();
                    quotas::reserve(c, &project, &deltas, expire, &defaults)
                })
                .await?;
            s.shared.fail_point(self.name())?;
            Ok(None)
        })
    }

    fn revert<'a>(&'a self, s: &'a mut CreateStore) -> RevertFuture<'a> {
        Box::pin(async move {
            let ids = std::mem::take(&mut s.reservations);
            if ids.is_empty() || s.committed {
                return;
            }
            if let Err(e) = s.shared.db.write(move |c| quotas::rollback(c, &ids)).await {
                // Expiry releases them later; say so once.
                tracing::error!(error = %e, "could not roll back quota reservations");
            }
        })
    }
}

/// Inserts the row, status `creating`, with the request spec: the durable intent.
struct EntryCreateTask;

impl Task<CreateStore> for EntryCreateTask {
    fn name(&self) -> &'static str {
        "EntryCreateTask"
    }

    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let vtype = s
                .vtype
                .clone()
                .ok_or_else(|| ServiceError::Internal("no volume type extracted".into()))?;
            let spec = RequestSpec {
                size_gb: s.size,
                availability_zones: vec![s.zone.clone()],
                volume_type_id: vtype.row.id.clone(),
                extra_specs: vtype.extra_specs.clone(),
                tried_nodes: Vec::new(),
                failures: Vec::new(),
                snapshot_id: s.source.as_ref().and_then(|x| x.snapshot_id),
                copy_source: s.source.as_ref().map(|x| (x.volume_id.clone(), x.size)),
                pinned_node: s.source.as_ref().map(CopySource::node),
            };
            let now = crate::db::now();
            let row = VolumeRow {
                id: s.volume_id.to_string(),
                project_id: s.ctx.project_id.clone(),
                user_id: s.ctx.user_id.clone(),
                display_name: s.req.name.clone(),
                display_description: s.req.description.clone(),
                size: s.size as i64,
                status: VolumeStatus::Creating,
                attach_status: AttachStatus::Detached,
                availability_zone: s.zone.clone(),
                volume_type_id: vtype.row.id.clone(),
                host: None,
                bootable: s.source.as_ref().is_some_and(|x| x.bootable),
                multiattach: vtype
                    .extra_specs
                    .get("multiattach")
                    .is_some_and(|v| v.eq_ignore_ascii_case("<is> true")),
                snapshot_id: spec.snapshot_id,
                source_volid: s
                    .source
                    .as_ref()
                    .filter(|x| x.snapshot_id.is_none())
                    .map(|x| x.volume_id.clone()),
                provider_location: None,
                request_spec: spec,
                request_id: s.ctx.request_id.0.clone(),
                created_at: now,
                updated_at: None,
                scheduled_at: None,
                launched_at: None,
                previous_status: None,
            };
            let metadata = s.req.metadata.clone();
            let (r, m, ids) = (row.clone(), metadata.clone(), s.reservations.clone());
            // The row and its usage in one transaction: a crash can never leave a row
            // that quota does not count (the reservation alone may remain, and expires).
            let encrypted = s
                .shared
                .db
                .write(move |c| {
                    crate::db::write_txn(c, |c| {
                        crate::db::volumes::insert(c, &r, &m)?;
                        // Read with the insert, so the answer agrees with later reads;
                        // before the commit of the usage, whose rows every create of the
                        // project waits for until this transaction ends.
                        let encrypted = crate::db::encryption::find(c, &r.volume_type_id)?;
                        quotas::commit(c, &ids)?;
                        Ok(encrypted.is_some())
                    })
                })
                .await
                .map_err(|e| match (e, &row.request_spec.snapshot_id) {
                    // Only a copy's insert compares: its source changed state meanwhile.
                    (crate::db::DbError::Conflict, Some(_)) => ServiceError::Invalid(
                        "Invalid input received: Originating snapshot status must be one of 'available' values (it changed).".into(),
                    ),
                    (crate::db::DbError::Conflict, None) => source_state_error("changed"),
                    (other, _) => other.into(),
                })?;
            s.committed = true;
            s.record = Some(VolumeRecord {
                row,
                metadata,
                type_name: vtype.row.name.clone(),
                encrypted,
                ..VolumeRecord::default()
            });
            s.shared.fail_point(self.name())?;
            Ok(None)
        })
    }

    fn revert<'a>(&'a self, s: &'a mut CreateStore) -> RevertFuture<'a> {
        Box::pin(async move {
            if s.record.take().is_none() {
                return;
            }
            let id = s.volume_id.to_string();
            // Committed with the row: the row and its usage go together too.
            let committed = std::mem::replace(&mut s.committed, false);
            let gone = s
                .shared
                .db
                .write(move |c| {
                    if committed {
                        crate::db::volumes::destroy_and_release(c, &id).map(drop)
                    } else {
                        crate::db::volumes::delete_uncommitted(c, &id)
                    }
                })
                .await;
            if let Err(e) = gone {
                tracing::error!(volume.id = %s.volume_id, error = %e, "could not remove the row of a refused create");
            }
        })
    }
}

/// Turns the reservations into usage (EntryCreateTask already did, in the row's
/// transaction; this keeps the flow's shape and its fail point, and gives the usage back
/// on a revert).
struct QuotaCommitTask;

impl Task<CreateStore> for QuotaCommitTask {
    fn name(&self) -> &'static str {
        "QuotaCommitTask"
    }

    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            // EntryCreateTask committed the reservations with the row; committing them
            // again would be a database trip that changes nothing.
            s.shared.fail_point(self.name())?;
            Ok(None)
        })
    }

    fn revert<'a>(&'a self, s: &'a mut CreateStore) -> RevertFuture<'a> {
        Box::pin(async move {
            if !s.committed {
                return;
            }
            let project = s.ctx.project_id.clone();
            let size = s.size as i64;
            let type_name = s
                .vtype
                .as_ref()
                .map(|t| t.row.name.clone())
                .unwrap_or_default();
            let released = s
                .shared
                .db
                .write(move |c| {
                    let deltas = quota::volume_deltas(&type_name, size);
                    let deltas: Vec<(&str, i64)> =
                        deltas.iter().map(|(r, d)| (r.as_str(), *d)).collect();
                    crate::db::write_txn(c, |c| quotas::release(c, &project, &deltas))
                })
                .await;
            match released {
                Ok(()) => s.committed = false,
                Err(e) => tracing::error!(error = %e, "could not give back committed quota"),
            }
        })
    }
}

/// Hands the volume to the scheduler (a cast: the answer does not wait for placement).
struct VolumeCastTask;

impl Task<CreateStore> for VolumeCastTask {
    fn name(&self) -> &'static str {
        "VolumeCastTask"
    }

    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            s.shared.fail_point(self.name())?;
            let record = s
                .record
                .as_ref()
                .ok_or_else(|| ServiceError::Internal("no row to cast".into()))?;
            let spec = record.row.request_spec.clone();
            // `send`, not `try_send`: a full mailbox (16 queued) waits for room rather than failing.
            s.shared
                .dispatcher
                .scheduler
                .send(ScheduleCreateVolume {
                    volume_id: s.volume_id,
                    project_id: s.ctx.project_id.clone(),
                    request_id: s.ctx.request_id.clone(),
                    spec,
                })
                .await
                .map_err(|e| ServiceError::Unavailable(format!("scheduler: {e}")))?;
            Ok(None)
        })
    }
}
