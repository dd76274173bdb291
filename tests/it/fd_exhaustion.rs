//! A try that cannot start for lack of file descriptors fails with that
//! reason and the daemon carries on (the real binary, under `ulimit -n`).
//! Forty tasks start at once and every one that starts holds its pipes and
//! log open until the test releases them: far more than the limit allows,
//! so some tries cannot start, whatever the timing. The test watches the
//! state database itself meanwhile (its own process has file descriptors
//! to spare); the API is used before and after.

use std::collections::BTreeMap;
use std::time::Duration;

use airless::model::{DagId, RunId};
use serde_json::json;

use crate::daemon::{Daemon, wait_for, workspace};

/// Low enough that forty running shell tasks cannot fit (each holds its
/// stdout, stderr and log open), high enough for airless itself.
const OPEN_FILES: u64 = 64;
const TASKS: usize = 40;

fn wide_dag(dir: &std::path::Path) -> String {
    let mut text = String::from(
        "dag_id: wide\nschedule: null\nmax_active_tasks: 100\ndefault_args: { retries: 0 }\ntasks:\n",
    );
    for i in 0..TASKS {
        text.push_str(&format!(
            "  - {{ task_id: t{i}, kind: shell, cwd: \"{}\", command: 'while [ ! -e release ]; do sleep 0.05; done' }}\n",
            dir.display()
        ));
    }
    text
}

const NARROW: &str = "dag_id: narrow\nschedule: null\ntasks:\n  - { task_id: first, kind: shell, command: 'echo one' }\n  - { task_id: second, kind: shell, command: 'echo two', depends_on: [first] }\n";

#[tokio::test]
async fn a_try_without_file_descriptors_fails_with_that_reason_and_the_daemon_carries_on() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("wide.yaml"), wide_dag(dir.path())).unwrap();
    std::fs::write(dags.join("narrow.yaml"), NARROW).unwrap();
    let daemon = Daemon::start_serving(
        dir.path(),
        &[("AIRLESS_PARALLELISM", "100")],
        Some(OPEN_FILES),
    )
    .await;
    let base = daemon.base.clone();
    wait_for("the DAGs to load", Duration::from_secs(30), async || {
        crate::daemon::dags_loaded(&base).await
    })
    .await;

    let run = daemon.post("/api/v1/dags/wide/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();

    // every try has either started (and waits for the release) or failed
    let reader = airless::store::open_reader(&dir.path().join("airless.db"))
        .await
        .unwrap();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    wait_for(
        "every try of the wide run to start or fail",
        Duration::from_secs(60),
        async || {
            let Some(run) = reader
                .find_dag_run(&DagId::new("wide"), &RunId::new(run_id.clone()))
                .await
                .unwrap()
            else {
                return false;
            };
            let tis = reader.task_instances(run.id).await.unwrap();
            // running with its process group recorded: it has started and
            // holds its descriptors until the release
            states = tis.iter().fold(BTreeMap::new(), |mut counts, ti| {
                let state = match (ti.state.to_string(), &ti.process_group) {
                    (state, Some(_)) if state == "running" => "started".to_string(),
                    (state, _) => state,
                };
                *counts.entry(state).or_insert(0usize) += 1;
                counts
            });
            states.get("started").copied().unwrap_or(0) + states.get("failed").copied().unwrap_or(0)
                == TASKS
        },
    )
    .await;
    let failed = states.get("failed").copied().unwrap_or(0);
    assert!(failed > 0, "no try ran out of file descriptors: {states:?}");
    assert!(
        failed < TASKS,
        "no try could start at all, so the limit is too low for the test: {states:?}"
    );

    // a request made now, with the descriptors all taken, is answered
    // once they are free: the accept loop waits, it does not stop
    let during = tokio::spawn({
        let base = daemon.base.clone();
        async move {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap()
                .get(format!("{base}/health"))
                .send()
                .await
                .map(|reply| reply.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::write(dir.path().join("release"), "").unwrap();
    assert_eq!(during.await.unwrap().unwrap(), 200);

    let path = format!("/api/v1/dags/wide/dagRuns/{}", run_id.replace('+', "%2B"));
    let api = &daemon;
    wait_for(
        "the wide run to finish",
        Duration::from_secs(60),
        async || api.get(&path).await["state"] == "failed",
    )
    .await;
    let tis = daemon.get(&format!("{path}/taskInstances")).await;
    let tis = tis["task_instances"].as_array().unwrap();
    assert_eq!(tis.len(), TASKS);
    let mut seen_failed = 0;
    for ti in tis {
        let task_id = ti["task_id"].as_str().unwrap();
        let (status, log) = daemon
            .get_text(&format!("{path}/taskInstances/{task_id}/logs/1"))
            .await;
        assert_eq!(status, 200, "{task_id}: {log}");
        match ti["state"].as_str().unwrap() {
            // its log may be empty: a try can fail to create its log
            // and still start, once another try's failed start freed
            // descriptors
            "success" => {}
            "failed" => {
                seen_failed += 1;
                assert!(
                    log.contains("try failed: cannot start the command: airless is out of file descriptors (raise LimitNOFILE in its unit, or `ulimit -n`): Too many open files (os error 24)"),
                    "{task_id}: {log}"
                );
            }
            other => panic!("{task_id} ended {other}"),
        }
    }
    assert_eq!(seen_failed, failed);

    // the daemon carries on: healthy, and the next run succeeds
    let (status, health) = daemon.send(reqwest::Method::GET, "/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["scheduler"]["status"], "healthy", "{health}");
    assert_eq!(health["metadatabase"]["status"], "healthy", "{health}");
    let run = daemon.post("/api/v1/dags/narrow/dagRuns", json!({})).await;
    let path = format!(
        "/api/v1/dags/narrow/dagRuns/{}",
        run["dag_run_id"].as_str().unwrap().replace('+', "%2B")
    );
    wait_for(
        "the next run to succeed",
        Duration::from_secs(30),
        async || api.get(&path).await["state"] == "success",
    )
    .await;
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}
