//! What the HTTP channels (Slack, webhook, PagerDuty) share: a client with
//! timeouts, URL checks that never echo a secret, and one reading of a
//! request's fate as a delivery.

use std::time::Duration;

use super::{DeliveryError, http_outcome};

/// A connection must open within this, and the whole exchange end within
/// `REQUEST_TIMEOUT`; either is worth a retry.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The client every HTTP channel sends with.
pub(super) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("airless/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot build an HTTP client: {err}"))
}

/// `url` as an http(s) URL. The error names `key` but not the value,
/// which may hold a token (Slack's, Discord's, Teams' URLs do).
pub(super) fn parse_url(key: &str, url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|err| format!("{key} is not a valid URL ({err})"))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host_str().is_some() => Ok(parsed),
        scheme => Err(format!(
            "{key} must be an http:// or https:// URL with a host, not {scheme}:"
        )),
    }
}

/// Sends `request`: 2xx delivered, 429/5xx/no answer retried (after
/// `Retry-After` when the server says), other statuses permanent. Errors
/// never carry the URL.
pub(super) async fn deliver(request: reqwest::RequestBuilder) -> Result<(), DeliveryError> {
    let response = request.send().await.map_err(|err| {
        let err = err.without_url();
        if err.is_builder() {
            DeliveryError::Permanent(format!("cannot build the request: {}", chain(&err)))
        } else {
            DeliveryError::Retry {
                message: format!("no answer: {}", chain(&err)),
                after: None,
            }
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A body that cannot be read does not change what the status says.
    let body = response.text().await.unwrap_or_default();
    http_outcome(status, retry_after.as_deref(), &body)
}

/// An error and its causes on one line (`a: b: c`).
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.contains(&shown) {
            text.push_str(": ");
            text.push_str(&shown);
        }
        source = cause.source();
    }
    text
}
