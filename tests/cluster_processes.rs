//! Real `clinker serve` processes sharing a database: a restart after `kill -9` releases
//! what the dead process held at once, and a second process never takes a node a live
//! one holds (it refuses to start, naming the node and the holder), but takes it over
//! once the holder's lease has lapsed.

mod common_e2e;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clinker::db::schema::{instances, node_claims, quota_usages, reservations};
use clinker::db::{self, quotas};
use common_e2e::{PROJECT, PgDatabase, Server, TestResult, http_request, wait_for};
use diesel::prelude::*;
use serde_json::Value;

const TOKEN: &str = "alice:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";

/// Room for every volume the creates make, and a short lease.
const CONFIG: &str = r#"
[quota]
volumes = -1
gigabytes = -1

[cluster]
lease_seconds = 3
"#;

fn create(port: u16, name: &str) -> Result<(u16, String), String> {
    let body = format!(r#"{{"volume": {{"size": 1, "name": "{name}"}}}}"#);
    http_request(
        port,
        "POST",
        &format!("/v3/{PROJECT}/volumes"),
        &[
            ("X-Auth-Token", TOKEN),
            ("Content-Type", "application/json"),
        ],
        Some(&body),
    )
}

/// A config whose node `local` keeps its volumes where the default node of a server with
/// data directory `data_dir` does: another process taking that node over.
fn local_node_at(data_dir: &std::path::Path) -> String {
    format!(
        "{CONFIG}\n[[nodes]]\nname = \"local\"\ndriver = \"file\"\n\
         [nodes.driver_options]\npath = \"{}\"\n",
        data_dir.join("volumes").display()
    )
}

/// A controller with data directory `data_dir` on `url`, once `n` volumes it created are
/// `available`.
fn with_volumes(
    data_dir: &std::path::Path,
    url: &str,
    n: usize,
) -> Result<Server, Box<dyn std::error::Error>> {
    let server = Server::builder(data_dir)
        .database_url(Some(url))
        .config(CONFIG)
        .start()?;
    for i in 0..n {
        let (status, text) = create(server.port, &format!("v{i}"))?;
        assert_eq!(status, 202, "{text}");
    }
    let ready = wait_for(Duration::from_secs(10), || all_available(server.port, n))?;
    assert!(ready, "{:?}", statuses(server.port)?);
    Ok(server)
}

/// True when there are `n` volumes, all `available`.
fn all_available(port: u16, n: usize) -> Result<bool, Box<dyn std::error::Error>> {
    let s = statuses(port)?;
    Ok(s.len() == n && s.iter().all(|s| s == "available"))
}

/// Every volume's status.
fn statuses(port: u16) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (status, text) = http_request(
        port,
        "GET",
        &format!("/v3/{PROJECT}/volumes/detail"),
        &[("X-Auth-Token", TOKEN)],
        None,
    )?;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text)?;
    Ok(v["volumes"]
        .as_array()
        .ok_or("no volumes list")?
        .iter()
        .map(|v| v["status"].as_str().unwrap_or_default().to_string())
        .collect())
}

/// The id of the instance running as process `pid`.
fn instance_of(c: &mut db::DbConnection, pid: u32) -> Result<String, Box<dyn std::error::Error>> {
    Ok(instances::table
        .filter(instances::pid.eq(i64::from(pid)))
        .select(instances::id)
        .first(c)?)
}

/// Reservations left, and the sum of every usage row's `reserved`.
fn held(c: &mut db::DbConnection) -> Result<(i64, i64), Box<dyn std::error::Error>> {
    let rows: i64 = reservations::table.count().get_result(c)?;
    let reserved: Vec<i64> = quota_usages::table.select(quota_usages::reserved).load(c)?;
    Ok((rows, reserved.iter().sum()))
}

/// Reserves quota in project `injected` on behalf of the instance running as `pid`, as a
/// request of it in flight would have.
fn reserve_for(c: &mut db::DbConnection, pid: u32) -> TestResult {
    let owner = instance_of(c, pid)?;
    let ids = quotas::reserve(
        c,
        "injected",
        &[("gigabytes", 3), ("volumes", 1)],
        86_400,
        &quotas::Defaults::default(),
    )?;
    diesel::update(reservations::table.filter(reservations::id.eq_any(&ids)))
        .set(reservations::instance_id.eq(&owner))
        .execute(c)?;
    Ok(())
}

/// `kill -9` while clients create; the reservation of a request in flight at that moment
/// (one is made to be, on the dead process's behalf) must be gone once the process has
/// started again, not a day later.
fn kill_during_creates(database_url: Option<&str>) -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let start = || {
        Server::builder(&data)
            .database_url(database_url)
            .config(CONFIG)
            .start()
    };
    let mut server = start()?;
    let url = database_url
        .map(str::to_string)
        .unwrap_or_else(|| data.join("clinker.db").display().to_string());
    let pool = db::connect(&url, 2)?;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, port) = (stop.clone(), server.port);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let _ = create(port, &format!("c{i}-{n}"));
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A reservation whose commit the kill will prevent: the window between a reserve and
    // its commit is too short to hit reliably, so one is made on the server's behalf.
    let mut c = pool.get()?;
    reserve_for(&mut c, server.pid())?;
    std::thread::sleep(Duration::from_millis(300));
    server.stop();
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().map_err(|_| "a client panicked")?;
    }
    let (rows, _) = held(&mut c)?;
    assert!(
        rows >= 2,
        "the injected reservations are there before the restart"
    );

    let server = start()?;
    let released = wait_for(Duration::from_secs(5), || Ok(held(&mut c)? == (0, 0)))?;
    assert!(
        released,
        "reservations left after the restart: {:?}\n{}",
        held(&mut c)?,
        server.log_text()
    );
    Ok(())
}

#[test]
fn kill_during_creates_leaves_no_reservation_sqlite() -> TestResult {
    kill_during_creates(None)
}

#[test]
fn kill_during_creates_leaves_no_reservation_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    kill_during_creates(Some(&pg.url()))
}

/// A controller killed for good: a live peer (with a node of its own) releases its
/// reservations once its lease (3 s) has lapsed, at the peer's next renewal, without
/// anyone restarting.
#[test]
fn a_live_peer_releases_a_dead_ones_reservations_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let mut dying = Server::builder(&dir.path().join("a"))
        .database_url(Some(&url))
        .config(CONFIG)
        .start()?;
    let own_node = format!(
        "{CONFIG}\n[[nodes]]\nname = \"other\"\ndriver = \"fake\"\n\
         [nodes.driver_options]\ntotal_capacity_gb = 100\n"
    );
    let peer = Server::builder(&dir.path().join("b"))
        .database_url(Some(&url))
        .config(&own_node)
        .start()?;
    let mut c = db::connect(&url, 1)?.get()?;
    reserve_for(&mut c, dying.pid())?;
    dying.stop();
    assert_ne!(held(&mut c)?, (0, 0));
    // Lapsed within 3 s of the kill, swept at the peer's next renewal (every second).
    let released = wait_for(Duration::from_secs(8), || Ok(held(&mut c)? == (0, 0)))?;
    assert!(
        released,
        "still held: {:?}\n{}",
        held(&mut c)?,
        peer.log_text()
    );
    Ok(())
}

/// The reproduction of issue 16: two controllers with their own data directories and
/// the default node on one PostgreSQL. The second must refuse to start, naming the node
/// and its holder, and leave the first one's volumes alone; once the first is dead and
/// its lease has lapsed, a process whose node reaches the same storage takes the node
/// over, at the next epoch, and finds the volumes as they were.
#[test]
fn second_controller_refuses_a_held_node_postgres() -> TestResult {
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let mut first = with_volumes(&dir.path().join("a"), &url, 3)?;

    let (code, log) = Server::builder(&dir.path().join("b"))
        .database_url(Some(&url))
        .config(CONFIG)
        .run_to_exit(Duration::from_secs(30))?;
    assert_eq!(code, Some(1), "the second controller:\n{log}");
    let mut c = db::connect(&url, 1)?.get()?;
    let holder = instance_of(&mut c, first.pid())?;
    for part in [
        "node local is held by instance".to_string(),
        holder.clone(),
        format!("pid {}", first.pid()),
    ] {
        assert!(log.contains(&part), "{part:?} missing from:\n{log}");
    }
    // The damage used to show a second after the second process started.
    std::thread::sleep(Duration::from_secs(2));
    assert!(all_available(first.port, 3)?, "{:?}", statuses(first.port)?);
    let claim: (String, i64) = node_claims::table
        .filter(node_claims::node.eq("local"))
        .select((node_claims::holder, node_claims::epoch))
        .first(&mut c)?;
    assert_eq!(claim, (holder.clone(), 1));

    // The holder dies; its lease (3 s) lapses; the node is taken over at epoch 2.
    first.stop();
    let taking_over = local_node_at(&dir.path().join("a"));
    // Renewed every second, the lease lapses at most 3 s after the kill.
    std::thread::sleep(Duration::from_secs(4));
    let second = Server::builder(&dir.path().join("c"))
        .database_url(Some(&url))
        .config(&taking_over)
        .start()?;
    let claim: (String, i64) = node_claims::table
        .filter(node_claims::node.eq("local"))
        .select((node_claims::holder, node_claims::epoch))
        .first(&mut c)?;
    assert_eq!(claim, (instance_of(&mut c, second.pid())?, 2));
    let gone: i64 = instances::table
        .filter(instances::id.eq(&holder))
        .count()
        .get_result(&mut c)?;
    assert_eq!(gone, 0, "the dead holder was swept");
    std::thread::sleep(Duration::from_secs(2));
    let s = statuses(second.port)?;
    assert_eq!(s, vec!["available"; 3], "{}", second.log_text());
    Ok(())
}

/// A controller paused (SIGSTOP) past its lease while another process takes its node
/// over: once resumed (SIGCONT) it finds its lease swept at its next renewal and exits,
/// rather than act on a node that is no longer its own; the volumes stay as they were.
#[test]
fn a_paused_controller_that_lost_its_node_stops_postgres() -> TestResult {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let pg = PgDatabase::create()?;
    let url = pg.url();
    let dir = tempfile::tempdir()?;
    let mut paused = with_volumes(&dir.path().join("a"), &url, 2)?;
    let pid = Pid::from_raw(i32::try_from(paused.pid())?);
    kill(pid, Signal::SIGSTOP)?;
    std::thread::sleep(Duration::from_secs(4));
    let taking_over = local_node_at(&dir.path().join("a"));
    let second = Server::builder(&dir.path().join("b"))
        .database_url(Some(&url))
        .config(&taking_over)
        .start()?;
    kill(pid, Signal::SIGCONT)?;
    let mut code = None;
    let exited = wait_for(Duration::from_secs(10), || {
        code = paused.exit_code()?;
        Ok(code.is_some())
    })?;
    assert!(
        exited,
        "the paused controller went on:\n{}",
        paused.log_text()
    );
    assert_eq!(code, Some(Some(1)));
    assert!(
        paused.log_text().contains("lease lapsed"),
        "{}",
        paused.log_text()
    );
    let s = statuses(second.port)?;
    assert_eq!(s, vec!["available"; 2], "{}", second.log_text());
    Ok(())
}
