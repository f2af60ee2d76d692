//! `SchedulerActor`: the in-memory view of every pool, and placement.
//!
//! Its flow `volume_create_scheduler` runs ExtractSchedulerSpecTask and
//! ScheduleCreateVolumeTask: filters and weighers pick a pool, its capacity is consumed in
//! memory at once (so back-to-back requests see it), the choice is stored on the volume row
//! (the durable intent), and only then is the node told.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::json;

use super::dispatch::{JournalHandle, NodeHandle, queue};
use super::error::ServiceError;
use super::protocol::{
    CheckHost, CreateVolumeOnNode, GetPoolReports, GetPools, NodeStatsReport, NodeWork, PoolReport,
    ScheduleCreateVolume, SetNodeDisabled, SetNodeDown,
};
use super::user_messages::{self, Action, Detail};
use crate::db::{Db, DbError};
use crate::flow::{Flow, FlowScope, Task, TaskFuture};
use crate::model::VolumeStatus;
use crate::scheduler::spec::RequestSpec;
use crate::scheduler::{self, Decision, PoolEvaluation, PoolState, SchedulerTuning};

/// Placements sent to a node that its last report did not include yet.
#[derive(Debug, Default)]
struct NodeEntry {
    /// The last report, as reported.
    reported: Vec<PoolState>,
    /// (cast_seq, pool name, GiB).
    outstanding: VecDeque<(u64, String, u64)>,
    next_seq: u64,
    /// Set by an operator; survives reports.
    disabled: bool,
    /// Its holder stopped renewing its lease; survives reports.
    down: bool,
    /// `(vendor_name, driver_version, when)` of the last report.
    backend: Option<(String, String, chrono::NaiveDateTime)>,
}

/// Every node's pools, with in-flight placements applied.
#[derive(Debug, Default)]
pub struct PoolBook {
    nodes: BTreeMap<String, NodeEntry>,
    /// Flat view over all nodes, rebuilt on each report, consumed in place on placement.
    pools: Vec<PoolState>,
}

impl PoolBook {
    fn apply_report(&mut self, report: NodeStatsReport) {
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
        while entry
            .outstanding
            .front()
            .is_some_and(|(seq, _, _)| *seq <= report.acked_seq)
        {
            entry.outstanding.pop_front();
        }
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.pools.clear();
        for entry in self.nodes.values() {
            let start = self.pools.len();
            self.pools.extend(entry.reported.iter().cloned());
            for (_, pool, size) in &entry.outstanding {
                if let Some(p) = self.pools[start..]
                    .iter_mut()
                    .find(|p| &p.stats.pool_name == pool)
                {
                    scheduler::consume(&mut p.stats, *size);
                }
            }
        }
    }

    /// Runs the filters and weighers; on a choice, consumes its capacity and returns the
    /// sequence number the node will acknowledge.
    fn place(
        &mut self,
        spec: &RequestSpec,
        tuning: &SchedulerTuning,
    ) -> (Decision, Option<(PoolState, u64)>) {
        let decision = scheduler::schedule(&self.pools, &spec.schedule_request(), tuning);
        let Some(i) = decision.chosen else {
            return (decision, None);
        };
        scheduler::consume(&mut self.pools[i].stats, spec.size_gb);
        let pool = self.pools[i].clone();
        let entry = self.nodes.entry(pool.node.clone()).or_default();
        entry.next_seq += 1;
        let seq = entry.next_seq;
        entry
            .outstanding
            .push_back((seq, pool.stats.pool_name.clone(), spec.size_gb));
        (decision, Some((pool, seq)))
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

    /// Gives back a placement that never reached its node.
    fn unplace(&mut self, node: &str, seq: u64) {
        if let Some(entry) = self.nodes.get_mut(node) {
            entry.outstanding.retain(|(s, _, _)| *s != seq);
            self.rebuild();
        }
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
                    placed: None,
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
    /// The placement made, until it has been handed to the node.
    placed: Option<(String, u64)>,
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
            // Decide and consume before any await, so the next request sees the result.
            let deciding = std::time::Instant::now();
            let (decision, placed) = s.book.borrow_mut().place(&s.msg.spec, &s.shared.tuning);
            crate::telemetry::scheduler_decided(&decision, deciding.elapsed());
            let (detail, summary) = {
                let book = s.book.borrow();
                let summary = placed
                    .is_none()
                    .then(|| rejection_summary(&decision, &book.pools));
                (decision_json(&decision, &book.pools), summary)
            };
            let Some((pool, seq)) = placed else {
                let mut summary = summary.unwrap_or_default();
                for (node, why) in s.msg.spec.tried_nodes.iter().zip(&s.msg.spec.failures) {
                    summary.push_str(&format!(" Earlier attempt on {node} failed: {why}."));
                }
                return Err(ServiceError::NoValidBackend {
                    summary,
                    decision: Some(Arc::new(detail)),
                });
            };
            s.placed = Some((pool.node.clone(), seq));
            let mut spec = s.msg.spec.clone();
            spec.tried_nodes.push(pool.node.clone());
            let work = NodeWork::Create(CreateVolumeOnNode {
                volume_id: s.msg.volume_id,
                project_id: s.msg.project_id.clone(),
                request_id: s.msg.request_id.clone(),
                host: pool.host.clone(),
                spec: spec.clone(),
                cast_seq: seq,
            });
            // A node of another process gets its row in the transaction that stores
            // the choice; one of this process, a message once it is stored.
            let local = s.shared.nodes.get(&pool.node);
            let queued = local.is_none().then(|| (pool.node.clone(), work.clone()));
            let (id, host, stored) = (s.msg.volume_id.to_string(), pool.host.clone(), spec);
            s.shared
                .db
                .write(move |c| {
                    crate::db::volumes::set_scheduled(c, &id, &host, &stored)?;
                    if let Some((node, work)) = queued {
                        queue(c, &node, work)?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| match e {
                    DbError::Conflict => ServiceError::InvalidState(
                        "the volume is no longer waiting to be scheduled".into(),
                    ),
                    other => other.into(),
                })?;
            if let Some(node) = local {
                // `send`, not `try_send`: a full mailbox (16 queued) waits for room
                // rather than failing.
                node.deliver(work)
                    .await
                    .map_err(|e| ServiceError::Unavailable(format!("node {}: {e}", pool.node)))?;
            }
            s.placed = None;
            Ok(Some(detail))
        })
    }

    fn revert<'a>(&'a self, s: &'a mut ScheduleStore) -> crate::flow::RevertFuture<'a> {
        Box::pin(async move {
            if let Some((node, seq)) = s.placed.take() {
                s.book.borrow_mut().unplace(&node, seq);
            }
        })
    }
}

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
