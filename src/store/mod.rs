//! The durable state of DAGs, DagVersions, DagRuns, TaskInstances, tries and
//! owners, behind two traits: [`StateRead`] (anyone may read) and
//! [`StateWrite`] (only the command door, `engine::control`, gets one: the
//! trait and [`open`]'s write half are `pub(crate)` and a test checks the
//! source). Every state change is a compare-and-swap: a change that finds
//! another state returns [`StoreError::Conflict`] and changes nothing.
//! `sqlite` (the default, embedded) and `postgres` (shared by several
//! `serve` peers) implement the same two traits with the same records; the
//! one store test suite (`tests`) runs against both. Depends on `model` only.
//! `copy` moves a whole database into an empty one, either backend to
//! either (`airless db copy`).
//!
//! Outside the crate the write side cannot even be named:
//!
//! ```compile_fail
//! # async fn f() {
//! let _ = airless::store::open(std::path::Path::new("airless.db")).await;
//! # }
//! ```

mod cas;
mod cleaning;
mod copy;
mod location;
mod postgres;
pub mod query;
mod records;
mod sqlite;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::model::{
    DagId, DagRecord, DagRun, DagVersion, Lease, Owner, ProcessGroup, RunId, RunState, RunType,
    TaskId, TaskInstance, TaskState, TaskTry,
};
pub use copy::{Copied, CopyError, copy};
pub use location::{DEFAULT_POOL_SIZE, Location};
pub use query::{
    Bounds, Cleaned, ClearCandidate, DagRunOrder, DagRunQuery, OutboxAlert, RunSummary,
    StoreMetrics, TaskCellState, TaskInstanceOrder, TaskInstancePage, TaskInstanceQuery,
};

/// What can go wrong with the state store, in our terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state database {path}: {message}")]
    Open { path: String, message: String },
    #[error("the state database {0} does not exist")]
    Missing(String),
    #[error("cannot migrate the state database {path}: {message}")]
    Migrate { path: String, message: String },
    #[error(
        "{path} is not an airless state database: it holds other tables ({tables}); point `database` at a new file"
    )]
    Foreign { path: String, tables: String },
    #[error("DagRun `{run_id}` of `{dag_id}` already exists")]
    DuplicateRun { dag_id: DagId, run_id: RunId },
    #[error("DAG `{dag_id}` already has a run for logical date {logical_date}")]
    DuplicateInterval {
        dag_id: DagId,
        logical_date: DateTime<Utc>,
    },
    #[error("{what} is no longer {expected}: another writer changed it")]
    Conflict { what: String, expected: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("corrupt row in the state database: {0}")]
    Corrupt(String),
    #[error("state database error: {0}")]
    Database(String),
}

/// The read side, shared by everyone; cheap to clone.
pub type Reader = Arc<dyn StateRead>;

/// The write side; only the command door holds one.
pub(crate) type Writer = Arc<dyn StateWrite>;

/// How a database is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The daemon or `dags test`: created and migrated if needed.
    ReadWrite,
    /// Read-only commands: never created, migrated or written; a missing
    /// database is [`StoreError::Missing`].
    ReadOnly,
}

/// Opens the state database at `location` for reading only (`dags list`
/// and other read-only commands). Never creates, migrates or writes it.
pub async fn open_reader(location: impl Into<Location>) -> Result<Reader, StoreError> {
    Ok(match location.into() {
        Location::Sqlite(path) => {
            Arc::new(sqlite::SqliteStore::open(&path, Access::ReadOnly).await?)
        }
        Location::Postgres { url, pool_size } => {
            postgres::open(&url, Access::ReadOnly, pool_size).await?.0
        }
    })
}

/// Opens (creating and migrating) the state database at `location`; the
/// write half goes to the command door and nowhere else.
pub(crate) async fn open(location: impl Into<Location>) -> Result<(Reader, Writer), StoreError> {
    Ok(match location.into() {
        Location::Sqlite(path) => {
            let store = Arc::new(sqlite::SqliteStore::open(&path, Access::ReadWrite).await?);
            (store.clone(), store)
        }
        Location::Postgres { url, pool_size } => {
            postgres::open(&url, Access::ReadWrite, pool_size).await?
        }
    })
}

/// Applies every migration the database at `location` lacks (`airless db
/// migrate`; `serve` does it too); returns the versions applied now.
pub async fn migrate(location: &Location) -> Result<Vec<i64>, StoreError> {
    match location {
        Location::Sqlite(path) => sqlite::migrate(path).await,
        Location::Postgres { url, .. } => postgres::migrate(url).await,
    }
}

/// A DagRun to create, with its tasks.
#[derive(Debug, Clone)]
pub struct NewDagRun<'a> {
    pub dag_id: &'a DagId,
    pub run_id: &'a RunId,
    pub run_type: RunType,
    pub logical_date: DateTime<Utc>,
    pub data_interval: (DateTime<Utc>, DateTime<Utc>),
    pub conf: &'a serde_json::Value,
    /// Every task with its `retries + 1`.
    pub tasks: Vec<(&'a TaskId, u32)>,
    pub dag_version: Option<i64>,
    /// Created already driven (and so `running`) by this lease: `dags test`.
    pub lease: Option<Lease>,
    pub now: DateTime<Utc>,
}

/// A loaded DAG to record, with its source text.
#[derive(Debug, Clone)]
pub struct NewDagVersion<'a> {
    pub dag_id: &'a DagId,
    pub fileloc: String,
    pub is_paused_upon_creation: bool,
    pub hash: &'a str,
    pub source: &'a str,
    /// Which channels hear of what: `(task_id or "", event, channel)`,
    /// replacing the DAG's routes.
    pub alert_routes: Vec<(String, &'static str, String)>,
}

/// How a try ended, as the engine recorded it.
#[derive(Debug, Clone)]
pub struct TryEnd<'a> {
    pub state: TaskState,
    pub output: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// The owner whose lease a write must hold on the run it changes; `None`
/// for writes on runs nobody drives (checked by the caller just before).
pub type Fence<'a> = Option<&'a str>;

/// Reads of the state database. Never blocks on a writer longer than a
/// statement (WAL readers in SQLite).
#[async_trait::async_trait]
pub trait StateRead: Send + Sync + std::fmt::Debug {
    /// Whether several `serve` peers may share this database (PostgreSQL);
    /// SQLite takes one scheduler.
    fn is_shared(&self) -> bool;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn dags(&self) -> Result<Vec<DagRecord>, StoreError>;
    async fn dag(&self, dag_id: &DagId) -> Result<Option<DagRecord>, StoreError>;
    /// Whether each known DAG is paused.
    async fn paused_dags(&self) -> Result<HashMap<String, bool>, StoreError>;
    async fn dag_version(&self, id: i64) -> Result<Option<DagVersion>, StoreError>;
    /// The latest good version of every DAG recorded from `fileloc`.
    async fn latest_versions_of_file(&self, fileloc: &str) -> Result<Vec<DagVersion>, StoreError>;

    async fn dag_run(&self, id: i64) -> Result<DagRun, StoreError>;
    async fn find_dag_run(
        &self,
        dag_id: &DagId,
        run_id: &RunId,
    ) -> Result<Option<DagRun>, StoreError>;
    /// DagRuns (of one DAG, or all), newest logical date first.
    async fn dag_runs(
        &self,
        dag_id: Option<&DagId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DagRun>, StoreError>;
    /// One page of DagRuns and how many match in all.
    async fn dag_run_page(&self, query: &DagRunQuery<'_>)
    -> Result<(Vec<DagRun>, i64), StoreError>;
    /// Runs in `state`, oldest logical date first.
    async fn runs_in_state(&self, state: RunState) -> Result<Vec<DagRun>, StoreError>;
    /// The run of `dag_id` at `logical_date`, of any run type, if there is one.
    async fn run_at_logical_date(
        &self,
        dag_id: &DagId,
        logical_date: DateTime<Utc>,
    ) -> Result<Option<RunId>, StoreError>;
    /// The data interval of `dag_id`'s newest scheduled run: where its
    /// timetable continues from.
    async fn last_scheduled_interval(
        &self,
        dag_id: &DagId,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError>;
    /// Queued and running runs per DAG.
    async fn active_run_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError>;

    async fn task_instances(&self, dag_run_id: i64) -> Result<Vec<TaskInstance>, StoreError>;
    /// One page of TaskInstances across runs, with their runs.
    async fn task_instance_page(
        &self,
        query: &TaskInstanceQuery<'_>,
    ) -> Result<TaskInstancePage, StoreError>;
    async fn task_tries(&self, ti_id: i64) -> Result<Vec<TaskTry>, StoreError>;
    /// The `per_dag` newest runs (by logical date) of every DAG, grouped by
    /// DAG, newest first within each.
    async fn recent_runs(&self, per_dag: i64) -> Result<Vec<RunSummary>, StoreError>;
    /// The data interval of every DAG's newest scheduled run, by dag_id.
    async fn last_scheduled_intervals(
        &self,
    ) -> Result<HashMap<String, (DateTime<Utc>, DateTime<Utc>)>, StoreError>;
    /// The state and tries of every task instance of the runs `dag_run_ids`.
    async fn task_cells(&self, dag_run_ids: &[i64]) -> Result<Vec<TaskCellState>, StoreError>;
    /// Every try of every task instance of one run, with its task's id, by
    /// task instance then try number.
    async fn tries_of_run(&self, dag_run_id: i64) -> Result<Vec<(TaskId, TaskTry)>, StoreError>;
    /// Task instances of `dag_id` in one of `states`, in runs whose logical
    /// date is within `[start, end]`, optionally of one run; oldest run first.
    async fn clear_candidates(
        &self,
        dag_id: &DagId,
        run_id: Option<&RunId>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        states: &[TaskState],
    ) -> Result<Vec<ClearCandidate>, StoreError>;
    async fn metrics(&self) -> Result<StoreMetrics, StoreError>;

    /// Alerts waiting for delivery, oldest first, with what their message
    /// needs (run id, logical date, the try's log, a remote run's page).
    async fn pending_alerts(&self, limit: i64) -> Result<Vec<OutboxAlert>, StoreError>;
    /// Alerts in `status` (pending, delivered, failed), newest first.
    async fn alerts(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxAlert>, StoreError>;
    /// Unfinished runs of `dag_id` with no `deadline` alert yet.
    async fn runs_without_deadline_alert(&self, dag_id: &DagId) -> Result<Vec<DagRun>, StoreError>;

    async fn owner(&self, id: &str) -> Result<Option<Owner>, StoreError>;
    /// The `serve` owner holding the scheduler's lock, if any.
    async fn scheduler_holder(&self) -> Result<Option<Owner>, StoreError>;
}

/// Writes of the state database: the command door's alone.
#[async_trait::async_trait]
pub(crate) trait StateWrite: Send + Sync + std::fmt::Debug {
    /// Records an owner (a process that drives runs).
    async fn insert_owner(&self, owner: &Owner) -> Result<(), StoreError>;
    /// Takes the scheduler's lock for `owner` if it is free or still held by
    /// `observed` (a holder found dead); false when someone else took it.
    async fn claim_scheduler(
        &self,
        owner: &str,
        observed: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Renews `owner`'s heartbeat and the leases of every run it holds;
    /// returns the ids of the unfinished runs it still holds.
    async fn heartbeat(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;
    /// Marks `owner` stopped and frees its leases (and the scheduler's lock).
    async fn stop_owner(&self, owner: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records every DAG of a (re)load and its version (a new one when the
    /// text changed); new DAGs start paused when their file says so.
    /// Returns each DAG's version id, in order.
    async fn register_dags(
        &self,
        dags: &[NewDagVersion<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;
    /// Alerts `ids` were delivered at `now`.
    async fn alerts_delivered(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError>;
    /// A delivery of `ids` failed with `error`: tried again at `next`, or
    /// given up (`failed`) when `next` is `None`.
    async fn alerts_not_delivered(
        &self,
        ids: &[i64],
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Records a run-level alert (a missed deadline) to each channel, once;
    /// with `ti`, about that task instance (once per instance).
    async fn insert_run_alert(
        &self,
        run: &DagRun,
        ti: Option<&TaskInstance>,
        event: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Records that DAG file `file` started failing to load, for each of
    /// `channels`.
    async fn insert_import_error_alert(
        &self,
        file: &str,
        message: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Returns false when the DAG was already in that state.
    async fn set_paused(&self, dag_id: &DagId, paused: bool) -> Result<bool, StoreError>;

    /// Creates a DagRun (queued, or running under `lease`) and all its
    /// TaskInstances (state `none`) in one transaction.
    async fn create_dag_run(&self, new: &NewDagRun<'_>) -> Result<DagRun, StoreError>;
    /// Takes run `id`'s lease for `owner` if it is still `observed` (a free
    /// or dead holder's); false when another owner got there first. With
    /// `max_active` (starting a queued run), also false when its DAG already
    /// has that many runs running or claimed: the check and the claim are
    /// one atomic step, whichever peer makes them.
    async fn claim_run(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
        observed: Option<&Lease>,
        max_active: Option<u32>,
    ) -> Result<bool, StoreError>;
    /// Gives up `owner`'s lease on run `id`.
    async fn release_run(&self, id: i64, owner: &str) -> Result<(), StoreError>;
    /// Moves a run from `from` to `to`; stamps start_date on `running`,
    /// end_date on a finished state.
    async fn set_run_state(
        &self,
        id: i64,
        from: RunState,
        to: RunState,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;

    /// Moves a task instance between states without starting or ending a try.
    async fn set_task_state(
        &self,
        ti_id: i64,
        from: TaskState,
        to: TaskState,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;
    /// Starts try `try_number` of a task instance in state `from` with its
    /// log file, recording the try.
    async fn start_try(
        &self,
        ti_id: i64,
        from: TaskState,
        try_number: u32,
        log_path: &str,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;
    /// Ends the running try: success, failed or up_for_retry.
    async fn finish_try(
        &self,
        ti_id: i64,
        try_number: u32,
        end: &TryEnd<'_>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;
    /// Records the remote job a running try started (a Databricks run).
    async fn set_external(
        &self,
        ti_id: i64,
        try_number: u32,
        external_id: &str,
        url: Option<&str>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;
    /// Records the process group a running try started (a shell command).
    async fn set_process_group(
        &self,
        ti_id: i64,
        try_number: u32,
        group: &ProcessGroup,
        fence: Fence<'_>,
    ) -> Result<(), StoreError>;
    /// Resets a finished task instance to `none`, keeping its try history;
    /// `max_tries` becomes the tries it may make in all.
    async fn clear_task_instance(
        &self,
        ti_id: i64,
        from: TaskState,
        max_tries: u32,
    ) -> Result<(), StoreError>;
    /// Deletes DagRun `id` with its task instances and tries, if it is
    /// still in `state` and its lease still held by `lease_owner` (`None`:
    /// no lease); [`StoreError::Conflict`] otherwise. Returns the deleted
    /// tries' log files (for the caller to remove).
    async fn delete_dag_run(
        &self,
        id: i64,
        state: RunState,
        lease_owner: Option<&str>,
    ) -> Result<Vec<String>, StoreError>;
    /// Copies the WAL into the database without blocking writers (SQLite;
    /// nothing to do for PostgreSQL).
    async fn checkpoint(&self) -> Result<(), StoreError>;

    /// Deletes what finished before `before` (`airless db clean`): finished
    /// runs whose end (or, never started, queue time) is older, with their
    /// task instances and tries — except each DAG's newest scheduled run,
    /// which the timetable continues from — plus delivered and failed
    /// alerts created before it and owners stopped before it. With
    /// `dry_run`, counts and deletes nothing. Returns the counts and the
    /// log files of the deleted tries (for the caller to remove).
    async fn clean(&self, before: DateTime<Utc>, dry_run: bool) -> Result<Cleaned, StoreError>;

    /// Sends committed events' JSON to every peer listening on this
    /// database (PostgreSQL `NOTIFY`; nothing for SQLite). Each payload is
    /// under 7,900 bytes.
    async fn notify(&self, payloads: &[String]) -> Result<(), StoreError>;
    /// The payloads peers send from now on (PostgreSQL `LISTEN`, reconnected
    /// when the connection drops); `None` for SQLite, which has no peers.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, StoreError>;
}
