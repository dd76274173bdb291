//! `/api/v1/dags/{dag_id}/dagRuns`: the manual trigger, listing (`~` for
//! every DAG), one run, and setting a run's state (`failed` cancels it).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;

use super::AppState;
use super::dto::{DagRunCollection, DagRunJson, iso};
use super::error::ApiError;
use super::extract::{Body, PAGE_LIMIT, Params, Segments, body_range, body_time};
use super::form::{Field, Form, Kind, escaped, py_str};
use crate::dag::DataInterval;
use crate::engine::RunRequest;
use crate::engine::actions;
use crate::model::{DagId, RunId, RunState};
use crate::model::{DagRun, RunType};
use crate::store::{Bounds, DagRunOrder, DagRunQuery};

/// `GET /api/v1/dags/{dag_id}/dagRuns`; `dag_id` `~` lists every DAG's runs.
/// Airflow's filters: `state` (repeatable), and inclusive date-time ranges
/// `execution_date_gte/lte` (also under Airflow 3's name `logical_date_*`),
/// `start_date_*`, `end_date_*` and `updated_at_*`.
pub async fn list(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    params: Params,
) -> Result<Json<DagRunCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let filters = RunFilters {
        logical_date: params.logical_date_range()?,
        start_date: params.time_range("start_date")?,
        end_date: params.time_range("end_date")?,
        updated_at: params.time_range("updated_at")?,
    };
    let order = run_order(params.order_by("id"))?;
    let dag_ids = (dag_id != "~").then(|| vec![DagId::new(dag_id)]);
    let page = RunPage {
        order,
        limit,
        offset,
    };
    run_page(
        &state,
        dag_ids.as_deref(),
        &params.all("state"),
        filters,
        page,
    )
    .await
}

/// The date-time ranges a DagRun list is filtered by.
#[derive(Debug, Clone, Copy, Default)]
struct RunFilters {
    logical_date: Bounds<DateTime<Utc>>,
    start_date: Bounds<DateTime<Utc>>,
    end_date: Bounds<DateTime<Utc>>,
    updated_at: Bounds<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy)]
struct RunPage {
    order: (DagRunOrder, bool),
    limit: i64,
    offset: i64,
}

/// Airflow's allowed `order_by` names for DagRuns.
fn run_order((field, descending): (&str, bool)) -> Result<(DagRunOrder, bool), ApiError> {
    let order = match field {
        "id" => DagRunOrder::Id,
        "state" => DagRunOrder::State,
        "dag_id" => DagRunOrder::DagId,
        "execution_date" | "logical_date" => DagRunOrder::LogicalDate,
        "dag_run_id" | "run_id" => DagRunOrder::RunId,
        "start_date" => DagRunOrder::StartDate,
        "end_date" => DagRunOrder::EndDate,
        "external_trigger" => DagRunOrder::ExternalTrigger,
        "conf" => DagRunOrder::Conf,
        other => {
            return Err(ApiError::bad_request(format!(
                "Ordering with {} is disallowed or the attribute does not exist on the model",
                py_str(other)
            )));
        }
    };
    Ok((order, descending))
}

async fn run_page(
    state: &AppState,
    dag_ids: Option<&[DagId]>,
    asked: &[&str],
    filters: RunFilters,
    page: RunPage,
) -> Result<Json<DagRunCollection>, ApiError> {
    let states: Vec<RunState> = asked.iter().filter_map(|s| s.parse().ok()).collect();
    if !asked.is_empty() && states.is_empty() {
        // Airflow filters on the names as given: unknown ones match nothing
        return Ok(Json(DagRunCollection {
            dag_runs: Vec::new(),
            total_entries: 0,
        }));
    }
    let (order, descending) = page.order;
    let (runs, total_entries) = state
        .reader()
        .dag_run_page(&DagRunQuery {
            dag_ids,
            states: &states,
            run_types: &[],
            logical_date: filters.logical_date,
            start_date: filters.start_date,
            end_date: filters.end_date,
            updated_at: filters.updated_at,
            order,
            descending,
            limit: page.limit,
            offset: page.offset,
        })
        .await?;
    Ok(Json(DagRunCollection {
        dag_runs: runs.iter().map(DagRunJson::from).collect(),
        total_entries,
    }))
}

/// Airflow's `ListDagRunsForm`, the body of the batch list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBody {
    order_by: Option<String>,
    page_offset: Option<i64>,
    page_limit: Option<i64>,
    dag_ids: Option<Vec<String>>,
    states: Option<Vec<String>>,
    execution_date_gte: Option<String>,
    execution_date_lte: Option<String>,
    start_date_gte: Option<String>,
    start_date_lte: Option<String>,
    end_date_gte: Option<String>,
    end_date_lte: Option<String>,
}

impl Form for ListBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("order_by", Kind::String),
        Field::optional("page_offset", Kind::Integer { minimum: 0 }),
        Field::optional("page_limit", Kind::Integer { minimum: 1 }),
        Field::optional("dag_ids", Kind::Strings { nulls: false }),
        Field::optional("states", Kind::Strings { nulls: false }),
        Field::optional("execution_date_gte", Kind::DateTime),
        Field::optional("execution_date_lte", Kind::DateTime),
        Field::optional("start_date_gte", Kind::DateTime),
        Field::optional("start_date_lte", Kind::DateTime),
        Field::optional("end_date_gte", Kind::DateTime),
        Field::optional("end_date_lte", Kind::DateTime),
    ];
}

/// `POST /api/v1/dags/~/dagRuns/list`: Airflow's batch list, the GET's
/// filters in a body (`dag_ids`, `states`, date-times with an offset);
/// an empty `dag_ids` or `states` is no filter. `page_limit` is capped at
/// 100 as the GET's `limit` is.
pub async fn list_batch(
    State(state): State<AppState>,
    Body(body): Body<ListBody>,
) -> Result<Json<DagRunCollection>, ApiError> {
    let range = |gte: Option<String>, lte: Option<String>, name: &str| {
        body_range(name, gte.as_deref(), lte.as_deref())
    };
    let filters = RunFilters {
        logical_date: range(
            body.execution_date_gte,
            body.execution_date_lte,
            "execution_date",
        )?,
        start_date: range(body.start_date_gte, body.start_date_lte, "start_date")?,
        end_date: range(body.end_date_gte, body.end_date_lte, "end_date")?,
        updated_at: Bounds::default(),
    };
    let order_by = body.order_by.as_deref().unwrap_or("id");
    let order = run_order(match order_by.strip_prefix('-') {
        Some(field) => (field, true),
        None => (order_by, false),
    })?;
    let dag_ids: Option<Vec<DagId>> = body
        .dag_ids
        .filter(|ids| !ids.is_empty())
        .map(|ids| ids.into_iter().map(DagId::new).collect());
    let states = body.states.unwrap_or_default();
    let asked: Vec<&str> = states.iter().map(String::as_str).collect();
    let page = RunPage {
        order,
        limit: body.page_limit.unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT),
        offset: body.page_offset.unwrap_or(0),
    };
    run_page(&state, dag_ids.as_deref(), &asked, filters, page).await
}

/// `GET /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}`
pub async fn get(
    State(state): State<AppState>,
    Segments((dag_id, run_id)): Segments<(String, String)>,
) -> Result<Json<DagRunJson>, ApiError> {
    let run = find_run(&state, &dag_id, &run_id).await?;
    Ok(Json(DagRunJson::from(&run)))
}

async fn find_run(state: &AppState, dag_id: &str, run_id: &str) -> Result<DagRun, ApiError> {
    state
        .reader()
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "DAGRun not found",
                Some(format!(
                    "DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found"
                )),
            )
        })
}

/// Deletes run `run_id` of `dag_id` with its task instances, tries and
/// logs. 404 when there is no such run; 409 while a live process drives it
/// (airless does not delete a run under its driver: fail it first).
pub async fn delete_run(state: &AppState, dag_id: &str, run_id: &str) -> Result<(), ApiError> {
    let run = state
        .reader()
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "Not Found",
                Some(format!(
                    "DAGRun with DAG ID: '{dag_id}' and DagRun ID: '{run_id}' not found"
                )),
            )
        })?;
    actions::delete_run(&state.launcher, &run).await?;
    Ok(())
}

/// `DELETE /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}`: 204 without a body.
pub async fn delete(
    State(state): State<AppState>,
    Segments((dag_id, run_id)): Segments<(String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_run(&state, &dag_id, &run_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of the manual trigger, as Airflow's `DAGRun` schema loads it;
/// read-only fields are refused as unknown, as marshmallow does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    dag_run_id: Option<String>,
    logical_date: Option<String>,
    execution_date: Option<String>,
    conf: Option<serde_json::Map<String, serde_json::Value>>,
    note: Option<String>,
    data_interval_start: Option<String>,
    data_interval_end: Option<String>,
}

impl Form for TriggerBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dag_run_id", Kind::String),
        Field::optional("logical_date", Kind::DateTime),
        Field::optional("execution_date", Kind::DateTime),
        Field::optional("conf", Kind::Object),
        Field::optional("note", Kind::String),
        Field::optional("data_interval_start", Kind::DateTime),
        Field::optional("data_interval_end", Kind::DateTime),
    ];
}

/// `POST /api/v1/dags/{dag_id}/dagRuns`: queues a manual run (200 with the
/// run). 404 for an unknown DAG, 400 for a DAG whose file is broken or a bad
/// body, 409 when the run id or the logical date is taken.
pub async fn trigger(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    Body(body): Body<TriggerBody>,
) -> Result<Json<DagRunJson>, ApiError> {
    let Some(dag) = state.dags.get(&dag_id) else {
        return Err(ApiError::not_found(
            "DAG not found",
            Some(format!("DAG with dag_id: '{dag_id}' not found")),
        ));
    };
    // a DAG whose file is broken runs its last good version, as Airflow
    // runs the serialized DAG it still has
    let now = state.launcher.engine().now();
    let logical_date = match (
        body_time("logical_date", body.logical_date.as_deref())?,
        body_time("execution_date", body.execution_date.as_deref())?,
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "logical_date conflicts with execution_date",
            ));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => now,
    }
    // Airflow stores microseconds
    .trunc_subsecs(6);
    let data_interval = match (
        body_time("data_interval_start", body.data_interval_start.as_deref())?,
        body_time("data_interval_end", body.data_interval_end.as_deref())?,
    ) {
        (Some(start), Some(end)) if start <= end => DataInterval { start, end },
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "data_interval_end must not be before data_interval_start",
            ));
        }
        (None, None) => dag.timetable.manual_data_interval(logical_date),
        _ => {
            return Err(ApiError::bad_request(
                "{'_schema': ['Both data_interval_start and data_interval_end must be provided.']}",
            ));
        }
    };
    let run_id = match body.dag_run_id {
        Some(run_id) => RunId::new(valid_run_id(run_id)?),
        // Airflow's `manual__{logical_date.isoformat()}`
        None => crate::engine::default_run_id(RunType::Manual, logical_date),
    };
    // `airless backfill` queues its runs here under Airflow's backfill ids
    let run_type = if run_id.as_str().starts_with("backfill__") {
        RunType::Backfill
    } else {
        RunType::Manual
    };
    let store = state.reader();
    if store.find_dag_run(&dag.dag_id, &run_id).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "DAGRun with DAG ID: '{dag_id}' and DAGRun ID: '{run_id}' already exists"
        )));
    }
    if store
        .run_at_logical_date(&dag.dag_id, logical_date)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(format!(
            "DAGRun with DAG ID: '{dag_id}' and DAGRun logical date: '{}' already exists",
            iso(logical_date).replacen('T', " ", 1)
        )));
    }
    let request = RunRequest {
        run_id: Some(run_id),
        run_type,
        logical_date,
        data_interval,
        conf: serde_json::Value::Object(body.conf.unwrap_or_default()),
    };
    let run = state.launcher.trigger(&dag, &request).await?;
    if body.note.is_some() {
        tracing::debug!(dag_id = %dag.dag_id, run_id = %run.run_id, "the run's note is not kept");
    }
    Ok(Json(DagRunJson::from(&run)))
}

/// Airflow's `[scheduler] allowed_run_id_pattern` (`^[A-Za-z0-9_.~:+-]+$`),
/// within its 250-character column.
fn valid_run_id(run_id: String) -> Result<String, ApiError> {
    if !RunId::is_allowed(&run_id) {
        return Err(ApiError::bad_request(format!(
            "The run_id provided {} does not match the pattern '^[A-Za-z0-9_.~:+-]+$'",
            py_str(&run_id)
        )));
    }
    Ok(run_id)
}

/// Airflow's `UpdateDagRunState`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    state: String,
}

impl Form for StateBody {
    const FIELDS: &'static [Field] = &[Field::required("state", Kind::String)];
}

/// `PATCH /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}` with `{"state": …}`.
/// `failed` cancels a run being driven (its running tries are killed) and
/// waits up to 5 s for it to end; a queued run fails at once, its tasks
/// skipped. `queued` re-queues a finished run with its finished task
/// instances cleared first (as Airflow's clear does), so it runs again. `success` is accepted only
/// for a run that already succeeded: airless does not force-succeed tasks.
pub async fn set_state(
    State(state): State<AppState>,
    Segments((dag_id, run_id)): Segments<(String, String)>,
    Body(body): Body<StateBody>,
) -> Result<Json<DagRunJson>, ApiError> {
    let run = state
        .reader()
        .find_dag_run(&DagId::new(&dag_id), &RunId::new(&run_id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                format!("Dag Run id {run_id} not found in dag {dag_id}"),
                None,
            )
        })?;
    let target = match body.state.as_str() {
        "failed" => RunState::Failed,
        "success" => RunState::Success,
        "queued" => RunState::Queued,
        other => {
            return Err(ApiError::bad_request(format!(
                "{{'state': ['Must be one of: success, failed, queued.']}}: got `{}`",
                escaped(other)
            )));
        }
    };
    let run = if run.state == target {
        run
    } else {
        match target {
            RunState::Failed => actions::cancel_run(&state.launcher, run).await?,
            RunState::Queued if run.state.is_finished() => match state.dags.get(&dag_id) {
                Some(dag) => actions::rerun(&state.launcher, &dag, &run).await?,
                // a DAG no longer loaded cannot run its tasks again
                None => {
                    return Err(ApiError::bad_request(format!(
                        "DAG {dag_id} is not loaded: its run cannot be queued again"
                    )));
                }
            },
            _ => {
                return Err(ApiError::bad_request(format!(
                    "a {} run cannot be set to {target} by airless",
                    run.state
                )));
            }
        }
    };
    Ok(Json(DagRunJson::from(&run)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::form::sample;

    #[test]
    fn each_forms_fields_match_its_shape() {
        assert!(sample::<TriggerBody>().is_ok());
        assert!(sample::<StateBody>().is_ok());
        assert!(sample::<ListBody>().is_ok());
    }
}
