//! `/`: every DAG with its schedule in words, next run, last 25 runs as
//! squares, a pause toggle and a trigger button; import errors on top.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use crate::web::session::Session;
use crate::web::view::{self, DagHeading, RunCell};
use crate::web::{Chrome, PageError, WebState, html, render};

/// Squares per DAG.
const RECENT_RUNS: i64 = 25;

#[derive(Debug, Serialize)]
struct DagRow {
    #[serde(flatten)]
    heading: DagHeading,
    next_run: Option<String>,
    paused: bool,
    tasks: usize,
    /// The squares' markup ([`html::squares`]).
    squares: String,
}

#[derive(Debug, Serialize)]
struct ImportErrorView {
    file: String,
    errors: Vec<String>,
}

/// An alert the channels have not taken: given up, or being retried.
#[derive(Debug, Serialize)]
struct UndeliveredAlert {
    channel: String,
    what: String,
    status: String,
    attempts: u32,
    last_error: String,
}

#[derive(Debug, Serialize)]
struct DagsPage {
    undelivered: Vec<UndeliveredAlert>,
    chrome: Chrome,
    dags: Vec<DagRow>,
    import_errors: Vec<ImportErrorView>,
    warnings: Vec<String>,
    loading: bool,
    now: String,
}

pub async fn page(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let bag = web.app.dags.snapshot();
    let reader = web.app.reader();
    let now = web.app.control().now();
    let paused = reader.paused_dags().await?;
    let mut recent: HashMap<String, Vec<RunCell>> = HashMap::new();
    for run in reader.recent_runs(RECENT_RUNS).await? {
        recent
            .entry(run.dag_id.to_string())
            .or_default()
            .push(RunCell::new(&run));
    }
    let last_intervals = reader.last_scheduled_intervals().await?;
    let mut dags = Vec::with_capacity(bag.dags.len());
    for dag in bag.dags.values() {
        let next = crate::scheduler::next_run_after(
            dag,
            last_intervals.get(dag.dag_id.as_str()).copied(),
            now,
        );
        let is_paused = paused
            .get(dag.dag_id.as_str())
            .copied()
            .unwrap_or(dag.is_paused_upon_creation);
        // oldest on the left, newest on the right, as Airflow draws them
        let mut runs = recent.remove(dag.dag_id.as_str()).unwrap_or_default();
        runs.reverse();
        dags.push(DagRow {
            heading: DagHeading::new(dag),
            next_run: next.map(|n| view::time(n.run_after)),
            paused: is_paused,
            tasks: dag.tasks.len(),
            squares: html::squares(&runs),
        });
    }
    let import_errors = bag
        .import_errors
        .iter()
        .map(|e| ImportErrorView {
            file: e.file.display().to_string(),
            errors: e.errors.iter().map(ToString::to_string).collect(),
        })
        .collect();
    let warnings = bag
        .dags
        .values()
        .flat_map(|d| d.warnings.iter().map(ToString::to_string))
        .collect();
    let mut undelivered: Vec<UndeliveredAlert> = Vec::new();
    for status in ["failed", "pending"] {
        for alert in reader.alerts(Some(status), 20).await? {
            if alert.attempts == 0 {
                continue; // waiting for its group, not undelivered
            }
            let mut what = format!("{} of {}", alert.event, alert.dag_id);
            if let Some(task) = &alert.task_id {
                what.push('.');
                what.push_str(task);
            }
            if let Some(run) = &alert.run_id {
                what.push_str(&format!(" (run {run})"));
            }
            undelivered.push(UndeliveredAlert {
                channel: alert.channel,
                what,
                status: alert.status,
                attempts: alert.attempts,
                last_error: alert.last_error.unwrap_or_default(),
            });
        }
    }
    Ok(render::page(
        &web.ui.env,
        "dags.html",
        DagsPage {
            undelivered,
            chrome: web.chrome(&session),
            dags,
            import_errors,
            warnings,
            loading: web.app.dags.loaded_at().is_none(),
            now: view::time(now),
        },
    ))
}
