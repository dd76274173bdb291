//! LakeS3 against a real-protocol S3 server (s3s-fs) on 127.0.0.1.

use crate::fakes::s3::FakeS3;
use airless::clients::s3::{LakeS3, S3Error, S3Settings};
use tempfile::TempDir;

const BUCKET: &str = "lake";

/// A fake S3 with the `lake` bucket, and settings that reach it.
async fn lake() -> (TempDir, FakeS3, S3Settings) {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeS3::start(dir.path()).await;
    fake.create_bucket(BUCKET);
    let settings = settings_for(&fake, BUCKET);
    (dir, fake, settings)
}

fn settings_for(fake: &FakeS3, bucket: &str) -> S3Settings {
    S3Settings {
        bucket: bucket.to_owned(),
        region: Some("eu-west-1".to_owned()),
        endpoint: Some(fake.endpoint.clone()),
        force_path_style: true,
        access_key_id: Some(fake.access_key.clone()),
        secret_access_key: Some(fake.secret_key.clone()),
    }
}

fn connector_key(topic: &str, offset: u64) -> String {
    format!("topics/{topic}/partition=0/{topic}+0+{offset:010}.json")
}

#[tokio::test]
async fn put_then_get_and_list_round_trip_under_the_connector_key_layout() {
    let (_dir, _fake, settings) = lake().await;
    let s3 = LakeS3::connect(&settings).await.unwrap();
    s3.check_bucket().await.unwrap();

    let key = connector_key("u.pin", 0);
    assert_eq!(key, "topics/u.pin/partition=0/u.pin+0+0000000000.json");
    let body = b"{\"index\":7528,\"title\":\"caf\xc3\xa9\"}\n{\"index\":2863}\n".to_vec();
    s3.put(&key, body.clone()).await.unwrap();
    s3.put(&connector_key("u.geo", 0), b"{}\n".to_vec())
        .await
        .unwrap();

    assert_eq!(s3.get(&key).await.unwrap(), Some(body));
    assert_eq!(s3.list("topics/u.pin/").await.unwrap(), vec![key.clone()]);
    assert_eq!(
        s3.list("topics/").await.unwrap(),
        vec![connector_key("u.geo", 0), key]
    );
}

#[tokio::test]
async fn get_of_a_key_never_written_is_none() {
    let (_dir, _fake, settings) = lake().await;
    let s3 = LakeS3::connect(&settings).await.unwrap();

    assert_eq!(s3.get(&connector_key("u.pin", 500)).await.unwrap(), None);
}

#[tokio::test]
async fn a_second_put_to_the_same_key_overwrites_instead_of_duplicating() {
    let (_dir, _fake, settings) = lake().await;
    let s3 = LakeS3::connect(&settings).await.unwrap();
    let key = connector_key("u.pin", 500);

    s3.put(&key, b"{\"try\":1}\n".to_vec()).await.unwrap();
    s3.put(&key, b"{\"try\":2}\n".to_vec()).await.unwrap();

    assert_eq!(s3.get(&key).await.unwrap(), Some(b"{\"try\":2}\n".to_vec()));
    assert_eq!(s3.list("topics/").await.unwrap(), vec![key]);
}

#[tokio::test]
async fn list_follows_continuation_tokens_past_a_thousand_keys() {
    let (_dir, _fake, settings) = lake().await;
    let s3 = LakeS3::connect(&settings).await.unwrap();

    // One more key than S3 returns in one page (max-keys defaults to 1,000).
    let mut writes = tokio::task::JoinSet::new();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    for offset in 0..1_001 {
        let s3 = s3.clone();
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        writes.spawn(async move {
            s3.put(&connector_key("u.user", offset), b"{}\n".to_vec())
                .await
                .unwrap();
            drop(permit);
        });
    }
    writes.join_all().await;

    let keys = s3.list("topics/u.user/").await.unwrap();
    let expected: Vec<String> = (0..1_001).map(|o| connector_key("u.user", o)).collect();
    assert_eq!(keys.len(), 1_001);
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn a_missing_bucket_is_reported_as_bucket_missing() {
    let (_dir, fake, _) = lake().await;
    let s3 = LakeS3::connect(&settings_for(&fake, "no-such-lake"))
        .await
        .unwrap();

    let head = s3.check_bucket().await.unwrap_err();
    assert!(
        matches!(&head, S3Error::BucketMissing { bucket } if bucket == "no-such-lake"),
        "{head:?}"
    );
    assert_eq!(
        head.to_string(),
        "S3 bucket `no-such-lake` does not exist (NoSuchBucket)"
    );

    let put = s3
        .put(&connector_key("u.pin", 0), b"{}\n".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(put, S3Error::BucketMissing { .. }), "{put:?}");
    let list = s3.list("topics/").await.unwrap_err();
    assert!(matches!(list, S3Error::BucketMissing { .. }), "{list:?}");
    let get = s3.get(&connector_key("u.pin", 0)).await.unwrap_err();
    assert!(matches!(get, S3Error::BucketMissing { .. }), "{get:?}");
}

#[tokio::test]
async fn a_wrong_secret_is_reported_as_access_denied() {
    let (_dir, _fake, mut settings) = lake().await;
    settings.secret_access_key = Some("not-the-secret".to_owned());
    let s3 = LakeS3::connect(&settings).await.unwrap();

    let put = s3
        .put(&connector_key("u.pin", 0), b"{}\n".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(&put, S3Error::AccessDenied { bucket, .. } if bucket == BUCKET),
        "{put:?}"
    );
    let message = put.to_string();
    assert_eq!(
        message,
        "access to S3 bucket `lake` was denied; check the AWS credentials: \
         SignatureDoesNotMatch: the secret access key does not match the access key id"
    );

    // HeadBucket's 403 has no body, hence no error code: the status decides.
    let head = s3.check_bucket().await.unwrap_err();
    assert_eq!(
        head.to_string(),
        "access to S3 bucket `lake` was denied; check the AWS credentials: \
         HTTP 403 from HeadBucket (a HEAD reply carries no error code: the key pair is \
         wrong, or lacks s3:ListBucket on the bucket)"
    );
}

#[tokio::test]
async fn an_unknown_access_key_is_reported_as_access_denied() {
    let (_dir, _fake, mut settings) = lake().await;
    settings.access_key_id = Some("AKIANOBODY".to_owned());
    let s3 = LakeS3::connect(&settings).await.unwrap();

    let list = s3.list("topics/").await.unwrap_err();
    assert!(matches!(list, S3Error::AccessDenied { .. }), "{list:?}");
    // Real S3 says InvalidAccessKeyId; s3s says NotSignedUp. Both mean the key.
    assert!(
        list.to_string()
            .starts_with("access to S3 bucket `lake` was denied; check the AWS credentials: "),
        "{list}"
    );
}

#[tokio::test]
async fn nothing_listening_on_the_endpoint_is_reported_as_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = S3Settings {
        bucket: BUCKET.to_owned(),
        region: None,
        endpoint: Some(endpoint.clone()),
        force_path_style: true,
        access_key_id: Some("AKIAAIRLESSTEST".to_owned()),
        secret_access_key: Some("secret".to_owned()),
    };
    let s3 = LakeS3::connect(&settings).await.unwrap();

    let err = s3.check_bucket().await.unwrap_err();
    assert!(
        matches!(&err, S3Error::Unreachable { endpoint: e, .. } if *e == endpoint),
        "{err:?}"
    );
    assert!(err.is_transient());
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("S3 endpoint {endpoint} is unreachable: ")),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
}

#[tokio::test]
async fn half_a_key_pair_is_rejected_before_any_request() {
    let settings = S3Settings {
        bucket: BUCKET.to_owned(),
        endpoint: Some("http://127.0.0.1:9".to_owned()),
        access_key_id: Some("AKIAAIRLESSTEST".to_owned()),
        ..S3Settings::default()
    };

    let err = LakeS3::connect(&settings).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "S3 connect failed: access_key_id and secret_access_key must be set together"
    );
}

#[test]
fn settings_debug_never_shows_the_secret() {
    let settings = S3Settings {
        bucket: BUCKET.to_owned(),
        access_key_id: Some("AKIAAIRLESSTEST".to_owned()),
        secret_access_key: Some("hunter2".to_owned()),
        ..S3Settings::default()
    };

    let debug = format!("{settings:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
}
