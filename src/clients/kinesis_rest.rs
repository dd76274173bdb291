//! Typed wrapper over an API Gateway route that proxies Kinesis PutRecord
//! (`PUT {url}/streams/{stream}/record`); no orchestration. Depends on
//! reqwest and `super::retry` only; never logs record contents.

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::retry::{RetryPolicy, send_with_retry};

#[derive(Debug, thiserror::Error)]
pub enum KinesisRestError {
    #[error("kinesis api gateway base url {url:?} is invalid: {reason}")]
    InvalidBaseUrl { url: String, reason: String },

    #[error("kinesis api gateway at {url} is unreachable")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// A non-2xx answer (after retries for 5xx). `error_type` is Kinesis's
    /// `__type` (e.g. `ResourceNotFoundException`) when the gateway passed
    /// it through.
    #[error("put record to stream {stream} failed: gateway answered {status}{}: {message}", type_suffix(.error_type))]
    Rejected {
        stream: String,
        status: u16,
        error_type: Option<String>,
        message: String,
    },

    #[error("put record to stream {stream} failed: the request to {url} broke")]
    Transport {
        stream: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("put record to stream {stream} failed: could not read the gateway's reply")]
    BadReply {
        stream: String,
        #[source]
        source: reqwest::Error,
    },
}

fn type_suffix(error_type: &Option<String>) -> String {
    error_type
        .as_deref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default()
}

impl KinesisRestError {
    /// Whether the same call may succeed later (the engine's retry decides).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Transport { .. } => true,
            Self::Rejected {
                status, error_type, ..
            } => {
                *status >= 500
                    || *status == 429
                    || error_type.as_deref() == Some("ProvisionedThroughputExceededException")
            }
            Self::InvalidBaseUrl { .. } | Self::BadReply { .. } => false,
        }
    }
}

/// Kinesis's PutRecord reply as the gateway passes it through.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PutRecordReply {
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: String,
    #[serde(rename = "ShardId")]
    pub shard_id: String,
}

/// A client of one API Gateway stage that forwards to Kinesis.
///
/// Retries connection failures and 5xx per its [`RetryPolicy`]; a retried
/// put may store the record twice (Kinesis PutRecord is at-least-once).
#[derive(Debug, Clone)]
pub struct KinesisRestClient {
    base_url: Url,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl KinesisRestClient {
    pub fn new(base_url: &str, http: reqwest::Client) -> Result<Self, KinesisRestError> {
        let url = super::base_url(base_url).map_err(|reason| KinesisRestError::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason,
        })?;
        Ok(Self {
            base_url: url,
            http,
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// `PUT {base}/streams/{stream}/record` with
    /// `{"StreamName", "Data", "PartitionKey"}`; `data` is sent as JSON (the
    /// gateway's mapping template encodes it for Kinesis).
    pub async fn put_record(
        &self,
        stream: &str,
        data: &Value,
        partition_key: &str,
    ) -> Result<PutRecordReply, KinesisRestError> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "StreamName")]
            stream_name: &'a str,
            #[serde(rename = "Data")]
            data: &'a Value,
            #[serde(rename = "PartitionKey")]
            partition_key: &'a str,
        }
        #[derive(Deserialize)]
        struct GatewayError {
            #[serde(rename = "__type")]
            error_type: Option<String>,
            #[serde(alias = "Message")]
            message: Option<String>,
        }

        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(["streams", stream, "record"]);
        }
        let body = Body {
            stream_name: stream,
            data,
            partition_key,
        };
        let operation = format!("put record to stream {stream}");
        let response = send_with_retry(&self.retry, &operation, || {
            self.http.put(url.clone()).json(&body)
        })
        .await
        .map_err(|source| {
            if source.is_connect() {
                KinesisRestError::Unreachable {
                    url: url.to_string(),
                    source,
                }
            } else {
                KinesisRestError::Transport {
                    stream: stream.to_owned(),
                    url: url.to_string(),
                    source,
                }
            }
        })?;

        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let (error_type, message) = match serde_json::from_str::<GatewayError>(&text) {
                Ok(GatewayError {
                    error_type,
                    message: Some(message),
                }) => (error_type, message),
                Ok(GatewayError { error_type, .. }) => (error_type, status.to_string()),
                Err(_) => (None, text.trim().chars().take(200).collect()),
            };
            return Err(KinesisRestError::Rejected {
                stream: stream.to_owned(),
                status: status.as_u16(),
                error_type,
                message,
            });
        }
        response
            .json()
            .await
            .map_err(|source| KinesisRestError::BadReply {
                stream: stream.to_owned(),
                source,
            })
    }
}
