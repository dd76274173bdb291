//! Alerts: what happened to a DAG (a task failed after its last retry, a
//! retry, a success, a recovery, a missed deadline, a file that stopped
//! loading), written to an outbox in the same transaction as the state
//! change that caused it, then delivered to the channels named in
//! `airless.toml` (`[notify.NAME]`): Slack, any webhook, PagerDuty Events
//! v2, e-mail over SMTP, AWS SNS. This module holds the message and the
//! channel contract; each channel kind is one file. Depends on `model`
//! (and `clients`-style HTTP/SMTP/AWS crates); the sender lives beside the
//! daemon.

pub mod config;
pub mod email;
mod http;
pub mod message;
pub mod pagerduty;
pub mod slack;
pub mod sns;
pub mod webhook;

pub use config::{ChannelConfig, build};

/// Every `[notify.NAME]` table built into its channel, its `${VAR}`s
/// expanded from `env`; the first mistake, naming its table, otherwise.
pub fn channels(
    tables: &std::collections::BTreeMap<String, toml::Table>,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::HashMap<String, std::sync::Arc<dyn Channel>>, String> {
    let mut built = std::collections::HashMap::new();
    for (name, table) in tables {
        let config = ChannelConfig::from_table(name, table.clone())?
            .resolve(env)
            .map_err(|err| format!("notify.{name}: {err}"))?;
        built.insert(name.clone(), build(name, &config)?);
    }
    Ok(built)
}
pub use message::{Alert, AlertEvent, Message};

use std::time::Duration;

/// Why a delivery did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again (a 5xx, a 429, a refused connection, a timeout),
    /// not before `after` when the channel said so (`Retry-After`).
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Will never work as configured (a 4xx other than 429, a bad
    /// address): kept undelivered with this error.
    #[error("{0}")]
    Permanent(String),
}

/// One configured channel: sends a message, or says why it could not.
#[async_trait::async_trait]
pub trait Channel: Send + Sync + std::fmt::Debug {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError>;
}

/// A `Retry-After` header's value (seconds, or an HTTP date) as a wait.
pub fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(3600)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std().ok().map(|d| d.min(Duration::from_secs(3600)))
}

/// How an HTTP channel's answer reads as a delivery: 2xx delivered, 429 and
/// 5xx retried (after `Retry-After` when given), other statuses permanent.
pub fn http_outcome(
    status: u16,
    retry_after_header: Option<&str>,
    body: &str,
) -> Result<(), DeliveryError> {
    let shown: String = body.chars().take(300).collect();
    match status {
        200..=299 => Ok(()),
        429 | 500..=599 => Err(DeliveryError::Retry {
            message: format!("HTTP {status}: {shown}"),
            after: retry_after_header.and_then(retry_after),
        }),
        _ => Err(DeliveryError::Permanent(format!("HTTP {status}: {shown}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_deliveries() {
        assert_eq!(http_outcome(204, None, ""), Ok(()));
        assert_eq!(
            http_outcome(429, Some("7"), "slow down"),
            Err(DeliveryError::Retry {
                message: "HTTP 429: slow down".into(),
                after: Some(Duration::from_secs(7))
            })
        );
        assert!(matches!(
            http_outcome(503, None, ""),
            Err(DeliveryError::Retry { after: None, .. })
        ));
        assert!(matches!(
            http_outcome(404, None, "no such hook"),
            Err(DeliveryError::Permanent(_))
        ));
    }
}
