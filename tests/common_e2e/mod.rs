//! Helpers for the tests that run the real `clinker` binary as a child process (the e2e,
//! iSCSI and browser tests; the tools' tests share its PostgreSQL part): starting it, the real python-cinderclient (`cinder`,
//! installed by `.ci/run` from `tests/requirements.txt`), a minimal HTTP client, a
//! PostgreSQL database per test, and tgtd for the tests exporting through it.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test file uses a different part of the helpers"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod pg;
pub use pg::PgDatabase;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The project every CLI call runs as (hex, as Cinder's routes need).
pub const PROJECT: &str = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";

/// The server process; killed when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How to start `clinker serve`: [`Server::builder`], then [`ServerBuilder::start`].
pub struct ServerBuilder<'a> {
    data_dir: &'a Path,
    database_url: Option<&'a str>,
    config: Option<&'a str>,
    rust_log: Option<&'a str>,
    agent: bool,
    env: Vec<(&'a str, &'a str)>,
}

impl<'a> ServerBuilder<'a> {
    /// `clinker node` (a storage agent, which answers only `GET /healthz`) instead of
    /// `clinker serve`.
    pub fn agent(mut self) -> Self {
        self.agent = true;
        self
    }

    /// The database (`--database-url`); SQLite in the data directory without it.
    pub fn database_url(mut self, url: Option<&'a str>) -> Self {
        self.database_url = url;
        self
    }

    /// The text of a TOML config file (`--config`); one file node without it.
    pub fn config(mut self, text: &'a str) -> Self {
        self.config = Some(text);
        self
    }

    /// The server's `RUST_LOG`. Without it the server inherits the test's own, so a
    /// failing test can be rerun with e.g. `RUST_LOG=debug cargo test --test …`.
    pub fn rust_log(mut self, filter: &'a str) -> Self {
        self.rust_log = Some(filter);
        self
    }

    /// One more environment variable for the server (`CLINKER_LISTEN` wins over
    /// `--listen`, so a test can move the address with it).
    pub fn env(mut self, key: &'a str, value: &'a str) -> Self {
        self.env.push((key, value));
        self
    }

    /// The command line, on `port`; its stderr (the log) goes to `server.log` in the data
    /// directory, its stdout to `server.out`. Answers the command and the log's path.
    fn command(&self, port: u16) -> Result<(Command, PathBuf), Box<dyn std::error::Error>> {
        let data_dir = self.data_dir;
        let log = data_dir.join("server.log");
        std::fs::create_dir_all(data_dir)?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinker"));
        cmd.arg(if self.agent { "node" } else { "serve" })
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("CLINKER_DATABASE_URL")
            .env_remove("CLINKER_LISTEN")
            .env_remove("CLINKER_DATA_DIR")
            .env_remove("CLINKER_CONFIG")
            .stdout(std::fs::File::create(log.with_file_name("server.out"))?)
            .stderr(std::fs::File::create(&log)?);
        if let Some(url) = self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(text) = self.config {
            let path = data_dir.join("clinker.toml");
            std::fs::write(&path, text)?;
            cmd.arg("--config").arg(path);
        }
        if let Some(filter) = self.rust_log {
            cmd.env("RUST_LOG", filter);
        }
        cmd.envs(self.env.iter().copied());
        Ok((cmd, log))
    }

    /// Runs it until it exits, for a server expected to refuse to start: answers its exit
    /// code and its log. One still running after `limit` is killed, and an error.
    pub fn run_to_exit(
        self,
        limit: Duration,
    ) -> Result<(Option<i32>, String), Box<dyn std::error::Error>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (mut cmd, log) = self.command(port)?;
        let mut child = cmd.spawn()?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok((status.code(), std::fs::read_to_string(&log)?));
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read_to_string(&log)?;
                return Err(format!("clinker did not stop: {text}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it on a free port and waits (30 s at most) until it answers `GET /`.
    /// Its stderr (the log) goes to `server.log` in the data directory, its stdout to
    /// `server.out`.
    pub fn start(self) -> Result<Server, Box<dyn std::error::Error>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (mut cmd, log) = self.command(port)?;
        let server = Server {
            child: cmd.spawn()?,
            port,
            log,
        };
        let (path, ready) = if self.agent {
            ("/healthz", 200)
        } else {
            ("/", 300)
        };
        let start = Instant::now();
        while http(port, "GET", path, None).map(|(s, _)| s) != Ok(ready) {
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("server did not answer: {}", server.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }
}

impl Server {
    /// Starts `clinker serve` on a free port with the default (one file node) config.
    pub fn start(
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        Self::builder(data_dir).database_url(database_url).start()
    }

    /// Starts `clinker serve` on a free port; `config` is the text of a TOML config file.
    pub fn start_with(
        data_dir: &Path,
        database_url: Option<&str>,
        config: Option<&str>,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        let mut builder = Self::builder(data_dir).database_url(database_url);
        builder.config = config;
        builder.start()
    }

    /// A server keeping its files in `data_dir`, to be set up and started.
    pub fn builder(data_dir: &Path) -> ServerBuilder<'_> {
        ServerBuilder {
            data_dir,
            database_url: None,
            config: None,
            rust_log: None,
            agent: false,
            env: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit code once it has exited on its own (`None` while it runs).
    pub fn exit_code(&mut self) -> Result<Option<Option<i32>>, std::io::Error> {
        Ok(self.child.try_wait()?.map(|s| s.code()))
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the process and waits for it (done again, harmlessly, when dropped).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// What the server wrote so far: its log (stderr), then its stdout.
    pub fn log_text(&self) -> String {
        [self.log.clone(), self.log.with_file_name("server.out")]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// Runs `cinder` in noauth mode against this server as `admin` of [`PROJECT`];
    /// answers whether it succeeded and its output (stdout then stderr).
    pub fn cinder(&self, args: &[&str]) -> Result<(bool, String), Box<dyn std::error::Error>> {
        let out = Command::new("cinder")
            .args([
                "--os-auth-type",
                "noauth",
                "--os-endpoint",
                &format!("http://127.0.0.1:{}/v3", self.port),
                "--os-user-id",
                "admin",
                "--os-project-id",
                PROJECT,
            ])
            .args(args)
            .output()
            .map_err(|e| {
                format!("cannot run `cinder` (python-cinderclient; .ci/run installs it): {e}")
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// [`Server::cinder`], failing the test (with the server's log) unless it succeeds.
    pub fn cinder_ok(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let (ok, out) = self.cinder(args)?;
        if !ok {
            return Err(format!(
                "cinder {} failed:\n{out}\nserver log:\n{}",
                args.join(" "),
                self.log_text()
            )
            .into());
        }
        Ok(out)
    }
}

/// Runs a Python client script from tests/clients with `args` (the scripts take the
/// endpoint and who to be); answers what it printed. The script fails (and so the test)
/// at its first wrong answer.
pub fn client_script(
    server: &Server,
    script: &str,
    args: &[&str],
) -> Result<String, Box<dyn std::error::Error>> {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "{script} failed (are the clients installed? .ci/run does): {text}\n{}",
            server.log_text()
        )
        .into());
    }
    Ok(text)
}

/// Every `ok <area>` line must be in a client script's output.
pub fn assert_areas(text: &str, areas: &[&str]) {
    for area in areas {
        assert!(
            text.lines().any(|l| l == format!("ok {area}")),
            "area {area} not reached: {text}"
        );
    }
}

/// A minimal HTTP/1.0 client for the checks the CLI does not show.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-Auth-Token", t)).into_iter().collect();
    http_request(port, method, path, &headers, None)
}

/// [`http`] with any headers and a body (sent with its `Content-Length`).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    write!(s, "{head}\r\n{}", body.unwrap_or_default()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {out:?}"))?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of a `| key | value |` row of cinderclient's table output.
pub fn field(table: &str, key: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        (cells.len() >= 3 && cells[1] == key).then(|| cells[2].to_string())
    })
}

/// The cells of the first table row that has a cell equal to `cell`.
pub fn row_with(table: &str, cell: &str) -> Option<Vec<String>> {
    table.lines().find_map(|l| {
        let cells: Vec<String> = l.split('|').map(|c| c.trim().to_string()).collect();
        (cells.len() >= 3 && cells[1..cells.len() - 1].iter().any(|c| c == cell))
            .then(|| cells[1..cells.len() - 1].to_vec())
    })
}

/// Polls `f` every 50 ms until it is true, for at most `limit`.
pub fn wait_for(
    limit: Duration,
    mut f: impl FnMut() -> Result<bool, Box<dyn std::error::Error>>,
) -> Result<bool, Box<dyn std::error::Error>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f()? {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
}

/// The targets tgtd has (`tgtadm --op show`), or its error.
pub fn tgtadm_show() -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("tgtadm")
        .args(["--lld", "iscsi", "--mode", "target", "--op", "show"])
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
