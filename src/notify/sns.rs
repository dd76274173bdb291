//! AWS SNS: one `Publish` to a topic (subject and text), with the standard
//! AWS credential chain. The client is made on the first send (loading the
//! AWS configuration is async); the SDK does not retry, the outbox does.
//! FIFO topics get a group id (the incident's key) and a deduplication id
//! (the message's digest).
//! Throttling and 5xx are retried, other refusals (no such topic, access
//! denied) are not.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::config::SnsConfig;
use super::{Channel, DeliveryError, Message, http};

/// SNS's limits: a subject under 100 characters, a message of 256 KiB.
const MAX_SUBJECT: usize = 99;
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Error codes that mean "later", whatever the status says.
const RETRYABLE_CODES: [&str; 8] = [
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "KMSThrottling",
    "RequestThrottled",
    "TooManyRequestsException",
    "InternalError",
    "ServiceUnavailable",
];

/// One SNS topic.
pub struct SnsChannel {
    name: String,
    topic_arn: String,
    region: String,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    client: OnceCell<Client>,
}

impl SnsChannel {
    /// `credentials` replaces the standard chain (tests, LocalStack).
    /// Errors: the ARN is not an SNS topic's; a bad endpoint URL.
    pub fn new(
        name: &str,
        config: &SnsConfig,
        credentials: Option<Credentials>,
    ) -> Result<SnsChannel, String> {
        let arn = config.topic_arn.trim();
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
            return Err(format!(
                "topic_arn `{arn}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)"
            ));
        }
        let region = match (&config.region, parts[3]) {
            (Some(region), _) if !region.trim().is_empty() => region.trim().to_owned(),
            (_, "") => {
                return Err(format!("topic_arn `{arn}` names no region: set `region`"));
            }
            (_, region) => region.to_owned(),
        };
        if let Some(endpoint) = &config.endpoint_url {
            http::parse_url("endpoint_url", endpoint)?;
        }
        Ok(SnsChannel {
            name: name.to_owned(),
            topic_arn: arn.to_owned(),
            region,
            endpoint_url: config.endpoint_url.clone(),
            credentials,
            client: OnceCell::new(),
        })
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(self.region.clone()))
                    .retry_config(RetryConfig::standard().with_max_attempts(1))
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(CONNECT_TIMEOUT)
                            .operation_timeout(OPERATION_TIMEOUT)
                            .build(),
                    );
                if let Some(credentials) = &self.credentials {
                    loader = loader.credentials_provider(credentials.clone());
                }
                if let Some(endpoint) = &self.endpoint_url {
                    loader = loader.endpoint_url(endpoint.clone());
                }
                Client::new(&loader.load().await)
            })
            .await
    }
}

impl std::fmt::Debug for SnsChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsChannel")
            .field("name", &self.name)
            .field("topic_arn", &self.topic_arn)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Channel for SnsChannel {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let mut publish = self
            .client()
            .await
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&message.subject))
            .message(body(&message.text));
        if self.topic_arn.ends_with(".fifo") {
            let (group, dedup) = fifo_ids(message);
            publish = publish
                .message_group_id(group)
                .message_deduplication_id(dedup);
        }
        let sent = publish.send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code().unwrap_or("").to_owned();
                let shown = format!(
                    "SNS {code} (HTTP {status}): {}",
                    service.err().message().unwrap_or("no message")
                );
                if status == 429 || status >= 500 || RETRYABLE_CODES.contains(&code.as_str()) {
                    Err(DeliveryError::Retry {
                        message: shown,
                        after: None,
                    })
                } else {
                    Err(DeliveryError::Permanent(shown))
                }
            }
            Err(err @ SdkError::ConstructionFailure(_)) => Err(DeliveryError::Permanent(format!(
                "SNS: {}",
                http::chain(&err)
            ))),
            Err(err) => Err(DeliveryError::Retry {
                message: format!("SNS: {}", http::chain(&err)),
                after: None,
            }),
        }
    }
}

/// A subject SNS accepts: printable ASCII on one line, under 100
/// characters (`...` marks a cut).
pub fn subject(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let clean = clean.trim();
    if clean.chars().count() <= MAX_SUBJECT {
        return clean.to_owned();
    }
    let cut: String = clean.chars().take(MAX_SUBJECT - 3).collect();
    format!("{}...", cut.trim_end())
}

/// A FIFO topic's `MessageGroupId` (the incident's key, so one DAG's
/// alerts stay in order) and `MessageDeduplicationId` (a digest of the
/// message, so a retried publish inside SNS's 5-minute window is dropped).
fn fifo_ids(message: &Message) -> (String, String) {
    let group: String = message
        .dedup_key
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(128)
        .collect();
    let mut digest = Sha256::new();
    for part in [&message.dedup_key, &message.subject, &message.text] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let group = if group.is_empty() {
        "airless".to_owned()
    } else {
        group
    };
    (group, format!("{:x}", digest.finalize()))
}

/// The text, cut at a character boundary to SNS's message size.
fn body(text: &str) -> String {
    if text.len() <= MAX_MESSAGE_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_MESSAGE_BYTES - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(arn: &str, region: Option<&str>) -> SnsConfig {
        SnsConfig {
            topic_arn: arn.into(),
            region: region.map(String::from),
            endpoint_url: None,
        }
    }

    #[test]
    fn the_region_comes_from_the_arn_unless_set() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:alerts";
        assert_eq!(
            SnsChannel::new("s", &config(arn, None), None)
                .unwrap()
                .region,
            "eu-west-1"
        );
        let set = SnsChannel::new("s", &config(arn, Some("us-east-2")), None).unwrap();
        assert_eq!(set.region, "us-east-2");
    }

    #[test]
    fn a_bad_arn_is_refused() {
        let err = SnsChannel::new("s", &config("alerts", None), None).unwrap_err();
        assert!(err.contains("is not an SNS topic ARN"), "{err}");
        let err =
            SnsChannel::new("s", &config("arn:aws:sqs:eu-west-1:1:q", None), None).unwrap_err();
        assert!(err.contains("is not an SNS topic ARN"), "{err}");
    }

    #[test]
    fn fifo_ids_are_stable_and_within_limits() {
        let message = Message::sample(chrono::Utc::now());
        let (group, dedup) = fifo_ids(&message);
        assert_eq!(group, "airless_test");
        assert_eq!(dedup.len(), 64);
        assert_eq!(fifo_ids(&message.clone()).1, dedup);
    }

    #[test]
    fn subjects_fit_sns_limits() {
        assert_eq!(subject(" a\nb\u{e9}"), "a b");
        let long = subject(&"x".repeat(300));
        assert_eq!(long.len(), 99);
        assert!(long.ends_with("..."));
        assert!(body(&"é".repeat(200_000)).len() <= MAX_MESSAGE_BYTES);
    }
}
