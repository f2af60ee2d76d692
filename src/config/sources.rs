//! Where the values come from and in which order they apply: defaults, the TOML file,
//! the command-line flags, then the `CLINKER_*` environment variables.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError, LogFormat};

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

/// The `CLINKER_*` environment variables, read by clap's `env`. They apply after the file
/// and the flags, so each wins over both. An empty variable counts as unset.
///
/// Parsed from no arguments at all ([`Environment::read`]): the `long` names only keep
/// clap from taking the fields for positionals, and no command line can reach them, so
/// `CLINKER_METRICS_TOKEN` never comes from a flag nor shows in `--help`.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(no_binary_name = true)]
pub struct Environment {
    /// `CLINKER_CONFIG`: path of the TOML file.
    #[arg(long, env = "CLINKER_CONFIG")]
    pub config: Option<String>,
    /// `CLINKER_LISTEN`: address to listen on.
    #[arg(long, env = "CLINKER_LISTEN")]
    pub listen: Option<String>,
    /// `CLINKER_DATA_DIR`: data directory.
    #[arg(long, env = "CLINKER_DATA_DIR")]
    pub data_dir: Option<String>,
    /// `CLINKER_DATABASE_URL`: `postgres://...` or a SQLite path. Never logged.
    #[arg(long, env = "CLINKER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// `CLINKER_LOG_FORMAT`: `text` or `json`.
    #[arg(long, env = "CLINKER_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// `CLINKER_METRICS_TOKEN`: the bearer token that may read `/metrics`. Never logged.
    #[arg(long, env = "CLINKER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// `CLINKER_KEYSTONE_PASSWORD`: the Keystone service user's password. Never logged.
    #[arg(long, env = "CLINKER_KEYSTONE_PASSWORD", hide_env_values = true)]
    pub keystone_password: Option<String>,
}

impl Environment {
    /// Reads the process environment.
    pub fn read() -> Result<Self, clap::Error> {
        use clap::Parser as _;
        let set = |v: Option<String>| v.filter(|v| !v.is_empty());
        let env = Self::try_parse_from(std::iter::empty::<std::ffi::OsString>())?;
        Ok(Self {
            config: set(env.config),
            listen: set(env.listen),
            data_dir: set(env.data_dir),
            database_url: set(env.database_url),
            log_format: set(env.log_format),
            metrics_token: set(env.metrics_token),
            keystone_password: set(env.keystone_password),
        })
    }
}

impl Config {
    /// Loads the file (if any), applies flags, then the environment, and checks the
    /// result. `env` is passed in ([`Environment::read`] in `main`) so tests need not
    /// touch the process environment.
    pub fn load(
        file: Option<&Path>,
        flags: Overrides,
        env: &Environment,
    ) -> Result<Config, ConfigError> {
        let file = env
            .config
            .clone()
            .map(PathBuf::from)
            .or(file.map(Path::to_path_buf));
        let source = file
            .as_ref()
            .map_or_else(|| "<defaults>".to_string(), |p| p.display().to_string());
        // `nodes = []` written out is a controller that runs no node (its nodes are
        // agents'); no `nodes` key at all is the embedded default with one node.
        let mut nodes_given = false;
        let mut config = match &file {
            Some(path) => {
                let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: source_name(path),
                    source,
                })?;
                nodes_given = text
                    .parse::<toml::Table>()
                    .is_ok_and(|t| t.contains_key("nodes"));
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
        if let Some(v) = env.listen.clone() {
            config.listen = v;
        }
        if let Some(v) = env.data_dir.clone() {
            config.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env.database_url.clone() {
            config.database_url = Some(v);
        }
        config.metrics.token = env.metrics_token.clone();
        if let Some(v) = &env.keystone_password {
            config.keystone_authtoken.password = super::Secret::new(v.clone());
        }
        if let Some(v) = &env.log_format {
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
        if config.nodes.is_empty() && !nodes_given {
            config.nodes.push(config.default_node());
        }
        config.check(&source)?;
        Ok(config)
    }
}

fn source_name(path: &Path) -> String {
    path.display().to_string()
}
