//! `…/taskInstances/{task_id}/tries`: a task instance's try history as
//! Airflow 2.10's `TaskInstanceHistory` — each earlier try as recorded,
//! then the task instance as it is now.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::dto::{TaskInstanceHistoryCollection, TaskInstanceHistoryJson};
use super::error::ApiError;
use super::extract::Segments;
use super::form::py_str;
use crate::model::{DagId, DagRun, RunId, TaskInstance, TaskState};

async fn find(
    state: &AppState,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<Option<(DagRun, TaskInstance)>, ApiError> {
    let store = state.reader();
    let Some(run) = store
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
    else {
        return Ok(None);
    };
    let ti = store
        .task_instances(run.id)
        .await?
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task_id);
    Ok(ti.map(|ti| (run, ti)))
}

/// Every try of one task instance, oldest first: the recorded tries before
/// the current one (and the current one too when the instance was cleared
/// since), then the instance itself. As in Airflow, an unknown DAG, run or
/// task has no tries (an empty collection, not a 404).
pub async fn task_tries(
    state: &AppState,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<TaskInstanceHistoryCollection, ApiError> {
    let Some((run, ti)) = find(state, dag_id, run_id, task_id).await? else {
        return Ok(TaskInstanceHistoryCollection {
            task_instances: Vec::new(),
            total_entries: 0,
        });
    };
    let dag = state.dags.get(dag_id);
    let dag = dag.as_deref();
    let cleared = ti.state == TaskState::None;
    let mut task_instances: Vec<TaskInstanceHistoryJson> = state
        .reader()
        .task_tries(ti.id)
        .await?
        .iter()
        .filter(|t| t.try_number < ti.try_number || (cleared && t.try_number == ti.try_number))
        .map(|t| TaskInstanceHistoryJson::of_try(&ti, t, &run, dag))
        .collect();
    task_instances.push(TaskInstanceHistoryJson::current(&ti, &run, dag));
    let total_entries = task_instances.len();
    Ok(TaskInstanceHistoryCollection {
        task_instances,
        total_entries,
    })
}

/// Try `try_number` of one task instance: the instance itself when that is
/// its current try, else the recorded try; 404 otherwise.
pub async fn task_try(
    state: &AppState,
    (dag_id, run_id, task_id): (&str, &str, &str),
    try_number: u32,
) -> Result<TaskInstanceHistoryJson, ApiError> {
    let missing = || {
        ApiError::not_found(
            "Task instance not found",
            Some(format!(
                "Task Instance not found for dag_id={dag_id}, run_id={run_id}, task_id={task_id}, map_index=-1, try_number={try_number}."
            )),
        )
    };
    let (run, ti) = find(state, dag_id, run_id, task_id)
        .await?
        .ok_or_else(missing)?;
    let dag = state.dags.get(dag_id);
    if ti.try_number == try_number {
        return Ok(TaskInstanceHistoryJson::current(&ti, &run, dag.as_deref()));
    }
    let tries = state.reader().task_tries(ti.id).await?;
    let attempt = tries
        .iter()
        .find(|t| t.try_number == try_number)
        .ok_or_else(missing)?;
    Ok(TaskInstanceHistoryJson::of_try(
        &ti,
        attempt,
        &run,
        dag.as_deref(),
    ))
}

/// `GET …/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries`
pub async fn list(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id)): Segments<(String, String, String)>,
) -> Result<Json<TaskInstanceHistoryCollection>, ApiError> {
    Ok(Json(task_tries(&state, &dag_id, &run_id, &task_id).await?))
}

/// `GET …/taskInstances/{task_id}/tries/{task_try_number}`
pub async fn get(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id, try_number)): Segments<(String, String, String, String)>,
) -> Result<Json<TaskInstanceHistoryJson>, ApiError> {
    let try_number: u32 = try_number.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{} is not of type 'integer' - 'task_try_number'",
            py_str(&try_number)
        ))
    })?;
    Ok(Json(
        task_try(&state, (&dag_id, &run_id, &task_id), try_number).await?,
    ))
}
