//! Airflow 3's REST API (`/api/v2`) and its token login (`POST
//! /auth/token`), in Airflow 3's (FastAPI's) shapes: JWT bearer auth,
//! `{"detail": …}` errors, 422 validation lists. The logic is v1's — the
//! store reads, `engine::actions` for every state change — with v2's names
//! and fields. Depends on `api` (state, v1 DTOs), `engine`, `store`.

mod auth;
mod dag_runs;
mod dags;
mod dto;
mod error;
mod extract;
mod task_instances;

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use super::AppState;

/// The Airflow API version `/api/v2/version` reports: the 3.x line whose
/// shapes airless answers.
pub const AIRFLOW_VERSION: &str = "3.1.0";

/// `/auth/token` and every `/api/v2` route, ready to merge into the API's
/// router (no fallback: the API's answers unknown paths).
pub fn router(state: AppState) -> Router<AppState> {
    let run = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}";
    let ti = format!("{run}/taskInstances/{{task_id}}");
    let protected = Router::new()
        .route("/api/v2/dags", get(dags::list))
        .route("/api/v2/dags/{dag_id}", get(dags::get).patch(dags::patch))
        .route("/api/v2/importErrors", get(dags::import_errors))
        .route(
            "/api/v2/dags/{dag_id}/dagRuns",
            get(dag_runs::list).post(dag_runs::trigger),
        )
        .route("/api/v2/dags/~/dagRuns/list", post(dag_runs::list_batch))
        .route(
            run,
            get(dag_runs::get)
                .patch(dag_runs::patch)
                .delete(dag_runs::delete),
        )
        .route(&format!("{run}/clear"), post(dag_runs::clear))
        .route(&format!("{run}/wait"), get(dag_runs::wait))
        .route(&format!("{run}/taskInstances"), get(task_instances::list))
        .route(&ti, get(task_instances::get))
        .route(&format!("{ti}/tries"), get(task_instances::tries))
        .route(
            &format!("{ti}/tries/{{try_number}}"),
            get(task_instances::one_try),
        )
        .route(
            &format!("{ti}/logs/{{try_number}}"),
            get(task_instances::log),
        )
        .route_layer(middleware::from_fn_with_state(state, auth::require_jwt));
    Router::new()
        .route("/auth/token", post(auth::token))
        .route("/api/v2/monitor/health", get(health))
        .route("/api/v2/version", get(version))
        .merge(protected)
}

/// `GET /api/v2/version`: Airflow 3's `VersionInfo` (no auth, as in
/// Airflow 3).
async fn version() -> Json<Value> {
    Json(json!({
        "version": AIRFLOW_VERSION,
        "git_version": format!("airless-{}", env!("CARGO_PKG_VERSION")),
    }))
}

/// `GET /api/v2/monitor/health`: Airflow 3's `HealthInfoResponse`, the
/// same as v1's `/health` (no auth, as in Airflow).
async fn health(state: State<AppState>) -> Response {
    super::health::health(state).await
}
