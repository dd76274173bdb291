//! Reads a live MWAA environment for `airless port mwaa`: GetEnvironment for
//! the DAG bucket, DAG folder and Airflow version, S3 for the DAG files, and
//! InvokeRestApi for each DAG's paused state and last scheduled run, so the
//! ported DAG starts at the first interval MWAA has not run. Read-only on
//! the AWS side; depends on the AWS SDK and `crate::port`'s types only.

mod dag_files;
mod interceptor;
mod rest;

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_mwaa::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_mwaa::operation::get_environment::GetEnvironmentError;
use aws_types::service_config::ServiceConfigKey;
use tracing::{debug, info};

use crate::clients::s3::error_chain;
use crate::port::{LiveState, SourceFile};
use interceptor::StripHostPrefix;
use rest::{AirflowApi, Dialect};

/// Attempts per AWS request, the first included; the SDK's standard mode
/// retries throttling and transient failures only.
const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// SigV4 needs a region even for a custom endpoint that ignores it.
const REGION_FOR_CUSTOM_ENDPOINT: &str = "us-east-1";

/// Which environment to read, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MwaaRequest {
    pub environment: String,
    /// `None`: the standard region chain (AWS_REGION, the profile).
    pub region: Option<String>,
    /// A custom endpoint for both MWAA and S3 (LocalStack, a proxy); `None`
    /// for AWS, or for the per-service `AWS_ENDPOINT_URL_MWAA` /
    /// `AWS_ENDPOINT_URL_S3` of the standard chain.
    pub endpoint_url: Option<String>,
}

/// What the porter needs from a live environment.
pub struct MwaaSnapshot {
    /// GetEnvironment's AirflowVersion, such as `2.10.3`.
    pub airflow_version: String,
    /// Every `*.py` under the DAG folder, in key order; paths are
    /// `s3://bucket/key`.
    pub sources: Vec<SourceFile>,
    /// Every DAG Airflow lists, by dag_id. `last_run` is the newest
    /// `scheduled` or `backfill` run; manual runs never count, as they do
    /// not move Airflow's schedule either.
    pub live: BTreeMap<String, LiveState>,
}

/// Why an environment could not be read, with what a person can do about it.
#[derive(Debug, thiserror::Error)]
pub enum MwaaError {
    #[error("no AWS region: pass --region, or set AWS_REGION or `region` in the AWS profile")]
    NoRegion,
    #[error(
        "no MWAA environment named `{environment}` in region {region}; check the name and \
         the region (`aws mwaa list-environments --region {region}`)"
    )]
    EnvironmentNotFound { environment: String, region: String },
    #[error(
        "access denied: the AWS credentials may not perform {action} on {resource}; allow it \
         in the caller's IAM policy ({detail})"
    )]
    AccessDenied {
        /// The IAM action, such as `airflow:GetEnvironment` or `s3:GetObject`.
        action: &'static str,
        resource: String,
        detail: String,
    },
    #[error(
        "Airflow in environment `{environment}` answered 403 Forbidden to GET {path}: the \
         Airflow role the credentials map to may not make this call; allow \
         airflow:InvokeRestApi on a role that can read DAGs and DAG runs, such as \
         {role_arn_prefix}Viewer (or User, Op)"
    )]
    RestApiForbidden {
        environment: String,
        path: String,
        /// `arn:aws:airflow:<region>:<account>:role/<environment>/`.
        role_arn_prefix: String,
    },
    #[error(
        "Airflow in environment `{environment}` answered HTTP {status} to GET {path}: {detail}"
    )]
    RestApi {
        environment: String,
        path: String,
        status: i32,
        detail: String,
    },
    #[error(
        "the Airflow REST path `{path}` is longer than the 64 characters InvokeRestApi \
         accepts, so this DAG's runs cannot be read through MWAA"
    )]
    PathTooLong { path: String },
    #[error("unexpected reply from Airflow to GET {path}: {detail}")]
    UnexpectedReply { path: String, detail: String },
    #[error("environment `{environment}` has no usable {field} ({detail})")]
    IncompleteEnvironment {
        environment: String,
        field: &'static str,
        detail: String,
    },
    #[error("the environment's DAG bucket `{bucket}` does not exist (NoSuchBucket)")]
    DagBucketMissing { bucket: String },
    #[error("DAG file s3://{bucket}/{key} is not UTF-8 text")]
    NotUtf8 { bucket: String, key: String },
    #[error("{service} is unreachable: {detail}")]
    Unreachable {
        service: &'static str,
        detail: String,
    },
    #[error("{operation} failed: {detail}")]
    Aws {
        operation: &'static str,
        detail: String,
    },
}

/// Reads the environment with AWS credentials and region from the standard
/// chain; `req.region` overrides the region, `req.endpoint_url` the endpoint
/// of both MWAA and S3.
///
/// Errors: see [`MwaaError`]; nothing is written anywhere.
pub async fn fetch(req: &MwaaRequest) -> Result<MwaaSnapshot, MwaaError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        );
    if let Some(region) = &req.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let mut config = loader.load().await;
    if config.region().is_none() && req.endpoint_url.is_some() {
        config = config
            .into_builder()
            .region(Region::from_static(REGION_FOR_CUSTOM_ENDPOINT))
            .build();
    }
    fetch_with_config(&config, req).await
}

/// [`fetch`] with a given AWS configuration (credentials, region, retries,
/// per-service endpoints); `req.region` and `req.endpoint_url` still win.
pub async fn fetch_with_config(
    config: &SdkConfig,
    req: &MwaaRequest,
) -> Result<MwaaSnapshot, MwaaError> {
    let region = req
        .region
        .clone()
        .map(Region::new)
        .or_else(|| config.region().cloned())
        .ok_or(MwaaError::NoRegion)?;

    let mut mwaa_config = aws_sdk_mwaa::config::Builder::from(config).region(region.clone());
    let mut s3_config = aws_sdk_s3::config::Builder::from(config).region(region.clone());
    if let Some(endpoint) = &req.endpoint_url {
        mwaa_config = mwaa_config.endpoint_url(endpoint.clone());
        s3_config = s3_config.endpoint_url(endpoint.clone());
    }
    if let Some(endpoint) = custom_endpoint(config, req, "MWAA") {
        let strip = StripHostPrefix::for_endpoint(&endpoint).ok_or_else(|| MwaaError::Aws {
            operation: "GetEnvironment",
            detail: format!("the endpoint `{endpoint}` is not a URL such as http://host:port"),
        })?;
        mwaa_config = mwaa_config.interceptor(strip);
    }
    if custom_endpoint(config, req, "S3").is_some() {
        // S3-compatible stores rarely resolve `bucket.host` names.
        s3_config = s3_config.force_path_style(true);
    }
    let mwaa = aws_sdk_mwaa::Client::from_conf(mwaa_config.build());
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());

    let environment = get_environment(&mwaa, &req.environment, region.as_ref()).await?;
    info!(
        environment = %req.environment,
        airflow_version = %environment.airflow_version,
        bucket = %environment.bucket,
        dag_s3_path = %environment.dag_s3_path,
        "MWAA environment found"
    );

    let api = AirflowApi {
        client: mwaa,
        environment: req.environment.clone(),
        region: region.to_string(),
        role_arn_prefix: environment.role_arn_prefix.clone(),
        dialect: Dialect::from_version(&environment.airflow_version),
    };
    let (sources, live) = tokio::try_join!(
        dag_files::download(&s3, &environment.bucket, &environment.dag_s3_path),
        api.live_states(),
    )?;
    debug!(
        files = sources.len(),
        dags = live.len(),
        "MWAA snapshot taken"
    );
    Ok(MwaaSnapshot {
        airflow_version: environment.airflow_version,
        sources,
        live,
    })
}

/// The parts of GetEnvironment the port uses.
struct Environment {
    airflow_version: String,
    bucket: String,
    dag_s3_path: String,
    role_arn_prefix: String,
}

async fn get_environment(
    client: &aws_sdk_mwaa::Client,
    name: &str,
    region: &str,
) -> Result<Environment, MwaaError> {
    let output = client
        .get_environment()
        .name(name)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(GetEnvironmentError::ResourceNotFoundException(_)) => {
                MwaaError::EnvironmentNotFound {
                    environment: name.to_owned(),
                    region: region.to_owned(),
                }
            }
            Some(e) if e.code() == Some("AccessDeniedException") => MwaaError::AccessDenied {
                action: "airflow:GetEnvironment",
                resource: format!("arn:aws:airflow:{region}:<account>:environment/{name}"),
                detail: service_detail(&err),
            },
            _ => aws_failure("MWAA", "GetEnvironment", err),
        })?;
    let incomplete = |field: &'static str, detail: &str| MwaaError::IncompleteEnvironment {
        environment: name.to_owned(),
        field,
        detail: detail.to_owned(),
    };
    let Some(env) = output.environment() else {
        return Err(incomplete("Environment", "GetEnvironment returned none"));
    };
    let airflow_version = env
        .airflow_version()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| incomplete("AirflowVersion", "missing"))?;
    let bucket_arn = env
        .source_bucket_arn()
        .ok_or_else(|| incomplete("SourceBucketArn", "missing"))?;
    let bucket = dag_files::bucket_from_arn(bucket_arn).ok_or_else(|| {
        incomplete(
            "SourceBucketArn",
            &format!("`{bucket_arn}` is not an S3 bucket ARN"),
        )
    })?;
    let dag_s3_path = env
        .dag_s3_path()
        .ok_or_else(|| incomplete("DagS3Path", "missing"))?;
    // `arn:aws:airflow:R:ACCOUNT:environment/NAME` -> `…:role/NAME/`, the
    // resource airflow:InvokeRestApi is granted on.
    let role_arn_prefix = env
        .arn()
        .and_then(|arn| arn.split_once(":environment/"))
        .map(|(head, env_name)| format!("{head}:role/{env_name}/"))
        .unwrap_or_else(|| format!("arn:aws:airflow:{region}:<account>:role/{name}/"));
    Ok(Environment {
        airflow_version: airflow_version.to_owned(),
        bucket: bucket.to_owned(),
        dag_s3_path: dag_s3_path.to_owned(),
        role_arn_prefix,
    })
}

/// The custom endpoint the SDK will use for `service_id` (`MWAA`, `S3`),
/// resolved as the SDK does: the request's, then the per-service one of the
/// shared config (`AWS_ENDPOINT_URL_<SERVICE>`), then its global one.
fn custom_endpoint(config: &SdkConfig, req: &MwaaRequest, service_id: &str) -> Option<String> {
    if let Some(endpoint) = &req.endpoint_url {
        return Some(endpoint.clone());
    }
    config
        .service_config()
        .and_then(|services| {
            let key = ServiceConfigKey::builder()
                .service_id(service_id)
                .env("AWS_ENDPOINT_URL")
                .profile("endpoint_url")
                .build()
                .ok()?;
            services.load_config(key)
        })
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// An AWS error no variant above names, in the least surprising words.
fn aws_failure<E, R>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, R>,
) -> MwaaError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            MwaaError::Unreachable {
                service,
                detail: error_chain(&err),
            }
        }
        SdkError::TimeoutError(_) => MwaaError::Unreachable {
            service,
            detail: error_chain(&err),
        },
        SdkError::ServiceError(_) => MwaaError::Aws {
            operation,
            detail: service_detail(&err),
        },
        _ => MwaaError::Aws {
            operation,
            detail: error_chain(&err),
        },
    }
}

/// `Code: message` of a service error, or the error chain.
fn service_detail<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(e) => match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            (None, _) => error_chain(err),
        },
        None => error_chain(err),
    }
}
