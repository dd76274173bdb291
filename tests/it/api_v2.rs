//! Airflow 3's API (`/api/v2`) and its token login as the official 3.x
//! client sees them: exact JSON shapes, FastAPI's `{"detail"}` errors and
//! 422 validation lists, JWT bearer auth. Driven through `api::router`
//! without a socket, on the same temp folder as the v1 tests.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::api::{Api, Reply};

async fn with_auth(api: &Api, method: Method, uri: &str, auth: &str, body: Option<Value>) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, auth);
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    api.send(request.body(body).unwrap()).await
}

async fn login(api: &Api, password: &str) -> Reply {
    api.post(
        "/auth/token",
        json!({"username": "admin", "password": password}),
    )
    .await
}

fn assert_detail(reply: &Reply, status: u16, detail: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json(), json!({ "detail": detail }));
}

/// Airflow 3 instants: pydantic's `Z` form.
fn is_pydantic_instant(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

#[tokio::test]
async fn a_token_login_answers_a_jwt_accepted_as_bearer_on_v2() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let reply = login(&api, "s3cret").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 1);
    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);

    let ok = with_auth(
        &api,
        Method::GET,
        "/api/v2/dags",
        &format!("Bearer {jwt}"),
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    // the raw API token is accepted too
    let raw = with_auth(&api, Method::GET, "/api/v2/dags", "Bearer s3cret", None).await;
    assert_eq!(raw.status, StatusCode::OK);

    assert_detail(&login(&api, "wrong").await, 401, "Invalid credentials");
    assert_detail(&api.get("/api/v2/dags").await, 401, "Not authenticated");
    let forged = format!("{jwt}x");
    let bad = with_auth(
        &api,
        Method::GET,
        "/api/v2/dags",
        &format!("Bearer {forged}"),
        None,
    )
    .await;
    assert_detail(&bad, 401, "Not authenticated");
    // v1 still wants the token itself
    let v1 = with_auth(&api, Method::GET, "/api/v1/dags", "Bearer s3cret", None).await;
    assert_eq!(v1.status, StatusCode::OK);
    // health and version need nothing, as in Airflow 3
    assert_eq!(
        api.get("/api/v2/monitor/health").await.status,
        StatusCode::OK
    );
    assert_eq!(api.get("/api/v2/version").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_login_body_missing_its_password_is_a_422_list() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let reply = api.post("/auth/token", json!({"username": "admin"})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{
            "type": "missing",
            "loc": ["body", "password"],
            "msg": "Field required",
            "input": {"username": "admin"},
        }]})
    );
}

#[tokio::test]
async fn without_tokens_v2_needs_no_auth() {
    let api = Api::new().await;
    assert_eq!(api.get("/api/v2/dags").await.status, StatusCode::OK);
    let reply = login(&api, "anything").await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test]
async fn version_and_health_answer_in_airflow_3s_shape() {
    let api = Api::new().await;
    let version = api.get("/api/v2/version").await;
    assert_eq!(version.status, StatusCode::OK);
    assert_eq!(
        version.json(),
        json!({"version": "3.1.0", "git_version": format!("airless-{}", env!("CARGO_PKG_VERSION"))})
    );
    let health = api.get("/api/v2/monitor/health").await.json();
    assert_eq!(health["metadatabase"], json!({"status": "healthy"}));
    assert_eq!(
        health["triggerer"],
        json!({"status": null, "latest_triggerer_heartbeat": null})
    );
}

#[tokio::test]
async fn dags_are_listed_got_and_paused_in_airflow_3s_shape() {
    let api = Api::new().await;
    let body = api.get("/api/v2/dags").await.json();
    assert_eq!(body["total_entries"], 4);
    let hello = body["dags"][2].clone();
    let fileloc = api.dags_dir().join("hello.yaml").display().to_string();
    assert!(is_pydantic_instant(&hello["last_parsed_time"]), "{hello}");
    let mut expected = json!({
        "dag_id": "hello",
        "dag_display_name": "hello",
        "is_paused": false,
        "is_stale": false,
        "last_parsed_time": hello["last_parsed_time"],
        "last_parse_duration": null,
        "last_expired": null,
        "bundle_name": "dags-folder",
        "bundle_version": null,
        "relative_fileloc": "hello.yaml",
        "fileloc": fileloc,
        "description": "Say hello",
        "timetable_summary": null,
        "timetable_description": "Never, external triggers only",
        "timetable_periodic": false,
        "timetable_partitioned": false,
        "tags": [],
        "max_active_tasks": 16,
        "max_active_runs": 16,
        "max_consecutive_failed_dag_runs": 0,
        "has_task_concurrency_limits": false,
        "has_import_errors": false,
        "is_backfillable": false,
        "allowed_run_types": null,
        "next_dagrun_logical_date": null,
        "next_dagrun_data_interval_start": null,
        "next_dagrun_data_interval_end": null,
        "next_dagrun_run_after": null,
        "owners": ["airflow"],
        "file_token": hello["file_token"],
    });
    assert_eq!(hello, expected);
    assert_eq!(api.get("/api/v2/dags/hello").await.json(), expected);

    let daily = api.get("/api/v2/dags/daily").await.json();
    assert_eq!(daily["timetable_summary"], "@daily");
    assert!(
        is_pydantic_instant(&daily["next_dagrun_run_after"]),
        "{daily}"
    );

    let paused = api
        .patch("/api/v2/dags/hello", json!({"is_paused": true}))
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text());
    expected["is_paused"] = json!(true);
    assert_eq!(paused.json()["is_paused"], true);

    assert_detail(
        &api.get("/api/v2/dags/nope").await,
        404,
        "Dag with id nope was not found",
    );
    let invalid = api
        .patch("/api/v2/dags/hello", json!({"is_paused": "maybe", "x": 1}))
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        invalid.json(),
        json!({"detail": [
            {"type": "bool_type", "loc": ["body", "is_paused"], "msg": "Input should be a valid boolean", "input": "maybe"},
            {"type": "extra_forbidden", "loc": ["body", "x"], "msg": "Extra inputs are not permitted", "input": 1},
        ]})
    );
    let page = api.get("/api/v2/dags?limit=x").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(page.json()["detail"][0]["loc"], json!(["query", "limit"]));
    assert_eq!(page.json()["detail"][0]["type"], "int_parsing");
}

#[tokio::test]
async fn import_errors_list_each_broken_file_in_airflow_3s_shape() {
    let api = Api::new().await;
    let body = api.get("/api/v2/importErrors").await.json();
    assert_eq!(body["total_entries"], 1);
    let error = &body["import_errors"][0];
    assert_eq!(error["import_error_id"], 1);
    assert_eq!(error["bundle_name"], "dags-folder");
    assert!(error["filename"].as_str().unwrap().ends_with("broken.yaml"));
    assert!(is_pydantic_instant(&error["timestamp"]));
    assert!(!error["stack_trace"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_trigger_with_a_null_logical_date_queues_a_run_in_airflow_3s_shape() {
    let api = Api::new().await;
    let reply = api
        .post(
            "/api/v2/dags/hello/dagRuns",
            json!({"dag_run_id": "r1", "logical_date": null, "conf": {"name": "v2"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let run = reply.json();
    let keys: Vec<&str> = run
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "bundle_version",
            "conf",
            "dag_display_name",
            "dag_id",
            "dag_run_id",
            "dag_versions",
            "data_interval_end",
            "data_interval_start",
            "duration",
            "end_date",
            "last_scheduling_decision",
            "logical_date",
            "note",
            "partition_key",
            "queued_at",
            "run_after",
            "run_type",
            "start_date",
            "state",
            "triggered_by",
            "triggering_user_name",
        ]
    );
    assert_eq!(run["dag_run_id"], "r1");
    assert_eq!(run["dag_id"], "hello");
    assert_eq!(run["state"], "queued");
    assert_eq!(run["run_type"], "manual");
    assert_eq!(run["triggered_by"], "rest_api");
    assert_eq!(run["conf"], json!({"name": "v2"}));
    assert_eq!(run["dag_versions"], json!([]));
    for field in [
        "logical_date",
        "queued_at",
        "run_after",
        "data_interval_start",
    ] {
        assert!(is_pydantic_instant(&run[field]), "{field}: {run}");
    }
    assert_eq!(api.get("/api/v2/dags/hello/dagRuns/r1").await.json(), run);

    // the run id is taken: 409
    assert_detail(
        &api.post(
            "/api/v2/dags/hello/dagRuns",
            json!({"dag_run_id": "r1", "logical_date": null}),
        )
        .await,
        409,
        "DAG Run with dag_id: 'hello' and run_id: 'r1' already exists",
    );
    assert_detail(
        &api.post("/api/v2/dags/nope/dagRuns", json!({"logical_date": null}))
            .await,
        404,
        "Dag with dag_id: 'nope' not found",
    );
}

#[tokio::test]
async fn a_trigger_without_logical_date_or_with_bad_fields_is_a_422_listing_each() {
    let api = Api::new().await;
    let reply = api
        .post(
            "/api/v2/dags/hello/dagRuns",
            json!({"conf": [1], "run_id": "x"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [
            {"type": "missing", "loc": ["body", "logical_date"], "msg": "Field required", "input": {"conf": [1], "run_id": "x"}},
            {"type": "dict_type", "loc": ["body", "conf"], "msg": "Input should be a valid dictionary", "input": [1]},
            {"type": "extra_forbidden", "loc": ["body", "run_id"], "msg": "Extra inputs are not permitted", "input": "x"},
        ]})
    );
    let naive = api
        .post(
            "/api/v2/dags/hello/dagRuns",
            json!({"logical_date": "2024-01-01T00:00:00"}),
        )
        .await;
    assert_eq!(naive.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(naive.json()["detail"][0]["type"], "timezone_aware");
    let not_json = api
        .send(
            Request::post("/api/v2/dags/hello/dagRuns")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{nope"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(not_json.json()["detail"][0]["type"], "json_invalid");
}

#[tokio::test]
async fn a_run_is_listed_patched_cleared_and_its_task_instances_tries_and_log_read() {
    let api = Api::new().await;
    let reply = api
        .post(
            "/api/v2/dags/hello/dagRuns",
            json!({"dag_run_id": "r1", "logical_date": "2024-03-01T00:00:00Z", "conf": {"name": "v2"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    api.start("hello", "r1").await;
    api.wait_finished("hello", "r1").await;

    let run = api.get("/api/v2/dags/hello/dagRuns/r1").await.json();
    assert_eq!(run["state"], "success");
    assert_eq!(run["logical_date"], "2024-03-01T00:00:00Z");
    assert!(run["duration"].is_number());

    let list = api.get("/api/v2/dags/~/dagRuns?state=success").await.json();
    assert_eq!(list["total_entries"], 1);
    assert_eq!(list["dag_runs"][0]["dag_run_id"], "r1");
    let none = api
        .get("/api/v2/dags/hello/dagRuns?state=failed")
        .await
        .json();
    assert_eq!(none, json!({"dag_runs": [], "total_entries": 0}));
    let bad_state = api.get("/api/v2/dags/hello/dagRuns?state=nope").await;
    assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_detail(
        &api.get("/api/v2/dags/nope/dagRuns").await,
        404,
        "The Dag with ID: `nope` was not found",
    );
    let batch = api
        .post(
            "/api/v2/dags/~/dagRuns/list",
            json!({"dag_ids": ["hello"], "states": ["success"]}),
        )
        .await
        .json();
    assert_eq!(batch["total_entries"], 1);

    let tis = api
        .get("/api/v2/dags/hello/dagRuns/r1/taskInstances")
        .await
        .json();
    assert_eq!(tis["total_entries"], 2);
    let greet = tis["task_instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ti| ti["task_id"] == "greet")
        .unwrap()
        .clone();
    assert_eq!(greet["state"], "success");
    assert_eq!(greet["try_number"], 1);
    assert_eq!(greet["map_index"], -1);
    assert_eq!(greet["operator"], "shell");
    assert_eq!(greet["executor_config"], "{}");
    assert_eq!(greet["pool"], "default_pool");
    assert!(greet["id"].as_str().unwrap().len() == 36);
    assert!(is_pydantic_instant(&greet["run_after"]));
    assert_eq!(
        api.get("/api/v2/dags/hello/dagRuns/r1/taskInstances/greet")
            .await
            .json(),
        greet
    );
    assert_detail(
        &api.get("/api/v2/dags/hello/dagRuns/r1/taskInstances/nope")
            .await,
        404,
        "The Task Instance with dag_id: `hello`, run_id: `r1`, task_id: `nope` and map_index: `-1` was not found",
    );
    assert_detail(
        &api.get("/api/v2/dags/hello/dagRuns/nope").await,
        404,
        "The DagRun with dag_id: `hello` and run_id: `nope` was not found",
    );

    let tries = api
        .get("/api/v2/dags/hello/dagRuns/r1/taskInstances/greet/tries")
        .await
        .json();
    assert_eq!(tries["total_entries"], 1);
    assert_eq!(tries["task_instances"][0]["try_number"], 1);
    assert_eq!(tries["task_instances"][0]["state"], "success");
    let one = api
        .get("/api/v2/dags/hello/dagRuns/r1/taskInstances/greet/tries/1")
        .await;
    assert_eq!(one.json(), tries["task_instances"][0]);

    let log = api
        .get("/api/v2/dags/hello/dagRuns/r1/taskInstances/greet/logs/1")
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let log = log.json();
    assert_eq!(log["continuation_token"], Value::Null);
    let lines: Vec<&str> = log["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["event"].as_str().unwrap())
        .collect();
    assert!(lines.iter().any(|l| l.contains("hello v2")), "{lines:?}");
    assert_detail(
        &api.get("/api/v2/dags/hello/dagRuns/r1/taskInstances/greet/logs/7")
            .await,
        404,
        "The Task Instance History with dag_id: `hello`, run_id: `r1`, task_id: `greet`, map_index: `-1` and try_number: `7` was not found",
    );

    // a dry-run clear lists the instances, a real one re-queues the run
    let dry = api
        .post("/api/v2/dags/hello/dagRuns/r1/clear", json!({}))
        .await
        .json();
    assert_eq!(dry["total_entries"], 2);
    let cleared = api
        .post(
            "/api/v2/dags/hello/dagRuns/r1/clear",
            json!({"dry_run": false}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
    assert_eq!(cleared.json()["state"], "queued");
    api.start("hello", "r1").await;
    api.wait_finished("hello", "r1").await;

    // failing a finished run through PATCH is refused as a bad request;
    // re-queuing it is accepted
    let bad = api
        .patch("/api/v2/dags/hello/dagRuns/r1", json!({"state": "running"}))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["detail"][0]["type"], "enum");
    let queued = api
        .patch("/api/v2/dags/hello/dagRuns/r1", json!({"state": "queued"}))
        .await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text());
    assert_eq!(queued.json()["state"], "queued");
}

#[tokio::test]
async fn wait_streams_the_runs_state_as_ndjson_until_it_ends() {
    let api = Api::new().await;
    api.post(
        "/api/v2/dags/hello/dagRuns",
        json!({"dag_run_id": "w", "logical_date": null, "conf": {"name": "x"}}),
    )
    .await;
    api.start("hello", "w").await;
    let reply = api
        .get("/api/v2/dags/hello/dagRuns/w/wait?interval=0.05&result=greet")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/x-ndjson");
    let text = reply.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["state"], "success", "{text}");
    assert!(last.get("results").is_some(), "{text}");
    for line in &lines[..lines.len() - 1] {
        assert!(
            line["state"] == "queued" || line["state"] == "running",
            "{text}"
        );
    }
    let missing = api.get("/api/v2/dags/hello/dagRuns/w/wait").await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.json()["detail"][0],
        json!({"type": "missing", "loc": ["query", "interval"], "msg": "Field required", "input": null})
    );
}

#[tokio::test]
async fn a_running_trys_log_has_a_continuation_token_and_patch_failed_cancels_the_run() {
    let api = Api::new().await;
    let reply = api
        .post(
            "/api/v2/dags/slow/dagRuns",
            json!({"dag_run_id": "s", "logical_date": null}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    api.start("slow", "s").await;
    let uri = "/api/v2/dags/slow/dagRuns/s/taskInstances/nap";
    for _ in 0..200 {
        if api.get(uri).await.json()["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let log = api.get(&format!("{uri}/logs/1")).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let token = log.json()["continuation_token"].clone();
    assert!(token.is_string(), "{}", log.text());
    let next = api
        .get(&format!("{uri}/logs/1?token={}", token.as_str().unwrap()))
        .await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.text());
    assert!(next.json()["content"].is_array());

    let failed = api
        .patch("/api/v2/dags/slow/dagRuns/s", json!({"state": "failed"}))
        .await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text());
    assert_eq!(failed.json()["state"], "failed");
}

#[tokio::test]
async fn a_finished_run_is_deleted_with_204_and_then_is_a_404() {
    let api = Api::new().await;
    api.post(
        "/api/v2/dags/hello/dagRuns",
        json!({"dag_run_id": "gone", "logical_date": null, "conf": {"name": "x"}}),
    )
    .await;
    api.start("hello", "gone").await;
    api.wait_finished("hello", "gone").await;
    let deleted = api
        .call(Method::DELETE, "/api/v2/dags/hello/dagRuns/gone", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    let again = api.get("/api/v2/dags/hello/dagRuns/gone").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let missing = api
        .call(Method::DELETE, "/api/v2/dags/hello/dagRuns/gone", None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["detail"].is_string(), "{}", missing.text());
}
