//! `airless db migrate | copy | clean`, run as the real binary against a
//! history the engine wrote in-process (beside it, as a daemon would be).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use airless::engine::RunRequest;
use airless::model::{Clock, RunType, SystemClock, VirtualClock};
use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::support::TestEnv;

/// Runs the binary in `dir` with `AIRLESS_*` `vars`; (code, stdout, stderr).
async fn airless(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_airless"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLESS_CONFIG")
        .env_remove("AIRLESS_DATABASE")
        .env_remove("AIRLESS_LOGS_FOLDER");
    for (key, value) in vars {
        command.env(key, value);
    }
    // the in-process history's database stays open beside it
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const STATE: &[(&str, &str)] = &[
    ("AIRLESS_DATABASE", "airless.db"),
    ("AIRLESS_LOGS_FOLDER", "logs"),
];

fn day(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, month, day, 0, 0, 0).unwrap()
}

/// Runs of `daily`, each with one shell try and its log file: two
/// scheduled (Jan 1 and 2) and one manual run finished in January, one
/// started then and still running, one manual run finished in June.
/// Returns the run ids in that order.
async fn history(env: &TestEnv, clock: &VirtualClock) -> Vec<i64> {
    let dag = env.dag(
        "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\ntasks:\n  - { task_id: hello, kind: shell, command: \"echo hello\" }\n",
    );
    let control = env.engine.control();
    let request = |run_type, logical_date| RunRequest {
        run_id: None,
        run_type,
        logical_date,
        data_interval: dag.timetable.manual_data_interval(logical_date),
        conf: serde_json::json!({}),
    };
    let drive = async |request: RunRequest| {
        let id = control.trigger(&dag, &request).await.unwrap().id;
        env.engine
            .drive(
                dag.clone(),
                id,
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        id
    };
    let mut ids = vec![
        drive(request(RunType::Scheduled, day(1, 1))).await,
        drive(request(RunType::Scheduled, day(1, 2))).await,
        drive(request(RunType::Manual, day(1, 3))).await,
    ];
    ids.push(
        control
            .create_driven_run(&dag, &request(RunType::Manual, day(1, 4)))
            .await
            .unwrap()
            .id,
    );
    clock.advance(day(6, 1) - clock.now());
    ids.push(drive(request(RunType::Manual, day(6, 1))).await);
    ids
}

async fn env_with_history() -> (TestEnv, Vec<i64>) {
    let clock = VirtualClock::starting_at(day(1, 1));
    let env = TestEnv::with(Arc::new(clock.clone()), 4, BTreeMap::new()).await;
    let ids = history(&env, &clock).await;
    (env, ids)
}

async fn run_ids(env: &TestEnv) -> Vec<i64> {
    let mut ids: Vec<i64> = env
        .store
        .dag_runs(None, 100, 0)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

/// The log file of run `id`'s one try.
async fn log_of(env: &TestEnv, id: i64) -> String {
    let tries = env.store.tries_of_run(id).await.unwrap();
    assert_eq!(tries.len(), 1, "run {id}: {tries:?}");
    tries[0].1.log_path.clone()
}

const FOUND: &str = "airless.db: what finished before 2024-03-01T00:00:00+00:00\n  DAG runs        2\n  task instances  2\n  task tries      2\n  alerts          0\n  owners          0\n";

#[tokio::test]
async fn clean_deletes_old_finished_runs_and_their_logs_and_keeps_what_the_scheduler_needs() {
    let (env, ids) = env_with_history().await;
    let mut logs = Vec::new();
    for id in [ids[0], ids[2], ids[1], ids[4]] {
        logs.push(log_of(&env, id).await);
    }
    assert!(logs.iter().all(|log| Path::new(log).exists()), "{logs:?}");

    // beside a live `serve` owner holding the scheduler's lock (the env's)
    let (code, out, err) = airless(
        env.dir.path(),
        &["db", "clean", "--before", "2024-03-01", "--yes"],
        STATE,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "{FOUND}deleted 2 DAG runs, 2 task instances, 2 task tries, 0 alerts, 0 owners\nremoved 2 log files\n"
        )
    );
    // the older scheduled run and the old manual one are gone; the newest
    // scheduled run (the timetable goes on from it), the running one and
    // the June one stay
    assert_eq!(run_ids(&env).await, [ids[1], ids[3], ids[4]]);
    for gone in &logs[..2] {
        assert!(!Path::new(gone).exists(), "{gone}");
        // and the run's folder with it
        let run_folder = Path::new(gone).parent().unwrap().parent().unwrap();
        assert!(!run_folder.exists(), "{}", run_folder.display());
    }
    for kept in &logs[2..] {
        assert!(Path::new(kept).exists(), "{kept}");
    }
    assert!(env.path("logs").join("dag_id=daily").exists());

    let (code, out, _) = airless(
        env.dir.path(),
        &["db", "clean", "--before", "2024-03-01T00:00:00Z", "--yes"],
        STATE,
    )
    .await;
    assert_eq!(code, 0);
    assert!(out.ends_with("\nnothing to delete\n"), "{out}");
}

#[tokio::test]
async fn clean_with_dry_run_only_counts() {
    let (env, ids) = env_with_history().await;
    let (code, out, err) = airless(
        env.dir.path(),
        &["db", "clean", "--before", "2024-03-01", "--dry-run"],
        STATE,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{FOUND}dry run: nothing deleted\n"));
    assert_eq!(run_ids(&env).await, ids);
    assert!(Path::new(&log_of(&env, ids[0]).await).exists());
}

#[tokio::test]
async fn clean_without_a_terminal_asks_for_yes_and_deletes_nothing() {
    let (env, ids) = env_with_history().await;
    let (code, out, err) = airless(
        env.dir.path(),
        &["db", "clean", "--before", "2024-03-01"],
        STATE,
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(out, FOUND);
    assert_eq!(err, "error: pass --yes to delete without asking\n");
    assert_eq!(run_ids(&env).await, ids);

    let (code, _, err) = airless(
        env.dir.path(),
        &["db", "clean", "--before", "last tuesday", "--yes"],
        STATE,
    )
    .await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: --before `last tuesday` is not a date (YYYY-MM-DD) or an RFC 3339 time\n"
    );
}

#[tokio::test]
async fn clean_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = airless(
        dir.path(),
        &["db", "clean", "--before", "2024-03-01", "--yes"],
        STATE,
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(err, "error: the state database airless.db does not exist\n");
    assert!(!dir.path().join("airless.db").exists());
}

/// `0001, 0002, …`: every migration this airless has.
fn every_migration() -> String {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut versions: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy()[..4].to_string())
        .collect();
    versions.sort();
    versions.join(", ")
}

#[tokio::test]
async fn migrate_applies_what_is_missing_then_finds_it_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = airless(dir.path(), &["db", "migrate"], STATE).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("migrated airless.db: applied {}\n", every_migration())
    );
    let (code, out, _) = airless(dir.path(), &["db", "migrate"], STATE).await;
    assert_eq!(code, 0);
    assert_eq!(out, "airless.db is up to date\n");

    // a server that is not there: exit 1, the password never shown
    let (code, out, err) = airless(
        dir.path(),
        &["db", "migrate"],
        &[(
            "AIRLESS_DATABASE",
            "postgres://airless:s3cret@127.0.0.1:1/airless",
        )],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with("error: ") && err.contains("postgres://airless:***@127.0.0.1:1/airless"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test]
async fn copy_moves_every_table_into_an_empty_database_once() {
    let (env, ids) = env_with_history().await;
    let dir = env.dir.path();
    let (code, out, err) = airless(
        dir,
        &[
            "db",
            "copy",
            "--from",
            "sqlite://airless.db",
            "--to",
            "copy.db",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (first, table) = out.split_once('\n').unwrap();
    assert!(
        first.starts_with("copied airless.db into copy.db in ") && first.ends_with('s'),
        "{first}"
    );
    assert_eq!(
        table,
        "table           rows\n\
         owners          1\n\
         dags            1\n\
         dag_versions    1\n\
         dag_runs        5\n\
         task_instances  5\n\
         task_tries      4\n\
         alert_routes    0\n\
         alerts          0\n"
    );
    // the copy reads as the original does
    let (code, out, _) = airless(
        dir,
        &["db", "clean", "--before", "2024-03-01", "--dry-run"],
        &[("AIRLESS_DATABASE", "copy.db")],
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        out.ends_with(&format!(
            "{}dry run: nothing deleted\n",
            &FOUND[FOUND.find('\n').unwrap() + 1..]
        )),
        "{out}"
    );

    // once: the copy now holds state
    let (code, _, err) = airless(
        dir,
        &["db", "copy", "--from", "airless.db", "--to", "copy.db"],
        &[],
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: copy.db already holds airless state (5 DAG runs, 1 DAG, 1 DAG version, 5 task instances, 4 task tries, 2 owners): copy into an empty database\n"
    );
    assert_eq!(run_ids(&env).await, ids);
}

#[tokio::test]
async fn copy_refuses_the_same_database_a_missing_one_and_a_running_daemon() {
    let (env, _) = env_with_history().await;
    let dir = env.dir.path();
    let refused = async |from: &str, to: &str| {
        let (code, out, err) = airless(dir, &["db", "copy", "--from", from, "--to", to], &[]).await;
        assert_eq!(code, 1, "{out}");
        assert!(!dir.join("copy.db").exists(), "nothing written");
        err
    };
    assert_eq!(
        refused("airless.db", "sqlite://./airless.db").await,
        "error: --from and --to are the same database (airless.db): copy into another one\n"
    );
    assert_eq!(
        refused("nowhere.db", "copy.db").await,
        "error: the source database nowhere.db does not exist\n"
    );

    // a `serve` (this process, on the wall clock) heartbeats on it
    let live = TestEnv::with(Arc::new(SystemClock), 4, BTreeMap::new()).await;
    let err = {
        let (code, out, err) = airless(
            live.dir.path(),
            &["db", "copy", "--from", "airless.db", "--to", "copy.db"],
            &[],
        )
        .await;
        assert_eq!(code, 1, "{out}");
        assert!(!live.path("copy.db").exists(), "nothing written");
        err
    };
    assert_eq!(
        err,
        format!(
            "error: airless.db is in use: stop airless serve first (pid {} on {})\n",
            std::process::id(),
            airless::engine::lease::hostname()
        )
    );
}
