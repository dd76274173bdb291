//! The engine driving real runs: trigger rules, retries and backoff,
//! timeouts that kill process groups, cancellation, concurrency caps,
//! templated outputs, and resuming after a crash.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airless::engine::DriveOutcome;
use airless::model::VirtualClock;
use airless::model::{RunState, TaskState};
use tokio_util::sync::CancellationToken;

use crate::support::{TestEnv, jan1, process_is_gone, read_pid};

#[tokio::test]
async fn each_trigger_rule_reacts_to_a_failed_upstream_as_airflow_does() {
    let env = TestEnv::new().await;
    let dag = env.dag(
        r#"
dag_id: rules
tasks:
  - { task_id: ok, kind: noop }
  - { task_id: boom, kind: shell, command: "exit 3" }
  - { task_id: all_success, kind: noop, depends_on: [ok, boom] }
  - { task_id: all_done, kind: noop, depends_on: [ok, boom], trigger_rule: all_done }
  - { task_id: all_failed, kind: noop, depends_on: [boom], trigger_rule: all_failed }
  - { task_id: all_failed_mixed, kind: noop, depends_on: [ok, boom], trigger_rule: all_failed }
  - { task_id: one_success, kind: noop, depends_on: [ok, boom], trigger_rule: one_success }
  - { task_id: one_failed, kind: noop, depends_on: [ok, boom], trigger_rule: one_failed }
  - { task_id: one_failed_none, kind: noop, depends_on: [ok], trigger_rule: one_failed }
  - { task_id: none_failed, kind: noop, depends_on: [ok, boom], trigger_rule: none_failed }
  - { task_id: after_skip, kind: noop, depends_on: [one_failed_none] }
  - { task_id: after_upstream_failed, kind: noop, depends_on: [all_success] }
"#,
    );
    let (state, tis) = env.run(&dag).await;
    let expected = [
        ("ok", "success"),
        ("boom", "failed"),
        ("all_success", "upstream_failed"),
        ("all_done", "success"),
        ("all_failed", "success"),
        ("all_failed_mixed", "skipped"),
        ("one_success", "success"),
        ("one_failed", "success"),
        ("one_failed_none", "skipped"),
        ("none_failed", "upstream_failed"),
        ("after_skip", "skipped"),
        ("after_upstream_failed", "upstream_failed"),
    ];
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(tis.states(), expected);
    // Airflow: a leaf that failed upstream fails the run
    assert_eq!(state, RunState::Failed);
    assert_eq!(
        tis.get("boom").error.as_deref(),
        Some("command exited with code 3")
    );
}

#[tokio::test]
async fn a_run_whose_leaves_succeed_succeeds_even_after_a_handled_failure() {
    let env = TestEnv::new().await;
    let dag = env.dag(
        r#"
dag_id: handled
tasks:
  - { task_id: boom, kind: shell, command: "exit 1" }
  - { task_id: cleanup, kind: noop, depends_on: [boom], trigger_rule: all_done }
"#,
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    assert_eq!(tis.get("boom").state, TaskState::Failed);
}

#[tokio::test]
async fn retries_wait_retry_delay_doubling_up_to_max_retry_delay() {
    let env = TestEnv::with(
        Arc::new(VirtualClock::starting_at(jan1())),
        4,
        BTreeMap::new(),
    )
    .await;
    let counter = env.path("tries");
    let dag = env.dag(&format!(
        r#"
dag_id: flaky
default_args:
  retries: 4
  retry_delay: 10s
  retry_exponential_backoff: true
  max_retry_delay: 30s
tasks:
  - task_id: flaky
    kind: shell
    # fails four times, succeeds on the fifth try
    command: 'echo x >> {file}; test $(wc -l < {file}) -ge 5'
"#,
        file = counter.display()
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let ti = tis.get("flaky");
    assert_eq!(ti.try_number, 5);
    let tries = env.store.task_tries(ti.id).await.unwrap();
    let states: Vec<String> = tries.iter().map(|t| t.state.to_string()).collect();
    assert_eq!(
        states,
        [
            "up_for_retry",
            "up_for_retry",
            "up_for_retry",
            "up_for_retry",
            "success"
        ]
    );
    let gaps: Vec<i64> = tries
        .windows(2)
        .map(|w| (w[1].start_date - w[0].end_date.unwrap()).num_seconds())
        .collect();
    assert_eq!(
        gaps,
        vec![10, 20, 30, 30],
        "10s, doubled, capped at max_retry_delay"
    );
}

#[tokio::test]
async fn a_task_out_of_retries_fails_with_every_try_recorded() {
    let env = TestEnv::with(
        Arc::new(VirtualClock::starting_at(jan1())),
        4,
        BTreeMap::new(),
    )
    .await;
    let dag = env.dag(
        r#"
dag_id: hopeless
tasks:
  - { task_id: t, kind: shell, command: "echo nope >&2; exit 2", retries: 2, retry_delay: 1m }
"#,
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let ti = tis.get("t");
    assert_eq!((ti.state, ti.try_number), (TaskState::Failed, 3));
    let tries = env.store.task_tries(ti.id).await.unwrap();
    assert_eq!(tries.len(), 3);
    let log = std::fs::read_to_string(&tries[2].log_path).unwrap();
    assert!(log.contains("nope"), "stderr reaches the log: {log}");
    assert!(log.contains("try 3 of 3"), "{log}");
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let env = TestEnv::new().await;
    let pidfile = env.path("child.pid");
    let dag = env.dag(&format!(
        r#"
dag_id: slow
tasks:
  - task_id: slow
    kind: shell
    execution_timeout: 1s
    command: 'sleep 300 & echo $! > {pid}; wait'
"#,
        pid = pidfile.display()
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let ti = tis.get("slow");
    assert_eq!(ti.state, TaskState::Failed);
    assert_eq!(
        ti.error.as_deref(),
        Some("timed out after 1s (execution_timeout)")
    );
    let child = read_pid(&pidfile);
    assert!(
        process_is_gone(child),
        "the background `sleep` {child} outlived the timeout"
    );
}

#[tokio::test]
async fn cancelling_a_run_kills_its_running_task_and_skips_the_rest() {
    let env = TestEnv::new().await;
    let pidfile = env.path("child.pid");
    let dag = env.dag(&format!(
        r#"
dag_id: cancelme
default_args: {{ retries: 3 }}
tasks:
  - {{ task_id: long, kind: shell, command: 'sleep 300 & echo $! > {pid}; wait' }}
  - {{ task_id: after, kind: noop, depends_on: [long] }}
"#,
        pid = pidfile.display()
    ));
    let id = env.create(&dag).await;
    let cancel = CancellationToken::new();
    let driver = tokio::spawn({
        let (engine, dag, cancel) = (env.engine.clone(), dag.clone(), cancel.clone());
        async move {
            engine
                .drive(dag, id, cancel, CancellationToken::new())
                .await
        }
    });
    while !pidfile.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let outcome = driver.await.unwrap().unwrap();
    assert_eq!(outcome, DriveOutcome::Finished(RunState::Failed));
    let tis = env.tis(id).await;
    assert_eq!(
        tis.get("long").state,
        TaskState::Failed,
        "a cancelled try is not retried"
    );
    assert_eq!(tis.get("after").state, TaskState::Skipped);
    assert!(process_is_gone(read_pid(&pidfile)));
    assert_eq!(env.store.dag_run(id).await.unwrap().state, RunState::Failed);
}

/// The most tries that overlapped in time.
fn max_overlap(spans: &[(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)]) -> usize {
    let mut events: Vec<(chrono::DateTime<chrono::Utc>, i32)> = spans
        .iter()
        .flat_map(|(s, e)| [(*s, 1), (*e, -1)])
        .collect();
    events.sort_by_key(|(t, delta)| (*t, *delta));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

async fn fan_out_overlap(env: &TestEnv, max_active_tasks: u32) -> usize {
    let mut yaml = format!("dag_id: fan\nmax_active_tasks: {max_active_tasks}\ntasks:\n");
    for i in 0..8 {
        yaml.push_str(&format!(
            "  - {{ task_id: t{i}, kind: shell, command: 'sleep 0.3' }}\n"
        ));
    }
    let dag = env.dag(&yaml);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let spans: Vec<_> = tis
        .0
        .iter()
        .map(|ti| (ti.start_date.unwrap(), ti.end_date.unwrap()))
        .collect();
    max_overlap(&spans)
}

#[tokio::test]
async fn max_active_tasks_is_never_exceeded() {
    let env = TestEnv::new().await;
    let overlap = fan_out_overlap(&env, 3).await;
    assert!(
        (2..=3).contains(&overlap),
        "ran {overlap} tasks at once with max_active_tasks 3"
    );
}

#[tokio::test]
async fn global_parallelism_caps_tasks_across_the_engine() {
    let env = TestEnv::with(Arc::new(airless::model::SystemClock), 2, BTreeMap::new()).await;
    let overlap = fan_out_overlap(&env, 16).await;
    assert_eq!(overlap, 2, "parallelism 2");
}

#[tokio::test]
async fn an_upstream_output_is_templated_into_a_downstream_task() {
    let env = TestEnv::new().await;
    let dag = env.dag(
        r#"
dag_id: xcom
params: { step: 1 }
tasks:
  - task_id: extract
    kind: shell
    command: "echo '{\"rows\": 41}'"
  - task_id: load
    kind: shell
    depends_on: [extract]
    command: echo $(( {{ tasks.extract.output.rows }} + {{ params.step }} ))
"#,
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    assert_eq!(
        tis.get("extract").output,
        Some(serde_json::json!({"rows": 41}))
    );
    assert_eq!(tis.get("load").output, Some(serde_json::json!(42)));
}

#[tokio::test]
async fn a_missing_environment_variable_fails_the_task_naming_it() {
    let env = TestEnv::new().await;
    let dag = env.dag(
        r#"
dag_id: needs_env
tasks:
  - { task_id: t, kind: shell, command: "echo {{ env.AIRLESS_TEST_SURELY_UNSET }}" }
"#,
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    assert_eq!(
        tis.get("t").error.as_deref(),
        Some("template in `command`: environment variable `AIRLESS_TEST_SURELY_UNSET` is not set")
    );
}

#[tokio::test]
async fn secret_environment_values_are_masked_in_task_logs() {
    let vars = BTreeMap::from([("MY_API_TOKEN".to_string(), "tok-123456".to_string())]);
    let env = TestEnv::with(Arc::new(airless::model::SystemClock), 4, vars).await;
    let dag = env.dag(
        r#"
dag_id: masked
tasks:
  - { task_id: t, kind: shell, command: "echo using {{ env.MY_API_TOKEN }}" }
"#,
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let tries = env.store.task_tries(tis.get("t").id).await.unwrap();
    let log = std::fs::read_to_string(&tries[0].log_path).unwrap();
    assert!(log.contains("using ***"), "{log}");
    assert!(!log.contains("tok-123456"), "{log}");
}

#[tokio::test]
async fn an_interrupted_try_is_recorded_and_retried_when_the_run_resumes() {
    let env = TestEnv::new().await;
    let dag = env.dag(
        r#"
dag_id: resumed
tasks:
  - { task_id: first, kind: noop }
  - { task_id: second, kind: shell, command: "echo done", depends_on: [first], retries: 1, retry_delay: 0s }
"#,
    );
    let id = env.create(&dag).await;
    // the state a kill -9 leaves: run running, `first` done, `second` mid-try
    let tis = env.tis(id).await;
    let now = chrono::Utc::now();
    let control = env.engine.control();
    let mut run = env.store.dag_run(id).await.unwrap();
    assert!(control.claim_run(&run, None).await.unwrap());
    control.start_run(&mut run).await.unwrap();
    for (task, finish) in [("first", true), ("second", false)] {
        let mut ti = tis.get(task).clone();
        control
            .set_task_state(&run, &ti, TaskState::None, TaskState::Queued)
            .await
            .unwrap();
        ti.state = TaskState::Queued;
        control.start_try(&run, &ti, 1, "/dev/null").await.unwrap();
        if finish {
            let end = airless::store::TryEnd {
                state: TaskState::Success,
                output: None,
                error: None,
                next_retry_at: None,
                now,
            };
            control
                .end_try(&run, &ti, 1, &end, "/dev/null")
                .await
                .unwrap();
        }
    }
    let outcome = env
        .engine
        .drive(
            dag.clone(),
            id,
            CancellationToken::new(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, DriveOutcome::Finished(RunState::Success));
    let tis = env.tis(id).await;
    let second = tis.get("second");
    assert_eq!((second.state, second.try_number), (TaskState::Success, 2));
    let tries = env.store.task_tries(second.id).await.unwrap();
    assert_eq!(tries[0].state, TaskState::UpForRetry);
    assert_eq!(
        tries[0].error.as_deref(),
        Some(airless::engine::recovery::INTERRUPTED)
    );
    assert_eq!(tries[1].state, TaskState::Success);
    assert_eq!(
        env.store
            .task_tries(tis.get("first").id)
            .await
            .unwrap()
            .len(),
        1,
        "finished work is not redone"
    );
}

/// A small HTTP server on 127.0.0.1:0: `/ok` answers JSON, `/teapot` a 418.
async fn http_server() -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/ok",
            post(
                |axum::Json(body): axum::Json<serde_json::Value>| async move {
                    axum::Json(serde_json::json!({"got": body, "rows": 7}))
                },
            ),
        )
        .route(
            "/teapot",
            get(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "short and stout") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn an_http_task_posts_its_templated_json_and_its_reply_is_the_output() {
    let env = TestEnv::new().await;
    let base = http_server().await;
    let dag = env.dag(&format!(
        r#"
dag_id: calls
tasks:
  - task_id: call
    kind: http
    method: POST
    url: "{base}/ok"
    json: {{ day: "{{{{ ds }}}}", n: 3 }}
  - task_id: use
    kind: shell
    depends_on: [call]
    command: "echo {{{{ tasks.call.output.rows }}}}"
"#
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    assert_eq!(
        tis.get("call").output,
        Some(serde_json::json!({"got": {"day": "2024-01-01", "n": 3}, "rows": 7}))
    );
    assert_eq!(tis.get("use").output, Some(serde_json::json!(7)));
}

#[tokio::test]
async fn an_unexpected_status_fails_the_http_task_with_the_body() {
    let env = TestEnv::new().await;
    let base = http_server().await;
    let dag = env.dag(&format!(
        "dag_id: tea\ntasks:\n  - {{ task_id: brew, kind: http, url: \"{base}/teapot\" }}\n"
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    assert_eq!(
        tis.get("brew").error.as_deref(),
        Some(format!("GET {base}/teapot answered 418 I'm a teapot: short and stout").as_str())
    );
}

#[tokio::test]
async fn a_dead_endpoint_fails_the_http_task_saying_the_connection_was_refused() {
    let env = TestEnv::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dag = env.dag(&format!("dag_id: dead\ntasks:\n  - {{ task_id: call, kind: http, url: \"http://127.0.0.1:{port}/x\" }}\n"));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("call").error.clone().unwrap();
    assert!(
        error.starts_with(&format!("request to http://127.0.0.1:{port}/x failed: ")),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
    let tries = env.store.task_tries(tis.get("call").id).await.unwrap();
    assert_eq!(tries.len(), 1, "the failed try is recorded");
}
