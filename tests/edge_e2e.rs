//! The real binary against what an adversarial probe did to it (issue 13): bodies that
//! stall after most of their bytes, many of them at once, made-up methods and paths
//! growing the metrics, and control characters and megabyte values aimed at the log.

mod common_e2e;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common_e2e::{PROJECT, Server, TestResult, http, http_request};

/// Opens a `POST /volumes` declaring `declared` bytes and sends `sent` of them (spaces).
fn partial_post(
    port: u16,
    declared: usize,
    sent: usize,
    extra_headers: &str,
) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "POST /v3/{PROJECT}/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: admin:{PROJECT}\r\n\
         Content-Type: application/json\r\nContent-Length: {declared}\r\n{extra_headers}\r\n"
    )?;
    s.write_all(&vec![b' '; sent])?;
    Ok(s)
}

/// Reads until the server closes the connection: the status it answered, if any. The read
/// timeout is only a bound on a hung test, far above any deadline the servers here have.
fn until_closed(s: &mut TcpStream) -> Result<Option<u16>, Box<dyn std::error::Error>> {
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map_err(|e| format!("the server did not close the connection: {e}"))?;
    let text = String::from_utf8_lossy(&out);
    Ok(text.split_whitespace().nth(1).and_then(|c| c.parse().ok()))
}

/// A complete `POST /volumes` as the admin: the status.
fn post_volume(port: u16, body: &str) -> Result<u16, String> {
    let token = format!("admin:{PROJECT}");
    let headers = [
        ("X-Auth-Token", token.as_str()),
        ("Content-Type", "application/json"),
    ];
    http_request(
        port,
        "POST",
        &format!("/v3/{PROJECT}/volumes"),
        &headers,
        Some(body),
    )
    .map(|(s, _)| s)
}

/// `POST /volumes` with `body` as the admin, for the budget test: the server may answer
/// 503 and close while the body is still being written, so a failed write is not the end;
/// the status is read from whatever the server answered.
fn budget_probe(port: u16, body: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST /v3/{PROJECT}/volumes HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Auth-Token: admin:{PROJECT}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.as_bytes()));
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| "no answer".to_string())
}

/// The log of a few refused requests stays small, however large what they echoed.
fn assert_small(log: &str) {
    assert!(
        log.len() < 100_000,
        "the log took {} bytes for a few refused requests",
        log.len()
    );
}

/// Polls `check` every 50 ms for at most 30 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn mode(p: &std::path::Path) -> Result<u32, std::io::Error> {
    Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
}

#[test]
fn stalled_bodies_are_cut_after_the_body_timeout() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = Server::builder(&data)
        .config("body_timeout_seconds = 1\n")
        .start()?;
    // The probe's shape: 1,048,000 of 1,048,576 declared bytes, then silence.
    // Two of them keyed: the idempotency middleware reads the body itself, through the
    // same deadline, and must answer the same 408.
    let mut slow = (0..10)
        .map(|i| {
            let key = if i < 2 {
                format!("Idempotency-Key: slow-{i}\r\n")
            } else {
                String::new()
            };
            partial_post(server.port, 1_048_576, 1_048_000, &key)
        })
        .collect::<Result<Vec<_>, _>>()?;
    for s in &mut slow {
        assert_eq!(until_closed(s)?, Some(408));
    }
    assert_eq!(http(server.port, "GET", "/", None)?.0, 300);
    // The data directory and the database are the service user's only.
    assert_eq!(mode(&data)?, 0o700);
    assert_eq!(mode(&data.join("clinker.db"))?, 0o600);
    Ok(())
}

#[test]
fn bodies_in_memory_share_one_budget() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The body timeout is far above the polling below, so the holder cannot be cut
    // (and its bytes given back) while the test waits for the refusal on a busy machine.
    let server = Server::builder(&dir.path().join("data"))
        .config("max_body_bytes = 65536\nmax_buffered_body_bytes = 100000\nbody_timeout_seconds = 300\n")
        .start()?;
    let body = "x".repeat(50_000);
    let post = || budget_probe(server.port, &body);
    assert_eq!(post()?, 400, "a malformed body is 400 while memory is free");
    // One stalled body holds 60,000 of the 100,000 bytes: the next 50,000 do not fit.
    let holder = partial_post(server.port, 65_536, 60_000, "")?;
    assert!(eventually(|| post() == Ok(503)), "never refused for memory");
    // Its connection gone, its bytes are given back.
    holder.shutdown(std::net::Shutdown::Both)?;
    drop(holder);
    assert!(eventually(|| post() == Ok(400)), "memory never given back");
    Ok(())
}

#[test]
fn made_up_methods_and_hostile_values_stay_bounded() -> TestResult {
    let dir = tempfile::tempdir()?;
    let metrics_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n");
    let server = Server::builder(&dir.path().join("data"))
        .config(&config)
        .rust_log("info")
        .start()?;
    let admin = format!("admin:{PROJECT}");
    // With an address of its own, /metrics is not on the API's port at all.
    assert_eq!(http(server.port, "GET", "/metrics", Some(&admin))?.0, 404);

    for i in 0..100 {
        let method = format!("BREW{i}");
        let _ = http(server.port, &method, &format!("/made-up/{i}"), None);
        let _ = http(
            server.port,
            &method,
            &format!("/v3/{PROJECT}/volumes"),
            Some(&admin),
        );
    }
    // Control characters and a value of most of a megabyte, echoed by the 400's message.
    let hostile = [
        serde_json::json!({"volume": {"size": "1\nFORGED LINE\r\u{1b}[2J\u{7}\u{0}\u{85}\u{7f}"}}),
        serde_json::json!({"volume": {"size": "x".repeat(1_000_000)}}),
    ];
    for body in &hostile {
        assert_eq!(post_volume(server.port, &body.to_string())?, 400);
    }
    let (status, _) = http(
        server.port,
        "GET",
        &format!("/v3/{PROJECT}/volumes?sort=name%0AFORGED%20LINE%1B%5B2J"),
        Some(&admin),
    )?;
    assert_eq!(status, 400);

    let (status, metrics) = http(metrics_port, "GET", "/metrics", None)?;
    assert_eq!(status, 200, "{metrics}");
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("clinker_http_requests_total{"))
        .collect();
    let known = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
    ];
    for s in &series {
        assert!(
            known.iter().any(|m| s.contains(&format!("method=\"{m}\""))),
            "{s}"
        );
    }
    assert!(
        !series.is_empty() && series.len() < 20,
        "made-up requests grew the series:\n{}",
        series.join("\n")
    );

    let log = server.log_text();
    assert!(
        log.contains("FORGED LINE"),
        "the refusals were not logged:\n{log}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("FORGED")),
        "a request forged a log line:\n{log}"
    );
    assert!(
        !log.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character reached the log"
    );
    assert_small(&log);
    Ok(())
}

#[test]
fn the_json_log_clips_echoed_values_too() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::builder(&dir.path().join("data"))
        .config("log_format = \"json\"\n")
        .rust_log("info")
        .start()?;
    let body = serde_json::json!({"volume": {"size": "y".repeat(1_000_000)}}).to_string();
    assert_eq!(post_volume(server.port, &body)?, 400);
    let log = server.log_text();
    assert!(
        log.contains("bytes)"),
        "the refusal was not logged clipped:\n{log}"
    );
    assert_small(&log);
    Ok(())
}
