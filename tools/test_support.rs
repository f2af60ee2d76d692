//! What the tools' integration tests share: the controller binary, a server started from
//! it, and a PostgreSQL database of their own. Included by `#[path]` from each tool's
//! tests: an integration test of a tool cannot name `CARGO_BIN_EXE_clinker`, which cargo
//! gives only to the controller's own tests.

#![allow(
    dead_code,
    unused_imports,
    reason = "each tool's tests use a different part of the helpers"
)]

use std::error::Error;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "../tests/common_e2e/pg.rs"]
mod pg;
pub use pg::PgDatabase;

/// What every test returns.
pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// The `clinker` binary of this build: cargo keeps test executables in
/// `target/<profile>/deps/` and binaries one level up. `cargo test --workspace` builds
/// it (the controller's own tests need it); a test of one tool alone needs
/// `cargo build -p clinker` first, and uses whatever binary that left.
pub fn controller() -> TestResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("test executable has no parent directory")?
        .join("clinker");
    if !bin.is_file() {
        return Err(format!(
            "no controller at {}: run `cargo test --workspace`, or `cargo build -p clinker` first",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// `clinker serve` on a free port, killed when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the controller with the config `text` and `RUST_LOG=warn`, keeping its files
    /// and its log (`server.log`) in `data_dir`; waits (30 s at most) until it listens.
    pub fn start(data_dir: &Path, text: &str) -> TestResult<Server> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = data_dir.join("server.log");
        let config = data_dir.join("clinker.toml");
        std::fs::write(&config, text)?;
        let child = Command::new(controller()?)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("CLINKER_DATABASE_URL")
            .env_remove("CLINKER_LISTEN")
            .env_remove("CLINKER_DATA_DIR")
            .env_remove("CLINKER_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(data_dir.join("server.out"))?)
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let server = Server { child, port, log };
        // The server binds only after its migrations and actors are up, so a connection
        // accepted is a server ready to answer.
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("server did not listen: {}", server.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
