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
    Access, Bounds, Cleaned, DagRunOrder, DagRunQuery, Location, NewDagRun, NewDagVersion,
    Reader, StoreError, TaskInstanceOrder, TaskInstanceQuery, TryEnd, Writer,
};
use crate::model::{
    DagId, DagRun, Lease, Owner, OwnerKind, ProcessGroup, RunId, RunState, RunType, TaskId,
    TaskInstance, TaskState,
};

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
    let (reader, writer) = super::open(location.clone())
        .await
        .expect("open postgres");
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
        .start_try(instance.id, instance.state, instance.try_number + 1, &log, start, None)
        .await
        .expect("start a try");
    b.writer
        .finish_try(instance.id, instance.try_number + 1, &end(state, finish, None), None)
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
    runs.iter().map(|r| format!("{}/{}", r.dag_id, r.run_id)).collect()
}

#[tokio::test]
async fn a_created_run_is_queued_with_every_task_instance() {
    for b in backends().await {
        let n = b.name;
        assert_eq!(b.reader.is_shared(), b.is_postgres(), "{n}");
        b.reader.ping().await.expect("ping");
        let version = register(&b.writer, "etl", "v1", &[]).await;
        let dag_id = DagId::new("etl");
        let run_id = RunId::new("manual__1");
        let conf = json!({ "rows": [1, 2], "name": "é" });
        let (x, y) = (TaskId::new("extract"), TaskId::new("load"));
        let run = b
            .writer
            .create_dag_run(&NewDagRun {
                dag_id: &dag_id,
                run_id: &run_id,
                run_type: RunType::Manual,
                logical_date: t(60),
                data_interval: (t(0), t(60)),
                conf: &conf,
                tasks: vec![(&x, 3), (&y, 1)],
                dag_version: Some(version),
                lease: Some(Lease {
                    owner: "me".into(),
                    expires_at: t(90),
                }),
                now: t(61),
            })
            .await
            .expect("create");
        assert_eq!(run.state, RunState::Queued, "{n}");
        assert_eq!(run.run_type, RunType::Manual, "{n}");
        assert_eq!(run.logical_date, t(60), "{n}");
        assert_eq!((run.data_interval_start, run.data_interval_end), (t(0), t(60)), "{n}");
        assert_eq!(run.conf, conf, "{n}");
        assert_eq!(run.queued_at, t(61), "{n}");
        assert_eq!((run.start_date, run.end_date), (None, None), "{n}");
        assert_eq!(run.dag_version, Some(version), "{n}");
        assert_eq!(
            run.lease,
            Some(Lease {
                owner: "me".into(),
                expires_at: t(90)
            }),
            "{n}"
        );

        let read = b.reader.dag_run(run.id).await.expect("dag_run");
        assert_eq!((read.id, read.conf.clone()), (run.id, conf.clone()), "{n}");
        let found = b.reader.find_dag_run(&dag_id, &run_id).await.expect("find");
        assert_eq!(found.map(|r| r.id), Some(run.id), "{n}");
        let missing = b
            .reader
            .find_dag_run(&dag_id, &RunId::new("nope"))
            .await
            .expect("find");
        assert!(missing.is_none(), "{n}");
        assert!(
            matches!(b.reader.dag_run(run.id + 1000).await, Err(StoreError::NotFound(_))),
            "{n}"
        );

        let tis = b.reader.task_instances(run.id).await.expect("tis");
        let shape: Vec<(String, TaskState, u32, u32)> = tis
            .iter()
            .map(|ti| (ti.task_id.to_string(), ti.state, ti.try_number, ti.max_tries))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("extract".to_string(), TaskState::None, 0, 3),
                ("load".to_string(), TaskState::None, 0, 1)
            ],
            "{n}"
        );
        assert!(tis.iter().all(|ti| ti.dag_run_id == run.id
            && ti.start_date.is_none()
            && ti.output.is_none()
            && ti.process_group.is_none()));
        assert!(b.reader.task_tries(tis[0].id).await.expect("tries").is_empty());
    }
}

#[tokio::test]
async fn a_duplicate_run_id_and_a_duplicate_interval_are_told_apart() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        create(&b.writer, "etl", "scheduled__0", RunType::Scheduled, t(0), &["a"]).await;

        let same_id = try_create(&b.writer, "etl", "scheduled__0", RunType::Manual, t(5), &["a"]).await;
        assert!(
            matches!(&same_id, Err(StoreError::DuplicateRun { run_id, .. }) if run_id.as_str() == "scheduled__0"),
            "{n}: {same_id:?}"
        );
        let same_interval =
            try_create(&b.writer, "etl", "scheduled__again", RunType::Scheduled, t(0), &["a"]).await;
        assert!(
            matches!(&same_interval, Err(StoreError::DuplicateInterval { logical_date, .. }) if *logical_date == t(0)),
            "{n}: {same_interval:?}"
        );
        let backfill = try_create(&b.writer, "etl", "backfill__0", RunType::Backfill, t(0), &["a"]).await;
        assert!(
            matches!(backfill, Err(StoreError::DuplicateInterval { .. })),
            "{n}: a backfill takes the interval too"
        );
        // a manual run may share a scheduled run's logical date
        create(&b.writer, "etl", "manual__0", RunType::Manual, t(0), &["a"]).await;

        // nothing of the refused runs was left behind
        let (runs, total) = b.reader.dag_run_page(&all_runs()).await.expect("page");
        assert_eq!(total, 2, "{n}: {:?}", run_ids(&runs));
        let page = b
            .reader
            .task_instance_page(&all_task_instances())
            .await
            .expect("tis");
        assert_eq!(page.total, 2, "{n}");
        let unknown_dag = try_create(&b.writer, "nope", "manual__0", RunType::Manual, t(0), &[]).await;
        assert!(matches!(unknown_dag, Err(StoreError::Database(_))), "{n}: {unknown_dag:?}");
    }
}

#[tokio::test]
async fn run_states_change_by_compare_and_swap() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a"]).await;
        let w = &b.writer;
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(10), None)
            .await
            .expect("start");
        assert!(
            is_conflict(w.set_run_state(run.id, RunState::Queued, RunState::Running, t(11), None).await),
            "{n}: from a state it left"
        );
        assert!(
            is_conflict(w.set_run_state(run.id, RunState::Running, RunState::Queued, t(11), None).await),
            "{n}: a transition the model forbids"
        );
        let running = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!((running.state, running.start_date, running.end_date), (RunState::Running, Some(t(10)), None), "{n}");

        w.set_run_state(run.id, RunState::Running, RunState::Success, t(20), None)
            .await
            .expect("finish");
        let done = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!((done.state, done.start_date, done.end_date), (RunState::Success, Some(t(10)), Some(t(20))), "{n}");

        // cleared: back to work, the first start kept
        w.set_run_state(run.id, RunState::Success, RunState::Queued, t(30), None)
            .await
            .expect("requeue");
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(40), None)
            .await
            .expect("restart");
        let again = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!((again.state, again.start_date, again.end_date), (RunState::Running, Some(t(10)), None), "{n}");
        assert!(
            is_conflict(w.set_run_state(run.id + 99, RunState::Queued, RunState::Running, t(40), None).await),
            "{n}: an unknown run"
        );
    }
}

#[tokio::test]
async fn task_states_change_by_compare_and_swap() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a", "b"]).await;
        let a = ti(&b.reader, &run, "a").await;
        let w = &b.writer;
        w.set_task_state(a.id, TaskState::None, TaskState::Queued, t(1), None)
            .await
            .expect("queue");
        assert!(
            is_conflict(w.set_task_state(a.id, TaskState::None, TaskState::Skipped, t(2), None).await),
            "{n}"
        );
        assert_eq!(ti(&b.reader, &run, "a").await.state, TaskState::Queued, "{n}: unchanged");
        assert!(
            matches!(
                w.set_task_state(a.id, TaskState::Queued, TaskState::UpForRetry, t(2), None).await,
                Err(StoreError::Corrupt(_))
            ),
            "{n}: a transition the model forbids"
        );
        w.set_task_state(a.id, TaskState::Queued, TaskState::Skipped, t(3), None)
            .await
            .expect("skip");
        let skipped = ti(&b.reader, &run, "a").await;
        assert_eq!((skipped.state, skipped.end_date), (TaskState::Skipped, Some(t(3))), "{n}");
        w.set_task_state(a.id, TaskState::Skipped, TaskState::None, t(4), None)
            .await
            .expect("clear");
        let cleared = ti(&b.reader, &run, "a").await;
        assert_eq!((cleared.state, cleared.end_date), (TaskState::None, None), "{n}");
        // marking a task that never ran records no try
        let bt = ti(&b.reader, &run, "b").await;
        w.set_task_state(bt.id, TaskState::None, TaskState::Success, t(5), None)
            .await
            .expect("mark");
        assert!(b.reader.task_tries(bt.id).await.expect("tries").is_empty(), "{n}");
    }
}

#[tokio::test]
async fn every_try_is_recorded_by_the_database() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a", "b"]).await;
        let a = ti(&b.reader, &run, "a").await;
        let w = &b.writer;
        w.start_try(a.id, TaskState::None, 1, "/logs/a/1.log", t(10), None)
            .await
            .expect("start");
        let running = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (running.state, running.try_number, running.start_date, running.log_path.as_deref()),
            (TaskState::Running, 1, Some(t(10)), Some("/logs/a/1.log")),
            "{n}"
        );
        let tries = b.reader.task_tries(a.id).await.expect("tries");
        assert_eq!(tries.len(), 1, "{n}");
        assert_eq!(
            (tries[0].try_number, tries[0].state, tries[0].start_date, tries[0].end_date, tries[0].log_path.as_str()),
            (1, TaskState::Running, t(10), None, "/logs/a/1.log"),
            "{n}"
        );
        assert!(
            is_conflict(w.start_try(a.id, TaskState::None, 1, "/x", t(11), None).await),
            "{n}: started already"
        );
        assert!(
            is_conflict(w.finish_try(a.id, 2, &end(TaskState::Success, t(12), None), None).await),
            "{n}: another try"
        );
        let retry_at = t(100);
        w.finish_try(
            a.id,
            1,
            &TryEnd {
                state: TaskState::UpForRetry,
                output: None,
                error: Some("boom"),
                next_retry_at: Some(retry_at),
                now: t(20),
            },
            None,
        )
        .await
        .expect("fail once");
        let waiting = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (waiting.state, waiting.end_date, waiting.error.as_deref(), waiting.next_retry_at),
            (TaskState::UpForRetry, Some(t(20)), Some("boom"), Some(retry_at)),
            "{n}"
        );
        assert!(
            is_conflict(w.finish_try(a.id, 1, &end(TaskState::Success, t(21), None), None).await),
            "{n}: ended already"
        );

        w.set_task_state(a.id, TaskState::UpForRetry, TaskState::Queued, t(100), None)
            .await
            .expect("requeue");
        w.start_try(a.id, TaskState::Queued, 2, "/logs/a/2.log", t(101), None)
            .await
            .expect("start again");
        let fresh = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (fresh.error.clone(), fresh.next_retry_at, fresh.end_date),
            (None, None, None),
            "{n}: a new try starts clean"
        );
        let output = json!({ "rows": 3 });
        w.finish_try(
            a.id,
            2,
            &TryEnd {
                state: TaskState::Success,
                output: Some(&output),
                error: None,
                next_retry_at: None,
                now: t(130),
            },
            None,
        )
        .await
        .expect("succeed");
        let done = ti(&b.reader, &run, "a").await;
        assert_eq!((done.state, done.output.clone(), done.try_number), (TaskState::Success, Some(output), 2), "{n}");

        let tries = b.reader.task_tries(a.id).await.expect("tries");
        let shape: Vec<_> = tries
            .iter()
            .map(|t| (t.try_number, t.state, t.start_date, t.end_date, t.log_path.clone(), t.error.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (1, TaskState::UpForRetry, t(10), Some(t(20)), "/logs/a/1.log".to_string(), Some("boom".to_string())),
                (2, TaskState::Success, t(101), Some(t(130)), "/logs/a/2.log".to_string(), None),
            ],
            "{n}"
        );
        let bt = ti(&b.reader, &run, "b").await;
        w.start_try(bt.id, TaskState::None, 1, "/logs/b/1.log", t(5), None)
            .await
            .expect("start b");
        let of_run: Vec<(String, u32, TaskState)> = b
            .reader
            .tries_of_run(run.id)
            .await
            .expect("tries of run")
            .into_iter()
            .map(|(task, t)| (task.to_string(), t.try_number, t.state))
            .collect();
        assert_eq!(
            of_run,
            vec![
                ("a".to_string(), 1, TaskState::UpForRetry),
                ("a".to_string(), 2, TaskState::Success),
                ("b".to_string(), 1, TaskState::Running)
            ],
            "{n}"
        );

        // cleared: back to none, tries kept, the next try may run
        assert!(
            is_conflict(w.clear_task_instance(a.id, TaskState::Failed, 5).await),
            "{n}: not failed"
        );
        w.clear_task_instance(a.id, TaskState::Success, 4)
            .await
            .expect("clear");
        let cleared = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (cleared.state, cleared.max_tries, cleared.output.clone(), cleared.end_date, cleared.try_number),
            (TaskState::None, 4, None, None, 2),
            "{n}"
        );
        assert_eq!(b.reader.task_tries(a.id).await.expect("tries").len(), 2, "{n}");
    }
}

#[tokio::test]
async fn writes_without_the_runs_lease_change_nothing() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a"]).await;
        let w = &b.writer;
        assert!(w.claim_run(run.id, "A", t(60), None, None).await.expect("claim"), "{n}");
        let a = ti(&b.reader, &run, "a").await;
        let (mine, theirs) = (Some("A"), Some("B"));

        assert!(is_conflict(w.set_run_state(run.id, RunState::Queued, RunState::Running, t(1), theirs).await), "{n}");
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(1), mine)
            .await
            .expect("start the run");
        assert!(is_conflict(w.set_task_state(a.id, TaskState::None, TaskState::Queued, t(2), theirs).await), "{n}");
        assert!(is_conflict(w.start_try(a.id, TaskState::None, 1, "/l", t(2), theirs).await), "{n}");
        let untouched = ti(&b.reader, &run, "a").await;
        assert_eq!((untouched.state, untouched.try_number), (TaskState::None, 0), "{n}");
        assert!(b.reader.task_tries(a.id).await.expect("tries").is_empty(), "{n}: no try recorded");

        w.start_try(a.id, TaskState::None, 1, "/l", t(2), mine)
            .await
            .expect("start a try");
        assert!(is_conflict(w.set_external(a.id, 1, "job-1", Some("https://x/1"), theirs).await), "{n}");
        assert!(is_conflict(w.set_external(a.id, 2, "job-1", None, mine).await), "{n}: another try");
        w.set_external(a.id, 1, "job-1", Some("https://x/1"), mine)
            .await
            .expect("external");
        let group = ProcessGroup {
            pgid: 777,
            owner: "A".into(),
            boot_id: "boot".into(),
        };
        assert!(is_conflict(w.set_process_group(a.id, 1, &group, theirs).await), "{n}");
        assert!(is_conflict(w.set_process_group(a.id, 3, &group, None).await), "{n}: another try");
        w.set_process_group(a.id, 1, &group, mine)
            .await
            .expect("process group");
        let running = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (running.external_id.as_deref(), running.external_url.as_deref(), running.process_group.clone()),
            (Some("job-1"), Some("https://x/1"), Some(group.clone())),
            "{n}"
        );
        assert!(is_conflict(w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), theirs).await), "{n}");
        assert_eq!(ti(&b.reader, &run, "a").await.state, TaskState::Running, "{n}");
        // a lease given up: only unfenced writes (runs nobody drives) pass
        w.release_run(run.id, "B").await.expect("release by another");
        assert_eq!(b.reader.dag_run(run.id).await.expect("run").lease.map(|l| l.owner), Some("A".into()), "{n}");
        w.release_run(run.id, "A").await.expect("release");
        assert!(b.reader.dag_run(run.id).await.expect("run").lease.is_none(), "{n}");
        assert!(is_conflict(w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), mine).await), "{n}");
        w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), None)
            .await
            .expect("unfenced");
        let next = ti(&b.reader, &run, "a").await;
        assert_eq!(next.state, TaskState::Success, "{n}");
        w.set_task_state(a.id, TaskState::Success, TaskState::None, t(4), None)
            .await
            .expect("clear");
        w.start_try(a.id, TaskState::None, 2, "/l2", t(5), None)
            .await
            .expect("a second try");
        let second = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (second.external_id, second.external_url, second.process_group),
            (None, None, None),
            "{n}: a new try forgets the last one's remote job and processes"
        );
    }
}

#[tokio::test]
async fn alerts_are_written_with_the_state_change_that_causes_them() {
    for b in backends().await {
        let n = b.name;
        register(
            &b.writer,
            "etl",
            "v1",
            &[
                ("a", "failure", "ops"),
                ("a", "failure", "chat"),
                ("a", "retry", "ops"),
                ("a", "success", "ops"),
            ],
        )
        .await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a", "quiet"]).await;
        let w = &b.writer;
        let a = ti(&b.reader, &run, "a").await;
        w.start_try(a.id, TaskState::None, 1, "/logs/a/1.log", t(10), None)
            .await
            .expect("start");
        w.set_external(a.id, 1, "job", Some("https://remote/1"), None)
            .await
            .expect("external");
        w.finish_try(a.id, 1, &end(TaskState::Failed, t(20), Some("exit 1")), None)
            .await
            .expect("fail");
        run_try(&b, &run, "quiet", t(10), t(21), TaskState::Failed).await;

        let pending = b.reader.pending_alerts(100).await.expect("pending");
        let mut shape: Vec<(String, String, Option<String>)> = pending
            .iter()
            .map(|a| (a.channel.clone(), a.event.clone(), a.task_id.clone()))
            .collect();
        shape.sort();
        assert_eq!(
            shape,
            vec![
                ("chat".to_string(), "failure".to_string(), Some("a".to_string())),
                ("ops".to_string(), "failure".to_string(), Some("a".to_string()))
            ],
            "{n}: routed channels only, none for a task without routes"
        );
        assert_eq!(pending.len(), 2, "{n}: {pending:?}");
        let ops = pending.iter().find(|a| a.channel == "ops").expect("ops alert");
        assert_eq!(ops.dag_id, "etl", "{n}");
        assert_eq!(ops.run_id.as_deref(), Some("r"), "{n}");
        assert_eq!(ops.logical_date, Some(t(0)), "{n}");
        assert_eq!(ops.task_id.as_deref(), Some("a"), "{n}");
        assert_eq!(ops.try_number, Some(1), "{n}");
        assert_eq!(ops.state.as_deref(), Some("failed"), "{n}");
        assert_eq!(ops.error.as_deref(), Some("exit 1"), "{n}");
        assert_eq!(ops.log_path.as_deref(), Some("/logs/a/1.log"), "{n}");
        assert_eq!(ops.external_url.as_deref(), Some("https://remote/1"), "{n}");
        assert_eq!((ops.created_at, ops.next_attempt_at), (t(20), t(20)), "{n}");
        assert_eq!((ops.status.as_str(), ops.attempts, ops.delivered_at), ("pending", 0, None), "{n}");

        // the same try failing again (marked success, then failed) alerts once
        w.set_task_state(a.id, TaskState::Failed, TaskState::Success, t(30), None)
            .await
            .expect("mark success");
        w.set_task_state(a.id, TaskState::Success, TaskState::Failed, t(31), None)
            .await
            .expect("mark failed");
        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        let events: Vec<(String, String, Option<u32>)> = alerts
            .iter()
            .map(|a| (a.event.clone(), a.channel.clone(), a.try_number))
            .collect();
        assert_eq!(
            events.iter().filter(|(e, _, _)| e == "failure").count(),
            2,
            "{n}: one failure alert per channel and try: {events:?}"
        );
        assert_eq!(
            events.iter().filter(|(e, _, _)| e == "success").count(),
            1,
            "{n}: {events:?}"
        );
        // a retry alerts on its own route
        let run2 = create(&b.writer, "etl", "r2", RunType::Manual, t(100), &["a"]).await;
        let a2 = ti(&b.reader, &run2, "a").await;
        w.start_try(a2.id, TaskState::None, 1, "/logs/r2/a/1.log", t(110), None)
            .await
            .expect("start");
        w.finish_try(a2.id, 1, &end(TaskState::UpForRetry, t(120), Some("flaky")), None)
            .await
            .expect("retry");
        let retry: Vec<_> = b
            .reader
            .alerts(Some("pending"), 100)
            .await
            .expect("alerts")
            .into_iter()
            .filter(|a| a.event == "retry")
            .collect();
        assert_eq!(retry.len(), 1, "{n}");
        assert_eq!((retry[0].run_id.as_deref(), retry[0].error.as_deref()), (Some("r2"), Some("flaky")), "{n}");
        // newest first
        let newest = b.reader.alerts(None, 1).await.expect("alerts");
        assert_eq!(newest[0].event, "retry", "{n}");
    }
}

#[tokio::test]
async fn a_success_after_a_failure_is_a_recovery() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[("", "recovery", "ops")]).await;
        register(&b.writer, "other", "v1", &[]).await;
        let w = &b.writer;
        let r1 = create(&b.writer, "etl", "r1", RunType::Manual, t(0), &[]).await;
        let r2 = create(&b.writer, "etl", "r2", RunType::Manual, t(10), &[]).await;
        let r3 = create(&b.writer, "etl", "r3", RunType::Manual, t(20), &[]).await;
        let o1 = create(&b.writer, "other", "o1", RunType::Manual, t(0), &[]).await;
        let o2 = create(&b.writer, "other", "o2", RunType::Manual, t(10), &[]).await;
        w.set_run_state(r1.id, RunState::Queued, RunState::Failed, t(100), None)
            .await
            .expect("fail");
        for (run, at) in [(&r2, 110), (&r3, 130)] {
            w.set_run_state(run.id, RunState::Queued, RunState::Running, t(at), None)
                .await
                .expect("start");
            w.set_run_state(run.id, RunState::Running, RunState::Success, t(at + 10), None)
                .await
                .expect("succeed");
        }
        // no recovery route: no recovery
        w.set_run_state(o1.id, RunState::Queued, RunState::Failed, t(100), None)
            .await
            .expect("fail");
        w.set_run_state(o2.id, RunState::Queued, RunState::Running, t(110), None)
            .await
            .expect("start");
        w.set_run_state(o2.id, RunState::Running, RunState::Success, t(120), None)
            .await
            .expect("succeed");

        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        assert_eq!(alerts.len(), 1, "{n}: {alerts:?}");
        let recovery = &alerts[0];
        assert_eq!(
            (
                recovery.event.as_str(),
                recovery.channel.as_str(),
                recovery.dag_id.as_str(),
                recovery.run_id.as_deref(),
                recovery.state.as_deref(),
                recovery.task_id.as_deref(),
                recovery.created_at
            ),
            ("recovery", "ops", "etl", Some("r2"), Some("success"), None, t(120)),
            "{n}"
        );
        // succeeding again (cleared and rerun) does not alert twice
        w.set_run_state(r2.id, RunState::Success, RunState::Queued, t(200), None)
            .await
            .expect("requeue");
        w.set_run_state(r1.id, RunState::Failed, RunState::Queued, t(200), None)
            .await
            .expect("requeue");
        w.set_run_state(r1.id, RunState::Queued, RunState::Failed, t(205), None)
            .await
            .expect("fail");
        w.set_run_state(r2.id, RunState::Queued, RunState::Running, t(210), None)
            .await
            .expect("start");
        w.set_run_state(r2.id, RunState::Running, RunState::Success, t(220), None)
            .await
            .expect("succeed");
        assert_eq!(b.reader.alerts(None, 100).await.expect("alerts").len(), 1, "{n}");
        let _ = r3;
    }
}

#[tokio::test]
async fn deliveries_are_recorded_on_the_outbox() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        let channels = vec!["ops".to_string(), "chat".to_string()];
        w.insert_import_error_alert("/dags/bad.yaml", "line 3: oops", &channels, t(10))
            .await
            .expect("import error");
        w.insert_import_error_alert("/dags/bad.yaml", "line 4: oops", &channels[..1], t(20))
            .await
            .expect("import error again");
        let pending = b.reader.pending_alerts(100).await.expect("pending");
        let shape: Vec<(String, String, String, Option<String>, DateTime<Utc>)> = pending
            .iter()
            .map(|a| (a.event.clone(), a.channel.clone(), a.dag_id.clone(), a.error.clone(), a.created_at))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("import_error".into(), "ops".into(), "/dags/bad.yaml".into(), Some("line 3: oops".into()), t(10)),
                ("import_error".into(), "chat".into(), "/dags/bad.yaml".into(), Some("line 3: oops".into()), t(10)),
                ("import_error".into(), "ops".into(), "/dags/bad.yaml".into(), Some("line 4: oops".into()), t(20)),
            ],
            "{n}: oldest first"
        );
        assert_eq!(b.reader.pending_alerts(1).await.expect("pending").len(), 1, "{n}");
        let ids: Vec<i64> = pending.iter().map(|a| a.id).collect();

        w.alerts_delivered(&ids[..1], t(30)).await.expect("delivered");
        w.alerts_not_delivered(&ids[1..2], "timeout", Some(t(90)))
            .await
            .expect("try again");
        w.alerts_not_delivered(&ids[2..], "refused", None)
            .await
            .expect("give up");
        // a delivered alert is not touched again
        w.alerts_not_delivered(&ids[..1], "late", None)
            .await
            .expect("noop");

        let all = b.reader.alerts(None, 100).await.expect("alerts");
        let by_id = |id: i64| all.iter().find(|a| a.id == id).expect("alert").clone();
        let delivered = by_id(ids[0]);
        assert_eq!(
            (delivered.status.as_str(), delivered.attempts, delivered.delivered_at, delivered.last_error),
            ("delivered", 1, Some(t(30)), None),
            "{n}"
        );
        let retried = by_id(ids[1]);
        assert_eq!(
            (retried.status.as_str(), retried.attempts, retried.next_attempt_at, retried.last_error.as_deref()),
            ("pending", 1, t(90), Some("timeout")),
            "{n}"
        );
        let failed = by_id(ids[2]);
        assert_eq!(
            (failed.status.as_str(), failed.attempts, failed.next_attempt_at, failed.last_error.as_deref()),
            ("failed", 1, t(20), Some("refused")),
            "{n}"
        );
        let only_failed = b.reader.alerts(Some("failed"), 100).await.expect("alerts");
        assert_eq!(only_failed.iter().map(|a| a.id).collect::<Vec<_>>(), vec![ids[2]], "{n}");
        assert_eq!(
            b.reader.pending_alerts(100).await.expect("pending").iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![ids[1]],
            "{n}"
        );
        w.alerts_delivered(&[], t(40)).await.expect("nothing");
    }
}

#[tokio::test]
async fn run_alerts_are_inserted_once() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        let late = create(&b.writer, "etl", "late", RunType::Manual, t(0), &["a"]).await;
        let other = create(&b.writer, "etl", "other", RunType::Manual, t(10), &["a"]).await;
        let done = create(&b.writer, "etl", "done", RunType::Manual, t(20), &["a"]).await;
        w.set_run_state(done.id, RunState::Queued, RunState::Failed, t(30), None)
            .await
            .expect("fail");
        let without: Vec<String> = b
            .reader
            .runs_without_deadline_alert(&DagId::new("etl"))
            .await
            .expect("runs")
            .iter()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(without, vec!["late", "other"], "{n}: unfinished, by logical date");

        let channels = vec!["ops".to_string(), "chat".to_string()];
        for _ in 0..2 {
            w.insert_run_alert(&late, None, "deadline", &channels, t(40))
                .await
                .expect("run alert");
        }
        let task = ti(&b.reader, &other, "a").await;
        for _ in 0..2 {
            w.insert_run_alert(&other, Some(&task), "deadline", &channels[..1], t(50))
                .await
                .expect("task alert");
        }
        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        assert_eq!(alerts.len(), 3, "{n}: {alerts:?}");
        let task_alert = alerts.iter().find(|a| a.task_id.is_some()).expect("task alert");
        assert_eq!(
            (task_alert.try_number, task_alert.state.as_deref(), task_alert.run_id.as_deref(), task_alert.created_at),
            (Some(0), Some("none"), Some("other"), t(50)),
            "{n}"
        );
        let run_alert = alerts.iter().find(|a| a.task_id.is_none()).expect("run alert");
        assert_eq!((run_alert.state.as_deref(), run_alert.try_number), (Some("queued"), None), "{n}");
        // a task's deadline alert does not count as its run's
        let without: Vec<String> = b
            .reader
            .runs_without_deadline_alert(&DagId::new("etl"))
            .await
            .expect("runs")
            .iter()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(without, vec!["other"], "{n}");
    }
}

#[tokio::test]
async fn a_dag_keeps_one_version_per_text() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        let dag_id = DagId::new("etl");
        let v1 = register(w, "etl", "text one", &[]).await;
        assert_eq!(register(w, "etl", "text one", &[]).await, v1, "{n}: same text, same version");
        let v2 = register(w, "etl", "text two", &[]).await;
        assert_ne!(v1, v2, "{n}");
        let second = b.reader.dag_version(v2).await.expect("version").expect("v2");
        assert_eq!(
            (second.version_number, second.dag_id.as_str(), second.hash.as_str(), second.source.as_str(), second.fileloc.as_str(), second.created_at),
            (2, "etl", "hash of text two", "text two", "/dags/etl.yaml", t(0)),
            "{n}"
        );
        assert_eq!(b.reader.dag(&dag_id).await.expect("dag").and_then(|d| d.latest_version), Some(v2), "{n}");
        // back to the first text: its version again, not a third
        assert_eq!(register(w, "etl", "text one", &[]).await, v1, "{n}");
        let record = b.reader.dag(&dag_id).await.expect("dag").expect("record");
        assert_eq!(
            (record.latest_version, record.fileloc.as_str(), record.last_parsed_at, record.is_paused),
            (Some(v1), "/dags/etl.yaml", Some(t(0)), false),
            "{n}"
        );
        assert!(b.reader.dag_version(v2 + 100).await.expect("version").is_none(), "{n}");

        // several DAGs of one file, one load; paused on creation only
        let (a, z) = (DagId::new("Alpha"), DagId::new("zeta"));
        let ids = w
            .register_dags(
                &[
                    NewDagVersion {
                        dag_id: &z,
                        fileloc: "/dags/many.yaml".into(),
                        is_paused_upon_creation: true,
                        hash: "hz",
                        source: "z",
                        alert_routes: vec![],
                    },
                    NewDagVersion {
                        dag_id: &a,
                        fileloc: "/dags/many.yaml".into(),
                        is_paused_upon_creation: false,
                        hash: "ha",
                        source: "a",
                        alert_routes: vec![("t".into(), "failure", "ops".into())],
                    },
                ],
                t(5),
            )
            .await
            .expect("register many");
        assert_eq!(ids.len(), 2, "{n}");
        let of_file: Vec<(String, i64, u32)> = b
            .reader
            .latest_versions_of_file("/dags/many.yaml")
            .await
            .expect("versions")
            .into_iter()
            .map(|v| (v.dag_id.to_string(), v.id, v.version_number))
            .collect();
        assert_eq!(
            of_file,
            vec![("Alpha".to_string(), ids[1], 1), ("zeta".to_string(), ids[0], 1)],
            "{n}"
        );
        let dags: Vec<String> = b.reader.dags().await.expect("dags").iter().map(|d| d.dag_id.to_string()).collect();
        assert_eq!(dags, vec!["Alpha", "etl", "zeta"], "{n}: byte order");
        let paused = b.reader.paused_dags().await.expect("paused");
        assert_eq!((paused.get("zeta"), paused.get("Alpha"), paused.len()), (Some(&true), Some(&false), 3), "{n}");
        // a reload does not unpause
        w.register_dags(
            &[NewDagVersion {
                dag_id: &z,
                fileloc: "/dags/many.yaml".into(),
                is_paused_upon_creation: false,
                hash: "hz",
                source: "z",
                alert_routes: vec![],
            }],
            t(6),
        )
        .await
        .expect("reload");
        assert!(b.reader.dag(&z).await.expect("dag").expect("zeta").is_paused, "{n}");
        assert!(b.reader.latest_versions_of_file("/dags/none.yaml").await.expect("versions").is_empty(), "{n}");
    }
}

#[tokio::test]
async fn pausing_reports_whether_it_changed_anything() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let etl = DagId::new("etl");
        assert!(b.writer.set_paused(&etl, true).await.expect("pause"), "{n}");
        assert!(!b.writer.set_paused(&etl, true).await.expect("pause again"), "{n}");
        assert!(b.reader.dag(&etl).await.expect("dag").expect("etl").is_paused, "{n}");
        assert!(b.writer.set_paused(&etl, false).await.expect("unpause"), "{n}");
        assert_eq!(b.reader.paused_dags().await.expect("paused").get("etl"), Some(&false), "{n}");
        assert!(
            matches!(b.writer.set_paused(&DagId::new("nope"), true).await, Err(StoreError::NotFound(_))),
            "{n}"
        );
    }
}

#[tokio::test]
async fn a_run_is_claimed_when_free_or_from_its_observed_holder() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &[]).await;
        assert!(w.claim_run(run.id, "A", t(60), None, None).await.expect("claim"), "{n}");
        assert!(!w.claim_run(run.id, "B", t(60), None, None).await.expect("claim"), "{n}: held");
        let stale = Lease {
            owner: "A".into(),
            expires_at: t(59),
        };
        assert!(!w.claim_run(run.id, "B", t(90), Some(&stale), None).await.expect("claim"), "{n}: renewed since");
        let seen = b.reader.dag_run(run.id).await.expect("run").lease.expect("lease");
        assert_eq!(seen, Lease { owner: "A".into(), expires_at: t(60) }, "{n}");
        assert!(w.claim_run(run.id, "B", t(90), Some(&seen), None).await.expect("take over"), "{n}");
        assert_eq!(
            b.reader.dag_run(run.id).await.expect("run").lease,
            Some(Lease { owner: "B".into(), expires_at: t(90) }),
            "{n}"
        );
        w.set_run_state(run.id, RunState::Queued, RunState::Failed, t(5), None)
            .await
            .expect("fail");
        w.release_run(run.id, "B").await.expect("release");
        assert!(!w.claim_run(run.id, "A", t(60), None, None).await.expect("claim"), "{n}: finished");
        assert!(!w.claim_run(run.id + 50, "A", t(60), None, Some(3)).await.expect("claim"), "{n}: unknown");
    }
}

#[tokio::test]
async fn claims_count_max_active_runs() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        register(&b.writer, "other", "v1", &[]).await;
        let w = &b.writer;
        let mut runs = Vec::new();
        for i in 0..3 {
            runs.push(create(&b.writer, "etl", &format!("r{i}"), RunType::Manual, t(i), &[]).await);
        }
        // another DAG's runs do not count
        let o = create(&b.writer, "other", "o", RunType::Manual, t(0), &[]).await;
        assert!(w.claim_run(o.id, "A", t(60), None, Some(1)).await.expect("claim"), "{n}");
        assert!(w.claim_run(runs[0].id, "A", t(60), None, Some(2)).await.expect("claim"), "{n}");
        assert!(w.claim_run(runs[1].id, "B", t(60), None, Some(2)).await.expect("claim"), "{n}");
        assert!(!w.claim_run(runs[2].id, "A", t(60), None, Some(2)).await.expect("claim"), "{n}: two are active");
        // a run re-claimed (adopted) counts itself out
        let held = b.reader.dag_run(runs[0].id).await.expect("run").lease;
        assert!(w.claim_run(runs[0].id, "C", t(90), held.as_ref(), Some(2)).await.expect("adopt"), "{n}");
        // a running run counts with or without a lease
        w.set_run_state(runs[0].id, RunState::Queued, RunState::Running, t(5), None)
            .await
            .expect("start");
        w.release_run(runs[0].id, "C").await.expect("release");
        assert!(!w.claim_run(runs[2].id, "A", t(60), None, Some(2)).await.expect("claim"), "{n}");
        w.set_run_state(runs[0].id, RunState::Running, RunState::Success, t(6), None)
            .await
            .expect("finish");
        assert!(w.claim_run(runs[2].id, "A", t(60), None, Some(2)).await.expect("claim"), "{n}: a slot freed");
        assert!(w.claim_run(runs[2].id, "A", t(70), b.reader.dag_run(runs[2].id).await.expect("run").lease.as_ref(), None).await.expect("renew without a count"), "{n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_exceed_max_active_runs() {
    for b in backends().await {
        let n = b.name;
        // two handles: two peers with their own connections
        let (_, peer) = b.reopen().await;
        for round in 0..3 {
            let dag = format!("busy{round}");
            register(&b.writer, &dag, "v1", &[]).await;
            let mut ids = Vec::new();
            for i in 0..8 {
                ids.push(create(&b.writer, &dag, &format!("r{i}"), RunType::Manual, t(i), &[]).await.id);
            }
            let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
            let mut claims = Vec::new();
            for (i, id) in ids.iter().copied().enumerate() {
                let writer = if i % 2 == 0 { b.writer.clone() } else { peer.clone() };
                let start = start.clone();
                claims.push(tokio::spawn(async move {
                    start.wait().await;
                    writer
                        .claim_run(id, &format!("owner-{i}"), t(600), None, Some(2))
                        .await
                        .expect("claim")
                }));
            }
            let mut won = 0;
            for claim in claims {
                if claim.await.expect("join") {
                    won += 1;
                }
            }
            assert_eq!(won, 2, "{n}: round {round}");
            let (runs, _) = b.reader.dag_run_page(&all_runs()).await.expect("runs");
            let leased = runs
                .iter()
                .filter(|r| r.dag_id.as_str() == dag && r.lease.is_some())
                .count();
            assert_eq!(leased, 2, "{n}: round {round}");
        }
    }
}

#[tokio::test]
async fn heartbeats_renew_held_runs_and_a_stop_frees_them() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        w.insert_owner(&owner("A", t(0))).await.expect("owner");
        w.insert_owner(&owner("B", t(0))).await.expect("owner");
        assert_eq!(b.reader.owner("A").await.expect("owner"), Some(owner("A", t(0))), "{n}");
        assert!(b.reader.owner("nobody").await.expect("owner").is_none(), "{n}");
        let mut ids = Vec::new();
        for i in 0..4 {
            let run = create(&b.writer, "etl", &format!("r{i}"), RunType::Manual, t(i), &[]).await;
            ids.push(run.id);
        }
        for id in &ids[..3] {
            assert!(w.claim_run(*id, "A", t(60), None, None).await.expect("claim"), "{n}");
        }
        assert!(w.claim_run(ids[3], "B", t(60), None, None).await.expect("claim"), "{n}");
        w.set_run_state(ids[2], RunState::Queued, RunState::Failed, t(5), None)
            .await
            .expect("finish");

        let mut held = w.heartbeat("A", t(30), t(90)).await.expect("heartbeat");
        held.sort_unstable();
        assert_eq!(held, ids[..2].to_vec(), "{n}: unfinished runs only");
        assert_eq!(b.reader.owner("A").await.expect("owner").expect("A").heartbeat_at, t(30), "{n}");
        for id in &ids[..2] {
            assert_eq!(b.reader.dag_run(*id).await.expect("run").lease.map(|l| l.expires_at), Some(t(90)), "{n}");
        }
        assert_eq!(b.reader.dag_run(ids[3]).await.expect("run").lease.map(|l| l.expires_at), Some(t(60)), "{n}");
        assert!(w.heartbeat("nobody", t(30), t(90)).await.expect("heartbeat").is_empty(), "{n}");

        assert!(w.claim_scheduler("A", None).await.expect("lock"), "{n}");
        w.stop_owner("A", t(40)).await.expect("stop");
        let stopped = b.reader.owner("A").await.expect("owner").expect("A");
        assert_eq!((stopped.stopped_at, stopped.heartbeat_at), (Some(t(40)), t(40)), "{n}");
        for id in &ids[..3] {
            assert!(b.reader.dag_run(*id).await.expect("run").lease.is_none(), "{n}");
        }
        assert!(b.reader.dag_run(ids[3]).await.expect("run").lease.is_some(), "{n}: B's kept");
        assert!(b.reader.scheduler_holder().await.expect("holder").is_none(), "{n}");
        assert!(w.heartbeat("A", t(50), t(90)).await.expect("heartbeat").is_empty(), "{n}");
    }
}

#[tokio::test]
async fn the_scheduler_lock_has_one_holder() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        for id in ["A", "B", "C"] {
            w.insert_owner(&owner(id, t(0))).await.expect("owner");
        }
        assert!(b.reader.scheduler_holder().await.expect("holder").is_none(), "{n}");
        assert!(w.claim_scheduler("A", None).await.expect("claim"), "{n}");
        assert!(!w.claim_scheduler("B", None).await.expect("claim"), "{n}: held");
        assert!(!w.claim_scheduler("B", Some("C")).await.expect("claim"), "{n}: not C's");
        assert_eq!(b.reader.scheduler_holder().await.expect("holder").map(|o| o.id), Some("A".into()), "{n}");
        assert!(w.claim_scheduler("B", Some("A")).await.expect("take over"), "{n}");
        assert_eq!(b.reader.scheduler_holder().await.expect("holder").map(|o| o.id), Some("B".into()), "{n}");
        w.stop_owner("B", t(10)).await.expect("stop");
        assert!(b.reader.scheduler_holder().await.expect("holder").is_none(), "{n}");
        assert!(w.claim_scheduler("C", None).await.expect("claim"), "{n}");
    }
}

/// Four runs of two DAGs: a `m1` manual queued at 0; a `S1` scheduled at
/// 3600, running since 3700; a `s2` scheduled at 7200, 7300 to 7400; b `s1`
/// scheduled at 0, failed at 500.
async fn four_runs(b: &Backend) -> Vec<DagRun> {
    register(&b.writer, "a", "v1", &[]).await;
    register(&b.writer, "b", "v1", &[]).await;
    let w = &b.writer;
    let m1 = create(w, "a", "m1", RunType::Manual, t(0), &["x"]).await;
    let s1 = create(w, "a", "S1", RunType::Scheduled, t(3600), &["x"]).await;
    let s2 = create(w, "a", "s2", RunType::Scheduled, t(7200), &["x"]).await;
    let bs1 = create(w, "b", "s1", RunType::Scheduled, t(0), &["x"]).await;
    w.set_run_state(s1.id, RunState::Queued, RunState::Running, t(3700), None)
        .await
        .expect("start");
    w.set_run_state(s2.id, RunState::Queued, RunState::Running, t(7300), None)
        .await
        .expect("start");
    w.set_run_state(s2.id, RunState::Running, RunState::Success, t(7400), None)
        .await
        .expect("finish");
    w.set_run_state(bs1.id, RunState::Queued, RunState::Failed, t(500), None)
        .await
        .expect("fail");
    vec![m1, s1, s2, bs1]
}

#[tokio::test]
async fn dag_run_pages_filter_order_and_count() {
    for b in backends().await {
        let n = b.name;
        four_runs(&b).await;
        let page = |query: DagRunQuery<'static>| {
            let reader = b.reader.clone();
            async move {
                let (runs, total) = reader.dag_run_page(&query).await.expect("page");
                (run_ids(&runs), total)
            }
        };
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(page(all_runs()).await, (names(&["a/m1", "a/S1", "a/s2", "b/s1"]), 4), "{n}");
        let b_only: &'static [DagId] = Box::leak(Box::new([DagId::new("b")]));
        assert_eq!(page(DagRunQuery { dag_ids: Some(b_only), ..all_runs() }).await, (names(&["b/s1"]), 1), "{n}");
        assert_eq!(
            page(DagRunQuery { states: &[RunState::Running, RunState::Success], ..all_runs() }).await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(page(DagRunQuery { run_types: &[RunType::Manual], ..all_runs() }).await, (names(&["a/m1"]), 1), "{n}");
        assert_eq!(
            page(DagRunQuery { logical_date: Bounds { gte: Some(t(3600)), lte: None }, ..all_runs() }).await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery { logical_date: Bounds { gte: Some(t(1)), lte: Some(t(3600)) }, ..all_runs() }).await,
            (names(&["a/S1"]), 1),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery { start_date: Bounds { gte: None, lte: Some(t(7300)) }, ..all_runs() }).await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}: never started is outside"
        );
        assert_eq!(
            page(DagRunQuery { end_date: Bounds { gte: Some(t(0)), lte: None }, ..all_runs() }).await,
            (names(&["a/s2", "b/s1"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery { updated_at: Bounds { gte: Some(t(3700)), lte: None }, ..all_runs() }).await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery { updated_at: Bounds { gte: None, lte: Some(t(500)) }, ..all_runs() }).await,
            (names(&["a/m1", "b/s1"]), 2),
            "{n}"
        );
        let ordered = |order: DagRunOrder, descending: bool| DagRunQuery { order, descending, ..all_runs() };
        assert_eq!(page(ordered(DagRunOrder::StartDate, false)).await.0, names(&["a/m1", "b/s1", "a/S1", "a/s2"]), "{n}: NULLs first");
        assert_eq!(page(ordered(DagRunOrder::StartDate, true)).await.0, names(&["a/s2", "a/S1", "b/s1", "a/m1"]), "{n}: NULLs last");
        assert_eq!(page(ordered(DagRunOrder::EndDate, true)).await.0, names(&["a/s2", "b/s1", "a/S1", "a/m1"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::State, false)).await.0, names(&["b/s1", "a/m1", "a/S1", "a/s2"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::RunId, false)).await.0, names(&["a/S1", "a/m1", "b/s1", "a/s2"]), "{n}: byte order");
        assert_eq!(page(ordered(DagRunOrder::DagId, true)).await.0, names(&["b/s1", "a/s2", "a/S1", "a/m1"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::LogicalDate, false)).await.0, names(&["a/m1", "b/s1", "a/S1", "a/s2"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::ExternalTrigger, true)).await.0, names(&["a/m1", "b/s1", "a/s2", "a/S1"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::Conf, false)).await.0, names(&["a/S1", "a/m1", "b/s1", "a/s2"]), "{n}");
        assert_eq!(page(ordered(DagRunOrder::Id, true)).await.0, names(&["b/s1", "a/s2", "a/S1", "a/m1"]), "{n}");
        assert_eq!(
            page(DagRunQuery { limit: 2, offset: 1, ..all_runs() }).await,
            (names(&["a/S1", "a/s2"]), 4),
            "{n}: the total ignores the page"
        );
        assert_eq!(page(DagRunQuery { limit: 0, ..all_runs() }).await, (vec![], 4), "{n}");

        let newest: Vec<String> = b.reader.dag_runs(None, 10, 0).await.expect("runs").iter().map(|r| format!("{}/{}", r.dag_id, r.run_id)).collect();
        assert_eq!(newest, names(&["a/s2", "a/S1", "b/s1", "a/m1"]), "{n}: newest first, then by id");
        let a_page = b.reader.dag_runs(Some(&DagId::new("a")), 1, 1).await.expect("runs");
        assert_eq!(run_ids(&a_page), names(&["a/S1"]), "{n}");
        assert_eq!(run_ids(&b.reader.runs_in_state(RunState::Queued).await.expect("runs")), names(&["a/m1"]), "{n}");
        assert_eq!(run_ids(&b.reader.runs_in_state(RunState::Running).await.expect("runs")), names(&["a/S1"]), "{n}");
        let a = DagId::new("a");
        assert_eq!(b.reader.run_at_logical_date(&a, t(7200)).await.expect("at"), Some(RunId::new("s2")), "{n}");
        assert_eq!(b.reader.run_at_logical_date(&a, t(7201)).await.expect("at"), None, "{n}");
    }
}

#[tokio::test]
async fn task_instance_pages_filter_by_duration_and_dates() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[]).await;
        let w = &b.writer;
        let r1 = create(w, "a", "r1", RunType::Manual, t(0), &["x", "y", "z"]).await;
        let r2 = create(w, "a", "r2", RunType::Manual, t(3600), &["x"]).await;
        run_try(&b, &r1, "x", t_ms(10_000), t_ms(11_500), TaskState::Success).await;
        run_try(&b, &r1, "y", t(20), t(23), TaskState::Failed).await;
        let r2x = ti(&b.reader, &r2, "x").await;
        w.start_try(r2x.id, TaskState::None, 1, "/l", t(3700), None)
            .await
            .expect("start");

        let page = |query: TaskInstanceQuery<'static>| {
            let reader = b.reader.clone();
            async move {
                let page = reader.task_instance_page(&query).await.expect("page");
                let runs: Vec<i64> = page.dag_runs.iter().map(|r| r.id).collect();
                let tis: Vec<String> = page
                    .task_instances
                    .iter()
                    .map(|ti| {
                        let run = if ti.dag_run_id == page.dag_runs[0].id { &page.dag_runs[0] } else { &page.dag_runs[page.dag_runs.len() - 1] };
                        format!("{}.{}", run.run_id, ti.task_id)
                    })
                    .collect();
                (tis, page.total, runs)
            }
        };
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = page(all_task_instances()).await;
        assert_eq!((all.0.clone(), all.1), (names(&["r1.x", "r1.y", "r1.z", "r2.x"]), 4), "{n}");
        assert_eq!(all.2, vec![r1.id, r2.id], "{n}: the runs, by id");
        let within = |gte: Option<f64>, lte: Option<f64>| TaskInstanceQuery { duration: Bounds { gte, lte }, ..all_task_instances() };
        assert_eq!(page(within(Some(1.5), None)).await.0, names(&["r1.x", "r1.y"]), "{n}");
        assert_eq!(page(within(None, Some(1.5))).await.0, names(&["r1.x"]), "{n}: to the millisecond");
        assert_eq!(page(within(Some(1.501), None)).await.0, names(&["r1.y"]), "{n}");
        assert_eq!(page(within(Some(3.0), Some(3.0))).await.0, names(&["r1.y"]), "{n}");
        let ordered = |order: TaskInstanceOrder, descending: bool| TaskInstanceQuery { order, descending, ..all_task_instances() };
        assert_eq!(page(ordered(TaskInstanceOrder::Duration, false)).await.0, names(&["r1.z", "r2.x", "r1.x", "r1.y"]), "{n}: NULLs first");
        assert_eq!(page(ordered(TaskInstanceOrder::Duration, true)).await.0, names(&["r1.y", "r1.x", "r2.x", "r1.z"]), "{n}: NULLs last");
        assert_eq!(page(ordered(TaskInstanceOrder::State, false)).await.0, names(&["r1.z", "r1.y", "r2.x", "r1.x"]), "{n}: none first");
        assert_eq!(page(ordered(TaskInstanceOrder::StartDate, true)).await.0, names(&["r2.x", "r1.y", "r1.x", "r1.z"]), "{n}");
        assert_eq!(page(ordered(TaskInstanceOrder::EndDate, false)).await.0, names(&["r1.z", "r2.x", "r1.x", "r1.y"]), "{n}");
        let none_state: &'static [TaskState] = &[TaskState::None];
        assert_eq!(page(TaskInstanceQuery { states: Some(none_state), ..all_task_instances() }).await.0, names(&["r1.z"]), "{n}");
        let x: &'static [TaskId] = Box::leak(Box::new([TaskId::new("x")]));
        let only_x = page(TaskInstanceQuery { task_ids: Some(x), ..all_task_instances() }).await;
        assert_eq!((only_x.0, only_x.1), (names(&["r1.x", "r2.x"]), 2), "{n}");
        let r2_only: &'static [RunId] = Box::leak(Box::new([RunId::new("r2")]));
        let second = page(TaskInstanceQuery { run_ids: Some(r2_only), ..all_task_instances() }).await;
        assert_eq!((second.0, second.2), (names(&["r2.x"]), vec![r2.id]), "{n}");
        let other_dag: &'static [DagId] = Box::leak(Box::new([DagId::new("other")]));
        assert_eq!(page(TaskInstanceQuery { dag_ids: Some(other_dag), ..all_task_instances() }).await.1, 0, "{n}");
        assert_eq!(
            page(TaskInstanceQuery { start_date: Bounds { gte: Some(t(20)), lte: None }, ..all_task_instances() }).await.0,
            names(&["r1.y", "r2.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery { end_date: Bounds { gte: None, lte: Some(t(12)) }, ..all_task_instances() }).await.0,
            names(&["r1.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery { logical_date: Bounds { gte: Some(t(1)), lte: None }, ..all_task_instances() }).await.0,
            names(&["r2.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery { updated_at: Bounds { gte: Some(t(23)), lte: Some(t(3700)) }, ..all_task_instances() }).await.0,
            names(&["r1.y", "r2.x"]),
            "{n}"
        );
        let paged = page(TaskInstanceQuery { limit: 1, offset: 3, ..all_task_instances() }).await;
        assert_eq!((paged.0, paged.1, paged.2), (names(&["r2.x"]), 4, vec![r2.id]), "{n}");
    }
}

#[tokio::test]
async fn the_history_reads_agree() {
    for b in backends().await {
        let n = b.name;
        let runs = four_runs(&b).await;
        register(&b.writer, "empty", "v1", &[]).await;
        let w = &b.writer;
        let late_manual = create(w, "a", "m9", RunType::Manual, t(90_000), &["x", "y"]).await;

        let recent: Vec<String> = b
            .reader
            .recent_runs(2)
            .await
            .expect("recent")
            .iter()
            .map(|r| format!("{}/{}/{}/{}", r.dag_id, r.run_id, r.run_type.as_str(), r.state.as_str()))
            .collect();
        assert_eq!(recent, vec!["a/m9/manual/queued", "a/s2/scheduled/success", "b/s1/scheduled/failed"], "{n}");
        let summary = b.reader.recent_runs(1).await.expect("recent");
        assert_eq!(summary[0], super::RunSummary::from(&late_manual), "{n}");

        let a = DagId::new("a");
        assert_eq!(b.reader.last_scheduled_interval(&a).await.expect("last"), Some((t(7200), t(10_800))), "{n}: manual runs aside");
        assert_eq!(b.reader.last_scheduled_interval(&DagId::new("empty")).await.expect("last"), None, "{n}");
        let intervals = b.reader.last_scheduled_intervals().await.expect("intervals");
        assert_eq!(intervals.len(), 2, "{n}: {intervals:?}");
        assert_eq!(intervals.get("a"), Some(&(t(7200), t(10_800))), "{n}");
        assert_eq!(intervals.get("b"), Some(&(t(0), t(3600))), "{n}");

        let counts = b.reader.active_run_counts().await.expect("counts");
        assert_eq!(counts.get("a"), Some(&(2, 1)), "{n}");
        assert_eq!(counts.get("b"), None, "{n}");

        let (m1, s1) = (&runs[0], &runs[1]);
        run_try(&b, s1, "x", t(3800), t(3900), TaskState::Failed).await;
        let mut cells: Vec<(i64, String, TaskState, u32)> = b
            .reader
            .task_cells(&[m1.id, s1.id, late_manual.id])
            .await
            .expect("cells")
            .into_iter()
            .map(|c| (c.dag_run_id, c.task_id.to_string(), c.state, c.try_number))
            .collect();
        cells.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        assert_eq!(
            cells,
            vec![
                (m1.id, "x".into(), TaskState::None, 0),
                (s1.id, "x".into(), TaskState::Failed, 1),
                (late_manual.id, "x".into(), TaskState::None, 0),
                (late_manual.id, "y".into(), TaskState::None, 0)
            ],
            "{n}"
        );
        assert!(b.reader.task_cells(&[]).await.expect("cells").is_empty(), "{n}");

        let candidates = |run_id: Option<&'static str>, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>, states: &'static [TaskState]| {
            let reader = b.reader.clone();
            async move {
                reader
                    .clear_candidates(&DagId::new("a"), run_id.map(RunId::new).as_ref(), start, end, states)
                    .await
                    .expect("candidates")
                    .into_iter()
                    .map(|c| format!("{}.{}:{}:{}:{}", c.run_id, c.task_id, c.state.as_str(), c.try_number, c.run_state.as_str()))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            candidates(None, None, None, &[TaskState::None, TaskState::Failed]).await,
            vec!["m1.x:none:0:queued", "S1.x:failed:1:running", "s2.x:none:0:success", "m9.x:none:0:queued", "m9.y:none:0:queued"],
            "{n}: oldest run first"
        );
        assert_eq!(candidates(None, None, None, &[TaskState::Failed]).await, vec!["S1.x:failed:1:running"], "{n}");
        assert_eq!(candidates(Some("s2"), None, None, &[TaskState::None]).await, vec!["s2.x:none:0:success"], "{n}");
        assert_eq!(
            candidates(None, Some(t(3600)), Some(t(7200)), &[TaskState::None, TaskState::Failed]).await,
            vec!["S1.x:failed:1:running", "s2.x:none:0:success"],
            "{n}"
        );
        let full = b.reader.clear_candidates(&a, None, Some(t(3600)), Some(t(3600)), &[TaskState::Failed]).await.expect("candidates");
        assert_eq!(
            (full[0].dag_run_id, full[0].logical_date, full[0].ti_id),
            (s1.id, t(3600), ti(&b.reader, s1, "x").await.id),
            "{n}"
        );
    }
}

#[tokio::test]
async fn metrics_count_and_sum_the_whole_database() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[("x", "failure", "ops")]).await;
        register(&b.writer, "b", "v1", &[]).await;
        let w = &b.writer;
        // scheduled: due at the interval's end (t(3600)), started 10 s late
        let s = create(w, "a", "s", RunType::Scheduled, t(0), &["x", "y"]).await;
        w.set_run_state(s.id, RunState::Queued, RunState::Running, t(3610), None)
            .await
            .expect("start");
        // manual: due when queued (t(100)), started 5 s later
        let m = create(w, "a", "m", RunType::Manual, t(100), &["x"]).await;
        w.set_run_state(m.id, RunState::Queued, RunState::Running, t(105), None)
            .await
            .expect("start");
        create(w, "b", "q", RunType::Manual, t(0), &["x"]).await;
        run_try(&b, &s, "x", t_ms(3_620_000), t_ms(3_621_250), TaskState::Success).await;
        run_try(&b, &m, "x", t(110), t(113), TaskState::Failed).await;
        let y = ti(&b.reader, &s, "y").await;
        w.start_try(y.id, TaskState::None, 1, "/l", t(3700), None)
            .await
            .expect("start");

        let metrics = b.reader.metrics().await.expect("metrics");
        let runs: Vec<(String, RunState, i64)> = metrics.dag_runs.iter().map(|(d, s, c)| (d.to_string(), *s, *c)).collect();
        assert_eq!(runs, vec![("a".into(), RunState::Running, 2), ("b".into(), RunState::Queued, 1)], "{n}");
        let mut tis = metrics.task_instances.clone();
        tis.sort_by_key(|(s, _)| s.as_str());
        assert_eq!(
            tis,
            vec![(TaskState::Failed, 1), (TaskState::None, 1), (TaskState::Running, 1), (TaskState::Success, 1)],
            "{n}"
        );
        assert_eq!(metrics.task_durations.len(), 1, "{n}: {:?}", metrics.task_durations);
        let (dag, task, seconds, count) = &metrics.task_durations[0];
        assert_eq!((dag.as_str(), task.as_str(), *count), ("a", "x", 2), "{n}");
        assert!((seconds - 4.25).abs() < 1e-3, "{n}: {seconds}");
        assert_eq!(metrics.scheduling_delays.len(), 1, "{n}");
        let (dag, delay, started) = &metrics.scheduling_delays[0];
        assert_eq!((dag.as_str(), *started), ("a", 2), "{n}");
        assert!((delay - 15.0).abs() < 1e-3, "{n}: {delay}");
        assert_eq!(metrics.alerts, vec![("ops".to_string(), "pending".to_string(), 1)], "{n}");
    }
}

#[tokio::test]
async fn clean_deletes_old_finished_runs_but_each_dags_newest_scheduled_one() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[]).await;
        let w = &b.writer;
        let s1 = create(w, "a", "s1", RunType::Scheduled, t(0), &["x"]).await;
        let s2 = create(w, "a", "s2", RunType::Scheduled, t(3600), &["x"]).await;
        let m1 = create(w, "a", "m1", RunType::Manual, t(50), &["x", "y"]).await;
        let m2 = create(w, "a", "m2", RunType::Manual, t(60), &["x"]).await;
        let late = create(w, "a", "late", RunType::Manual, t(70), &["x"]).await;
        for (run, at) in [(&s1, 10), (&s2, 3610), (&m1, 60), (&m2, 70), (&late, 80)] {
            w.set_run_state(run.id, RunState::Queued, RunState::Running, t(at), None)
                .await
                .expect("start");
        }
        let s1x = run_try(&b, &s1, "x", t(20), t(30), TaskState::Success).await;
        run_try(&b, &s2, "x", t(3620), t(3630), TaskState::Success).await;
        let m1x = run_try(&b, &m1, "x", t(61), t(62), TaskState::Failed).await;
        let m1y = ti(&b.reader, &m1, "y").await;
        w.start_try(m1y.id, TaskState::None, 1, "", t(63), None)
            .await
            .expect("a try without a log");
        w.finish_try(m1y.id, 1, &end(TaskState::Failed, t(64), None), None)
            .await
            .expect("fail");
        for (run, state, at) in [(&s1, RunState::Success, 100), (&s2, RunState::Success, 3700), (&m1, RunState::Failed, 200), (&late, RunState::Success, 20_000)] {
            w.set_run_state(run.id, RunState::Running, state, t(at), None)
                .await
                .expect("finish");
        }
        // m2 stays running

        let channels = vec!["ops".to_string()];
        for at in [100, 200, 300, 20_000] {
            w.insert_import_error_alert("/dags/bad.yaml", "oops", &channels, t(at))
                .await
                .expect("alert");
        }
        let alert_ids: Vec<i64> = b.reader.pending_alerts(10).await.expect("alerts").iter().map(|a| a.id).collect();
        w.alerts_delivered(&alert_ids[..1], t(150)).await.expect("delivered");
        w.alerts_not_delivered(&alert_ids[1..2], "no", None).await.expect("failed");
        w.alerts_delivered(&alert_ids[3..], t(20_001)).await.expect("delivered late");
        // alert 2 stays pending

        for id in ["old", "holder", "live", "recent"] {
            w.insert_owner(&owner(id, t(0))).await.expect("owner");
        }
        w.stop_owner("old", t(500)).await.expect("stop");
        w.stop_owner("holder", t(500)).await.expect("stop");
        assert!(w.claim_scheduler("holder", None).await.expect("lock"), "{n}");
        w.stop_owner("recent", t(15_000)).await.expect("stop");

        let before = t(10_000);
        let expected = Cleaned {
            dag_runs: 2,
            task_instances: 3,
            task_tries: 3,
            alerts: 2,
            owners: 1,
            log_paths: Vec::new(),
        };
        let dry = w.clean(before, true).await.expect("dry run");
        assert_eq!(dry, expected, "{n}");
        assert_eq!(b.reader.dag_runs(None, 100, 0).await.expect("runs").len(), 5, "{n}: a dry run deletes nothing");
        assert_eq!(b.reader.alerts(None, 100).await.expect("alerts").len(), 4, "{n}");

        let mut cleaned = w.clean(before, false).await.expect("clean");
        cleaned.log_paths.sort();
        assert_eq!(
            cleaned,
            Cleaned {
                log_paths: vec!["/logs/m1/x/1.log".to_string(), "/logs/s1/x/1.log".to_string()],
                ..expected
            },
            "{n}"
        );
        let left: Vec<String> = b.reader.dag_runs(None, 100, 0).await.expect("runs").iter().map(|r| r.run_id.to_string()).collect();
        assert_eq!(left, vec!["s2", "late", "m2"], "{n}");
        assert!(b.reader.task_tries(s1x.id).await.expect("tries").is_empty(), "{n}: tries go with their runs");
        assert!(b.reader.task_tries(m1x.id).await.expect("tries").is_empty(), "{n}");
        assert!(b.reader.task_instances(m1.id).await.expect("tis").is_empty(), "{n}");
        assert_eq!(b.reader.tries_of_run(s2.id).await.expect("tries").len(), 1, "{n}");
        let alerts: Vec<i64> = b.reader.alerts(None, 100).await.expect("alerts").iter().map(|a| a.id).collect();
        assert_eq!(alerts, vec![alert_ids[3], alert_ids[2]], "{n}");
        assert!(b.reader.owner("old").await.expect("owner").is_none(), "{n}");
        for kept in ["holder", "live", "recent"] {
            assert!(b.reader.owner(kept).await.expect("owner").is_some(), "{n}: {kept}");
        }
        assert_eq!(w.clean(before, false).await.expect("again"), Cleaned::default(), "{n}");
        // the scheduled run kept is where the timetable goes on
        assert_eq!(
            b.reader.last_scheduled_interval(&DagId::new("a")).await.expect("last"),
            Some((t(3600), t(7200))),
            "{n}"
        );
    }
}

#[tokio::test]
async fn peers_hear_each_others_events_on_postgres_only() {
    for b in backends().await {
        let n = b.name;
        let listening = b.writer.listen().await.expect("listen");
        if !b.is_postgres() {
            assert!(listening.is_none(), "{n}: SQLite has no peers");
            b.writer.notify(&["x".to_string()]).await.expect("notify");
            continue;
        }
        let mut events = listening.expect("a receiver");
        let (_, peer) = b.reopen().await;
        peer.notify(&["one".to_string(), "{\"two\":2}".to_string()])
            .await
            .expect("notify");
        peer.notify(&[]).await.expect("nothing to send");
        for expected in ["one", "{\"two\":2}"] {
            let got = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("within 10 s");
            assert_eq!(got.as_deref(), Some(expected), "{n}");
        }
        // another schema of the same database is another installation
        let other = postgres_backend().await.expect("a second schema");
        other
            .writer
            .notify(&["elsewhere".to_string()])
            .await
            .expect("notify");
        b.writer.notify(&["here".to_string()]).await.expect("notify");
        let got = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("within 10 s");
        assert_eq!(got.as_deref(), Some("here"), "{n}: nothing from the other schema");
    }
}

#[tokio::test]
async fn migrate_reports_the_versions_it_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Location::Sqlite(dir.path().join("fresh.db"));
    assert_eq!(super::migrate(&sqlite).await.expect("migrate"), vec![1, 2, 3, 4]);
    assert!(super::migrate(&sqlite).await.expect("again").is_empty());
    if let Some((_schema, url)) = Schema::create().await {
        let postgres = Location::parse(&url);
        assert_eq!(super::migrate(&postgres).await.expect("migrate"), vec![1]);
        assert!(super::migrate(&postgres).await.expect("again").is_empty());
        let reader = super::open_reader(&postgres).await.expect("read");
        assert!(reader.dags().await.expect("dags").is_empty());
    }
}

#[tokio::test]
async fn read_only_stores_never_create_migrate_or_write() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let reader = super::open_reader(&b.location).await.expect("open read-only");
        assert_eq!(reader.dags().await.expect("dags").len(), 1, "{n}");
        let write = match &b.location {
            Location::Postgres { url, .. } => {
                let (_, writer) = super::postgres::open(url, Access::ReadOnly, 1)
                    .await
                    .expect("open read-only");
                writer.set_paused(&DagId::new("etl"), true).await
            }
            Location::Sqlite(path) => {
                let store = super::sqlite::SqliteStore::open(path, Access::ReadOnly)
                    .await
                    .expect("open read-only");
                super::StateWrite::set_paused(&store, &DagId::new("etl"), true).await
            }
        };
        assert!(matches!(write, Err(StoreError::Database(_))), "{n}: {write:?}");
        assert!(!b.reader.dag(&DagId::new("etl")).await.expect("dag").expect("etl").is_paused, "{n}");
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.db");
    let refused = super::open_reader(missing.as_path()).await;
    assert!(matches!(refused, Err(StoreError::Missing(_))), "{refused:?}");
    assert!(!missing.exists());
    if let Some((schema, url)) = Schema::create().await {
        let refused = super::open_reader(Location::parse(&url)).await;
        assert!(matches!(refused, Err(StoreError::Missing(_))), "an empty schema: {refused:?}");
        let tables: i64 = {
            let mut conn = PgConnection::connect(&schema.admin_url).await.expect("connect");
            let count = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'",
                schema.name
            )))
            .fetch_one(&mut conn)
            .await
            .expect("count");
            let _ = conn.close().await;
            count
        };
        assert_eq!(tables, 0, "nothing was created");
        let no_database = replace_database(&schema.admin_url, "airless_no_such_database");
        let refused = super::open_reader(Location::parse(&no_database)).await;
        assert!(matches!(refused, Err(StoreError::Missing(_))), "a missing database: {refused:?}");
    }
}

/// `url` naming another database.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{database}{query}")
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("theirs.db");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePool::connect_with(options).await.expect("sqlite");
        sqlx::query("CREATE TABLE customers (id INTEGER)").execute(&pool).await.expect("create");
        pool.close().await;
    }
    let refused = super::open(path.as_path()).await.err();
    assert!(
        matches!(&refused, Some(StoreError::Foreign { tables, .. }) if tables == "customers"),
        "{refused:?}"
    );
    if let Some((schema, url)) = Schema::create().await {
        schema
            .execute(&format!("CREATE TABLE {}.customers (id INTEGER)", schema.name))
            .await;
        let location = Location::parse(&url);
        let refused = super::open(location.clone()).await.err();
        match refused {
            Some(err @ StoreError::Foreign { .. }) => {
                assert!(err.to_string().contains(&location.to_string()), "{err}");
                assert!(err.to_string().contains("customers"), "{err}");
            }
            other => panic!("not refused as foreign: {other:?}"),
        }
        assert!(super::migrate(&location).await.is_err(), "migrate refuses it too");
    }
}

#[tokio::test]
async fn a_password_never_shows_in_an_error() {
    // nothing listens on port 1
    let url = "postgres://airless:s3cret@127.0.0.1:1/airless?sslmode=disable";
    for result in [
        super::open(Location::parse(url)).await.err(),
        super::open_reader(Location::parse(url)).await.err(),
        super::migrate(&Location::parse(url)).await.err(),
    ] {
        let err = result.expect("no server there");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://airless:***@127.0.0.1:1/airless"), "{shown}");
    }
}
