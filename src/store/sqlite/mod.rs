//! The SQLite store (the default, embedded): WAL mode, migrations in
//! `migrations/sqlite`, compare-and-swap writes, and the triggers that record
//! every try in the same statement that moves its task instance. Nothing
//! SQLite-specific leaves this module.

mod reads;
mod rows;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Access, Cleaned, Fence, NewDagRun, NewDagVersion, StateWrite, StoreError, TryEnd};
use crate::model::{DagId, DagRun, Lease, Owner, ProcessGroup, RunState, TaskInstance, TaskState};
use crate::store::cas::{expect_one, running_try};
use crate::store::cleaning::clean_sql;
use crate::store::records::Rec;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

/// A handle on one SQLite database; cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    /// The `-wal` file beside the database.
    wal: std::path::PathBuf,
    /// When this handle last wrote (unix ms), and whether the WAL was
    /// truncated since: an idle daemon gives the WAL's disk space back.
    last_write: std::sync::Arc<std::sync::atomic::AtomicI64>,
    truncated: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// When the last passive checkpoint ran (unix ms).
    last_passive: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// The WAL file is cut back to this size whenever a checkpoint resets it.
const WAL_SIZE_LIMIT: &str = "67108864";

/// After this long without a state change (heartbeats aside), a checkpoint
/// truncates the WAL to zero.
const IDLE_BEFORE_TRUNCATE: chrono::Duration = chrono::Duration::seconds(5);

/// A WAL larger than this is checkpointed and restarted even under load
/// (readers are waited for), so it never grows without bound.
const WAL_RESTART_AT: u64 = 16 * 1024 * 1024;

/// Connections to the database, at most.
const POOL_SIZE: u32 = 4;

impl SqliteStore {
    /// Opens the database at `path`. Read-write: created if missing, WAL,
    /// every migration applied, SQLite's automatic checkpoints off (the
    /// daemon checkpoints in the background so no state change waits for
    /// one). Read-only: never created, migrated or written.
    pub(super) async fn open(path: &Path, access: Access) -> Result<SqliteStore, StoreError> {
        let open_error = |err: sqlx::Error| StoreError::Open {
            path: path.display().to_string(),
            message: err.to_string(),
        };
        let mut options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(open_error)?
            .filename(path)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if access == Access::ReadWrite {
            // before anything is written to it (WAL mode, migrations):
            // another application's database is refused as it is
            refuse_foreign(path, options.clone()).await?;
        }
        options = match access {
            Access::ReadWrite => options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", WAL_SIZE_LIMIT),
            Access::ReadOnly => {
                if !path.exists() {
                    return Err(StoreError::Missing(path.display().to_string()));
                }
                // a read-only connection to a WAL database still creates the
                // -wal and -shm files; after a clean stop the WAL is empty and
                // gone, so the file alone is the whole state: read it as
                // immutable, which touches nothing beside it
                options.read_only(true).immutable(!wal_path(path).exists())
            }
        };
        // connections are kept once opened (and the daemon's are all
        // opened below): one opened later, when the process is out of file
        // descriptors, would fail a state change
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        if access == Access::ReadWrite {
            sqlx::migrate!("./migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|err| StoreError::Migrate {
                    path: path.display().to_string(),
                    message: err.to_string(),
                })?;
            // one after the other, once the database is recovered and
            // migrated: opened together they could find it busy
            let mut opened = Vec::with_capacity(POOL_SIZE as usize);
            for _ in 0..POOL_SIZE {
                opened.push(pool.acquire().await.map_err(open_error)?);
            }
        }
        Ok(SqliteStore {
            pool,
            wal: wal_path(path),
            last_write: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
                chrono::Utc::now().timestamp_millis(),
            )),
            truncated: std::sync::Arc::default(),
            last_passive: std::sync::Arc::default(),
        })
    }

    /// Notes a write, for the checkpoint's idle test.
    fn wrote(&self) {
        self.last_write.store(
            chrono::Utc::now().timestamp_millis(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.truncated
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The `-wal` file of the database at `path`.
fn wal_path(path: &Path) -> std::path::PathBuf {
    path.with_file_name(format!(
        "{}-wal",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ))
}

/// Refuses an existing, non-empty SQLite file that is not an airless
/// database (it has tables but no airless migrations), reading it only.
async fn refuse_foreign(path: &Path, options: SqliteConnectOptions) -> Result<(), StoreError> {
    let non_empty = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !non_empty {
        return Ok(());
    }
    let open_error = |err: sqlx::Error| StoreError::Open {
        path: path.display().to_string(),
        message: err.to_string(),
    };
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.read_only(true))
        .await
        .map_err(open_error)?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .map_err(open_error)?;
    pool.close().await;
    let ours =
        tables.iter().any(|t| t == "_sqlx_migrations") && tables.iter().any(|t| t == "dag_runs");
    if tables.is_empty() || ours {
        return Ok(());
    }
    let mut listed: Vec<String> = tables.into_iter().take(5).collect();
    if listed.len() == 5 {
        listed.push("…".into());
    }
    Err(StoreError::Foreign {
        path: path.display().to_string(),
        tables: listed.join(", "),
    })
}

// Task-instance writes by a driver are fenced by its run's lease: the
// statement changes nothing unless the run is still held by `fence` (a
// `NULL` fence is a write on a run nobody drives).
const SET_TASK_STATE: &str = "UPDATE task_instances SET state = ?1,
        end_date = CASE WHEN ?1 IN ('skipped', 'upstream_failed', 'failed', 'success') THEN ?2 WHEN ?1 = 'none' THEN NULL ELSE end_date END
     WHERE id = ?3 AND state = ?4
       AND (?5 IS NULL OR (SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id) = ?5)";

// one statement: the `task_try_started` trigger records the try
const START_TRY: &str = "UPDATE task_instances SET state = 'running', try_number = ?1, start_date = ?2, end_date = NULL,
        next_retry_at = NULL, error = NULL, external_id = NULL, external_url = NULL, log_path = ?3,
        pgid = NULL, pg_owner = NULL, pg_boot_id = NULL
     WHERE id = ?4 AND state = ?5
       AND (?6 IS NULL OR (SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id) = ?6)";

// one statement: the `task_try_ended` trigger closes the try's row
const FINISH_TRY: &str = "UPDATE task_instances SET state = ?1, end_date = ?2, output = ?3, error = ?4, next_retry_at = ?5
     WHERE id = ?6 AND state = 'running' AND try_number = ?7
       AND (?8 IS NULL OR (SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id) = ?8)";

/// Applies the migrations the SQLite database at `path` lacks (creating
/// it); returns the versions applied now.
pub(super) async fn migrate(path: &Path) -> Result<Vec<i64>, StoreError> {
    let before = match SqliteStore::open(path, Access::ReadOnly).await {
        Ok(store) => {
            let versions = applied_versions(&store.pool).await.unwrap_or_default();
            store.pool.close().await;
            versions
        }
        Err(_) => Vec::new(),
    };
    let store = SqliteStore::open(path, Access::ReadWrite).await?;
    let after = applied_versions(&store.pool).await?;
    store.pool.close().await;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

async fn applied_versions(pool: &SqlitePool) -> Result<Vec<i64>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}

#[async_trait::async_trait]
impl StateWrite for SqliteStore {
    async fn insert_owner(&self, owner: &Owner) -> Result<(), StoreError> {
        self.wrote();
        sqlx::query(
            "INSERT INTO owners (id, kind, host, pid, pid_start, boot_id, started_at, heartbeat_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&owner.id)
        .bind(owner.kind.as_str())
        .bind(&owner.host)
        .bind(owner.pid)
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
        self.wrote();
        let done = sqlx::query(
            "INSERT INTO scheduler_lock (id, owner_id) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET owner_id = excluded.owner_id
             WHERE scheduler_lock.owner_id IS ?2",
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
        sqlx::query("UPDATE owners SET heartbeat_at = ? WHERE id = ?")
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        let held: Vec<i64> = sqlx::query_scalar(
            "UPDATE dag_runs SET lease_expires_at = ?1
             WHERE lease_owner = ?2 AND state IN ('queued', 'running') RETURNING id",
        )
        .bind(lease_until)
        .bind(owner)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(held)
    }

    async fn stop_owner(&self, owner: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.wrote();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE owners SET stopped_at = ?, heartbeat_at = ? WHERE id = ?")
            .bind(now)
            .bind(now)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE dag_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = ?",
        )
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM scheduler_lock WHERE owner_id = ?")
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
        self.wrote();
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(dags.len());
        for dag in dags {
            // a write first, so the transaction holds SQLite's write lock from
            // its start (a read first could not upgrade beside a writer); the
            // DAG's row points at its version at once when the text is known
            let known: Option<i64> = sqlx::query_scalar(
                "INSERT INTO dags (dag_id, is_paused, fileloc, last_parsed_at, latest_version)
                 VALUES (?1, ?2, ?3, ?4, (SELECT id FROM dag_versions WHERE dag_id = ?1 AND hash = ?5))
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
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO dag_versions (dag_id, version_number, hash, source, fileloc, created_at)
                         VALUES (?1, (SELECT COALESCE(MAX(version_number), 0) + 1 FROM dag_versions WHERE dag_id = ?1), ?2, ?3, ?4, ?5)
                         RETURNING id",
                    )
                    .bind(dag.dag_id.as_str())
                    .bind(dag.hash)
                    .bind(dag.source)
                    .bind(&dag.fileloc)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE dags SET latest_version = ? WHERE dag_id = ?")
                        .bind(id)
                        .bind(dag.dag_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                    id
                }
            };
            ids.push(id);
            sqlx::query("DELETE FROM alert_routes WHERE dag_id = ?")
                .bind(dag.dag_id.as_str())
                .execute(&mut *tx)
                .await?;
            for (task_id, event, channel) in &dag.alert_routes {
                sqlx::query(
                    "INSERT OR IGNORE INTO alert_routes (dag_id, task_id, event, channel) VALUES (?, ?, ?, ?)",
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
        self.wrote();
        sqlx::query(
            "UPDATE alerts SET status = 'delivered', delivered_at = ?1, attempts = attempts + 1, last_error = NULL
             WHERE id IN (SELECT value FROM json_each(?2)) AND status = 'pending'",
        )
        .bind(now)
        .bind(serde_json::Value::from(ids.to_vec()).to_string())
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
        self.wrote();
        sqlx::query(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?1,
                status = CASE WHEN ?2 IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = COALESCE(?2, next_attempt_at)
             WHERE id IN (SELECT value FROM json_each(?3)) AND status = 'pending'",
        )
        .bind(error)
        .bind(next)
        .bind(serde_json::Value::from(ids.to_vec()).to_string())
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
        self.wrote();
        let mut tx = self.pool.begin().await?;
        for channel in channels {
            sqlx::query(
                "INSERT INTO alerts (channel, event, dag_id, error, created_at, next_attempt_at)
                 VALUES (?1, 'import_error', ?2, ?3, ?4, ?4)",
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
        self.wrote();
        let mut tx = self.pool.begin().await?;
        for channel in channels {
            // a task's deadline alert has try 0: once per instance
            sqlx::query(
                "INSERT OR IGNORE INTO alerts (channel, event, dag_id, dag_run_id, task_instance_id,
                                               task_id, try_number, state, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            )
            .bind(channel)
            .bind(event)
            .bind(run.dag_id.as_str())
            .bind(run.id)
            .bind(ti.map(|t| t.id))
            .bind(ti.map(|t| t.task_id.as_str()))
            .bind(ti.map(|_| 0))
            .bind(ti.map_or(run.state.as_str(), |t| t.state.as_str()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_paused(&self, dag_id: &DagId, paused: bool) -> Result<bool, StoreError> {
        self.wrote();
        let known: Option<bool> = sqlx::query_scalar("SELECT is_paused FROM dags WHERE dag_id = ?")
            .bind(dag_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match known {
            None => Err(StoreError::NotFound(format!("DAG `{dag_id}`"))),
            Some(now) if now == paused => Ok(false),
            Some(now) => {
                let done =
                    sqlx::query("UPDATE dags SET is_paused = ? WHERE dag_id = ? AND is_paused = ?")
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
        self.wrote();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO dag_runs (dag_id, run_id, run_type, state, logical_date, data_interval_start,
                                   data_interval_end, conf, queued_at, dag_version, lease_owner, lease_expires_at)
             VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
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
        let run = sqlx::query_as::<_, Rec<DagRun>>("SELECT * FROM dag_runs WHERE id = ?")
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
        self.wrote();
        // one statement: SQLite's single writer makes the count and the
        // claim atomic
        let done = sqlx::query(
            "UPDATE dag_runs SET lease_owner = ?1, lease_expires_at = ?2
             WHERE id = ?3 AND state IN ('queued', 'running')
               AND lease_owner IS ?4 AND (?5 IS NULL OR lease_expires_at = ?5)
               AND (?6 IS NULL OR (SELECT COUNT(*) FROM dag_runs o
                                   WHERE o.dag_id = dag_runs.dag_id AND o.id <> dag_runs.id
                                     AND (o.state = 'running'
                                          OR (o.state = 'queued' AND o.lease_owner IS NOT NULL))) < ?6)",
        )
        .bind(owner)
        .bind(until)
        .bind(id)
        .bind(observed.map(|l| l.owner.as_str()))
        .bind(observed.map(|l| l.expires_at))
        .bind(max_active)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_run(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        self.wrote();
        sqlx::query(
            "UPDATE dag_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?",
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
        self.wrote();
        from.transition(to).map_err(|e| StoreError::Conflict {
            what: format!("DagRun #{id}"),
            expected: e.to_string(),
        })?;
        let done = sqlx::query(
            "UPDATE dag_runs SET state = ?1,
                start_date = CASE WHEN ?1 = 'running' AND start_date IS NULL THEN ?2 ELSE start_date END,
                end_date = CASE WHEN ?1 IN ('success', 'failed') THEN ?2 WHEN ?1 = 'queued' THEN NULL ELSE end_date END
             WHERE id = ?3 AND state = ?4 AND (?5 IS NULL OR lease_owner = ?5)",
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
        self.wrote();
        from.transition(to)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(SET_TASK_STATE)
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
        self.wrote();
        from.transition(TaskState::Running)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(START_TRY)
            .bind(try_number)
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
        self.wrote();
        TaskState::Running
            .transition(end.state)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(FINISH_TRY)
            .bind(end.state.as_str())
            .bind(end.now)
            .bind(end.output.map(|o| o.to_string()))
            .bind(end.error)
            .bind(end.next_retry_at)
            .bind(ti_id)
            .bind(try_number)
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
        self.wrote();
        let done = sqlx::query(
            "UPDATE task_instances SET external_id = ?1, external_url = ?2
             WHERE id = ?3 AND state = 'running' AND try_number = ?4
               AND (?5 IS NULL OR (SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id) = ?5)",
        )
        .bind(external_id)
        .bind(url)
        .bind(ti_id)
        .bind(try_number)
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
        self.wrote();
        let done = sqlx::query(
            "UPDATE task_instances SET pgid = ?1, pg_owner = ?2, pg_boot_id = ?3
             WHERE id = ?4 AND state = 'running' AND try_number = ?5
               AND (?6 IS NULL OR (SELECT lease_owner FROM dag_runs WHERE dag_runs.id = task_instances.dag_run_id) = ?6)",
        )
        .bind(group.pgid)
        .bind(&group.owner)
        .bind(&group.boot_id)
        .bind(ti_id)
        .bind(try_number)
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
        self.wrote();
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

    async fn delete_dag_run(
        &self,
        id: i64,
        state: RunState,
        lease_owner: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        self.wrote();
        let mut tx = self.pool.begin().await?;
        // task instances and tries go with the run (ON DELETE CASCADE)
        let logs: Vec<String> = sqlx::query_scalar(
            "SELECT t.log_path FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
             WHERE ti.dag_run_id = ? AND t.log_path <> ''",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let done =
            sqlx::query("DELETE FROM dag_runs WHERE id = ? AND state = ? AND lease_owner IS ?")
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
        use std::sync::atomic::Ordering::Relaxed;
        let idle = chrono::Utc::now().timestamp_millis() - self.last_write.load(Relaxed)
            > IDLE_BEFORE_TRUNCATE.num_milliseconds();
        let large = std::fs::metadata(&self.wal).is_ok_and(|m| m.len() > WAL_RESTART_AT);
        if large || (idle && !self.truncated.load(Relaxed)) {
            // grown large, or nothing written for a while: copy everything
            // back and cut the WAL file to zero (readers are waited for)
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await?;
            self.truncated.store(busy == 0, Relaxed);
        } else {
            // the size is looked at often; a passive copy once a second at
            // most, and none while nothing changes
            let now = chrono::Utc::now().timestamp_millis();
            if now - self.last_passive.load(Relaxed) >= 1000 && !self.truncated.load(Relaxed) {
                self.last_passive.store(now, Relaxed);
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn clean(&self, before: DateTime<Utc>, dry_run: bool) -> Result<Cleaned, StoreError> {
        let sql = clean_sql("?1");
        let mut tx = self.pool.begin().await?;
        if !dry_run {
            // a write first: the transaction holds the write lock from its start
            self.wrote();
            sqlx::query("UPDATE dags SET dag_id = dag_id WHERE 0")
                .execute(&mut *tx)
                .await?;
        }
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

    async fn notify(&self, _payloads: &[String]) -> Result<(), StoreError> {
        // one scheduler per SQLite database: nobody else to tell
        Ok(())
    }

    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, StoreError> {
        Ok(None)
    }
}
