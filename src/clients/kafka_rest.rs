//! Typed wrapper over the Kafka REST Proxy v2 API; no orchestration.
//! Produces JSON records, drives one consumer instance (create, subscribe,
//! fetch, committed, commit, delete) and reads end offsets. Depends on
//! reqwest and `super::retry` only; never logs record contents.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::retry::{RetryPolicy, send_with_retry};

/// Produce body and fetch `Accept`: JSON records embedded in JSON (v2).
const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
/// Requests and answers that carry no records.
const V2: &str = "application/vnd.kafka.v2+json";

/// Proxy error codes (the `error_code` of its error JSON) we act on.
const TOPIC_NOT_FOUND: i64 = 40401;
const PARTITION_NOT_FOUND: i64 = 40402;
const INSTANCE_NOT_FOUND: i64 = 40403;

/// Everything that can go wrong talking to the proxy, in our terms.
#[derive(Debug, thiserror::Error)]
pub enum KafkaRestError {
    #[error("kafka rest proxy base url {url:?} is invalid: {reason}")]
    InvalidBaseUrl { url: String, reason: String },

    #[error("kafka rest proxy at {url} is unreachable")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("topic {topic} not found ({TOPIC_NOT_FOUND}): {message}")]
    TopicNotFound { topic: String, message: String },

    #[error("partition {partition} of topic {topic} not found ({PARTITION_NOT_FOUND}): {message}")]
    PartitionNotFound {
        topic: String,
        partition: i32,
        message: String,
    },

    /// The proxy forgot the instance: it idled past
    /// `consumer.instance.timeout.ms`, the proxy restarted, or it was deleted.
    /// Recover by creating a new instance in the same group.
    #[error(
        "consumer instance {instance} of group {group} expired or not found ({INSTANCE_NOT_FOUND}): {message}"
    )]
    InstanceNotFound {
        group: String,
        instance: String,
        message: String,
    },

    /// Some records of a produce batch were not written; the others were.
    #[error(
        "{failed} of {total} records to topic {topic} were rejected, first (error_code {first_error_code}): {first_error}"
    )]
    RecordsRejected {
        topic: String,
        failed: usize,
        total: usize,
        first_error_code: i64,
        first_error: String,
        /// The proxy's error_code 2: retrying the rejected records may work.
        retriable: bool,
    },

    /// Any other non-2xx answer, after retries for 5xx.
    #[error("{operation} failed: kafka rest proxy answered {status}{}: {message}", code_suffix(*.error_code))]
    Proxy {
        operation: String,
        status: u16,
        error_code: Option<i64>,
        message: String,
    },

    #[error("{operation} failed: the request to {url} broke")]
    Transport {
        operation: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{operation} failed: could not read the kafka rest proxy's reply")]
    BadReply {
        operation: String,
        #[source]
        source: reqwest::Error,
    },
}

fn code_suffix(error_code: Option<i64>) -> String {
    error_code.map(|c| format!(" ({c})")).unwrap_or_default()
}

impl KafkaRestError {
    /// Whether the same call may succeed later (the engine's retry decides).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Transport { .. } => true,
            Self::Proxy { status, .. } => *status >= 500,
            Self::RecordsRejected { retriable, .. } => *retriable,
            Self::InvalidBaseUrl { .. }
            | Self::TopicNotFound { .. }
            | Self::PartitionNotFound { .. }
            | Self::InstanceNotFound { .. }
            | Self::BadReply { .. } => false,
        }
    }
}

/// Where one produced record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOffset {
    pub partition: i32,
    pub offset: i64,
}

/// One record from a fetch; `value` is the JSON that was produced.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ConsumerRecord {
    pub topic: String,
    #[serde(default)]
    pub key: Option<Value>,
    pub value: Value,
    pub partition: i32,
    pub offset: i64,
}

/// A group's committed position: the offset of the next record to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// How a [`Consumer`] addresses its instance after creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceAddressing {
    /// `{base_url}/consumers/{group}/instances/{instance_id}`: works through
    /// API Gateway or a single proxy, where the proxy's own `base_uri` names
    /// a host the client cannot reach.
    #[default]
    ClientBaseUrl,
    /// The `base_uri` the proxy returned, as Confluent documents for
    /// several proxies behind a load balancer.
    ProxyBaseUri,
}

/// A client of one Kafka REST Proxy (or API Gateway in front of one).
///
/// Every call retries connection failures and 5xx answers per its
/// [`RetryPolicy`]; 4xx answers fail at once. Produce is not idempotent:
/// a 5xx after the proxy wrote the batch means a retry writes it twice
/// (at-least-once, as the proxy itself).
#[derive(Debug, Clone)]
pub struct KafkaRestClient {
    base_url: Url,
    http: reqwest::Client,
    retry: RetryPolicy,
    addressing: InstanceAddressing,
}

impl KafkaRestClient {
    /// `base_url` is the proxy root (`http://host:8082`) or the API Gateway
    /// stage URL that forwards `/topics/...` and `/consumers/...`.
    pub fn new(base_url: &str, http: reqwest::Client) -> Result<Self, KafkaRestError> {
        let url = super::base_url(base_url).map_err(|reason| KafkaRestError::InvalidBaseUrl {
            url: base_url.to_owned(),
            reason,
        })?;
        Ok(Self {
            base_url: url,
            http,
            retry: RetryPolicy::default(),
            addressing: InstanceAddressing::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_instance_addressing(mut self, addressing: InstanceAddressing) -> Self {
        self.addressing = addressing;
        self
    }

    pub fn base_url(&self) -> &str {
        self.base_url.as_str()
    }

    /// `POST /topics/{topic}` with every value as one record, in order.
    ///
    /// Errors: [`KafkaRestError::RecordsRejected`] when the proxy answers 200
    /// but any record carries an `error_code`; the offsets of the others are
    /// then lost to the caller, who must treat the batch as failed.
    pub async fn produce(
        &self,
        topic: &str,
        values: &[Value],
    ) -> Result<Vec<RecordOffset>, KafkaRestError> {
        #[derive(Serialize)]
        struct Record<'a> {
            value: &'a Value,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            records: Vec<Record<'a>>,
        }
        #[derive(Deserialize)]
        struct Reply {
            offsets: Vec<ReplyOffset>,
        }
        #[derive(Deserialize)]
        struct ReplyOffset {
            partition: Option<i32>,
            offset: Option<i64>,
            error_code: Option<i64>,
            error: Option<String>,
        }

        let operation = format!("produce {} records to topic {topic}", values.len());
        let url = self.url(&["topics", topic]);
        let body = Body {
            records: values.iter().map(|value| Record { value }).collect(),
        };
        let response = self
            .send(&operation, &url, || {
                self.http
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, JSON_V2)
                    .header(reqwest::header::ACCEPT, V2)
                    .json(&body)
            })
            .await?;
        let response = self
            .check(response, &operation, |code, message| match code {
                TOPIC_NOT_FOUND => Some(KafkaRestError::TopicNotFound {
                    topic: topic.to_owned(),
                    message,
                }),
                _ => None,
            })
            .await?;
        let reply: Reply = read_json(response, &operation).await?;

        let mut offsets = Vec::with_capacity(reply.offsets.len());
        let mut failed = reply
            .offsets
            .iter()
            .filter(|o| o.error_code.is_some() || o.error.is_some() || o.offset.is_none());
        if let Some(first) = failed.next() {
            let first_error_code = first.error_code.unwrap_or(1);
            return Err(KafkaRestError::RecordsRejected {
                topic: topic.to_owned(),
                failed: 1 + failed.count(),
                total: values.len(),
                first_error_code,
                first_error: first.error.clone().unwrap_or_default(),
                retriable: first_error_code == 2,
            });
        }
        for o in &reply.offsets {
            if let (Some(partition), Some(offset)) = (o.partition, o.offset) {
                offsets.push(RecordOffset { partition, offset });
            }
        }
        if offsets.len() != values.len() {
            return Err(KafkaRestError::Proxy {
                operation,
                status: 200,
                error_code: None,
                message: format!(
                    "the reply has {} offsets for {} records",
                    offsets.len(),
                    values.len()
                ),
            });
        }
        Ok(offsets)
    }

    /// `POST /consumers/{group}` for a consumer named `name` with JSON values,
    /// reading from the earliest offset when the group has no commit, and
    /// auto-commit off (offsets move only through [`Consumer::commit`]).
    pub async fn create_consumer(
        &self,
        group: &str,
        name: &str,
    ) -> Result<Consumer, KafkaRestError> {
        #[derive(Serialize)]
        struct Body<'a> {
            name: &'a str,
            format: &'a str,
            #[serde(rename = "auto.offset.reset")]
            auto_offset_reset: &'a str,
            #[serde(rename = "auto.commit.enable")]
            auto_commit_enable: &'a str,
        }
        #[derive(Deserialize)]
        struct Reply {
            instance_id: String,
            base_uri: String,
        }

        let operation = format!("create consumer {name} in group {group}");
        let url = self.url(&["consumers", group]);
        let body = Body {
            name,
            format: "json",
            auto_offset_reset: "earliest",
            auto_commit_enable: "false",
        };
        let response = self
            .send(&operation, &url, || {
                self.http
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, V2)
                    .header(reqwest::header::ACCEPT, V2)
                    .json(&body)
            })
            .await?;
        let response = self.check(response, &operation, |_, _| None).await?;
        let reply: Reply = read_json(response, &operation).await?;

        let instance_url = match self.addressing {
            InstanceAddressing::ClientBaseUrl => {
                self.url(&["consumers", group, "instances", &reply.instance_id])
            }
            InstanceAddressing::ProxyBaseUri => {
                let mut url = Url::parse(&reply.base_uri).map_err(|e| KafkaRestError::Proxy {
                    operation: operation.clone(),
                    status: 200,
                    error_code: None,
                    message: format!("base_uri {:?} is not a url: {e}", reply.base_uri),
                })?;
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty();
                }
                url
            }
        };
        Ok(Consumer {
            client: self.clone(),
            group: group.to_owned(),
            instance: reply.instance_id,
            url: instance_url,
        })
    }

    /// `GET /topics/{topic}/partitions/{partition}/offsets`: the offset the
    /// next produced record will get (one past the last record).
    pub async fn end_offset(&self, topic: &str, partition: i32) -> Result<i64, KafkaRestError> {
        #[derive(Deserialize)]
        struct Reply {
            end_offset: i64,
        }

        let operation = format!("read end offset of topic {topic} partition {partition}");
        let partition_segment = partition.to_string();
        let url = self.url(&["topics", topic, "partitions", &partition_segment, "offsets"]);
        let response = self
            .send(&operation, &url, || {
                self.http
                    .get(url.clone())
                    .header(reqwest::header::ACCEPT, V2)
            })
            .await?;
        let response = self
            .check(response, &operation, |code, message| match code {
                TOPIC_NOT_FOUND => Some(KafkaRestError::TopicNotFound {
                    topic: topic.to_owned(),
                    message,
                }),
                PARTITION_NOT_FOUND => Some(KafkaRestError::PartitionNotFound {
                    topic: topic.to_owned(),
                    partition,
                    message,
                }),
                _ => None,
            })
            .await?;
        let reply: Reply = read_json(response, &operation).await?;
        Ok(reply.end_offset)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    async fn send<F>(
        &self,
        operation: &str,
        url: &Url,
        build: F,
    ) -> Result<reqwest::Response, KafkaRestError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        send_with_retry(&self.retry, operation, build)
            .await
            .map_err(|source| {
                if source.is_connect() {
                    KafkaRestError::Unreachable {
                        url: url.to_string(),
                        source,
                    }
                } else {
                    KafkaRestError::Transport {
                        operation: operation.to_owned(),
                        url: url.to_string(),
                        source,
                    }
                }
            })
    }

    /// Passes 2xx through; turns anything else into an error, letting
    /// `specific` claim the proxy error codes the caller knows about.
    async fn check<S>(
        &self,
        response: reqwest::Response,
        operation: &str,
        specific: S,
    ) -> Result<reqwest::Response, KafkaRestError>
    where
        S: FnOnce(i64, String) -> Option<KafkaRestError>,
    {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let (error_code, message) = read_proxy_error(response, status).await;
        if let Some(code) = error_code
            && let Some(error) = specific(code, message.clone())
        {
            return Err(error);
        }
        Err(KafkaRestError::Proxy {
            operation: operation.to_owned(),
            status: status.as_u16(),
            error_code,
            message,
        })
    }
}

/// One consumer instance in a group, bound to the proxy that created it.
///
/// Not `Clone`: an instance serves one reader. Dropping it leaves the
/// instance on the proxy until `consumer.instance.timeout.ms`; call
/// [`Consumer::delete`] when done.
#[derive(Debug)]
pub struct Consumer {
    client: KafkaRestClient,
    group: String,
    instance: String,
    url: Url,
}

impl Consumer {
    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// `POST …/subscription`: replaces any earlier subscription.
    pub async fn subscribe(&self, topics: &[&str]) -> Result<(), KafkaRestError> {
        #[derive(Serialize)]
        struct Body<'a> {
            topics: &'a [&'a str],
        }
        let operation = format!(
            "subscribe consumer {} to {}",
            self.instance,
            topics.join(",")
        );
        let url = self.instance_url(&["subscription"]);
        let body = Body { topics };
        self.call(&operation, &url, || {
            self.client
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, V2)
                .json(&body)
        })
        .await
        .map(drop)
    }

    /// `GET …/records?timeout=…&max_bytes=…`: the next records after this
    /// instance's position, possibly none. The proxy advances the position
    /// as it answers, so a retried fetch whose first answer was lost skips
    /// records: callers must check offsets are contiguous and, on a gap,
    /// start a new instance (which resumes at the group's commit).
    pub async fn fetch(
        &self,
        timeout: Duration,
        max_bytes: u64,
    ) -> Result<Vec<ConsumerRecord>, KafkaRestError> {
        let operation = format!("fetch records for consumer {}", self.instance);
        let mut url = self.instance_url(&["records"]);
        url.query_pairs_mut()
            .append_pair("timeout", &timeout.as_millis().to_string())
            .append_pair("max_bytes", &max_bytes.to_string());
        let response = self
            .call(&operation, &url, || {
                self.client
                    .http
                    .get(url.clone())
                    .header(reqwest::header::ACCEPT, JSON_V2)
            })
            .await?;
        read_json(response, &operation).await
    }

    /// `GET …/offsets` with a body: the group's committed positions (next
    /// offset to read) for these partitions; partitions never committed are
    /// absent, as the proxy omits them.
    pub async fn committed(
        &self,
        partitions: &[(&str, i32)],
    ) -> Result<Vec<CommittedOffset>, KafkaRestError> {
        #[derive(Serialize)]
        struct Partition<'a> {
            topic: &'a str,
            partition: i32,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            partitions: Vec<Partition<'a>>,
        }
        #[derive(Deserialize)]
        struct Reply {
            offsets: Vec<ReplyOffset>,
        }
        #[derive(Deserialize)]
        struct ReplyOffset {
            topic: String,
            partition: i32,
            offset: i64,
        }

        let operation = format!("read committed offsets of group {}", self.group);
        let url = self.instance_url(&["offsets"]);
        let body = Body {
            partitions: partitions
                .iter()
                .map(|&(topic, partition)| Partition { topic, partition })
                .collect(),
        };
        let response = self
            .call(&operation, &url, || {
                self.client
                    .http
                    .get(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, V2)
                    .header(reqwest::header::ACCEPT, V2)
                    .json(&body)
            })
            .await?;
        let reply: Reply = read_json(response, &operation).await?;
        Ok(reply
            .offsets
            .into_iter()
            .map(|o| CommittedOffset {
                topic: o.topic,
                partition: o.partition,
                next_offset: o.offset,
            })
            .collect())
    }

    /// `POST …/offsets`: moves the group's position to `next_offset` (one
    /// past the last record written to the lake) for each partition.
    ///
    /// The proxy commits `offset + 1` of what it is sent (it takes the last
    /// consumed offset), so this sends `next_offset - 1`. Idempotent.
    pub async fn commit(&self, positions: &[(&str, i32, i64)]) -> Result<(), KafkaRestError> {
        #[derive(Serialize)]
        struct Offset<'a> {
            topic: &'a str,
            partition: i32,
            offset: i64,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            offsets: Vec<Offset<'a>>,
        }

        let operation = format!("commit offsets of group {}", self.group);
        let url = self.instance_url(&["offsets"]);
        let body = Body {
            offsets: positions
                .iter()
                .map(|&(topic, partition, next_offset)| Offset {
                    topic,
                    partition,
                    offset: next_offset - 1,
                })
                .collect(),
        };
        self.call(&operation, &url, || {
            self.client
                .http
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, V2)
                .json(&body)
        })
        .await
        .map(drop)
    }

    /// `DELETE …/instances/{instance}`. Deleting an instance the proxy
    /// already forgot is not an error: the goal (no instance) holds.
    pub async fn delete(self) -> Result<(), KafkaRestError> {
        let operation = format!("delete consumer {}", self.instance);
        let url = self.url.clone();
        match self
            .call(&operation, &url, || {
                self.client
                    .http
                    .delete(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, V2)
            })
            .await
        {
            Ok(_) | Err(KafkaRestError::InstanceNotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn instance_url(&self, segments: &[&str]) -> Url {
        let mut url = self.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    async fn call<F>(
        &self,
        operation: &str,
        url: &Url,
        build: F,
    ) -> Result<reqwest::Response, KafkaRestError>
    where
        F: Fn() -> reqwest::RequestBuilder,
    {
        let response = self.client.send(operation, url, build).await?;
        self.client
            .check(response, operation, |code, message| match code {
                INSTANCE_NOT_FOUND => Some(KafkaRestError::InstanceNotFound {
                    group: self.group.clone(),
                    instance: self.instance.clone(),
                    message,
                }),
                _ => None,
            })
            .await
    }
}

/// The proxy's `{"error_code", "message"}`, or the status text and a
/// shortened body when an intermediary (API Gateway, a load balancer)
/// answered with something else.
async fn read_proxy_error(
    response: reqwest::Response,
    status: StatusCode,
) -> (Option<i64>, String) {
    #[derive(Deserialize)]
    struct ProxyError {
        error_code: Option<i64>,
        message: Option<String>,
    }
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ProxyError>(&text) {
        Ok(ProxyError {
            error_code,
            message: Some(message),
        }) => (error_code, message),
        Ok(ProxyError { error_code, .. }) => (error_code, status.to_string()),
        Err(_) if text.trim().is_empty() => (None, status.to_string()),
        Err(_) => (None, truncate(text.trim(), 200)),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    operation: &str,
) -> Result<T, KafkaRestError> {
    response
        .json()
        .await
        .map_err(|source| KafkaRestError::BadReply {
            operation: operation.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_not_found_names_the_instance_and_quotes_the_proxy() {
        let error = KafkaRestError::InstanceNotFound {
            group: "g".into(),
            instance: "i".into(),
            message: "Consumer instance not found.".into(),
        };
        assert_eq!(
            error.to_string(),
            "consumer instance i of group g expired or not found (40403): Consumer instance not found."
        );
    }

    #[test]
    fn urls_escape_names_and_ignore_a_trailing_slash() {
        let client =
            KafkaRestClient::new("http://proxy:8082/prod/", reqwest::Client::new()).unwrap();
        assert_eq!(
            client
                .url(&["consumers", "my group", "instances", "a/b"])
                .as_str(),
            "http://proxy:8082/prod/consumers/my%20group/instances/a%2Fb"
        );
    }

    #[test]
    fn long_error_bodies_are_cut() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
