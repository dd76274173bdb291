//! `/api/v1/dags/{dag_id}/dagRuns`: the manual trigger, listing (`~` for
//! every DAG), one run, and setting a run's state (`failed` cancels it).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;

use super::AppState;
use super::dto::{DagRunCollection, DagRunJson, iso};
use super::error::ApiError;
use super::extract::{Body, Params, Segments, parse_time};
use crate::dag::DataInterval;
use crate::engine::RunRequest;
use crate::model::{DagId, RunId, RunState};
use crate::model::{DagRun, RunType};
use crate::store::{DagRunOrder, DagRunQuery};

/// How long `PATCH … {"state": "failed"}` waits for a cancelled run to end.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// `GET /api/v1/dags/{dag_id}/dagRuns`; `dag_id` `~` lists every DAG's runs.
pub async fn list(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    params: Params,
) -> Result<Json<DagRunCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let (field, descending) = params.order_by("id");
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
                "Ordering with '{other}' is disallowed or the attribute does not exist on the model"
            )));
        }
    };
    let asked = params.all("state");
    let states: Vec<RunState> = asked.iter().filter_map(|s| s.parse().ok()).collect();
    if !asked.is_empty() && states.is_empty() {
        // Airflow filters on the names as given: unknown ones match nothing
        return Ok(Json(DagRunCollection {
            dag_runs: Vec::new(),
            total_entries: 0,
        }));
    }
    let dag_id = (dag_id != "~").then(|| DagId::new(dag_id));
    let (runs, total_entries) = state
        .reader()
        .dag_run_page(&DagRunQuery {
            dag_id: dag_id.as_ref(),
            states: &states,
            order,
            descending,
            limit,
            offset,
        })
        .await?;
    Ok(Json(DagRunCollection {
        dag_runs: runs.iter().map(DagRunJson::from).collect(),
        total_entries,
    }))
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
        instant(body.logical_date.as_deref(), "logical_date")?,
        instant(body.execution_date.as_deref(), "execution_date")?,
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
        instant(body.data_interval_start.as_deref(), "data_interval_start")?,
        instant(body.data_interval_end.as_deref(), "data_interval_end")?,
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

fn instant(text: Option<&str>, field: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match text {
        None => Ok(None),
        Some(text) => parse_time(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{{'{field}': ['Not a valid datetime.']}}: `{text}` is not an ISO 8601 date-time"
            ))
        }),
    }
}

/// Airflow's `[scheduler] allowed_run_id_pattern` (`^[A-Za-z0-9_.~:+-]+$`),
/// within its 250-character column.
fn valid_run_id(run_id: String) -> Result<String, ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.~:+-".contains(c);
    if run_id.is_empty() || run_id.len() > 250 || !run_id.chars().all(allowed) {
        return Err(ApiError::bad_request(format!(
            "The run_id provided '{run_id}' does not match the pattern '^[A-Za-z0-9_.~:+-]+$'"
        )));
    }
    Ok(run_id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    state: String,
}

/// `PATCH /api/v1/dags/{dag_id}/dagRuns/{dag_run_id}` with `{"state": …}`.
/// `failed` cancels a run being driven (its running tries are killed) and
/// waits up to 5 s for it to end; a queued run fails at once, its tasks
/// skipped. `queued` re-queues a finished run. `success` is accepted only
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
                "{{'state': ['Must be one of: success, failed, queued.']}}: got `{other}`"
            )));
        }
    };
    let run = if run.state == target {
        run
    } else {
        match target {
            RunState::Failed => fail_run(&state, run).await?,
            RunState::Queued if run.state.is_finished() => {
                state.control().requeue_run(&run).await?;
                state.launcher.wake().notify_one();
                state.reader().dag_run(run.id).await?
            }
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

async fn fail_run(state: &AppState, run: DagRun) -> Result<DagRun, ApiError> {
    let store = state.reader();
    if state.launcher.cancel(run.id) {
        tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, "dag run cancelled over the API");
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let current = store.dag_run(run.id).await?;
            if current.state.is_finished() || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // not driven here: the door fails it, skips what has not run, and kills
    // the tries of an owner that is gone; a live owner elsewhere (`dags
    // test`) sees the failed run at its next heartbeat and stops its tries
    Ok(state.control().fail_undriven_run(&run).await?)
}
