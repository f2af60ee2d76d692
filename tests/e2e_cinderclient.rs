//! End to end: the real `clinker` binary driven by the real python-cinderclient (`cinder`),
//! on SQLite (the embedded default) and on PostgreSQL. `.ci/run` installs the client.

mod common_e2e;

use std::path::Path;
use std::time::{Duration, Instant};

use common_e2e::{PROJECT, PgDatabase, Server, TestResult, field, http, wait_for};

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

#[test]
fn cinderclient_on_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), Some(&db.url()))?;
    lifecycle(&server, dir.path())?;
    drop(server);
    Ok(())
}
