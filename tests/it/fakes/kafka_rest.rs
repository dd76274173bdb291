//! In-memory Kafka REST Proxy v2 (and API Gateway -> Kinesis PutRecord) for
//! integration tests: the documented request and reply shapes, one partition
//! (0) per topic, consumer groups with committed offsets, and fault injection.
//! Depends on axum, tokio and serde_json only, never on airless.

// Each test binary uses a different subset of the inspection helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};

const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
const V2: &str = "application/vnd.kafka.v2+json";

/// A route of the fake, for call counts and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    Produce,
    CreateConsumer,
    Subscribe,
    Fetch,
    Committed,
    Commit,
    DeleteConsumer,
    PartitionOffsets,
    PutRecord,
}

/// A record stored by the Kinesis route.
#[derive(Debug, Clone, PartialEq)]
pub struct KinesisRecord {
    pub data: Value,
    pub partition_key: String,
    pub sequence_number: String,
}

#[derive(Debug, Default)]
struct Instance {
    subscription: Vec<String>,
    /// Next offset to hand out per topic (partition 0), set on first fetch
    /// from the group's commit or the earliest offset.
    positions: HashMap<String, i64>,
}

#[derive(Debug)]
struct FakeState {
    base_url: String,
    topics: BTreeMap<String, Vec<Value>>,
    /// group -> topic -> committed next offset (partition 0).
    committed: HashMap<String, HashMap<String, i64>>,
    /// (group, instance) -> instance.
    instances: HashMap<(String, String), Instance>,
    streams: BTreeMap<String, Vec<KinesisRecord>>,
    max_records_per_fetch: usize,
    fail_next: usize,
    failing_routes: HashSet<Route>,
    /// Record indexes the next produce rejects, with (error_code, error).
    reject_in_next_produce: Option<(Vec<usize>, i64, String)>,
    calls: HashMap<Route, usize>,
    next_sequence: u64,
    next_instance: u64,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake proxy on `127.0.0.1`; stops when dropped.
pub struct FakeKafkaRest {
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKafkaRest {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeKafkaRest {
    /// Binds `127.0.0.1:0` and serves in a tokio task.
    pub async fn start() -> Self {
        let (listener, base_url) = super::listen("kafka rest proxy").await;
        let state = Arc::new(Mutex::new(FakeState {
            base_url: base_url.clone(),
            topics: BTreeMap::new(),
            committed: HashMap::new(),
            instances: HashMap::new(),
            streams: BTreeMap::new(),
            max_records_per_fetch: 500,
            fail_next: 0,
            failing_routes: HashSet::new(),
            reject_in_next_produce: None,
            calls: HashMap::new(),
            next_sequence: 1,
            next_instance: 1,
        }));
        let server = super::serve(listener, router(state.clone()));
        Self {
            base_url,
            state,
            server,
        }
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates an empty topic (producing also creates one).
    pub fn create_topic(&self, topic: &str) {
        self.lock().topics.entry(topic.to_owned()).or_default();
    }

    /// Appends records as if produced, bypassing HTTP and faults.
    pub fn seed(&self, topic: &str, values: impl IntoIterator<Item = Value>) {
        self.lock()
            .topics
            .entry(topic.to_owned())
            .or_default()
            .extend(values);
    }

    /// The values stored in partition 0 of `topic`, in offset order.
    pub fn topic(&self, topic: &str) -> Vec<Value> {
        self.lock().topics.get(topic).cloned().unwrap_or_default()
    }

    pub fn topic_names(&self) -> Vec<String> {
        self.lock().topics.keys().cloned().collect()
    }

    /// The group's committed next offset for partition 0 of `topic`.
    pub fn committed(&self, group: &str, topic: &str) -> Option<i64> {
        self.lock().committed.get(group)?.get(topic).copied()
    }

    /// Instance ids alive in `group`.
    pub fn instances(&self, group: &str) -> Vec<String> {
        let state = self.lock();
        let mut ids: Vec<_> = state
            .instances
            .keys()
            .filter(|(g, _)| g == group)
            .map(|(_, i)| i.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn kinesis_records(&self, stream: &str) -> Vec<KinesisRecord> {
        self.lock().streams.get(stream).cloned().unwrap_or_default()
    }

    /// Forgets an instance, as the proxy does after
    /// `consumer.instance.timeout.ms`: its next request gets 40403.
    pub fn expire_instance(&self, group: &str, instance: &str) {
        self.lock()
            .instances
            .remove(&(group.to_owned(), instance.to_owned()));
    }

    /// At most `n` records per fetch, so clients must loop.
    pub fn set_max_records_per_fetch(&self, n: usize) {
        self.lock().max_records_per_fetch = n.max(1);
    }

    /// The next `k` requests, whatever their route, answer 500.
    pub fn fail_next_requests(&self, k: usize) {
        self.lock().fail_next = k;
    }

    /// Every request to `route` answers 500 until [`Self::heal_route`].
    pub fn fail_route(&self, route: Route) {
        self.lock().failing_routes.insert(route);
    }

    pub fn heal_route(&self, route: Route) {
        self.lock().failing_routes.remove(&route);
    }

    /// The next produce rejects the records at `indexes` with this
    /// `error_code` (1 non-retriable, 2 retriable) and `error`; it stores
    /// the others, as the real proxy does.
    pub fn reject_records_in_next_produce(&self, indexes: &[usize], error_code: i64, error: &str) {
        self.lock().reject_in_next_produce = Some((indexes.to_vec(), error_code, error.to_owned()));
    }

    /// Requests seen by `route`, including ones answered with an injected 500.
    pub fn calls(&self, route: Route) -> usize {
        self.lock().calls.get(&route).copied().unwrap_or(0)
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/topics/{topic}", post(produce))
        .route(
            "/topics/{topic}/partitions/{partition}/offsets",
            get(partition_offsets),
        )
        .route("/consumers/{group}", post(create_consumer))
        .route(
            "/consumers/{group}/instances/{instance}",
            axum::routing::delete(delete_consumer),
        )
        .route(
            "/consumers/{group}/instances/{instance}/subscription",
            post(subscribe),
        )
        .route(
            "/consumers/{group}/instances/{instance}/records",
            get(fetch),
        )
        .route(
            "/consumers/{group}/instances/{instance}/offsets",
            get(committed).post(commit),
        )
        .route("/streams/{stream}/record", put(put_record))
        .with_state(state)
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts the call and answers an injected 500 if one is due.
fn enter(state: &mut FakeState, route: Route) -> Result<(), ProxyError> {
    *state.calls.entry(route).or_default() += 1;
    if state.failing_routes.contains(&route) {
        return Err(ProxyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50002,
            "Kafka error.",
        ));
    }
    if state.fail_next > 0 {
        state.fail_next -= 1;
        return Err(ProxyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            50003,
            "Retriable Kafka error.",
        ));
    }
    Ok(())
}

/// The proxy's error JSON, small enough to return in a `Result`.
struct ProxyError {
    status: StatusCode,
    error_code: i64,
    message: String,
}

impl ProxyError {
    fn new(status: StatusCode, error_code: i64, message: &str) -> Self {
        Self {
            status,
            error_code,
            message: message.to_owned(),
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        proxy_error(self.status, self.error_code, &self.message)
    }
}

fn proxy_error(status: StatusCode, error_code: i64, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, V2)],
        json!({ "error_code": error_code, "message": message }).to_string(),
    )
        .into_response()
}

fn reply(content_type: &'static str, body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn instance_not_found() -> Response {
    proxy_error(StatusCode::NOT_FOUND, 40403, "Consumer instance not found.")
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ProxyError> {
    serde_json::from_slice(body).map_err(|e| {
        ProxyError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            &format!("Unrecognized request body: {e}"),
        )
    })
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, expected: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|part| part.trim().starts_with(expected)))
}

async fn produce(
    State(state): State<Shared>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        records: Vec<Record>,
    }
    #[derive(Deserialize)]
    struct Record {
        value: Value,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::Produce) {
        return r.into_response();
    }
    if !header_is(&headers, header::CONTENT_TYPE, JSON_V2) {
        return proxy_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            "HTTP 415 Unsupported Media Type",
        );
    }
    let body: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    if body.records.is_empty() {
        return proxy_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            422,
            "records may not be empty",
        );
    }
    let rejections = state.reject_in_next_produce.take();
    let log = state.topics.entry(topic).or_default();
    let offsets: Vec<Value> = body
        .records
        .into_iter()
        .enumerate()
        .map(|(i, record)| match &rejections {
            Some((indexes, code, error)) if indexes.contains(&i) => json!({
                "partition": null, "offset": null, "error_code": code, "error": error
            }),
            _ => {
                log.push(record.value);
                json!({
                    "partition": 0, "offset": log.len() as i64 - 1,
                    "error_code": null, "error": null
                })
            }
        })
        .collect();
    reply(
        V2,
        json!({ "key_schema_id": null, "value_schema_id": null, "offsets": offsets }),
    )
}

async fn partition_offsets(
    State(state): State<Shared>,
    Path((topic, partition)): Path<(String, i32)>,
) -> Response {
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::PartitionOffsets) {
        return r.into_response();
    }
    let Some(log) = state.topics.get(&topic) else {
        return proxy_error(StatusCode::NOT_FOUND, 40401, "Topic not found.");
    };
    if partition != 0 {
        return proxy_error(StatusCode::NOT_FOUND, 40402, "Partition not found.");
    }
    reply(
        V2,
        json!({ "beginning_offset": 0, "end_offset": log.len() as i64 }),
    )
}

async fn create_consumer(
    State(state): State<Shared>,
    Path(group): Path<String>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        name: Option<String>,
        format: Option<String>,
        #[serde(rename = "auto.offset.reset")]
        auto_offset_reset: Option<String>,
        #[serde(rename = "auto.commit.enable")]
        auto_commit_enable: Option<String>,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::CreateConsumer) {
        return r.into_response();
    }
    let body: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    if body.format.as_deref() != Some("json") {
        return proxy_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
            "Invalid consumer configuration: the fake supports format json only",
        );
    }
    if body
        .auto_offset_reset
        .as_deref()
        .is_some_and(|r| r != "earliest")
        || body
            .auto_commit_enable
            .as_deref()
            .is_some_and(|c| c != "false")
    {
        return proxy_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
            "Invalid consumer configuration: the fake supports earliest and no auto commit only",
        );
    }
    let instance = match body.name {
        Some(name) => name,
        None => {
            state.next_instance += 1;
            format!("rest-consumer-{}", state.next_instance)
        }
    };
    let key = (group.clone(), instance.clone());
    if state.instances.contains_key(&key) {
        return proxy_error(
            StatusCode::CONFLICT,
            40902,
            "Consumer with specified consumer ID already exists in the specified consumer group.",
        );
    }
    state.instances.insert(key, Instance::default());
    let base_uri = format!("{}/consumers/{group}/instances/{instance}", state.base_url);
    reply(V2, json!({ "instance_id": instance, "base_uri": base_uri }))
}

async fn delete_consumer(
    State(state): State<Shared>,
    Path((group, instance)): Path<(String, String)>,
) -> Response {
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::DeleteConsumer) {
        return r.into_response();
    }
    match state.instances.remove(&(group, instance)) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => instance_not_found(),
    }
}

async fn subscribe(
    State(state): State<Shared>,
    Path((group, instance)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        topics: Vec<String>,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::Subscribe) {
        return r.into_response();
    }
    let body: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let Some(consumer) = state.instances.get_mut(&(group, instance)) else {
        return instance_not_found();
    };
    consumer.subscription = body.topics;
    consumer.positions.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct FetchQuery {
    timeout: Option<u64>,
    max_bytes: Option<usize>,
}

async fn fetch(
    State(state): State<Shared>,
    Path((group, instance)): Path<(String, String)>,
    Query(query): Query<FetchQuery>,
    headers: HeaderMap,
) -> Response {
    let _ = query.timeout; // records are all in memory: no need to wait
    let mut guard = lock(&state);
    let state = &mut *guard;
    if let Err(r) = enter(state, Route::Fetch) {
        return r.into_response();
    }
    let Some(consumer) = state.instances.get_mut(&(group.clone(), instance)) else {
        return instance_not_found();
    };
    if !header_is(&headers, header::ACCEPT, JSON_V2) {
        return proxy_error(
            StatusCode::NOT_ACCEPTABLE,
            40601,
            "The requested embedded data format does not match the deserializer for this consumer instance",
        );
    }
    let mut records = Vec::new();
    let mut bytes = 0usize;
    let max_bytes = query.max_bytes.unwrap_or(usize::MAX);
    'topics: for topic in &consumer.subscription {
        let Some(log) = state.topics.get(topic) else {
            continue;
        };
        let position = consumer.positions.entry(topic.clone()).or_insert_with(|| {
            state
                .committed
                .get(&group)
                .and_then(|c| c.get(topic))
                .copied()
                .unwrap_or(0)
        });
        while (*position as usize) < log.len() {
            let value = &log[*position as usize];
            let size = value.to_string().len();
            if records.len() >= state.max_records_per_fetch
                || (!records.is_empty() && bytes + size > max_bytes)
            {
                break 'topics;
            }
            bytes += size;
            records.push(json!({
                "topic": topic, "key": null, "value": value,
                "partition": 0, "offset": *position
            }));
            *position += 1;
        }
    }
    reply(JSON_V2, Value::Array(records))
}

async fn committed(
    State(state): State<Shared>,
    Path((group, instance)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        partitions: Vec<Partition>,
    }
    #[derive(Deserialize)]
    struct Partition {
        topic: String,
        partition: i32,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::Committed) {
        return r.into_response();
    }
    if !state.instances.contains_key(&(group.clone(), instance)) {
        return instance_not_found();
    }
    let body: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    // As the proxy: partitions the group never committed are left out.
    let offsets: Vec<Value> = body
        .partitions
        .iter()
        .filter(|p| p.partition == 0)
        .filter_map(|p| {
            let offset = state.committed.get(&group)?.get(&p.topic)?;
            Some(json!({
                "topic": p.topic, "partition": 0, "offset": offset, "metadata": ""
            }))
        })
        .collect();
    reply(V2, json!({ "offsets": offsets }))
}

async fn commit(
    State(state): State<Shared>,
    Path((group, instance)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        offsets: Vec<Offset>,
    }
    #[derive(Deserialize)]
    struct Offset {
        topic: String,
        partition: i32,
        offset: i64,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::Commit) {
        return r.into_response();
    }
    if !state.instances.contains_key(&(group.clone(), instance)) {
        return instance_not_found();
    }
    let body: Body = match parse(&body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    for o in body.offsets {
        if o.partition != 0 {
            return proxy_error(StatusCode::NOT_FOUND, 40402, "Partition not found.");
        }
        // The proxy commits `offset + 1`: the body names the last consumed
        // record, Kafka stores the next one to read.
        state
            .committed
            .entry(group.clone())
            .or_default()
            .insert(o.topic, o.offset + 1);
    }
    StatusCode::OK.into_response()
}

async fn put_record(
    State(state): State<Shared>,
    Path(stream): Path<String>,
    body: Bytes,
) -> Response {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "StreamName")]
        stream_name: String,
        #[serde(rename = "Data")]
        data: Value,
        #[serde(rename = "PartitionKey")]
        partition_key: String,
    }
    let mut state = lock(&state);
    if let Err(r) = enter(&mut state, Route::PutRecord) {
        return r.into_response();
    }
    let body: Body = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                json!({ "message": format!("Invalid request body: {e}") }).to_string(),
            )
                .into_response();
        }
    };
    if body.stream_name != stream {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!({
                "__type": "ValidationException",
                "message": format!("StreamName {} does not match the path stream {stream}", body.stream_name)
            })
            .to_string(),
        )
            .into_response();
    }
    let sequence_number = format!("4959{:052}", state.next_sequence);
    state.next_sequence += 1;
    state
        .streams
        .entry(stream)
        .or_default()
        .push(KinesisRecord {
            data: body.data,
            partition_key: body.partition_key,
            sequence_number: sequence_number.clone(),
        });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "SequenceNumber": sequence_number, "ShardId": "shardId-000000000000" }).to_string(),
    )
        .into_response()
}
