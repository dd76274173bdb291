//! The HTTP API: a compatible subset of Airflow's stable REST API (`/api/v1`),
//! `/health` and `/metrics`. Handlers and DTOs only; errors are mapped once
//! to Airflow's problem JSON at the edge.

use axum::Router;

use crate::app::AppState;

/// The API's routes, without a socket (tests call it directly).
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
