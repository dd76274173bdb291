//! Databricks unified client authentication, the subset airless supports:
//! a personal access token or OAuth M2M (service principal) credentials,
//! from the task, else `DATABRICKS_*` variables, else a profile of
//! `~/.databrickscfg`. Pure apart from reading that file; no HTTP here.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use super::config_file::{ConfigFile, Profile};

/// The config file's name in `$HOME`, as the Databricks CLI writes it.
const CONFIG_FILE_NAME: &str = ".databrickscfg";
const DEFAULT_PROFILE: &str = "DEFAULT";

/// Per-task values (already rendered); each one, when set and not blank,
/// beats the environment and the config file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthOverrides {
    pub host: Option<String>,
    pub token: Option<String>,
    pub profile: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl fmt::Debug for AuthOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthOverrides")
            .field("host", &self.host)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("profile", &self.profile)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// How requests prove who they are.
#[derive(Clone)]
pub enum Auth {
    /// A personal access token (or any bearer token), sent as is.
    Token(SecretString),
    /// A service principal's OAuth secret, exchanged for short-lived access
    /// tokens at `{host}/oidc/v1/token`.
    OAuthM2m {
        client_id: String,
        client_secret: SecretString,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token([redacted])"),
            Self::OAuthM2m { client_id, .. } => f
                .debug_struct("OAuthM2m")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .finish(),
        }
    }
}

/// A workspace URL and the secret to use there, with where each came from
/// (for error messages). `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    host: String,
    host_origin: String,
    auth: Auth,
    auth_origin: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("host", &self.host)
            .field("host_origin", &self.host_origin)
            .field("auth", &self.auth)
            .field("auth_origin", &self.auth_origin)
            .finish()
    }
}

impl Credentials {
    /// A bearer token for `host`; `origin` says where both came from.
    pub fn token(host: &str, token: &str, origin: &str) -> Self {
        Self {
            host: normalize_host(host),
            host_origin: origin.to_owned(),
            auth: Auth::Token(SecretString::from(token.to_owned())),
            auth_origin: origin.to_owned(),
        }
    }

    /// OAuth M2M credentials for `host`; `origin` says where they came from.
    pub fn oauth_m2m(host: &str, client_id: &str, client_secret: &str, origin: &str) -> Self {
        Self {
            host: normalize_host(host),
            host_origin: origin.to_owned(),
            auth: Auth::OAuthM2m {
                client_id: client_id.to_owned(),
                client_secret: SecretString::from(client_secret.to_owned()),
            },
            auth_origin: origin.to_owned(),
        }
    }

    /// The workspace URL: a scheme, no trailing slash (`https://dbc-….cloud.databricks.com`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where the host came from, e.g. `DATABRICKS_HOST`.
    pub fn host_origin(&self) -> &str {
        &self.host_origin
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Where the token or client secret came from, e.g. `DATABRICKS_TOKEN`
    /// or `profile [DEFAULT] of /home/x/.databrickscfg`.
    pub fn auth_origin(&self) -> &str {
        &self.auth_origin
    }

    /// The credential in words for "Databricks rejected …" messages.
    pub fn describe(&self) -> String {
        match &self.auth {
            Auth::Token(_) => format!("the token from {}", self.auth_origin),
            Auth::OAuthM2m { client_id, .. } => {
                format!("the OAuth client `{client_id}` from {}", self.auth_origin)
            }
        }
    }

    /// Every secret string these credentials hold (token or client secret),
    /// for masking in task logs. OAuth access tokens are issued later: see
    /// `JobsClient::secrets`.
    pub fn secrets(&self) -> Vec<String> {
        let secret = match &self.auth {
            Auth::Token(token) => token.expose_secret(),
            Auth::OAuthM2m { client_secret, .. } => client_secret.expose_secret(),
        };
        if secret.is_empty() {
            Vec::new()
        } else {
            vec![secret.to_owned()]
        }
    }
}

/// Why no usable credentials were found; each message names what to set.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no Databricks host: set DATABRICKS_HOST, or `host` in profile [{profile}] of {file}, or the task's `host`"
    )]
    NoHost { profile: String, file: String },

    #[error(
        "no Databricks credentials for {host}: set DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or `token` (or `client_id` and `client_secret`) in profile [{profile}] of {file}, or the task's `token`"
    )]
    NoCredentials {
        host: String,
        profile: String,
        file: String,
    },

    /// Half of an OAuth M2M pair.
    #[error(
        "{have} is set but not {missing}: set DATABRICKS_{}, or `{missing}` in profile [{profile}] of {file}, or the task's `{missing}`",
        missing.to_ascii_uppercase()
    )]
    IncompleteOAuth {
        have: String,
        missing: &'static str,
        profile: String,
        file: String,
    },

    #[error(
        "Databricks profile [{profile}] (from {origin}) is not in {file}; profiles there: {available}"
    )]
    ProfileNotFound {
        profile: String,
        origin: String,
        file: String,
        available: String,
    },

    #[error(
        "Databricks profile [{profile}] (from {origin}) needs {file}, which does not exist: create it with `databricks configure`, or set DATABRICKS_CONFIG_FILE"
    )]
    ConfigFileMissing {
        profile: String,
        origin: String,
        file: String,
    },

    #[error(
        "Databricks profile [{profile}] (from {origin}) needs a config file, but neither DATABRICKS_CONFIG_FILE nor HOME is set"
    )]
    NoConfigFile { profile: String, origin: String },

    #[error("cannot read the Databricks config file {file}")]
    ConfigFileUnreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the Databricks config file {file} is not valid at line {line}: {reason}")]
    ConfigFileInvalid {
        file: String,
        line: usize,
        reason: String,
    },
}

/// Where one value was found: the three layers of unified auth.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layer {
    Task,
    Env,
    Profile { name: String, file: String },
}

impl Layer {
    /// `field` is the config key: `host`, `token`, `client_id`, `client_secret`.
    fn describe(&self, field: &str) -> String {
        match self {
            Self::Task => format!("the task's `{field}`"),
            Self::Env => env_var(field),
            Self::Profile { name, file } => format!("profile [{name}] of {file}"),
        }
    }

    fn describe_pair(&self, first: &str, second: &str) -> String {
        match self {
            Self::Task => format!("the task's `{first}` and `{second}`"),
            Self::Env => format!("{} and {}", env_var(first), env_var(second)),
            Self::Profile { .. } => self.describe(first),
        }
    }
}

fn env_var(field: &str) -> String {
    format!("DATABRICKS_{}", field.to_ascii_uppercase())
}

/// One layer's values; blank strings count as unset (a template that
/// rendered to nothing must not hide the next layer).
#[derive(Debug, Default)]
struct Values {
    host: Option<String>,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl Values {
    fn get(&self, field: &str) -> Option<&str> {
        match field {
            "host" => self.host.as_deref(),
            "token" => self.token.as_deref(),
            "client_id" => self.client_id.as_deref(),
            "client_secret" => self.client_secret.as_deref(),
            _ => None,
        }
    }

    fn has_credentials(&self) -> bool {
        self.token.is_some() || self.client_id.is_some() || self.client_secret.is_some()
    }
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Resolves credentials as the Databricks tools do, layer by layer:
/// `overrides`, then `DATABRICKS_HOST` / `DATABRICKS_TOKEN` /
/// `DATABRICKS_CLIENT_ID` / `DATABRICKS_CLIENT_SECRET` from `env`, then the
/// profile (`overrides.profile`, `DATABRICKS_CONFIG_PROFILE`, or `DEFAULT`) of
/// `DATABRICKS_CONFIG_FILE` or `$HOME/.databrickscfg`.
///
/// The host comes from the first layer that has one. Credentials come from
/// the first layer that has any; within it a token beats an OAuth client, and
/// half an OAuth pair is completed from lower layers. The file is read only
/// when a profile is named or the upper layers leave something missing; a
/// named profile that is not there is an error, a missing `DEFAULT` is not.
pub fn resolve(
    overrides: &AuthOverrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, AuthError> {
    let task = Values {
        host: non_blank(overrides.host.as_deref()),
        token: non_blank(overrides.token.as_deref()),
        client_id: non_blank(overrides.client_id.as_deref()),
        client_secret: non_blank(overrides.client_secret.as_deref()),
    };
    let var = |name: &str| non_blank(env(name).as_deref());
    let from_env = Values {
        host: var("DATABRICKS_HOST"),
        token: var("DATABRICKS_TOKEN"),
        client_id: var("DATABRICKS_CLIENT_ID"),
        client_secret: var("DATABRICKS_CLIENT_SECRET"),
    };

    let (profile, profile_origin) = match (
        non_blank(overrides.profile.as_deref()),
        var("DATABRICKS_CONFIG_PROFILE"),
    ) {
        (Some(name), _) => (name, Some("the task's `profile`".to_owned())),
        (None, Some(name)) => (name, Some("DATABRICKS_CONFIG_PROFILE".to_owned())),
        (None, None) => (DEFAULT_PROFILE.to_owned(), None),
    };
    let file = config_file_path(&var);
    let file_label = file.as_ref().map_or_else(
        || format!("~/{CONFIG_FILE_NAME}"),
        |path| path.display().to_string(),
    );

    let upper_complete = (task.host.is_some() || from_env.host.is_some())
        && (task.has_credentials() || from_env.has_credentials());
    let from_profile = if profile_origin.is_some() || !upper_complete {
        read_profile(
            file.as_ref(),
            &file_label,
            &profile,
            profile_origin.as_deref(),
        )?
    } else {
        None
    };
    let profile_layer = Layer::Profile {
        name: profile.clone(),
        file: file_label.clone(),
    };
    let empty = Values::default();
    let layers: [(Layer, &Values); 3] = [
        (Layer::Task, &task),
        (Layer::Env, &from_env),
        (profile_layer, from_profile.as_ref().unwrap_or(&empty)),
    ];

    let first = |field: &str| {
        layers
            .iter()
            .find_map(|(layer, values)| values.get(field).map(|v| (v.to_owned(), layer.clone())))
    };

    let Some((host, host_layer)) = first("host") else {
        return Err(AuthError::NoHost {
            profile,
            file: file_label,
        });
    };
    let host = normalize_host(&host);

    let Some(position) = layers
        .iter()
        .position(|(_, values)| values.has_credentials())
    else {
        return Err(AuthError::NoCredentials {
            host,
            profile,
            file: file_label,
        });
    };
    let (layer, values) = &layers[position];
    let auth_layers = &layers[position..];
    let from = |field: &str| {
        auth_layers
            .iter()
            .find_map(|(layer, values)| values.get(field).map(|v| (v.to_owned(), layer.clone())))
    };

    let (auth, auth_origin) = if let Some(token) = &values.token {
        (
            Auth::Token(SecretString::from(token.clone())),
            layer.describe("token"),
        )
    } else {
        match (from("client_id"), from("client_secret")) {
            (Some((client_id, id_layer)), Some((secret, secret_layer))) => {
                let origin = if id_layer == secret_layer {
                    id_layer.describe_pair("client_id", "client_secret")
                } else {
                    format!(
                        "{} and {}",
                        id_layer.describe("client_id"),
                        secret_layer.describe("client_secret")
                    )
                };
                (
                    Auth::OAuthM2m {
                        client_id,
                        client_secret: SecretString::from(secret),
                    },
                    origin,
                )
            }
            (Some((_, id_layer)), None) => {
                return Err(AuthError::IncompleteOAuth {
                    have: id_layer.describe("client_id"),
                    missing: "client_secret",
                    profile,
                    file: file_label,
                });
            }
            (None, _) => {
                return Err(AuthError::IncompleteOAuth {
                    have: layer.describe("client_secret"),
                    missing: "client_id",
                    profile,
                    file: file_label,
                });
            }
        }
    };

    Ok(Credentials {
        host,
        host_origin: host_layer.describe("host"),
        auth,
        auth_origin,
    })
}

/// `DATABRICKS_CONFIG_FILE` (a leading `~/` means `$HOME`), else
/// `$HOME/.databrickscfg`; `None` when neither can be built.
fn config_file_path(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let home = var("HOME");
    match var("DATABRICKS_CONFIG_FILE") {
        Some(path) => match (path.strip_prefix("~/"), home) {
            (Some(rest), Some(home)) => Some(PathBuf::from(home).join(rest)),
            _ => Some(PathBuf::from(path)),
        },
        None => home.map(|home| PathBuf::from(home).join(CONFIG_FILE_NAME)),
    }
}

/// The profile's values, or `None` when the profile is the implicit
/// `DEFAULT` and it (or the file) is absent.
fn read_profile(
    file: Option<&PathBuf>,
    file_label: &str,
    profile: &str,
    explicit_origin: Option<&str>,
) -> Result<Option<Values>, AuthError> {
    let Some(path) = file else {
        return match explicit_origin {
            Some(origin) => Err(AuthError::NoConfigFile {
                profile: profile.to_owned(),
                origin: origin.to_owned(),
            }),
            None => Ok(None),
        };
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return match explicit_origin {
                Some(origin) => Err(AuthError::ConfigFileMissing {
                    profile: profile.to_owned(),
                    origin: origin.to_owned(),
                    file: file_label.to_owned(),
                }),
                None => Ok(None),
            };
        }
        Err(source) => {
            return Err(AuthError::ConfigFileUnreadable {
                file: file_label.to_owned(),
                source,
            });
        }
    };
    let config = ConfigFile::parse(&text).map_err(|e| AuthError::ConfigFileInvalid {
        file: file_label.to_owned(),
        line: e.line,
        reason: e.reason,
    })?;
    match (config.profile(profile), explicit_origin) {
        (Some(values), _) => Ok(Some(profile_values(values))),
        (None, None) => Ok(None),
        (None, Some(origin)) => {
            let names = config.profile_names();
            Err(AuthError::ProfileNotFound {
                profile: profile.to_owned(),
                origin: origin.to_owned(),
                file: file_label.to_owned(),
                available: if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                },
            })
        }
    }
}

fn profile_values(profile: &Profile) -> Values {
    let get = |key: &str| non_blank(profile.get(key).map(String::as_str));
    Values {
        host: get("host"),
        token: get("token"),
        client_id: get("client_id"),
        client_secret: get("client_secret"),
    }
}

/// `https://` when no scheme is given (`http://` is kept, for test servers),
/// and no trailing slash.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let with_scheme = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    with_scheme.trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn token_of(creds: &Credentials) -> String {
        match creds.auth() {
            Auth::Token(token) => token.expose_secret().to_owned(),
            Auth::OAuthM2m { .. } => panic!("expected a token, got {creds:?}"),
        }
    }

    #[test]
    fn hosts_get_https_and_lose_trailing_slashes() {
        assert_eq!(
            normalize_host("dbc-1.cloud.databricks.com/"),
            "https://dbc-1.cloud.databricks.com"
        );
        assert_eq!(
            normalize_host(" http://127.0.0.1:8080// "),
            "http://127.0.0.1:8080"
        );
        assert_eq!(normalize_host("https://x.net"), "https://x.net");
    }

    #[test]
    fn environment_host_and_token_are_used() {
        let env = env_of(&[
            ("DATABRICKS_HOST", "dbc-1.cloud.databricks.com"),
            ("DATABRICKS_TOKEN", "dapi-env"),
        ]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(creds.host(), "https://dbc-1.cloud.databricks.com");
        assert_eq!(creds.host_origin(), "DATABRICKS_HOST");
        assert_eq!(token_of(&creds), "dapi-env");
        assert_eq!(creds.auth_origin(), "DATABRICKS_TOKEN");
        assert_eq!(creds.secrets(), ["dapi-env"]);
    }

    #[test]
    fn task_values_beat_the_environment() {
        let env = env_of(&[
            ("DATABRICKS_HOST", "https://env.example"),
            ("DATABRICKS_TOKEN", "dapi-env"),
        ]);
        let overrides = AuthOverrides {
            host: Some("https://task.example/".into()),
            token: Some("dapi-task".into()),
            ..AuthOverrides::default()
        };
        let creds = resolve(&overrides, &env).unwrap();
        assert_eq!(creds.host(), "https://task.example");
        assert_eq!(creds.host_origin(), "the task's `host`");
        assert_eq!(token_of(&creds), "dapi-task");
        assert_eq!(creds.describe(), "the token from the task's `token`");
    }

    #[test]
    fn blank_task_values_fall_through_to_the_environment() {
        let env = env_of(&[("DATABRICKS_HOST", "h"), ("DATABRICKS_TOKEN", "dapi-env")]);
        let overrides = AuthOverrides {
            host: Some("  ".into()),
            token: Some(String::new()),
            ..AuthOverrides::default()
        };
        let creds = resolve(&overrides, &env).unwrap();
        assert_eq!(creds.host(), "https://h");
        assert_eq!(token_of(&creds), "dapi-env");
    }

    #[test]
    fn a_token_wins_over_an_oauth_client_in_the_same_layer() {
        let env = env_of(&[
            ("DATABRICKS_HOST", "h"),
            ("DATABRICKS_TOKEN", "dapi-env"),
            ("DATABRICKS_CLIENT_ID", "id"),
            ("DATABRICKS_CLIENT_SECRET", "secret"),
        ]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(token_of(&creds), "dapi-env");
    }

    #[test]
    fn a_task_oauth_client_beats_an_environment_token() {
        let env = env_of(&[("DATABRICKS_HOST", "h"), ("DATABRICKS_TOKEN", "dapi-env")]);
        let overrides = AuthOverrides {
            client_id: Some("sp-1".into()),
            client_secret: Some("dose-secret".into()),
            ..AuthOverrides::default()
        };
        let creds = resolve(&overrides, &env).unwrap();
        match creds.auth() {
            Auth::OAuthM2m {
                client_id,
                client_secret,
            } => {
                assert_eq!(client_id, "sp-1");
                assert_eq!(client_secret.expose_secret(), "dose-secret");
            }
            Auth::Token(_) => panic!("expected oauth"),
        }
        assert_eq!(
            creds.auth_origin(),
            "the task's `client_id` and `client_secret`"
        );
        assert_eq!(creds.secrets(), ["dose-secret"]);
        let debug = format!("{creds:?}");
        assert!(!debug.contains("dose-secret"), "{debug}");
    }

    #[test]
    fn half_an_oauth_pair_names_the_missing_half() {
        let env = env_of(&[("DATABRICKS_HOST", "h"), ("DATABRICKS_CLIENT_ID", "sp-1")]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("DATABRICKS_CLIENT_ID is set but not client_secret"),
            "{error}"
        );
        assert!(error.contains("set DATABRICKS_CLIENT_SECRET"), "{error}");
    }

    #[test]
    fn missing_host_names_the_variable_profile_and_task_field() {
        let env = env_of(&[("DATABRICKS_TOKEN", "dapi")]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "no Databricks host: set DATABRICKS_HOST, or `host` in profile [DEFAULT] of ~/.databrickscfg, or the task's `host`"
        );
    }

    #[test]
    fn missing_token_names_every_way_to_give_one() {
        let env = env_of(&[("DATABRICKS_HOST", "h")]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("no Databricks credentials for https://h"),
            "{error}"
        );
        for needle in [
            "DATABRICKS_TOKEN",
            "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET",
            "profile [DEFAULT]",
            "the task's `token`",
        ] {
            assert!(error.contains(needle), "{needle} missing from {error}");
        }
    }

    fn write_config(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".databrickscfg");
        std::fs::write(&path, text).unwrap();
        let home = dir.path().display().to_string();
        (dir, home)
    }

    const CONFIG: &str = "[DEFAULT]\nhost = dbc-default.cloud.databricks.com\ntoken = dapi-default\n\n[ci]\nhost = https://dbc-ci.cloud.databricks.com/\nclient_id = sp-ci\nclient_secret = ci-secret\n";

    #[test]
    fn the_default_profile_of_home_databrickscfg_is_read() {
        let (_dir, home) = write_config(CONFIG);
        let env = env_of(&[("HOME", &home)]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(creds.host(), "https://dbc-default.cloud.databricks.com");
        assert_eq!(token_of(&creds), "dapi-default");
        assert_eq!(
            creds.auth_origin(),
            format!("profile [DEFAULT] of {home}/.databrickscfg")
        );
    }

    #[test]
    fn the_environment_fills_what_the_profile_lacks_and_wins_where_both_have_it() {
        let (_dir, home) = write_config(CONFIG);
        let env = env_of(&[("HOME", &home), ("DATABRICKS_HOST", "https://env.example")]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(creds.host(), "https://env.example");
        assert_eq!(token_of(&creds), "dapi-default");
    }

    #[test]
    fn a_profile_named_by_the_environment_gives_oauth_credentials() {
        let (_dir, home) = write_config(CONFIG);
        let env = env_of(&[("HOME", &home), ("DATABRICKS_CONFIG_PROFILE", "ci")]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(creds.host(), "https://dbc-ci.cloud.databricks.com");
        assert!(matches!(creds.auth(), Auth::OAuthM2m { client_id, .. } if client_id == "sp-ci"));
    }

    #[test]
    fn the_task_profile_beats_the_environment_profile() {
        let (_dir, home) = write_config(CONFIG);
        let env = env_of(&[("HOME", &home), ("DATABRICKS_CONFIG_PROFILE", "nope")]);
        let overrides = AuthOverrides {
            profile: Some("DEFAULT".into()),
            ..AuthOverrides::default()
        };
        let creds = resolve(&overrides, &env).unwrap();
        assert_eq!(token_of(&creds), "dapi-default");
    }

    #[test]
    fn a_missing_named_profile_names_the_profile_the_file_and_the_ones_there() {
        let (_dir, home) = write_config(CONFIG);
        let env = env_of(&[("HOME", &home), ("DATABRICKS_CONFIG_PROFILE", "prod")]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "Databricks profile [prod] (from DATABRICKS_CONFIG_PROFILE) is not in {home}/.databrickscfg; profiles there: DEFAULT, ci"
            )
        );
    }

    #[test]
    fn a_missing_default_profile_is_not_an_error_when_the_environment_suffices() {
        let (_dir, home) = write_config("[ci]\nhost = h\n");
        let env = env_of(&[
            ("HOME", &home),
            ("DATABRICKS_HOST", "h"),
            ("DATABRICKS_TOKEN", "t"),
        ]);
        assert!(resolve(&AuthOverrides::default(), &env).is_ok());
        let env = env_of(&[("HOME", &home)]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("no Databricks host"), "{error}");
    }

    #[test]
    fn databricks_config_file_points_elsewhere_and_may_start_with_a_tilde() {
        let (_dir, home) = write_config(CONFIG);
        std::fs::rename(
            format!("{home}/.databrickscfg"),
            format!("{home}/other.cfg"),
        )
        .unwrap();
        let env = env_of(&[("HOME", &home), ("DATABRICKS_CONFIG_FILE", "~/other.cfg")]);
        let creds = resolve(&AuthOverrides::default(), &env).unwrap();
        assert_eq!(token_of(&creds), "dapi-default");
    }

    #[test]
    fn a_named_profile_without_the_file_says_the_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().display().to_string();
        let env = env_of(&[("HOME", &home)]);
        let overrides = AuthOverrides {
            profile: Some("ci".into()),
            ..AuthOverrides::default()
        };
        let error = resolve(&overrides, &env).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "Databricks profile [ci] (from the task's `profile`) needs {home}/.databrickscfg, which does not exist"
            )),
            "{error}"
        );
    }

    #[test]
    fn a_broken_config_file_names_the_line() {
        let (_dir, home) = write_config("[DEFAULT]\nhost = h\ngarbage\n");
        let env = env_of(&[("HOME", &home)]);
        let error = resolve(&AuthOverrides::default(), &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn debug_of_overrides_hides_secrets() {
        let overrides = AuthOverrides {
            token: Some("dapi-hidden".into()),
            client_secret: Some("hidden-too".into()),
            ..AuthOverrides::default()
        };
        let debug = format!("{overrides:?}");
        assert!(!debug.contains("hidden"), "{debug}");
    }
}
