//! Two controllers that run no node (`nodes = []`) and one storage agent, as real
//! processes on one PostgreSQL database: every volume operation works from either
//! controller, through the outbox; a stopped agent makes its node `down` and its exports
//! answer 503, and the work queued meanwhile runs once it is back; an agent whose epoch
//! is stale takes nothing from the queue; two controllers racing for a pool's last room
//! never place more than it holds.

mod common_e2e;

use std::process::Command;
use std::time::Duration;

use clinker::db::claims::Fence;
use clinker::db::schema::{node_work, pool_ledger};
use clinker::db::{DbError, outbox};
use common_e2e::{PROJECT, PgDatabase, Server, TestResult, http_request, wait_for};
use diesel::prelude::*;
use serde_json::{Value, json};

const USER: &str = "alice:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
const ADMIN: &str = "admin:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";

/// A controller: no node of its own. A lease (renewed every 4 s) long enough to outlast
/// the agent's pause below, and a node counted down 5 s after its holder's last renewal.
const CONTROLLER: &str = r#"
nodes = []

[quota]
volumes = -1
gigabytes = -1
snapshots = -1

[cluster]
lease_seconds = 12
node_down_after_seconds = 5
"#;

/// The agent's node `n1`, a file node under `dir`.
fn agent_config(dir: &std::path::Path) -> String {
    format!(
        "[cluster]\nlease_seconds = 12\nnode_down_after_seconds = 5\n\n\
         [scheduler]\nstats_interval_seconds = 1\n\n\
         [[nodes]]\nname = \"n1\"\ndriver = \"file\"\n\
         [nodes.driver_options]\npath = \"{}\"\n",
        dir.display()
    )
}

fn call(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), Box<dyn std::error::Error>> {
    let text = body.map(|b| b.to_string());
    let (status, out) = http_request(
        port,
        method,
        &format!("/v3/{PROJECT}{path}"),
        &[
            ("X-Auth-Token", token),
            ("Content-Type", "application/json"),
            ("OpenStack-API-Version", "volume 3.50"),
        ],
        text.as_deref(),
    )?;
    let v = if out.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or(Value::String(out))
    };
    Ok((status, v))
}

/// The volume's status, or `None` once it is gone.
fn status(port: u16, id: &str) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let (code, v) = call(port, USER, "GET", &format!("/volumes/{id}"), None)?;
    if code == 404 {
        return Ok(None);
    }
    assert_eq!(code, 200, "{v}");
    Ok(v["volume"]["status"].as_str().map(str::to_string))
}

fn wait_status(port: u16, id: &str, want: Option<&str>) -> TestResult {
    let mut last = None;
    let reached = wait_for(Duration::from_secs(30), || {
        last = status(port, id)?;
        Ok(last.as_deref() == want)
    })?;
    assert!(reached, "volume {id}: {last:?}, wanted {want:?}");
    Ok(())
}

fn create(port: u16, size: u64) -> Result<String, Box<dyn std::error::Error>> {
    let (code, v) = call(
        port,
        USER,
        "POST",
        "/volumes",
        Some(json!({"volume": {"size": size}})),
    )?;
    assert_eq!(code, 202, "{v}");
    Ok(v["volume"]["id"].as_str().ok_or("no id")?.to_string())
}

fn connector() -> Value {
    json!({"connector": {"initiator": "iqn.1993-08.org.debian:01:test", "host": "compute-1", "ip": "127.0.0.1"}})
}

/// `n1`'s state in `os-services` as controller `port` sees it.
fn node_state(port: u16) -> Result<String, Box<dyn std::error::Error>> {
    let (code, v) = call(
        port,
        ADMIN,
        "GET",
        "/os-services?binary=cinder-volume",
        None,
    )?;
    assert_eq!(code, 200, "{v}");
    Ok(v["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["host"] == "n1@file"))
        .and_then(|s| s["state"].as_str())
        .unwrap_or("absent")
        .to_string())
}

/// Every pool `get_pools` shows on controller `port`, in detail.
fn pools(port: u16) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    let (code, v) = call(
        port,
        ADMIN,
        "GET",
        "/scheduler-stats/get_pools?detail=true",
        None,
    )?;
    assert_eq!(code, 200, "{v}");
    Ok(v["pools"].as_array().cloned().unwrap_or_default())
}

/// `n1`'s pool's `backend_state` in `get_pools` as controller `port` sees it.
fn pool_state(port: u16) -> Result<String, Box<dyn std::error::Error>> {
    Ok(pools(port)?
        .first()
        .and_then(|p| p["capabilities"]["backend_state"].as_str())
        .unwrap_or("absent")
        .to_string())
}

/// An agent (its files in `dir/agent`, config `agent`) and two controllers on `url`,
/// once both controllers see the agent's pool up.
fn cluster(
    url: &str,
    dir: &std::path::Path,
    agent: &str,
) -> Result<(Server, Server, Server), Box<dyn std::error::Error>> {
    let agent = Server::builder(&dir.join("agent"))
        .agent()
        .database_url(Some(url))
        .config(agent)
        .start()?;
    let c1 = Server::builder(&dir.join("c1"))
        .database_url(Some(url))
        .config(CONTROLLER)
        .start()?;
    let c2 = Server::builder(&dir.join("c2"))
        .database_url(Some(url))
        .config(CONTROLLER)
        .start()?;
    for c in [&c1, &c2] {
        let seen = wait_for(Duration::from_secs(30), || Ok(pool_state(c.port)? == "up"))?;
        assert!(seen, "controller {} never saw n1's pool", c.port);
    }
    Ok((agent, c1, c2))
}

fn signal(pid: u32, sig: &str) -> TestResult {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()?
        .success();
    assert!(ok, "kill {sig} {pid}");
    Ok(())
}

#[test]
fn two_controllers_and_an_agent_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let agent_dir = dir.path().join("agent");
    let volumes = dir.path().join("volumes");
    std::fs::create_dir_all(&volumes)?;
    let agent_text = agent_config(&volumes);
    let (agent, c1, c2) = cluster(&url, dir.path(), &agent_text)?;
    for c in [&c1, &c2] {
        assert_eq!(node_state(c.port)?, "up");
    }

    // Created through one controller, acted on through the other, and back.
    let a = create(c1.port, 1)?;
    wait_status(c2.port, &a, Some("available"))?;
    let b = create(c2.port, 1)?;
    wait_status(c1.port, &b, Some("available"))?;
    assert!(
        volumes.read_dir()?.count() >= 2,
        "the agent's node holds the volumes"
    );

    let (code, v) = call(
        c2.port,
        USER,
        "POST",
        &format!("/volumes/{a}/action"),
        Some(json!({"os-extend": {"new_size": 2}})),
    )?;
    assert_eq!(code, 202, "{v}");
    let grown = wait_for(Duration::from_secs(30), || {
        let (_, v) = call(c1.port, USER, "GET", &format!("/volumes/{a}"), None)?;
        Ok(v["volume"]["status"] == "available" && v["volume"]["size"] == 2)
    })?;
    assert!(grown, "the extend through c2 finished");

    let (code, v) = call(
        c1.port,
        USER,
        "POST",
        "/snapshots",
        Some(json!({"snapshot": {"volume_id": a}})),
    )?;
    assert_eq!(code, 202, "{v}");
    let snap = v["snapshot"]["id"]
        .as_str()
        .ok_or("no snapshot id")?
        .to_string();
    let taken = wait_for(Duration::from_secs(30), || {
        let (_, v) = call(c2.port, USER, "GET", &format!("/snapshots/{snap}"), None)?;
        Ok(v["snapshot"]["status"] == "available")
    })?;
    assert!(taken, "the snapshot through c1 was taken");
    let (code, v) = call(c2.port, USER, "DELETE", &format!("/snapshots/{snap}"), None)?;
    assert_eq!(code, 202, "{v}");
    let gone = wait_for(Duration::from_secs(30), || {
        Ok(call(c1.port, USER, "GET", &format!("/snapshots/{snap}"), None)?.0 == 404)
    })?;
    assert!(gone, "the snapshot delete through c2 finished");

    // A burst from both controllers at once: every create placed and made, none lost.
    let burst: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = [c1.port, c2.port, c1.port, c2.port]
            .into_iter()
            .map(|port| {
                s.spawn(move || {
                    (0..5)
                        .map(|_| create(port, 1).map_err(|e| e.to_string()))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for w in workers {
            ids.extend(w.join().map_err(|_| "a client thread panicked")??);
        }
        Ok::<_, Box<dyn std::error::Error>>(ids)
    })?;
    assert_eq!(burst.len(), 20);
    for id in &burst {
        wait_status(c2.port, id, Some("available"))?;
    }
    for id in &burst {
        let (code, v) = call(c1.port, USER, "DELETE", &format!("/volumes/{id}"), None)?;
        assert_eq!(code, 202, "{v}");
    }
    for id in &burst {
        wait_status(c2.port, id, None)?;
    }

    // Exports are calls: the agent answers within the request, through either controller.
    for c in [&c1, &c2] {
        let (code, v) = call(
            c.port,
            USER,
            "POST",
            &format!("/volumes/{b}/action"),
            Some(json!({"os-initialize_connection": connector()})),
        )?;
        assert_eq!(code, 200, "{v}");
        assert!(
            v["connection_info"]["driver_volume_type"].is_string(),
            "{v}"
        );
        let (code, v) = call(
            c.port,
            USER,
            "POST",
            &format!("/volumes/{b}/action"),
            Some(json!({"os-terminate_connection": connector()})),
        )?;
        assert_eq!(code, 202, "{v}");
    }

    // The agent stops (paused, its lease still good but not renewed): its node is down
    // on both controllers, new volumes are refused a place, exports answer 503 at once.
    signal(agent.pid(), "-STOP")?;
    for c in [&c1, &c2] {
        let down = wait_for(
            Duration::from_secs(30),
            || Ok(node_state(c.port)? == "down"),
        )?;
        assert!(down, "controller {} saw n1 down", c.port);
        let down = wait_for(
            Duration::from_secs(30),
            || Ok(pool_state(c.port)? == "down"),
        )?;
        assert!(down, "controller {} marked n1's pool down", c.port);
    }
    let (code, v) = call(
        c1.port,
        USER,
        "POST",
        &format!("/volumes/{b}/action"),
        Some(json!({"os-initialize_connection": connector()})),
    )?;
    assert_eq!(code, 503, "{v}");
    assert!(v.to_string().contains("node n1 is down"), "{v}");
    let refused = create(c2.port, 1)?;
    wait_status(c1.port, &refused, Some("error"))?;

    // Work queued while it is stopped waits in the outbox, and runs once it is back.
    let (code, v) = call(c2.port, USER, "DELETE", &format!("/volumes/{b}"), None)?;
    assert_eq!(code, 202, "{v}");
    let mut c = clinker::db::connect(&url, 1)?.get()?;
    let queued: i64 = node_work::table
        .filter(node_work::node.eq("n1"))
        .count()
        .get_result(&mut c)?;
    assert_eq!(queued, 1, "the delete waits in the outbox");
    assert_eq!(status(c1.port, &b)?.as_deref(), Some("deleting"));
    signal(agent.pid(), "-CONT")?;
    wait_status(c1.port, &b, None)?;
    for c in [&c1, &c2] {
        let up = wait_for(Duration::from_secs(30), || Ok(node_state(c.port)? == "up"))?;
        assert!(up, "controller {} saw n1 up again", c.port);
    }
    let queued: i64 = node_work::table.count().get_result(&mut c)?;
    assert_eq!(queued, 0, "the outbox is empty once the work ran");

    // The agent killed: a delete queued meanwhile is not lost. Its restart clears the
    // queue and its recovery resumes the delete from the volume's row.
    let mut agent = agent;
    signal(agent.pid(), "-KILL")?;
    let _ = agent.exit_code();
    let down = wait_for(Duration::from_secs(30), || {
        Ok(node_state(c1.port)? == "down")
    })?;
    assert!(down, "n1 down once its agent is dead");
    let (code, v) = call(c2.port, USER, "DELETE", &format!("/volumes/{a}"), None)?;
    assert_eq!(code, 202, "{v}");
    let queued: i64 = node_work::table.count().get_result(&mut c)?;
    assert_eq!(queued, 1, "the delete waits in the outbox");
    drop(agent);
    let _agent = Server::builder(&agent_dir)
        .agent()
        .database_url(Some(&url))
        .config(&agent_text)
        .start()?;
    wait_status(c1.port, &a, None)?;
    let queued: i64 = node_work::table.count().get_result(&mut c)?;
    assert_eq!(queued, 0, "nothing left queued");
    let epoch: i64 = clinker::db::schema::node_claims::table
        .filter(clinker::db::schema::node_claims::node.eq("n1"))
        .select(clinker::db::schema::node_claims::epoch)
        .first(&mut c)?;
    assert_eq!(epoch, 2, "the restarted agent holds n1 at the next epoch");
    for c in [&c1, &c2] {
        let up = wait_for(Duration::from_secs(30), || Ok(node_state(c.port)? == "up"))?;
        assert!(up, "controller {} saw n1 up again", c.port);
    }
    Ok(())
}

#[test]
fn a_stale_epoch_takes_nothing_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let mut c = clinker::db::connect(&url, 1)?.get()?;
    clinker::db::migrate(&mut c)?;
    // An old holder at epoch 1; the node has since been claimed again (epoch 2).
    let now = clinker::db::instances::clock(&mut c)?;
    diesel::insert_into(clinker::db::schema::node_claims::table)
        .values((
            clinker::db::schema::node_claims::node.eq("n1"),
            clinker::db::schema::node_claims::holder.eq("new"),
            clinker::db::schema::node_claims::epoch.eq(2),
            clinker::db::schema::node_claims::claimed_at.eq(now),
        ))
        .execute(&mut c)?;
    outbox::push(&mut c, "n1", "v1", r#"{"origin":"x"}"#)?;
    let call_id = outbox::call(&mut c, "n1", "v1", "{}")?;
    let stale = Fence {
        node: "n1".into(),
        holder: "old".into(),
        epoch: 1,
    };
    assert!(matches!(
        outbox::take(&mut c, &stale, 10),
        Err(DbError::Fenced { .. })
    ));
    assert!(matches!(
        outbox::take_calls(&mut c, &stale, 10),
        Err(DbError::Fenced { .. })
    ));
    assert!(matches!(
        outbox::answer(&mut c, &stale, &call_id, "{}"),
        Err(DbError::Fenced { .. })
    ));
    assert!(matches!(
        outbox::clear(&mut c, &stale),
        Err(DbError::Fenced { .. })
    ));
    assert_eq!(
        outbox::reply_of(&mut c, &call_id)?,
        Some(None),
        "the call is unanswered"
    );
    let left: i64 = node_work::table.count().get_result(&mut c)?;
    assert_eq!(left, 2, "nothing taken by the stale holder");
    let current = Fence {
        node: "n1".into(),
        holder: "new".into(),
        epoch: 2,
    };
    let taken = outbox::take(&mut c, &current, 10)?;
    let bodies: Vec<&str> = taken.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(bodies, vec![r#"{"origin":"x"}"#]);
    // How long it waited, by the database's clock: a moment, never negative.
    assert!((0.0..60.0).contains(&taken[0].1), "waited {} s", taken[0].1);
    assert_eq!(outbox::take_calls(&mut c, &current, 10)?.len(), 1);
    assert!(outbox::take(&mut c, &current, 10)?.is_empty(), "taken once");
    Ok(())
}

// The capacity ledger across processes: both controllers creating into a pool that holds
// six volumes at once. Each scheduler decides on its own picture of the pool, but the
// booking in the ledger is checked under the pool row's lock, so exactly six are made,
// the rest fail as Cinder fails them ("No valid backend"), and the ledger, `get_pools`
// and the deletes agree on what is placed.

/// Node `n1`: a thick fake pool of 12 GiB, room for six volumes of 2 GiB.
const LEDGER_AGENT: &str = r#"
[cluster]
lease_seconds = 12
node_down_after_seconds = 5

[scheduler]
stats_interval_seconds = 1

[[nodes]]
name = "n1"
driver = "fake"
provisioning = "thick"
[nodes.driver_options]
total_capacity_gb = 12
"#;

/// The pool of [`LEDGER_AGENT`], what each create asks, and how many fit.
const LEDGER_POOL: &str = "n1@fake#fake";
const SIZE: u64 = 2;
const FITS: usize = 6;

/// The pool as controller `port`'s `get_pools` shows it.
fn ledger_pool(port: u16) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(pools(port)?
        .into_iter()
        .find(|p| p["name"] == LEDGER_POOL)
        .unwrap_or(Value::Null))
}

fn booked(url: &str) -> Result<i64, Box<dyn std::error::Error>> {
    let mut c = clinker::db::connect(url, 1)?.get()?;
    Ok(pool_ledger::table
        .filter(pool_ledger::host.eq(LEDGER_POOL))
        .select(pool_ledger::allocated_gb)
        .first::<i64>(&mut c)
        .optional()?
        .unwrap_or(0))
}

#[test]
fn two_controllers_fill_a_pool_exactly_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let (_agent, c1, c2) = cluster(&url, dir.path(), LEDGER_AGENT)?;

    // Three times what the pool holds, from both controllers at once.
    let ids: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = [c1.port, c2.port, c1.port, c2.port, c1.port, c2.port]
            .into_iter()
            .map(|port| {
                s.spawn(move || {
                    (0..3)
                        .map(|_| {
                            let (code, v) = call(
                                port,
                                USER,
                                "POST",
                                "/volumes",
                                Some(json!({"volume": {"size": SIZE}})),
                            )
                            .map_err(|e| e.to_string())?;
                            if code != 202 {
                                return Err(format!("create answered {code}: {v}"));
                            }
                            v["volume"]["id"]
                                .as_str()
                                .map(str::to_string)
                                .ok_or_else(|| format!("no id in {v}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for w in workers {
            ids.extend(w.join().map_err(|_| "a client thread panicked")??);
        }
        Ok::<_, Box<dyn std::error::Error>>(ids)
    })?;
    assert_eq!(ids.len(), 3 * FITS);

    let mut settled = Vec::new();
    let done = wait_for(Duration::from_secs(60), || {
        settled = ids
            .iter()
            .map(|id| status(c1.port, id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(settled
            .iter()
            .all(|s| matches!(s.as_deref(), Some("available" | "error"))))
    })?;
    assert!(done, "not all creates settled: {settled:?}");
    let made: Vec<&String> = ids
        .iter()
        .zip(&settled)
        .filter(|(_, s)| s.as_deref() == Some("available"))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(made.len(), FITS, "exactly what the pool holds: {settled:?}");
    assert_eq!(booked(&url)?, (FITS as u64 * SIZE) as i64);

    // Each refused volume carries Cinder's message for "No valid backend".
    let refused: Vec<&String> = ids.iter().filter(|id| !made.contains(id)).collect();
    let (code, v) = call(c2.port, USER, "GET", "/messages", None)?;
    assert_eq!(code, 200, "{v}");
    let messages = v["messages"].as_array().ok_or("no messages")?;
    for id in &refused {
        let said = messages
            .iter()
            .find(|m| m["resource_uuid"] == id.as_str())
            .and_then(|m| m["user_message"].as_str())
            .unwrap_or_default();
        assert!(
            said.contains("Could not find any available weighted backend"),
            "{id}: {said:?} in {v}"
        );
    }

    // Both controllers show the ledger's figure.
    for c in [&c1, &c2] {
        let shown =
            wait_for(Duration::from_secs(30), || {
                let p = ledger_pool(c.port)?;
                let figure = |k: &str| p["capabilities"][k].as_f64();
                let full = Some((FITS as u64 * SIZE) as f64);
                Ok(figure("allocated_capacity_gb") == full
                    && figure("provisioned_capacity_gb") == full)
            })?;
        assert!(shown, "controller {}: {}", c.port, ledger_pool(c.port)?);
    }

    // Deleting gives it all back, and the pool takes volumes again.
    for id in &ids {
        let (code, v) = call(c2.port, USER, "DELETE", &format!("/volumes/{id}"), None)?;
        assert_eq!(code, 202, "{v}");
    }
    let emptied = wait_for(Duration::from_secs(30), || Ok(booked(&url)? == 0))?;
    assert!(emptied, "the ledger still holds {} GiB", booked(&url)?);
    let gone = wait_for(Duration::from_secs(30), || {
        Ok(ids
            .iter()
            .map(|id| status(c1.port, id))
            .collect::<Result<Vec<_>, _>>()?
            .iter()
            .all(Option::is_none))
    })?;
    assert!(gone, "every volume deleted");
    let (code, v) = call(
        c1.port,
        USER,
        "POST",
        "/volumes",
        Some(json!({"volume": {"size": SIZE}})),
    )?;
    assert_eq!(code, 202, "{v}");
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    let available = wait_for(Duration::from_secs(30), || {
        Ok(status(c2.port, &id)?.as_deref() == Some("available"))
    })?;
    assert!(
        available,
        "a create after the deletes: {:?}",
        status(c2.port, &id)?
    );
    Ok(())
}
