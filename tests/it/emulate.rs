//! `emulate` end to end: the demo source, MariaDB (when it runs here), the
//! Kafka REST Proxy and API Gateway → Kinesis test servers, a local lake,
//! and the errors a person reads when something is wrong.

use serde_json::{Value, json};

use airless::model::{RunState, TaskState};

use crate::fakes::kafka_rest::{FakeKafkaRest, Route};
use crate::support::TestEnv;

fn dag(source: &str, sink: &str, records: u64, extra: &str) -> String {
    format!(
        "dag_id: emu\ntasks:\n  - task_id: emulate\n    kind: emulate\n    source: \"{source}\"\n    records: {records}\n{extra}    streams:\n      pinterest_data: u.pin\n      geolocation_data: u.geo\n      user_data: u.user\n    sink:\n{sink}"
    )
}

fn kafka_sink(url: &str) -> String {
    format!("      kind: kafka_rest\n      url: \"{url}\"\n      batch_size: 7\n")
}

#[tokio::test]
async fn demo_posts_reach_the_proxy_as_the_original_script_sends_them() {
    let proxy = FakeKafkaRest::start().await;
    for topic in ["u.pin", "u.geo", "u.user"] {
        proxy.create_topic(topic);
    }
    let env = TestEnv::new().await;
    let dag = env.dag(&dag("demo", &kafka_sink(&proxy.base_url), 20, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    assert_eq!(
        tis.get("emulate").output,
        Some(json!({"posts": 20, "records": {"u.pin": 20, "u.geo": 20, "u.user": 20}}))
    );
    let (pins, geos, users) = (
        proxy.topic("u.pin"),
        proxy.topic("u.geo"),
        proxy.topic("u.user"),
    );
    assert_eq!((pins.len(), geos.len(), users.len()), (20, 20, 20));
    // seed 100 with the script's sleep draw: the rows it picks
    let indexes: Vec<i64> = pins
        .iter()
        .take(8)
        .map(|p| p["index"].as_i64().unwrap())
        .collect();
    assert_eq!(
        indexes,
        vec![7528, 2863, 5730, 8304, 8731, 1313, 4315, 10794]
    );
    for ((pin, geo), user) in pins.iter().zip(&geos).zip(&users) {
        assert_eq!(pin["index"], geo["ind"]);
        assert_eq!(pin["index"], user["ind"]);
        let ts = geo["timestamp"].as_str().unwrap();
        assert_eq!(ts.len(), 19, "YYYY-MM-DD HH:MM:SS: {ts}");
        assert!(user["date_joined"].as_str().unwrap().contains(' '));
    }
    assert_eq!(
        proxy.calls(Route::Produce),
        9,
        "20 records per topic in batches of 7"
    );
}

#[tokio::test]
async fn a_proxy_answering_500_then_recovering_is_retried() {
    let proxy = FakeKafkaRest::start().await;
    for topic in ["u.pin", "u.geo", "u.user"] {
        proxy.create_topic(topic);
    }
    proxy.fail_next_requests(2);
    let env = TestEnv::new().await;
    let dag = env.dag(&dag("demo", &kafka_sink(&proxy.base_url), 5, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    assert_eq!(proxy.topic("u.pin").len(), 5);
}

#[tokio::test]
async fn a_proxy_that_is_down_fails_the_task_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let env = TestEnv::new().await;
    let dag = env.dag(&dag("demo", &kafka_sink(&url), 3, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("emulate").error.clone().unwrap();
    assert!(
        error.starts_with("producing to topic `u.geo` failed: kafka rest proxy at "),
        "{error}"
    );
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("is unreachable"),
        "{error}"
    );
}

#[tokio::test]
async fn kinesis_gets_one_put_record_per_row() {
    let proxy = FakeKafkaRest::start().await;
    let env = TestEnv::new().await;
    let sink = format!(
        "      kind: kinesis_rest\n      url: \"{}\"\n",
        proxy.base_url
    );
    let dag = env.dag(&dag("demo", &sink, 4, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    let pins = proxy.kinesis_records("u.pin");
    assert_eq!(pins.len(), 4);
    assert_eq!(proxy.kinesis_records("u.user").len(), 4);
}

#[tokio::test]
async fn the_dir_sink_writes_the_connector_layout_and_continues_offsets() {
    let env = TestEnv::new().await;
    let lake = env.path("lake");
    let sink = format!("      kind: dir\n      path: \"{}\"\n", lake.display());
    let dag = env.dag(&dag(
        "demo",
        &sink,
        6,
        "    sampler: sequential\n    flush_size: 4\n",
    ));
    let (state, _) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let (state, _) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let dir = lake.join("topics/u.pin/partition=0");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "u.pin+0+0000000000.json",
            "u.pin+0+0000000004.json",
            "u.pin+0+0000000006.json",
            "u.pin+0+0000000010.json"
        ]
    );
    let first: Vec<Value> = std::fs::read_to_string(dir.join(&names[0]))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        first
            .iter()
            .map(|p| p["index"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
}

#[tokio::test]
async fn records_can_come_from_params_and_the_triggers_conf() {
    let proxy = FakeKafkaRest::start().await;
    for topic in ["u.pin", "u.geo", "u.user"] {
        proxy.create_topic(topic);
    }
    let env = TestEnv::new().await;
    let text = dag("demo", &kafka_sink(&proxy.base_url), 0, "")
        .replace("records: 0", "records: \"{{ params.records }}\"");
    let dag = env.dag(&format!("params: {{ records: 3 }}\n{text}"));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    assert_eq!(proxy.topic("u.user").len(), 3);
}

/// MariaDB on 127.0.0.1:3306 (root, no password, database `test`), or None
/// with the reason printed: `cargo test` passes on a machine without it.
async fn mariadb() -> Option<sqlx::MySqlPool> {
    match sqlx::MySqlPool::connect("mysql://root@127.0.0.1:3306/test").await {
        Ok(pool) => Some(pool),
        Err(err) => {
            eprintln!(
                "skipped: MariaDB is not reachable on 127.0.0.1:3306 ({err}); .ci/run starts it"
            );
            None
        }
    }
}

/// Creates the three tables with realistic rows in a database of their own.
async fn seed_database(pool: &sqlx::MySqlPool, db: &str, rows: u64) {
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"),
        format!(
            "CREATE TABLE {db}.pinterest_data (`index` INT PRIMARY KEY, unique_id VARCHAR(36), title TEXT, description TEXT, poster_name TEXT, follower_count VARCHAR(20), tag_list TEXT, is_image_or_video VARCHAR(40), image_src TEXT, downloaded INT, save_location TEXT, category VARCHAR(40))"
        ),
        format!(
            "CREATE TABLE {db}.geolocation_data (ind INT PRIMARY KEY, timestamp DATETIME, latitude FLOAT, longitude DECIMAL(9,4), country TEXT)"
        ),
        format!(
            "CREATE TABLE {db}.user_data (ind INT PRIMARY KEY, first_name TEXT, last_name TEXT, age INT, date_joined DATETIME)"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap();
    }
    for i in 0..rows {
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {db}.pinterest_data VALUES (?, UUID(), ?, 'No description available Story format', 'User Info Error', ?, 'N,o, ,T,a,g,s', 'image', 'Image src error.', 1, 'Local save in /data/art', 'art')")))
            .bind(i as i64)
            .bind(if i % 2 == 0 { "Café ☕ ideas" } else { "No Title Data Available" })
            .bind(if i % 3 == 0 { "26k" } else { "User Info Error" })
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {db}.geolocation_data VALUES (?, '2020-04-05 09:08:07', -89.9787, -173.2930, 'Antarctica (the territory South of 60 deg S)')")))
            .bind(i as i64)
            .execute(pool)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {db}.user_data VALUES (?, 'Andrea', 'Alvarado', 31, '2016-10-23 14:06:51')"
        )))
        .bind(i as i64)
        .execute(pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn mariadb_posts_reach_the_proxy_with_index_equal_to_ind() {
    let Some(pool) = mariadb().await else { return };
    seed_database(&pool, "airless_emulate_ok", 40).await;
    let proxy = FakeKafkaRest::start().await;
    for topic in ["u.pin", "u.geo", "u.user"] {
        proxy.create_topic(topic);
    }
    let env = TestEnv::new().await;
    let url = "mysql://root@127.0.0.1:3306/airless_emulate_ok";
    let dag = env.dag(&dag(
        url,
        &kafka_sink(&proxy.base_url),
        12,
        "    sampler: sequential\n",
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    let (pins, geos, users) = (
        proxy.topic("u.pin"),
        proxy.topic("u.geo"),
        proxy.topic("u.user"),
    );
    assert_eq!((pins.len(), geos.len(), users.len()), (12, 12, 12));
    for ((pin, geo), user) in pins.iter().zip(&geos).zip(&users) {
        assert_eq!(pin["index"], geo["ind"]);
        assert_eq!(pin["index"], user["ind"]);
    }
    assert_eq!(pins[0]["title"], "Café ☕ ideas");
    assert_eq!(pins[0]["follower_count"], "26k");
    assert_eq!(geos[0]["timestamp"], "2020-04-05 09:08:07");
    assert_eq!(geos[0]["longitude"], json!(-173.293));
    assert_eq!(users[0]["date_joined"], "2016-10-23 14:06:51");
    assert_eq!(users[0]["age"], 31);
}

async fn failing(source: &str) -> String {
    let env = TestEnv::new().await;
    let dag = env.dag(&dag(
        source,
        &kafka_sink("http://127.0.0.1:9"),
        1,
        "    sampler: sequential\n",
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    assert_eq!(tis.get("emulate").state, TaskState::Failed);
    tis.get("emulate").error.clone().unwrap()
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = failing(&format!("mysql://admin:hunter2@127.0.0.1:{port}/pinterest")).await;
    assert!(
        error.starts_with(&format!(
            "cannot connect to the source database mysql://admin:***@127.0.0.1:{port}/pinterest: "
        )),
        "{error}"
    );
    assert!(!error.contains("hunter2"));
}

#[tokio::test]
async fn a_wrong_password_and_a_missing_table_say_so() {
    let Some(pool) = mariadb().await else { return };
    seed_database(&pool, "airless_emulate_err", 2).await;
    let _ = sqlx::query("DROP USER IF EXISTS 'airless_emu'@'%'")
        .execute(&pool)
        .await;
    sqlx::query("CREATE USER 'airless_emu'@'%' IDENTIFIED BY 'right'")
        .execute(&pool)
        .await
        .unwrap();
    let error = failing("mysql://airless_emu:wrong@127.0.0.1:3306/airless_emulate_err").await;
    assert!(
        error.contains("Access denied for user 'airless_emu'"),
        "{error}"
    );
    assert!(!error.contains(":wrong@"), "{error}");

    sqlx::query("DROP TABLE airless_emulate_err.user_data")
        .execute(&pool)
        .await
        .unwrap();
    let error = failing("mysql://root@127.0.0.1:3306/airless_emulate_err").await;
    assert_eq!(
        error,
        "table `user_data` does not exist in the source database"
    );
}

#[tokio::test]
async fn the_s3_sink_writes_the_lake_straight_to_a_bucket_and_continues_offsets() {
    let env = TestEnv::new().await;
    let root = env.path("s3");
    std::fs::create_dir_all(&root).unwrap();
    let s3 = crate::fakes::s3::FakeS3::start(&root).await;
    s3.create_bucket("lake");
    let sink = format!(
        "      kind: s3\n      bucket: lake\n      endpoint: \"{}\"\n      path_style: true\n      access_key_id: {}\n      secret_access_key: \"{}\"\n",
        s3.endpoint, s3.access_key, s3.secret_key
    );
    let dag = env.dag(&dag(
        "demo",
        &sink,
        5,
        "    sampler: sequential\n    flush_size: 3\n",
    ));
    for _ in 0..2 {
        let (state, tis) = env.run(&dag).await;
        assert_eq!(state, RunState::Success, "{:?}", tis.get("emulate").error);
    }
    let dir = root.join("lake/topics/u.user/partition=0");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "u.user+0+0000000000.json",
            "u.user+0+0000000003.json",
            "u.user+0+0000000005.json",
            "u.user+0+0000000008.json"
        ]
    );
}

#[tokio::test]
async fn ingest_into_a_kafka_sink_is_refused_when_the_dag_loads() {
    let yaml = "dag_id: x\ntasks:\n  - task_id: i\n    kind: ingest\n    source: { kind: kafka_rest, url: \"http://p\", group: g, topics: [t] }\n    sink: { kind: kafka_rest, url: \"http://p\" }\n";
    let errors = airless::dag::load(std::path::Path::new("dags/x.yaml"), yaml).unwrap_err();
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        [
            "dags/x.yaml:6:19: task `i`: ingest writes to a lake, not to `kafka_rest` — use `kind: s3` (a bucket) or `kind: dir` (a folder)"
        ]
    );
}
