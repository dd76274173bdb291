//! `GET /api/airless/alerts`: the alert outbox, newest first — what was
//! delivered, what waits or is being retried (with its last error), what
//! was given up. An airless endpoint (Airflow has no alert outbox), with
//! the same auth as the rest of the API.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use super::dto::Iso;
use super::error::ApiError;
use super::extract::Params;

#[derive(Debug, Serialize)]
pub struct AlertJson {
    id: i64,
    channel: String,
    event: String,
    dag_id: String,
    dag_run_id: Option<String>,
    task_id: Option<String>,
    try_number: Option<u32>,
    state: Option<String>,
    status: String,
    attempts: u32,
    created_at: Iso,
    next_attempt_at: Option<Iso>,
    last_error: Option<String>,
    delivered_at: Option<Iso>,
}

#[derive(Debug, Serialize)]
pub struct AlertCollection {
    alerts: Vec<AlertJson>,
    total_entries: usize,
}

/// `?status=pending|delivered|failed` (any by default), `?limit=` (100).
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<AlertCollection>, ApiError> {
    let status = params.get("status");
    if let Some(status) = status
        && !["pending", "delivered", "failed"].contains(&status)
    {
        return Err(ApiError::bad_request(format!(
            "status must be pending, delivered or failed, not `{status}`"
        )));
    }
    let (limit, _) = params.page()?;
    let alerts: Vec<AlertJson> = state
        .reader()
        .alerts(status, limit)
        .await?
        .into_iter()
        .map(|a| AlertJson {
            id: a.id,
            channel: a.channel,
            event: a.event,
            dag_id: a.dag_id,
            dag_run_id: a.run_id,
            task_id: a.task_id,
            try_number: a.try_number,
            state: a.state,
            next_attempt_at: (a.status == "pending").then_some(Iso(a.next_attempt_at)),
            status: a.status,
            attempts: a.attempts,
            created_at: Iso(a.created_at),
            last_error: a.last_error,
            delivered_at: a.delivered_at.map(Iso),
        })
        .collect();
    Ok(Json(AlertCollection {
        total_entries: alerts.len(),
        alerts,
    }))
}
