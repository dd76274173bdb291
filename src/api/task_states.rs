//! Setting task-instance states as Airflow's "mark success / failed /
//! skipped": `PATCH …/taskInstances/{task_id}` (one instance) and
//! `POST /api/v1/dags/{dag_id}/updateTaskInstancesState` (a task with its
//! relatives, in one run or several). Both go through
//! `engine::actions::set_task_state`; a run a live process drives is 409.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::AppState;
use super::dto::{Iso, TaskInstanceReference, TaskInstanceReferenceCollection};
use super::error::ApiError;
use super::extract::{Body, Segments, body_time};
use super::form::{Field, Form, Kind, field_message, py_str};
use crate::dag::Dag;
use crate::engine::Mark;
use crate::engine::actions::{self, Altered, StateSelection};
use crate::model::{DagId, DagRun, RunId, TaskId};

/// Airflow's `UpdateTaskState` enum: connexion refuses anything else.
fn new_state(text: &str) -> Result<Mark, ApiError> {
    match text {
        "success" => Ok(Mark::Success),
        "failed" => Ok(Mark::Failed),
        "skipped" => Ok(Mark::Skipped),
        other => Err(ApiError::bad_request(format!(
            "{} is not one of ['success', 'failed', 'skipped'] - 'new_state'",
            py_str(other)
        ))),
    }
}

fn reference(altered: &Altered) -> TaskInstanceReference {
    TaskInstanceReference {
        dag_id: altered.run.dag_id.to_string(),
        dag_run_id: altered.run.run_id.to_string(),
        execution_date: Iso(altered.run.logical_date),
        task_id: altered.task_id.to_string(),
    }
}

fn loaded(state: &AppState, dag_id: &str) -> Option<std::sync::Arc<Dag>> {
    state.dags.get(dag_id)
}

/// Airflow's `UpdateTaskInstance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleBody {
    dry_run: Option<bool>,
    new_state: String,
}

impl Form for SingleBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dry_run", Kind::Boolean),
        Field::required("new_state", Kind::String),
    ];
}

/// Sets one task instance to `new_state` (unless `dry_run`) and answers
/// its reference. 404 `DAG not found` / `Task not found` / a missing run
/// or instance; 409 while a live process drives the run.
pub async fn set_one(
    state: &AppState,
    (dag_id, run_id, task_id): (&str, &str, &str),
    mark: Mark,
    dry_run: bool,
) -> Result<TaskInstanceReference, ApiError> {
    let Some(dag) = loaded(state, dag_id) else {
        return Err(ApiError::not_found(
            "DAG not found",
            Some(format!("DAG {} not found", py_str(dag_id))),
        ));
    };
    if dag.task_index(task_id).is_none() {
        return Err(ApiError::not_found(
            "Task not found",
            Some(format!(
                "Task {} not found in DAG {}",
                py_str(task_id),
                py_str(dag_id)
            )),
        ));
    }
    let run = instance_run(state, &dag.dag_id, task_id, RunId::new(run_id)).await?;
    let selection = StateSelection {
        task_id: TaskId::new(task_id),
        run: run.clone(),
        upstream: false,
        downstream: false,
        future: false,
        past: false,
    };
    if !dry_run {
        actions::set_task_state(&state.launcher, &dag, &selection, mark, false).await?;
    }
    Ok(reference(&Altered {
        run,
        task_id: TaskId::new(task_id),
    }))
}

/// The run `run_id` of `dag_id` when it has an instance of `task_id`;
/// Airflow's 404 otherwise.
async fn instance_run(
    state: &AppState,
    dag_id: &DagId,
    task_id: &str,
    run_id: RunId,
) -> Result<DagRun, ApiError> {
    let missing = || {
        ApiError::not_found(
            "Not Found",
            Some(format!(
                "Task instance not found for task {} on DAG run with ID {}",
                py_str(task_id),
                py_str(run_id.as_str())
            )),
        )
    };
    let store = state.reader();
    let run = store
        .find_dag_run(dag_id, &run_id)
        .await?
        .ok_or_else(missing)?;
    let has = store
        .task_instances(run.id)
        .await?
        .iter()
        .any(|ti| ti.task_id.as_str() == task_id);
    if has { Ok(run) } else { Err(missing()) }
}

/// `PATCH /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}`
/// with `{"new_state": "success"|"failed"|"skipped", "dry_run": bool}`
/// (`dry_run` defaults to true, as Airflow documents). Failed and
/// upstream_failed instances downstream are cleared so the run carries on.
pub async fn patch(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id)): Segments<(String, String, String)>,
    Body(body): Body<SingleBody>,
) -> Result<Json<TaskInstanceReference>, ApiError> {
    let mark = new_state(&body.new_state)?;
    let dry_run = body.dry_run.unwrap_or(true);
    Ok(Json(
        set_one(&state, (&dag_id, &run_id, &task_id), mark, dry_run).await?,
    ))
}

/// Airflow's `UpdateTaskInstancesState`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyBody {
    dry_run: Option<bool>,
    task_id: String,
    execution_date: Option<String>,
    dag_run_id: Option<String>,
    include_upstream: bool,
    include_downstream: bool,
    include_future: bool,
    include_past: bool,
    new_state: String,
}

impl Form for ManyBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dry_run", Kind::Boolean),
        Field::required("task_id", Kind::String),
        Field::optional("execution_date", Kind::DateTime),
        Field::optional("dag_run_id", Kind::String),
        Field::required("include_upstream", Kind::Boolean),
        Field::required("include_downstream", Kind::Boolean),
        Field::required("include_future", Kind::Boolean),
        Field::required("include_past", Kind::Boolean),
        Field::required("new_state", Kind::String),
    ];
}

/// Which run an `updateTaskInstancesState` names.
#[derive(Debug, Clone)]
pub enum RunRef {
    RunId(RunId),
    LogicalDate(DateTime<Utc>),
}

/// What `updateTaskInstancesState` asks, parsed.
#[derive(Debug, Clone)]
pub struct StateRequest {
    pub task_id: TaskId,
    pub run: RunRef,
    pub upstream: bool,
    pub downstream: bool,
    pub future: bool,
    pub past: bool,
    pub new_state: Mark,
    pub dry_run: bool,
}

/// Sets (or with `dry_run` lists) the task instances `request` selects
/// that are not in the new state yet. 404 for an unknown DAG or task or a
/// run without the task; 409 while a live process drives a run touched.
pub async fn set_many(
    state: &AppState,
    dag_id: &str,
    request: StateRequest,
) -> Result<TaskInstanceReferenceCollection, ApiError> {
    let Some(dag) = loaded(state, dag_id) else {
        return Err(ApiError::not_found(
            format!("Dag ID {dag_id} not found"),
            None,
        ));
    };
    let task_id = request.task_id.as_str();
    if dag.task_index(task_id).is_none() {
        return Err(ApiError::not_found(
            format!("Task ID {task_id} not found"),
            None,
        ));
    }
    let run = match request.run {
        RunRef::RunId(run_id) => instance_run(state, &dag.dag_id, task_id, run_id).await?,
        RunRef::LogicalDate(at) => {
            let missing = || {
                ApiError::not_found(
                    "Not Found",
                    Some(format!(
                        "Task instance not found for task {} on execution_date {}",
                        py_str(task_id),
                        crate::model::time::isoformat(at).replacen('T', " ", 1)
                    )),
                )
            };
            let run_id = state
                .reader()
                .run_at_logical_date(&dag.dag_id, at)
                .await?
                .ok_or_else(missing)?;
            instance_run(state, &dag.dag_id, task_id, run_id)
                .await
                .map_err(|_| missing())?
        }
    };
    let selection = StateSelection {
        task_id: request.task_id.clone(),
        run,
        upstream: request.upstream,
        downstream: request.downstream,
        future: request.future,
        past: request.past,
    };
    let altered = actions::set_task_state(
        &state.launcher,
        &dag,
        &selection,
        request.new_state,
        request.dry_run,
    )
    .await?;
    Ok(TaskInstanceReferenceCollection {
        task_instances: altered.iter().map(reference).collect(),
    })
}

/// `POST /api/v1/dags/{dag_id}/updateTaskInstancesState`: Airflow's body
/// (`task_id`, exactly one of `dag_run_id` and `execution_date`, the four
/// `include_*` flags, `new_state`, `dry_run` defaulting to true); answers
/// the task instances changed (or that would be).
pub async fn update_many(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    Body(body): Body<ManyBody>,
) -> Result<Json<TaskInstanceReferenceCollection>, ApiError> {
    let mark = new_state(&body.new_state)?;
    let at = body_time("execution_date", body.execution_date.as_deref())?;
    let run = match (body.dag_run_id, at) {
        (Some(run_id), None) => RunRef::RunId(RunId::new(run_id)),
        (None, Some(at)) => RunRef::LogicalDate(at),
        _ => {
            return Err(ApiError::bad_request(field_message(
                "_schema",
                "Exactly one of execution_date or dag_run_id must be provided",
            )));
        }
    };
    let request = StateRequest {
        task_id: TaskId::new(body.task_id),
        run,
        upstream: body.include_upstream,
        downstream: body.include_downstream,
        future: body.include_future,
        past: body.include_past,
        new_state: mark,
        dry_run: body.dry_run.unwrap_or(true),
    };
    Ok(Json(set_many(&state, &dag_id, request).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::form::sample;

    #[test]
    fn each_forms_fields_match_its_shape() {
        assert!(sample::<SingleBody>().is_ok());
        assert!(sample::<ManyBody>().is_ok());
    }
}
