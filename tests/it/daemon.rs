//! `airless serve` as a real process: a `kill -9` in the middle of a run and
//! a restart (the run completes, both tries recorded, no interval twice), and
//! DAG files added and broken while it serves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use airless::model::RunType;
use airless::model::{RunState, TaskState};
use serde_json::{Value, json};

pub(crate) const TOKEN: &str = "daemon-test-token";

/// A running `airless serve` on a free loopback port; killed on drop.
pub struct Daemon {
    child: Child,
    pub base: String,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Daemon {
    pub async fn start(dir: &Path) -> Daemon {
        Self::start_with_env(dir, &[]).await
    }

    /// Starts it with extra environment variables (DATABRICKS_*, HOME, …).
    /// It binds port 0 and the address is read from its log: no free-port
    /// race (`AIRLESS_BIND` in `env` overrides the address).
    pub async fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let daemon = Self::start_serving(dir, env, None).await;
        // the port opens first; the DAG folder is loaded then
        let deadline = Instant::now() + Duration::from_secs(30);
        while !dags_loaded(&daemon.base).await {
            assert!(
                Instant::now() < deadline,
                "serve does not answer at {} with its DAGs loaded",
                daemon.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        daemon
    }

    /// Starts it as [`Daemon::start_with_env`] does, but returns as soon as
    /// it serves, its DAG folder perhaps still loading. With `open_files`,
    /// it runs under that limit on open files, soft and hard alike (so it
    /// cannot raise it).
    pub async fn start_serving(
        dir: &Path,
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Daemon {
        let log_path = dir.join("daemon.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let offset = log.metadata().unwrap().len() as usize;
        let mut command = match open_files {
            Some(limit) => {
                let mut command = Command::new("bash");
                command
                    .arg("-c")
                    .arg(r#"ulimit -n "$1" && exec "$0" serve"#)
                    .arg(env!("CARGO_BIN_EXE_airless"))
                    .arg(limit.to_string());
                command
            }
            None => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_airless"));
                command.arg("serve");
                command
            }
        };
        let child = command
            .current_dir(dir)
            .env("AIRLESS_BIND", "127.0.0.1:0")
            .env("AIRLESS_SHUTDOWN_GRACE", "2s")
            .env("AIRLESS_API_TOKENS", TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = Daemon {
            child,
            base: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        const SERVING: &str = "serving the API on http://";
        loop {
            let text = std::fs::read(&log_path).unwrap_or_default();
            let text = String::from_utf8_lossy(&text[offset.min(text.len())..]).into_owned();
            if let Some(at) = text.find(SERVING) {
                let address: String = text[at + SERVING.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                daemon.base = format!("http://{address}");
                break;
            }
            assert!(
                Instant::now() < deadline && daemon.child.try_wait().unwrap().is_none(),
                "serve did not start: {text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        daemon
    }

    pub async fn get(&self, path: &str) -> Value {
        let request = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        request.send().await.unwrap().json().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }

    /// A request with the token; the status and the JSON body (`null` if
    /// the body is not JSON).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    /// A GET of a plain-text resource (a try's log): the status and the text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The `serve` process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Runs a `serve` that is expected to refuse to start, with the same
    /// settings as [`Daemon::start_with_env`]; kills it if it is still
    /// running after 10 s. Its stderr goes to refused.log (a file, not a
    /// pipe, so a task it started cannot hold the read open).
    pub async fn start_expecting_failure(dir: &Path, env: &[(&str, &str)]) -> Refusal {
        let log_path = dir.join("refused.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_airless"))
            .arg("serve")
            .current_dir(dir)
            .env("AIRLESS_BIND", "127.0.0.1:0")
            .env("AIRLESS_SHUTDOWN_GRACE", "2s")
            .env("AIRLESS_API_TOKENS", TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let took = started.elapsed();
        Refusal {
            code: status.and_then(|s| s.code()),
            stderr: std::fs::read_to_string(&log_path).unwrap_or_default(),
            took,
        }
    }

    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
    }
}

/// What a `serve` that should not have started did: its exit code (`None`
/// if it had to be killed), its stderr, and how long it ran.
pub struct Refusal {
    pub code: Option<i32>,
    pub stderr: String,
    pub took: Duration,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the daemon at `base` answers `/health` with its DAGs loaded.
pub async fn dags_loaded(base: &str) -> bool {
    match reqwest::get(format!("{base}/health")).await {
        Ok(reply) => reply
            .json::<Value>()
            .await
            .is_ok_and(|health| health["dag_processor"]["status"] == "healthy"),
        Err(_) => false,
    }
}

pub async fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

const CRASHY: &str = r#"
dag_id: crashy
schedule: null
tasks:
  - task_id: long
    kind: shell
    retries: 1
    retry_delay: 0s
    cwd: "{dir}"
    # the first try hangs until the daemon is killed; the retry finishes at once
    command: 'if [ -f marker ]; then echo resumed; exit 0; fi; touch marker; sleep 60 & echo $! > sleeper.pid; wait'
  - { task_id: after, kind: noop, depends_on: [long] }
"#;

const TICKER: &str = "dag_id: ticker\nschedule: \"@daily\"\nstart_date: 2024-01-01\ncatchup: false\ntasks:\n  - { task_id: t, kind: noop }\n";

pub fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dags = dir.path().join("dags");
    std::fs::create_dir(&dags).unwrap();
    (dir, dags)
}

#[tokio::test]
async fn kill_9_of_serve_mid_run_then_restart_completes_the_run_with_both_tries_recorded() {
    let (dir, dags) = workspace();
    std::fs::write(
        dags.join("crashy.yaml"),
        CRASHY.replace("{dir}", &dir.path().display().to_string()),
    )
    .unwrap();
    std::fs::write(dags.join("ticker.yaml"), TICKER).unwrap();
    let mut daemon = Daemon::start(dir.path()).await;
    let run = daemon
        .post("/api/v1/dags/crashy/dagRuns", json!({"conf": {}}))
        .await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let pidfile = dir.path().join("sleeper.pid");
    wait_for(
        "the long task to start",
        Duration::from_secs(30),
        async || pidfile.exists(),
    )
    .await;
    daemon.kill_9();
    let sleeper = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse::<i32>()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper),
        nix::sys::signal::Signal::SIGKILL,
    );

    let mut daemon = Daemon::start(dir.path()).await;
    let path = format!("/api/v1/dags/crashy/dagRuns/{run_id}");
    wait_for(
        "the run to finish after the restart",
        Duration::from_secs(30),
        async || daemon.get(&path).await["state"] == "success",
    )
    .await;
    assert_eq!(daemon.terminate().code(), Some(0), "SIGTERM exits cleanly");

    let store = airless::store::open_reader(&dir.path().join("airless.db"))
        .await
        .unwrap();
    let runs = store.dag_runs(None, 100, 0).await.unwrap();
    let crashy = runs.iter().find(|r| r.run_id.as_str() == run_id).unwrap();
    assert_eq!(crashy.state, RunState::Success);
    let tis = store.task_instances(crashy.id).await.unwrap();
    let long = tis.iter().find(|t| t.task_id.as_str() == "long").unwrap();
    let tries = store.task_tries(long.id).await.unwrap();
    let states: Vec<TaskState> = tries.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        vec![TaskState::UpForRetry, TaskState::Success],
        "the interrupted try and its retry"
    );
    assert_eq!(
        tries[0].error.as_deref(),
        Some(airless::engine::recovery::INTERRUPTED)
    );
    let ticks: Vec<_> = runs
        .iter()
        .filter(|r| r.dag_id.as_str() == "ticker" && r.run_type == RunType::Scheduled)
        .collect();
    assert_eq!(
        ticks.len(),
        1,
        "the ticker's latest interval ran once across the restart"
    );
}

#[tokio::test]
async fn a_dag_file_written_while_serving_is_listed_within_5_seconds() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("ticker.yaml"), TICKER).unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let has = async |dag: &str| {
        let list = daemon.get("/api/v1/dags").await;
        list["dags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["dag_id"] == dag)
    };
    assert!(has("ticker").await);
    std::fs::write(dags.join("fresh.yaml"), TICKER.replace("ticker", "fresh")).unwrap();
    let took = wait_for(
        "the new DAG to be listed",
        Duration::from_secs(5),
        async || has("fresh").await,
    )
    .await;
    eprintln!("new DAG listed after {took:?}");
}

#[tokio::test]
async fn a_broken_edit_shows_an_import_error_and_the_old_version_stays_scheduled() {
    let (dir, dags) = workspace();
    std::fs::write(dags.join("ticker.yaml"), TICKER).unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let before = daemon.get("/api/v1/dags/ticker").await;
    std::fs::write(
        dags.join("ticker.yaml"),
        TICKER.replace("schedule:", "shedule:"),
    )
    .unwrap();
    wait_for("the import error", Duration::from_secs(5), async || {
        daemon.get("/api/v1/importErrors").await["total_entries"]
            .as_u64()
            .unwrap_or(0)
            == 1
    })
    .await;
    let errors = daemon.get("/api/v1/importErrors").await;
    let trace = errors["import_errors"][0]["stack_trace"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        trace.contains("ticker.yaml:2:1: unknown field `shedule`"),
        "{trace}"
    );
    let after = daemon.get("/api/v1/dags/ticker").await;
    assert_eq!(
        after["dag_id"], "ticker",
        "the last good version is still there"
    );
    assert_eq!(after["schedule_interval"], before["schedule_interval"]);
    assert_eq!(after["next_dagrun"], before["next_dagrun"]);
}

#[tokio::test]
async fn a_python_client_written_for_airflows_v1_api_works_unchanged_against_serve() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed, so the Airflow v1 client script cannot run");
        return;
    }
    let (dir, dags) = workspace();
    std::fs::write(
        dags.join("hello.yaml"),
        "dag_id: hello\nschedule: null\ntasks:\n  - { task_id: greet, kind: shell, command: \"echo hi from {{ conf.source }}\" }\n",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/airflow/v1_client.py");
    let out = tokio::process::Command::new("python3")
        .args([script, &daemon.base, "hello", TOKEN])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("greet success 1"), "{stdout}");
    assert!(
        stdout.contains("final success {\"source\": \"v1_client.py\"}"),
        "{stdout}"
    );
}

#[tokio::test]
async fn sigterm_lets_the_running_try_finish_starts_nothing_new_and_the_run_resumes() {
    let (dir, dags) = workspace();
    std::fs::write(
        dags.join("slow.yaml"),
        "dag_id: slow\nschedule: null\ntasks:\n  - { task_id: slow, kind: shell, command: \"sleep 1\" }\n  - { task_id: after, kind: shell, command: \"echo after\", depends_on: [slow] }\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(dir.path()).await;
    let run = daemon.post("/api/v1/dags/slow/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().to_string();
    let tis = format!("/api/v1/dags/slow/dagRuns/{run_id}/taskInstances/slow");
    wait_for(
        "the slow task to run",
        Duration::from_secs(30),
        async || daemon.get(&tis).await["state"] == "running",
    )
    .await;
    let stopped = Instant::now();
    assert_eq!(daemon.terminate().code(), Some(0));
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "exits once the try is done, within the 2s grace"
    );

    let store = airless::store::open_reader(&dir.path().join("airless.db"))
        .await
        .unwrap();
    let row = store
        .dag_runs(None, 10, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.run_id.as_str() == run_id)
        .unwrap();
    assert_eq!(row.state, RunState::Running, "left to resume");
    let tis = store.task_instances(row.id).await.unwrap();
    assert_eq!(
        tis[0].state,
        TaskState::Success,
        "the running try finished within the grace"
    );
    assert!(
        matches!(tis[1].state, TaskState::None | TaskState::Queued),
        "nothing new started: {:?}",
        tis[1].state
    );
    assert_eq!(tis[1].try_number, 0);
    drop(store);

    let daemon = Daemon::start(dir.path()).await;
    let path = format!("/api/v1/dags/slow/dagRuns/{run_id}");
    wait_for(
        "the run to resume and finish",
        Duration::from_secs(30),
        async || daemon.get(&path).await["state"] == "success",
    )
    .await;
}

/// Runs the real binary against the daemon with its token.
fn cli(dir: &Path, daemon: &Daemon, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(args)
        .current_dir(dir)
        .env("AIRLESS_URL", &daemon.base)
        .env("AIRLESS_API_TOKENS", TOKEN)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_cli_triggers_and_follows_a_run_lists_runs_and_pauses_a_dag() {
    let (dir, dags) = workspace();
    std::fs::write(
        dags.join("hello.yaml"),
        "dag_id: hello\nschedule: null\ntasks:\n  - { task_id: greet, kind: shell, command: \"echo hi {{ conf.who }}\" }\n  - { task_id: boom, kind: shell, command: \"exit {{ conf.code }}\", depends_on: [greet] }\n",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path()).await;

    let (code, out) = cli(
        dir.path(),
        &daemon,
        &[
            "trigger",
            "hello",
            "--conf",
            r#"{"who": "you", "code": 0}"#,
            "--wait",
        ],
    );
    assert_eq!(
        code,
        0,
        "{out}\n{}",
        std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
    );
    assert!(out.contains("triggered hello / manual__"), "{out}");
    assert!(
        out.contains("  greet: try 1 running\n  greet: try 1 success\n"),
        "{out}"
    );
    assert!(out.ends_with(": success\n"), "{out}");

    let (code, out) = cli(
        dir.path(),
        &daemon,
        &[
            "trigger",
            "hello",
            "--conf",
            r#"{"who": "x", "code": 3}"#,
            "--wait",
        ],
    );
    assert_eq!(code, 1, "the exit code is the run's result: {out}");
    assert!(
        out.contains("  boom: try 1 failed: command exited with code 3 (log: logs/"),
        "{out}"
    );

    let (code, out) = cli(dir.path(), &daemon, &["runs", "list", "hello"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("hello")).count(),
        2,
        "{out}"
    );
    assert!(
        out.contains(" success ") && out.contains(" failed "),
        "{out}"
    );

    let (code, out) = cli(dir.path(), &daemon, &["dags", "pause", "hello"]);
    assert_eq!((code, out.as_str()), (0, "hello is now paused\n"));
    assert_eq!(daemon.get("/api/v1/dags/hello").await["is_paused"], true);

    let (code, out) = cli(dir.path(), &daemon, &["trigger", "nope"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("error: no DAG `nope` on the daemon at"),
        "{out}"
    );
}

#[tokio::test]
async fn the_cli_says_when_no_daemon_answers() {
    let (dir, _dags) = workspace();
    let out = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(["runs", "list"])
        .current_dir(dir.path())
        .env("AIRLESS_URL", format!("http://127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach airless at http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("is `airless serve` running?"), "{err}");
}

#[tokio::test]
async fn backfill_queues_one_run_per_interval_and_never_repeats_one() {
    let (dir, dags) = workspace();
    std::fs::write(
        dags.join("daily.yaml"),
        "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\nis_paused_upon_creation: false\ncatchup: false\ntasks:\n  - { task_id: t, kind: shell, command: \"echo {{ ds }}\" }\n",
    )
    .unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let (code, out) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-03",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("queued backfill__2024-01-01T00:00:00+00:00"),
        "{out}"
    );
    assert!(
        out.ends_with("3 run(s) queued, 0 reset for daily\n"),
        "{out}"
    );
    let (code, out) = cli(
        dir.path(),
        &daemon,
        &[
            "backfill",
            "daily",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-02",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("  backfill__2024-01-02T00:00:00+00:00 (")
            && out.contains(") exists; --reset runs it again\n"),
        "{out}"
    );
    assert!(
        out.ends_with("daily: 1 interval(s), 0 to queue, 0 to reset\n"),
        "{out}"
    );
    wait_for(
        "the backfill runs to finish",
        Duration::from_secs(30),
        async || {
            let runs = daemon.get("/api/v1/dags/daily/dagRuns").await;
            let done = runs["dag_runs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["run_type"] == "backfill" && r["state"] == "success");
            done.count() == 3
        },
    )
    .await;
}
