//! The export side of the file, qcow2 and LVM drivers: their [`Target`] and the
//! per-volume lock every export-changing call takes, so no driver can forget it.
//!
//! An attach is two target steps (make or find the export, then record the consumer), a
//! detach two more (forget the consumer, then remove the export if nobody else uses it),
//! and a delete removes the export and then the volume. Calls for one volume must not
//! interleave those steps: a detach could remove the export an attach has just found
//! and is about to record its consumer on, or a delete could remove a volume an attach
//! has just found present and is exporting. So each runs whole under the volume's lock.
//! Calls for different volumes do not wait for each other (the targets keep their own
//! bookkeeping consistent), so a long delete, such as an LVM volume being zeroed, holds
//! up nothing but its own volume.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::targets::local::LocalTarget;
use super::targets::{ExportSpec, Target, require_format};
use super::{ConnectionInfo, DriverError, ImageFormat};
use crate::model::VolumeId;

/// A driver's target, the format of its volumes, and the per-volume lock.
#[derive(Debug)]
pub(crate) struct Exports {
    target: Arc<dyn Target>,
    format: ImageFormat,
    /// Volumes a call holds.
    busy: Mutex<HashSet<VolumeId>>,
    /// Signalled whenever a volume is let go.
    freed: Condvar,
}

/// Holds one volume's lock; dropping it lets the next call for the volume in.
struct VolumeGuard<'a> {
    exports: &'a Exports,
    volume: VolumeId,
}

impl Drop for VolumeGuard<'_> {
    fn drop(&mut self) {
        self.exports.busy().remove(&self.volume);
        self.exports.freed.notify_all();
    }
}

impl Exports {
    /// Volumes of `format` exported through [`LocalTarget`].
    pub(crate) fn local(format: ImageFormat) -> Self {
        Self {
            target: Arc::new(LocalTarget),
            format,
            busy: Mutex::new(HashSet::new()),
            freed: Condvar::new(),
        }
    }

    /// Exports through `target` from now on; it must serve the volumes' format.
    pub(crate) fn set_target(&mut self, target: Arc<dyn Target>) -> Result<(), DriverError> {
        require_format(target.as_ref(), self.format)?;
        self.target = target;
        Ok(())
    }

    /// The target.
    pub(crate) fn target(&self) -> &dyn Target {
        self.target.as_ref()
    }

    fn busy(&self) -> MutexGuard<'_, HashSet<VolumeId>> {
        // The set is changed in single inserts and removes, so a panic elsewhere never
        // leaves it half-updated: a poisoned lock carries no news.
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no other call holds `volume`, then holds it.
    fn lock(&self, volume: VolumeId) -> VolumeGuard<'_> {
        let mut busy = self.busy();
        while busy.contains(&volume) {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        busy.insert(volume);
        VolumeGuard {
            exports: self,
            volume,
        }
    }

    /// What the target exports for `volume`, held at `path`.
    pub(crate) fn spec<'a>(&self, volume: VolumeId, path: &'a Path) -> ExportSpec<'a> {
        ExportSpec {
            volume,
            path,
            format: self.format,
        }
    }

    /// `initialize_connection`: under the volume's lock, `check` that the volume is
    /// there and fit to export, then make (or find) the export and record `connector`.
    pub(crate) fn connect(
        &self,
        volume: VolumeId,
        path: &Path,
        connector: &serde_json::Value,
        check: impl FnOnce() -> Result<(), DriverError>,
    ) -> Result<ConnectionInfo, DriverError> {
        let _held = self.lock(volume);
        check()?;
        let spec = self.spec(volume, path);
        self.target.create_export(&spec)?;
        self.target.initialize_connection(&spec, connector)
    }

    /// `terminate_connection`: under the volume's lock, forget `connector` and remove
    /// the export once no connector uses it.
    pub(crate) fn disconnect(
        &self,
        volume: VolumeId,
        connector: &serde_json::Value,
    ) -> Result<(), DriverError> {
        let _held = self.lock(volume);
        if !self.target.terminate_connection(&volume, connector)? {
            self.target.remove_export(&volume)?;
        }
        Ok(())
    }

    /// `remove_export`: tears the export down, whoever uses it.
    pub(crate) fn remove(&self, volume: VolumeId) -> Result<(), DriverError> {
        self.remove_then(volume, || Ok(()))
    }

    /// `delete_volume`: removes the export, then runs `remove_volume`, both under the
    /// volume's lock, so an attach racing the delete either made its export before
    /// (removed here) or finds the volume gone.
    pub(crate) fn remove_then<T>(
        &self,
        volume: VolumeId,
        remove_volume: impl FnOnce() -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        let _held = self.lock(volume);
        self.target.remove_export(&volume)?;
        remove_volume()
    }

    /// Whether the volume has an export.
    pub(crate) fn is_exported(&self, volume: VolumeId) -> Result<bool, DriverError> {
        self.target.is_exported(&volume)
    }

    /// After an extend: makes the export, if any, show the new size.
    pub(crate) fn refresh(&self, volume: VolumeId, path: &Path) -> Result<(), DriverError> {
        if self.target.is_exported(&volume)? {
            self.target.refresh_export(&self.spec(volume, path))?;
        }
        Ok(())
    }

    /// `ensure_export` of a volume known to exist: rebuilds its export if it had one.
    pub(crate) fn ensure(&self, volume: VolumeId, path: &Path) -> Result<(), DriverError> {
        self.target
            .ensure_export(&self.spec(volume, path))
            .map(drop)
    }

    /// `storage_protocol` for the stats.
    pub(crate) fn storage_protocol(&self) -> &'static str {
        self.target.storage_protocol()
    }
}
