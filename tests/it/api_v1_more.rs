//! The Airflow 2.10 v1 endpoints scripts written for MWAA call beyond the
//! basics: version, DAG details, tasks, XComs, try history, deleting a
//! run, marking task instances, re-queueing a run from scratch. Exact JSON
//! shapes and problem JSON, and that each state change really happened.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::Api;

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    airless::api::dto::iso(t)
}

#[tokio::test]
async fn version_answers_airflows_shape_without_a_token() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let reply = api.get("/api/v1/version").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"version": "2.10.5", "git_version": format!("airless-{}", env!("CARGO_PKG_VERSION"))})
    );
}

#[tokio::test]
async fn every_new_endpoint_wants_a_token() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let run = "/api/v1/dags/hello/dagRuns/r";
    for (method, uri, body) in [
        (Method::GET, "/api/v1/dags/hello/details".to_string(), None),
        (Method::GET, "/api/v1/dags/hello/tasks".to_string(), None),
        (
            Method::GET,
            "/api/v1/dags/hello/tasks/greet".to_string(),
            None,
        ),
        (
            Method::GET,
            format!("{run}/taskInstances/greet/xcomEntries"),
            None,
        ),
        (
            Method::GET,
            format!("{run}/taskInstances/greet/xcomEntries/return_value"),
            None,
        ),
        (
            Method::GET,
            format!("{run}/taskInstances/greet/tries"),
            None,
        ),
        (
            Method::GET,
            format!("{run}/taskInstances/greet/tries/1"),
            None,
        ),
        (Method::DELETE, run.to_string(), None),
        (
            Method::PATCH,
            format!("{run}/taskInstances/greet"),
            Some(json!({"new_state": "success"})),
        ),
        (
            Method::POST,
            "/api/v1/dags/hello/updateTaskInstancesState".to_string(),
            Some(json!({})),
        ),
    ] {
        api.call(method, &uri, body).await.assert_problem(
            401,
            "Unauthorized",
            Value::Null,
            "Unauthenticated",
        );
    }
}

#[tokio::test]
async fn dag_details_add_the_files_settings_to_the_dag() {
    let api = Api::new().await;
    let dag = api.get("/api/v1/dags/daily").await.json();
    let reply = api.get("/api/v1/dags/daily/details").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut expected = dag.as_object().unwrap().clone();
    let extra = json!({
        "timezone": "Timezone('UTC')",
        "catchup": false,
        "orientation": "LR",
        "concurrency": 16,
        "dataset_expression": null,
        "start_date": "2024-01-01T00:00:00+00:00",
        "dag_run_timeout": null,
        "doc_md": null,
        "params": {},
        "is_paused_upon_creation": false,
        "end_date": null,
        "template_searchpath": null,
        "render_template_as_native_obj": false,
        "last_parsed": dag["last_parsed_time"],
    });
    expected.extend(extra.as_object().unwrap().clone());
    assert_eq!(reply.json(), Value::Object(expected));
    api.get("/api/v1/dags/nope/details").await.assert_problem(
        404,
        "DAG not found",
        json!("The DAG with dag_id: nope was not found"),
        "NotFound",
    );
}

#[tokio::test]
async fn tasks_are_listed_as_airflows_task_schema() {
    let api = Api::new().await;
    let reply = api.get("/api/v1/dags/hello/tasks").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["total_entries"], 2);
    let ids: Vec<&str> = body["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["greet", "start"]);
    let start = api.get("/api/v1/dags/hello/tasks/start").await;
    assert_eq!(start.status, StatusCode::OK);
    assert_eq!(
        start.json(),
        json!({
            "class_ref": {"class_name": "noop", "module_path": "airless.kinds.noop"},
            "operator_name": "noop",
            "task_id": "start",
            "task_display_name": "start",
            "owner": "airflow",
            "start_date": null,
            "end_date": null,
            "trigger_rule": "all_success",
            "extra_links": [],
            "depends_on_past": false,
            "wait_for_downstream": false,
            "retries": 0,
            "queue": "default",
            "pool": "default_pool",
            "pool_slots": 1,
            "execution_timeout": null,
            "retry_delay": {"__type": "TimeDelta", "days": 0, "seconds": 300, "microseconds": 0},
            "retry_exponential_backoff": false,
            "priority_weight": 1,
            "weight_rule": "downstream",
            "ui_color": "#fff",
            "ui_fgcolor": "#000",
            "template_fields": [],
            "downstream_task_ids": ["greet"],
            "params": {},
            "is_mapped": false,
            "doc_md": null,
        })
    );
    assert_eq!(body["tasks"][1], start.json());
    let reversed = api
        .get("/api/v1/dags/hello/tasks?order_by=-task_id")
        .await
        .json();
    assert_eq!(reversed["tasks"][0]["task_id"], "start");
    api.get("/api/v1/dags/hello/tasks?order_by=colour")
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("'Task' object has no attribute 'colour'"),
            "BadRequest",
        );
    api.get("/api/v1/dags/nope/tasks").await.assert_problem(
        404,
        "DAG not found",
        Value::Null,
        "NotFound",
    );
    api.get("/api/v1/dags/nope/tasks/start")
        .await
        .assert_problem(404, "DAG not found", Value::Null, "NotFound");
    api.get("/api/v1/dags/hello/tasks/nope")
        .await
        .assert_problem(404, "Task not found", Value::Null, "NotFound");
}

#[tokio::test]
async fn a_tasks_output_is_its_return_value_xcom() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "x1", "conf": {"name": "ada"}}),
        )
        .await;
    assert_eq!(run.state.as_str(), "success");
    let greet = api
        .get("/api/v1/dags/hello/dagRuns/x1/taskInstances/greet")
        .await
        .json();
    let entry = json!({
        "key": "return_value",
        "timestamp": greet["end_date"],
        "execution_date": iso(run.logical_date),
        "map_index": -1,
        "task_id": "greet",
        "dag_id": "hello",
    });
    let list = api
        .get("/api/v1/dags/hello/dagRuns/x1/taskInstances/greet/xcomEntries")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    assert_eq!(
        list.json(),
        json!({"xcom_entries": [entry.clone()], "total_entries": 1})
    );
    // `~` lists every task's; the noop start has no output
    let all = api
        .get("/api/v1/dags/~/dagRuns/~/taskInstances/~/xcomEntries")
        .await
        .json();
    assert_eq!(all["total_entries"], 1);
    let none = api
        .get("/api/v1/dags/hello/dagRuns/x1/taskInstances/greet/xcomEntries?xcom_key=other")
        .await
        .json();
    assert_eq!(none, json!({"xcom_entries": [], "total_entries": 0}));

    let mut with_value = entry.clone();
    with_value["value"] = json!("hello ada");
    let one = api
        .get("/api/v1/dags/hello/dagRuns/x1/taskInstances/greet/xcomEntries/return_value")
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text());
    assert_eq!(one.json(), with_value);
    let native = api
        .get("/api/v1/dags/hello/dagRuns/x1/taskInstances/greet/xcomEntries/return_value?stringify=false")
        .await
        .json();
    assert_eq!(native["value"], "hello ada");
    for uri in [
        "/api/v1/dags/hello/dagRuns/x1/taskInstances/start/xcomEntries/return_value",
        "/api/v1/dags/hello/dagRuns/x1/taskInstances/greet/xcomEntries/other",
        "/api/v1/dags/hello/dagRuns/nope/taskInstances/greet/xcomEntries/return_value",
        "/api/v1/dags/nope/dagRuns/x1/taskInstances/greet/xcomEntries/return_value",
        "/api/v1/dags/hello/dagRuns/x1/taskInstances/nope/xcomEntries/return_value",
    ] {
        api.get(uri)
            .await
            .assert_problem(404, "XCom entry not found", Value::Null, "NotFound");
    }
}

#[tokio::test]
async fn tries_list_each_try_then_the_instance_as_it_is() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run("flaky", json!({"dag_run_id": "t1"}))
        .await;
    assert_eq!(run.state.as_str(), "failed");
    let base = "/api/v1/dags/flaky/dagRuns/t1/taskInstances/once";
    let ti = api.get(base).await.json();
    let reply = api.get(&format!("{base}/tries")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let history = json!({
        "task_id": "once",
        "task_display_name": "once",
        "dag_id": "flaky",
        "dag_run_id": "t1",
        "map_index": -1,
        "start_date": ti["start_date"],
        "end_date": ti["end_date"],
        "duration": ti["duration"],
        "state": "failed",
        "try_number": 1,
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
    });
    assert_eq!(
        reply.json(),
        json!({"task_instances": [history.clone()], "total_entries": 1})
    );
    assert_eq!(api.get(&format!("{base}/tries/1")).await.json(), history);

    // cleared and run again: the first try is history, the second current
    api.post(
        "/api/v1/dags/flaky/clearTaskInstances",
        json!({"dry_run": false, "dag_run_id": "t1"}),
    )
    .await;
    api.start("flaky", "t1").await;
    assert_eq!(
        api.wait_finished("flaky", "t1").await.state.as_str(),
        "success"
    );
    let tries = api.get(&format!("{base}/tries")).await.json();
    assert_eq!(tries["total_entries"], 2);
    assert_eq!(tries["task_instances"][0]["state"], "failed");
    assert_eq!(tries["task_instances"][0]["try_number"], 1);
    assert_eq!(tries["task_instances"][1]["state"], "success");
    assert_eq!(tries["task_instances"][1]["try_number"], 2);
    assert_eq!(
        api.get(&format!("{base}/tries/1")).await.json()["state"],
        "failed"
    );

    api.get(&format!("{base}/tries/7")).await.assert_problem(
        404,
        "Task instance not found",
        json!("Task Instance not found for dag_id=flaky, run_id=t1, task_id=once, map_index=-1, try_number=7."),
        "NotFound",
    );
    api.get(&format!("{base}/tries/one")).await.assert_problem(
        400,
        "Bad Request",
        json!("'one' is not of type 'integer' - 'task_try_number'"),
        "BadRequest",
    );
    // as in Airflow, an unknown DAG, run or task has no tries
    for uri in [
        "/api/v1/dags/nope/dagRuns/t1/taskInstances/once/tries",
        "/api/v1/dags/flaky/dagRuns/nope/taskInstances/once/tries",
        "/api/v1/dags/flaky/dagRuns/t1/taskInstances/nope/tries",
    ] {
        assert_eq!(
            api.get(uri).await.json(),
            json!({"task_instances": [], "total_entries": 0})
        );
    }
}

#[tokio::test]
async fn marking_a_failed_task_success_lets_its_run_finish() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run("flaky", json!({"dag_run_id": "m1"}))
        .await;
    assert_eq!(run.state.as_str(), "failed");
    let uri = "/api/v1/dags/flaky/dagRuns/m1/taskInstances/once";
    let reference = json!({
        "dag_id": "flaky",
        "dag_run_id": "m1",
        "execution_date": iso(run.logical_date),
        "task_id": "once",
    });
    // dry_run is the documented default: nothing changes
    let dry = api.patch(uri, json!({"new_state": "success"})).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    assert_eq!(dry.json(), reference);
    assert_eq!(api.get(uri).await.json()["state"], "failed");

    let done = api
        .patch(uri, json!({"new_state": "success", "dry_run": false}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.json(), reference);
    assert_eq!(api.get(uri).await.json()["state"], "success");
    // the upstream_failed task below is cleared and the run queued again
    let after = api
        .get("/api/v1/dags/flaky/dagRuns/m1/taskInstances/after")
        .await
        .json();
    assert_eq!(after["state"], Value::Null);
    assert_eq!(api.run("flaky", "m1").await.state.as_str(), "queued");
    api.start("flaky", "m1").await;
    let run = api.wait_finished("flaky", "m1").await;
    assert_eq!(run.state.as_str(), "success");
    let after = api
        .get("/api/v1/dags/flaky/dagRuns/m1/taskInstances/after")
        .await
        .json();
    assert_eq!(after["state"], "success");
    // `once` never ran again: the mark is what finished it
    assert_eq!(api.get(uri).await.json()["try_number"], 1);
}

#[tokio::test]
async fn patching_a_task_instance_names_what_is_wrong() {
    let api = Api::new().await;
    api.trigger_and_run(
        "hello",
        json!({"dag_run_id": "p1", "conf": {"name": "ada"}}),
    )
    .await;
    let uri = "/api/v1/dags/hello/dagRuns/p1/taskInstances/greet";
    api.patch(uri, json!({"new_state": "running"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("'running' is not one of ['success', 'failed', 'skipped'] - 'new_state'"),
            "BadRequest",
        );
    api.patch(uri, json!({"dry_run": false}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("{'new_state': ['Missing data for required field.']}"),
            "BadRequest",
        );
    api.patch(uri, json!({"new_state": "failed", "note": "x"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("{'note': ['Unknown field.']}"),
            "BadRequest",
        );
    api.patch(
        "/api/v1/dags/nope/dagRuns/p1/taskInstances/greet",
        json!({"new_state": "failed"}),
    )
    .await
    .assert_problem(
        404,
        "DAG not found",
        json!("DAG 'nope' not found"),
        "NotFound",
    );
    api.patch(
        "/api/v1/dags/hello/dagRuns/p1/taskInstances/nope",
        json!({"new_state": "failed"}),
    )
    .await
    .assert_problem(
        404,
        "Task not found",
        json!("Task 'nope' not found in DAG 'hello'"),
        "NotFound",
    );
    api.patch(
        "/api/v1/dags/hello/dagRuns/nope/taskInstances/greet",
        json!({"new_state": "failed"}),
    )
    .await
    .assert_problem(
        404,
        "Not Found",
        json!("Task instance not found for task 'greet' on DAG run with ID 'nope'"),
        "NotFound",
    );
    // marking a succeeded task failed really fails it (the run stays as it is)
    let done = api
        .patch(uri, json!({"new_state": "failed", "dry_run": false}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(api.get(uri).await.json()["state"], "failed");
}

#[tokio::test]
async fn update_task_instances_state_marks_a_task_and_its_relatives() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run("flaky", json!({"dag_run_id": "u1"}))
        .await;
    assert_eq!(run.state.as_str(), "failed");
    let uri = "/api/v1/dags/flaky/updateTaskInstancesState";
    let body = |dry_run: bool| {
        json!({
            "dry_run": dry_run,
            "task_id": "once",
            "dag_run_id": "u1",
            "include_upstream": false,
            "include_downstream": true,
            "include_future": false,
            "include_past": false,
            "new_state": "skipped",
        })
    };
    let reference = |task: &str| json!({"dag_id": "flaky", "dag_run_id": "u1", "execution_date": iso(run.logical_date), "task_id": task});
    let expected = json!({"task_instances": [reference("once"), reference("after")]});
    let dry = api.post(uri, body(true)).await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text());
    assert_eq!(dry.json(), expected);
    let tis = "/api/v1/dags/flaky/dagRuns/u1/taskInstances";
    assert_eq!(
        api.get(&format!("{tis}/once")).await.json()["state"],
        "failed"
    );

    let done = api.post(uri, body(false)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.json(), expected);
    for task in ["once", "after"] {
        assert_eq!(
            api.get(&format!("{tis}/{task}")).await.json()["state"],
            "skipped"
        );
    }
    // what is already in the state is not listed again
    assert_eq!(
        api.post(uri, body(true)).await.json(),
        json!({"task_instances": []})
    );
    // by logical date instead of run id
    let mut by_date = body(true);
    by_date.as_object_mut().unwrap().remove("dag_run_id");
    by_date["execution_date"] = json!(iso(run.logical_date));
    by_date["new_state"] = json!("success");
    assert_eq!(api.post(uri, by_date.clone()).await.json(), expected);
    by_date["execution_date"] = json!("2001-01-01T00:00:00+00:00");
    api.post(uri, by_date).await.assert_problem(
        404,
        "Not Found",
        json!(
            "Task instance not found for task 'once' on execution_date 2001-01-01 00:00:00+00:00"
        ),
        "NotFound",
    );
}

#[tokio::test]
async fn update_task_instances_state_refuses_a_bad_body_and_unknown_names() {
    let api = Api::new().await;
    api.post("/api/v1/dags/hello/dagRuns", json!({"dag_run_id": "b1"}))
        .await;
    let uri = "/api/v1/dags/hello/updateTaskInstancesState";
    let body = json!({
        "task_id": "greet",
        "dag_run_id": "b1",
        "include_upstream": false,
        "include_downstream": false,
        "include_future": false,
        "include_past": false,
        "new_state": "failed",
    });
    api.post(uri, json!({"task_id": "greet"}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("{'include_upstream': ['Missing data for required field.'], 'include_downstream': ['Missing data for required field.'], 'include_future': ['Missing data for required field.'], 'include_past': ['Missing data for required field.'], 'new_state': ['Missing data for required field.']}"),
            "BadRequest",
        );
    let mut both = body.clone();
    both["execution_date"] = json!("2024-01-01T00:00:00+00:00");
    api.post(uri, both).await.assert_problem(
        400,
        "Bad Request",
        json!("{'_schema': ['Exactly one of execution_date or dag_run_id must be provided']}"),
        "BadRequest",
    );
    let mut neither = body.clone();
    neither.as_object_mut().unwrap().remove("dag_run_id");
    api.post(uri, neither).await.assert_problem(
        400,
        "Bad Request",
        json!("{'_schema': ['Exactly one of execution_date or dag_run_id must be provided']}"),
        "BadRequest",
    );
    api.post("/api/v1/dags/nope/updateTaskInstancesState", body.clone())
        .await
        .assert_problem(404, "Dag ID nope not found", Value::Null, "NotFound");
    let mut task = body.clone();
    task["task_id"] = json!("nope");
    api.post(uri, task).await.assert_problem(
        404,
        "Task ID nope not found",
        Value::Null,
        "NotFound",
    );
    let mut run = body.clone();
    run["dag_run_id"] = json!("nope");
    api.post(uri, run).await.assert_problem(
        404,
        "Not Found",
        json!("Task instance not found for task 'greet' on DAG run with ID 'nope'"),
        "NotFound",
    );
    // a queued run nobody drives yet can be marked
    let mut real = body.clone();
    real["dry_run"] = json!(false);
    let done = api.post(uri, real).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.json()["task_instances"][0]["task_id"], "greet");
}

#[tokio::test]
async fn a_driven_run_is_neither_marked_nor_deleted_until_it_ends() {
    let api = Api::new().await;
    api.post("/api/v1/dags/slow/dagRuns", json!({"dag_run_id": "s1"}))
        .await;
    api.start("slow", "s1").await;
    let nap = "/api/v1/dags/slow/dagRuns/s1/taskInstances/nap";
    for _ in 0..200 {
        if api.get(nap).await.json()["state"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let refused = api
        .patch(nap, json!({"new_state": "success", "dry_run": false}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(refused.json()["title"], "Conflict");
    let refused = api
        .call(Method::DELETE, "/api/v1/dags/slow/dagRuns/s1", None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    assert_eq!(api.run("slow", "s1").await.state.as_str(), "running");

    // failed (cancelled), it can go
    api.patch("/api/v1/dags/slow/dagRuns/s1", json!({"state": "failed"}))
        .await;
    api.wait_finished("slow", "s1").await;
    let deleted = api
        .call(Method::DELETE, "/api/v1/dags/slow/dagRuns/s1", None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    api.get("/api/v1/dags/slow/dagRuns/s1")
        .await
        .assert_problem(
            404,
            "DAGRun not found",
            json!("DAGRun with DAG ID: 'slow' and DagRun ID: 's1' not found"),
            "NotFound",
        );
}

#[tokio::test]
async fn deleting_a_run_removes_it_with_its_task_instances_and_logs() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run(
            "hello",
            json!({"dag_run_id": "d1", "conf": {"name": "ada"}}),
        )
        .await;
    let tries = api
        .state
        .launcher
        .reader()
        .tries_of_run(run.id)
        .await
        .unwrap();
    let log = tries
        .iter()
        .find(|(task, _)| task.as_str() == "greet")
        .map(|(_, t)| t.log_path.clone())
        .unwrap();
    assert!(std::path::Path::new(&log).exists());
    let reply = api
        .call(Method::DELETE, "/api/v1/dags/hello/dagRuns/d1", None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert!(!std::path::Path::new(&log).exists());
    let tis = api
        .post(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"dag_run_ids": ["d1"]}),
        )
        .await
        .json();
    assert_eq!(tis["total_entries"], 0);
    // the logical date is free again
    let again = api
        .post(
            "/api/v1/dags/hello/dagRuns",
            json!({"dag_run_id": "d2", "logical_date": iso(run.logical_date)}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    api.call(Method::DELETE, "/api/v1/dags/hello/dagRuns/d1", None)
        .await
        .assert_problem(
            404,
            "Not Found",
            json!("DAGRun with DAG ID: 'hello' and DagRun ID: 'd1' not found"),
            "NotFound",
        );
    // a queued run nobody drives yet is deleted too
    let queued = api
        .call(Method::DELETE, "/api/v1/dags/hello/dagRuns/d2", None)
        .await;
    assert_eq!(queued.status, StatusCode::NO_CONTENT, "{}", queued.text());
}

#[tokio::test]
async fn queueing_a_finished_run_again_clears_it_so_it_runs_again() {
    let api = Api::new().await;
    let run = api
        .trigger_and_run("flaky", json!({"dag_run_id": "q1"}))
        .await;
    assert_eq!(run.state.as_str(), "failed");
    let reply = api
        .patch("/api/v1/dags/flaky/dagRuns/q1", json!({"state": "queued"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["state"], "queued");
    assert_eq!(reply.json()["end_date"], Value::Null);
    let tis = api
        .get("/api/v1/dags/flaky/dagRuns/q1/taskInstances")
        .await
        .json();
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["state"], Value::Null, "{ti}");
    }
    api.start("flaky", "q1").await;
    let run = api.wait_finished("flaky", "q1").await;
    // the second try of `once` finds its marker: the run now succeeds
    assert_eq!(run.state.as_str(), "success");
}

#[tokio::test]
async fn the_batch_lists_take_airflows_bodies() {
    let api = Api::new().await;
    api.trigger_and_run(
        "hello",
        json!({"dag_run_id": "l1", "conf": {"name": "ada"}}),
    )
    .await;
    api.post("/api/v1/dags/hello/dagRuns", json!({"dag_run_id": "l2"}))
        .await;
    let runs = api
        .post(
            "/api/v1/dags/~/dagRuns/list",
            json!({"dag_ids": ["hello"], "states": ["success"], "order_by": "-dag_run_id"}),
        )
        .await;
    assert_eq!(runs.status, StatusCode::OK, "{}", runs.text());
    let runs = runs.json();
    assert_eq!(runs["total_entries"], 1);
    assert_eq!(runs["dag_runs"][0]["dag_run_id"], "l1");
    let tis = api
        .post(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"dag_ids": ["hello"], "dag_run_ids": ["l1", "l2"], "state": [null], "order_by": "-state"}),
        )
        .await;
    assert_eq!(tis.status, StatusCode::OK, "{}", tis.text());
    let tis = tis.json();
    assert_eq!(tis["total_entries"], 2);
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["dag_run_id"], "l2");
    }
    api.post(
        "/api/v1/dags/~/dagRuns/~/taskInstances/list",
        json!({"order_by": "colour"}),
    )
    .await
    .assert_problem(
        400,
        "Bad Request",
        json!("Ordering with 'colour' is not supported"),
        "BadRequest",
    );
    api.post("/api/v1/dags/~/dagRuns/list", json!({"page_limit": 0}))
        .await
        .assert_problem(
            400,
            "Bad Request",
            json!("0 is less than the minimum of 1 - 'page_limit'"),
            "BadRequest",
        );
}
