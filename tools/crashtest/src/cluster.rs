//! `clinker-crashtest cluster`: the fault rounds of a cluster. Several controllers
//! (`clinker serve` with `nodes = []`) and storage agents (`clinker node`, file nodes on
//! small tmpfs pools) run as separate processes on one PostgreSQL database, each agent in
//! a network namespace of its own, joined to the host by a veth pair (PostgreSQL reached
//! through a forwarder on the host end). Clients spread over the controllers drive a
//! mixed load, and each round injects one fault, in turn:
//!
//! - `kill-controller`: SIGKILL a controller, start it again;
//! - `kill-agent`: SIGKILL an agent, start it again;
//! - `stop-agent`: SIGSTOP an agent past its lease, let a standby (another process, on
//!   the host) take its node over, SIGCONT the old one;
//! - `partition`: take an agent's link down past its lease, let a standby take its node
//!   over, heal the link.
//!
//! After a stop or a partition the old agent, whose node now belongs to a newer epoch,
//! must exit without changing a row of that node; then the node goes back to an agent in
//! its namespace (the standby stopped cleanly). Once every owner is back, the round checks
//! the invariants ([`verdict`]).

mod net;
mod procs;
mod rows;
mod verdict;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::Signal;

use self::net::{Forwarder, Namespace, SmallPool};
use self::procs::{Proc, Spec};
use self::verdict::{ClusterFindings, ClusterSummary};
use super::http::Client;
use super::load::{LoadStats, Worker};
use super::{HarnessError, PROJECTS, controller_beside};

/// Options of `clinker-crashtest cluster`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterOptions {
    /// PostgreSQL URL of an empty database (the cluster needs PostgreSQL).
    #[arg(long)]
    pub database_url: String,
    /// Fault rounds; the faults come in turn (kill-controller, kill-agent, stop-agent,
    /// partition), so 4 runs each once.
    #[arg(long, default_value_t = 8)]
    pub rounds: u32,
    /// Controllers (`clinker serve`, `nodes = []`).
    #[arg(long, default_value_t = 3)]
    pub controllers: usize,
    /// Storage agents (`clinker node`), one node each, each in its own namespace.
    #[arg(long, default_value_t = 2)]
    pub agents: usize,
    /// Concurrent clients (spread over the controllers and two projects).
    #[arg(long, default_value_t = 6)]
    pub clients: usize,
    /// Longest load before the fault, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub max_load_ms: u64,
    /// `[cluster] lease_seconds` of every process (at least 3); a stop or a partition
    /// lasts past it.
    #[arg(long, default_value_t = 3)]
    pub lease_seconds: u64,
    /// Size of each node's pool (a tmpfs), in GiB; thin, over-subscribed 10 times.
    #[arg(long, default_value_t = 2)]
    pub pool_gb: u32,
    /// How long recovery may take before what is still transitional counts as stuck,
    /// in seconds.
    #[arg(long, default_value_t = 30)]
    pub settle_seconds: u64,
    /// Seed of the random choices (default: from the clock); printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scratch directory (default: a new one under the system temp dir, removed after
    /// a clean run).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// The `clinker` binary to run (default: the one beside this program).
    #[arg(long)]
    pub binary: Option<PathBuf>,
}

/// The faults, in the order the rounds take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL a controller and start it again.
    KillController,
    /// SIGKILL an agent and start it again.
    KillAgent,
    /// SIGSTOP an agent past its lease, take its node over, SIGCONT it.
    StopAgent,
    /// Take an agent's link down past its lease, take its node over, heal the link.
    Partition,
}

impl Fault {
    /// Every fault, in turn.
    pub const ALL: [Fault; 4] = [
        Fault::KillController,
        Fault::KillAgent,
        Fault::StopAgent,
        Fault::Partition,
    ];

    /// Its name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::KillController => "kill-controller",
            Fault::KillAgent => "kill-agent",
            Fault::StopAgent => "stop-agent",
            Fault::Partition => "partition",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The node of agent slot `i`.
fn node_name(i: usize) -> String {
    format!("node-{i}")
}

/// `url` with its host and port replaced by `addr`.
fn with_address(url: &str, addr: SocketAddr) -> Result<String, HarnessError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| HarnessError(format!("not a URL: {url}")))?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let user = match authority.rsplit_once('@') {
        Some((user, _)) => format!("{user}@"),
        None => String::new(),
    };
    Ok(format!("{scheme}://{user}{addr}{tail}"))
}

/// The PostgreSQL server's address in `url` (port 5432 if none is given).
fn server_address(url: &str) -> Result<SocketAddr, HarnessError> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| HarnessError(format!("not a URL: {url}")))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    host.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| HarnessError(format!("cannot resolve the database's host {host}")))
}

/// The cluster: its processes first, so they are killed before the network and pools
/// they use are taken away (fields drop in order).
struct Cluster {
    controllers: Vec<Proc>,
    agents: Vec<Proc>,
    forwarders: Vec<Forwarder>,
    pools: Vec<SmallPool>,
    namespaces: Vec<Namespace>,
    binary: PathBuf,
    dir: PathBuf,
    url: String,
    lease: Duration,
}

impl Cluster {
    fn start(
        opts: &ClusterOptions,
        dir: &Path,
        rng: &mut fastrand::Rng,
    ) -> Result<Cluster, HarnessError> {
        let binary = match &opts.binary {
            Some(b) => b.clone(),
            None => controller_beside(&std::env::current_exe()?)?,
        };
        let pg = server_address(&opts.database_url)?;
        let tag = format!("{:04x}", rng.u16(..));
        let mut cluster = Cluster {
            controllers: Vec::new(),
            agents: Vec::new(),
            forwarders: Vec::new(),
            pools: Vec::new(),
            namespaces: Vec::new(),
            binary,
            dir: dir.to_path_buf(),
            url: opts.database_url.clone(),
            lease: Duration::from_secs(opts.lease_seconds.max(3)),
        };
        cluster.namespaces = Namespace::make(&tag, opts.agents.max(1), rng.u8(..))?;
        let controller = dir.join("controller.toml");
        std::fs::write(&controller, controller_config(opts))?;
        for i in 0..cluster.namespaces.len() {
            let ns = &cluster.namespaces[i];
            let forwarder = Forwarder::start(SocketAddr::new(ns.host_ip.into(), 5432), pg)?;
            cluster.forwarders.push(forwarder);
            let volumes = dir.join(format!("{}-volumes", node_name(i)));
            if opts.pool_gb > 0 {
                cluster
                    .pools
                    .push(SmallPool::mount(&volumes, opts.pool_gb)?);
            }
            std::fs::write(
                cluster.agent_config(i),
                agent_config(opts, &node_name(i), &volumes),
            )?;
        }
        // Agents first: a controller that starts with no node reported has nowhere to
        // place, and the first creates would fail for nothing.
        for i in 0..cluster.namespaces.len() {
            let spec = cluster.agent_spec(i)?;
            cluster.agents.push(Proc::start(&cluster.binary, &spec)?);
        }
        for i in 0..opts.controllers.max(1) {
            let spec = Spec {
                verb: "serve",
                netns: None,
                ip: Ipv4Addr::LOCALHOST,
                config: controller.clone(),
                data_dir: dir.join(format!("controller-{i}")),
                database_url: cluster.url.clone(),
            };
            cluster
                .controllers
                .push(Proc::start(&cluster.binary, &spec)?);
        }
        Ok(cluster)
    }

    fn agent_config(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.toml", node_name(i)))
    }

    /// Slot `i`'s agent in its namespace, reaching PostgreSQL through the forwarder.
    fn agent_spec(&self, i: usize) -> Result<Spec, HarnessError> {
        let ns = &self.namespaces[i];
        Ok(Spec {
            verb: "node",
            netns: Some(ns.name.clone()),
            ip: ns.inner_ip,
            config: self.agent_config(i),
            data_dir: self.dir.join(format!("agent-{i}")),
            database_url: with_address(&self.url, SocketAddr::new(ns.host_ip.into(), 5432))?,
        })
    }

    /// A standby for slot `i` on the host: another instance (its own data directory),
    /// the same node and volumes.
    fn standby_spec(&self, i: usize, round: u32) -> Spec {
        Spec {
            verb: "node",
            netns: None,
            ip: Ipv4Addr::LOCALHOST,
            config: self.agent_config(i),
            data_dir: self.dir.join(format!("standby-{i}-{round}")),
            database_url: self.url.clone(),
        }
    }

    fn admin(&self) -> Result<Client, HarnessError> {
        let port = self.controllers.first().map(|c| c.port).unwrap_or(0);
        Ok(Client::new(port, PROJECTS[0])?)
    }

    /// Starts a standby for slot `i` once the stopped or cut-off agent's lease has
    /// lapsed and been swept; it may be refused a few times while the old holder still
    /// counts as live.
    fn take_over(&mut self, i: usize, round: u32) -> Result<Proc, HarnessError> {
        let spec = self.standby_spec(i, round);
        let mut last = None;
        for _ in 0..5 {
            match Proc::start(&self.binary, &spec) {
                Ok(p) => return Ok(p),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(self.lease / 3);
        }
        Err(last.unwrap_or_else(|| HarnessError("no standby started".into())))
    }

    /// Ends slot `i`'s stop or partition; an agent that exited meanwhile (its lease
    /// swept) is started again in its namespace.
    fn resume(&mut self, i: usize, fault: Fault) -> Result<(), HarnessError> {
        if fault == Fault::StopAgent {
            self.agents[i].signal(Signal::SIGCONT)?;
        } else {
            self.namespaces[i].set_link(true)?;
        }
        if self.agents[i].wait_exit(self.lease * 3)?.is_some() {
            let spec = self.agent_spec(i)?;
            self.agents[i] = Proc::start(&self.binary, &spec)?;
        }
        Ok(())
    }

    /// Hands slot `i`'s node from the standby back to an agent in its namespace: the
    /// standby stops cleanly (SIGTERM ends its lease), and the new agent claims the node.
    fn hand_back(&mut self, i: usize) -> Result<(), HarnessError> {
        self.agents[i].signal(Signal::SIGTERM)?;
        if self.agents[i].wait_exit(Duration::from_secs(30))?.is_none() {
            return Err(HarnessError(format!(
                "the standby of {} did not stop on SIGTERM:\n{}",
                node_name(i),
                self.agents[i].log_tail()
            )));
        }
        let spec = self.agent_spec(i)?;
        self.agents[i] = Proc::start(&self.binary, &spec)?;
        Ok(())
    }
}

fn controller_config(opts: &ClusterOptions) -> String {
    format!(
        "nodes = []\nadmin_users = [\"admin\"]\n\n[quota]\nvolumes = 60\ngigabytes = 1000\nsnapshots = 60\n\n\
         [scheduler]\nstats_interval_seconds = 1\n\n{}",
        cluster_section(opts)
    )
}

fn cluster_section(opts: &ClusterOptions) -> String {
    let lease = opts.lease_seconds.max(3);
    format!("[cluster]\nlease_seconds = {lease}\nnode_down_after_seconds = {lease}\n")
}

fn agent_config(opts: &ClusterOptions, node: &str, volumes: &Path) -> String {
    format!(
        "{}\n[scheduler]\nstats_interval_seconds = 1\n\n[[nodes]]\nname = \"{node}\"\n\
         driver = \"file\"\nmax_over_subscription_ratio = 10.0\n\
         [nodes.driver_options]\npath = \"{}\"\n",
        cluster_section(opts),
        volumes.display()
    )
}

/// The clients of a round, and how to stop them.
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(
        cluster: &Cluster,
        clients: usize,
        rng: &mut fastrand::Rng,
        stats: &Arc<LoadStats>,
    ) -> Result<Load, HarnessError> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for i in 0..clients.max(1) {
            let port = cluster.controllers[i % cluster.controllers.len()].port;
            let worker = Worker {
                client: Client::new(port, PROJECTS[i % PROJECTS.len()])?,
                rng: rng.fork(),
                stats: stats.clone(),
                stop: stop.clone(),
                max_volumes: 12,
                legacy_attach: false,
            };
            workers.push(std::thread::spawn(move || worker.run()));
        }
        Ok(Load { stop, workers })
    }

    fn finish(self) -> Result<(), HarnessError> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join()
                .map_err(|_| HarnessError("a client thread panicked".into()))?;
        }
        Ok(())
    }
}

/// What a stop or partition round leaves to check: the old agent, and its node's rows
/// as the standby left them.
struct Stale {
    slot: usize,
    old: Proc,
}

/// Runs the rounds and returns what they found; `Err` only if the harness could not run.
pub fn run(opts: &ClusterOptions) -> Result<ClusterSummary, HarnessError> {
    net::require_root()?;
    if !opts.database_url.starts_with("postgres") {
        return Err(HarnessError(
            "the cluster runs on PostgreSQL: pass --database-url postgres://…".into(),
        ));
    }
    let scratch = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            super::Scratch::Kept(d.clone())
        }
        None => super::Scratch::new()?,
    };
    let dir = scratch.path().to_path_buf();
    let seed = opts.seed.unwrap_or_else(super::clock_seed);
    println!(
        "crashtest cluster: seed {seed}, directory {}",
        dir.display()
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut cluster = Cluster::start(opts, &dir, &mut rng)?;
    let mut summary = ClusterSummary::default();
    let stats = Arc::new(LoadStats::default());
    let mut rows = rows::Rows::connect(&opts.database_url)?;
    let mut epochs = rows.claims()?;
    for round in 1..=opts.rounds.max(1) {
        let fault = Fault::ALL[((round - 1) % 4) as usize];
        let mut found = ClusterFindings::default();
        let outcome = run_round(
            opts,
            &mut cluster,
            &mut rng,
            &stats,
            fault,
            round,
            &mut found,
        )
        .and_then(|()| {
            verdict::check_round(
                &mut cluster,
                &stats,
                &mut rows,
                &mut epochs,
                opts,
                &mut found,
            )
            .map_err(HarnessError)
        });
        if let Err(e) = outcome {
            return Err(HarnessError(format!(
                "round {round} ({fault}): {e}\n{}",
                logs(&cluster)
            )));
        }
        summary.add(round, fault, &found);
        println!("round {round} ({fault}): {}", found.line());
        if !found.clean() {
            eprintln!(
                "round {round} ({fault}) found problems:\n{}",
                logs(&cluster)
            );
        }
    }
    summary.load(&stats);
    drop(cluster);
    if summary.clean() {
        scratch.remove();
    } else {
        println!(
            "crashtest cluster: the scratch directory is kept: {}",
            dir.display()
        );
    }
    Ok(summary)
}

fn logs(cluster: &Cluster) -> String {
    cluster
        .controllers
        .iter()
        .chain(&cluster.agents)
        .map(|p| format!("--- {} (pid {}):\n{}", p.name(), p.pid(), p.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_round(
    opts: &ClusterOptions,
    cluster: &mut Cluster,
    rng: &mut fastrand::Rng,
    stats: &Arc<LoadStats>,
    fault: Fault,
    round: u32,
    found: &mut ClusterFindings,
) -> Result<(), HarnessError> {
    let load = Load::start(cluster, opts.clients, rng, stats)?;
    std::thread::sleep(Duration::from_millis(
        100 + rng.u64(..opts.max_load_ms.max(101) - 100),
    ));
    let stale = match fault {
        Fault::KillController => {
            let i = rng.usize(..cluster.controllers.len());
            cluster.controllers[i].kill()?;
            std::thread::sleep(Duration::from_millis(rng.u64(..1000)));
            let spec = cluster.controllers[i].spec.clone();
            cluster.controllers[i] = Proc::start(&cluster.binary, &spec)?;
            None
        }
        Fault::KillAgent => {
            let i = rng.usize(..cluster.agents.len());
            cluster.agents[i].kill()?;
            std::thread::sleep(Duration::from_millis(rng.u64(..1000)));
            let spec = cluster.agents[i].spec.clone();
            cluster.agents[i] = Proc::start(&cluster.binary, &spec)?;
            None
        }
        Fault::StopAgent | Fault::Partition => {
            let i = rng.usize(..cluster.agents.len());
            if fault == Fault::StopAgent {
                cluster.agents[i].signal(Signal::SIGSTOP)?;
            } else {
                cluster.namespaces[i].set_link(false)?;
            }
            // Past the lease, and a renewal of the others to sweep it.
            std::thread::sleep(cluster.lease + cluster.lease / 2);
            match cluster.take_over(i, round) {
                Ok(standby) => {
                    let old = std::mem::replace(&mut cluster.agents[i], standby);
                    Some(Stale { slot: i, old })
                }
                Err(e) => {
                    found.owners.push(format!(
                        "no standby could take {} over while its agent was cut off: {e}",
                        node_name(i)
                    ));
                    cluster.resume(i, fault)?;
                    None
                }
            }
        }
    };
    // A little more load with the fault's aftermath, then quiet for the checks.
    std::thread::sleep(Duration::from_millis(rng.u64(..opts.max_load_ms.max(1))));
    load.finish()?;
    if let Some(stale) = stale {
        resume_stale(opts, cluster, fault, stale, found)?;
    }
    Ok(())
}

/// Lets the old agent of a stop or partition round run again once its node belongs to
/// the standby, and checks it changed no row of that node and went away; then hands the
/// node back to an agent in the slot's namespace.
fn resume_stale(
    opts: &ClusterOptions,
    cluster: &mut Cluster,
    fault: Fault,
    mut stale: Stale,
    found: &mut ClusterFindings,
) -> Result<(), HarnessError> {
    let i = stale.slot;
    let node = node_name(i);
    let admin = cluster.admin()?;
    // The standby settles the node first, so the rows stand still before the old agent
    // wakes.
    super::check::settle(&admin, Duration::from_secs(opts.settle_seconds))?;
    let mut rows = rows::Rows::connect(&cluster.url)?;
    let before = rows.node_rows(&node)?;
    if fault == Fault::StopAgent {
        stale.old.signal(Signal::SIGCONT)?;
    } else {
        cluster.namespaces[i].set_link(true)?;
    }
    // It learns at its next renewal that its lease was swept; a partitioned one may
    // first wait for TCP to retransmit.
    let limit = cluster.lease * 3 + Duration::from_secs(30);
    match stale.old.wait_exit(limit)? {
        Some(_) => {}
        None => found.stale.push(format!(
            "the old agent of {node} (pid {}) still runs {} s after its {fault} ended, its node held by another",
            stale.old.pid(),
            limit.as_secs()
        )),
    }
    let after = rows.node_rows(&node)?;
    for line in verdict::changed(&before, &after) {
        found.stale.push(format!(
            "{node} row changed while only the stale agent woke: {line}"
        ));
    }
    drop(stale);
    cluster.hand_back(i)
}

/// `clinker-crashtest cluster`: prints each round's line and the summary; exits 1 if
/// any invariant broke, 2 if the harness could not run.
pub fn cli(opts: &ClusterOptions) -> std::process::ExitCode {
    match run(opts) {
        Ok(summary) => {
            println!("{summary}");
            for e in &summary.examples {
                println!("  {e}");
            }
            if summary.clean() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("crashtest cluster: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
