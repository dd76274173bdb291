//! The test harness: a temp folder with a state database and logs, an
//! engine over it, and helpers to load DAG text and run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use airless::dag::Dag;
use airless::engine::{Control, DriveOutcome, Engine, EngineSettings, RunRequest};
use airless::model::{Clock, OwnerKind, RunState, RunType, SystemClock, TaskInstance};
use airless::store::Reader;
use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

/// The command door over the database at `path`, as `serve` opens it.
pub async fn open_control(path: &Path, clock: Arc<dyn Clock>) -> Control {
    Control::open(path, OwnerKind::Serve, clock, Duration::from_secs(15))
        .await
        .unwrap()
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub store: Reader,
    pub engine: Engine,
    runs: std::sync::atomic::AtomicUsize,
}

pub fn jan1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        Self::with(Arc::new(SystemClock), 32, BTreeMap::new()).await
    }

    pub async fn with(
        clock: Arc<dyn Clock>,
        parallelism: usize,
        env: BTreeMap<String, String>,
    ) -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        let control = open_control(&dir.path().join("airless.db"), clock).await;
        let store = control.reader().clone();
        let engine = Engine::new(
            control,
            EngineSettings {
                parallelism,
                logs_dir: dir.path().join("logs"),
                env,
            },
        );
        TestEnv {
            dir,
            store,
            engine,
            runs: Default::default(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Loads DAG text, panicking with every error if it does not validate.
    pub fn dag(&self, yaml: &str) -> Arc<Dag> {
        let file = self.dir.path().join("dag.yaml");
        match airless::dag::load(&file, yaml) {
            Ok(dag) => Arc::new(dag),
            Err(errors) => panic!(
                "{}",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    pub async fn create(&self, dag: &Arc<Dag>) -> i64 {
        // every run of a test gets its own id (the logical date is the same)
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let request = RunRequest {
            run_id: (n > 0).then(|| {
                airless::model::RunId::new(format!("manual__2024-01-01T00:00:00+00:00.{n}"))
            }),
            run_type: RunType::Manual,
            logical_date: jan1(),
            data_interval: dag.timetable.manual_data_interval(jan1()),
            conf: serde_json::json!({}),
        };
        self.engine
            .control()
            .trigger(dag, &request)
            .await
            .unwrap()
            .id
    }

    /// Creates a run of `dag` and drives it to the end.
    pub async fn run(&self, dag: &Arc<Dag>) -> (RunState, Runs) {
        let id = self.create(dag).await;
        let outcome = self
            .engine
            .drive(
                dag.clone(),
                id,
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        let DriveOutcome::Finished(state) = outcome else {
            panic!("run was interrupted")
        };
        (state, self.tis(id).await)
    }

    pub async fn tis(&self, run: i64) -> Runs {
        Runs(self.store.task_instances(run).await.unwrap())
    }
}

/// A run's task instances, by task id.
pub struct Runs(pub Vec<TaskInstance>);

impl Runs {
    pub fn get(&self, task_id: &str) -> &TaskInstance {
        self.0
            .iter()
            .find(|ti| ti.task_id.as_str() == task_id)
            .unwrap_or_else(|| panic!("no task {task_id}"))
    }

    pub fn states(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|ti| (ti.task_id.to_string(), ti.state.to_string()))
            .collect()
    }
}

/// Whether a process is gone (or a zombie nobody reaped yet).
pub fn process_is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .map(|rest| rest.trim_start().starts_with('Z'))
            .unwrap_or(true),
    }
}

pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `airless serve` in-process, exactly as `main` runs it: `app::build` over
/// a folder, then `App::run` on a listener bound to port 0 and handed over
/// (no free-port race). Stopped (as by SIGTERM) by [`TestApp::stop`].
pub struct TestApp {
    pub base: String,
    pub control: Control,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// Serves `dir` (its `dags/`, `airless.db` and `logs/`) with `vars` as
    /// the `AIRLESS_*` environment.
    pub async fn start(dir: &Path, vars: &[(&str, &str)]) -> TestApp {
        Self::try_start(dir, vars).await.unwrap()
    }

    pub async fn try_start(dir: &Path, vars: &[(&str, &str)]) -> anyhow::Result<TestApp> {
        let mut env: BTreeMap<String, String> = [
            ("AIRLESS_DAGS_FOLDER", dir.join("dags")),
            ("AIRLESS_DATABASE", dir.join("airless.db")),
            ("AIRLESS_LOGS_FOLDER", dir.join("logs")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.display().to_string()))
        .collect();
        env.insert("AIRLESS_SHUTDOWN_GRACE".into(), "2s".into());
        for (key, value) in vars {
            env.insert(key.to_string(), value.to_string());
        }
        let config = airless::config::Config::load(None, &env)?;
        let app = airless::app::build(config, BTreeMap::new()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let control = app.control().clone();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run(listener, stop.clone().cancelled_owned()));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !crate::daemon::dags_loaded(&base).await {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "serve did not load its DAGs"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(TestApp {
            base,
            control,
            stop,
            task,
        })
    }

    /// Stops it as SIGTERM does and waits until it has.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}
