//! Typed settings: `airless.toml` (optional) overridden by `AIRLESS_*`
//! environment variables, loaded once at start-up. The only module that
//! reads the process environment. Secrets are `SecretString`s.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The daemon's and the commands' settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub dags_folder: PathBuf,
    /// A SQLite file (the default) or a `postgres://` URL, with its pool
    /// size (`database_pool_size`).
    pub database: crate::store::Location,
    /// Where each try's log is written.
    pub logs_folder: PathBuf,
    pub bind: SocketAddr,
    pub api_tokens: Vec<SecretString>,
    pub parallelism: usize,
    pub shutdown_grace: Duration,
    /// How long a silent owner's run leases last before another process
    /// may adopt its runs (an owner on this host and boot whose pid is gone
    /// loses them at once).
    pub lease_timeout: Duration,
    /// A connection must send a request's headers within this (it also ends
    /// an idle keep-alive connection).
    pub header_read_timeout: Duration,
    /// A request must be answered within this (408 otherwise).
    pub request_timeout: Duration,
    /// Open HTTP connections at most; the next are refused at once (503).
    pub max_connections: usize,
    /// A larger DAG file is an import error, never parsed (bytes).
    pub max_dag_file_size: u64,
    pub log_format: LogFormat,
    /// `[notify.NAME]` tables: the alert channels, as written (their
    /// `${VAR}`s are expanded when the daemon builds them).
    pub notify: BTreeMap<String, toml::Table>,
    /// The first alert of a channel and DAG waits this long for others.
    pub notify_wait: Duration,
    /// After a delivery, a channel's next alerts about that DAG wait until
    /// this much time has passed (one message per storm).
    pub notify_window: Duration,
    /// The web UI's address as people reach it, for links in alerts.
    pub public_url: String,
    /// The channels told when a DAG file starts failing to load.
    pub notify_import_errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// The system-wide config file, read when there is no `--config`,
/// `AIRLESS_CONFIG` or `./airless.toml`: an admin's shell then finds the
/// daemon's settings.
pub const SYSTEM_CONFIG: &str = "/etc/airless/airless.toml";

/// What is wrong with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// The file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    dags_folder: Option<PathBuf>,
    database: Option<String>,
    database_pool_size: Option<u32>,
    logs_folder: Option<PathBuf>,
    bind: Option<String>,
    api_tokens: Option<Vec<String>>,
    parallelism: Option<usize>,
    shutdown_grace: Option<String>,
    lease_timeout: Option<String>,
    header_read_timeout: Option<String>,
    request_timeout: Option<String>,
    max_connections: Option<usize>,
    max_dag_file_size: Option<u64>,
    log_format: Option<LogFormat>,
    notify: Option<BTreeMap<String, toml::Table>>,
    notify_wait: Option<String>,
    notify_window: Option<String>,
    public_url: Option<String>,
    notify_import_errors: Option<Vec<String>>,
}

impl Config {
    /// Loads `path` (or `./airless.toml` if it exists, else the system-wide
    /// [`SYSTEM_CONFIG`] if it exists) and applies the `AIRLESS_*`
    /// overrides from `env`. `AIRLESS_SYSTEM_CONFIG` moves the system-wide
    /// file (for tests only).
    pub fn load(
        path: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let local = Path::new("airless.toml");
        let system = PathBuf::from(
            env.get("AIRLESS_SYSTEM_CONFIG")
                .filter(|v| !v.is_empty())
                .map_or(SYSTEM_CONFIG, String::as_str),
        );
        let path = path
            .or_else(|| local.exists().then_some(local))
            .or_else(|| system.exists().then_some(system.as_path()));
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                toml::from_str::<ConfigFile>(&text).map_err(|err| ConfigError::Parse {
                    path: path.display().to_string(),
                    message: err.to_string(),
                })?
            }
            None => ConfigFile::default(),
        };
        let var = |name: &str| {
            env.get(&format!("AIRLESS_{name}"))
                .filter(|v| !v.is_empty())
                .cloned()
        };

        let bind_text = var("BIND")
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let bind = bind_text.parse().map_err(|_| ConfigError::Invalid {
            key: "bind".into(),
            message: format!("`{bind_text}` is not an address like 127.0.0.1:8080"),
        })?;
        let tokens: Vec<String> = match var("API_TOKENS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
            None => file.api_tokens.unwrap_or_default(),
        };
        let pool_size = match var("DATABASE_POOL_SIZE") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                key: "database_pool_size".into(),
                message: format!("`{text}` is not a number"),
            })?,
            None => file
                .database_pool_size
                .unwrap_or(crate::store::DEFAULT_POOL_SIZE),
        };
        let parallelism = match var("PARALLELISM") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                key: "parallelism".into(),
                message: format!("`{text}` is not a number"),
            })?,
            None => file.parallelism.unwrap_or(32),
        };
        let duration = |key: &str, text: String| {
            crate::dag::duration::parse(&text).map_err(|err| ConfigError::Invalid {
                key: key.into(),
                message: format!("{err}; {}", err.hint()),
            })
        };
        let shutdown_grace = duration(
            "shutdown_grace",
            var("SHUTDOWN_GRACE")
                .or(file.shutdown_grace)
                .unwrap_or_else(|| "30s".to_string()),
        )?;
        let lease_timeout = duration(
            "lease_timeout",
            var("LEASE_TIMEOUT")
                .or(file.lease_timeout)
                .unwrap_or_else(|| "15s".to_string()),
        )?;
        let header_read_timeout = duration(
            "header_read_timeout",
            var("HEADER_READ_TIMEOUT")
                .or(file.header_read_timeout)
                .unwrap_or_else(|| "10s".to_string()),
        )?;
        let request_timeout = duration(
            "request_timeout",
            var("REQUEST_TIMEOUT")
                .or(file.request_timeout)
                .unwrap_or_else(|| "60s".to_string()),
        )?;
        let max_connections = match var("MAX_CONNECTIONS") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                key: "max_connections".into(),
                message: format!("`{text}` is not a number"),
            })?,
            None => file.max_connections.unwrap_or(4096),
        };
        let max_dag_file_size = match var("MAX_DAG_FILE_SIZE") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                key: "max_dag_file_size".into(),
                message: format!("`{text}` is not a number of bytes"),
            })?,
            None => file
                .max_dag_file_size
                .unwrap_or(crate::dag::bag::DEFAULT_MAX_DAG_FILE_SIZE),
        };
        let notify_wait = duration(
            "notify_wait",
            var("NOTIFY_WAIT")
                .or(file.notify_wait)
                .unwrap_or_else(|| "10s".to_string()),
        )?;
        let notify_window = duration(
            "notify_window",
            var("NOTIFY_WINDOW")
                .or(file.notify_window)
                .unwrap_or_else(|| "5m".to_string()),
        )?;
        let public_url = var("PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{bind}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                key: "public_url".into(),
                message: format!(
                    "`{public_url}` is not an http:// or https:// address (the web UI as people reach it, e.g. https://airless.example.com)"
                ),
            });
        }
        let log_format = match var("LOG_FORMAT").as_deref() {
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "log_format".into(),
                    message: format!("`{other}` is not text or json"),
                });
            }
            None => file.log_format.unwrap_or(LogFormat::Text),
        };
        Ok(Config {
            dags_folder: var("DAGS_FOLDER")
                .map(PathBuf::from)
                .or(file.dags_folder)
                .unwrap_or_else(|| "dags".into()),
            database: crate::store::Location::parse(
                &var("DATABASE")
                    .or(file.database)
                    .unwrap_or_else(|| "airless.db".into()),
            )
            .with_pool_size(pool_size),
            logs_folder: var("LOGS_FOLDER")
                .map(PathBuf::from)
                .or(file.logs_folder)
                .unwrap_or_else(|| "logs".into()),
            bind,
            api_tokens: tokens.into_iter().map(SecretString::from).collect(),
            parallelism: parallelism.max(1),
            shutdown_grace,
            lease_timeout,
            header_read_timeout,
            request_timeout,
            max_connections: max_connections.max(1),
            max_dag_file_size,
            log_format,
            notify: file.notify.unwrap_or_default(),
            notify_wait,
            notify_window,
            public_url,
            notify_import_errors: match var("NOTIFY_IMPORT_ERRORS") {
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                None => file.notify_import_errors.unwrap_or_default(),
            },
        })
    }
}

/// The process environment, read once (for `{{ env.X }}` in templates and
/// the `AIRLESS_*` overrides).
pub fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_work_with_no_file() {
        let config = Config::load(
            Some(Path::new("/nonexistent/airless.toml")),
            &BTreeMap::new(),
        );
        assert!(matches!(config, Err(ConfigError::Read { .. })));
        let config = Config::load(None, &BTreeMap::new()).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.dags_folder, PathBuf::from("dags"));
        assert_eq!(config.shutdown_grace, Duration::from_secs(30));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airless.toml");
        std::fs::write(&path, "parallelism = 4\napi_tokens = [\"a\"]\n").unwrap();
        let env = BTreeMap::from([
            ("AIRLESS_PARALLELISM".to_string(), "8".to_string()),
            ("AIRLESS_API_TOKENS".to_string(), "x, y".to_string()),
        ]);
        let config = Config::load(Some(&path), &env).unwrap();
        assert_eq!(config.parallelism, 8);
        let tokens: Vec<&str> = config
            .api_tokens
            .iter()
            .map(|t| t.expose_secret())
            .collect();
        assert_eq!(tokens, vec!["x", "y"]);
    }

    #[test]
    fn a_postgres_url_selects_the_shared_store_with_its_pool_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airless.toml");
        std::fs::write(
            &path,
            "database = \"postgres://airless:pw@db.internal/airless?sslmode=require\"\ndatabase_pool_size = 4\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), &BTreeMap::new()).unwrap();
        assert_eq!(
            config.database,
            crate::store::Location::Postgres {
                url: "postgres://airless:pw@db.internal/airless?sslmode=require".into(),
                pool_size: 4
            }
        );
        assert_eq!(
            config.database.to_string(),
            "postgres://airless:***@db.internal/airless?sslmode=require"
        );
        let env = BTreeMap::from([
            (
                "AIRLESS_DATABASE".to_string(),
                "/var/lib/airless/airless.db".to_string(),
            ),
            ("AIRLESS_DATABASE_POOL_SIZE".to_string(), "many".to_string()),
        ]);
        let err = Config::load(Some(&path), &env).unwrap_err().to_string();
        assert_eq!(err, "database_pool_size: `many` is not a number");
        let env = BTreeMap::from([(
            "AIRLESS_DATABASE".to_string(),
            "/var/lib/airless/airless.db".to_string(),
        )]);
        let config = Config::load(Some(&path), &env).unwrap();
        assert!(!config.database.is_shared());
    }

    #[test]
    fn the_system_wide_file_is_read_when_no_other_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airless.toml");
        std::fs::write(&path, "parallelism = 3\n").unwrap();
        let env = BTreeMap::from([(
            "AIRLESS_SYSTEM_CONFIG".to_string(),
            path.display().to_string(),
        )]);
        assert_eq!(Config::load(None, &env).unwrap().parallelism, 3);
        let other = dir.path().join("other.toml");
        std::fs::write(&other, "parallelism = 5\n").unwrap();
        assert_eq!(Config::load(Some(&other), &env).unwrap().parallelism, 5);
    }

    #[test]
    fn a_misspelt_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("airless.toml");
        std::fs::write(&path, "paralellism = 4\n").unwrap();
        let err = Config::load(Some(&path), &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `paralellism`"), "{err}");
    }
}
