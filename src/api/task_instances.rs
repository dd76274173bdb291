//! A run's task instances, one try's log, and clearing task instances so
//! they run again (`POST /api/v1/dags/{dag_id}/clearTaskInstances`).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::dto::{
    Iso, TaskInstanceCollection, TaskInstanceJson, TaskInstanceReference,
    TaskInstanceReferenceCollection,
};
use super::error::ApiError;
use super::extract::{Body, Params, Segments, parse_time};
use crate::model::{DagId, RunId, RunState, TaskState};
use crate::model::{DagRun, TaskInstance};

/// `GET …/dagRuns/{dag_run_id}/taskInstances`, in the DAG's task order.
/// As in Airflow, an unknown DAG or run gives an empty collection.
pub async fn list(
    State(state): State<AppState>,
    Segments((dag_id, run_id)): Segments<(String, String)>,
    params: Params,
) -> Result<Json<TaskInstanceCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let asked = params.all("state");
    let states: Vec<TaskState> = asked
        .iter()
        .filter_map(|s| {
            if *s == "null" {
                Some(TaskState::None)
            } else {
                s.parse().ok()
            }
        })
        .collect();
    let Some(run) = state
        .reader()
        .find_dag_run(&DagId::new(&dag_id), &RunId::new(&run_id))
        .await?
    else {
        return Ok(Json(TaskInstanceCollection {
            task_instances: Vec::new(),
            total_entries: 0,
        }));
    };
    let dag = state.dags.get(&dag_id);
    let mut tis: Vec<TaskInstanceJson> = state
        .reader()
        .task_instances(run.id)
        .await?
        .iter()
        .filter(|ti| asked.is_empty() || states.contains(&ti.state))
        .map(|ti| TaskInstanceJson::new(ti, &run, dag.as_deref()))
        .collect();
    sort(&mut tis, params.get("order_by"))?;
    let total_entries = tis.len();
    Ok(Json(TaskInstanceCollection {
        task_instances: tis
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect(),
        total_entries,
    }))
}

/// Airflow's task-instance orderings; missing values sort first.
fn sort(tis: &mut [TaskInstanceJson], order_by: Option<&str>) -> Result<(), ApiError> {
    let Some(order_by) = order_by else {
        return Ok(());
    };
    let (field, descending) = match order_by.strip_prefix('-') {
        Some(field) => (field, true),
        None => (order_by, false),
    };
    match field {
        "state" => tis.sort_by(|a, b| a.state.cmp(&b.state)),
        "duration" => tis.sort_by(|a, b| {
            a.duration
                .partial_cmp(&b.duration)
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        "start_date" => tis.sort_by_key(|t| t.start_date.map(|d| d.0)),
        "end_date" => tis.sort_by_key(|t| t.end_date.map(|d| d.0)),
        "map_index" => {}
        _ => {
            return Err(ApiError::bad_request(format!(
                "Ordering with '{order_by}' is not supported"
            )));
        }
    }
    if descending {
        tis.reverse();
    }
    Ok(())
}

/// `GET …/dagRuns/{dag_run_id}/taskInstances/{task_id}`
pub async fn get(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id)): Segments<(String, String, String)>,
) -> Result<Json<TaskInstanceJson>, ApiError> {
    let (run, ti) = find(
        &state,
        &dag_id,
        &run_id,
        &task_id,
        "Task instance not found",
    )
    .await?;
    let dag = state.dags.get(&dag_id);
    Ok(Json(TaskInstanceJson::new(&ti, &run, dag.as_deref())))
}

async fn find(
    state: &AppState,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
    title: &'static str,
) -> Result<(DagRun, TaskInstance), ApiError> {
    let store = state.reader();
    if let Some(run) = store
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
    {
        let ti = store
            .task_instances(run.id)
            .await?
            .into_iter()
            .find(|ti| ti.task_id.as_str() == task_id);
        if let Some(ti) = ti {
            return Ok((run, ti));
        }
    }
    Err(ApiError::not_found(title, None))
}

/// `GET …/taskInstances/{task_id}/logs/{task_try_number}`: the try's log as
/// text, or `{"continuation_token": null, "content": …}` when the client
/// asks for JSON only. A noop try has no log file: its content is empty.
pub async fn log(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id, try_number)): Segments<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let try_number: u32 = try_number.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "'{try_number}' is not of type 'integer' - 'task_try_number'"
        ))
    })?;
    let (_, ti) = find(&state, &dag_id, &run_id, &task_id, "TaskInstance not found").await?;
    let tries = state.reader().task_tries(ti.id).await?;
    let Some(attempt) = tries.iter().find(|t| t.try_number == try_number) else {
        return Err(ApiError::not_found(
            "TaskInstance not found",
            Some(format!(
                "task {task_id} has no try {try_number} in run {run_id}"
            )),
        ));
    };
    let content = if attempt.log_path.is_empty() {
        String::new()
    } else {
        match tokio::fs::read(&attempt.log_path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // the try has started but written nothing yet
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => {
                return Err(ApiError::internal(&format!(
                    "cannot read the log {}: {err}",
                    attempt.log_path
                )));
            }
        }
    };
    if wants_json(&headers) {
        return Ok(Json(json!({"continuation_token": null, "content": content})).into_response());
    }
    let mut response = content.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// JSON when the client accepts JSON but not plain text; text otherwise
/// (Airflow's `best_match(["text/plain", "application/json"])`).
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    types.contains(&"application/json")
        && !types
            .iter()
            .any(|t| matches!(*t, "text/plain" | "text/*" | "*/*"))
}

fn yes() -> bool {
    true
}

/// Airflow's `ClearTaskInstances` form. Its other fields (`include_*`,
/// `only_running`, `reset_dag_runs`) are ignored: airless clears exactly the
/// matching instances and always puts their finished runs back to work.
#[derive(Debug, Deserialize)]
pub struct ClearBody {
    #[serde(default = "yes")]
    dry_run: bool,
    dag_run_id: Option<String>,
    task_ids: Option<Vec<String>>,
    #[serde(default = "yes")]
    only_failed: bool,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// `POST /api/v1/dags/{dag_id}/clearTaskInstances`: lists (`dry_run`, the
/// default) or resets to `none` the finished task instances that match —
/// failed and upstream_failed ones with `only_failed` (the default), every
/// finished one without. Their try history stays; each may make as many
/// tries again as its task allows. A finished run of a cleared instance is
/// queued again and the scheduler woken. Runs being driven are left alone.
pub async fn clear(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    Body(body): Body<ClearBody>,
) -> Result<Json<TaskInstanceReferenceCollection>, ApiError> {
    let Some(dag) = state.dags.get(&dag_id) else {
        return Err(ApiError::not_found(
            format!("Dag id {dag_id} not found"),
            None,
        ));
    };
    let store = state.reader();
    let run_id = body.dag_run_id.map(RunId::new);
    if let Some(run_id) = &run_id
        && store.find_dag_run(&dag.dag_id, run_id).await?.is_none()
    {
        return Err(ApiError::not_found(
            format!("Dag Run id {run_id} not found in dag {dag_id}"),
            None,
        ));
    }
    let bound = |text: Option<String>, field: &str| -> Result<_, ApiError> {
        text.map(|t| {
            parse_time(&t).ok_or_else(|| {
                ApiError::bad_request(format!("{{'{field}': ['Not a valid datetime.']}}"))
            })
        })
        .transpose()
    };
    let start = bound(body.start_date, "start_date")?;
    let end = bound(body.end_date, "end_date")?;
    let states: &[TaskState] = if body.only_failed {
        &[TaskState::Failed, TaskState::UpstreamFailed]
    } else {
        &[
            TaskState::Success,
            TaskState::Failed,
            TaskState::UpstreamFailed,
            TaskState::Skipped,
        ]
    };
    let task_ids: Option<BTreeSet<String>> = body.task_ids.map(|ids| ids.into_iter().collect());
    let candidates: Vec<_> = store
        .clear_candidates(&dag.dag_id, run_id.as_ref(), start, end, states)
        .await?
        .into_iter()
        .filter(|c| {
            task_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(c.task_id.as_str()))
                // the driver of a running run holds its tasks' states
                && c.run_state != RunState::Running
                && !state.launcher.is_active(c.dag_run_id)
        })
        .collect();

    let cleared = if body.dry_run {
        candidates
    } else {
        let cleared = state.control().clear(&dag, candidates).await?;
        if !cleared.is_empty() {
            tracing::info!(dag_id = %dag.dag_id, task_instances = cleared.len(), "task instances cleared over the API");
            state.launcher.wake().notify_one();
        }
        cleared
    };
    let cleared = cleared
        .into_iter()
        .map(|candidate| TaskInstanceReference {
            dag_id: dag.dag_id.to_string(),
            dag_run_id: candidate.run_id.to_string(),
            execution_date: Iso(candidate.logical_date),
            task_id: candidate.task_id.to_string(),
        })
        .collect();
    Ok(Json(TaskInstanceReferenceCollection {
        task_instances: cleared,
    }))
}
