//! The in-process commands of the real binary: what a person reads.

use std::process::Command;

pub(crate) fn airless(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    airless_with(dir, args, &[])
}

/// The binary in `dir` with `env` and none of the caller's `AIRLESS_*`
/// settings (and no system-wide config file); stdin is not a terminal.
pub(crate) fn airless_with(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLESS_DAGS_FOLDER")
        .env_remove("AIRLESS_DATABASE")
        .env_remove("AIRLESS_CONFIG")
        .env_remove("AIRLESS_URL")
        .env_remove("AIRLESS_API_TOKENS")
        .env("AIRLESS_SYSTEM_CONFIG", dir.join("no-system-config.toml"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dags")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("dags").join(name), text).unwrap();
    }
    dir
}

const NIGHTLY: &str = "dag_id: nightly\nschedule: \"30 2 * * *\"\ntimezone: America/New_York\nstart_date: 2024-03-01\ntasks:\n  - { task_id: a, kind: shell, command: \"echo hello {{ ds }}\" }\n  - { task_id: b, kind: noop, depends_on: [a] }\n";

#[test]
fn next_runs_prints_logical_date_interval_and_start_across_a_dst_change() {
    let dir = workspace(&[("nightly.yaml", NIGHTLY)]);
    let (code, out, err) = airless(
        dir.path(),
        &[
            "dags",
            "next-runs",
            "nightly",
            "-n",
            "3",
            "--after",
            "2024-03-08",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // 02:30 does not exist in New York on 2024-03-10: Airflow runs it at 03:30 EDT (07:30Z)
    assert_eq!(
        out,
        "2024-03-08T07:30:00Z  interval 2024-03-08T07:30:00Z → 2024-03-09T07:30:00Z  starts 2024-03-09T07:30:00Z\n\
         2024-03-09T07:30:00Z  interval 2024-03-09T07:30:00Z → 2024-03-10T07:30:00Z  starts 2024-03-10T07:30:00Z\n\
         2024-03-10T07:30:00Z  interval 2024-03-10T07:30:00Z → 2024-03-11T06:30:00Z  starts 2024-03-11T06:30:00Z\n"
    );
}

#[test]
fn show_prints_the_graph_as_dot_and_mermaid() {
    let dir = workspace(&[("nightly.yaml", NIGHTLY)]);
    let (_, dot, _) = airless(dir.path(), &["dags", "show", "nightly", "--format", "dot"]);
    assert!(dot.starts_with("digraph \"nightly\""), "{dot}");
    assert!(dot.contains("\"a\" -> \"b\";"), "{dot}");
    let (_, mermaid, _) = airless(dir.path(), &["dags", "show", "nightly"]);
    assert!(mermaid.contains("t0 --> t1"), "{mermaid}");
}

#[test]
fn tasks_test_runs_one_task_with_its_log_on_stdout_and_records_nothing() {
    let dir = workspace(&[("nightly.yaml", NIGHTLY)]);
    let (code, out, err) = airless(
        dir.path(),
        &["tasks", "test", "nightly", "a", "--date", "2024-05-01"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hello 2024-05-01"), "{out}");
    assert!(
        out.contains("task succeeded; output: \"hello 2024-05-01\""),
        "{out}"
    );
    assert!(
        !dir.path().join("airless.db").exists(),
        "tasks test records nothing"
    );
}

#[test]
fn dags_test_prints_a_task_table_and_exits_with_the_run_result() {
    let failing = "dag_id: failing\ntasks:\n  - { task_id: boom, kind: shell, command: \"exit 4\" }\n  - { task_id: after, kind: noop, depends_on: [boom] }\n";
    let dir = workspace(&[("nightly.yaml", NIGHTLY), ("failing.yaml", failing)]);
    let (code, out, _) = airless(
        dir.path(),
        &["dags", "test", "nightly", "--date", "2024-05-01"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a        success  1"), "{out}");
    let (code, out, _) = airless(dir.path(), &["dags", "test", "failing"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("boom     failed           1"), "{out}");
    assert!(out.contains("after    upstream_failed  0"), "{out}");
}

#[test]
fn dags_list_shows_the_next_run_and_the_import_errors() {
    let dir = workspace(&[
        ("nightly.yaml", NIGHTLY),
        ("broken.yaml", "dag_id: broken\nshedule: x\ntasks: []\n"),
    ]);
    let (code, out, _) = airless(dir.path(), &["dags", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("nightly  30 2 * * *"), "{out}");
    assert!(
        out.contains("import errors:\n  dags/broken.yaml:2:1: unknown field `shedule`"),
        "{out}"
    );
}

#[test]
fn an_unknown_dag_is_an_error_that_lists_the_known_ones() {
    let dir = workspace(&[("nightly.yaml", NIGHTLY)]);
    let (code, _, err) = airless(dir.path(), &["dags", "test", "nightlly"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "error: no DAG `nightlly` in dags (it has: nightly)"
    );
}

#[test]
fn serve_refuses_a_public_bind_without_an_api_token() {
    let dir = workspace(&[("nightly.yaml", NIGHTLY)]);
    let out = Command::new(env!("CARGO_BIN_EXE_airless"))
        .arg("serve")
        .current_dir(dir.path())
        .env("AIRLESS_BIND", "0.0.0.0:0")
        .env_remove("AIRLESS_API_TOKENS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without an API token"),
        "{err}"
    );
}
