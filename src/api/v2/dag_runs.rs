//! `/api/v2/dags/{dag_id}/dagRuns`: the trigger (`logical_date` required
//! but nullable, as Airflow 3), list (`~` for every DAG, and the batch
//! `POST /dags/~/dagRuns/list`), get, patch (state), clear, and the
//! streaming `wait`. State changes go through `engine::actions`.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::dto::{DagRunCollection, DagRunResponse, TaskInstanceCollection, TaskInstanceResponse};
use super::error::{Invalid, V2Error};
use super::extract::{Body, Field, Kind, Model, PAGE_LIMIT, Params, instant};
use crate::api::AppState;
use crate::dag::DataInterval;
use crate::engine::RunRequest;
use crate::engine::actions::{self, ClearSelection};
use crate::model::{DagId, DagRun, RunId, RunState, RunType};
use crate::store::{Bounds, DagRunOrder, DagRunQuery};

const RUN_STATES: &[&str] = &["queued", "running", "success", "failed"];

pub(super) fn run_not_found(dag_id: &str, run_id: &str) -> V2Error {
    V2Error::not_found(format!(
        "The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found"
    ))
}

pub(super) async fn find_run(
    state: &AppState,
    dag_id: &str,
    run_id: &str,
) -> Result<DagRun, V2Error> {
    state
        .reader()
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
        .ok_or_else(|| run_not_found(dag_id, run_id))
}

/// Airflow 3's `order_by` names for runs.
fn run_order(field: &str) -> Result<DagRunOrder, V2Error> {
    Ok(match field {
        "id" => DagRunOrder::Id,
        "state" => DagRunOrder::State,
        "dag_id" => DagRunOrder::DagId,
        "logical_date" | "run_after" => DagRunOrder::LogicalDate,
        "run_id" | "dag_run_id" => DagRunOrder::RunId,
        "start_date" => DagRunOrder::StartDate,
        "end_date" => DagRunOrder::EndDate,
        "conf" => DagRunOrder::Conf,
        other => {
            return Err(V2Error::bad_request(format!(
                "Ordering with '{other}' is disallowed or the attribute does not exist on the model"
            )));
        }
    })
}

/// Run states as asked: each must be one of Airflow's (422 otherwise).
fn run_states(asked: &[&str], loc: &str) -> Result<Vec<RunState>, V2Error> {
    let mut states = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in asked.iter().enumerate() {
        match name.parse::<RunState>() {
            Ok(state) if RUN_STATES.contains(name) => states.push(state),
            _ => errors.push(Invalid {
                kind: "enum",
                loc: vec![json!(loc), json!("state"), json!(i)],
                msg: "Input should be 'queued', 'running', 'success' or 'failed'".to_string(),
                input: json!(name),
                ctx: Some(Box::new(
                    json!({"expected": "'queued', 'running', 'success' or 'failed'"}),
                )),
            }),
        }
    }
    if errors.is_empty() {
        Ok(states)
    } else {
        Err(V2Error::invalid(errors))
    }
}

struct RunList<'a> {
    dag_ids: Option<&'a [DagId]>,
    states: Vec<RunState>,
    run_types: Vec<RunType>,
    logical_date: Bounds<DateTime<Utc>>,
    start_date: Bounds<DateTime<Utc>>,
    end_date: Bounds<DateTime<Utc>>,
    updated_at: Bounds<DateTime<Utc>>,
    order: (DagRunOrder, bool),
    page: (i64, i64),
}

async fn run_page(state: &AppState, list: RunList<'_>) -> Result<Json<DagRunCollection>, V2Error> {
    let (runs, total_entries) = state
        .reader()
        .dag_run_page(&DagRunQuery {
            dag_ids: list.dag_ids,
            states: &list.states,
            run_types: &list.run_types,
            logical_date: list.logical_date,
            start_date: list.start_date,
            end_date: list.end_date,
            updated_at: list.updated_at,
            order: list.order.0,
            descending: list.order.1,
            limit: list.page.0,
            offset: list.page.1,
        })
        .await?;
    Ok(Json(DagRunCollection {
        dag_runs: runs.iter().map(DagRunResponse::from).collect(),
        total_entries,
    }))
}

/// `GET /api/v2/dags/{dag_id}/dagRuns`; `~` lists every DAG's runs. An
/// unknown DAG is a 404. Filters: `state`, `run_type` (repeatable), and
/// ranges `logical_date_*`, `run_after_*`, `start_date_*`, `end_date_*`,
/// `updated_at_*` (`_gte`, `_gt`, `_lte`, `_lt`).
pub async fn list(
    State(state): State<AppState>,
    Path(dag_id): Path<String>,
    params: Params,
) -> Result<Json<DagRunCollection>, V2Error> {
    let page = params.page()?;
    let (field, descending) = params.order_by("id");
    let order = (run_order(&field)?, descending);
    let states = run_states(&params.all("state"), "query")?;
    let run_types = params
        .all("run_type")
        .iter()
        .filter_map(|t| match *t {
            "manual" => Some(RunType::Manual),
            "scheduled" => Some(RunType::Scheduled),
            "backfill" => Some(RunType::Backfill),
            _ => None,
        })
        .collect::<Vec<_>>();
    if !params.all("run_type").is_empty() && run_types.is_empty() {
        return Ok(Json(DagRunCollection {
            dag_runs: Vec::new(),
            total_entries: 0,
        }));
    }
    let dag_ids = (dag_id != "~").then(|| vec![DagId::new(&dag_id)]);
    if dag_id != "~"
        && state.dags.get(&dag_id).is_none()
        && state.reader().dag(&DagId::new(&dag_id)).await?.is_none()
    {
        return Err(V2Error::not_found(format!(
            "The Dag with ID: `{dag_id}` was not found"
        )));
    }
    let logical_date = match params.range("logical_date")? {
        Bounds {
            gte: None,
            lte: None,
        } => params.range("run_after")?,
        given => given,
    };
    run_page(
        &state,
        RunList {
            dag_ids: dag_ids.as_deref(),
            states,
            run_types,
            logical_date,
            start_date: params.range("start_date")?,
            end_date: params.range("end_date")?,
            updated_at: params.range("updated_at")?,
            order,
            page,
        },
    )
    .await
}

/// Airflow 3's `DAGRunsBatchBody`.
#[derive(Debug, Deserialize)]
pub struct ListBody {
    order_by: Option<String>,
    page_offset: Option<i64>,
    page_limit: Option<i64>,
    dag_ids: Option<Vec<String>>,
    states: Option<Vec<String>>,
    logical_date_gte: Option<String>,
    logical_date_lte: Option<String>,
    run_after_gte: Option<String>,
    run_after_lte: Option<String>,
    start_date_gte: Option<String>,
    start_date_lte: Option<String>,
    end_date_gte: Option<String>,
    end_date_lte: Option<String>,
}

impl Model for ListBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("order_by", Kind::String),
        Field::optional("page_offset", Kind::Integer { minimum: 0 }),
        Field::optional("page_limit", Kind::Integer { minimum: 0 }),
        Field::optional("dag_ids", Kind::Strings),
        Field::optional("states", Kind::Strings),
        Field::optional("logical_date_gte", Kind::DateTime),
        Field::optional("logical_date_lte", Kind::DateTime),
        Field::optional("run_after_gte", Kind::DateTime),
        Field::optional("run_after_lte", Kind::DateTime),
        Field::optional("start_date_gte", Kind::DateTime),
        Field::optional("start_date_lte", Kind::DateTime),
        Field::optional("end_date_gte", Kind::DateTime),
        Field::optional("end_date_lte", Kind::DateTime),
    ];
}

/// `POST /api/v2/dags/~/dagRuns/list`: the list's filters in a body.
pub async fn list_batch(
    State(state): State<AppState>,
    Body(body): Body<ListBody>,
) -> Result<Json<DagRunCollection>, V2Error> {
    let bounds = |gte: &Option<String>, lte: &Option<String>| Bounds {
        gte: instant(gte.as_deref()),
        lte: instant(lte.as_deref()),
    };
    let order_by = body.order_by.as_deref().unwrap_or("id");
    let order = match order_by.strip_prefix('-') {
        Some(field) => (run_order(field)?, true),
        None => (run_order(order_by)?, false),
    };
    let asked: Vec<&str> = body.states.iter().flatten().map(String::as_str).collect();
    let states = run_states(&asked, "body")?;
    let dag_ids: Option<Vec<DagId>> = body
        .dag_ids
        .filter(|ids| !ids.is_empty())
        .map(|ids| ids.into_iter().map(DagId::new).collect());
    let logical_date = match bounds(&body.logical_date_gte, &body.logical_date_lte) {
        Bounds {
            gte: None,
            lte: None,
        } => bounds(&body.run_after_gte, &body.run_after_lte),
        given => given,
    };
    run_page(
        &state,
        RunList {
            dag_ids: dag_ids.as_deref(),
            states,
            run_types: Vec::new(),
            logical_date,
            start_date: bounds(&body.start_date_gte, &body.start_date_lte),
            end_date: bounds(&body.end_date_gte, &body.end_date_lte),
            updated_at: Bounds::default(),
            order,
            page: (
                body.page_limit.unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT),
                body.page_offset.unwrap_or(0),
            ),
        },
    )
    .await
}

/// `GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}`
pub async fn get(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Result<Json<DagRunResponse>, V2Error> {
    let run = find_run(&state, &dag_id, &run_id).await?;
    Ok(Json(DagRunResponse::from(&run)))
}

/// `DELETE /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}`: 204 without a
/// body, the run's task instances, tries and logs gone with it; 409 while a
/// live process drives it (fail it first), as on v1.
pub async fn delete(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, V2Error> {
    let run = find_run(&state, &dag_id, &run_id).await?;
    crate::engine::actions::delete_run(&state.launcher, &run).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Airflow 3's `TriggerDAGRunPostBody`: `logical_date` must be present,
/// `null` allowed.
#[derive(Debug, Deserialize)]
pub struct TriggerBody {
    dag_run_id: Option<String>,
    logical_date: Option<String>,
    run_after: Option<String>,
    data_interval_start: Option<String>,
    data_interval_end: Option<String>,
    conf: Option<serde_json::Map<String, Value>>,
    note: Option<String>,
    partition_key: Option<String>,
}

impl Model for TriggerBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dag_run_id", Kind::String),
        Field::optional("data_interval_start", Kind::DateTime),
        Field::optional("data_interval_end", Kind::DateTime),
        Field::required_nullable("logical_date", Kind::DateTime),
        Field::optional("run_after", Kind::DateTime),
        Field::optional("conf", Kind::Object),
        Field::optional("note", Kind::String),
        Field::optional("partition_key", Kind::String),
    ];
}

/// `POST /api/v2/dags/{dag_id}/dagRuns`: queues a manual run, 200 with
/// the run as Airflow 3 answers. A `null` logical date runs "now" (airless
/// runs always have one). 404 unknown DAG, 422 a bad body, 409 a taken run
/// id or logical date.
pub async fn trigger(
    State(state): State<AppState>,
    Path(dag_id): Path<String>,
    Body(body): Body<TriggerBody>,
) -> Result<Response, V2Error> {
    let Some(dag) = state.dags.get(&dag_id) else {
        return Err(V2Error::not_found(format!(
            "Dag with dag_id: '{dag_id}' not found"
        )));
    };
    let now = state.launcher.engine().now();
    let run_after = instant(body.run_after.as_deref()).unwrap_or(now);
    let logical_date = instant(body.logical_date.as_deref())
        .unwrap_or(run_after)
        .trunc_subsecs(6);
    let data_interval = match (
        instant(body.data_interval_start.as_deref()),
        instant(body.data_interval_end.as_deref()),
    ) {
        (Some(start), Some(end)) if start <= end => DataInterval { start, end },
        (None, None) => dag.timetable.manual_data_interval(logical_date),
        (Some(_), Some(_)) => {
            return Err(V2Error::invalid(vec![Invalid::new(
                "value_error",
                &["body"],
                "Value error, data_interval_end must not be before data_interval_start",
                Value::Null,
            )]));
        }
        _ => {
            return Err(V2Error::invalid(vec![Invalid::new(
                "value_error",
                &["body"],
                "Value error, Either both data_interval_start and data_interval_end must be provided or both must be None",
                Value::Null,
            )]));
        }
    };
    let run_id = match body.dag_run_id {
        Some(run_id) if RunId::is_allowed(&run_id) => RunId::new(run_id),
        Some(run_id) => {
            return Err(V2Error::bad_request(format!(
                "The run_id provided '{run_id}' does not match the pattern '^[A-Za-z0-9_.~:+-]+$'"
            )));
        }
        None => crate::engine::default_run_id(RunType::Manual, logical_date),
    };
    let store = state.reader();
    if store.find_dag_run(&dag.dag_id, &run_id).await?.is_some() {
        return Err(V2Error::conflict(format!(
            "DAG Run with dag_id: '{dag_id}' and run_id: '{run_id}' already exists"
        )));
    }
    if store
        .run_at_logical_date(&dag.dag_id, logical_date)
        .await?
        .is_some()
    {
        return Err(V2Error::conflict(format!(
            "DAG Run with dag_id: '{dag_id}' and logical_date: '{}' already exists",
            super::dto::pydantic(logical_date)
        )));
    }
    let run_type = if run_id.as_str().starts_with("backfill__") {
        RunType::Backfill
    } else {
        RunType::Manual
    };
    let request = RunRequest {
        run_id: Some(run_id),
        run_type,
        logical_date,
        data_interval,
        conf: Value::Object(body.conf.unwrap_or_default()),
    };
    let run = state.launcher.trigger(&dag, &request).await?;
    if body.note.is_some() || body.partition_key.is_some() {
        tracing::debug!(dag_id = %dag.dag_id, run_id = %run.run_id, "the run's note and partition key are not kept");
    }
    Ok((StatusCode::OK, Json(DagRunResponse::from(&run))).into_response())
}

/// Airflow 3's `DAGRunPatchBody`.
#[derive(Debug, Deserialize)]
pub struct PatchBody {
    state: Option<String>,
    note: Option<String>,
}

impl Model for PatchBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("state", Kind::OneOf(&["queued", "success", "failed"])),
        Field::optional("note", Kind::String),
    ];
}

/// `PATCH /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}`: `failed` cancels a
/// running run, `queued` re-queues a finished one; `success` only for a run
/// that succeeded (airless does not force-succeed tasks). A note is not
/// kept.
pub async fn patch(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
    params: Params,
    Body(body): Body<PatchBody>,
) -> Result<Json<DagRunResponse>, V2Error> {
    let mask = params.all("update_mask");
    if let Some(field) = mask.iter().find(|f| !matches!(**f, "state" | "note")) {
        return Err(V2Error::bad_request(format!(
            "Invalid field `{field}` in update mask"
        )));
    }
    let run = find_run(&state, &dag_id, &run_id).await?;
    let wants_state = mask.is_empty() || mask.contains(&"state");
    let target = match body.state.as_deref() {
        Some("failed") if wants_state => Some(RunState::Failed),
        Some("success") if wants_state => Some(RunState::Success),
        Some("queued") if wants_state => Some(RunState::Queued),
        _ => None,
    };
    if body.note.is_some() {
        tracing::debug!(%dag_id, %run_id, "the run's note is not kept");
    }
    let run = match target {
        None => run,
        Some(target) if target == run.state => run,
        Some(RunState::Failed) => actions::cancel_run(&state.launcher, run).await?,
        Some(RunState::Queued) if run.state.is_finished() => {
            actions::requeue_run(&state.launcher, &run).await?
        }
        Some(target) => {
            return Err(V2Error::bad_request(format!(
                "a {} run cannot be set to {target} by airless",
                run.state
            )));
        }
    };
    Ok(Json(DagRunResponse::from(&run)))
}

/// Airflow 3's `DAGRunClearBody`.
#[derive(Debug, Deserialize)]
pub struct ClearBody {
    dry_run: Option<bool>,
    only_failed: Option<bool>,
}

impl Model for ClearBody {
    const FIELDS: &'static [Field] = &[
        Field::optional("dry_run", Kind::Boolean),
        Field::optional("only_failed", Kind::Boolean),
        Field::optional("run_on_latest_version", Kind::Boolean),
        Field::optional("only_new", Kind::Boolean),
        Field::optional("note", Kind::String),
    ];
}

/// `POST …/dagRuns/{dag_run_id}/clear`: with `dry_run` (the default) the
/// task instances a clear would reset (`{"task_instances",
/// "total_entries"}`); without, resets them and answers the run. A run
/// still running is left alone (409).
pub async fn clear(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
    Body(body): Body<ClearBody>,
) -> Result<Response, V2Error> {
    let run = find_run(&state, &dag_id, &run_id).await?;
    let Some(dag) = state.dags.get(&dag_id) else {
        return Err(V2Error::not_found(format!(
            "Dag with id {dag_id} was not found"
        )));
    };
    let dry_run = body.dry_run.unwrap_or(true);
    let selection = ClearSelection {
        run_id: Some(run.run_id.clone()),
        task_ids: None::<BTreeSet<String>>,
        states: actions::finished_states(body.only_failed.unwrap_or(false)),
        ..ClearSelection::default()
    };
    if !dry_run && run.state == RunState::Running {
        return Err(V2Error::conflict(format!(
            "The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` is running"
        )));
    }
    let cleared = actions::clear(&state.launcher, &dag, &selection, dry_run).await?;
    if dry_run {
        let ids: BTreeSet<i64> = cleared.iter().map(|c| c.ti_id).collect();
        let task_instances: Vec<TaskInstanceResponse> = state
            .reader()
            .task_instances(run.id)
            .await?
            .iter()
            .filter(|ti| ids.contains(&ti.id))
            .map(|ti| TaskInstanceResponse::new(ti, &run, Some(dag.as_ref())))
            .collect();
        let total_entries = task_instances.len();
        return Ok(Json(TaskInstanceCollection {
            task_instances,
            total_entries,
        })
        .into_response());
    }
    let run = state.reader().dag_run(run.id).await?;
    Ok(Json(DagRunResponse::from(&run)).into_response())
}

/// `GET …/dagRuns/{dag_run_id}/wait?interval=S[&result=TASK…]` (Airflow
/// 3.1, experimental): streams NDJSON, one `{"state": …}` line now and one
/// every `interval` seconds until the run ends; the last line also has
/// `"results"`, each asked task's output, when `result` is given.
pub async fn wait(
    State(state): State<AppState>,
    Path((dag_id, run_id)): Path<(String, String)>,
    params: Params,
) -> Result<Response, V2Error> {
    let interval = match params.positive("interval") {
        Ok(Some(interval)) => interval,
        Ok(None) => {
            return Err(V2Error::invalid(vec![Invalid::new(
                "missing",
                &["query", "interval"],
                "Field required",
                Value::Null,
            )]));
        }
        Err(invalid) => return Err(V2Error::invalid(vec![invalid])),
    };
    let results: Vec<String> = params.all("result").iter().map(|s| s.to_string()).collect();
    let run = find_run(&state, &dag_id, &run_id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, Infallible>>(4);
    let interval = Duration::from_secs_f64(interval.min(3600.0));
    tokio::spawn(async move {
        let mut current = run;
        loop {
            let finished = current.state.is_finished();
            let mut line = json!({ "state": current.state.as_str() });
            if finished && !results.is_empty() {
                line["results"] = task_results(&state, &current, &results).await;
            }
            if tx.send(Ok(format!("{line}\n"))).await.is_err() || finished {
                return;
            }
            tokio::time::sleep(interval).await;
            current = match state.reader().dag_run(current.id).await {
                Ok(run) => run,
                Err(err) => {
                    tracing::warn!("wait: cannot read the run: {err}");
                    return;
                }
            };
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let mut response = HttpBody::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}

/// The outputs (Airflow's `return_value` XComs) of the asked tasks.
async fn task_results(state: &AppState, run: &DagRun, tasks: &[String]) -> Value {
    let Ok(instances) = state.reader().task_instances(run.id).await else {
        return json!({});
    };
    let mut out = serde_json::Map::new();
    for ti in instances {
        if tasks.iter().any(|t| t == ti.task_id.as_str()) {
            out.insert(ti.task_id.to_string(), ti.output.unwrap_or(Value::Null));
        }
    }
    Value::Object(out)
}
