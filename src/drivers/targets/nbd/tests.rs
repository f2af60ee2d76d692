//! Tests of the NBD target with the real `qemu-nbd`, writing and reading through
//! `qemu-io` over `nbd://` exactly as a consumer would.

use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::drivers::file::{FileDriver, FileDriverOptions};
use crate::drivers::fsutil::GIB;
use crate::drivers::qcow2::{Qcow2Driver, Qcow2DriverOptions};
use crate::drivers::testutil::{
    TestResult, check_clean, port_block, qemu_io, reads_mb, snap, vol, write_mb,
};
use crate::drivers::{VolumeDriver, VolumeRef};

/// An NBD target on a block of ports of its own.
fn target(tmp: &TempDir) -> TestResult<Arc<NbdTarget>> {
    let mut options = NbdOptions::new(tmp.path().join("nbd"));
    (options.port_min, options.port_max) = port_block(20)?;
    Ok(Arc::new(NbdTarget::new(options)?))
}

/// Stops every server a test started, even when it fails halfway.
struct Cleanup(Arc<NbdTarget>, Vec<VolumeId>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for v in &self.1 {
            let _ = self.0.remove_export(v);
        }
    }
}

fn url(info: &ConnectionInfo) -> TestResult<String> {
    let url = info
        .data
        .get("url")
        .and_then(Value::as_str)
        .ok_or("no url")?;
    Ok(url.to_string())
}

fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// The size an NBD client sees.
fn nbd_size(url: &str) -> TestResult<u64> {
    let out = Command::new("qemu-img")
        .args(["info", "-f", "raw", "--output=json", url])
        .output()?;
    let info: Value = serde_json::from_slice(&out.stdout)?;
    info["virtual-size"]
        .as_u64()
        .ok_or_else(|| "no virtual-size".into())
}

#[test]
fn raw_volume_round_trip_over_nbd() -> TestResult {
    let tmp = TempDir::new()?;
    let nbd = target(&tmp)?;
    let d = FileDriver::new(tmp.path().join("files"), FileDriverOptions::default())?
        .with_target(nbd.clone())?;
    let v = vol(1);
    let _cleanup = Cleanup(nbd.clone(), vec![v.id]);
    d.create_volume(&v)?;
    let connector = json!({"host": "consumer-1"});
    let info = d.initialize_connection(&v, &connector)?;
    assert_eq!(info.driver_volume_type, "nbd");
    let data = &info.data;
    let name = data["export_name"].as_str().ok_or("no export_name")?;
    let port = u16::try_from(data["port"].as_u64().ok_or("no port")?)?;
    assert_eq!(name.len(), 32);
    assert!(
        !format!("{info:?}").contains(name),
        "the export name must stay out of logs"
    );
    assert!(name.bytes().all(|b| NAME_ALPHABET.contains(&b)));
    assert_eq!(
        (data["host"].as_str(), data["format"].as_str()),
        (Some("127.0.0.1"), Some("raw"))
    );
    assert_eq!(url(&info)?, format!("nbd://127.0.0.1:{port}/{name}"));
    assert_eq!(d.get_volume_stats()?.storage_protocol, "NBD");

    let url = url(&info)?;
    write_mb("raw", &url, 0, 0xab)?;
    write_mb("raw", &url, 700, 0xcd)?;
    assert!(reads_mb("raw", &url, 0, 0xab)?);
    // Another name on the same port is refused: the name is the key.
    let wrong = format!("nbd://127.0.0.1:{port}/{}", "x".repeat(32));
    assert!(qemu_io("raw", &wrong, "read 0 512").is_err());
    // Attaching again gives the same export.
    assert_eq!(d.initialize_connection(&v, &connector)?, info);

    // Growing a raw volume restarts its server, which then reports the new size.
    d.extend_volume(&v, 2)?;
    assert_eq!(nbd_size(&url)?, 2 * GIB);
    assert!(reads_mb("raw", &url, 700, 0xcd)?);

    d.terminate_connection(&v, &connector)?;
    assert!(!port_open(port), "the server still listens");
    assert!(!nbd.pid_file(&v.id).exists());
    assert!(!nbd.is_exported(&v.id)?);
    let path = d.volume_path(&v.id);
    let path = path.to_str().ok_or("non-UTF-8 path")?;
    assert!(reads_mb("raw", path, 0, 0xab)?);
    assert!(reads_mb("raw", path, 700, 0xcd)?);
    d.terminate_connection(&v, &connector)?;
    Ok(())
}

#[test]
fn qcow2_volume_round_trip_and_busy_while_exported() -> TestResult {
    let tmp = TempDir::new()?;
    let nbd = target(&tmp)?;
    let d = Qcow2Driver::new(tmp.path().join("qcow2"), Qcow2DriverOptions::default())?
        .with_target(nbd.clone())?;
    let v = vol(1);
    let _cleanup = Cleanup(nbd.clone(), vec![v.id]);
    d.create_volume(&v)?;
    let s = snap(&v);
    d.create_snapshot(&s)?;
    let connector = json!({"initiator": "iqn.1993-08.org.debian:01:c1"});
    let info = d.initialize_connection(&v, &connector)?;
    // qemu-nbd decodes the qcow2: the consumer sees a raw disk of the virtual size.
    assert_eq!(info.data["format"].as_str(), Some("raw"));
    let url = url(&info)?;
    assert_eq!(nbd_size(&url)?, GIB);
    write_mb("raw", &url, 0, 0xab)?;

    // The server holds the image's write lock; offline operations say Busy.
    let busy = |r: Result<(), DriverError>| matches!(r, Err(DriverError::Busy(_)));
    assert!(busy(d.create_snapshot(&snap(&v)).map(drop)));
    assert!(busy(d.extend_volume(&v, 2)));
    assert!(busy(d.revert_to_snapshot(&v, &s)));

    d.terminate_connection(&v, &connector)?;
    let path = d.volume_path(&v.id);
    check_clean(&path)?;
    assert!(reads_mb(
        "qcow2",
        path.to_str().ok_or("non-UTF-8 path")?,
        0,
        0xab
    )?);
    d.extend_volume(&v, 2)?;
    d.revert_to_snapshot(
        &VolumeRef {
            size_gb: 2,
            ..v.clone()
        },
        &s,
    )?;
    assert!(reads_mb(
        "qcow2",
        path.to_str().ok_or("non-UTF-8 path")?,
        0,
        0
    )?);
    check_clean(&path)
}

#[test]
fn the_export_lasts_until_the_last_consumer_detaches() -> TestResult {
    let tmp = TempDir::new()?;
    let nbd = target(&tmp)?;
    let d = FileDriver::new(tmp.path().join("files"), FileDriverOptions::default())?
        .with_target(nbd.clone())?;
    let v = vol(1);
    let _cleanup = Cleanup(nbd.clone(), vec![v.id]);
    d.create_volume(&v)?;
    let (a, b) = (json!({"host": "a"}), json!({"host": "b"}));
    let info = d.initialize_connection(&v, &a)?;
    assert_eq!(d.initialize_connection(&v, &b)?.data, info.data);
    let url = url(&info)?;
    d.terminate_connection(&v, &a)?;
    d.terminate_connection(&v, &a)?;
    write_mb("raw", &url, 0, 0x5c)?;
    d.terminate_connection(&v, &b)?;
    assert!(qemu_io("raw", &url, "read 0 512").is_err());
    Ok(())
}

#[test]
fn ensure_export_restarts_a_dead_server_with_the_same_name() -> TestResult {
    let tmp = TempDir::new()?;
    let nbd = target(&tmp)?;
    let d = FileDriver::new(tmp.path().join("files"), FileDriverOptions::default())?
        .with_target(nbd.clone())?;
    let (v, idle) = (vol(1), vol(1));
    let _cleanup = Cleanup(nbd.clone(), vec![v.id, idle.id]);
    d.create_volume(&v)?;
    d.create_volume(&idle)?;
    let info = d.initialize_connection(&v, &json!({"host": "h"}))?;
    let url = url(&info)?;
    write_mb("raw", &url, 0, 0x3e)?;

    // The server dies (a node reboot, an OOM kill).
    let pid_file = nbd.pid_file(&v.id);
    let pid = std::fs::read_to_string(&pid_file)?.trim().parse()?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let name = info.data["export_name"].as_str().ok_or("no name")?;
    while process::running(&pid_file, name).is_some() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(qemu_io("raw", &url, "read 0 512").is_err());

    d.ensure_export(&v)?;
    d.ensure_export(&idle)?;
    assert!(reads_mb("raw", &url, 0, 0x3e)?);
    assert!(
        !nbd.is_exported(&idle.id)?,
        "ensure_export must not export idle volumes"
    );
    // Deleting the volume takes its export down.
    d.delete_volume(&v)?;
    assert!(!nbd.is_exported(&v.id)? && !pid_file.exists());
    assert!(qemu_io("raw", &url, "read 0 512").is_err());
    Ok(())
}

/// Runs qemu-io on an NBD export through TLS with the PSK `user`:`key`, written to a
/// client `keys.psk` in `dir`; `Ok(false)` when the connection is refused.
fn qemu_io_tls(dir: &std::path::Path, data: &Value, key: &str, cmd: &str) -> TestResult<bool> {
    let user = data["tls_psk_username"]
        .as_str()
        .ok_or("no tls_psk_username")?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("keys.psk"), format!("{user}:{key}\n"))?;
    let object = format!(
        "tls-creds-psk,id=t0,endpoint=client,dir={},username={user}",
        dir.display()
    );
    let image = format!(
        "driver=nbd,host={},port={},export={},tls-creds=t0",
        data["host"].as_str().ok_or("no host")?,
        data["port"],
        data["export_name"].as_str().ok_or("no export_name")?
    );
    let out = Command::new("qemu-io")
        .args(["--object", &object, "--image-opts", &image, "-c", cmd])
        .output()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if text.contains("can't open") {
        return Ok(false);
    }
    if !out.status.success() || !text.contains("bytes at offset") {
        return Err(format!("qemu-io {cmd}: {text}").into());
    }
    Ok(!text.contains("Pattern verification failed"))
}

#[test]
fn tls_psk_exports_need_the_key() -> TestResult {
    let tmp = TempDir::new()?;
    let mut options = NbdOptions::new(tmp.path().join("nbd"));
    (options.port_min, options.port_max) = port_block(20)?;
    options.tls_psk = true;
    let nbd = Arc::new(NbdTarget::new(options)?);
    let d = FileDriver::new(tmp.path().join("files"), FileDriverOptions::default())?
        .with_target(nbd.clone())?;
    let v = vol(1);
    let _cleanup = Cleanup(nbd.clone(), vec![v.id]);
    d.create_volume(&v)?;
    let connector = json!({"host": "consumer-tls"});
    let info = d.initialize_connection(&v, &connector)?;
    let data = Value::Object(info.data.clone());
    assert_eq!(data["tls"], true, "{data}");
    assert_eq!(data["tls_psk_username"], v.id.backend_name().as_str());
    let key = data["tls_psk_key"].as_str().ok_or("no key")?.to_string();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert!(
        !format!("{info:?}").contains(&key),
        "the key stays out of logs"
    );
    let keys = tmp
        .path()
        .join("nbd")
        .join(format!("{}.tls", v.id.backend_name()));
    let mode = std::fs::metadata(keys.join("keys.psk"))?.permissions();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o077, 0);

    let client = tmp.path().join("client");
    assert!(qemu_io_tls(&client, &data, &key, "write -P 0x42 0 1M")?);
    assert!(qemu_io_tls(&client, &data, &key, "read -P 0x42 0 1M")?);
    // Without TLS, or with another key, the export cannot be opened.
    assert!(qemu_io("raw", &url(&info)?, "read 0 4k").is_err());
    let wrong = "0".repeat(64);
    assert!(!qemu_io_tls(
        &tmp.path().join("other"),
        &data,
        &wrong,
        "read 0 4k"
    )?);

    // The same key after a restart of the server; gone with the export.
    d.extend_volume(&v, 2)?;
    assert!(qemu_io_tls(&client, &data, &key, "read -P 0x42 0 1M")?);
    d.terminate_connection(&v, &connector)?;
    assert!(!keys.exists(), "the key outlived the export");
    Ok(())
}
