//! The cluster's processes: controllers (`clinker serve` with `nodes = []`) on loopback,
//! and storage agents (`clinker node`), each in its namespace or, as a standby taking a
//! node over, in the host's. Each is killed with SIGKILL when dropped, and continued
//! first if it was stopped.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::super::HarnessError;

/// How to start one process.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `serve` or `node`.
    pub verb: &'static str,
    /// The namespace to run it in (`ip netns exec`), or none for the host's.
    pub netns: Option<String>,
    /// The address it listens on.
    pub ip: Ipv4Addr,
    /// Its config file.
    pub config: PathBuf,
    /// Its data directory (its identity: a restart with the same one is the same
    /// instance restarted).
    pub data_dir: PathBuf,
    /// The database URL as this process reaches it.
    pub database_url: String,
}

/// A running process and where its log is.
pub struct Proc {
    child: Child,
    /// How it was started, to start it again.
    pub spec: Spec,
    /// The port it listens on.
    pub port: u16,
    log: PathBuf,
    stopped: bool,
}

/// A free port: bound on loopback and released, for a process to take at once.
fn free_port() -> Result<u16, HarnessError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Proc {
    /// Starts it and waits until it answers (`GET /` 300 for a controller, `/healthz` 200
    /// for an agent), 60 s at most.
    pub fn start(binary: &Path, spec: &Spec) -> Result<Proc, HarnessError> {
        std::fs::create_dir_all(&spec.data_dir)?;
        let port = free_port()?;
        let log = spec.data_dir.join("server.log");
        let out = File::options().create(true).append(true).open(&log)?;
        let mut cmd = match &spec.netns {
            // `ip netns exec` execs the program, so the child's pid is clinker's own and
            // signals reach it directly.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        cmd.arg(spec.verb)
            .arg("--config")
            .arg(&spec.config)
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .arg("--database-url")
            .arg(&spec.database_url)
            .arg("--listen")
            .arg(format!("{}:{port}", spec.ip))
            .env_remove("CLINKER_CONFIG")
            .env_remove("CLINKER_DATABASE_URL")
            .env_remove("CLINKER_LISTEN")
            .env_remove("CLINKER_DATA_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out);
        let child = cmd
            .spawn()
            .map_err(|e| HarnessError(format!("cannot start {}: {e}", binary.display())))?;
        let mut proc = Proc {
            child,
            spec: spec.clone(),
            port,
            log,
            stopped: false,
        };
        proc.wait_ready()?;
        Ok(proc)
    }

    fn wait_ready(&mut self) -> Result<(), HarnessError> {
        let (path, want) = if self.spec.verb == "node" {
            ("/healthz", 200)
        } else {
            ("/", 300)
        };
        let url = format!("http://{}:{}{path}", self.spec.ip, self.port);
        let http = reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| HarnessError(e.to_string()))?;
        let start = Instant::now();
        loop {
            if http
                .get(&url)
                .send()
                .is_ok_and(|r| r.status().as_u16() == want)
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(HarnessError(format!(
                    "{} exited ({status}) at start:\n{}",
                    self.name(),
                    self.log_tail()
                )));
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(HarnessError(format!(
                    "{} did not answer within 60 s:\n{}",
                    self.name(),
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `serve`/`node` and its data directory, for messages.
    pub fn name(&self) -> String {
        format!(
            "clinker {} ({})",
            self.spec.verb,
            self.spec.data_dir.display()
        )
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig`.
    pub fn signal(&mut self, sig: Signal) -> Result<(), HarnessError> {
        kill(Pid::from_raw(self.pid()), sig)
            .map_err(|e| HarnessError(format!("kill -{sig} {}: {e}", self.name())))?;
        match sig {
            Signal::SIGSTOP => self.stopped = true,
            Signal::SIGCONT => self.stopped = false,
            _ => {}
        }
        Ok(())
    }

    /// SIGKILL, and reaped.
    pub fn kill(&mut self) -> Result<(), HarnessError> {
        self.signal(Signal::SIGKILL)?;
        self.child.wait()?;
        Ok(())
    }

    /// Waits up to `limit` for it to exit on its own; its exit status if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<Option<String>, HarnessError> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status.to_string()));
            }
            if start.elapsed() > limit {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.stopped {
            let _ = kill(Pid::from_raw(self.pid()), Signal::SIGCONT);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
