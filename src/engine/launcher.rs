//! Starts and cancels the DagRuns this process drives, each on its own
//! tokio task under one tracker, so shutdown can wait for them; keeps their
//! leases alive and stops driving a run whose lease it lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Control, DriveOutcome, Engine, EngineError, RunRequest};
use crate::dag::Dag;
use crate::model::DagRun;

/// How long tries still running when the shutdown grace runs out get to
/// stop: a shell command's process group is sent SIGTERM, then SIGKILL
/// after its kill grace, and its output is read to the end.
pub const STOP_TRIES_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// When the scheduler last completed a pass (unix milliseconds; 0 = never).
    heartbeat: Arc<std::sync::atomic::AtomicI64>,
    /// Set when DAGs or pause states changed: the scheduler re-plans every DAG.
    reschedule: Arc<std::sync::atomic::AtomicBool>,
}

impl Launcher {
    pub fn new(engine: Engine, shutdown: CancellationToken) -> Self {
        Launcher {
            engine,
            tracker: TaskTracker::new(),
            shutdown,
            active: Arc::default(),
            wake: Arc::new(Notify::new()),
            reschedule: Arc::default(),
            heartbeat: Arc::default(),
        }
    }

    /// The scheduler calls this after every pass.
    pub fn heartbeat(&self, at: chrono::DateTime<chrono::Utc>) {
        self.heartbeat
            .store(at.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
    }

    /// When the scheduler last completed a pass, if it ever did.
    pub fn last_heartbeat(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self.heartbeat.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            millis => chrono::DateTime::from_timestamp_millis(millis),
        }
    }

    /// Asks the scheduler to re-plan every DAG now (a DAG was added, changed,
    /// paused or unpaused).
    pub fn reschedule(&self) {
        self.reschedule
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Whether a re-plan was asked for since the last call.
    pub fn take_reschedule(&self) -> bool {
        self.reschedule
            .swap(false, std::sync::atomic::Ordering::SeqCst)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn control(&self) -> &Control {
        self.engine.control()
    }

    pub fn reader(&self) -> &crate::store::Reader {
        self.engine.reader()
    }

    /// Notified whenever a run is queued or ends.
    pub fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// Records a queued run and wakes the scheduler, which starts it when
    /// the DAG is unpaused and below `max_active_runs`.
    pub async fn trigger(
        &self,
        dag: &Arc<Dag>,
        request: &RunRequest,
    ) -> Result<DagRun, EngineError> {
        let run = self.engine.control().trigger(dag, request).await?;
        self.wake.notify_one();
        Ok(run)
    }

    /// Fires when the daemon starts shutting down (long-lived responses
    /// such as the web UI's event streams end then).
    pub fn shutting_down(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Whether run `dag_run_id` is being driven now.
    pub fn is_active(&self, dag_run_id: i64) -> bool {
        self.active
            .lock()
            .map(|a| a.contains_key(&dag_run_id))
            .unwrap_or(false)
    }

    /// Drives run `dag_run_id` on its own task, unless it is already driven
    /// or airless is shutting down. The caller has claimed the run's lease;
    /// it is given up when the driver stops.
    pub fn start(&self, dag: Arc<Dag>, dag_run_id: i64) {
        if self.shutdown.is_cancelled() {
            return; // a run interrupted by the shutdown resumes after the restart
        }
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
        let (engine, shutdown, active, wake) = (
            self.engine.clone(),
            self.shutdown.clone(),
            self.active.clone(),
            self.wake.clone(),
        );
        self.tracker.spawn(async move {
            match engine.drive(dag, dag_run_id, cancel, shutdown).await {
                Ok(DriveOutcome::Finished(_)) | Ok(DriveOutcome::Interrupted) => {}
                Err(err) => {
                    if lost_lease(&engine, dag_run_id).await {
                        tracing::warn!(
                            dag_run_id,
                            "the run was taken elsewhere while this process was stopped or cut off: its write was refused ({err}); it is no longer driven here"
                        );
                    } else {
                        tracing::error!(dag_run_id, "driving the run failed: {err:#}");
                    }
                }
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

    /// How many runs this process drives now.
    pub fn active_count(&self) -> usize {
        self.active.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// The ids of the runs being driven.
    fn active_ids(&self) -> Vec<i64> {
        self.active
            .lock()
            .map(|a| a.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Renews this owner's heartbeat and leases every [`super::lease::HEARTBEAT`]
    /// until `stop` fires; a run whose lease was lost (failed by another
    /// process, or taken after this one went silent) stops being driven
    /// here: its tries are killed.
    pub async fn keep_leases(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(super::lease::HEARTBEAT) => {}
                () = stop.cancelled() => return,
            }
            // the runs driven before the heartbeat: one claimed and started
            // while it was in flight is not in its answer, and is not lost
            let before = self.active_ids();
            match self.control().heartbeat().await {
                Ok(held) => {
                    for id in before {
                        if !held.contains(&id) && self.cancel(id) {
                            tracing::warn!(
                                dag_run_id = id,
                                "the run was failed or taken elsewhere: stopping its tries"
                            );
                        }
                    }
                }
                Err(err) => tracing::warn!("cannot renew the heartbeat: {err}"),
            }
        }
    }

    /// Stops taking work and waits for the drivers to finish their running
    /// tries; returns false if `grace` ran out first. Then the tries still
    /// running are stopped, and each says so, and what happens to it after
    /// the restart, as the last line of its log (given up to
    /// [`STOP_TRIES_WAIT`] more, then the process exits regardless).
    pub async fn shutdown(&self, grace: std::time::Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.engine.end_grace(grace);
        if tokio::time::timeout(STOP_TRIES_WAIT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "some tries did not stop within {}s after the shutdown grace; their logs may end early",
                STOP_TRIES_WAIT.as_secs()
            );
        }
        false
    }
}

/// Whether run `dag_run_id` is now held by another owner: a write refused
/// by its fence, not a failure of this process.
async fn lost_lease(engine: &Engine, dag_run_id: i64) -> bool {
    let me = &engine.control().owner().id;
    match engine.reader().dag_run(dag_run_id).await {
        Ok(run) => run.lease.is_some_and(|lease| &lease.owner != me),
        Err(_) => false,
    }
}
