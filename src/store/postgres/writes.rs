//! The write side of the PostgreSQL store: every statement a
//! compare-and-swap (rows affected checked), task-instance writes fenced by
//! their run's lease, claims of one DAG's runs serialised by a lock on its
//! row.

use chrono::{DateTime, Utc};

use super::PgStore;
use crate::model::{DagId, DagRun, Lease, Owner, ProcessGroup, RunState, TaskInstance, TaskState};
use crate::store::cas::{expect_one, running_try};
use crate::store::cleaning::clean_sql;
use crate::store::records::Rec;
use crate::store::{Cleaned, Fence, NewDagRun, NewDagVersion, StateWrite, StoreError, TryEnd};

// Task-instance writes by a driver are fenced by its run's lease: the
// statement changes nothing unless the run is still held by `fence` (a
// `NULL` fence is a write on a run nobody drives). The run's row is read
// `FOR SHARE`: a peer's claim of the run waits for the write, and a write
// after a claim sees the new holder.
const FENCED: &str =
    "(SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id FOR SHARE)";

fn set_task_state_sql() -> String {
    format!(
        "UPDATE task_instances SET state = $1,
            end_date = CASE WHEN $1 IN ('skipped', 'upstream_failed', 'failed', 'success') THEN $2
                            WHEN $1 = 'none' THEN NULL ELSE end_date END
         WHERE id = $3 AND state = $4 AND ($5::text IS NULL OR {FENCED} = $5)"
    )
}

// one statement: the `task_try_started` trigger records the try
fn start_try_sql() -> String {
    format!(
        "UPDATE task_instances SET state = 'running', try_number = $1, start_date = $2, end_date = NULL,
            next_retry_at = NULL, error = NULL, external_id = NULL, external_url = NULL, log_path = $3,
            pgid = NULL, pg_owner = NULL, pg_boot_id = NULL
         WHERE id = $4 AND state = $5 AND ($6::text IS NULL OR {FENCED} = $6)"
    )
}

// one statement: the `task_try_ended` trigger closes the try's row
fn finish_try_sql() -> String {
    format!(
        "UPDATE task_instances SET state = $1, end_date = $2, output = $3, error = $4, next_retry_at = $5
         WHERE id = $6 AND state = 'running' AND try_number = $7
           AND ($8::text IS NULL OR {FENCED} = $8)"
    )
}

#[async_trait::async_trait]
impl StateWrite for PgStore {
    async fn insert_owner(&self, owner: &Owner) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO owners (id, kind, host, pid, pid_start, boot_id, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&owner.id)
        .bind(owner.kind.as_str())
        .bind(&owner.host)
        .bind(i64::from(owner.pid))
        .bind(owner.pid_start as i64)
        .bind(&owner.boot_id)
        .bind(owner.started_at)
        .bind(owner.heartbeat_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_scheduler(
        &self,
        owner: &str,
        observed: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO scheduler_lock (id, owner_id) VALUES (1, $1)
             ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id
             WHERE scheduler_lock.owner_id IS NOT DISTINCT FROM $2",
        )
        .bind(owner)
        .bind(observed)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn heartbeat(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE owners SET heartbeat_at = $1 WHERE id = $2")
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        let held: Vec<i64> = sqlx::query_scalar(
            "UPDATE dag_runs SET lease_expires_at = $1
             WHERE lease_owner = $2 AND state IN ('queued', 'running') RETURNING id",
        )
        .bind(lease_until)
        .bind(owner)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(held)
    }

    async fn stop_owner(&self, owner: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE owners SET stopped_at = $1, heartbeat_at = $1 WHERE id = $2")
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE dag_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM scheduler_lock WHERE owner_id = $1")
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn register_dags(
        &self,
        dags: &[NewDagVersion<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(dags.len());
        for dag in dags {
            // the upsert locks the DAG's row: peers loading the same file
            // record its versions one after the other
            let known: Option<i64> = sqlx::query_scalar(
                "INSERT INTO dags (dag_id, is_paused, fileloc, last_parsed_at, latest_version)
                 VALUES ($1, $2, $3, $4, (SELECT id FROM dag_versions WHERE dag_id = $1 AND hash = $5))
                 ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc,
                     last_parsed_at = excluded.last_parsed_at, latest_version = excluded.latest_version
                 RETURNING latest_version",
            )
            .bind(dag.dag_id.as_str())
            .bind(dag.is_paused_upon_creation)
            .bind(&dag.fileloc)
            .bind(now)
            .bind(dag.hash)
            .fetch_one(&mut *tx)
            .await?;
            let id = match known {
                Some(id) => id,
                None => {
                    // a peer that recorded the same text while this one
                    // waited for the row has made the version already
                    let inserted: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO dag_versions (dag_id, version_number, hash, source, fileloc, created_at)
                         VALUES ($1, (SELECT COALESCE(MAX(version_number), 0) + 1 FROM dag_versions WHERE dag_id = $1),
                                 $2, $3, $4, $5)
                         ON CONFLICT (dag_id, hash) DO NOTHING
                         RETURNING id",
                    )
                    .bind(dag.dag_id.as_str())
                    .bind(dag.hash)
                    .bind(dag.source)
                    .bind(&dag.fileloc)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let id = match inserted {
                        Some(id) => id,
                        None => {
                            sqlx::query_scalar(
                                "SELECT id FROM dag_versions WHERE dag_id = $1 AND hash = $2",
                            )
                            .bind(dag.dag_id.as_str())
                            .bind(dag.hash)
                            .fetch_one(&mut *tx)
                            .await?
                        }
                    };
                    sqlx::query("UPDATE dags SET latest_version = $1 WHERE dag_id = $2")
                        .bind(id)
                        .bind(dag.dag_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    id
                }
            };
            ids.push(id);
            sqlx::query("DELETE FROM alert_routes WHERE dag_id = $1")
                .bind(dag.dag_id.as_str())
                .execute(&mut *tx)
                .await?;
            for (task_id, event, channel) in &dag.alert_routes {
                sqlx::query(
                    "INSERT INTO alert_routes (dag_id, task_id, event, channel) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                )
                .bind(dag.dag_id.as_str())
                .bind(task_id)
                .bind(event)
                .bind(channel)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn alerts_delivered(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alerts SET status = 'delivered', delivered_at = $1, attempts = attempts + 1, last_error = NULL
             WHERE id = ANY($2) AND status = 'pending'",
        )
        .bind(now)
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn alerts_not_delivered(
        &self,
        ids: &[i64],
        error: &str,
        next: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE alerts SET attempts = attempts + 1, last_error = $1,
                status = CASE WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = COALESCE($2, next_attempt_at)
             WHERE id = ANY($3) AND status = 'pending'",
        )
        .bind(error)
        .bind(next)
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_import_error_alert(
        &self,
        file: &str,
        message: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for channel in channels {
            sqlx::query(
                "INSERT INTO alerts (channel, event, dag_id, error, created_at, next_attempt_at)
                 VALUES ($1, 'import_error', $2, $3, $4, $4)",
            )
            .bind(channel)
            .bind(file)
            .bind(message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_run_alert(
        &self,
        run: &DagRun,
        ti: Option<&TaskInstance>,
        event: &str,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for channel in channels {
            // a task's deadline alert has try 0: once per instance
            sqlx::query(
                "INSERT INTO alerts (channel, event, dag_id, dag_run_id, task_instance_id,
                                     task_id, try_number, state, created_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
                 ON CONFLICT DO NOTHING",
            )
            .bind(channel)
            .bind(event)
            .bind(run.dag_id.as_str())
            .bind(run.id)
            .bind(ti.map(|t| t.id))
            .bind(ti.map(|t| t.task_id.as_str()))
            .bind(ti.map(|_| 0_i32))
            .bind(ti.map_or(run.state.as_str(), |t| t.state.as_str()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_paused(&self, dag_id: &DagId, paused: bool) -> Result<bool, StoreError> {
        let known: Option<bool> =
            sqlx::query_scalar("SELECT is_paused FROM dags WHERE dag_id = $1")
                .bind(dag_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        match known {
            None => Err(StoreError::NotFound(format!("DAG `{dag_id}`"))),
            Some(now) if now == paused => Ok(false),
            Some(now) => {
                let done = sqlx::query(
                    "UPDATE dags SET is_paused = $1 WHERE dag_id = $2 AND is_paused = $3",
                )
                .bind(paused)
                .bind(dag_id.as_str())
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    }

    async fn create_dag_run(&self, new: &NewDagRun<'_>) -> Result<DagRun, StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "INSERT INTO dag_runs (dag_id, run_id, run_type, state, logical_date, data_interval_start,
                                   data_interval_end, conf, queued_at, dag_version, lease_owner, lease_expires_at)
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING id",
        )
        .bind(new.dag_id.as_str())
        .bind(new.run_id.as_str())
        .bind(new.run_type.as_str())
        .bind(new.logical_date)
        .bind(new.data_interval.0)
        .bind(new.data_interval.1)
        .bind(new.conf.to_string())
        .bind(new.now)
        .bind(new.dag_version)
        .bind(new.lease.as_ref().map(|l| l.owner.as_str()))
        .bind(new.lease.as_ref().map(|l| l.expires_at))
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                // the index's name says which rule the run broke
                return Err(if db.constraint() == Some("dag_runs_one_per_interval") {
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
        if !new.tasks.is_empty() {
            let task_ids: Vec<&str> = new.tasks.iter().map(|(t, _)| t.as_str()).collect();
            let max_tries: Vec<i64> = new.tasks.iter().map(|(_, n)| i64::from(*n)).collect();
            // one round trip for every task, in the DAG's order (ids follow it)
            sqlx::query(
                "INSERT INTO task_instances (dag_run_id, task_id, state, max_tries)
                 SELECT $1, t.task_id, 'none', t.max_tries
                 FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS t (task_id, max_tries, n)
                 ORDER BY t.n",
            )
            .bind(id)
            .bind(&task_ids)
            .bind(&max_tries)
            .execute(&mut *tx)
            .await?;
        }
        let run = sqlx::query_as::<_, Rec<DagRun>>("SELECT * FROM dag_runs WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .0;
        tx.commit().await?;
        Ok(run)
    }

    async fn claim_run(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
        observed: Option<&Lease>,
        max_active: Option<u32>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // a run another peer is claiming or writing right now is skipped,
        // not waited for: that peer is alive and the run is its
        let free: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM dag_runs WHERE id = $1 FOR UPDATE SKIP LOCKED")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if free.is_none() {
            return Ok(false);
        }
        // peers claim one DAG's runs one at a time: the count below then
        // sees every claim committed before it, and the check and the claim
        // are one step. NO KEY UPDATE leaves new runs' foreign-key checks
        // (KEY SHARE) unblocked.
        sqlx::query(
            "SELECT 1 FROM dags WHERE dag_id = (SELECT dag_id FROM dag_runs WHERE id = $1)
             FOR NO KEY UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE dag_runs SET lease_owner = $1, lease_expires_at = $2
             WHERE id = $3 AND state IN ('queued', 'running')
               AND lease_owner IS NOT DISTINCT FROM $4
               AND ($5::timestamptz IS NULL OR lease_expires_at = $5)
               AND ($6::bigint IS NULL OR (SELECT COUNT(*) FROM dag_runs o
                                           WHERE o.dag_id = dag_runs.dag_id AND o.id <> dag_runs.id
                                             AND (o.state = 'running'
                                                  OR (o.state = 'queued' AND o.lease_owner IS NOT NULL))) < $6)",
        )
        .bind(owner)
        .bind(until)
        .bind(id)
        .bind(observed.map(|l| l.owner.as_str()))
        .bind(observed.map(|l| l.expires_at))
        .bind(max_active.map(i64::from))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_run(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE dag_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_run_state(
        &self,
        id: i64,
        from: RunState,
        to: RunState,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        from.transition(to).map_err(|e| StoreError::Conflict {
            what: format!("DagRun #{id}"),
            expected: e.to_string(),
        })?;
        let done = sqlx::query(
            "UPDATE dag_runs SET state = $1,
                start_date = CASE WHEN $1 = 'running' AND start_date IS NULL THEN $2 ELSE start_date END,
                end_date = CASE WHEN $1 IN ('success', 'failed') THEN $2 WHEN $1 = 'queued' THEN NULL ELSE end_date END
             WHERE id = $3 AND state = $4 AND ($5::text IS NULL OR lease_owner = $5)",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .bind(from.as_str())
        .bind(fence)
        .execute(&self.pool)
        .await?;
        expect_one(
            done.rows_affected(),
            || format!("DagRun #{id}"),
            from.as_str(),
        )
    }

    async fn set_task_state(
        &self,
        ti_id: i64,
        from: TaskState,
        to: TaskState,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        from.transition(to)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(sqlx::AssertSqlSafe(set_task_state_sql()))
            .bind(to.as_str())
            .bind(now)
            .bind(ti_id)
            .bind(from.as_str())
            .bind(fence)
            .execute(&self.pool)
            .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id}"),
            from.as_str(),
        )
    }

    async fn start_try(
        &self,
        ti_id: i64,
        from: TaskState,
        try_number: u32,
        log_path: &str,
        now: DateTime<Utc>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        from.transition(TaskState::Running)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(sqlx::AssertSqlSafe(start_try_sql()))
            .bind(i64::from(try_number))
            .bind(now)
            .bind(log_path)
            .bind(ti_id)
            .bind(from.as_str())
            .bind(fence)
            .execute(&self.pool)
            .await?;
        expect_one(
            done.rows_affected(),
            || format!("TaskInstance #{ti_id}"),
            from.as_str(),
        )
    }

    async fn finish_try(
        &self,
        ti_id: i64,
        try_number: u32,
        end: &TryEnd<'_>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        TaskState::Running
            .transition(end.state)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(sqlx::AssertSqlSafe(finish_try_sql()))
            .bind(end.state.as_str())
            .bind(end.now)
            .bind(end.output.map(|o| o.to_string()))
            .bind(end.error)
            .bind(end.next_retry_at)
            .bind(ti_id)
            .bind(i64::from(try_number))
            .bind(fence)
            .execute(&self.pool)
            .await?;
        running_try(done.rows_affected(), ti_id, try_number)
    }

    async fn set_external(
        &self,
        ti_id: i64,
        try_number: u32,
        external_id: &str,
        url: Option<&str>,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE task_instances SET external_id = $1, external_url = $2
             WHERE id = $3 AND state = 'running' AND try_number = $4
               AND ($5::text IS NULL OR {FENCED} = $5)"
        )))
        .bind(external_id)
        .bind(url)
        .bind(ti_id)
        .bind(i64::from(try_number))
        .bind(fence)
        .execute(&self.pool)
        .await?;
        running_try(done.rows_affected(), ti_id, try_number)
    }

    async fn set_process_group(
        &self,
        ti_id: i64,
        try_number: u32,
        group: &ProcessGroup,
        fence: Fence<'_>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE task_instances SET pgid = $1, pg_owner = $2, pg_boot_id = $3
             WHERE id = $4 AND state = 'running' AND try_number = $5
               AND ($6::text IS NULL OR {FENCED} = $6)"
        )))
        .bind(group.pgid)
        .bind(&group.owner)
        .bind(&group.boot_id)
        .bind(ti_id)
        .bind(i64::from(try_number))
        .bind(fence)
        .execute(&self.pool)
        .await?;
        running_try(done.rows_affected(), ti_id, try_number)
    }

    async fn clear_task_instance(
        &self,
        ti_id: i64,
        from: TaskState,
        max_tries: u32,
    ) -> Result<(), StoreError> {
        from.transition(TaskState::None)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE task_instances SET state = 'none', end_date = NULL, next_retry_at = NULL,
                error = NULL, output = NULL, max_tries = $1
             WHERE id = $2 AND state = $3",
        )
        .bind(i64::from(max_tries))
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

    async fn delete_dag_run(
        &self,
        id: i64,
        state: RunState,
        lease_owner: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // task instances and tries go with the run (ON DELETE CASCADE)
        let logs: Vec<String> = sqlx::query_scalar(
            "SELECT t.log_path FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
             WHERE ti.dag_run_id = $1 AND t.log_path <> ''",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let done =
            sqlx::query(
                "DELETE FROM dag_runs WHERE id = $1 AND state = $2 AND lease_owner IS NOT DISTINCT FROM $3",
            )
                .bind(id)
                .bind(state.as_str())
                .bind(lease_owner)
                .execute(&mut *tx)
                .await?;
        expect_one(
            done.rows_affected(),
            || format!("DagRun #{id}"),
            state.as_str(),
        )?;
        tx.commit().await?;
        Ok(logs)
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // PostgreSQL checkpoints its own WAL
        Ok(())
    }

    async fn clean(&self, before: DateTime<Utc>, dry_run: bool) -> Result<Cleaned, StoreError> {
        let sql = clean_sql("$1");
        let mut tx = self.pool.begin().await?;
        let mut counts = [0; 5];
        for (count, query) in counts.iter_mut().zip(&sql.counts) {
            *count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query.as_str()))
                .bind(before)
                .fetch_one(&mut *tx)
                .await?;
        }
        let mut cleaned = Cleaned::counted(counts);
        if dry_run {
            return Ok(cleaned);
        }
        cleaned.log_paths = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.log_paths.as_str()))
            .bind(before)
            .fetch_all(&mut *tx)
            .await?;
        for query in &sql.deletes {
            sqlx::query(sqlx::AssertSqlSafe(query.as_str()))
                .bind(before)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(cleaned)
    }

    async fn notify(&self, payloads: &[String]) -> Result<(), StoreError> {
        if payloads.is_empty() {
            return Ok(());
        }
        // one round trip for the whole burst; delivered on commit (at once:
        // the statement is its own transaction)
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(&self.channel)
            .bind(payloads)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, StoreError> {
        super::events::listen(&self.options, &self.channel, &self.location)
            .await
            .map(Some)
    }
}
