//! *When* a run starts: creates scheduled runs as each unpaused DAG's
//! timetable comes due (catchup, start/end dates, `max_active_runs`), and
//! starts queued runs — scheduled, manual and backfill alike — within
//! `max_active_runs`. Sleeps until the next due instant or a wake-up; never
//! polls busily. Deciding what is due is pure ([`runs_to_create`]). The DAG
//! processor (`dag_processor`) loads the folder file by file; `watch`
//! reloads it on change.

pub mod alerts;
pub mod dag_processor;
pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

use crate::dag::{Dag, DagRegistry, DataInterval, RunInfo};
use crate::engine::{ControlError, EngineError, Launcher, RunRequest, default_run_id};
use crate::model::{Clock, RunState, RunType};
use crate::store::StoreError;

/// How often queued runs are looked for without a wake-up (runs queued by
/// another process, such as `airless backfill`), and runs whose owner is
/// gone adopted.
const QUEUED_POLL: Duration = Duration::seconds(5);

/// The same on a shared database, where peers come and go: a dead peer's
/// runs are adopted within this of its lease running out.
const QUEUED_POLL_SHARED: Duration = Duration::seconds(2);

/// The scheduled runs to create for `dag` at `now`: what its timetable says
/// is due after the last scheduled interval, no more than `max_active_runs`
/// allows beside the `active` (queued + running) runs.
pub fn runs_to_create(
    dag: &Dag,
    last: Option<DataInterval>,
    active: usize,
    now: DateTime<Utc>,
) -> Vec<RunInfo> {
    let room = (dag.max_active_runs as usize).saturating_sub(active);
    if room == 0 {
        return Vec::new();
    }
    dag.timetable.due_runs(last, now, room)
}

/// The next run the scheduler will create for `dag`: where its timetable
/// continues from its newest scheduled run. `None` for a DAG without a
/// schedule or past its end.
pub async fn next_run(
    reader: &crate::store::Reader,
    dag: &Dag,
    now: DateTime<Utc>,
) -> Result<Option<RunInfo>, StoreError> {
    Ok(upcoming(reader, dag, now, 1).await?.into_iter().next())
}

/// The next `n` runs the scheduler will create for `dag`, read from the
/// store's newest scheduled run. Every view of "the next run" (`dags
/// list`, `dags next-runs`, the API's `next_dagrun*`, the web UI) comes
/// from here, so none can disagree with [`Scheduler::create_due_runs`].
pub async fn upcoming(
    reader: &crate::store::Reader,
    dag: &Dag,
    now: DateTime<Utc>,
    n: usize,
) -> Result<Vec<RunInfo>, StoreError> {
    if dag.timetable.schedule.is_none() || n == 0 {
        return Ok(Vec::new());
    }
    let last = reader.last_scheduled_interval(&dag.dag_id).await?;
    Ok(upcoming_after(dag, last, now, n))
}

/// The next run the scheduler will create for `dag` after the scheduled
/// run whose data interval was `last`.
pub fn next_run_after(
    dag: &Dag,
    last: Option<(DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Option<RunInfo> {
    upcoming_after(dag, last, now, 1).into_iter().next()
}

/// The next `n` runs the scheduler will create for `dag` after the
/// scheduled run whose data interval was `last`, in the order it creates
/// them: the one that starts next first. Its `run_after` (for an interval
/// timetable the data interval's end) may have passed: the run is due and
/// is created on the scheduler's next pass over an unpaused DAG (without
/// catchup, that is the latest complete interval).
pub fn upcoming_after(
    dag: &Dag,
    last: Option<(DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
    n: usize,
) -> Vec<RunInfo> {
    if dag.timetable.schedule.is_none() {
        return Vec::new();
    }
    let last = last.map(|(start, end)| DataInterval { start, end });
    dag.timetable.upcoming(last, now, n)
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    dags: DagRegistry,
    launcher: Launcher,
    clock: Arc<dyn Clock>,
}

impl Scheduler {
    pub fn new(dags: DagRegistry, launcher: Launcher, clock: Arc<dyn Clock>) -> Self {
        Scheduler {
            dags,
            launcher,
            clock,
        }
    }

    /// Runs until `shutdown` fires. Store errors are logged and retried on
    /// the next pass; they never stop the scheduler.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut next_due = self.clock.now();
        loop {
            let now = self.clock.now();
            if now >= next_due || self.launcher.take_reschedule() {
                next_due = match self.create_due_runs(now).await {
                    Ok(next) => next,
                    Err(err) => {
                        tracing::error!("scheduling failed, retrying in 5s: {err:#}");
                        now + Duration::seconds(5)
                    }
                };
            }
            match self.start_queued_runs().await {
                Ok(()) => self.launcher.heartbeat(self.clock.now()),
                Err(err) => tracing::error!("starting queued runs failed: {err:#}"),
            }
            let poll = if self.launcher.control().is_shared() {
                QUEUED_POLL_SHARED
            } else {
                QUEUED_POLL
            };
            let wake_at = next_due.min(self.clock.now() + poll);
            tokio::select! {
                () = self.clock.sleep_until(wake_at) => {}
                () = self.launcher.wake().notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// One scheduling pass over every unpaused DAG; returns when the next
    /// run becomes due.
    pub async fn create_due_runs(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, EngineError> {
        let store = self.launcher.reader();
        let paused = store.paused_dags().await?;
        let active = store.active_run_counts().await?;
        let mut next_due = now + Duration::minutes(1);
        for dag in self.dags.snapshot().dags.values() {
            if dag.timetable.schedule.is_none()
                || paused
                    .get(dag.dag_id.as_str())
                    .copied()
                    .unwrap_or(dag.is_paused_upon_creation)
            {
                continue;
            }
            let mut last = store
                .last_scheduled_interval(&dag.dag_id)
                .await?
                .map(|(start, end)| DataInterval { start, end });
            let (queued, running) = active.get(dag.dag_id.as_str()).copied().unwrap_or((0, 0));
            for info in runs_to_create(dag, last, (queued + running) as usize, now) {
                self.create_scheduled(dag, &info, now).await?;
                last = Some(info.data_interval);
            }
            if let Some(at) = dag.timetable.next_wakeup(last, now) {
                next_due = next_due.min(at.max(now + Duration::milliseconds(10)));
            }
        }
        Ok(next_due)
    }

    async fn create_scheduled(
        &self,
        dag: &Arc<Dag>,
        info: &RunInfo,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let request = RunRequest {
            run_id: Some(default_run_id(RunType::Scheduled, info.logical_date)),
            run_type: RunType::Scheduled,
            logical_date: info.logical_date,
            data_interval: info.data_interval,
            conf: serde_json::json!({}),
        };
        match self.launcher.control().trigger(dag, &request).await {
            Ok(run) => {
                let delay = (now - info.run_after).num_milliseconds();
                tracing::info!(dag_id = %dag.dag_id, run_id = %run.run_id, due = %info.run_after, delay_ms = delay, "scheduled run created");
                Ok(())
            }
            // the interval already has its run: never twice, whatever restarts happened
            Err(ControlError::Store(
                StoreError::DuplicateInterval { .. } | StoreError::DuplicateRun { .. },
            )) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Starts queued runs of unpaused DAGs, oldest first, within
    /// `max_active_runs`, each once its lease is claimed; adopts running
    /// runs whose owner is gone (after a restart, or a `dags test` killed).
    pub async fn start_queued_runs(&self) -> Result<(), EngineError> {
        let control = self.launcher.control();
        crate::engine::recovery::adopt_runs(control, &self.dags, &self.launcher).await?;
        let store = self.launcher.reader();
        let queued = store.runs_in_state(RunState::Queued).await?;
        if queued.is_empty() {
            return Ok(());
        }
        let bag = self.dags.snapshot();
        let mut running: HashMap<String, usize> = HashMap::new();
        for (dag_id, (_, count)) in store.active_run_counts().await? {
            running.insert(dag_id, count as usize);
        }
        let paused = store.paused_dags().await?;
        // peers on a shared database spread the work: each takes no more
        // runs than it has free try slots, and drives at most `parallelism`
        let mut budget = if control.is_shared() {
            let engine = self.launcher.engine();
            engine.free_slots().min(
                engine
                    .parallelism()
                    .saturating_sub(self.launcher.active_count()),
            )
        } else {
            usize::MAX
        };
        for run in queued {
            if budget == 0 {
                break;
            }
            let Some(current) = bag.dags.get(run.dag_id.as_str()) else {
                continue;
            };
            if self.launcher.is_active(run.id)
                || paused
                    .get(run.dag_id.as_str())
                    .copied()
                    .unwrap_or(current.is_paused_upon_creation)
            {
                continue;
            }
            let slots = running.entry(run.dag_id.to_string()).or_default();
            if *slots >= current.max_active_runs as usize
                || !control
                    .claim_run(&run, Some(current.max_active_runs))
                    .await?
            {
                continue;
            }
            match control.dag_for_run(&run, Some(current.clone())).await {
                Ok(Some(dag)) => {
                    *slots += 1;
                    budget -= 1;
                    self.launcher.start(dag, run.id);
                }
                Ok(None) => control.release_run(run.id).await?,
                Err(err) => {
                    tracing::error!(dag_id = %run.dag_id, run_id = %run.run_id, "cannot start the run: {err}");
                    control.release_run(run.id).await?;
                }
            }
        }
        Ok(())
    }
}
