//! The command door: events in the order things happened, a subscriber that
//! never reads never slows the engine, transitions refused with both states
//! named, marks, and the DAG versions a run is recorded with.

use airless::engine::{ControlError, Mark};
use airless::model::{Event, RunState, TaskId, TaskState};

use crate::support::TestEnv;

/// A short name for each event, with its task where it has one.
fn label(event: &Event) -> String {
    match event {
        Event::RunQueued { .. } => "run queued".into(),
        Event::RunStarted { .. } => "run started".into(),
        Event::RunFinished { state, .. } => format!("run {state}"),
        Event::TryStarted {
            task_id,
            try_number,
            ..
        } => format!("{task_id} try {try_number} started"),
        Event::TryEnded {
            task_id,
            try_number,
            state,
            ..
        } => format!("{task_id} try {try_number} {state}"),
        Event::TaskInstanceChanged { task_id, state, .. } => format!("{task_id} {state}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn the_door_publishes_a_runs_events_in_the_order_they_happened() {
    let env = TestEnv::new().await;
    let mut events = env.engine.control().subscribe();
    let dag = env.dag(
        r#"
dag_id: evented
tasks:
  - { task_id: first, kind: shell, command: "exit 1", retries: 1, retry_delay: 0s }
  - { task_id: second, kind: noop, depends_on: [first] }
"#,
    );
    let (state, _) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(label(&event));
    }
    assert_eq!(
        seen,
        [
            "run queued",
            "run started",
            "first try 1 started",
            "first try 1 up_for_retry",
            "first queued",
            "first try 2 started",
            "first try 2 failed",
            "second upstream_failed",
            "run failed",
        ]
    );
}

#[tokio::test]
async fn a_subscriber_that_never_reads_never_blocks_the_engine() {
    let env = TestEnv::new().await;
    // subscribed, never read: far more events than its buffer holds
    let mut stalled = env.engine.control().subscribe();
    let mut yaml = String::from("dag_id: wide\ntasks:\n  - { task_id: start, kind: noop }\n");
    for i in 0..3000 {
        yaml.push_str(&format!(
            "  - {{ task_id: t{i}, kind: noop, depends_on: [start] }}\n"
        ));
    }
    let dag = env.dag(&yaml);
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    assert_eq!(tis.0.len(), 3001);
    // the laggard learns it missed events rather than holding anyone up
    assert!(matches!(
        stalled.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
    ));
}

#[tokio::test]
async fn a_run_transition_the_table_refuses_names_both_states() {
    let env = TestEnv::new().await;
    let dag = env.dag("dag_id: once\ntasks:\n  - { task_id: t, kind: noop }\n");
    let id = env.create(&dag).await;
    let run = env.store.dag_run(id).await.unwrap();
    // a queued run cannot be re-queued
    let err = env.engine.control().requeue_run(&run).await.unwrap_err();
    assert!(matches!(err, ControlError::Transition(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "a DagRun cannot move from queued to queued"
    );
}

#[tokio::test]
async fn marking_a_finished_task_instance_moves_it_through_its_transition() {
    let env = TestEnv::new().await;
    let dag =
        env.dag("dag_id: marked\ntasks:\n  - { task_id: bad, kind: shell, command: \"exit 3\" }\n");
    let id = env.create(&dag).await;
    let outcome = env
        .engine
        .drive(
            dag.clone(),
            id,
            tokio_util::sync::CancellationToken::new(),
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        airless::engine::DriveOutcome::Finished(RunState::Failed)
    );
    let mut events = env.engine.control().subscribe();
    let run = env.store.dag_run(id).await.unwrap();
    let marked = env
        .engine
        .control()
        .mark_task_instance(&run, &TaskId::new("bad"), Mark::Success)
        .await
        .unwrap();
    assert_eq!(marked.state, TaskState::Success);
    assert_eq!(env.tis(id).await.get("bad").state, TaskState::Success);
    assert_eq!(label(&events.try_recv().unwrap()), "bad success");
}

#[tokio::test]
async fn a_run_records_the_dag_version_it_was_created_on() {
    let env = TestEnv::new().await;
    let first = env.dag("dag_id: v\ndescription: one\ntasks:\n  - { task_id: t, kind: noop }\n");
    let second = env.dag("dag_id: v\ndescription: two\ntasks:\n  - { task_id: t, kind: noop }\n");
    let a = env.create(&first).await;
    let b = env.create(&second).await;
    let c = env.create(&first).await;
    let mut versions = Vec::new();
    for id in [a, b, c] {
        versions.push(env.store.dag_run(id).await.unwrap().dag_version.unwrap());
    }
    let (va, vb, vc) = (versions[0], versions[1], versions[2]);
    assert_ne!(va, vb, "a changed text is a new version");
    assert_eq!(va, vc, "the same text is the same version");
    let stored = env.store.dag_version(vb).await.unwrap().unwrap();
    assert_eq!(stored.version_number, 2);
    assert!(stored.source.contains("description: two"));
    // a run whose DAG changed since drives on the version it was created on
    let dag = env
        .engine
        .control()
        .dag_for_run(&env.store.dag_run(a).await.unwrap(), Some(second.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dag.description.as_deref(), Some("one"));
}

/// The daemon in-process (`app::build` + `App::run` on a port-0 listener):
/// a trigger over HTTP shows up as events from the door, in order.
#[tokio::test]
async fn serve_publishes_the_events_of_a_run_triggered_over_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dags")).unwrap();
    std::fs::write(
        dir.path().join("dags").join("hi.yaml"),
        "dag_id: hi\nschedule: null\ntasks:\n  - { task_id: greet, kind: shell, command: \"echo hi\" }\n",
    )
    .unwrap();
    let app = crate::support::TestApp::start(dir.path(), &[]).await;
    let mut events = app.control.subscribe();
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/dags/hi/dagRuns", app.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.last().map(String::as_str) != Some("run success") {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no run end among {seen:?}"))
            .unwrap();
        seen.push(label(&event));
    }
    assert_eq!(
        seen,
        [
            "run queued",
            "run started",
            "greet try 1 started",
            "greet try 1 success",
            "run success",
        ]
    );
    app.stop().await;
}

/// The WAL gives its space back: once nothing has been written for a few
/// seconds, the checkpoint truncates it to nothing.
#[tokio::test]
async fn an_idle_store_truncates_its_wal() {
    let env = TestEnv::new().await;
    let mut yaml = String::from("dag_id: many\ntasks:\n  - { task_id: t0, kind: noop }\n");
    for i in 1..200 {
        yaml.push_str(&format!(
            "  - {{ task_id: t{i}, kind: noop, depends_on: [t{}] }}\n",
            i - 1
        ));
    }
    let dag = env.dag(&yaml);
    env.run(&dag).await;
    let wal = env.path("airless.db-wal");
    let written = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(written > 0, "the run wrote to the WAL");
    tokio::time::sleep(std::time::Duration::from_millis(5500)).await;
    env.engine.control().checkpoint().await.unwrap();
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
}
