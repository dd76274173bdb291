//! The durable state of DAGs, DagRuns, TaskInstances and tries, in SQLite
//! through sqlx. The only module with SQL. Every state change is a
//! compare-and-swap (`… WHERE id = ? AND state = ?`): a change that finds
//! another state returns [`StoreError::Conflict`] and changes nothing.

pub mod api_queries;
mod rows;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::model::{DagId, RunId, RunState, TaskId, TaskState};

pub use rows::{DagRow, DagRunRow, RunType, TaskInstanceRow, TaskTryRow};

/// What can go wrong with the state store, in our terms.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the state database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot migrate the state database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("DagRun `{run_id}` of `{dag_id}` already exists")]
    DuplicateRun { dag_id: DagId, run_id: RunId },
    #[error("DAG `{dag_id}` already has a run for logical date {logical_date}")]
    DuplicateInterval {
        dag_id: DagId,
        logical_date: DateTime<Utc>,
    },
    #[error("{what} is no longer {expected}: another writer changed it")]
    Conflict { what: String, expected: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("corrupt row in the state database: {0}")]
    Corrupt(String),
    #[error("state database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A handle on the state database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// A DagRun to create, with its tasks.
#[derive(Debug, Clone)]
pub struct NewDagRun<'a> {
    pub dag_id: &'a DagId,
    pub run_id: &'a RunId,
    pub run_type: RunType,
    pub logical_date: DateTime<Utc>,
    pub data_interval: (DateTime<Utc>, DateTime<Utc>),
    pub conf: &'a serde_json::Value,
    /// Every task with its `retries + 1`.
    pub tasks: Vec<(&'a TaskId, u32)>,
    pub now: DateTime<Utc>,
}

/// How a try ended, as the engine recorded it.
#[derive(Debug, Clone)]
pub struct TryEnd<'a> {
    pub state: TaskState,
    pub output: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` in WAL mode and
    /// applies every migration.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, true).await
    }

    /// Opens the database for the daemon: SQLite's automatic WAL checkpoints
    /// are off, so no state change waits for a checkpoint's fsync; the daemon
    /// calls [`Store::checkpoint`] in the background instead.
    pub async fn open_for_daemon(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, false).await
    }

    async fn open_with(path: &Path, auto_checkpoint: bool) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma(
                "wal_autocheckpoint",
                if auto_checkpoint { "1000" } else { "0" },
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        sqlx::migrate!().run(&pool).await?;
        Ok(Store { pool })
    }

    /// Copies the WAL into the database without blocking writers (a passive
    /// checkpoint); the daemon runs it every second.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a DAG seen in the DAG folder; a new DAG starts paused when its
    /// file says `is_paused_upon_creation`. Returns whether it is paused.
    pub async fn upsert_dag(
        &self,
        dag_id: &DagId,
        fileloc: &str,
        paused_upon_creation: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            "INSERT INTO dags (dag_id, is_paused, fileloc, last_parsed_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, last_parsed_at = excluded.last_parsed_at",
        )
        .bind(dag_id.as_str())
        .bind(paused_upon_creation)
        .bind(fileloc)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let paused: bool = sqlx::query_scalar("SELECT is_paused FROM dags WHERE dag_id = ?")
            .bind(dag_id.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(paused)
    }

    /// Records every DAG of a (re)load in one transaction; new DAGs start
    /// paused when their file says `is_paused_upon_creation`.
    pub async fn register_dags(
        &self,
        dags: &[(&DagId, String, bool)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (dag_id, fileloc, paused_upon_creation) in dags {
            sqlx::query(
                "INSERT INTO dags (dag_id, is_paused, fileloc, last_parsed_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, last_parsed_at = excluded.last_parsed_at",
            )
            .bind(dag_id.as_str())
            .bind(paused_upon_creation)
            .bind(fileloc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_paused(&self, dag_id: &DagId, paused: bool) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE dags SET is_paused = ? WHERE dag_id = ?")
            .bind(paused)
            .bind(dag_id.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("DAG `{dag_id}`")));
        }
        Ok(())
    }

    pub async fn dags(&self) -> Result<Vec<DagRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, DagRow>("SELECT * FROM dags ORDER BY dag_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Creates a queued DagRun and all its TaskInstances (state `none`) in one
    /// transaction.
    pub async fn create_dag_run(&self, new: &NewDagRun<'_>) -> Result<DagRunRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO dag_runs (dag_id, run_id, run_type, state, logical_date, data_interval_start, data_interval_end, conf, queued_at)
             VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)",
        )
        .bind(new.dag_id.as_str())
        .bind(new.run_id.as_str())
        .bind(new.run_type.as_str())
        .bind(new.logical_date)
        .bind(new.data_interval.0)
        .bind(new.data_interval.1)
        .bind(new.conf.to_string())
        .bind(new.now)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(if db.message().contains("logical_date") {
                    StoreError::DuplicateInterval {
                        dag_id: new.dag_id.clone(),
                        logical_date: new.logical_date,
                    }
                } else {
                    StoreError::DuplicateRun {
                        dag_id: new.dag_id.clone(),
                        run_id: new.run_id.clone(),
                    }
                });
            }
            Err(err) => return Err(err.into()),
        };
        for (task_id, max_tries) in &new.tasks {
            sqlx::query("INSERT INTO task_instances (dag_run_id, task_id, state, max_tries) VALUES (?, ?, 'none', ?)")
                .bind(id)
                .bind(task_id.as_str())
                .bind(max_tries)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.dag_run(id).await
    }

    pub async fn dag_run(&self, id: i64) -> Result<DagRunRow, StoreError> {
        sqlx::query_as::<_, DagRunRow>("SELECT * FROM dag_runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("DagRun #{id}")))
    }

    pub async fn find_dag_run(
        &self,
        dag_id: &DagId,
        run_id: &RunId,
    ) -> Result<Option<DagRunRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, DagRunRow>(
                "SELECT * FROM dag_runs WHERE dag_id = ? AND run_id = ?",
            )
            .bind(dag_id.as_str())
            .bind(run_id.as_str())
            .fetch_optional(&self.pool)
            .await?,
        )
    }

    /// DagRuns, newest logical date first.
    pub async fn dag_runs(
        &self,
        dag_id: Option<&DagId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DagRunRow>, StoreError> {
        Ok(sqlx::query_as::<_, DagRunRow>(
            "SELECT * FROM dag_runs WHERE (?1 IS NULL OR dag_id = ?1) ORDER BY logical_date DESC, id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(dag_id.map(DagId::as_str))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Runs not yet finished (queued or running), oldest first.
    pub async fn unfinished_runs(&self) -> Result<Vec<DagRunRow>, StoreError> {
        Ok(sqlx::query_as::<_, DagRunRow>(
            "SELECT * FROM dag_runs WHERE state IN ('queued', 'running') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves a run from `from` to `to`; sets start_date on `running`,
    /// end_date on a finished state.
    pub async fn set_run_state(
        &self,
        id: i64,
        from: RunState,
        to: RunState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE dag_runs SET state = ?1,
                start_date = CASE WHEN ?1 = 'running' AND start_date IS NULL THEN ?2 ELSE start_date END,
                end_date = CASE WHEN ?1 IN ('success', 'failed') THEN ?2 WHEN ?1 = 'queued' THEN NULL ELSE end_date END
             WHERE id = ?3 AND state = ?4",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("DagRun #{id}"),
            from.as_str(),
        )
    }

    pub async fn task_instances(
        &self,
        dag_run_id: i64,
    ) -> Result<Vec<TaskInstanceRow>, StoreError> {
        Ok(sqlx::query_as::<_, TaskInstanceRow>(
            "SELECT * FROM task_instances WHERE dag_run_id = ? ORDER BY id",
        )
        .bind(dag_run_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves a task instance between states without starting or ending a try
    /// (queue, skip, upstream_failed, retry → queued, clear).
    pub async fn set_task_state(
        &self,
        ti_id: i64,
        from: TaskState,
        to: TaskState,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        from.transition(to)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE task_instances SET state = ?1,
                end_date = CASE WHEN ?1 IN ('skipped', 'upstream_failed', 'failed') THEN ?2 WHEN ?1 = 'none' THEN NULL ELSE end_date END
             WHERE id = ?3 AND state = ?4",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(ti_id)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id}"),
            from.as_str(),
        )
    }

    /// Starts try `try_number` of a task instance in state `from` (`queued`,
    /// or `none` when it starts the moment its trigger rule passes) with its
    /// log file. One statement: the `task_try_started` trigger records the try.
    pub async fn start_try(
        &self,
        ti_id: i64,
        from: TaskState,
        try_number: u32,
        log_path: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        from.transition(TaskState::Running)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE task_instances SET state = 'running', try_number = ?1, start_date = ?2, end_date = NULL,
                next_retry_at = NULL, error = NULL, external_id = NULL, external_url = NULL, log_path = ?3
             WHERE id = ?4 AND state = ?5",
        )
        .bind(try_number)
        .bind(now)
        .bind(log_path)
        .bind(ti_id)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id}"),
            from.as_str(),
        )
    }

    /// Ends the running try of a task instance: success, failed or
    /// up_for_retry, with its output or error. One statement: the
    /// `task_try_ended` trigger closes the try's row.
    pub async fn finish_try(
        &self,
        ti_id: i64,
        try_number: u32,
        end: &TryEnd<'_>,
    ) -> Result<(), StoreError> {
        TaskState::Running
            .transition(end.state)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE task_instances SET state = ?1, end_date = ?2, output = ?3, error = ?4, next_retry_at = ?5
             WHERE id = ?6 AND state = 'running' AND try_number = ?7",
        )
        .bind(end.state.as_str())
        .bind(end.now)
        .bind(end.output.map(|o| o.to_string()))
        .bind(end.error)
        .bind(end.next_retry_at)
        .bind(ti_id)
        .bind(try_number)
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id} try {try_number}"),
            "running",
        )
    }

    /// Records the remote job a running try started (a Databricks run), before
    /// the try waits on it.
    pub async fn set_external(
        &self,
        ti_id: i64,
        try_number: u32,
        external_id: &str,
        url: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE task_instances SET external_id = ?, external_url = ? WHERE id = ? AND state = 'running' AND try_number = ?",
        )
        .bind(external_id)
        .bind(url)
        .bind(ti_id)
        .bind(try_number)
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id} try {try_number}"),
            "running",
        )
    }

    pub async fn task_tries(&self, ti_id: i64) -> Result<Vec<TaskTryRow>, StoreError> {
        Ok(sqlx::query_as::<_, TaskTryRow>(
            "SELECT * FROM task_tries WHERE task_instance_id = ? ORDER BY try_number",
        )
        .bind(ti_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

fn expect_one(rows: u64, what: impl FnOnce() -> String, expected: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            what: what(),
            expected: expected.to_string(),
        })
    }
}

/// Queries the scheduler runs on every pass.
impl Store {
    /// The data interval of `dag_id`'s newest scheduled run: where its
    /// timetable continues from.
    pub async fn last_scheduled_interval(
        &self,
        dag_id: &DagId,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        Ok(sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "SELECT data_interval_start, data_interval_end FROM dag_runs
             WHERE dag_id = ? AND run_type = 'scheduled' ORDER BY logical_date DESC LIMIT 1",
        )
        .bind(dag_id.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Queued and running runs per DAG.
    pub async fn active_run_counts(
        &self,
    ) -> Result<std::collections::HashMap<String, (u32, u32)>, StoreError> {
        let rows = sqlx::query_as::<_, (String, u32, u32)>(
            "SELECT dag_id, SUM(state = 'queued'), SUM(state = 'running') FROM dag_runs
             WHERE state IN ('queued', 'running') GROUP BY dag_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(dag, queued, running)| (dag, (queued, running)))
            .collect())
    }

    /// Runs in `state`, oldest logical date first.
    pub async fn runs_in_state(&self, state: RunState) -> Result<Vec<DagRunRow>, StoreError> {
        Ok(sqlx::query_as::<_, DagRunRow>(
            "SELECT * FROM dag_runs WHERE state = ? ORDER BY logical_date, id",
        )
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether each known DAG is paused.
    pub async fn paused_dags(&self) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        Ok(self
            .dags()
            .await?
            .into_iter()
            .map(|d| (d.dag_id.to_string(), d.is_paused))
            .collect())
    }
}
