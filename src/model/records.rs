//! The records of the state store, as every layer sees them: a DAG's row,
//! its versions, DagRuns, TaskInstances, tries and the owners that drive
//! runs. Plain data; the store decodes its rows into these at its boundary.

use chrono::{DateTime, Utc};

use super::{DagId, RunId, RunState, TaskId, TaskState};

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

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "manual" => Some(Self::Manual),
            "scheduled" => Some(Self::Scheduled),
            "backfill" => Some(Self::Backfill),
            _ => None,
        }
    }
}

/// A DAG the store knows: whether it is paused, where it was loaded from,
/// and its latest good version.
#[derive(Debug, Clone)]
pub struct DagRecord {
    pub dag_id: DagId,
    pub is_paused: bool,
    pub fileloc: String,
    pub last_parsed_at: Option<DateTime<Utc>>,
    /// The id of the newest version that loaded without errors.
    pub latest_version: Option<i64>,
}

/// One successfully loaded text of a DAG file (Airflow 3's DagVersion): runs
/// record the version they started on and finish on it.
#[derive(Debug, Clone)]
pub struct DagVersion {
    pub id: i64,
    pub dag_id: DagId,
    /// 1, 2, … per DAG.
    pub version_number: u32,
    /// SHA-256 of `source`, hex.
    pub hash: String,
    pub source: String,
    pub fileloc: String,
    pub created_at: DateTime<Utc>,
}

/// A process that drives runs (`serve` or `dags test`), identified well
/// enough to tell, on the same host and boot, whether it is still alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub kind: OwnerKind,
    pub host: String,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat`
    /// field 22): a reused pid has another one.
    pub pid_start: u64,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Set when the owner stopped cleanly.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What kind of process an owner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    /// `airless serve`: schedules, adopts and drives every run.
    Serve,
    /// `airless dags test`: drives the one run it created.
    DagsTest,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::DagsTest => "dags_test",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "serve" => Some(Self::Serve),
            "dags_test" => Some(Self::DagsTest),
            _ => None,
        }
    }
}

/// Who drives a run, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct DagRun {
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
    /// The DAG version the run started on (and finishes on).
    pub dag_version: Option<i64>,
    /// The owner driving the run, if any holds it.
    pub lease: Option<Lease>,
}

/// Where a try's process group lives, so an adopter can kill an orphan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessGroup {
    pub pgid: i32,
    /// The owner that started it, and the boot it ran on.
    pub owner: String,
    pub boot_id: String,
}

#[derive(Debug, Clone)]
pub struct TaskInstance {
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
    /// The current try's process group (shell tries).
    pub process_group: Option<ProcessGroup>,
}

#[derive(Debug, Clone)]
pub struct TaskTry {
    pub try_number: u32,
    pub state: TaskState,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub log_path: String,
    pub error: Option<String>,
}
