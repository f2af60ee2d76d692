//! `SchedulerActor`: the in-memory view of every pool, and placement.
//!
//! Its flow `volume_create_scheduler` runs ExtractSchedulerSpecTask and
//! ScheduleCreateVolumeTask: filters and weighers pick a pool, its capacity is consumed in
//! memory at once (so back-to-back requests see it), the choice is stored on the volume row
//! (the durable intent), and only then is the node told.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::json;

use super::dispatch::{JournalHandle, NodeHandle, queue};
use super::error::ServiceError;
use super::protocol::{
    CheckHost, CreateVolumeOnNode, GetPoolReports, GetPools, LedgerFigures, NodeStatsReport,
    NodeWork, PoolReport, ScheduleCreateVolume, SetNodeDisabled, SetNodeDown,
};
use super::user_messages::{self, Action, Detail};
use crate::db::ledger::{self, Booking};
use crate::db::{Db, DbError};
use crate::flow::{Flow, FlowScope, Task, TaskFuture};
use crate::model::VolumeStatus;
use crate::scheduler::spec::RequestSpec;
use crate::scheduler::{self, Decision, PoolEvaluation, PoolState, SchedulerTuning};

/// What the scheduler keeps of one node.
#[derive(Debug, Default)]
struct NodeEntry {
    /// The last report, as reported (each pool's `allocated_capacity_gb` is the
    /// ledger's figure when the node measured).
    reported: Vec<PoolState>,
    /// The scheduler's placement number for the node's next create (see
    /// `CreateVolumeOnNode::cast_seq`).
    next_seq: u64,
    /// Set by an operator; survives reports.
    disabled: bool,
    /// Its holder stopped renewing its lease; survives reports.
    down: bool,
    /// `(vendor_name, driver_version, when)` of the last report.
    backend: Option<(String, String, chrono::NaiveDateTime)>,
}

/// One pool's count in the capacity ledger as this scheduler last saw it, and what it
/// is booking there right now.
#[derive(Debug, Default, Clone, Copy)]
struct Booked {
    /// The ledger's GiB placed.
    allocated: i64,
    /// The ledger row's version of that figure (a figure with a lower one is older).
    version: i64,
    /// GiB chosen here whose booking has not come back yet.
    pending: i64,
}

/// Every node's pools as the last report and the capacity ledger describe them.
#[derive(Debug, Default)]
pub struct PoolBook {
    nodes: BTreeMap<String, NodeEntry>,
    /// By `node@backend#pool`.
    ledger: HashMap<String, Booked>,
    /// Flat view over all nodes, rebuilt on each report, changed in place on placement.
    pools: Vec<PoolState>,
}

/// A choice made in memory, to be booked in the ledger.
struct Choice {
    /// The pool as the scheduler sees it.
    pool: PoolState,
    /// Its stats as last reported, which the ledger's count applies to.
    reported: crate::drivers::PoolStats,
    /// The node's placement number.
    seq: u64,
}

impl PoolBook {
    fn apply_report(&mut self, report: NodeStatsReport) {
        self.merge_ledger(&report.ledger);
        let entry = self.nodes.entry(report.node.to_string()).or_default();
        let disabled = entry.disabled || entry.down;
        entry.reported = report
            .stats
            .pools
            .iter()
            .map(|p| PoolState {
                disabled,
                ..PoolState::new(
                    &report.node,
                    &report.availability_zone,
                    &report.stats,
                    p.clone(),
                )
            })
            .collect();
        entry.backend = Some((
            report.stats.vendor_name.clone(),
            report.stats.driver_version.clone(),
            crate::db::now(),
        ));
        self.rebuild();
    }

    /// Keeps each figure newer than the one known; answers whether any was.
    fn merge_ledger(&mut self, figures: &[crate::db::ledger::Figure]) -> bool {
        let mut changed = false;
        for f in figures {
            let known = self.ledger.entry(f.host.clone()).or_default();
            if f.version > known.version {
                known.allocated = f.allocated_gb;
                known.version = f.version;
                changed = true;
            }
        }
        changed
    }

    /// The pool as reported, with the ledger's count and this scheduler's pending
    /// bookings applied.
    fn counted(&self, reported: &PoolState) -> PoolState {
        let booked = self
            .ledger
            .get(reported.host.as_str())
            .copied()
            .unwrap_or_default();
        PoolState {
            stats: scheduler::with_ledger(&reported.stats, booked.allocated + booked.pending),
            ..reported.clone()
        }
    }

    fn rebuild(&mut self) {
        let pools: Vec<PoolState> = self
            .nodes
            .values()
            .flat_map(|e| e.reported.iter())
            .map(|p| self.counted(p))
            .collect();
        self.pools = pools;
    }

    /// Recounts the pool `host` in place (after a booking).
    fn recount(&mut self, host: &str) {
        let Some(reported) = self
            .nodes
            .values()
            .flat_map(|e| e.reported.iter())
            .find(|p| p.host.as_str() == host)
            .cloned()
        else {
            return;
        };
        let counted = self.counted(&reported);
        if let Some(p) = self.pools.iter_mut().find(|p| p.host.as_str() == host) {
            *p = counted;
        }
    }

    /// Runs the filters and weighers; on a choice, counts it as pending on its pool so
    /// the next decision sees it before the ledger answers.
    fn place(
        &mut self,
        spec: &RequestSpec,
        tuning: &SchedulerTuning,
    ) -> (Decision, Option<Choice>) {
        let decision = scheduler::schedule(&self.pools, &spec.schedule_request(), tuning);
        let Some(i) = decision.chosen else {
            return (decision, None);
        };
        let host = self.pools[i].host.to_string();
        self.ledger.entry(host.clone()).or_default().pending += spec.size_gb as i64;
        let reported = self
            .nodes
            .get(&self.pools[i].node)
            .and_then(|e| e.reported.iter().find(|p| p.host == self.pools[i].host))
            .map(|p| p.stats.clone())
            .unwrap_or_else(|| self.pools[i].stats.clone());
        self.recount(&host);
        let pool = self.pools[i].clone();
        let entry = self.nodes.entry(pool.node.clone()).or_default();
        entry.next_seq += 1;
        let seq = entry.next_seq;
        (
            decision,
            Some(Choice {
                pool,
                reported,
                seq,
            }),
        )
    }

    /// The booking of `size` GiB on `host` came back, with the row as the ledger has it
    /// now (`None`: the transaction failed).
    fn settle(&mut self, host: &str, size: u64, figure: Option<crate::db::ledger::Figure>) {
        if let Some(b) = self.ledger.get_mut(host) {
            b.pending -= size as i64;
        }
        if let Some(f) = figure {
            self.merge_ledger(&[f]);
        }
        self.recount(host);
    }

    fn set_disabled(&mut self, node: &str, disabled: bool) {
        let entry = self.nodes.entry(node.to_string()).or_default();
        entry.disabled = disabled;
        self.refresh(node);
    }

    fn set_down(&mut self, node: &str, down: bool) {
        let entry = self.nodes.entry(node.to_string()).or_default();
        entry.down = down;
        self.refresh(node);
    }

    /// A node's pools take no new volume while it is disabled or down (the
    /// EnabledFilter refuses them).
    fn refresh(&mut self, node: &str) {
        if let Some(entry) = self.nodes.get_mut(node) {
            let refused = entry.disabled || entry.down;
            for p in &mut entry.reported {
                p.disabled = refused;
            }
        }
        self.rebuild();
    }

    fn reports(&self) -> Vec<PoolReport> {
        self.pools
            .iter()
            .filter_map(|p| {
                let entry = self.nodes.get(&p.node)?;
                let (vendor, version, at) = entry.backend.clone()?;
                // The pool as the operator set it: a down node's pools are refused
                // placements but still listed, marked down.
                let pool = PoolState {
                    disabled: entry.disabled,
                    ..p.clone()
                };
                Some(PoolReport {
                    pool,
                    vendor_name: vendor,
                    driver_version: version,
                    timestamp: at,
                    down: entry.down,
                })
            })
            .collect()
    }
}

/// Places volumes on nodes.
pub struct SchedulerActor {
    book: Rc<RefCell<PoolBook>>,
    shared: Rc<Shared>,
}

/// What every scheduling flow needs.
struct Shared {
    db: Db,
    journal: JournalHandle,
    nodes: HashMap<String, NodeHandle>,
    tuning: SchedulerTuning,
    max_attempts: u32,
}

impl SchedulerActor {
    /// A scheduler over `nodes` (the VolumeActors, or fakes in tests).
    pub fn new(
        db: Db,
        journal: JournalHandle,
        nodes: HashMap<String, NodeHandle>,
        tuning: SchedulerTuning,
        max_attempts: u32,
    ) -> Self {
        Self {
            book: Rc::new(RefCell::new(PoolBook::default())),
            shared: Rc::new(Shared {
                db,
                journal,
                nodes,
                tuning,
                max_attempts,
            }),
        }
    }
}

/// How often expired quota reservations, user messages and idempotency keys are cleaned up.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Like Cinder's scheduler: release reservations nobody committed (a process died
        // between reserve and commit), reap expired user messages and forget idempotency
        // keys past their 24 h.
        ctx.run_interval(HOUSEKEEPING_EVERY, |act, ctx| {
            let db = act.shared.db.clone();
            ctx.spawn(
                async move {
                    let done = db
                        .run(|c| {
                            let r = crate::db::quotas::expire(c)?;
                            let m = crate::db::messages::reap(c)?;
                            let k = crate::db::idempotency::expire(c)?;
                            Ok((r, m, k))
                        })
                        .await;
                    match done {
                        Ok((0, 0, 0)) => {}
                        Ok((r, m, k)) => tracing::info!(
                            reservations.expired = r,
                            messages.reaped = m,
                            idempotency_keys.expired = k,
                            "housekeeping"
                        ),
                        Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
                    }
                }
                .into_actor(act),
            );
        });
    }
}

impl Handler<NodeStatsReport> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: NodeStatsReport, _ctx: &mut Self::Context) {
        crate::telemetry::node_reported(&msg.node, &msg.stats);
        self.book.borrow_mut().apply_report(msg);
    }
}

impl Handler<CheckHost> for SchedulerActor {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: CheckHost, _ctx: &mut Self::Context) -> Self::Result {
        let book = self.book.borrow();
        let pool = book
            .pools
            .iter()
            .find(|p| p.host == msg.host)
            .ok_or_else(|| format!("pool {} has not reported", msg.host))?;
        let request = scheduler::ScheduleRequest {
            extra_specs: msg.extra_specs,
            ..scheduler::ScheduleRequest::default()
        };
        match crate::scheduler::filters::first_rejection(pool, &request) {
            None => Ok(()),
            Some((filter, r)) => Err(format!("{filter}: {r}")),
        }
    }
}

impl Handler<GetPools> for SchedulerActor {
    type Result = MessageResult<GetPools>;

    fn handle(&mut self, _msg: GetPools, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.book.borrow().pools.clone())
    }
}

impl Handler<SetNodeDisabled> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: SetNodeDisabled, _ctx: &mut Self::Context) {
        self.book.borrow_mut().set_disabled(&msg.node, msg.disabled);
    }
}

impl Handler<LedgerFigures> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: LedgerFigures, _ctx: &mut Self::Context) {
        let mut book = self.book.borrow_mut();
        if book.merge_ledger(&msg.0) {
            book.rebuild();
        }
    }
}

impl Handler<SetNodeDown> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: SetNodeDown, _ctx: &mut Self::Context) {
        self.book.borrow_mut().set_down(&msg.node, msg.down);
    }
}

impl Handler<GetPoolReports> for SchedulerActor {
    type Result = MessageResult<GetPoolReports>;

    fn handle(&mut self, _msg: GetPoolReports, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.book.borrow().reports())
    }
}

impl Handler<ScheduleCreateVolume> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: ScheduleCreateVolume, ctx: &mut Self::Context) {
        let shared = self.shared.clone();
        let book = self.book.clone();
        ctx.spawn(
            async move {
                let scope = FlowScope {
                    resource_id: msg.volume_id.to_string(),
                    project_id: msg.project_id.clone(),
                    request_id: msg.request_id.clone(),
                };
                let mut store = ScheduleStore {
                    msg,
                    book,
                    shared: shared.clone(),
                };
                let flow = Flow::new("volume_create_scheduler")
                    .with(ExtractSchedulerSpecTask)
                    .with(ScheduleCreateVolumeTask);
                if let Err(e) = flow.run(&mut store, scope, &shared.journal).await {
                    fail_volume(&shared.db, &store.msg, &e).await;
                }
            }
            .into_actor(self),
        );
    }
}

/// Sets a volume that could not be placed to `error`, with a user message saying why.
async fn fail_volume(db: &Db, msg: &ScheduleCreateVolume, e: &ServiceError) {
    let id = msg.volume_id.to_string();
    let moved = db
        .write(move |c| {
            crate::db::volumes::transition(c, &id, &[VolumeStatus::Creating], VolumeStatus::Error)
        })
        .await;
    match moved {
        Ok(()) => {
            user_messages::record_for_volume(
                db,
                &msg.project_id,
                &msg.request_id,
                msg.volume_id,
                Action::ScheduleAllocateVolume,
                Detail::NoValidBackend,
                e.to_string(),
            )
            .await;
        }
        // Deleted (or changed) meanwhile: nothing is left to mark.
        Err(DbError::Conflict) => {}
        Err(err) => {
            tracing::error!(error = %err, volume.id = %msg.volume_id, "could not mark volume error")
        }
    }
}

struct ScheduleStore {
    msg: ScheduleCreateVolume,
    book: Rc<RefCell<PoolBook>>,
    shared: Rc<Shared>,
}

/// Checks the spec and the attempt count.
struct ExtractSchedulerSpecTask;

impl Task<ScheduleStore> for ExtractSchedulerSpecTask {
    fn name(&self) -> &'static str {
        "ExtractSchedulerSpecTask"
    }

    fn execute<'a>(&'a self, s: &'a mut ScheduleStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let spec = &s.msg.spec;
            let tried = spec.tried_nodes.len() as u32;
            if tried >= s.shared.max_attempts {
                let mut summary = format!(
                    "Exceeded max scheduling attempts {} for resource {}.",
                    s.shared.max_attempts, s.msg.volume_id
                );
                for (node, why) in spec.tried_nodes.iter().zip(&spec.failures) {
                    summary.push_str(&format!(" {node}: {why}."));
                }
                return Err(ServiceError::NoValidBackend {
                    summary,
                    decision: None,
                });
            }
            Ok(None)
        })
    }
}

/// Picks a pool, stores the choice, and casts the volume to its node.
struct ScheduleCreateVolumeTask;

impl Task<ScheduleStore> for ScheduleCreateVolumeTask {
    fn name(&self) -> &'static str {
        "ScheduleCreateVolumeTask"
    }

    fn execute<'a>(&'a self, s: &'a mut ScheduleStore) -> TaskFuture<'a> {
        Box::pin(async move {
            let request = s.msg.spec.schedule_request();
            let size = s.msg.spec.size_gb;
            let mut refused = 0;
            loop {
                // Decide and count before any await, so the next request sees the result.
                let deciding = std::time::Instant::now();
                let (decision, choice) = s.book.borrow_mut().place(&s.msg.spec, &s.shared.tuning);
                crate::telemetry::scheduler_decided(&decision, deciding.elapsed());
                let (detail, summary) = {
                    let book = s.book.borrow();
                    let summary = choice
                        .is_none()
                        .then(|| rejection_summary(&decision, &book.pools));
                    (decision_json(&decision, &book.pools), summary)
                };
                let Some(choice) = choice else {
                    let mut summary = summary.unwrap_or_default();
                    for (node, why) in s.msg.spec.tried_nodes.iter().zip(&s.msg.spec.failures) {
                        summary.push_str(&format!(" Earlier attempt on {node} failed: {why}."));
                    }
                    return Err(ServiceError::NoValidBackend {
                        summary,
                        decision: Some(Arc::new(detail)),
                    });
                };
                let pool = choice.pool;
                let mut spec = s.msg.spec.clone();
                spec.tried_nodes.push(pool.node.clone());
                let work = NodeWork::Create(CreateVolumeOnNode {
                    volume_id: s.msg.volume_id,
                    project_id: s.msg.project_id.clone(),
                    request_id: s.msg.request_id.clone(),
                    host: pool.host.clone(),
                    spec: spec.clone(),
                    cast_seq: choice.seq,
                });
                // A node of another process gets its row in the transaction that stores
                // the choice; one of this process, a message once it is stored.
                let local = s.shared.nodes.get(&pool.node);
                let queued = local.is_none().then(|| (pool.node.clone(), work.clone()));
                let (id, host, stored) = (s.msg.volume_id.to_string(), pool.host.clone(), spec);
                let (reported, asked) = (choice.reported, request.clone());
                // The choice holds only if the pool's ledger row, locked here, still has
                // room: another scheduler may have filled it since this one last read it.
                let booked = s
                    .shared
                    .db
                    .write(move |c| {
                        let booking = ledger::book(c, host.as_str(), size as i64, |allocated| {
                            scheduler::fits(&reported, allocated, &asked)
                        })?;
                        if let Booking::Booked(_) = booking {
                            crate::db::volumes::set_scheduled(c, &id, &host, &stored)?;
                            if let Some((node, work)) = queued {
                                queue(c, &node, work)?;
                            }
                        }
                        Ok(booking)
                    })
                    .await;
                let key = pool.host.to_string();
                match booked {
                    Ok(Booking::Booked(figure)) => {
                        s.book.borrow_mut().settle(&key, size, Some(figure));
                    }
                    Ok(Booking::Full(figure)) => {
                        // The book now has the row's figure: the next decision sees the
                        // pool as full and picks another, or none.
                        s.book.borrow_mut().settle(&key, size, Some(figure));
                        crate::telemetry::ledger_refused(&pool.node);
                        refused += 1;
                        if refused < MAX_REFUSALS {
                            continue;
                        }
                        return Err(ServiceError::NoValidBackend {
                            summary: format!(
                                "The pools chosen filled up {refused} times while this \
                                 volume was being placed."
                            ),
                            decision: Some(Arc::new(detail)),
                        });
                    }
                    Err(e) => {
                        s.book.borrow_mut().settle(&key, size, None);
                        return Err(match e {
                            DbError::Conflict => ServiceError::InvalidState(
                                "the volume is no longer waiting to be scheduled".into(),
                            ),
                            other => other.into(),
                        });
                    }
                }
                if let Some(node) = local {
                    // `send`, not `try_send`: a full mailbox (16 queued) waits for room
                    // rather than failing.
                    node.deliver(work).await.map_err(|e| {
                        ServiceError::Unavailable(format!("node {}: {e}", pool.node))
                    })?;
                }
                return Ok(Some(detail));
            }
        })
    }
}

/// How many times the ledger may refuse a pool the scheduler chose (another scheduler
/// filled it first) before the volume fails: each refusal brings the pool's current
/// figure into the book, so the next choice is made on fresher figures.
const MAX_REFUSALS: u32 = 16;

/// At most this many pools are written out per decision; the rest are counted.
const DECISION_POOLS_SHOWN: usize = 50;

fn decision_json(d: &Decision, pools: &[PoolState]) -> serde_json::Value {
    let host = |e: &PoolEvaluation| pools.get(e.pool).map(|p| p.host.as_str());
    let chosen = d.chosen.and_then(|i| host(&d.evaluations[i]));
    let shown: Vec<serde_json::Value> = d
        .evaluations
        .iter()
        .take(DECISION_POOLS_SHOWN)
        .map(|e| {
            let filters: Vec<serde_json::Value> = e
                .verdicts()
                .map(|(filter, rejection)| {
                    json!({
                        "filter": filter,
                        "passed": rejection.is_none(),
                        "reason": rejection.map(|r| r.to_string()),
                    })
                })
                .collect();
            let node = pools.get(e.pool).map(|p| p.node.as_str());
            json!({"host": host(e), "node": node, "filters": filters, "weight": e.weight})
        })
        .collect();
    json!({
        "chosen": chosen,
        "pools_considered": d.evaluations.len(),
        "pools_passed": d.evaluations.iter().filter(|e| e.weight.is_some()).count(),
        "pools": shown,
    })
}

fn rejection_summary(d: &Decision, pools: &[PoolState]) -> String {
    if d.evaluations.is_empty() {
        return "No storage node has reported its capacity.".into();
    }
    let mut out = String::new();
    for e in d.evaluations.iter().take(10) {
        if let Some((filter, r)) = e.rejected_by()
            && let Some(pool) = pools.get(e.pool)
        {
            out.push_str(&format!("{} rejected by {filter}: {r}. ", pool.host));
        }
    }
    if d.evaluations.len() > 10 {
        out.push_str(&format!("({} more pools)", d.evaluations.len() - 10));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
