//! airless's own secrets stay with airless: a task's environment has no
//! `AIRLESS_API_TOKENS`, and each token of the list is masked on its own in
//! logs, stored outputs and errors, as the API serves them.

use std::time::Duration;

use serde_json::json;

use crate::daemon::{Daemon, wait_for, workspace};

#[tokio::test]
async fn tasks_never_see_airless_tokens_and_each_token_is_masked_on_its_own() {
    let (dir, dags) = workspace();
    // the task tries to read the tokens, and prints the second one it was
    // told some other way: the log, the output and the error mask it
    std::fs::write(
        dags.join("leaky.yaml"),
        r#"
dag_id: leaky
schedule: null
tasks:
  - task_id: peek
    kind: shell
    command: 'echo "tokens=${AIRLESS_API_TOKENS:-absent}"; echo "said second-secret-token"'
  - task_id: fail
    kind: shell
    depends_on: [peek]
    command: 'echo boom; exit 3'
"#,
    )
    .unwrap();
    let tokens = "daemon-test-token,second-secret-token";
    let daemon = Daemon::start_with_env(dir.path(), &[("AIRLESS_API_TOKENS", tokens)]).await;
    let run = daemon.post("/api/v1/dags/leaky/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().replace('+', "%2B");
    let path = format!("/api/v1/dags/leaky/dagRuns/{run_id}");
    wait_for("the run to end", Duration::from_secs(20), async || {
        daemon.get(&path).await["state"] == "failed"
    })
    .await;
    let (status, log) = daemon
        .get_text(&format!("{path}/taskInstances/peek/logs/1"))
        .await;
    assert_eq!(status, 200, "{log}");
    assert!(
        log.contains("tokens=absent"),
        "the task saw airless's tokens: {log}"
    );
    assert!(log.contains("said ***"), "{log}");
    assert!(!log.contains("second-secret-token"), "{log}");
    let tis = daemon.get(&format!("{path}/taskInstances")).await;
    let text = tis.to_string();
    assert!(!text.contains("second-secret-token"), "{text}");
    assert!(!text.contains("daemon-test-token"), "{text}");
}

#[test]
fn another_applications_sqlite_file_is_refused_before_anything_is_written() {
    let (dir, _dags) = workspace();
    let path = dir.path().join("crm.db");
    // a SQLite file of someone else's, in rollback-journal mode
    let made = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.execute('CREATE TABLE customers (id INTEGER)'); c.commit()",
            path.display()
        ))
        .status();
    if !made.is_ok_and(|s| s.success()) {
        println!("skipped: python3 with sqlite3 is needed to make a foreign database");
        return;
    }
    let before = std::fs::read(&path).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_airless"))
        .arg("serve")
        .current_dir(dir.path())
        .env("AIRLESS_DATABASE", &path)
        .env("AIRLESS_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{} is not an airless state database: it holds other tables (customers)",
            path.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );
    assert!(!dir.path().join("crm.db-wal").exists());
}
