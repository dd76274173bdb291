//! DAG files → validated, immutable [`Dag`]s. `yaml` reads a file into one
//! positioned YAML document, `spec` mirrors the DAG keys, `validate` turns a
//! file into a `Dag` or all its mistakes (`template` checks what templates
//! use), `graph` wraps petgraph, `timetable` computes run times, `bag` loads
//! a folder, `folder` keeps a load whose files finish one by one.
//! Depends only on `model`; nothing downstream re-checks what is validated here.

pub mod bag;
pub mod duration;
pub mod error;
pub mod folder;
pub mod graph;
pub mod registry;
pub mod source;
pub mod spec;
pub mod template;
pub mod timetable;
pub mod validate;
pub mod yaml;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{DagId, TaskId};

pub use bag::{DEFAULT_MAX_DAG_FILE_SIZE, DagBag, ImportError, LoadOptions};
pub use error::{DagError, WarningType};
pub use folder::FolderLoad;
pub use graph::TaskGraph;
pub use registry::DagRegistry;
pub use spec::{
    DatabricksSpec, HttpSpec, KindSpec, NoopSpec, ShellCommand, ShellSpec, TriggerRule,
};
pub use timetable::{DataInterval, RunInfo, Timetable, TimetableKind};
pub use validate::{load, load_bytes};

/// A validated DAG: every id resolved, the graph acyclic, every schedule,
/// zone and duration parsed.
#[derive(Debug, Clone)]
pub struct Dag {
    pub dag_id: DagId,
    pub description: Option<String>,
    pub fileloc: PathBuf,
    pub timetable: Timetable,
    pub max_active_runs: u32,
    pub max_active_tasks: u32,
    pub is_paused_upon_creation: bool,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Tasks in file order; index `i` is node `i` of `graph`.
    pub tasks: Vec<Task>,
    pub graph: TaskGraph,
    /// The file's text, as loaded: recorded as the DAG's version.
    pub source: Arc<str>,
    /// SHA-256 of `source`, hex.
    pub source_hash: String,
    /// What loads but deserves a look (a trigger's conf in a shell script).
    pub warnings: Vec<DagError>,
    /// Its recovery and deadline alerts (task alerts are on each task).
    pub alerts: DagAlerts,
}

impl Dag {
    pub fn task_index(&self, task_id: &str) -> Option<usize> {
        self.tasks
            .iter()
            .position(|t| t.task_id.as_str() == task_id)
    }

    /// Graphviz text of the task graph.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n", self.dag_id);
        for task in &self.tasks {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\\n({})\"];\n",
                task.task_id,
                task.task_id,
                task.kind.name()
            ));
        }
        for (up, down) in self.graph.edges() {
            out.push_str(&format!(
                "  \"{}\" -> \"{}\";\n",
                self.tasks[up].task_id, self.tasks[down].task_id
            ));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart text of the task graph.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for (i, task) in self.tasks.iter().enumerate() {
            out.push_str(&format!(
                "  t{i}[\"{} ({})\"]\n",
                task.task_id,
                task.kind.name()
            ));
        }
        for (up, down) in self.graph.edges() {
            out.push_str(&format!("  t{up} --> t{down}\n"));
        }
        out
    }
}

/// One task of a DAG, with its defaults already applied.
#[derive(Debug, Clone)]
pub struct Task {
    pub task_id: TaskId,
    pub kind: KindSpec,
    pub trigger_rule: TriggerRule,
    pub retry: RetryPolicy,
    pub execution_timeout: Option<Duration>,
    pub alerts: TaskAlerts,
    /// The task must have finished by then (Airflow 2's `sla`).
    pub deadline: Option<Deadline>,
}

/// The channels told about a task's instances (task keys over the DAG's
/// and `default_args`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskAlerts {
    /// Failed after the last retry.
    pub on_failure: Vec<String>,
    pub on_retry: Vec<String>,
    pub on_success: Vec<String>,
}

/// The DAG-level alerts: a recovery and a deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagAlerts {
    /// A run succeeds after the DAG's previous run failed.
    pub on_recovery: Vec<String>,
    pub deadline: Option<Deadline>,
}

/// A run must have finished `after` its `from` instant, or `notify` hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    pub after: Duration,
    pub from: DeadlineFrom,
    pub notify: Vec<String>,
}

/// The instant a deadline counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineFrom {
    Queued,
    LogicalDate,
    DataIntervalEnd,
}

/// Airflow's retry settings for one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub retry_delay: Duration,
    pub exponential_backoff: bool,
    pub max_retry_delay: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            // Airflow's default retry_delay
            retry_delay: Duration::from_secs(300),
            exponential_backoff: false,
            max_retry_delay: None,
        }
    }
}

impl RetryPolicy {
    /// How long to wait after try `failed_try` (1-based) failed. With
    /// exponential backoff: `retry_delay * 2^(failed_try-1)`, capped by
    /// `max_retry_delay` — Airflow's lower bound, without its hash jitter, so
    /// runs are reproducible.
    pub fn delay_after(&self, failed_try: u32) -> Duration {
        let delay = if self.exponential_backoff {
            let factor = 2u32.saturating_pow(failed_try.saturating_sub(1).min(31));
            self.retry_delay.saturating_mul(factor)
        } else {
            self.retry_delay
        };
        match self.max_retry_delay {
            Some(max) => delay.min(max),
            None => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_and_stops_at_max_retry_delay() {
        let policy = RetryPolicy {
            retries: 5,
            retry_delay: Duration::from_secs(60),
            exponential_backoff: true,
            max_retry_delay: Some(Duration::from_secs(300)),
        };
        let delays: Vec<u64> = (1..=5).map(|t| policy.delay_after(t).as_secs()).collect();
        assert_eq!(delays, vec![60, 120, 240, 300, 300]);
    }

    #[test]
    fn without_backoff_every_retry_waits_retry_delay() {
        let policy = RetryPolicy {
            retries: 3,
            retry_delay: Duration::from_secs(120),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay_after(3), Duration::from_secs(120));
    }
}
