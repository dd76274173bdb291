//! Restart safety and adoption. A run whose lease is free (its owner
//! stopped, died or went silent) is adopted by a live owner: the scheduler
//! of `serve` claims it, then its driver ends each try the store still shows
//! running — killing the try's process group first when it still runs on
//! this boot — and retries it per `retries`, like any failure.

use chrono::{DateTime, Utc};

use super::{Control, ControlError, Launcher};
use crate::dag::{DagRegistry, Task};
use crate::model::{DagRun, RunState, TaskInstance, TaskState};

/// The message stored on a try that was cut off by a stop of airless.
pub const INTERRUPTED: &str = "the try was interrupted: airless stopped while it ran";

/// Whether try `try_number` of `max_tries`, cut off by a stop of airless,
/// is retried after the restart (otherwise it fails: no retries left).
pub fn retried_after_interruption(try_number: u32, max_tries: u32) -> bool {
    try_number < max_tries
}

/// The last line of the log of a try still running when the shutdown grace
/// ran out, saying what the restart does with it: resumed (a remote job
/// that outlives airless), retried, or failed for want of retries; the
/// daemon logs the same words for that try.
pub fn grace_ran_out(
    grace: std::time::Duration,
    resumable: bool,
    try_number: u32,
    max_tries: u32,
) -> String {
    let next = if resumable {
        "its remote job goes on and is followed again after the restart".to_string()
    } else if retried_after_interruption(try_number, max_tries) {
        format!("this try is retried after the restart (try {try_number} of {max_tries})")
    } else {
        format!("this try fails: it has no retries left (try {try_number} of {max_tries})")
    };
    format!(
        "airless: the daemon stopped (shutdown grace {} ran out); {next}",
        humantime::format_duration(grace)
    )
}

/// Ends the interrupted try of `ti` (state `running`, its owner gone):
/// `up_for_retry` when tries remain, `failed` otherwise. Returns the new
/// state and retry time.
pub async fn end_interrupted_try(
    control: &Control,
    run: &DagRun,
    task: &Task,
    ti: &TaskInstance,
) -> Result<(TaskState, Option<DateTime<Utc>>), ControlError> {
    let now = control.now();
    let (state, next_retry_at) = if retried_after_interruption(ti.try_number, ti.max_tries) {
        let delay =
            chrono::Duration::from_std(task.retry.delay_after(ti.try_number)).unwrap_or_default();
        (TaskState::UpForRetry, Some(now + delay))
    } else {
        (TaskState::Failed, None)
    };
    tracing::warn!(task_id = %ti.task_id, try_number = ti.try_number, next = %state, "{INTERRUPTED}");
    control
        .end_orphaned_try(
            run,
            ti,
            state,
            next_retry_at,
            INTERRUPTED,
            Some(&control.owner().id),
        )
        .await?;
    // the try's log goes on where it stopped (a log on another node's disk
    // is left alone)
    if let Some(path) = ti.log_path.as_deref().map(std::path::Path::new)
        && path.is_file()
        && let Ok(log) = crate::kinds::TaskLog::append(path, Vec::new())
    {
        log.line(&format!("airless: {INTERRUPTED}; task is now {state}"));
    }
    Ok((state, next_retry_at))
}

/// Adopts every running run of an unpaused, loaded DAG whose lease is free
/// and drives it again on the version it started on. Runs of paused DAGs
/// stay as they are (as in Airflow, a paused DAG's runs make no progress).
/// Returns how many were adopted.
pub async fn adopt_runs(
    control: &Control,
    dags: &DagRegistry,
    launcher: &Launcher,
) -> Result<usize, ControlError> {
    let mut adopted = 0;
    let running = control.reader().runs_in_state(RunState::Running).await?;
    if running.is_empty() {
        return Ok(0);
    }
    let paused = control.reader().paused_dags().await?;
    for run in running {
        if launcher.is_active(run.id) || paused.get(run.dag_id.as_str()).copied().unwrap_or(false) {
            continue;
        }
        let Some(current) = dags.get(run.dag_id.as_str()) else {
            continue;
        };
        if !control.claim_run(&run, None).await? {
            continue;
        }
        match control.dag_for_run(&run, Some(current)).await {
            Ok(Some(dag)) => {
                if let Some(lease) = &run.lease {
                    tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, previous = %lease.owner, "adopting a run whose owner is gone");
                }
                launcher.start(dag, run.id);
                adopted += 1;
            }
            Ok(None) => control.release_run(run.id).await?,
            Err(err) => {
                tracing::error!(dag_id = %run.dag_id, run_id = %run.run_id, "cannot adopt the run: {err}");
                control.release_run(run.id).await?;
            }
        }
    }
    Ok(adopted)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::grace_ran_out;

    #[test]
    fn the_grace_line_says_retried_only_while_retries_remain() {
        let stop = "airless: the daemon stopped (shutdown grace 30s ran out); ";
        assert_eq!(
            grace_ran_out(Duration::from_secs(30), false, 1, 3),
            format!("{stop}this try is retried after the restart (try 1 of 3)")
        );
        assert_eq!(
            grace_ran_out(Duration::from_secs(30), false, 3, 3),
            format!("{stop}this try fails: it has no retries left (try 3 of 3)")
        );
        assert_eq!(
            grace_ran_out(Duration::from_secs(30), false, 1, 1),
            format!("{stop}this try fails: it has no retries left (try 1 of 1)")
        );
        assert_eq!(
            grace_ran_out(Duration::from_secs(30), true, 1, 1),
            format!("{stop}its remote job goes on and is followed again after the restart")
        );
    }
}
