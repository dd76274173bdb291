//! An incoming-webhook endpoint (Slack's, or any service's): records every
//! request (method, path, headers, body) and answers what the test queued,
//! else Slack's `200 ok`. Depends on axum and tokio only, never on airless.

// Each test uses a different subset of the inspection helpers.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    /// The body as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A queued answer: status, an optional `Retry-After`, a body.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

#[derive(Debug, Default)]
struct HookState {
    received: Vec<Received>,
    replies: VecDeque<Reply>,
}

type Shared = Arc<Mutex<HookState>>;

/// A running endpoint on `127.0.0.1`; stops when dropped.
pub struct FakeHooks {
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHooks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeHooks {
    pub async fn start() -> Self {
        let (listener, base_url) = super::listen("webhook endpoint").await;
        let state = Shared::default();
        let app = Router::new().fallback(receive).with_state(state.clone());
        let server = super::serve(listener, app);
        Self {
            base_url,
            state,
            server,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The URL of `path` (`/services/T000/B000/XXXX`) on this endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The next request is answered `status` with this body (and
    /// `Retry-After` when given), then back to `200 ok`.
    pub fn reply_next(&self, status: u16, retry_after: Option<&str>, body: &str) {
        self.lock().replies.push_back(Reply {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: body.to_owned(),
        });
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }
}

async fn receive(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.received.push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = state.replies.pop_front().unwrap_or(Reply {
        status: 200,
        retry_after: None,
        body: "ok".into(),
    });
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.retry_after {
        Some(after) => (status, [("retry-after", after)], reply.body).into_response(),
        None => (status, reply.body).into_response(),
    }
}
