//! `/api/v1/dags/{dag_id}/tasks`: the tasks of a loaded DAG as Airflow's
//! `Task` schema shows them. Reads the DAG registry only.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::dto::{TaskCollection, TaskJson};
use super::error::ApiError;
use super::extract::{Params, Segments};
use super::form::py_str;
use crate::dag::Dag;

/// The tasks of `dag_id` sorted by `order_by` (a task field, `-` first for
/// descending; `task_id` by default). 404 for a DAG not loaded, 400 for a
/// field a task does not have.
pub async fn tasks_of(
    state: &AppState,
    dag_id: &str,
    order_by: &str,
) -> Result<TaskCollection, ApiError> {
    let dag = loaded(state, dag_id)?;
    let (field, descending) = match order_by.strip_prefix('-') {
        Some(field) => (field, true),
        None => (order_by, false),
    };
    let mut tasks: Vec<TaskJson> = (0..dag.tasks.len())
        .filter_map(|i| TaskJson::new(&dag, i))
        .collect();
    match field {
        "task_id" | "task_display_name" => tasks.sort_by(|a, b| a.task_id.cmp(&b.task_id)),
        "retries" => tasks.sort_by_key(|t| t.retries),
        "trigger_rule" => tasks.sort_by(|a, b| a.trigger_rule.cmp(b.trigger_rule)),
        "operator_name" => tasks.sort_by(|a, b| a.operator_name.cmp(b.operator_name)),
        // every task has the same value: file order stays
        "owner" | "pool" | "queue" | "priority_weight" | "pool_slots" | "start_date"
        | "end_date" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "'Task' object has no attribute {}",
                py_str(other)
            )));
        }
    }
    if descending {
        tasks.reverse();
    }
    let total_entries = tasks.len();
    Ok(TaskCollection {
        tasks,
        total_entries,
    })
}

/// Task `task_id` of `dag_id`; 404 `DAG not found` or `Task not found`.
pub async fn task_of(state: &AppState, dag_id: &str, task_id: &str) -> Result<TaskJson, ApiError> {
    let dag = loaded(state, dag_id)?;
    dag.task_index(task_id)
        .and_then(|i| TaskJson::new(&dag, i))
        .ok_or_else(|| ApiError::not_found("Task not found", None))
}

fn loaded(state: &AppState, dag_id: &str) -> Result<std::sync::Arc<Dag>, ApiError> {
    state
        .dags
        .get(dag_id)
        .ok_or_else(|| ApiError::not_found("DAG not found", None))
}

/// `GET /api/v1/dags/{dag_id}/tasks`
pub async fn list(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    params: Params,
) -> Result<Json<TaskCollection>, ApiError> {
    let order_by = params.get("order_by").unwrap_or("task_id");
    Ok(Json(tasks_of(&state, &dag_id, order_by).await?))
}

/// `GET /api/v1/dags/{dag_id}/tasks/{task_id}`
pub async fn get(
    State(state): State<AppState>,
    Segments((dag_id, task_id)): Segments<(String, String)>,
) -> Result<Json<TaskJson>, ApiError> {
    Ok(Json(task_of(&state, &dag_id, &task_id).await?))
}
