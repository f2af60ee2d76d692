//! The processes' side of the outbox ([`crate::db::outbox`]):
//! - [`start_worker`]: in any process holding nodes, takes the casts and calls other
//!   processes queued for them and hands them to the nodes' actors, woken by
//!   `LISTEN clinker_work` and polling every [`POLL_EVERY`] in case a wake-up is lost;
//! - [`ReportRelay`]: publishes the nodes' capacity reports in the database (throttled),
//!   so controllers that do not run a node can place volumes on it;
//! - [`start_watch`]: in a controller, reads those reports, the capacity ledger and the
//!   nodes' liveness and operator state into its scheduler, and takes the creates agents
//!   hand back.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use tracing::{error, info, warn};

use crate::actors::api::Zones;
use crate::actors::dispatch::{NodeHandle, node_name};
use crate::actors::protocol::{
    CallReply, LedgerFigures, NodeCall, NodeStatsReport, NodeWork, QueuedWork,
    ScheduleCreateVolume, SetNodeDisabled, SetNodeDown,
};
use crate::actors::scheduler::SchedulerActor;
use crate::db::claims::{self, Fence};
use crate::db::{Db, DbError, outbox, services};
use crate::drivers::BackendStats;

/// How often a holder looks for work without being woken, and a controller reads the
/// nodes' reports and states: the longest a lost notification delays a cast.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// How often the `LISTEN` connection is read for notifications (a read of the socket,
/// no query).
const LISTEN_EVERY: Duration = Duration::from_millis(10);

/// Casts taken per transaction.
const BATCH: i64 = 64;

/// Per controller instance, the highest placement (`cast_seq`) it queued that a node of
/// this process has received: published with the node's report, so each controller
/// knows which of its placements the report already counts.
pub type Acked = Arc<Mutex<HashMap<String, HashMap<String, u64>>>>;

/// A node this process holds, as the worker reaches it.
#[derive(Clone)]
pub struct HeldNode {
    /// Its actor's handle.
    pub handle: NodeHandle,
    /// The claim its takes are checked against.
    pub fence: Fence,
}

/// Starts taking the work queued for `nodes`; `url` is the database's, for the `LISTEN`
/// connection (PostgreSQL only; elsewhere polling alone wakes the worker).
pub fn start_worker(db: Db, url: Option<String>, nodes: Vec<HeldNode>, acked: Acked) {
    if nodes.is_empty() {
        return;
    }
    let wake = Arc::new(tokio::sync::Notify::new());
    if let Some(url) = url {
        let names: BTreeSet<String> = nodes.iter().map(|n| n.fence.node.clone()).collect();
        listen(url, names, wake.clone());
    }
    actix_web::rt::spawn(async move {
        let mut live = nodes;
        loop {
            let woken = wake.notified();
            let mut kept = Vec::with_capacity(live.len());
            for node in live {
                match drain(&db, &node, &acked).await {
                    Ok(()) => kept.push(node),
                    Err(DbError::Fenced { node, epoch }) => error!(
                        node.id = %node,
                        node.epoch = epoch,
                        "another instance holds this node now; this process takes no more \
                         of its work"
                    ),
                    Err(e) => {
                        warn!(node.id = %node.fence.node, error = %e, "could not take queued work");
                        kept.push(node);
                    }
                }
            }
            live = kept;
            if live.is_empty() {
                return;
            }
            let _ = actix_web::rt::time::timeout(POLL_EVERY, woken).await;
        }
    });
}

/// Takes everything queued for `node` now: casts in order, calls each on its own task.
async fn drain(db: &Db, node: &HeldNode, acked: &Acked) -> Result<(), DbError> {
    loop {
        let fence = node.fence.clone();
        let taken = db.run(move |c| outbox::take(c, &fence, BATCH)).await?;
        let full = taken.len() as i64 == BATCH;
        let waited: Vec<f64> = taken.iter().map(|t| t.1).collect();
        crate::telemetry::outbox_claimed(&node.fence.node, &waited);
        for (body, _) in taken {
            let queued: QueuedWork = match serde_json::from_str(&body) {
                Ok(q) => q,
                Err(e) => {
                    error!(node.id = %node.fence.node, error = %e, "unreadable queued work dropped");
                    continue;
                }
            };
            let seq = match &queued.work {
                NodeWork::Create(m) => Some(m.cast_seq),
                _ => None,
            };
            if let Err(e) = node.handle.deliver(queued.work).await {
                // The actor is gone (the process is stopping): the row of the volume or
                // snapshot keeps the intent for the next holder's recovery.
                warn!(node.id = %node.fence.node, error = %e, "could not hand queued work to the node");
            }
            if let Some(seq) = seq
                && let Ok(mut a) = acked.lock()
            {
                let mine = a.entry(node.fence.node.clone()).or_default();
                let at = mine.entry(queued.origin).or_default();
                *at = (*at).max(seq);
            }
        }
        if !full {
            break;
        }
    }
    let fence = node.fence.clone();
    let calls = db
        .run(move |c| outbox::take_calls(c, &fence, BATCH))
        .await?;
    for (id, body) in calls {
        let (db, handle, fence) = (db.clone(), node.handle.clone(), node.fence.clone());
        actix_web::rt::spawn(async move {
            let reply = match serde_json::from_str::<NodeCall>(&body) {
                Ok(NodeCall::Initialize(m)) => {
                    CallReply::of(flatten(handle.initialize.send(m).await))
                }
                Ok(NodeCall::Terminate(m)) => {
                    CallReply::of(flatten(handle.terminate.send(m).await))
                }
                Err(e) => CallReply::of::<()>(Err(crate::actors::error::ServiceError::Internal(
                    format!("unreadable call: {e}"),
                ))),
            };
            let text = serde_json::to_string(&reply).unwrap_or_default();
            let node = fence.node.clone();
            if let Err(e) = db.run(move |c| outbox::answer(c, &fence, &id, &text)).await {
                warn!(node.id = %node, error = %e, "could not answer a call");
            }
        });
    }
    Ok(())
}

fn flatten<T>(
    r: Result<Result<T, crate::actors::error::ServiceError>, MailboxError>,
) -> Result<T, crate::actors::error::ServiceError> {
    r.map_err(|e| crate::actors::error::ServiceError::Unavailable(e.to_string()))?
}

/// A thread holding one connection that `LISTEN`s on the outbox's channel and wakes the
/// worker when one of `nodes` is named; it reconnects after a failure (meanwhile the
/// worker polls).
fn listen(url: String, nodes: BTreeSet<String>, wake: Arc<tokio::sync::Notify>) {
    use diesel::Connection;
    use diesel::RunQueryDsl;
    let spawned = std::thread::Builder::new()
        .name("outbox-listen".into())
        .spawn(move || {
            loop {
                let mut conn = match diesel::PgConnection::establish(&url) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(error = %e, "cannot open the LISTEN connection; polling only");
                        std::thread::sleep(POLL_EVERY * 5);
                        continue;
                    }
                };
                if let Err(e) =
                    diesel::sql_query(format!("LISTEN {}", outbox::CHANNEL)).execute(&mut conn)
                {
                    warn!(error = %e, "LISTEN failed; polling only");
                    std::thread::sleep(POLL_EVERY * 5);
                    continue;
                }
                // Whatever was queued before LISTEN took effect is found by the poll.
                wake.notify_one();
                'read: loop {
                    std::thread::sleep(LISTEN_EVERY);
                    for n in conn.notifications_iter() {
                        match n {
                            Ok(n) if nodes.contains(&n.payload) => wake.notify_one(),
                            Ok(_) => {}
                            Err(e) => {
                                warn!(error = %e, "the LISTEN connection failed; reconnecting");
                                break 'read;
                            }
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start the LISTEN thread; polling only");
    }
}

/// Passes its nodes' capacity reports on to this process's scheduler (if it has one)
/// and publishes the latest of each node in the database at most once per
/// [`POLL_EVERY`], for the controllers that do not run the node.
pub struct ReportRelay {
    db: Db,
    scheduler: Option<Recipient<NodeStatsReport>>,
    fences: HashMap<String, Fence>,
    acked: Acked,
    latest: HashMap<String, NodeStatsReport>,
}

impl ReportRelay {
    /// A relay for the nodes held by `fences`.
    pub fn new(
        db: Db,
        scheduler: Option<Recipient<NodeStatsReport>>,
        fences: HashMap<String, Fence>,
        acked: Acked,
    ) -> Self {
        Self {
            db,
            scheduler,
            fences,
            acked,
            latest: HashMap::new(),
        }
    }

    fn publish(&mut self, ctx: &mut Context<Self>) {
        let mut due = Vec::new();
        for (node, report) in self.latest.drain() {
            let Some(fence) = self.fences.get(&node).cloned() else {
                continue;
            };
            let acked = self
                .acked
                .lock()
                .map(|a| a.get(&node).cloned().unwrap_or_default())
                .unwrap_or_default();
            let (Ok(stats), Ok(acked)) = (
                serde_json::to_string(&report.stats),
                serde_json::to_string(&acked),
            ) else {
                continue;
            };
            due.push((fence, report.availability_zone, stats, acked));
        }
        if due.is_empty() {
            return;
        }
        let db = self.db.clone();
        ctx.spawn(
            async move {
                for (fence, zone, stats, acked) in due {
                    let node = fence.node.clone();
                    let written = db
                        .run(move |c| outbox::report(c, &fence, &zone, &stats, &acked))
                        .await;
                    if let Err(e) = written {
                        warn!(node.id = %node, error = %e, "could not publish the node's report");
                    }
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for ReportRelay {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(POLL_EVERY, |act, ctx| act.publish(ctx));
    }
}

impl Handler<NodeStatsReport> for ReportRelay {
    type Result = ();

    fn handle(&mut self, msg: NodeStatsReport, _ctx: &mut Self::Context) {
        crate::telemetry::node_reported(&msg.node, &msg.stats);
        if let Some(s) = &self.scheduler {
            s.do_send(msg.clone());
        }
        self.latest.insert(msg.node.to_string(), msg);
    }
}

/// What a controller's watch keeps between rounds, so it tells its scheduler only of
/// changes.
#[derive(Default)]
struct Seen {
    reported: HashMap<String, chrono::NaiveDateTime>,
    down: HashMap<String, bool>,
    disabled: HashMap<String, bool>,
}

/// Starts a controller's watch over the nodes other processes run: every
/// [`POLL_EVERY`], their reports feed the scheduler, their liveness marks them down or
/// up, every node's enabled/disabled state (set through any controller) is applied,
/// their zones become known, and creates that agents handed back are placed again.
/// The first round is done when this returns.
pub async fn start_watch(
    db: Db,
    scheduler: Addr<SchedulerActor>,
    local: BTreeSet<String>,
    zones: Zones,
    down_after_seconds: u64,
) {
    let mut watch = Watch {
        db,
        scheduler,
        local,
        zones,
        down_after_seconds,
        seen: Seen::default(),
    };
    watch.round().await;
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(POLL_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            watch.round().await;
        }
    });
}

struct Watch {
    db: Db,
    scheduler: Addr<SchedulerActor>,
    local: BTreeSet<String>,
    zones: Zones,
    down_after_seconds: u64,
    seen: Seen,
}

impl Watch {
    async fn round(&mut self) {
        let done = watch_once(
            &self.db,
            &self.scheduler,
            &self.local,
            &self.zones,
            self.down_after_seconds,
            &mut self.seen,
        )
        .await;
        if let Err(e) = done {
            warn!(error = %e, "could not read the nodes' state");
        }
    }
}

async fn watch_once(
    db: &Db,
    scheduler: &Addr<SchedulerActor>,
    local: &BTreeSet<String>,
    zones: &Zones,
    down_after: u64,
    seen: &mut Seen,
) -> Result<(), DbError> {
    let (reports, states, rows, handed_back, depths, ledger) = db
        .run(move |c| {
            Ok((
                outbox::reports(c)?,
                claims::states(c, down_after)?,
                services::list(c)?,
                outbox::take_unfenced(c, outbox::SCHEDULER_QUEUE, BATCH)?,
                outbox::depths(c)?,
                crate::db::ledger::all(c)?,
            ))
        })
        .await?;
    // What other schedulers booked and what deletes gave back, so this one decides on
    // the pools' current figures (the ledger's lock keeps it honest in any case).
    scheduler.do_send(LedgerFigures(ledger));
    crate::telemetry::outbox_depths(&depths, states.iter().map(|s| s.node.clone()));
    let me = crate::db::instances::instance_id();
    let up: HashMap<&str, bool> = states.iter().map(|s| (s.node.as_str(), s.up)).collect();
    for r in reports.iter().filter(|r| !local.contains(&r.node)) {
        zones.add(&r.availability_zone);
        let down = !up.get(r.node.as_str()).copied().unwrap_or(false);
        if seen.down.get(&r.node) != Some(&down) {
            if down {
                warn!(node.id = %r.node, "node is down: its holder stopped renewing its lease");
            } else {
                info!(node.id = %r.node, "node is up");
            }
            seen.down.insert(r.node.clone(), down);
            let _ = scheduler
                .send(SetNodeDown {
                    node: r.node.as_str().into(),
                    down,
                })
                .await;
        }
        if seen.reported.get(&r.node) == Some(&r.reported_at) {
            continue;
        }
        let (Ok(stats), Ok(acked)) = (
            serde_json::from_str::<BackendStats>(&r.stats),
            serde_json::from_str::<HashMap<String, u64>>(&r.acked),
        ) else {
            warn!(node.id = %r.node, "unreadable node report skipped");
            continue;
        };
        seen.reported.insert(r.node.clone(), r.reported_at);
        let _ = scheduler
            .send(NodeStatsReport {
                node: r.node.as_str().into(),
                availability_zone: r.availability_zone.clone(),
                stats,
                acked_seq: acked.get(me).copied().unwrap_or(0),
                ledger: Vec::new(),
            })
            .await;
    }
    for row in rows
        .iter()
        .filter(|r| r.service_binary == services::VOLUME_BINARY)
    {
        let node = node_name(&row.host).to_string();
        if seen.disabled.get(&node) != Some(&row.disabled) {
            seen.disabled.insert(node.clone(), row.disabled);
            let _ = scheduler
                .send(SetNodeDisabled {
                    node: node.into(),
                    disabled: row.disabled,
                })
                .await;
        }
    }
    for body in handed_back {
        match serde_json::from_str::<ScheduleCreateVolume>(&body) {
            Ok(msg) => scheduler.do_send(msg),
            Err(e) => error!(error = %e, "unreadable reschedule dropped"),
        }
    }
    Ok(())
}
