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
