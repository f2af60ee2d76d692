//! What a cluster round checks once every owner is back, and the run's tally.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::procs::Proc;
use super::rows::{NodeClaim, Rows};
use super::{Cluster, ClusterOptions, Fault, node_name};
use crate::PROJECTS;
use crate::check::{self, Findings, Snapshot};
use crate::load::LoadStats;

/// What one round found; each entry says what is wrong.
#[derive(Debug, Default)]
pub struct ClusterFindings {
    /// The single-process invariants: stuck, orphans, backing, quota, unexplained errors.
    pub base: Findings,
    /// Creates answered 202 whose volume is gone though no client asked to delete it.
    pub lost: Vec<String>,
    /// Volumes whose file is on more than one node.
    pub twice: Vec<String>,
    /// Pools holding more than they may.
    pub capacity: Vec<String>,
    /// Reservations whose maker is dead.
    pub reservations: Vec<String>,
    /// Work or calls still queued once everything settled.
    pub queued: Vec<String>,
    /// Nodes not held by their agent, epochs gone back, owners that did not come back,
    /// processes that exited on their own.
    pub owners: Vec<String>,
    /// Rows a stale agent changed, or a stale agent that did not go away.
    pub stale: Vec<String>,
}

impl ClusterFindings {
    fn groups(&self) -> [(&'static str, usize); 12] {
        let b = &self.base;
        [
            ("stuck", b.stuck.len()),
            ("lost creates", self.lost.len()),
            ("created twice", self.twice.len()),
            ("orphans", b.orphans.len()),
            ("backing", b.backing.len()),
            ("over capacity", self.capacity.len()),
            ("quota drift", b.quota.len()),
            ("dead reservations", self.reservations.len()),
            ("queued", self.queued.len()),
            ("owners", self.owners.len()),
            ("stale writes", self.stale.len()),
            ("unexplained errors", b.unexplained.len()),
        ]
    }

    /// Every finding.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.base
            .all()
            .chain(&self.lost)
            .chain(&self.twice)
            .chain(&self.capacity)
            .chain(&self.reservations)
            .chain(&self.queued)
            .chain(&self.owners)
            .chain(&self.stale)
    }

    /// Whether nothing is wrong.
    pub fn clean(&self) -> bool {
        self.all().next().is_none()
    }

    /// One line of counts.
    pub fn line(&self) -> String {
        self.groups()
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a cluster run found, summed over its rounds.
#[derive(Debug, Default, Clone)]
pub struct ClusterSummary {
    /// Rounds run.
    pub rounds: u32,
    /// Rounds of each fault.
    pub faults: BTreeMap<&'static str, u32>,
    /// Each kind of finding, summed over the rounds.
    pub counts: BTreeMap<&'static str, usize>,
    /// 5xx answers other than 503 (a 503 is a node whose agent is down, as documented).
    pub server_errors: u64,
    /// 503 answers.
    pub unavailable: u64,
    /// Calls answered 2xx.
    pub calls_ok: u64,
    /// Creates answered 202.
    pub accepted: usize,
    /// The first findings, to show what went wrong.
    pub examples: Vec<String>,
}

impl ClusterSummary {
    /// Adds a round's findings.
    pub fn add(&mut self, round: u32, fault: Fault, found: &ClusterFindings) {
        self.rounds = round;
        *self.faults.entry(fault.as_str()).or_default() += 1;
        for (k, n) in found.groups() {
            *self.counts.entry(k).or_default() += n;
        }
        for line in found.all() {
            if self.examples.len() < 30 {
                self.examples
                    .push(format!("round {round} ({fault}): {line}"));
            }
        }
    }

    /// Takes the load's figures.
    pub fn load(&mut self, stats: &LoadStats) {
        let unavailable = stats.unavailable.load(Ordering::Relaxed);
        self.unavailable = unavailable;
        self.server_errors = stats
            .server_errors
            .load(Ordering::Relaxed)
            .saturating_sub(unavailable);
        self.calls_ok = stats.ok.load(Ordering::Relaxed);
        self.accepted = stats.accepted.lock().map(|a| a.len()).unwrap_or(0);
    }

    /// Whether every invariant held in every round and no call failed with a 5xx
    /// other than 503.
    pub fn clean(&self) -> bool {
        self.counts.values().sum::<usize>() == 0 && self.server_errors == 0
    }
}

impl fmt::Display for ClusterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        write!(f, "rounds: {} ({})", self.rounds, faults.join(", "))?;
        for (k, n) in &self.counts {
            write!(f, ", {k}: {n}")?;
        }
        write!(
            f,
            ", server errors: {}, unavailable (503): {}, calls ok: {}, creates accepted: {}",
            self.server_errors, self.unavailable, self.calls_ok, self.accepted
        )
    }
}

/// Lines in one list and not the other, each marked `-` (before) or `+` (after).
pub fn changed(before: &[String], after: &[String]) -> Vec<String> {
    let (b, a): (BTreeSet<&String>, BTreeSet<&String>) =
        (before.iter().collect(), after.iter().collect());
    b.difference(&a)
        .map(|l| format!("- {l}"))
        .chain(a.difference(&b).map(|l| format!("+ {l}")))
        .collect()
}

/// Waits for every owner, then checks everything once.
pub fn check_round(
    cluster: &mut Cluster,
    stats: &LoadStats,
    rows: &mut Rows,
    epochs: &mut BTreeMap<String, NodeClaim>,
    opts: &ClusterOptions,
    found: &mut ClusterFindings,
) -> Result<(), String> {
    owners_back(cluster, found)?;
    let admin = cluster.admin().map_err(|e| e.0)?;
    let state = check::settle(&admin, Duration::from_secs(opts.settle_seconds))?;
    found.base.stuck = state.unsettled();
    let projects: Vec<String> = PROJECTS.iter().map(|p| p.to_string()).collect();
    check::check_quota(&admin, &projects, &state, &mut found.base)?;
    check::check_messages(&admin, &state, &mut found.base)?;
    check_nodes(cluster, opts, &state, found)?;
    check_accepted(stats, &state, found);
    rows.ping().or_else(|_| {
        *rows = Rows::connect(&cluster.url)?;
        Ok::<_, String>(())
    })?;
    found.reservations = rows.orphan_reservations()?;
    found.queued = rows.queued()?;
    check_claims(cluster, rows, epochs, found)
}

/// Every process still running (one that exited on its own is a finding, and is
/// started again so the next rounds have their cluster), and every node up as the
/// controllers see it.
fn owners_back(cluster: &mut Cluster, found: &mut ClusterFindings) -> Result<(), String> {
    let binary = cluster.binary.clone();
    for p in cluster.controllers.iter_mut().chain(&mut cluster.agents) {
        if !p.running() {
            found.owners.push(format!(
                "{} (pid {}) exited on its own:\n{}",
                p.name(),
                p.pid(),
                p.log_tail()
            ));
            *p = Proc::start(&binary, &p.spec.clone()).map_err(|e| e.0)?;
        }
    }
    let admin = cluster.admin().map_err(|e| e.0)?;
    let start = Instant::now();
    loop {
        let a = admin.get("/os-services?binary=cinder-volume")?;
        let services = a.body["services"].as_array().cloned().unwrap_or_default();
        let down: Vec<String> = (0..cluster.agents.len())
            .map(node_name)
            .filter(|n| {
                !services.iter().any(|s| {
                    s["host"]
                        .as_str()
                        .is_some_and(|h| h.starts_with(&format!("{n}@")))
                        && s["state"] == "up"
                })
            })
            .collect();
        if down.is_empty() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            found
                .owners
                .push(format!("nodes not up 30 s after the round: {down:?}"));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Per node: its files against its rows, volumes on two nodes, and its pool's limit.
fn check_nodes(
    cluster: &Cluster,
    opts: &ClusterOptions,
    state: &Snapshot,
    found: &mut ClusterFindings,
) -> Result<(), String> {
    let host_of: BTreeMap<&str, &str> = state
        .volumes
        .iter()
        .map(|v| (str_of(v, "id"), str_of(v, "os-vol-host-attr:host")))
        .collect();
    let mut homes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..cluster.agents.len() {
        let node = node_name(i);
        let on_node = |host: &str| host.starts_with(&format!("{node}@"));
        let mine = Snapshot {
            volumes: state
                .volumes
                .iter()
                .filter(|v| on_node(str_of(v, "os-vol-host-attr:host")))
                .cloned()
                .collect(),
            snapshots: state
                .snapshots
                .iter()
                .filter(|s| on_node(host_of.get(str_of(s, "volume_id")).copied().unwrap_or("")))
                .cloned()
                .collect(),
            attachments: Vec::new(),
        };
        let dir = cluster.dir.join(format!("{node}-volumes"));
        let mut f = Findings::default();
        check::check_files(&dir, &mine, &mut f)?;
        found
            .base
            .orphans
            .extend(f.orphans.into_iter().map(|l| format!("{node}: {l}")));
        found
            .base
            .backing
            .extend(f.backing.into_iter().map(|l| format!("{node}: {l}")));
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with("volume-") {
                homes.entry(name).or_default().push(node.clone());
            }
        }
        if opts.pool_gb > 0 {
            // Thin, over-subscribed 10 times (the agents' config): what the scheduler may
            // place on the pool at most. A volume whose create failed holds nothing.
            let limit = i64::from(opts.pool_gb) * 10;
            let size = |r: &Value| r["size"].as_i64().unwrap_or(0);
            let held = |r: &&Value| str_of(r, "status") != "error";
            let used: i64 = mine.volumes.iter().filter(held).map(size).sum::<i64>()
                + mine.snapshots.iter().filter(held).map(size).sum::<i64>();
            if used > limit {
                found.capacity.push(format!(
                    "{node}: volumes and snapshots hold {used} GiB, the pool may hold {limit} GiB"
                ));
            }
        }
    }
    for (file, nodes) in homes {
        if nodes.len() > 1 {
            found.twice.push(format!("{file} is on {nodes:?}"));
        }
    }
    Ok(())
}

/// Every create answered 202 has its row, unless a client asked to delete it.
fn check_accepted(stats: &LoadStats, state: &Snapshot, found: &mut ClusterFindings) {
    let present: BTreeSet<&str> = state.volumes.iter().map(|v| str_of(v, "id")).collect();
    let (Ok(accepted), Ok(deleted)) = (stats.accepted.lock(), stats.delete_sent.lock()) else {
        return;
    };
    for id in accepted.iter() {
        if !present.contains(id.as_str()) && !deleted.contains(id) {
            found.lost.push(format!(
                "volume {id} was accepted (202) and is gone, never deleted"
            ));
        }
    }
}

/// Each node held by its slot's current agent, at an epoch never lower than before.
fn check_claims(
    cluster: &Cluster,
    rows: &mut Rows,
    epochs: &mut BTreeMap<String, NodeClaim>,
    found: &mut ClusterFindings,
) -> Result<(), String> {
    let now = rows.claims()?;
    for (i, agent) in cluster.agents.iter().enumerate() {
        let node = node_name(i);
        let Some(claim) = now.get(&node) else {
            found.owners.push(format!("{node} has no claim"));
            continue;
        };
        if claim.pid != i64::from(agent.pid()) {
            found.owners.push(format!(
                "{node} is held by instance {} (pid {}), its agent is pid {}",
                claim.holder,
                claim.pid,
                agent.pid()
            ));
        }
        if let Some(before) = epochs.get(&node)
            && claim.epoch < before.epoch
        {
            found.owners.push(format!(
                "{node}'s epoch went back from {} to {}",
                before.epoch, claim.epoch
            ));
        }
    }
    *epochs = now;
    Ok(())
}
