//! Rows as stored, decoded into our types (ids, states) at the boundary.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};

use crate::model::{DagId, RunId, RunState, TaskId, TaskState};

/// How a DagRun came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunType {
    Manual,
    Scheduled,
    Backfill,
}

impl RunType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Scheduled => "scheduled",
            Self::Backfill => "backfill",
        }
    }

    fn parse(text: &str) -> Result<Self, sqlx::Error> {
        match text {
            "manual" => Ok(Self::Manual),
            "scheduled" => Ok(Self::Scheduled),
            "backfill" => Ok(Self::Backfill),
            other => Err(decode_error("run_type", other)),
        }
    }
}

fn decode_error(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unexpected value `{value}`").into(),
    }
}

fn state<T: std::str::FromStr>(row: &SqliteRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

#[derive(Debug, Clone)]
pub struct DagRow {
    pub dag_id: DagId,
    pub is_paused: bool,
    pub fileloc: String,
    pub last_parsed_at: Option<DateTime<Utc>>,
}

impl FromRow<'_, SqliteRow> for DagRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(DagRow {
            dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
            is_paused: row.try_get("is_paused")?,
            fileloc: row.try_get("fileloc")?,
            last_parsed_at: row.try_get("last_parsed_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DagRunRow {
    pub id: i64,
    pub dag_id: DagId,
    pub run_id: RunId,
    pub run_type: RunType,
    pub state: RunState,
    pub logical_date: DateTime<Utc>,
    pub data_interval_start: DateTime<Utc>,
    pub data_interval_end: DateTime<Utc>,
    pub conf: serde_json::Value,
    pub queued_at: DateTime<Utc>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
}

impl FromRow<'_, SqliteRow> for DagRunRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        let conf: String = row.try_get("conf")?;
        Ok(DagRunRow {
            id: row.try_get("id")?,
            dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
            run_id: RunId::new(row.try_get::<String, _>("run_id")?),
            run_type: RunType::parse(&row.try_get::<String, _>("run_type")?)?,
            state: state(row, "state")?,
            logical_date: row.try_get("logical_date")?,
            data_interval_start: row.try_get("data_interval_start")?,
            data_interval_end: row.try_get("data_interval_end")?,
            conf: serde_json::from_str(&conf).map_err(|_| decode_error("conf", &conf))?,
            queued_at: row.try_get("queued_at")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TaskInstanceRow {
    pub id: i64,
    pub dag_run_id: i64,
    pub task_id: TaskId,
    pub state: TaskState,
    pub try_number: u32,
    pub max_tries: u32,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    /// The current try's log file.
    pub log_path: Option<String>,
}

impl FromRow<'_, SqliteRow> for TaskInstanceRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        let output: Option<String> = row.try_get("output")?;
        Ok(TaskInstanceRow {
            id: row.try_get("id")?,
            dag_run_id: row.try_get("dag_run_id")?,
            task_id: TaskId::new(row.try_get::<String, _>("task_id")?),
            state: state(row, "state")?,
            try_number: row.try_get("try_number")?,
            max_tries: row.try_get("max_tries")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            next_retry_at: row.try_get("next_retry_at")?,
            output: match output {
                Some(text) => {
                    Some(serde_json::from_str(&text).map_err(|_| decode_error("output", &text))?)
                }
                None => None,
            },
            error: row.try_get("error")?,
            external_id: row.try_get("external_id")?,
            external_url: row.try_get("external_url")?,
            log_path: row.try_get("log_path")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TaskTryRow {
    pub try_number: u32,
    pub state: TaskState,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub log_path: String,
    pub error: Option<String>,
}

impl FromRow<'_, SqliteRow> for TaskTryRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(TaskTryRow {
            try_number: row.try_get("try_number")?,
            state: state(row, "state")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            log_path: row.try_get("log_path")?,
            error: row.try_get("error")?,
        })
    }
}
