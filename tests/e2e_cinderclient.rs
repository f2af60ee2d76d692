//! End to end: the real `clinker` binary driven by the real python-cinderclient (`cinder`),
//! on SQLite (the embedded default) and on PostgreSQL. `.ci/run` installs the client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PROJECT: &str = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";

/// The server process; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> Result<Server, Box<dyn std::error::Error>> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = data_dir.join("server.log");
        std::fs::create_dir_all(data_dir)?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clinker"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("CLINKER_DATABASE_URL")
            .env_remove("CLINKER_LISTEN")
            .env_remove("CLINKER_DATA_DIR")
            .env_remove("CLINKER_CONFIG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        let server = Server {
            child: cmd.spawn()?,
            port,
            log,
        };
        let start = Instant::now();
        while http(port, "GET", "/", None).map(|(s, _)| s) != Ok(300) {
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("server did not answer: {}", server.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `cinder` in noauth mode against this server.
    fn cinder(&self, args: &[&str]) -> Result<(bool, String), Box<dyn std::error::Error>> {
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
}

/// A minimal HTTP/1.0 client for the checks the CLI does not show.
fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let auth = token
        .map(|t| format!("X-Auth-Token: {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n"
    )
    .map_err(|e| e.to_string())?;
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
fn field(table: &str, key: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        (cells.len() >= 3 && cells[1] == key).then(|| cells[2].to_string())
    })
}

fn wait_for(
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

fn lifecycle(server: &Server, data_dir: &Path) -> TestResult {
    let (ok, out) = server.cinder(&["create", "--name", "e2e", "1"])?;
    assert!(ok, "create failed: {out}\n{}", server.log_text());
    let id = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    let created = Instant::now();
    let available = wait_for(Duration::from_secs(20), || {
        let (_, show) = server.cinder(&["show", &id])?;
        Ok(field(&show, "status").as_deref() == Some("available"))
    })?;
    assert!(
        available,
        "volume never became available: {}",
        server.log_text()
    );
    eprintln!(
        "available {:?} after the create returned (including the CLI's start-up)",
        created.elapsed()
    );
    let file = data_dir.join("volumes").join(format!("volume-{id}"));
    assert_eq!(
        std::fs::metadata(&file)?.len(),
        1 << 30,
        "a 1 GiB file backs the volume"
    );

    let (ok, list) = server.cinder(&["list"])?;
    assert!(
        ok && list.contains(&id) && list.contains("available"),
        "{list}"
    );
    let (ok, show) = server.cinder(&["show", &id])?;
    assert!(ok, "{show}");
    assert_eq!(field(&show, "name").as_deref(), Some("e2e"));
    assert_eq!(field(&show, "size").as_deref(), Some("1"));
    let (ok, out) = server.cinder(&["rename", &id, "renamed"])?;
    assert!(ok, "{out}");
    let (_, show) = server.cinder(&["show", &id])?;
    assert_eq!(field(&show, "name").as_deref(), Some("renamed"));
    let (ok, out) = server.cinder(&["metadata", &id, "set", "purpose=e2e"])?;
    assert!(ok, "{out}");
    let (_, show) = server.cinder(&["show", &id])?;
    assert!(
        field(&show, "metadata").is_some_and(|m| m.contains("purpose")),
        "{show}"
    );

    let token = format!("admin:{PROJECT}");
    let (status, timeline) = http(
        server.port,
        "GET",
        &format!("/clinker/v1/volumes/{id}/timeline"),
        Some(&token),
    )?;
    assert_eq!(status, 200, "{timeline}");
    let t: serde_json::Value = serde_json::from_str(&timeline)?;
    let flows: Vec<&str> = t["flows"]
        .as_array()
        .ok_or("no flows")?
        .iter()
        .filter_map(|f| f["flow"].as_str())
        .collect();
    assert_eq!(
        flows,
        [
            "volume_create_api",
            "volume_create_scheduler",
            "volume_create_manager"
        ]
    );

    let (ok, out) = server.cinder(&["delete", &id])?;
    assert!(ok, "{out}");
    let gone = wait_for(Duration::from_secs(20), || {
        let (ok, _) = server.cinder(&["show", &id])?;
        Ok(!ok)
    })?;
    assert!(gone, "volume never went away");
    assert!(!file.exists(), "the file is removed");

    // Bad input reaches the user as Cinder's error.
    let (ok, out) = server.cinder(&["create", "0"])?;
    assert!(!ok, "size 0 must fail: {out}");
    Ok(())
}

#[test]
fn cinderclient_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    lifecycle(&server, dir.path())
}

/// A database of its own on the local PostgreSQL, dropped afterwards.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    fn create() -> Result<PgDatabase, Box<dyn std::error::Error>> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("clinker_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin_url)
            .map_err(|e| format!("PostgreSQL at {admin_url} is needed (.ci/run starts it): {e}"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(PgDatabase { admin_url, name })
    }

    fn url(&self) -> String {
        match self.admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => self.admin_url.clone(),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn cinderclient_on_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), Some(&db.url()))?;
    lifecycle(&server, dir.path())?;
    drop(server);
    Ok(())
}
