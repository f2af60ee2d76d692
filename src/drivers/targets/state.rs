//! Per-volume state files of a target: `<state_dir>/volume-<uuid>.json`, mode 0600
//! (they hold credentials), replaced atomically (temp, fsync, rename, fsync directory),
//! so a crash leaves either the old or the new state, never a torn one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::drivers::DriverError;
use crate::drivers::fsutil::{io_err, prepare_dir, remove_if_present, sync_dir, write_atomically};
use crate::model::VolumeId;

/// A directory of per-volume JSON state files.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Uses `dir`, creating it (mode 0700: nobody else may list the exports) if missing.
    pub(crate) fn new(dir: &Path) -> Result<Self, DriverError> {
        let dir = prepare_dir(dir)?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod", &dir))?;
        Ok(Self { dir })
    }

    /// The directory, absolute.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file of `volume`, whether or not it exists.
    pub(crate) fn path(&self, volume: &VolumeId) -> PathBuf {
        self.dir.join(format!("{}.json", volume.backend_name()))
    }

    /// Another file belonging to `volume`'s export, named `volume-<uuid>.<suffix>`.
    pub(crate) fn side_path(&self, volume: &VolumeId, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}.{suffix}", volume.backend_name()))
    }

    /// The volume's state, or `None` if it has none.
    pub(crate) fn load<T: DeserializeOwned>(
        &self,
        volume: &VolumeId,
    ) -> Result<Option<T>, DriverError> {
        let path = self.path(volume);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &path)(e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io_err("parse", &path)(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// Replaces the volume's state.
    pub(crate) fn store<T: Serialize>(
        &self,
        volume: &VolumeId,
        state: &T,
    ) -> Result<(), DriverError> {
        let path = self.path(volume);
        let bytes = serde_json::to_vec_pretty(state)
            .map_err(|e| io_err("encode", &path)(io::Error::other(e)))?;
        write_atomically(&path, &bytes)
    }

    /// Deletes the volume's state; none is a success.
    pub(crate) fn remove(&self, volume: &VolumeId) -> Result<(), DriverError> {
        let path = self.path(volume);
        remove_if_present(&path)?;
        sync_dir(&self.dir)
    }
}
