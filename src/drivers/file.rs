//! The file driver: one sparse raw file per volume, `volume-<uuid>`, in one directory.
//! Snapshots are full sparse copies, `snapshot-<uuid>`, independent of their volume.
//!
//! Crash safety: every new file is built under a temp name (`.volume-<uuid>.tmp`), sized,
//! fsynced, renamed to its final name, and then the directory is fsynced. A crash
//! therefore never leaves a half-made file under a final name, and a final name that
//! exists always holds a complete volume or snapshot, which is what makes re-running a
//! create after a crash safe. A stale temp file is replaced by the next attempt and
//! removed by the matching delete.
//!
//! Paths are built only from ids (UUIDs), never from user-supplied strings. Calls for
//! one volume must not overlap (the volume manager serializes them), since they share
//! the temp name. A snapshot copies the file as it is, so it is consistent only if
//! nothing writes to the volume while it is taken.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{Whence, lseek};
use uuid::Uuid;

use super::{
    BackendStats, Capacity, ConnectionInfo, DriverError, ModelUpdate, OverSubscription, PoolStats,
    SnapshotRef, VolumeDriver, VolumeRef,
};
use crate::model::VolumeId;

const GIB: u64 = 1 << 30;
/// Read size of the sparse copy; also the granularity at which zeros are skipped.
const COPY_CHUNK: usize = 1 << 20;

/// How a [`FileDriver`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDriverOptions {
    /// `volume_backend_name` in the stats. Default `file`.
    pub volume_backend_name: String,
    /// The single pool's name. Default `file`.
    pub pool_name: String,
    /// Reported `reserved_percentage`. Default 0.
    pub reserved_percentage: u8,
    /// Reported `max_over_subscription_ratio`. Default 20.0.
    pub max_over_subscription_ratio: OverSubscription,
    /// Extra pool capabilities, matched against volume-type extra specs. Default empty.
    pub capabilities: BTreeMap<String, serde_json::Value>,
    /// Report the pool as thin (sparse files, over-commit allowed) rather than thick
    /// (every GiB promised counts as used). The files are sparse either way. Default true.
    pub thin: bool,
}

impl Default for FileDriverOptions {
    fn default() -> Self {
        Self {
            volume_backend_name: "file".to_string(),
            pool_name: "file".to_string(),
            reserved_percentage: 0,
            max_over_subscription_ratio: OverSubscription::Ratio(20.0),
            capabilities: BTreeMap::new(),
            thin: true,
        }
    }
}

/// A [`VolumeDriver`] keeping each volume as a sparse raw file in one directory; the
/// consumer must run on this host (connection type `local`).
#[derive(Debug)]
pub struct FileDriver {
    /// Absolute and valid UTF-8, so paths handed out are exact.
    dir: PathBuf,
    options: FileDriverOptions,
}

/// Wraps an OS error with what was being done to which path.
fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DriverError {
    let path = path.display().to_string();
    move |source| DriverError::Io { op, path, source }
}

fn gib_to_bytes(size_gb: u64, path: &Path) -> Result<u64, DriverError> {
    size_gb
        .checked_mul(GIB)
        .ok_or_else(|| io_err("size", path)(io::ErrorKind::FileTooLarge.into()))
}

/// Makes a rename or unlink in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), DriverError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Grows an existing file to `bytes` and fsyncs it; never shrinks, so no data is lost
/// when a create is re-run after an extend.
fn ensure_len(path: &Path, bytes: u64) -> Result<(), DriverError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    if len < bytes {
        file.set_len(bytes).map_err(io_err("set length of", path))?;
        file.sync_all().map_err(io_err("fsync", path))?;
    }
    Ok(())
}

/// Unlinks `path`; a path that is already gone is a success.
fn remove_if_present(path: &Path) -> Result<(), DriverError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Whether `path` exists as a regular file. Anything else under our name (a directory,
/// a symlink) is an error rather than something to overwrite or follow.
fn exists(path: &Path) -> Result<bool, DriverError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(_) => Err(io_err("expected a regular file at", path)(
            io::ErrorKind::InvalidData.into(),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

/// `lseek` for `SEEK_DATA`/`SEEK_HOLE`; `None` when there is no data at or after `offset`.
fn seek(file: &File, offset: u64, whence: Whence) -> io::Result<Option<u64>> {
    let offset = i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    match lseek(file, offset, whence) {
        Ok(pos) => u64::try_from(pos)
            .map(Some)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData)),
        Err(Errno::ENXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Copies `src` into `dst`, which must be empty, and sizes `dst` to at least `min_len`.
/// Only the extents `SEEK_DATA`/`SEEK_HOLE` report as data are read, and chunks that are
/// all zeros are not written, so holes stay holes and the copy is as sparse as the source.
fn sparse_copy(src: &File, dst: &File, min_len: u64) -> io::Result<()> {
    let len = src.metadata()?.len();
    // `dst` is empty, so after this every byte not written below reads as zero.
    dst.set_len(len.max(min_len))?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut offset = 0;
    while offset < len {
        let Some(start) = seek(src, offset, Whence::SeekData)? else {
            break;
        };
        let end = seek(src, start, Whence::SeekHole)?.unwrap_or(len).min(len);
        let mut pos = start;
        while pos < end {
            let n = usize::try_from(end - pos).map_or(COPY_CHUNK, |left| left.min(COPY_CHUNK));
            let chunk = &mut buf[..n];
            src.read_exact_at(chunk, pos)?;
            if chunk.iter().any(|&b| b != 0) {
                dst.write_all_at(chunk, pos)?;
            }
            pos += n as u64;
        }
        offset = end.max(offset + 1);
    }
    Ok(())
}

impl FileDriver {
    /// A driver keeping its files in `dir`, which is created if missing. Fails if the
    /// directory cannot be made or its absolute path is not UTF-8.
    pub fn new(dir: PathBuf, options: FileDriverOptions) -> Result<Self, DriverError> {
        fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        let dir = fs::canonicalize(&dir).map_err(io_err("resolve", &dir))?;
        if dir.to_str().is_none() {
            return Err(io_err("use non-UTF-8 directory", &dir)(
                io::ErrorKind::InvalidInput.into(),
            ));
        }
        Ok(Self { dir, options })
    }

    /// The absolute directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The absolute path of the volume's file, whether or not it exists.
    pub fn volume_path(&self, id: &VolumeId) -> PathBuf {
        self.dir.join(id.backend_name())
    }

    /// The absolute path of the snapshot's file, whether or not it exists.
    pub fn snapshot_path(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("snapshot-{id}"))
    }

    /// Where a file is built before it is renamed to `path`. The leading dot keeps it
    /// out of the stats, which count only final names.
    fn temp_path(&self, path: &Path) -> PathBuf {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        self.dir.join(format!(".{name}.tmp"))
    }

    /// Creates `path` holding a copy of `source` (or nothing) and at least `bytes` long,
    /// through a temp file, so `path` only ever appears complete.
    fn publish(&self, path: &Path, source: Option<&Path>, bytes: u64) -> Result<(), DriverError> {
        let tmp = self.temp_path(path);
        // Opened first, so a missing source leaves no temp file behind.
        let src = match source {
            Some(p) => Some(File::open(p).map_err(io_err("open", p))?),
            None => None,
        };
        // A temp file left by a crash is removed, not reused: its bytes must not leak into
        // this file and its mode may be wrong. `create_new` (O_EXCL) then guarantees an
        // empty file of ours and never follows a symlink. 0600: it holds tenant data.
        remove_if_present(&tmp)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        match src {
            Some(src) => sparse_copy(&src, &file, bytes).map_err(io_err("copy into", &tmp))?,
            None => file.set_len(bytes).map_err(io_err("set length of", &tmp))?,
        }
        // The data and length must be on disk before the name says the file is complete.
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        let what = format!("{} -> {}", tmp.display(), path.display());
        fs::rename(&tmp, path).map_err(io_err("rename", Path::new(&what)))?;
        // Without this the rename may be lost in a crash, after the caller recorded success.
        sync_dir(&self.dir)
    }

    /// Accepts a file a previous attempt published: complete by the publish invariant,
    /// so only its size may need fixing. The directory is synced again because that
    /// attempt may have crashed between its rename and its directory fsync.
    fn adopt(&self, path: &Path, bytes: u64) -> Result<(), DriverError> {
        ensure_len(path, bytes)?;
        sync_dir(&self.dir)
    }

    /// Removes `path` and any temp file a crashed create left for it; gone is success.
    fn remove(&self, path: &Path) -> Result<(), DriverError> {
        remove_if_present(path)?;
        remove_if_present(&self.temp_path(path))?;
        // Always sync: a previous attempt may have unlinked the file and crashed before this.
        sync_dir(&self.dir)
    }

    /// Sum of the apparent sizes of the volume and snapshot files, in bytes.
    fn provisioned_bytes(&self) -> Result<u64, DriverError> {
        let entries = fs::read_dir(&self.dir).map_err(io_err("list", &self.dir))?;
        let mut sum = 0u64;
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with("volume-") || name.starts_with("snapshot-")) {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_file() => sum = sum.saturating_add(m.len()),
                Ok(_) => {}
                // Deleted since it was listed.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("stat", &entry.path())(e)),
            }
        }
        Ok(sum)
    }
}

fn location(path: &Path) -> ModelUpdate {
    ModelUpdate {
        provider_location: Some(path.display().to_string()),
    }
}

impl VolumeDriver for FileDriver {
    fn name(&self) -> &'static str {
        "file"
    }

    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let bytes = gib_to_bytes(volume.size_gb, &path)?;
        if exists(&path)? {
            self.adopt(&path, bytes)?;
        } else {
            self.publish(&path, None, bytes)?;
        }
        Ok(location(&path))
    }

    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.remove(&self.volume_path(&volume.id))
    }

    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        ensure_len(&path, gib_to_bytes(new_size_gb, &path)?)
    }

    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError> {
        let path = self.snapshot_path(&snapshot.id);
        if exists(&path)? {
            self.adopt(&path, 0)?;
        } else {
            let source = self.volume_path(&snapshot.volume.id);
            self.publish(&path, Some(&source), 0)?;
        }
        Ok(location(&path))
    }

    fn delete_snapshot(&self, snapshot: &SnapshotRef) -> Result<(), DriverError> {
        self.remove(&self.snapshot_path(&snapshot.id))
    }

    fn create_volume_from_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let bytes = gib_to_bytes(volume.size_gb, &path)?;
        if exists(&path)? {
            self.adopt(&path, bytes)?;
        } else {
            let source = self.snapshot_path(&snapshot.id);
            self.publish(&path, Some(&source), bytes)?;
        }
        Ok(location(&path))
    }

    fn initialize_connection(
        &self,
        volume: &VolumeRef,
        _connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let path = self.volume_path(&volume.id);
        if !exists(&path)? {
            return Err(io_err("export", &path)(io::ErrorKind::NotFound.into()));
        }
        let mut data = serde_json::Map::new();
        data.insert("device_path".to_string(), path.display().to_string().into());
        Ok(ConnectionInfo {
            driver_volume_type: "local".to_string(),
            data,
        })
    }

    fn terminate_connection(
        &self,
        _volume: &VolumeRef,
        _connector: &serde_json::Value,
    ) -> Result<(), DriverError> {
        // A local file has no export to tear down.
        Ok(())
    }

    fn get_volume_stats(&self) -> Result<BackendStats, DriverError> {
        let vfs = nix::sys::statvfs::statvfs(&self.dir)
            .map_err(|e| io_err("statvfs", &self.dir)(e.into()))?;
        let frsize = u128::from(vfs.fragment_size());
        let gib = |bytes: u128| bytes as f64 / GIB as f64;
        let o = &self.options;
        Ok(BackendStats {
            volume_backend_name: o.volume_backend_name.clone(),
            vendor_name: "Clinker".to_string(),
            driver_version: "1.0".to_string(),
            storage_protocol: "local".to_string(),
            pools: vec![PoolStats {
                pool_name: o.pool_name.clone(),
                total_capacity_gb: Capacity::Gb(gib(u128::from(vfs.blocks()) * frsize)),
                free_capacity_gb: Capacity::Gb(gib(u128::from(vfs.blocks_available()) * frsize)),
                allocated_capacity_gb: 0.0,
                provisioned_capacity_gb: gib(u128::from(self.provisioned_bytes()?)),
                reserved_percentage: o.reserved_percentage,
                max_over_subscription_ratio: o.max_over_subscription_ratio,
                thin_provisioning_support: self.options.thin,
                thick_provisioning_support: !self.options.thin,
                capabilities: o.capabilities.clone(),
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use tempfile::TempDir;

    use serde_json::{Value, json};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Allocation we still call "sparse": a few filesystem blocks of metadata or data.
    const SPARSE_SLACK: u64 = 1 << 20;

    fn driver() -> Result<(TempDir, FileDriver), Box<dyn std::error::Error>> {
        let tmp = TempDir::new()?;
        // Nested and missing: `new` must create it.
        let d = FileDriver::new(tmp.path().join("a/volumes"), FileDriverOptions::default())?;
        Ok((tmp, d))
    }

    fn vol(size_gb: u64) -> VolumeRef {
        VolumeRef {
            id: VolumeId::new(),
            size_gb,
        }
    }

    fn snap(volume: &VolumeRef) -> SnapshotRef {
        let (id, volume) = (Uuid::new_v4(), volume.clone());
        SnapshotRef { id, volume }
    }

    fn assert_not_found<T: std::fmt::Debug>(r: Result<T, DriverError>) -> TestResult {
        match r {
            Err(DriverError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(())
            }
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
            volume_backend_name: "files".to_string(),
            pool_name: "p".to_string(),
            reserved_percentage: 5,
            capabilities: BTreeMap::from([("ssd".to_string(), json!(false))]),
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
            capabilities: options.capabilities,
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
}
