//! The operator's commands with the real binary: `trigger --wait`, `runs
//! list|show`, `logs`, `backfill` against a running daemon; where the CLI
//! finds its config, what it refuses to create, its help, `serve`'s flags
//! and plain log; `tasks test` with upstream outputs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{airless, airless_with, workspace};
use crate::daemon::{Daemon, TOKEN};

/// A task that fails its first try (saying why on stderr) and succeeds its
/// second, then a noop after it.
const FLAKY: &str = "dag_id: flaky\nschedule: null\ntasks:\n  - task_id: a\n    kind: shell\n    retries: 1\n    retry_delay: 0s\n    command: 'if [ -f marker ]; then echo second try; exit 0; fi; touch marker; echo boom >&2; exit 3'\n  - { task_id: b, kind: noop, depends_on: [a] }\n";

const DAILY: &str = "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\ncatchup: false\ntasks:\n  - { task_id: t, kind: noop }\n";

fn remote_env(daemon: &Daemon) -> Vec<(&'static str, String)> {
    vec![
        ("AIRLESS_URL", daemon.base.clone()),
        ("AIRLESS_API_TOKENS", TOKEN.to_string()),
    ]
}

fn cli(dir: &std::path::Path, daemon: &Daemon, args: &[&str]) -> (i32, String, String) {
    let env = remote_env(daemon);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    airless_with(dir, args, &env)
}

/// The run id `trigger` printed on its first line.
fn triggered_run_id(out: &str) -> String {
    let first = out.lines().next().unwrap();
    let rest = first.split(" / ").nth(1).unwrap();
    rest.split(' ').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_trigger_wait_prints_every_try_then_runs_show_and_logs_read_them() {
    let dir = workspace(&[("flaky.yaml", FLAKY)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, err) = cli(dir.path(), &daemon, &["trigger", "flaky", "--wait"]);
    assert_eq!(code, 0, "{out}{err}");
    let run_id = triggered_run_id(&out);
    let log1 = format!("logs/dag_id=flaky/run_id={run_id}/task_id=a/attempt=1.log");
    assert_eq!(
        out,
        format!(
            "triggered flaky / {run_id} (queued)\n  a: try 1 running\n  a: try 1 failed: command exited with code 3 (log: {log1}); up for retry\n  a: try 2 running\n  a: try 2 success\n  b: try 1 running\n  b: try 1 success\nrun {run_id}: success\n"
        )
    );
    assert!(!out.contains("none"), "{out}");

    let (code, out, err) = cli(dir.path(), &daemon, &["runs", "show", "flaky", &run_id]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("flaky / {run_id}: success (manual, logical date ")),
        "{out}"
    );
    assert!(
        lines[1].starts_with("task  state    tries  duration  error"),
        "{out}"
    );
    assert!(lines[2].starts_with("a     success  2      "), "{out}");
    assert!(
        lines[2].ends_with(&format!(
            "logs/dag_id=flaky/run_id={run_id}/task_id=a/attempt=2.log"
        )),
        "{out}"
    );
    assert!(lines[3].starts_with("b     success  1      "), "{out}");
    assert!(lines[3].ends_with("  -      -"), "a noop has no log: {out}");
    assert_eq!(lines[4..6], ["", "earlier tries:"], "{out}");
    assert_eq!(
        lines[6].split_whitespace().collect::<Vec<_>>(),
        ["task", "try", "state", "error", "log"]
    );
    assert_eq!(
        lines[7],
        format!("a     1    up_for_retry  command exited with code 3  {log1}")
    );

    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &["logs", "flaky", &run_id, "a", "--try", "1"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("boom"), "{out}");
    let (code, out, _) = cli(dir.path(), &daemon, &["logs", "flaky", &run_id, "a"]);
    assert_eq!(code, 0);
    assert!(out.contains("second try"), "{out}");
    let (code, out, _) = cli(
        dir.path(),
        &daemon,
        &["logs", "flaky", &run_id, "a", "--follow"],
    );
    assert_eq!(code, 0);
    assert!(out.contains("second try"), "{out}");
    let (code, _, err) = cli(
        dir.path(),
        &daemon,
        &["logs", "flaky", &run_id, "a", "--try", "5"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("error: task `a` of run `{run_id}` has no try 5 (tries 1 to 2)\n")
    );
    let (code, _, err) = cli(dir.path(), &daemon, &["runs", "show", "flaky", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: DAG `flaky` has no run `nope` (`airless runs list flaky` lists them)\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_trigger_wait_on_a_failing_task_names_its_error_and_log() {
    let failing = "dag_id: failing\nschedule: null\ntasks:\n  - { task_id: boom, kind: shell, command: \"exit 4\" }\n  - { task_id: after, kind: noop, depends_on: [boom] }\n";
    let dir = workspace(&[("failing.yaml", failing)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, err) = cli(dir.path(), &daemon, &["trigger", "failing", "--wait"]);
    assert_eq!(code, 1, "{out}{err}");
    let run_id = triggered_run_id(&out);
    assert_eq!(
        out,
        format!(
            "triggered failing / {run_id} (queued)\n  boom: try 1 running\n  boom: try 1 failed: command exited with code 4 (log: logs/dag_id=failing/run_id={run_id}/task_id=boom/attempt=1.log)\n  after: upstream_failed\nrun {run_id}: failed\n"
        )
    );
    let (code, out, _) = cli(dir.path(), &daemon, &["runs", "show", "failing", &run_id]);
    assert_eq!(code, 1);
    assert!(out.contains("boom   failed           1      "), "{out}");
    assert!(out.contains("command exited with code 4"), "{out}");
    assert!(
        out.contains("after  upstream_failed  0      -         -"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_trigger_wait_on_a_paused_dag_says_so_at_once() {
    let dir = workspace(&[("daily.yaml", DAILY)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, _) = cli(dir.path(), &daemon, &["dags", "pause", "daily"]);
    assert_eq!((code, out.as_str()), (0, "daily is now paused\n"));
    let started = Instant::now();
    let (code, out, err) = cli(dir.path(), &daemon, &["trigger", "daily", "--wait"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error: the DAG is paused: `airless dags unpause daily`, then trigger it again (nothing was triggered)\n"
    );
    let (code, out, err) = cli(dir.path(), &daemon, &["trigger", "daily"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("triggered daily / manual__"), "{out}");
    assert_eq!(
        err,
        "note: the DAG is paused: the run starts when you unpause it (`airless dags unpause daily`)\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_runs_list_is_newest_first_filters_by_state_and_refuses_an_unknown_dag() {
    let dir = workspace(&[("daily.yaml", DAILY)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, err) = cli(dir.path(), &daemon, &["trigger", "daily", "--wait"]);
    assert_eq!(code, 0, "{out}{err}");
    let manual = triggered_run_id(&out);
    // queued after the manual run, with an older logical date
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-01",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = cli(dir.path(), &daemon, &["runs", "list", "daily"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().collect();
    assert!(rows[0].starts_with("dag_id  run_id"), "{out}");
    let first: Vec<&str> = rows[1].split_whitespace().take(3).collect();
    assert_eq!(
        first,
        ["daily", "backfill__2024-02-01T00:00:00+00:00", "backfill"],
        "{out}"
    );
    assert!(rows[2].contains(&manual), "{out}");
    let (code, out, _) = cli(
        dir.path(),
        &daemon,
        &[
            "runs", "list", "daily", "--state", "success", "--state", "failed",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains(&manual), "{out}");
    for row in out.lines().skip(1) {
        assert!(row.contains("  success  "), "{out}");
    }
    let (code, _, err) = cli(dir.path(), &daemon, &["runs", "list", "--state", "done"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: --state `done` is not a run state (one of: queued, running, success, failed)\n"
    );
    let (code, out, err) = cli(dir.path(), &daemon, &["runs", "list", "nope"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        format!(
            "error: no DAG `nope` on the daemon at {} (`airless dags list` lists them)\n",
            daemon.base
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_backfill_lists_first_refuses_the_future_names_dates_before_start_and_resets() {
    let ending = "dag_id: ending\nschedule: \"@daily\"\nstart_date: 2024-01-01\nend_date: 2024-01-02\nis_paused_upon_creation: true\ntasks:\n  - { task_id: t, kind: noop }\n";
    let dir = workspace(&[("daily.yaml", DAILY), ("ending.yaml", ending)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "ending",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-05",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "dates after 2024-01-02T00:00:00Z fall after the DAG's end_date and have no interval: left out\n\
         \x20 queue  2024-01-01T00:00:00Z → 2024-01-02T00:00:00Z  backfill__2024-01-01T00:00:00+00:00\n\
         \x20 queue  2024-01-02T00:00:00Z → 2024-01-03T00:00:00Z  backfill__2024-01-02T00:00:00+00:00\n\
         ending: 2 interval(s), 2 to queue, 0 to reset\n"
    );
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2023-12-30",
            "--to",
            "2024-01-02",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "dates from 2023-12-30T00:00:00Z to before 2024-01-01T00:00:00Z fall before the DAG's start_date and have no interval: left out\n\
         \x20 queue  2024-01-01T00:00:00Z → 2024-01-02T00:00:00Z  backfill__2024-01-01T00:00:00+00:00\n\
         \x20 queue  2024-01-02T00:00:00Z → 2024-01-03T00:00:00Z  backfill__2024-01-02T00:00:00+00:00\n\
         daily: 2 interval(s), 2 to queue, 0 to reset\n"
    );
    let (_, out, _) = cli(dir.path(), &daemon, &["runs", "list", "daily"]);
    assert!(
        !out.contains("backfill__"),
        "a dry run queues nothing: {out}"
    );

    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-01",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with(
            "queued backfill__2024-01-01T00:00:00+00:00\n1 run(s) queued, 0 reset for daily\n"
        ),
        "{out}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out, _) = cli(
            dir.path(),
            &daemon,
            &["runs", "list", "daily", "--state", "success"],
        );
        if out.contains("backfill__2024-01-01T00:00:00+00:00") {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, out, _) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-01",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "  skip   2024-01-01T00:00:00Z → 2024-01-02T00:00:00Z  backfill__2024-01-01T00:00:00+00:00 (success) exists; --reset runs it again\n\
         daily: 1 interval(s), 0 to queue, 0 to reset\n"
    );
    // --reset asks first; with no terminal to ask on, only --yes goes ahead
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-01",
            "--reset",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "  reset  2024-01-01T00:00:00Z → 2024-01-02T00:00:00Z  backfill__2024-01-01T00:00:00+00:00 (success): its task instances cleared\n\
         daily: 1 interval(s), 0 to queue, 1 to reset\n"
    );
    assert_eq!(
        err,
        "error: --reset clears existing runs: pass --yes to go ahead without a terminal (nothing was done)\n"
    );
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-01",
            "--reset",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with(
            "reset backfill__2024-01-01T00:00:00+00:00\n0 run(s) queued, 1 reset for daily\n"
        ),
        "{out}"
    );
    let run = daemon
        .get("/api/v1/dags/daily/dagRuns/backfill__2024-01-01T00:00:00+00:00/taskInstances")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut run = run;
    // cleared, then run again: a second try
    while run["task_instances"][0]["try_number"] != 2 {
        assert!(Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        run = daemon
            .get("/api/v1/dags/daily/dagRuns/backfill__2024-01-01T00:00:00+00:00/taskInstances")
            .await;
    }

    // intervals that have not ended are refused, nothing queued
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2099-01-01",
            "--to",
            "2099-01-02",
        ],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "error: 2 interval(s) have not ended yet: 2099-01-01T00:00:00Z, 2099-01-02T00:00:00Z\nnothing was queued; pass --allow-future to queue them too, or an earlier --to\n"
    );
    let (code, out, _) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2099-01-01",
            "--to",
            "2099-01-02",
            "--allow-future",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        out.ends_with("daily: 2 interval(s), 2 to queue, 0 to reset\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_a_401_says_how_to_pass_a_token() {
    let dir = workspace(&[("daily.yaml", DAILY)]);
    let daemon = Daemon::start(dir.path()).await;
    let url = daemon.base.clone();
    let (code, _, err) = airless_with(
        dir.path(),
        &["runs", "list"],
        &[("AIRLESS_URL", url.as_str())],
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "error: 401 Unauthorized: the daemon at {url} wants an API token: pass --token TOKEN, or set AIRLESS_API_TOKENS (or `api_tokens` in airless.toml) to one of the daemon's tokens\n"
        )
    );
    let (code, out, err) = airless_with(
        dir.path(),
        &["runs", "list", "--token", TOKEN],
        &[("AIRLESS_URL", url.as_str())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("dag_id  run_id"), "{out}");
}

#[test]
fn cli_in_an_empty_folder_creates_nothing_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = airless(dir.path(), &["dags", "list", "--url", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: the DAG folder dags does not exist: run this where it is, or set `dags_folder` in airless.toml (or --config FILE), or AIRLESS_DAGS_FOLDER\n"
    );
    for args in [
        &["dags", "test", "x"][..],
        &["dags", "next-runs", "x"],
        &["dags", "show", "x"],
        &["tasks", "test", "x", "y"],
        &[
            "backfill",
            "x",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-02",
        ],
    ] {
        let (code, _, err) = airless(dir.path(), args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.starts_with("error: the DAG folder dags does not exist"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = airless(dir.path(), &["runs", "list", "--url", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(err.contains("is `airless serve` running?"), "{err}");
    let (code, _, err) = airless(
        dir.path(),
        &["db", "clean", "--before", "2024-01-01", "--dry-run"],
    );
    assert_ne!(code, 0, "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn cli_finds_the_system_wide_config_and_prefers_the_local_one() {
    let dir = workspace(&[("daily.yaml", DAILY)]);
    let elsewhere = tempfile::tempdir().unwrap();
    let etc = tempfile::tempdir().unwrap();
    let system = etc.path().join("airless.toml");
    std::fs::write(
        &system,
        format!("dags_folder = \"{}\"\n", dir.path().join("dags").display()),
    )
    .unwrap();
    let system = system.display().to_string();
    let env = [("AIRLESS_SYSTEM_CONFIG", system.as_str())];
    let (code, out, err) = airless_with(
        elsewhere.path(),
        &[
            "dags",
            "next-runs",
            "daily",
            "-n",
            "1",
            "--after",
            "2024-05-01",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("2024-05-01T00:00:00Z"), "{out}");
    // ./airless.toml comes first
    std::fs::write(
        elsewhere.path().join("airless.toml"),
        "dags_folder = \"nowhere\"\n",
    )
    .unwrap();
    let (code, _, err) = airless_with(elsewhere.path(), &["dags", "show", "daily"], &env);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: the DAG folder nowhere does not exist"),
        "{err}"
    );
    // and --config before both
    let (code, out, _) = airless_with(
        elsewhere.path(),
        &["dags", "show", "daily", "--config", &system],
        &env,
    );
    assert_eq!(code, 0);
    assert!(out.contains("t0"), "{out}");
}

#[test]
fn cli_help_lists_the_environment_variables() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["serve", "--help"]] {
        let (code, out, _) = airless(dir.path(), args);
        assert_eq!(code, 0);
        for var in [
            "AIRLESS_CONFIG",
            "AIRLESS_DAGS_FOLDER",
            "AIRLESS_DATABASE",
            "AIRLESS_BIND",
            "AIRLESS_API_TOKENS",
            "AIRLESS_URL",
        ] {
            assert!(out.contains(var), "{args:?} lacks {var}: {out}");
        }
    }
    let (_, out, _) = airless(dir.path(), &["serve", "--help"]);
    for flag in ["--bind", "--dags-folder", "--database"] {
        assert!(out.contains(flag), "{out}");
    }
}

#[test]
fn cli_serve_takes_its_flags_over_the_environment_and_logs_without_colour_to_a_file() {
    let dir = workspace(&[]);
    std::fs::create_dir(dir.path().join("other-dags")).unwrap();
    std::fs::write(dir.path().join("other-dags/daily.yaml"), DAILY).unwrap();
    let log_path = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--dags-folder",
            "other-dags",
            "--database",
            "other.db",
        ])
        .current_dir(dir.path())
        .env("AIRLESS_BIND", "127.0.0.1:1")
        .env("AIRLESS_DAGS_FOLDER", "missing")
        .env_remove("AIRLESS_DATABASE")
        .env("AIRLESS_SYSTEM_CONFIG", dir.path().join("none.toml"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("serving the API on http://") && text.contains("daily") {
            break text;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("serve did not start: {text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(!text.contains("\x1b["), "ANSI codes in a file: {text}");
    assert!(dir.path().join("other.db").exists());
    assert!(!dir.path().join("airless.db").exists());

    let (code, _, err) = airless(dir.path(), &["serve", "--dags-folder", "missing"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the DAG folder missing does not exist"),
        "{err}"
    );
    assert!(!text.contains("\x1b["), "{err}");
}

#[test]
fn cli_tasks_test_takes_upstream_outputs_given_or_from_a_recorded_run() {
    let pipe = "dag_id: pipe\nschedule: null\ntasks:\n  - { task_id: a, kind: shell, command: \"echo from-a\" }\n  - { task_id: b, kind: shell, command: \"echo got {{ tasks.a.output }}\", depends_on: [a] }\n";
    let dir = workspace(&[("pipe.yaml", pipe)]);
    let (code, out, err) = airless(
        dir.path(),
        &[
            "tasks",
            "test",
            "pipe",
            "b",
            "--upstream-output",
            "a=\"given\"",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("task succeeded; output: \"got given\""),
        "{out}"
    );
    let (code, _, err) = airless(
        dir.path(),
        &[
            "tasks",
            "test",
            "pipe",
            "b",
            "--upstream-output",
            "a=not json",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: --upstream-output a: not valid JSON"),
        "{err}"
    );
    let (code, _, err) = airless(
        dir.path(),
        &["tasks", "test", "pipe", "b", "--from-run", "x"],
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: --from-run: the state database airless.db does not exist: set `database` in airless.toml, AIRLESS_DATABASE or --config\n"
    );
    assert!(!dir.path().join("airless.db").exists());

    let (code, out, _) = airless(
        dir.path(),
        &["dags", "test", "pipe", "--date", "2024-05-01"],
    );
    assert_eq!(code, 0, "{out}");
    let run_id = "manual__2024-05-01T00:00:00+00:00";
    let (code, out, err) = airless(
        dir.path(),
        &["tasks", "test", "pipe", "b", "--from-run", run_id],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("task succeeded; output: \"got from-a\""),
        "{out}"
    );
    let (code, out, _) = airless(
        dir.path(),
        &[
            "tasks",
            "test",
            "pipe",
            "b",
            "--from-run",
            run_id,
            "--upstream-output",
            "a=\"over\"",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("output: \"got over\""), "{out}");
    let (code, _, err) = airless(
        dir.path(),
        &["tasks", "test", "pipe", "b", "--from-run", "nope"],
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: --from-run: DAG `pipe` has no run `nope` in airless.db\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_logs_follow_prints_a_running_try_until_it_ends() {
    let slow = "dag_id: slow\nschedule: null\ntasks:\n  - { task_id: s, kind: shell, command: \"echo first; sleep 2; echo last\" }\n";
    let dir = workspace(&[("slow.yaml", slow)]);
    let daemon = Daemon::start(dir.path()).await;
    let (code, out, _) = cli(dir.path(), &daemon, &["trigger", "slow"]);
    assert_eq!(code, 0);
    let run_id = triggered_run_id(&out);
    let path = format!("/api/v1/dags/slow/dagRuns/{run_id}/taskInstances/s");
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.get(&path).await["state"] != "running" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, out, err) = cli(
        dir.path(),
        &daemon,
        &["logs", "slow", &run_id, "s", "--follow"],
    );
    assert_eq!(code, 0, "{err}");
    let first = out.find("] first").unwrap();
    let last = out.find("] last").unwrap();
    assert!(first < last, "{out}");
    assert_eq!(daemon.get(&path).await["state"], "success");
    let (code, _, err) = cli(dir.path(), &daemon, &["logs", "slow", &run_id, "nope"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("error: run `{run_id}` of DAG `slow` has no task `nope`\n")
    );
}
