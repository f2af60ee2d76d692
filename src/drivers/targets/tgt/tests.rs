//! Tests of the tgt target with the real tgtd and the libiscsi tools (`iscsi-ls`,
//! `iscsi-readcapacity16`, package libiscsi-bin), logging in over 127.0.0.1:3260.
//!
//! tgtd is started if it is not running (it daemonizes and stays up). The tests skip,
//! saying why on stderr, only when tgtd cannot be started at all; a running tgtd with
//! the libiscsi tools missing is a failure.

use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::json;
use tempfile::TempDir;

use super::*;
use crate::drivers::VolumeDriver;
use crate::drivers::file::{FileDriver, FileDriverOptions};
use crate::drivers::fsutil::GIB;
use crate::drivers::testutil::{TestResult, vol};

fn setup() -> TestResult<(TempDir, Arc<TgtTarget>, FileDriver)> {
    let tmp = TempDir::new()?;
    let tgt = Arc::new(TgtTarget::new(TgtOptions::new(tmp.path().join("tgt")))?);
    let d = FileDriver::new(tmp.path().join("files"), FileDriverOptions::default())?
        .with_target(tgt.clone())?;
    Ok((tmp, tgt, d))
}

/// Removes a test's targets even when it fails halfway.
struct Cleanup(Arc<TgtTarget>, Vec<VolumeId>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for v in &self.1 {
            let _ = self.0.remove_export(v);
        }
    }
}

/// `user%password@127.0.0.1:3260`, libiscsi's URL authority.
fn authority(user: &str, password: &str) -> String {
    format!("{user}%{password}@127.0.0.1:3260")
}

fn creds(info: &ConnectionInfo) -> TestResult<(String, String)> {
    let get = |k: &str| info.data.get(k).and_then(Value::as_str).map(str::to_string);
    Ok((
        get("auth_username").ok_or("no user")?,
        get("auth_password").ok_or("no password")?,
    ))
}

fn run(program: &str, args: &[&str]) -> TestResult<Output> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program} ({e}): install libiscsi-bin").into())
}

/// The LUN's size as `iscsi-readcapacity16` reads it after a CHAP login, or `None`
/// when the login (or anything else) fails.
fn read_capacity(authority: &str, iqn: &str) -> TestResult<Option<u64>> {
    let url = format!("iscsi://{authority}/{iqn}/1");
    let out = run("iscsi-readcapacity16", &[&url])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("Total size:"))
        .and_then(|s| s.trim().parse().ok());
    Ok(size.filter(|_| out.status.success()))
}

#[test]
fn iscsi_export_with_chap_extend_and_teardown() -> TestResult {
    if !tgtd_ready("iscsi_export_with_chap_extend_and_teardown") {
        return Ok(());
    }
    let (_tmp, tgt, d) = setup()?;
    let v = vol(1);
    let _cleanup = Cleanup(tgt.clone(), vec![v.id]);
    d.create_volume(&v)?;
    let connector = json!({"initiator": "iqn.1993-08.org.debian:01:clinker", "host": "h1"});
    match d.initialize_connection(&v, &json!({"host": "h1"})) {
        Err(DriverError::InvalidConnector(_)) => {}
        other => return Err(format!("expected InvalidConnector, got {other:?}").into()),
    }
    let info = d.initialize_connection(&v, &connector)?;
    assert_eq!(info.driver_volume_type, "iscsi");
    let iqn = format!("iqn.2010-10.org.openstack:volume-{}", v.id);
    let (user, password) = creds(&info)?;
    let expected = json!({
        "target_discovered": false, "target_portal": "127.0.0.1:3260", "target_iqn": iqn,
        "target_lun": 1, "volume_id": v.id.to_string(), "auth_method": "CHAP",
        "auth_username": user, "auth_password": password, "encrypted": false,
        "access_mode": "rw",
    });
    assert_eq!(Value::Object(info.data.clone()), expected);
    assert_eq!((user.len(), password.len()), (20, 16));
    assert_eq!(d.get_volume_stats()?.storage_protocol, "iSCSI");

    // Discovery lists the target. (`iscsi-ls -s` would also log in to every other
    // target on this tgtd with these credentials and fail, so the LUN is checked by a
    // CHAP login to this target alone.)
    let good = authority(&user, &password);
    let out = run("iscsi-ls", &[&format!("iscsi://{good}")])?;
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listing}");
    assert!(
        listing.contains(&format!("Target:{iqn} Portal:127.0.0.1:3260")),
        "{listing}"
    );
    assert_eq!(read_capacity(&good, &iqn)?, Some(GIB));
    // Wrong or missing credentials are refused.
    assert_eq!(
        read_capacity(&authority(&user, "WrongPassword234"), &iqn)?,
        None
    );
    assert_eq!(read_capacity("127.0.0.1:3260", &iqn)?, None);

    // Idempotent: same target, same credentials, and Cinder's location and auth.
    assert_eq!(d.initialize_connection(&v, &connector)?, info);
    let path = d.volume_path(&v.id);
    let spec = ExportSpec {
        volume: v.id,
        path: &path,
        format: ImageFormat::Raw,
    };
    let export = tgt.create_export(&spec)?;
    let tid = admin::find_target(&iqn)?.ok_or("target missing")?.tid;
    assert_eq!(export.location, format!("127.0.0.1:3260,{tid} {iqn} 1"));
    let auth = export.auth.ok_or("no auth")?;
    assert_eq!(auth.provider_auth(), format!("CHAP {user} {password}"));
    let debug = format!("{tgt:?}{auth:?}{info:?}");
    assert!(
        !debug.contains(&password) && !debug.contains(&user),
        "{debug}"
    );
    assert!(debug.contains(&iqn), "only secrets are blanked: {debug}");

    d.extend_volume(&v, 2)?;
    assert_eq!(read_capacity(&good, &iqn)?, Some(2 * GIB));

    d.terminate_connection(&v, &connector)?;
    assert!(
        admin::find_target(&iqn)?.is_none(),
        "the target outlived the detach"
    );
    assert!(
        !admin::show_accounts()?.contains(&user),
        "the CHAP account outlived it"
    );
    assert!(!tgt.is_exported(&v.id)?);
    assert_eq!(read_capacity(&good, &iqn)?, None);
    d.terminate_connection(&v, &connector)?;
    Ok(())
}

#[test]
fn ensure_export_rebuilds_what_tgtd_forgot_and_delete_removes_it() -> TestResult {
    if !tgtd_ready("ensure_export_rebuilds_what_tgtd_forgot_and_delete_removes_it") {
        return Ok(());
    }
    let (_tmp, tgt, d) = setup()?;
    let (v, idle) = (vol(1), vol(1));
    let _cleanup = Cleanup(tgt.clone(), vec![v.id, idle.id]);
    d.create_volume(&v)?;
    d.create_volume(&idle)?;
    let (a, b) = (json!({"initiator": "iqn.a"}), json!({"initiator": "iqn.b"}));
    let info = d.initialize_connection(&v, &a)?;
    d.initialize_connection(&v, &b)?;
    let (user, password) = creds(&info)?;
    let (good, iqn) = (authority(&user, &password), tgt.iqn(&v.id));

    // One consumer leaving keeps the export for the other.
    d.terminate_connection(&v, &a)?;
    assert_eq!(read_capacity(&good, &iqn)?, Some(GIB));

    // tgtd restarts and forgets everything (simulated by removing its objects).
    let tid = admin::find_target(&iqn)?.ok_or("target missing")?.tid;
    admin::delete_target(tid)?;
    admin::delete_account(&user)?;
    assert_eq!(read_capacity(&good, &iqn)?, None);
    d.ensure_export(&v)?;
    d.ensure_export(&v)?;
    d.ensure_export(&idle)?;
    assert_eq!(
        read_capacity(&good, &iqn)?,
        Some(GIB),
        "same credentials after rebuild"
    );
    assert!(admin::find_target(&tgt.iqn(&idle.id))?.is_none());

    d.delete_volume(&v)?;
    assert!(admin::find_target(&iqn)?.is_none());
    assert!(!admin::show_accounts()?.contains(&user));
    d.delete_volume(&v)?;
    Ok(())
}

#[test]
fn volumes_never_exported_need_no_tgtd() -> TestResult {
    // Runs whether or not tgtd is up: nothing here may talk to it.
    let (_tmp, tgt, d) = setup()?;
    let v = vol(1);
    d.create_volume(&v)?;
    d.extend_volume(&v, 2)?;
    d.ensure_export(&v)?;
    d.terminate_connection(&v, &json!({"initiator": "iqn.x"}))?;
    d.delete_volume(&v)?;
    assert!(!tgt.is_exported(&v.id)?);
    Ok(())
}
