//! A run's task instances (`~` for either the DAG or the run), one
//! instance, its tries (Airflow 3's task-instance history) and a try's log
//! as Airflow 3 answers it: `{"content": [{"event": line}, …],
//! "continuation_token"}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::dag_runs::find_run;
use super::dto::{
    TaskInstanceCollection, TaskInstanceHistoryCollection, TaskInstanceHistoryResponse,
    TaskInstanceResponse,
};
use super::error::{Invalid, V2Error};
use super::extract::Params;
use crate::api::AppState;
use crate::dag::Dag;
use crate::model::{DagId, DagRun, RunId, TaskInstance, TaskState, TaskTry};
use crate::store::{Bounds, TaskInstanceOrder, TaskInstanceQuery};

fn ti_not_found(dag_id: &str, run_id: &str, task_id: &str) -> V2Error {
    V2Error::not_found(format!(
        "The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` and map_index: `-1` was not found"
    ))
}

/// `GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances`; `~`
/// for either lists across DAGs or runs. Filters `state` (`no_status` or
/// `none` for a task not yet scheduled), `task_id`, ranges `start_date_*`,
/// `end_date_*`, `logical_date_*`, `duration_*`; `order_by` one of
/// `id`, `map_index`, `state`, `duration`, `start_date`, `end_date`.
pub async fn list(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
    params: Params,
) -> Result<Json<TaskInstanceCollection>, V2Error> {
    let (limit, offset) = params.page()?;
    if run_id != "~" {
        if dag_id == "~" {
            return Err(V2Error::bad_request(
                "Invalid dag_id: `~` with a dag_run_id given",
            ));
        }
        find_run(&state, &dag_id, &run_id).await?;
    }
    let (field, descending) = params.order_by("map_index");
    let order = match field.as_str() {
        "id" | "map_index" | "task_id" => TaskInstanceOrder::Id,
        "state" => TaskInstanceOrder::State,
        "duration" => TaskInstanceOrder::Duration,
        "start_date" => TaskInstanceOrder::StartDate,
        "end_date" => TaskInstanceOrder::EndDate,
        other => {
            return Err(V2Error::bad_request(format!(
                "Ordering with '{other}' is disallowed or the attribute does not exist on the model"
            )));
        }
    };
    let asked = params.all("state");
    let states: Option<Vec<TaskState>> = (!asked.is_empty()).then(|| {
        asked
            .iter()
            .filter_map(|name| match *name {
                "no_status" | "none" | "null" => Some(TaskState::None),
                other => other.parse().ok(),
            })
            .collect()
    });
    let task_ids: Vec<crate::model::TaskId> = params
        .all("task_id")
        .iter()
        .map(|t| crate::model::TaskId::new(*t))
        .collect();
    let dag_ids = (dag_id != "~").then(|| vec![DagId::new(&dag_id)]);
    let run_ids = (run_id != "~").then(|| vec![RunId::new(&run_id)]);
    let duration = |key: &str| -> Result<Option<f64>, V2Error> {
        match params.get(key) {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                V2Error::invalid(vec![Invalid::new(
                    "float_parsing",
                    &["query", key],
                    "Input should be a valid number, unable to parse string as a number",
                    json!(text),
                )])
            }),
        }
    };
    let page = state
        .reader()
        .task_instance_page(&TaskInstanceQuery {
            dag_ids: dag_ids.as_deref(),
            run_ids: run_ids.as_deref(),
            task_ids: (!task_ids.is_empty()).then_some(task_ids.as_slice()),
            states: states.as_deref(),
            logical_date: params.range("logical_date")?,
            start_date: params.range("start_date")?,
            end_date: params.range("end_date")?,
            updated_at: params.range("updated_at")?,
            duration: Bounds {
                gte: duration("duration_gte")?,
                lte: duration("duration_lte")?,
            },
            order,
            descending,
            limit,
            offset,
        })
        .await?;
    let runs: HashMap<i64, &DagRun> = page.dag_runs.iter().map(|r| (r.id, r)).collect();
    let mut dags: HashMap<&DagId, Option<Arc<Dag>>> = HashMap::new();
    let mut task_instances = Vec::with_capacity(page.task_instances.len());
    for ti in &page.task_instances {
        let Some(run) = runs.get(&ti.dag_run_id) else {
            continue;
        };
        let dag = dags
            .entry(&run.dag_id)
            .or_insert_with(|| state.dags.get(run.dag_id.as_str()));
        task_instances.push(TaskInstanceResponse::new(ti, run, dag.as_deref()));
    }
    Ok(Json(TaskInstanceCollection {
        task_instances,
        total_entries: usize::try_from(page.total).unwrap_or_default(),
    }))
}

async fn find(
    state: &AppState,
    dag_id: &str,
    run_id: &str,
    task_id: &str,
) -> Result<(DagRun, TaskInstance), V2Error> {
    let run = find_run(state, dag_id, run_id).await?;
    let ti = state
        .reader()
        .task_instances(run.id)
        .await?
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task_id)
        .ok_or_else(|| ti_not_found(dag_id, run_id, task_id))?;
    Ok((run, ti))
}

/// `GET …/taskInstances/{task_id}`
pub async fn get(
    State(state): State<AppState>,
    Path((dag_id, run_id, task_id)): Path<(String, String, String)>,
) -> Result<Json<TaskInstanceResponse>, V2Error> {
    let (run, ti) = find(&state, &dag_id, &run_id, &task_id).await?;
    let dag = state.dags.get(&dag_id);
    Ok(Json(TaskInstanceResponse::new(&ti, &run, dag.as_deref())))
}

/// `GET …/taskInstances/{task_id}/tries`: every try, oldest first.
pub async fn tries(
    State(state): State<AppState>,
    Path((dag_id, run_id, task_id)): Path<(String, String, String)>,
) -> Result<Json<TaskInstanceHistoryCollection>, V2Error> {
    let (run, ti) = find(&state, &dag_id, &run_id, &task_id).await?;
    let dag = state.dags.get(&dag_id);
    let task_instances: Vec<TaskInstanceHistoryResponse> = state
        .reader()
        .task_tries(ti.id)
        .await?
        .iter()
        .map(|attempt| TaskInstanceHistoryResponse::new(&ti, attempt, &run, dag.as_deref()))
        .collect();
    let total_entries = task_instances.len();
    Ok(Json(TaskInstanceHistoryCollection {
        task_instances,
        total_entries,
    }))
}

fn try_number(text: &str) -> Result<u32, V2Error> {
    text.parse().map_err(|_| {
        V2Error::invalid(vec![Invalid::new(
            "int_parsing",
            &["path", "try_number"],
            "Input should be a valid integer, unable to parse string as an integer",
            json!(text),
        )])
    })
}

async fn find_try(
    state: &AppState,
    (dag_id, run_id, task_id, number): (String, String, String, String),
) -> Result<(DagRun, TaskInstance, TaskTry), V2Error> {
    let number = try_number(&number)?;
    let (run, ti) = find(state, &dag_id, &run_id, &task_id).await?;
    let attempt = state
        .reader()
        .task_tries(ti.id)
        .await?
        .into_iter()
        .find(|t| t.try_number == number)
        .ok_or_else(|| {
            V2Error::not_found(format!(
                "The Task Instance History with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}`, map_index: `-1` and try_number: `{number}` was not found"
            ))
        })?;
    Ok((run, ti, attempt))
}

/// `GET …/taskInstances/{task_id}/tries/{try_number}`
pub async fn one_try(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String, String)>,
) -> Result<Json<TaskInstanceHistoryResponse>, V2Error> {
    let dag = state.dags.get(&path.0);
    let (run, ti, attempt) = find_try(&state, path).await?;
    Ok(Json(TaskInstanceHistoryResponse::new(
        &ti,
        &attempt,
        &run,
        dag.as_deref(),
    )))
}

/// The most a page of log carries.
const LOG_PAGE: u64 = 4 * 1024 * 1024;

/// `GET …/taskInstances/{task_id}/logs/{try_number}`: the try's log as
/// Airflow 3's `TaskInstancesLogResponse`, one `{"event": line}` per line;
/// NDJSON of the same messages when only `application/x-ndjson` is
/// accepted. While the try runs (or the log is longer than a page) a
/// `continuation_token` is given; passing it back as `token` reads on from
/// where this answer stopped. `full_content` reads from the start.
pub async fn log(
    State(state): State<AppState>,
    Path(path): Path<(String, String, String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, V2Error> {
    let (_, _, attempt) = find_try(&state, path).await?;
    let full = params.get("full_content") == Some("true");
    let from = match params.get("token").filter(|_| !full) {
        Some(token) => {
            decode_token(token).ok_or_else(|| V2Error::bad_request("Invalid continuation token"))?
        }
        None => 0,
    };
    let chunk = crate::kinds::log::read_log(&attempt.log_path, from, u64::MAX)
        .await
        .map_err(|err| V2Error::internal(&format!("cannot read {}: {err}", attempt.log_path)))?;
    let mut text = if from == 0 && chunk.text.is_empty() {
        crate::kinds::log::read_try_log(&attempt, 0, u64::MAX)
            .await
            .map(|c| c.text)
            .unwrap_or_default()
    } else {
        chunk.text
    };
    // whole lines only, so a follower never sees half of one
    let mut end = from + text.len() as u64;
    let finished = attempt.end_date.is_some();
    if !finished {
        match text.rfind('\n') {
            Some(cut) => text.truncate(cut + 1),
            None => text.clear(),
        }
        end = from + text.len() as u64;
    }
    if text.len() as u64 > LOG_PAGE {
        let mut cut = LOG_PAGE as usize;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        end = from + cut as u64;
    }
    let more = !finished || end < chunk.size;
    let messages: Vec<Value> = text.lines().map(|line| json!({ "event": line })).collect();
    let continuation_token = more.then(|| encode_token(end));
    if ndjson_only(&headers) {
        let body: String = messages.iter().map(|m| format!("{m}\n")).collect();
        let mut response = body.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        return Ok(response);
    }
    Ok(Json(json!({
        "content": messages,
        "continuation_token": continuation_token,
    }))
    .into_response())
}

fn encode_token(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "end_of_log": false, "log_pos": offset }).to_string())
}

fn decode_token(token: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.get("log_pos")?.as_u64()
}

/// Airflow 3 answers JSON unless the client asks for NDJSON only.
fn ndjson_only(headers: &HeaderMap) -> bool {
    let accept: Vec<String> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or("").trim().to_string())
        .collect();
    accept.iter().any(|t| t == "application/x-ndjson")
        && !accept.iter().any(|t| t == "application/json" || t == "*/*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_continuation_token_carries_the_offset() {
        assert_eq!(decode_token(&encode_token(1234)), Some(1234));
        assert_eq!(decode_token("garbage"), None);
    }
}
