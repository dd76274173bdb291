//! The JSON shapes of Airflow's stable REST API v1 (DAG, DAGRun,
//! TaskInstance, ImportError), with Airflow's field names and enums, built
//! from our rows. Instants are written as Python's `isoformat()` writes them:
//! `2024-01-01T00:00:00+00:00`, microseconds only when there are some.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use crate::dag::{Dag, DagBag, RunInfo};
use crate::model::TaskState;
use crate::model::{DagRecord, DagRun, RunType, TaskInstance};

/// An instant serialized as Airflow writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub DateTime<Utc>);

impl Serialize for Iso {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&iso(self.0))
    }
}

pub use crate::model::time::isoformat as iso;

fn opt(t: Option<DateTime<Utc>>) -> Option<Iso> {
    t.map(Iso)
}

/// Airflow's `DAG` schema.
#[derive(Debug, Clone, Serialize)]
pub struct DagJson {
    pub dag_id: String,
    pub dag_display_name: String,
    pub is_paused: bool,
    pub is_active: bool,
    pub last_parsed_time: Option<Iso>,
    pub last_pickled: Option<Iso>,
    pub last_expired: Option<Iso>,
    pub scheduler_lock: Option<bool>,
    pub pickle_id: Option<String>,
    pub default_view: Option<&'static str>,
    pub fileloc: String,
    pub owners: Vec<String>,
    pub description: Option<String>,
    pub schedule_interval: Option<Value>,
    pub timetable_description: Option<String>,
    pub tags: Vec<Value>,
    pub max_active_tasks: Option<u32>,
    pub max_active_runs: Option<u32>,
    pub has_task_concurrency_limits: bool,
    pub has_import_errors: bool,
    pub next_dagrun: Option<Iso>,
    pub next_dagrun_data_interval_start: Option<Iso>,
    pub next_dagrun_data_interval_end: Option<Iso>,
    pub next_dagrun_create_after: Option<Iso>,
    pub max_consecutive_failed_dag_runs: u32,
}

impl DagJson {
    /// A DAG as loaded (`dag`) and as recorded (`row`); at least one is
    /// given. A DAG only the database knows is no longer active.
    pub fn new(
        dag_id: &str,
        dag: Option<&Dag>,
        row: Option<&DagRecord>,
        bag: &DagBag,
        next: Option<RunInfo>,
    ) -> DagJson {
        let fileloc = match (dag, row) {
            (Some(dag), _) => dag.fileloc.display().to_string(),
            (None, Some(row)) => row.fileloc.clone(),
            (None, None) => String::new(),
        };
        let is_paused = match (row, dag) {
            (Some(row), _) => row.is_paused,
            (None, Some(dag)) => dag.is_paused_upon_creation,
            (None, None) => false,
        };
        let schedule = dag.and_then(|d| d.timetable.schedule.as_ref());
        let has_import_errors = bag
            .import_errors
            .iter()
            .any(|e| e.file.display().to_string() == fileloc);
        DagJson {
            dag_id: dag_id.to_string(),
            dag_display_name: dag_id.to_string(),
            is_paused,
            is_active: dag.is_some(),
            last_parsed_time: opt(row.and_then(|r| r.last_parsed_at)),
            last_pickled: None,
            last_expired: None,
            scheduler_lock: None,
            pickle_id: None,
            default_view: Some("grid"),
            fileloc,
            owners: Vec::new(),
            description: dag.and_then(|d| d.description.clone()),
            schedule_interval: schedule
                .map(|s| json!({"__type": "CronExpression", "value": s.expr()})),
            timetable_description: dag.map(|_| match schedule {
                Some(s) => s.expr().to_string(),
                None => "Never, external triggers only".to_string(),
            }),
            tags: Vec::new(),
            max_active_tasks: dag.map(|d| d.max_active_tasks),
            max_active_runs: dag.map(|d| d.max_active_runs),
            has_task_concurrency_limits: false,
            has_import_errors,
            next_dagrun: next.map(|n| Iso(n.logical_date)),
            next_dagrun_data_interval_start: next.map(|n| Iso(n.data_interval.start)),
            next_dagrun_data_interval_end: next.map(|n| Iso(n.data_interval.end)),
            next_dagrun_create_after: next.map(|n| Iso(n.run_after)),
            max_consecutive_failed_dag_runs: 0,
        }
    }
}

/// Airflow's `DAGCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct DagCollection {
    pub dags: Vec<DagJson>,
    pub total_entries: usize,
}

/// Airflow's `DAGRun` schema.
#[derive(Debug, Clone, Serialize)]
pub struct DagRunJson {
    pub dag_run_id: String,
    pub dag_id: String,
    pub logical_date: Iso,
    pub execution_date: Iso,
    pub start_date: Option<Iso>,
    pub end_date: Option<Iso>,
    pub data_interval_start: Iso,
    pub data_interval_end: Iso,
    pub last_scheduling_decision: Option<Iso>,
    pub run_type: &'static str,
    pub state: &'static str,
    pub external_trigger: bool,
    pub conf: Value,
    pub note: Option<String>,
}

impl From<&DagRun> for DagRunJson {
    fn from(run: &DagRun) -> Self {
        DagRunJson {
            dag_run_id: run.run_id.to_string(),
            dag_id: run.dag_id.to_string(),
            logical_date: Iso(run.logical_date),
            execution_date: Iso(run.logical_date),
            start_date: opt(run.start_date),
            end_date: opt(run.end_date),
            data_interval_start: Iso(run.data_interval_start),
            data_interval_end: Iso(run.data_interval_end),
            last_scheduling_decision: None,
            run_type: run.run_type.as_str(),
            state: run.state.as_str(),
            external_trigger: run.run_type == RunType::Manual,
            conf: run.conf.clone(),
            note: None,
        }
    }
}

/// Airflow's `DAGRunCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct DagRunCollection {
    pub dag_runs: Vec<DagRunJson>,
    pub total_entries: i64,
}

/// Airflow's `TaskInstance` schema. Fields for Airflow machinery airless
/// does not have (pools, queues, executors, triggers, SLAs) carry Airflow's
/// defaults for a plain task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceJson {
    pub task_id: String,
    pub task_display_name: String,
    pub dag_id: String,
    pub dag_run_id: String,
    pub execution_date: Iso,
    pub start_date: Option<Iso>,
    pub end_date: Option<Iso>,
    pub duration: Option<f64>,
    /// `null` for a task that has not been scheduled yet (Airflow's `none`).
    pub state: Option<&'static str>,
    pub try_number: u32,
    pub map_index: i32,
    /// Airflow counts retries here, not tries: `max_tries` is `retries`.
    pub max_tries: u32,
    pub hostname: String,
    pub unixname: String,
    pub pool: &'static str,
    pub pool_slots: u32,
    pub queue: Option<&'static str>,
    pub priority_weight: Option<i64>,
    pub operator: Option<&'static str>,
    pub queued_when: Option<Iso>,
    pub pid: Option<u32>,
    pub executor: Option<String>,
    pub executor_config: &'static str,
    pub sla_miss: Option<Value>,
    pub rendered_map_index: Option<String>,
    pub rendered_fields: Value,
    pub trigger: Option<Value>,
    pub triggerer_job: Option<Value>,
    pub note: Option<String>,
}

impl TaskInstanceJson {
    pub fn new(ti: &TaskInstance, run: &DagRun, dag: Option<&Dag>) -> Self {
        let operator = dag.and_then(|d| {
            d.task_index(ti.task_id.as_str())
                .map(|i| d.tasks[i].kind.name())
        });
        let duration = match (ti.start_date, ti.end_date) {
            (Some(start), Some(end)) if end >= start => {
                Some((end - start).num_microseconds().unwrap_or(0) as f64 / 1e6)
            }
            _ => None,
        };
        TaskInstanceJson {
            task_id: ti.task_id.to_string(),
            task_display_name: ti.task_id.to_string(),
            dag_id: run.dag_id.to_string(),
            dag_run_id: run.run_id.to_string(),
            execution_date: Iso(run.logical_date),
            start_date: opt(ti.start_date),
            end_date: opt(ti.end_date),
            duration,
            state: task_state(ti.state),
            try_number: ti.try_number,
            map_index: -1,
            max_tries: ti.max_tries.saturating_sub(1),
            hostname: String::new(),
            unixname: String::new(),
            pool: "default_pool",
            pool_slots: 1,
            queue: Some("default"),
            priority_weight: Some(1),
            operator,
            queued_when: None,
            pid: None,
            executor: None,
            executor_config: "{}",
            sla_miss: None,
            rendered_map_index: None,
            rendered_fields: json!({}),
            trigger: None,
            triggerer_job: None,
            note: None,
        }
    }
}

/// Airflow 2.7+ writes a task that has no state yet as `null`.
pub fn task_state(state: TaskState) -> Option<&'static str> {
    match state {
        TaskState::None => None,
        other => Some(other.as_str()),
    }
}

/// Airflow's `TaskInstanceCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceCollection {
    pub task_instances: Vec<TaskInstanceJson>,
    pub total_entries: usize,
}

/// Airflow's `TaskInstanceReference`, what a clear answers.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceReference {
    pub dag_id: String,
    pub dag_run_id: String,
    pub execution_date: Iso,
    pub task_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceReferenceCollection {
    pub task_instances: Vec<TaskInstanceReference>,
}

/// Airflow's `ImportError`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportErrorJson {
    pub import_error_id: usize,
    pub timestamp: Option<Iso>,
    pub filename: String,
    pub stack_trace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportErrorCollection {
    pub import_errors: Vec<ImportErrorJson>,
    pub total_entries: usize,
}

/// Airflow's `DagWarning`.
#[derive(Debug, Clone, Serialize)]
pub struct DagWarningJson {
    pub dag_id: String,
    pub warning_type: &'static str,
    /// Where and what, as `dags validate` prints it: `file:line:col:
    /// warning: message — hint`.
    pub message: String,
    pub timestamp: Iso,
}

#[derive(Debug, Clone, Serialize)]
pub struct DagWarningCollection {
    pub dag_warnings: Vec<DagWarningJson>,
    pub total_entries: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_written_as_python_isoformat_writes_them() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single();
        assert_eq!(whole.map(iso).as_deref(), Some("2024-01-01T00:00:00+00:00"));
        let fractional = whole.map(|t| t + chrono::Duration::nanoseconds(429_904_123));
        assert_eq!(
            fractional.map(iso).as_deref(),
            Some("2024-01-01T00:00:00.429904+00:00")
        );
    }
}
