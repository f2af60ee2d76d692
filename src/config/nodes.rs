//! The storage nodes (`[[nodes]]`): each node's driver and its checked `driver_options`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Config;

/// One storage node (`[[nodes]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique name; the `node` in `node@backend#pool`.
    pub name: String,
    /// Availability zone. Default: `default_availability_zone`.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// The driver.
    pub driver: DriverKind,
    /// `volume_backend_name`. Default: the driver's name.
    #[serde(default)]
    pub backend_name: Option<String>,
    /// Thin pools may over-commit; thick ones may not. Default thin.
    #[serde(default)]
    pub provisioning: Provisioning,
    /// How far thin volumes may over-commit. Default 20.0.
    #[serde(default = "default_ratio")]
    pub max_over_subscription_ratio: f64,
    /// Percentage of the pool kept back. Default 0.
    #[serde(default)]
    pub reserved_percentage: u8,
    /// Free-form capabilities matched against volume-type extra specs.
    #[serde(default)]
    pub capabilities: BTreeMap<String, serde_json::Value>,
    /// Options of the driver (see [`FileOptions`], [`FakeOptions`]).
    #[serde(default)]
    pub driver_options: toml::Table,
}

pub(super) fn default_ratio() -> f64 {
    20.0
}

/// The drivers Clinker has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DriverKind {
    /// In memory, for tests and benchmarks only.
    Fake,
    /// One sparse raw file per volume.
    File,
    /// One qcow2 image per volume, through `qemu-img`.
    Qcow2,
    /// One logical volume per volume, through the lvm2 tools.
    Lvm,
}

impl DriverKind {
    /// The name used in config and as the default backend name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Thin or thick provisioning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provisioning {
    /// Space is taken as it is written; the pool may be over-committed.
    #[default]
    Thin,
    /// Space is taken up front.
    Thick,
}

/// `driver_options` of a `file` or `qcow2` node: `path` and the [`ExportOptions`] keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileOptions {
    /// Directory holding the volume files; a relative path is taken under `data_dir`.
    pub path: PathBuf,
    /// How volumes are exported.
    #[serde(skip)]
    pub export: ExportOptions,
}

/// The `driver_options` keys choosing and tuning a node's export helper; shared by the
/// `file`, `qcow2` and `lvm` drivers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportOptions {
    /// How volumes are exported: `local` (the path, for consumers on this host;
    /// default), `tgt` (iSCSI with CHAP through tgtd; raw images only) or `nbd`
    /// (qemu-nbd on TCP with an unguessable export name).
    #[serde(default)]
    pub target: TargetKind,
    /// iSCSI portal address given to consumers. Default `127.0.0.1`.
    #[serde(default)]
    pub target_ip_address: Option<String>,
    /// iSCSI portal port. Default 3260.
    #[serde(default)]
    pub target_port: Option<u16>,
    /// Address the NBD servers listen on. Default `127.0.0.1`.
    #[serde(default)]
    pub nbd_listen_address: Option<String>,
    /// First and last port of the NBD servers. Default 10809 and 10999.
    #[serde(default)]
    pub nbd_port_min: Option<u16>,
    /// See `nbd_port_min`.
    #[serde(default)]
    pub nbd_port_max: Option<u16>,
    /// Require TLS on NBD exports, each with its own pre-shared key handed to the
    /// attaching caller. Default false.
    #[serde(default)]
    pub nbd_tls_psk: bool,
}

/// `driver_options` of an `lvm` node: these keys and the [`ExportOptions`] keys. Names
/// and meanings follow Cinder's LVM driver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LvmOptions {
    /// The volume group holding the volumes (it must exist). Cinder's default is
    /// `cinder-volumes`; here it must be named.
    pub volume_group: String,
    /// `thick` (default: plain LVs, copy-on-write snapshots) or `thin` (thin LVs in
    /// `thin_pool`, thin snapshots and instant clones).
    #[serde(default)]
    pub lvm_type: LvmType,
    /// The thin pool LV, created (95% of the free space) if missing. Default
    /// `<volume_group>-pool`, as Cinder names it.
    #[serde(default)]
    pub thin_pool: Option<String>,
    /// How a thick volume is wiped before its LV is removed: `zero` (default; every
    /// byte, so a later volume on the same extents reads zeros) or `none`. Thin LVs
    /// need no wipe: the pool hands out zeroed blocks.
    #[serde(default)]
    pub volume_clear: VolumeClear,
    /// How volumes are exported.
    #[serde(skip)]
    pub export: ExportOptions,
}

/// `lvm_type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LvmType {
    /// Plain (fully allocated) LVs.
    #[default]
    Thick,
    /// Thin LVs in a thin pool.
    Thin,
}

/// `volume_clear`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeClear {
    /// Overwrite with zeros.
    #[default]
    Zero,
    /// Leave the data (faster; a later volume may see it).
    None,
}

/// How a node exports its volumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The volume's path, for consumers on the same host.
    #[default]
    Local,
    /// iSCSI through tgtd, with CHAP.
    Tgt,
    /// NBD through qemu-nbd.
    Nbd,
}

/// `driver_options` of a `fake` node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FakeOptions {
    /// Pretend size of the pool in GiB. Default 1,000,000.
    pub total_capacity_gb: f64,
    /// Driver verbs made to fail (tests of failure handling): `create_volume`,
    /// `delete_volume`, `extend_volume`, `create_snapshot`, `delete_snapshot`,
    /// `create_volume_from_snapshot`, `revert_to_snapshot`, `initialize_connection`,
    /// `terminate_connection`, `get_volume_stats`. Default none.
    pub fail: Vec<String>,
    /// Each verb in `fail` fails every `fail_every`-th call (1: every call). Default 1.
    pub fail_every: u32,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            total_capacity_gb: 1_000_000.0,
            fail: Vec::new(),
            fail_every: 1,
        }
    }
}

impl FakeOptions {
    /// The verbs of `fail`, or the first name that is no verb.
    pub fn failing_verbs(&self) -> Result<Vec<crate::drivers::fake::FakeVerb>, String> {
        self.fail
            .iter()
            .map(|name| {
                crate::drivers::fake::FakeVerb::parse(name)
                    .ok_or_else(|| format!("fail: unknown driver verb '{name}'"))
            })
            .collect()
    }
}

/// A node with its driver options checked.
#[derive(Debug, Clone)]
pub enum NodeDriver {
    /// See [`FakeOptions`].
    Fake(FakeOptions),
    /// See [`FileOptions`].
    File(FileOptions),
    /// See [`FileOptions`].
    Qcow2(FileOptions),
    /// See [`LvmOptions`].
    Lvm(LvmOptions),
}

impl NodeConfig {
    /// The node's zone, falling back to the configured default.
    pub fn zone<'a>(&'a self, config: &'a Config) -> &'a str {
        self.availability_zone
            .as_deref()
            .unwrap_or(&config.default_availability_zone)
    }

    /// `volume_backend_name`.
    pub fn backend_name(&self) -> &str {
        self.backend_name.as_deref().unwrap_or(self.driver.as_str())
    }

    /// Parses `driver_options` for this node's driver, resolves relative paths under
    /// `data_dir`, and checks any directory in them.
    pub fn checked_driver(&self, data_dir: &Path) -> Result<NodeDriver, String> {
        let table = toml::Value::Table(self.driver_options.clone());
        match self.driver {
            DriverKind::Fake => {
                let options = table
                    .try_into::<FakeOptions>()
                    .map_err(|e| e.to_string().trim_end().to_string())?;
                options.failing_verbs()?;
                Ok(NodeDriver::Fake(options))
            }
            DriverKind::File | DriverKind::Qcow2 => {
                let (mut options, export) =
                    split_options::<FileOptions>(&self.driver_options, &["path"])?;
                options.export = export;
                if options.path.is_relative() {
                    options.path = data_dir.join(&options.path);
                }
                check_writable_dir(&options.path).map_err(|m| format!("path: {m}"))?;
                if self.driver == DriverKind::Qcow2 {
                    if options.export.target == TargetKind::Tgt {
                        return Err(
                            "target: tgt serves raw files only; use nbd or local with qcow2".into(),
                        );
                    }
                    Ok(NodeDriver::Qcow2(options))
                } else {
                    Ok(NodeDriver::File(options))
                }
            }
            DriverKind::Lvm => {
                let own = ["volume_group", "lvm_type", "thin_pool", "volume_clear"];
                let (mut options, export) =
                    split_options::<LvmOptions>(&self.driver_options, &own)?;
                options.export = export;
                check_lvm_name("volume_group", &options.volume_group)?;
                if let Some(pool) = &options.thin_pool {
                    check_lvm_name("thin_pool", pool)?;
                    if options.lvm_type != LvmType::Thin {
                        return Err("thin_pool: only used with lvm_type = \"thin\"".into());
                    }
                }
                Ok(NodeDriver::Lvm(options))
            }
        }
    }
}

/// Parses a driver's own `own` keys of `table` as `T` and every other key as the
/// [`ExportOptions`], so an unknown key is refused by the export keys' check.
fn split_options<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
    own: &[&str],
) -> Result<(T, ExportOptions), String> {
    let (mine, rest): (toml::Table, toml::Table) = table
        .clone()
        .into_iter()
        .partition(|(k, _)| own.contains(&k.as_str()));
    let text = |e: toml::de::Error| e.to_string().trim_end().to_string();
    let options = toml::Value::Table(mine).try_into::<T>().map_err(text)?;
    let export = toml::Value::Table(rest)
        .try_into::<ExportOptions>()
        .map_err(text)?;
    Ok((options, export))
}

/// Refuses a volume group or LV name LVM would refuse (or that could be taken for an
/// option): 1 to 127 of `a-z A-Z 0-9 + _ . -`, not starting with `-`, not `.` or `..`.
fn check_lvm_name(key: &str, name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() < 128
        && !name.starts_with('-')
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{key}: '{name}' is not a valid LVM name (letters, digits, '+', '_', '.', '-'; \
             not starting with '-')"
        ))
    }
}

/// Creates `dir` if needed and proves it can hold files.
fn check_writable_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {shown}: {e}"))?;
    let probe = dir.join(format!(".clinker-probe-{}", std::process::id()));
    fs::write(&probe, b"").map_err(|e| format!("directory {shown} is not writable: {e}"))?;
    fs::remove_file(&probe).map_err(|e| format!("directory {shown}: {e}"))?;
    Ok(())
}
