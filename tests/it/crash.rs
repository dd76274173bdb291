//! `kill -9` of the real binary in the middle of a run: the database stays
//! consistent and the run resumes without losing or repeating finished work.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use airless::dag::DagBag;
use airless::engine::{DriveOutcome, Engine, EngineSettings};
use airless::model::SystemClock;
use airless::model::{RunState, TaskState};
use tokio_util::sync::CancellationToken;

use crate::support::read_pid;

const DAG: &str = r#"
dag_id: crashy
tasks:
  - { task_id: first, kind: noop }
  - task_id: long
    kind: shell
    depends_on: [first]
    retries: 1
    retry_delay: 0s
    cwd: "{dir}"
    # the first try hangs; the retry after the restart finishes at once
    command: 'if [ -f marker ]; then echo resumed; exit 0; fi; touch marker; sleep 60 & echo $! > sleeper.pid; wait'
  - { task_id: after, kind: noop, depends_on: [long] }
"#;

#[tokio::test]
async fn kill_9_of_dags_test_leaves_a_consistent_database_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dags")).unwrap();
    let dag_text = DAG.replace("{dir}", &dir.path().display().to_string());
    std::fs::write(dir.path().join("dags/crashy.yaml"), dag_text).unwrap();
    let db = dir.path().join("airless.db");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_airless"))
            .args(["dags", "test", "crashy", "--date", "2024-01-01"])
            .current_dir(dir.path())
            .env("AIRLESS_DATABASE", &db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // wait until the database shows `long` running and its child is up
    let pidfile = dir.path().join("sleeper.pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pidfile.exists() {
        assert!(Instant::now() < deadline, "the run never reached `long`");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    let sleeper = read_pid(&pidfile);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );

    let store = airless::store::open_reader(&db).await.unwrap();
    let runs = store.dag_runs(None, 10, 0).await.unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.state, RunState::Running);
    let tis = store.task_instances(run.id).await.unwrap();
    let state = |id: &str| {
        tis.iter()
            .find(|t| t.task_id.as_str() == id)
            .unwrap()
            .clone()
    };
    assert_eq!(state("first").state, TaskState::Success);
    let long = state("long");
    assert_eq!((long.state, long.try_number), (TaskState::Running, 1));
    let tries = store.task_tries(long.id).await.unwrap();
    assert_eq!(tries.len(), 1);
    assert_eq!(tries[0].state, TaskState::Running);
    assert!(
        std::path::Path::new(&tries[0].log_path).exists()
            || dir.path().join(&tries[0].log_path).exists()
    );
    assert_eq!(state("after").state, TaskState::None);

    // resume in-process: the interrupted try is recorded, retried, and the run ends
    let bag = DagBag::load(&dir.path().join("dags")).unwrap();
    let dag = bag.dags.values().next().unwrap().clone();
    let control = crate::support::open_control(&db, Arc::new(SystemClock)).await;
    let engine = Engine::new(
        control,
        EngineSettings {
            parallelism: 4,
            logs_dir: dir.path().join("logs"),
            env: Default::default(),
        },
    );
    let outcome = engine
        .drive(
            dag,
            run.id,
            CancellationToken::new(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(outcome, DriveOutcome::Finished(RunState::Success));
    let tries = store.task_tries(long.id).await.unwrap();
    let states: Vec<TaskState> = tries.iter().map(|t| t.state).collect();
    assert_eq!(states, vec![TaskState::UpForRetry, TaskState::Success]);
    let first = store
        .task_instances(run.id)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.task_id.as_str() == "first")
        .unwrap();
    assert_eq!(
        store.task_tries(first.id).await.unwrap().len(),
        1,
        "finished work is not redone"
    );
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
