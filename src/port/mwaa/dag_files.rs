//! The environment's DAG files: every `*.py` under its DAG folder in its
//! source bucket, listed page by page and downloaded as text. Python files
//! in subfolders count (Airflow scans the folder recursively); anything else
//! (`.airflowignore`, SQL, zips) is skipped. Depends on aws-sdk-s3 only.

use aws_sdk_s3::Client;
use tracing::debug;

use super::{MwaaError, aws_failure};
use crate::port::SourceFile;

/// The bucket of a source bucket ARN, `arn:<partition>:s3:::<bucket>`.
pub(super) fn bucket_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service, region, account, bucket) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let valid = arn_word == "arn"
        && service == "s3"
        && region.is_empty()
        && account.is_empty()
        && !bucket.is_empty()
        && !bucket.contains('/');
    valid.then_some(bucket)
}

/// The key prefix of a DagS3Path: `dags` -> `dags/`; the bucket root -> ``.
pub(super) fn key_prefix(dag_s3_path: &str) -> String {
    let path = dag_s3_path.trim_matches('/');
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    }
}

/// Lists and downloads the DAG files, in key order.
///
/// Errors: `AccessDenied` naming s3:ListBucket or s3:GetObject,
/// `DagBucketMissing`, `NotUtf8` for a file that is not text.
pub(super) async fn download(
    client: &Client,
    bucket: &str,
    dag_s3_path: &str,
) -> Result<Vec<SourceFile>, MwaaError> {
    let prefix = key_prefix(dag_s3_path);
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| {
            s3_failure(
                "ListObjectsV2",
                "s3:ListBucket",
                format!("arn:aws:s3:::{bucket}"),
                bucket,
                err,
            )
        })?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|object| object.key())
                .filter(|key| key.ends_with(".py"))
                .map(str::to_owned),
        );
    }
    keys.sort();

    let mut files = Vec::with_capacity(keys.len());
    for key in keys {
        let resource = format!("arn:aws:s3:::{bucket}/{key}");
        let output = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|err| s3_failure("GetObject", "s3:GetObject", resource, bucket, err))?;
        let body = output.body.collect().await.map_err(|err| MwaaError::Aws {
            operation: "GetObject",
            detail: format!("reading s3://{bucket}/{key}: {err}"),
        })?;
        let text =
            String::from_utf8(body.into_bytes().to_vec()).map_err(|_| MwaaError::NotUtf8 {
                bucket: bucket.to_owned(),
                key: key.clone(),
            })?;
        debug!(bucket, key, bytes = text.len(), "DAG file downloaded");
        files.push(SourceFile {
            path: format!("s3://{bucket}/{key}"),
            text,
        });
    }
    Ok(files)
}

fn s3_failure<E>(
    operation: &'static str,
    action: &'static str,
    resource: String,
    bucket: &str,
    err: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> MwaaError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.as_service_error().and_then(|e| e.code());
    match code {
        Some("AccessDenied" | "AllAccessDisabled") => MwaaError::AccessDenied {
            action,
            resource,
            detail: super::service_detail(&err),
        },
        Some("NoSuchBucket") => MwaaError::DagBucketMissing {
            bucket: bucket.to_owned(),
        },
        _ => aws_failure("S3", operation, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::{ErrorMetadata, SdkError};
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn s3_error(code: &str) -> SdkError<ListObjectsV2Error, HttpResponse> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("not for you")
            .build();
        let status = StatusCode::try_from(403).unwrap();
        SdkError::service_error(
            ListObjectsV2Error::generic(meta),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    #[test]
    fn s3_access_denied_names_the_action_and_the_bucket() {
        let err = s3_failure(
            "ListObjectsV2",
            "s3:ListBucket",
            "arn:aws:s3:::dags-bucket".to_owned(),
            "dags-bucket",
            s3_error("AccessDenied"),
        );
        let message = err.to_string();
        assert!(matches!(err, MwaaError::AccessDenied { .. }), "{message}");
        assert!(message.contains("s3:ListBucket"), "{message}");
        assert!(message.contains("arn:aws:s3:::dags-bucket"), "{message}");
        assert!(message.contains("AccessDenied: not for you"), "{message}");
    }

    #[test]
    fn bucket_arns_name_their_bucket() {
        assert_eq!(
            bucket_from_arn("arn:aws:s3:::airflow-prod"),
            Some("airflow-prod")
        );
        assert_eq!(bucket_from_arn("arn:aws-cn:s3:::b"), Some("b"));
        assert_eq!(bucket_from_arn("arn:aws:s3:::"), None);
        assert_eq!(bucket_from_arn("arn:aws:s3:::b/dags"), None);
        assert_eq!(bucket_from_arn("arn:aws:iam::123:role/x"), None);
        assert_eq!(bucket_from_arn("airflow-prod"), None);
    }

    #[test]
    fn dag_paths_become_key_prefixes() {
        assert_eq!(key_prefix("dags"), "dags/");
        assert_eq!(key_prefix("/team/dags/"), "team/dags/");
        assert_eq!(key_prefix(""), "");
    }
}
