//! Typed wrapper over S3 for the lake: put, get and list objects in one bucket,
//! and check that the bucket is reachable. No orchestration: callers (the
//! `ingest` and `emulate` executors) decide keys, batching and retries of
//! whole tasks. Depends on the AWS SDK only, never on the engine or the store.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tracing::debug;

/// Attempts per request, the first included; the SDK's standard retry mode
/// backs off between them and retries only transient failures.
const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// S3-compatible stores ignore the region, but SigV4 needs one to sign.
const REGION_FOR_CUSTOM_ENDPOINT: &str = "us-east-1";

/// Where the lake lives and how to authenticate to it.
///
/// Without `access_key_id` / `secret_access_key` the standard AWS credential
/// chain is used (environment, profile, EC2 instance profile). Explicit keys
/// are for tests and S3-compatible stores; with them the chain is never
/// consulted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// `None`: the standard region chain, or `us-east-1` when `endpoint` is set.
    pub region: Option<String>,
    /// An S3-compatible endpoint such as `http://127.0.0.1:9000`; `None` for AWS.
    pub endpoint: Option<String>,
    /// `http://host/bucket/key` instead of `http://bucket.host/key`; most
    /// S3-compatible stores need it.
    pub force_path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// What went wrong talking to the lake, in a data engineer's terms.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 bucket `{bucket}` does not exist (NoSuchBucket)")]
    BucketMissing { bucket: String },
    #[error("access to S3 bucket `{bucket}` was denied; check the AWS credentials: {detail}")]
    AccessDenied { bucket: String, detail: String },
    #[error("S3 endpoint {endpoint} is unreachable: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("S3 {operation} failed: {detail}")]
    Other {
        operation: &'static str,
        detail: String,
    },
}

impl S3Error {
    /// Worth retrying the task later: the store may come back. Every other
    /// error needs a person (create the bucket, fix the credentials).
    pub fn is_transient(&self) -> bool {
        matches!(self, S3Error::Unreachable { .. })
    }
}

/// A client bound to one bucket. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct LakeS3 {
    client: Client,
    bucket: String,
    /// For error messages: the custom endpoint, or AWS's regional one.
    endpoint: String,
}

impl LakeS3 {
    /// Builds the client. Does no I/O beyond reading the AWS config files and
    /// environment, except that without explicit keys, region or endpoint the
    /// standard chains may ask the EC2 instance metadata service (IMDS).
    ///
    /// Errors: `Other` when the settings are incomplete (half a key pair, no
    /// region anywhere).
    pub async fn connect(settings: &S3Settings) -> Result<LakeS3, S3Error> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            );

        match (&settings.region, &settings.endpoint) {
            (Some(region), _) => loader = loader.region(Region::new(region.clone())),
            (None, Some(_)) => {
                loader = loader.region(Region::from_static(REGION_FOR_CUSTOM_ENDPOINT))
            }
            (None, None) => {}
        }

        match (&settings.access_key_id, &settings.secret_access_key) {
            (Some(key_id), Some(secret)) => {
                loader = loader.credentials_provider(Credentials::new(
                    key_id.clone(),
                    secret.clone(),
                    None,
                    None,
                    "airless-settings",
                ));
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(S3Error::Other {
                    operation: "connect",
                    detail: "access_key_id and secret_access_key must be set together".to_owned(),
                });
            }
        }

        let shared = loader.load().await;
        let Some(region) = shared.region().cloned() else {
            return Err(S3Error::Other {
                operation: "connect",
                detail: "no AWS region: set the sink's `region` or AWS_REGION".to_owned(),
            });
        };

        let mut config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(settings.force_path_style);
        if let Some(endpoint) = &settings.endpoint {
            config = config.endpoint_url(endpoint.clone());
        }
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));

        debug!(bucket = %settings.bucket, %endpoint, "S3 client built");
        Ok(LakeS3 {
            client: Client::from_conf(config.build()),
            bucket: settings.bucket.clone(),
            endpoint,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Checks that the bucket exists and the credentials may use it
    /// (HeadBucket). Call it once before a task writes anything.
    pub async fn check_bucket(&self) -> Result<(), S3Error> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|err| self.classify("HeadBucket", err))?;
        Ok(())
    }

    /// Writes one object, replacing any object under the same key: writing a
    /// key twice is idempotent, which is what makes offset-derived keys
    /// exactly-once.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), S3Error> {
        let len = bytes.len();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| self.classify("PutObject", err))?;
        debug!(bucket = %self.bucket, key, bytes = len, "S3 object written");
        Ok(())
    }

    /// Reads one object; `None` when no object has that key.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(self.classify("GetObject", err)),
        };
        let body = output.body.collect().await.map_err(|err| S3Error::Other {
            operation: "GetObject",
            detail: format!("reading the body of `{key}`: {}", error_chain(&err)),
        })?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    /// Every key under `prefix`, in S3's (lexicographic) order, following
    /// continuation tokens past the 1,000 keys of one page.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| self.classify("ListObjectsV2", err))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// Maps an SDK error to our terms. Service errors are read by their S3
    /// code; HEAD responses carry no body, so HeadBucket is read by status.
    fn classify<E>(&self, operation: &'static str, err: SdkError<E, HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let bucket = self.bucket.clone();
        match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => S3Error::Unreachable {
                endpoint: self.endpoint.clone(),
                detail: error_chain(&err),
            },
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = service.err().code();
                let message = service.err().message().or_else(|| code.and_then(hint));
                let detail = match (code, message) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.to_owned(),
                    (None, _) => format!("HTTP {status} from {operation}"),
                };
                match code {
                    Some("NoSuchBucket") => S3Error::BucketMissing { bucket },
                    Some("NotFound") if operation == "HeadBucket" => {
                        S3Error::BucketMissing { bucket }
                    }
                    Some(
                        "AccessDenied"
                        | "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidToken"
                        | "ExpiredToken"
                        | "TokenRefreshRequired"
                        | "AllAccessDisabled"
                        | "AccountProblem"
                        | "NotSignedUp",
                    ) => S3Error::AccessDenied { bucket, detail },
                    None if status == 404 && operation == "HeadBucket" => {
                        S3Error::BucketMissing { bucket }
                    }
                    None if status == 403 || status == 401 => S3Error::AccessDenied {
                        bucket,
                        detail: format!(
                            "{detail} (a HEAD reply carries no error code: the key pair is \
                             wrong, or lacks s3:ListBucket on the bucket)"
                        ),
                    },
                    _ => S3Error::Other {
                        operation,
                        detail: format!("{detail} (bucket `{bucket}`, HTTP {status})"),
                    },
                }
            }
            SdkError::ResponseError(response) => S3Error::Other {
                operation,
                detail: format!(
                    "unreadable reply (HTTP {}) from {}: {}",
                    response.raw().status().as_u16(),
                    self.endpoint,
                    error_chain(&err)
                ),
            },
            _ => S3Error::Other {
                operation,
                detail: error_chain(&err),
            },
        }
    }
}

/// What an S3 error code means, for stores that send the code alone.
fn hint(code: &str) -> Option<&'static str> {
    match code {
        "SignatureDoesNotMatch" => Some("the secret access key does not match the access key id"),
        "InvalidAccessKeyId" => Some("the access key id does not exist"),
        "ExpiredToken" => Some("the session token has expired"),
        _ => None,
    }
}

/// `outer: inner: root`, skipping a source whose text its parent already
/// shows; the SDK's top-level messages alone ("dispatch failure") say little.
/// Shared by every aws-sdk client.
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
