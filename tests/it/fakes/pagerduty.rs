//! PagerDuty Events API v2 (`POST /v2/enqueue`) for integration tests: the
//! documented checks (a known routing key, `trigger`/`acknowledge`/
//! `resolve`, a trigger's `payload.summary`, `source` and a `severity` of
//! critical/error/warning/info, the 255- and 1024-character limits), 202
//! with the `dedup_key` when accepted, 400 with `errors` when not, and
//! alerts opened and resolved by `dedup_key`. Depends on axum, tokio and
//! serde_json only, never on airless.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// An alert's state, by `dedup_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Triggered,
    Acknowledged,
    Resolved,
}

#[derive(Debug)]
struct PdState {
    routing_key: String,
    events: Vec<Value>,
    alerts: BTreeMap<String, AlertState>,
    throttle_next: usize,
}

type Shared = Arc<Mutex<PdState>>;

/// A running Events API on `127.0.0.1`; stops when dropped.
pub struct FakePagerDuty {
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakePagerDuty {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakePagerDuty {
    /// Accepts events for `routing_key` only.
    pub async fn start(routing_key: &str) -> Self {
        let (listener, base_url) = super::listen("pagerduty events api").await;
        let state = Arc::new(Mutex::new(PdState {
            routing_key: routing_key.to_owned(),
            events: Vec::new(),
            alerts: BTreeMap::new(),
            throttle_next: 0,
        }));
        let app = Router::new()
            .route("/v2/enqueue", post(enqueue))
            .with_state(state.clone());
        let server = super::serve(listener, app);
        Self {
            base_url,
            state,
            server,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PdState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enqueue_url(&self) -> String {
        format!("{}/v2/enqueue", self.base_url)
    }

    /// Every event accepted, as sent.
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    pub fn alert(&self, dedup_key: &str) -> Option<AlertState> {
        self.lock().alerts.get(dedup_key).copied()
    }

    /// The next `k` events are answered 429, as when PagerDuty throttles.
    pub fn throttle_next(&self, k: usize) {
        self.lock().throttle_next = k;
    }
}

fn invalid(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        })),
    )
        .into_response()
}

async fn enqueue(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if state.throttle_next > 0 {
        state.throttle_next -= 1;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."})),
        )
            .into_response();
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return invalid(vec!["Could not parse JSON".into()]);
    };
    let mut errors = Vec::new();
    if event["routing_key"].as_str() != Some(state.routing_key.as_str()) {
        errors.push("'routing_key' is invalid".into());
    }
    let action = event["event_action"].as_str().unwrap_or("");
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        errors.push("'event_action' is invalid".into());
    }
    let dedup_key = event["dedup_key"].as_str().map(str::to_owned);
    if dedup_key.as_ref().is_some_and(|k| k.chars().count() > 255) {
        errors.push("'dedup_key' is too long".into());
    }
    if action != "trigger" && dedup_key.is_none() {
        errors.push("'dedup_key' is required for acknowledge and resolve".into());
    }
    if action == "trigger" {
        let payload = &event["payload"];
        match payload["summary"].as_str() {
            None => errors.push("'payload.summary' is missing".into()),
            Some(s) if s.chars().count() > 1024 => {
                errors.push("'payload.summary' is too long".into())
            }
            Some(_) => {}
        }
        if payload["source"].as_str().is_none_or(str::is_empty) {
            errors.push("'payload.source' is missing".into());
        }
        let severity = payload["severity"].as_str().unwrap_or("");
        if !["critical", "error", "warning", "info"].contains(&severity) {
            errors.push("'payload.severity' is invalid".into());
        }
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let dedup_key = dedup_key.unwrap_or_else(|| format!("generated-{}", state.events.len()));
    let open = matches!(
        state.alerts.get(&dedup_key),
        Some(AlertState::Triggered | AlertState::Acknowledged)
    );
    match (action, open) {
        ("trigger", _) => {
            state
                .alerts
                .insert(dedup_key.clone(), AlertState::Triggered);
        }
        ("acknowledge", true) => {
            state
                .alerts
                .insert(dedup_key.clone(), AlertState::Acknowledged);
        }
        ("resolve", true) => {
            state.alerts.insert(dedup_key.clone(), AlertState::Resolved);
        }
        // Follow-ups for no open alert are accepted and dropped.
        _ => {}
    }
    state.events.push(event);
    (
        StatusCode::ACCEPTED,
        Json(json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})),
    )
        .into_response()
}
