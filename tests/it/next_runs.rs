//! The next run that `dags list`, `dags next-runs` and the API show is the
//! one the scheduler of the real `airless serve` creates next: the same
//! logical date, starting when they said.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;

use crate::daemon::{Daemon, TOKEN, free_port, wait_for, workspace};

const MINUTELY: &str = "dag_id: minutely\nschedule: \"*/1 * * * *\"\nstart_date: 2024-01-01\ncatchup: false\ntasks:\n  - { task_id: t, kind: noop }\n";

/// Runs the real binary in `dir` against the daemon at `url`.
fn airless(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(args)
        .current_dir(dir)
        .env("AIRLESS_URL", url)
        .env("AIRLESS_API_TOKENS", TOKEN)
        .env_remove("AIRLESS_DAGS_FOLDER")
        .env_remove("AIRLESS_DATABASE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
        .with_timezone(&Utc)
}

/// The `minutely` row of `dags list`: its next run's logical date and start.
fn listed_next(out: &str) -> (DateTime<Utc>, DateTime<Utc>) {
    let row = out
        .lines()
        .find(|line| line.starts_with("minutely "))
        .unwrap_or_else(|| panic!("no minutely row:\n{out}"));
    // dag_id, the five cron fields, next run, starts, paused, file
    let cells: Vec<&str> = row.split_whitespace().collect();
    (time(cells[6]), time(cells[7]))
}

/// The scheduled runs of `minutely`, by logical date.
async fn scheduled(daemon: &Daemon) -> Vec<DateTime<Utc>> {
    let runs = daemon.get("/api/v1/dags/minutely/dagRuns").await;
    let mut dates: Vec<DateTime<Utc>> = runs["dag_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["run_type"] == "scheduled")
        .map(|run| time(run["logical_date"].as_str().unwrap()))
        .collect();
    dates.sort();
    dates
}

/// Waits until the wall clock is between seconds 2 and 40 of a minute, so
/// that no minute ends in the few seconds the next steps take.
async fn away_from_a_minute_boundary() {
    let second = Utc::now().second();
    if !(2..=40).contains(&second) {
        let wait = (62 - second) % 60;
        tokio::time::sleep(Duration::from_secs(u64::from(wait))).await;
    }
}

#[tokio::test]
async fn the_run_dags_list_shows_first_is_the_run_the_scheduler_creates_next() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("minutely.yaml"), MINUTELY).unwrap();
    let nobody = format!("http://127.0.0.1:{}", free_port());

    // no daemon, no database: without catchup the latest complete interval
    // is due, and starts at once when the scheduler runs
    away_from_a_minute_boundary().await;
    let now = Utc::now();
    let (first, starts) = listed_next(&airless(dir.path(), &nobody, &["dags", "list"]));
    assert_eq!(starts, first + chrono::Duration::minutes(1));
    assert!(starts <= now && now - starts < chrono::Duration::minutes(1));
    let next_runs = airless(
        dir.path(),
        &nobody,
        &["dags", "next-runs", "minutely", "-n", "2"],
    );
    let lines: Vec<&str> = next_runs.lines().collect();
    assert_eq!(lines.len(), 2, "{next_runs}");
    assert!(
        lines[0].starts_with(&starts_line(first, starts)) && lines[0].ends_with("  (due)"),
        "{next_runs}"
    );
    assert!(
        lines[1].starts_with(&starts_line(starts, starts + chrono::Duration::minutes(1))),
        "{next_runs}"
    );
    assert!(
        !dir.path().join("airless.db").exists(),
        "listing creates nothing"
    );

    let daemon = Daemon::start(dir.path()).await;
    wait_for(
        "the first scheduled run",
        Duration::from_secs(10),
        async || !scheduled(&daemon).await.is_empty(),
    )
    .await;
    assert_eq!(
        scheduled(&daemon).await,
        vec![first],
        "the daemon created the run dags list showed"
    );

    // the daemon answers: the same columns, from the API
    away_from_a_minute_boundary().await;
    let before = scheduled(&daemon).await;
    let (next, next_starts) = listed_next(&airless(dir.path(), &daemon.base, &["dags", "list"]));
    assert_eq!(
        Some(&(next - chrono::Duration::minutes(1))),
        before.last(),
        "the interval after the newest scheduled run"
    );
    assert_eq!(next_starts, next + chrono::Duration::minutes(1));
    assert!(next_starts > Utc::now(), "it starts in the future");
    let api = daemon.get("/api/v1/dags/minutely").await;
    assert_eq!(time(api["next_dagrun"].as_str().unwrap()), next);
    assert_eq!(
        time(api["next_dagrun_create_after"].as_str().unwrap()),
        next_starts
    );
    assert_eq!(
        time(api["next_dagrun_data_interval_end"].as_str().unwrap()),
        next_starts
    );
    // next-runs reads the daemon's database: the same run first
    let next_runs = airless(
        dir.path(),
        &nobody,
        &["dags", "next-runs", "minutely", "-n", "1"],
    );
    assert_eq!(
        next_runs,
        format!("{}\n", starts_line(next, next_starts)),
        "{next_runs}"
    );

    wait_for(
        "the next scheduled run",
        Duration::from_secs(75),
        async || scheduled(&daemon).await.len() > before.len(),
    )
    .await;
    let created = scheduled(&daemon).await;
    assert_eq!(created.last(), Some(&next), "{created:?}");
    let mut run = Value::Null;
    wait_for("the run to start", Duration::from_secs(10), async || {
        let runs = daemon.get("/api/v1/dags/minutely/dagRuns").await;
        run = runs["dag_runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|run| run["logical_date"].as_str().map(time) == Some(next))
            .cloned()
            .unwrap_or(Value::Null);
        run["start_date"].is_string()
    })
    .await;
    let started = time(run["start_date"].as_str().unwrap());
    assert!(
        started >= next_starts,
        "started at {started}, announced for {next_starts}"
    );
}

/// The start of a `dags next-runs` line.
fn starts_line(logical: DateTime<Utc>, starts: DateTime<Utc>) -> String {
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    format!(
        "{}  interval {} → {}  starts {}",
        iso(logical),
        iso(logical),
        iso(starts),
        iso(starts)
    )
}
