//! Tests of the file driver against a temp directory.

use std::os::unix::fs::MetadataExt;

use tempfile::TempDir;

use serde_json::{Value, json};

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;

use super::*;
use std::collections::BTreeMap;

use crate::drivers::fsutil::{COPY_CHUNK, GIB};
use crate::drivers::testutil::{
    GatedTarget, TestResult, check_exports_serialized, reads_mb, snap, virtual_size, vol, write_mb,
};
use crate::drivers::{BackingKind, OverSubscription, PoolStats};

/// Allocation we still call "sparse": a few filesystem blocks of metadata or data.
const SPARSE_SLACK: u64 = 1 << 20;

fn driver() -> Result<(TempDir, FileDriver), Box<dyn std::error::Error>> {
    let tmp = TempDir::new()?;
    // Nested and missing: `new` must create it.
    let d = FileDriver::new(tmp.path().join("a/volumes"), FileDriverOptions::default())?;
    Ok((tmp, d))
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, DriverError>) -> TestResult {
    match r {
        Err(DriverError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(()),
        other => Err(format!("expected NotFound, got {other:?}").into()),
    }
}

fn allocated(path: &Path) -> io::Result<u64> {
    Ok(fs::metadata(path)?.blocks() * 512)
}

fn names(d: &FileDriver) -> io::Result<Vec<String>> {
    let mut names = fs::read_dir(d.dir())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

fn read_at(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    File::open(path)?.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all_at(bytes, offset)
}

#[test]
fn create_makes_a_sparse_file_and_no_temp() -> TestResult {
    let (tmp, d) = driver()?;
    assert_eq!(d.dir(), fs::canonicalize(tmp.path().join("a/volumes"))?);
    let v = vol(2);
    // A temp file left by a crashed attempt must not leak into the volume.
    fs::write(d.dir().join(format!(".volume-{}.tmp", v.id)), b"garbage")?;
    let update = d.create_volume(&v)?;
    let path = d.volume_path(&v.id);
    assert!(path.is_absolute());
    assert_eq!(update.provider_location.as_deref(), path.to_str());
    assert_eq!(fs::metadata(&path)?.len(), 2 * GIB);
    assert!(allocated(&path)? < SPARSE_SLACK);
    assert_eq!(fs::metadata(&path)?.mode() & 0o777, 0o600);
    assert_eq!(names(&d)?, [format!("volume-{}", v.id)]);
    assert_eq!(read_at(&path, 0, 4096)?, vec![0; 4096]);
    // Something else under a volume's name is an error, never overwritten.
    let squatter = vol(1);
    fs::create_dir(d.volume_path(&squatter.id))?;
    assert!(d.create_volume(&squatter).is_err());
    Ok(())
}

#[test]
fn create_is_idempotent_keeps_data_and_fixes_a_short_file() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let path = d.volume_path(&v.id);
    write_at(&path, 0, b"keep")?;
    d.create_volume(&v)?;
    assert_eq!(read_at(&path, 0, 4)?, b"keep");
    assert_eq!(fs::metadata(&path)?.len(), GIB);
    // A file shorter than the volume should not exist, but a create re-run fixes it.
    let bigger = VolumeRef { size_gb: 3, ..v };
    d.create_volume(&bigger)?;
    assert_eq!(fs::metadata(&path)?.len(), 3 * GIB);
    assert_eq!(read_at(&path, 0, 4)?, b"keep");
    Ok(())
}

#[test]
fn delete_removes_the_file_and_stale_temp_and_is_idempotent() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let stale = d.dir().join(format!(".volume-{}.tmp", v.id));
    fs::write(&stale, b"left by a crash")?;
    d.delete_volume(&v)?;
    assert!(!d.volume_path(&v.id).exists());
    assert!(names(&d)?.is_empty());
    d.delete_volume(&v)?;
    Ok(())
}

#[test]
fn extend_grows_never_shrinks_and_needs_the_file() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    d.extend_volume(&v, 4)?;
    let path = d.volume_path(&v.id);
    assert_eq!(fs::metadata(&path)?.len(), 4 * GIB);
    d.extend_volume(&v, 2)?;
    assert_eq!(fs::metadata(&path)?.len(), 4 * GIB);
    assert!(allocated(&path)? < SPARSE_SLACK);
    assert_not_found(d.extend_volume(&vol(1), 2))
}

#[test]
fn snapshot_copies_data_sparsely_and_restores_it() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let path = d.volume_path(&v.id);
    let tail = GIB - 4096;
    write_at(&path, 0, b"first block")?;
    write_at(&path, tail, b"last block")?;
    // Data spanning several copy chunks, unaligned; then allocated zeros, which the
    // copy must leave as a hole.
    let pattern: Vec<u8> = (0..3 * COPY_CHUNK).map(|i| (i % 251) as u8 | 1).collect();
    write_at(&path, 5 * COPY_CHUNK as u64 + 7, &pattern)?;
    write_at(&path, 100 * COPY_CHUNK as u64, &vec![0; 2 * COPY_CHUNK])?;

    let s = snap(&v);
    let update = d.create_snapshot(&s)?;
    let snap_path = d.snapshot_path(&s.id);
    assert_eq!(update.provider_location.as_deref(), snap_path.to_str());
    d.create_snapshot(&s)?;
    assert_eq!(fs::metadata(&snap_path)?.len(), GIB);
    assert!(allocated(&snap_path)? < 4 * COPY_CHUNK as u64);

    write_at(&path, 0, b"overwritten")?;
    write_at(&path, tail, b"clobbered!")?;
    let restored = vol(2);
    d.create_volume_from_snapshot(&restored, &s)?;
    d.create_volume_from_snapshot(&restored, &s)?;
    let new_path = d.volume_path(&restored.id);
    assert_eq!(read_at(&new_path, 0, 11)?, b"first block");
    assert_eq!(read_at(&new_path, tail, 10)?, b"last block");
    let copied = read_at(&new_path, 5 * COPY_CHUNK as u64 + 7, pattern.len())?;
    assert!(copied == pattern, "multi-chunk data differs");
    assert_eq!(read_at(&new_path, GIB, 16)?, vec![0; 16]);
    assert_eq!(fs::metadata(&new_path)?.len(), 2 * GIB);
    assert!(allocated(&new_path)? < 4 * COPY_CHUNK as u64);

    d.delete_snapshot(&s)?;
    d.delete_snapshot(&s)?;
    assert!(!snap_path.exists());
    assert_not_found(d.create_volume_from_snapshot(&vol(1), &s))?;
    assert_not_found(d.create_snapshot(&snap(&vol(1))))?;
    let mut expected = vec![v.id.backend_name(), restored.id.backend_name()];
    expected.sort();
    assert_eq!(names(&d)?, expected, "failed copies leave no temp files");
    Ok(())
}

#[test]
fn stats_are_plausible_and_count_provisioned_space() -> TestResult {
    let tmp = TempDir::new()?;
    let options = FileDriverOptions {
        pool: PoolOptions {
            volume_backend_name: "files".to_string(),
            pool_name: "p".to_string(),
            reserved_percentage: 5,
            capabilities: BTreeMap::from([("ssd".to_string(), json!(false))]),
            ..PoolOptions::named("file")
        },
        ..FileDriverOptions::default()
    };
    let d = FileDriver::new(tmp.path().to_path_buf(), options.clone())?;
    let stats = d.get_volume_stats()?;
    let b = (
        stats.volume_backend_name,
        stats.vendor_name,
        stats.driver_version,
    );
    assert_eq!(b, ("files".into(), "Clinker".into(), "1.0".into()));
    assert_eq!(stats.storage_protocol, "local");
    let [pool] = stats.pools.as_slice() else {
        return Err("expected one pool".into());
    };
    let total = pool.total_capacity_gb.gb().ok_or("total is not a number")?;
    let free = pool.free_capacity_gb.gb().ok_or("free is not a number")?;
    assert!(
        total > 0.0 && (0.0..=total).contains(&free),
        "{total} {free}"
    );
    let expected = PoolStats {
        pool_name: "p".to_string(),
        allocated_capacity_gb: 0.0,
        provisioned_capacity_gb: 0.0,
        reserved_percentage: 5,
        max_over_subscription_ratio: OverSubscription::Ratio(20.0),
        thin_provisioning_support: true,
        thick_provisioning_support: false,
        capabilities: options.pool.capabilities,
        ..pool.clone()
    };
    assert_eq!(pool, &expected);

    let v = vol(3);
    d.create_volume(&v)?;
    fs::write(tmp.path().join("unrelated"), b"not a volume")?;
    let provisioned = || {
        d.get_volume_stats()
            .map(|s| s.pools[0].provisioned_capacity_gb)
    };
    assert_eq!(provisioned()?, 3.0);
    // Snapshots are full copies on the same pool, so they count too.
    d.create_snapshot(&snap(&v))?;
    assert_eq!(provisioned()?, 6.0);
    Ok(())
}

#[test]
fn connection_is_local_with_the_path() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    let connector = json!({"host": "here"});
    assert_not_found(d.initialize_connection(&v, &connector))?;
    d.create_volume(&v)?;
    let info = d.initialize_connection(&v, &connector)?;
    assert_eq!(info.driver_volume_type, "local");
    let path = d.volume_path(&v.id);
    assert_eq!(
        Value::Object(info.data),
        json!({"device_path": path.to_str()})
    );
    d.terminate_connection(&v, &connector)?;
    Ok(())
}

/// The volume's path as qemu-io takes it.
fn target(d: &FileDriver, v: &VolumeRef) -> Result<String, Box<dyn std::error::Error>> {
    let path = d.volume_path(&v.id);
    Ok(path.to_str().ok_or("non-UTF-8 path")?.to_string())
}

#[test]
fn snapshot_clone_extend_and_revert_with_qemu_io() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(1);
    d.create_volume(&v)?;
    let (path, t) = (d.volume_path(&v.id), target(&d, &v)?);
    write_mb("raw", &t, 0, 0xab)?;
    let s = snap(&v);
    d.create_snapshot(&s)?;
    write_mb("raw", &t, 0, 0xcd)?;

    let from = vol(2);
    d.create_volume_from_snapshot(&from, &s)?;
    assert!(reads_mb("raw", &target(&d, &from)?, 0, 0xab)?);
    assert!(!reads_mb("raw", &target(&d, &from)?, 0, 0xcd)?);
    assert_eq!(virtual_size("raw", &d.volume_path(&from.id))?, 2 * GIB);
    let clone = vol(1);
    d.create_cloned_volume(&clone, &v)?;
    assert!(reads_mb("raw", &target(&d, &clone)?, 0, 0xcd)?);

    d.extend_volume(&v, 3)?;
    assert_eq!(virtual_size("raw", &path)?, 3 * GIB);
    write_mb("raw", &t, 2048, 0xcd)?;
    // Revert restores the snapshot's bytes everywhere, keeps the size, and is
    // idempotent; the copy is as sparse as the snapshot.
    let extended = VolumeRef {
        size_gb: 3,
        ..v.clone()
    };
    d.revert_to_snapshot(&extended, &s)?;
    d.revert_to_snapshot(&extended, &s)?;
    assert!(reads_mb("raw", &t, 0, 0xab)?);
    assert!(reads_mb("raw", &t, 2048, 0)?);
    assert_eq!(virtual_size("raw", &path)?, 3 * GIB);
    assert!(allocated(&path)? < SPARSE_SLACK + COPY_CHUNK as u64);
    assert_eq!(fs::metadata(&path)?.mode() & 0o777, 0o600);
    assert_not_found(d.revert_to_snapshot(&extended, &snap(&v)))?;
    assert_not_found(d.revert_to_snapshot(&vol(1), &s))?;
    assert_eq!(names(&d)?.len(), 4, "no temp files are left");
    Ok(())
}

#[test]
fn deletes_succeed_in_any_order_and_snapshots_outlive_volumes() -> TestResult {
    let (_tmp, d) = driver()?;
    let a = vol(1);
    d.create_volume(&a)?;
    let sa = snap(&a);
    d.create_snapshot(&sa)?;
    d.delete_snapshot(&sa)?;
    d.delete_volume(&a)?;
    // Volume first: the snapshot is an independent copy and still usable.
    let b = vol(1);
    d.create_volume(&b)?;
    write_mb("raw", &target(&d, &b)?, 0, 0x77)?;
    let sb = snap(&b);
    d.create_snapshot(&sb)?;
    d.delete_volume(&b)?;
    let c = vol(1);
    d.create_volume_from_snapshot(&c, &sb)?;
    assert!(reads_mb("raw", &target(&d, &c)?, 0, 0x77)?);
    d.delete_snapshot(&sb)?;
    d.delete_snapshot(&sb)?;
    d.delete_volume(&c)?;
    assert!(names(&d)?.is_empty());
    Ok(())
}

/// What `list_backing` reports: volumes, snapshots and temp files by kind and id, with
/// their sizes; nothing else in the directory. `remove_backing` of a temp file leaves
/// the volume under its final name alone.
#[test]
fn list_backing_reports_every_object_and_removes_one() -> TestResult {
    let (_tmp, d) = driver()?;
    let v = vol(2);
    let s = snap(&v);
    d.create_volume(&v)?;
    d.create_snapshot(&s)?;
    let temp = d.dir().join(format!(".{}.tmp", v.id.backend_name()));
    fs::write(&temp, b"half")?;
    fs::write(d.dir().join("notes.txt"), b"not ours")?;
    fs::write(d.dir().join("volume-not-a-uuid"), b"not ours")?;
    let mut listed: Vec<(BackingKind, Uuid, bool, u64)> = d
        .list_backing()?
        .into_iter()
        .map(|o| (o.kind, o.id, o.temporary, o.size_bytes))
        .collect();
    listed.sort_by_key(|o| (o.2, o.0 == BackingKind::Snapshot));
    assert_eq!(
        listed,
        [
            (BackingKind::Volume, v.id.0, false, 2 * GIB),
            (BackingKind::Snapshot, s.id, false, 2 * GIB),
            (BackingKind::Volume, v.id.0, true, 4),
        ]
    );
    let temp_object = d
        .list_backing()?
        .into_iter()
        .find(|o| o.temporary)
        .ok_or("no temp file listed")?;
    d.remove_backing(&temp_object)?;
    d.remove_backing(&temp_object)?;
    assert!(!temp.exists());
    assert!(d.volume_path(&v.id).exists());
    assert_eq!(d.list_backing()?.len(), 2);
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
