//! The file driver: one sparse raw file per volume, `volume-<uuid>`, in one directory.
//! Snapshots, clones and volumes from snapshots are full copies (`snapshot-<uuid>` for
//! snapshots), independent of their source, so volumes and snapshots can be deleted in
//! any order: reflinks where the file system offers them (btrfs, XFS: instant, blocks
//! shared copy-on-write), sparse-aware copies otherwise.
//!
//! Crash safety: every new file is built under a temp name (`.volume-<uuid>.tmp`), sized,
//! fsynced, renamed to its final name, and then the directory is fsynced. A crash
//! therefore never leaves a half-made file under a final name, and a final name that
//! exists always holds a complete volume or snapshot, which is what makes re-running a
//! create after a crash safe. A stale temp file is replaced by the next attempt and
//! removed by the matching delete. Revert builds the snapshot's copy the same way and
//! renames it over the volume, so a crash leaves either the old or the reverted volume.
//!
//! A new volume never shows a deleted one's data: files are created empty (`O_EXCL`) and
//! the file system hands out zeroed blocks; a stale temp file is unlinked, never reused.
//!
//! Paths are built only from ids (UUIDs), never from user-supplied strings. Calls for
//! one volume must not overlap (the volume manager serializes them), since they share
//! the temp name. A snapshot copies the file as it is, so it is consistent only if
//! nothing writes to the volume while it is taken.
//!
//! Exports go through a [`Target`]: [`LocalTarget`] by default, or iSCSI (tgt) and NBD,
//! which serve raw files as they are.

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use uuid::Uuid;

use super::exports::Exports;
use super::fsutil::{
    clone_or_copy, create_temp, dir_capacity, exists, gib_to_bytes, io_err, not_found, prepare_dir,
    publish_temp, remove_if_present, sync_dir, temp_path,
};
use super::provisioned::Provisioned;
use super::targets::Target;
use super::{
    BackendStats, BackingObject, ConnectionInfo, DriverError, ImageFormat, ModelUpdate,
    PoolOptions, SnapshotRef, VolumeDriver, VolumeRef, fsutil,
};
use crate::model::VolumeId;

/// How a [`FileDriver`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDriverOptions {
    /// The pool's names and reported figures. Default [`PoolOptions::named`]`("file")`.
    pub pool: PoolOptions,
    /// Report the pool as thin (sparse files, over-commit allowed) rather than thick
    /// (every GiB promised counts as used). The files are sparse either way. Default true.
    pub thin: bool,
}

impl Default for FileDriverOptions {
    fn default() -> Self {
        Self {
            pool: PoolOptions::named("file"),
            thin: true,
        }
    }
}

/// A [`VolumeDriver`] keeping each volume as a sparse raw file in one directory.
#[derive(Debug)]
pub struct FileDriver {
    /// Absolute and valid UTF-8, so paths handed out are exact.
    dir: PathBuf,
    options: FileDriverOptions,
    /// The target, and the lock that keeps connection calls and deletes of one volume
    /// apart.
    exports: Exports,
    /// Apparent sizes of the volume and snapshot files.
    provisioned: Provisioned,
}

/// Grows an existing file to `bytes` and fsyncs it; never shrinks, so no data is lost
/// when a create is re-run after an extend. Returns the resulting length.
fn ensure_len(path: &Path, bytes: u64) -> Result<u64, DriverError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    if len < bytes {
        file.set_len(bytes).map_err(io_err("set length of", path))?;
        file.sync_all().map_err(io_err("fsync", path))?;
    }
    Ok(len.max(bytes))
}

fn location(path: &Path) -> ModelUpdate {
    ModelUpdate {
        provider_location: Some(path.display().to_string()),
    }
}

impl FileDriver {
    /// A driver keeping its files in `dir`, which is created if missing, exporting
    /// through [`LocalTarget`](super::targets::local::LocalTarget). Fails if the directory cannot be made or scanned, or its
    /// absolute path is not UTF-8.
    pub fn new(dir: PathBuf, options: FileDriverOptions) -> Result<Self, DriverError> {
        let dir = prepare_dir(&dir)?;
        let provisioned =
            Provisioned::scan(&dir, &["volume-", "snapshot-"], |_, meta| Some(meta.len()))?;
        Ok(Self {
            dir,
            options,
            exports: Exports::local(ImageFormat::Raw),
            provisioned,
        })
    }

    /// The same driver exporting through `target`, which must serve raw files.
    pub fn with_target(mut self, target: Arc<dyn Target>) -> Result<Self, DriverError> {
        self.exports.set_target(target)?;
        Ok(self)
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

    /// Creates (or, for a revert, replaces) `path` holding a copy of `source` (or
    /// nothing) and at least `bytes` long, through a temp file, so `path` only ever
    /// appears complete.
    fn publish(&self, path: &Path, source: Option<&Path>, bytes: u64) -> Result<(), DriverError> {
        // Opened first, so a missing source leaves no temp file behind.
        let src = match source {
            Some(p) => Some(File::open(p).map_err(io_err("open", p))?),
            None => None,
        };
        let (tmp, file) = create_temp(path)?;
        match src {
            Some(src) => clone_or_copy(&src, &file, bytes)
                .map(drop)
                .map_err(io_err("copy into", &tmp))?,
            None => file.set_len(bytes).map_err(io_err("set length of", &tmp))?,
        }
        // The data and length must be on disk before the name says the file is complete.
        file.sync_all().map_err(io_err("fsync", &tmp))?;
        let len = file.metadata().map_err(io_err("stat", &tmp))?.len();
        publish_temp(&tmp, path)?;
        self.provisioned.set(path, len);
        Ok(())
    }

    /// Creates `path` unless a previous attempt already published it. That file is
    /// complete by the publish invariant, so only its size may need fixing; the directory
    /// is synced again because that attempt may have crashed before its directory fsync.
    fn create_file(
        &self,
        path: &Path,
        source: Option<&Path>,
        bytes: u64,
    ) -> Result<(), DriverError> {
        if exists(path)? {
            let len = ensure_len(path, bytes)?;
            self.provisioned.set(path, len);
            sync_dir(&self.dir)
        } else {
            self.publish(path, source, bytes)
        }
    }

    /// Removes `path` and any temp file a crashed create left for it; gone is success.
    fn remove(&self, path: &Path) -> Result<(), DriverError> {
        remove_if_present(path)?;
        remove_if_present(&temp_path(path))?;
        self.provisioned.remove(path);
        // Always sync: a previous attempt may have unlinked the file and crashed before this.
        sync_dir(&self.dir)
    }
}

impl VolumeDriver for FileDriver {
    fn name(&self) -> &'static str {
        "file"
    }

    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        self.create_file(&path, None, gib_to_bytes(volume.size_gb, &path)?)?;
        Ok(location(&path))
    }

    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports
            .remove_then(volume.id, || self.remove(&self.volume_path(&volume.id)))
    }

    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        let len = ensure_len(&path, gib_to_bytes(new_size_gb, &path)?)?;
        self.provisioned.set(&path, len);
        self.exports.refresh(volume.id, &path)
    }

    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError> {
        let path = self.snapshot_path(&snapshot.id);
        let source = self.volume_path(&snapshot.volume.id);
        self.create_file(&path, Some(&source), 0)?;
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
        let source = self.snapshot_path(&snapshot.id);
        self.create_file(&path, Some(&source), gib_to_bytes(volume.size_gb, &path)?)?;
        Ok(location(&path))
    }

    fn create_cloned_volume(
        &self,
        volume: &VolumeRef,
        source: &VolumeRef,
    ) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let source = self.volume_path(&source.id);
        self.create_file(&path, Some(&source), gib_to_bytes(volume.size_gb, &path)?)?;
        Ok(location(&path))
    }

    fn revert_to_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        let source = self.snapshot_path(&snapshot.id);
        if !exists(&path)? {
            return Err(not_found("revert", &path));
        }
        // The rename below swaps the file under any export, which would keep serving
        // the old one; Cinder only reverts detached volumes anyway.
        if self.exports.is_exported(volume.id)? {
            return Err(DriverError::Busy(format!(
                "{} is exported",
                volume.id.backend_name()
            )));
        }
        let len = path.metadata().map_err(io_err("stat", &path))?.len();
        let bytes = gib_to_bytes(volume.size_gb, &path)?.max(len);
        self.publish(&path, Some(&source), bytes)
    }

    fn list_backing(&self) -> Result<Vec<BackingObject>, DriverError> {
        super::backing::list(
            &self.dir,
            |_, meta| meta.len(),
            |id| self.exports.is_exported(VolumeId(*id)),
        )
    }

    fn remove_backing(&self, object: &BackingObject) -> Result<(), DriverError> {
        super::backing::remove(&self.dir, self.exports.target(), &self.provisioned, object)
    }

    fn remove_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports.remove(volume.id)
    }

    fn ensure_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        if exists(&path)? {
            self.exports.ensure(volume.id, &path)?;
        }
        Ok(())
    }

    fn initialize_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let path = self.volume_path(&volume.id);
        self.exports
            .connect(volume.id, &path, connector, || match exists(&path)? {
                true => Ok(()),
                false => Err(not_found("export", &path)),
            })
    }

    fn terminate_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<(), DriverError> {
        self.exports.disconnect(volume.id, connector)
    }

    fn get_volume_stats(&self) -> Result<BackendStats, DriverError> {
        let pool = &self.options.pool;
        Ok(pool.stats(
            self.exports.storage_protocol(),
            dir_capacity(&self.dir)?,
            fsutil::bytes_to_gb(self.provisioned.total_bytes()),
            self.options.thin,
            pool.capabilities.clone(),
        ))
    }
}
