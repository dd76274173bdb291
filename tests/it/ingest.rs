//! `ingest` end to end: emulate → the Kafka REST test proxy → ingest → a lake
//! folder in the S3 sink connector's layout; every record exactly once, also
//! after a failure between an object's write and its commit.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use airless::model::RunState;

use crate::fakes::kafka_rest::{FakeKafkaRest, Route};
use crate::support::TestEnv;

const TOPICS: [&str; 3] = ["u.pin", "u.geo", "u.user"];

fn pipeline(proxy: &str, lake: &Path, posts: u64) -> String {
    format!(
        r#"
dag_id: pipeline
tasks:
  - task_id: emulate
    kind: emulate
    source: demo
    records: {posts}
    streams: {{ pinterest_data: u.pin, geolocation_data: u.geo, user_data: u.user }}
    sink: {{ kind: kafka_rest, url: "{proxy}" }}
  - task_id: ingest
    kind: ingest
    depends_on: [emulate]
    flush_size: 7
    source: {{ kind: kafka_rest, url: "{proxy}", group: lake, topics: [u.pin, u.geo, u.user] }}
    sink: {{ kind: dir, path: "{lake}" }}
"#,
        lake = lake.display()
    )
}

/// Object name → records, for one topic.
fn objects(lake: &Path, topic: &str) -> BTreeMap<String, Vec<Value>> {
    let dir = lake.join(format!("topics/{topic}/partition=0"));
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .map(|p| {
                    let text = std::fs::read_to_string(&p).unwrap();
                    (
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        text.lines()
                            .map(|l| serde_json::from_str(l).unwrap())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn assert_landed_once(lake: &Path, proxy: &FakeKafkaRest, posts: usize) {
    for topic in TOPICS {
        let objects = objects(lake, topic);
        let expected: Vec<String> = (0..posts)
            .step_by(7)
            .map(|o| format!("{topic}+0+{o:010}.json"))
            .collect();
        assert_eq!(
            objects.keys().cloned().collect::<Vec<_>>(),
            expected,
            "{topic}: the connector's keys"
        );
        let landed: Vec<Value> = objects.into_values().flatten().collect();
        assert_eq!(
            landed,
            proxy.topic(topic),
            "{topic}: every record once, in order"
        );
    }
}

async fn setup(posts: u64) -> (TestEnv, FakeKafkaRest, std::path::PathBuf) {
    let proxy = FakeKafkaRest::start().await;
    for topic in TOPICS {
        proxy.create_topic(topic);
    }
    proxy.set_max_records_per_fetch(10);
    let env = TestEnv::new().await;
    let lake = env.path("lake");
    let _ = posts;
    (env, proxy, lake)
}

#[tokio::test]
async fn every_record_lands_once_under_the_connectors_keys() {
    let (env, proxy, lake) = setup(30).await;
    let dag = env.dag(&pipeline(&proxy.base_url, &lake, 30));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("ingest").error);
    assert_eq!(
        tis.get("ingest").output,
        Some(json!({"records": {"u.geo": 30, "u.pin": 30, "u.user": 30}, "objects": 15}))
    );
    assert_landed_once(&lake, &proxy, 30);
    for topic in TOPICS {
        assert_eq!(proxy.committed("lake", topic), Some(30));
    }
    assert!(
        proxy.instances("lake").is_empty(),
        "the consumer instance is deleted"
    );
}

#[tokio::test]
async fn a_failed_commit_after_an_object_write_then_a_rerun_duplicates_and_loses_nothing() {
    let (env, proxy, lake) = setup(30).await;
    let dag = env.dag(&pipeline(&proxy.base_url, &lake, 30));
    proxy.fail_route(Route::Commit);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("ingest").error.clone().unwrap();
    assert!(
        error.contains("is written but committing offset 7 failed"),
        "{error}"
    );
    assert!(
        error.contains("the retry rewrites the same object"),
        "{error}"
    );
    let written: usize = TOPICS.iter().map(|t| objects(&lake, t).len()).sum();
    assert_eq!(
        written, 1,
        "one object was written before its commit failed"
    );
    assert!(
        proxy.instances("lake").is_empty(),
        "the instance is deleted on failure too"
    );

    proxy.heal_route(Route::Commit);
    // the re-run: emulate sends 30 more posts, ingest resumes from the last commit
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("ingest").error);
    assert_landed_once(&lake, &proxy, 60);
}

#[tokio::test]
async fn a_second_ingest_with_nothing_new_lands_nothing() {
    let (env, proxy, lake) = setup(10).await;
    let dag = env.dag(&pipeline(&proxy.base_url, &lake, 10).replace("records: 10", "records: 0"));
    for topic in TOPICS {
        proxy.seed(topic, (0..10).map(|i| json!({"i": i})));
    }
    let (state, _) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    assert_eq!(
        tis.get("ingest").output,
        Some(json!({"records": {"u.geo": 0, "u.pin": 0, "u.user": 0}, "objects": 0}))
    );
    assert_landed_once(&lake, &proxy, 10);
}

#[tokio::test]
async fn a_proxy_that_is_down_fails_ingest_naming_it() {
    let env = TestEnv::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "dag_id: down\ntasks:\n  - task_id: ingest\n    kind: ingest\n    source: {{ kind: kafka_rest, url: \"http://127.0.0.1:{port}\", group: g, topics: [t] }}\n    sink: {{ kind: dir, path: lake }}\n"
    );
    let (state, tis) = env.run(&env.dag(&yaml)).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("ingest").error.clone().unwrap();
    assert!(
        error.starts_with(&format!("kafka rest proxy at http://127.0.0.1:{port}")),
        "{error}"
    );
    assert!(error.contains("is unreachable"), "{error}");
}

fn s3_sink(s3: &crate::fakes::s3::FakeS3, bucket: &str, secret: &str) -> String {
    format!(
        "{{ kind: s3, bucket: {bucket}, endpoint: \"{}\", path_style: true, region: us-east-1, access_key_id: {}, secret_access_key: \"{secret}\" }}",
        s3.endpoint, s3.access_key
    )
}

#[tokio::test]
async fn every_record_lands_once_in_s3_under_the_connectors_keys() {
    let (env, proxy, _lake) = setup(16).await;
    let s3_dir = env.path("s3");
    std::fs::create_dir_all(&s3_dir).unwrap();
    let s3 = crate::fakes::s3::FakeS3::start(&s3_dir).await;
    s3.create_bucket("lake");
    let yaml = pipeline(&proxy.base_url, Path::new("unused"), 16).replace(
        "sink: { kind: dir, path: \"unused\" }",
        &format!("sink: {}", s3_sink(&s3, "lake", &s3.secret_key)),
    );
    let dag = env.dag(&yaml);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("ingest").error);
    // s3s-fs keeps each object as a file under <root>/<bucket>/<key>
    assert_landed_once(&s3_dir.join("lake"), &proxy, 16);
}

#[tokio::test]
async fn a_missing_bucket_and_bad_credentials_fail_ingest_with_what_to_fix() {
    let (env, proxy, _lake) = setup(1).await;
    let s3_dir = env.path("s3");
    std::fs::create_dir_all(&s3_dir).unwrap();
    let s3 = crate::fakes::s3::FakeS3::start(&s3_dir).await;
    s3.create_bucket("lake");
    let ingest = |sink: String| {
        format!(
            "dag_id: s3\ntasks:\n  - task_id: ingest\n    kind: ingest\n    source: {{ kind: kafka_rest, url: \"{}\", group: g, topics: [u.pin] }}\n    sink: {sink}\n",
            proxy.base_url
        )
    };
    let (state, tis) = env
        .run(&env.dag(&ingest(s3_sink(&s3, "no-such-lake", &s3.secret_key))))
        .await;
    assert_eq!(state, RunState::Failed);
    assert_eq!(
        tis.get("ingest").error.as_deref(),
        Some("S3 bucket `no-such-lake` does not exist (NoSuchBucket)")
    );
    let (state, tis) = env
        .run(&env.dag(&ingest(s3_sink(&s3, "lake", "wrong-secret"))))
        .await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("ingest").error.clone().unwrap();
    assert!(
        error.starts_with("access to S3 bucket `lake` was denied; check the AWS credentials"),
        "{error}"
    );
}

#[tokio::test]
async fn an_instance_that_expires_mid_ingest_fails_the_try_with_the_proxys_40403() {
    let (env, proxy, lake) = setup(0).await;
    proxy.seed("u.pin", (0..400).map(|i| json!({"i": i})));
    proxy.set_max_records_per_fetch(1);
    let yaml = format!(
        "dag_id: expiry\ntasks:\n  - task_id: ingest\n    kind: ingest\n    flush_size: 50\n    source: {{ kind: kafka_rest, url: \"{}\", group: g, topics: [u.pin] }}\n    sink: {{ kind: dir, path: \"{}\" }}\n",
        proxy.base_url,
        lake.display()
    );
    let dag = env.dag(&yaml);
    let id = env.create(&dag).await;
    let driver = tokio::spawn({
        let (engine, dag) = (env.engine.clone(), dag.clone());
        async move {
            let none = tokio_util::sync::CancellationToken::new;
            engine.drive(dag, id, none(), none()).await
        }
    });
    // expire the consumer instance while it is fetching
    let expired = loop {
        if let Some(instance) = proxy.instances("g").first() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            proxy.expire_instance("g", instance);
            break instance.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    driver.await.unwrap().unwrap();
    let tis = env.tis(id).await;
    assert_eq!(tis.get("ingest").state, airless::model::TaskState::Failed);
    let error = tis.get("ingest").error.clone().unwrap();
    // the expiry meets either a fetch or a commit; both name the proxy's 40403
    let expected = format!(
        "consumer instance {expired} of group g expired or not found (40403): Consumer instance not found."
    );
    assert!(error.contains(&expected), "{error}");
    // what landed is committed, but for at most the one object whose commit the
    // expiry met: the retry rewrites that object under the same key
    let committed = proxy.committed("g", "u.pin").unwrap_or(0);
    let landed = objects(&lake, "u.pin")
        .values()
        .map(Vec::len)
        .sum::<usize>() as i64;
    assert!(
        committed <= landed && landed - committed <= 50,
        "landed {landed}, committed {committed}"
    );
}

#[tokio::test]
async fn in_s3_a_failed_commit_then_a_rerun_duplicates_and_loses_nothing() {
    let (env, proxy, _lake) = setup(0).await;
    let root = env.path("s3");
    std::fs::create_dir_all(&root).unwrap();
    let s3 = crate::fakes::s3::FakeS3::start(&root).await;
    s3.create_bucket("lake");
    let yaml = pipeline(&proxy.base_url, Path::new("unused"), 30).replace(
        "sink: { kind: dir, path: \"unused\" }",
        &format!("sink: {}", s3_sink(&s3, "lake", &s3.secret_key)),
    );
    let dag = env.dag(&yaml);
    proxy.fail_route(Route::Commit);
    let (state, _) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let written: usize = TOPICS
        .iter()
        .map(|t| objects(&root.join("lake"), t).len())
        .sum();
    assert_eq!(
        written, 1,
        "one object was written before its commit failed"
    );
    proxy.heal_route(Route::Commit);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("ingest").error);
    assert_landed_once(&root.join("lake"), &proxy, 60);
}
