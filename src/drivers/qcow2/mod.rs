//! The qcow2 driver: one qcow2 image per volume, `volume-<uuid>`, in one directory,
//! managed with the real `qemu-img`.
//!
//! **Snapshots are internal** (`qemu-img snapshot -c/-d/-a`), not overlays. Why:
//! - A volume is always exactly one self-contained file. No image ever has a backing
//!   file, so the safety check can refuse every backing file and every external data
//!   file outright (CVE-2024-32498) instead of judging which paths are "ours"; a
//!   backing file inside our own directory could still be another tenant's volume.
//! - Deleting any snapshot, first, middle or last, is one refcount update in the
//!   image; the other snapshots keep their clusters. With overlays, deleting a middle
//!   link means a `qemu-img commit`/`rebase` that rewrites data and can fail halfway.
//! - Revert is `qemu-img snapshot -a`, and a volume from a snapshot is `qemu-img
//!   convert -l snapshot.name=...`: a standalone copy with no link to its source.
//!
//! The price: snapshots live inside their volume, so **deleting a volume deletes its
//! snapshots** (later `delete_snapshot` calls succeed, there is nothing left to do), and
//! snapshot, revert and extend work only while no other process holds the image's
//! write lock (an NBD export, a local consumer): they then fail with
//! [`DriverError::Busy`]. Online snapshots would need the consumer's own qemu (Cinder's
//! NFS driver asks Nova to do them), which is out of reach of a node-side driver.
//!
//! Every image passes [`image::inspect`] before any other qemu tool opens it. Every
//! `qemu-img` call gives `-f qcow2` (never probes) and takes paths built from UUIDs.
//!
//! Crash safety: new images (create, from snapshot, clone) are written under a temp
//! name (`.volume-<uuid>.tmp`, made empty with `O_EXCL`, mode 0600), fsynced, renamed,
//! and the directory fsynced, as in the file driver; a stale temp file is unlinked,
//! never reused, so a new volume never shows a deleted one's data (qcow2 reads
//! unallocated clusters as zeros). In-place operations (snapshot, resize, revert) rely
//! on qcow2's own update ordering; a crash may leak clusters (`qemu-img check -r
//! leaks`) but not lose data, and re-running the verb finishes the job.

mod image;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::image::{ImageInfo, SnapshotOp};
use super::exports::Exports;
use super::fsutil::{
    bytes_to_gb, create_temp, dir_capacity, exists, gib_to_bytes, not_found, prepare_dir,
    publish_temp, remove_if_present, sync_dir, sync_file, temp_path,
};
use super::provisioned::Provisioned;
use super::targets::Target;
use super::{
    BackendStats, BackingKind, BackingObject, ConnectionInfo, DriverError, ImageFormat,
    ModelUpdate, PoolOptions, SnapshotRef, VolumeDriver, VolumeRef,
};
use crate::model::VolumeId;

/// How a [`Qcow2Driver`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct Qcow2DriverOptions {
    /// The pool's names and reported figures. Default [`PoolOptions::named`]`("qcow2")`.
    pub pool: PoolOptions,
}

impl Default for Qcow2DriverOptions {
    fn default() -> Self {
        Self {
            pool: PoolOptions::named("qcow2"),
        }
    }
}

/// A [`VolumeDriver`] keeping each volume as a qcow2 image in one directory.
#[derive(Debug)]
pub struct Qcow2Driver {
    /// Absolute and valid UTF-8, so paths handed out are exact.
    dir: PathBuf,
    options: Qcow2DriverOptions,
    /// The target, and the lock that keeps connection calls and deletes of one volume
    /// apart.
    exports: Exports,
    /// Virtual sizes of the volumes. Internal snapshots add none: they share clusters
    /// with their volume, and what they pin shows in the free space.
    provisioned: Provisioned,
}

fn location(path: &Path) -> ModelUpdate {
    ModelUpdate {
        provider_location: Some(path.display().to_string()),
    }
}

/// The internal snapshot's name inside the image.
fn snapshot_name(snapshot: &SnapshotRef) -> String {
    format!("snapshot-{}", snapshot.id)
}

impl Qcow2Driver {
    /// A driver keeping its images in `dir`, which is created if missing, exporting
    /// through [`LocalTarget`](super::targets::local::LocalTarget). Reads each image's header once to seed the provisioned
    /// tally. Fails if the directory cannot be made or read, or its path is not UTF-8.
    pub fn new(dir: PathBuf, options: Qcow2DriverOptions) -> Result<Self, DriverError> {
        let dir = prepare_dir(&dir)?;
        let provisioned = Provisioned::scan(&dir, &["volume-"], |path, meta| {
            Some(image::header_virtual_size(path).unwrap_or(meta.len()))
        })?;
        Ok(Self {
            dir,
            options,
            exports: Exports::local(ImageFormat::Qcow2),
            provisioned,
        })
    }

    /// The same driver exporting through `target`, which must serve qcow2 images (the
    /// NBD and local targets do; tgt does not).
    pub fn with_target(mut self, target: Arc<dyn Target>) -> Result<Self, DriverError> {
        self.exports.set_target(target)?;
        Ok(self)
    }

    /// The absolute directory holding the images.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The absolute path of the volume's image, whether or not it exists.
    pub fn volume_path(&self, id: &VolumeId) -> PathBuf {
        self.dir.join(id.backend_name())
    }

    /// Checks an existing image; a missing one is "not found" for `op`.
    fn inspect_existing(&self, path: &Path, op: &'static str) -> Result<ImageInfo, DriverError> {
        if !exists(path)? {
            return Err(not_found(op, path));
        }
        image::inspect(path)
    }

    /// Grows the image to at least `bytes` and records its size.
    fn grow(&self, path: &Path, info: &ImageInfo, bytes: u64) -> Result<(), DriverError> {
        if info.virtual_size < bytes {
            image::resize(path, bytes)?;
        }
        self.provisioned.set(path, info.virtual_size.max(bytes));
        Ok(())
    }

    /// Creates the volume at `path` with `fill` (which writes a qcow2 image to the temp
    /// path it is given), grown to `bytes`, unless a previous attempt published it; that
    /// image is complete by the publish invariant, so only its size may need fixing.
    fn create_image(
        &self,
        path: &Path,
        bytes: u64,
        fill: impl FnOnce(&Path) -> Result<(), DriverError>,
    ) -> Result<(), DriverError> {
        if exists(path)? {
            let info = image::inspect(path)?;
            self.grow(path, &info, bytes)?;
            // That attempt may have crashed between its rename and its directory fsync.
            return sync_dir(&self.dir);
        }
        // qemu-img truncates the empty 0600 file rather than making its own (0644).
        let (tmp, file) = create_temp(path)?;
        drop(file);
        let result = fill(&tmp).and_then(|()| {
            let info = image::inspect(&tmp)?;
            if info.virtual_size < bytes {
                image::resize(&tmp, bytes)?;
            }
            // qemu-img convert does not flush its output; the name must not say
            // "complete" before the data is on disk.
            sync_file(&tmp)?;
            publish_temp(&tmp, path)?;
            self.provisioned.set(path, info.virtual_size.max(bytes));
            Ok(())
        });
        if result.is_err() {
            // Best effort: the next attempt or the delete removes it anyway.
            let _ = remove_if_present(&tmp);
        }
        result
    }
}

impl VolumeDriver for Qcow2Driver {
    fn name(&self) -> &'static str {
        "qcow2"
    }

    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let bytes = gib_to_bytes(volume.size_gb, &path)?;
        self.create_image(&path, bytes, |tmp| image::create(tmp, bytes))?;
        Ok(location(&path))
    }

    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports.remove_then(volume.id, || {
            let path = self.volume_path(&volume.id);
            remove_if_present(&path)?;
            remove_if_present(&temp_path(&path))?;
            self.provisioned.remove(&path);
            // Always sync: a previous attempt may have unlinked the file and crashed
            // before this.
            sync_dir(&self.dir)
        })
    }

    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        let info = self.inspect_existing(&path, "extend")?;
        self.grow(&path, &info, gib_to_bytes(new_size_gb, &path)?)?;
        self.exports.refresh(volume.id, &path)
    }

    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&snapshot.volume.id);
        let info = self.inspect_existing(&path, "snapshot")?;
        let name = snapshot_name(snapshot);
        if !info.snapshots.contains(&name) {
            image::snapshot(&path, SnapshotOp::Create, &name)?;
        }
        Ok(ModelUpdate {
            provider_location: Some(format!("{}#{name}", path.display())),
        })
    }

    fn delete_snapshot(&self, snapshot: &SnapshotRef) -> Result<(), DriverError> {
        let path = self.volume_path(&snapshot.volume.id);
        // Deleting the volume deleted its internal snapshots.
        if !exists(&path)? {
            return Ok(());
        }
        let name = snapshot_name(snapshot);
        if image::inspect(&path)?.snapshots.contains(&name) {
            image::snapshot(&path, SnapshotOp::Delete, &name)?;
        }
        Ok(())
    }

    fn create_volume_from_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let bytes = gib_to_bytes(volume.size_gb, &path)?;
        let source = self.volume_path(&snapshot.volume.id);
        let name = snapshot_name(snapshot);
        self.create_image(&path, bytes, |tmp| {
            let info = self.inspect_existing(&source, "copy from")?;
            if !info.snapshots.contains(&name) {
                return Err(not_found("find snapshot in", &source));
            }
            image::convert(&source, Some(&name), tmp)
        })?;
        Ok(location(&path))
    }

    fn create_cloned_volume(
        &self,
        volume: &VolumeRef,
        source: &VolumeRef,
    ) -> Result<ModelUpdate, DriverError> {
        let path = self.volume_path(&volume.id);
        let bytes = gib_to_bytes(volume.size_gb, &path)?;
        let source = self.volume_path(&source.id);
        self.create_image(&path, bytes, |tmp| {
            self.inspect_existing(&source, "clone")?;
            image::convert(&source, None, tmp)
        })?;
        Ok(location(&path))
    }

    fn revert_to_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        let info = self.inspect_existing(&path, "revert")?;
        let name = snapshot_name(snapshot);
        if !info.snapshots.contains(&name) {
            return Err(not_found("find snapshot in", &path));
        }
        if self.exports.is_exported(volume.id)? {
            return Err(DriverError::Busy(format!(
                "{} is exported",
                volume.id.backend_name()
            )));
        }
        image::snapshot(&path, SnapshotOp::Apply, &name)?;
        // Applying a snapshot also restores its disk size; the volume keeps its own, as
        // Cinder expects. Re-run after a crash, the recorded size still wins.
        let bytes = gib_to_bytes(volume.size_gb, &path)?.max(info.virtual_size);
        let reverted = image::inspect(&path)?;
        self.grow(&path, &reverted, bytes)
    }

    /// Images and temp files, and the internal snapshots of each image (named
    /// `volume-<uuid>#snapshot-<uuid>`, sized as their image).
    fn list_backing(&self) -> Result<Vec<BackingObject>, DriverError> {
        let files = super::backing::list(
            &self.dir,
            |path, meta| image::header_virtual_size(path).unwrap_or(meta.len()),
            |id| self.exports.is_exported(VolumeId(*id)),
        )?;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            if f.kind == BackingKind::Volume && !f.temporary {
                let path = super::backing::path_of(&self.dir, &f);
                // An image that fails the safety check is reported as it is; its
                // snapshots are not read.
                let snapshots = image::inspect(&path)
                    .map(|i| i.snapshots)
                    .unwrap_or_default();
                for name in snapshots {
                    let Some(id) = name
                        .strip_prefix("snapshot-")
                        .and_then(|i| uuid::Uuid::parse_str(i).ok())
                    else {
                        continue;
                    };
                    out.push(BackingObject {
                        kind: BackingKind::Snapshot,
                        id,
                        name: format!("{}#{name}", f.name),
                        exported: false,
                        ..f.clone()
                    });
                }
            }
            out.push(f);
        }
        Ok(out)
    }

    fn remove_backing(&self, object: &BackingObject) -> Result<(), DriverError> {
        if object.kind == BackingKind::Snapshot && !object.temporary {
            let volume = object
                .name
                .split_once('#')
                .and_then(|(v, _)| v.strip_prefix("volume-"))
                .and_then(|v| v.parse::<VolumeId>().ok())
                .ok_or_else(|| {
                    DriverError::InvalidConfig(format!("not a snapshot name: {}", object.name))
                })?;
            return self.delete_snapshot(&SnapshotRef {
                id: object.id,
                volume: VolumeRef {
                    id: volume,
                    size_gb: 0,
                },
            });
        }
        super::backing::remove(&self.dir, self.exports.target(), &self.provisioned, object)
    }

    fn remove_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports.remove(volume.id)
    }

    fn ensure_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        let path = self.volume_path(&volume.id);
        if exists(&path)? {
            image::inspect(&path)?;
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
        self.exports.connect(volume.id, &path, connector, || {
            // The consumer (or qemu-nbd) will open the image: check it first.
            self.inspect_existing(&path, "export").map(drop)
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
            bytes_to_gb(self.provisioned.total_bytes()),
            true,
            pool.capabilities.clone(),
        ))
    }
}
