//! Rows decoded into the model's records (ids, states, counts, leases) at
//! the boundary, once for both stores: SQLite and PostgreSQL hand their
//! rows over through [`Columns`], and the same functions make the same
//! records of them.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, Row};

use super::OutboxAlert;
use crate::model::{
    DagId, DagRecord, DagRun, DagVersion, Lease, Owner, OwnerKind, ProcessGroup, RunId, RunType,
    TaskId, TaskInstance, TaskTry,
};

/// A row's columns by name, as both stores' rows give them.
pub(super) trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A 64-bit integer (ids, pids).
    fn big(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn big_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A 32-bit integer (try numbers, counts, process groups).
    fn int(&self, column: &str) -> Result<i32, sqlx::Error>;
    fn int_opt(&self, column: &str) -> Result<Option<i32>, sqlx::Error>;
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error>;
    fn time_opt(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

/// Implements [`Columns`] for a store's row type by `Row::try_get`.
macro_rules! columns {
    ($row:ty) => {
        impl $crate::store::records::Columns for $row {
            fn text(&self, c: &str) -> Result<String, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn text_opt(&self, c: &str) -> Result<Option<String>, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn big(&self, c: &str) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn big_opt(&self, c: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn int(&self, c: &str) -> Result<i32, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn int_opt(&self, c: &str) -> Result<Option<i32>, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn flag(&self, c: &str) -> Result<bool, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn time(&self, c: &str) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
            fn time_opt(
                &self,
                c: &str,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, sqlx::Error> {
                sqlx::Row::try_get(self, c)
            }
        }
    };
}
pub(super) use columns;

pub(super) fn decode_error(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unexpected value `{value}`").into(),
    }
}

/// A text column holding one of a closed set of names (a state).
pub(super) fn parsed<T: std::str::FromStr>(
    row: &impl Columns,
    column: &str,
) -> Result<T, sqlx::Error> {
    let text = row.text(column)?;
    text.parse().map_err(|_| decode_error(column, &text))
}

/// An integer column holding a count that is never negative.
pub(super) fn unsigned(row: &impl Columns, column: &str) -> Result<u32, sqlx::Error> {
    let value = row.int(column)?;
    u32::try_from(value).map_err(|_| decode_error(column, &value.to_string()))
}

pub(super) fn unsigned_opt(row: &impl Columns, column: &str) -> Result<Option<u32>, sqlx::Error> {
    row.int_opt(column)?
        .map(|v| u32::try_from(v).map_err(|_| decode_error(column, &v.to_string())))
        .transpose()
}

/// A JSON value stored as text.
fn json(column: &str, text: String) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::from_str(&text).map_err(|_| decode_error(column, &text))
}

/// A record decoded from a row of either store (`query_as::<_, Rec<T>>`).
pub(super) struct Rec<T>(pub T);

/// Implements `FromRow` for `Rec<$record>` with the decoder `$decode`,
/// for any row that has [`Columns`].
macro_rules! from_row {
    ($record:ty, $decode:path) => {
        impl<'r, R: Row + Columns> FromRow<'r, R> for Rec<$record> {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                $decode(row).map(Rec)
            }
        }
    };
}

from_row!(DagRecord, dag_record);
from_row!(DagVersion, dag_version);
from_row!(DagRun, dag_run);
from_row!(TaskInstance, task_instance);
from_row!(TaskTry, task_try);
from_row!(Owner, owner);

pub(super) fn dag_record(row: &impl Columns) -> Result<DagRecord, sqlx::Error> {
    Ok(DagRecord {
        dag_id: DagId::new(row.text("dag_id")?),
        is_paused: row.flag("is_paused")?,
        fileloc: row.text("fileloc")?,
        last_parsed_at: row.time_opt("last_parsed_at")?,
        latest_version: row.big_opt("latest_version")?,
    })
}

pub(super) fn dag_version(row: &impl Columns) -> Result<DagVersion, sqlx::Error> {
    Ok(DagVersion {
        id: row.big("id")?,
        dag_id: DagId::new(row.text("dag_id")?),
        version_number: unsigned(row, "version_number")?,
        hash: row.text("hash")?,
        source: row.text("source")?,
        fileloc: row.text("fileloc")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn dag_run(row: &impl Columns) -> Result<DagRun, sqlx::Error> {
    let run_type = row.text("run_type")?;
    Ok(DagRun {
        id: row.big("id")?,
        dag_id: DagId::new(row.text("dag_id")?),
        run_id: RunId::new(row.text("run_id")?),
        run_type: RunType::parse(&run_type).ok_or_else(|| decode_error("run_type", &run_type))?,
        state: parsed(row, "state")?,
        logical_date: row.time("logical_date")?,
        data_interval_start: row.time("data_interval_start")?,
        data_interval_end: row.time("data_interval_end")?,
        conf: json("conf", row.text("conf")?)?,
        queued_at: row.time("queued_at")?,
        start_date: row.time_opt("start_date")?,
        end_date: row.time_opt("end_date")?,
        dag_version: row.big_opt("dag_version")?,
        lease: match (
            row.text_opt("lease_owner")?,
            row.time_opt("lease_expires_at")?,
        ) {
            (Some(owner), Some(expires_at)) => Some(Lease { owner, expires_at }),
            _ => None,
        },
    })
}

pub(super) fn task_instance(row: &impl Columns) -> Result<TaskInstance, sqlx::Error> {
    Ok(TaskInstance {
        id: row.big("id")?,
        dag_run_id: row.big("dag_run_id")?,
        task_id: TaskId::new(row.text("task_id")?),
        state: parsed(row, "state")?,
        try_number: unsigned(row, "try_number")?,
        max_tries: unsigned(row, "max_tries")?,
        start_date: row.time_opt("start_date")?,
        end_date: row.time_opt("end_date")?,
        next_retry_at: row.time_opt("next_retry_at")?,
        output: row
            .text_opt("output")?
            .map(|text| json("output", text))
            .transpose()?,
        error: row.text_opt("error")?,
        external_id: row.text_opt("external_id")?,
        external_url: row.text_opt("external_url")?,
        log_path: row.text_opt("log_path")?,
        process_group: match (
            row.int_opt("pgid")?,
            row.text_opt("pg_owner")?,
            row.text_opt("pg_boot_id")?,
        ) {
            (Some(pgid), Some(owner), Some(boot_id)) => Some(ProcessGroup {
                pgid,
                owner,
                boot_id,
            }),
            _ => None,
        },
    })
}

pub(super) fn task_try(row: &impl Columns) -> Result<TaskTry, sqlx::Error> {
    Ok(TaskTry {
        try_number: unsigned(row, "try_number")?,
        state: parsed(row, "state")?,
        start_date: row.time("start_date")?,
        end_date: row.time_opt("end_date")?,
        log_path: row.text("log_path")?,
        error: row.text_opt("error")?,
    })
}

pub(super) fn owner(row: &impl Columns) -> Result<Owner, sqlx::Error> {
    let kind = row.text("kind")?;
    let pid = row.big("pid")?;
    Ok(Owner {
        id: row.text("id")?,
        kind: OwnerKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
        host: row.text("host")?,
        pid: u32::try_from(pid).map_err(|_| decode_error("pid", &pid.to_string()))?,
        // the same 64 bits in and out, whatever the column's sign
        pid_start: row.big("pid_start")? as u64,
        boot_id: row.text("boot_id")?,
        started_at: row.time("started_at")?,
        heartbeat_at: row.time("heartbeat_at")?,
        stopped_at: row.time_opt("stopped_at")?,
    })
}

/// An alert of the outbox with what its message needs.
pub(super) fn outbox_alert(row: &impl Columns) -> Result<OutboxAlert, sqlx::Error> {
    Ok(OutboxAlert {
        id: row.big("id")?,
        channel: row.text("channel")?,
        event: row.text("event")?,
        dag_id: row.text("dag_id")?,
        run_id: row.text_opt("run_id")?,
        logical_date: row.time_opt("logical_date")?,
        task_id: row.text_opt("task_id")?,
        try_number: unsigned_opt(row, "try_number")?,
        state: row.text_opt("state")?,
        error: row.text_opt("error")?,
        log_path: row.text_opt("log_path")?,
        external_url: row.text_opt("external_url")?,
        created_at: row.time("created_at")?,
        status: row.text("status")?,
        attempts: unsigned(row, "attempts")?,
        next_attempt_at: row.time("next_attempt_at")?,
        last_error: row.text_opt("last_error")?,
        delivered_at: row.time_opt("delivered_at")?,
    })
}
