//! The HTTP API as Airflow clients see it: every endpoint through
//! `api::router` without a socket, exact JSON shapes and problem JSON for
//! 400/401/404/409/413, and one client written against Airflow's documented
//! v1 API over a real socket with the scheduler running.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airless::api::AppState;
use airless::dag::{DagBag, DagRegistry};
use airless::engine::{Engine, EngineSettings, Launcher};
use airless::model::{DagId, DagRun, RunId, SystemClock};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::support::jan1;

pub(crate) const DOCS: &str =
    "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html";

/// An API over a temp folder: DAG files, a state database and logs
/// (shared with `hostile_api`).
pub(crate) struct Api {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) state: AppState,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an Airflow problem JSON with this status, title and detail.
    pub(crate) fn assert_problem(&self, status: u16, title: &str, detail: Value, section: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.content_type(), "application/problem+json");
        let kind = if section == "about:blank" {
            section.to_string()
        } else {
            format!("{DOCS}#section/Errors/{section}")
        };
        assert_eq!(
            self.json(),
            json!({"detail": detail, "status": status, "title": title, "type": kind})
        );
    }
}

pub(crate) fn dag_files(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let marker = dir.join("flaky.marker");
    vec![
        (
            "hello.yaml",
            "dag_id: hello\ndescription: Say hello\nschedule: null\ntasks:\n  - { task_id: start, kind: noop }\n  - { task_id: greet, kind: shell, command: \"echo hello {{ conf.name }}\", depends_on: [start] }\n".to_string(),
        ),
        (
            "daily.yaml",
            "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\ncatchup: false\ntasks:\n  - { task_id: t, kind: noop }\n".to_string(),
        ),
        (
            "slow.yaml",
            "dag_id: slow\nschedule: null\ntasks:\n  - { task_id: nap, kind: shell, command: \"sleep 30\" }\n  - { task_id: after, kind: noop, depends_on: [nap] }\n".to_string(),
        ),
        (
            "flaky.yaml",
            format!(
                "dag_id: flaky\nschedule: null\ntasks:\n  - {{ task_id: once, kind: shell, command: \"test -f {m} || {{ touch {m}; exit 1; }}\" }}\n  - {{ task_id: after, kind: noop, depends_on: [once] }}\n",
                m = marker.display()
            ),
        ),
        ("broken.yaml", "dag_id: broken\ntasks: 3\n".to_string()),
    ]
}

impl Api {
    pub(crate) async fn new() -> Api {
        Self::with_tokens(&[]).await
    }

    pub(crate) async fn with_tokens(tokens: &[&str]) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let dags = dir.path().join("dags");
        std::fs::create_dir_all(&dags).unwrap();
        for (name, text) in dag_files(dir.path()) {
            std::fs::write(dags.join(name), text).unwrap();
        }
        let control =
            crate::support::open_control(&dir.path().join("airless.db"), Arc::new(SystemClock))
                .await;
        let engine = Engine::new(
            control.clone(),
            EngineSettings {
                parallelism: 4,
                logs_dir: dir.path().join("logs"),
                env: BTreeMap::new(),
            },
        );
        let bag = DagBag::load(&dags).unwrap();
        control.register_dags(&bag).await.unwrap();
        let state = AppState {
            dags: DagRegistry::new(bag),
            launcher: Launcher::new(engine, CancellationToken::new()),
            api_tokens: Arc::new(tokens.iter().map(|t| (*t).into()).collect()),
            started_at: jan1(),
        };
        Api { dir, state }
    }

    pub(crate) fn dags_dir(&self) -> PathBuf {
        self.dir.path().join("dags")
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = airless::api::router(self.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, None).await
    }

    pub(crate) async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(body)).await
    }

    pub(crate) async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PATCH, uri, Some(body)).await
    }

    pub(crate) async fn run(&self, dag_id: &str, run_id: &str) -> DagRun {
        self.state
            .launcher
            .reader()
            .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
            .await
            .unwrap()
            .unwrap()
    }

    /// Triggers `dag_id` over the API and drives the run to its end.
    pub(crate) async fn trigger_and_run(&self, dag_id: &str, body: Value) -> DagRun {
        let reply = self
            .post(&format!("/api/v1/dags/{dag_id}/dagRuns"), body)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let run_id = reply.json()["dag_run_id"].as_str().unwrap().to_string();
        self.start(dag_id, &run_id).await;
        self.wait_finished(dag_id, &run_id).await
    }

    pub(crate) async fn start(&self, dag_id: &str, run_id: &str) {
        let run = self.run(dag_id, run_id).await;
        let dag = self.state.dags.get(dag_id).unwrap();
        self.state.launcher.start(dag, run.id);
    }

    pub(crate) async fn wait_finished(&self, dag_id: &str, run_id: &str) -> DagRun {
        for _ in 0..400 {
            let run = self.run(dag_id, run_id).await;
            if run.state.is_finished() && !self.state.launcher.is_active(run.id) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {run_id} of {dag_id} did not finish");
    }
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    airless::api::dto::iso(t)
}

fn opt_iso(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::from(iso(t)))
}

#[tokio::test]
async fn health_answers_in_airflows_shape_without_a_token() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let before = api.get("/health").await.json();
    assert_eq!(
        before["scheduler"],
        json!({"status": "unhealthy", "latest_scheduler_heartbeat": null}),
        "no scheduler pass yet"
    );
    api.state.launcher.heartbeat(chrono::Utc::now());
    let reply = api.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["metadatabase"], json!({"status": "healthy"}));
    assert_eq!(body["scheduler"]["status"], "healthy");
    assert!(
        body["scheduler"]["latest_scheduler_heartbeat"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    assert_eq!(
        body["triggerer"],
        json!({"status": null, "latest_triggerer_heartbeat": null})
    );
}

#[tokio::test]
async fn dags_are_listed_with_airflows_fields() {
    let api = Api::new().await;
    let reply = api.get("/api/v1/dags").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["total_entries"], 4);
    let ids: Vec<&str> = body["dags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dag_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["daily", "flaky", "hello", "slow"]);
    let fileloc = api.dags_dir().join("hello.yaml").display().to_string();
    // recorded when the daemon loaded the folder, by its clock
    let parsed = body["dags"][2]["last_parsed_time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(parsed).is_ok(),
        "{parsed}"
    );
    assert_eq!(
        body["dags"][2],
        json!({
            "dag_id": "hello",
            "dag_display_name": "hello",
            "is_paused": false,
            "is_active": true,
            "last_parsed_time": parsed,
            "last_pickled": null,
            "last_expired": null,
            "scheduler_lock": null,
            "pickle_id": null,
            "default_view": "grid",
            "fileloc": fileloc,
            "owners": [],
            "description": "Say hello",
            "schedule_interval": null,
            "timetable_description": "Never, external triggers only",
            "tags": [],
            "max_active_tasks": 16,
            "max_active_runs": 16,
            "has_task_concurrency_limits": false,
            "has_import_errors": false,
            "next_dagrun": null,
            "next_dagrun_data_interval_start": null,
            "next_dagrun_data_interval_end": null,
            "next_dagrun_create_after": null,
            "max_consecutive_failed_dag_runs": 0,
        })
    );

    let page = api
        .get("/api/v1/dags?limit=1&offset=1&order_by=-dag_id")
        .await
        .json();
    assert_eq!(page["total_entries"], 4);
    assert_eq!(page["dags"][0]["dag_id"], "hello");

    let pattern = api.get("/api/v1/dags?dag_id_pattern=LL").await.json();
    assert_eq!(pattern["dags"][0]["dag_id"], "hello");
    assert_eq!(pattern["total_entries"], 1);

    api.get("/api/v1/dags?order_by=fileloc")
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!(
                "Ordering with 'fileloc' is disallowed or the attribute does not exist on the model"
            ),
            "BadRequest",
        );
}

#[tokio::test]
async fn a_scheduled_dag_shows_its_cron_and_next_run() {
    let api = Api::new().await;
    let dag = api.get("/api/v1/dags/daily").await.json();
    assert_eq!(
        dag["schedule_interval"],
        json!({"__type": "CronExpression", "value": "@daily"})
    );
    assert_eq!(dag["timetable_description"], "@daily");
    let next = dag["next_dagrun"].as_str().unwrap();
    assert!(next.ends_with("T00:00:00+00:00"), "{next}");
    assert_eq!(dag["next_dagrun_data_interval_start"], next);
}

#[tokio::test]
async fn an_unknown_dag_is_a_problem_json_404() {
    let api = Api::new().await;
    api.get("/api/v1/dags/nope").await.assert_problem(
        404,
        "DAG not found",
        json!("The DAG with dag_id: nope was not found"),
        "NotFound",
    );
    api.post("/api/v1/dags/nope/dagRuns", json!({}))
        .await
        .assert_problem(
            404,
            "DAG not found",
            json!("DAG with dag_id: 'nope' not found"),
            "NotFound",
        );
    api.get("/api/v1/dags/hello/dagRuns/nope")
        .await
        .assert_problem(
            404,
            "DAGRun not found",
            json!("DAGRun with DAG ID: 'hello' and DagRun ID: 'nope' not found"),
            "NotFound",
        );
    api.get("/api/v1/nowhere").await.assert_problem(
        404,
        "Not Found",
        json!("The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."),
        "NotFound",
    );
    api.call(Method::DELETE, "/api/v1/dags/hello", None)
        .await
        .assert_problem(
            405,
            "Method Not Allowed",
            json!("The method is not allowed for the requested URL."),
            "MethodNotAllowed",
        );
}

#[tokio::test]
async fn pausing_a_dag_over_patch_is_recorded_and_returned() {
    let api = Api::new().await;
    let reply = api
        .patch(
            "/api/v1/dags/hello?update_mask=is_paused",
            json!({"is_paused": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["is_paused"], true);
    let row = api
        .state
        .launcher
        .reader()
        .dag(&DagId::new("hello"))
        .await
        .unwrap()
        .unwrap();
    assert!(row.is_paused);
    assert_eq!(
        api.get("/api/v1/dags/hello").await.json()["is_paused"],
        true
    );
    let paused = api.get("/api/v1/dags?paused=true").await.json();
    assert_eq!(paused["total_entries"], 1);

    api.patch(
        "/api/v1/dags/hello?update_mask=description",
        json!({"is_paused": false}),
    )
    .await
    .assert_problem(
        400,
        "Bad Request",
        json!("Only `is_paused` field can be updated through the REST API"),
        "BadRequest",
    );
    api.patch("/api/v1/dags/ghost", json!({"is_paused": false}))
        .await
        .assert_problem(
            404,
            "Dag with id: 'ghost' not found",
            Value::Null,
            "NotFound",
        );
}

#[tokio::test]
async fn import_errors_list_each_broken_file() {
    let api = Api::new().await;
    let body = api.get("/api/v1/importErrors").await.json();
    assert_eq!(body["total_entries"], 1);
    let error = &body["import_errors"][0];
    assert_eq!(error["import_error_id"], 1);
    assert_eq!(
        error["filename"],
        api.dags_dir().join("broken.yaml").display().to_string()
    );
    assert!(
        error["stack_trace"]
            .as_str()
            .unwrap()
            .contains("broken.yaml")
    );
    assert!(error["timestamp"].as_str().unwrap().ends_with("+00:00"));
}

#[tokio::test]
async fn triggering_a_dag_queues_a_manual_run_with_airflows_fields() {
    let api = Api::new().await;
    let reply = api
        .post(
            "/api/v1/dags/hello/dagRuns",
            json!({"dag_run_id": "first", "logical_date": "2024-01-01T00:00:00Z", "conf": {"name": "ada"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(
        reply.json(),
        json!({
            "dag_run_id": "first",
            "dag_id": "hello",
            "logical_date": "2024-01-01T00:00:00+00:00",
            "execution_date": "2024-01-01T00:00:00+00:00",
            "start_date": null,
            "end_date": null,
            "data_interval_start": "2024-01-01T00:00:00+00:00",
            "data_interval_end": "2024-01-01T00:00:00+00:00",
            "last_scheduling_decision": null,
            "run_type": "manual",
            "state": "queued",
            "external_trigger": true,
            "conf": {"name": "ada"},
            "note": null,
        })
    );

    // no id and no date: Airflow's manual__<now>
    let reply = api.post("/api/v1/dags/hello/dagRuns", json!({})).await;
    let run = reply.json();
    let logical = run["logical_date"].as_str().unwrap();
    assert_eq!(
        run["dag_run_id"].as_str().unwrap(),
        format!("manual__{logical}")
    );
    assert_eq!(run["conf"], json!({}));

    // a scheduled DAG's manual run covers the last complete interval
    let run = api
        .post(
            "/api/v1/dags/daily/dagRuns",
            json!({"logical_date": "2024-03-05T10:00:00+00:00"}),
        )
        .await
        .json();
    assert_eq!(run["data_interval_start"], "2024-03-04T00:00:00+00:00");
    assert_eq!(run["data_interval_end"], "2024-03-05T00:00:00+00:00");

    let finished = api
        .trigger_and_run("hello", json!({"conf": {"name": "grace"}}))
        .await;
    assert_eq!(finished.state.as_str(), "success");
}

#[tokio::test]
async fn a_duplicate_dag_run_id_or_logical_date_is_a_409() {
    let api = Api::new().await;
    let first = json!({"dag_run_id": "once", "logical_date": "2024-01-01T00:00:00+00:00"});
    assert_eq!(
        api.post("/api/v1/dags/hello/dagRuns", first.clone())
            .await
            .status,
        StatusCode::OK
    );
    api.post("/api/v1/dags/hello/dagRuns", first)
        .await
        .assert_problem(
            409,
            "Conflict",
            json!("DAGRun with DAG ID: 'hello' and DAGRun ID: 'once' already exists"),
            "AlreadyExists",
        );
    api.post(
        "/api/v1/dags/hello/dagRuns",
        json!({"dag_run_id": "twice", "logical_date": "2024-01-01T00:00:00+00:00"}),
    )
    .await
    .assert_problem(
        409,
        "Conflict",
        json!("DAGRun with DAG ID: 'hello' and DAGRun logical date: '2024-01-01 00:00:00+00:00' already exists"),
        "AlreadyExists",
    );
}

#[tokio::test]
async fn malformed_json_a_bad_logical_date_and_a_non_object_conf_are_400s() {
    let api = Api::new().await;
    let malformed = Request::post("/api/v1/dags/hello/dagRuns")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"conf\": "))
        .unwrap();
    let reply = api.send(malformed).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.json()["title"], "Bad Request");
    assert_eq!(
        reply.json()["type"],
        format!("{DOCS}#section/Errors/BadRequest")
    );

    let untyped = Request::post("/api/v1/dags/hello/dagRuns")
        .body(Body::from("{}"))
        .unwrap();
    api.send(untyped).await.assert_problem(
        400,
        "Bad Request",
        json!("the request body must be JSON, sent with `Content-Type: application/json`"),
        "BadRequest",
    );

    api.post(
        "/api/v1/dags/hello/dagRuns",
        json!({"logical_date": "yesterday"}),
    )
    .await
    .assert_problem(
        400,
        "Bad Request",
        json!(
            "{'logical_date': ['Not a valid datetime.']}: `yesterday` is not an ISO 8601 date-time"
        ),
        "BadRequest",
    );

    let reply = api
        .post(
            "/api/v1/dags/hello/dagRuns",
            json!({"conf": "not an object"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.json()["detail"].as_str().unwrap().contains("conf"));

    // read-only fields are unknown to the load, as marshmallow says it
    api.post("/api/v1/dags/hello/dagRuns", json!({"state": "running"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("{'state': ['Unknown field.']}"),
            "BadRequest",
        );

    api.post("/api/v1/dags/hello/dagRuns", json!({"dag_run_id": "a/b"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("The run_id provided 'a/b' does not match the pattern '^[A-Za-z0-9_.~:+-]+$'"),
            "BadRequest",
        );
    assert!(
        api.state
            .launcher
            .reader()
            .dag_runs(None, 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_body_over_one_mib_is_a_413_problem() {
    let api = Api::new().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let reply = api
        .post("/api/v1/dags/hello/dagRuns", json!({"conf": {"blob": big}}))
        .await;
    reply.assert_problem(
        413,
        "Request Entity Too Large",
        json!("The data value transmitted exceeds the capacity limit."),
        "about:blank",
    );
}

#[tokio::test]
async fn without_a_valid_token_every_route_but_health_is_401_and_reveals_nothing() {
    let api = Api::with_tokens(&["s3cret", "other"]).await;
    for uri in [
        "/api/v1/dags",
        "/api/v1/dags/hello",
        "/api/v1/dags/~/dagRuns",
        "/api/v1/importErrors",
        "/metrics",
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some("Bearer s3cre"),
            Some("Token s3cret"),
        ] {
            let mut request = Request::get(uri);
            if let Some(auth) = auth {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let reply = api.send(request.body(Body::empty()).unwrap()).await;
            reply.assert_problem(401, "Unauthorized", Value::Null, "Unauthenticated");
            assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Basic");
            assert!(!reply.text().contains("hello"));
        }
    }
    let reply = api
        .send(
            Request::post("/api/v1/dags/hello/dagRuns")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        api.state
            .launcher
            .reader()
            .dag_runs(None, 10, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let reply = api
        .send(
            Request::get("/api/v1/dags/hello")
                .header(header::AUTHORIZATION, "Bearer other")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn basic_auth_with_the_token_as_password_is_accepted() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    let ask = |auth: String| {
        Request::get("/api/v1/dags")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        api.send(ask(basic("admin:s3cret"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.send(ask(basic("anyone:s3cret"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.send(ask(basic("admin:wrong"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.send(ask(basic("s3cret"))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn dag_runs_are_listed_filtered_and_ordered() {
    let api = Api::new().await;
    for (dag, id, date) in [
        ("hello", "a", "2024-01-03T00:00:00Z"),
        ("hello", "b", "2024-01-01T00:00:00Z"),
        ("daily", "c", "2024-01-02T00:00:00Z"),
    ] {
        let reply = api
            .post(
                &format!("/api/v1/dags/{dag}/dagRuns"),
                json!({"dag_run_id": id, "logical_date": date}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let ids = |body: &Value| -> Vec<String> {
        body["dag_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dag_run_id"].as_str().unwrap().to_string())
            .collect()
    };
    let hello = api.get("/api/v1/dags/hello/dagRuns").await.json();
    assert_eq!(ids(&hello), ["a", "b"]);
    assert_eq!(hello["total_entries"], 2);
    let all = api
        .get("/api/v1/dags/~/dagRuns?order_by=execution_date")
        .await
        .json();
    assert_eq!(ids(&all), ["b", "c", "a"]);
    let newest = api
        .get("/api/v1/dags/~/dagRuns?order_by=-logical_date&limit=1")
        .await
        .json();
    assert_eq!(ids(&newest), ["a"]);
    assert_eq!(newest["total_entries"], 3);

    let done = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "done", "conf": {"name": "x"}}),
        )
        .await;
    assert_eq!(done.state.as_str(), "success");
    let done = api
        .get("/api/v1/dags/hello/dagRuns?state=success&order_by=-start_date")
        .await
        .json();
    assert_eq!(ids(&done), ["done"], "{done}");
    let queued = api
        .get("/api/v1/dags/~/dagRuns?state=queued&state=failed")
        .await
        .json();
    assert_eq!(queued["total_entries"], 3);
    let run = api.get("/api/v1/dags/hello/dagRuns/done").await.json();
    let row = api.run("hello", "done").await;
    assert_eq!(run["state"], "success");
    assert_eq!(run["start_date"], opt_iso(row.start_date));
    assert_eq!(run["end_date"], opt_iso(row.end_date));

    api.get("/api/v1/dags/hello/dagRuns?order_by=color")
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!(
                "Ordering with 'color' is disallowed or the attribute does not exist on the model"
            ),
            "BadRequest",
        );
}

#[tokio::test]
async fn task_instances_and_their_logs_are_served_after_a_run() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "r1", "conf": {"name": "ada"}}),
        )
        .await;
    let tis = api
        .get("/api/v1/dags/hello/dagRuns/r1/taskInstances")
        .await
        .json();
    assert_eq!(tis["total_entries"], 2);
    let rows = api
        .state
        .launcher
        .reader()
        .task_instances(run.id)
        .await
        .unwrap();
    let greet = rows.iter().find(|t| t.task_id.as_str() == "greet").unwrap();
    let duration = (greet.end_date.unwrap() - greet.start_date.unwrap())
        .num_microseconds()
        .unwrap() as f64
        / 1e6;
    assert_eq!(
        tis["task_instances"][1],
        json!({
            "task_id": "greet",
            "task_display_name": "greet",
            "dag_id": "hello",
            "dag_run_id": "r1",
            "execution_date": iso(run.logical_date),
            "start_date": opt_iso(greet.start_date),
            "end_date": opt_iso(greet.end_date),
            "duration": duration,
            "state": "success",
            "try_number": 1,
            "map_index": -1,
            "max_tries": 0,
            "hostname": "",
            "unixname": "",
            "pool": "default_pool",
            "pool_slots": 1,
            "queue": "default",
            "priority_weight": 1,
            "operator": "shell",
            "queued_when": null,
            "pid": null,
            "executor": null,
            "executor_config": "{}",
            "sla_miss": null,
            "rendered_map_index": null,
            "rendered_fields": {},
            "trigger": null,
            "triggerer_job": null,
            "note": null,
        })
    );
    let one = api
        .get("/api/v1/dags/hello/dagRuns/r1/taskInstances/start")
        .await
        .json();
    assert_eq!(one["operator"], "noop");
    assert_eq!(one["state"], "success");

    let log = api
        .get("/api/v1/dags/hello/dagRuns/r1/taskInstances/greet/logs/1")
        .await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.content_type().starts_with("text/plain"));
    assert!(log.text().contains("hello ada"), "{}", log.text());

    let json_log = api
        .send(
            Request::get("/api/v1/dags/hello/dagRuns/r1/taskInstances/greet/logs/1")
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(json_log["continuation_token"], Value::Null);
    assert_eq!(json_log["content"].as_str().unwrap(), log.text());

    let noop_log = api
        .get("/api/v1/dags/hello/dagRuns/r1/taskInstances/start/logs/1")
        .await;
    assert_eq!(noop_log.status, StatusCode::OK);
    assert_eq!(noop_log.text(), "");

    api.get("/api/v1/dags/hello/dagRuns/r1/taskInstances/greet/logs/2")
        .await
        .assert_problem(
            404,
            "TaskInstance not found",
            json!("task greet has no try 2 in run r1"),
            "NotFound",
        );
    api.get("/api/v1/dags/hello/dagRuns/r1/taskInstances/nope")
        .await
        .assert_problem(404, "Task instance not found", Value::Null, "NotFound");
    let empty = api
        .get("/api/v1/dags/hello/dagRuns/nope/taskInstances")
        .await
        .json();
    assert_eq!(empty, json!({"task_instances": [], "total_entries": 0}));
}

#[tokio::test]
async fn a_queued_task_instance_has_a_null_state() {
    let api = Api::new().await;
    api.post(
        "/api/v1/dags/hello/dagRuns",
        json!({"dag_run_id": "waiting"}),
    )
    .await;
    let ti = api
        .get("/api/v1/dags/hello/dagRuns/waiting/taskInstances/greet")
        .await
        .json();
    assert_eq!(ti["state"], Value::Null);
    assert_eq!(ti["try_number"], 0);
    assert_eq!(ti["start_date"], Value::Null);
    assert_eq!(ti["duration"], Value::Null);
    let filtered = api
        .get("/api/v1/dags/hello/dagRuns/waiting/taskInstances?state=none")
        .await
        .json();
    assert_eq!(filtered["total_entries"], 2);
}

#[tokio::test]
async fn failing_a_running_run_over_patch_cancels_it() {
    let api = Api::new().await;
    api.post("/api/v1/dags/slow/dagRuns", json!({"dag_run_id": "long"}))
        .await;
    api.start("slow", "long").await;
    // wait until the shell try is running
    for _ in 0..200 {
        let ti = api
            .get("/api/v1/dags/slow/dagRuns/long/taskInstances/nap")
            .await
            .json();
        if ti["state"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let started = std::time::Instant::now();
    let reply = api
        .patch("/api/v1/dags/slow/dagRuns/long", json!({"state": "failed"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let run = reply.json();
    assert_eq!(run["state"], "failed");
    assert!(run["end_date"].is_string());
    assert!(started.elapsed() < Duration::from_secs(10));
    let nap = api
        .get("/api/v1/dags/slow/dagRuns/long/taskInstances/nap")
        .await
        .json();
    assert_eq!(nap["state"], "failed");
}

#[tokio::test]
async fn failing_a_queued_run_fails_it_and_skips_its_tasks() {
    let api = Api::new().await;
    api.post("/api/v1/dags/hello/dagRuns", json!({"dag_run_id": "q"}))
        .await;
    let run = api
        .patch("/api/v1/dags/hello/dagRuns/q", json!({"state": "failed"}))
        .await
        .json();
    assert_eq!(run["state"], "failed");
    let tis = api
        .get("/api/v1/dags/hello/dagRuns/q/taskInstances")
        .await
        .json();
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["state"], "skipped");
    }
    api.patch("/api/v1/dags/hello/dagRuns/q", json!({"state": "running"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("{'state': ['Must be one of: success, failed, queued.']}: got `running`"),
            "BadRequest",
        );
    api.patch(
        "/api/v1/dags/hello/dagRuns/nope",
        json!({"state": "failed"}),
    )
    .await
    .assert_problem(
        404,
        "Dag Run id nope not found in dag hello",
        Value::Null,
        "NotFound",
    );
    // a finished run may be queued again
    let requeued = api
        .patch("/api/v1/dags/hello/dagRuns/q", json!({"state": "queued"}))
        .await
        .json();
    assert_eq!(requeued["state"], "queued");
    assert_eq!(requeued["end_date"], Value::Null);
}

#[tokio::test]
async fn clearing_failed_tasks_requeues_the_run_and_reruns_them() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run("flaky", json!({"dag_run_id": "f1"}))
        .await;
    assert_eq!(run.state.as_str(), "failed");

    let expected = json!({"task_instances": [
        {"dag_id": "flaky", "dag_run_id": "f1", "execution_date": iso(run.logical_date), "task_id": "once"},
        {"dag_id": "flaky", "dag_run_id": "f1", "execution_date": iso(run.logical_date), "task_id": "after"},
    ]});
    // dry_run is Airflow's default: nothing changes
    let dry = api
        .post(
            "/api/v1/dags/flaky/clearTaskInstances",
            json!({"dag_run_id": "f1"}),
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    assert_eq!(dry.json(), expected);
    assert_eq!(api.run("flaky", "f1").await.state.as_str(), "failed");

    let only_once = api
        .post(
            "/api/v1/dags/flaky/clearTaskInstances",
            json!({"dag_run_id": "f1", "task_ids": ["once"], "dry_run": true}),
        )
        .await
        .json();
    assert_eq!(only_once["task_instances"].as_array().unwrap().len(), 1);

    let cleared = api
        .post(
            "/api/v1/dags/flaky/clearTaskInstances",
            json!({"dry_run": false, "dag_run_id": "f1"}),
        )
        .await
        .json();
    assert_eq!(cleared, expected);
    let run = api.get("/api/v1/dags/flaky/dagRuns/f1").await.json();
    assert_eq!(run["state"], "queued");
    let once = api
        .get("/api/v1/dags/flaky/dagRuns/f1/taskInstances/once")
        .await
        .json();
    assert_eq!(once["state"], Value::Null);
    assert_eq!(once["try_number"], 1);

    api.start("flaky", "f1").await;
    let run = api.wait_finished("flaky", "f1").await;
    assert_eq!(run.state.as_str(), "success");
    let once = api
        .get("/api/v1/dags/flaky/dagRuns/f1/taskInstances/once")
        .await
        .json();
    assert_eq!(once["state"], "success");
    assert_eq!(once["try_number"], 2);
    // the first, failed try's log is still there
    let first = api
        .get("/api/v1/dags/flaky/dagRuns/f1/taskInstances/once/logs/1")
        .await;
    assert_eq!(first.status, StatusCode::OK);

    api.post("/api/v1/dags/nope/clearTaskInstances", json!({}))
        .await
        .assert_problem(404, "Dag id nope not found", Value::Null, "NotFound");
    api.post(
        "/api/v1/dags/flaky/clearTaskInstances",
        json!({"dag_run_id": "zzz"}),
    )
    .await
    .assert_problem(
        404,
        "Dag Run id zzz not found in dag flaky",
        Value::Null,
        "NotFound",
    );
}

#[tokio::test]
async fn metrics_count_runs_tasks_and_delays_in_prometheus_format() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let authed = |uri: &str| {
        Request::get(uri)
            .header(header::AUTHORIZATION, "Bearer s3cret")
            .body(Body::empty())
            .unwrap()
    };
    // trigger over the API with the token, then run
    let reply = api
        .send(
            Request::post("/api/v1/dags/hello/dagRuns")
                .header(header::AUTHORIZATION, "Bearer s3cret")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"dag_run_id": "m1", "conf": {"name": "x"}}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    api.start("hello", "m1").await;
    api.wait_finished("hello", "m1").await;

    let reply = api.send(authed("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = reply.text();
    for line in [
        "# TYPE airless_dags_loaded gauge",
        "airless_dags_loaded 4",
        "airless_import_errors 1",
        "# TYPE airless_dag_runs gauge",
        "airless_dag_runs{dag_id=\"hello\",state=\"success\"} 1",
        "airless_dag_runs{dag_id=\"hello\",state=\"failed\"} 0",
        "airless_dag_runs{dag_id=\"slow\",state=\"queued\"} 0",
        "airless_task_instances{state=\"success\"} 2",
        "airless_task_instances{state=\"failed\"} 0",
        "# TYPE airless_task_duration_seconds summary",
        "airless_task_duration_seconds_count{dag_id=\"hello\",task_id=\"greet\"} 1",
        "# TYPE airless_scheduling_delay_seconds summary",
        "airless_scheduling_delay_seconds_count{dag_id=\"hello\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    let sum = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let delay = sum("airless_scheduling_delay_seconds_sum{dag_id=\"hello\"}");
    assert!((0.0..10.0).contains(&delay), "{delay}");
    let duration = sum("airless_task_duration_seconds_sum{dag_id=\"hello\",task_id=\"greet\"}");
    assert!((0.0..10.0).contains(&duration), "{duration}");
}

/// A script written against Airflow's documented v1 API (as for MWAA):
/// Basic auth, trigger with conf, poll the run until it ends, read the
/// task's log — over a real socket, with the scheduler starting the run.
#[tokio::test]
async fn a_client_written_against_airflows_documented_api_triggers_and_polls_to_success() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("dags")).unwrap();
    for (name, text) in dag_files(dir.path()) {
        std::fs::write(dir.path().join("dags").join(name), text).unwrap();
    }
    let app = crate::support::TestApp::start(dir.path(), &[("AIRLESS_API_TOKENS", "s3cret")]).await;
    let base = format!("{}/api/v1", app.base);

    let client = reqwest::Client::new();
    let trigger = client
        .post(format!("{base}/dags/hello/dagRuns"))
        .basic_auth("admin", Some("s3cret"))
        .json(&json!({"conf": {"name": "mwaa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(trigger.status(), 200);
    let run: Value = trigger.json().await.unwrap();
    assert_eq!(run["state"], "queued");
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    // Airflow's run ids carry a `+`; clients percent-encode it in the path
    let encoded = run_id.replace('+', "%2B").replace(':', "%3A");

    let mut state = String::new();
    for _ in 0..200 {
        let run: Value = client
            .get(format!("{base}/dags/hello/dagRuns/{encoded}"))
            .basic_auth("admin", Some("s3cret"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        state = run["state"].as_str().unwrap().to_string();
        if state == "success" || state == "failed" {
            assert_eq!(run["conf"], json!({"name": "mwaa"}));
            assert!(run["end_date"].is_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "success");
    let log = client
        .get(format!(
            "{base}/dags/hello/dagRuns/{encoded}/taskInstances/greet/logs/1"
        ))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains("hello mwaa"), "{log}");
    app.stop().await;
}

fn run_ids(body: &Value) -> Vec<String> {
    body["dag_runs"]
        .as_array()
        .unwrap_or_else(|| panic!("not a run list: {body}"))
        .iter()
        .map(|r| r["dag_run_id"].as_str().unwrap().to_string())
        .collect()
}

/// `+` percent-encoded, as a client should send it in a query.
fn q(t: chrono::DateTime<chrono::Utc>) -> String {
    iso(t).replace('+', "%2B")
}

#[tokio::test]
async fn dag_runs_are_filtered_by_every_date_range_inclusively() {
    let api = Api::new().await;
    let before = chrono::Utc::now();
    for (dag, id, date) in [
        ("hello", "a", "2024-01-01T00:00:00Z"),
        ("hello", "b", "2024-01-02T00:00:00Z"),
        ("hello", "c", "2024-01-03T00:00:00Z"),
        ("daily", "d", "2024-01-02T00:00:00Z"),
    ] {
        let reply = api
            .post(
                &format!("/api/v1/dags/{dag}/dagRuns"),
                json!({"dag_run_id": id, "logical_date": date}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    let done = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "done", "logical_date": "2024-01-04T00:00:00+00:00", "conf": {"name": "x"}}),
        )
        .await;
    let after = chrono::Utc::now();
    let api = &api;
    let hello = |query: &str| {
        let uri = format!("/api/v1/dags/hello/dagRuns?{query}");
        async move {
            let reply = api.get(&uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
            run_ids(&reply.json())
        }
    };
    // bounds are inclusive; `+` may come encoded, or decoded to a space
    assert_eq!(
        hello("execution_date_gte=2024-01-02T00:00:00%2B00:00").await,
        ["b", "c", "done"]
    );
    assert_eq!(
        hello("execution_date_lte=2024-01-02T00:00:00+00:00").await,
        ["a", "b"]
    );
    assert_eq!(
        hello("execution_date_gte=2024-01-02&execution_date_lte=2024-01-03").await,
        ["b", "c"]
    );
    assert_eq!(
        hello("execution_date_gte=2024-01-01T23:00:00-02:00").await,
        ["c", "done"]
    );
    // Airflow 3's name for the same range; both given, both apply
    assert_eq!(
        hello("logical_date_gte=2024-01-03T00:00:00Z").await,
        ["c", "done"]
    );
    assert_eq!(
        hello("logical_date_gte=2024-01-03&execution_date_gte=2024-01-04").await,
        ["done"]
    );
    assert!(hello("execution_date_gte=2031-01-01").await.is_empty());
    // runs not started have no start or end, so a range on them leaves them out
    assert_eq!(hello("start_date_gte=2000-01-01").await, ["done"]);
    let start = done.start_date.unwrap();
    let end = done.end_date.unwrap();
    assert_eq!(
        hello(&format!("start_date_gte={}", q(start))).await,
        ["done"]
    );
    // the instant as the API shows it (to the microsecond) still matches
    assert_eq!(
        hello(&format!("start_date_lte={}", q(start))).await,
        ["done"]
    );
    assert!(
        hello(&format!("start_date_lte={}", q(before)))
            .await
            .is_empty()
    );
    assert_eq!(
        hello(&format!("end_date_gte={}&end_date_lte={}", q(end), q(end))).await,
        ["done"]
    );
    assert!(hello("end_date_lte=2000-01-01T00:00:00Z").await.is_empty());
    // a run's last change: queued, started or ended
    assert_eq!(
        hello(&format!("updated_at_gte={}", q(before))).await,
        ["a", "b", "c", "done"]
    );
    assert_eq!(hello(&format!("updated_at_gte={}", q(end))).await, ["done"]);
    assert_eq!(
        hello(&format!("updated_at_lte={}", q(after))).await.len(),
        4
    );
    assert!(hello("updated_at_gte=2031-01-01").await.is_empty());
    assert!(hello("updated_at_lte=2000-01-01").await.is_empty());

    // `~`, with a state, an order and a page
    let all = api
        .get("/api/v1/dags/~/dagRuns?execution_date_gte=2024-01-02&execution_date_lte=2024-01-02")
        .await
        .json();
    assert_eq!(run_ids(&all), ["b", "d"]);
    let page = api
        .get("/api/v1/dags/~/dagRuns?execution_date_gte=2024-01-02&state=queued&order_by=-execution_date&limit=1")
        .await
        .json();
    assert_eq!(run_ids(&page), ["c"]);
    assert_eq!(page["total_entries"], 3);

    // Airflow's batch list: the same filters in a body
    let batch = api
        .post(
            "/api/v1/dags/~/dagRuns/list",
            json!({
                "dag_ids": ["hello", "daily"],
                "states": ["queued"],
                "execution_date_gte": "2024-01-02T00:00:00+00:00",
                "execution_date_lte": "2024-01-03T00:00:00Z",
                "order_by": "-dag_run_id",
                "page_limit": 2,
            }),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text());
    let batch = batch.json();
    assert_eq!(run_ids(&batch), ["d", "c"]);
    assert_eq!(batch["total_entries"], 3);
    let everything = api
        .post("/api/v1/dags/~/dagRuns/list", json!({}))
        .await
        .json();
    assert_eq!(everything["total_entries"], 5);
    let started = api
        .post(
            "/api/v1/dags/~/dagRuns/list",
            json!({"dag_ids": [], "start_date_gte": "2000-01-01T00:00:00Z", "page_offset": 0}),
        )
        .await
        .json();
    assert_eq!(run_ids(&started), ["done"]);
    // a `list` run id of a real DAG is still a run, not the batch list
    assert_eq!(
        api.get("/api/v1/dags/hello/dagRuns/list").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn task_instances_are_filtered_across_runs_and_dags_with_tilde() {
    let api = Api::new().await;
    let before = chrono::Utc::now();
    let done = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "r1", "logical_date": "2024-01-05T00:00:00Z", "conf": {"name": "x"}}),
        )
        .await;
    api.post(
        "/api/v1/dags/hello/dagRuns",
        json!({"dag_run_id": "waiting", "logical_date": "2024-01-06T00:00:00Z"}),
    )
    .await;
    api.post(
        "/api/v1/dags/daily/dagRuns",
        json!({"dag_run_id": "daily1", "logical_date": "2024-01-05T00:00:00Z"}),
    )
    .await;
    let api = &api;
    let tis = |query: &str| {
        let uri = format!("/api/v1/dags/{query}");
        async move {
            let reply = api.get(&uri).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
            let body = reply.json();
            let ids: Vec<String> = body["task_instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    format!(
                        "{}/{}/{}",
                        t["dag_id"].as_str().unwrap(),
                        t["dag_run_id"].as_str().unwrap(),
                        t["task_id"].as_str().unwrap()
                    )
                })
                .collect();
            if !uri.contains("limit=") {
                assert_eq!(body["total_entries"], ids.len(), "{uri}");
            }
            ids
        }
    };
    let every = [
        "hello/r1/start",
        "hello/r1/greet",
        "hello/waiting/start",
        "hello/waiting/greet",
        "daily/daily1/t",
    ];
    assert_eq!(tis("~/dagRuns/~/taskInstances").await, every);
    assert_eq!(tis("hello/dagRuns/~/taskInstances").await, every[..4]);
    assert_eq!(
        tis("~/dagRuns/waiting/taskInstances").await,
        ["hello/waiting/start", "hello/waiting/greet"]
    );
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?execution_date_gte=2024-01-05&execution_date_lte=2024-01-05T00:00:00Z").await,
        ["hello/r1/start", "hello/r1/greet", "daily/daily1/t"]
    );
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?state=none&state=success")
            .await
            .len(),
        5
    );
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?state=success").await,
        ["hello/r1/start", "hello/r1/greet"]
    );
    assert!(
        tis("~/dagRuns/~/taskInstances?state=deferred")
            .await
            .is_empty()
    );
    let start_date_gte = format!("~/dagRuns/~/taskInstances?start_date_gte={}", q(before));
    assert_eq!(
        tis(&start_date_gte).await,
        ["hello/r1/start", "hello/r1/greet"]
    );
    let rows = api
        .state
        .launcher
        .reader()
        .task_instances(done.id)
        .await
        .unwrap();
    let greet = rows.iter().find(|t| t.task_id.as_str() == "greet").unwrap();
    let end = greet.end_date.unwrap();
    assert_eq!(
        tis(&format!(
            "hello/dagRuns/r1/taskInstances?end_date_gte={}&end_date_lte={}",
            q(end),
            q(end)
        ))
        .await,
        ["hello/r1/greet"]
    );
    assert!(
        tis("~/dagRuns/~/taskInstances?end_date_lte=2000-01-01")
            .await
            .is_empty()
    );
    // finished instances have a duration; the others are outside any range
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?duration_gte=0&duration_lte=3600").await,
        ["hello/r1/start", "hello/r1/greet"]
    );
    assert!(
        tis("~/dagRuns/~/taskInstances?duration_gte=3600")
            .await
            .is_empty()
    );
    assert_eq!(
        tis(&format!(
            "~/dagRuns/~/taskInstances?updated_at_gte={}",
            q(before)
        ))
        .await
        .len(),
        5
    );
    assert!(
        tis("~/dagRuns/~/taskInstances?updated_at_gte=2031-01-01")
            .await
            .is_empty()
    );
    // every airless instance is in Airflow's default pool and queue, on no executor
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?pool=default_pool&queue=default")
            .await
            .len(),
        5
    );
    assert!(tis("~/dagRuns/~/taskInstances?pool=gpu").await.is_empty());
    assert!(tis("~/dagRuns/~/taskInstances?queue=high").await.is_empty());
    assert!(
        tis("~/dagRuns/~/taskInstances?executor=CeleryExecutor")
            .await
            .is_empty()
    );
    // ordered and paged in the database
    assert_eq!(
        tis("~/dagRuns/~/taskInstances?order_by=-start_date&limit=2&offset=0").await,
        ["hello/r1/greet", "hello/r1/start"]
    );

    // Airflow's batch list
    let batch = api
        .post(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({
                "dag_ids": ["hello"],
                "task_ids": ["greet"],
                "state": [null, "success"],
                "execution_date_lte": "2024-01-06T00:00:00Z",
                "page_limit": 10,
            }),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text());
    let batch = batch.json();
    assert_eq!(batch["total_entries"], 2);
    assert_eq!(batch["task_instances"][0]["dag_run_id"], "r1");
    assert_eq!(batch["task_instances"][1]["dag_run_id"], "waiting");
    assert_eq!(batch["task_instances"][1]["state"], Value::Null);
    let finished = api
        .post(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"dag_run_ids": ["r1", "daily1"], "duration_gte": 0, "pool": ["default_pool"]}),
        )
        .await
        .json();
    assert_eq!(finished["total_entries"], 2);
}
