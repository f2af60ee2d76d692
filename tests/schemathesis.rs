//! schemathesis (PyPI, pinned in `tests/requirements.txt`) against the real binary on
//! fake nodes: it reads `GET /clinker/v1/openapi.json`, generates requests for every
//! operation (valid and invalid bodies, paths, query strings, headers; then, in its
//! stateful phase, chains of calls following the document's links and the ids the
//! answers give), and checks that none gets a 5xx and that every answer with a
//! documented status matches the document's schema. As an admin at a recent
//! microversion and as a member, on SQLite and on PostgreSQL.

mod common_e2e;

use std::path::Path;
use std::process::Command;

use common_e2e::{PgDatabase, Server, TestResult, http};

const CONFIG: &str = r#"
[[nodes]]
name = "n1"
availability_zone = "nova"
driver = "fake"

[[nodes]]
name = "n2"
availability_zone = "az2"
driver = "fake"
"#;

/// Examples per operation and phase: enough to find the bugs it found so far, and the
/// four runs take about a minute on two cores.
const EXAMPLES: &str = "10";

/// Runs `schemathesis run` against `server` with `headers`; answers its output.
fn run(server: &Server, dir: &Path, seed: &str, headers: &[&str]) -> Result<String, String> {
    let base = format!("http://127.0.0.1:{}", server.port);
    let mut cmd = Command::new("schemathesis");
    cmd.current_dir(dir)
        .arg("run")
        .arg(format!("{base}/clinker/v1/openapi.json"))
        .args(["--url", &base])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", EXAMPLES])
        .args(["--seed", seed])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "20"])
        .arg("--no-color");
    for h in headers {
        cmd.args(["--header", h]);
    }
    let out = cmd.output().map_err(|e| {
        format!("cannot run `schemathesis` (tests/requirements.txt; scripts/test installs it): {e}")
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "schemathesis found problems:\n{text}\nserver log (tail):\n{}",
            tail(&server.log_text(), 60)
        ))
    }
}

/// The word after `label` in schemathesis' summary.
fn after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let (_, rest) = text.split_once(label)?;
    rest.split_whitespace().next()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Both runs against one server; then the summary says every operation was tested.
fn both_runs(
    server: &Server,
    dir: &Path,
    seeds: [&str; 2],
    member_version: Option<&str>,
) -> TestResult {
    let admin = run(
        server,
        dir,
        seeds[0],
        &[
            "X-Auth-Token: admin:0a0a",
            "OpenStack-API-Version: volume 3.70",
        ],
    )?;
    let mut member_headers = vec!["X-Auth-Token: alice:0b0b"];
    member_headers.extend(member_version);
    let member = run(server, dir, seeds[1], &member_headers)?;
    for out in [&admin, &member] {
        // Every operation of the document was selected and tested: none skipped for a
        // schema it could not read.
        let selected = after(out, "Selected: ").ok_or_else(|| format!("no summary:\n{out}"))?;
        let (picked, total) = selected.split_once('/').ok_or("bad summary")?;
        let tested = after(out, "Tested: ").ok_or_else(|| format!("no summary:\n{out}"))?;
        assert!(
            picked == total && tested == total && total.parse::<u32>()? > 80,
            "not every operation was tested:\n{out}"
        );
        let scenarios = after(out, "Scenarios: ").and_then(|n| n.parse::<u32>().ok());
        assert!(
            scenarios.is_some_and(|n| n > 0),
            "the stateful phase did not run:\n{out}"
        );
    }
    // Its chains followed links: the document's own (a volume's or snapshot's create to
    // the show, update, action and delete of what it made) and those schemathesis
    // infers, so calls reach resources that exist. The member's random creates rarely
    // succeed, so the admin's run is the one that gets there.
    let links: u32 = [&admin, &member]
        .iter()
        .filter_map(|out| after(out, "API Links: ")?.parse::<u32>().ok())
        .sum();
    assert!(links > 0, "the stateful phase followed no link:\n{admin}");
    let log = server.log_text();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    Ok(())
}

#[test]
fn schemathesis_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start_with(&dir.path().join("data"), None, Some(CONFIG))?;
    // The member at the base version (no header; 3.0).
    both_runs(&server, dir.path(), ["20261126", "20261127"], None)
}

/// PostgreSQL refuses what SQLite takes (a NUL in text), so the same run there: it found
/// filters and markers with `%00` answering 500.
#[test]
fn schemathesis_on_postgresql() -> TestResult {
    let db = PgDatabase::create()?;
    let dir = tempfile::tempdir()?;
    let server = Server::start_with(&dir.path().join("data"), Some(&db.url()), Some(CONFIG))?;
    both_runs(
        &server,
        dir.path(),
        ["20261128", "20261129"],
        Some("OpenStack-API-Version: volume 3.70"),
    )?;
    for path in [
        "/v3/volumes?name=a%00b",
        "/v3/volumes/detail?marker=%00",
        "/v3/snapshots?name=%00",
        "/v3/messages?event_id=%00",
    ] {
        let (status, body) = http(server.port, "GET", path, Some("alice:0b0b"))
            .map_err(|e| format!("{path}: {e}"))?;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("badRequest"), "{path}: {body}");
    }
    Ok(())
}
