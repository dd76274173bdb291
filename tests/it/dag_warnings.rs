//! `GET /api/v1/dagWarnings` in Airflow 2's shape: the shell-injection
//! warning of a loaded DAG with its filters, ordering and paging, the same
//! auth as every v1 endpoint, and a fixed file clearing its warning on
//! reload (the real daemon loop, in-process).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::api::Api;

/// `hello.yaml` of the API fixture echoes `{{ conf.name }}` in a shell
/// script: the one warning of the fixture's DAGs.
fn hello_warning(api: &Api) -> String {
    let bag = airless::dag::DagBag::load(&api.dags_dir()).unwrap();
    let warnings: Vec<String> = bag.warnings().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    warnings[0].clone()
}

#[tokio::test]
async fn dag_warnings_serve_the_shell_injection_warning_in_airflows_shape() {
    let api = Api::new().await;
    let reply = api.get("/api/v1/dagWarnings").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    let body = reply.json();
    let message = hello_warning(&api);
    let file = api.dags_dir().join("hello.yaml").display().to_string();
    assert!(message.starts_with(&format!("{file}:6:")), "{message}");
    assert!(message.contains("warning: task `greet`: `command` is a shell script that puts `{{ conf.name }}` into it: shell injection"), "{message}");
    let timestamp = body["dag_warnings"][0]["timestamp"].clone();
    assert!(
        timestamp.as_str().unwrap().ends_with("+00:00"),
        "{timestamp}"
    );
    assert_eq!(
        body,
        json!({
            "dag_warnings": [{
                "dag_id": "hello",
                "warning_type": "shell injection",
                "message": message,
                "timestamp": timestamp,
            }],
            "total_entries": 1,
        })
    );
}

#[tokio::test]
async fn dag_warnings_filter_by_dag_and_type_and_page_as_airflow_does() {
    let api = Api::new().await;
    let total = |body: Value| body["total_entries"].as_u64().unwrap();
    for (query, expected) in [
        ("?dag_id=hello", 1),
        ("?dag_id=daily", 0),
        ("?dag_id=nope", 0),
        ("?warning_type=shell%20injection", 1),
        ("?warning_type=non-existent%20pool", 0),
        ("?dag_id=hello&warning_type=shell%20injection", 1),
        ("?order_by=-timestamp", 1),
        ("?order_by=dag_id&limit=1&offset=0", 1),
    ] {
        let reply = api.get(&format!("/api/v1/dagWarnings{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
        assert_eq!(total(reply.json()), expected, "{query}");
    }
    // the offset pages past the only warning; the total still counts it
    let body = api.get("/api/v1/dagWarnings?offset=1").await.json();
    assert_eq!(body["dag_warnings"], json!([]));
    assert_eq!(body["total_entries"], 1);

    let reply = api.get("/api/v1/dagWarnings?order_by=severity").await;
    reply.assert_problem(
        400,
        "Bad Request",
        json!(
            "Ordering with 'severity' is disallowed or the attribute does not exist on the model"
        ),
        "BadRequest",
    );
    let reply = api.get("/api/v1/dagWarnings?limit=-1").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
}

#[tokio::test]
async fn dag_warnings_need_a_token_like_every_v1_endpoint() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let reply = api.get("/api/v1/dagWarnings").await;
    reply.assert_problem(401, "Unauthorized", Value::Null, "Unauthenticated");
    assert!(!reply.text().contains("hello"));
    let reply = api
        .send(
            axum::http::Request::get("/api/v1/dagWarnings")
                .header("authorization", "Bearer s3cret")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["total_entries"], 1);
}

const INJECTED: &str = "dag_id: greet\nschedule: null\ntasks:\n  - task_id: say\n    kind: shell\n    command: \"echo hello {{ conf.name }}\"\n";
const FIXED: &str = "dag_id: greet\nschedule: null\ntasks:\n  - task_id: say\n    kind: shell\n    env: { NAME: \"{{ conf.name }}\" }\n    command: 'echo hello \"$NAME\"'\n";

async fn warnings(base: &str) -> Value {
    let reply = reqwest::get(format!("{base}/api/v1/dagWarnings"))
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

#[tokio::test]
async fn a_fixed_file_clears_its_dag_warning_on_reload() {
    let (dir, dags) = crate::daemon::workspace();
    std::fs::write(dags.join("greet.yaml"), INJECTED).unwrap();
    let app = crate::support::TestApp::start(dir.path(), &[]).await;

    let body = warnings(&app.base).await;
    assert_eq!(body["total_entries"], 1, "{body}");
    assert_eq!(body["dag_warnings"][0]["dag_id"], "greet");
    assert_eq!(body["dag_warnings"][0]["warning_type"], "shell injection");
    let message = body["dag_warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{}:6:", dags.join("greet.yaml").display())),
        "{message}"
    );

    // the env: form the warning itself recommends
    std::fs::write(dags.join("greet.yaml"), FIXED).unwrap();
    let base = app.base.clone();
    crate::daemon::wait_for(
        "the warning to clear after the reload",
        Duration::from_secs(15),
        async || warnings(&base).await["total_entries"] == 0,
    )
    .await;
    assert_eq!(
        warnings(&app.base).await,
        json!({"dag_warnings": [], "total_entries": 0})
    );
    // the DAG itself is still there, in its new version
    let dag: Value = reqwest::get(format!("{}/api/v1/dags/greet", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dag["dag_id"], "greet");

    // and breaking it again brings the warning back
    std::fs::write(dags.join("greet.yaml"), INJECTED.replace("hello", "hi")).unwrap();
    crate::daemon::wait_for(
        "the warning to come back",
        Duration::from_secs(15),
        async || warnings(&base).await["total_entries"] == 1,
    )
    .await;
    app.stop().await;
}
