//! A run's task instances, one try's log, and clearing task instances so
//! they run again (`POST /api/v1/dags/{dag_id}/clearTaskInstances`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::dto::{
    Iso, TaskInstanceCollection, TaskInstanceJson, TaskInstanceReference,
    TaskInstanceReferenceCollection,
};
use super::error::ApiError;
use super::extract::{Body, PAGE_LIMIT, Params, Segments, body_range, body_time};
use super::form::{Field, Form, Kind, field_message, py_str};
use crate::dag::Dag;
use crate::engine::actions::{self, ClearSelection};
use crate::model::{DagId, RunId, TaskId, TaskState};
use crate::model::{DagRun, TaskInstance};
use crate::store::{Bounds, TaskInstanceOrder, TaskInstanceQuery};

/// The pool and queue every airless task instance reports (Airflow's
/// defaults); a filter on any other matches nothing.
const POOL: &str = "default_pool";
const QUEUE: &str = "default";

/// `GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances`; `~` for
/// either lists across DAGs or runs. As in Airflow, an unknown DAG or run
/// gives an empty collection. Filters: `state` (`none` for a task not yet
/// scheduled), `pool`, `queue`, `executor` (repeatable), and inclusive
/// ranges `execution_date_*` (the run's logical date; `logical_date_*`
/// too), `start_date_*`,
/// `end_date_*`, `updated_at_*` and `duration_*` (seconds).
pub async fn list(
    State(state): State<AppState>,
    Segments((dag_id, run_id)): Segments<(String, String)>,
    params: Params,
) -> Result<Json<TaskInstanceCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let filters = TiFilters {
        logical_date: params.logical_date_range()?,
        start_date: params.time_range("start_date")?,
        end_date: params.time_range("end_date")?,
        updated_at: params.time_range("updated_at")?,
        duration: Bounds {
            gte: params.number("duration_gte")?,
            lte: params.number("duration_lte")?,
        },
    };
    let order = ti_order(params.get("order_by"))?;
    let dag_ids = (dag_id != "~").then(|| vec![DagId::new(dag_id)]);
    let run_ids = (run_id != "~").then(|| vec![RunId::new(run_id)]);
    let asked = params.all("state");
    let lists = TiLists {
        dag_ids: dag_ids.as_deref(),
        run_ids: run_ids.as_deref(),
        task_ids: None,
        states: (!asked.is_empty()).then(|| task_states(asked.iter().map(|s| Some(*s)))),
        nothing: excluded(&params.all("pool"), POOL)
            || excluded(&params.all("queue"), QUEUE)
            // airless task instances have no executor
            || !params.all("executor").is_empty(),
    };
    ti_page(&state, lists, filters, order, (limit, offset)).await
}

fn as_strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Whether a filter on `values` leaves out every instance, all of which
/// have `ours`.
fn excluded(values: &[&str], ours: &str) -> bool {
    !values.is_empty() && !values.contains(&ours)
}

/// State names as Airflow reads them: `none` (or `null`, JSON's) for a task
/// not yet scheduled; names airless has no state for match nothing.
fn task_states<'a>(names: impl Iterator<Item = Option<&'a str>>) -> Vec<TaskState> {
    names
        .filter_map(|name| match name {
            None | Some("none" | "null") => Some(TaskState::None),
            Some(name) => name.parse().ok(),
        })
        .collect()
}

#[derive(Debug, Clone, Copy, Default)]
struct TiFilters {
    logical_date: Bounds<DateTime<Utc>>,
    start_date: Bounds<DateTime<Utc>>,
    end_date: Bounds<DateTime<Utc>>,
    updated_at: Bounds<DateTime<Utc>>,
    duration: Bounds<f64>,
}

#[derive(Debug, Clone, Default)]
struct TiLists<'a> {
    dag_ids: Option<&'a [DagId]>,
    run_ids: Option<&'a [RunId]>,
    task_ids: Option<&'a [TaskId]>,
    states: Option<Vec<TaskState>>,
    /// A filter no airless instance can pass (another pool, an executor).
    nothing: bool,
}

/// Airflow's task-instance orderings; missing values sort first.
fn ti_order(order_by: Option<&str>) -> Result<(TaskInstanceOrder, bool), ApiError> {
    let Some(order_by) = order_by else {
        return Ok((TaskInstanceOrder::Id, false));
    };
    let (field, descending) = match order_by.strip_prefix('-') {
        Some(field) => (field, true),
        None => (order_by, false),
    };
    let order = match field {
        "state" => TaskInstanceOrder::State,
        "duration" => TaskInstanceOrder::Duration,
        "start_date" => TaskInstanceOrder::StartDate,
        "end_date" => TaskInstanceOrder::EndDate,
        "map_index" | "id" => TaskInstanceOrder::Id,
        _ => {
            return Err(ApiError::bad_request(format!(
                "Ordering with {} is not supported",
                py_str(order_by)
            )));
        }
    };
    Ok((order, descending))
}

async fn ti_page(
    state: &AppState,
    lists: TiLists<'_>,
    filters: TiFilters,
    (order, descending): (TaskInstanceOrder, bool),
    (limit, offset): (i64, i64),
) -> Result<Json<TaskInstanceCollection>, ApiError> {
    if lists.nothing {
        return Ok(Json(TaskInstanceCollection {
            task_instances: Vec::new(),
            total_entries: 0,
        }));
    }
    let page = state
        .reader()
        .task_instance_page(&TaskInstanceQuery {
            dag_ids: lists.dag_ids,
            run_ids: lists.run_ids,
            task_ids: lists.task_ids,
            states: lists.states.as_deref(),
            logical_date: filters.logical_date,
            start_date: filters.start_date,
            end_date: filters.end_date,
            updated_at: filters.updated_at,
            duration: filters.duration,
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
        // runs are never deleted, so every instance's run is there
        let Some(run) = runs.get(&ti.dag_run_id) else {
            continue;
        };
        let dag = dags
            .entry(&run.dag_id)
            .or_insert_with(|| state.dags.get(run.dag_id.as_str()));
        task_instances.push(TaskInstanceJson::new(ti, run, dag.as_deref()));
    }
    Ok(Json(TaskInstanceCollection {
        task_instances,
        total_entries: usize::try_from(page.total).unwrap_or_default(),
    }))
}

/// Airflow's `ListTaskInstanceForm`, the body of the batch list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    order_by: Option<String>,
    page_offset: Option<i64>,
    page_limit: Option<i64>,
    dag_ids: Option<Vec<String>>,
    dag_run_ids: Option<Vec<String>>,
    task_ids: Option<Vec<String>>,
    execution_date_gte: Option<String>,
    execution_date_lte: Option<String>,
    start_date_gte: Option<String>,
    start_date_lte: Option<String>,
    end_date_gte: Option<String>,
    end_date_lte: Option<String>,
    duration_gte: Option<f64>,
    duration_lte: Option<f64>,
    state: Option<Vec<Option<String>>>,
    pool: Option<Vec<String>>,
    queue: Option<Vec<String>>,
    executor: Option<Vec<String>>,
}

impl Form for ListBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("order_by", Kind::String),
        Field::optional("page_offset", Kind::Integer { minimum: 0 }),
        Field::optional("page_limit", Kind::Integer { minimum: 1 }),
        Field::optional("dag_ids", Kind::Strings { nulls: false }),
        Field::optional("dag_run_ids", Kind::Strings { nulls: false }),
        Field::optional("task_ids", Kind::Strings { nulls: false }),
        Field::optional("execution_date_gte", Kind::DateTime),
        Field::optional("execution_date_lte", Kind::DateTime),
        Field::optional("start_date_gte", Kind::DateTime),
        Field::optional("start_date_lte", Kind::DateTime),
        Field::optional("end_date_gte", Kind::DateTime),
        Field::optional("end_date_lte", Kind::DateTime),
        Field::optional("duration_gte", Kind::Number),
        Field::optional("duration_lte", Kind::Number),
        Field::optional("state", Kind::Strings { nulls: true }),
        Field::optional("pool", Kind::Strings { nulls: false }),
        Field::optional("queue", Kind::Strings { nulls: false }),
        Field::optional("executor", Kind::Strings { nulls: false }),
    ];
}

/// `POST /api/v1/dags/~/dagRuns/~/taskInstances/list`: Airflow's batch
/// list, the GET's filters in a body (and `order_by`, as Airflow 2.10
/// takes it); `null` in `state` is a task not yet scheduled. An empty list is no filter, as in Airflow; `page_limit` is
/// capped at 100.
pub async fn list_batch(
    State(state): State<AppState>,
    Body(body): Body<ListBody>,
) -> Result<Json<TaskInstanceCollection>, ApiError> {
    let range = |gte: Option<String>, lte: Option<String>, name: &str| {
        body_range(name, gte.as_deref(), lte.as_deref())
    };
    let filters = TiFilters {
        logical_date: range(
            body.execution_date_gte,
            body.execution_date_lte,
            "execution_date",
        )?,
        start_date: range(body.start_date_gte, body.start_date_lte, "start_date")?,
        end_date: range(body.end_date_gte, body.end_date_lte, "end_date")?,
        updated_at: Bounds::default(),
        duration: Bounds {
            gte: body.duration_gte,
            lte: body.duration_lte,
        },
    };
    let given = |list: Option<Vec<String>>| list.filter(|l| !l.is_empty()).unwrap_or_default();
    let dag_ids: Vec<DagId> = given(body.dag_ids).into_iter().map(DagId::new).collect();
    let run_ids: Vec<RunId> = given(body.dag_run_ids)
        .into_iter()
        .map(RunId::new)
        .collect();
    let task_ids: Vec<TaskId> = given(body.task_ids).into_iter().map(TaskId::new).collect();
    let states = body.state.filter(|l| !l.is_empty());
    let (pool, queue) = (given(body.pool), given(body.queue));
    let lists = TiLists {
        dag_ids: (!dag_ids.is_empty()).then_some(dag_ids.as_slice()),
        run_ids: (!run_ids.is_empty()).then_some(run_ids.as_slice()),
        task_ids: (!task_ids.is_empty()).then_some(task_ids.as_slice()),
        states: states.map(|l| task_states(l.iter().map(Option::as_deref))),
        nothing: excluded(&as_strs(&pool), POOL)
            || excluded(&as_strs(&queue), QUEUE)
            || !given(body.executor).is_empty(),
    };
    let order = ti_order(body.order_by.as_deref())?;
    let limit = body.page_limit.unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT);
    let offset = body.page_offset.unwrap_or(0);
    ti_page(&state, lists, filters, order, (limit, offset)).await
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
            "{} is not of type 'integer' - 'task_try_number'",
            py_str(&try_number)
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
    let content = crate::kinds::log::read_try_log(attempt, 0, u64::MAX)
        .await
        .map_err(|err| {
            ApiError::internal(&format!("cannot read the log {}: {err}", attempt.log_path))
        })?
        .text;
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

/// Airflow's `ClearTaskInstances` form. `include_downstream` and
/// `include_upstream` widen `task_ids` to their relatives;
/// `include_future`/`include_past`, `reset_dag_runs` and the like are
/// accepted and ignored: airless clears exactly the matching instances and
/// always puts their finished runs back to work.
#[derive(Debug, Deserialize)]
pub struct ClearBody {
    #[serde(default = "yes")]
    dry_run: bool,
    dag_run_id: Option<String>,
    task_ids: Option<Vec<String>>,
    #[serde(default = "yes")]
    only_failed: bool,
    #[serde(default)]
    only_running: bool,
    #[serde(default)]
    include_downstream: bool,
    #[serde(default)]
    include_upstream: bool,
    start_date: Option<String>,
    end_date: Option<String>,
}

impl Form for ClearBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dry_run", Kind::Boolean),
        Field::optional("start_date", Kind::DateTime),
        Field::optional("end_date", Kind::DateTime),
        Field::optional("only_failed", Kind::Boolean),
        Field::optional("only_running", Kind::Boolean),
        Field::optional("include_subdags", Kind::Boolean),
        Field::optional("include_parentdag", Kind::Boolean),
        Field::optional("reset_dag_runs", Kind::Boolean),
        Field::optional("task_ids", Kind::Strings { nulls: false }),
        Field::optional("dag_run_id", Kind::String),
        Field::optional("include_upstream", Kind::Boolean),
        Field::optional("include_downstream", Kind::Boolean),
        Field::optional("include_future", Kind::Boolean),
        Field::optional("include_past", Kind::Boolean),
    ];
}

/// Marshmallow's whole-form (`_schema`) error.
fn schema_error(message: &str) -> ApiError {
    ApiError::bad_request(field_message("_schema", message))
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
    let (start, end) = check_clear(&body)?;
    let Some(dag) = state.dags.get(&dag_id) else {
        return Err(ApiError::not_found(
            format!("Dag id {dag_id} not found"),
            None,
        ));
    };
    let run_id = body.dag_run_id.map(RunId::new);
    if let Some(run_id) = &run_id
        && state
            .reader()
            .find_dag_run(&dag.dag_id, run_id)
            .await?
            .is_none()
    {
        return Err(ApiError::not_found(
            format!("Dag Run id {run_id} not found in dag {dag_id}"),
            None,
        ));
    }
    let selection = ClearSelection {
        run_id,
        task_ids: body.task_ids.map(|ids| ids.into_iter().collect()),
        include_downstream: body.include_downstream,
        include_upstream: body.include_upstream,
        // a running instance belongs to its run's driver: none is cleared
        states: if body.only_running {
            Vec::new()
        } else {
            actions::finished_states(body.only_failed)
        },
        start,
        end,
    };
    let cleared = actions::clear(&state.launcher, &dag, &selection, body.dry_run).await?;
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

/// The form's own rules (Airflow's `validate_form`), before anything is
/// read; returns the start and end dates.
fn check_clear(body: &ClearBody) -> Result<ClearDates, ApiError> {
    if body.only_failed && body.only_running {
        return Err(schema_error(
            "only_failed and only_running both are set to True",
        ));
    }
    if body.task_ids.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::bad_request(field_message(
            "task_ids",
            "Shorter than minimum length 1.",
        )));
    }
    let start = body_time("start_date", body.start_date.as_deref())?;
    let end = body_time("end_date", body.end_date.as_deref())?;
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(schema_error("end_date is sooner than start_date"));
    }
    if body.dag_run_id.is_some() {
        let both = match (start, end) {
            (Some(_), Some(_)) => {
                Some("Exactly one of dag_run_id or (start_date and end_date) must be provided")
            }
            (Some(_), None) => Some("Exactly one of dag_run_id or start_date must be provided"),
            (None, Some(_)) => Some("Exactly one of dag_run_id or end_date must be provided"),
            (None, None) => None,
        };
        if let Some(message) = both {
            return Err(schema_error(message));
        }
    }
    Ok((start, end))
}

type ClearDates = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::form::sample;

    #[test]
    fn each_forms_fields_match_its_shape() {
        assert!(sample::<ListBody>().is_ok());
        // the clear form takes fields it ignores, so only its loading is shown
        assert!(sample::<ClearBody>().is_ok());
    }
}
