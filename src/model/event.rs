//! What the command door publishes after each state change it commits: the
//! web UI's live views and the alerts subscribe. Plain data, no I/O.

use chrono::{DateTime, Utc};

use super::{DagId, RunId, RunState, TaskId, TaskState};

/// One committed state change.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunQueued {
        dag_id: DagId,
        run_id: RunId,
        at: DateTime<Utc>,
    },
    RunStarted {
        dag_id: DagId,
        run_id: RunId,
        at: DateTime<Utc>,
    },
    RunFinished {
        dag_id: DagId,
        run_id: RunId,
        state: RunState,
        at: DateTime<Utc>,
    },
    TryStarted {
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        try_number: u32,
        log_path: String,
        at: DateTime<Utc>,
    },
    TryEnded {
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        try_number: u32,
        /// success, failed or up_for_retry
        state: TaskState,
        error: Option<String>,
        log_path: String,
        at: DateTime<Utc>,
    },
    /// A task instance moved without a try (skipped, upstream_failed,
    /// queued, cleared, marked).
    TaskInstanceChanged {
        dag_id: DagId,
        run_id: RunId,
        task_id: TaskId,
        state: TaskState,
        at: DateTime<Utc>,
    },
    DagPaused {
        dag_id: DagId,
        at: DateTime<Utc>,
    },
    DagUnpaused {
        dag_id: DagId,
        at: DateTime<Utc>,
    },
    ImportErrorAppeared {
        file: String,
        message: String,
        at: DateTime<Utc>,
    },
    ImportErrorCleared {
        file: String,
        at: DateTime<Utc>,
    },
}

impl Event {
    /// The DAG the event is about (none for a file's import error).
    pub fn dag_id(&self) -> Option<&DagId> {
        match self {
            Event::RunQueued { dag_id, .. }
            | Event::RunStarted { dag_id, .. }
            | Event::RunFinished { dag_id, .. }
            | Event::TryStarted { dag_id, .. }
            | Event::TryEnded { dag_id, .. }
            | Event::TaskInstanceChanged { dag_id, .. }
            | Event::DagPaused { dag_id, .. }
            | Event::DagUnpaused { dag_id, .. } => Some(dag_id),
            Event::ImportErrorAppeared { .. } | Event::ImportErrorCleared { .. } => None,
        }
    }

    /// The run the event is about, if it is about one.
    pub fn run_id(&self) -> Option<&RunId> {
        match self {
            Event::RunQueued { run_id, .. }
            | Event::RunStarted { run_id, .. }
            | Event::RunFinished { run_id, .. }
            | Event::TryStarted { run_id, .. }
            | Event::TryEnded { run_id, .. }
            | Event::TaskInstanceChanged { run_id, .. } => Some(run_id),
            _ => None,
        }
    }
}
