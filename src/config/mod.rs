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
//! - `CLINKER_KEYSTONE_PASSWORD`: the Keystone service user's password
//!   (`[keystone_authtoken] password`). Never logged.
//! - `RUST_LOG`: the tracing filter (default `info`).
//!
//! Every key is checked: an unknown key, an unknown driver, a duplicate node name or an
//! unusable directory stops start-up with a message naming the file and the key.

mod keystone;
mod nodes;
mod sources;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use keystone::{AuthStrategy, KeystoneAuthConfig, Secret, is_loopback_only};
pub use nodes::{
    DriverKind, ExportOptions, FakeOptions, FileOptions, LvmOptions, LvmType, NodeConfig,
    NodeDriver, Provisioning, TargetKind, VolumeClear,
};
pub use sources::{Environment, Overrides};

use nodes::default_ratio;

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
    /// `noauth` (default): the token says who the caller is and is believed, so only
    /// loopback may listen (see `noauth_allow_remote`). `keystone`: tokens are validated by
    /// Keystone as `[keystone_authtoken]` says.
    pub auth_strategy: AuthStrategy,
    /// With `noauth`, listen on an address other than loopback anyway, trusting everyone
    /// who can reach it. Default false.
    pub noauth_allow_remote: bool,
    /// The Keystone service user and token validation, for `auth_strategy = "keystone"`.
    pub keystone_authtoken: KeystoneAuthConfig,
    /// noauth users who hold the `admin` role when their token names no roles. Default
    /// `["admin"]`.
    pub admin_users: Vec<String>,
    /// A YAML (or JSON) file of oslo.policy rules by Cinder's names, each replacing
    /// Cinder's default for that name (`volume:create: "rule:admin_api"`). A rule that
    /// does not parse stops start-up. Default none: Cinder's defaults.
    pub policy_file: Option<PathBuf>,
    /// The zone given to volumes created without one (Cinder's
    /// `storage_availability_zone`). Default `nova`.
    pub default_availability_zone: String,
    /// Name of the type used when a create names none. Default `__DEFAULT__`.
    pub default_volume_type: String,
    /// Name of the group type `GET /group_types/default` shows (Cinder's
    /// `default_group_type`). Default none: that call answers 404, as Cinder's does.
    pub default_group_type: Option<String>,
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
    /// Instance leases: how processes sharing one database tell who is alive.
    pub cluster: ClusterConfig,
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
            auth_strategy: AuthStrategy::Noauth,
            noauth_allow_remote: false,
            keystone_authtoken: KeystoneAuthConfig::default(),
            admin_users: vec!["admin".into()],
            policy_file: None,
            default_availability_zone: "nova".into(),
            default_volume_type: "__DEFAULT__".into(),
            default_group_type: None,
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
            cluster: ClusterConfig::default(),
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

/// Instance leases (`[cluster]`). Every process holds a lease in the database, renewed
/// every third of its length; once it has lapsed, another process releases what this one
/// owned (quota reservations, idempotency claims) and may claim its nodes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Seconds a lease lasts without renewal: how long a dead process's reservations
    /// and nodes stay held. At least 3. Default 10.
    pub lease_seconds: u64,
    /// Seconds after its holder's last lease renewal at which a node counts as down:
    /// `down` in `os-services` and `get_pools`, no new volumes, and calls that need its
    /// answer (exports) refused with 503 at once. Its queued work waits. Default 30.
    pub node_down_after_seconds: u64,
    /// Seconds a starting process keeps trying a PostgreSQL database it cannot reach
    /// (with growing pauses between attempts) before it stops with a message: a
    /// controller or agent started with (or before) its database waits for it. 0 tries
    /// once. Default 60.
    pub database_connect_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 10,
            node_down_after_seconds: 30,
            database_connect_seconds: 60,
        }
    }
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

impl Config {
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
        if self.auth_strategy == AuthStrategy::Keystone
            && let Some(problem) = self.keystone_authtoken.problem()
        {
            return Err(invalid(problem));
        }
        if self.database_pool_size == 0 {
            return Err(invalid("database_pool_size: must be at least 1".into()));
        }
        if self.osapi_max_limit < 1 {
            return Err(invalid("osapi_max_limit: must be at least 1".into()));
        }
        // A lease is renewed every third of its length: a node counted down sooner
        // than that would flap between renewals.
        if self.cluster.node_down_after_seconds.saturating_mul(3) <= self.cluster.lease_seconds {
            return Err(invalid(format!(
                "cluster.node_down_after_seconds: must be more than a third of \
                 cluster.lease_seconds ({} s), the time between two renewals",
                self.cluster.lease_seconds
            )));
        }
        if self.cluster.lease_seconds < 3 {
            // Renewed every third of it: a shorter lease would be renewed more often than
            // once a second and lapse on any pause of the database.
            return Err(invalid("cluster.lease_seconds: must be at least 3".into()));
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
            // The backend is the middle of `node@backend#pool`: with an `@` or a `#` in
            // it, a stored host would read back as other parts.
            let backend = node.backend_name();
            if backend.is_empty() || backend.contains(['@', '#']) {
                return Err(invalid(format!(
                    "{key}.backend_name: '{backend}' must be non-empty and hold neither '@' nor '#'"
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

    /// With noauth, refuses an API address other than loopback unless
    /// `noauth_allow_remote` says so: anyone reaching it could name themselves admin.
    pub fn check_noauth_listen(&self) -> Result<(), ConfigError> {
        if self.auth_strategy == AuthStrategy::Noauth
            && !self.noauth_allow_remote
            && !is_loopback_only(&self.listen)
        {
            return Err(ConfigError::Invalid {
                path: "listen".into(),
                message: format!(
                    "'{}' is not a loopback address and auth_strategy is noauth, which trusts \
                     every caller: listen on 127.0.0.1, use auth_strategy = \"keystone\", or set \
                     noauth_allow_remote = true",
                    self.listen
                ),
            });
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
