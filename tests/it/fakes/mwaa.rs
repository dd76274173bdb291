//! In-memory AWS MWAA for integration tests: `GetEnvironment` and
//! `InvokeRestApi` over REST-JSON as aws-sdk-mwaa calls them, with an
//! Airflow 2 or 3 REST API behind InvokeRestApi that answers `GET /dags` and
//! `GET /dags/{dag_id}/dagRuns` (limit, offset, order_by, a page cap).
//! Requires SigV4 for the `airflow` service; injects IAM and Airflow-role
//! refusals. Depends on axum, tokio and serde_json only, never on airless.

// Each test uses a different subset of the inspection helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The account in every ARN the fake makes up.
pub const ACCOUNT: &str = "123456789012";

/// A route of the fake, for call counts and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    GetEnvironment,
    InvokeRestApi,
}

/// An environment as GetEnvironment describes it.
#[derive(Debug, Clone)]
pub struct FakeEnvironment {
    pub name: String,
    /// `2.10.3`, `3.0.6`: decides the Airflow API dialect too.
    pub airflow_version: String,
    pub source_bucket_arn: String,
    pub dag_s3_path: String,
}

impl FakeEnvironment {
    pub fn new(name: &str, airflow_version: &str, bucket: &str, dag_s3_path: &str) -> Self {
        Self {
            name: name.to_owned(),
            airflow_version: airflow_version.to_owned(),
            source_bucket_arn: format!("arn:aws:s3:::{bucket}"),
            dag_s3_path: dag_s3_path.to_owned(),
        }
    }

    fn is_airflow3(&self) -> bool {
        self.airflow_version.starts_with('3')
    }
}

/// A DAG run. Dates are RFC 3339 in UTC, all in one spelling (they are
/// compared as text), such as `2024-03-01T06:00:00+00:00`.
#[derive(Debug, Clone)]
pub struct FakeDagRun {
    pub run_id: String,
    /// `scheduled`, `manual`, `backfill`, `dataset_triggered`…
    pub run_type: String,
    /// `None` only for Airflow 3 manual runs.
    pub logical_date: Option<String>,
    pub data_interval_start: Option<String>,
    pub data_interval_end: Option<String>,
    pub state: String,
}

impl FakeDagRun {
    /// A successful scheduled run of the interval `[start, end)`.
    pub fn scheduled(start: &str, end: &str) -> Self {
        Self {
            run_id: format!("scheduled__{start}"),
            run_type: "scheduled".to_owned(),
            logical_date: Some(start.to_owned()),
            data_interval_start: Some(start.to_owned()),
            data_interval_end: Some(end.to_owned()),
            state: "success".to_owned(),
        }
    }

    /// A backfill run of `[start, end)`.
    pub fn backfill(start: &str, end: &str) -> Self {
        Self {
            run_id: format!("backfill__{start}"),
            run_type: "backfill".to_owned(),
            ..Self::scheduled(start, end)
        }
    }

    /// A run triggered by hand at `at`; its interval is the instant `at`.
    pub fn manual(at: &str) -> Self {
        Self {
            run_id: format!("manual__{at}"),
            run_type: "manual".to_owned(),
            logical_date: Some(at.to_owned()),
            data_interval_start: Some(at.to_owned()),
            data_interval_end: Some(at.to_owned()),
            state: "success".to_owned(),
        }
    }
}

/// One InvokeRestApi call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RestCall {
    pub environment: String,
    pub method: String,
    pub path: String,
    pub query: Value,
}

#[derive(Debug, Clone)]
struct FakeDag {
    dag_id: String,
    is_paused: bool,
    schedule: Option<String>,
    runs: Vec<FakeDagRun>,
}

#[derive(Debug)]
struct FakeState {
    environments: BTreeMap<String, FakeEnvironment>,
    /// environment -> dag_id -> DAG.
    dags: HashMap<String, BTreeMap<String, FakeDag>>,
    denied: HashSet<Route>,
    /// Airflow answers 403 to paths starting with one of these.
    forbidden_paths: Vec<String>,
    /// Airflow's `maximum_page_limit`.
    max_page_limit: usize,
    calls: HashMap<Route, usize>,
    rest_calls: Vec<RestCall>,
    unsigned: usize,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake MWAA on `127.0.0.1`; stops when dropped.
pub struct FakeMwaa {
    /// `http://127.0.0.1:<port>`: the SDK's endpoint (its `api.` / `env.`
    /// host labels must be stripped for it).
    pub base_url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMwaa {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeMwaa {
    /// Binds `127.0.0.1:0` and serves in a tokio task.
    pub async fn start() -> Self {
        let (listener, base_url) = super::listen("MWAA").await;
        let state = Arc::new(Mutex::new(FakeState {
            environments: BTreeMap::new(),
            dags: HashMap::new(),
            denied: HashSet::new(),
            forbidden_paths: Vec::new(),
            max_page_limit: 100,
            calls: HashMap::new(),
            rest_calls: Vec::new(),
            unsigned: 0,
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

    pub fn add_environment(&self, environment: FakeEnvironment) {
        let mut state = self.lock();
        state.dags.entry(environment.name.clone()).or_default();
        state
            .environments
            .insert(environment.name.clone(), environment);
    }

    /// A DAG Airflow has parsed; `schedule` is a cron or preset, `None` for
    /// an unscheduled DAG.
    pub fn add_dag(
        &self,
        environment: &str,
        dag_id: &str,
        is_paused: bool,
        schedule: Option<&str>,
    ) {
        self.lock()
            .dags
            .entry(environment.to_owned())
            .or_default()
            .insert(
                dag_id.to_owned(),
                FakeDag {
                    dag_id: dag_id.to_owned(),
                    is_paused,
                    schedule: schedule.map(str::to_owned),
                    runs: Vec::new(),
                },
            );
    }

    /// Records a run of an existing DAG.
    pub fn add_run(&self, environment: &str, dag_id: &str, run: FakeDagRun) {
        let mut state = self.lock();
        let dag = state
            .dags
            .get_mut(environment)
            .and_then(|dags| dags.get_mut(dag_id))
            .expect("add_dag before add_run");
        dag.runs.push(run);
    }

    /// IAM refuses every call to `route` (AccessDeniedException).
    pub fn deny(&self, route: Route) {
        self.lock().denied.insert(route);
    }

    /// Airflow answers 403 to every REST path starting with `prefix`, as it
    /// does when the caller's Airflow role lacks the permission.
    pub fn forbid_rest_path(&self, prefix: &str) {
        self.lock().forbidden_paths.push(prefix.to_owned());
    }

    /// Airflow's `maximum_page_limit`: larger limits are capped to it.
    pub fn set_max_page_limit(&self, limit: usize) {
        self.lock().max_page_limit = limit.max(1);
    }

    pub fn calls(&self, route: Route) -> usize {
        self.lock().calls.get(&route).copied().unwrap_or(0)
    }

    /// Every InvokeRestApi call, in arrival order.
    pub fn rest_calls(&self) -> Vec<RestCall> {
        self.lock().rest_calls.clone()
    }

    /// Requests refused for a missing or non-`airflow` SigV4 signature.
    pub fn unsigned_requests(&self) -> usize {
        self.lock().unsigned
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/environments/{name}", get(get_environment))
        .route("/restapi/{name}", post(invoke_rest_api))
        .fallback(|| async {
            aws_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "no such operation",
            )
        })
        .with_state(state)
}

fn lock(state: &Shared) -> MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// An AWS REST-JSON error: the code in `x-amzn-errortype` and `__type`.
fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    aws_error_body(status, code, json!({ "Message": message }))
}

fn aws_error_body(status: StatusCode, code: &str, mut body: Value) -> Response {
    body["__type"] = json!(code);
    (
        status,
        [
            ("x-amzn-errortype", code.to_owned()),
            (header::CONTENT_TYPE.as_str(), "application/json".to_owned()),
        ],
        body.to_string(),
    )
        .into_response()
}

fn ok_json(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Why a request's signature was refused: an AWS error code and message.
type Refusal = (&'static str, &'static str);

/// The region of a SigV4 `airflow` signature, or why it is refused (403).
fn check_signature(state: &Shared, headers: &HeaderMap) -> Result<String, Refusal> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // `AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/airflow/aws4_request, …`
    let scope: Vec<&str> = authorization
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .and_then(|rest| rest.split(',').next())
        .map(|credential| credential.split('/').collect())
        .unwrap_or_default();
    let refusal = match scope.as_slice() {
        [_, _, region, "airflow", "aws4_request"] if headers.contains_key("x-amz-date") => {
            return Ok((*region).to_owned());
        }
        [] => (
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
        _ => (
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'airflow'",
        ),
    };
    lock(state).unsigned += 1;
    Err(refusal)
}

fn refuse((code, message): Refusal) -> Response {
    aws_error(StatusCode::FORBIDDEN, code, message)
}

fn access_denied(action: &str, resource: &str) -> Response {
    aws_error(
        StatusCode::FORBIDDEN,
        "AccessDeniedException",
        &format!(
            "User: arn:aws:iam::{ACCOUNT}:user/porter is not authorized to perform: \
             {action} on resource: {resource}"
        ),
    )
}

fn environment_arn(region: &str, name: &str) -> String {
    format!("arn:aws:airflow:{region}:{ACCOUNT}:environment/{name}")
}

async fn get_environment(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let region = match check_signature(&state, &headers) {
        Ok(region) => region,
        Err(refusal) => return refuse(refusal),
    };
    let mut guard = lock(&state);
    *guard.calls.entry(Route::GetEnvironment).or_default() += 1;
    let arn = environment_arn(&region, &name);
    if guard.denied.contains(&Route::GetEnvironment) {
        return access_denied("airflow:GetEnvironment", &arn);
    }
    let Some(env) = guard.environments.get(&name) else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Environment {name} was not found"),
        );
    };
    ok_json(json!({
        "Environment": {
            "Name": env.name,
            "Arn": arn,
            "Status": "AVAILABLE",
            "AirflowVersion": env.airflow_version,
            "SourceBucketArn": env.source_bucket_arn,
            "DagS3Path": env.dag_s3_path,
            "CreatedAt": 1_700_000_000,
            "EnvironmentClass": "mw1.small",
            "ExecutionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/mwaa-{name}"),
            "WebserverUrl": format!("{}.{region}.airflow.amazonaws.com", env.name),
            "WebserverAccessMode": "PRIVATE_ONLY",
            "MaxWorkers": 10,
            "MinWorkers": 1,
            "Schedulers": 2,
            "Tags": {},
        }
    }))
}

async fn invoke_rest_api(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let region = match check_signature(&state, &headers) {
        Ok(region) => region,
        Err(refusal) => return refuse(refusal),
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "body is not JSON",
        );
    };
    let method = request["Method"].as_str().unwrap_or_default().to_owned();
    let path = request["Path"].as_str().unwrap_or_default().to_owned();
    let query = request
        .get("QueryParameters")
        .cloned()
        .unwrap_or(Value::Null);
    if path.is_empty() || path.len() > 64 || method.is_empty() {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Path must be 1 to 64 characters and Method is required",
        );
    }

    let mut guard = lock(&state);
    *guard.calls.entry(Route::InvokeRestApi).or_default() += 1;
    guard.rest_calls.push(RestCall {
        environment: name.clone(),
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
    });
    if guard.denied.contains(&Route::InvokeRestApi) {
        let role = format!("arn:aws:airflow:{region}:{ACCOUNT}:role/{name}/User");
        return access_denied("airflow:InvokeRestApi", &role);
    }
    let Some(env) = guard.environments.get(&name).cloned() else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Environment {name} was not found"),
        );
    };
    if guard.forbidden_paths.iter().any(|p| path.starts_with(p)) {
        return airflow_reply(
            403,
            problem(
                &env,
                403,
                "Forbidden",
                "You do not have permission to access this resource",
            ),
        );
    }
    if method != "GET" {
        return airflow_reply(
            405,
            problem(&env, 405, "Method Not Allowed", "read-only fake"),
        );
    }

    let dags = guard.dags.get(&name).cloned().unwrap_or_default();
    let limit = param(&query, "limit")
        .unwrap_or(100)
        .min(guard.max_page_limit as u64) as usize;
    let offset = param(&query, "offset").unwrap_or(0) as usize;
    drop(guard);

    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["dags"] => {
            let page: Vec<Value> = dags
                .values()
                .skip(offset)
                .take(limit)
                .map(|dag| dag_json(&env, dag))
                .collect();
            airflow_reply(200, json!({ "dags": page, "total_entries": dags.len() }))
        }
        ["dags", dag_id, "dagRuns"] => {
            let Some(dag) = dags.get(*dag_id) else {
                return airflow_reply(
                    404,
                    problem(
                        &env,
                        404,
                        "DAG not found",
                        &format!("DAG with dag_id: '{dag_id}' not found"),
                    ),
                );
            };
            let mut runs = dag.runs.clone();
            if let Some(order_by) = query.get("order_by").and_then(Value::as_str) {
                let field = order_by.trim_start_matches('-');
                let date_field = if env.is_airflow3() {
                    "logical_date"
                } else {
                    "execution_date"
                };
                if field != date_field {
                    return airflow_reply(
                        400,
                        problem(
                            &env,
                            400,
                            "Bad Request",
                            &format!(
                                "Ordering with '{field}' is disallowed or the attribute does \
                                 not exist on the model"
                            ),
                        ),
                    );
                }
                // Postgres puts NULLs last ascending, so first descending.
                runs.sort_by(|a, b| match (&a.logical_date, &b.logical_date) {
                    (Some(a), Some(b)) => a.cmp(b),
                    (a, b) => b.is_some().cmp(&a.is_some()),
                });
                if order_by.starts_with('-') {
                    runs.reverse();
                }
            }
            let page: Vec<Value> = runs
                .iter()
                .skip(offset)
                .take(limit)
                .map(|run| run_json(&env, &dag.dag_id, run))
                .collect();
            airflow_reply(
                200,
                json!({ "dag_runs": page, "total_entries": runs.len() }),
            )
        }
        _ => airflow_reply(
            404,
            problem(&env, 404, "Not Found", "no such endpoint in the fake"),
        ),
    }
}

/// A number query parameter, sent as a JSON number or a string.
fn param(query: &Value, name: &str) -> Option<u64> {
    match query.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// MWAA's envelope: 2xx in InvokeRestApi's output, 4xx as
/// RestApiClientException, 5xx as RestApiServerException.
fn airflow_reply(status: u16, body: Value) -> Response {
    let envelope = json!({ "RestApiStatusCode": status, "RestApiResponse": body });
    match status {
        200..=299 => ok_json(envelope),
        400..=499 => aws_error_body(StatusCode::BAD_REQUEST, "RestApiClientException", envelope),
        _ => aws_error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "RestApiServerException",
            envelope,
        ),
    }
}

/// Airflow's problem+json error body.
fn problem(env: &FakeEnvironment, status: u16, title: &str, detail: &str) -> Value {
    json!({
        "detail": detail,
        "status": status,
        "title": title,
        "type": format!(
            "https://airflow.apache.org/docs/apache-airflow/{}/stable-rest-api-ref.html#section/Errors",
            env.airflow_version
        ),
    })
}

fn dag_json(env: &FakeEnvironment, dag: &FakeDag) -> Value {
    let fileloc = format!("/usr/local/airflow/dags/{}.py", dag.dag_id);
    if env.is_airflow3() {
        json!({
            "dag_id": dag.dag_id,
            "dag_display_name": dag.dag_id,
            "is_paused": dag.is_paused,
            "is_stale": false,
            "fileloc": fileloc,
            "owners": ["airflow"],
            "tags": [],
            "timetable_summary": dag.schedule,
            "timetable_description": dag.schedule,
            "max_active_runs": 16,
            "has_import_errors": false,
        })
    } else {
        json!({
            "dag_id": dag.dag_id,
            "dag_display_name": dag.dag_id,
            "root_dag_id": null,
            "is_paused": dag.is_paused,
            "is_active": true,
            "is_subdag": false,
            "fileloc": fileloc,
            "file_token": "Ii91c3IvbG9jYWwvYWlyZmxvdy9kYWdzIg",
            "owners": ["airflow"],
            "tags": [],
            "schedule_interval": dag.schedule.as_ref().map(|s| json!({
                "__type": "CronExpression",
                "value": s,
            })),
            "timetable_description": dag.schedule,
            "max_active_tasks": 16,
            "has_import_errors": false,
        })
    }
}

fn run_json(env: &FakeEnvironment, dag_id: &str, run: &FakeDagRun) -> Value {
    let mut value = json!({
        "dag_run_id": run.run_id,
        "dag_id": dag_id,
        "logical_date": run.logical_date,
        "start_date": run.data_interval_end,
        "end_date": run.data_interval_end,
        "data_interval_start": run.data_interval_start,
        "data_interval_end": run.data_interval_end,
        "last_scheduling_decision": run.data_interval_end,
        "run_type": run.run_type,
        "state": run.state,
        "conf": {},
        "note": null,
    });
    if env.is_airflow3() {
        value["run_after"] = json!(run.data_interval_end.as_ref().or(run.logical_date.as_ref()));
        value["triggered_by"] = json!(if run.run_type == "manual" {
            "rest_api"
        } else {
            "timetable"
        });
    } else {
        value["execution_date"] = json!(run.logical_date);
        value["external_trigger"] = json!(run.run_type == "manual");
    }
    value
}
