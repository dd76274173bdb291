//! `kill -9` of the real daemon around a Databricks run: after the restart
//! the same run is polled to its end, and the test server sees one run —
//! whether the daemon died while polling or between the submit and the
//! moment it recorded the run id.

use std::time::Duration;

use airless::model::{RunState, TaskState};
use serde_json::json;

use crate::daemon::{Daemon, wait_for, workspace};
use crate::fakes::databricks::{FakeDatabricks, Route, RunScript, TOKEN};

fn dag(host: &str) -> String {
    format!(
        r#"
dag_id: nightly
schedule: null
tasks:
  - task_id: clean
    kind: databricks
    host: "{host}"
    notebook_path: /Workspace/Users/team@example.com/Batch Processing - Databricks
    existing_cluster_id: 1108-162752-8okw8dgg
    poll_interval: 1s
    retries: 2
    retry_delay: 0s
"#
    )
}

struct Setup {
    dir: tempfile::TempDir,
    fake: FakeDatabricks,
    home: String,
}

async fn setup() -> Setup {
    let (dir, dags) = workspace();
    let fake = FakeDatabricks::start().await;
    fake.set_default_script(RunScript::runs_until_finished());
    std::fs::write(dags.join("nightly.yaml"), dag(&fake.base_url)).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    Setup {
        home: home.display().to_string(),
        dir,
        fake,
    }
}

impl Setup {
    async fn daemon(&self) -> Daemon {
        Daemon::start_with_env(
            self.dir.path(),
            &[("DATABRICKS_TOKEN", TOKEN), ("HOME", &self.home)],
        )
        .await
    }

    /// The run's one task instance and its tries, from the database.
    async fn clean(&self) -> (RunState, airless::model::TaskInstance, usize) {
        let store = airless::store::open_reader(&self.dir.path().join("airless.db"))
            .await
            .unwrap();
        let runs = store.dag_runs(None, 10, 0).await.unwrap();
        assert_eq!(runs.len(), 1);
        let tis = store.task_instances(runs[0].id).await.unwrap();
        let tries = store.task_tries(tis[0].id).await.unwrap();
        (runs[0].state, tis[0].clone(), tries.len())
    }

    /// Triggers the DAG; returns its run id once Databricks saw `polls` runs/get.
    async fn trigger_and_wait_for_polls(&self, daemon: &Daemon, polls: usize) -> String {
        let run = daemon
            .post("/api/v1/dags/nightly/dagRuns", json!({"conf": {}}))
            .await;
        wait_for(
            "the run to be polled",
            Duration::from_secs(30),
            async || self.fake.calls(Route::GetRun) >= polls,
        )
        .await;
        run["dag_run_id"].as_str().unwrap().to_string()
    }

    async fn finish_after_restart(&self, run_id: &str) -> Daemon {
        let daemon = self.daemon().await;
        let gets = self.fake.calls(Route::GetRun);
        wait_for(
            "polling to resume after the restart",
            Duration::from_secs(30),
            async || self.fake.calls(Route::GetRun) > gets,
        )
        .await;
        let databricks_run = self.fake.runs()[0].run_id;
        self.fake.finish_run(databricks_run, "SUCCESS", "");
        let path = format!("/api/v1/dags/nightly/dagRuns/{run_id}");
        wait_for(
            "the run to succeed after the restart",
            Duration::from_secs(30),
            async || daemon.get(&path).await["state"] == "success",
        )
        .await;
        daemon
    }
}

#[tokio::test]
async fn kill_9_while_polling_then_restart_polls_the_same_run_to_its_end() {
    let s = setup().await;
    let mut daemon = s.daemon().await;
    let run_id = s.trigger_and_wait_for_polls(&daemon, 3).await;
    daemon.kill_9();

    let (state, ti, _) = s.clean().await;
    assert_eq!((state, ti.state), (RunState::Running, TaskState::Running));
    let databricks_run = s.fake.runs()[0].run_id;
    assert_eq!(
        ti.external_id,
        Some(databricks_run.to_string()),
        "recorded before polling"
    );

    let mut daemon = s.finish_after_restart(&run_id).await;
    assert_eq!(daemon.terminate().code(), Some(0));
    assert_eq!(s.fake.calls(Route::Submit), 1, "one submit in all");
    assert_eq!(s.fake.runs().len(), 1);
    let (state, ti, tries) = s.clean().await;
    assert_eq!((state, ti.state), (RunState::Success, TaskState::Success));
    assert_eq!((ti.try_number, tries), (1, 1), "the same try went on");
    let log = std::fs::read_to_string(s.dir.path().join(ti.log_path.unwrap())).unwrap();
    assert!(log.contains("airless restarted: resuming try 1"), "{log}");
    assert!(
        log.contains(&format!("re-attaching to Databricks run {databricks_run}")),
        "{log}"
    );
}

#[tokio::test]
async fn kill_9_between_submit_and_recording_the_run_id_still_gives_one_run() {
    let s = setup().await;
    // the run is created but the daemon never hears its id
    s.fake.stall_submits(true);
    let mut daemon = s.daemon().await;
    let run = daemon
        .post("/api/v1/dags/nightly/dagRuns", json!({"conf": {}}))
        .await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    wait_for(
        "the submit to reach Databricks",
        Duration::from_secs(30),
        async || !s.fake.runs().is_empty(),
    )
    .await;
    daemon.kill_9();
    let (_, ti, _) = s.clean().await;
    assert_eq!(ti.state, TaskState::Running);
    assert_eq!(ti.external_id, None, "the id never reached the database");

    s.fake.stall_submits(false);
    let mut daemon = s.finish_after_restart(&run_id).await;
    assert_eq!(daemon.terminate().code(), Some(0));
    let submits = s.fake.submitted();
    assert_eq!(submits.len(), 2, "submitted again after the restart");
    assert_eq!(
        submits[0]["idempotency_token"], submits[1]["idempotency_token"],
        "with the same token"
    );
    assert_eq!(s.fake.runs().len(), 1, "so Databricks started one run");
    let (state, ti, tries) = s.clean().await;
    assert_eq!((state, ti.state), (RunState::Success, TaskState::Success));
    assert_eq!((ti.try_number, tries), (1, 1));
    assert_eq!(ti.external_id, Some(s.fake.runs()[0].run_id.to_string()));
}

#[tokio::test]
async fn sigterm_leaves_the_databricks_run_going_and_the_restart_re_attaches() {
    let s = setup().await;
    let mut daemon = s.daemon().await;
    let run_id = s.trigger_and_wait_for_polls(&daemon, 2).await;
    let started = std::time::Instant::now();
    assert_eq!(daemon.terminate().code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for the 2 s grace: {:?}\n{}",
        started.elapsed(),
        std::fs::read_to_string(s.dir.path().join("daemon.log")).unwrap()
    );
    assert!(s.fake.cancelled_runs().is_empty(), "the run was left going");
    let (_, ti, _) = s.clean().await;
    assert_eq!(ti.state, TaskState::Running);

    let mut daemon = s.finish_after_restart(&run_id).await;
    assert_eq!(daemon.terminate().code(), Some(0));
    assert_eq!(s.fake.calls(Route::Submit), 1);
    let (state, ti, tries) = s.clean().await;
    assert_eq!(
        (state, ti.state, ti.try_number, tries),
        (RunState::Success, TaskState::Success, 1, 1)
    );
}
