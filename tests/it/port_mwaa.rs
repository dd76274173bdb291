//! `port mwaa`'s fetching side end to end: the MWAA fake answers
//! GetEnvironment and InvokeRestApi, the s3s fake holds the DAG files, and
//! the real aws-sdk-mwaa / aws-sdk-s3 clients talk to both.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use serde_json::json;
use tempfile::TempDir;

use airless::port::mwaa::{MwaaError, MwaaRequest, MwaaSnapshot, fetch_with_config};

use crate::fakes::mwaa::{ACCOUNT, FakeDagRun, FakeEnvironment, FakeMwaa, Route};
use crate::fakes::s3::FakeS3;

const REGION: &str = "eu-west-1";
const BUCKET: &str = "airflow-prod-dags";

struct Harness {
    mwaa: FakeMwaa,
    s3: FakeS3,
    _dir: TempDir,
}

/// The per-service endpoints `AWS_ENDPOINT_URL_MWAA` / `AWS_ENDPOINT_URL_S3`
/// would give, without touching the process environment.
#[derive(Debug)]
struct Endpoints {
    mwaa: String,
    s3: String,
}

impl LoadServiceConfig for Endpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        match (key.service_id(), key.env()) {
            ("MWAA", "AWS_ENDPOINT_URL") => Some(self.mwaa.clone()),
            ("S3", "AWS_ENDPOINT_URL") => Some(self.s3.clone()),
            _ => None,
        }
    }
}

impl Harness {
    async fn start() -> Self {
        let dir = TempDir::new().unwrap();
        let s3 = FakeS3::start(dir.path()).await;
        s3.create_bucket(BUCKET);
        Self {
            mwaa: FakeMwaa::start().await,
            s3,
            _dir: dir,
        }
    }

    /// Static credentials, the fakes as per-service endpoints.
    fn config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                self.s3.access_key.clone(),
                self.s3.secret_key.clone(),
                None,
                None,
                "port-mwaa-test",
            )))
            .service_config(Endpoints {
                mwaa: self.mwaa.base_url.clone(),
                s3: self.s3.endpoint.clone(),
            })
            .build()
    }

    fn put_file(&self, key: &str, text: &str) {
        let path = self._dir.path().join(BUCKET).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    async fn fetch(&self, environment: &str) -> Result<MwaaSnapshot, MwaaError> {
        let req = MwaaRequest {
            environment: environment.to_owned(),
            region: None,
            endpoint_url: None,
        };
        fetch_with_config(&self.config(), &req).await
    }
}

fn date(text: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .to_utc()
        .to_rfc3339()
}

/// An Airflow 2 environment: three DAG files, four DAGs with run histories.
async fn airflow2_environment() -> Harness {
    let h = Harness::start().await;
    h.put_file(
        "dags/daily_sales.py",
        "from airflow import DAG\n# daily_sales\n",
    );
    h.put_file("dags/hourly_ingest.py", "# hourly_ingest\n");
    h.put_file("dags/team/weekly_report.py", "# weekly_report\n");
    h.put_file("dags/README.md", "not a DAG\n");
    h.put_file("dags/.airflowignore", "scratch/\n");
    h.put_file("plugins/operators.py", "# outside the DAG folder\n");

    h.mwaa
        .add_environment(FakeEnvironment::new("prod", "2.10.3", BUCKET, "dags"));
    h.mwaa
        .add_dag("prod", "daily_sales", false, Some("0 6 * * *"));
    h.mwaa
        .add_dag("prod", "hourly_ingest", true, Some("@hourly"));
    h.mwaa.add_dag("prod", "noisy", false, Some("@daily"));
    h.mwaa
        .add_dag("prod", "weekly_report", false, Some("0 0 * * 1"));

    let day = |d: u32| format!("2024-03-{d:02}T06:00:00+00:00");
    for d in 1..=3 {
        h.mwaa.add_run(
            "prod",
            "daily_sales",
            FakeDagRun::scheduled(&day(d), &day(d + 1)),
        );
    }
    // Triggered by hand after the last scheduled run: Airflow's schedule
    // does not move for it, so neither does the port's.
    h.mwaa.add_run(
        "prod",
        "daily_sales",
        FakeDagRun::manual("2024-03-04T09:30:00+00:00"),
    );

    // More manual runs than one page holds, above the one scheduled run.
    h.mwaa.add_run(
        "prod",
        "noisy",
        FakeDagRun::scheduled("2024-02-01T00:00:00+00:00", "2024-02-02T00:00:00+00:00"),
    );
    for minute in 0..40 {
        h.mwaa.add_run(
            "prod",
            "noisy",
            FakeDagRun::manual(&format!("2024-02-10T12:{minute:02}:00+00:00")),
        );
    }

    h.mwaa.add_run(
        "prod",
        "weekly_report",
        FakeDagRun::backfill("2024-01-01T00:00:00+00:00", "2024-01-08T00:00:00+00:00"),
    );
    h
}

#[tokio::test]
async fn snapshot_has_version_dag_files_paused_state_and_last_scheduled_runs() {
    let h = airflow2_environment().await;
    h.mwaa.set_max_page_limit(3);

    let snapshot = h.fetch("prod").await.unwrap();

    assert_eq!(snapshot.airflow_version, "2.10.3");
    let paths: Vec<&str> = snapshot.sources.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "s3://airflow-prod-dags/dags/daily_sales.py",
            "s3://airflow-prod-dags/dags/hourly_ingest.py",
            "s3://airflow-prod-dags/dags/team/weekly_report.py",
        ]
    );
    assert_eq!(
        snapshot.sources[0].text,
        "from airflow import DAG\n# daily_sales\n"
    );

    let ids: Vec<&str> = snapshot.live.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["daily_sales", "hourly_ingest", "noisy", "weekly_report"]
    );

    let daily = &snapshot.live["daily_sales"];
    assert_eq!(daily.is_paused, Some(false));
    let last = daily.last_run.as_ref().unwrap();
    assert_eq!(last.logical_date.to_rfc3339(), date("2024-03-03T06:00:00Z"));
    assert_eq!(
        last.data_interval_start.unwrap().to_rfc3339(),
        date("2024-03-03T06:00:00Z")
    );
    assert_eq!(
        last.data_interval_end.unwrap().to_rfc3339(),
        date("2024-03-04T06:00:00Z")
    );

    let hourly = &snapshot.live["hourly_ingest"];
    assert_eq!(hourly.is_paused, Some(true));
    assert!(hourly.last_run.is_none());

    let noisy = snapshot.live["noisy"].last_run.as_ref().unwrap();
    assert_eq!(
        noisy.logical_date.to_rfc3339(),
        date("2024-02-01T00:00:00Z")
    );

    let weekly = snapshot.live["weekly_report"].last_run.as_ref().unwrap();
    assert_eq!(
        weekly.logical_date.to_rfc3339(),
        date("2024-01-01T00:00:00Z")
    );

    let calls = h.mwaa.rest_calls();
    assert!(calls.iter().all(|c| c.method == "GET"));
    let dag_pages = calls.iter().filter(|c| c.path == "/dags").count();
    assert_eq!(dag_pages, 2, "4 DAGs at 3 a page");
    let run_calls: Vec<_> = calls
        .iter()
        .filter(|c| c.path.ends_with("/dagRuns"))
        .collect();
    assert!(
        run_calls
            .iter()
            .all(|c| c.query["order_by"] == json!("-execution_date"))
    );
    let noisy_pages = run_calls
        .iter()
        .filter(|c| c.path == "/dags/noisy/dagRuns")
        .count();
    assert!(noisy_pages > 1, "41 runs at 3 a page need several pages");
    assert_eq!(h.mwaa.calls(Route::GetEnvironment), 1);
    assert_eq!(h.mwaa.unsigned_requests(), 0);
}

#[tokio::test]
async fn airflow_3_runs_are_ordered_by_logical_date_and_null_manual_dates_skipped() {
    let h = Harness::start().await;
    h.put_file("af3/etl.py", "# etl\n");
    h.mwaa
        .add_environment(FakeEnvironment::new("next", "3.0.6", BUCKET, "af3/"));
    h.mwaa.add_dag("next", "etl", true, Some("@daily"));
    h.mwaa.add_run(
        "next",
        "etl",
        FakeDagRun::scheduled("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"),
    );
    h.mwaa.add_run(
        "next",
        "etl",
        FakeDagRun {
            logical_date: None,
            ..FakeDagRun::manual("2025-06-05T10:00:00Z")
        },
    );

    let snapshot = h.fetch("next").await.unwrap();

    assert_eq!(snapshot.airflow_version, "3.0.6");
    assert_eq!(snapshot.sources.len(), 1);
    assert_eq!(
        snapshot.sources[0].path,
        "s3://airflow-prod-dags/af3/etl.py"
    );
    let etl = &snapshot.live["etl"];
    assert_eq!(etl.is_paused, Some(true));
    assert_eq!(
        etl.last_run.as_ref().unwrap().logical_date.to_rfc3339(),
        date("2025-06-01T00:00:00Z")
    );
    let runs_call = h
        .mwaa
        .rest_calls()
        .into_iter()
        .find(|c| c.path == "/dags/etl/dagRuns")
        .unwrap();
    assert_eq!(runs_call.query["order_by"], json!("-logical_date"));
}

#[tokio::test]
async fn an_unknown_environment_is_named_with_its_region() {
    let h = Harness::start().await;

    let err = h.fetch("staging").await.err().unwrap();

    assert!(
        matches!(err, MwaaError::EnvironmentNotFound { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("`staging`"), "{message}");
    assert!(message.contains(REGION), "{message}");
}

#[tokio::test]
async fn access_denied_to_get_environment_names_the_iam_action() {
    let h = airflow2_environment().await;
    h.mwaa.deny(Route::GetEnvironment);

    let err = h.fetch("prod").await.err().unwrap();

    let message = err.to_string();
    assert!(matches!(err, MwaaError::AccessDenied { .. }), "{err:?}");
    assert!(message.contains("airflow:GetEnvironment"), "{message}");
    assert!(message.contains("environment/prod"), "{message}");
}

#[tokio::test]
async fn access_denied_to_invoke_rest_api_names_the_action_and_role_arn() {
    let h = airflow2_environment().await;
    h.mwaa.deny(Route::InvokeRestApi);

    let err = h.fetch("prod").await.err().unwrap();

    let message = err.to_string();
    assert!(message.contains("airflow:InvokeRestApi"), "{message}");
    assert!(
        message.contains(&format!("arn:aws:airflow:{REGION}:{ACCOUNT}:role/prod/")),
        "{message}"
    );
}

#[tokio::test]
async fn a_rest_call_the_airflow_role_may_not_make_names_the_path_and_role() {
    let h = airflow2_environment().await;
    h.mwaa.forbid_rest_path("/dags/daily_sales/dagRuns");

    let err = h.fetch("prod").await.err().unwrap();

    assert!(matches!(err, MwaaError::RestApiForbidden { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("GET /dags/daily_sales/dagRuns"),
        "{message}"
    );
    assert!(message.contains("Airflow role"), "{message}");
    assert!(
        message.contains(&format!(
            "arn:aws:airflow:{REGION}:{ACCOUNT}:role/prod/Viewer"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_dag_bucket_is_named() {
    let h = Harness::start().await;
    h.mwaa.add_environment(FakeEnvironment::new(
        "prod",
        "2.10.3",
        "gone-bucket",
        "dags",
    ));

    let err = h.fetch("prod").await.err().unwrap();

    let message = err.to_string();
    assert!(message.contains("gone-bucket"), "{message}");
}

#[tokio::test]
async fn the_request_endpoint_applies_to_mwaa_with_its_host_labels_stripped() {
    let h = Harness::start().await;
    h.mwaa
        .add_environment(FakeEnvironment::new("prod", "2.10.3", BUCKET, "dags"));
    // One endpoint for both services: S3 goes to the MWAA fake too, which
    // does not speak S3, so the listing fails after GetEnvironment succeeded.
    let req = MwaaRequest {
        environment: "prod".to_owned(),
        region: Some("us-west-2".to_owned()),
        endpoint_url: Some(h.mwaa.base_url.clone()),
    };
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )))
        .build();

    let err = fetch_with_config(&config, &req).await.err().unwrap();

    assert_eq!(h.mwaa.calls(Route::GetEnvironment), 1, "{err}");
    assert!(
        !matches!(err, MwaaError::EnvironmentNotFound { .. }),
        "{err}"
    );
}

/// Runs the real binary with AWS credentials and per-service endpoints
/// from the environment, as a user's shell would give them.
fn airless(h: &Harness, cwd: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(args)
        .current_dir(cwd)
        .env("AWS_ACCESS_KEY_ID", &h.s3.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &h.s3.secret_key)
        .env("AWS_ENDPOINT_URL_MWAA", &h.mwaa.base_url)
        .env("AWS_ENDPOINT_URL_S3", &h.s3.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", cwd.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cwd.join("no-aws-credentials"),
        )
        .env("HOME", cwd)
        .env("AIRLESS_DAGS_FOLDER", cwd.join("out"))
        .env("AIRLESS_DATABASE", cwd.join("airless.db"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

// multi-threaded: the fakes answer while the test waits for the binary
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_mwaa_writes_the_dags_and_report_and_continues_after_the_last_mwaa_run() {
    let h = Harness::start().await;
    let fixture = |name: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/port")
                .join(name),
        )
        .unwrap()
    };
    h.put_file("dags/pinterest.py", &fixture("mwaa_databricks_daily.py"));
    h.put_file(
        "dags/hourly.py",
        "from datetime import datetime\nfrom airflow import DAG\nfrom airflow.operators.bash import BashOperator\n\nwith DAG('hourly', start_date=datetime(2024, 1, 1), schedule='@hourly') as dag:\n    BashOperator(task_id='tick', bash_command='echo {{ ts }}')\n",
    );
    h.mwaa
        .add_environment(FakeEnvironment::new("prod", "2.10.3", BUCKET, "dags"));
    h.mwaa
        .add_dag("prod", "0a1b2c3d4e5f_dag", false, Some("@daily"));
    h.mwaa.add_dag("prod", "hourly", true, Some("@hourly"));
    for d in 1..=3 {
        let day = |d: u32| format!("2024-03-{d:02}T00:00:00+00:00");
        h.mwaa.add_run(
            "prod",
            "0a1b2c3d4e5f_dag",
            FakeDagRun::scheduled(&day(d), &day(d + 1)),
        );
    }
    h.mwaa.add_run(
        "prod",
        "0a1b2c3d4e5f_dag",
        FakeDagRun::manual("2024-03-04T09:30:00+00:00"),
    );
    h.mwaa.add_run(
        "prod",
        "hourly",
        FakeDagRun::scheduled("2024-03-04T10:00:00+00:00", "2024-03-04T11:00:00+00:00"),
    );

    let work = TempDir::new().unwrap();
    let cwd = work.path();
    let (code, out) = airless(
        &h,
        cwd,
        &[
            "port",
            "mwaa",
            "--environment",
            "prod",
            "--region",
            REGION,
            "-o",
            "out",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("owner"), "the report is printed: {out}");
    let report = std::fs::read_to_string(cwd.join("out/airless-port-report.txt")).unwrap();
    assert!(
        report.contains("pinterest.py:26: default_args: `owner`"),
        "{report}"
    );

    let pinterest = std::fs::read_to_string(cwd.join("out/0a1b2c3d4e5f_dag.yaml")).unwrap();
    assert!(pinterest.contains("kind: databricks"), "{pinterest}");
    assert!(
        pinterest.contains("Pinterest Data Pipeline/clean and analyse"),
        "{pinterest}"
    );
    let hourly = std::fs::read_to_string(cwd.join("out/hourly.yaml")).unwrap();
    assert!(
        hourly.contains("is_paused_upon_creation: true"),
        "paused in MWAA, paused here: {hourly}"
    );

    let (code, out) = airless(&h, cwd, &["dags", "validate", "out"]);
    assert_eq!(code, 0, "{out}");

    // the first run airless will make is the interval after MWAA's last
    // scheduled one: no gap, no repeat (the manual run moves nothing)
    let (code, out) = airless(
        &h,
        cwd,
        &[
            "dags",
            "next-runs",
            "0a1b2c3d4e5f_dag",
            "-n",
            "1",
            "--after",
            "2024-01-01",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("2024-03-04T00:00:00Z "), "{out}");
    let (code, out) = airless(
        &h,
        cwd,
        &[
            "dags",
            "next-runs",
            "hourly",
            "-n",
            "2",
            "--after",
            "2024-01-01",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let firsts: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        firsts,
        ["2024-03-04T11:00:00Z", "2024-03-04T12:00:00Z"],
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_mwaa_of_an_unknown_environment_says_so_and_writes_nothing() {
    let h = Harness::start().await;
    let work = TempDir::new().unwrap();
    let (code, out) = airless(
        &h,
        work.path(),
        &[
            "port",
            "mwaa",
            "--environment",
            "staging",
            "--region",
            REGION,
            "-o",
            "out",
        ],
    );
    assert_ne!(code, 0);
    assert!(out.contains("staging"), "{out}");
    assert!(out.contains(REGION), "{out}");
    assert!(!work.path().join("out").exists());
}
