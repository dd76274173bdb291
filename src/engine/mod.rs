//! *How* a run proceeds: [`control`] is the one door that changes state and
//! publishes events; the run driver (ready set from the graph, trigger rules,
//! concurrency, retries, timeouts, cancellation), leases, templates and
//! recovery. Depends on `dag`, `kinds`, `store` (read side), `model`; never
//! on `api`, `cli` or `scheduler`.

pub mod actions;
pub mod control;
mod launcher;
pub mod lease;
pub mod peers;
pub mod recovery;
mod run;
pub mod template;
pub mod trigger_rule;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::dag::Dag;
use crate::model::{Clock, RunId, RunState, RunType};
use crate::store::{Reader, StoreError};

pub use control::{Control, ControlError, Mark, RunRequest};
pub use launcher::Launcher;

/// What can stop the engine from driving a run (a failed task is not one of these).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("DagRun #{0} belongs to another DAG")]
    WrongDag(i64),
    #[error("a task job ended abnormally: {0}")]
    Job(String),
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> Self {
        EngineError::Control(ControlError::Store(err))
    }
}

/// Settings the engine takes from the daemon's config.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Tries running at once across all runs.
    pub parallelism: usize,
    /// Where each try's log goes (`dag_id=…/run_id=…/task_id=…/attempt=N.log`).
    pub logs_dir: PathBuf,
    /// The process environment, for `{{ env.X }}` and secret masking.
    pub env: BTreeMap<String, String>,
}

/// Drives DagRuns; cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    control: Control,
    parallelism: Arc<Semaphore>,
    /// The semaphore's size.
    parallelism_limit: usize,
    logs_dir: PathBuf,
    /// The environment tasks see: the process's minus airless's own secrets.
    env: Arc<BTreeMap<String, String>>,
    /// Variables removed from every task's environment.
    hidden_env: Arc<Vec<String>>,
    secrets: Vec<String>,
    http: reqwest::Client,
    /// Set, then fired, when the shutdown grace ran out with tries still
    /// running: each stops its work, keeps every line it wrote and ends its
    /// log saying what the restart does with it.
    grace_over: CancellationToken,
    grace: std::sync::OnceLock<std::time::Duration>,
}

/// How a call to [`Engine::drive`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveOutcome {
    Finished(RunState),
    /// Shutdown was requested: no new tries were started and the run stays
    /// `running` in the store, to resume after the restart.
    Interrupted,
}

impl Engine {
    pub fn new(control: Control, settings: EngineSettings) -> Engine {
        let secrets = template::secret_values(&settings.env);
        let hidden = template::hidden_variables(&settings.env);
        let mut env = settings.env;
        for name in &hidden {
            env.remove(name);
        }
        Engine {
            inner: Arc::new(Inner {
                control,
                parallelism: Arc::new(Semaphore::new(settings.parallelism.max(1))),
                parallelism_limit: settings.parallelism.max(1),
                logs_dir: settings.logs_dir,
                env: Arc::new(env),
                hidden_env: Arc::new(hidden),
                secrets,
                http: reqwest::Client::builder()
                    .user_agent(concat!("airless/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .unwrap_or_default(),
                grace_over: CancellationToken::new(),
                grace: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The shutdown grace (`grace`) ran out: the tries still running stop
    /// now (a shell command's process group is killed and its output read
    /// to the end) and each ends its log with what happens to it after the
    /// restart. A remote job that outlives airless (Databricks) is left
    /// running, to be resumed.
    pub fn end_grace(&self, grace: std::time::Duration) {
        let _ = self.inner.grace.set(grace);
        self.inner.grace_over.cancel();
    }

    pub fn control(&self) -> &Control {
        &self.inner.control
    }

    /// Tries that may run at once.
    pub fn parallelism(&self) -> usize {
        self.inner.parallelism_limit
    }

    /// Tries that could start now within `parallelism`.
    pub fn free_slots(&self) -> usize {
        self.inner.parallelism.available_permits()
    }

    pub fn reader(&self) -> &Reader {
        self.inner.control.reader()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.control.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        self.inner.control.clock()
    }

    /// Drives run `dag_run_id` of `dag` until it finishes, `cancel` fires
    /// (running tries are killed, the run fails) or `shutdown` fires (no new
    /// tries start; running ones finish; the run is left to resume). The
    /// caller holds the run's lease. Resumes a run left unfinished by a
    /// crash: interrupted tries are killed if they still run, recorded as
    /// failed tries and retried per `retries`.
    pub async fn drive(
        &self,
        dag: Arc<Dag>,
        dag_run_id: i64,
        cancel: CancellationToken,
        shutdown: CancellationToken,
    ) -> Result<DriveOutcome, EngineError> {
        let driver = run::Driver::start(self.clone(), dag, dag_run_id, cancel, shutdown).await?;
        let outcome = driver.drive().await;
        // a finished or interrupted run is driven by nobody until adopted
        if let Err(err) = self.control().release_run(dag_run_id).await {
            tracing::warn!(dag_run_id, "cannot give up the run's lease: {err}");
        }
        outcome
    }
}

/// Airflow's run id: `manual__2024-01-01T00:00:00+00:00`.
pub fn default_run_id(run_type: RunType, logical_date: DateTime<Utc>) -> RunId {
    RunId::new(format!(
        "{}__{}",
        run_type.as_str(),
        crate::model::time::isoformat(logical_date)
    ))
}
