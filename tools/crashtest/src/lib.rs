//! `clinker-crashtest`: the fault-injection harness. It runs the real `clinker` binary
//! on a file node in a scratch directory, drives a mixed load from several clients,
//! kills the server with SIGKILL at a random moment, starts it again, and once recovery
//! had a bounded time to finish checks what must hold after any crash:
//!
//! - no volume or snapshot is left in a transitional state (`stuck`);
//! - every volume file and snapshot file has its row, and no temp file is left
//!   (`orphans`); every available or attached volume has its file with the row's size
//!   (`backing`);
//! - each project's quota `in_use` equals the sum over its volumes and snapshots
//!   (`quota drift`);
//! - no volume is exported unless an attachment holds it (`stale exports`).
//!
//! With `--fail VERB` it runs a `fake` node instead, whose driver fails that verb (every
//! call, or every N-th with `--fail-every N`), and checks the same invariants without
//! kills, plus that every volume or snapshot in an error state carries a user message.
//!
//! `tools/crashtest/tests/crash_harness.rs` runs it in a bounded form on SQLite and
//! PostgreSQL; run `clinker-crashtest --rounds 500` for a long one.

pub mod check;
pub mod cluster;
pub mod http;
pub mod load;

use std::fmt;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use self::check::{Findings, Snapshot};
use self::http::Client;
use self::load::{LoadStats, Worker};

/// Options of `clinker-crashtest`.
#[derive(Debug, Clone, clap::Args)]
pub struct CrashOptions {
    /// Kill-and-recover rounds.
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Concurrent clients (spread over two projects).
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// PostgreSQL URL of an empty database; default a SQLite file in the scratch
    /// directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Seed of the random choices (default: from the clock); printed, so a failing run
    /// can be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Longest load before a kill, in milliseconds (the kill comes at a random moment
    /// up to this).
    #[arg(long, default_value_t = 700)]
    pub max_load_ms: u64,
    /// How long recovery may take before what is still transitional counts as stuck,
    /// in seconds.
    #[arg(long, default_value_t = 30)]
    pub settle_seconds: u64,
    /// Scratch directory (default: a new one under the system temp dir, removed after
    /// a clean run).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// The `clinker` binary to run (default: the `clinker` beside this program, as
    /// `cargo build --workspace` and an install both leave it).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Instead of kills: a `fake` node whose driver fails calls of this verb (`create_volume`, `delete_volume`, `extend_volume`, `create_snapshot`,
    /// `delete_snapshot`, `create_volume_from_snapshot`, `revert_to_snapshot`,
    /// `initialize_connection`, `terminate_connection`).
    #[arg(long)]
    pub fail: Option<String>,
    /// With `--fail`: fail every N-th call of the verb (1: every call).
    #[arg(long, default_value_t = 1)]
    pub fail_every: u32,
}

impl Default for CrashOptions {
    fn default() -> Self {
        Self {
            rounds: 20,
            clients: 4,
            database_url: None,
            seed: None,
            max_load_ms: 700,
            settle_seconds: 30,
            work_dir: None,
            binary: None,
            fail: None,
            fail_every: 1,
        }
    }
}

/// What a run found, summed over its rounds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Rounds run.
    pub rounds: u32,
    /// Volumes or snapshots still transitional after the settle time.
    pub stuck: usize,
    /// Files with no row, leftover temp files.
    pub orphans: usize,
    /// Rows without their file, or with a file of the wrong size.
    pub backing: usize,
    /// Quota figures that differ from the resources.
    pub quota_drift: usize,
    /// Exports of volumes no attachment holds.
    pub stale_exports: usize,
    /// Error states without a user message.
    pub unexplained: usize,
    /// 5xx answers seen while the server was up.
    pub server_errors: u64,
    /// Calls answered 2xx over the run.
    pub calls_ok: u64,
    /// The run made a driver verb fail on purpose (`--fail`).
    pub failures_injected: bool,
    /// Volumes and snapshots found in an error state at the checks (summed over
    /// rounds).
    pub error_states: usize,
    /// User messages at the last check (with `--fail`, the proof that the failures
    /// took effect: they outlive the volumes the load deletes).
    pub messages: usize,
    /// The first findings, to show what went wrong.
    pub examples: Vec<String>,
}

impl Summary {
    /// Whether every invariant held in every round. 5xx answers count too, unless
    /// `failures_injected` (a failing `initialize_connection` is a 500 in Cinder too).
    pub fn clean(&self) -> bool {
        self.stuck
            + self.orphans
            + self.backing
            + self.quota_drift
            + self.stale_exports
            + self.unexplained
            == 0
            && (self.server_errors == 0 || self.failures_injected)
    }

    fn add(&mut self, round: u32, f: &Findings) {
        self.stuck += f.stuck.len();
        self.orphans += f.orphans.len();
        self.backing += f.backing.len();
        self.quota_drift += f.quota.len();
        self.stale_exports += f.exports.len();
        self.unexplained += f.unexplained.len();
        for line in f.all() {
            if self.examples.len() < 20 {
                self.examples.push(format!("round {round}: {line}"));
            }
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rounds: {}, stuck: {}, orphans: {}, backing: {}, quota drift: {}, stale exports: {}, unexplained errors: {}, server errors: {}, calls ok: {}, error states: {}, user messages: {}",
            self.rounds,
            self.stuck,
            self.orphans,
            self.backing,
            self.quota_drift,
            self.stale_exports,
            self.unexplained,
            self.server_errors,
            self.calls_ok,
            self.error_states,
            self.messages
        )
    }
}

/// Why the harness itself could not run (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);

impl From<std::io::Error> for HarnessError {
    fn from(e: std::io::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<String> for HarnessError {
    fn from(e: String) -> Self {
        Self(e)
    }
}

/// The server under test: a child process, killed with SIGKILL when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(binary: &Path, dir: &Path, config: &Path, db: &str) -> Result<Server, HarnessError> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join("server.log");
        let out = File::options().create(true).append(true).open(&log)?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(dir)
            .arg("--database-url")
            .arg(db)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("CLINKER_CONFIG")
            .env_remove("CLINKER_DATABASE_URL")
            .env_remove("CLINKER_LISTEN")
            .env_remove("CLINKER_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .map_err(|e| HarnessError(format!("cannot start {}: {e}", binary.display())))?;
        let mut server = Server { child, port, log };
        let probe = http::Probe::new(port, Duration::from_secs(5))?;
        let start = Instant::now();
        loop {
            if probe.serving() {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                return Err(HarnessError(format!(
                    "the server exited ({status}) at start:\n{}",
                    server.log_tail()
                )));
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(HarnessError(format!(
                    "the server did not answer within 60 s:\n{}",
                    server.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) -> Result<(), HarnessError> {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGKILL).map_err(|e| HarnessError(format!("kill: {e}")))?;
        self.child.wait()?;
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The two projects the clients share.
const PROJECTS: [&str; 2] = [
    "c7a5e0000000400080000000000000a1",
    "c7a5e0000000400080000000000000b2",
];

fn config_text(fail: Option<&str>, fail_every: u32, nbd_port: u16) -> String {
    let node = match fail {
        Some(verb) => format!(
            "[[nodes]]\nname = \"crash\"\ndriver = \"fake\"\n[nodes.driver_options]\nfail = [\"{verb}\"]\nfail_every = {fail_every}\n"
        ),
        None => format!(
            "[[nodes]]\nname = \"crash\"\ndriver = \"file\"\n[nodes.driver_options]\npath = \"volumes\"\ntarget = \"nbd\"\nnbd_port_min = {nbd_port}\nnbd_port_max = {}\n",
            nbd_port + 199
        ),
    };
    format!(
        "admin_users = [\"admin\"]\n[quota]\nvolumes = 60\ngigabytes = 1000\nsnapshots = 60\n[scheduler]\nstats_interval_seconds = 2\n{node}"
    )
}

/// Runs the harness and returns what it found; `Err` only if it could not run.
pub fn run(opts: &CrashOptions) -> Result<Summary, HarnessError> {
    let binary = match &opts.binary {
        Some(b) => b.clone(),
        None => controller_beside(&std::env::current_exe()?)?,
    };
    let scratch = match &opts.work_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Scratch::Kept(d.clone())
        }
        None => Scratch::new()?,
    };
    let dir = scratch.path().to_path_buf();
    let seed = opts.seed.unwrap_or_else(clock_seed);
    println!("crashtest: seed {seed}, directory {}", dir.display());
    let mut rng = fastrand::Rng::with_seed(seed);
    let nbd_port = 20000 + rng.u16(..200) * 200;
    let config = dir.join("clinker.toml");
    std::fs::write(
        &config,
        config_text(opts.fail.as_deref(), opts.fail_every.max(1), nbd_port),
    )?;
    let db = opts
        .database_url
        .clone()
        .unwrap_or_else(|| dir.join("clinker.db").display().to_string());
    let mut summary = Summary {
        failures_injected: opts.fail.is_some(),
        ..Summary::default()
    };
    let mut server = Server::start(&binary, &dir, &config, &db)?;
    for round in 1..=opts.rounds.max(1) {
        let stats = Arc::new(LoadStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(opts.clients.max(1));
        for i in 0..opts.clients.max(1) {
            let worker = Worker {
                client: Client::new(server.port, PROJECTS[i % PROJECTS.len()])?,
                rng: rng.fork(),
                stats: stats.clone(),
                stop: stop.clone(),
                max_volumes: 12,
                legacy_attach: true,
            };
            workers.push(std::thread::spawn(move || worker.run()));
        }
        // Kills come at a random moment; failure runs (no kill) load for the full time.
        let load_ms = match opts.fail {
            Some(_) => opts.max_load_ms,
            None => 50 + rng.u64(..opts.max_load_ms.max(51) - 50),
        };
        std::thread::sleep(Duration::from_millis(load_ms));
        if opts.fail.is_none() {
            server.kill()?;
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join()
                .map_err(|_| HarnessError("a client thread panicked".into()))?;
        }
        summary.calls_ok += stats.ok.load(Ordering::Relaxed);
        summary.server_errors += stats.server_errors.load(Ordering::Relaxed);
        if opts.fail.is_none() {
            drop(server);
            server = Server::start(&binary, &dir, &config, &db)?;
        }
        let found = inspect(opts, &server, &dir, &mut summary).map_err(|e| {
            HarnessError(format!(
                "round {round}: {e}\nserver log:\n{}",
                server.log_tail()
            ))
        })?;
        summary.rounds = round;
        summary.add(round, &found);
        if !found.clean() {
            eprintln!(
                "crashtest: round {round} found problems; server log:\n{}",
                server.log_tail()
            );
        }
    }
    drop(server);
    stop_leftover_exports(&dir);
    if summary.clean() {
        scratch.remove();
    } else {
        println!(
            "crashtest: the scratch directory is kept: {}",
            dir.display()
        );
    }
    Ok(summary)
}

/// A seed from the clock, for a run given none.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// The `clinker` binary next to `exe`, or next to the directory holding it (cargo puts
/// test executables in `target/<profile>/deps/`, its binaries one level up).
pub fn controller_beside(exe: &Path) -> Result<PathBuf, HarnessError> {
    let dir = exe.parent().unwrap_or(Path::new("."));
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join("clinker"))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            HarnessError(format!(
                "no clinker binary beside {}: build it (cargo build --workspace) or pass --binary",
                exe.display()
            ))
        })
}

/// Lets recovery finish, then checks every invariant once.
fn inspect(
    opts: &CrashOptions,
    server: &Server,
    dir: &Path,
    summary: &mut Summary,
) -> Result<Findings, String> {
    let admin = Client::new(server.port, PROJECTS[0])?;
    let state = check::settle(&admin, Duration::from_secs(opts.settle_seconds))?;
    summary.error_states += state.in_error();
    let found = Findings {
        stuck: state.unsettled(),
        ..Findings::default()
    };
    finish(opts, &admin, dir, state, found, summary)
}

fn finish(
    opts: &CrashOptions,
    admin: &Client,
    dir: &Path,
    state: Snapshot,
    mut found: Findings,
    summary: &mut Summary,
) -> Result<Findings, String> {
    let projects: Vec<String> = PROJECTS.iter().map(|p| p.to_string()).collect();
    check::check_quota(admin, &projects, &state, &mut found)?;
    if opts.fail.is_some() {
        summary.messages = check::check_messages(admin, &state, &mut found)?;
    } else {
        check::check_files(&dir.join("volumes"), &state, &mut found)?;
        check::check_exports(&dir.join("targets").join("crash"), &state, &mut found)?;
    }
    Ok(found)
}

/// Stops the `qemu-nbd` servers the NBD target left running (they outlive the server
/// by design, so a restarted node keeps serving its consumers).
fn stop_leftover_exports(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir.join("targets").join("crash")) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "pid")
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(pid) = text.trim().parse::<i32>()
            && std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("qemu-nbd") && c.contains(&dir.display().to_string()))
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// The scratch directory: made here and removed after a clean run, or given.
enum Scratch {
    Made(PathBuf),
    Kept(PathBuf),
}

impl Scratch {
    fn new() -> Result<Scratch, HarnessError> {
        let dir = std::env::temp_dir().join(format!("clinker-crashtest-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch::Made(dir))
    }

    fn path(&self) -> &Path {
        match self {
            Scratch::Made(p) | Scratch::Kept(p) => p,
        }
    }

    fn remove(self) {
        if let Scratch::Made(p) = self {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// `clinker-crashtest`: prints the summary line; exits 1 if any invariant broke.
pub fn cli(opts: CrashOptions) -> ExitCode {
    match run(&opts) {
        Ok(summary) => {
            println!("{summary}");
            for e in &summary.examples {
                println!("  {e}");
            }
            if summary.clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("crashtest: {e}");
            ExitCode::from(2)
        }
    }
}
