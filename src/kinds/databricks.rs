//! `databricks`: runs a Databricks job (Jobs API 2.1) and waits for it.
//! Exactly one run per try: the submit carries an idempotency token derived
//! from the try, the run id is recorded before any waiting, and a try resumed
//! after a restart polls the recorded run (or re-submits with the same token,
//! which returns the same run).

use std::time::Duration;

use serde_json::json;

use super::{External, TaskContext, TaskError, TaskResult, error_chain};
use crate::clients::databricks::auth::{self, AuthOverrides};
use crate::clients::databricks::{
    Cluster, JobsClient, NotebookTask, RunNow, RunStatus, SubmitRun, SubmitTask, idempotency_token,
};
use crate::dag::DatabricksSpec;
use crate::dag::duration;
use crate::model::time::chrono_duration;

/// Airflow's `polling_period_seconds` default.
const DEFAULT_POLL: Duration = Duration::from_secs(30);
/// Polling slows down (doubles) after each hour a run has been watched…
const BACKOFF_EVERY: Duration = Duration::from_secs(3600);
/// …up to this interval.
const MAX_POLL: Duration = Duration::from_secs(300);
/// One Jobs API request, reply included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a cancelled run is waited for before the try gives up on it.
const CANCEL_WAIT: Duration = Duration::from_secs(300);

pub async fn run(spec: &DatabricksSpec, ctx: &TaskContext) -> TaskResult {
    let overrides = AuthOverrides {
        host: spec.host.clone(),
        token: spec.token.clone(),
        profile: spec.profile.clone(),
        client_id: spec.client_id.clone(),
        client_secret: spec.client_secret.clone(),
    };
    let env = |name: &str| ctx.env.get(name).cloned();
    let creds =
        auth::resolve(&overrides, &env).map_err(|err| TaskError::transient(err.to_string()))?;
    for secret in creds.secrets() {
        ctx.log.add_secret(&secret);
    }
    ctx.log
        .line(&format!("Databricks workspace {}", creds.describe()));
    // a reply that never comes is retried (the idempotency token makes a
    // repeated submit safe) instead of holding the try forever
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| ctx.http.clone());
    let client = JobsClient::new(http, creds, ctx.clock.clone());
    let poll = match &spec.poll_interval {
        Some(text) => duration::parse(text).map_err(|e| TaskError::transient(e.to_string()))?,
        None => DEFAULT_POLL,
    };

    let resumed = ctx.resumed.as_ref().and_then(|r| r.external.clone());
    let run_id = match &resumed {
        Some(external) => {
            let id = external.id.parse::<i64>().map_err(|_| {
                TaskError::transient(format!(
                    "the recorded Databricks run id `{}` is not a number",
                    external.id
                ))
            })?;
            ctx.log.line(&format!(
                "re-attaching to Databricks run {id} {}",
                external.url.as_deref().unwrap_or_default()
            ));
            id
        }
        None => submit(spec, ctx, &client).await?,
    };

    let first = client.get_run(run_id).await;
    mask_secrets(&client, ctx);
    let mut status = first
        .map_err(|err| TaskError::transient(format!("Databricks run {run_id}")).caused_by(err))?;
    if resumed.is_none() {
        let external = External {
            id: run_id.to_string(),
            url: status.run_page_url.clone(),
        };
        ctx.recorder.external(&external).await.map_err(|err| {
            TaskError::transient(format!("cannot record Databricks run {run_id}: {err}"))
        })?;
    }
    ctx.log.line(&format!(
        "Databricks run {run_id}: {}",
        status
            .run_page_url
            .as_deref()
            .unwrap_or("(no run page URL)")
    ));
    if !spec.wait_for_termination {
        ctx.log
            .line("wait_for_termination is false: not waiting for the run to end");
        return Ok(output(&status));
    }

    let watching_since = ctx.clock.now();
    let mut last_state = String::new();
    loop {
        let state = describe(&status);
        if state != last_state {
            ctx.log.line(&format!("Databricks run {run_id} is {state}"));
            last_state = state;
        }
        if status.is_terminal() {
            break;
        }
        let now = ctx.clock.now();
        if ctx.deadline.is_some_and(|deadline| now >= deadline) {
            ctx.log
                .line("execution_timeout reached: cancelling the Databricks run");
            let status = cancel_and_wait(&client, run_id, poll, ctx).await;
            return Err(TaskError::transient(format!(
                "timed out (execution_timeout); Databricks run {run_id} cancelled, it ended {}: {}",
                describe(&status),
                status.run_page_url.as_deref().unwrap_or_default()
            )));
        }
        let mut next = now + chrono_duration(poll_interval(poll, now - watching_since));
        if let Some(deadline) = ctx.deadline {
            next = next.min(deadline);
        }
        tokio::select! {
            () = ctx.clock.sleep_until(next) => {}
            () = ctx.cancel.cancelled() => {
                ctx.log.line("the try was cancelled: cancelling the Databricks run");
                let status = cancel_and_wait(&client, run_id, poll, ctx).await;
                return Err(TaskError::cancelled(format!(
                    "cancelled; Databricks run {run_id} ended {}",
                    describe(&status)
                )));
            }
            () = ctx.shutdown.cancelled() => {
                return Err(TaskError::detached(format!(
                    "airless is stopping: Databricks run {run_id} goes on and is polled again after the restart"
                )));
            }
        }
        if ctx
            .deadline
            .is_some_and(|deadline| ctx.clock.now() >= deadline)
        {
            continue; // the top of the loop cancels the run
        }
        let polled = client.get_run(run_id).await;
        mask_secrets(&client, ctx);
        match polled {
            Ok(next_status) => status = next_status,
            // a poll that fails after the client's own retries is not the
            // run's failure: the run goes on, so keep watching it
            Err(err) if err.is_transient() => ctx.log.line(&format!(
                "cannot read Databricks run {run_id} ({}); trying again",
                error_chain(&err)
            )),
            Err(err) => {
                return Err(TaskError::transient(format!(
                    "Databricks run {run_id}: {}",
                    error_chain(&err)
                )));
            }
        }
    }
    if status.is_success() {
        Ok(output(&status))
    } else {
        Err(TaskError::transient(format!(
            "Databricks run {run_id} ended {}: {} — {}",
            describe(&status),
            if status.state_message.is_empty() {
                "(no state message)"
            } else {
                status.state_message.as_str()
            },
            status
                .run_page_url
                .as_deref()
                .unwrap_or("(no run page URL)")
        )))
    }
}

/// Starts the run: `run-now` for a job, `runs/submit` for a notebook; the
/// idempotency token makes a repeated submit of this try return its run.
async fn submit(
    spec: &DatabricksSpec,
    ctx: &TaskContext,
    client: &JobsClient,
) -> Result<i64, TaskError> {
    let token = idempotency_token(
        ctx.dag_id.as_str(),
        ctx.run_id.as_str(),
        ctx.task_id.as_str(),
        ctx.try_number,
    );
    let timeout_seconds = ctx
        .deadline
        .map(|d| (d - ctx.clock.now()).num_seconds().max(1).unsigned_abs());
    let submitted = if let Some(job) = &spec.job_id {
        let job_id = job
            .whole("job_id")
            .map_err(TaskError::transient)
            .and_then(|id| {
                i64::try_from(id).map_err(|_| TaskError::permanent("`job_id` is too large"))
            })?;
        ctx.log.line(&format!(
            "jobs/run-now job {job_id} (idempotency token {token})"
        ));
        client
            .run_now(&RunNow {
                job_id,
                job_parameters: spec.job_parameters.clone(),
                notebook_params: spec.notebook_params.clone(),
                idempotency_token: token,
            })
            .await
    } else {
        let notebook_path = spec.notebook_path.clone().unwrap_or_default();
        let run_name = spec
            .run_name
            .clone()
            .unwrap_or_else(|| format!("{}.{}", ctx.dag_id, ctx.task_id));
        ctx.log.line(&format!(
            "jobs/runs/submit notebook {notebook_path} as `{run_name}` (idempotency token {token})"
        ));
        client
            .submit(&SubmitRun {
                run_name,
                timeout_seconds,
                idempotency_token: token,
                tasks: vec![SubmitTask {
                    task_key: task_key(ctx.task_id.as_str()),
                    notebook_task: NotebookTask {
                        notebook_path,
                        base_parameters: spec.base_parameters.clone(),
                    },
                    cluster: match (&spec.existing_cluster_id, &spec.new_cluster) {
                        (Some(id), _) => Cluster::Existing(id.clone()),
                        (None, Some(spec)) => Cluster::New(serde_json::Value::Object(spec.clone())),
                        (None, None) => {
                            return Err(TaskError::transient(
                                "a notebook run needs `existing_cluster_id` or `new_cluster`",
                            ));
                        }
                    },
                }],
            })
            .await
    };
    submitted.map_err(|err| {
        TaskError::transient(format!(
            "cannot start the Databricks run: {}",
            error_chain(&err)
        ))
    })
}

/// Masks every secret the client knows so far (OAuth access tokens appear
/// as they are issued).
fn mask_secrets(client: &JobsClient, ctx: &TaskContext) {
    for secret in client.secrets() {
        ctx.log.add_secret(&secret);
    }
}

/// `runs/cancel`, then waits (bounded) for the run to end.
async fn cancel_and_wait(
    client: &JobsClient,
    run_id: i64,
    poll: Duration,
    ctx: &TaskContext,
) -> RunStatus {
    if let Err(err) = client.cancel(run_id).await {
        ctx.log.line(&format!(
            "runs/cancel for run {run_id} failed: {}",
            error_chain(&err)
        ));
    }
    let give_up = ctx.clock.now() + chrono_duration(CANCEL_WAIT);
    let step = chrono_duration(poll.min(Duration::from_secs(5)));
    let mut last = RunStatus {
        run_id,
        run_page_url: None,
        life_cycle_state: "UNKNOWN".to_string(),
        result_state: None,
        state_message: String::new(),
        termination_code: None,
        termination_type: None,
    };
    loop {
        match client.get_run(run_id).await {
            Ok(status) if status.is_terminal() => return status,
            Ok(status) => last = status,
            Err(err) => ctx
                .log
                .line(&format!("cannot read run {run_id}: {}", error_chain(&err))),
        }
        let now = ctx.clock.now();
        if now >= give_up {
            ctx.log.line(&format!(
                "run {run_id} did not end within {}s of runs/cancel",
                CANCEL_WAIT.as_secs()
            ));
            return last;
        }
        ctx.clock.sleep_until(now + step).await;
    }
}

/// The wait between polls: `poll`, doubled for every hour already watched,
/// at most [`MAX_POLL`] (or `poll` when that is longer).
pub fn poll_interval(poll: Duration, watched: chrono::Duration) -> Duration {
    let hours = watched.to_std().unwrap_or_default().as_secs() / BACKOFF_EVERY.as_secs();
    let factor = 1u32 << hours.min(16);
    poll.saturating_mul(factor).min(MAX_POLL.max(poll))
}

/// A task key Databricks accepts: letters, digits, `_` and `-`, ≤ 100 chars.
fn task_key(task_id: &str) -> String {
    task_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect()
}

fn describe(status: &RunStatus) -> String {
    match &status.result_state {
        Some(result) => format!("{} {result}", status.life_cycle_state),
        None => status.life_cycle_state.clone(),
    }
}

/// The task's output, for downstream templates.
fn output(status: &RunStatus) -> serde_json::Value {
    json!({
        "run_id": status.run_id,
        "run_page_url": status.run_page_url,
        "state": status.life_cycle_state,
        "result_state": status.result_state,
        "state_message": status.state_message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_slows_down_for_long_runs() {
        let poll = Duration::from_secs(30);
        let at = |minutes: i64| poll_interval(poll, chrono::Duration::minutes(minutes)).as_secs();
        assert_eq!(
            [at(0), at(59), at(60), at(120), at(180), at(600)],
            [30, 30, 60, 120, 240, 300]
        );
        assert_eq!(
            poll_interval(Duration::from_secs(600), chrono::Duration::hours(5)).as_secs(),
            600
        );
    }

    /// How many `runs/get` calls watching a run of `length` costs: one
    /// right after the submit, then one per poll until it has ended.
    fn gets_for(length: Duration) -> u32 {
        let poll = DEFAULT_POLL;
        let (mut at, mut gets) = (Duration::ZERO, 1);
        while at < length {
            let watched = chrono::Duration::from_std(at).unwrap();
            at += poll_interval(poll, watched);
            gets += 1;
        }
        gets
    }

    #[test]
    fn polls_for_a_10_minute_and_a_2_hour_job() {
        assert_eq!(gets_for(Duration::from_secs(600)), 21);
        assert_eq!(gets_for(Duration::from_secs(7200)), 181);
    }

    #[test]
    fn task_keys_keep_only_what_databricks_accepts() {
        assert_eq!(task_key("group.run notebook"), "group_run_notebook");
    }
}
