//! The read side of the PostgreSQL store: the SQLite store's queries, with
//! arrays where SQLite takes JSON lists and NULLs placed where SQLite puts
//! them (first ascending, last descending), so both answer alike.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgStore;
use super::rows::count_u32;
use crate::model::{
    DagId, DagRecord, DagRun, DagVersion, Owner, RunId, RunState, RunType, TaskId, TaskInstance,
    TaskState, TaskTry,
};
use crate::store::records::{Rec, outbox_alert, parsed, unsigned};
use crate::store::{
    ClearCandidate, DagRunOrder, DagRunQuery, OutboxAlert, RunSummary, StateRead, StoreError,
    StoreMetrics, TaskCellState, TaskInstanceOrder, TaskInstancePage, TaskInstanceQuery,
};

fn order_column(order: DagRunOrder) -> &'static str {
    match order {
        DagRunOrder::Id => "id",
        DagRunOrder::State => "state",
        DagRunOrder::DagId => "dag_id",
        DagRunOrder::LogicalDate => "logical_date",
        DagRunOrder::RunId => "run_id",
        DagRunOrder::StartDate => "start_date",
        DagRunOrder::EndDate => "end_date",
        DagRunOrder::ExternalTrigger => "(run_type = 'manual')",
        DagRunOrder::Conf => "conf",
    }
}

/// `ASC`/`DESC` with NULLs where SQLite sorts them: they are its smallest
/// value.
fn direction(descending: bool) -> &'static str {
    if descending {
        "DESC NULLS LAST"
    } else {
        "ASC NULLS FIRST"
    }
}

/// SQLite's `LIMIT -1` is no limit, and a negative offset is none: the
/// same here (`LIMIT NULL` is `LIMIT ALL`).
fn limit(limit: i64) -> Option<i64> {
    (limit >= 0).then_some(limit)
}

fn names<T: Copy>(items: &[T], name: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    items.iter().map(|s| name(*s)).collect()
}

/// A run's last change: runs keep no `updated_at`, so the latest of the
/// instants they do keep.
const RUN_UPDATED_AT: &str =
    "GREATEST(queued_at, COALESCE(start_date, queued_at), COALESCE(end_date, queued_at))";

/// Airflow's filters of the DagRun list: $1 dag ids and $2 states, then
/// `>=` / `<=` pairs for the logical, start, end and update instants, then
/// $11 run types. A NULL parameter is no filter.
fn dag_run_filter() -> String {
    format!(
        "WHERE ($1::text[] IS NULL OR dag_id = ANY($1))
           AND ($2::text[] IS NULL OR state = ANY($2))
           AND ($3::timestamptz IS NULL OR logical_date >= $3) AND ($4::timestamptz IS NULL OR logical_date <= $4)
           AND ($5::timestamptz IS NULL OR start_date >= $5) AND ($6::timestamptz IS NULL OR start_date <= $6)
           AND ($7::timestamptz IS NULL OR end_date >= $7) AND ($8::timestamptz IS NULL OR end_date <= $8)
           AND ($9::timestamptz IS NULL OR {RUN_UPDATED_AT} >= $9)
           AND ($10::timestamptz IS NULL OR {RUN_UPDATED_AT} <= $10)
           AND ($11::text[] IS NULL OR run_type = ANY($11))"
    )
}

/// A task instance's last change: the latest of its run's queuing and its
/// own start and end.
const TI_UPDATED_AT: &str = "GREATEST(r.queued_at, COALESCE(ti.start_date, r.queued_at), COALESCE(ti.end_date, r.queued_at))";

/// A finished try's seconds, rounded to the millisecond as SQLite's are, so
/// that a bound given to the millisecond matches exactly.
const TI_DURATION: &str = "(CASE WHEN ti.end_date >= ti.start_date
    THEN ROUND(EXTRACT(EPOCH FROM ti.end_date - ti.start_date), 3)::float8 END)";

/// Airflow's filters of the TaskInstance list: $1 dag ids, $2 run ids, $3
/// task ids, $4 states, then `>=` / `<=` pairs for the run's logical date,
/// the start, end, update and duration.
fn task_instance_filter() -> String {
    format!(
        "FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id
         WHERE ($1::text[] IS NULL OR r.dag_id = ANY($1))
           AND ($2::text[] IS NULL OR r.run_id = ANY($2))
           AND ($3::text[] IS NULL OR ti.task_id = ANY($3))
           AND ($4::text[] IS NULL OR ti.state = ANY($4))
           AND ($5::timestamptz IS NULL OR r.logical_date >= $5) AND ($6::timestamptz IS NULL OR r.logical_date <= $6)
           AND ($7::timestamptz IS NULL OR ti.start_date >= $7) AND ($8::timestamptz IS NULL OR ti.start_date <= $8)
           AND ($9::timestamptz IS NULL OR ti.end_date >= $9) AND ($10::timestamptz IS NULL OR ti.end_date <= $10)
           AND ($11::timestamptz IS NULL OR {TI_UPDATED_AT} >= $11)
           AND ($12::timestamptz IS NULL OR {TI_UPDATED_AT} <= $12)
           AND ($13::float8 IS NULL OR {TI_DURATION} >= $13) AND ($14::float8 IS NULL OR {TI_DURATION} <= $14)"
    )
}

fn task_instance_order_column(order: TaskInstanceOrder) -> &'static str {
    match order {
        TaskInstanceOrder::Id => "ti.id",
        TaskInstanceOrder::State => {
            "(CASE ti.state WHEN 'none' THEN '' ELSE ti.state END) COLLATE \"C\""
        }
        TaskInstanceOrder::Duration => TI_DURATION,
        TaskInstanceOrder::StartDate => "ti.start_date",
        TaskInstanceOrder::EndDate => "ti.end_date",
    }
}

/// Binds [`dag_run_filter`]'s parameters, in order.
macro_rules! bind_dag_run_filter {
    ($sql:expr, $query:expr, $dag_ids:expr, $states:expr, $run_types:expr) => {
        $sql.bind($dag_ids)
            .bind($states)
            .bind($query.logical_date.gte)
            .bind($query.logical_date.lte)
            .bind($query.start_date.gte)
            .bind($query.start_date.lte)
            .bind($query.end_date.gte)
            .bind($query.end_date.lte)
            .bind($query.updated_at.gte)
            .bind($query.updated_at.lte)
            .bind($run_types)
    };
}

/// Binds [`task_instance_filter`]'s parameters, in order.
macro_rules! bind_task_instance_filter {
    ($sql:expr, $query:expr, $lists:expr) => {
        $sql.bind(&$lists.0)
            .bind(&$lists.1)
            .bind(&$lists.2)
            .bind(&$lists.3)
            .bind($query.logical_date.gte)
            .bind($query.logical_date.lte)
            .bind($query.start_date.gte)
            .bind($query.start_date.lte)
            .bind($query.end_date.gte)
            .bind($query.end_date.lte)
            .bind($query.updated_at.gte)
            .bind($query.updated_at.lte)
            .bind($query.duration.gte)
            .bind($query.duration.lte)
    };
}

/// The outbox with what a message needs: the run, its logical date, the
/// try's log and a remote run's page.
const OUTBOX_SELECT: &str = "SELECT a.*, r.run_id AS run_id, r.logical_date AS logical_date,
        t.log_path AS log_path, ti.external_url AS external_url
    FROM alerts a
    LEFT JOIN dag_runs r ON r.id = a.dag_run_id
    LEFT JOIN task_instances ti ON ti.id = a.task_instance_id
    LEFT JOIN task_tries t ON t.task_instance_id = a.task_instance_id AND t.try_number = a.try_number";

fn run_summary(row: &PgRow) -> Result<RunSummary, sqlx::Error> {
    let run_type: String = row.try_get("run_type")?;
    Ok(RunSummary {
        id: row.try_get("id")?,
        dag_id: DagId::new(row.try_get::<String, _>("dag_id")?),
        run_id: RunId::new(row.try_get::<String, _>("run_id")?),
        run_type: RunType::parse(&run_type)
            .ok_or_else(|| crate::store::records::decode_error("run_type", &run_type))?,
        state: parsed(row, "state")?,
        logical_date: row.try_get("logical_date")?,
    })
}

#[async_trait::async_trait]
impl StateRead for PgStore {
    fn is_shared(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn dags(&self) -> Result<Vec<DagRecord>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<DagRecord>>("SELECT * FROM dags ORDER BY dag_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn dag(&self, dag_id: &DagId) -> Result<Option<DagRecord>, StoreError> {
        Ok(
            sqlx::query_as::<_, Rec<DagRecord>>("SELECT * FROM dags WHERE dag_id = $1")
                .bind(dag_id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.0),
        )
    }

    async fn paused_dags(&self) -> Result<HashMap<String, bool>, StoreError> {
        let rows = sqlx::query_as::<_, (String, bool)>("SELECT dag_id, is_paused FROM dags")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    async fn dag_version(&self, id: i64) -> Result<Option<DagVersion>, StoreError> {
        Ok(
            sqlx::query_as::<_, Rec<DagVersion>>("SELECT * FROM dag_versions WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.0),
        )
    }

    async fn latest_versions_of_file(&self, fileloc: &str) -> Result<Vec<DagVersion>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<DagVersion>>(
            "SELECT v.* FROM dags d JOIN dag_versions v ON v.id = d.latest_version
             WHERE d.fileloc = $1 ORDER BY d.dag_id",
        )
        .bind(fileloc)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn dag_run(&self, id: i64) -> Result<DagRun, StoreError> {
        sqlx::query_as::<_, Rec<DagRun>>("SELECT * FROM dag_runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.0)
            .ok_or_else(|| StoreError::NotFound(format!("DagRun #{id}")))
    }

    async fn find_dag_run(
        &self,
        dag_id: &DagId,
        run_id: &RunId,
    ) -> Result<Option<DagRun>, StoreError> {
        Ok(sqlx::query_as::<_, Rec<DagRun>>(
            "SELECT * FROM dag_runs WHERE dag_id = $1 AND run_id = $2",
        )
        .bind(dag_id.as_str())
        .bind(run_id.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.0))
    }

    async fn dag_runs(
        &self,
        dag_id: Option<&DagId>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DagRun>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<DagRun>>(
            "SELECT * FROM dag_runs WHERE ($1::text IS NULL OR dag_id = $1)
             ORDER BY logical_date DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(dag_id.map(DagId::as_str))
        .bind(self::limit(limit))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn dag_run_page(
        &self,
        query: &DagRunQuery<'_>,
    ) -> Result<(Vec<DagRun>, i64), StoreError> {
        let dag_ids: Option<Vec<&str>> = query
            .dag_ids
            .map(|ids| ids.iter().map(DagId::as_str).collect());
        let states = (!query.states.is_empty()).then(|| names(query.states, RunState::as_str));
        let run_types =
            (!query.run_types.is_empty()).then(|| names(query.run_types, RunType::as_str));
        let filter = dag_run_filter();
        let total: i64 = bind_dag_run_filter!(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM dag_runs {filter}"
            ))),
            query,
            &dag_ids,
            &states,
            &run_types
        )
        .fetch_one(&self.pool)
        .await?;
        let direction = direction(query.descending);
        // the column comes from a closed enum, never from the request
        let sql = format!(
            "SELECT * FROM dag_runs {filter} ORDER BY {} {direction}, id {direction} LIMIT $12 OFFSET $13",
            order_column(query.order)
        );
        let rows = bind_dag_run_filter!(
            sqlx::query_as::<_, Rec<DagRun>>(sqlx::AssertSqlSafe(sql)),
            query,
            &dag_ids,
            &states,
            &run_types
        )
        .bind(limit(query.limit))
        .bind(query.offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.into_iter().map(|r| r.0).collect(), total))
    }

    async fn runs_in_state(&self, state: RunState) -> Result<Vec<DagRun>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<DagRun>>(
            "SELECT * FROM dag_runs WHERE state = $1 ORDER BY logical_date, id",
        )
        .bind(state.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn run_at_logical_date(
        &self,
        dag_id: &DagId,
        logical_date: DateTime<Utc>,
    ) -> Result<Option<RunId>, StoreError> {
        let run_id: Option<String> = sqlx::query_scalar(
            "SELECT run_id FROM dag_runs WHERE dag_id = $1 AND logical_date = $2 LIMIT 1",
        )
        .bind(dag_id.as_str())
        .bind(logical_date)
        .fetch_optional(&self.pool)
        .await?;
        Ok(run_id.map(RunId::new))
    }

    async fn last_scheduled_interval(
        &self,
        dag_id: &DagId,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        Ok(sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "SELECT data_interval_start, data_interval_end FROM dag_runs
             WHERE dag_id = $1 AND run_type = 'scheduled' ORDER BY logical_date DESC LIMIT 1",
        )
        .bind(dag_id.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn active_run_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError> {
        let rows = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT dag_id, COUNT(*) FILTER (WHERE state = 'queued'),
                    COUNT(*) FILTER (WHERE state = 'running')
             FROM dag_runs WHERE state IN ('queued', 'running') GROUP BY dag_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(dag, queued, running)| Ok((dag, (count_u32(queued)?, count_u32(running)?))))
            .collect()
    }

    async fn task_instances(&self, dag_run_id: i64) -> Result<Vec<TaskInstance>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<TaskInstance>>(
            "SELECT * FROM task_instances WHERE dag_run_id = $1 ORDER BY id",
        )
        .bind(dag_run_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn task_instance_page(
        &self,
        query: &TaskInstanceQuery<'_>,
    ) -> Result<TaskInstancePage, StoreError> {
        let lists: (
            Option<Vec<&str>>,
            Option<Vec<&str>>,
            Option<Vec<&str>>,
            Option<Vec<&str>>,
        ) = (
            query
                .dag_ids
                .map(|ids| ids.iter().map(DagId::as_str).collect()),
            query
                .run_ids
                .map(|ids| ids.iter().map(RunId::as_str).collect()),
            query
                .task_ids
                .map(|ids| ids.iter().map(TaskId::as_str).collect()),
            query.states.map(|states| names(states, TaskState::as_str)),
        );
        let filter = task_instance_filter();
        let total: i64 = bind_task_instance_filter!(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {filter}"))),
            query,
            lists
        )
        .fetch_one(&self.pool)
        .await?;
        let direction = direction(query.descending);
        // the column comes from a closed enum, never from the request
        let sql = format!(
            "SELECT ti.* {filter} ORDER BY {} {direction}, ti.id {direction} LIMIT $15 OFFSET $16",
            task_instance_order_column(query.order)
        );
        let task_instances: Vec<TaskInstance> = bind_task_instance_filter!(
            sqlx::query_as::<_, Rec<TaskInstance>>(sqlx::AssertSqlSafe(sql)),
            query,
            lists
        )
        .bind(limit(query.limit))
        .bind(query.offset.max(0))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
        let mut run_ids: Vec<i64> = task_instances.iter().map(|ti| ti.dag_run_id).collect();
        run_ids.sort_unstable();
        run_ids.dedup();
        let dag_runs = sqlx::query_as::<_, Rec<DagRun>>(
            "SELECT * FROM dag_runs WHERE id = ANY($1) ORDER BY id",
        )
        .bind(&run_ids)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
        Ok(TaskInstancePage {
            task_instances,
            dag_runs,
            total,
        })
    }

    async fn task_tries(&self, ti_id: i64) -> Result<Vec<TaskTry>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<TaskTry>>(
            "SELECT * FROM task_tries WHERE task_instance_id = $1 ORDER BY try_number",
        )
        .bind(ti_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn recent_runs(&self, per_dag: i64) -> Result<Vec<RunSummary>, StoreError> {
        // one indexed walk per DAG (dag_id, logical_date), never a sort of
        // the whole history
        let rows = sqlx::query(
            "SELECT r.id, r.dag_id, r.run_id, r.run_type, r.state, r.logical_date
             FROM dags d CROSS JOIN LATERAL (
                 SELECT id, dag_id, run_id, run_type, state, logical_date FROM dag_runs
                 WHERE dag_id = d.dag_id ORDER BY logical_date DESC, id DESC LIMIT $1) r
             ORDER BY r.dag_id, r.logical_date DESC, r.id DESC",
        )
        .bind(limit(per_dag))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(run_summary).collect::<Result<_, _>>()?)
    }

    async fn last_scheduled_intervals(
        &self,
    ) -> Result<HashMap<String, (DateTime<Utc>, DateTime<Utc>)>, StoreError> {
        let rows = sqlx::query_as::<_, (String, DateTime<Utc>, DateTime<Utc>)>(
            "SELECT d.dag_id, r.data_interval_start, r.data_interval_end
             FROM dags d CROSS JOIN LATERAL (
                 SELECT data_interval_start, data_interval_end FROM dag_runs
                 WHERE dag_id = d.dag_id AND run_type = 'scheduled'
                 ORDER BY logical_date DESC LIMIT 1) r",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(dag, start, end)| (dag, (start, end)))
            .collect())
    }

    async fn task_cells(&self, dag_run_ids: &[i64]) -> Result<Vec<TaskCellState>, StoreError> {
        let rows = sqlx::query(
            "SELECT dag_run_id, task_id, state, try_number FROM task_instances
             WHERE dag_run_id = ANY($1) ORDER BY dag_run_id, id",
        )
        .bind(dag_run_ids)
        .fetch_all(&self.pool)
        .await?;
        let decode = |row: &PgRow| -> Result<TaskCellState, sqlx::Error> {
            Ok(TaskCellState {
                dag_run_id: row.try_get("dag_run_id")?,
                task_id: TaskId::new(row.try_get::<String, _>("task_id")?),
                state: parsed(row, "state")?,
                try_number: unsigned(row, "try_number")?,
            })
        };
        Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
    }

    async fn tries_of_run(&self, dag_run_id: i64) -> Result<Vec<(TaskId, TaskTry)>, StoreError> {
        let rows = sqlx::query(
            "SELECT ti.task_id, t.* FROM task_tries t
             JOIN task_instances ti ON ti.id = t.task_instance_id
             WHERE ti.dag_run_id = $1 ORDER BY ti.id, t.try_number",
        )
        .bind(dag_run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let task_id: String = row.try_get("task_id")?;
                let attempt = <Rec<TaskTry> as sqlx::FromRow<_>>::from_row(row)?;
                Ok((TaskId::new(task_id), attempt.0))
            })
            .collect()
    }

    async fn clear_candidates(
        &self,
        dag_id: &DagId,
        run_id: Option<&RunId>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        states: &[TaskState],
    ) -> Result<Vec<ClearCandidate>, StoreError> {
        let rows = sqlx::query(
            "SELECT ti.id AS ti_id, ti.task_id, ti.state, ti.try_number, r.id AS dag_run_id,
                    r.run_id, r.state AS run_state, r.logical_date
             FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id
             WHERE r.dag_id = $1 AND ($2::text IS NULL OR r.run_id = $2)
               AND ($3::timestamptz IS NULL OR r.logical_date >= $3)
               AND ($4::timestamptz IS NULL OR r.logical_date <= $4)
               AND ti.state = ANY($5)
             ORDER BY r.logical_date, r.id, ti.id",
        )
        .bind(dag_id.as_str())
        .bind(run_id.map(RunId::as_str))
        .bind(start)
        .bind(end)
        .bind(names(states, TaskState::as_str))
        .fetch_all(&self.pool)
        .await?;
        let decode = |row: &PgRow| -> Result<ClearCandidate, sqlx::Error> {
            Ok(ClearCandidate {
                ti_id: row.try_get("ti_id")?,
                task_id: TaskId::new(row.try_get::<String, _>("task_id")?),
                state: parsed(row, "state")?,
                try_number: unsigned(row, "try_number")?,
                dag_run_id: row.try_get("dag_run_id")?,
                run_id: RunId::new(row.try_get::<String, _>("run_id")?),
                run_state: parsed(row, "run_state")?,
                logical_date: row.try_get("logical_date")?,
            })
        };
        Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
    }

    async fn metrics(&self) -> Result<StoreMetrics, StoreError> {
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
                    SUM(GREATEST(0, EXTRACT(EPOCH FROM ti.end_date - ti.start_date)))::float8 AS total,
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
                    SUM(GREATEST(0, EXTRACT(EPOCH FROM start_date -
                        CASE WHEN run_type = 'scheduled' THEN data_interval_end ELSE queued_at END)))::float8 AS total,
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
        for row in sqlx::query(
            "SELECT channel, status, COUNT(*) AS n FROM alerts GROUP BY channel, status ORDER BY channel, status",
        )
        .fetch_all(&self.pool)
        .await?
        {
            metrics.alerts.push((
                row.try_get("channel")?,
                row.try_get("status")?,
                row.try_get("n")?,
            ));
        }
        Ok(metrics)
    }

    async fn pending_alerts(&self, limit: i64) -> Result<Vec<OutboxAlert>, StoreError> {
        // a constant query: no part comes from input
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{OUTBOX_SELECT} WHERE a.status = 'pending' ORDER BY a.created_at, a.id LIMIT $1"
        )))
        .bind(self::limit(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(outbox_alert).collect::<Result<_, _>>()?)
    }

    async fn alerts(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxAlert>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{OUTBOX_SELECT} WHERE ($1::text IS NULL OR a.status = $1)
             ORDER BY a.created_at DESC, a.id DESC LIMIT $2"
        )))
        .bind(status)
        .bind(self::limit(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(outbox_alert).collect::<Result<_, _>>()?)
    }

    async fn runs_without_deadline_alert(&self, dag_id: &DagId) -> Result<Vec<DagRun>, StoreError> {
        let rows = sqlx::query_as::<_, Rec<DagRun>>(
            "SELECT * FROM dag_runs r WHERE r.dag_id = $1 AND r.state IN ('queued', 'running')
               AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.dag_run_id = r.id
                               AND a.event = 'deadline' AND a.task_instance_id IS NULL)
             ORDER BY r.logical_date",
        )
        .bind(dag_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn owner(&self, id: &str) -> Result<Option<Owner>, StoreError> {
        Ok(
            sqlx::query_as::<_, Rec<Owner>>("SELECT * FROM owners WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.0),
        )
    }

    async fn scheduler_holder(&self) -> Result<Option<Owner>, StoreError> {
        Ok(sqlx::query_as::<_, Rec<Owner>>(
            "SELECT o.* FROM scheduler_lock l JOIN owners o ON o.id = l.owner_id WHERE l.id = 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.0))
    }
}
