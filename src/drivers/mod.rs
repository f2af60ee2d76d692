//! Volume drivers: the only code that touches storage.
//!
//! The verbs and their meaning follow Cinder's `VolumeDriver`. Every verb is synchronous
//! (drivers shell out and do file I/O), so `VolumeActor` runs them on the blocking pool,
//! never on an arbiter thread. Every verb is idempotent: creating what exists and deleting
//! what is gone both succeed, so a step re-run after a crash is harmless.

mod backing;
mod command;
mod exports;
pub mod fake;
pub mod file;
mod fsutil;
pub mod lvm;
mod provisioned;
pub mod qcow2;
pub mod targets;
#[cfg(test)]
mod testutil;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::VolumeId;

/// What a driver needs to know about a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRef {
    /// The volume's id; backends name it `volume-<id>`.
    pub id: VolumeId,
    /// Size in GiB.
    pub size_gb: u64,
}

/// What a driver needs to know about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    /// The snapshot's id; backends name it `snapshot-<id>`.
    pub id: uuid::Uuid,
    /// The volume the snapshot was taken of.
    pub volume: VolumeRef,
}

/// Cinder's `connection_info`: how a consumer reaches an exported volume. It may hold
/// credentials, so its `Debug` blanks them: it can be logged, its JSON must not be.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// `iscsi`, `nbd`, `local`, ...
    pub driver_volume_type: String,
    /// The protocol's own keys (internals §8).
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// `data` keys whose values are secrets: CHAP credentials, the NBD export name (and the
/// URL holding it), which is all that guards an NBD export without TLS, and the NBD
/// TLS pre-shared key. (Idempotent replays leave them out too.)
pub(crate) const SECRET_KEYS: &[&str] = &[
    "auth_username",
    "auth_password",
    "discovery_auth_username",
    "discovery_auth_password",
    "export_name",
    "url",
    "tls_psk_key",
];

impl fmt::Debug for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data: BTreeMap<&str, &dyn fmt::Debug> = self
            .data
            .iter()
            .map(|(k, v)| {
                let shown: &dyn fmt::Debug = match SECRET_KEYS.contains(&k.as_str()) {
                    true => &"<redacted>",
                    false => v,
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("ConnectionInfo")
            .field("driver_volume_type", &self.driver_volume_type)
            .field("data", &data)
            .finish()
    }
}

/// How a volume's bytes are laid out in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ImageFormat {
    /// The file is the disk, byte for byte.
    Raw,
    /// A qcow2 image; only qemu's tools can read it.
    Qcow2,
}

impl ImageFormat {
    /// The name `qemu-img -f` and Cinder's `format` keys use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Fields a driver asks the manager to store on the volume row (Cinder's "model update").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUpdate {
    /// Where the backend keeps the volume (a path, an LV, a target location).
    pub provider_location: Option<String>,
}

/// A capacity figure as Cinder drivers report it: a number of GiB, or one of the words
/// `infinite` / `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Capacity {
    /// A known number of GiB.
    Gb(f64),
    /// `"infinite"` or `"unknown"`.
    Word(CapacityWord),
}

/// The two words a driver may report instead of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CapacityWord {
    /// No limit.
    Infinite,
    /// The backend cannot tell.
    Unknown,
}

impl Capacity {
    /// The number of GiB, or `None` for `infinite`/`unknown`.
    pub fn gb(self) -> Option<f64> {
        match self {
            Capacity::Gb(g) => Some(g),
            Capacity::Word(_) => None,
        }
    }
}

/// `max_over_subscription_ratio`: a number, or `auto` (Cinder computes it from usage).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OverSubscription {
    /// A fixed ratio.
    Ratio(f64),
    /// The word `auto`.
    Auto(AutoWord),
}

/// The word `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    /// Derive the ratio from provisioned and used space.
    Auto,
}

/// How a single-pool driver (file, qcow2, LVM) names and describes its pool in the
/// stats; the node's config sets it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOptions {
    /// `volume_backend_name` in the stats.
    pub volume_backend_name: String,
    /// The pool's name.
    pub pool_name: String,
    /// Reported `reserved_percentage`.
    pub reserved_percentage: u8,
    /// Reported `max_over_subscription_ratio`.
    pub max_over_subscription_ratio: OverSubscription,
    /// Extra pool capabilities, matched against volume-type extra specs.
    pub capabilities: BTreeMap<String, serde_json::Value>,
}

impl PoolOptions {
    /// Backend and pool both called `name`, nothing reserved, over-subscription 20, no
    /// extra capabilities.
    pub fn named(name: &str) -> Self {
        Self {
            volume_backend_name: name.to_string(),
            pool_name: name.to_string(),
            reserved_percentage: 0,
            max_over_subscription_ratio: OverSubscription::Ratio(20.0),
            capabilities: BTreeMap::new(),
        }
    }

    /// The stats of a driver made by Clinker with this one pool: `total` and `free`
    /// capacity, `provisioned` GiB, thin or thick, and its capabilities (these options'
    /// own, or more).
    pub(crate) fn stats(
        &self,
        storage_protocol: &str,
        capacity: (Capacity, Capacity),
        provisioned_capacity_gb: f64,
        thin: bool,
        capabilities: BTreeMap<String, serde_json::Value>,
    ) -> BackendStats {
        let (total_capacity_gb, free_capacity_gb) = capacity;
        BackendStats {
            volume_backend_name: self.volume_backend_name.clone(),
            vendor_name: "Clinker".to_string(),
            driver_version: "1.0".to_string(),
            storage_protocol: storage_protocol.to_string(),
            pools: vec![PoolStats {
                pool_name: self.pool_name.clone(),
                total_capacity_gb,
                free_capacity_gb,
                allocated_capacity_gb: 0.0,
                provisioned_capacity_gb,
                reserved_percentage: self.reserved_percentage,
                max_over_subscription_ratio: self.max_over_subscription_ratio,
                thin_provisioning_support: thin,
                thick_provisioning_support: !thin,
                capabilities,
            }],
        }
    }
}

/// One pool as the driver sees it (cinder-internals.md §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStats {
    /// The pool's name, the part after `#` in `node@backend#pool`.
    pub pool_name: String,
    /// Total size of the pool.
    pub total_capacity_gb: Capacity,
    /// Space not yet written.
    pub free_capacity_gb: Capacity,
    /// Sum of the sizes of the volumes placed here; the manager fills it in.
    pub allocated_capacity_gb: f64,
    /// Sum of the virtual sizes of everything on the pool.
    pub provisioned_capacity_gb: f64,
    /// Percentage of the total kept back from new volumes.
    pub reserved_percentage: u8,
    /// How far thin volumes may over-commit the pool.
    pub max_over_subscription_ratio: OverSubscription,
    /// The pool can hold thin volumes.
    pub thin_provisioning_support: bool,
    /// The pool can hold thick volumes.
    pub thick_provisioning_support: bool,
    /// Anything else the pool reports; matched against volume-type extra specs.
    pub capabilities: BTreeMap<String, serde_json::Value>,
}

/// What `get_volume_stats` returns: the backend's own keys and its pools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendStats {
    /// `volume_backend_name`, the `backend` part of `node@backend#pool`.
    pub volume_backend_name: String,
    /// Who made the driver.
    pub vendor_name: String,
    /// The driver's version.
    pub driver_version: String,
    /// How consumers reach the volumes (`iSCSI`, `NBD`, `local`...).
    pub storage_protocol: String,
    /// One entry per pool.
    pub pools: Vec<PoolStats>,
}

/// What a backing object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackingKind {
    /// A volume's storage.
    Volume,
    /// A snapshot's storage.
    Snapshot,
}

/// One object on the backend, as [`VolumeDriver::list_backing`] reports it, so the node
/// can compare its backend with the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingObject {
    /// Volume or snapshot.
    pub kind: BackingKind,
    /// The id in its name (`volume-<id>`, `snapshot-<id>`).
    pub id: uuid::Uuid,
    /// The backend's own name for it (a file name, an LV name).
    pub name: String,
    /// Its size in bytes (a volume's apparent or virtual size).
    pub size_bytes: u64,
    /// When it last changed: a create may still be writing a young object.
    pub modified: std::time::SystemTime,
    /// A work file of an unfinished create (the object under its final name is never
    /// half-made).
    pub temporary: bool,
    /// The volume has an export (consumers may reach it).
    pub exported: bool,
}

/// Why a driver call failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The backend has no room for the request.
    #[error("not enough space on the backend: {0}")]
    NoSpace(String),
    /// The volume exists but something holds it (snapshots, an export).
    #[error("volume is busy: {0}")]
    Busy(String),
    /// This driver does not implement the verb.
    #[error("the {driver} driver does not support {verb}")]
    NotSupported {
        /// The driver's name.
        driver: &'static str,
        /// The verb that was called.
        verb: &'static str,
    },
    /// A failure injected by a test through the fake driver.
    #[error("injected failure in {0}")]
    Injected(&'static str),
    /// An image failed the safety check run before Clinker opens it (CVE-2024-32498):
    /// wrong format, a backing file or an external data file.
    #[error("refusing image {path}: {reason}")]
    UnsafeImage {
        /// The image.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connector lacks something the export protocol needs (Cinder's
    /// `InvalidConnectorException`).
    #[error("invalid connector: {0}")]
    InvalidConnector(String),
    /// The driver or target was configured with values it cannot use.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A storage tool failed. The message never holds the tool's arguments, which may
    /// carry secrets.
    #[error("{program} failed to {action}: {detail}")]
    Command {
        /// The program run (`qemu-img`, `tgtadm`, ...).
        program: &'static str,
        /// What it was asked to do.
        action: String,
        /// Its error output and exit status.
        detail: String,
    },
    /// The operating system refused an operation.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// The verbs every driver offers. Names follow Cinder's driver API.
pub trait VolumeDriver: Send + Sync + fmt::Debug {
    /// The driver's name as it appears in config (`fake`, `file`, ...).
    fn name(&self) -> &'static str;

    /// Make the backing storage for a new, empty volume. Must zero-fill from the
    /// volume's point of view, and must succeed if the volume already exists with that size.
    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError>;

    /// Remove the backing storage. A volume that is already gone is a success.
    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError>;

    /// Grow the volume to `new_size_gb`. A volume already that big is a success.
    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError>;

    /// Take a point-in-time copy of a volume.
    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError>;

    /// Remove a snapshot. One that is already gone is a success.
    fn delete_snapshot(&self, snapshot: &SnapshotRef) -> Result<(), DriverError>;

    /// Make a new volume holding the snapshot's data (grown to `volume.size_gb`).
    fn create_volume_from_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<ModelUpdate, DriverError>;

    /// Put the volume back to the snapshot's content (the snapshot stays).
    fn revert_to_snapshot(
        &self,
        _volume: &VolumeRef,
        _snapshot: &SnapshotRef,
    ) -> Result<(), DriverError> {
        Err(DriverError::NotSupported {
            driver: self.name(),
            verb: "revert_to_snapshot",
        })
    }

    /// Export the volume to the consumer described by `connector` (os-brick's dict).
    fn initialize_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError>;

    /// Undo `initialize_connection` for that connector. Unknown connectors are a success.
    fn terminate_connection(
        &self,
        volume: &VolumeRef,
        connector: &serde_json::Value,
    ) -> Result<(), DriverError>;

    /// Report capacity and capabilities; called at start, after each change and
    /// periodically.
    fn get_volume_stats(&self) -> Result<BackendStats, DriverError>;

    /// Make a new volume holding a copy of `source`'s current data (grown to
    /// `volume.size_gb`). Cinder's `create_cloned_volume`.
    fn create_cloned_volume(
        &self,
        _volume: &VolumeRef,
        _source: &VolumeRef,
    ) -> Result<ModelUpdate, DriverError> {
        Err(DriverError::NotSupported {
            driver: self.name(),
            verb: "create_cloned_volume",
        })
    }

    /// Every volume and snapshot object on the backend, work files of unfinished
    /// creates included. Drivers that cannot list say `NotSupported`, and the node then
    /// skips the comparison with the database.
    fn list_backing(&self) -> Result<Vec<BackingObject>, DriverError> {
        Err(DriverError::NotSupported {
            driver: self.name(),
            verb: "list_backing",
        })
    }

    /// Remove one object [`VolumeDriver::list_backing`] reported (an orphan: no row
    /// names it). Gone is a success.
    fn remove_backing(&self, _object: &BackingObject) -> Result<(), DriverError> {
        Err(DriverError::NotSupported {
            driver: self.name(),
            verb: "remove_backing",
        })
    }

    /// Tear down the volume's export, whoever uses it (no attachment holds the volume
    /// any more). A volume without an export is a success.
    fn remove_export(&self, _volume: &VolumeRef) -> Result<(), DriverError> {
        Ok(())
    }

    /// Re-create the volume's export if it had one (after a node or target-daemon
    /// restart); a volume without an export is left alone. Run when the node starts.
    fn ensure_export(&self, _volume: &VolumeRef) -> Result<(), DriverError> {
        Ok(())
    }
}
