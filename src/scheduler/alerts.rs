//! The alert sender: delivers the outbox (alerts the store's triggers wrote
//! with the state changes that caused them) to the configured channels, and
//! records missed deadlines. Per channel and DAG, alerts wait `wait` to
//! gather a burst, and after a delivery the next ones wait out `window`,
//! so a storm is one message. A failed delivery is retried with backoff
//! (or after the channel's `Retry-After`) up to 10 times, then kept as
//! failed with its error. An alert is marked delivered only after the
//! channel took it: a crash in between sends it again after the restart
//! (PagerDuty's dedup key makes that harmless there).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::dag::{DagRegistry, DeadlineFrom};
use crate::engine::{Control, ControlError};
use crate::model::links;
use crate::model::time::chrono_duration;
use crate::notify::{Alert, AlertEvent, Channel, DeliveryError, Message};
use crate::store::OutboxAlert;

/// Deliveries tried before an alert is given up as failed.
pub const MAX_ATTEMPTS: u32 = 10;
/// Lines of the try's log an alert carries.
const LOG_TAIL_LINES: usize = 20;
/// After a state change, the sender waits this long for the rest of the
/// burst before it looks at the outbox.
const EVENT_COALESCE: Duration = Duration::from_millis(200);
/// Deadlines are checked at most this often.
const DEADLINE_CHECK: chrono::Duration = chrono::Duration::seconds(1);
/// How long one delivery may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the sender groups and where its links point.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The first alert of a channel and DAG waits this long for others.
    pub wait: Duration,
    /// After a delivery, the next alerts of that channel and DAG wait until
    /// this much time has passed.
    pub window: Duration,
    /// The web UI's address as people reach it (links in messages).
    pub public_url: String,
    /// The channels told when a DAG file starts failing to load.
    pub import_errors: Vec<String>,
}

pub struct AlertSender {
    control: Control,
    dags: DagRegistry,
    channels: HashMap<String, Arc<dyn Channel>>,
    settings: AlertSettings,
    last_sent: HashMap<(String, String), DateTime<Utc>>,
    /// Task instances whose deadline alert is written (the store's unique
    /// index keeps it once across restarts too).
    late_tasks: std::collections::HashSet<i64>,
    /// When deadlines were last checked.
    deadlines_checked: Option<DateTime<Utc>>,
}

/// The wait before delivery `attempt` (1-based) is tried again: 1 s, 2 s,
/// 4 s … at most 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(9)).min(Duration::from_secs(300))
}

impl AlertSender {
    pub fn new(
        control: Control,
        dags: DagRegistry,
        channels: HashMap<String, Arc<dyn Channel>>,
        settings: AlertSettings,
    ) -> Self {
        AlertSender {
            control,
            dags,
            channels,
            settings,
            last_sent: HashMap::new(),
            late_tasks: std::collections::HashSet::new(),
            deadlines_checked: None,
        }
    }

    /// Delivers until `stop`; wakes on the door's events and when a held
    /// alert comes due.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut events = self.control.subscribe();
        loop {
            let now = self.control.now();
            // on a shared database one node sends; the others stand by
            let sender = match self.control.sends_alerts().await {
                Ok(sender) => sender,
                Err(err) => {
                    tracing::warn!("alerts: {err}");
                    false
                }
            };
            if !sender {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
                continue;
            }
            let next = match self.tick(now).await {
                Ok(next) => next,
                Err(err) => {
                    tracing::warn!("alerts: {err}");
                    now + chrono::Duration::seconds(5)
                }
            };
            let sleep = (next - self.control.now())
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(20), Duration::from_secs(5));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(sleep) => {}
                event = events.recv() => {
                    if let Ok(crate::model::Event::ImportErrorAppeared { file, message, .. }) = event
                        && !self.settings.import_errors.is_empty()
                        && let Err(err) = self
                            .control
                            .import_error_alert(&file, &message, &self.settings.import_errors)
                            .await
                    {
                        tracing::warn!("alerts: cannot record the import error of {file}: {err}");
                    }
                    // a busy run changes state hundreds of times a second:
                    // one look per burst, not one per change
                    tokio::time::sleep(EVENT_COALESCE).await;
                }
            }
        }
    }

    /// One pass: records missed deadlines, delivers what is due; returns
    /// when the next held alert comes due.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<DateTime<Utc>, ControlError> {
        if self
            .deadlines_checked
            .is_none_or(|at| now - at >= DEADLINE_CHECK)
        {
            self.check_deadlines(now).await?;
            self.deadlines_checked = Some(now);
        }
        let pending = self.control.reader().pending_alerts(10_000).await?;
        let mut groups: BTreeMap<(String, String), Vec<OutboxAlert>> = BTreeMap::new();
        for alert in pending {
            groups
                .entry((alert.channel.clone(), alert.dag_id.clone()))
                .or_default()
                .push(alert);
        }
        let mut next_wake = now + chrono::Duration::seconds(5);
        for (key, alerts) in groups {
            let Some(first) = alerts.first() else {
                continue;
            };
            let mut due = first.created_at + chrono_duration(self.settings.wait);
            if let Some(sent) = self.last_sent.get(&key) {
                due = due.max(*sent + chrono_duration(self.settings.window));
            }
            if let Some(retry) = alerts.iter().map(|a| a.next_attempt_at).max()
                && alerts.iter().any(|a| a.attempts > 0)
            {
                due = due.max(retry);
            }
            if due > now {
                next_wake = next_wake.min(due);
                continue;
            }
            self.deliver(&key, &alerts, now).await?;
        }
        Ok(next_wake)
    }

    async fn deliver(
        &mut self,
        (channel, dag_id): &(String, String),
        alerts: &[OutboxAlert],
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
        let Some(target) = self.channels.get(channel).cloned() else {
            tracing::warn!(channel = %channel, dag_id = %dag_id, "an alert names a channel airless.toml does not configure");
            return self
                .control
                .alerts_not_delivered(
                    &ids,
                    &format!(
                        "no channel named `{channel}`: add a [notify.{channel}] table to airless.toml"
                    ),
                    None,
                )
                .await;
        };
        let mut message_alerts = Vec::with_capacity(alerts.len());
        for alert in alerts {
            message_alerts.push(self.to_alert(alert).await);
        }
        let message = Message::new(message_alerts);
        let outcome = match tokio::time::timeout(SEND_TIMEOUT, target.send(&message)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(DeliveryError::Retry {
                message: format!("no answer within {}s", SEND_TIMEOUT.as_secs()),
                after: None,
            }),
        };
        match outcome {
            Ok(()) => {
                tracing::info!(channel = %channel, dag_id = %dag_id, alerts = ids.len(), "alert delivered");
                self.last_sent
                    .insert((channel.clone(), dag_id.clone()), now);
                self.control.alerts_delivered(&ids).await
            }
            Err(DeliveryError::Retry { message, after }) => {
                let attempt = alerts.iter().map(|a| a.attempts).max().unwrap_or(0) + 1;
                let next = (attempt < MAX_ATTEMPTS)
                    .then(|| now + chrono_duration(after.unwrap_or_else(|| backoff(attempt))));
                tracing::warn!(channel = %channel, dag_id = %dag_id, attempt, "alert not delivered: {message}");
                self.control
                    .alerts_not_delivered(&ids, &message, next)
                    .await
            }
            Err(DeliveryError::Permanent(message)) => {
                tracing::warn!(channel = %channel, dag_id = %dag_id, "alert refused for good: {message}");
                self.control
                    .alerts_not_delivered(&ids, &message, None)
                    .await
            }
        }
    }

    /// The message's view of an outbox row: links and the log's last lines.
    async fn to_alert(&self, row: &OutboxAlert) -> Alert {
        let base = self.settings.public_url.trim_end_matches('/');
        let event = match row.event.as_str() {
            "failure" => AlertEvent::Failure,
            "retry" => AlertEvent::Retry,
            "success" => AlertEvent::Success,
            "recovery" => AlertEvent::Recovery,
            "deadline" => AlertEvent::Deadline,
            _ => AlertEvent::ImportError,
        };
        let run_url = row
            .run_id
            .as_ref()
            .map(|run| format!("{base}{}", links::run_url(&row.dag_id, run)));
        let log_url = match (&row.run_id, &row.task_id, row.try_number) {
            (Some(run), Some(task), Some(n)) if n > 0 => Some(format!(
                "{base}{}",
                links::log_url(&row.dag_id, run, task, n)
            )),
            _ => None,
        };
        let log_tail = match &row.log_path {
            Some(path) if event != AlertEvent::Success => {
                crate::kinds::log::read_log(path, 0, 64 * 1024)
                    .await
                    .ok()
                    .map(|chunk| {
                        let lines: Vec<&str> = chunk.text.lines().collect();
                        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
                    })
                    .filter(|tail| !tail.is_empty())
            }
            _ => None,
        };
        Alert {
            event,
            dag_id: row.dag_id.clone(),
            run_id: row.run_id.clone(),
            task_id: row.task_id.clone(),
            logical_date: row.logical_date,
            try_number: row.try_number,
            state: row.state.clone(),
            error: row.error.clone(),
            log_tail,
            run_url,
            log_url,
            external_url: row.external_url.clone(),
            at: row.created_at,
        }
    }

    /// Records an alert for each unfinished run past its DAG's deadline,
    /// and each unfinished task instance past its task's.
    async fn check_deadlines(&mut self, now: DateTime<Utc>) -> Result<(), ControlError> {
        let bag = self.dags.snapshot();
        self.check_task_deadlines(&bag, now).await?;
        for dag in bag.dags.values() {
            let Some(deadline) = &dag.alerts.deadline else {
                continue;
            };
            for run in self
                .control
                .reader()
                .runs_without_deadline_alert(&dag.dag_id)
                .await?
            {
                let from = match deadline.from {
                    DeadlineFrom::Queued => run.queued_at,
                    DeadlineFrom::LogicalDate => run.logical_date,
                    DeadlineFrom::DataIntervalEnd => run.data_interval_end,
                };
                if now > from + chrono_duration(deadline.after) {
                    tracing::warn!(dag_id = %run.dag_id, run_id = %run.run_id, "the run missed its deadline");
                    self.control.deadline_missed(&run, &deadline.notify).await?;
                }
            }
        }
        Ok(())
    }
}

impl AlertSender {
    async fn check_task_deadlines(
        &mut self,
        bag: &crate::dag::DagBag,
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        if !bag
            .dags
            .values()
            .any(|d| d.tasks.iter().any(|t| t.deadline.is_some()))
        {
            return Ok(());
        }
        let reader = self.control.reader().clone();
        let mut runs = reader
            .runs_in_state(crate::model::RunState::Running)
            .await?;
        runs.extend(reader.runs_in_state(crate::model::RunState::Queued).await?);
        for run in runs {
            let Some(dag) = bag.dags.get(run.dag_id.as_str()) else {
                continue;
            };
            if dag.tasks.iter().all(|t| t.deadline.is_none()) {
                continue;
            }
            for ti in reader.task_instances(run.id).await? {
                let finished = matches!(
                    ti.state,
                    crate::model::TaskState::Success
                        | crate::model::TaskState::Skipped
                        | crate::model::TaskState::Failed
                        | crate::model::TaskState::UpstreamFailed
                );
                if finished || self.late_tasks.contains(&ti.id) {
                    continue;
                }
                let Some(deadline) = dag
                    .task_index(ti.task_id.as_str())
                    .and_then(|i| dag.tasks[i].deadline.as_ref())
                else {
                    continue;
                };
                let from = match deadline.from {
                    DeadlineFrom::Queued => run.queued_at,
                    DeadlineFrom::LogicalDate => run.logical_date,
                    DeadlineFrom::DataIntervalEnd => run.data_interval_end,
                };
                if now > from + chrono_duration(deadline.after) {
                    tracing::warn!(dag_id = %run.dag_id, run_id = %run.run_id, task_id = %ti.task_id, "the task missed its deadline");
                    self.control
                        .task_deadline_missed(&run, &ti, &deadline.notify)
                        .await?;
                    self.late_tasks.insert(ti.id);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(10), Duration::from_secs(300));
    }
}
