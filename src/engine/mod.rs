//! *How* a DagRun proceeds: the ready set from the graph, trigger rules,
//! concurrency (`max_active_tasks` and a global `parallelism`), retries,
//! timeouts and cancellation. Every state change goes to the store before it
//! is acted on. Depends on `dag`, `executor`, `store`, `model`; never on `api`.

pub mod clock;
mod launcher;
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

use crate::dag::{Dag, DataInterval};
use crate::model::{RunId, RunState};
use crate::store::{DagRunRow, NewDagRun, RunType, Store, StoreError};

pub use clock::{Clock, SystemClock, VirtualClock};
pub use launcher::Launcher;

/// What can stop the engine from driving a run (a failed task is not one of these).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("DagRun #{0} belongs to another DAG")]
    WrongDag(i64),
    #[error("a task job ended abnormally: {0}")]
    Job(String),
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
    store: Store,
    clock: Arc<dyn Clock>,
    parallelism: Arc<Semaphore>,
    logs_dir: PathBuf,
    env: Arc<BTreeMap<String, String>>,
    secrets: Vec<String>,
    http: reqwest::Client,
}

/// A DagRun to create.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Defaults to `{run_type}__{logical_date}` as Airflow names runs.
    pub run_id: Option<RunId>,
    pub run_type: RunType,
    pub logical_date: DateTime<Utc>,
    pub data_interval: DataInterval,
    pub conf: serde_json::Value,
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
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: EngineSettings) -> Engine {
        let secrets = template::secret_values(&settings.env);
        Engine {
            inner: Arc::new(Inner {
                store,
                clock,
                parallelism: Arc::new(Semaphore::new(settings.parallelism.max(1))),
                logs_dir: settings.logs_dir,
                env: Arc::new(settings.env),
                secrets,
                http: reqwest::Client::builder()
                    .user_agent(concat!("airless/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .unwrap_or_default(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Records a queued DagRun with all its task instances.
    pub async fn create_run(
        &self,
        dag: &Dag,
        request: &RunRequest,
    ) -> Result<DagRunRow, EngineError> {
        let now = self.now();
        self.inner
            .store
            .upsert_dag(
                &dag.dag_id,
                &dag.fileloc.display().to_string(),
                dag.is_paused_upon_creation,
                now,
            )
            .await?;
        let run_id = request
            .run_id
            .clone()
            .unwrap_or_else(|| default_run_id(request.run_type, request.logical_date));
        let tasks = dag
            .tasks
            .iter()
            .map(|t| (&t.task_id, t.retry.retries + 1))
            .collect();
        let run = self
            .inner
            .store
            .create_dag_run(&NewDagRun {
                dag_id: &dag.dag_id,
                run_id: &run_id,
                run_type: request.run_type,
                logical_date: request.logical_date,
                data_interval: (request.data_interval.start, request.data_interval.end),
                conf: &request.conf,
                tasks,
                now,
            })
            .await?;
        tracing::info!(dag_id = %dag.dag_id, run_id = %run_id, "dag run queued");
        Ok(run)
    }

    /// Drives run `dag_run_id` of `dag` until it finishes, `cancel` fires
    /// (running tries are killed, the run fails) or `shutdown` fires (no new
    /// tries start; running ones finish; the run is left to resume).
    /// Resumes a run left unfinished by a crash: interrupted tries are
    /// recorded as failed tries and retried per `retries`.
    pub async fn drive(
        &self,
        dag: Arc<Dag>,
        dag_run_id: i64,
        cancel: CancellationToken,
        shutdown: CancellationToken,
    ) -> Result<DriveOutcome, EngineError> {
        run::Driver::start(self.clone(), dag, dag_run_id, cancel, shutdown)
            .await?
            .drive()
            .await
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
