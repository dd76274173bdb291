//! The composition root of `airless serve`: builds the store, the DAG
//! registry, the engine, the scheduler and the HTTP server; owns the root
//! cancellation token and the shutdown order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dag::{Dag, DagBag};
use crate::engine::{DriveOutcome, Engine, EngineError, RunRequest};
use crate::store::{DagRunRow, Store};

/// The DAGs currently loaded; swapped whole on reload, read without locks
/// held across awaits.
#[derive(Debug, Clone, Default)]
pub struct DagRegistry {
    current: Arc<RwLock<Arc<DagBag>>>,
}

impl DagRegistry {
    pub fn new(bag: DagBag) -> Self {
        DagRegistry { current: Arc::new(RwLock::new(Arc::new(bag))) }
    }

    /// The DAGs and import errors as of now.
    pub fn snapshot(&self) -> Arc<DagBag> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn get(&self, dag_id: &str) -> Option<Arc<Dag>> {
        self.snapshot().dags.get(dag_id).cloned()
    }

    /// Installs a freshly loaded bag. A DAG whose file is now broken keeps
    /// its last good version (and the file's import error is listed), as
    /// Airflow keeps a DAG scheduled through a bad edit.
    pub fn replace(&self, mut fresh: DagBag) {
        let old = self.snapshot();
        for error in &fresh.import_errors {
            for dag in old.dags.values() {
                if dag.fileloc == error.file && !fresh.dags.contains_key(&dag.dag_id) {
                    fresh.dags.insert(dag.dag_id.clone(), dag.clone());
                }
            }
        }
        let fresh = Arc::new(fresh);
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }
}

/// Starts and cancels DagRuns: each run is driven on its own tokio task,
/// tracked so shutdown can wait for them.
#[derive(Debug, Clone)]
pub struct Launcher {
    engine: Engine,
    tracker: TaskTracker,
    /// Fires on shutdown: drivers stop starting tries.
    shutdown: CancellationToken,
    /// The cancel token of every run being driven, by DagRun id.
    active: Arc<Mutex<HashMap<i64, CancellationToken>>>,
    /// Wakes the scheduler (a run was queued or finished).
    wake: Arc<Notify>,
}

impl Launcher {
    pub fn new(engine: Engine, shutdown: CancellationToken) -> Self {
        Launcher {
            engine,
            tracker: TaskTracker::new(),
            shutdown,
            active: Arc::default(),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn store(&self) -> &Store {
        self.engine.store()
    }

    /// Notified whenever a run is queued or ends.
    pub fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Records a queued run and wakes the scheduler, which starts it when
    /// the DAG is unpaused and below `max_active_runs`.
    pub async fn trigger(&self, dag: &Dag, request: &RunRequest) -> Result<DagRunRow, EngineError> {
        let run = self.engine.create_run(dag, request).await?;
        self.wake.notify_one();
        Ok(run)
    }

    /// Whether run `dag_run_id` is being driven now.
    pub fn is_active(&self, dag_run_id: i64) -> bool {
        self.active.lock().map(|a| a.contains_key(&dag_run_id)).unwrap_or(false)
    }

    /// How many runs are being driven.
    pub fn active_count(&self) -> usize {
        self.active.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// Drives run `dag_run_id` on its own task, unless it is already driven.
    pub fn start(&self, dag: Arc<Dag>, dag_run_id: i64) {
        let cancel = CancellationToken::new();
        match self.active.lock() {
            Ok(mut active) => {
                if active.contains_key(&dag_run_id) {
                    return;
                }
                active.insert(dag_run_id, cancel.clone());
            }
            Err(_) => return,
        }
        let (engine, shutdown, active, wake) = (self.engine.clone(), self.shutdown.clone(), self.active.clone(), self.wake.clone());
        self.tracker.spawn(async move {
            match engine.drive(dag, dag_run_id, cancel, shutdown).await {
                Ok(DriveOutcome::Finished(_)) | Ok(DriveOutcome::Interrupted) => {}
                Err(err) => tracing::error!(dag_run_id, "driving the run failed: {err:#}"),
            }
            if let Ok(mut active) = active.lock() {
                active.remove(&dag_run_id);
            }
            wake.notify_one();
        });
    }

    /// Cancels a run being driven (its running tries are killed, the run
    /// fails). Returns false when it is not being driven.
    pub fn cancel(&self, dag_run_id: i64) -> bool {
        match self.active.lock() {
            Ok(active) => match active.get(&dag_run_id) {
                Some(token) => {
                    token.cancel();
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }

    /// Stops taking work and waits for the drivers to finish their running
    /// tries; returns false if `grace` ran out first.
    pub async fn shutdown(&self, grace: std::time::Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait()).await.is_ok()
    }
}

/// What the HTTP API works with.
#[derive(Debug, Clone)]
pub struct AppState {
    pub dags: DagRegistry,
    pub launcher: Launcher,
    /// Accepted bearer tokens (also Basic passwords); empty = no auth, which
    /// `serve` allows on loopback only.
    pub api_tokens: Arc<Vec<secrecy::SecretString>>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}
