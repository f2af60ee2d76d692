//! The LVM driver: one logical volume per volume in a configured volume group, through
//! the real lvm2 tools (`lvcreate`, `lvremove`, `lvextend`, `lvrename`, `lvconvert`,
//! `lvchange`, `lvs`, `vgs`) and `dd`, as Cinder's LVM driver does it.
//!
//! Names follow Cinder: a volume is `volume-<uuid>`, a snapshot `_snapshot-<uuid>` (LVM
//! reserves names starting with `snapshot`), so the device is `/dev/<vg>/volume-<uuid>`.
//! Two layouts (`lvm_type`):
//! - **thick**: plain LVs; a snapshot is a copy-on-write snapshot as big as its volume;
//!   create-from-snapshot and clone copy the data with `dd` into a new LV; a volume with
//!   snapshots cannot be deleted (LVM would drop them with it). With `volume_clear =
//!   "zero"` a volume, and a snapshot's copy-on-write store, is overwritten with zeros
//!   before its LV is removed, so a later volume on the same extents never shows it.
//! - **thin**: thin LVs in one thin pool (created if missing); snapshots and clones are
//!   thin snapshots (instant, sharing blocks), created active; the pool zeroes blocks
//!   before handing them out, so no clearing is needed.
//!
//! Every verb is idempotent: it lists the VG first and does only what is missing. Copies
//! (thick create-from-snapshot and clone) are built under a temp LV `tmp-volume-<uuid>`
//! and renamed when complete, so a final name always holds a whole volume; a leftover
//! temp LV is removed by the next attempt or by the delete. Names reach the tools only
//! as single arguments built from UUIDs and checked config names.
//!
//! Revert merges the snapshot into the volume (`lvconvert --merge`), reactivates the
//! volume so the merge starts, and takes the snapshot again (merging consumes it), as
//! Cinder does; the volume must not be exported meanwhile.
//!
//! Exports go through a [`Target`] with the device path and the raw format; connection
//! calls and deletes of one volume run one at a time ([`Exports`]).

mod parse;
pub mod runner;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use self::parse::{LV_FIELDS, Lv, SEPARATOR, is_missing, map_error, parse_lvs, parse_numbers};
use self::runner::Runner;
use super::exports::Exports;
use super::fsutil::{GIB, bytes_to_gb};
use super::targets::Target;
use super::{
    BackendStats, Capacity, ConnectionInfo, DriverError, ImageFormat, ModelUpdate, PoolOptions,
    SnapshotRef, VolumeDriver, VolumeRef,
};
use crate::model::VolumeId;

/// How an [`LvmDriver`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct LvmDriverOptions {
    /// The volume group; it must exist.
    pub volume_group: String,
    /// The thin pool for `lvm_type = "thin"`; `None` for thick volumes.
    pub thin_pool: Option<String>,
    /// Overwrite thick volumes and snapshot stores with zeros before removing them.
    pub clear_on_delete: bool,
    /// The pool's names and reported figures (the over-subscription ratio is
    /// meaningful for thin pools).
    pub pool: PoolOptions,
}

impl LvmDriverOptions {
    /// Thick volumes in `volume_group`, cleared on delete, named `lvm` in the stats.
    pub fn thick(volume_group: &str) -> Self {
        Self {
            volume_group: volume_group.to_string(),
            thin_pool: None,
            clear_on_delete: true,
            pool: PoolOptions::named("lvm"),
        }
    }
}

/// A [`VolumeDriver`] keeping each volume as a logical volume.
#[derive(Debug)]
pub struct LvmDriver {
    options: LvmDriverOptions,
    runner: Arc<dyn Runner>,
    exports: Exports,
}

/// The name of a snapshot's LV, escaped as Cinder escapes it.
fn snapshot_name(id: &uuid::Uuid) -> String {
    format!("_snapshot-{id}")
}

/// The temp LV a copy is built in before it takes the volume's name.
fn temp_name(id: &VolumeId) -> String {
    format!("tmp-{}", id.backend_name())
}

/// The temp snapshot a thick clone copies from.
fn clone_snapshot_name(id: &VolumeId) -> String {
    format!("tmp-clone-{}", id.0)
}

fn gib(size_gb: u64) -> String {
    format!("{size_gb}g")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

/// The error for an LV that should exist and does not.
fn missing(what: &str, name: &str) -> DriverError {
    DriverError::Io {
        op: "find logical volume",
        path: format!("{what} {name}"),
        source: std::io::ErrorKind::NotFound.into(),
    }
}

impl LvmDriver {
    /// A driver on `options.volume_group`, exporting through
    /// [`LocalTarget`](super::targets::local::LocalTarget). Fails with
    /// [`DriverError::InvalidConfig`] if the volume group does not exist; creates the
    /// thin pool (95% of the group's free space, as Cinder does) if it is missing.
    pub fn new(options: LvmDriverOptions, runner: Arc<dyn Runner>) -> Result<Self, DriverError> {
        let driver = Self {
            options,
            runner,
            exports: Exports::local(ImageFormat::Raw),
        };
        let vg = driver.options.volume_group.clone();
        driver
            .run(
                "vgs",
                "find the volume group",
                &["--noheadings", "-o", "vg_name", &vg],
            )
            .map_err(|e| {
                DriverError::InvalidConfig(format!("volume group {vg} is not usable: {e}"))
            })?;
        if let Some(pool) = driver.options.thin_pool.clone()
            && driver.find(&pool)?.is_none()
        {
            driver.run(
                "lvcreate",
                "create the thin pool",
                &[
                    "--yes",
                    "--type",
                    "thin-pool",
                    "--extents",
                    "95%FREE",
                    "--name",
                    &pool,
                    &vg,
                ],
            )?;
        }
        Ok(driver)
    }

    /// The same driver exporting through `target`, which must serve raw images.
    pub fn with_target(mut self, target: Arc<dyn Target>) -> Result<Self, DriverError> {
        self.exports.set_target(target)?;
        Ok(self)
    }

    /// The device of LV `name`: `/dev/<vg>/<name>`.
    pub fn device_path(&self, name: &str) -> PathBuf {
        PathBuf::from("/dev")
            .join(&self.options.volume_group)
            .join(name)
    }

    fn full_name(&self, name: &str) -> String {
        format!("{}/{name}", self.options.volume_group)
    }

    fn thin(&self) -> bool {
        self.options.thin_pool.is_some()
    }

    fn run(
        &self,
        program: &'static str,
        action: &str,
        args: &[&str],
    ) -> Result<String, DriverError> {
        self.runner
            .run(program, action, &strings(args))
            .map_err(map_error)
    }

    /// Every LV of the volume group, sizes in bytes.
    fn list(&self) -> Result<Vec<Lv>, DriverError> {
        let out = self.run(
            "lvs",
            "list logical volumes",
            &[
                "--noheadings",
                "--nosuffix",
                "--units",
                "b",
                "--separator",
                SEPARATOR,
                "-o",
                LV_FIELDS,
                &self.options.volume_group,
            ],
        )?;
        parse_lvs(&out)
    }

    fn find(&self, name: &str) -> Result<Option<Lv>, DriverError> {
        Ok(self.list()?.into_iter().find(|lv| lv.name == name))
    }

    /// A new empty LV `name` of `size_gb`: thin in the pool, or thick in the group.
    fn create_lv(&self, name: &str, size_gb: u64) -> Result<(), DriverError> {
        let size = gib(size_gb);
        match &self.options.thin_pool {
            Some(pool) => self.run(
                "lvcreate",
                "create a thin volume",
                &[
                    "--yes",
                    "--thin",
                    "--virtualsize",
                    &size,
                    "--name",
                    name,
                    &self.full_name(pool),
                ],
            ),
            None => self.run(
                "lvcreate",
                "create a volume",
                &[
                    "--yes",
                    "--size",
                    &size,
                    "--name",
                    name,
                    &self.options.volume_group,
                ],
            ),
        }
        .map(drop)
    }

    /// Snapshot `name` of LV `origin`: thin and active, or thick with a copy-on-write
    /// store of `size_gb`.
    fn snapshot_lv(&self, origin: &str, name: &str, size_gb: u64) -> Result<(), DriverError> {
        let origin = self.full_name(origin);
        let size = gib(size_gb);
        let args: Vec<&str> = match self.thin() {
            true => vec![
                "--yes",
                "--snapshot",
                "--setactivationskip",
                "n",
                "--name",
                name,
                &origin,
            ],
            false => vec![
                "--yes",
                "--snapshot",
                "--size",
                &size,
                "--name",
                name,
                &origin,
            ],
        };
        self.run("lvcreate", "create a snapshot", &args).map(drop)
    }

    /// Grows LV `lv` to `size_gb` unless it is already that big.
    fn grow(&self, lv: &Lv, size_gb: u64) -> Result<(), DriverError> {
        if lv.bytes >= size_gb.saturating_mul(GIB) {
            return Ok(());
        }
        let full = self.full_name(&lv.name);
        self.run(
            "lvextend",
            "extend a volume",
            &["--size", &gib(size_gb), &full],
        )
        .map(drop)
    }

    /// Removes LV `name`; one already gone is a success.
    fn remove_lv(&self, name: &str) -> Result<(), DriverError> {
        match self.run(
            "lvremove",
            "remove a volume",
            &["--yes", "--force", &self.full_name(name)],
        ) {
            Err(e) if is_missing(&e) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Overwrites the first `bytes` of `device` with zeros, bypassing the page cache.
    fn zero(&self, device: &str, bytes: u64) -> Result<(), DriverError> {
        let mib = bytes / (1 << 20);
        if mib == 0 || !self.options.clear_on_delete {
            return Ok(());
        }
        let of = format!("of={device}");
        let count = format!("count={mib}");
        self.run(
            "dd",
            "clear a volume",
            &[
                "if=/dev/zero",
                &of,
                "bs=1M",
                &count,
                "oflag=direct",
                "conv=fdatasync",
            ],
        )
        .map(drop)
    }

    /// Removes a thick LV after clearing it; a thick snapshot's store is what holds
    /// old data, so that is cleared instead of the snapshot's (origin-sized) view.
    fn clear_and_remove(&self, lv: &Lv) -> Result<(), DriverError> {
        if !self.thin() {
            let device = match lv.is_thick_snapshot() {
                true => format!(
                    "/dev/mapper/{}-cow",
                    parse::mapper_name(&self.options.volume_group, &lv.name)
                ),
                false => self.device_path(&lv.name).display().to_string(),
            };
            self.zero(&device, lv.bytes)?;
        }
        self.remove_lv(&lv.name)
    }

    /// Creates volume `volume` holding a copy of LV `source` (`source_gb` big): a thin
    /// snapshot of it, or a thick LV filled with `dd` under a temp name and renamed.
    fn copy_into(
        &self,
        volume: &VolumeRef,
        source: &str,
        source_gb: u64,
    ) -> Result<(), DriverError> {
        let name = volume.id.backend_name();
        let lvs = self.list()?;
        if let Some(lv) = lvs.iter().find(|lv| lv.name == name) {
            // Complete by the rename invariant; only the size may be short.
            return self.grow(lv, volume.size_gb);
        }
        if !lvs.iter().any(|lv| lv.name == source) {
            return Err(missing("source", source));
        }
        if self.thin() {
            self.snapshot_lv(source, &name, source_gb)?;
        } else {
            let tmp = temp_name(&volume.id);
            if let Some(stale) = lvs.iter().find(|lv| lv.name == tmp) {
                self.clear_and_remove(stale)?;
            }
            self.create_lv(&tmp, volume.size_gb.max(source_gb))?;
            let input = format!("if={}", self.device_path(source).display());
            let output = format!("of={}", self.device_path(&tmp).display());
            let count = format!("count={}", source_gb.saturating_mul(1024));
            self.run(
                "dd",
                "copy a volume",
                &[
                    &input,
                    &output,
                    "bs=1M",
                    &count,
                    "iflag=direct",
                    "oflag=direct",
                    "conv=fdatasync",
                ],
            )?;
            self.run(
                "lvrename",
                "name a copied volume",
                &[&self.options.volume_group, &tmp, &name],
            )?;
        }
        match self.find(&name)? {
            Some(lv) => self.grow(&lv, volume.size_gb),
            None => Err(missing("volume", &name)),
        }
    }

    fn location(&self, name: &str) -> ModelUpdate {
        ModelUpdate {
            provider_location: Some(self.device_path(name).display().to_string()),
        }
    }
}

impl VolumeDriver for LvmDriver {
    fn name(&self) -> &'static str {
        "lvm"
    }

    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError> {
        let name = volume.id.backend_name();
        match self.find(&name)? {
            Some(lv) => self.grow(&lv, volume.size_gb)?,
            None => self.create_lv(&name, volume.size_gb)?,
        }
        Ok(self.location(&name))
    }

    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports.remove_then(volume.id, || {
            let name = volume.id.backend_name();
            let lvs = self.list()?;
            if let Some(lv) = lvs.iter().find(|lv| lv.name == name) {
                if lvs
                    .iter()
                    .any(|s| s.origin == name && s.is_thick_snapshot())
                {
                    return Err(DriverError::Busy(format!("{name} has snapshots")));
                }
                self.clear_and_remove(lv)?;
            }
            // What a crashed copy or clone of this volume left behind.
            let leftovers = [temp_name(&volume.id), clone_snapshot_name(&volume.id)];
            for stale in lvs.iter().filter(|lv| leftovers.contains(&lv.name)) {
                self.clear_and_remove(stale)?;
            }
            Ok(())
        })
    }

    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError> {
        let name = volume.id.backend_name();
        let lv = self.find(&name)?.ok_or_else(|| missing("volume", &name))?;
        self.grow(&lv, new_size_gb)?;
        self.exports.refresh(volume.id, &self.device_path(&name))
    }

    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError> {
        let name = snapshot_name(&snapshot.id);
        let origin = snapshot.volume.id.backend_name();
        let lvs = self.list()?;
        if !lvs.iter().any(|lv| lv.name == name) {
            let lv = lvs
                .iter()
                .find(|lv| lv.name == origin)
                .ok_or_else(|| missing("volume", &origin))?;
            // The store must hold every block of the volume as it is now.
            let size_gb = lv.bytes.div_ceil(GIB).max(snapshot.volume.size_gb);
            self.snapshot_lv(&origin, &name, size_gb)?;
        }
        Ok(self.location(&name))
    }

    fn delete_snapshot(&self, snapshot: &SnapshotRef) -> Result<(), DriverError> {
        match self.find(&snapshot_name(&snapshot.id))? {
            Some(lv) => self.clear_and_remove(&lv),
            None => Ok(()),
        }
    }

    fn create_volume_from_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<ModelUpdate, DriverError> {
        let source = snapshot_name(&snapshot.id);
        self.copy_into(volume, &source, snapshot.volume.size_gb)?;
        Ok(self.location(&volume.id.backend_name()))
    }

    fn create_cloned_volume(
        &self,
        volume: &VolumeRef,
        source: &VolumeRef,
    ) -> Result<ModelUpdate, DriverError> {
        let name = volume.id.backend_name();
        if self.thin() {
            self.copy_into(volume, &source.id.backend_name(), source.size_gb)?;
            return Ok(self.location(&name));
        }
        // Thick: copy from a snapshot, so the copy is of one instant even if the source
        // is written meanwhile; the snapshot goes once the copy has its name (a re-run
        // after a crash finds the copy complete and only removes the snapshot).
        let snap = clone_snapshot_name(&volume.id);
        let lvs = self.list()?;
        if !lvs.iter().any(|lv| lv.name == name || lv.name == snap) {
            self.snapshot_lv(&source.id.backend_name(), &snap, source.size_gb)?;
        }
        self.copy_into(volume, &snap, source.size_gb)?;
        if let Some(lv) = self.find(&snap)? {
            self.clear_and_remove(&lv)?;
        }
        Ok(self.location(&name))
    }

    fn revert_to_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<(), DriverError> {
        let name = volume.id.backend_name();
        let snap = snapshot_name(&snapshot.id);
        let lvs = self.list()?;
        let lv = lvs
            .iter()
            .find(|lv| lv.name == snap)
            .ok_or_else(|| missing("snapshot", &snap))?;
        if !lvs.iter().any(|lv| lv.name == name) {
            return Err(missing("volume", &name));
        }
        if self.exports.is_exported(volume.id)? {
            return Err(DriverError::Busy(format!("{name} is exported")));
        }
        let size_gb = lv.bytes.div_ceil(GIB).max(snapshot.volume.size_gb);
        let full = self.full_name(&name);
        self.run(
            "lvconvert",
            "merge a snapshot",
            &["--merge", &self.full_name(&snap)],
        )?;
        // The merge starts when the volume is next activated.
        for state in ["n", "y"] {
            self.run(
                "lvchange",
                "reactivate a volume",
                &["--activate", state, "--ignoreactivationskip", &full],
            )?;
        }
        // Merging consumed the snapshot; Cinder's users expect it to stay.
        self.snapshot_lv(&name, &snap, size_gb)
    }

    fn remove_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        self.exports.remove(volume.id)
    }

    fn ensure_export(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        let name = volume.id.backend_name();
        if self.find(&name)?.is_some() {
            self.exports.ensure(volume.id, &self.device_path(&name))?;
        }
        Ok(())
    }

    fn initialize_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let name = volume.id.backend_name();
        self.exports.connect(
            volume.id,
            &self.device_path(&name),
            connector,
            || match self.find(&name)? {
                Some(_) => Ok(()),
                None => Err(missing("volume", &name)),
            },
        )
    }

    fn terminate_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<(), DriverError> {
        self.exports.disconnect(volume.id, connector)
    }

    fn get_volume_stats(&self) -> Result<BackendStats, DriverError> {
        let o = &self.options;
        let numbers = |program: &'static str, args: &[&str]| -> Result<Vec<f64>, DriverError> {
            let out = self.run(program, "report capacity", args)?;
            parse_numbers(program, &out, 2)
        };
        let report = [
            "--noheadings",
            "--nosuffix",
            "--units",
            "g",
            "--separator",
            SEPARATOR,
        ];
        let (total, free, provisioned) = match &o.thin_pool {
            Some(pool) => {
                let full = self.full_name(pool);
                let mut args = report.to_vec();
                args.extend(["-o", "lv_size,data_percent", &full]);
                let n = numbers("lvs", &args)?;
                let (size, used_percent) = (n[0], n[1].min(100.0));
                let thin_bytes: u128 = self
                    .list()?
                    .iter()
                    .filter(|lv| &lv.pool == pool)
                    .map(|lv| u128::from(lv.bytes))
                    .sum();
                (
                    size,
                    size * (100.0 - used_percent) / 100.0,
                    bytes_to_gb(thin_bytes),
                )
            }
            None => {
                let mut args = report.to_vec();
                args.extend(["-o", "vg_size,vg_free", &o.volume_group]);
                let n = numbers("vgs", &args)?;
                // Thick LVs take their whole size at once: what is not free is provisioned.
                (n[0], n[1], (n[0] - n[1]).max(0.0))
            }
        };
        let mut capabilities = o.pool.capabilities.clone();
        capabilities
            .entry("volume_group".into())
            .or_insert_with(|| o.volume_group.clone().into());
        capabilities
            .entry("lvm_type".into())
            .or_insert_with(|| if self.thin() { "thin" } else { "thick" }.into());
        Ok(o.pool.stats(
            self.exports.storage_protocol(),
            (Capacity::Gb(total), Capacity::Gb(free)),
            provisioned,
            self.thin(),
            capabilities,
        ))
    }
}
