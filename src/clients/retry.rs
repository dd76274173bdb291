//! Bounded exponential backoff for the HTTP clients in this folder.
//! Retries what may succeed on a second try (connection failures, timeouts,
//! 5xx answers) and nothing else; knows no API, only reqwest.

use std::time::Duration;

/// How often and how patiently a client retries one request.
///
/// `max_attempts` counts the first try: `max_attempts: 1` never retries.
/// The wait before try `n + 1` is `base_delay * 2^(n-1)`, capped at `max_delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed try number `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        self.base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }
}

/// Whether a transport error may go away on retry: the request never got an
/// answer (refused, reset, timed out).
pub(crate) fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request()
}

/// Sends the request built by `build` until it gets an answer that is not a
/// 5xx, a non-transient transport error, or the attempts run out.
///
/// Returns the last response whatever its status (the caller turns a 4xx or
/// a final 5xx into its own error), or the last transport error. `what`
/// names the operation in the retry warnings; no body is ever logged.
pub(crate) async fn send_with_retry<F>(
    policy: &RetryPolicy,
    what: &str,
    build: F,
) -> Result<reqwest::Response, reqwest::Error>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 1;
    loop {
        let last_try = attempt >= policy.max_attempts;
        match build().send().await {
            Ok(response) if response.status().is_server_error() && !last_try => {
                tracing::warn!(
                    operation = what,
                    status = response.status().as_u16(),
                    attempt,
                    "server error, retrying"
                );
            }
            Ok(response) => return Ok(response),
            Err(error) if is_transient(&error) && !last_try => {
                tracing::warn!(operation = what, attempt, error = %error, "request failed, retrying");
            }
            Err(error) => return Err(error),
        }
        tokio::time::sleep(policy.delay_after(attempt)).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_and_stop_at_the_cap() {
        let policy = RetryPolicy::default();
        let delays: Vec<_> = (1..=7).map(|n| policy.delay_after(n).as_millis()).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(5));
    }
}
