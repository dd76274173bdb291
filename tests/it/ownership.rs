//! Who owns the state database and the runs in it, seen from outside: one
//! `serve` per database, `dags test` beside a running daemon, the orphaned
//! try of a dead owner killed by whoever adopts its run, read-only commands
//! that never write, the last good version of a DAG kept across broken edits
//! and restarts, and a run nobody drives failed over the API.
//!
//! Only the real binary, its HTTP API, files on disk and /proc.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::daemon::{Daemon, Refusal, TOKEN, free_port, wait_for, workspace};

/// The owner's lease. Longer than a try of the orphan DAGs below: a run
/// whose owner died is adopted because its pid is gone, not because the
/// lease ran out.
const LEASE: (&str, &str) = ("AIRLESS_LEASE_TIMEOUT", "15s");

async fn start(dir: &Path) -> Daemon {
    Daemon::start_with_env(dir, &[LEASE]).await
}

/// The real binary in `dir`, with the lease setting and `env`; the state
/// database and the DAG folder are the defaults (./airless.db, ./dags).
fn airless(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_airless"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLESS_DATABASE")
        .env_remove("AIRLESS_DAGS_FOLDER")
        .env_remove("AIRLESS_URL")
        .env(LEASE.0, LEASE.1)
        .envs(env.iter().copied());
    command
}

fn output_text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A child process killed (and reaped) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `airless dags test <dag>` in the daemon's folder with the daemon's
/// environment (so the same ./airless.db); its output goes to dags_test.log.
fn spawn_dags_test(dir: &Path, daemon: &Daemon, dag: &str) -> Running {
    let log = std::fs::File::create(dir.join("dags_test.log")).unwrap();
    let bind = format!("127.0.0.1:{}", daemon.port());
    let child = airless(
        dir,
        &["dags", "test", dag],
        &[
            ("AIRLESS_BIND", &bind),
            ("AIRLESS_API_TOKENS", TOKEN),
            ("AIRLESS_SHUTDOWN_GRACE", "2s"),
        ],
    )
    .stdout(log.try_clone().unwrap())
    .stderr(log)
    .spawn()
    .unwrap();
    Running(child)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// How many lines a marker file holds (0 if it does not exist).
fn lines(path: &Path) -> usize {
    read(path).lines().count()
}

fn daemon_log(dir: &Path) -> String {
    read(&dir.join("daemon.log"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// Whether `check` holds within `timeout` (polled every 50 ms); the caller
/// asserts, with what it knows in the message.
async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that `path` does not appear before `until`.
async fn never_appears(path: &Path, until: Instant, why: &str) {
    loop {
        assert!(
            !path.exists(),
            "{} appeared: {why} (it holds {:?})",
            path.display(),
            read(path)
        );
        if Instant::now() >= until {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn dag_runs(daemon: &Daemon, dag: &str) -> Vec<Value> {
    daemon.get(&format!("/api/v1/dags/{dag}/dagRuns")).await["dag_runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn run_state(daemon: &Daemon, dag: &str, run_id: &str) -> String {
    let run = daemon
        .get(&format!("/api/v1/dags/{dag}/dagRuns/{run_id}"))
        .await;
    run["state"].as_str().unwrap_or("?").to_string()
}

/// Waits up to `timeout` for the run to end `success`, failing with the task
/// instances and the daemon's log otherwise.
async fn assert_run_succeeds(
    daemon: &Daemon,
    dir: &Path,
    dag: &str,
    run_id: &str,
    timeout: Duration,
    what: &str,
) {
    let done = eventually(timeout, async || {
        run_state(daemon, dag, run_id).await == "success"
    })
    .await;
    assert!(
        done,
        "{what}: run {run_id} is {} after {timeout:?}; task instances {:?}\ndaemon log:\n{}",
        run_state(daemon, dag, run_id).await,
        task_instances(daemon, dag, run_id).await,
        daemon_log(dir)
    );
}

/// The run's task instances: task id → (state, try number); a task with no
/// state yet (`null`) reads `none`.
async fn task_instances(
    daemon: &Daemon,
    dag: &str,
    run_id: &str,
) -> BTreeMap<String, (String, u64)> {
    let list = daemon
        .get(&format!(
            "/api/v1/dags/{dag}/dagRuns/{run_id}/taskInstances"
        ))
        .await;
    list["task_instances"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|ti| {
            (
                ti["task_id"].as_str().unwrap_or("?").to_string(),
                (
                    ti["state"].as_str().unwrap_or("none").to_string(),
                    ti["try_number"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

/// Whether `text` says `pid <pid>` (and not a longer number that starts so).
fn names_pid(text: &str, pid: u32) -> bool {
    let needle = format!("pid {pid}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// Whether `text` names `file` with a position: `file:<line>:<col>`.
fn names_position(text: &str, file: &str) -> bool {
    text.match_indices(file).any(|(at, _)| {
        let mut rest = text[at + file.len()..].chars().peekable();
        for _ in 0..2 {
            if rest.next() != Some(':') || !rest.peek().is_some_and(|c| c.is_ascii_digit()) {
                return false;
            }
            while rest.peek().is_some_and(|c| c.is_ascii_digit()) {
                rest.next();
            }
        }
        true
    })
}

fn write_dag(dags: &Path, name: &str, text: &str, dir: &Path) {
    std::fs::write(
        dags.join(name),
        text.replace("{dir}", &dir.display().to_string()),
    )
    .unwrap();
}

fn assert_refused(refusal: &Refusal, holder: u32, host: &str, how: &str) {
    let err = &refusal.stderr;
    assert!(
        refusal.code.is_some_and(|code| code != 0),
        "a second serve {how} must exit with a non-zero code, got {:?} after {:?}; stderr:\n{err}",
        refusal.code,
        refusal.took
    );
    assert!(
        refusal.took < Duration::from_secs(1),
        "a second serve {how} must give up at once, it took {:?}; stderr:\n{err}",
        refusal.took
    );
    assert!(
        names_pid(err, holder),
        "a second serve {how} must name the holder `pid {holder}`; stderr:\n{err}"
    );
    assert!(
        err.contains(host),
        "a second serve {how} must name the holder's host `{host}`; stderr:\n{err}"
    );
    assert!(
        err.contains("since"),
        "a second serve {how} must say since when the holder holds the database; stderr:\n{err}"
    );
}

const BUSY: &str = r#"
dag_id: busy
schedule: null
tasks:
  - task_id: work
    kind: shell
    cwd: "{dir}"
    command: "echo try >> work.marker; sleep 3"
"#;

#[tokio::test]
async fn a_second_serve_on_the_same_database_refuses_to_start_naming_the_holder() {
    let (dir, dags) = workspace();
    write_dag(&dags, "busy.yaml", BUSY, dir.path());
    let daemon = start(dir.path()).await;
    let run = daemon.post("/api/v1/dags/busy/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let marker = dir.path().join("work.marker");
    wait_for(
        "daemon A's task to start",
        Duration::from_secs(30),
        async || marker.exists(),
    )
    .await;

    let holder = daemon.pid();
    let host = hostname();
    let refusal = Daemon::start_expecting_failure(dir.path(), &[LEASE]).await;
    assert_refused(&refusal, holder, &host, "on another port");

    let same_port = format!("127.0.0.1:{}", daemon.port());
    let refusal =
        Daemon::start_expecting_failure(dir.path(), &[LEASE, ("AIRLESS_BIND", &same_port)]).await;
    assert_refused(&refusal, holder, &host, "on the same port");
    assert!(
        !refusal
            .stderr
            .to_lowercase()
            .contains("address already in use"),
        "the database is checked before the port is bound; stderr:\n{}",
        refusal.stderr
    );

    assert_run_succeeds(
        &daemon,
        dir.path(),
        "busy",
        &run_id,
        Duration::from_secs(30),
        "daemon A's run goes on untouched",
    )
    .await;
    assert_eq!(
        lines(&marker),
        1,
        "the task ran once: nothing else touched A's run ({:?})",
        read(&marker)
    );
}

const SLOW: &str = r#"
dag_id: slow
schedule: null
tasks:
  - { task_id: t1, kind: shell, cwd: "{dir}", command: "echo x >> t1.marker; sleep 3" }
  - { task_id: t2, kind: shell, cwd: "{dir}", command: "echo x >> t2.marker", depends_on: [t1] }
"#;

#[tokio::test]
async fn dags_test_beside_a_running_daemon_runs_every_task_exactly_once() {
    let (dir, dags) = workspace();
    write_dag(&dags, "slow.yaml", SLOW, dir.path());
    let daemon = start(dir.path()).await;
    let mut test = spawn_dags_test(dir.path(), &daemon, "slow");

    let listed = eventually(Duration::from_secs(3), async || {
        dag_runs(&daemon, "slow")
            .await
            .iter()
            .any(|r| r["state"] == "running")
    })
    .await;
    let runs = dag_runs(&daemon, "slow").await;
    assert!(
        listed,
        "the daemon's API must show dags test's run as running within 3 s: {runs:?}\ndags test:\n{}",
        read(&dir.path().join("dags_test.log"))
    );
    assert!(
        test.0.try_wait().unwrap().is_none(),
        "dags test is still running while its run is listed"
    );
    assert_eq!(runs.len(), 1, "exactly one run, dags test's: {runs:?}");
    let run_id = runs[0]["dag_run_id"].as_str().unwrap().to_string();

    let exited = eventually(Duration::from_secs(30), async || {
        test.0.try_wait().unwrap().is_some()
    })
    .await;
    assert!(exited, "dags test did not finish within 30 s");
    let status = test.0.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "dags test exits 0:\n{}\ndaemon log:\n{}",
        read(&dir.path().join("dags_test.log")),
        daemon_log(dir.path())
    );

    let t1 = dir.path().join("t1.marker");
    let t2 = dir.path().join("t2.marker");
    assert_eq!((lines(&t1), lines(&t2)), (1, 1), "each task ran once");
    // the daemon must not run the tasks again once dags test is gone
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        (lines(&t1), lines(&t2)),
        (1, 1),
        "each task ran once, also 4 s later"
    );
    assert_eq!(
        run_state(&daemon, "slow", &run_id).await,
        "success",
        "the API shows dags test's run as it ended"
    );
    assert_eq!(dag_runs(&daemon, "slow").await.len(), 1, "still one run");
}

/// How long each try of t1 sleeps between writing `.started` and `.done`.
const TRY_SECS: u64 = 6;

const ORPHAN: &str = r#"
dag_id: orphan
schedule: null
tasks:
  - task_id: t1
    kind: shell
    retries: 1
    retry_delay: 0s
    cwd: "{dir}"
    command: "echo start >> t1_{{ try_number }}.started; sleep {secs}; echo done >> t1_{{ try_number }}.done"
  - { task_id: t2, kind: shell, cwd: "{dir}", command: "echo x >> t2.marker", depends_on: [t1] }
"#;

fn write_orphan_dag(dags: &Path, dir: &Path) {
    write_dag(
        dags,
        "orphan.yaml",
        &ORPHAN.replace("{secs}", &TRY_SECS.to_string()),
        dir,
    );
}

/// After the run of `orphan` whose first try of t1 was orphaned at
/// `started` (when t1_1.started appeared) ended `success`: the orphan was
/// killed, the retry ran once, and the interrupted try's log says so.
async fn assert_orphan_killed_and_retried(
    daemon: &Daemon,
    dir: &Path,
    run_id: &str,
    started: Instant,
) {
    never_appears(
        &dir.join("t1_1.done"),
        started + Duration::from_secs(TRY_SECS + 5),
        "the adopter must kill the orphaned try's process group",
    )
    .await;
    assert_eq!(
        lines(&dir.join("t1_2.done")),
        1,
        "the retry ran to the end once"
    );
    assert_eq!(lines(&dir.join("t2.marker")), 1, "t2 ran once");
    let tis = task_instances(daemon, "orphan", run_id).await;
    assert_eq!(
        tis.get("t1"),
        Some(&("success".to_string(), 2)),
        "t1 succeeded on its second try: {tis:?}"
    );
    assert_eq!(
        tis.get("t2").map(|t| t.0.as_str()),
        Some("success"),
        "{tis:?}"
    );

    let logs = format!("/api/v1/dags/orphan/dagRuns/{run_id}/taskInstances/t1/logs");
    let (status1, try1) = daemon.get_text(&format!("{logs}/1")).await;
    let (status2, try2) = daemon.get_text(&format!("{logs}/2")).await;
    assert_eq!((status1, status2), (200, 200), "{try1}\n{try2}");
    assert!(
        try1.contains("process group") || try2.contains("process group"),
        "the adopter writes into the interrupted try's log that it killed its process group;\ntry 1:\n{try1}\ntry 2:\n{try2}"
    );
}

#[tokio::test]
async fn kill_9_of_dags_test_mid_run_the_daemon_adopts_and_finishes_the_run() {
    let (dir, dags) = workspace();
    write_orphan_dag(&dags, dir.path());
    let daemon = start(dir.path()).await;
    let mut test = spawn_dags_test(dir.path(), &daemon, "orphan");
    let started1 = dir.path().join("t1_1.started");
    wait_for(
        "dags test to start t1",
        Duration::from_secs(30),
        async || started1.exists(),
    )
    .await;
    let started = Instant::now();
    test.0.kill().unwrap(); // SIGKILL
    test.0.wait().unwrap();

    let runs = dag_runs(&daemon, "orphan").await;
    assert_eq!(runs.len(), 1, "dags test's run is listed: {runs:?}");
    let run_id = runs[0]["dag_run_id"].as_str().unwrap().to_string();
    assert_run_succeeds(
        &daemon,
        dir.path(),
        "orphan",
        &run_id,
        Duration::from_secs(30),
        "the daemon adopts the run of the dead dags test and finishes it",
    )
    .await;
    assert_orphan_killed_and_retried(&daemon, dir.path(), &run_id, started).await;
}

#[tokio::test]
async fn kill_9_of_serve_kills_the_orphaned_try_when_the_run_is_adopted() {
    let (dir, dags) = workspace();
    write_orphan_dag(&dags, dir.path());
    let mut daemon = start(dir.path()).await;
    let run = daemon.post("/api/v1/dags/orphan/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let started1 = dir.path().join("t1_1.started");
    wait_for(
        "the daemon to start t1",
        Duration::from_secs(30),
        async || started1.exists(),
    )
    .await;
    let started = Instant::now();
    daemon.kill_9();

    let daemon = start(dir.path()).await;
    assert_run_succeeds(
        &daemon,
        dir.path(),
        "orphan",
        &run_id,
        Duration::from_secs(30),
        "the new daemon adopts the run of the killed one and finishes it",
    )
    .await;
    assert_orphan_killed_and_retried(&daemon, dir.path(), &run_id, started).await;
}

const DAILY: &str = "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\ncatchup: false\ntasks:\n  - { task_id: t, kind: noop }\n";

const DB_FILES: [&str; 3] = ["airless.db", "airless.db-wal", "airless.db-shm"];

/// Runs `dags list`, `dags next-runs`, `dags show` and `dags validate` in
/// `dir` with no daemon answering; each must exit 0. `after` checks the
/// folder after each one.
fn run_read_only_commands(dir: &Path, mut after: impl FnMut(&str)) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let bind = format!("127.0.0.1:{port}");
    let commands: [&[&str]; 4] = [
        &["dags", "list"],
        &["dags", "next-runs", "daily"],
        &["dags", "show", "daily"],
        &["dags", "validate"],
    ];
    for args in commands {
        let out = airless(dir, args, &[("AIRLESS_URL", &url), ("AIRLESS_BIND", &bind)])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let command = format!("airless {}", args.join(" "));
        assert_eq!(
            out.status.code(),
            Some(0),
            "`{command}` exits 0\n{}",
            output_text(&out)
        );
        after(&command);
    }
}

/// What a file is: its length, a hash of its bytes and its mtime.
#[derive(Debug, PartialEq)]
struct FileState {
    len: usize,
    hash: u64,
    modified: SystemTime,
}

fn file_state(path: &Path) -> Option<FileState> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(FileState {
        len: bytes.len(),
        hash: hasher.finish(),
        modified: std::fs::metadata(path).unwrap().modified().unwrap(),
    })
}

#[tokio::test]
async fn read_only_commands_never_write_the_state_database() {
    // (a) no database yet: none is created
    let (dir, dags) = workspace();
    std::fs::write(dags.join("daily.yaml"), DAILY).unwrap();
    run_read_only_commands(dir.path(), |command| {
        for name in DB_FILES {
            assert!(
                !dir.path().join(name).exists(),
                "`{command}` created {name} in a folder that had no state database"
            );
        }
    });

    // (b) a database left by a daemon: not a byte of it changes
    let mut daemon = start(dir.path()).await;
    assert_eq!(daemon.get("/api/v1/dags/daily").await["dag_id"], "daily");
    assert_eq!(daemon.terminate().code(), Some(0), "SIGTERM exits cleanly");
    let db: PathBuf = dir.path().join("airless.db");
    let before = file_state(&db).expect("the daemon left airless.db");
    let wal_before = file_state(&dir.path().join("airless.db-wal"));
    let shm_before = dir.path().join("airless.db-shm").exists();
    run_read_only_commands(dir.path(), |command| {
        assert_eq!(
            file_state(&db).as_ref(),
            Some(&before),
            "`{command}` changed airless.db"
        );
        assert_eq!(
            file_state(&dir.path().join("airless.db-wal")),
            wal_before,
            "`{command}` wrote airless.db-wal"
        );
        if !shm_before {
            assert!(
                !dir.path().join("airless.db-shm").exists(),
                "`{command}` created airless.db-shm"
            );
        }
    });
}

const VER: &str = "dag_id: ver\nschedule: null\ntasks:\n  - { task_id: t, kind: shell, cwd: \"{dir}\", command: \"echo good > ver.marker\" }\n";

/// `ver` with a misspelt key (and a different command, which must never run).
const VER_BROKEN: &str = "dag_id: ver\nschedule: null\nretires: 3\ntasks:\n  - { task_id: t, kind: shell, cwd: \"{dir}\", command: \"echo bad > ver.marker\" }\n";

async fn import_error_names_ver(daemon: &Daemon) -> bool {
    let errors = daemon.get("/api/v1/importErrors").await;
    errors["import_errors"]
        .as_array()
        .is_some_and(|list| list.iter().any(|e| e.to_string().contains("ver.yaml")))
}

#[tokio::test]
async fn dags_list_asks_the_running_daemon_and_shows_the_last_good_version() {
    let (dir, dags) = workspace();
    write_dag(&dags, "ver.yaml", VER, dir.path());
    let daemon = start(dir.path()).await;
    assert_eq!(daemon.get("/api/v1/dags/ver").await["dag_id"], "ver");
    write_dag(&dags, "ver.yaml", VER_BROKEN, dir.path());
    wait_for(
        "the import error of ver.yaml",
        Duration::from_secs(5),
        async || import_error_names_ver(&daemon).await,
    )
    .await;

    let out = airless(
        dir.path(),
        &["dags", "list"],
        &[("AIRLESS_URL", &daemon.base), ("AIRLESS_API_TOKENS", TOKEN)],
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.split_whitespace().next() == Some("ver")),
        "the daemon's last good version of `ver` is listed (the file itself no longer loads):\n{}",
        output_text(&out)
    );
    assert!(
        names_position(&stdout, "ver.yaml"),
        "the import error names ver.yaml:<line>:<col>:\n{}",
        output_text(&out)
    );
}

#[tokio::test]
async fn after_a_broken_edit_and_a_restart_the_last_good_version_stays_triggerable() {
    let (dir, dags) = workspace();
    write_dag(&dags, "ver.yaml", VER, dir.path());
    let mut daemon = start(dir.path()).await;
    assert_eq!(daemon.get("/api/v1/dags/ver").await["dag_id"], "ver");
    assert_eq!(daemon.terminate().code(), Some(0), "SIGTERM exits cleanly");

    write_dag(&dags, "ver.yaml", VER_BROKEN, dir.path());
    let daemon = start(dir.path()).await;
    let (status, dag) = daemon
        .send(reqwest::Method::GET, "/api/v1/dags/ver", None)
        .await;
    assert_eq!(
        status,
        200,
        "the last good version of ver is served after the restart: {dag}\ndaemon log:\n{}",
        daemon_log(dir.path())
    );
    wait_for(
        "the import error of ver.yaml after the restart",
        Duration::from_secs(5),
        async || import_error_names_ver(&daemon).await,
    )
    .await;

    let (status, run) = daemon
        .send(
            reqwest::Method::POST,
            "/api/v1/dags/ver/dagRuns",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "the last good version can be triggered: {run}");
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    assert_run_succeeds(
        &daemon,
        dir.path(),
        "ver",
        &run_id,
        Duration::from_secs(30),
        "the last good version runs",
    )
    .await;
    assert_eq!(
        read(&dir.path().join("ver.marker")).trim(),
        "good",
        "the last good version ran, not the broken file"
    );
}

/// DAG `v`: `a` sleeps, then `b` writes `word` to b.out; the description
/// says which version is loaded.
fn v_dag(dir: &Path, word: &str) -> String {
    format!(
        "dag_id: v\nschedule: null\ndescription: {word}\ntasks:\n  - {{ task_id: a, kind: shell, command: \"sleep 6\" }}\n  - {{ task_id: b, kind: shell, cwd: \"{}\", command: \"echo {word} > b.out\", depends_on: [a] }}\n",
        dir.display()
    )
}

#[tokio::test]
async fn a_run_finishes_on_the_dag_version_it_started_on() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("v.yaml"), v_dag(dir.path(), "one")).unwrap();
    let daemon = start(dir.path()).await;
    let run = daemon.post("/api/v1/dags/v/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let a = format!("/api/v1/dags/v/dagRuns/{run_id}/taskInstances/a");
    wait_for("task a to run", Duration::from_secs(30), async || {
        daemon.get(&a).await["state"] == "running"
    })
    .await;

    std::fs::write(dags.join("v.yaml"), v_dag(dir.path(), "two")).unwrap();
    wait_for(
        "the daemon to load the new version of v",
        Duration::from_secs(5),
        async || daemon.get("/api/v1/dags/v").await["description"] == "two",
    )
    .await;
    assert_eq!(
        daemon.get(&a).await["state"],
        "running",
        "the new version was loaded while the run was still on task a"
    );

    assert_run_succeeds(
        &daemon,
        dir.path(),
        "v",
        &run_id,
        Duration::from_secs(30),
        "the run started on version one",
    )
    .await;
    assert_eq!(
        read(&dir.path().join("b.out")).trim(),
        "one",
        "the run finished on the version it started on"
    );

    let run = daemon.post("/api/v1/dags/v/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    assert_run_succeeds(
        &daemon,
        dir.path(),
        "v",
        &run_id,
        Duration::from_secs(30),
        "a run triggered after the reload",
    )
    .await;
    assert_eq!(
        read(&dir.path().join("b.out")).trim(),
        "two",
        "a new run starts on the new version"
    );
}

/// How long `long` sleeps between writing long.started and long.done.
const LONG_SECS: u64 = 10;

/// Two task slots. `start` (a noop) and `flaky` (fails at once, retries in
/// an hour) take them first; then the three sleepers `s1`..`s3`, ready
/// together once `start` is done, share the two slots: two run, one is
/// `queued`. `waiting` (after flaky) and `after` (after s1) stay `none`.
const STUCK: &str = r#"
dag_id: stuck
schedule: null
max_active_tasks: 2
tasks:
  - { task_id: start, kind: noop }
  - { task_id: flaky, kind: shell, retries: 1, retry_delay: 1h, command: "exit 1" }
  - { task_id: s1, kind: shell, cwd: "{dir}", depends_on: [start], command: "echo x >> s1.started; sleep {secs}; echo x >> s1.done" }
  - { task_id: s2, kind: shell, cwd: "{dir}", depends_on: [start], command: "echo x >> s2.started; sleep {secs}; echo x >> s2.done" }
  - { task_id: s3, kind: shell, cwd: "{dir}", depends_on: [start], command: "echo x >> s3.started; sleep {secs}; echo x >> s3.done" }
  - { task_id: waiting, kind: shell, command: "echo waiting", depends_on: [flaky] }
  - { task_id: after, kind: shell, command: "echo after", depends_on: [s1] }
"#;

fn is_waiting(state: &str) -> bool {
    matches!(state, "none" | "queued")
}

#[tokio::test]
async fn failing_an_undriven_run_ends_every_unfinished_task_instance() {
    let (dir, dags) = workspace();
    write_dag(
        &dags,
        "stuck.yaml",
        &STUCK.replace("{secs}", &LONG_SECS.to_string()),
        dir.path(),
    );
    let mut daemon = start(dir.path()).await;
    let run = daemon.post("/api/v1/dags/stuck/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let state = |tis: &BTreeMap<String, (String, u64)>, task: &str| {
        tis.get(task).map(|t| t.0.clone()).unwrap_or_default()
    };
    let sleepers = ["s1", "s2", "s3"];
    let in_state = |tis: &BTreeMap<String, (String, u64)>, wanted: &str| -> Vec<String> {
        sleepers
            .iter()
            .filter(|s| state(tis, s) == wanted)
            .map(|s| s.to_string())
            .collect()
    };
    let reached = eventually(Duration::from_secs(30), async || {
        let tis = task_instances(&daemon, "stuck", &run_id).await;
        let running = in_state(&tis, "running");
        state(&tis, "flaky") == "up_for_retry"
            && running.len() == 2
            && in_state(&tis, "queued").len() == 1
            && running
                .iter()
                .all(|s| dir.path().join(format!("{s}.started")).exists())
    })
    .await;
    let started = Instant::now();
    let tis = task_instances(&daemon, "stuck", &run_id).await;
    assert!(
        reached,
        "two sleepers running, one queued, flaky up for retry: {tis:?}\ndaemon log:\n{}",
        daemon_log(dir.path())
    );
    let running = in_state(&tis, "running");
    let queued = in_state(&tis, "queued");
    assert!(
        state(&tis, "waiting") == "none" && is_waiting(&state(&tis, "after")),
        "waiting and after have not started: {tis:?}"
    );

    let (status, dag) = daemon
        .patch("/api/v1/dags/stuck", json!({"is_paused": true}))
        .await;
    assert_eq!((status, &dag["is_paused"]), (200, &json!(true)), "{dag}");
    daemon.kill_9();

    let daemon = start(dir.path()).await;
    let path = format!("/api/v1/dags/stuck/dagRuns/{run_id}");
    assert_eq!(
        run_state(&daemon, "stuck", &run_id).await,
        "running",
        "a paused DAG's run is not adopted: it stays running, undriven"
    );
    let (status, failed) = daemon.patch(&path, json!({"state": "failed"})).await;
    assert_eq!(
        (status, &failed["state"]),
        (200, &json!("failed")),
        "an undriven run can be failed: {failed}\ndaemon log:\n{}",
        daemon_log(dir.path())
    );

    let states: BTreeMap<String, String> = task_instances(&daemon, "stuck", &run_id)
        .await
        .into_iter()
        .map(|(task, (state, _))| (task, state))
        .collect();
    // none, queued and up_for_retry are skipped; the running tries failed
    let mut expected: BTreeMap<String, String> = [
        ("start", "success"),
        ("flaky", "skipped"),
        ("waiting", "skipped"),
        ("after", "skipped"),
    ]
    .into_iter()
    .map(|(task, state)| (task.to_string(), state.to_string()))
    .collect();
    for task in &running {
        expected.insert(task.clone(), "failed".into());
    }
    for task in &queued {
        expected.insert(task.clone(), "skipped".into());
    }
    assert_eq!(
        states, expected,
        "the running task instance failed, every other unfinished one skipped"
    );
    assert_eq!(run_state(&daemon, "stuck", &run_id).await, "failed");
    for task in &running {
        never_appears(
            &dir.path().join(format!("{task}.done")),
            started + Duration::from_secs(LONG_SECS + 1),
            "failing the run must kill the orphaned tries",
        )
        .await;
    }
    assert!(!dir.path().join(format!("{}.started", queued[0])).exists());
}
