//! Rows as PostgreSQL stores them, decoded into the model's records (ids,
//! states, unsigned counts) at the boundary.

use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use crate::model::{
    DagId, DagRecord, DagRun, DagVersion, Lease, Owner, OwnerKind, ProcessGroup, RunId, RunType,
    TaskId, TaskInstance, TaskTry,
};

pub(super) fn decode_error(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unexpected value `{value}`").into(),
    }
}

pub(super) fn parsed<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

/// An `INTEGER` column holding a count that is never negative.
pub(super) fn unsigned(row: &PgRow, column: &str) -> Result<u32, sqlx::Error> {
    let value: i32 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| decode_error(column, &value.to_string()))
}

fn unsigned_opt(row: &PgRow, column: &str) -> Result<Option<u32>, sqlx::Error> {
    let value: Option<i32> = row.try_get(column)?;
    value
        .map(|v| u32::try_from(v).map_err(|_| decode_error(column, &v.to_string())))
        .transpose()
}

/// A `BIGINT` count (`COUNT(*)`) as the store's readers take it.
pub(super) fn count_u32(value: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(value).map_err(|_| decode_error("count", &value.to_string()))
}

pub(super) struct Rec<T>(pub T);

impl FromRow<'_, PgRow> for Rec<DagRecord> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Rec(DagRecord {
            dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
            is_paused: row.try_get("is_paused")?,
            fileloc: row.try_get("fileloc")?,
            last_parsed_at: row.try_get("last_parsed_at")?,
            latest_version: row.try_get("latest_version")?,
        }))
    }
}

impl FromRow<'_, PgRow> for Rec<DagVersion> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Rec(DagVersion {
            id: row.try_get("id")?,
            dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
            version_number: unsigned(row, "version_number")?,
            hash: row.try_get("hash")?,
            source: row.try_get("source")?,
            fileloc: row.try_get("fileloc")?,
            created_at: row.try_get("created_at")?,
        }))
    }
}

impl FromRow<'_, PgRow> for Rec<DagRun> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let conf: String = row.try_get("conf")?;
        let run_type: String = row.try_get("run_type")?;
        let lease_owner: Option<String> = row.try_get("lease_owner")?;
        let lease_expires_at = row.try_get("lease_expires_at")?;
        Ok(Rec(DagRun {
            id: row.try_get("id")?,
            dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
            run_id: RunId::new(row.try_get::<String, _>("run_id")?),
            run_type: RunType::parse(&run_type)
                .ok_or_else(|| decode_error("run_type", &run_type))?,
            state: parsed(row, "state")?,
            logical_date: row.try_get("logical_date")?,
            data_interval_start: row.try_get("data_interval_start")?,
            data_interval_end: row.try_get("data_interval_end")?,
            conf: serde_json::from_str(&conf).map_err(|_| decode_error("conf", &conf))?,
            queued_at: row.try_get("queued_at")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            dag_version: row.try_get("dag_version")?,
            lease: match (lease_owner, lease_expires_at) {
                (Some(owner), Some(expires_at)) => Some(Lease { owner, expires_at }),
                _ => None,
            },
        }))
    }
}

impl FromRow<'_, PgRow> for Rec<TaskInstance> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let output: Option<String> = row.try_get("output")?;
        let pgid: Option<i32> = row.try_get("pgid")?;
        let pg_owner: Option<String> = row.try_get("pg_owner")?;
        let pg_boot_id: Option<String> = row.try_get("pg_boot_id")?;
        Ok(Rec(TaskInstance {
            id: row.try_get("id")?,
            dag_run_id: row.try_get("dag_run_id")?,
            task_id: TaskId::new(row.try_get::<String, _>("task_id")?),
            state: parsed(row, "state")?,
            try_number: unsigned(row, "try_number")?,
            max_tries: unsigned(row, "max_tries")?,
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
            process_group: match (pgid, pg_owner, pg_boot_id) {
                (Some(pgid), Some(owner), Some(boot_id)) => Some(ProcessGroup {
                    pgid,
                    owner,
                    boot_id,
                }),
                _ => None,
            },
        }))
    }
}

impl FromRow<'_, PgRow> for Rec<TaskTry> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Rec(TaskTry {
            try_number: unsigned(row, "try_number")?,
            state: parsed(row, "state")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            log_path: row.try_get("log_path")?,
            error: row.try_get("error")?,
        }))
    }
}

impl FromRow<'_, PgRow> for Rec<Owner> {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let kind: String = row.try_get("kind")?;
        let pid: i64 = row.try_get("pid")?;
        let pid_start: i64 = row.try_get("pid_start")?;
        Ok(Rec(Owner {
            id: row.try_get("id")?,
            kind: OwnerKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
            host: row.try_get("host")?,
            pid: u32::try_from(pid).map_err(|_| decode_error("pid", &pid.to_string()))?,
            // stored as SQLite does: the same 64 bits, read back unchanged
            pid_start: pid_start as u64,
            boot_id: row.try_get("boot_id")?,
            started_at: row.try_get("started_at")?,
            heartbeat_at: row.try_get("heartbeat_at")?,
            stopped_at: row.try_get("stopped_at")?,
        }))
    }
}

/// The outbox's optional try number, as the readers take it.
pub(super) fn try_number_opt(row: &PgRow) -> Result<Option<u32>, sqlx::Error> {
    unsigned_opt(row, "try_number")
}
