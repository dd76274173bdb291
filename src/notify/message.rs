//! What an alert says: one event about a DAG, a run or a task instance,
//! and a message to a channel that holds one or more of them (a storm is
//! grouped into one message).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    /// A task instance failed after its last retry (or was marked failed).
    Failure,
    /// A try failed and the task will be retried.
    Retry,
    /// A task instance succeeded.
    Success,
    /// A run succeeded after the DAG's previous run failed.
    Recovery,
    /// A run had not finished by its deadline.
    Deadline,
    /// A DAG file stopped loading (an import error appeared).
    ImportError,
}

impl AlertEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertEvent::Failure => "failure",
            AlertEvent::Retry => "retry",
            AlertEvent::Success => "success",
            AlertEvent::Recovery => "recovery",
            AlertEvent::Deadline => "deadline",
            AlertEvent::ImportError => "import_error",
        }
    }

    /// Whether it says something is wrong (PagerDuty triggers on these and
    /// resolves on a recovery).
    pub fn is_trouble(self) -> bool {
        matches!(
            self,
            AlertEvent::Failure | AlertEvent::Deadline | AlertEvent::ImportError
        )
    }
}

/// One event, with everything a person needs to act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub event: AlertEvent,
    pub dag_id: String,
    pub run_id: Option<String>,
    pub task_id: Option<String>,
    pub logical_date: Option<DateTime<Utc>>,
    pub try_number: Option<u32>,
    /// The task instance's or run's state, in Airflow's words.
    pub state: Option<String>,
    /// The error (masked), when there is one.
    pub error: Option<String>,
    /// The last lines of the try's log (masked).
    pub log_tail: Option<String>,
    /// The web UI's run page, the try's log page, a remote run's page.
    pub run_url: Option<String>,
    pub log_url: Option<String>,
    pub external_url: Option<String>,
    pub at: DateTime<Utc>,
}

impl Alert {
    /// One line: `failure: pinterest_batch.clean (run scheduled__…, try 6)`.
    pub fn headline(&self) -> String {
        let mut line = format!("{}: {}", self.event.as_str(), self.dag_id);
        if let Some(task) = &self.task_id {
            line.push('.');
            line.push_str(task);
        }
        match (&self.run_id, self.try_number) {
            (Some(run), Some(n)) if n > 0 => line.push_str(&format!(" (run {run}, try {n})")),
            (Some(run), _) => line.push_str(&format!(" (run {run})")),
            _ => {}
        }
        line
    }
}

/// What one channel is sent: one alert, or a group of them from one DAG
/// inside the grouping window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// A subject line (the e-mail subject, the Slack message's first line).
    pub subject: String,
    /// The whole message as plain text.
    pub text: String,
    pub alerts: Vec<Alert>,
    /// The incident's key (the DAG's id), for channels that deduplicate
    /// (PagerDuty): a DAG's failures are one incident, its recovery resolves
    /// it.
    pub dedup_key: String,
    /// The DAG has recovered: channels with incidents resolve them.
    pub resolve: bool,
    /// The DAG failed, recovered and failed again within the window.
    pub flapping: bool,
}

impl Message {
    /// The message for `alerts` (one DAG's, oldest first; not empty).
    pub fn new(alerts: Vec<Alert>) -> Message {
        let first = alerts.first().cloned();
        let dag = first.as_ref().map(|a| a.dag_id.clone()).unwrap_or_default();
        let troubles = alerts.iter().filter(|a| a.event.is_trouble()).count();
        let recoveries = alerts
            .iter()
            .filter(|a| a.event == AlertEvent::Recovery)
            .count();
        let flapping = troubles > 0 && recoveries > 0;
        let resolve = alerts
            .last()
            .is_some_and(|a| a.event == AlertEvent::Recovery);
        let subject = match (alerts.len(), &first) {
            (1, Some(alert)) => format!("[airless] {}", alert.headline()),
            (n, _) if flapping => format!("[airless] {dag} is flapping: {n} alerts"),
            (n, _) => format!("[airless] {dag}: {n} alerts"),
        };
        // one incident per DAG, so a recovery resolves what its failures
        // opened, whichever tasks they were
        let dedup_key = dag.clone();
        let mut text = String::new();
        if flapping {
            text.push_str(&format!(
                "{dag} is flapping: it failed and recovered within the window.\n\n"
            ));
        }
        for alert in &alerts {
            text.push_str(&alert.headline());
            text.push('\n');
            if let Some(date) = alert.logical_date {
                text.push_str(&format!("  logical date: {}\n", date.to_rfc3339()));
            }
            if let Some(state) = &alert.state {
                text.push_str(&format!("  state: {state}\n"));
            }
            if let Some(error) = &alert.error {
                text.push_str(&format!("  error: {error}\n"));
            }
            for (label, url) in [
                ("run", &alert.run_url),
                ("log", &alert.log_url),
                ("remote run", &alert.external_url),
            ] {
                if let Some(url) = url {
                    text.push_str(&format!("  {label}: {url}\n"));
                }
            }
            if let Some(tail) = &alert.log_tail {
                text.push_str("  last lines of the log:\n");
                for line in tail.lines() {
                    text.push_str("    ");
                    text.push_str(line);
                    text.push('\n');
                }
            }
            text.push('\n');
        }
        Message {
            subject,
            text: text.trim_end().to_string(),
            alerts,
            dedup_key,
            resolve,
            flapping,
        }
    }

    /// A sample, for `airless notify test NAME`.
    pub fn sample(now: DateTime<Utc>) -> Message {
        Message::new(vec![Alert {
            event: AlertEvent::Failure,
            dag_id: "airless_test".into(),
            run_id: Some("manual__test".into()),
            task_id: Some("notify_test".into()),
            logical_date: Some(now),
            try_number: Some(1),
            state: Some("failed".into()),
            error: Some("this is a test alert from `airless notify test`".into()),
            log_tail: None,
            run_url: None,
            log_url: None,
            external_url: None,
            at: now,
        }])
    }
}
