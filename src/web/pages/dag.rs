//! `/dags/{dag_id}`: the grid (tasks × runs, paged back through all
//! history), the graph coloured by one run, the next 10 runs, the run
//! history with filters, and the DAG's YAML with its version.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{DagId, RunState, RunType};
use crate::store::{Bounds, DagRunOrder, DagRunQuery, RunSummary, TaskCellState};
use crate::web::session::Session;
use crate::web::svg::{self, NodeState};
use crate::web::view::{self, DagHeading, RunCell, TaskCell};
use crate::web::{Chrome, PageError, WebState, html, render};

/// Grid widths one can pick; the default is 25.
const GRID_WIDTHS: &[i64] = &[10, 25, 50, 100, 365];
const HISTORY_PAGE: i64 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct DagQuery {
    runs: Option<String>,
    offset: Option<String>,
    run_id: Option<String>,
    state: Option<String>,
    run_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

fn whole(name: &str, value: Option<&str>, default: i64) -> Result<i64, PageError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            PageError::bad_request(format!(
                "`{name}` must be a whole number of 0 or more, not `{text}`"
            ))
        }),
    }
}

fn day(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, PageError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                PageError::bad_request(format!(
                    "`{name}` must be a date like 2026-12-31, not `{text}`"
                ))
            }),
    }
}

#[derive(Debug, Serialize)]
struct GridRow {
    task_id: String,
    kind: &'static str,
    /// The row's cells' markup ([`html::grid_cells`]).
    cells: String,
}

#[derive(Debug, Serialize)]
struct NextRun {
    logical_date: String,
    run_after: String,
    interval: String,
}

#[derive(Debug, Serialize)]
struct HistoryRow {
    run: RunCell,
    start: String,
    end: String,
    duration: String,
}

#[derive(Debug, Serialize)]
struct DagPage {
    chrome: Chrome,
    #[serde(flatten)]
    heading: DagHeading,
    paused: bool,
    version: Option<u32>,
    source: String,
    warnings: Vec<String>,
    params: bool,
    // the grid
    widths: &'static [i64],
    width: i64,
    offset: i64,
    older: Option<i64>,
    newer: Option<i64>,
    total_runs: i64,
    grid_runs: Vec<RunCell>,
    grid: Vec<GridRow>,
    // the graph
    selected: Option<RunCell>,
    graph: String,
    next_runs: Vec<NextRun>,
    // the history
    filter_state: String,
    filter_run_type: String,
    filter_from: String,
    filter_to: String,
    history: Vec<HistoryRow>,
    history_total: i64,
    history_page: i64,
    history_pages: i64,
}

pub async fn page(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path(dag_id): Path<String>,
    Query(query): Query<DagQuery>,
) -> Result<Response, PageError> {
    let Some(dag) = web.app.dags.get(&dag_id) else {
        return Err(PageError::not_found(format!(
            "There is no DAG `{dag_id}` in the DAG folder."
        )));
    };
    let reader = web.app.reader();
    let now = web.app.control().now();
    let id = DagId::new(&dag_id);
    let ids = [id.clone()];
    let record = reader.dag(&id).await?;
    let version = match record.as_ref().and_then(|r| r.latest_version) {
        Some(version) => reader.dag_version(version).await?.map(|v| v.version_number),
        None => None,
    };

    // the grid: the newest `width` runs from `offset`, oldest on the left
    let width = whole("runs", query.runs.as_deref(), 25)?.clamp(1, 365);
    let offset = whole("offset", query.offset.as_deref(), 0)?;
    let (newest_first, total_runs) = reader
        .dag_run_page(&DagRunQuery {
            dag_ids: Some(&ids),
            states: &[],
            run_types: &[],
            logical_date: Bounds::default(),
            start_date: Bounds::default(),
            end_date: Bounds::default(),
            updated_at: Bounds::default(),
            order: DagRunOrder::LogicalDate,
            descending: true,
            limit: width,
            offset,
        })
        .await?;
    let grid_runs: Vec<RunSummary> = newest_first.iter().rev().map(RunSummary::from).collect();
    let run_ids: Vec<i64> = grid_runs.iter().map(|r| r.id).collect();
    let fetched = reader.task_cells(&run_ids).await?;
    let cells: HashMap<(i64, &str), &TaskCellState> = fetched
        .iter()
        .map(|c| ((c.dag_run_id, c.task_id.as_str()), c))
        .collect();
    let grid = dag
        .graph
        .topological_order()
        .iter()
        .map(|&t| {
            let task = &dag.tasks[t];
            GridRow {
                task_id: task.task_id.to_string(),
                kind: task.kind.name(),
                cells: html::grid_cells(
                    &grid_runs
                        .iter()
                        .map(|run| {
                            cells
                                .get(&(run.id, task.task_id.as_str()))
                                .map(|ti| TaskCell::new(run, ti))
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        })
        .collect();

    // the graph, coloured by the chosen run or the newest one
    let selected: Option<RunSummary> = match query.run_id.as_deref().filter(|r| !r.is_empty()) {
        Some(run_id) => reader
            .find_dag_run(&id, &crate::model::RunId::new(run_id))
            .await?
            .as_ref()
            .map(RunSummary::from),
        None => grid_runs.last().cloned(),
    };
    let graph = {
        let states: Vec<NodeState> = match &selected {
            Some(run) => {
                let own = if run_ids.contains(&run.id) {
                    Vec::new()
                } else {
                    reader.task_cells(&[run.id]).await?
                };
                let of_run: HashMap<&str, &TaskCellState> = fetched
                    .iter()
                    .chain(own.iter())
                    .filter(|c| c.dag_run_id == run.id)
                    .map(|c| (c.task_id.as_str(), c))
                    .collect();
                dag.tasks
                    .iter()
                    .map(|task| match of_run.get(task.task_id.as_str()) {
                        Some(ti) => {
                            let cell = TaskCell::new(run, ti);
                            NodeState {
                                state: cell.state.name,
                                icon: cell.state.icon,
                                url: Some(cell.url),
                            }
                        }
                        None => NodeState::default(),
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        svg::draw(&dag, &states)
    };

    let next_runs = crate::scheduler::upcoming(reader, &dag, now, 10)
        .await?
        .into_iter()
        .map(|info| NextRun {
            logical_date: view::time(info.logical_date),
            run_after: view::time(info.run_after),
            interval: format!(
                "{} → {}",
                view::time(info.data_interval.start),
                view::time(info.data_interval.end)
            ),
        })
        .collect();

    // the history, filtered
    let states: Vec<RunState> = match query.state.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(name) => vec![name.parse().map_err(|_| {
            PageError::bad_request(format!(
                "`state` must be queued, running, success or failed, not `{name}`"
            ))
        })?],
    };
    let run_types: Vec<RunType> = match query.run_type.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(name) => vec![RunType::parse(name).ok_or_else(|| {
            PageError::bad_request(format!(
                "`run_type` must be manual, scheduled or backfill, not `{name}`"
            ))
        })?],
    };
    let from = day("from", query.from.as_deref())?;
    let to = day("to", query.to.as_deref())?;
    let history_page = whole("page", query.page.as_deref(), 0)?;
    let (history_runs, history_total) = reader
        .dag_run_page(&DagRunQuery {
            dag_ids: Some(&ids),
            states: &states,
            run_types: &run_types,
            logical_date: Bounds {
                gte: from
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| Utc.from_utc_datetime(&t)),
                lte: to
                    .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
                    .map(|t| Utc.from_utc_datetime(&t)),
            },
            start_date: Bounds::default(),
            end_date: Bounds::default(),
            updated_at: Bounds::default(),
            order: DagRunOrder::LogicalDate,
            descending: true,
            limit: HISTORY_PAGE,
            offset: history_page.saturating_mul(HISTORY_PAGE),
        })
        .await?;
    let history = history_runs
        .iter()
        .map(|run| HistoryRow {
            run: RunCell::new(&RunSummary::from(run)),
            start: run.start_date.map(view::time).unwrap_or_default(),
            end: run.end_date.map(view::time).unwrap_or_default(),
            duration: view::seconds_between(run.start_date, run.end_date, now)
                .map(view::duration)
                .unwrap_or_default(),
        })
        .collect();

    let paused = match &record {
        Some(record) => record.is_paused,
        None => dag.is_paused_upon_creation,
    };
    Ok(render::page(
        &web.ui.env,
        "dag.html",
        DagPage {
            chrome: web.chrome(&session),
            heading: DagHeading::new(&dag),
            paused,
            version,
            source: dag.source.to_string(),
            warnings: dag.warnings.iter().map(ToString::to_string).collect(),
            params: !dag.params.is_empty(),
            widths: GRID_WIDTHS,
            width,
            offset,
            older: (offset + width < total_runs).then_some(offset + width),
            newer: (offset > 0).then(|| (offset - width).max(0)),
            total_runs,
            grid_runs: grid_runs.iter().map(RunCell::new).collect(),
            grid,
            selected: selected.as_ref().map(RunCell::new),
            graph,
            next_runs,
            filter_state: query.state.unwrap_or_default(),
            filter_run_type: query.run_type.unwrap_or_default(),
            filter_from: from.map(|d| d.to_string()).unwrap_or_default(),
            filter_to: to.map(|d| d.to_string()).unwrap_or_default(),
            history,
            history_total,
            history_page,
            history_pages: (history_total + HISTORY_PAGE - 1) / HISTORY_PAGE,
        },
    ))
}
