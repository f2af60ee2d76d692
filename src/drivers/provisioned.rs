//! A running tally of provisioned bytes, so `get_volume_stats` (called after every change
//! and periodically) costs O(1) file-system work instead of a directory scan.
//!
//! The tally maps each object's file name to its size rather than keeping a bare sum:
//! verbs are idempotent, and a create or delete that is re-run must not count twice.
//! One scan at construction seeds it; afterwards only the driver's own verbs change the
//! directory, so the tally stays exact until someone edits the directory by hand (a
//! restart rescans).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::DriverError;
use super::fsutil::io_err;

/// Sizes of the objects a driver keeps, by file name.
#[derive(Debug, Default)]
pub(crate) struct Provisioned {
    sizes: Mutex<HashMap<String, u64>>,
}

impl Provisioned {
    /// Scans `dir` once: every regular file whose name starts with one of `prefixes`
    /// counts with the size `size_of` gives it (`None` skips the file).
    pub(crate) fn scan(
        dir: &Path,
        prefixes: &[&str],
        size_of: impl Fn(&Path, &fs::Metadata) -> Option<u64>,
    ) -> Result<Self, DriverError> {
        let entries = fs::read_dir(dir).map_err(io_err("list", dir))?;
        let mut sizes = HashMap::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", dir))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !prefixes.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            match entry.metadata() {
                Ok(m) if m.is_file() => {
                    if let Some(size) = size_of(&entry.path(), &m) {
                        sizes.insert(name, size);
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("stat", &entry.path())(e)),
            }
        }
        Ok(Self {
            sizes: Mutex::new(sizes),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // The map is always consistent between statements, so a panic elsewhere while
        // holding the lock cannot have broken it.
        self.sizes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that the object in file `name` now has `bytes`.
    pub(crate) fn set(&self, name: &Path, bytes: u64) {
        let name = name.file_name().unwrap_or_default().to_string_lossy();
        self.lock().insert(name.into_owned(), bytes);
    }

    /// Records that the object in file `name` is gone.
    pub(crate) fn remove(&self, name: &Path) {
        let name = name.file_name().unwrap_or_default().to_string_lossy();
        self.lock().remove(name.as_ref());
    }

    /// The sum of all recorded sizes.
    pub(crate) fn total_bytes(&self) -> u128 {
        self.lock().values().map(|&b| u128::from(b)).sum()
    }
}
