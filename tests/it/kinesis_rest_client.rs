use std::time::Duration;

use airless::clients::kinesis_rest::{KinesisRestClient, KinesisRestError};
use airless::clients::retry::RetryPolicy;
use serde_json::json;

use crate::fakes::kafka_rest::{FakeKafkaRest, Route};

fn client(base_url: &str) -> KinesisRestClient {
    KinesisRestClient::new(base_url, reqwest::Client::new())
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        })
}

#[tokio::test]
async fn put_record_stores_the_record_and_returns_its_sequence_number() {
    let fake = FakeKafkaRest::start().await;
    let kinesis = client(&fake.base_url);
    let data = json!({ "index": 7528, "title": "No Title Data Available" });

    let reply = kinesis
        .put_record("streaming-user-pin", &data, "partition-1")
        .await
        .unwrap();

    let stored = fake.kinesis_records("streaming-user-pin");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, data);
    assert_eq!(stored[0].partition_key, "partition-1");
    assert_eq!(stored[0].sequence_number, reply.sequence_number);
    assert_eq!(reply.shard_id, "shardId-000000000000");
}

#[tokio::test]
async fn put_record_retries_a_server_error() {
    let fake = FakeKafkaRest::start().await;
    let kinesis = client(&fake.base_url);
    fake.fail_next_requests(1);

    kinesis.put_record("s", &json!({}), "k").await.unwrap();

    assert_eq!(fake.calls(Route::PutRecord), 2);
    assert_eq!(fake.kinesis_records("s").len(), 1);
}

#[tokio::test]
async fn put_record_gives_up_with_the_gateway_status_when_it_keeps_failing() {
    let fake = FakeKafkaRest::start().await;
    let kinesis = client(&fake.base_url);
    fake.fail_route(Route::PutRecord);

    let error = kinesis.put_record("s", &json!({}), "k").await.unwrap_err();

    assert!(
        matches!(error, KinesisRestError::Rejected { status: 500, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(fake.calls(Route::PutRecord), 3);
}
