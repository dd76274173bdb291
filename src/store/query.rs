//! The shapes of the store's richer reads: a filtered, ordered page of
//! DagRuns, the task instances a clear may reset, and the totals behind
//! `/metrics`. Plain data; each store implementation answers them.

use chrono::{DateTime, Utc};

use crate::model::{DagId, RunId, RunState, TaskId, TaskState};

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
    pub dag_id: Option<&'a DagId>,
    /// Empty means any state.
    pub states: &'a [RunState],
    pub order: DagRunOrder,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
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
}
