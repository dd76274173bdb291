//! When the shutdown grace of the real `airless serve` runs out, each try
//! still running keeps every line it wrote, ends its log saying what the
//! restart does with it, and the daemon logs the same words for that task;
//! the restart does exactly that.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::daemon::{Daemon, wait_for, workspace};

/// Prints, traps SIGTERM to print once more, then waits; its retry
/// succeeds at once.
const SCRIPT: &str = r#"if [ "$AIRFLOW_CTX_TRY_NUMBER" -gt 1 ]; then echo retried; exit 0; fi; trap "echo caught SIGTERM, cleaning up; exit 143" TERM; for i in 1 2 3; do echo line $i; done; echo to stderr >&2; touch "started-$AIRFLOW_CTX_TASK_ID"; sleep 30 & wait"#;

/// Two tries of [`SCRIPT`]: one with a retry left, one without.
fn stubborn(dir: &Path) -> String {
    let script = serde_json::to_string(SCRIPT).unwrap();
    let dir = dir.display();
    format!(
        "dag_id: stubborn\nschedule: null\ntasks:\n  - {{ task_id: retrying, kind: shell, retries: 1, retry_delay: 0s, cwd: \"{dir}\", command: {script} }}\n  - {{ task_id: last_try, kind: shell, retries: 0, cwd: \"{dir}\", command: {script} }}\n"
    )
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn try_log(dir: &Path, run_id: &str, task_id: &str, try_number: u32) -> PathBuf {
    dir.join("logs")
        .join("dag_id=stubborn")
        .join(format!("run_id={run_id}"))
        .join(format!("task_id={task_id}"))
        .join(format!("attempt={try_number}.log"))
}

/// The lines of a try's log without their timestamps.
fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| match line.split_once("] ") {
            Some((_, text)) => text.to_string(),
            None => line.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn a_try_stopped_by_the_shutdown_grace_says_in_its_log_whether_it_is_retried_or_fails() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("stubborn.yaml"), stubborn(dir.path())).unwrap();
    let mut daemon = Daemon::start_with_env(dir.path(), &[("AIRLESS_SHUTDOWN_GRACE", "1s")]).await;
    let run = daemon
        .post("/api/v1/dags/stubborn/dagRuns", json!({"conf": {}}))
        .await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    wait_for("both tasks to print", Duration::from_secs(30), async || {
        dir.path().join("started-retrying").exists() && dir.path().join("started-last_try").exists()
    })
    .await;

    let stopped = Instant::now();
    assert_eq!(daemon.terminate().code(), Some(0));
    assert!(
        stopped.elapsed() < Duration::from_secs(8),
        "the 1s grace, then the tries are stopped: {:?}",
        stopped.elapsed()
    );

    let stop = "airless: the daemon stopped (shutdown grace 1s ran out); ";
    let retried = format!("{stop}this try is retried after the restart (try 1 of 2)");
    let fails = format!("{stop}this try fails: it has no retries left (try 1 of 1)");
    for (task_id, last) in [("retrying", &retried), ("last_try", &fails)] {
        let lines = log_lines(&try_log(dir.path(), &run_id, task_id, 1));
        for printed in [
            "line 1",
            "line 2",
            "line 3",
            "to stderr",
            "caught SIGTERM, cleaning up",
        ] {
            assert!(
                lines.iter().any(|l| l == printed),
                "{task_id}: `{printed}` is missing from its log:\n{}",
                lines.join("\n")
            );
        }
        assert_eq!(lines.last(), Some(last), "{task_id}:\n{}", lines.join("\n"));
    }

    // the daemon says the same, task by task
    let daemon_log = strip_ansi(&std::fs::read_to_string(dir.path().join("daemon.log")).unwrap());
    let said = |task_id: &str| -> Vec<String> {
        daemon_log
            .lines()
            .filter(|l| l.contains(&format!("task_id={task_id}")) && l.contains(stop))
            .map(str::to_string)
            .collect()
    };
    let (for_retrying, for_last) = (said("retrying"), said("last_try"));
    assert_eq!(for_retrying.len(), 1, "{daemon_log}");
    assert!(for_retrying[0].ends_with(&retried), "{}", for_retrying[0]);
    assert_eq!(for_last.len(), 1, "{daemon_log}");
    assert!(for_last[0].ends_with(&fails), "{}", for_last[0]);
    assert!(
        !daemon_log
            .lines()
            .any(|l| l.contains("task_id=last_try") && l.contains("retried")),
        "{daemon_log}"
    );

    // the restart does what the logs said
    let daemon = Daemon::start(dir.path()).await;
    let tis = format!("/api/v1/dags/stubborn/dagRuns/{run_id}/taskInstances");
    wait_for("the run to finish", Duration::from_secs(30), async || {
        let run = daemon
            .get(&format!("/api/v1/dags/stubborn/dagRuns/{run_id}"))
            .await;
        run["state"] == "failed"
    })
    .await;
    let tis = daemon.get(&tis).await;
    let state = |task_id: &str| {
        tis["task_instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ti| ti["task_id"] == task_id)
            .map(|ti| (ti["state"].clone(), ti["try_number"].clone()))
            .unwrap()
    };
    assert_eq!(state("retrying"), (json!("success"), json!(2)));
    assert_eq!(state("last_try"), (json!("failed"), json!(1)));
    let lines = log_lines(&try_log(dir.path(), &run_id, "last_try", 1));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("airless: the try was interrupted: airless stopped while it ran; task is now failed"),
        "{}",
        lines.join("\n")
    );
    assert!(
        log_lines(&try_log(dir.path(), &run_id, "retrying", 2)).contains(&"retried".to_string())
    );
}
