//! PagerDuty Events API v2 (`POST /v2/enqueue`): a `trigger` event per
//! message, a `resolve` with the same `dedup_key` when the message says the
//! DAG recovered, so incidents close themselves. PagerDuty answers 202 when
//! it accepts an event, 400 for an invalid one, 429 when throttled.

use serde_json::{Value, json};

use super::config::PagerDutyConfig;
use super::{AlertEvent, Channel, DeliveryError, Message, http};

/// The Events API's limits on `payload.summary` and `dedup_key`.
const MAX_SUMMARY: usize = 1024;
const MAX_DEDUP_KEY: usize = 255;
const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// One Events API v2 integration; the routing key is a secret.
pub struct PagerDutyChannel {
    name: String,
    url: reqwest::Url,
    routing_key: String,
    severity: String,
    source: String,
    client: reqwest::Client,
}

impl PagerDutyChannel {
    /// Errors: an empty routing key, a bad URL, an unknown severity.
    pub fn new(name: &str, config: &PagerDutyConfig) -> Result<PagerDutyChannel, String> {
        if config.routing_key.trim().is_empty() {
            return Err("routing_key is empty: set the integration key of an \
                        Events API v2 integration"
                .into());
        }
        if !SEVERITIES.contains(&config.severity.as_str()) {
            return Err(format!(
                "severity `{}` is not one of {}",
                config.severity,
                SEVERITIES.join(", ")
            ));
        }
        Ok(PagerDutyChannel {
            name: name.to_owned(),
            url: http::parse_url("url", &config.url)?,
            routing_key: config.routing_key.trim().to_owned(),
            severity: config.severity.clone(),
            source: config.source.clone(),
            client: http::client()?,
        })
    }

    /// The event for `message`: a resolve (routing key, action and key
    /// only) when the DAG recovered, a trigger otherwise.
    pub fn event(&self, message: &Message) -> Value {
        let dedup_key = truncate(&message.dedup_key, MAX_DEDUP_KEY);
        if message.resolve {
            return json!({
                "routing_key": self.routing_key,
                "event_action": "resolve",
                "dedup_key": dedup_key,
            });
        }
        let mut links = Vec::new();
        for alert in &message.alerts {
            for (label, url) in [
                ("run", &alert.run_url),
                ("log", &alert.log_url),
                ("remote run", &alert.external_url),
            ] {
                if let Some(href) = url
                    && !links.iter().any(|l: &Value| l["href"] == href.as_str())
                {
                    links.push(
                        json!({ "href": href, "text": format!("{label}: {}", alert.headline()) }),
                    );
                }
            }
        }
        let last = message.alerts.last();
        json!({
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "client": "airless",
            "payload": {
                "summary": truncate(&message.subject, MAX_SUMMARY),
                "source": self.source,
                "severity": self.severity_for(message),
                "timestamp": last.map(|a| a.at.to_rfc3339()),
                "component": last.map(|a| a.dag_id.as_str()),
                "class": last.map(|a| a.event.as_str()),
                "custom_details": {
                    "text": message.text,
                    "flapping": message.flapping,
                    "alerts": message.alerts,
                },
            },
            "links": links,
        })
    }
}

impl PagerDutyChannel {
    /// The configured severity for trouble (a failure, a missed deadline,
    /// a DAG that stopped loading); a message of retries only is a
    /// `warning`, of successes only `info`, so they do not page as loudly.
    fn severity_for(&self, message: &Message) -> &str {
        if message.alerts.iter().any(|a| a.event.is_trouble()) {
            &self.severity
        } else if message.alerts.iter().any(|a| a.event == AlertEvent::Retry) {
            "warning"
        } else {
            "info"
        }
    }
}

impl std::fmt::Debug for PagerDutyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDutyChannel")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("severity", &self.severity)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Channel for PagerDutyChannel {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let event = self.event(message);
        http::deliver(self.client.post(self.url.clone()).json(&event)).await
    }
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(severity: &str) -> Result<PagerDutyChannel, String> {
        PagerDutyChannel::new(
            "pd",
            &PagerDutyConfig {
                routing_key: "R0UTING".into(),
                url: "https://events.pagerduty.com/v2/enqueue".into(),
                severity: severity.into(),
                source: "airless-prod".into(),
            },
        )
    }

    #[test]
    fn a_failure_triggers_with_summary_source_severity_and_links() {
        let mut message = Message::sample(chrono::Utc::now());
        message.alerts[0].run_url = Some("http://ui/runs/1".into());
        let event = channel("critical").unwrap().event(&message);
        assert_eq!(event["event_action"], "trigger");
        assert_eq!(event["dedup_key"], "airless_test");
        assert_eq!(event["payload"]["summary"], message.subject.as_str());
        assert_eq!(event["payload"]["source"], "airless-prod");
        assert_eq!(event["payload"]["severity"], "critical");
        assert_eq!(event["links"][0]["href"], "http://ui/runs/1");
    }

    #[test]
    fn a_recovery_resolves_with_the_key_only() {
        let mut message = Message::sample(chrono::Utc::now());
        message.resolve = true;
        let event = channel("error").unwrap().event(&message);
        assert_eq!(
            event,
            json!({"routing_key": "R0UTING", "event_action": "resolve",
                   "dedup_key": "airless_test"})
        );
    }

    #[test]
    fn retries_and_successes_page_softly() {
        let pd = channel("critical").unwrap();
        let mut message = Message::sample(chrono::Utc::now());
        message.alerts[0].event = AlertEvent::Retry;
        assert_eq!(pd.event(&message)["payload"]["severity"], "warning");
        message.alerts[0].event = AlertEvent::Success;
        assert_eq!(pd.event(&message)["payload"]["severity"], "info");
    }

    #[test]
    fn an_unknown_severity_is_refused() {
        let err = channel("fatal").unwrap_err();
        assert!(err.contains("severity `fatal`"), "{err}");
    }
}
