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
