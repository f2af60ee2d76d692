//! The node's create flow `volume_create_manager`: ExtractVolumeRefTask,
//! OnFailureRescheduleTask, CreateVolumeFromSpecTask, CreateVolumeOnFinishTask (the API
//! side of a create is `crate::actors::api::create`). On a driver failure the revert of
//! OnFailureRescheduleTask hands the volume back to the scheduler with this node
//! excluded; the scheduler gives up after `max_attempts`.

use tracing::{error, warn};

use super::{Ctx, blocking};
use crate::actors::error::ServiceError;
use crate::actors::protocol::{CreateVolumeOnNode, ScheduleCreateVolume};
use crate::drivers::{ModelUpdate, VolumeRef};
use crate::flow::{Flow, FlowScope, RevertFuture, Task, TaskFuture};
use crate::model::VolumeStatus;

struct CreateStore {
    c: Ctx,
    msg: CreateVolumeOnNode,
    /// False once a failure is one that another node cannot fix.
    reschedule: bool,
    /// The driver's error, carried to the reschedule.
    failure: Option<String>,
    /// The driver made the volume (so a later failure must remove it).
    created: bool,
    model_update: ModelUpdate,
}

/// Runs the flow `volume_create_manager` for one cast.
pub(super) async fn create_volume(c: Ctx, msg: CreateVolumeOnNode) {
    let scope = FlowScope {
        resource_id: msg.volume_id.to_string(),
        project_id: msg.project_id.clone(),
        request_id: msg.request_id.clone(),
    };
    let mut store = CreateStore {
        c: c.clone(),
        msg,
        reschedule: true,
        failure: None,
        created: false,
        model_update: ModelUpdate::default(),
    };
    let flow = Flow::new("volume_create_manager")
        .with(ExtractVolumeRefTask)
        .with(OnFailureRescheduleTask)
        .with(CreateVolumeFromSpecTask)
        .with(CreateVolumeOnFinishTask);
    // A failure is in the flow's run and the row; the capacity ledger was moved by
    // whatever cleared the host or removed the row.
    let _ = flow.run(&mut store, scope, &c.journal).await;
}

/// Re-reads the row: the volume must still be `creating` on this node.
struct ExtractVolumeRefTask;

impl Task<CreateStore> for ExtractVolumeRefTask {
    fn name(&self) -> &'static str {
        "ExtractVolumeRefTask"
    }
    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let id = s.msg.volume_id.to_string();
            let found =
                s.c.db
                    .run(move |c| crate::db::volumes::status_size_host(c, &id))
                    .await;
            let ok = matches!(&found, Ok((status, _, host)) if *status == VolumeStatus::Creating
                && host.as_ref() == Some(&s.msg.host));
            if !ok {
                s.reschedule = false;
                return Err(ServiceError::InvalidState(format!(
                    "volume {} is no longer waiting to be created on {}",
                    s.msg.volume_id, s.msg.host
                )));
            }
            Ok(None)
        })
    }
}

/// Does nothing on the way forward; on the way back, hands the volume to the scheduler
/// again (this node excluded) after removing any half-made volume.
struct OnFailureRescheduleTask;

impl Task<CreateStore> for OnFailureRescheduleTask {
    fn name(&self) -> &'static str {
        "OnFailureRescheduleTask"
    }
    fn execute<'a>(&'a self, _s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async { Ok(None) })
    }
    fn revert<'a>(&'a self, s: &'a mut CreateStore) -> RevertFuture<'a> {
        Box::pin(async move {
            if !s.reschedule {
                return;
            }
            let vref = VolumeRef {
                id: s.msg.volume_id,
                size_gb: s.msg.spec.size_gb,
            };
            if let Err(e) = blocking(&s.c.driver, move |d| d.delete_volume(&vref)).await {
                warn!(volume.id = %s.msg.volume_id, error = %e, "could not remove a half-made volume");
            }
            let mut spec = s.msg.spec.clone();
            spec.failures
                .push(s.failure.clone().unwrap_or_else(|| "unknown error".into()));
            let msg = ScheduleCreateVolume {
                volume_id: s.msg.volume_id,
                project_id: s.msg.project_id.clone(),
                request_id: s.msg.request_id.clone(),
                spec,
            };
            // In an agent the scheduler is another process's: the reschedule is a row
            // queued with the volume's release, so an agent that dies after the commit
            // leaves it queued, not unscheduled.
            let queued = match &s.c.scheduler.schedule {
                Some(_) => None,
                None => match serde_json::to_string(&msg) {
                    Ok(body) => Some(body),
                    Err(e) => {
                        error!(volume.id = %s.msg.volume_id, error = %e, "cannot encode a reschedule");
                        return;
                    }
                },
            };
            let (id, host) = (s.msg.volume_id.to_string(), s.msg.host.clone());
            let stored = msg.spec.clone();
            let given_back =
                s.c.db
                    .write(move |c| {
                        crate::db::volumes::unschedule(c, &id, &host)?;
                        // Keep the failure history with the intent, so recovery sees it too.
                        crate::db::volumes::set_request_spec(c, &id, &stored)?;
                        match queued {
                            Some(body) => crate::db::outbox::push(
                                c,
                                crate::db::outbox::SCHEDULER_QUEUE,
                                &id,
                                &body,
                            ),
                            None => Ok(()),
                        }
                    })
                    .await;
            if let Err(e) = given_back {
                error!(volume.id = %s.msg.volume_id, error = %e, "could not give the volume back for rescheduling");
                return;
            }
            if let Some(scheduler) = &s.c.scheduler.schedule
                && let Err(e) = scheduler.send(msg).await
            {
                error!(volume.id = %s.msg.volume_id, error = %e, "could not reach the scheduler; recovery will retry");
            }
        })
    }
}

/// What a new volume starts from.
enum Copy {
    Nothing,
    Snapshot(crate::drivers::SnapshotRef),
    /// A clone of this volume.
    Volume(VolumeRef),
}

/// Asks the driver for the volume.
struct CreateVolumeFromSpecTask;

impl Task<CreateStore> for CreateVolumeFromSpecTask {
    fn name(&self) -> &'static str {
        "CreateVolumeFromSpecTask"
    }
    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let vref = VolumeRef {
                id: s.msg.volume_id,
                size_gb: s.msg.spec.size_gb,
            };
            let volume_ref = |volume: &str, size: u64| -> Result<VolumeRef, ServiceError> {
                Ok(VolumeRef {
                    id: volume
                        .parse()
                        .map_err(|_| ServiceError::Internal(format!("bad volume id {volume}")))?,
                    size_gb: size,
                })
            };
            let spec = &s.msg.spec;
            let source = match (&spec.snapshot_id, &spec.copy_source) {
                (Some(snap), Some((volume, size))) => Copy::Snapshot(crate::drivers::SnapshotRef {
                    id: snap.0,
                    volume: volume_ref(volume, *size)?,
                }),
                (None, Some((volume, size))) => Copy::Volume(volume_ref(volume, *size)?),
                _ => Copy::Nothing,
            };
            let made = blocking(&s.c.driver, move |d| match &source {
                Copy::Snapshot(snap) => d.create_volume_from_snapshot(&vref, snap),
                Copy::Volume(src) => d.create_cloned_volume(&vref, src),
                Copy::Nothing => d.create_volume(&vref),
            })
            .await;
            match made {
                Ok(update) => {
                    s.model_update = update;
                    s.created = true;
                    Ok(None)
                }
                Err(e) => {
                    s.failure = Some(format!("{}: {e}", s.c.node.name));
                    Err(e)
                }
            }
        })
    }

    fn revert<'a>(&'a self, s: &'a mut CreateStore) -> RevertFuture<'a> {
        Box::pin(Self::remove_orphan(s))
    }
}

impl CreateVolumeFromSpecTask {
    /// Removes a volume the driver made when no reschedule will (the row is gone or
    /// moved), so nothing is left on the backend without a row.
    async fn remove_orphan(s: &mut CreateStore) {
        if !s.created || s.reschedule {
            return;
        }
        let vref = VolumeRef {
            id: s.msg.volume_id,
            size_gb: s.msg.spec.size_gb,
        };
        if let Err(e) = blocking(&s.c.driver, move |d| d.delete_volume(&vref)).await {
            warn!(volume.id = %s.msg.volume_id, error = %e, "could not remove a volume whose row is gone");
        }
        s.created = false;
    }
}

/// Marks the volume `available` with its host and location.
struct CreateVolumeOnFinishTask;

impl Task<CreateStore> for CreateVolumeOnFinishTask {
    fn name(&self) -> &'static str {
        "CreateVolumeOnFinishTask"
    }
    fn execute<'a>(&'a self, s: &'a mut CreateStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let (id, host) = (s.msg.volume_id.to_string(), s.msg.host.clone());
            let location = s.model_update.provider_location.clone();
            let done =
                s.c.db
                    .write(move |c| {
                        crate::db::volumes::mark_created(c, &id, &host, location.as_deref())
                    })
                    .await;
            if let Err(e) = done {
                // The row moved under us (deleted by an admin); another node cannot help.
                s.reschedule = false;
                return Err(e.into());
            }
            Ok(None)
        })
    }
}
