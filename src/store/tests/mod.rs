//! The store's contract, written once and run against every backend: a
//! fresh SQLite file always, and PostgreSQL (a fresh schema per test) when
//! it answers. `AIRLESS_TEST_POSTGRES` names the PostgreSQL database and
//! makes it required; without it, a local server is tried and skipped
//! (with a note) when it is down.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::{
    Access, Bounds, Cleaned, DagRunOrder, DagRunQuery, Location, NewDagRun, NewDagVersion, Reader,
    StoreError, TaskInstanceOrder, TaskInstanceQuery, TryEnd, Writer,
};
use crate::model::{
    DagId, DagRun, Lease, Owner, OwnerKind, ProcessGroup, RunId, RunState, RunType, TaskId,
    TaskInstance, TaskState,
};

mod alerts;
mod clean;
mod dags;
mod leases;
mod opening;
mod reads;
mod runs;
mod tries;

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static SKIPPED: Once = Once::new();
static SCHEMAS: AtomicU64 = AtomicU64::new(0);

/// One store under test.
struct Backend {
    name: &'static str,
    reader: Reader,
    writer: Writer,
    location: Location,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<Schema>,
}

impl Backend {
    /// Another handle on the same database (another process, a peer).
    async fn reopen(&self) -> (Reader, Writer) {
        super::open(self.location.clone()).await.expect("reopen")
    }

    fn is_postgres(&self) -> bool {
        matches!(self.location, Location::Postgres { .. })
    }
}

/// A PostgreSQL schema made for one test, dropped (best effort) after it.
struct Schema {
    admin_url: String,
    name: String,
}

impl Schema {
    /// A fresh, empty schema, and the URL whose connections use it; `None`
    /// when PostgreSQL is unreachable and not required.
    async fn create() -> Option<(Schema, String)> {
        let (admin_url, required) = match std::env::var("AIRLESS_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => (url.trim().to_string(), true),
            _ => (LOCAL_POSTGRES.to_string(), false),
        };
        let connected =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
        let reason = match connected {
            Ok(Ok(mut conn)) => {
                let nanos = Utc::now().timestamp_subsec_nanos();
                let name = format!(
                    "t_{}_{nanos}_{}",
                    std::process::id(),
                    SCHEMAS.fetch_add(1, Ordering::Relaxed)
                );
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create a test schema");
                let _ = conn.close().await;
                let separator = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
                return Some((Schema { admin_url, name }, url));
            }
            Ok(Err(err)) => err.to_string(),
            Err(_) => "no answer within 5 s".to_string(),
        };
        assert!(
            !required,
            "AIRLESS_TEST_POSTGRES is set but PostgreSQL is unreachable: {reason}"
        );
        SKIPPED.call_once(|| {
            eprintln!("skipped the PostgreSQL backend: {reason}; .ci/run starts it");
        });
        None
    }

    /// Runs `sql` in this schema's database (as the test's administrator).
    async fn execute(&self, sql: &str) {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .expect("run sql");
        let _ = conn.close().await;
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // on a thread of its own: Drop cannot await, and the test's runtime
        // may be ending
        let url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&url).await {
                    let _ = sqlx::query("SET lock_timeout = '5s'")
                        .execute(&mut conn)
                        .await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

async fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let location = Location::Sqlite(dir.path().join("airless.db"));
    let (reader, writer) = super::open(location.clone()).await.expect("open sqlite");
    Backend {
        name: "sqlite",
        reader,
        writer,
        location,
        _dir: Some(dir),
        _schema: None,
    }
}

async fn postgres_backend() -> Option<Backend> {
    let (schema, url) = Schema::create().await?;
    let location = Location::parse(&url);
    let (reader, writer) = super::open(location.clone()).await.expect("open postgres");
    Some(Backend {
        name: "postgres",
        reader,
        writer,
        location,
        _dir: None,
        _schema: Some(schema),
    })
}

/// The stores every test runs against.
async fn backends() -> Vec<Backend> {
    let mut all = vec![sqlite_backend().await];
    all.extend(postgres_backend().await);
    all
}

/// A whole-second instant (every backend keeps it exactly).
fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200 + seconds, 0).expect("a valid instant")
}

/// A whole-millisecond instant.
fn t_ms(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_704_067_200_000 + millis).expect("a valid instant")
}

/// Records `dag` (source `source`) with `routes`; returns its version id.
async fn register(
    writer: &Writer,
    dag: &str,
    source: &str,
    routes: &[(&str, &'static str, &str)],
) -> i64 {
    let dag_id = DagId::new(dag);
    let hash = format!("hash of {source}");
    let ids = writer
        .register_dags(
            &[NewDagVersion {
                dag_id: &dag_id,
                fileloc: format!("/dags/{dag}.yaml"),
                is_paused_upon_creation: false,
                hash: &hash,
                source,
                alert_routes: routes
                    .iter()
                    .map(|(task, event, channel)| (task.to_string(), *event, channel.to_string()))
                    .collect(),
            }],
            t(0),
        )
        .await
        .expect("register");
    ids[0]
}

/// A run of `dag` at `logical` (queued then, interval of an hour) with
/// `tasks`, each allowed two tries.
async fn try_create(
    writer: &Writer,
    dag: &str,
    run_id: &str,
    run_type: RunType,
    logical: DateTime<Utc>,
    tasks: &[&str],
) -> Result<DagRun, StoreError> {
    let dag_id = DagId::new(dag);
    let run = RunId::new(run_id);
    let task_ids: Vec<TaskId> = tasks.iter().map(|t| TaskId::new(*t)).collect();
    let conf = json!({ "run": run_id, "n": 1 });
    writer
        .create_dag_run(&NewDagRun {
            dag_id: &dag_id,
            run_id: &run,
            run_type,
            logical_date: logical,
            data_interval: (logical, logical + chrono::Duration::hours(1)),
            conf: &conf,
            tasks: task_ids.iter().map(|t| (t, 2)).collect(),
            dag_version: None,
            lease: None,
            now: logical,
        })
        .await
}

async fn create(
    writer: &Writer,
    dag: &str,
    run_id: &str,
    run_type: RunType,
    logical: DateTime<Utc>,
    tasks: &[&str],
) -> DagRun {
    try_create(writer, dag, run_id, run_type, logical, tasks)
        .await
        .expect("create a run")
}

async fn ti(reader: &Reader, run: &DagRun, task: &str) -> TaskInstance {
    reader
        .task_instances(run.id)
        .await
        .expect("task instances")
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task)
        .expect("the task instance")
}

fn end<'a>(state: TaskState, now: DateTime<Utc>, error: Option<&'a str>) -> TryEnd<'a> {
    TryEnd {
        state,
        output: None,
        error,
        next_retry_at: None,
        now,
    }
}

/// Runs one try of `task` from `none`: started at `start`, ended `state` at `finish`.
async fn run_try(
    b: &Backend,
    run: &DagRun,
    task: &str,
    start: DateTime<Utc>,
    finish: DateTime<Utc>,
    state: TaskState,
) -> TaskInstance {
    let instance = ti(&b.reader, run, task).await;
    let log = format!("/logs/{}/{task}/1.log", run.run_id);
    b.writer
        .start_try(
            instance.id,
            instance.state,
            instance.try_number + 1,
            &log,
            start,
            None,
        )
        .await
        .expect("start a try");
    b.writer
        .finish_try(
            instance.id,
            instance.try_number + 1,
            &end(state, finish, None),
            None,
        )
        .await
        .expect("finish a try");
    ti(&b.reader, run, task).await
}

fn owner(id: &str, at: DateTime<Utc>) -> Owner {
    Owner {
        id: id.to_string(),
        kind: OwnerKind::Serve,
        host: "host-1".into(),
        pid: 4242,
        pid_start: 123_456_789,
        boot_id: "boot-1".into(),
        started_at: at,
        heartbeat_at: at,
        stopped_at: None,
    }
}

fn is_conflict(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict { .. }))
}

fn all_runs() -> DagRunQuery<'static> {
    DagRunQuery {
        dag_ids: None,
        states: &[],
        run_types: &[],
        logical_date: Bounds::default(),
        start_date: Bounds::default(),
        end_date: Bounds::default(),
        updated_at: Bounds::default(),
        order: DagRunOrder::Id,
        descending: false,
        limit: 100,
        offset: 0,
    }
}

fn all_task_instances() -> TaskInstanceQuery<'static> {
    TaskInstanceQuery {
        dag_ids: None,
        run_ids: None,
        task_ids: None,
        states: None,
        logical_date: Bounds::default(),
        start_date: Bounds::default(),
        end_date: Bounds::default(),
        updated_at: Bounds::default(),
        duration: Bounds::default(),
        order: TaskInstanceOrder::Id,
        descending: false,
        limit: 100,
        offset: 0,
    }
}

fn run_ids(runs: &[DagRun]) -> Vec<String> {
    runs.iter()
        .map(|r| format!("{}/{}", r.dag_id, r.run_id))
        .collect()
}
