//! Several `airless serve` peers on one PostgreSQL database, as real
//! processes: work spread over three nodes runs exactly once (marker files
//! written with O_EXCL), every scheduled interval exists once, a node
//! killed mid-run is replaced by a peer (a Databricks run re-attached, never
//! submitted twice; a shell try retried), and a node stopped past its lease
//! cannot write to the runs it lost.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use airless::model::{RunState, TaskState};
use airless::store::{Location, Reader};
use serde_json::json;

use crate::daemon::{Daemon, wait_for};
use crate::fakes::databricks::{FakeDatabricks, Route, RunScript, TOKEN};
use crate::postgres::Schema;

/// Nodes sharing one schema, a DAG folder's content and a logs folder.
struct Cluster {
    dir: tempfile::TempDir,
    schema: Schema,
    nodes: Vec<Option<Daemon>>,
    env: Vec<(String, String)>,
    dags: Vec<(String, String)>,
    /// Every node's `airless.toml`, if any.
    toml: Option<String>,
}

impl Cluster {
    /// A cluster of no nodes yet, with `dags` (file name, text) in every
    /// node's folder; `None` when PostgreSQL is not here (the test skips).
    async fn new(test: &str, dags: &[(&str, String)], env: &[(&str, &str)]) -> Option<Cluster> {
        let schema = crate::postgres::schema(test).await?;
        let dir = tempfile::tempdir().unwrap();
        for sub in ["logs", "markers", "dups", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let mut cluster = Cluster {
            env: vec![
                ("AIRLESS_DATABASE".into(), schema.url.clone()),
                (
                    "AIRLESS_LOGS_FOLDER".into(),
                    dir.path().join("logs").display().to_string(),
                ),
                ("DATABRICKS_TOKEN".into(), TOKEN.into()),
                ("HOME".into(), dir.path().join("home").display().to_string()),
            ],
            dir,
            schema,
            nodes: Vec::new(),
            dags: dags
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect(),
            toml: None,
        };
        cluster
            .env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Some(cluster)
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Starts node `n` (its own folder, the same DAG files).
    async fn start(&mut self, n: usize) {
        let home = self.path(&format!("node{n}"));
        let dags = home.join("dags");
        std::fs::create_dir_all(&dags).unwrap();
        for (name, text) in &self.dags {
            std::fs::write(
                dags.join(name),
                text.replace("{dir}", &self.dir.path().display().to_string()),
            )
            .unwrap();
        }
        if let Some(toml) = &self.toml {
            std::fs::write(home.join("airless.toml"), toml).unwrap();
        }
        let node = n.to_string();
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.push(("NODE", &node));
        let daemon = Daemon::start_with_env(&home, &env).await;
        while self.nodes.len() <= n {
            self.nodes.push(None);
        }
        self.nodes[n] = Some(daemon);
    }

    fn node(&self, n: usize) -> &Daemon {
        self.nodes[n].as_ref().unwrap()
    }

    async fn reader(&self) -> Reader {
        airless::store::open_reader(Location::parse(&self.schema.url))
            .await
            .unwrap()
    }

    /// The node whose process holds run `run_id`'s lease, if a node does.
    async fn driver_of(&self, dag_id: &str, run_id: &str) -> Option<usize> {
        let reader = self.reader().await;
        let run = reader
            .find_dag_run(
                &airless::model::DagId::new(dag_id),
                &airless::model::RunId::new(run_id),
            )
            .await
            .unwrap()?;
        let owner = reader.owner(&run.lease?.owner).await.unwrap()?;
        self.nodes
            .iter()
            .position(|n| n.as_ref().is_some_and(|d| d.pid() == owner.pid))
    }

    /// The runs not successful, with their leases and task states (for a
    /// failure's message).
    async fn unfinished(&self) -> Vec<String> {
        let reader = self.reader().await;
        let mut found = Vec::new();
        let daily = reader
            .dag_runs(Some(&airless::model::DagId::new("daily")), 1000, 0)
            .await
            .unwrap()
            .len();
        found.push(format!("{daily} runs of daily"));
        for state in [RunState::Queued, RunState::Running, RunState::Failed] {
            for run in reader.runs_in_state(state).await.unwrap() {
                let tis: Vec<String> = reader
                    .task_instances(run.id)
                    .await
                    .unwrap()
                    .iter()
                    .map(|ti| {
                        format!(
                            "{}={} try {} {:?}",
                            ti.task_id, ti.state, ti.try_number, ti.error
                        )
                    })
                    .collect();
                found.push(format!(
                    "{} {} {:?} lease {:?} {tis:?}",
                    run.dag_id, run.run_id, run.state, run.lease
                ));
            }
        }
        found
    }

    async fn runs_in(&self, state: RunState) -> usize {
        self.reader()
            .await
            .runs_in_state(state)
            .await
            .unwrap()
            .len()
    }

    /// Marker files written by tasks: (name → node that wrote it), and the
    /// names written twice.
    fn markers(&self) -> (std::collections::BTreeMap<String, String>, Vec<String>) {
        let read = |sub: &str| -> Vec<(String, String)> {
            std::fs::read_dir(self.path(sub))
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path())
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    )
                })
                .collect()
        };
        (
            read("markers").into_iter().collect(),
            read("dups").into_iter().map(|(n, _)| n).collect(),
        )
    }
}

/// Writes `$NODE` to markers/NAME once; a second write of the same name
/// lands in dups/NAME instead.
fn marker(name: &str) -> String {
    format!(
        r#"set -C; echo "$NODE" > "{{dir}}/markers/{name}" 2>/dev/null || echo "$NODE" >> "{{dir}}/dups/{name}""#
    )
}

fn work_dag() -> String {
    format!(
        "dag_id: work\nschedule: null\nmax_active_runs: 48\ntasks:\n  - task_id: mark\n    kind: shell\n    command: '{}'\n  - {{ task_id: after, kind: noop, depends_on: [mark] }}\n",
        marker("{{ run_id }}")
    )
}

fn catchup_dag() -> String {
    format!(
        "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2026-01-01\nend_date: 2026-04-10\ncatchup: true\nmax_active_runs: 24\ntasks:\n  - task_id: mark\n    kind: shell\n    command: '{}'\n",
        marker("daily-{{ ds }}")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_run_300_manual_runs_and_100_intervals_each_exactly_once() {
    let Some(mut cluster) = Cluster::new(
        "three_nodes_run_300_manual_runs_and_100_intervals_each_exactly_once",
        &[("work.yaml", work_dag()), ("daily.yaml", catchup_dag())],
        &[("AIRLESS_PARALLELISM", "8")],
    )
    .await
    else {
        return;
    };
    for n in 0..3 {
        cluster.start(n).await;
    }
    let started = Instant::now();
    for i in 0..300 {
        // each trigger to another node: the node that queues a run need not drive it
        let reply = cluster
            .node(i % 3)
            .post(
                "/api/v1/dags/work/dagRuns",
                json!({"dag_run_id": format!("m{i:03}")}),
            )
            .await;
        assert_eq!(reply["state"], "queued", "{reply}");
    }
    // under a loaded machine this takes longer: what must hold is that
    // the work keeps moving until every run is done
    let (mut done, mut moved) = (0, Instant::now());
    while done < 400 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = cluster.runs_in(RunState::Success).await;
        if now > done {
            (done, moved) = (now, Instant::now());
        }
        if moved.elapsed() > Duration::from_secs(120) {
            panic!(
                "no run finished for 2 minutes: {done} of 400 succeeded; unfinished: {:#?}",
                cluster.unfinished().await
            );
        }
    }
    let took = started.elapsed();
    assert_eq!(cluster.runs_in(RunState::Failed).await, 0);
    let reader = cluster.reader().await;
    let daily = reader
        .dag_runs(Some(&airless::model::DagId::new("daily")), 1000, 0)
        .await
        .unwrap();
    let dates: std::collections::BTreeSet<_> = daily.iter().map(|r| r.logical_date).collect();
    assert_eq!(daily.len(), 100, "every interval once");
    assert_eq!(dates.len(), 100, "no interval twice");
    let (markers, dups) = cluster.markers();
    assert!(dups.is_empty(), "tasks that ran twice: {dups:?}");
    assert_eq!(markers.len(), 400, "every task instance ran");
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for node in markers.values() {
        *per_node.entry(node.clone()).or_default() += 1;
    }
    println!("400 runs on 3 nodes in {took:.1?}; task instances per node: {per_node:?}");
    assert_eq!(per_node.len(), 3, "every node took work: {per_node:?}");
    // the API of any node shows every run, whoever drove it
    let listed = cluster
        .node(2)
        .get("/api/v1/dags/work/dagRuns?limit=1")
        .await;
    assert_eq!(listed["total_entries"], 300);
}

fn databricks_dag(host: &str) -> String {
    format!(
        r#"
dag_id: nightly
schedule: null
tasks:
  - task_id: notebook
    kind: databricks
    host: "{host}"
    notebook_path: /Workspace/Users/team@example.com/Batch Processing - Databricks
    existing_cluster_id: 1108-162752-8okw8dgg
    poll_interval: 1s
    retries: 2
    retry_delay: 0s
"#
    )
}

/// The first try hangs until its node dies; the retry finishes at once.
const CRASHY: &str = r#"
dag_id: crashy
schedule: null
tasks:
  - task_id: long
    kind: shell
    retries: 1
    retry_delay: 0s
    command: 'if [ -f "{dir}/markers/first" ]; then echo "$NODE" > "{dir}/markers/retry"; exit 0; fi; echo "$NODE" > "{dir}/markers/first"; sleep 60'
"#;

/// Kills node `n` and returns when its death was seen.
fn kill_node(cluster: &mut Cluster, n: usize) {
    if let Some(mut daemon) = cluster.nodes[n].take() {
        daemon.kill_9();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_the_driving_node_hands_databricks_and_shell_runs_to_a_peer() {
    let fake = FakeDatabricks::start().await;
    fake.set_default_script(RunScript::runs_until_finished());
    let Some(mut cluster) = Cluster::new(
        "kill_9_of_the_driving_node_hands_databricks_and_shell_runs_to_a_peer",
        &[
            ("nightly.yaml", databricks_dag(&fake.base_url)),
            ("crashy.yaml", CRASHY.to_string()),
        ],
        &[("AIRLESS_LEASE_TIMEOUT", "3s")],
    )
    .await
    else {
        return;
    };
    for n in 0..3 {
        cluster.start(n).await;
    }

    // the Databricks run: kill its driver while it polls
    let run = cluster
        .node(0)
        .post("/api/v1/dags/nightly/dagRuns", json!({"dag_run_id": "d1"}))
        .await;
    assert_eq!(run["state"], "queued");
    wait_for(
        "the notebook to be polled",
        Duration::from_secs(30),
        async || fake.calls(Route::GetRun) >= 2,
    )
    .await;
    let driver = cluster
        .driver_of("nightly", "d1")
        .await
        .expect("a node drives d1");
    kill_node(&mut cluster, driver);
    let killed = Instant::now();
    let polls = fake.calls(Route::GetRun);
    let adopted = wait_for("a peer to adopt d1", Duration::from_secs(30), async || {
        cluster
            .driver_of("nightly", "d1")
            .await
            .is_some_and(|n| n != driver)
    })
    .await;
    wait_for(
        "the peer to poll the same Databricks run",
        Duration::from_secs(30),
        async || fake.calls(Route::GetRun) > polls,
    )
    .await;
    println!("Databricks run: node {driver} killed; adopted by a peer {adopted:.1?} later");
    let databricks_run = fake.runs()[0].run_id;
    fake.finish_run(databricks_run, "SUCCESS", "");
    let survivor = (0..3).find(|n| *n != driver).unwrap();
    wait_for("d1 to succeed", Duration::from_secs(30), async || {
        cluster
            .node(survivor)
            .get("/api/v1/dags/nightly/dagRuns/d1")
            .await["state"]
            == "success"
    })
    .await;
    assert_eq!(
        fake.calls(Route::Submit),
        1,
        "the notebook was submitted once"
    );
    assert_eq!(fake.runs().len(), 1);
    assert!(killed.elapsed() < Duration::from_secs(60));

    // the shell run: kill the node running its first try
    let run = cluster
        .node(survivor)
        .post("/api/v1/dags/crashy/dagRuns", json!({"dag_run_id": "c1"}))
        .await;
    assert_eq!(run["state"], "queued");
    let first = cluster.path("markers").join("first");
    wait_for(
        "the first try to start",
        Duration::from_secs(30),
        async || first.exists(),
    )
    .await;
    let driver = cluster
        .driver_of("crashy", "c1")
        .await
        .expect("a node drives c1");
    kill_node(&mut cluster, driver);
    // the retry finishes at once: its marker is the sign a peer took over
    let retry = cluster.path("markers").join("retry");
    let adopted = wait_for(
        "a peer to adopt c1 and retry it",
        Duration::from_secs(30),
        async || retry.exists(),
    )
    .await;
    assert_ne!(
        std::fs::read_to_string(&retry).unwrap().trim(),
        driver.to_string()
    );
    println!("shell run: node {driver} killed; retried by a peer {adopted:.1?} later");
    let last = (0..3).find(|n| cluster.nodes[*n].is_some()).unwrap();
    wait_for("c1 to succeed", Duration::from_secs(30), async || {
        cluster
            .node(last)
            .get("/api/v1/dags/crashy/dagRuns/c1")
            .await["state"]
            == "success"
    })
    .await;
    let reader = cluster.reader().await;
    let c1 = reader
        .find_dag_run(
            &airless::model::DagId::new("crashy"),
            &airless::model::RunId::new("c1"),
        )
        .await
        .unwrap()
        .unwrap();
    let ti = &reader.task_instances(c1.id).await.unwrap()[0];
    let tries = reader.task_tries(ti.id).await.unwrap();
    assert_eq!(tries.len(), 2, "{tries:?}");
    assert_eq!(tries[0].state, TaskState::UpForRetry);
    assert_eq!(
        tries[0].error.as_deref(),
        Some(airless::engine::recovery::INTERRUPTED)
    );
    assert_eq!(ti.state, TaskState::Success);
}

/// A try that takes a while and writes its node down when it ends.
const SLOW: &str = r#"
dag_id: slow
schedule: null
tasks:
  - task_id: wait
    kind: shell
    retries: 1
    retry_delay: 0s
    command: 'sleep 6; echo "$NODE" >> "{dir}/markers/slow-{{ try_number }}"'
"#;

fn signal(daemon: &Daemon, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon.pid() as i32), signal).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_stopped_past_its_lease_cannot_write_to_the_run_it_lost() {
    let Some(mut cluster) = Cluster::new(
        "a_node_stopped_past_its_lease_cannot_write_to_the_run_it_lost",
        &[("slow.yaml", SLOW.to_string())],
        &[("AIRLESS_LEASE_TIMEOUT", "3s")],
    )
    .await
    else {
        return;
    };
    cluster.start(0).await;
    cluster.start(1).await;
    let run = cluster
        .node(0)
        .post("/api/v1/dags/slow/dagRuns", json!({"dag_run_id": "s1"}))
        .await;
    assert_eq!(run["state"], "queued");
    wait_for("a node to drive s1", Duration::from_secs(30), async || {
        cluster.driver_of("slow", "s1").await.is_some()
    })
    .await;
    let first = cluster.driver_of("slow", "s1").await.unwrap();
    let other = 1 - first;
    signal(cluster.node(first), nix::sys::signal::Signal::SIGSTOP);
    let took = wait_for(
        "the peer to take s1 after the lease ran out",
        Duration::from_secs(30),
        async || cluster.driver_of("slow", "s1").await == Some(other),
    )
    .await;
    println!("node {first} stopped; node {other} took its run {took:.1?} later");
    signal(cluster.node(first), nix::sys::signal::Signal::SIGCONT);
    wait_for("s1 to succeed", Duration::from_secs(60), async || {
        cluster
            .node(other)
            .get("/api/v1/dags/slow/dagRuns/s1")
            .await["state"]
            == "success"
    })
    .await;
    // give the resumed node time to try whatever it still would
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reader = cluster.reader().await;
    let s1 = reader
        .find_dag_run(
            &airless::model::DagId::new("slow"),
            &airless::model::RunId::new("s1"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s1.state, RunState::Success);
    let ti = &reader.task_instances(s1.id).await.unwrap()[0];
    let tries = reader.task_tries(ti.id).await.unwrap();
    assert_eq!(ti.state, TaskState::Success);
    assert_eq!(tries.len(), 2, "{tries:?}");
    assert_eq!(
        tries[0].error.as_deref(),
        Some(airless::engine::recovery::INTERRUPTED),
        "the peer ended the lost try"
    );
    // the second try ran on the peer; nothing of the stopped node's landed
    let second = std::fs::read_to_string(cluster.path("markers").join("slow-2")).unwrap();
    assert_eq!(second.trim(), other.to_string());
    let log =
        std::fs::read_to_string(cluster.path(&format!("node{first}")).join("daemon.log")).unwrap();
    // either its heartbeat saw the lease gone first, or its driver's
    // fenced write of the try's end was refused
    assert!(
        log.contains("the run was failed or taken elsewhere")
            || log.contains("the run was taken elsewhere while this process was stopped"),
        "the resumed node says it lost the run: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_send_a_failure_alert_once() {
    let hooks = crate::fakes::hooks::FakeHooks::start().await;
    let url = hooks.url("/services/T1/B1/X1");
    let Some(mut cluster) = Cluster::new(
        "three_nodes_send_a_failure_alert_once",
        &[(
            "fails.yaml",
            "dag_id: fails\nschedule: null\non_failure: [team]\ntasks:\n  - { task_id: boom, kind: shell, command: \"exit 7\" }\n".to_string(),
        )],
        &[("HOOK_URL", &url), ("AIRLESS_NOTIFY_WAIT", "1s")],
    )
    .await
    else {
        return;
    };
    cluster.toml = Some("[notify.team]\nkind = \"slack\"\nurl = \"${HOOK_URL}\"\n".into());
    for n in 0..3 {
        cluster.start(n).await;
    }
    cluster
        .node(1)
        .post("/api/v1/dags/fails/dagRuns", json!({"dag_run_id": "f1"}))
        .await;
    wait_for(
        "the alert to be delivered",
        Duration::from_secs(30),
        async || !hooks.received().is_empty(),
    )
    .await;
    // every node's sender would have sent by now if each sent its own
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(hooks.received().len(), 1, "one message, from one node");
    let delivered = cluster
        .node(2)
        .get("/api/airless/alerts?status=delivered")
        .await;
    assert_eq!(
        delivered["alerts"].as_array().unwrap().len(),
        1,
        "{delivered}"
    );
    assert_eq!(delivered["alerts"][0]["attempts"], 1, "{delivered}");
}

#[tokio::test]
async fn serve_without_its_postgresql_says_so_and_never_shows_the_password() {
    let (dir, _dags) = crate::daemon::workspace();
    let dead = crate::daemon::free_port();
    let url = format!("postgres://airless:hunter2@127.0.0.1:{dead}/airless");
    let refusal = Daemon::start_expecting_failure(dir.path(), &[("AIRLESS_DATABASE", &url)]).await;
    assert_eq!(refusal.code, Some(2), "{}", refusal.stderr);
    assert!(
        refusal.stderr.contains(&format!(
            "cannot open the state database postgres://airless:***@127.0.0.1:{dead}/airless"
        )),
        "{}",
        refusal.stderr
    );
    assert!(!refusal.stderr.contains("hunter2"), "{}", refusal.stderr);
}
