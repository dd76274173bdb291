//! In-memory Databricks workspace for integration tests: Jobs API 2.1
//! `run-now`, `runs/submit`, `runs/get`, `runs/cancel` and the OAuth M2M
//! token endpoint, in the documented shapes, with scripted run life cycles,
//! idempotency tokens, auth checks, fault injection and call counts.
//! Depends on axum, tokio and serde_json only, never on airless.

// Each test binary uses a different subset of the inspection helpers.
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The personal access token the fake accepts from the start.
pub const TOKEN: &str = "dapi-fake-0123456789abcdef";
/// The service principal the fake knows from the start.
pub const CLIENT_ID: &str = "fake-service-principal";
pub const CLIENT_SECRET: &str = "dose-fake-client-secret";

/// A route of the fake, for call counts, recorded bodies and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    RunNow,
    Submit,
    GetRun,
    Cancel,
    /// `POST /oidc/v1/token`.
    Token,
}

/// A canned failure answered instead of the real reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 `REQUEST_LIMIT_EXCEEDED`, with `Retry-After: S` when given.
    TooManyRequests { retry_after: Option<u64> },
    /// 503 `TEMPORARILY_UNAVAILABLE`, with `Retry-After: S` when given.
    Unavailable { retry_after: Option<u64> },
    /// 500 `INTERNAL_ERROR`.
    ServerError,
}

/// How a run created by the fake proceeds: each `runs/get` reports the next
/// of `states`, then the terminal state with `result` and `state_message`
/// (or, with `hold`, the last of `states` until the test finishes or
/// cancels the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunScript {
    pub states: Vec<String>,
    /// TERMINATED, or SKIPPED / INTERNAL_ERROR.
    pub terminal_state: String,
    /// SUCCESS, FAILED, TIMEDOUT, CANCELED, …
    pub result: String,
    pub state_message: String,
    pub hold: bool,
}

impl RunScript {
    /// QUEUED → PENDING → RUNNING → TERMINATING → TERMINATED with `result`.
    pub fn ends(result: &str, state_message: &str) -> Self {
        Self {
            states: ["QUEUED", "PENDING", "RUNNING", "TERMINATING"]
                .map(str::to_owned)
                .to_vec(),
            terminal_state: "TERMINATED".to_owned(),
            result: result.to_owned(),
            state_message: state_message.to_owned(),
            hold: false,
        }
    }

    pub fn succeeds() -> Self {
        Self::ends("SUCCESS", "")
    }

    pub fn fails(state_message: &str) -> Self {
        Self::ends("FAILED", state_message)
    }

    /// PENDING → RUNNING, then RUNNING until [`FakeDatabricks::finish_run`]
    /// or a cancel.
    pub fn runs_until_finished() -> Self {
        Self {
            states: vec!["PENDING".to_owned(), "RUNNING".to_owned()],
            hold: true,
            ..Self::succeeds()
        }
    }

    /// Replaces the non-terminal states reported before the end.
    pub fn with_states(mut self, states: &[&str]) -> Self {
        self.states = states.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

/// A run as the fake sees it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub run_id: i64,
    pub job_id: Option<i64>,
    pub run_name: String,
    /// The state the last `runs/get` reported (the first state before any).
    pub life_cycle_state: String,
    pub finished: bool,
    pub cancelled: bool,
    pub gets: usize,
    /// The request that created the run.
    pub request: Value,
}

#[derive(Debug)]
struct Run {
    run_id: i64,
    job_id: Option<i64>,
    run_name: String,
    upcoming: VecDeque<String>,
    last: String,
    hold: bool,
    terminal_state: String,
    result: String,
    message: String,
    finished: bool,
    cancelled: bool,
    gets: usize,
    request: Value,
}

#[derive(Debug)]
struct FakeState {
    base_url: String,
    valid_tokens: HashSet<String>,
    /// client_id -> client_secret.
    clients: HashMap<String, String>,
    issued_tokens: Vec<String>,
    token_lifetime: u64,
    jobs: BTreeSet<i64>,
    runs: Vec<Run>,
    /// idempotency_token -> run_id, shared by submit and run-now.
    idempotency: HashMap<String, i64>,
    next_scripts: VecDeque<RunScript>,
    default_script: RunScript,
    next_run_id: i64,
    /// Faults in order; `None` matches any route.
    faults: VecDeque<(Option<Route>, Fault)>,
    calls: HashMap<Route, usize>,
    bodies: HashMap<Route, Vec<Value>>,
    bearers: Vec<String>,
    legacy_replies: bool,
    /// Submits create their run, then never answer (a crash test kills the
    /// client while it waits).
    stall_submits: bool,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake workspace on `127.0.0.1`; stops when dropped.
pub struct FakeDatabricks {
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDatabricks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDatabricks {
    /// Binds `127.0.0.1:0` and serves in a tokio task. Accepts [`TOKEN`]
    /// and the client [`CLIENT_ID`] / [`CLIENT_SECRET`]; knows no jobs.
    pub async fn start() -> Self {
        let (listener, base_url) = super::listen("databricks").await;
        let state = Arc::new(Mutex::new(FakeState {
            base_url: base_url.clone(),
            valid_tokens: HashSet::from([TOKEN.to_owned()]),
            clients: HashMap::from([(CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())]),
            issued_tokens: Vec::new(),
            token_lifetime: 3600,
            jobs: BTreeSet::new(),
            runs: Vec::new(),
            idempotency: HashMap::new(),
            next_scripts: VecDeque::new(),
            default_script: RunScript::succeeds(),
            // Past 2^32, as real run ids are.
            next_run_id: 7_000_000_001,
            faults: VecDeque::new(),
            calls: HashMap::new(),
            bodies: HashMap::new(),
            bearers: Vec::new(),
            legacy_replies: false,
            stall_submits: false,
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

    /// Also accept this bearer token.
    pub fn accept_token(&self, token: &str) {
        self.lock().valid_tokens.insert(token.to_owned());
    }

    /// Also accept this service principal at the token endpoint.
    pub fn accept_client(&self, client_id: &str, client_secret: &str) {
        self.lock()
            .clients
            .insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// `expires_in` of issued access tokens (default 3600).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.lock().token_lifetime = seconds;
    }

    /// Access tokens issued so far, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued_tokens.clone()
    }

    /// Every issued access token stops working (401), as after expiry.
    pub fn revoke_issued_tokens(&self) {
        let mut state = self.lock();
        let issued = state.issued_tokens.clone();
        for token in issued {
            state.valid_tokens.remove(&token);
        }
    }

    /// A job `run-now` may trigger (others get 400 "does not exist").
    pub fn add_job(&self, job_id: i64) {
        self.lock().jobs.insert(job_id);
    }

    /// The next created run follows `script` (queued: one per new run).
    pub fn script_next_run(&self, script: RunScript) {
        self.lock().next_scripts.push_back(script);
    }

    /// Runs with no queued script follow this one (default: succeeds).
    pub fn set_default_script(&self, script: RunScript) {
        self.lock().default_script = script;
    }

    /// Ends a run at its next `runs/get`, with `result` and `message`.
    pub fn finish_run(&self, run_id: i64, result: &str, message: &str) {
        let mut state = self.lock();
        if let Some(run) = state.runs.iter_mut().find(|r| r.run_id == run_id) {
            run.upcoming.clear();
            run.hold = false;
            run.result = result.to_owned();
            run.message = message.to_owned();
        }
    }

    /// Replies without the newer `status` object, as older workspaces do.
    /// Submits still create (or find) their run but their reply never comes:
    /// the client cannot learn the run id from this answer.
    pub fn stall_submits(&self, stall: bool) {
        self.lock().stall_submits = stall;
    }

    pub fn set_legacy_replies(&self, legacy: bool) {
        self.lock().legacy_replies = legacy;
    }

    /// The next `n` requests, whatever their route, answer `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut state = self.lock();
        for _ in 0..n {
            state.faults.push_back((None, fault));
        }
    }

    /// The next `n` requests to `route` answer `fault`.
    pub fn fail_next_on(&self, route: Route, n: usize, fault: Fault) {
        let mut state = self.lock();
        for _ in 0..n {
            state.faults.push_back((Some(route), fault));
        }
    }

    /// Requests that reached `route`, faulted or not.
    pub fn calls(&self, route: Route) -> usize {
        self.lock().calls.get(&route).copied().unwrap_or(0)
    }

    /// JSON bodies sent to `route` in order, faulted or not (for `runs/get`,
    /// `{"run_id": …}` from the query).
    pub fn requests(&self, route: Route) -> Vec<Value> {
        self.lock().bodies.get(&route).cloned().unwrap_or_default()
    }

    /// Bodies of `runs/submit` requests, retries and duplicates included.
    pub fn submitted(&self) -> Vec<Value> {
        self.requests(Route::Submit)
    }

    /// The bearer token of every Jobs API request, in order.
    pub fn bearers(&self) -> Vec<String> {
        self.lock().bearers.clone()
    }

    /// Runs created (a repeated idempotency token creates none).
    pub fn runs(&self) -> Vec<RunView> {
        self.lock().runs.iter().map(view).collect()
    }

    pub fn run(&self, run_id: i64) -> Option<RunView> {
        self.lock()
            .runs
            .iter()
            .find(|r| r.run_id == run_id)
            .map(view)
    }

    /// Ids of runs a `runs/cancel` reached before they ended.
    pub fn cancelled_runs(&self) -> Vec<i64> {
        self.lock()
            .runs
            .iter()
            .filter(|r| r.cancelled)
            .map(|r| r.run_id)
            .collect()
    }
}

fn view(run: &Run) -> RunView {
    RunView {
        run_id: run.run_id,
        job_id: run.job_id,
        run_name: run.run_name.clone(),
        life_cycle_state: if run.finished {
            run.terminal_state.clone()
        } else {
            run.last.clone()
        },
        finished: run.finished,
        cancelled: run.cancelled,
        gets: run.gets,
        request: run.request.clone(),
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/2.1/jobs/run-now", post(run_now))
        .route("/api/2.1/jobs/runs/submit", post(submit_or_stall))
        .route("/api/2.1/jobs/runs/get", get(get_run))
        .route("/api/2.1/jobs/runs/cancel", post(cancel))
        .route("/oidc/v1/token", post(token))
        .with_state(state)
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// An error reply: a status, Databricks' (or OAuth's) JSON body, and
/// `Retry-After` for throttling faults.
#[derive(Debug)]
struct Reject {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

fn error(status: StatusCode, error_code: &str, message: &str) -> Reject {
    Reject {
        status,
        body: json!({ "error_code": error_code, "message": message }),
        retry_after: None,
    }
}

fn invalid_reply(message: &str) -> Response {
    invalid(message).into_response()
}

fn invalid(message: &str) -> Reject {
    error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Counts the call, records the body, answers the first matching fault.
fn enter(state: &mut FakeState, route: Route, body: &Value) -> Result<(), Reject> {
    *state.calls.entry(route).or_default() += 1;
    state.bodies.entry(route).or_default().push(body.clone());
    let Some(index) = state
        .faults
        .iter()
        .position(|(r, _)| r.is_none_or(|r| r == route))
    else {
        return Ok(());
    };
    let Some((_, fault)) = state.faults.remove(index) else {
        return Ok(());
    };
    let (status, code, message, retry_after) = match fault {
        Fault::TooManyRequests { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "Too many requests. Please wait a moment and try again.",
            retry_after,
        ),
        Fault::Unavailable { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            "The service is temporarily unavailable.",
            retry_after,
        ),
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error.",
            None,
        ),
    };
    Err(Reject {
        retry_after,
        ..error(status, code, message)
    })
}

/// 401 without a bearer token, 403 with an unknown one.
fn authorize(state: &mut FakeState, headers: &HeaderMap) -> Result<(), Reject> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        ));
    };
    state.bearers.push(bearer.to_owned());
    if state.valid_tokens.contains(bearer) {
        Ok(())
    } else if state.issued_tokens.iter().any(|t| t == bearer) {
        Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Token expired.",
        ))
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Invalid access token.",
        ))
    }
}

fn parse_body(body: &Bytes) -> Result<Value, Reject> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            "Invalid JSON given in the body of the request - expected a map",
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            &format!("Could not parse request object: {e}"),
        )),
    }
}

/// Runs the common prologue: parse, count, faults, auth.
fn begin(
    state: &mut FakeState,
    route: Route,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Value, Reject> {
    let parsed = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    enter(state, route, &parsed)?;
    authorize(state, headers)?;
    parse_body(body)
}

fn check_idempotency_token(body: &Value) -> Result<Option<String>, Reject> {
    match body.get("idempotency_token") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(token)) if token.len() <= 64 => Ok(Some(token.clone())),
        Some(Value::String(_)) => Err(invalid(
            "idempotency_token must be at most 64 characters long",
        )),
        Some(_) => Err(invalid("idempotency_token must be a string")),
    }
}

fn check_string_map(value: Option<&Value>, field: &str) -> Result<(), Reject> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) if map.values().all(Value::is_string) => Ok(()),
        Some(_) => Err(invalid(&format!(
            "Invalid value for {field}: expected a map of string to string"
        ))),
    }
}

fn create_run(state: &mut FakeState, job_id: Option<i64>, run_name: String, request: Value) -> i64 {
    let script = state
        .next_scripts
        .pop_front()
        .unwrap_or_else(|| state.default_script.clone());
    let run_id = state.next_run_id;
    state.next_run_id += 1;
    let upcoming: VecDeque<String> = script.states.into();
    let last = upcoming
        .front()
        .cloned()
        .unwrap_or_else(|| "PENDING".to_owned());
    state.runs.push(Run {
        run_id,
        job_id,
        run_name,
        upcoming,
        last,
        hold: script.hold,
        terminal_state: script.terminal_state,
        result: script.result,
        message: script.state_message,
        finished: false,
        cancelled: false,
        gets: 0,
        request,
    });
    run_id
}

async fn run_now(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let body = match begin(&mut state, Route::RunNow, &headers, &body) {
        Ok(body) => body,
        Err(r) => return r.into_response(),
    };
    let Some(job_id) = body.get("job_id").and_then(Value::as_i64) else {
        return invalid_reply("Missing required field: job_id");
    };
    if let Err(r) = check_string_map(body.get("job_parameters"), "job_parameters")
        .and_then(|()| check_string_map(body.get("notebook_params"), "notebook_params"))
    {
        return r.into_response();
    }
    let token = match check_idempotency_token(&body) {
        Ok(token) => token,
        Err(r) => return r.into_response(),
    };
    if !state.jobs.contains(&job_id) {
        return invalid_reply(&format!("Job {job_id} does not exist."));
    }
    if let Some(run_id) = token.as_ref().and_then(|t| state.idempotency.get(t)) {
        return ok(json!({ "run_id": run_id, "number_in_job": run_id }));
    }
    let run_id = create_run(&mut state, Some(job_id), format!("job {job_id}"), body);
    if let Some(token) = token {
        state.idempotency.insert(token, run_id);
    }
    ok(json!({ "run_id": run_id, "number_in_job": run_id }))
}

async fn submit_or_stall(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let response = submit(State(state.clone()), headers, body).await;
    let stall = lock(&state).stall_submits;
    if stall {
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
    response
}

async fn submit(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let body = match begin(&mut state, Route::Submit, &headers, &body) {
        Ok(body) => body,
        Err(r) => return r.into_response(),
    };
    let Some(tasks) = body
        .get("tasks")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    else {
        return invalid_reply("At least one task is required.");
    };
    for task in tasks {
        if task
            .get("task_key")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return invalid_reply("Missing required field: task_key");
        }
        let Some(notebook) = task.get("notebook_task") else {
            return invalid_reply("The fake supports notebook_task only");
        };
        match notebook.get("notebook_path").and_then(Value::as_str) {
            Some(path) if path.starts_with('/') => {}
            Some(path) => {
                return invalid_reply(&format!(
                    "Invalid notebook_path: {path}. Only absolute paths are currently supported. Paths must begin with '/'."
                ));
            }
            None => return invalid_reply("Missing required field: notebook_path"),
        }
        if let Err(r) = check_string_map(notebook.get("base_parameters"), "base_parameters") {
            return r.into_response();
        }
        let existing = task.get("existing_cluster_id").and_then(Value::as_str);
        let new = task.get("new_cluster").filter(|c| c.is_object());
        match (existing, new) {
            (Some(_), Some(_)) => {
                return invalid_reply(
                    "Only one of existing_cluster_id and new_cluster may be set.",
                );
            }
            (None, None) => {
                return invalid_reply(
                    "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified.",
                );
            }
            _ => {}
        }
    }
    let token = match check_idempotency_token(&body) {
        Ok(token) => token,
        Err(r) => return r.into_response(),
    };
    if let Some(run_id) = token.as_ref().and_then(|t| state.idempotency.get(t)) {
        return ok(json!({ "run_id": run_id }));
    }
    let run_name = body
        .get("run_name")
        .and_then(Value::as_str)
        .unwrap_or("Untitled")
        .to_owned();
    let run_id = create_run(&mut state, None, run_name, body);
    if let Some(token) = token {
        state.idempotency.insert(token, run_id);
    }
    ok(json!({ "run_id": run_id }))
}

fn query_run_id(query: Option<&str>) -> Option<i64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("run_id="))
        .and_then(|v| v.parse().ok())
}

async fn get_run(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut guard = lock(&state);
    let state = &mut *guard;
    let run_id = query_run_id(query.as_deref());
    let recorded = json!({ "run_id": run_id });
    if let Err(r) = enter(state, Route::GetRun, &recorded) {
        return r.into_response();
    }
    if let Err(r) = authorize(state, &headers) {
        return r.into_response();
    }
    let Some(run_id) = run_id else {
        return invalid_reply("Missing required field: run_id");
    };
    let base_url = state.base_url.clone();
    let legacy = state.legacy_replies;
    let Some(run) = state.runs.iter_mut().find(|r| r.run_id == run_id) else {
        return invalid_reply(&format!("Run {run_id} does not exist."));
    };
    run.gets += 1;
    if !run.finished {
        if let Some(next) = run.upcoming.pop_front() {
            run.last = next;
        } else if !run.hold {
            run.finished = true;
        }
    }
    ok(run_json(run, &base_url, legacy))
}

fn run_json(run: &Run, base_url: &str, legacy: bool) -> Value {
    let life_cycle_state = if run.finished {
        run.terminal_state.as_str()
    } else {
        run.last.as_str()
    };
    let mut state = json!({
        "life_cycle_state": life_cycle_state,
        "state_message": if run.finished { run.message.as_str() } else { "" },
        "user_cancelled_or_timedout": run.finished && (run.cancelled || run.result == "TIMEDOUT"),
    });
    let mut status = json!({
        "state": if run.finished { "TERMINATED" } else { life_cycle_state },
    });
    if run.finished {
        state["result_state"] = json!(run.result);
        let (code, kind) = match (run.terminal_state.as_str(), run.result.as_str()) {
            ("SKIPPED", _) => ("SKIPPED", "SUCCESS"),
            ("INTERNAL_ERROR", _) => ("INTERNAL_ERROR", "INTERNAL_ERROR"),
            (_, "SUCCESS") => ("SUCCESS", "SUCCESS"),
            (_, "CANCELED") => ("USER_CANCELED", "SUCCESS"),
            (_, "TIMEDOUT") => ("CANCELED", "CLIENT_ERROR"),
            _ => ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
        };
        status["termination_details"] =
            json!({ "code": code, "type": kind, "message": run.message });
    }
    let mut reply = json!({
        "run_id": run.run_id,
        "number_in_job": run.run_id,
        "run_name": run.run_name,
        "run_page_url": format!("{base_url}/#job/{}/run/{}", run.job_id.unwrap_or(0), run.run_id),
        "run_type": if run.job_id.is_some() { "JOB_RUN" } else { "SUBMIT_RUN" },
        "state": state,
    });
    if let Some(job_id) = run.job_id {
        reply["job_id"] = json!(job_id);
    }
    if !legacy {
        reply["status"] = status;
    }
    reply
}

async fn cancel(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let body = match begin(&mut state, Route::Cancel, &headers, &body) {
        Ok(body) => body,
        Err(r) => return r.into_response(),
    };
    let Some(run_id) = body.get("run_id").and_then(Value::as_i64) else {
        return invalid_reply("Missing required field: run_id");
    };
    let Some(run) = state.runs.iter_mut().find(|r| r.run_id == run_id) else {
        return invalid_reply(&format!("Run {run_id} does not exist."));
    };
    // Cancelling an ended run is a no-op, as in Databricks.
    if !run.finished {
        run.cancelled = true;
        run.hold = false;
        run.upcoming = VecDeque::from(["TERMINATING".to_owned()]);
        run.result = "CANCELED".to_owned();
        run.message = "Run cancelled.".to_owned();
    }
    ok(json!({}))
}

async fn token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let form = String::from_utf8_lossy(&body).into_owned();
    let recorded = json!({ "form": form });
    if let Err(r) = enter(&mut state, Route::Token, &recorded) {
        return r.into_response();
    }
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": error, "error_description": description }).to_string(),
        )
            .into_response()
    };
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let fields: HashMap<&str, &str> = form
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    if fields.get("grant_type") != Some(&"client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .unwrap_or_default()
        .to_owned();
    let known = state
        .clients
        .iter()
        .any(|(id, secret)| base64(format!("{id}:{secret}").as_bytes()) == basic);
    if !known {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let access_token = format!("fake-oauth-access-{}", state.issued_tokens.len() + 1);
    state.issued_tokens.push(access_token.clone());
    state.valid_tokens.insert(access_token.clone());
    ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "scope": fields.get("scope").copied().unwrap_or("all-apis"),
        "expires_in": state.token_lifetime,
    }))
}

/// Standard base64 with padding, enough to compare Basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
