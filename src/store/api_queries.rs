//! The reads and writes only the HTTP API needs: filtered, ordered pages of
//! DagRuns, a DAG's row, the logical-date check before a trigger, clearing
//! task instances, and the aggregates behind `/metrics`. Every state change
//! is compare-and-swap, as in the rest of the store.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{DagRow, DagRunRow, Store, StoreError, expect_one};
use crate::model::{DagId, RunId, RunState, TaskId, TaskState};

/// A column DagRuns can be ordered by: Airflow's allowed `order_by` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DagRunOrder {
    Id,
    State,
    DagId,
    /// `execution_date` / `logical_date`
    LogicalDate,
    /// `dag_run_id`
    RunId,
    StartDate,
    EndDate,
    ExternalTrigger,
    Conf,
}

impl DagRunOrder {
    fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::State => "state",
            Self::DagId => "dag_id",
            Self::LogicalDate => "logical_date",
            Self::RunId => "run_id",
            Self::StartDate => "start_date",
            Self::EndDate => "end_date",
            Self::ExternalTrigger => "(run_type = 'manual')",
            Self::Conf => "conf",
        }
    }
}

/// Which DagRuns to list, and how.
#[derive(Debug, Clone)]
pub struct DagRunQuery<'a> {
    /// `None` lists the runs of every DAG.
    pub dag_id: Option<&'a DagId>,
    /// Empty means any state.
    pub states: &'a [RunState],
    pub order: DagRunOrder,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A task instance that a clear may reset, with its run.
#[derive(Debug, Clone)]
pub struct ClearCandidate {
    pub ti_id: i64,
    pub task_id: TaskId,
    pub state: TaskState,
    pub try_number: u32,
    pub dag_run_id: i64,
    pub run_id: RunId,
    pub run_state: RunState,
    pub logical_date: DateTime<Utc>,
}

/// Counts and sums over the whole database, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct StoreMetrics {
    pub dag_runs: Vec<(DagId, RunState, i64)>,
    pub task_instances: Vec<(TaskState, i64)>,
    /// Finished task instances: (dag, task, seconds summed, count).
    pub task_durations: Vec<(DagId, TaskId, f64, i64)>,
    /// Started runs: (dag, seconds from due to start summed, count).
    pub scheduling_delays: Vec<(DagId, f64, i64)>,
}

fn parsed<T: std::str::FromStr>(row: &SqliteRow, column: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} `{text}`")))
}

impl Store {
    /// One page of DagRuns and how many match in all.
    pub async fn dag_run_page(
        &self,
        query: &DagRunQuery<'_>,
    ) -> Result<(Vec<DagRunRow>, i64), StoreError> {
        let states = (!query.states.is_empty()).then(|| {
            serde_json::Value::from(query.states.iter().map(|s| s.as_str()).collect::<Vec<_>>())
                .to_string()
        });
        let filter = "WHERE (?1 IS NULL OR dag_id = ?1)
            AND (?2 IS NULL OR state IN (SELECT value FROM json_each(?2)))";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM dag_runs {filter}"
        )))
        .bind(query.dag_id.map(DagId::as_str))
        .bind(states.as_deref())
        .fetch_one(&self.pool)
        .await?;
        let direction = if query.descending { "DESC" } else { "ASC" };
        // the column comes from a closed enum, never from the request
        let sql = format!(
            "SELECT * FROM dag_runs {filter} ORDER BY {} {direction}, id {direction} LIMIT ?3 OFFSET ?4",
            query.order.column()
        );
        let rows = sqlx::query_as::<_, DagRunRow>(sqlx::AssertSqlSafe(sql))
            .bind(query.dag_id.map(DagId::as_str))
            .bind(states.as_deref())
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((rows, total))
    }

    pub async fn dag_row(&self, dag_id: &DagId) -> Result<Option<DagRow>, StoreError> {
        Ok(
            sqlx::query_as::<_, DagRow>("SELECT * FROM dags WHERE dag_id = ?")
                .bind(dag_id.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The run of `dag_id` at `logical_date`, of any run type, if there is one.
    pub async fn run_at_logical_date(
        &self,
        dag_id: &DagId,
        logical_date: DateTime<Utc>,
    ) -> Result<Option<RunId>, StoreError> {
        let run_id: Option<String> = sqlx::query_scalar(
            "SELECT run_id FROM dag_runs WHERE dag_id = ? AND logical_date = ? LIMIT 1",
        )
        .bind(dag_id.as_str())
        .bind(logical_date)
        .fetch_optional(&self.pool)
        .await?;
        Ok(run_id.map(RunId::new))
    }

    /// Task instances of `dag_id` in one of `states`, in runs whose logical
    /// date is within `[start, end]` (either bound optional), optionally of
    /// one run only; oldest run first, then task order.
    pub async fn clear_candidates(
        &self,
        dag_id: &DagId,
        run_id: Option<&RunId>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        states: &[TaskState],
    ) -> Result<Vec<ClearCandidate>, StoreError> {
        let states = serde_json::Value::from(states.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .to_string();
        let rows = sqlx::query(
            "SELECT ti.id AS ti_id, ti.task_id, ti.state, ti.try_number, r.id AS dag_run_id,
                    r.run_id, r.state AS run_state, r.logical_date
             FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id
             WHERE r.dag_id = ?1 AND (?2 IS NULL OR r.run_id = ?2)
               AND (?3 IS NULL OR r.logical_date >= ?3) AND (?4 IS NULL OR r.logical_date <= ?4)
               AND ti.state IN (SELECT value FROM json_each(?5))
             ORDER BY r.logical_date, r.id, ti.id",
        )
        .bind(dag_id.as_str())
        .bind(run_id.map(RunId::as_str))
        .bind(start)
        .bind(end)
        .bind(states)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClearCandidate {
                    ti_id: row.try_get("ti_id")?,
                    task_id: TaskId::new(row.try_get::<String, _>("task_id")?),
                    state: parsed(row, "state")?,
                    try_number: row.try_get("try_number")?,
                    dag_run_id: row.try_get("dag_run_id")?,
                    run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                    run_state: parsed(row, "run_state")?,
                    logical_date: row.try_get("logical_date")?,
                })
            })
            .collect()
    }

    /// Resets a finished task instance to `none` so it runs again, keeping
    /// its try history; `max_tries` becomes the tries it may still make on
    /// top of those already made (Airflow: `max_tries = try_number + retries`).
    pub async fn clear_task_instance(
        &self,
        ti_id: i64,
        from: TaskState,
        max_tries: u32,
    ) -> Result<(), StoreError> {
        from.transition(TaskState::None)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE task_instances SET state = 'none', end_date = NULL, next_retry_at = NULL,
                error = NULL, output = NULL, max_tries = ?1
             WHERE id = ?2 AND state = ?3",
        )
        .bind(max_tries)
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

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn metrics(&self) -> Result<StoreMetrics, StoreError> {
        let mut metrics = StoreMetrics::default();
        for row in sqlx::query(
            "SELECT dag_id, state, COUNT(*) AS n FROM dag_runs GROUP BY dag_id, state ORDER BY dag_id, state",
        )
        .fetch_all(&self.pool)
        .await?
        {
            metrics.dag_runs.push((
                DagId::new(row.try_get::<String, _>("dag_id")?),
                parsed(&row, "state")?,
                row.try_get("n")?,
            ));
        }
        for row in sqlx::query(
            "SELECT state, COUNT(*) AS n FROM task_instances GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?
        {
            metrics
                .task_instances
                .push((parsed(&row, "state")?, row.try_get("n")?));
        }
        for row in sqlx::query(
            "SELECT r.dag_id, ti.task_id,
                    SUM(MAX(0.0, (julianday(ti.end_date) - julianday(ti.start_date)) * 86400.0)) AS total,
                    COUNT(*) AS n
             FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id
             WHERE ti.state IN ('success', 'failed') AND ti.start_date IS NOT NULL AND ti.end_date IS NOT NULL
             GROUP BY r.dag_id, ti.task_id ORDER BY r.dag_id, ti.task_id",
        )
        .fetch_all(&self.pool)
        .await?
        {
            metrics.task_durations.push((
                DagId::new(row.try_get::<String, _>("dag_id")?),
                TaskId::new(row.try_get::<String, _>("task_id")?),
                row.try_get("total")?,
                row.try_get("n")?,
            ));
        }
        // a scheduled run is due when its data interval ends (the tick itself
        // for the trigger timetable, whose interval is empty); any other run
        // when it was queued
        for row in sqlx::query(
            "SELECT dag_id,
                    SUM(MAX(0.0, (julianday(start_date) - julianday(
                        CASE WHEN run_type = 'scheduled' THEN data_interval_end ELSE queued_at END)) * 86400.0)) AS total,
                    COUNT(*) AS n
             FROM dag_runs WHERE start_date IS NOT NULL GROUP BY dag_id ORDER BY dag_id",
        )
        .fetch_all(&self.pool)
        .await?
        {
            metrics.scheduling_delays.push((
                DagId::new(row.try_get::<String, _>("dag_id")?),
                row.try_get("total")?,
                row.try_get("n")?,
            ));
        }
        Ok(metrics)
    }
}
