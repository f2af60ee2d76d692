//! End to end: the real `clinker` binary driven by the real python-cinderclient (`cinder`),
//! on SQLite (the embedded default) and on PostgreSQL. `.ci/run` installs the client.

mod common_e2e;

use std::path::Path;
use std::time::{Duration, Instant};

use common_e2e::{
    PROJECT, PgDatabase, Server, TestResult, assert_areas, client_script, field, http, wait_for,
};

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

/// Snapshots, copies, extend, actions and the attachments API through `cinder` at the
/// highest microversion it negotiates.
fn snapshots_and_actions(server: &Server) -> TestResult {
    let status = |kind: &str, id: &str| -> Result<Option<String>, Box<dyn std::error::Error>> {
        let (_, out) = server.cinder(&[kind, id])?;
        Ok(field(&out, "status"))
    };
    let wait = |kind: &'static str, id: String, want: &'static str| {
        wait_for(Duration::from_secs(20), move || {
            Ok(status(kind, &id)?.as_deref() == Some(want))
        })
    };
    let out = server.cinder_ok(&["create", "--name", "src", "1"])?;
    let vol = field(&out, "id").ok_or("no id")?;
    assert!(
        wait("show", vol.clone(), "available")?,
        "volume never available"
    );
    let out = server.cinder_ok(&["snapshot-create", "--name", "snap", &vol])?;
    let snap = field(&out, "id").ok_or("no snapshot id")?;
    assert!(
        wait("snapshot-show", snap.clone(), "available")?,
        "snapshot never available"
    );
    let out = server.cinder_ok(&["create", "--snapshot-id", &snap, "--name", "copy"])?;
    let copy = field(&out, "id").ok_or("no id")?;
    assert!(
        wait("show", copy.clone(), "available")?,
        "copy never available"
    );
    let (_, shown) = server.cinder(&["show", &copy])?;
    assert_eq!(field(&shown, "snapshot_id").as_deref(), Some(snap.as_str()));
    let out = server.cinder_ok(&["create", "--source-volid", &vol, "--name", "twin", "2"])?;
    let twin = field(&out, "id").ok_or("no id")?;
    assert!(
        wait("show", twin.clone(), "available")?,
        "clone never available"
    );
    let (_, shown) = server.cinder(&["show", &twin])?;
    assert_eq!(
        (field(&shown, "source_volid"), field(&shown, "size")),
        (Some(vol.clone()), Some("2".into()))
    );
    let (ok, out) = server.cinder(&[
        "create",
        "--source-volid",
        &uuid::Uuid::new_v4().to_string(),
        "1",
    ])?;
    assert!(!ok && out.contains("could not be found"), "{out}");
    server.cinder_ok(&["delete", &twin])?;

    server.cinder_ok(&["extend", &vol, "2"])?;
    let grown = wait_for(Duration::from_secs(20), || {
        let (_, out) = server.cinder(&["show", &vol])?;
        Ok(field(&out, "size").as_deref() == Some("2")
            && field(&out, "status").as_deref() == Some("available"))
    })?;
    assert!(grown, "extend never finished");
    server.cinder_ok(&["set-bootable", &vol, "true"])?;
    let (_, shown) = server.cinder(&["show", &vol])?;
    assert_eq!(field(&shown, "bootable").as_deref(), Some("true"));
    server.cinder_ok(&["readonly-mode-update", &vol, "true"])?;
    server.cinder_ok(&["reset-state", "--state", "error", &copy])?;
    assert_eq!(status("show", &copy)?.as_deref(), Some("error"));
    let (ok, out) = server.cinder(&[
        "attachment-create",
        &copy,
        &uuid::Uuid::new_v4().to_string(),
    ])?;
    assert!(
        !ok && out.contains("error status"),
        "an errored volume cannot be attached: {out}"
    );
    server.cinder_ok(&["reset-state", "--state", "available", &copy])?;

    // The attachments API (3.27+): reserve, then complete, then remove.
    let server_id = uuid::Uuid::new_v4().to_string();
    let out = server.cinder_ok(&["attachment-create", &copy, &server_id])?;
    let att = field(&out, "ID")
        .or_else(|| field(&out, "id"))
        .ok_or(format!("no attachment id: {out}"))?;
    let (_, listed) = server.cinder(&["attachment-list"])?;
    assert!(listed.contains(&att), "{listed}");
    server.cinder_ok(&["attachment-delete", &att])?;

    server.cinder_ok(&["snapshot-delete", &snap])?;
    let gone = wait_for(Duration::from_secs(20), || {
        Ok(!server.cinder(&["snapshot-show", &snap])?.0)
    })?;
    assert!(gone, "snapshot never went away");
    server.cinder_ok(&["delete", &vol, &copy])?;
    Ok(())
}

/// Waits until volume `id` shows `want`.
fn wait_status(server: &Server, id: &str, want: &str) -> TestResult {
    let reached = wait_for(Duration::from_secs(20), || {
        let (_, show) = server.cinder(&["show", id])?;
        Ok(field(&show, "status").as_deref() == Some(want))
    })?;
    assert!(reached, "{id} never {want}: {}", server.log_text());
    Ok(())
}

/// `transfer-*` at cinderclient's default version (the extension's route) and at 3.57
/// (`/volume-transfers`), and `encryption-type-*`.
fn transfers_and_encryption(server: &Server) -> TestResult {
    let out = server.cinder_ok(&["create", "--name", "gift", "1"])?;
    let vol = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    wait_status(server, &vol, "available")?;
    let out = server.cinder_ok(&["transfer-create", "--name", "gift-t", &vol])?;
    let (id, key) = (field(&out, "id"), field(&out, "auth_key"));
    let (id, key) = id.zip(key).ok_or(format!("no id or key in: {out}"))?;
    assert_eq!(key.len(), 16, "{out}");
    wait_status(server, &vol, "awaiting-transfer")?;
    let listed = server.cinder_ok(&["transfer-list"])?;
    assert!(listed.contains(&id), "{listed}");
    let shown = server.cinder_ok(&["transfer-show", &id])?;
    assert!(!shown.contains(&key), "the key is shown once: {shown}");
    let (ok, out) = server.cinder(&["transfer-accept", &id, "0000000000000000"])?;
    assert!(!ok && out.contains("Invalid auth key"), "{out}");
    server.cinder_ok(&["transfer-accept", &id, &key])?;
    wait_status(server, &vol, "available")?;
    // At 3.57 the history fields come back.
    let out = server.cinder_ok(&["--os-volume-api-version", "3.57", "transfer-create", &vol])?;
    assert_eq!(field(&out, "accepted").as_deref(), Some("False"), "{out}");
    let again = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    server.cinder_ok(&["--os-volume-api-version", "3.57", "transfer-delete", &again])?;
    wait_status(server, &vol, "available")?;
    server.cinder_ok(&["delete", &vol])?;

    server.cinder_ok(&["type-create", "luks"])?;
    server.cinder_ok(&[
        "encryption-type-create",
        "--cipher",
        "aes-xts-plain64",
        "--key-size",
        "256",
        "--control-location",
        "front-end",
        "luks",
        "luks",
    ])?;
    let shown = server.cinder_ok(&["encryption-type-show", "luks"])?;
    assert!(shown.contains("aes-xts-plain64"), "{shown}");
    server.cinder_ok(&["encryption-type-update", "--key-size", "512", "luks"])?;
    let listed = server.cinder_ok(&["encryption-type-list"])?;
    assert!(listed.contains("512"), "{listed}");
    let out = server.cinder_ok(&["create", "--volume-type", "luks", "1"])?;
    assert_eq!(field(&out, "encrypted").as_deref(), Some("True"), "{out}");
    let secret = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    let (ok, out) = server.cinder(&["encryption-type-delete", "luks"])?;
    assert!(!ok && out.contains("Volume type in use"), "{out}");
    wait_status(server, &secret, "available")?;
    server.cinder_ok(&["delete", &secret])?;
    let gone = wait_for(Duration::from_secs(20), || {
        Ok(!server.cinder(&["show", &secret])?.0)
    })?;
    assert!(gone, "the encrypted volume never went away");
    server.cinder_ok(&["encryption-type-delete", "luks"])?;
    server.cinder_ok(&["type-delete", "luks"])?;
    Ok(())
}

#[test]
fn cinderclient_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    lifecycle(&server, dir.path())?;
    snapshots_and_actions(&server)?;
    transfers_and_encryption(&server)
}

/// tests/clients/cinder_areas.py: cinderclient's shell in one process over a transfer
/// into another project (the volume, its snapshot and their usage move), group types and
/// specs, groups (the `groups` quota with them) and the metadata ETag and If-Match (3.15).
#[test]
fn cinderclient_transfers_groups_and_etags() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let endpoint = format!("http://127.0.0.1:{}/v3", server.port);
    let text = client_script(&server, "cinder_areas.py", &[&endpoint, PROJECT])?;
    assert_areas(&text, &["transfers", "group types", "groups", "etags"]);
    Ok(())
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
