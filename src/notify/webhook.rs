//! Any HTTP endpoint (Microsoft Teams, Discord, Opsgenie, a team's own
//! service): the configured method and headers, and a body rendered from a
//! minijinja template over `message` (every field of the [`Message`]) and
//! `alerts`. JSON unless the headers set another Content-Type.

use std::str::FromStr;

use super::config::WebhookConfig;
use super::{Channel, DeliveryError, Message, http};
use minijinja::{Environment, UndefinedBehavior};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

/// A configured endpoint. Header values may be secrets and never show.
pub struct WebhookChannel {
    name: String,
    url: reqwest::Url,
    method: reqwest::Method,
    headers: HeaderMap,
    body: String,
    /// The body must render to JSON (the Content-Type is JSON).
    json: bool,
    env: Environment<'static>,
    client: reqwest::Client,
}

impl WebhookChannel {
    /// Errors: a bad URL, method or header; a body template that does not
    /// parse, or that does not render a sample message to JSON.
    pub fn new(name: &str, config: &WebhookConfig) -> Result<WebhookChannel, String> {
        let url = http::parse_url("url", &config.url)?;
        let method = reqwest::Method::from_str(&config.method.to_ascii_uppercase())
            .map_err(|_| format!("method `{}` is not an HTTP method", config.method))?;
        let mut headers = HeaderMap::new();
        for (key, value) in &config.headers {
            let header = HeaderName::from_str(key)
                .map_err(|_| format!("headers: `{key}` is not a header name"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("headers.{key} is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        let json = match headers.get(CONTENT_TYPE) {
            Some(kind) => kind.to_str().is_ok_and(|k| k.contains("json")),
            None => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                true
            }
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let channel = WebhookChannel {
            name: name.to_owned(),
            url,
            method,
            headers,
            body: config.body.clone(),
            json,
            env,
            client: http::client()?,
        };
        // Render a sample now, so a typo shows at start-up, not at the
        // first failure.
        channel.render(&Message::sample(chrono::Utc::now()))?;
        Ok(channel)
    }

    /// The body for `message`. Errors: the template fails, or (for JSON)
    /// what it renders is not JSON.
    pub fn render(&self, message: &Message) -> Result<String, String> {
        let context = minijinja::context! { message => message, alerts => &message.alerts };
        let body = self
            .env
            .render_str(&self.body, context)
            .map_err(|err| format!("body template: {err:#}"))?;
        if self.json
            && let Err(err) = serde_json::from_str::<serde_json::Value>(&body)
        {
            let start: String = body.chars().take(200).collect();
            return Err(format!(
                "body template does not render JSON ({err}): {start}"
            ));
        }
        Ok(body)
    }
}

impl std::fmt::Debug for WebhookChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookChannel")
            .field("name", &self.name)
            .field("method", &self.method)
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Channel for WebhookChannel {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let body = self.render(message).map_err(DeliveryError::Permanent)?;
        let request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .body(body);
        http::deliver(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::DEFAULT_WEBHOOK_BODY;
    use std::collections::BTreeMap;

    fn config(body: &str, headers: &[(&str, &str)]) -> WebhookConfig {
        WebhookConfig {
            url: "http://127.0.0.1:9/hook".into(),
            method: "POST".into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            body: body.into(),
        }
    }

    #[test]
    fn the_default_body_is_the_message_as_json() {
        let channel = WebhookChannel::new("w", &config(DEFAULT_WEBHOOK_BODY, &[])).unwrap();
        let message = Message::sample(chrono::Utc::now());
        let body: serde_json::Value =
            serde_json::from_str(&channel.render(&message).unwrap()).unwrap();
        assert_eq!(body["subject"], message.subject.as_str());
        assert_eq!(body["dedup_key"], "airless_test");
        assert_eq!(body["alerts"][0]["dag_id"], "airless_test");
        assert_eq!(body["resolve"], false);
    }

    #[test]
    fn a_body_that_is_not_json_is_refused_at_build() {
        let err = WebhookChannel::new("w", &config("{{ message.subject }}", &[])).unwrap_err();
        assert!(err.contains("does not render JSON"), "{err}");
        // unless the Content-Type says it is something else
        WebhookChannel::new(
            "w",
            &config("{{ message.subject }}", &[("Content-Type", "text/plain")]),
        )
        .unwrap();
    }

    #[test]
    fn a_typo_in_the_template_is_refused_at_build() {
        let err = WebhookChannel::new("w", &config("{\"t\": {{ mesage.subject | tojson }}}", &[]))
            .unwrap_err();
        assert!(err.contains("body template"), "{err}");
        let err = WebhookChannel::new("w", &config("{{ message.subject", &[])).unwrap_err();
        assert!(err.contains("body template"), "{err}");
    }

    #[test]
    fn a_bad_method_or_header_is_named() {
        let mut bad = config(DEFAULT_WEBHOOK_BODY, &[]);
        bad.method = "PO ST".into();
        assert!(
            WebhookChannel::new("w", &bad)
                .unwrap_err()
                .contains("method")
        );
        let err = WebhookChannel::new("w", &config(DEFAULT_WEBHOOK_BODY, &[("X-Key", "a\nb")]))
            .unwrap_err();
        assert!(err.contains("headers.X-Key"), "{err}");
    }
}
