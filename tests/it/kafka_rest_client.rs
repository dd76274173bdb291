use std::time::Duration;

use airless::clients::kafka_rest::{
    InstanceAddressing, KafkaRestClient, KafkaRestError, RecordOffset,
};
use airless::clients::retry::RetryPolicy;
use serde_json::{Value, json};

use crate::fakes::kafka_rest::{FakeKafkaRest, Route};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

fn client(base_url: &str) -> KafkaRestClient {
    KafkaRestClient::new(base_url, reqwest::Client::new())
        .unwrap()
        .with_retry(fast_retry())
}

fn posts(range: std::ops::Range<i64>) -> Vec<Value> {
    range
        .map(|i| json!({ "index": i, "title": format!("post {i}"), "follower_count": "5k" }))
        .collect()
}

/// Fetches until the consumer reaches `end`, as `ingest` does.
async fn drain(consumer: &airless::clients::kafka_rest::Consumer, end: i64) -> (Vec<Value>, usize) {
    let mut values = Vec::new();
    let mut fetches = 0;
    let mut next = None;
    while next.is_none_or(|n| n < end) {
        let records = consumer
            .fetch(Duration::from_millis(100), 1_000_000)
            .await
            .unwrap();
        fetches += 1;
        assert!(fetches < 100, "never caught up with end offset {end}");
        for record in records {
            if let Some(n) = next {
                assert_eq!(record.offset, n, "offsets must be contiguous");
            }
            next = Some(record.offset + 1);
            values.push(record.value);
        }
    }
    (values, fetches)
}

#[tokio::test]
async fn produce_returns_one_offset_per_record_in_order() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);

    let first = kafka.produce("user.pin", &posts(0..3)).await.unwrap();
    let second = kafka.produce("user.pin", &posts(3..5)).await.unwrap();

    let offsets: Vec<i64> = first.iter().chain(&second).map(|o| o.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
    assert_eq!(
        first[0],
        RecordOffset {
            partition: 0,
            offset: 0
        }
    );
    assert_eq!(fake.topic("user.pin"), posts(0..5));
}

#[tokio::test]
async fn produce_fails_when_any_record_is_rejected_and_says_which_error() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);
    fake.reject_records_in_next_produce(&[1, 3], 2, "Leader not available");

    let error = kafka.produce("user.geo", &posts(0..4)).await.unwrap_err();

    match &error {
        KafkaRestError::RecordsRejected {
            failed,
            total,
            first_error_code,
            retriable,
            ..
        } => {
            assert_eq!((*failed, *total, *first_error_code), (2, 4, 2));
            assert!(retriable);
        }
        other => panic!("expected RecordsRejected, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "2 of 4 records to topic user.geo were rejected, first (error_code 2): Leader not available"
    );
    assert!(error.is_transient());
    assert_eq!(
        fake.calls(Route::Produce),
        1,
        "a 200 with record errors is not retried here"
    );
}

#[tokio::test]
async fn a_consumer_reads_a_topic_to_its_end_offset_across_several_fetches_and_commits() {
    let fake = FakeKafkaRest::start().await;
    fake.set_max_records_per_fetch(7);
    let kafka = client(&fake.base_url);
    kafka.produce("user.user", &posts(0..25)).await.unwrap();

    let end = kafka.end_offset("user.user", 0).await.unwrap();
    let consumer = kafka.create_consumer("ingest", "ingest-1").await.unwrap();
    consumer.subscribe(&["user.user"]).await.unwrap();
    assert!(
        consumer
            .committed(&[("user.user", 0)])
            .await
            .unwrap()
            .is_empty()
    );

    let (values, fetches) = drain(&consumer, end).await;
    consumer.commit(&[("user.user", 0, end)]).await.unwrap();

    assert_eq!(end, 25);
    assert_eq!(values, posts(0..25));
    assert_eq!(fetches, 4);
    assert_eq!(fake.committed("ingest", "user.user"), Some(25));
    let committed = consumer.committed(&[("user.user", 0)]).await.unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].next_offset, 25);
    consumer.delete().await.unwrap();
    assert!(fake.instances("ingest").is_empty());
}

#[tokio::test]
async fn a_second_consumer_in_the_same_group_starts_after_the_commit() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);
    kafka.produce("user.pin", &posts(0..10)).await.unwrap();
    let first = kafka.create_consumer("ingest", "run-1").await.unwrap();
    first.subscribe(&["user.pin"]).await.unwrap();
    drain(&first, 10).await;
    first.commit(&[("user.pin", 0, 10)]).await.unwrap();
    first.delete().await.unwrap();

    kafka.produce("user.pin", &posts(10..13)).await.unwrap();
    let second = kafka.create_consumer("ingest", "run-2").await.unwrap();
    second.subscribe(&["user.pin"]).await.unwrap();
    let records = second
        .fetch(Duration::from_millis(100), 1_000_000)
        .await
        .unwrap();

    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [10, 11, 12]);
    assert_eq!(records[0].value, posts(10..11)[0]);
}

#[tokio::test]
async fn a_consumer_can_follow_the_base_uri_the_proxy_returns() {
    let fake = FakeKafkaRest::start().await;
    fake.seed("user.pin", posts(0..2));
    let kafka = client(&fake.base_url).with_instance_addressing(InstanceAddressing::ProxyBaseUri);

    let consumer = kafka.create_consumer("ingest", "c").await.unwrap();
    consumer.subscribe(&["user.pin"]).await.unwrap();
    let records = consumer
        .fetch(Duration::from_millis(10), 1_000)
        .await
        .unwrap();

    assert_eq!(records.len(), 2);
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_call_succeeds_once_the_proxy_recovers() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);
    fake.fail_next_requests(2);

    let offsets = kafka.produce("user.pin", &posts(0..2)).await.unwrap();

    assert_eq!(offsets.len(), 2);
    assert_eq!(fake.calls(Route::Produce), 3);
    assert_eq!(fake.topic("user.pin").len(), 2);
}

#[tokio::test]
async fn a_route_that_keeps_failing_gives_up_after_the_policy_attempts_with_the_proxy_message() {
    let fake = FakeKafkaRest::start().await;
    fake.seed("user.pin", posts(0..1));
    let kafka = client(&fake.base_url).with_retry(RetryPolicy {
        max_attempts: 3,
        ..fast_retry()
    });
    let consumer = kafka.create_consumer("ingest", "c").await.unwrap();
    consumer.subscribe(&["user.pin"]).await.unwrap();
    fake.fail_route(Route::Fetch);

    let error = consumer
        .fetch(Duration::from_millis(10), 1_000)
        .await
        .unwrap_err();

    assert_eq!(fake.calls(Route::Fetch), 3);
    assert!(error.is_transient());
    assert_eq!(
        error.to_string(),
        "fetch records for consumer c failed: kafka rest proxy answered 500 (50002): Kafka error."
    );
    fake.heal_route(Route::Fetch);
    assert_eq!(
        consumer
            .fetch(Duration::from_millis(10), 1_000)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);

    let error = kafka.end_offset("missing", 0).await.unwrap_err();

    assert!(
        matches!(error, KafkaRestError::TopicNotFound { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "topic missing not found (40401): Topic not found."
    );
    assert!(!error.is_transient());
    assert_eq!(fake.calls(Route::PartitionOffsets), 1);
}

#[tokio::test]
async fn a_proxy_that_is_down_is_unreachable_and_the_error_names_its_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let kafka = client(&base_url);

    let error = kafka.produce("user.pin", &posts(0..1)).await.unwrap_err();

    assert!(
        matches!(error, KafkaRestError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("{base_url}/topics/user.pin")),
        "{message}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "keeps the connection error"
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn an_expired_instance_gives_the_40403_error_with_the_proxy_message() {
    let fake = FakeKafkaRest::start().await;
    fake.seed("user.pin", posts(0..1));
    let kafka = client(&fake.base_url);
    let consumer = kafka.create_consumer("ingest", "ingest-7").await.unwrap();
    consumer.subscribe(&["user.pin"]).await.unwrap();
    fake.expire_instance("ingest", "ingest-7");

    let error = consumer
        .fetch(Duration::from_millis(10), 1_000)
        .await
        .unwrap_err();

    assert!(
        matches!(error, KafkaRestError::InstanceNotFound { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "consumer instance ingest-7 of group ingest expired or not found (40403): Consumer instance not found."
    );
    assert_eq!(fake.calls(Route::Fetch), 1, "a 404 is not retried");
    consumer.delete().await.unwrap();
}

#[tokio::test]
async fn a_consumer_name_already_in_use_is_a_conflict() {
    let fake = FakeKafkaRest::start().await;
    let kafka = client(&fake.base_url);
    let _first = kafka.create_consumer("ingest", "same").await.unwrap();

    let error = kafka.create_consumer("ingest", "same").await.unwrap_err();

    match error {
        KafkaRestError::Proxy {
            status, error_code, ..
        } => assert_eq!((status, error_code), (409, Some(40902))),
        other => panic!("expected a 409, got {other:?}"),
    }
}
