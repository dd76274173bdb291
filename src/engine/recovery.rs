//! Restart safety: a try the store still shows as `running` when a run is
//! picked up was interrupted (crash, `kill -9`, power loss). It is recorded
//! as a failed try and gets its retry per `retries`, like any failure.

use chrono::{DateTime, Utc};

use crate::dag::Task;
use crate::model::TaskState;
use crate::store::{Store, StoreError, TaskInstanceRow, TryEnd};

/// The message stored on a try that was cut off by a stop of airless.
pub const INTERRUPTED: &str = "the try was interrupted: airless stopped while it ran";

/// Ends the interrupted try of `ti` (state `running`): `up_for_retry` when
/// tries remain, `failed` otherwise. Returns the new state and retry time.
pub async fn end_interrupted_try(
    store: &Store,
    task: &Task,
    ti: &TaskInstanceRow,
    now: DateTime<Utc>,
) -> Result<(TaskState, Option<DateTime<Utc>>), StoreError> {
    let (state, next_retry_at) = if ti.try_number < ti.max_tries {
        let delay =
            chrono::Duration::from_std(task.retry.delay_after(ti.try_number)).unwrap_or_default();
        (TaskState::UpForRetry, Some(now + delay))
    } else {
        (TaskState::Failed, None)
    };
    tracing::warn!(task_id = %ti.task_id, try_number = ti.try_number, next = %state, "{INTERRUPTED}");
    store
        .finish_try(
            ti.id,
            ti.try_number,
            &TryEnd {
                state,
                output: None,
                error: Some(INTERRUPTED),
                next_retry_at,
                now,
            },
        )
        .await?;
    Ok((state, next_retry_at))
}

/// Runs the store shows as running when the daemon starts were cut off by
/// the last stop: each is driven again (its interrupted tries are recorded
/// and retried by the driver). Returns how many resumed.
pub async fn resume_runs(
    store: &Store,
    dags: &crate::dag::DagRegistry,
    launcher: &super::Launcher,
) -> Result<usize, StoreError> {
    let mut resumed = 0;
    for run in store.runs_in_state(crate::model::RunState::Running).await? {
        match dags.get(run.dag_id.as_str()) {
            Some(dag) => {
                launcher.start(dag, run.id);
                resumed += 1;
            }
            None => {
                tracing::warn!(dag_id = %run.dag_id, run_id = %run.run_id, "cannot resume: the DAG is not loaded")
            }
        }
    }
    Ok(resumed)
}
