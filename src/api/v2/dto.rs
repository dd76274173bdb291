//! Airflow 3's response shapes (`DAGResponse`, `DAGRunResponse`,
//! `TaskInstanceResponse`, `TaskInstanceHistoryResponse`, …) built from our
//! rows, with every field the official client requires. Instants are
//! written as pydantic writes them: `2024-01-01T00:00:00Z`, microseconds
//! only when there are some.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::api::dto::{DagJson, task_state};
use crate::dag::Dag;
use crate::model::{DagRun, TaskInstance, TaskTry};

/// An instant as pydantic serializes an aware UTC datetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant(pub DateTime<Utc>);

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&pydantic(self.0))
    }
}

/// `2024-01-01T00:00:00Z`, or `…00.123456Z` with microseconds.
pub fn pydantic(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

fn opt(t: Option<DateTime<Utc>>) -> Option<Instant> {
    t.map(Instant)
}

fn seconds(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<f64> {
    match (start, end) {
        (Some(start), Some(end)) if end >= start => {
            Some((end - start).num_microseconds().unwrap_or(0) as f64 / 1e6)
        }
        _ => None,
    }
}

/// Airflow 3's `DAGResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct DagResponse {
    pub dag_id: String,
    pub dag_display_name: String,
    pub is_paused: bool,
    pub is_stale: bool,
    pub last_parsed_time: Option<String>,
    pub last_parse_duration: Option<f64>,
    pub last_expired: Option<String>,
    pub bundle_name: Option<String>,
    pub bundle_version: Option<String>,
    pub relative_fileloc: Option<String>,
    pub fileloc: String,
    pub description: Option<String>,
    pub timetable_summary: Option<String>,
    pub timetable_description: Option<String>,
    pub timetable_periodic: bool,
    pub timetable_partitioned: bool,
    pub tags: Vec<Value>,
    pub max_active_tasks: u32,
    pub max_active_runs: Option<u32>,
    pub max_consecutive_failed_dag_runs: u32,
    pub has_task_concurrency_limits: bool,
    pub has_import_errors: bool,
    pub is_backfillable: bool,
    pub allowed_run_types: Option<Vec<&'static str>>,
    pub next_dagrun_logical_date: Option<String>,
    pub next_dagrun_data_interval_start: Option<String>,
    pub next_dagrun_data_interval_end: Option<String>,
    pub next_dagrun_run_after: Option<String>,
    pub owners: Vec<String>,
    pub file_token: String,
}

impl DagResponse {
    /// The v1 DAG, renamed and completed as Airflow 3 has it.
    pub fn new(v1: DagJson, dag: Option<&Dag>) -> DagResponse {
        let instant = |iso: Option<crate::api::dto::Iso>| iso.map(|t| pydantic(t.0));
        let scheduled = dag.is_some_and(|d| d.timetable.schedule.is_some());
        let file_token = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &v1.fileloc,
        );
        let relative_fileloc = std::path::Path::new(&v1.fileloc)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        DagResponse {
            dag_display_name: v1.dag_display_name,
            is_paused: v1.is_paused,
            is_stale: !v1.is_active,
            last_parsed_time: instant(v1.last_parsed_time),
            last_parse_duration: None,
            last_expired: None,
            bundle_name: Some("dags-folder".to_string()),
            bundle_version: None,
            relative_fileloc,
            description: v1.description,
            timetable_summary: v1
                .schedule_interval
                .as_ref()
                .and_then(|s| s.get("value"))
                .and_then(Value::as_str)
                .map(str::to_string),
            timetable_description: v1.timetable_description,
            timetable_periodic: scheduled,
            timetable_partitioned: false,
            tags: Vec::new(),
            max_active_tasks: v1.max_active_tasks.unwrap_or(16),
            max_active_runs: v1.max_active_runs,
            max_consecutive_failed_dag_runs: v1.max_consecutive_failed_dag_runs,
            has_task_concurrency_limits: v1.has_task_concurrency_limits,
            has_import_errors: v1.has_import_errors,
            is_backfillable: scheduled,
            allowed_run_types: None,
            next_dagrun_logical_date: instant(v1.next_dagrun),
            next_dagrun_data_interval_start: instant(v1.next_dagrun_data_interval_start),
            next_dagrun_data_interval_end: instant(v1.next_dagrun_data_interval_end),
            next_dagrun_run_after: instant(v1.next_dagrun_create_after),
            owners: vec!["airflow".to_string()],
            file_token,
            fileloc: v1.fileloc,
            dag_id: v1.dag_id,
        }
    }
}

/// Airflow 3's `DAGCollectionResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct DagCollection {
    pub dags: Vec<DagResponse>,
    pub total_entries: usize,
}

/// Airflow 3's `DAGRunResponse`. airless runs always have a logical date.
#[derive(Debug, Clone, Serialize)]
pub struct DagRunResponse {
    pub dag_run_id: String,
    pub dag_id: String,
    pub dag_display_name: String,
    pub logical_date: Option<Instant>,
    pub queued_at: Option<Instant>,
    pub start_date: Option<Instant>,
    pub end_date: Option<Instant>,
    pub duration: Option<f64>,
    pub data_interval_start: Option<Instant>,
    pub data_interval_end: Option<Instant>,
    pub run_after: Instant,
    pub last_scheduling_decision: Option<Instant>,
    pub run_type: &'static str,
    pub state: &'static str,
    pub triggered_by: Option<&'static str>,
    pub triggering_user_name: Option<String>,
    pub conf: Value,
    pub note: Option<String>,
    pub dag_versions: Vec<Value>,
    pub bundle_version: Option<String>,
    pub partition_key: Option<String>,
}

impl From<&DagRun> for DagRunResponse {
    fn from(run: &DagRun) -> Self {
        use crate::model::RunType;
        let triggered_by = match run.run_type {
            RunType::Scheduled => "timetable",
            RunType::Backfill => "backfill",
            RunType::Manual => "rest_api",
        };
        DagRunResponse {
            dag_run_id: run.run_id.to_string(),
            dag_id: run.dag_id.to_string(),
            dag_display_name: run.dag_id.to_string(),
            logical_date: Some(Instant(run.logical_date)),
            queued_at: Some(Instant(run.queued_at)),
            start_date: opt(run.start_date),
            end_date: opt(run.end_date),
            duration: seconds(run.start_date, run.end_date),
            data_interval_start: Some(Instant(run.data_interval_start)),
            data_interval_end: Some(Instant(run.data_interval_end)),
            // a manual run may start at once; a scheduled one after its interval
            run_after: Instant(match run.run_type {
                RunType::Scheduled => run.data_interval_end,
                _ => run.queued_at,
            }),
            last_scheduling_decision: None,
            run_type: run.run_type.as_str(),
            state: run.state.as_str(),
            triggered_by: Some(triggered_by),
            triggering_user_name: None,
            conf: run.conf.clone(),
            note: None,
            dag_versions: Vec::new(),
            bundle_version: None,
            partition_key: None,
        }
    }
}

/// Airflow 3's `DAGRunCollectionResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct DagRunCollection {
    pub dag_runs: Vec<DagRunResponse>,
    pub total_entries: i64,
}

/// A stable UUID for a task instance (Airflow 3 keys them by UUID; ours
/// are row ids): version-8 layout, the row id in the last 12 hex digits.
pub fn ti_uuid(id: i64) -> String {
    format!("00000000-0000-8000-8000-{:012x}", id.max(0))
}

/// Airflow 3's `TaskInstanceResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceResponse {
    pub id: String,
    pub task_id: String,
    pub dag_id: String,
    pub dag_run_id: String,
    pub map_index: i32,
    pub logical_date: Option<Instant>,
    pub run_after: Instant,
    pub start_date: Option<Instant>,
    pub end_date: Option<Instant>,
    pub duration: Option<f64>,
    pub state: Option<&'static str>,
    pub try_number: u32,
    pub max_tries: u32,
    pub task_display_name: String,
    pub dag_display_name: String,
    pub hostname: Option<String>,
    pub unixname: Option<String>,
    pub pool: &'static str,
    pub pool_slots: u32,
    pub queue: Option<&'static str>,
    pub priority_weight: Option<i64>,
    pub operator: Option<&'static str>,
    pub operator_name: Option<&'static str>,
    pub queued_when: Option<Instant>,
    pub scheduled_when: Option<Instant>,
    pub pid: Option<u32>,
    pub executor: Option<String>,
    pub executor_config: &'static str,
    pub note: Option<String>,
    pub rendered_map_index: Option<String>,
    pub rendered_fields: Value,
    pub trigger: Option<Value>,
    pub triggerer_job: Option<Value>,
    pub dag_version: Option<Value>,
}

fn operator(dag: Option<&Dag>, task_id: &str) -> Option<&'static str> {
    dag.and_then(|d| d.task_index(task_id).map(|i| d.tasks[i].kind.name()))
}

impl TaskInstanceResponse {
    pub fn new(ti: &TaskInstance, run: &DagRun, dag: Option<&Dag>) -> Self {
        let operator = operator(dag, ti.task_id.as_str());
        let run_v2 = DagRunResponse::from(run);
        TaskInstanceResponse {
            id: ti_uuid(ti.id),
            task_id: ti.task_id.to_string(),
            dag_id: run.dag_id.to_string(),
            dag_run_id: run.run_id.to_string(),
            map_index: -1,
            logical_date: Some(Instant(run.logical_date)),
            run_after: run_v2.run_after,
            start_date: opt(ti.start_date),
            end_date: opt(ti.end_date),
            duration: seconds(ti.start_date, ti.end_date),
            state: task_state(ti.state),
            try_number: ti.try_number,
            // Airflow counts retries here, not tries
            max_tries: ti.max_tries.saturating_sub(1),
            task_display_name: ti.task_id.to_string(),
            dag_display_name: run.dag_id.to_string(),
            hostname: None,
            unixname: None,
            pool: "default_pool",
            pool_slots: 1,
            queue: Some("default"),
            priority_weight: Some(1),
            operator,
            operator_name: operator,
            queued_when: None,
            scheduled_when: None,
            pid: None,
            executor: None,
            executor_config: "{}",
            note: None,
            rendered_map_index: None,
            rendered_fields: serde_json::json!({}),
            trigger: None,
            triggerer_job: None,
            dag_version: None,
        }
    }
}

/// Airflow 3's `TaskInstanceCollectionResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceCollection {
    pub task_instances: Vec<TaskInstanceResponse>,
    pub total_entries: usize,
}

/// Airflow 3's `TaskInstanceHistoryResponse`: one try.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceHistoryResponse {
    pub task_id: String,
    pub dag_id: String,
    pub dag_run_id: String,
    pub map_index: i32,
    pub start_date: Option<Instant>,
    pub end_date: Option<Instant>,
    pub duration: Option<f64>,
    pub state: Option<&'static str>,
    pub try_number: u32,
    pub max_tries: u32,
    pub task_display_name: String,
    pub dag_display_name: String,
    pub hostname: Option<String>,
    pub unixname: Option<String>,
    pub pool: &'static str,
    pub pool_slots: u32,
    pub queue: Option<&'static str>,
    pub priority_weight: Option<i64>,
    pub operator: Option<&'static str>,
    pub operator_name: Option<&'static str>,
    pub queued_when: Option<Instant>,
    pub scheduled_when: Option<Instant>,
    pub pid: Option<u32>,
    pub executor: Option<String>,
    pub executor_config: &'static str,
    pub dag_version: Option<Value>,
}

impl TaskInstanceHistoryResponse {
    pub fn new(ti: &TaskInstance, attempt: &TaskTry, run: &DagRun, dag: Option<&Dag>) -> Self {
        let operator = operator(dag, ti.task_id.as_str());
        TaskInstanceHistoryResponse {
            task_id: ti.task_id.to_string(),
            dag_id: run.dag_id.to_string(),
            dag_run_id: run.run_id.to_string(),
            map_index: -1,
            start_date: Some(Instant(attempt.start_date)),
            end_date: opt(attempt.end_date),
            duration: seconds(Some(attempt.start_date), attempt.end_date),
            state: task_state(attempt.state),
            try_number: attempt.try_number,
            max_tries: ti.max_tries.saturating_sub(1),
            task_display_name: ti.task_id.to_string(),
            dag_display_name: run.dag_id.to_string(),
            hostname: None,
            unixname: None,
            pool: "default_pool",
            pool_slots: 1,
            queue: Some("default"),
            priority_weight: Some(1),
            operator,
            operator_name: operator,
            queued_when: None,
            scheduled_when: None,
            pid: None,
            executor: None,
            executor_config: "{}",
            dag_version: None,
        }
    }
}

/// Airflow 3's `TaskInstanceHistoryCollectionResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInstanceHistoryCollection {
    pub task_instances: Vec<TaskInstanceHistoryResponse>,
    pub total_entries: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_are_written_as_pydantic_writes_them() {
        let whole = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(pydantic(whole), "2024-01-01T00:00:00Z");
        let fractional = whole + chrono::Duration::nanoseconds(429_904_123);
        assert_eq!(pydantic(fractional), "2024-01-01T00:00:00.429904Z");
        assert_eq!(ti_uuid(255), "00000000-0000-8000-8000-0000000000ff");
    }
}
