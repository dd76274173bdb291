//! `/dags/{dag_id}/runs/{run_id}`: the run's task instances with their
//! tries, durations and Gantt bars, each task's output (a Databricks run's
//! page as a link), the run's conf, and the actions on it.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

use crate::model::{DagId, RunId, TaskState, TaskTry};
use crate::web::session::Session;
use crate::web::view::{self, RunCell, StateView};
use crate::web::{Chrome, PageError, WebState, render};

#[derive(Debug, Serialize)]
struct TryView {
    try_number: u32,
    state: StateView,
    url: String,
    duration: String,
}

#[derive(Debug, Serialize)]
struct TaskRow {
    task_id: String,
    kind: &'static str,
    state: StateView,
    try_number: u32,
    max_tries: u32,
    start: String,
    end: String,
    duration: String,
    /// The Gantt bar: where it starts and how wide it is, in percent of
    /// the run's span.
    bar_left: f64,
    bar_width: f64,
    tries: Vec<TryView>,
    output: Option<String>,
    error: Option<String>,
    external_url: Option<String>,
    log_url: Option<String>,
    can_clear: bool,
    can_mark: bool,
}

#[derive(Debug, Serialize)]
struct RunPage {
    chrome: Chrome,
    dag_id: String,
    dag_url: String,
    run: RunCell,
    run_type: &'static str,
    data_interval: String,
    queued_at: String,
    start: String,
    end: String,
    duration: String,
    conf: String,
    finished: bool,
    driven_by: Option<String>,
    tasks: Vec<TaskRow>,
    failed: usize,
}

pub async fn page(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path((dag_id, run_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let reader = web.app.reader();
    let now = web.app.control().now();
    let Some(run) = reader
        .find_dag_run(&DagId::new(&dag_id), &RunId::new(&run_id))
        .await?
    else {
        return Err(PageError::not_found(format!(
            "DAG `{dag_id}` has no run `{run_id}`."
        )));
    };
    let dag = web.app.dags.get(&dag_id);
    let instances = reader.task_instances(run.id).await?;
    let mut tries: HashMap<String, Vec<TaskTry>> = HashMap::new();
    for (task_id, attempt) in reader.tries_of_run(run.id).await? {
        tries.entry(task_id.to_string()).or_default().push(attempt);
    }
    let driven_by = if run.state.is_finished() {
        None
    } else {
        web.app.control().holder_of(&run).await?
    };
    let span_start = run
        .start_date
        .or_else(|| instances.iter().filter_map(|t| t.start_date).min());
    let span_end = run.end_date.unwrap_or(now);
    let span = span_start
        .map(|s| (span_end - s).num_milliseconds().max(1) as f64)
        .unwrap_or(1.0);
    let finished_run = run.state.is_finished() && !web.app.launcher.is_active(run.id);
    let tasks: Vec<TaskRow> = instances
        .iter()
        .map(|ti| {
            let kind = dag
                .as_ref()
                .and_then(|d| {
                    d.task_index(ti.task_id.as_str())
                        .map(|i| d.tasks[i].kind.name())
                })
                .unwrap_or("");
            let (bar_left, bar_width) = match (span_start, ti.start_date) {
                (Some(s), Some(t)) => {
                    let left = (t - s).num_milliseconds().max(0) as f64 / span * 100.0;
                    let end = ti.end_date.unwrap_or(now);
                    let width = (end - t).num_milliseconds().max(0) as f64 / span * 100.0;
                    (left.min(100.0), width.clamp(0.5, 100.0 - left.min(99.5)))
                }
                _ => (0.0, 0.0),
            };
            let task_tries = tries.remove(ti.task_id.as_str()).unwrap_or_default();
            TaskRow {
                task_id: ti.task_id.to_string(),
                kind,
                state: view::state(ti.state.as_str()),
                try_number: ti.try_number,
                max_tries: ti.max_tries,
                start: ti.start_date.map(view::time).unwrap_or_default(),
                end: ti.end_date.map(view::time).unwrap_or_default(),
                duration: view::seconds_between(ti.start_date, ti.end_date, now)
                    .map(view::duration)
                    .unwrap_or_default(),
                bar_left,
                bar_width,
                tries: task_tries
                    .iter()
                    .map(|t| TryView {
                        try_number: t.try_number,
                        state: view::state(t.state.as_str()),
                        url: view::log_url(&dag_id, &run_id, ti.task_id.as_str(), t.try_number),
                        duration: view::seconds_between(Some(t.start_date), t.end_date, now)
                            .map(view::duration)
                            .unwrap_or_default(),
                    })
                    .collect(),
                output: ti
                    .output
                    .as_ref()
                    .and_then(|o| serde_json::to_string_pretty(o).ok()),
                error: ti.error.clone(),
                external_url: ti
                    .external_url
                    .clone()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                log_url: (ti.try_number > 0)
                    .then(|| view::log_url(&dag_id, &run_id, ti.task_id.as_str(), ti.try_number)),
                can_clear: finished_run && ti.state.is_finished(),
                can_mark: driven_by.is_none()
                    && !web.app.launcher.is_active(run.id)
                    && ti.state != TaskState::Running,
            }
        })
        .collect();
    let failed = tasks
        .iter()
        .filter(|t| matches!(t.state.name, "failed" | "upstream_failed"))
        .count();
    Ok(render::page(
        &web.ui.env,
        "run.html",
        RunPage {
            chrome: web.chrome(&session),
            dag_url: view::dag_url(&dag_id),
            dag_id,
            run: RunCell::new(&crate::store::RunSummary::from(&run)),
            run_type: run.run_type.as_str(),
            data_interval: format!(
                "{} → {}",
                view::time(run.data_interval_start),
                view::time(run.data_interval_end)
            ),
            queued_at: view::time(run.queued_at),
            start: run.start_date.map(view::time).unwrap_or_default(),
            end: run.end_date.map(view::time).unwrap_or_default(),
            duration: view::seconds_between(run.start_date, run.end_date, now)
                .map(view::duration)
                .unwrap_or_default(),
            conf: serde_json::to_string_pretty(&run.conf).unwrap_or_default(),
            finished: run.state.is_finished(),
            driven_by,
            tasks,
            failed,
        },
    ))
}
