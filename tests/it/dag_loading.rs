//! One slow file never delays the others (the real binary): while one DAG
//! file is still being read, `/health` says the DAG processor is loading,
//! and the other files' DAGs are listed, triggerable and run. The slow file
//! is a named pipe, read for exactly as long as the test writes nothing to
//! it (as a file on a hung network mount is): no timing guess involved.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::daemon::{Daemon, dags_loaded, wait_for, workspace};

const QUICK: &str = "dag_id: quick\nschedule: null\ntasks:\n  - { task_id: hello, kind: shell, command: 'echo quick' }\n  - { task_id: after, kind: noop, depends_on: [hello] }\n";
const SLOW: &str = "dag_id: slow\nschedule: null\ntasks:\n  - { task_id: t, kind: noop }\n";

/// A named pipe at `path`: opening it to read waits for a writer, and the
/// read ends when the writer closes it.
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Writes `text` into the pipe and closes it, ending the daemon's read.
async fn feed_the_pipe(path: &Path, text: &'static str) {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::write(path, text))
        .await
        .unwrap()
        .unwrap();
}

async fn health(daemon: &Daemon) -> (u16, Value) {
    let reply = reqwest::get(format!("{}/health", daemon.base))
        .await
        .unwrap();
    (reply.status().as_u16(), reply.json().await.unwrap())
}

fn dag_ids(body: &Value) -> Vec<String> {
    body["dags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dag_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn health_says_the_dag_processor_is_loading_until_the_last_file_is_read() {
    let (dir, dags) = workspace();
    let pipe = dags.join("slow.yaml");
    mkfifo(&pipe);
    let daemon = Daemon::start_serving(dir.path(), &[], None).await;

    // however long we wait, the folder is not loaded while the file is unread
    for _ in 0..5 {
        let (status, body) = health(&daemon).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["dag_processor"],
            json!({"status": "loading", "latest_dag_processor_heartbeat": null}),
            "{body}"
        );
        assert_eq!(body["metadatabase"]["status"], "healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    feed_the_pipe(&pipe, SLOW).await;
    let base = daemon.base.clone();
    wait_for(
        "the DAG processor to say it is healthy",
        Duration::from_secs(30),
        async || dags_loaded(&base).await,
    )
    .await;
    let (_, body) = health(&daemon).await;
    assert!(
        body["dag_processor"]["latest_dag_processor_heartbeat"]
            .as_str()
            .unwrap()
            .ends_with("+00:00"),
        "{body}"
    );
    assert_eq!(dag_ids(&daemon.get("/api/v1/dags").await), ["slow"]);
}

#[tokio::test]
async fn a_slow_file_never_delays_the_other_dags_from_being_listed_triggered_and_run() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("quick.yaml"), QUICK).unwrap();
    // named so that it sorts first: the order of names decides nothing
    let pipe = dags.join("a-slow.yaml");
    mkfifo(&pipe);
    let daemon = Daemon::start_serving(dir.path(), &[], None).await;

    let api = &daemon;
    wait_for(
        "the quick DAG to be listed",
        Duration::from_secs(30),
        async || dag_ids(&api.get("/api/v1/dags").await) == ["quick"],
    )
    .await;
    assert_eq!(
        health(&daemon).await.1["dag_processor"]["status"],
        "loading"
    );

    // triggerable, and its run runs to the end, while the pipe is unread
    let run = daemon
        .post("/api/v1/dags/quick/dagRuns", json!({"conf": {}}))
        .await;
    let run_id = run["dag_run_id"].as_str().unwrap().replace('+', "%2B");
    let path = format!("/api/v1/dags/quick/dagRuns/{run_id}");
    wait_for(
        "the quick DAG's run to succeed",
        Duration::from_secs(30),
        async || api.get(&path).await["state"] == "success",
    )
    .await;
    let tis = daemon.get(&format!("{path}/taskInstances")).await;
    assert_eq!(tis["total_entries"], 2, "{tis}");
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["state"], "success", "{ti}");
    }
    let (status, log) = daemon
        .get_text(&format!("{path}/taskInstances/hello/logs/1"))
        .await;
    assert_eq!(status, 200);
    assert!(log.contains("quick"), "{log}");
    // still loading: the run did not wait for the slow file
    let (_, body) = health(&daemon).await;
    assert_eq!(body["dag_processor"]["status"], "loading", "{body}");
    assert_eq!(body["scheduler"]["status"], "healthy", "{body}");

    // the slow file arrives: its DAG joins the others and the load is over
    feed_the_pipe(&pipe, SLOW).await;
    let base = daemon.base.clone();
    wait_for(
        "the folder to finish loading",
        Duration::from_secs(30),
        async || dags_loaded(&base).await,
    )
    .await;
    assert_eq!(
        dag_ids(&daemon.get("/api/v1/dags").await),
        ["quick", "slow"]
    );
    let errors = daemon.get("/api/v1/importErrors").await;
    assert_eq!(errors["total_entries"], 0, "{errors}");
}
