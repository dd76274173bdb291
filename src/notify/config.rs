//! One `[notify.NAME]` table of `airless.toml`: which kind of channel, where
//! it sends, and its secrets as `${VAR}` references expanded from the
//! environment. `build` turns a resolved table into a [`Channel`], checking
//! everything it can before the first alert needs it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::Channel;
use super::email::EmailChannel;
use super::pagerduty::PagerDutyChannel;
use super::slack::SlackChannel;
use super::sns::SnsChannel;
use super::webhook::WebhookChannel;

/// The webhook body when none is configured: the whole message as JSON
/// (`subject`, `text`, `alerts`, `dedup_key`, `resolve`, `flapping`).
pub const DEFAULT_WEBHOOK_BODY: &str = "{{ message | tojson }}";

/// One `[notify.NAME]` table; `kind` picks the variant. Any string may be
/// `${VAR}` or contain it (see [`ChannelConfig::resolve`]).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelConfig {
    Slack(SlackConfig),
    Webhook(WebhookConfig),
    Pagerduty(PagerDutyConfig),
    Email(EmailConfig),
    Sns(SnsConfig),
}

/// A Slack incoming webhook.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// `https://hooks.slack.com/services/…`: a secret.
    pub url: String,
}

/// Any HTTP endpoint (Teams, Discord, Opsgenie…): the body is a minijinja
/// template over `message` (and `alerts`) that renders to JSON.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_body")]
    pub body: String,
}

/// PagerDuty Events API v2: a trigger per alert, a resolve on recovery.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration key of an Events API v2 integration: a secret.
    pub routing_key: String,
    #[serde(default = "default_pagerduty_url")]
    pub url: String,
    /// `critical`, `error`, `warning` or `info`.
    #[serde(default = "default_severity")]
    pub severity: String,
    #[serde(default = "default_source")]
    pub source: String,
}

/// E-mail over SMTP (SES and SendGrid work through theirs).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_host: String,
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// `starttls` (upgrade a plain connection), `tls` (TLS from the first
    /// byte, usually port 465) or `none` (plain text: tests and relays on
    /// localhost only).
    #[serde(default = "default_tls")]
    pub tls: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// An AWS SNS topic, reached with the standard AWS credential chain.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsConfig {
    pub topic_arn: String,
    /// Defaults to the topic ARN's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Another endpoint than AWS's (LocalStack, tests).
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

fn default_method() -> String {
    "POST".into()
}
fn default_body() -> String {
    DEFAULT_WEBHOOK_BODY.into()
}
fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}
fn default_severity() -> String {
    "error".into()
}
fn default_source() -> String {
    "airless".into()
}
fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> String {
    "starttls".into()
}

impl ChannelConfig {
    /// Reads one `[notify.NAME]` table. Errors are a person's words with the
    /// table and the key named (`notify.team-slack: unknown key `urll`,
    /// expected `url``).
    pub fn from_table(name: &str, table: toml::Table) -> Result<ChannelConfig, String> {
        toml::Value::Table(table)
            .try_into::<ChannelConfig>()
            .map_err(|err| format!("notify.{name}: {}", in_toml_words(err.message())))
    }

    /// The kind's name, as written after `kind =`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Slack(_) => "slack",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Pagerduty(_) => "pagerduty",
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Sns(_) => "sns",
        }
    }

    /// The same table with every `${VAR}` (a whole value or inside one)
    /// replaced by `env[VAR]`. Errors name the key and the variable
    /// (`url uses ${SLACK_URL}, which is not set`); the caller prefixes the
    /// table (`notify.NAME: `).
    pub fn resolve(&self, env: &BTreeMap<String, String>) -> Result<ChannelConfig, String> {
        let x = |key: &str, value: &str| expand(key, value, env);
        let xo = |key: &str, value: &Option<String>| {
            value.as_deref().map(|v| expand(key, v, env)).transpose()
        };
        Ok(match self {
            ChannelConfig::Slack(c) => ChannelConfig::Slack(SlackConfig {
                url: x("url", &c.url)?,
            }),
            ChannelConfig::Webhook(c) => ChannelConfig::Webhook(WebhookConfig {
                url: x("url", &c.url)?,
                method: x("method", &c.method)?,
                headers: c
                    .headers
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), x(&format!("headers.{k}"), v)?)))
                    .collect::<Result<_, String>>()?,
                body: x("body", &c.body)?,
            }),
            ChannelConfig::Pagerduty(c) => ChannelConfig::Pagerduty(PagerDutyConfig {
                routing_key: x("routing_key", &c.routing_key)?,
                url: x("url", &c.url)?,
                severity: x("severity", &c.severity)?,
                source: x("source", &c.source)?,
            }),
            ChannelConfig::Email(c) => ChannelConfig::Email(EmailConfig {
                smtp_host: x("smtp_host", &c.smtp_host)?,
                smtp_port: c.smtp_port,
                tls: x("tls", &c.tls)?,
                username: xo("username", &c.username)?,
                password: xo("password", &c.password)?,
                from: x("from", &c.from)?,
                to: c
                    .to
                    .iter()
                    .map(|a| x("to", a))
                    .collect::<Result<_, String>>()?,
            }),
            ChannelConfig::Sns(c) => ChannelConfig::Sns(SnsConfig {
                topic_arn: x("topic_arn", &c.topic_arn)?,
                region: xo("region", &c.region)?,
                endpoint_url: xo("endpoint_url", &c.endpoint_url)?,
            }),
        })
    }
}

/// The channel a resolved table describes. Does no I/O (SNS loads its AWS
/// configuration on the first send). Errors say what to fix, prefixed with
/// `notify.NAME: `, and never echo a secret.
pub fn build(name: &str, config: &ChannelConfig) -> Result<Arc<dyn Channel>, String> {
    let built: Result<Arc<dyn Channel>, String> = match config {
        ChannelConfig::Slack(c) => SlackChannel::new(name, c).map(|c| Arc::new(c) as _),
        ChannelConfig::Webhook(c) => WebhookChannel::new(name, c).map(|c| Arc::new(c) as _),
        ChannelConfig::Pagerduty(c) => PagerDutyChannel::new(name, c).map(|c| Arc::new(c) as _),
        ChannelConfig::Email(c) => EmailChannel::new(name, c).map(|c| Arc::new(c) as _),
        ChannelConfig::Sns(c) => SnsChannel::new(name, c, None).map(|c| Arc::new(c) as _),
    };
    built.map_err(|err| format!("notify.{name}: {err}"))
}

/// `value` with each `${VAR}` replaced from `env`.
fn expand(key: &str, value: &str, env: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("{key} has a `${{` without its closing `}}`"));
        };
        let var = &after[..end];
        let well_formed = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(format!(
                "{key} uses ${{{var}}}, which is not a variable name (letters, digits, _)"
            ));
        }
        match env.get(var) {
            Some(v) => out.push_str(v),
            None => return Err(format!("{key} uses ${{{var}}}, which is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// serde's words for TOML's: a table has keys, `kind` picks a variant.
fn in_toml_words(message: &str) -> String {
    message
        .trim()
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("unknown variant", "unknown kind")
}

/// Secrets (URLs with tokens, keys, passwords, header values) stay out of
/// logs: only the kind and the non-secret parts show.
impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChannelConfig::Slack(_) => f.debug_struct("Slack").finish_non_exhaustive(),
            ChannelConfig::Webhook(c) => f
                .debug_struct("Webhook")
                .field("method", &c.method)
                .field("headers", &c.headers.keys().collect::<Vec<_>>())
                .finish_non_exhaustive(),
            ChannelConfig::Pagerduty(c) => f
                .debug_struct("Pagerduty")
                .field("url", &c.url)
                .field("severity", &c.severity)
                .field("source", &c.source)
                .finish_non_exhaustive(),
            ChannelConfig::Email(c) => f
                .debug_struct("Email")
                .field("smtp_host", &c.smtp_host)
                .field("smtp_port", &c.smtp_port)
                .field("tls", &c.tls)
                .field("username", &c.username)
                .field("from", &c.from)
                .field("to", &c.to)
                .finish_non_exhaustive(),
            ChannelConfig::Sns(c) => f
                .debug_struct("Sns")
                .field("topic_arn", &c.topic_arn)
                .field("region", &c.region)
                .field("endpoint_url", &c.endpoint_url)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_slack_table_reads_with_its_kind() {
        let config =
            ChannelConfig::from_table("team-slack", table("kind = \"slack\"\nurl = \"${U}\""))
                .unwrap();
        assert_eq!(config.kind(), "slack");
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config =
            ChannelConfig::from_table("pd", table("kind = \"pagerduty\"\nrouting_key = \"k\""))
                .unwrap();
        let ChannelConfig::Pagerduty(pd) = config else {
            panic!("not pagerduty")
        };
        assert_eq!(pd.url, "https://events.pagerduty.com/v2/enqueue");
        assert_eq!(
            (pd.severity.as_str(), pd.source.as_str()),
            ("error", "airless")
        );
        let config = ChannelConfig::from_table(
            "mail",
            table("kind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]"),
        )
        .unwrap();
        let ChannelConfig::Email(mail) = config else {
            panic!("not email")
        };
        assert_eq!((mail.smtp_port, mail.tls.as_str()), (587, "starttls"));
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = ChannelConfig::from_table("team-slack", table("kind = \"slack\"\nurll = \"x\""))
            .unwrap_err();
        assert!(
            err.starts_with("notify.team-slack: unknown key `urll`"),
            "{err}"
        );
        assert!(err.contains("`url`"), "{err}");
    }

    #[test]
    fn an_unknown_or_missing_kind_is_named() {
        let err =
            ChannelConfig::from_table("x", table("kind = \"slak\"\nurl = \"u\"")).unwrap_err();
        assert!(err.contains("unknown kind `slak`"), "{err}");
        assert!(err.contains("`slack`") && err.contains("`sns`"), "{err}");
        let err = ChannelConfig::from_table("x", table("url = \"u\"")).unwrap_err();
        assert!(err.contains("missing key `kind`"), "{err}");
    }

    #[test]
    fn variables_expand_whole_or_inside_a_value() {
        let env = BTreeMap::from([
            ("TOKEN".to_string(), "s3cret".to_string()),
            ("HOST".to_string(), "hooks.example".to_string()),
        ]);
        let config = ChannelConfig::from_table(
            "hook",
            table(
                "kind = \"webhook\"\nurl = \"https://${HOST}/in\"\n\
                 headers = { Authorization = \"Bearer ${TOKEN}\" }",
            ),
        )
        .unwrap();
        let ChannelConfig::Webhook(hook) = config.resolve(&env).unwrap() else {
            panic!("not a webhook")
        };
        assert_eq!(hook.url, "https://hooks.example/in");
        assert_eq!(hook.headers["Authorization"], "Bearer s3cret");
        assert_eq!(hook.body, DEFAULT_WEBHOOK_BODY);
    }

    #[test]
    fn a_missing_variable_is_named_with_its_key() {
        let config = ChannelConfig::from_table(
            "team-slack",
            table("kind = \"slack\"\nurl = \"${SLACK_URL}\""),
        )
        .unwrap();
        assert_eq!(
            config.resolve(&BTreeMap::new()).unwrap_err(),
            "url uses ${SLACK_URL}, which is not set"
        );
        assert!(expand("url", "${", &BTreeMap::new()).is_err());
        assert!(expand("url", "${1X}", &BTreeMap::new()).is_err());
        assert_eq!(expand("url", "a$b", &BTreeMap::new()).unwrap(), "a$b");
    }

    #[test]
    fn debug_hides_secrets() {
        let config = ChannelConfig::from_table(
            "s",
            table("kind = \"slack\"\nurl = \"https://hooks.slack.com/services/SECRET\""),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("SECRET"));
    }
}
