//! Configuration: defaults, then the TOML file, then command-line flags, then environment.
//!
//! Environment variables (they override the file and the flags):
//! - `CLINKER_CONFIG`: path of the TOML file.
//! - `CLINKER_LISTEN`: address to listen on (default `127.0.0.1:8776`).
//! - `CLINKER_DATA_DIR`: data directory (default `./clinker-data`).
//! - `CLINKER_DATABASE_URL`: `postgres://...` or a SQLite path (default
//!   `<data_dir>/clinker.db`). Never logged.
//! - `CLINKER_LOG_FORMAT`: `text` (default) or `json`.
//! - `CLINKER_METRICS_TOKEN`: a bearer token that may read `/metrics` on the API's port
//!   (default none: admins only). Never logged.
//! - `RUST_LOG`: the tracing filter (default `info`).
//!
//! Every key is checked: an unknown key, an unknown driver, a duplicate node name or an
//! unusable directory stops start-up with a message naming the file and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything Clinker reads at start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the API listens on. Default `127.0.0.1:8776`; env `CLINKER_LISTEN`.
    pub listen: String,
    /// Where the default node keeps volumes and the default SQLite database lives.
    /// Default `./clinker-data`; env `CLINKER_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` or a SQLite file path. Default `<data_dir>/clinker.db`;
    /// env `CLINKER_DATABASE_URL`.
    pub database_url: Option<String>,
    /// Database connections (and threads running queries). Default 8.
    pub database_pool_size: u32,
    /// `text` or `json` log lines. Default `text`; env `CLINKER_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// noauth users who are admins. Default `["admin"]`.
    pub admin_users: Vec<String>,
    /// The zone given to volumes created without one (Cinder's
    /// `storage_availability_zone`). Default `nova`.
    pub default_availability_zone: String,
    /// Name of the type used when a create names none. Default `__DEFAULT__`.
    pub default_volume_type: String,
    /// Largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// The largest page a list answers (Cinder's `osapi_max_limit`); a larger `limit` is
    /// clamped to it. Default 1000.
    pub osapi_max_limit: i64,
    /// The most metadata items one volume or snapshot may hold, and the most extra specs
    /// of a type or specs of a QoS entry. Default 128.
    pub max_metadata_items: usize,
    /// PostgreSQL only: a statement running longer is cancelled (`statement_timeout`),
    /// so a request whose client has gone cannot hold a connection for long. 0: no
    /// limit. Default 30000.
    pub database_statement_timeout_ms: u64,
    /// Seconds a client has to send a request's whole body; a body still incomplete then
    /// is answered 408 and the connection closed. Default 30.
    pub body_timeout_seconds: u64,
    /// Bytes of request bodies held in memory at once, all requests together; a body
    /// that would go past it is answered 503. Default 64 MiB.
    pub max_buffered_body_bytes: usize,
    /// Where and to whom `/metrics` is served.
    pub metrics: MetricsConfig,
    /// Quota defaults for every project.
    pub quota: QuotaConfig,
    /// Scheduler settings.
    pub scheduler: SchedulerConfig,
    /// How nodes compare their backend with the database.
    pub reconcile: ReconcileConfig,
    /// The storage nodes. None configured: one `file` node under `<data_dir>/volumes`.
    pub nodes: Vec<NodeConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8776".into(),
            data_dir: PathBuf::from("./clinker-data"),
            database_url: None,
            database_pool_size: 8,
            log_format: LogFormat::Text,
            admin_users: vec!["admin".into()],
            default_availability_zone: "nova".into(),
            default_volume_type: "__DEFAULT__".into(),
            max_body_bytes: 1024 * 1024,
            osapi_max_limit: 1000,
            max_metadata_items: 128,
            database_statement_timeout_ms: 30_000,
            body_timeout_seconds: 30,
            max_buffered_body_bytes: 64 * 1024 * 1024,
            metrics: MetricsConfig::default(),
            quota: QuotaConfig::default(),
            scheduler: SchedulerConfig::default(),
            reconcile: ReconcileConfig::default(),
            nodes: Vec::new(),
        }
    }
}

/// `/metrics` shows node names and pool capacity, which members cannot read through the
/// API. So by default it is served on the API's port to admins only; `listen` moves it
/// to an address of its own (and off the API's port) for a scraper without a token, and
/// `CLINKER_METRICS_TOKEN` lets a scraper in on the API's port with
/// `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// An address of its own, e.g. `127.0.0.1:9776`, serving `/metrics` to anyone who can
    /// connect (so keep it on loopback or a management network). Default none.
    pub listen: Option<String>,
    /// The bearer token, from env `CLINKER_METRICS_TOKEN` only (a secret: never in the
    /// file, never serialized). Default none.
    #[serde(skip)]
    pub token: Option<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Per-project quota defaults (Cinder's `quota_*` options). -1 means unlimited.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// Volumes per project. Default 10.
    pub volumes: i64,
    /// GiB of volumes and snapshots per project. Default 1000.
    pub gigabytes: i64,
    /// Snapshots per project. Default 10.
    pub snapshots: i64,
    /// Largest single volume in GiB. Default -1.
    pub per_volume_gigabytes: i64,
    /// Seconds after which an uncommitted reservation is released. Default 86400.
    pub reservation_expire_seconds: i64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            volumes: 10,
            gigabytes: 1000,
            snapshots: 10,
            per_volume_gigabytes: -1,
            reservation_expire_seconds: 86_400,
        }
    }
}

/// Scheduler settings (Cinder's `scheduler_*` options).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Nodes tried for one volume before it goes to `error`. Default 3.
    pub max_attempts: u32,
    /// Positive spreads volumes over the emptiest pools; negative stacks them. Default 1.0.
    pub capacity_weight_multiplier: f64,
    /// Seconds between the nodes' periodic capacity reports. Default 10.
    pub stats_interval_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            capacity_weight_multiplier: 1.0,
            stats_interval_seconds: 10,
        }
    }
}

/// How each node compares its backend with the database (`[reconcile]`): at start,
/// and then every `interval_seconds`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    /// A backing object no row names is removed once it is this old (younger ones may
    /// belong to a create still in flight). Default 600.
    pub orphan_grace_seconds: u64,
    /// Seconds between periodic comparisons; 0 turns them off (the one at start
    /// stays). Default 600.
    pub interval_seconds: u64,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            orphan_grace_seconds: 600,
            interval_seconds: 600,
        }
    }
}

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

fn default_ratio() -> f64 {
    20.0
}

/// The drivers Clinker has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
        match self {
            DriverKind::Fake => "fake",
            DriverKind::File => "file",
            DriverKind::Qcow2 => "qcow2",
            DriverKind::Lvm => "lvm",
        }
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

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid, or names an unknown key or value.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file (or `<defaults>`).
        path: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// Flags given on the command line; `None` leaves the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the file (if any), applies flags, then the environment, and checks the
    /// result. `env` is passed in so tests need not touch the process environment.
    pub fn load(
        file: Option<&Path>,
        flags: Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = env("CLINKER_CONFIG")
            .map(PathBuf::from)
            .or(file.map(Path::to_path_buf));
        let source = file
            .as_ref()
            .map_or_else(|| "<defaults>".to_string(), |p| p.display().to_string());
        let mut config = match &file {
            Some(path) => {
                let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: source_name(path),
                    source,
                })?;
                toml::from_str::<Config>(&text).map_err(|e| ConfigError::Invalid {
                    path: source.clone(),
                    message: e.to_string().trim_end().to_string(),
                })?
            }
            None => Config::default(),
        };
        config.listen = flags.listen.unwrap_or(config.listen);
        config.data_dir = flags.data_dir.unwrap_or(config.data_dir);
        config.database_url = flags.database_url.or(config.database_url);
        if let Some(v) = env("CLINKER_LISTEN") {
            config.listen = v;
        }
        if let Some(v) = env("CLINKER_DATA_DIR") {
            config.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("CLINKER_DATABASE_URL") {
            config.database_url = Some(v);
        }
        config.metrics.token = env("CLINKER_METRICS_TOKEN");
        if let Some(v) = env("CLINKER_LOG_FORMAT") {
            config.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => {
                    return Err(ConfigError::Invalid {
                        path: "CLINKER_LOG_FORMAT".into(),
                        message: format!("log format '{other}' is not 'text' or 'json'"),
                    });
                }
            };
        }
        if config.nodes.is_empty() {
            config.nodes.push(config.default_node());
        }
        config.check(&source)?;
        Ok(config)
    }

    /// The node used when none is configured: a file node under `<data_dir>/volumes`.
    fn default_node(&self) -> NodeConfig {
        let mut options = toml::Table::new();
        options.insert("path".into(), toml::Value::String("volumes".into()));
        NodeConfig {
            name: "local".into(),
            availability_zone: None,
            driver: DriverKind::File,
            backend_name: None,
            provisioning: Provisioning::Thin,
            max_over_subscription_ratio: default_ratio(),
            reserved_percentage: 0,
            capabilities: BTreeMap::new(),
            driver_options: options,
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.data_dir.join("clinker.db").display().to_string())
    }

    fn check(&self, source: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: source.to_string(),
            message,
        };
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(format!(
                "listen: '{}' is not an ADDRESS:PORT",
                self.listen
            )));
        }
        if let Some(addr) = &self.metrics.listen
            && (addr.parse::<std::net::SocketAddr>().is_err() || *addr == self.listen)
        {
            return Err(invalid(format!(
                "metrics.listen: '{addr}' is not an ADDRESS:PORT other than listen"
            )));
        }
        if self.body_timeout_seconds == 0 || self.max_buffered_body_bytes < self.max_body_bytes {
            return Err(invalid(
                "body_timeout_seconds must be at least 1 and max_buffered_body_bytes at least \
                 max_body_bytes"
                    .into(),
            ));
        }
        if self.database_pool_size == 0 {
            return Err(invalid("database_pool_size: must be at least 1".into()));
        }
        if self.osapi_max_limit < 1 {
            return Err(invalid("osapi_max_limit: must be at least 1".into()));
        }
        if self.scheduler.max_attempts == 0 {
            return Err(invalid("scheduler.max_attempts: must be at least 1".into()));
        }
        let mut names = BTreeSet::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let key = format!("nodes[{i}]");
            if node.name.is_empty()
                || !node
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(format!(
                    "{key}.name: '{}' must be non-empty letters, digits, '-', '_' or '.'",
                    node.name
                )));
            }
            if !names.insert(node.name.as_str()) {
                return Err(invalid(format!(
                    "{key}.name: duplicate node name '{}'",
                    node.name
                )));
            }
            if node.reserved_percentage > 100 {
                return Err(invalid(format!(
                    "{key}.reserved_percentage: {} is over 100",
                    node.reserved_percentage
                )));
            }
            if node.max_over_subscription_ratio.is_nan() || node.max_over_subscription_ratio < 1.0 {
                return Err(invalid(format!(
                    "{key}.max_over_subscription_ratio: must be at least 1.0"
                )));
            }
            node.checked_driver(&self.data_dir)
                .map_err(|m| invalid(format!("{key}.driver_options: {m}")))?;
        }
        Ok(())
    }

    /// The scheduler's weigher tuning.
    pub fn scheduler_tuning(&self) -> crate::scheduler::SchedulerTuning {
        crate::scheduler::SchedulerTuning {
            capacity_weight_multiplier: self.scheduler.capacity_weight_multiplier,
        }
    }
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

fn source_name(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().map_err(|source| ConfigError::Read {
            path: "tempdir".into(),
            source,
        })?;
        let path = dir.path().join("clinker.toml");
        let text = text.replace("@DIR@", &dir.path().display().to_string());
        fs::write(&path, text).map_err(|source| ConfigError::Read {
            path: "tempfile".into(),
            source,
        })?;
        Config::load(Some(&path), Overrides::default(), &no_env)
    }

    #[test]
    fn no_file_gives_one_file_node_under_the_data_dir() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let flags = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        };
        let config = Config::load(None, flags, &no_env)?;
        assert_eq!(config.listen, "127.0.0.1:8776");
        assert_eq!(config.nodes.len(), 1);
        assert_eq!(config.nodes[0].driver, DriverKind::File);
        assert_eq!(config.nodes[0].zone(&config), "nova");
        assert!(dir.path().join("volumes").is_dir());
        assert_eq!(
            config.database_url(),
            dir.path().join("clinker.db").display().to_string()
        );
        Ok(())
    }

    #[test]
    fn env_overrides_flags_which_override_the_file() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\n",
                dir.path().display()
            ),
        )?;
        let flags = Overrides {
            listen: Some("127.0.0.1:2".into()),
            ..Overrides::default()
        };
        assert_eq!(
            Config::load(Some(&path), flags.clone(), &no_env)?.listen,
            "127.0.0.1:2"
        );
        let env = |k: &str| (k == "CLINKER_LISTEN").then(|| "127.0.0.1:3".to_string());
        assert_eq!(
            Config::load(Some(&path), flags, &env)?.listen,
            "127.0.0.1:3"
        );
        Ok(())
    }

    #[test]
    fn the_metrics_token_comes_from_the_environment_only() -> Result<(), Box<dyn std::error::Error>>
    {
        assert!(load_text("data_dir = \"@DIR@\"\n[metrics]\ntoken = \"s\"\n").is_err());
        let dir = tempfile::tempdir()?;
        let flags = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        };
        let env = |k: &str| (k == "CLINKER_METRICS_TOKEN").then(|| "s3cret".to_string());
        let config = Config::load(None, flags, &env)?;
        assert_eq!(config.metrics.token.as_deref(), Some("s3cret"));
        assert!(!toml::to_string(&config)?.contains("s3cret"));
        for bad in [
            "data_dir = \"@DIR@\"\n[metrics]\nlisten = \"nowhere\"\n",
            "data_dir = \"@DIR@\"\nlisten = \"127.0.0.1:9\"\n[metrics]\nlisten = \"127.0.0.1:9\"\n",
            "data_dir = \"@DIR@\"\nbody_timeout_seconds = 0\n",
            "data_dir = \"@DIR@\"\nmax_buffered_body_bytes = 10\n",
        ] {
            assert!(load_text(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn unknown_key_is_named_with_the_file() {
        let err = load_text("listne = \"127.0.0.1:1\"\n")
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("clinker.toml"), "{err}");
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn unknown_driver_and_driver_option_are_refused() {
        let err = load_text("[[nodes]]\nname = \"a\"\ndriver = \"ceph\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("ceph") && err.contains("clinker.toml"),
            "{err}"
        );
        let err = load_text(
            "[[nodes]]\nname = \"a\"\ndriver = \"file\"\n[nodes.driver_options]\npath = \"@DIR@/v\"\nsize = 3\n",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("nodes[0].driver_options") && err.contains("size"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_node_names_are_refused() {
        let node = "[[nodes]]\nname = \"a\"\ndriver = \"fake\"\n";
        let err = load_text(&format!("{node}{node}"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("nodes[1].name") && err.contains("duplicate"),
            "{err}"
        );
    }

    #[test]
    fn unusable_directory_is_refused() {
        let err = load_text(
            "[[nodes]]\nname = \"a\"\ndriver = \"file\"\n[nodes.driver_options]\npath = \"/proc/clinker-no\"\n",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("nodes[0].driver_options: path"), "{err}");
    }

    #[test]
    fn lvm_options_are_checked() -> Result<(), Box<dyn std::error::Error>> {
        let node = "[[nodes]]\nname = \"a\"\ndriver = \"lvm\"\n[nodes.driver_options]\n";
        let refused = |options: &str| {
            load_text(&format!("{node}{options}"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let err = refused("lvm_type = \"thick\"\n");
        assert!(err.contains("volume_group"), "{err}");
        let err = refused("volume_group = \"-vg\"\n");
        assert!(err.contains("not a valid LVM name"), "{err}");
        let err = refused("volume_group = \"vg\"\nlvm_type = \"fat\"\n");
        assert!(err.contains("fat"), "{err}");
        let err = refused("volume_group = \"vg\"\nvolume_clear = \"shred\"\n");
        assert!(err.contains("shred"), "{err}");
        let err = refused("volume_group = \"vg\"\nthin_pool = \"p\"\n");
        assert!(err.contains("thin_pool"), "{err}");
        let err = refused("volume_group = \"vg\"\nthin_pool = \"p q\"\nlvm_type = \"thin\"\n");
        assert!(err.contains("thin_pool"), "{err}");
        let err = refused("volume_group = \"vg\"\npath = \"x\"\n");
        assert!(err.contains("path"), "{err}");
        let config = load_text(&format!(
            "{node}volume_group = \"vg\"\nlvm_type = \"thin\"\nvolume_clear = \"none\"\ntarget = \"nbd\"\n"
        ))?;
        match config.nodes[0].checked_driver(&config.data_dir)? {
            NodeDriver::Lvm(o) => {
                assert_eq!(o.volume_group, "vg");
                assert_eq!(o.lvm_type, LvmType::Thin);
                assert_eq!(o.volume_clear, VolumeClear::None);
                assert_eq!(o.thin_pool, None);
                assert_eq!(o.export.target, TargetKind::Nbd);
            }
            other => return Err(format!("not an lvm node: {other:?}").into()),
        }
        Ok(())
    }

    #[test]
    fn the_example_configs_load() -> Result<(), Box<dyn std::error::Error>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for name in [
            "single-node.toml",
            "multi-node.toml",
            "qcow2-nbd.toml",
            "iscsi.toml",
            "lvm.toml",
        ] {
            let dir = tempfile::tempdir()?;
            let text = fs::read_to_string(root.join(name))?;
            let path = dir.path().join(name);
            fs::write(&path, text)?;
            let flags = Overrides {
                data_dir: Some(dir.path().to_path_buf()),
                ..Overrides::default()
            };
            let env = |_: &str| None;
            let config = Config::load(Some(&path), flags, &env)?;
            assert!(!config.nodes.is_empty(), "{name}");
        }
        Ok(())
    }
}
