//! Sending one request with Databricks' retry rules: 429 and 503 wait for
//! `Retry-After`, other 5xx and lost connections back off exponentially,
//! other answers return at once. Every wait goes through the injected clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;

use super::DatabricksError;
use crate::clients::retry::RetryPolicy;
use crate::model::clock::Clock;

/// Longest `Retry-After` we obey; a larger one waits this long and asks again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Sends the request built by `build` until an answer that is not 429 or
/// 5xx, a request that cannot be built, or the attempts run out.
///
/// Returns the last answer whatever its status (the caller reads the body
/// and picks the error). `operation` and `host` name the call in warnings
/// and errors; headers and bodies are never logged.
pub(crate) async fn send<F>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    operation: &str,
    host: &str,
    build: F,
) -> Result<reqwest::Response, DatabricksError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 1;
    loop {
        let last_try = attempt >= policy.max_attempts;
        let wait = match build().send().await {
            Ok(response) => {
                let status = response.status();
                if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                    || last_try
                {
                    return Ok(response);
                }
                let retry_after = match status {
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                        retry_after(&response, clock.now())
                    }
                    _ => None,
                };
                let wait = retry_after.unwrap_or_else(|| policy.delay_after(attempt));
                tracing::warn!(
                    operation,
                    status = status.as_u16(),
                    attempt,
                    wait_seconds = wait.as_secs_f64(),
                    "Databricks asked to retry later"
                );
                wait
            }
            Err(source) if source.is_builder() => {
                return Err(DatabricksError::InvalidHost {
                    operation: operation.to_owned(),
                    host: host.to_owned(),
                    source,
                });
            }
            Err(source) if last_try => {
                return Err(DatabricksError::Unreachable {
                    operation: operation.to_owned(),
                    host: host.to_owned(),
                    attempts: attempt,
                    source,
                });
            }
            Err(error) => {
                let wait = policy.delay_after(attempt);
                tracing::warn!(
                    operation,
                    host,
                    attempt,
                    error = %error,
                    wait_seconds = wait.as_secs_f64(),
                    "Databricks unreachable, retrying"
                );
                wait
            }
        };
        let wait = TimeDelta::from_std(wait).unwrap_or(TimeDelta::minutes(1));
        clock.sleep_until(clock.now() + wait).await;
        attempt += 1;
    }
}

/// `Retry-After` as delay-seconds or an HTTP date, capped.
fn retry_after(response: &reqwest::Response, now: DateTime<Utc>) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&Utc) - now).to_std().unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Databricks' error body (`error_code`, `message`) or the OAuth one
/// (`error`, `error_description`); falls back to the start of the text.
pub(crate) fn error_parts(body: &str) -> (String, String) {
    #[derive(Deserialize)]
    struct ErrorBody {
        error_code: Option<serde_json::Value>,
        message: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(parsed) => {
            let code = match parsed.error_code {
                Some(serde_json::Value::String(code)) => code,
                Some(other) => other.to_string(),
                None => parsed.error.clone().unwrap_or_default(),
            };
            let message = parsed
                .message
                .or(parsed.error_description)
                .or(parsed.error)
                .unwrap_or_default();
            (code, message)
        }
        Err(_) => (String::new(), body.trim().chars().take(300).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databricks_error_bodies_give_code_and_message() {
        assert_eq!(
            error_parts(
                r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Run 5 does not exist."}"#
            ),
            (
                "INVALID_PARAMETER_VALUE".to_owned(),
                "Run 5 does not exist.".to_owned()
            )
        );
        assert_eq!(
            error_parts(
                r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#
            ),
            (
                "invalid_client".to_owned(),
                "Client authentication failed".to_owned()
            )
        );
        assert_eq!(
            error_parts("<html>Bad gateway</html>\n"),
            (String::new(), "<html>Bad gateway</html>".to_owned())
        );
    }
}
