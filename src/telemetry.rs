//! Prometheus metrics: the names, the recording helpers, and the recorder `main` installs.
//!
//! Recording goes through the `metrics` facade, whose macros do nothing until a recorder
//! is installed. Only `main` installs one (once, process-wide); tests and benchmarks run
//! without, so they never share metric state. `docs/metrics.md` lists every name.

use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::drivers::BackendStats;
use crate::scheduler::Decision;

/// HTTP requests answered, by method, route pattern and status.
pub const HTTP_REQUESTS: &str = "clinker_http_requests_total";
/// HTTP request latency in seconds, by method, route pattern and status.
pub const HTTP_DURATION: &str = "clinker_http_request_duration_seconds";
/// Flow run duration in seconds, by flow and outcome.
pub const FLOW_DURATION: &str = "clinker_flow_duration_seconds";
/// Task `execute` duration in seconds, by flow, task and outcome.
pub const TASK_DURATION: &str = "clinker_flow_task_duration_seconds";
/// Scheduling decisions, by outcome (`placed`, `no_valid_backend`).
pub const SCHED_DECISIONS: &str = "clinker_scheduler_decisions_total";
/// Pools turned down, by filter.
pub const SCHED_REJECTIONS: &str = "clinker_scheduler_rejections_total";
/// Time to run filters and weighers over every pool, in seconds.
pub const SCHED_DECISION_DURATION: &str = "clinker_scheduler_decision_seconds";
/// Pools considered by the last decision.
pub const SCHED_POOLS: &str = "clinker_scheduler_pools";
/// Pool capacity in GiB as last reported, by node, pool and kind
/// (`total`, `free`, `allocated`, `provisioned`).
pub const POOL_CAPACITY: &str = "clinker_pool_capacity_gb";

/// Messages sent to an actor and not yet answered, by actor (`api`, `scheduler`,
/// `volume:<node>`).
pub const ACTOR_MAILBOX_DEPTH: &str = "clinker_actor_mailbox_depth";
/// Writes per group-commit transaction (SQLite or PostgreSQL).
pub const DB_GROUP_COMMIT_SIZE: &str = "clinker_db_group_commit_size";
/// Rows waiting in the outbox, by node (`@scheduler` for creates handed back), as a
/// controller last read them.
pub const OUTBOX_DEPTH: &str = "clinker_outbox_depth";

/// Seconds from a work row's insert to its claim by the node's holder (database clock),
/// by node: how long a cast waited in the outbox.
pub const OUTBOX_CLAIM_LATENCY: &str = "clinker_outbox_claim_latency_seconds";
/// Placements the capacity ledger refused (another scheduler filled the pool first), by
/// node.
pub const LEDGER_REFUSALS: &str = "clinker_scheduler_ledger_refusals_total";

/// A node's holder claimed queued work rows that waited `waited` seconds each.
pub fn outbox_claimed(node: &str, waited: &[f64]) {
    for w in waited {
        histogram!(OUTBOX_CLAIM_LATENCY, "node" => node.to_string()).record(w.max(0.0));
    }
}

/// The ledger refused a placement on `node`.
pub fn ledger_refused(node: &str) {
    counter!(LEDGER_REFUSALS, "node" => node.to_string()).increment(1);
}

/// Records the outbox's depth per node; a node with nothing queued reads 0.
pub fn outbox_depths(depths: &[(String, i64)], known: impl Iterator<Item = String>) {
    let mut all: std::collections::BTreeMap<String, f64> = known.map(|n| (n, 0.0)).collect();
    for (node, n) in depths {
        all.insert(node.clone(), *n as f64);
    }
    for (node, n) in all {
        metrics::gauge!(OUTBOX_DEPTH, "node" => node).set(n);
    }
}

/// Token validations that asked Keystone (cache misses), in seconds, by outcome
/// (`valid`, `invalid`, `unavailable`).
pub const KEYSTONE_VALIDATION: &str = "clinker_keystone_validation_seconds";
/// Token lookups in the validated-token cache, by `result` (`hit`, `miss`).
pub const KEYSTONE_CACHE: &str = "clinker_keystone_token_cache_total";

/// Buckets for [`DB_GROUP_COMMIT_SIZE`]: how many writes shared one transaction.
const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Histogram buckets for durations in seconds: 100 µs to 10 s.
const DURATION_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often histogram data is drained into the rendered form.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the whole process and starts its upkeep thread.
/// `None` when it cannot (a recorder is already installed): metrics are then not served,
/// and nothing else changes.
pub fn install() -> Option<PrometheusHandle> {
    let built = PrometheusBuilder::new()
        .set_buckets(&DURATION_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(DB_GROUP_COMMIT_SIZE.into()),
                &BATCH_BUCKETS,
            )
        })
        .and_then(PrometheusBuilder::install_recorder);
    match built {
        Ok(handle) => {
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread: histograms render on scrape only");
            }
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed; /metrics answers 404");
            None
        }
    }
}

/// `"success"` or `"failure"`.
pub fn outcome(ok: bool) -> &'static str {
    if ok { "success" } else { "failure" }
}

/// A flow run ended.
pub fn flow_finished(flow: &'static str, outcome: &'static str, took: Duration) {
    histogram!(FLOW_DURATION, "flow" => flow, "outcome" => outcome).record(took.as_secs_f64());
}

/// A task's `execute` ended.
pub fn task_finished(
    flow: &'static str,
    task: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    histogram!(TASK_DURATION, "flow" => flow, "task" => task, "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// Backend objects no row names, found by a node's comparison with the database, by
/// node and what happened to them (`found`, `removed`).
pub const ORPHANS: &str = "clinker_orphan_backing_objects_total";
/// Rows whose backing object is missing (put in `error`), by node.
pub const MISSING_BACKING: &str = "clinker_missing_backing_total";

/// A node's comparison with the database found `found` orphans, removed `removed`, and
/// put `missing` rows whose backing is gone in `error`.
pub fn reconciled(node: &str, found: usize, removed: usize, missing: usize) {
    let node = node.to_string();
    counter!(ORPHANS, "node" => node.clone(), "outcome" => "found").increment(found as u64);
    counter!(ORPHANS, "node" => node.clone(), "outcome" => "removed").increment(removed as u64);
    counter!(MISSING_BACKING, "node" => node).increment(missing as u64);
}

/// The scheduler decided: counts the outcome and each pool's rejecting filter.
pub fn scheduler_decided(decision: &Decision, took: Duration) {
    let outcome = if decision.chosen.is_some() {
        "placed"
    } else {
        "no_valid_backend"
    };
    counter!(SCHED_DECISIONS, "outcome" => outcome).increment(1);
    histogram!(SCHED_DECISION_DURATION).record(took.as_secs_f64());
    gauge!(SCHED_POOLS).set(decision.evaluations.len() as f64);
    for e in &decision.evaluations {
        if let Some((filter, _)) = e.rejected_by() {
            counter!(SCHED_REJECTIONS, "filter" => filter).increment(1);
        }
    }
}

/// A node reported its capacity: one gauge per pool and figure. `infinite` and `unknown`
/// figures are left out.
pub fn node_reported(node: &str, stats: &BackendStats) {
    for p in &stats.pools {
        let figures = [
            ("total", p.total_capacity_gb.gb()),
            ("free", p.free_capacity_gb.gb()),
            ("allocated", Some(p.allocated_capacity_gb)),
            ("provisioned", Some(p.provisioned_capacity_gb)),
        ];
        for (kind, value) in figures {
            if let Some(v) = value {
                gauge!(POOL_CAPACITY, "node" => node.to_string(), "pool" => p.pool_name.clone(), "kind" => kind)
                    .set(v);
            }
        }
    }
}

/// Records one validation Keystone answered (or did not).
pub fn keystone_validation(outcome: &'static str, took: Duration) {
    histogram!(KEYSTONE_VALIDATION, "outcome" => outcome).record(took.as_secs_f64());
}

/// Records one lookup in the token cache.
pub fn keystone_cache(hit: bool) {
    counter!(KEYSTONE_CACHE, "result" => if hit { "hit" } else { "miss" }).increment(1);
}
