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
