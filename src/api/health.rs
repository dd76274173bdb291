//! `GET /health` in Airflow's shape and `GET /metrics` in Prometheus text
//! format, computed by SQL aggregates at scrape time (no global counters).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::dto::iso;
use super::error::ApiError;
use crate::model::{RunState, TaskState};

/// Airflow's `HealthInfo`: the scheduler is healthy when its last pass is
/// at most 30 s old (Airflow's `scheduler_health_check_threshold`); 503 when
/// the database does not answer.
pub async fn health(State(state): State<AppState>) -> Response {
    let db = state.reader().ping().await;
    if let Err(err) = &db {
        tracing::warn!("health check: the state database does not answer: {err}");
    }
    let status = |ok: bool| if ok { "healthy" } else { "unhealthy" };
    let heartbeat = state.launcher.last_heartbeat();
    let now = state.launcher.engine().now();
    let scheduler_ok = heartbeat.is_some_and(|at| now - at <= chrono::Duration::seconds(30));
    let loaded = state.dags.loaded_at();
    let body = json!({
        "metadatabase": {"status": status(db.is_ok())},
        "scheduler": {
            "status": status(scheduler_ok),
            "latest_scheduler_heartbeat": heartbeat.map(iso),
        },
        "triggerer": {"status": null, "latest_triggerer_heartbeat": null},
        // the DAG folder is loaded after the port opens: "loading" until then
        "dag_processor": {
            "status": if loaded.is_some() { "healthy" } else { "loading" },
            "latest_dag_processor_heartbeat": loaded.map(iso),
        },
    });
    let code = if db.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let bag = state.dags.snapshot();
    let stored = state.reader().metrics().await?;
    let mut out = String::new();

    gauge(
        &mut out,
        "airless_dags_loaded",
        "DAGs loaded from the DAG folder.",
    );
    let _ = writeln!(out, "airless_dags_loaded {}", bag.dags.len());
    gauge(
        &mut out,
        "airless_import_errors",
        "DAG files that failed to load.",
    );
    let _ = writeln!(out, "airless_import_errors {}", bag.import_errors.len());

    // every loaded DAG shows every state, so a series reads 0 rather than vanishing
    let mut runs: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
    for dag_id in bag.dags.keys() {
        for run_state in RunState::ALL {
            runs.insert((dag_id.to_string(), run_state.as_str()), 0);
        }
    }
    for (dag_id, run_state, count) in &stored.dag_runs {
        runs.insert((dag_id.to_string(), run_state.as_str()), *count);
    }
    gauge(&mut out, "airless_dag_runs", "DagRuns by DAG and state.");
    for ((dag_id, run_state), count) in &runs {
        let _ = writeln!(
            out,
            "airless_dag_runs{{dag_id=\"{}\",state=\"{run_state}\"}} {count}",
            label(dag_id)
        );
    }

    let mut tis: BTreeMap<&'static str, i64> =
        TaskState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for (ti_state, count) in &stored.task_instances {
        tis.insert(ti_state.as_str(), *count);
    }
    gauge(
        &mut out,
        "airless_task_instances",
        "TaskInstances by state.",
    );
    for (ti_state, count) in &tis {
        let _ = writeln!(
            out,
            "airless_task_instances{{state=\"{ti_state}\"}} {count}"
        );
    }

    summary(
        &mut out,
        "airless_task_duration_seconds",
        "Duration of finished TaskInstances (their last try).",
    );
    for (dag_id, task_id, total, count) in &stored.task_durations {
        let labels = format!(
            "dag_id=\"{}\",task_id=\"{}\"",
            label(dag_id.as_str()),
            label(task_id.as_str())
        );
        let _ = writeln!(out, "airless_task_duration_seconds_sum{{{labels}}} {total}");
        let _ = writeln!(
            out,
            "airless_task_duration_seconds_count{{{labels}}} {count}"
        );
    }

    summary(
        &mut out,
        "airless_scheduling_delay_seconds",
        "From when a DagRun was due (its data interval end if scheduled, else when it was queued) to its start.",
    );
    for (dag_id, total, count) in &stored.scheduling_delays {
        let labels = format!("dag_id=\"{}\"", label(dag_id.as_str()));
        let _ = writeln!(
            out,
            "airless_scheduling_delay_seconds_sum{{{labels}}} {total}"
        );
        let _ = writeln!(
            out,
            "airless_scheduling_delay_seconds_count{{{labels}}} {count}"
        );
    }

    gauge(
        &mut out,
        "airless_alerts",
        "Alerts in the outbox by channel and status: pending (waiting or being retried), delivered, failed (given up).",
    );
    for (channel, status, count) in &stored.alerts {
        let _ = writeln!(
            out,
            "airless_alerts{{channel=\"{}\",status=\"{}\"}} {count}",
            label(channel),
            label(status)
        );
    }

    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

fn summary(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
}

/// A label value escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Airflow release whose stable REST API this one follows.
pub const AIRFLOW_VERSION: &str = "2.10.5";

/// Airflow's `VersionInfo`: the API level clients may rely on, and
/// airless's own version as the build.
pub fn version_info() -> serde_json::Value {
    json!({
        "version": AIRFLOW_VERSION,
        "git_version": concat!("airless-", env!("CARGO_PKG_VERSION")),
    })
}

/// `GET /api/v1/version`, without a token as in Airflow.
pub async fn version() -> Json<serde_json::Value> {
    Json(version_info())
}
