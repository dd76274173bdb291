//! The one door that changes DAG, DagRun and TaskInstance state: trigger,
//! start, finish and cancel runs, move task instances, start and end tries,
//! clear, mark, pause, register DAG versions, and the leases that say which
//! process drives a run. The API, the CLI, the scheduler, recovery and the run
//! driver all call it; it alone holds the store's write side. Every change is
//! checked by its state's transition function, written compare-and-swap, and
//! then published as an [`Event`] (a slow subscriber lags, never blocks).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use std::time::Duration;
use tokio::sync::mpsc;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::lease;
use crate::dag::{Dag, DagBag};
use crate::model::{
    Clock, DagId, DagRun, Event, Lease, Owner, OwnerKind, ProcessGroup, RunId, RunState, RunType,
    TaskId, TaskInstance, TaskState,
};
use crate::store::{
    ClearCandidate, Location, NewDagRun, NewDagVersion, Reader, StoreError, TryEnd, Writer,
};

/// How many events a subscriber may fall behind before it misses some.
const EVENT_BUFFER: usize = 4096;

/// How many events may wait to be sent to peers; past it the oldest are
/// dropped (peers' live views catch up on their next refresh).
const PEER_BUFFER: usize = 8192;

/// Why the door refused a command.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the state database {database} is in use by {holder}; SQLite takes one scheduler: stop that one first, or use PostgreSQL to run several"
    )]
    SchedulerRunning { database: String, holder: String },
    #[error("DagRun `{run_id}` of `{dag_id}` is driven by {holder}")]
    DrivenElsewhere {
        dag_id: DagId,
        run_id: RunId,
        holder: String,
    },
    #[error("{0}")]
    Transition(#[from] crate::model::TransitionError),
    #[error("the DAG version #{0} of a run cannot be loaded: {1}")]
    Version(i64, String),
}

/// A DagRun to create.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Defaults to `{run_type}__{logical_date}` as Airflow names runs.
    pub run_id: Option<RunId>,
    pub run_type: RunType,
    pub logical_date: DateTime<Utc>,
    pub data_interval: crate::dag::DataInterval,
    pub conf: serde_json::Value,
}

/// What a person asks a task instance to become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Success,
    Failed,
    Skipped,
}

/// The command door; cheap to clone.
#[derive(Debug, Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    reader: Reader,
    writer: Writer,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    owner: Owner,
    lease_timeout: Duration,
    /// The version id of each DAG text recorded, by hash.
    versions: Mutex<HashMap<String, i64>>,
    /// Files that had import errors at the last registration.
    broken: Mutex<BTreeSet<String>>,
    /// Held from a run's queueing write to its event, and from its start's
    /// write to its event, so subscribers see "queued" before "started".
    run_order: tokio::sync::Mutex<()>,
    /// This process's events on their way to peers on a shared database
    /// (`None` on SQLite); the receiver is taken by `engine::peers`.
    to_peers: Option<mpsc::Sender<Event>>,
    from_here: Mutex<Option<mpsc::Receiver<Event>>>,
}

impl Control {
    /// Opens the state database at `location` and registers this process
    /// as an owner of `kind`. On SQLite a `serve` also takes the scheduler's
    /// lock: when a live `serve` holds it, nothing is written and the error
    /// names it. On a shared database (PostgreSQL) any number of `serve`
    /// peers run side by side.
    pub async fn open(
        location: impl Into<Location>,
        kind: OwnerKind,
        clock: Arc<dyn Clock>,
        lease_timeout: Duration,
    ) -> Result<Control, ControlError> {
        let location = location.into();
        let (reader, writer) = crate::store::open(location.clone()).await?;
        let shared = reader.is_shared();
        let now = clock.now();
        let owner = lease::this_process(kind, now);
        let one_scheduler = kind == OwnerKind::Serve && !shared;
        let mut observed = None;
        if one_scheduler && let Some(holder) = reader.scheduler_holder().await? {
            if lease::is_alive(&holder, &owner, now, lease_timeout) {
                return Err(ControlError::SchedulerRunning {
                    database: location.to_string(),
                    holder: lease::describe(&holder),
                });
            }
            observed = Some(holder.id);
        }
        writer.insert_owner(&owner).await?;
        if one_scheduler
            && !writer
                .claim_scheduler(&owner.id, observed.as_deref())
                .await?
        {
            let holder = reader
                .scheduler_holder()
                .await?
                .map(|h| lease::describe(&h))
                .unwrap_or_else(|| "another airless serve".to_string());
            writer.stop_owner(&owner.id, now).await?;
            return Err(ControlError::SchedulerRunning {
                database: location.to_string(),
                holder,
            });
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (to_peers, from_here) = if shared && kind == OwnerKind::Serve {
            let (tx, rx) = mpsc::channel(PEER_BUFFER);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        Ok(Control {
            inner: Arc::new(Inner {
                reader,
                writer,
                clock,
                events,
                owner,
                lease_timeout,
                versions: Mutex::default(),
                broken: Mutex::default(),
                run_order: tokio::sync::Mutex::new(()),
                to_peers,
                from_here: Mutex::new(from_here),
            }),
        })
    }

    /// Whether several `serve` peers share this database.
    pub fn is_shared(&self) -> bool {
        self.inner.reader.is_shared()
    }

    /// Whether this process sends the alerts. On SQLite its one `serve`
    /// does. On a shared database one node does — the holder of the lock
    /// SQLite uses for its one scheduler, taken when it is free or its
    /// holder is gone — so every alert goes out once, not once per node.
    pub async fn sends_alerts(&self) -> Result<bool, ControlError> {
        if !self.is_shared() {
            return Ok(true);
        }
        let me = &self.inner.owner;
        let observed = match self.inner.reader.scheduler_holder().await? {
            Some(holder) if holder.id == me.id => return Ok(true),
            Some(holder) if lease::is_alive(&holder, me, self.now(), self.inner.lease_timeout) => {
                return Ok(false);
            }
            Some(holder) => Some(holder.id),
            None => None,
        };
        let won = self
            .inner
            .writer
            .claim_scheduler(&me.id, observed.as_deref())
            .await?;
        if won {
            tracing::info!("this node sends the alerts");
        }
        Ok(won)
    }

    /// The events this process publishes, for the peer bridge to send on
    /// (once; `None` on SQLite or when already taken).
    pub(crate) fn take_outgoing(&self) -> Option<mpsc::Receiver<Event>> {
        self.inner.from_here.lock().ok()?.take()
    }

    /// Publishes an event a peer committed to this process's subscribers
    /// (never sent back to peers).
    pub(crate) fn publish_from_peer(&self, event: Event) {
        if self.inner.events.receiver_count() > 0 {
            let _ = self.inner.events.send(event);
        }
    }

    /// Sends events' JSON payloads to every peer (PostgreSQL `NOTIFY`).
    pub(crate) async fn notify_peers(&self, payloads: &[String]) -> Result<(), ControlError> {
        Ok(self.inner.writer.notify(payloads).await?)
    }

    /// The payloads peers send from now on; `None` without peers.
    pub(crate) async fn listen_to_peers(
        &self,
    ) -> Result<Option<mpsc::Receiver<String>>, ControlError> {
        Ok(self.inner.writer.listen().await?)
    }

    /// Deletes history that finished before `before` (`airless db clean`);
    /// see [`crate::store::StateWrite::clean`].
    pub async fn clean(
        &self,
        before: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<crate::store::Cleaned, ControlError> {
        Ok(self.inner.writer.clean(before, dry_run).await?)
    }

    pub fn reader(&self) -> &Reader {
        &self.inner.reader
    }

    pub fn owner(&self) -> &Owner {
        &self.inner.owner
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn lease_timeout(&self) -> Duration {
        self.inner.lease_timeout
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Publishes the event `make` builds, if anyone listens (the engine's
    /// hot path builds nothing when nobody does): here, and to peers on a
    /// shared database.
    fn publish(&self, make: impl FnOnce() -> Event) {
        let local = self.inner.events.receiver_count() > 0;
        let peers = self.inner.to_peers.as_ref();
        if !local && peers.is_none() {
            return;
        }
        let event = make();
        if let Some(peers) = peers {
            // a full queue (peers unreachable) loses live updates, never state
            let _ = peers.try_send(event.clone());
        }
        if local {
            // a full buffer drops the oldest for the laggard; nobody waits
            let _ = self.inner.events.send(event);
        }
    }

    fn me(&self) -> Option<&str> {
        Some(self.inner.owner.id.as_str())
    }

    fn lease_until(&self) -> DateTime<Utc> {
        self.now() + chrono::Duration::from_std(self.inner.lease_timeout).unwrap_or_default()
    }

    /// Renews this owner's heartbeat and leases; returns the unfinished
    /// runs it still holds (a run missing here was cancelled or taken).
    pub async fn heartbeat(&self) -> Result<Vec<i64>, ControlError> {
        Ok(self
            .inner
            .writer
            .heartbeat(&self.inner.owner.id, self.now(), self.lease_until())
            .await?)
    }

    /// Marks this owner stopped and frees its leases.
    pub async fn stop(&self) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .stop_owner(&self.inner.owner.id, self.now())
            .await?)
    }

    /// Copies the WAL into the database (the daemon does it every second).
    pub async fn checkpoint(&self) -> Result<(), ControlError> {
        Ok(self.inner.writer.checkpoint().await?)
    }

    /// Records every DAG of a (re)load and its version, and publishes the
    /// import errors that appeared or cleared since the last registration.
    pub async fn register_dags(&self, bag: &DagBag) -> Result<(), ControlError> {
        let dags: Vec<&Arc<Dag>> = bag.dags.values().collect();
        self.register(&dags).await?;
        let now = self.now();
        let broken: BTreeSet<String> = bag
            .import_errors
            .iter()
            .map(|e| e.file.display().to_string())
            .collect();
        let before = match self.inner.broken.lock() {
            Ok(mut seen) => std::mem::replace(&mut *seen, broken.clone()),
            Err(_) => BTreeSet::new(),
        };
        for error in &bag.import_errors {
            let file = error.file.display().to_string();
            if !before.contains(&file) {
                let message = error
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n");
                self.publish(|| Event::ImportErrorAppeared {
                    file,
                    message,
                    at: now,
                });
            }
        }
        for file in before.difference(&broken) {
            self.publish(|| Event::ImportErrorCleared {
                file: file.clone(),
                at: now,
            });
        }
        Ok(())
    }

    async fn register(&self, dags: &[&Arc<Dag>]) -> Result<Vec<i64>, ControlError> {
        let records: Vec<NewDagVersion<'_>> = dags
            .iter()
            .map(|dag| NewDagVersion {
                dag_id: &dag.dag_id,
                fileloc: dag.fileloc.display().to_string(),
                is_paused_upon_creation: dag.is_paused_upon_creation,
                hash: &dag.source_hash,
                source: &dag.source,
                alert_routes: alert_routes(dag),
            })
            .collect();
        let ids = self
            .inner
            .writer
            .register_dags(&records, self.now())
            .await?;
        if let Ok(mut versions) = self.inner.versions.lock() {
            for (dag, id) in dags.iter().zip(&ids) {
                versions.insert(version_key(dag), *id);
            }
        }
        Ok(ids)
    }

    /// The version id of `dag`'s text, recording it first if it is new.
    pub async fn version_of(&self, dag: &Arc<Dag>) -> Result<i64, ControlError> {
        let known = self
            .inner
            .versions
            .lock()
            .ok()
            .and_then(|v| v.get(&version_key(dag)).copied());
        match known {
            Some(id) => Ok(id),
            None => Ok(self.register(&[dag]).await?.first().copied().unwrap_or(0)),
        }
    }

    /// Puts back into `bag` the last good version of every DAG whose file
    /// is now broken, so it stays scheduled and triggerable (the import
    /// error stays listed beside it).
    pub async fn restore_last_good(&self, bag: &mut DagBag) -> Result<usize, ControlError> {
        let mut restored = 0;
        for error in bag.import_errors.clone() {
            let fileloc = error.file.display().to_string();
            for version in self.inner.reader.latest_versions_of_file(&fileloc).await? {
                if bag.dags.contains_key(&version.dag_id) {
                    continue;
                }
                match crate::dag::load(&error.file, &version.source) {
                    Ok(dag) if dag.dag_id == version.dag_id => {
                        tracing::warn!(dag_id = %dag.dag_id, version = version.version_number, file = %fileloc, "the file is broken: its last good version stays scheduled");
                        bag.dags.insert(dag.dag_id.clone(), Arc::new(dag));
                        restored += 1;
                    }
                    _ => {}
                }
            }
        }
        Ok(restored)
    }

    /// The DAG a run drives on: the version it started on, which is
    /// `current` unless the file changed since.
    pub async fn dag_for_run(
        &self,
        run: &DagRun,
        current: Option<Arc<Dag>>,
    ) -> Result<Option<Arc<Dag>>, ControlError> {
        let Some(version) = run.dag_version else {
            return Ok(current);
        };
        if let Some(dag) = &current
            && self.version_of(dag).await? == version
        {
            return Ok(current);
        }
        let Some(stored) = self.inner.reader.dag_version(version).await? else {
            return Ok(current);
        };
        match crate::dag::load(Path::new(&stored.fileloc), &stored.source) {
            Ok(dag) => Ok(Some(Arc::new(dag))),
            Err(errors) => Err(ControlError::Version(
                version,
                errors.first().map(ToString::to_string).unwrap_or_default(),
            )),
        }
    }

    /// Pauses or unpauses a DAG; returns false when it already was.
    pub async fn set_paused(&self, dag_id: &DagId, paused: bool) -> Result<bool, ControlError> {
        let changed = self.inner.writer.set_paused(dag_id, paused).await?;
        if changed {
            let (dag_id, at) = (dag_id.clone(), self.now());
            self.publish(|| {
                if paused {
                    Event::DagPaused { dag_id, at }
                } else {
                    Event::DagUnpaused { dag_id, at }
                }
            });
        }
        Ok(changed)
    }

    /// Queues a run of `dag` (manual, scheduled or backfill) on the DAG's
    /// current version; the scheduler starts it.
    pub async fn trigger(
        &self,
        dag: &Arc<Dag>,
        request: &RunRequest,
    ) -> Result<DagRun, ControlError> {
        self.create_run(dag, request, None).await
    }

    /// Creates a run already held by this owner (`dags test`): no other
    /// process starts or adopts it while this one lives.
    pub async fn create_driven_run(
        &self,
        dag: &Arc<Dag>,
        request: &RunRequest,
    ) -> Result<DagRun, ControlError> {
        let lease = Lease {
            owner: self.inner.owner.id.clone(),
            expires_at: self.lease_until(),
        };
        self.create_run(dag, request, Some(lease)).await
    }

    async fn create_run(
        &self,
        dag: &Arc<Dag>,
        request: &RunRequest,
        lease: Option<Lease>,
    ) -> Result<DagRun, ControlError> {
        let version = self.version_of(dag).await?;
        let run_id = request
            .run_id
            .clone()
            .unwrap_or_else(|| super::default_run_id(request.run_type, request.logical_date));
        let tasks = dag
            .tasks
            .iter()
            .map(|t| (&t.task_id, t.retry.retries + 1))
            .collect();
        let now = self.now();
        let _order = self.inner.run_order.lock().await;
        let run = self
            .inner
            .writer
            .create_dag_run(&NewDagRun {
                dag_id: &dag.dag_id,
                run_id: &run_id,
                run_type: request.run_type,
                logical_date: request.logical_date,
                data_interval: (request.data_interval.start, request.data_interval.end),
                conf: &request.conf,
                tasks,
                dag_version: Some(version),
                lease,
                now,
            })
            .await?;
        tracing::info!(dag_id = %dag.dag_id, run_id = %run_id, "dag run queued");
        self.publish(|| Event::RunQueued {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            at: now,
        });
        Ok(run)
    }

    /// Whether `run`'s lease can be taken now (nobody alive holds it).
    pub async fn lease_is_free(&self, run: &DagRun) -> Result<bool, ControlError> {
        let holder = match &run.lease {
            Some(lease) if lease.owner != self.inner.owner.id => {
                self.inner.reader.owner(&lease.owner).await?
            }
            _ => None,
        };
        Ok(lease::is_free(
            run.lease.as_ref(),
            holder.as_ref(),
            &self.inner.owner,
            self.now(),
            self.inner.lease_timeout,
        ))
    }

    /// Who holds `run`'s lease, in words, when someone alive does.
    pub async fn holder_of(&self, run: &DagRun) -> Result<Option<String>, ControlError> {
        if self.lease_is_free(run).await? {
            return Ok(None);
        }
        let Some(lease) = &run.lease else {
            return Ok(None);
        };
        Ok(Some(match self.inner.reader.owner(&lease.owner).await? {
            Some(owner) => lease::describe(&owner),
            None => lease.owner.clone(),
        }))
    }

    /// Takes `run`'s lease for this owner when it is free or already ours;
    /// false when another live owner holds it or got there first. With
    /// `max_active` (a queued run about to start), also false when its DAG
    /// already has that many runs running or claimed, on any peer.
    pub async fn claim_run(
        &self,
        run: &DagRun,
        max_active: Option<u32>,
    ) -> Result<bool, ControlError> {
        if run
            .lease
            .as_ref()
            .is_some_and(|l| l.owner == self.inner.owner.id)
        {
            return Ok(true);
        }
        if !self.lease_is_free(run).await? {
            return Ok(false);
        }
        Ok(self
            .inner
            .writer
            .claim_run(
                run.id,
                &self.inner.owner.id,
                self.lease_until(),
                run.lease.as_ref(),
                max_active,
            )
            .await?)
    }

    /// Gives up this owner's lease on a run it stopped driving.
    pub async fn release_run(&self, dag_run_id: i64) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .release_run(dag_run_id, &self.inner.owner.id)
            .await?)
    }

    /// queued → running, by the run's driver.
    pub async fn start_run(&self, run: &mut DagRun) -> Result<(), ControlError> {
        let now = self.now();
        let _order = self.inner.run_order.lock().await;
        self.inner
            .writer
            .set_run_state(run.id, RunState::Queued, RunState::Running, now, self.me())
            .await?;
        run.state = RunState::Running;
        self.publish(|| Event::RunStarted {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            at: now,
        });
        Ok(())
    }

    /// running → success or failed, by the run's driver. A run that someone
    /// else already failed (a cancel from another process) stays as it is.
    pub async fn finish_run(
        &self,
        run: &DagRun,
        state: RunState,
    ) -> Result<RunState, ControlError> {
        let now = self.now();
        match self
            .inner
            .writer
            .set_run_state(run.id, RunState::Running, state, now, self.me())
            .await
        {
            Ok(()) => {
                self.publish(|| Event::RunFinished {
                    dag_id: run.dag_id.clone(),
                    run_id: run.run_id.clone(),
                    state,
                    at: now,
                });
                Ok(state)
            }
            Err(StoreError::Conflict { .. }) => {
                let current = self.inner.reader.dag_run(run.id).await?;
                if current.state.is_finished() {
                    Ok(current.state)
                } else {
                    Err(StoreError::Conflict {
                        what: format!("DagRun `{}`", run.run_id),
                        expected: "running".into(),
                    }
                    .into())
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Moves a task instance without a try (queue, skip, upstream_failed,
    /// retry → queued), by the run's driver.
    pub async fn set_task_state(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        from: TaskState,
        to: TaskState,
    ) -> Result<(), ControlError> {
        self.move_task(run, ti, from, to, self.me()).await
    }

    async fn move_task(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        from: TaskState,
        to: TaskState,
        fence: Option<&str>,
    ) -> Result<(), ControlError> {
        from.transition(to)?;
        let now = self.now();
        self.inner
            .writer
            .set_task_state(ti.id, from, to, now, fence)
            .await?;
        tracing::debug!(task_id = %ti.task_id, from = %from, to = %to, "task state");
        self.publish(|| Event::TaskInstanceChanged {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            task_id: ti.task_id.clone(),
            state: to,
            at: now,
        });
        Ok(())
    }

    /// Starts try `try_number` of `ti` (from `queued`, or `none` when its
    /// slot was free) with its log file.
    pub async fn start_try(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        try_number: u32,
        log_path: &str,
    ) -> Result<(), ControlError> {
        let now = self.now();
        self.inner
            .writer
            .start_try(ti.id, ti.state, try_number, log_path, now, self.me())
            .await?;
        self.publish(|| Event::TryStarted {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            task_id: ti.task_id.clone(),
            try_number,
            log_path: log_path.to_string(),
            at: now,
        });
        Ok(())
    }

    /// Ends the running try of `ti`, by the run's driver.
    pub async fn end_try(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        try_number: u32,
        end: &TryEnd<'_>,
        log_path: &str,
    ) -> Result<(), ControlError> {
        self.finish_try(run, ti, try_number, end, log_path, self.me())
            .await
    }

    async fn finish_try(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        try_number: u32,
        end: &TryEnd<'_>,
        log_path: &str,
        fence: Option<&str>,
    ) -> Result<(), ControlError> {
        self.inner
            .writer
            .finish_try(ti.id, try_number, end, fence)
            .await?;
        self.publish(|| Event::TryEnded {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            task_id: ti.task_id.clone(),
            try_number,
            state: end.state,
            error: end.error.map(str::to_string),
            log_path: log_path.to_string(),
            at: end.now,
        });
        Ok(())
    }

    /// Records the remote job a running try started, before it waits on it.
    pub async fn record_external(
        &self,
        ti_id: i64,
        try_number: u32,
        external_id: &str,
        url: Option<&str>,
    ) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .set_external(ti_id, try_number, external_id, url, self.me())
            .await?)
    }

    /// Records the process group a running try started, so an adopter can
    /// kill it if this process dies.
    pub async fn record_process_group(
        &self,
        ti_id: i64,
        try_number: u32,
        pgid: i32,
    ) -> Result<(), ControlError> {
        let group = ProcessGroup {
            pgid,
            owner: self.inner.owner.id.clone(),
            boot_id: self.inner.owner.boot_id.clone(),
        };
        Ok(self
            .inner
            .writer
            .set_process_group(ti_id, try_number, &group, self.me())
            .await?)
    }

    /// Ends a try whose owner is gone: kills its process group when it
    /// still runs on this boot (saying so in the try's log), then records
    /// the try as failed with `error`, `up_for_retry` when `retry_at` says
    /// when it may run again.
    /// `fence` is the driver that adopted the run, or `None` when nobody
    /// drives it.
    pub async fn end_orphaned_try(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        state: TaskState,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        fence: Option<&str>,
    ) -> Result<(), ControlError> {
        if let Some(group) = &ti.process_group
            && group.owner != self.inner.owner.id
        {
            let note = kill_orphan(group, &self.inner.owner.boot_id);
            tracing::warn!(task_id = %ti.task_id, try_number = ti.try_number, "{note}");
            if let Some(path) = ti.log_path.as_deref().filter(|p| !p.is_empty()) {
                append_log(path, &note);
            }
        }
        let end = TryEnd {
            state,
            output: None,
            error: Some(error),
            next_retry_at: retry_at,
            now: self.now(),
        };
        let log_path = ti.log_path.clone().unwrap_or_default();
        self.finish_try(run, ti, ti.try_number, &end, &log_path, fence)
            .await
    }

    /// The one cancel of a run's waiting work, whoever asks: every task
    /// instance that has not run yet (none, queued, up_for_retry) is
    /// skipped, as Airflow's `set_dag_run_state_to_failed` does. Running
    /// tries are the driver's to kill; `fence` is the driver (this owner)
    /// or `None` for a run nobody drives. Conflicts (a state that moved on
    /// meanwhile) are left as they are.
    pub async fn skip_unstarted(
        &self,
        run: &DagRun,
        fence: Option<&str>,
    ) -> Result<Vec<TaskInstance>, ControlError> {
        let mut running = Vec::new();
        for ti in self.inner.reader.task_instances(run.id).await? {
            match ti.state {
                TaskState::None | TaskState::Queued | TaskState::UpForRetry => {
                    match self
                        .move_task(run, &ti, ti.state, TaskState::Skipped, fence)
                        .await
                    {
                        Ok(()) | Err(ControlError::Store(StoreError::Conflict { .. })) => {}
                        Err(err) => return Err(err),
                    }
                }
                TaskState::Running => running.push(ti),
                _ => {}
            }
        }
        Ok(running)
    }

    /// Fails a run this process does not drive. When nobody alive holds its
    /// lease, everything ends here: waiting task instances are skipped and
    /// running tries (their owner is gone) killed and failed. When another
    /// live process drives it, the run is failed and its waiting work
    /// skipped; that driver sees it at its next heartbeat and kills its tries.
    pub async fn fail_undriven_run(&self, run: &DagRun) -> Result<DagRun, ControlError> {
        if run.state.is_finished() {
            return Ok(run.clone());
        }
        let free = self.lease_is_free(run).await?;
        let now = self.now();
        self.inner
            .writer
            .set_run_state(run.id, run.state, RunState::Failed, now, None)
            .await?;
        tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, "dag run failed on request");
        let running = self.skip_unstarted(run, None).await?;
        if free {
            for ti in running {
                let result = self
                    .end_orphaned_try(
                        run,
                        &ti,
                        TaskState::Failed,
                        None,
                        "the run was failed while nobody drove it",
                        None,
                    )
                    .await;
                match result {
                    Ok(()) | Err(ControlError::Store(StoreError::Conflict { .. })) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        self.publish(|| Event::RunFinished {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            state: RunState::Failed,
            at: now,
        });
        Ok(self.inner.reader.dag_run(run.id).await?)
    }

    /// Puts a finished run back to work (`PATCH … {"state": "queued"}`, and
    /// a clear of its task instances).
    pub async fn requeue_run(&self, run: &DagRun) -> Result<(), ControlError> {
        run.state.transition(RunState::Queued)?;
        let now = self.now();
        let _order = self.inner.run_order.lock().await;
        self.inner
            .writer
            .set_run_state(run.id, run.state, RunState::Queued, now, None)
            .await?;
        self.publish(|| Event::RunQueued {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            at: now,
        });
        Ok(())
    }

    /// Deletes a run nobody alive drives, with its task instances, tries
    /// and their log files (Airflow's `DELETE …/dagRuns/{id}`).
    /// [`ControlError::DrivenElsewhere`] while a live process drives it;
    /// a conflict when it moved on since `run` was read.
    pub async fn delete_run(&self, run: &DagRun) -> Result<(), ControlError> {
        if let Some(holder) = self.holder_of(run).await? {
            return Err(ControlError::DrivenElsewhere {
                dag_id: run.dag_id.clone(),
                run_id: run.run_id.clone(),
                holder,
            });
        }
        let logs = self
            .inner
            .writer
            .delete_dag_run(
                run.id,
                run.state,
                run.lease.as_ref().map(|l| l.owner.as_str()),
            )
            .await?;
        for log in logs {
            if let Err(err) = std::fs::remove_file(&log)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(log, "cannot remove a deleted run's log: {err}");
            }
        }
        tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, "dag run deleted");
        Ok(())
    }

    /// Resets finished task instances to `none` so they run again (their
    /// try history stays; each may make `retries + 1` more tries), and puts
    /// their finished runs back to work. Runs someone drives are left alone.
    /// Returns the cleared candidates.
    pub async fn clear(
        &self,
        dag: &Dag,
        candidates: Vec<ClearCandidate>,
    ) -> Result<Vec<ClearCandidate>, ControlError> {
        let mut cleared = Vec::new();
        let mut runs = std::collections::BTreeMap::new();
        for candidate in candidates {
            let tries = dag
                .task_index(candidate.task_id.as_str())
                .map_or(1, |i| dag.tasks[i].retry.retries + 1);
            match self
                .inner
                .writer
                .clear_task_instance(
                    candidate.ti_id,
                    candidate.state,
                    candidate.try_number + tries,
                )
                .await
            {
                Ok(()) => {
                    runs.insert(candidate.dag_run_id, candidate.run_state);
                    self.publish(|| Event::TaskInstanceChanged {
                        dag_id: dag.dag_id.clone(),
                        run_id: candidate.run_id.clone(),
                        task_id: candidate.task_id.clone(),
                        state: TaskState::None,
                        at: self.now(),
                    });
                    cleared.push(candidate);
                }
                // another writer moved it on since it was listed
                Err(StoreError::Conflict { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        for (id, run_state) in runs {
            if run_state.is_finished() {
                let run = self.inner.reader.dag_run(id).await?;
                match self.requeue_run(&run).await {
                    Ok(())
                    | Err(ControlError::Store(StoreError::Conflict { .. }))
                    | Err(ControlError::Transition(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(cleared)
    }

    /// The outbox's delivery outcomes, from the alert sender.
    pub async fn alerts_delivered(&self, ids: &[i64]) -> Result<(), ControlError> {
        Ok(self.inner.writer.alerts_delivered(ids, self.now()).await?)
    }

    pub async fn alerts_not_delivered(
        &self,
        ids: &[i64],
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .alerts_not_delivered(ids, error, next)
            .await?)
    }

    /// Records that `run` missed its deadline, for each of `channels`.
    pub async fn deadline_missed(
        &self,
        run: &DagRun,
        channels: &[String],
    ) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .insert_run_alert(run, None, "deadline", channels, self.now())
            .await?)
    }

    /// Records that DAG file `file` started failing to load, for `channels`.
    pub async fn import_error_alert(
        &self,
        file: &str,
        message: &str,
        channels: &[String],
    ) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .insert_import_error_alert(file, message, channels, self.now())
            .await?)
    }

    /// Records that task instance `ti` of `run` missed its task's deadline.
    pub async fn task_deadline_missed(
        &self,
        run: &DagRun,
        ti: &TaskInstance,
        channels: &[String],
    ) -> Result<(), ControlError> {
        Ok(self
            .inner
            .writer
            .insert_run_alert(run, Some(ti), "deadline", channels, self.now())
            .await?)
    }

    /// Marks a task instance that is not running success, failed or
    /// skipped, in a run nobody alive drives (Airflow's "mark success").
    pub async fn mark_task_instance(
        &self,
        run: &DagRun,
        task_id: &TaskId,
        mark: Mark,
    ) -> Result<TaskInstance, ControlError> {
        if let Some(holder) = self.holder_of(run).await? {
            return Err(ControlError::DrivenElsewhere {
                dag_id: run.dag_id.clone(),
                run_id: run.run_id.clone(),
                holder,
            });
        }
        let ti = self
            .inner
            .reader
            .task_instances(run.id)
            .await?
            .into_iter()
            .find(|ti| &ti.task_id == task_id)
            .ok_or_else(|| StoreError::NotFound(format!("task instance `{task_id}`")))?;
        let to = match mark {
            Mark::Success => TaskState::Success,
            Mark::Failed => TaskState::Failed,
            Mark::Skipped => TaskState::Skipped,
        };
        if ti.state != to {
            self.move_task(run, &ti, ti.state, to, None).await?;
        }
        let mut marked = ti;
        marked.state = to;
        Ok(marked)
    }
}

/// Which channels hear of what in `dag`: each task's failure, retry and
/// success channels, and the DAG's recovery channels (task id "").
fn alert_routes(dag: &Dag) -> Vec<(String, &'static str, String)> {
    let mut routes = Vec::new();
    for task in &dag.tasks {
        for (event, channels) in [
            ("failure", &task.alerts.on_failure),
            ("retry", &task.alerts.on_retry),
            ("success", &task.alerts.on_success),
        ] {
            for channel in channels {
                routes.push((task.task_id.to_string(), event, channel.clone()));
            }
        }
    }
    for channel in &dag.alerts.on_recovery {
        routes.push((String::new(), "recovery", channel.clone()));
    }
    routes
}

fn version_key(dag: &Dag) -> String {
    format!("{}\u{0}{}", dag.dag_id, dag.source_hash)
}

/// Kills an orphaned try's process group when it still exists on this boot;
/// returns what was done, for the try's log.
fn kill_orphan(group: &ProcessGroup, boot_id: &str) -> String {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if group.boot_id != boot_id {
        return format!(
            "airless: the try's owner is gone; its process group {} ran on another boot and is gone with it",
            group.pgid
        );
    }
    let pgid = Pid::from_raw(group.pgid);
    match killpg(pgid, None) {
        Ok(()) => match killpg(pgid, Signal::SIGKILL) {
            Ok(()) => format!(
                "airless: the try's owner is gone; killed its orphaned process group {}",
                group.pgid
            ),
            Err(err) => format!(
                "airless: the try's owner is gone; cannot kill its process group {}: {err}",
                group.pgid
            ),
        },
        Err(_) => format!(
            "airless: the try's owner is gone; its process group {} had already exited",
            group.pgid
        ),
    }
}

fn append_log(path: &str, line: &str) {
    use std::io::Write;
    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(path) {
        let stamp = crate::model::time::isoformat(Utc::now());
        let _ = writeln!(file, "[{stamp}] {line}");
    }
}
