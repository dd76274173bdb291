//! The JSON shapes of Airflow's stable REST API v1 (DAG, DAGRun,
//! TaskInstance, ImportError), with Airflow's field names and enums, built
//! from our rows. Instants are written as Python's `isoformat()` writes them:
//! `2024-01-01T00:00:00+00:00`, microseconds only when there are some.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use crate::dag::{Dag, DagBag, RunInfo};
use crate::model::TaskState;
use crate::model::{DagRecord, DagRun, RunType, TaskInstance, TaskTry};

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

/// Airflow's `TimeDelta`: `{"__type": "TimeDelta", "days", "seconds",
/// "microseconds"}`, as Python's `timedelta` splits it.
pub fn time_delta(duration: std::time::Duration) -> Value {
    let secs = duration.as_secs();
    json!({
        "__type": "TimeDelta",
        "days": secs / 86_400,
        "seconds": secs % 86_400,
        "microseconds": duration.subsec_micros(),
    })
}

/// Airflow's `DAGDetail`: the `DAG` fields and what the loaded file says.
#[derive(Debug, Clone, Serialize)]
pub struct DagDetailJson {
    #[serde(flatten)]
    pub dag: DagJson,
    /// `str()` of the DAG's pendulum zone: `Timezone('UTC')`.
    pub timezone: String,
    pub catchup: bool,
    pub orientation: &'static str,
    pub concurrency: u32,
    pub dataset_expression: Option<Value>,
    pub start_date: Option<Iso>,
    pub dag_run_timeout: Option<Value>,
    pub doc_md: Option<String>,
    /// Each param as Airflow's `Param.dump()` writes it.
    pub params: Value,
    pub is_paused_upon_creation: bool,
    pub end_date: Option<Iso>,
    pub template_searchpath: Option<Vec<String>>,
    pub render_template_as_native_obj: bool,
    pub last_parsed: Option<Iso>,
}

impl DagDetailJson {
    pub fn new(dag: &Dag, base: DagJson, last_parsed: Option<DateTime<Utc>>) -> Self {
        let params: serde_json::Map<String, Value> = dag
            .params
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    json!({
                        "__class": "airflow.models.param.Param",
                        "value": value,
                        "description": null,
                        "schema": {},
                    }),
                )
            })
            .collect();
        DagDetailJson {
            dag: base,
            timezone: format!("Timezone('{}')", dag.timetable.timezone.name()),
            catchup: dag.timetable.catchup,
            orientation: "LR",
            concurrency: dag.max_active_tasks,
            dataset_expression: None,
            start_date: opt(dag.timetable.start_date),
            dag_run_timeout: None,
            doc_md: None,
            params: Value::Object(params),
            is_paused_upon_creation: dag.is_paused_upon_creation,
            end_date: opt(dag.timetable.end_date),
            template_searchpath: None,
            render_template_as_native_obj: false,
            last_parsed: opt(last_parsed),
        }
    }
}

/// Airflow's `ClassReference`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReference {
    pub class_name: &'static str,
    pub module_path: String,
}

/// Airflow's `Task`: a task as the DAG file defines it. The operator is the
/// airless kind (`shell`, `databricks`, …); Airflow machinery airless does
/// not have carries Airflow's defaults.
#[derive(Debug, Clone, Serialize)]
pub struct TaskJson {
    pub class_ref: ClassReference,
    pub operator_name: &'static str,
    pub task_id: String,
    pub task_display_name: String,
    pub owner: &'static str,
    pub start_date: Option<Iso>,
    pub end_date: Option<Iso>,
    pub trigger_rule: &'static str,
    pub extra_links: Vec<Value>,
    pub depends_on_past: bool,
    pub wait_for_downstream: bool,
    pub retries: u32,
    pub queue: &'static str,
    pub pool: &'static str,
    pub pool_slots: u32,
    pub execution_timeout: Option<Value>,
    pub retry_delay: Value,
    pub retry_exponential_backoff: bool,
    pub priority_weight: u32,
    pub weight_rule: &'static str,
    pub ui_color: &'static str,
    pub ui_fgcolor: &'static str,
    pub template_fields: Vec<String>,
    /// Sorted, as Airflow's set prints in its serialized DAG.
    pub downstream_task_ids: Vec<String>,
    pub params: Value,
    pub is_mapped: bool,
    pub doc_md: Option<String>,
}

impl TaskJson {
    /// Task `index` of `dag`.
    pub fn new(dag: &Dag, index: usize) -> Option<Self> {
        let task = dag.tasks.get(index)?;
        let name = task.kind.name();
        let mut downstream: Vec<String> = dag
            .graph
            .downstream(index)
            .filter_map(|i| dag.tasks.get(i).map(|t| t.task_id.to_string()))
            .collect();
        downstream.sort();
        Some(TaskJson {
            class_ref: ClassReference {
                class_name: name,
                module_path: format!("airless.kinds.{name}"),
            },
            operator_name: name,
            task_id: task.task_id.to_string(),
            task_display_name: task.task_id.to_string(),
            owner: "airflow",
            start_date: opt(dag.timetable.start_date),
            end_date: opt(dag.timetable.end_date),
            trigger_rule: task.trigger_rule.as_str(),
            extra_links: Vec::new(),
            depends_on_past: false,
            wait_for_downstream: false,
            retries: task.retry.retries,
            queue: "default",
            pool: "default_pool",
            pool_slots: 1,
            execution_timeout: task.execution_timeout.map(time_delta),
            retry_delay: time_delta(task.retry.retry_delay),
            retry_exponential_backoff: task.retry.exponential_backoff,
            priority_weight: 1,
            weight_rule: "downstream",
            ui_color: "#fff",
            ui_fgcolor: "#000",
            template_fields: Vec::new(),
            downstream_task_ids: downstream,
            params: json!({}),
            is_mapped: false,
            doc_md: None,
        })
    }
}

/// Airflow's `TaskCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskCollection {
    pub tasks: Vec<TaskJson>,
    pub total_entries: usize,
}

/// Airflow's `XComCollectionItem`, and with `value` its `XCom`. A task's
/// output is its one XCom, key `return_value`, pushed when it ended.
#[derive(Debug, Clone, Serialize)]
pub struct XComJson {
    pub key: &'static str,
    pub timestamp: Option<Iso>,
    pub execution_date: Iso,
    pub map_index: i32,
    pub task_id: String,
    pub dag_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// Airflow's `XComCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct XComCollection {
    pub xcom_entries: Vec<XComJson>,
    pub total_entries: usize,
}

/// Airflow's `TaskInstanceHistory`: one try of a task instance.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceHistoryJson {
    pub task_id: String,
    pub task_display_name: String,
    pub dag_id: String,
    pub dag_run_id: String,
    pub map_index: i32,
    pub start_date: Option<Iso>,
    pub end_date: Option<Iso>,
    pub duration: Option<f64>,
    pub state: Option<&'static str>,
    pub try_number: u32,
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
}

impl TaskInstanceHistoryJson {
    /// The task instance as it is now (Airflow's current row).
    pub fn current(ti: &TaskInstance, run: &DagRun, dag: Option<&Dag>) -> Self {
        let now = TaskInstanceJson::new(ti, run, dag);
        TaskInstanceHistoryJson {
            task_id: now.task_id,
            task_display_name: now.task_display_name,
            dag_id: now.dag_id,
            dag_run_id: now.dag_run_id,
            map_index: now.map_index,
            start_date: now.start_date,
            end_date: now.end_date,
            duration: now.duration,
            state: now.state,
            try_number: now.try_number,
            max_tries: now.max_tries,
            hostname: now.hostname,
            unixname: now.unixname,
            pool: now.pool,
            pool_slots: now.pool_slots,
            queue: now.queue,
            priority_weight: now.priority_weight,
            operator: now.operator,
            queued_when: now.queued_when,
            pid: now.pid,
            executor: now.executor,
            executor_config: now.executor_config,
        }
    }

    /// One recorded try of `ti`.
    pub fn of_try(ti: &TaskInstance, attempt: &TaskTry, run: &DagRun, dag: Option<&Dag>) -> Self {
        let mut json = Self::current(ti, run, dag);
        json.start_date = Some(Iso(attempt.start_date));
        json.end_date = opt(attempt.end_date);
        json.duration = attempt
            .end_date
            .filter(|end| *end >= attempt.start_date)
            .map(|end| (end - attempt.start_date).num_microseconds().unwrap_or(0) as f64 / 1e6);
        json.state = task_state(attempt.state);
        json.try_number = attempt.try_number;
        json
    }
}

/// Airflow's `TaskInstanceHistoryCollection`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceHistoryCollection {
    pub task_instances: Vec<TaskInstanceHistoryJson>,
    pub total_entries: usize,
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
