//! Real storage through the HTTP API alone: a qcow2 node exporting over NBD. Data written
//! through the export is in the snapshot, and a volume made from the snapshot shows it.

mod common;

use std::process::Command;
use std::time::Duration;

use actix_web::http::StatusCode;
use clinker::config::{DriverKind, NodeConfig};
use common::{ALICE, TestApp, TestResult, eventually, fake_node, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn qcow2_nbd_node() -> NodeConfig {
    let mut options = toml::Table::new();
    options.insert("path".into(), toml::Value::String("qcow2".into()));
    options.insert("target".into(), toml::Value::String("nbd".into()));
    options.insert("nbd_port_min".into(), toml::Value::Integer(11200));
    options.insert("nbd_port_max".into(), toml::Value::Integer(11399));
    NodeConfig {
        driver: DriverKind::Qcow2,
        driver_options: options,
        ..fake_node("qcow", "nova")
    }
}

async fn wait(app: &TestApp, kind: &str, id: &str, status: &str) -> Option<Value> {
    let one = kind.trim_end_matches('s').to_string();
    eventually(WAIT, || async {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/{kind}/{id}"), ALICE))
            .await;
        (s == StatusCode::OK && v[&one]["status"] == status).then(|| v[&one].clone())
    })
    .await
}

/// Creates a volume from `body` (the inside of `{"volume": ...}`) and waits until it is
/// available.
async fn make_volume(app: &TestApp, body: Value) -> Result<String, Box<dyn std::error::Error>> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ALICE,
            &json!({ "volume": body }),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    wait(app, "volumes", &id, "available")
        .await
        .ok_or(format!("volume {id} never available"))?;
    Ok(id)
}

async fn connect(app: &TestApp, id: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let body = json!({"os-initialize_connection": {"connector": {"host": "test-host", "ip": "127.0.0.1"}}});
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0a0a/volumes/{id}/action"),
            ALICE,
            &body,
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("initialize_connection answered {s}: {v}").into());
    }
    Ok(v["connection_info"].clone())
}

async fn disconnect(app: &TestApp, id: &str) -> TestResult {
    let body =
        json!({"os-terminate_connection": {"connector": {"host": "test-host", "ip": "127.0.0.1"}}});
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0a0a/volumes/{id}/action"),
            ALICE,
            &body,
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    Ok(())
}

fn qemu_io(url: &str, command: &str) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("qemu-io")
        .args(["-f", "raw", "-c", command, url])
        .output()
        .map_err(|e| format!("qemu-io is needed (qemu-utils): {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || text.contains("failed") {
        return Err(format!("qemu-io {command} on {url}: {text}").into());
    }
    Ok(text)
}

#[actix_web::test]
async fn data_written_over_nbd_survives_a_snapshot_and_a_copy() -> TestResult {
    let app = TestApp::with(|c| c.nodes = vec![qcow2_nbd_node()]).await?;
    let vol = make_volume(&app, json!({"size": 1})).await?;

    let info = connect(&app, &vol).await?;
    assert_eq!(info["driver_volume_type"], "nbd", "{info}");
    let url = info["data"]["url"]
        .as_str()
        .ok_or(format!("no url: {info}"))?
        .to_string();
    qemu_io(&url, "write -P 0xab 0 1M")?;
    disconnect(&app, &vol).await?;

    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": vol}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let snap = v["snapshot"]["id"].as_str().ok_or("no id")?.to_string();
    wait(&app, "snapshots", &snap, "available")
        .await
        .ok_or("snapshot never available")?;

    // New data after the snapshot must not show in the copy.
    let info = connect(&app, &vol).await?;
    let url = info["data"]["url"].as_str().ok_or("no url")?.to_string();
    qemu_io(&url, "write -P 0xcd 0 1M")?;
    disconnect(&app, &vol).await?;

    let copy = make_volume(&app, json!({"snapshot_id": snap})).await?;
    let info = connect(&app, &copy).await?;
    let url = info["data"]["url"].as_str().ok_or("no url")?.to_string();
    qemu_io(&url, "read -P 0xab 0 1M")?;
    disconnect(&app, &copy).await?;

    // A clone of the volume holds its current data (0xcd), not the snapshot's.
    let clone = make_volume(&app, json!({"source_volid": vol})).await?;
    let info = connect(&app, &clone).await?;
    let url = info["data"]["url"].as_str().ok_or("no url")?.to_string();
    qemu_io(&url, "read -P 0xcd 0 1M")?;
    disconnect(&app, &clone).await?;

    let file = app.dir.path().join("qcow2").join(format!("volume-{copy}"));
    let out = Command::new("qemu-img")
        .args(["check", "-f", "qcow2"])
        .arg(&file)
        .output()?;
    assert!(
        out.status.success(),
        "qemu-img check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

#[actix_web::test]
async fn a_clone_on_the_file_driver_holds_the_sources_data() -> TestResult {
    let app = TestApp::with(|c| c.nodes = vec![common::file_node("files", "nova")]).await?;
    let src = make_volume(&app, json!({"size": 1})).await?;
    let dir = app.dir.path().join("volumes");
    let pattern: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(format!("volume-{src}")))?;
        f.seek(SeekFrom::Start(512 << 20))?;
        f.write_all(&pattern)?;
        f.sync_all()?;
    }
    let clone = make_volume(&app, json!({"source_volid": src, "size": 2})).await?;
    let path = dir.join(format!("volume-{clone}"));
    assert_eq!(
        std::fs::metadata(&path)?.len(),
        2 << 30,
        "the clone has its own, bigger size"
    );
    let mut f = std::fs::File::open(&path)?;
    let mut read_at = |offset: u64| -> Result<Vec<u8>, std::io::Error> {
        use std::io::{Read, Seek, SeekFrom};
        let mut buf = vec![0u8; 1 << 20];
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut buf)?;
        Ok(buf)
    };
    assert!(read_at(512 << 20)? == pattern, "the written MiB was copied");
    assert!(read_at(511 << 20)?.iter().all(|b| *b == 0));
    Ok(())
}
