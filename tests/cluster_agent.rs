//! `clinker node`, the storage agent, as a real process: it refuses SQLite before
//! touching anything, holds its nodes against other agents and controllers, and runs
//! only those nodes.

mod common_e2e;

use std::time::Duration;

use clinker::db::schema::{instances, node_claims, services};
use common_e2e::{PgDatabase, Server, TestResult, http};
use diesel::prelude::*;
use serde_json::Value;

/// One fake node, `n1`.
const NODE: &str = r#"
[cluster]
lease_seconds = 3

[[nodes]]
name = "n1"
driver = "fake"
[nodes.driver_options]
total_capacity_gb = 100
"#;

#[test]
fn an_agent_refuses_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let (code, log) = Server::builder(&data)
        .agent()
        .config(NODE)
        .run_to_exit(Duration::from_secs(30))?;
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("PostgreSQL"), "{log}");
    assert!(log.contains("--database-url postgres://"), "{log}");
    assert!(
        !data.join("clinker.db").exists(),
        "no SQLite file was made before the refusal"
    );
    Ok(())
}

#[test]
fn an_agent_holds_its_nodes_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let agent = Server::builder(&dir.path().join("a"))
        .agent()
        .database_url(Some(&url))
        .config(NODE)
        .start()?;
    let (status, body) = http(agent.port, "GET", "/healthz", None)?;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body)?;
    assert_eq!(health["nodes"], serde_json::json!(["n1"]));
    let id = health["instance"]
        .as_str()
        .ok_or("no instance id")?
        .to_string();
    // Nothing but its health: no API.
    assert_eq!(http(agent.port, "GET", "/", None)?.0, 404);

    let mut c = clinker::db::connect(&url, 1)?.get()?;
    let kind: String = instances::table
        .filter(instances::id.eq(&id))
        .select(instances::kind)
        .first(&mut c)?;
    assert_eq!(kind, "node");
    let claim: (String, i64) = node_claims::table
        .filter(node_claims::node.eq("n1"))
        .select((node_claims::holder, node_claims::epoch))
        .first(&mut c)?;
    assert_eq!(claim, (id.clone(), 1));
    let hosts: Vec<String> = services::table
        .filter(services::service_binary.eq("cinder-volume"))
        .select(services::host)
        .load(&mut c)?;
    assert_eq!(hosts, vec!["n1@fake".to_string()], "only its own node");

    // A second agent, and a controller, for the same node: refused, the holder named.
    for (name, builder) in [
        ("agent", Server::builder(&dir.path().join("b")).agent()),
        ("controller", Server::builder(&dir.path().join("c"))),
    ] {
        let (code, log) = builder
            .database_url(Some(&url))
            .config(NODE)
            .run_to_exit(Duration::from_secs(30))?;
        assert_eq!(code, Some(1), "the second {name}:\n{log}");
        let named = format!("node n1 is held by instance {id} (node on host");
        assert!(log.contains(&named), "the second {name}:\n{log}");
        assert!(log.contains(&format!("pid {}", agent.pid())), "{log}");
    }
    assert_eq!(http(agent.port, "GET", "/healthz", None)?.0, 200);
    Ok(())
}

/// A database that does not answer at start: tried again with growing pauses, each
/// failure logged, then a message naming the database (never its password) and exit 1.
#[test]
fn an_unreachable_database_is_retried_then_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Port 9 (discard) on loopback: nothing listens, so every attempt is refused at once.
    let url = "postgres://clinker:hunter2@127.0.0.1:9/clinker?sslmode=disable";
    let config = format!("{NODE}\n").replace(
        "[cluster]\nlease_seconds = 3\n",
        "[cluster]\nlease_seconds = 3\ndatabase_connect_seconds = 3\n",
    );
    for (name, builder) in [
        ("agent", Server::builder(&dir.path().join("a")).agent()),
        ("controller", Server::builder(&dir.path().join("c"))),
    ] {
        let started = std::time::Instant::now();
        let (code, log) = builder
            .database_url(Some(url))
            .config(&config)
            .run_to_exit(Duration::from_secs(30))?;
        assert_eq!(code, Some(1), "{name}:\n{log}");
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "{name} gave up at once:\n{log}"
        );
        let retries = log
            .matches("cannot reach the database yet; trying again")
            .count();
        assert!(retries >= 2, "{name} retried {retries} times:\n{log}");
        assert!(
            log.contains("cannot reach the database postgres://127.0.0.1:9/clinker: "),
            "{name}:\n{log}"
        );
        assert!(
            log.contains("database_connect_seconds = 3"),
            "{name}:\n{log}"
        );
        assert!(
            !log.contains("hunter2"),
            "{name} printed the password:\n{log}"
        );
    }
    Ok(())
}

/// A volume whose node no process holds (its agent never started): an export through a
/// controller answers 503 at once, naming the node and why.
#[test]
fn a_node_no_agent_holds_answers_503_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let controller = Server::builder(&dir.path().join("c"))
        .database_url(Some(&url))
        .config("nodes = []\n")
        .start()?;
    let mut c = clinker::db::connect(&url, 1)?.get()?;
    let id = uuid::Uuid::new_v4().to_string();
    let row = clinker::db::rows::VolumeRow {
        id: id.clone(),
        project_id: common_e2e::PROJECT.into(),
        user_id: "alice".into(),
        size: 1,
        status: clinker::model::VolumeStatus::Available,
        availability_zone: "nova".into(),
        volume_type_id: "a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11".into(),
        host: Some("ghost@fake#fake".parse()?),
        request_id: "req-ghost".into(),
        created_at: clinker::db::now(),
        ..Default::default()
    };
    clinker::db::volumes::insert(&mut c, &row, &Default::default())?;
    let body = r#"{"os-initialize_connection": {"connector": {"initiator": "iqn.1993-08.org.debian:01:t", "host": "compute-1"}}}"#;
    let (status, text) = common_e2e::http_request(
        controller.port,
        "POST",
        &format!("/v3/{}/volumes/{id}/action", common_e2e::PROJECT),
        &[
            ("X-Auth-Token", "alice:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c"),
            ("Content-Type", "application/json"),
        ],
        Some(body),
    )?;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("node ghost is held by no process: no agent has started for it"),
        "{text}"
    );
    Ok(())
}
