//! Alerts: the DAG keys that route them, the outbox the store's triggers
//! fill with each state change (whoever makes it), and delivery by the real
//! daemon to channels served in-process.

use std::path::Path;
use std::time::Duration;

use airless::dag::DeadlineFrom;

fn load(text: &str) -> Result<airless::dag::Dag, Vec<airless::dag::DagError>> {
    airless::dag::load(Path::new("alerts.yaml"), text)
}

#[test]
fn task_keys_win_over_the_dags_and_default_args() {
    let dag = load(
        r#"
dag_id: routed
on_failure: [team-slack]
on_recovery: [team-slack]
deadline: { after: 2h, from: queued, notify: [oncall] }
default_args:
  on_retry: [team-email]
tasks:
  - { task_id: a, kind: noop }
  - { task_id: b, kind: noop, on_failure: [oncall, team-slack], on_success: [audit] }
  - { task_id: c, kind: noop, on_failure: [] }
"#,
    )
    .unwrap();
    let a = &dag.tasks[0].alerts;
    assert_eq!(a.on_failure, ["team-slack"]);
    assert_eq!(a.on_retry, ["team-email"]);
    assert!(a.on_success.is_empty());
    let b = &dag.tasks[1].alerts;
    assert_eq!(b.on_failure, ["oncall", "team-slack"]);
    assert_eq!(b.on_success, ["audit"]);
    assert!(
        dag.tasks[2].alerts.on_failure.is_empty(),
        "an empty list silences a task"
    );
    assert_eq!(dag.alerts.on_recovery, ["team-slack"]);
    let deadline = dag.alerts.deadline.as_ref().unwrap();
    assert_eq!(deadline.after, Duration::from_secs(7200));
    assert_eq!(deadline.from, DeadlineFrom::Queued);
    assert_eq!(deadline.notify, ["oncall"]);
}

#[test]
fn alert_keys_with_mistakes_say_where_and_what() {
    for (text, words) in [
        (
            "dag_id: x\non_failure: [\"team slack\"]\ntasks:\n  - { task_id: a, kind: noop }\n",
            "alerts.yaml:2:14: on_failure names the channel `team slack`, which is not a channel name",
        ),
        (
            "dag_id: x\ndeadline: { after: soon, notify: [a] }\ntasks:\n  - { task_id: a, kind: noop }\n",
            "alerts.yaml:2:20: deadline.after `soon` is not a duration",
        ),
        (
            "dag_id: x\ndeadline: { after: 1h, from: started, notify: [a] }\ntasks:\n  - { task_id: a, kind: noop }\n",
            "deadline.from `started` is not an instant a run has",
        ),
        (
            "dag_id: x\ndeadline: { after: 1h, notify: [] }\ntasks:\n  - { task_id: a, kind: noop }\n",
            "deadline.notify names no channel",
        ),
    ] {
        let errors = load(text).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown.iter().any(|e| e.contains(words)),
            "{words:?} not in {shown:#?}"
        );
    }
}

// ---------------------------------------------------------------- daemon

use crate::daemon::{Daemon, free_port, wait_for};
use crate::fakes::hooks::FakeHooks;
use serde_json::{Value, json};

const TEAM: &str = "[notify.team]\nkind = \"slack\"\nurl = \"${HOOK_URL}\"\n";

fn folder(toml: &str, dags: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dags")).unwrap();
    std::fs::write(dir.path().join("airless.toml"), toml).unwrap();
    for (name, text) in dags {
        std::fs::write(dir.path().join("dags").join(name), text).unwrap();
    }
    dir
}

async fn task_state(daemon: &Daemon, dag: &str, run: &str, task: &str) -> Value {
    daemon
        .get(&format!(
            "/api/v1/dags/{dag}/dagRuns/{run}/taskInstances/{task}"
        ))
        .await["state"]
        .clone()
}

async fn alerts(daemon: &Daemon, status: &str) -> Vec<Value> {
    daemon
        .get(&format!("/api/airless/alerts?status={status}"))
        .await["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// the fake channel serves on its own thread, whatever the daemon's load
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_recorded_before_a_kill_9_is_alerted_once_after_the_restart() {
    let hooks = FakeHooks::start().await;
    let url = hooks.url("/services/T1/B1/X1");
    let dir = folder(
        TEAM,
        &[(
            "fails.yaml",
            "dag_id: fails\nschedule: null\non_failure: [team]\ntasks:\n  - { task_id: boom, kind: shell, command: \"echo about to fail; exit 7\" }\n".into(),
        )],
    );
    let env = [("HOOK_URL", url.as_str()), ("AIRLESS_NOTIFY_WAIT", "6s")];
    let daemon = Daemon::start_with_env(dir.path(), &env).await;
    daemon
        .post("/api/v1/dags/fails/dagRuns", json!({"dag_run_id": "r1"}))
        .await;
    wait_for("boom to fail", Duration::from_secs(30), async || {
        task_state(&daemon, "fails", "r1", "boom").await == "failed"
    })
    .await;
    assert_eq!(
        alerts(&daemon, "pending").await.len(),
        1,
        "the failure wrote its alert"
    );
    drop(daemon); // kill -9, inside the 6 s the alert waits for company
    assert!(
        hooks.received().is_empty(),
        "nothing was sent before the kill"
    );

    let daemon = Daemon::start_with_env(dir.path(), &env).await;
    wait_for(
        "the alert after the restart",
        Duration::from_secs(30),
        async || !hooks.received().is_empty(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = hooks.received();
    assert_eq!(received.len(), 1, "delivered exactly once");
    let text = received[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for words in [
        "failure: fails.boom (run r1, try 1)",
        "command exited with code 7",
        "about to fail",
        "/dags/fails/runs/r1/tasks/boom/logs/1",
    ] {
        assert!(text.contains(words), "{words:?} not in {text}");
    }
    let delivered = alerts(&daemon, "delivered").await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["event"], "failure");
    assert_eq!(delivered[0]["channel"], "team");
}

// the fake channel serves on its own thread, whatever the daemon's load
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_100_failures_is_one_message_and_a_failure_set_over_the_api_is_alerted() {
    let hooks = FakeHooks::start().await;
    let url = hooks.url("/services/T2/B2/X2");
    let mut storm = String::from(
        "dag_id: storm\nschedule: null\nmax_active_tasks: 100\non_failure: [team]\ntasks:\n",
    );
    for i in 0..100 {
        storm.push_str(&format!(
            "  - {{ task_id: t{i}, kind: shell, command: \"exit 1\" }}\n"
        ));
    }
    let slow = "dag_id: slow\nschedule: null\ntasks:\n  - { task_id: wait, kind: shell, command: \"sleep 60\", on_failure: [team] }\n".to_string();
    let dir = folder(TEAM, &[("storm.yaml", storm), ("slow.yaml", slow)]);
    let env = [
        ("HOOK_URL", url.as_str()),
        ("AIRLESS_NOTIFY_WAIT", "4s"),
        ("AIRLESS_PARALLELISM", "100"),
    ];
    let daemon = Daemon::start_with_env(dir.path(), &env).await;
    daemon
        .post("/api/v1/dags/storm/dagRuns", json!({"dag_run_id": "s1"}))
        .await;
    wait_for("the storm's message", Duration::from_secs(60), async || {
        !hooks.received().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = hooks.received();
    let texts: Vec<String> = received
        .iter()
        .map(|r| {
            r.json()["text"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect()
        })
        .collect();
    assert_eq!(received.len(), 1, "one message for the storm: {texts:#?}");
    let text = received[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("storm: 100 alerts"), "{text}");
    assert_eq!(alerts(&daemon, "delivered").await.len(), 100);

    // a failure set from the API (the run failed by a PATCH) is alerted too
    daemon
        .post("/api/v1/dags/slow/dagRuns", json!({"dag_run_id": "w1"}))
        .await;
    wait_for("wait to run", Duration::from_secs(30), async || {
        task_state(&daemon, "slow", "w1", "wait").await == "running"
    })
    .await;
    let (status, _) = daemon
        .patch("/api/v1/dags/slow/dagRuns/w1", json!({"state": "failed"}))
        .await;
    assert_eq!(status, 200);
    wait_for(
        "the cancelled task's alert",
        Duration::from_secs(30),
        async || hooks.received().len() == 2,
    )
    .await;
    let text = hooks.received()[1].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("failure: slow.wait (run w1, try 1)"),
        "{text}"
    );
}

// the fake channel serves on its own thread, whatever the daemon's load
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_channel_is_retried_and_shown_undelivered_and_a_missed_deadline_is_alerted() {
    let hooks = FakeHooks::start().await;
    let url = hooks.url("/services/T3/B3/X3");
    let dead = format!("http://127.0.0.1:{}/hook", free_port());
    let toml = format!("{TEAM}\n[notify.dead]\nkind = \"webhook\"\nurl = \"{dead}\"\n");
    let dir = folder(
        &toml,
        &[
            (
                "breaks.yaml",
                "dag_id: breaks\nschedule: null\non_failure: [dead]\ntasks:\n  - { task_id: b, kind: shell, command: \"exit 1\" }\n".into(),
            ),
            (
                "late.yaml",
                "dag_id: late\nschedule: null\ndeadline: { after: 2s, from: queued, notify: [team] }\ntasks:\n  - { task_id: long, kind: shell, command: \"sleep 60\" }\n".into(),
            ),
        ],
    );
    let env = [("HOOK_URL", url.as_str()), ("AIRLESS_NOTIFY_WAIT", "0s")];
    let daemon = Daemon::start_with_env(dir.path(), &env).await;
    daemon
        .post("/api/v1/dags/breaks/dagRuns", json!({"dag_run_id": "b1"}))
        .await;
    daemon
        .post("/api/v1/dags/late/dagRuns", json!({"dag_run_id": "l1"}))
        .await;

    wait_for(
        "a second delivery attempt",
        Duration::from_secs(30),
        async || {
            alerts(&daemon, "pending")
                .await
                .iter()
                .any(|a| a["channel"] == "dead" && a["attempts"].as_u64().unwrap_or(0) >= 2)
        },
    )
    .await;
    let pending = alerts(&daemon, "pending").await;
    let dead_alert = pending.iter().find(|a| a["channel"] == "dead").unwrap();
    let error = dead_alert["last_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty(), "the last error is shown: {dead_alert}");
    // the web UI's DAGs page shows it too
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .post(format!("{}/login", daemon.base))
        .form(&[("token", crate::daemon::TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = browser
        .get(format!("{}/", daemon.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Alerts not delivered (1)"), "{page}");
    assert!(
        page.contains("<strong>dead</strong>: failure of breaks.b (run b1) — retrying"),
        "{page}"
    );
    let (_, metrics) = daemon.get_text("/metrics").await;
    assert!(
        metrics.contains("airless_alerts{channel=\"dead\",status=\"pending\"} 1"),
        "{metrics}"
    );

    // nothing failed in `late`, but it is past its deadline
    wait_for("the deadline alert", Duration::from_secs(30), async || {
        !hooks.received().is_empty()
    })
    .await;
    let text = hooks.received()[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("deadline: late (run l1)"), "{text}");
    assert_eq!(task_state(&daemon, "late", "l1", "long").await, "running");
}

// the CLI blocks its thread while it runs: the fake serves from another
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_a_sample_through_a_channel_and_says_what_went_wrong() {
    let hooks = FakeHooks::start().await;
    let url = hooks.url("/services/T4/B4/X4");
    let dir = folder(
        &format!("{TEAM}\n[notify.broken]\nkind = \"slack\"\nurl = \"${{NOT_SET_ANYWHERE}}\"\n"),
        &[],
    );
    let run = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_airless"))
            .args(["notify", "test", name])
            .current_dir(dir.path())
            .env("HOOK_URL", &url)
            .env_remove("NOT_SET_ANYWHERE")
            .output()
            .unwrap()
    };
    let sent = run("team");
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    assert_eq!(
        String::from_utf8_lossy(&sent.stdout).trim(),
        "sent a test alert through `team`"
    );
    let received = hooks.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].json()["text"]
            .as_str()
            .unwrap_or_default()
            .contains("failure: airless_test.notify_test")
    );

    let missing = run("nobody");
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "airless.toml has no [notify.nobody] table; its channels: broken, team"
    );
    let broken = run("broken");
    assert_eq!(broken.status.code(), Some(2));
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(
        said.contains("notify.broken")
            && said.contains("${NOT_SET_ANYWHERE}")
            && said.contains("not set"),
        "{said}"
    );
    hooks.reply_next(404, None, "no_service");
    let refused = run("team");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("`team` refused the test alert: HTTP 404"),
        "{refused:?}"
    );
}

// the fake channel serves on its own thread, whatever the daemon's load
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_is_triggered_by_a_failure_and_resolved_by_the_recovery() {
    let pagerduty =
        crate::fakes::pagerduty::FakePagerDuty::start("R0UTINGKEY0000000000000000000000").await;
    let dir = folder(
        "[notify.oncall]\nkind = \"pagerduty\"\nrouting_key = \"${PD_KEY}\"\nurl = \"${PD_URL}\"\n",
        &[],
    );
    let flag = dir.path().join("flag");
    std::fs::write(
        dir.path().join("dags/flip.yaml"),
        format!(
            "dag_id: flip\nschedule: null\non_failure: [oncall]\non_recovery: [oncall]\ntasks:\n  - {{ task_id: check, kind: shell, command: \"test -f {}\" }}\n",
            flag.display()
        ),
    )
    .unwrap();
    let url = pagerduty.enqueue_url();
    let env = [
        ("PD_KEY", "R0UTINGKEY0000000000000000000000"),
        ("PD_URL", url.as_str()),
        ("AIRLESS_NOTIFY_WAIT", "0s"),
        ("AIRLESS_NOTIFY_WINDOW", "1s"),
    ];
    let daemon = Daemon::start_with_env(dir.path(), &env).await;
    daemon
        .post("/api/v1/dags/flip/dagRuns", json!({"dag_run_id": "f1"}))
        .await;
    wait_for("the trigger", Duration::from_secs(30), async || {
        !pagerduty.events().is_empty()
    })
    .await;
    std::fs::write(&flag, "").unwrap();
    daemon
        .post("/api/v1/dags/flip/dagRuns", json!({"dag_run_id": "f2"}))
        .await;
    wait_for("the resolve", Duration::from_secs(30), async || {
        pagerduty.events().len() == 2
    })
    .await;
    let events = pagerduty.events();
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[1]["event_action"], "resolve");
    assert_eq!(events[0]["dedup_key"], events[1]["dedup_key"]);
    assert_eq!(events[0]["dedup_key"], "flip");
    let summary = events[0]["payload"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("failure: flip.check (run f1, try 1)"),
        "{summary}"
    );
}

// the fake channel serves on its own thread, whatever the daemon's load
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_file_that_starts_failing_to_load_is_alerted() {
    let hooks = FakeHooks::start().await;
    let url = hooks.url("/services/T5/B5/X5");
    let dir = folder(
        &format!("notify_import_errors = [\"team\"]\n{TEAM}"),
        &[(
            "fine.yaml",
            "dag_id: fine\nschedule: null\ntasks:\n  - { task_id: a, kind: noop }\n".into(),
        )],
    );
    let env = [("HOOK_URL", url.as_str()), ("AIRLESS_NOTIFY_WAIT", "0s")];
    let _daemon = Daemon::start_with_env(dir.path(), &env).await;
    std::fs::write(
        dir.path().join("dags/fine.yaml"),
        "dag_id: fine\nschedule: null\ntasks:\n  - { task_id: a, kind: noop, depends_on: [nope] }\n",
    )
    .unwrap();
    wait_for(
        "the import error's alert",
        Duration::from_secs(30),
        async || !hooks.received().is_empty(),
    )
    .await;
    let text = hooks.received()[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("import_error:") && text.contains("fine.yaml"),
        "{text}"
    );
    assert!(
        text.contains("depends on `nope`, which is not a task of this DAG"),
        "{text}"
    );
}
