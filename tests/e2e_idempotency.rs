//! Keyed POSTs against the real binary over real sockets: a client that resets the
//! connection right after sending, and a server killed (SIGKILL) with keyed creates in
//! flight, on SQLite and on PostgreSQL. Each retry must get the first answer or a fresh
//! run, never a key left "still running" past the take-over bound, and never a second
//! volume. actix-web drops a request whose reset it sees while the request runs (one
//! reset before the body is all read claims nothing), so the resets come at every point
//! of a create's few milliseconds; `http_idempotency` forces the drop itself.

mod common_e2e;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clinker::db::idempotency::CLAIM_STALE_AFTER_SECONDS;
use common_e2e::{PROJECT, PgDatabase, Server, TestResult, http_request};
use serde_json::Value;

/// One file node, and room for every volume the test makes.
const CONFIG: &str = r#"
[quota]
volumes = 100
gigabytes = 1000

[[nodes]]
name = "n1"
availability_zone = "nova"
driver = "file"
driver_options = { path = "volumes" }
"#;

const TOKEN: &str = "alice:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";

fn body(name: &str) -> String {
    format!(r#"{{"volume": {{"size": 1, "name": "{name}"}}}}"#)
}

/// Sends a keyed create and, `wait` later, resets the connection (RST, not FIN) without
/// reading.
fn send_and_reset(port: u16, key: &str, name: &str, wait: Duration) -> TestResult {
    let body = body(name);
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "POST /v3/{PROJECT}/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {TOKEN}\r\n\
         Idempotency-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    s.flush()?;
    std::thread::sleep(wait);
    socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
    drop(s);
    Ok(())
}

/// Retries the keyed create until it is not "still running"; that must happen within the
/// take-over bound. Answers the status and body.
fn retry(port: u16, key: &str, name: &str) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let bound = Duration::from_secs(CLAIM_STALE_AFTER_SECONDS as u64 + 10);
    let start = Instant::now();
    let headers = [
        ("X-Auth-Token", TOKEN),
        ("Idempotency-Key", key),
        ("Content-Type", "application/json"),
    ];
    loop {
        let path = format!("/v3/{PROJECT}/volumes");
        let (status, text) = http_request(port, "POST", &path, &headers, Some(&body(name)))?;
        if status != 409 {
            return Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
        }
        if start.elapsed() > bound {
            return Err(format!("{key}: still 409 after {bound:?}: {text}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many volumes of the project carry `name`.
fn named(port: u16, name: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let path = format!("/v3/{PROJECT}/volumes?name={name}");
    let (status, text) = http_request(port, "GET", &path, &[("X-Auth-Token", TOKEN)], None)?;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["volumes"].as_array().map_or(0, Vec::len))
}

fn resets_and_kills(database_url: Option<&str>) -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut server = Server::start_with(dir.path(), database_url, Some(CONFIG))?;
    // Clients reset their connections soon after sending: each create still runs to its
    // end, and its retry gets its answer (or runs it, if it had not started).
    let names: Vec<String> = (0..50).map(|i| format!("reset{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        // At every point of the request's few milliseconds.
        send_and_reset(
            server.port,
            name,
            name,
            Duration::from_micros(i as u64 % 10 * 500),
        )?;
    }
    for name in &names {
        let (status, v) = retry(server.port, name, name)?;
        assert_eq!(status, 202, "{name}: {v}");
        assert_eq!(named(server.port, name)?, 1, "{name}: one volume");
    }
    // The server is killed with keyed creates in flight (their clients gone too); after
    // the restart each retry takes the dead claim over at once: answered with the volume
    // the dead request made, or run again if it made none.
    for round in 0..3 {
        let names: Vec<String> = (0..5).map(|i| format!("kill{round}x{i}")).collect();
        for name in &names {
            send_and_reset(server.port, name, name, Duration::ZERO)?;
        }
        server.stop();
        server = Server::start_with(dir.path(), database_url, Some(CONFIG))?;
        for name in &names {
            let start = Instant::now();
            let (status, v) = retry(server.port, name, name)?;
            assert_eq!(status, 202, "{name}: {v}");
            assert!(
                start.elapsed() < Duration::from_secs(CLAIM_STALE_AFTER_SECONDS as u64),
                "{name}: the dead claim was not taken over at once"
            );
            assert_eq!(named(server.port, name)?, 1, "{name}: one volume");
        }
    }
    Ok(())
}

#[test]
fn resets_and_kills_sqlite() -> TestResult {
    resets_and_kills(None)
}

#[test]
fn resets_and_kills_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    resets_and_kills(Some(&db.url()))
}
