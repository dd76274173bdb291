//! The HTTP API: a compatible subset of Airflow's stable REST API (`/api/v1`),
//! Airflow 3's `/api/v2` ([`v2`]), `/health` and `/metrics`. Handlers and DTOs only; errors are mapped once
//! to Airflow's problem JSON at the edge ([`error::ApiError`]). Depends on
//! `app` (state), `engine` (launcher), `dag` and `store`; nothing depends on it
//! but `app`.

mod alerts;
pub mod auth;
mod dag_runs;
mod dags;
pub mod dto;
pub mod error;
mod extract;
mod form;
mod health;
pub mod server;
mod state;
mod task_instances;
mod task_states;
mod tasks;
mod time;
mod tries;
mod v2;
mod xcom;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use error::ApiError;
pub use state::AppState;

/// The largest request body accepted (413 above it).
pub const MAX_BODY: usize = 1024 * 1024;

/// The API's routes, without a socket (tests call it directly).
pub fn router(state: AppState) -> Router {
    let run = "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}";
    let protected = Router::new()
        .route("/api/v1/dags", get(dags::list))
        .route("/api/v1/dags/{dag_id}", get(dags::get).patch(dags::patch))
        .route("/api/v1/dags/{dag_id}/details", get(dags::details))
        .route("/api/v1/dags/{dag_id}/tasks", get(tasks::list))
        .route("/api/v1/dags/{dag_id}/tasks/{task_id}", get(tasks::get))
        .route("/api/v1/importErrors", get(dags::import_errors))
        .route("/api/v1/dagWarnings", get(dags::dag_warnings))
        .route(
            "/api/v1/dags/{dag_id}/dagRuns",
            get(dag_runs::list).post(dag_runs::trigger),
        )
        .route(
            run,
            get(dag_runs::get)
                .patch(dag_runs::set_state)
                .delete(dag_runs::delete),
        )
        .route("/api/v1/dags/~/dagRuns/list", post(dag_runs::list_batch))
        .route(&format!("{run}/taskInstances"), get(task_instances::list))
        .route(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            post(task_instances::list_batch),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}"),
            get(task_instances::get).patch(task_states::patch),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}/tries"),
            get(tries::list),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}/tries/{{task_try_number}}"),
            get(tries::get),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}/xcomEntries"),
            get(xcom::list),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}/xcomEntries/{{xcom_key}}"),
            get(xcom::get),
        )
        .route(
            "/api/v1/dags/{dag_id}/updateTaskInstancesState",
            post(task_states::update_many),
        )
        .route(
            &format!("{run}/taskInstances/{{task_id}}/logs/{{task_try_number}}"),
            get(task_instances::log),
        )
        .route(
            "/api/v1/dags/{dag_id}/clearTaskInstances",
            post(task_instances::clear),
        )
        .route("/metrics", get(health::metrics))
        .route("/api/airless/alerts", get(alerts::list))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/api/v1/version", get(health::version))
        .merge(protected)
        .merge(v2::router(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        Some("The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.".to_string()),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        Some("The method is not allowed for the requested URL.".to_string()),
    )
}
