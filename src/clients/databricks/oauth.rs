//! OAuth M2M: exchanges a service principal's client id and secret for an
//! access token at `{host}/oidc/v1/token` and caches it until shortly before
//! it expires, by the injected clock. Never logs a token or secret.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::transport::{error_parts, send};
use super::{DatabricksError, USER_AGENT_VALUE};
use crate::clients::retry::RetryPolicy;
use crate::model::clock::Clock;

/// Refresh this long before the token expires (Databricks issues 1-hour tokens).
const REFRESH_MARGIN: TimeDelta = TimeDelta::seconds(60);
const FORM: &str = "grant_type=client_credentials&scope=all-apis";

struct AccessToken {
    token: SecretString,
    refresh_at: DateTime<Utc>,
}

/// The cached access token of one client, plus every token ever issued
/// (so task logs can mask them).
#[derive(Default)]
pub(crate) struct TokenCache {
    current: tokio::sync::Mutex<Option<AccessToken>>,
    issued: Mutex<Vec<String>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache([redacted])")
    }
}

/// What the token endpoint needs; borrowed from the client for one call.
pub(crate) struct Exchange<'a> {
    pub http: &'a reqwest::Client,
    pub clock: &'a dyn Clock,
    pub retry: &'a RetryPolicy,
    pub host: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// "the OAuth client `…` from …", for rejections.
    pub credential: String,
}

impl TokenCache {
    /// A valid access token, fetched when none is cached or the cached one
    /// is within a minute of expiry. Concurrent callers wait for one fetch.
    pub(crate) async fn get(
        &self,
        exchange: Exchange<'_>,
    ) -> Result<SecretString, DatabricksError> {
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref()
            && exchange.clock.now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fetched = fetch(&exchange).await?;
        if let Ok(mut issued) = self.issued.lock() {
            issued.push(fetched.token.expose_secret().to_owned());
        }
        let token = fetched.token.clone();
        *current = Some(fetched);
        Ok(token)
    }

    /// Forgets the cached token (after a 401), so the next call fetches one.
    pub(crate) async fn invalidate(&self) {
        *self.current.lock().await = None;
    }

    pub(crate) fn issued(&self) -> Vec<String> {
        self.issued.lock().map(|i| i.clone()).unwrap_or_default()
    }
}

async fn fetch(exchange: &Exchange<'_>) -> Result<AccessToken, DatabricksError> {
    #[derive(Deserialize)]
    struct Reply {
        access_token: String,
        expires_in: Option<i64>,
    }

    let operation = "get an OAuth access token";
    let url = format!("{}/oidc/v1/token", exchange.host);
    let requested_at = exchange.clock.now();
    let response = send(
        exchange.retry,
        exchange.clock,
        operation,
        exchange.host,
        || {
            exchange
                .http
                .post(&url)
                .basic_auth(
                    exchange.client_id,
                    Some(exchange.client_secret.expose_secret()),
                )
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(USER_AGENT, USER_AGENT_VALUE)
                .body(FORM)
        },
    )
    .await?;

    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let (code, message) = error_parts(&body);
        // RFC 6749 answers a bad client with 400 or 401 `invalid_client`.
        if status.as_u16() == 401 || status.as_u16() == 403 || code == "invalid_client" {
            return Err(DatabricksError::Rejected {
                credential: exchange.credential.clone(),
                status: status.as_u16(),
                message: if message.is_empty() { code } else { message },
            });
        }
        return Err(DatabricksError::Api {
            operation: operation.to_owned(),
            status: status.as_u16(),
            error_code: code,
            message,
        });
    }
    let reply: Reply = serde_json::from_str(&body).map_err(|e| DatabricksError::BadReply {
        operation: operation.to_owned(),
        reason: format!("no access_token in the token reply ({e})"),
    })?;
    let lifetime = TimeDelta::seconds(reply.expires_in.unwrap_or(3600).max(0));
    // Short-lived tokens are refreshed at half their life instead.
    let margin = REFRESH_MARGIN.min(lifetime / 2);
    Ok(AccessToken {
        token: SecretString::from(reply.access_token),
        refresh_at: requested_at + lifetime - margin,
    })
}
