//! `VolumeActor`: one per storage node; owns the node's driver.
//!
//! Driver calls run on the blocking pool. One operation at a time per volume (later
//! messages for a busy volume wait in a per-volume queue), many volumes at once. The
//! create runs the flow `volume_create_manager` (`create`); deletes, extends,
//! snapshots and connections are in this file and `ops`; start-up recovery in
//! `recovery`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tracing::{error, info, warn};

use super::dispatch::{JournalHandle, SchedulerLink};
use super::error::ServiceError;
use super::protocol::{
    CreateSnapshotOnNode, CreateVolumeOnNode, DeleteSnapshotOnNode, DeleteVolumeOnNode,
    ExtendVolumeOnNode, InitializeConnection, NodeStatsReport, PublishStats, ReconcileNode,
    ReconcileReport, RecoverNode, RevertVolumeOnNode, TerminateConnection,
};
use super::user_messages::{self, Action, Detail};
use crate::db::{Db, DbError};
use crate::drivers::{DriverError, VolumeDriver, VolumeRef};
use crate::model::{Host, VolumeId, VolumeStatus};

/// Who the node is.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    /// The node's name.
    pub name: String,
    /// Its zone.
    pub availability_zone: String,
    /// Seconds between periodic reports.
    pub stats_interval: Duration,
    /// Backing objects with no row are removed once this old.
    pub orphan_grace: Duration,
    /// Time between periodic comparisons of the backend with the database; `None`:
    /// only at start.
    pub reconcile_interval: Option<Duration>,
}

mod create;
mod ops;
pub mod recovery;

/// A cast that changes a volume (or one of its snapshots); one runs at a time per volume.
#[derive(Debug)]
enum Op {
    Create(CreateVolumeOnNode),
    Delete(DeleteVolumeOnNode),
    Extend(ExtendVolumeOnNode),
    CreateSnapshot(CreateSnapshotOnNode),
    DeleteSnapshot(DeleteSnapshotOnNode),
    Revert(RevertVolumeOnNode),
}

impl Op {
    fn volume_id(&self) -> VolumeId {
        match self {
            Op::Create(m) => m.volume_id,
            Op::Delete(m) => m.volume_id,
            Op::Extend(m) => m.volume_id,
            Op::CreateSnapshot(m) => m.volume_id,
            Op::DeleteSnapshot(m) => m.volume_id,
            Op::Revert(m) => m.volume_id,
        }
    }
}

/// State shared by the node's running operations.
#[derive(Debug, Default)]
struct NodeState {
    /// The last placement number received.
    acked_seq: u64,
    /// Volumes with an operation running, and what waits behind it.
    busy: HashMap<VolumeId, VecDeque<Op>>,
    /// A report is already scheduled.
    report_pending: bool,
    /// When the service row's heartbeat was last written.
    last_heartbeat: Option<std::time::Instant>,
}

/// Everything an operation needs, cheap to clone into its future.
#[derive(Clone)]
struct Ctx {
    node: Rc<NodeIdentity>,
    driver: Arc<dyn VolumeDriver>,
    db: Db,
    journal: JournalHandle,
    scheduler: SchedulerLink,
    state: Rc<RefCell<NodeState>>,
}

/// The actor of one storage node.
pub struct VolumeActor {
    ctx: Ctx,
}

impl VolumeActor {
    /// A node actor over `driver`.
    pub fn new(
        node: NodeIdentity,
        driver: Arc<dyn VolumeDriver>,
        db: Db,
        journal: JournalHandle,
        scheduler: SchedulerLink,
    ) -> Self {
        Self {
            ctx: Ctx {
                node: Rc::new(node),
                driver,
                db,
                journal,
                scheduler,
                state: Rc::new(RefCell::new(NodeState::default())),
            },
        }
    }

    /// Runs `op` now, or queues it behind the operation already running on its volume.
    fn submit(&mut self, op: Op, ctx: &mut Context<Self>) {
        let id = op.volume_id();
        {
            let mut state = self.ctx.state.borrow_mut();
            if let Some(queue) = state.busy.get_mut(&id) {
                queue.push_back(op);
                return;
            }
            state.busy.insert(id, VecDeque::new());
        }
        self.start(op, ctx);
    }

    /// Starts `op` on a volume already marked busy; when it ends, starts the next one
    /// queued for that volume, or marks the volume free.
    fn start(&mut self, op: Op, ctx: &mut Context<Self>) {
        let id = op.volume_id();
        if let Op::Create(m) = &op {
            let mut state = self.ctx.state.borrow_mut();
            state.acked_seq = state.acked_seq.max(m.cast_seq);
        }
        let c = self.ctx.clone();
        let fut = async move {
            match op {
                Op::Create(m) => create::create_volume(c, m).await,
                Op::Delete(m) => delete_volume(c, m).await,
                Op::Extend(m) => ops::extend_volume(c, m).await,
                Op::CreateSnapshot(m) => ops::create_snapshot(c, m).await,
                Op::DeleteSnapshot(m) => ops::delete_snapshot(c, m).await,
                Op::Revert(m) => ops::revert_volume(c, m).await,
            }
        };
        ctx.spawn(fut.into_actor(self).map(move |(), act, ctx| {
            act.schedule_report(ctx);
            let next = {
                let mut state = act.ctx.state.borrow_mut();
                let next = state.busy.get_mut(&id).and_then(VecDeque::pop_front);
                if next.is_none() {
                    state.busy.remove(&id);
                }
                next
            };
            if let Some(op) = next {
                act.start(op, ctx);
            }
        }));
    }

    /// Reports capacity soon; changes that come close together share one report.
    fn schedule_report(&mut self, ctx: &mut Context<Self>) {
        if std::mem::replace(&mut self.ctx.state.borrow_mut().report_pending, true) {
            return;
        }
        ctx.run_later(Duration::from_millis(50), |act, ctx| {
            act.ctx.state.borrow_mut().report_pending = false;
            let c = act.ctx.clone();
            ctx.spawn(
                async move {
                    if let Err(e) = publish_stats(&c).await {
                        warn!(node.id = %c.node.name, error = %e, "could not report capacity");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Actor for VolumeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = self.ctx.node.stats_interval;
        ctx.run_interval(every, |act, ctx| act.schedule_report(ctx));
        if let Some(every) = self.ctx.node.reconcile_interval {
            ctx.run_interval(every, |act, ctx| {
                let c = act.ctx.clone();
                ctx.spawn(
                    async move {
                        if let Err(e) = recovery::reconcile(&c, false).await {
                            warn!(node.id = %c.node.name, error = %e, "could not compare the backend with the database");
                        }
                    }
                    .into_actor(act),
                );
            });
        }
    }
}

impl Handler<CreateVolumeOnNode> for VolumeActor {
    type Result = ();
    fn handle(&mut self, msg: CreateVolumeOnNode, ctx: &mut Self::Context) {
        self.submit(Op::Create(msg), ctx);
    }
}

impl Handler<DeleteVolumeOnNode> for VolumeActor {
    type Result = ();
    fn handle(&mut self, msg: DeleteVolumeOnNode, ctx: &mut Self::Context) {
        self.submit(Op::Delete(msg), ctx);
    }
}

macro_rules! queued {
    ($msg:ty, $variant:ident) => {
        impl Handler<$msg> for VolumeActor {
            type Result = ();
            fn handle(&mut self, msg: $msg, ctx: &mut Self::Context) {
                self.submit(Op::$variant(msg), ctx);
            }
        }
    };
}

queued!(ExtendVolumeOnNode, Extend);
queued!(CreateSnapshotOnNode, CreateSnapshot);
queued!(DeleteSnapshotOnNode, DeleteSnapshot);
queued!(RevertVolumeOnNode, Revert);

impl Handler<InitializeConnection> for VolumeActor {
    type Result = ResponseFuture<Result<crate::drivers::ConnectionInfo, ServiceError>>;
    fn handle(&mut self, msg: InitializeConnection, _: &mut Self::Context) -> Self::Result {
        Box::pin(ops::initialize_connection(self.ctx.clone(), msg))
    }
}

impl Handler<TerminateConnection> for VolumeActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: TerminateConnection, _: &mut Self::Context) -> Self::Result {
        Box::pin(ops::terminate_connection(self.ctx.clone(), msg))
    }
}

impl Handler<PublishStats> for VolumeActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, _msg: PublishStats, _ctx: &mut Self::Context) -> Self::Result {
        let c = self.ctx.clone();
        Box::pin(async move { publish_stats(&c).await })
    }
}

impl Handler<ReconcileNode> for VolumeActor {
    type Result = ResponseFuture<Result<ReconcileReport, ServiceError>>;
    fn handle(&mut self, _msg: ReconcileNode, _ctx: &mut Self::Context) -> Self::Result {
        let c = self.ctx.clone();
        Box::pin(async move { recovery::reconcile(&c, false).await })
    }
}

impl Handler<RecoverNode> for VolumeActor {
    type Result = ResponseActFuture<Self, Result<usize, ServiceError>>;
    fn handle(&mut self, _msg: RecoverNode, _ctx: &mut Self::Context) -> Self::Result {
        let c = self.ctx.clone();
        Box::pin(
            async move {
                // Roll back what cannot be resumed first, so the attachment states are
                // settled before exports are compared with them.
                let ops = recovery::plan(&c).await?;
                // Exports of attached volumes come back (a target daemon or the node
                // restarted); a failure is logged and the volume left as it is.
                let key = c.node.name.clone();
                let attached =
                    c.db.run(move |db| crate::db::volumes::attached_on_node(db, &key))
                        .await?;
                for (id, size) in attached {
                    let Ok(id) = id.parse::<VolumeId>() else {
                        continue;
                    };
                    let vref = VolumeRef {
                        id,
                        size_gb: size.max(0) as u64,
                    };
                    if let Err(e) = blocking(&c.driver, move |d| d.ensure_export(&vref)).await {
                        warn!(volume.id = %id, error = %e, "could not re-create the export");
                    }
                }
                let report = recovery::reconcile(&c, true).await?;
                if report != ReconcileReport::default() {
                    info!(
                        node.id = %c.node.name,
                        orphans.found = report.orphans_found,
                        orphans.removed = report.orphans_removed,
                        backing.missing = report.missing,
                        exports.removed = report.exports_removed,
                        "compared the backend with the database"
                    );
                }
                Ok(ops)
            }
            .into_actor(self)
            .map(|ops: Result<Vec<Op>, ServiceError>, act, ctx| {
                let ops = ops?;
                let n = ops.len();
                for op in ops {
                    act.submit(op, ctx);
                }
                Ok(n)
            }),
        )
    }
}

/// Measures the driver and sends the report.
async fn publish_stats(c: &Ctx) -> Result<(), ServiceError> {
    let driver = c.driver.clone();
    let mut stats = actix_web::rt::task::spawn_blocking(move || driver.get_volume_stats())
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let acked_seq = c.state.borrow().acked_seq;
    // What is placed on each pool is the capacity ledger's count, which every scheduler
    // books in; the driver's own figures say what it has made.
    let name = c.node.name.clone();
    let ledger =
        c.db.run(move |db| crate::db::ledger::of_node(db, &name))
            .await?;
    for pool in &mut stats.pools {
        let host = Host::new(&c.node.name, &stats.volume_backend_name, &pool.pool_name);
        pool.allocated_capacity_gb = ledger
            .iter()
            .find(|f| host == f.host.as_str())
            .map_or(0, |f| f.allocated_gb.max(0)) as f64;
    }
    let service_host = crate::model::host::service_host(&c.node.name, &stats.volume_backend_name);
    c.scheduler
        .stats
        .send(NodeStatsReport {
            node: c.node.name.as_str().into(),
            availability_zone: c.node.availability_zone.clone(),
            stats,
            acked_seq,
            ledger,
        })
        .await?;
    heartbeat(c, service_host).await;
    Ok(())
}

/// Refreshes the node's `os-services` row after a report, at most twice per stats
/// interval: reports follow every change, and a write per report would load the
/// database for nothing (a service is "down" only after 60 s without one).
async fn heartbeat(c: &Ctx, host: String) {
    let half = c.node.stats_interval / 2;
    let due = {
        let mut s = c.state.borrow_mut();
        let due = s.last_heartbeat.is_none_or(|t| t.elapsed() >= half);
        if due {
            s.last_heartbeat = Some(std::time::Instant::now());
        }
        due
    };
    if !due {
        return;
    }
    let beat =
        c.db.run(move |db| {
            crate::db::services::heartbeat(db, &host, crate::db::services::VOLUME_BINARY)
        })
        .await;
    if let Err(e) = beat {
        warn!(node.id = %c.node.name, error = %e, "could not record the service heartbeat");
    }
}

/// Runs a driver verb on the blocking pool.
async fn blocking<T: Send + 'static>(
    driver: &Arc<dyn VolumeDriver>,
    f: impl FnOnce(&dyn VolumeDriver) -> Result<T, DriverError> + Send + 'static,
) -> Result<T, ServiceError> {
    let d = driver.clone();
    actix_web::rt::task::spawn_blocking(move || f(d.as_ref()))
        .await
        .map_err(|e| ServiceError::Internal(format!("driver task failed: {e}")))?
        .map_err(ServiceError::from)
}

async fn delete_volume(c: Ctx, msg: DeleteVolumeOnNode) {
    let id = msg.volume_id.to_string();
    let row =
        c.db.run(move |db| crate::db::volumes::status_size_host(db, &id))
            .await;
    let size = match row {
        Ok((VolumeStatus::Deleting, size, _)) => size,
        Ok(_) | Err(DbError::NotFound { .. }) => return,
        Err(e) => {
            error!(volume.id = %msg.volume_id, error = %e, "could not read the volume to delete");
            return;
        }
    };
    // A cascade queued the snapshots' deletes first; one that failed leaves its row, and
    // then the volume must stay too (its row cannot go while a snapshot names it).
    let id = msg.volume_id.to_string();
    let left =
        c.db.run(move |db| crate::db::snapshots::of_volume(db, &id))
            .await;
    let removed = match left {
        Ok(snaps) if snaps.is_empty() => {
            let vref = VolumeRef {
                id: msg.volume_id,
                size_gb: size.max(0) as u64,
            };
            blocking(&c.driver, move |d| d.delete_volume(&vref)).await
        }
        Ok(snaps) => Err(ServiceError::InvalidState(format!(
            "snapshot {} of the volume could not be deleted ({})",
            snaps[0].id, snaps[0].status
        ))),
        Err(e) => Err(e.into()),
    };
    let id = msg.volume_id.to_string();
    match removed {
        Ok(()) => {
            // The row, its quota and its place in the capacity ledger go together.
            if let Err(e) =
                c.db.write(move |db| crate::db::volumes::destroy_and_release(db, &id))
                    .await
            {
                error!(volume.id = %msg.volume_id, error = %e, "volume removed but its row remains; recovery will finish")
            }
        }
        Err(e) => {
            warn!(volume.id = %msg.volume_id, node.id = %c.node.name, error = %e, "driver failed to delete volume");
            let moved =
                c.db.write(move |db| {
                    crate::db::volumes::transition(
                        db,
                        &id,
                        &[VolumeStatus::Deleting],
                        VolumeStatus::ErrorDeleting,
                    )
                })
                .await;
            if moved.is_ok() {
                user_messages::record_for_volume(
                    &c.db,
                    &msg.project_id,
                    &msg.request_id,
                    msg.volume_id,
                    Action::DeleteVolume,
                    Detail::Unknown,
                    format!("node {} could not delete the volume: {e}", c.node.name),
                )
                .await;
            }
        }
    }
}

#[cfg(test)]
#[path = "volume_tests.rs"]
mod tests;
