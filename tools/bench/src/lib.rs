//! `clinker-bench`: a load generator that drives a running Clinker over HTTP exactly as
//! a client would, and reports latency percentiles, throughput and the server's cost.
//!
//! A run: N creates at concurrency C in a fresh project; wait until every volume is
//! `available` (listing `volumes/detail` page by page, never one GET per volume); the
//! lists (full detail paging with `limit=1000`, the first page repeated, full summary
//! paging with `limit=100`); N deletes at concurrency C; wait until the list is empty.
//!
//! The server must not limit the project: run it with `[quota] volumes = -1` and
//! `gigabytes = -1` (`examples/bench-fake.toml`, `examples/bench-file.toml`).

pub mod client;
pub mod procstat;
pub mod report;
pub mod seed;

mod run;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use self::client::Api;
use self::procstat::Target;
use self::report::{BenchReport, Latencies};

/// What went wrong in a load run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The server answered with an unexpected status.
    #[error("{call} answered {status}: {body}")]
    Http {
        /// The call, e.g. `POST volumes`.
        call: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No answer: connection refused, timeout, unreadable body.
    #[error("{0}")]
    Transport(String),
    /// `/proc` could not be read.
    #[error("{0}")]
    Proc(String),
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
    /// The report could not be written.
    #[error("{0}")]
    Io(String),
}

/// Options of `clinker-bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchOptions {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8776")]
    pub url: String,
    /// More servers of the same cluster (repeatable): creates and deletes go round-robin
    /// over `--url` and these, as behind a load balancer; lists and waits ask `--url`.
    #[arg(long = "also-url")]
    pub also_url: Vec<String>,
    /// Volumes to create (and delete) in the measured phase.
    #[arg(short = 'n', long = "number", default_value_t = 1000)]
    pub n: usize,
    /// Requests in flight at once.
    #[arg(short = 'c', long, default_value_t = 16)]
    pub concurrency: usize,
    /// Size of each volume in GiB.
    #[arg(long, default_value_t = 1)]
    pub size: u64,
    /// Project id (hex or UUID). Default: a fresh random one. Required with `--token`:
    /// the token's own project.
    #[arg(long)]
    pub project: Option<String>,
    /// The `X-Auth-Token` to send, e.g. a Keystone token (`openstack token issue`) for a
    /// server with `auth_strategy = "keystone"`; also from env `CLINKER_BENCH_TOKEN`, which
    /// keeps it out of the process list. Default: the noauth token `admin:<project>`.
    #[arg(long, env = "CLINKER_BENCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The server's pid, to report its CPU seconds per volume and peak RSS from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Leave the volumes in place (no delete phase).
    #[arg(long)]
    pub skip_delete: bool,
    /// Only measure the lists: no measured create phase (see `--preload`).
    #[arg(long)]
    pub list_only: bool,
    /// Create this many volumes first (through the API, at the same concurrency) and wait
    /// until they are available; they are listed, and deleted unless `--skip-delete`.
    #[arg(long, default_value_t = 0)]
    pub preload: usize,
    /// With `--preload`: write the preloaded volumes straight into the server's database
    /// (a SQLite path or postgres:// URL) instead of creating them through the API.
    #[arg(long)]
    pub seed_db: Option<String>,
    /// How many times the first `volumes/detail?limit=1000` page is fetched.
    #[arg(long, default_value_t = 10)]
    pub list_repeat: usize,
    /// Seconds to wait for volumes to become available, or to go, before giving up.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Seconds before one HTTP request is abandoned.
    #[arg(long, default_value_t = 60)]
    pub request_timeout: u64,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

impl BenchOptions {
    /// The defaults, against `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            also_url: Vec::new(),
            n: 1000,
            concurrency: 16,
            size: 1,
            project: None,
            token: None,
            pid: None,
            json: None,
            skip_delete: false,
            list_only: false,
            preload: 0,
            seed_db: None,
            list_repeat: 10,
            timeout: 600,
            request_timeout: 60,
            no_progress: false,
        }
    }
}

/// The calls latency is kept for, as named in the report.
const CALLS: [&str; 9] = [
    "preload_create",
    "create",
    "wait_list_detail_1000",
    "list_detail_1000",
    "list_detail_1000_first",
    "list_summary_100",
    "delete",
    "gone_list_1000",
    "preload_wait_list_detail_1000",
];

/// Runs `clinker-bench`: prints the report, writes `--json`, and fails unless every
/// volume was created, became available and (unless skipped) went away.
pub fn cli(opts: BenchOptions) -> ExitCode {
    let report = match actix_rt::System::new().block_on(run(&opts)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("clinker-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.render());
    if let Some(path) = &opts.json {
        let written = serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(path, j + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("clinker-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One load run against a running server. Call it on an actix system (the HTTP client is
/// not `Send`); [`cli`] does.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    let project = match &opts.project {
        Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit() || c == '-') => {
            p.to_ascii_lowercase()
        }
        Some(p) => return Err(BenchError::Invalid(format!("project '{p}' is not hex"))),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    if opts.token.is_some() && opts.project.is_none() {
        return Err(BenchError::Invalid(
            "--token needs --project: the token's project".into(),
        ));
    }
    if opts.concurrency == 0 {
        return Err(BenchError::Invalid("concurrency must be at least 1".into()));
    }
    let api = Api::new(
        &opts.url,
        &opts.also_url,
        &project,
        opts.token.as_deref(),
        opts.concurrency + 2,
        Duration::from_secs(opts.request_timeout.max(1)),
    );
    api.version().await?;
    let mut latencies = BTreeMap::new();
    for call in CALLS {
        latencies.insert(call, Latencies::new()?);
    }
    let runner = run::Runner {
        opts,
        api,
        latencies: RefCell::new(latencies),
        errors: RefCell::new(Vec::new()),
        server: opts.pid.map(Target::Pid),
        show_progress: !opts.no_progress && std::io::stderr().is_terminal(),
    };
    let started_at = chrono::Utc::now().to_rfc3339();
    runner.go(project, started_at).await
}
