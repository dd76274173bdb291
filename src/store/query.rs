//! The shapes of the store's richer reads: filtered, ordered pages of
//! DagRuns and TaskInstances, the task instances a clear may reset, and the
//! totals behind `/metrics`. Plain data; each store implementation answers
//! them.

use chrono::{DateTime, Utc};

use crate::model::{DagId, DagRun, RunId, RunState, RunType, TaskId, TaskInstance, TaskState};

/// An inclusive range, either end open: Airflow's `*_gte` / `*_lte`
/// filters. A row without the value (a run not started yet, for a
/// `start_date` range) is outside any range that has an end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds<T> {
    pub gte: Option<T>,
    pub lte: Option<T>,
}

/// A column DagRuns can be ordered by: Airflow's allowed `order_by` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagRunOrder {
    Id,
    State,
    DagId,
    /// `execution_date` / `logical_date`
    LogicalDate,
    /// `dag_run_id`
    RunId,
    StartDate,
    EndDate,
    ExternalTrigger,
    Conf,
}

/// Which DagRuns to list, and how.
#[derive(Debug, Clone)]
pub struct DagRunQuery<'a> {
    /// `None` lists the runs of every DAG.
    pub dag_ids: Option<&'a [DagId]>,
    /// Empty means any state.
    pub states: &'a [RunState],
    /// Empty means any run type.
    pub run_types: &'a [RunType],
    /// `execution_date_*` / `logical_date_*`.
    pub logical_date: Bounds<DateTime<Utc>>,
    pub start_date: Bounds<DateTime<Utc>>,
    pub end_date: Bounds<DateTime<Utc>>,
    /// The run's last change: the latest of when it was queued, started
    /// and ended (runs keep no separate `updated_at`).
    pub updated_at: Bounds<DateTime<Utc>>,
    pub order: DagRunOrder,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// An order of TaskInstances: Airflow's `order_by` names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskInstanceOrder {
    /// Creation: runs in the order they were made, a run's tasks in the
    /// DAG's order (also `map_index`, which is -1 for every airless task).
    Id,
    /// `none` first, then by name.
    State,
    Duration,
    StartDate,
    EndDate,
}

/// Which TaskInstances to list, and how.
#[derive(Debug, Clone)]
pub struct TaskInstanceQuery<'a> {
    /// `None`: of every DAG.
    pub dag_ids: Option<&'a [DagId]>,
    /// `None`: of every run.
    pub run_ids: Option<&'a [RunId]>,
    /// `None`: every task.
    pub task_ids: Option<&'a [TaskId]>,
    /// `None`: any state.
    pub states: Option<&'a [TaskState]>,
    /// The run's logical date (Airflow's `execution_date_*`).
    pub logical_date: Bounds<DateTime<Utc>>,
    pub start_date: Bounds<DateTime<Utc>>,
    pub end_date: Bounds<DateTime<Utc>>,
    /// The latest of the run's queuing and the instance's start and end.
    pub updated_at: Bounds<DateTime<Utc>>,
    /// Seconds from start to end, to the millisecond; only finished tries
    /// have one.
    pub duration: Bounds<f64>,
    pub order: TaskInstanceOrder,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// One page of TaskInstances, the runs they belong to, and how many match
/// in all.
#[derive(Debug, Clone, Default)]
pub struct TaskInstancePage {
    pub task_instances: Vec<TaskInstance>,
    pub dag_runs: Vec<DagRun>,
    pub total: i64,
}

/// A task instance that a clear may reset, with its run.
#[derive(Debug, Clone)]
pub struct ClearCandidate {
    pub ti_id: i64,
    pub task_id: TaskId,
    pub state: TaskState,
    pub try_number: u32,
    pub dag_run_id: i64,
    pub run_id: RunId,
    pub run_state: RunState,
    pub logical_date: DateTime<Utc>,
}

/// Counts and sums over the whole database, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct StoreMetrics {
    pub dag_runs: Vec<(DagId, RunState, i64)>,
    pub task_instances: Vec<(TaskState, i64)>,
    /// Finished task instances: (dag, task, seconds summed, count).
    pub task_durations: Vec<(DagId, TaskId, f64, i64)>,
    /// Started runs: (dag, seconds from due to start summed, count).
    pub scheduling_delays: Vec<(DagId, f64, i64)>,
    /// The outbox: (channel, status, count).
    pub alerts: Vec<(String, String, i64)>,
}

/// What a run's square or grid column shows: a DagRun without its conf,
/// interval and lease (the DAGs page reads 25 per DAG).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: i64,
    pub dag_id: DagId,
    pub run_id: RunId,
    pub run_type: RunType,
    pub state: RunState,
    pub logical_date: DateTime<Utc>,
}

impl From<&DagRun> for RunSummary {
    fn from(run: &DagRun) -> Self {
        RunSummary {
            id: run.id,
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            run_type: run.run_type,
            state: run.state,
            logical_date: run.logical_date,
        }
    }
}

/// What a grid cell shows: a task instance's state and tries.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskCellState {
    pub dag_run_id: i64,
    pub task_id: TaskId,
    pub state: TaskState,
    pub try_number: u32,
}

/// One alert of the outbox, with what its message needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxAlert {
    pub id: i64,
    pub channel: String,
    pub event: String,
    pub dag_id: String,
    pub run_id: Option<String>,
    pub logical_date: Option<DateTime<Utc>>,
    pub task_id: Option<String>,
    pub try_number: Option<u32>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// The try's log file, when the alert is about a try.
    pub log_path: Option<String>,
    pub external_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What `db clean` deleted (or, in a dry run, would delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub dag_runs: i64,
    pub task_instances: i64,
    pub task_tries: i64,
    pub alerts: i64,
    pub owners: i64,
    /// The log files of the deleted tries.
    pub log_paths: Vec<String>,
}
