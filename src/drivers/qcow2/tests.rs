//! Tests of the qcow2 driver with the real `qemu-img` and `qemu-io`, against temp
//! directories. Data goes in and comes out through qemu-io, so what is checked is what
//! a consumer would see; `qemu-img check` must find every image clean after each step.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;

use super::*;
use crate::drivers::fsutil::GIB;
use crate::drivers::targets::tgt::{TgtOptions, TgtTarget};
use crate::drivers::testutil::{
    GatedTarget, TestResult, check_clean, check_exports_serialized, img_info, reads_mb, snap,
    virtual_size, vol, write_mb,
};

fn driver() -> TestResult<(TempDir, Qcow2Driver)> {
    let tmp = TempDir::new()?;
    let d = Qcow2Driver::new(tmp.path().join("qcow2"), Qcow2DriverOptions::default())?;
    Ok((tmp, d))
}

/// The volume's path as qemu-io takes it.
fn target(d: &Qcow2Driver, v: &VolumeRef) -> TestResult<String> {
    let path = d.volume_path(&v.id);
    Ok(path.to_str().ok_or("non-UTF-8 path")?.to_string())
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, DriverError>) -> TestResult {
    match r {
        Err(DriverError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(())
        }
        other => Err(format!("expected NotFound, got {other:?}").into()),
    }
}

fn assert_refused<T: std::fmt::Debug>(r: Result<T, DriverError>, why: &str) -> TestResult {
    match r {
        Err(DriverError::UnsafeImage { reason, .. }) if reason.contains(why) => Ok(()),
        other => Err(format!("expected a refusal ({why}), got {other:?}").into()),
    }
}

fn names(d: &Qcow2Driver) -> TestResult<Vec<String>> {
    let mut names = fs::read_dir(d.dir())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    names.sort();
    Ok(names)
}

#[test]
fn create_makes_a_clean_private_qcow2_that_reads_zero() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(2);
    // Garbage a crashed attempt left under the temp name must not show in the volume.
    let stale = d.dir().join(format!(".volume-{}.tmp", v.id));
    fs::write(&stale, vec![0xab; 1 << 20])?;
    let update = d.create_volume(&v)?;
    let path = d.volume_path(&v.id);
    assert_eq!(update.provider_location.as_deref(), path.to_str());
    let info = img_info("qcow2", &path)?;
    assert_eq!(
        (info["format"].as_str(), info["virtual-size"].as_u64()),
        (Some("qcow2"), Some(2 * GIB))
    );
    assert_eq!(fs::metadata(&path)?.mode() & 0o777, 0o600);
    assert_eq!(names(&d)?, [v.id.backend_name()]);
    assert!(reads_mb("qcow2", &target(&d, &v)?, 0, 0)?);
    check_clean(&path)?;

    // Re-running keeps the data, and grows an image found too small.
    write_mb("qcow2", &target(&d, &v)?, 0, 0x5a)?;
    d.create_volume(&VolumeRef {
        size_gb: 3,
        ..v.clone()
    })?;
    assert!(reads_mb("qcow2", &target(&d, &v)?, 0, 0x5a)?);
    assert_eq!(virtual_size("qcow2", &path)?, 3 * GIB);
    check_clean(&path)
}

#[test]
fn snapshot_clone_extend_and_revert_with_qemu_io() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let (path, t) = (d.volume_path(&v.id), target(&d, &v)?);
    write_mb("qcow2", &t, 0, 0xab)?;
    let s = snap(&v);
    let update = d.create_snapshot(&s)?;
    assert_eq!(
        update.provider_location,
        Some(format!("{}#snapshot-{}", path.display(), s.id))
    );
    d.create_snapshot(&s)?;
    write_mb("qcow2", &t, 0, 0xcd)?;
    check_clean(&path)?;

    // A volume from the snapshot holds the snapshot's data, at its own (bigger) size,
    // and is standalone: no backing file.
    let from = vol(2);
    d.create_volume_from_snapshot(&from, &s)?;
    d.create_volume_from_snapshot(&from, &s)?;
    let from_path = d.volume_path(&from.id);
    assert!(reads_mb("qcow2", &target(&d, &from)?, 0, 0xab)?);
    assert!(!reads_mb("qcow2", &target(&d, &from)?, 0, 0xcd)?);
    let info = img_info("qcow2", &from_path)?;
    assert_eq!(info["virtual-size"].as_u64(), Some(2 * GIB));
    assert!(info.get("backing-filename").is_none() && info.get("snapshots").is_none());
    assert_eq!(fs::metadata(&from_path)?.mode() & 0o777, 0o600);
    check_clean(&from_path)?;

    // A clone copies the current data.
    let clone = vol(1);
    d.create_cloned_volume(&clone, &v)?;
    assert!(reads_mb("qcow2", &target(&d, &clone)?, 0, 0xcd)?);
    check_clean(&d.volume_path(&clone.id))?;

    d.extend_volume(&v, 3)?;
    d.extend_volume(&v, 2)?;
    assert_eq!(virtual_size("qcow2", &path)?, 3 * GIB);
    check_clean(&path)?;

    // Revert brings the snapshot's data back and keeps the extended size.
    let extended = VolumeRef {
        size_gb: 3,
        ..v.clone()
    };
    d.revert_to_snapshot(&extended, &s)?;
    assert!(reads_mb("qcow2", &t, 0, 0xab)?);
    assert_eq!(virtual_size("qcow2", &path)?, 3 * GIB);
    check_clean(&path)?;
    assert_not_found(d.revert_to_snapshot(&extended, &snap(&v)))?;
    assert_not_found(d.extend_volume(&vol(1), 2))
}

#[test]
fn deleting_a_middle_snapshot_keeps_the_others() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let t = target(&d, &v)?;
    let snaps: Vec<_> = [0x11u8, 0x22, 0x33]
        .into_iter()
        .map(|p| {
            write_mb("qcow2", &t, 0, p)?;
            let s = snap(&v);
            d.create_snapshot(&s)?;
            Ok((p, s))
        })
        .collect::<TestResult<_>>()?;
    write_mb("qcow2", &t, 0, 0x44)?;
    d.delete_snapshot(&snaps[1].1)?;
    d.delete_snapshot(&snaps[1].1)?;
    check_clean(&d.volume_path(&v.id))?;
    let left = img_info("qcow2", &d.volume_path(&v.id))?["snapshots"].clone();
    assert_eq!(left.as_array().map(Vec::len), Some(2));
    assert_not_found(d.create_volume_from_snapshot(&vol(1), &snaps[1].1))?;
    for (pattern, s) in [&snaps[0], &snaps[2]] {
        let copy = vol(1);
        d.create_volume_from_snapshot(&copy, s)?;
        assert!(
            reads_mb("qcow2", &target(&d, &copy)?, 0, *pattern)?,
            "{pattern:#x}"
        );
    }
    d.revert_to_snapshot(&v, &snaps[0].1)?;
    assert!(reads_mb("qcow2", &t, 0, 0x11)?);
    d.revert_to_snapshot(&v, &snaps[2].1)?;
    assert!(reads_mb("qcow2", &t, 0, 0x33)?);
    check_clean(&d.volume_path(&v.id))
}

#[test]
fn deletes_succeed_in_any_order() -> TestResult {
    let (_tmp, d) = driver()?;
    // Snapshot first, then the volume.
    let a = vol(1);
    d.create_volume(&a)?;
    let sa = snap(&a);
    d.create_snapshot(&sa)?;
    d.delete_snapshot(&sa)?;
    d.delete_volume(&a)?;
    d.delete_volume(&a)?;
    d.delete_snapshot(&sa)?;
    // Volume first: its internal snapshots go with it, so deleting them later has
    // nothing left to do, and copying from them is "not found".
    let b = vol(1);
    d.create_volume(&b)?;
    let sb = snap(&b);
    d.create_snapshot(&sb)?;
    d.delete_volume(&b)?;
    d.delete_snapshot(&sb)?;
    assert_not_found(d.create_volume_from_snapshot(&vol(1), &sb))?;
    assert_not_found(d.create_snapshot(&snap(&b)))?;
    assert!(names(&d)?.is_empty(), "{:?}", names(&d)?);
    Ok(())
}

#[test]
fn a_new_volume_never_shows_a_deleted_ones_data() -> TestResult {
    let (_tmp, d) = driver()?;
    for _ in 0..3 {
        let v = vol(1);
        d.create_volume(&v)?;
        let t = target(&d, &v)?;
        assert!(reads_mb("qcow2", &t, 0, 0)?);
        assert!(reads_mb("qcow2", &t, 512, 0)?);
        write_mb("qcow2", &t, 0, 0xee)?;
        write_mb("qcow2", &t, 512, 0xee)?;
        d.delete_volume(&v)?;
    }
    Ok(())
}

/// Makes `volume-<id>` with `qemu-img create <args>`, as a hostile upload would.
fn plant(d: &Qcow2Driver, v: &VolumeRef, args: &[&str]) -> TestResult {
    let out = Command::new("qemu-img")
        .args(["create", "-q"])
        .args(args)
        .arg(d.volume_path(&v.id))
        .arg("1M")
        .output()?;
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned().into()),
    }
}

#[test]
fn images_pointing_outside_are_refused() -> TestResult {
    let (tmp, d) = driver()?;
    let outside = tmp.path().join("outside.raw");
    fs::write(&outside, vec![0x42; 1 << 20])?;
    let outside = outside.to_str().ok_or("non-UTF-8 path")?;
    let connector = json!({"host": "h"});

    let backed = vol(1);
    plant(&d, &backed, &["-f", "qcow2", "-F", "raw", "-b", outside])?;
    assert_refused(d.create_volume(&backed), "backing file")?;
    assert_refused(d.extend_volume(&backed, 2), "backing file")?;
    assert_refused(d.create_snapshot(&snap(&backed)), "backing file")?;
    assert_refused(d.create_cloned_volume(&vol(1), &backed), "backing file")?;
    assert_refused(d.initialize_connection(&backed, &connector), "backing file")?;

    // qemu-img create writes the data file, so it gets its own.
    let data_path = tmp.path().join("outside-data.raw");
    let data_file = vol(1);
    let opts = format!("data_file={},data_file_raw=on", data_path.display());
    plant(&d, &data_file, &["-f", "qcow2", "-o", &opts])?;
    assert_refused(d.create_volume(&data_file), "data file")?;
    assert_refused(d.extend_volume(&data_file, 2), "data file")?;

    let raw = vol(1);
    plant(&d, &raw, &["-f", "raw"])?;
    assert_refused(d.create_volume(&raw), "not a qcow2")?;
    // None of this touched the outside file, and no failed clone was left behind.
    assert_eq!(fs::read(outside)?, vec![0x42; 1 << 20]);
    assert_eq!(names(&d)?.len(), 3);
    Ok(())
}

#[test]
fn stats_keep_a_running_sum_of_virtual_sizes() -> TestResult {
    let (tmp, d) = driver()?;
    let provisioned = |d: &Qcow2Driver| {
        d.get_volume_stats()
            .map(|s| s.pools[0].provisioned_capacity_gb)
    };
    assert_eq!(provisioned(&d)?, 0.0);
    let (a, b) = (vol(2), vol(3));
    d.create_volume(&a)?;
    d.create_volume(&a)?;
    d.create_volume(&b)?;
    d.create_snapshot(&snap(&a))?;
    assert_eq!(provisioned(&d)?, 5.0);
    d.extend_volume(&b, 10)?;
    assert_eq!(provisioned(&d)?, 12.0);
    // A new driver on the same directory starts from one scan of the headers.
    let again = Qcow2Driver::new(tmp.path().join("qcow2"), Qcow2DriverOptions::default())?;
    assert_eq!(provisioned(&again)?, 12.0);
    d.delete_volume(&a)?;
    d.delete_volume(&a)?;
    assert_eq!(provisioned(&d)?, 10.0);
    let stats = d.get_volume_stats()?;
    assert_eq!(
        (
            stats.volume_backend_name.as_str(),
            stats.storage_protocol.as_str()
        ),
        ("qcow2", "local")
    );
    let pool = &stats.pools[0];
    let (total, free) = (pool.total_capacity_gb.gb(), pool.free_capacity_gb.gb());
    let (total, free) = (total.ok_or("total")?, free.ok_or("free")?);
    assert!(
        total > 0.0 && (0.0..=total).contains(&free),
        "{total} {free}"
    );
    Ok(())
}

#[test]
fn local_connection_gives_the_path_and_format() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    let connector = json!({"host": "here"});
    assert_not_found(d.initialize_connection(&v, &connector))?;
    d.create_volume(&v)?;
    let info = d.initialize_connection(&v, &connector)?;
    assert_eq!(info.driver_volume_type, "local");
    let expected = json!({"device_path": d.volume_path(&v.id).to_str(), "format": "qcow2"});
    assert_eq!(Value::Object(info.data), expected);
    d.terminate_connection(&v, &connector)?;
    Ok(d.ensure_export(&v)?)
}

#[test]
fn tgt_cannot_export_qcow2() -> TestResult {
    let (tmp, d) = driver()?;
    let tgt = TgtTarget::new(TgtOptions::new(tmp.path().join("tgt")))?;
    match d.with_target(Arc::new(tgt)) {
        Err(DriverError::NotSupported { driver: "tgt", .. }) => Ok(()),
        other => Err(format!("expected NotSupported, got {other:?}").into()),
    }
}

/// qcow2 snapshots live inside their image: `list_backing` reports each one, named
/// after its image, and `remove_backing` deletes just that snapshot.
#[test]
fn list_backing_reports_internal_snapshots() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    let s = snap(&v);
    d.create_volume(&v)?;
    d.create_snapshot(&s)?;
    let objects = d.list_backing()?;
    assert_eq!(objects.len(), 2, "{objects:?}");
    let volume = objects
        .iter()
        .find(|o| o.kind == BackingKind::Volume)
        .ok_or("no volume")?;
    assert_eq!((volume.id, volume.size_bytes), (v.id.0, GIB));
    let snapshot = objects
        .iter()
        .find(|o| o.kind == BackingKind::Snapshot)
        .ok_or("no snapshot")?;
    assert_eq!(snapshot.id, s.id);
    assert_eq!(
        snapshot.name,
        format!("{}#snapshot-{}", v.id.backend_name(), s.id)
    );
    d.remove_backing(snapshot)?;
    let left = d.list_backing()?;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].kind, BackingKind::Volume);
    check_clean(&d.volume_path(&v.id))?;
    Ok(())
}

#[test]
fn connection_calls_and_deletes_of_one_volume_never_interleave() -> TestResult {
    let (_tmp, d) = driver()?;
    let target = Arc::new(GatedTarget::default());
    let d = d.with_target(target.clone())?;
    let a = check_exports_serialized(&d, &target)?;
    assert!(!d.volume_path(&a.id).exists());
    Ok(())
}
