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
}

fn source_name(path: &Path) -> String {
    path.display().to_string()
}
