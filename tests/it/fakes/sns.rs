//! AWS SNS's Query protocol for `Publish`, for integration tests: a
//! form-encoded `Action=Publish&Version=2010-03-31&TopicArn=…&Message=…
//! &Subject=…` POSTed to `/`, signed with SigV4 (the credential scope is
//! checked, not the signature), answered with the documented
//! `PublishResponse` XML and a `MessageId`, or an `ErrorResponse`
//! (`NotFound`, `InvalidParameter`, `Throttling`). FIFO topics (`.fifo`)
//! need a `MessageGroupId` and drop a repeated `MessageDeduplicationId`. Depends on axum and tokio
//! only, never on airless.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};

/// One message published to a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    /// FIFO topics' `MessageGroupId` and `MessageDeduplicationId`.
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
    /// The access key id from the SigV4 credential scope.
    pub access_key_id: String,
    pub region: String,
}

#[derive(Debug, Default)]
struct SnsState {
    topics: BTreeSet<String>,
    published: Vec<Published>,
    throttle_next: usize,
    requests: usize,
}

type Shared = Arc<Mutex<SnsState>>;

/// A running SNS endpoint on `127.0.0.1`; stops when dropped.
pub struct FakeSns {
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSns {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSns {
    pub async fn start() -> Self {
        let (listener, base_url) = super::listen("sns").await;
        let state = Shared::default();
        let app = Router::new()
            .route("/", post(action))
            .with_state(state.clone());
        let server = super::serve(listener, app);
        Self {
            base_url,
            state,
            server,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SnsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn create_topic(&self, arn: &str) {
        self.lock().topics.insert(arn.to_owned());
    }

    pub fn published(&self) -> Vec<Published> {
        self.lock().published.clone()
    }

    /// The next `k` requests are answered `Throttling` (HTTP 400), as SNS
    /// does past a topic's publish rate.
    pub fn throttle_next(&self, k: usize) {
        self.lock().throttle_next = k;
    }

    pub fn requests(&self) -> usize {
        self.lock().requests
    }
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    let xml = format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
         <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>fake-request</RequestId></ErrorResponse>"
    );
    (status, [("content-type", "text/xml")], xml).into_response()
}

/// `(access key id, region)` from `Credential=KEY/DATE/REGION/sns/aws4_request`.
fn credential_scope(headers: &HeaderMap) -> Option<(String, String)> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = rest
        .split(", ")
        .find_map(|part| part.strip_prefix("Credential="))?;
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, _date, region, "sns", "aws4_request"] => Some((key.to_string(), region.to_string())),
        _ => None,
    }
}

async fn action(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests += 1;
    let Some((access_key_id, region)) = credential_scope(&headers) else {
        return error(
            StatusCode::FORBIDDEN,
            "Sender",
            "IncompleteSignature",
            "Authorization header is missing or not SigV4 for sns",
        );
    };
    if state.throttle_next > 0 {
        state.throttle_next -= 1;
        return error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "Throttling",
            "Rate exceeded",
        );
    }
    if form.get("Action").map(String::as_str) != Some("Publish")
        || form.get("Version").map(String::as_str) != Some("2010-03-31")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "InvalidAction",
            "only Publish, version 2010-03-31",
        );
    }
    let topic_arn = form.get("TopicArn").cloned().unwrap_or_default();
    if !state.topics.contains(&topic_arn) {
        return error(
            StatusCode::NOT_FOUND,
            "Sender",
            "NotFound",
            "Topic does not exist",
        );
    }
    let Some(message) = form.get("Message").cloned() else {
        return error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "InvalidParameter",
            "Invalid parameter: Message",
        );
    };
    let subject = form.get("Subject").cloned();
    if let Some(subject) = &subject
        && (subject.chars().count() >= 100
            || subject.is_empty()
            || subject.chars().any(|c| c.is_control() || !c.is_ascii()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Sender",
            "InvalidParameter",
            "Invalid parameter: Subject",
        );
    }
    let message_group_id = form.get("MessageGroupId").cloned();
    let message_deduplication_id = form.get("MessageDeduplicationId").cloned();
    if topic_arn.ends_with(".fifo") {
        if message_group_id.is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                "Sender",
                "InvalidParameter",
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
            );
        }
        // the same deduplication id again: accepted, not delivered twice
        if let Some(seen) = state.published.iter().find(|p| {
            p.topic_arn == topic_arn
                && message_deduplication_id.is_some()
                && p.message_deduplication_id == message_deduplication_id
        }) {
            return published_reply(&seen.message_id);
        }
    }
    let message_id = format!("00000000-0000-4000-8000-{:012}", state.published.len() + 1);
    state.published.push(Published {
        message_group_id,
        message_deduplication_id,
        message_id: message_id.clone(),
        topic_arn,
        subject,
        message,
        access_key_id,
        region,
    });
    published_reply(&message_id)
}

fn published_reply(message_id: &str) -> Response {
    let xml = format!(
        "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\
         <PublishResult><MessageId>{message_id}</MessageId></PublishResult>\
         <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>\
         </PublishResponse>"
    );
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}
