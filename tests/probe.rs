//! A probe of the project's own against the real binary (issue 13), bounded in count and
//! time and on loopback only: the classes of problem an adversarial pass found stay
//! covered, on SQLite and on PostgreSQL. Each case sends what a hostile or broken client
//! sends (made-up methods, bodies that stall, sort-key bombs, NUL bytes, keyed POSTs whose
//! client vanishes), on raw sockets where a client library would tidy the request up, and
//! checks that the answer is Cinder's 400 (never a 5xx), that what the server keeps stays
//! bounded, and that it keeps serving afterwards.
//!
//! No case asserts a duration: a read timeout on the socket ([`ANSWER_BOUND`], far above a
//! healthy answer and far below what the bugs took) is what tells "answered" from "hung".

mod common_e2e;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common_e2e::{PgDatabase, Server, TestResult, http_request};
use serde_json::{Value, json};

/// One fake node; a volume quota above the cases' creates, so a 413 cannot hide a bug.
const CONFIG: &str = r#"
[quota]
volumes = 100

[[nodes]]
name = "n1"
availability_zone = "nova"
driver = "fake"
"#;

/// The config key of the body-read timeout (issue 13, item 8), and the value the slow-body
/// case runs with: short, so a stalled body is cut off well inside [`ANSWER_BOUND`].
const BODY_TIMEOUT_KEY: &str = "body_timeout_seconds";
const BODY_TIMEOUT_SECONDS: u64 = 2;

/// How long one answer may take before the probe calls the server hung.
const ANSWER_BOUND: Duration = Duration::from_secs(10);

/// How long a keyed POST whose client vanished may keep its key claimed: its work takes
/// milliseconds on fake nodes, so this is all slack.
const SETTLE: Duration = Duration::from_secs(15);

const MEMBER: &str = "alice:0b0b";
const ADMIN: &str = "admin:0a0a";

type Failures = Vec<String>;

/// Runs `case` against a server on SQLite, then against one on PostgreSQL
/// (`TEST_DATABASE_URL`; `.ci/run` starts it), each with `config`.
fn on_both_backends(config: &str, case: impl Fn(&Server) -> TestResult) -> TestResult {
    let dir = tempfile::tempdir()?;
    let checked = |backend: &str, server: &Server| -> TestResult {
        let outcome = case(server);
        let log = server.log_text();
        let panicked = log.contains("panicked");
        if outcome.is_err() || panicked {
            let why = outcome
                .err()
                .map_or_else(|| "the server panicked".into(), |e| e.to_string());
            return Err(format!(
                "on {backend}: {why}\nserver log (tail):\n{}",
                tail(&log, 40)
            )
            .into());
        }
        Ok(())
    };
    // Both backends run even when the first fails: which of them a case fails on is
    // half the diagnosis (PostgreSQL refuses NULs that SQLite stores).
    let sqlite = Server::start_with(&dir.path().join("sqlite"), None, Some(config))
        .and_then(|server| checked("SQLite", &server));
    let db = PgDatabase::create()?;
    let postgresql = Server::start_with(
        &dir.path().join("postgresql"),
        Some(&db.url()),
        Some(config),
    )
    .and_then(|server| checked("PostgreSQL", &server));
    match (sqlite, postgresql) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(format!("{a}\n{b}").into()),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Fails with every entry of `failures`, so one run shows all the cases that failed.
fn verdict(failures: Failures) -> TestResult {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

/// A JSON call as `token` at microversion 3.70; answers the status and the parsed body.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let headers = [
        ("X-Auth-Token", token),
        ("OpenStack-API-Version", "volume 3.70"),
        ("Content-Type", "application/json"),
    ];
    let body = body.map(Value::to_string);
    let (status, text) = http_request(server.port, method, path, &headers, body.as_deref())
        .map_err(|e| format!("{method} {path}: {e}"))?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Sends `request` as it is on a socket of its own and reads the answer to its end, or
/// until [`ANSWER_BOUND`] passes (an error naming the request).
fn raw(server: &Server, request: &[u8]) -> Result<(u16, String), String> {
    let shown = String::from_utf8_lossy(&request[..request.len().min(80)]).into_owned();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(ANSWER_BOUND))
        .map_err(|e| e.to_string())?;
    s.write_all(request)
        .map_err(|e| format!("{shown:?}: {e}"))?;
    let mut out = Vec::new();
    if let Err(e) = s.read_to_end(&mut out)
        && out.is_empty()
    {
        return Err(format!(
            "no answer within {ANSWER_BOUND:?} to {shown:?}: {e}"
        ));
    }
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in the answer to {shown:?}: {out:?}"))?;
    Ok((status, out))
}

/// A `GET` request line and head, for [`raw`].
fn get_request(server: &Server, path: &str, token: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nX-Auth-Token: {token}\r\nConnection: close\r\n\r\n",
        server.port
    )
    .into_bytes()
}

/// `/metrics` as a scraper reads it. Who may read it (a token, a listen address of its
/// own) is configurable, so this is the one place that knows how.
fn metrics(server: &Server) -> Result<String, String> {
    let headers = [("X-Auth-Token", ADMIN)];
    let (status, text) = http_request(server.port, "GET", "/metrics", &headers, None)?;
    if status != 200 {
        return Err(format!("GET /metrics answered {status}: {text}"));
    }
    Ok(text)
}

/// The values of label `label` across every series of `text` (Prometheus text format).
fn label_values(text: &str, label: &str) -> BTreeSet<String> {
    let key = format!("{label}=\"");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (_, rest) = l.split_once(&key)?;
            Some(rest.split('"').next()?.to_string())
        })
        .collect()
}

/// Made-up methods and paths in request lines (item 4): every one used to become a
/// metrics series for the life of the process, with no token needed. The labels must come
/// from a closed set: a few hundred made-up methods add none.
#[test]
fn made_up_request_lines_do_not_grow_the_metrics() -> TestResult {
    const MADE_UP: usize = 300;
    /// The standard methods HTTP defines, and `other`.
    const METHOD_LABELS_AT_MOST: usize = 10;
    on_both_backends(CONFIG, |server| {
        let mut failures = Failures::new();
        for i in 0..MADE_UP {
            let line = format!(
                "PROBE{i} /probe/{i} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            match raw(server, line.as_bytes()) {
                Ok((status, _)) if status >= 500 => {
                    failures.push(format!("PROBE{i} answered {status}"))
                }
                Ok(_) => {}
                Err(e) => failures.push(e),
            }
        }
        let text = metrics(server)?;
        let methods = label_values(&text, "method");
        let made_up: Vec<&String> = methods.iter().filter(|m| m.starts_with("PROBE")).collect();
        if !made_up.is_empty() || methods.len() > METHOD_LABELS_AT_MOST {
            failures.push(format!(
                "{} method labels, {} of them made up (e.g. {:?}); /metrics is {} bytes",
                methods.len(),
                made_up.len(),
                made_up.first(),
                text.len()
            ));
        }
        let routes = label_values(&text, "route");
        if let Some(r) = routes.iter().find(|r| r.contains("probe")) {
            failures.push(format!("a route label from a request path: {r}"));
        }
        verdict(failures)
    })
}

/// Bodies that stall (item 8): connections that declare a large `Content-Length`, send
/// most of it and stop. The server must close each within its body timeout instead of
/// holding the connection and the buffered bytes for good, and keep serving.
#[test]
fn stalled_bodies_are_cut_off_by_the_body_timeout() -> TestResult {
    const CONNECTIONS: usize = 4;
    /// Within the default `max_body_bytes` (1 MiB), so only the timeout can end it.
    const DECLARED: usize = 1_000_000;
    const SENT: usize = 900_000;
    let config = format!("{BODY_TIMEOUT_KEY} = {BODY_TIMEOUT_SECONDS}\n{CONFIG}");
    on_both_backends(&config, |server| {
        let mut failures = Failures::new();
        let mut stalled = Vec::new();
        for _ in 0..CONNECTIONS {
            let mut s = TcpStream::connect(("127.0.0.1", server.port))?;
            // A server that stops reading must not hang the probe either.
            s.set_write_timeout(Some(ANSWER_BOUND))?;
            let head = format!(
                "POST /v3/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {MEMBER}\r\n\
                 Content-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n{{\"volume\": {{\"name\": \""
            );
            let sent = s
                .write_all(head.as_bytes())
                .and_then(|()| s.write_all(&vec![b'x'; SENT - head.len()]));
            match sent {
                Ok(()) => stalled.push(s),
                // Refused while sending (closed or reset): not held, which is the point.
                Err(e)
                    if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
                Err(e) => failures.push(format!("sending a slow body: {e}")),
            }
        }
        // Cut off: an answer (408 or 400) and the end, or a reset, before the bound.
        // One deadline for them all: they stalled together.
        let bound = Duration::from_secs(BODY_TIMEOUT_SECONDS) + ANSWER_BOUND;
        let deadline = Instant::now() + bound;
        for (i, mut s) in stalled.into_iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            let mut out = Vec::new();
            match s.read_to_end(&mut out) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                Err(e) => failures.push(format!(
                    "stalled body {i}: still open after {bound:?} ({e}); read {} bytes",
                    out.len()
                )),
            }
        }
        match call(server, "GET", "/v3/volumes", MEMBER, None) {
            Ok((200, _)) => {}
            other => failures.push(format!("a list after the stalled bodies: {other:?}")),
        }
        verdict(failures)
    })
}

/// Sort keys (item 1): building the order of n keys took time doubling with each key,
/// and a request whose client had left kept its database connection. Repeated keys, and
/// more keys than Cinder's few, are refused at once; abandoned requests leave the
/// service answering.
#[test]
fn sort_key_bombs_are_refused_and_abandoned_ones_leave_the_service_up() -> TestResult {
    const KEYS: [&str; 7] = [
        "size",
        "created_at",
        "updated_at",
        "id",
        "name",
        "status",
        "availability_zone",
    ];
    const ABANDONED: usize = 20;
    on_both_backends(CONFIG, |server| {
        let mut failures = Failures::new();
        let repeated = vec!["size"; 30].join(",");
        // Valid keys in every spelling: no two alike as text.
        let distinct_looking = (0..100)
            .map(|i| {
                let dir = ["", ":asc", ":desc", ":ASC"][(i / KEYS.len()) % 4];
                let pad = " ".repeat(i / (KEYS.len() * 4));
                format!("{pad}{}{dir}", KEYS[i % KEYS.len()])
            })
            .collect::<Vec<_>>()
            .join(",")
            .replace(' ', "%20");
        for (what, sort) in [
            ("30 repeated keys", &repeated),
            ("100 distinct-looking keys", &distinct_looking),
        ] {
            for path in ["/v3/volumes", "/v3/volumes/detail"] {
                let request = get_request(server, &format!("{path}?sort={sort}"), MEMBER);
                match raw(server, &request) {
                    Ok((400, body)) if body.contains("badRequest") => {}
                    Ok((status, body)) => failures.push(format!(
                        "{path} with {what}: {status}, not Cinder's 400: {}",
                        tail(&body, 1)
                    )),
                    Err(e) => failures.push(format!("{path} with {what}: {e}")),
                }
            }
        }
        // Clients that send such a request and leave at once.
        for _ in 0..ABANDONED {
            let mut s = TcpStream::connect(("127.0.0.1", server.port))?;
            s.write_all(&get_request(
                server,
                &format!("/v3/volumes/detail?sort={repeated}"),
                MEMBER,
            ))?;
        }
        for i in 0..5 {
            match raw(
                server,
                &get_request(server, "/v3/volumes/detail?sort=size:desc,id", MEMBER),
            ) {
                Ok((200, _)) => {}
                Ok((status, body)) => failures.push(format!(
                    "list {i} after abandoned sorts: {status} {}",
                    tail(&body, 1)
                )),
                Err(e) => failures.push(format!("list {i} after abandoned sorts: {e}")),
            }
        }
        verdict(failures)
    })
}

/// NUL bytes (item 6): PostgreSQL refuses them in text, so every way one reaches a
/// stored or compared string (names, metadata keys and values, filters, extra specs, QoS
/// specs, statuses, reasons) answered 500 there. Each is Cinder's 400 on both backends,
/// and nothing is written.
#[test]
fn nul_bytes_are_refused_with_400_on_both_backends() -> TestResult {
    on_both_backends(CONFIG, |server| {
        let (status, v) = call(
            server,
            "POST",
            "/v3/volumes",
            MEMBER,
            Some(&json!({"volume": {"size": 1, "name": "probe-nul"}})),
        )?;
        if status != 202 {
            return Err(format!("the volume the cases use: {status} {v}").into());
        }
        let id = v["volume"]["id"]
            .as_str()
            .ok_or("no volume id")?
            .to_string();
        let nul = "a\u{0}b";
        let metadata_filter = "%7B%22k%22%3A%22a%5Cu0000b%22%7D";
        let cases: Vec<(&str, String, &str, Option<Value>)> = vec![
            (
                "POST",
                "/v3/volumes".into(),
                MEMBER,
                Some(json!({"volume": {"size": 1, "name": nul}})),
            ),
            (
                "POST",
                "/v3/volumes".into(),
                MEMBER,
                Some(json!({"volume": {"size": 1, "description": nul}})),
            ),
            (
                "POST",
                "/v3/volumes".into(),
                MEMBER,
                Some(json!({"volume": {"size": 1, "metadata": {"k": nul}}})),
            ),
            (
                "POST",
                "/v3/volumes".into(),
                MEMBER,
                Some(json!({"volume": {"size": 1, "metadata": {nul: "v"}}})),
            ),
            (
                "PUT",
                format!("/v3/volumes/{id}"),
                MEMBER,
                Some(json!({"volume": {"name": nul}})),
            ),
            (
                "POST",
                format!("/v3/volumes/{id}/metadata"),
                MEMBER,
                Some(json!({"metadata": {"k": nul}})),
            ),
            (
                "PUT",
                format!("/v3/volumes/{id}/metadata/k"),
                MEMBER,
                Some(json!({"meta": {"k": nul}})),
            ),
            (
                "GET",
                format!("/v3/volumes?metadata={metadata_filter}"),
                MEMBER,
                None,
            ),
            (
                "GET",
                format!("/v3/volumes/detail?metadata={metadata_filter}"),
                MEMBER,
                None,
            ),
            ("GET", "/v3/volumes?name=a%00b".into(), MEMBER, None),
            ("GET", "/v3/volumes/detail?status=%00".into(), MEMBER, None),
            ("GET", "/v3/volumes?sort=size%00".into(), MEMBER, None),
            (
                "POST",
                "/v3/snapshots".into(),
                MEMBER,
                Some(json!({"snapshot": {"volume_id": id, "name": nul}})),
            ),
            (
                "POST",
                "/v3/types".into(),
                ADMIN,
                Some(json!({"volume_type": {"name": nul}})),
            ),
            (
                "POST",
                "/v3/types".into(),
                ADMIN,
                Some(json!({"volume_type": {"name": "probe-nul", "extra_specs": {"k": nul}}})),
            ),
            (
                "POST",
                "/v3/qos-specs".into(),
                ADMIN,
                Some(json!({"qos_specs": {"name": "probe-nul", "k": nul}})),
            ),
            (
                "POST",
                format!("/v3/volumes/{id}/action"),
                ADMIN,
                Some(json!({"os-reset_status": {"status": nul}})),
            ),
            (
                "PUT",
                "/v3/os-services/disable-log-reason".into(),
                ADMIN,
                Some(json!({"host": "n1@fake", "binary": "cinder-volume", "disabled_reason": nul})),
            ),
        ];
        let before = call(server, "GET", "/v3/volumes?all_tenants=1", ADMIN, None)?;
        let mut failures = Failures::new();
        for (method, path, token, body) in &cases {
            match call(server, method, path, token, body.as_ref()) {
                Ok((400, v)) if v.get("badRequest").is_some() => {}
                Ok((status, v)) => failures.push(format!(
                    "{method} {path} {body:?}: {status}, not Cinder's 400: {v}"
                )),
                Err(e) => failures.push(e),
            }
        }
        let after = call(server, "GET", "/v3/volumes?all_tenants=1", ADMIN, None)?;
        if before != after {
            failures.push(format!(
                "the refused calls changed the volumes: {before:?} -> {after:?}"
            ));
        }
        let (_, v) = call(server, "GET", "/v3/types?is_public=none", ADMIN, None)?;
        if v.to_string().contains("probe-nul") {
            failures.push(format!("a refused type was stored: {v}"));
        }
        verdict(failures)
    })
}

/// Keyed POSTs whose client vanishes (item 2): the key stayed "still running" for good
/// while the volume often existed. After the first request has had time to finish, the
/// same keyed POST gets its stored 202 (the same volume) or runs afresh; never 409 for
/// good, and never a second volume.
#[test]
fn keyed_posts_whose_client_vanishes_can_be_retried() -> TestResult {
    const CLIENTS: usize = 20;
    on_both_backends(CONFIG, |server| {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let body = |i: usize| {
            json!({"volume": {"size": 1, "name": format!("probe-{run}-{i}")}}).to_string()
        };
        let key = |i: usize| format!("probe-{run}-{i}");
        // All at once, each gone a few milliseconds after sending: some before the server
        // read the request, some while it runs, some after it answered. `Expect:
        // 100-continue` has the server write early; closing with that unread makes the
        // kernel reset the connection, as the clients the probe saw did.
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (port, body, key) = (server.port, body(i), key(i));
                thread::spawn(move || -> Result<(), String> {
                    let mut s =
                        TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
                    let request = format!(
                        "POST /v3/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: {MEMBER}\r\n\
                         Content-Type: application/json\r\nIdempotency-Key: {key}\r\n\
                         Expect: 100-continue\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
                    thread::sleep(Duration::from_millis((i % 5 * 5) as u64));
                    Ok(())
                })
            })
            .collect();
        for c in clients {
            c.join().map_err(|_| "a client thread panicked")??;
        }
        let mut failures = Failures::new();
        let headers = |k: &str| {
            [
                ("X-Auth-Token", MEMBER.to_string()),
                ("Content-Type", "application/json".to_string()),
                ("Idempotency-Key", k.to_string()),
            ]
        };
        // One deadline for all the retries, so a server that never lets go fails the
        // case in SETTLE, not in SETTLE per client.
        let deadline = Instant::now() + SETTLE;
        for i in 0..CLIENTS {
            let (k, b) = (key(i), body(i));
            let h = headers(&k);
            let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let (status, text) = loop {
                let answer = http_request(server.port, "POST", "/v3/volumes", &h, Some(&b))?;
                if answer.0 != 409 || Instant::now() > deadline {
                    break answer;
                }
                thread::sleep(Duration::from_millis(200));
            };
            if status != 202 {
                failures.push(format!("retry {i}: {status} after {SETTLE:?}: {text}"));
                continue;
            }
            let id = serde_json::from_str::<Value>(&text)?["volume"]["id"]
                .as_str()
                .map(str::to_string);
            let (_, v) = call(
                server,
                "GET",
                &format!("/v3/volumes?name=probe-{run}-{i}"),
                MEMBER,
                None,
            )?;
            let ids: Vec<String> = v["volumes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if ids.len() != 1 || ids.first() != id.as_ref() {
                failures.push(format!(
                    "retry {i} answered volume {id:?}; the project has {ids:?}"
                ));
            }
        }
        verdict(failures)
    })
}
