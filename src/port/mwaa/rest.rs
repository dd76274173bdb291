//! Airflow's REST API through MWAA's InvokeRestApi: `GET /dags` for each
//! DAG's paused state and `GET /dags/{dag_id}/dagRuns` for its last
//! scheduled run. Read-only; pages through every list. Depends on
//! aws-sdk-mwaa and serde_json only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_mwaa::Client;
use aws_sdk_mwaa::error::ProvideErrorMetadata;
use aws_sdk_mwaa::operation::invoke_rest_api::InvokeRestApiError;
use aws_sdk_mwaa::types::RestApiMethod;
use aws_smithy_types::{Document, Number};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::debug;

use super::{MwaaError, aws_failure, service_detail};
use crate::port::{LastRun, LiveState};

/// InvokeRestApi rejects a longer `Path`.
const MAX_PATH_LEN: usize = 64;
/// Airflow's default `maximum_page_limit`; it caps larger limits anyway.
const DAGS_PAGE: u64 = 100;
/// Most DAGs' newest run is scheduled, so a small first page usually ends
/// the search; manual runs past it are paged through.
const RUNS_PAGE: u64 = 25;
/// DAG-run look-ups in flight at once; MWAA's web server throttles more.
const CONCURRENT_LOOKUPS: usize = 4;

/// How the REST API spells things in the environment's Airflow line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Airflow 2's stable API (`/api/v1`): runs sort by `execution_date`.
    Airflow2,
    /// Airflow 3's API (`/api/v2`): `execution_date` is gone, runs sort by
    /// `logical_date`, which manual runs may leave null.
    Airflow3,
}

impl Dialect {
    /// From GetEnvironment's AirflowVersion (`2.10.3`, `3.0.6`); anything
    /// unreadable is taken as Airflow 2, the line every MWAA version before
    /// 3.0 belongs to.
    pub(super) fn from_version(version: &str) -> Dialect {
        let major = version
            .trim()
            .trim_start_matches(['v', 'V'])
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(m) if m >= 3 => Dialect::Airflow3,
            _ => Dialect::Airflow2,
        }
    }

    fn newest_first(self) -> &'static str {
        match self {
            Dialect::Airflow2 => "-execution_date",
            Dialect::Airflow3 => "-logical_date",
        }
    }
}

/// One environment's REST API. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct AirflowApi {
    pub(super) client: Client,
    pub(super) environment: String,
    pub(super) region: String,
    /// `arn:aws:airflow:<region>:<account>:role/<environment>/`, for messages.
    pub(super) role_arn_prefix: String,
    pub(super) dialect: Dialect,
}

#[derive(Debug, Deserialize)]
struct DagCollection {
    dags: Vec<DagEntry>,
    total_entries: u64,
}

#[derive(Debug, Deserialize)]
struct DagEntry {
    dag_id: String,
    is_paused: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct DagRunCollection {
    dag_runs: Vec<DagRunEntry>,
    total_entries: u64,
}

#[derive(Debug, Deserialize)]
struct DagRunEntry {
    run_type: Option<String>,
    logical_date: Option<DateTime<Utc>>,
    /// Airflow 2 only; the same value as `logical_date` since 2.2.
    execution_date: Option<DateTime<Utc>>,
    data_interval_start: Option<DateTime<Utc>>,
    data_interval_end: Option<DateTime<Utc>>,
}

impl AirflowApi {
    /// Paused state and last scheduled run of every DAG Airflow knows.
    ///
    /// Errors: the first failed call's, see [`AirflowApi::get`].
    pub(super) async fn live_states(&self) -> Result<BTreeMap<String, LiveState>, MwaaError> {
        let dags = self.dags().await?;
        let permits = Arc::new(Semaphore::new(CONCURRENT_LOOKUPS));
        let mut lookups = JoinSet::new();
        for dag in &dags {
            let api = self.clone();
            let permits = permits.clone();
            let dag_id = dag.dag_id.clone();
            lookups.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let last_run = api.last_scheduled_run(&dag_id).await;
                (dag_id, last_run)
            });
        }
        let mut last_runs = HashMap::new();
        while let Some(joined) = lookups.join_next().await {
            let (dag_id, last_run) = joined.map_err(|err| MwaaError::Aws {
                operation: "InvokeRestApi",
                detail: format!("a DAG-run look-up stopped: {err}"),
            })?;
            last_runs.insert(dag_id, last_run?);
        }
        Ok(dags
            .into_iter()
            .map(|dag| {
                let last_run = last_runs.remove(&dag.dag_id).flatten();
                let state = LiveState {
                    is_paused: dag.is_paused,
                    last_run,
                };
                (dag.dag_id, state)
            })
            .collect())
    }

    async fn dags(&self) -> Result<Vec<DagEntry>, MwaaError> {
        let mut dags = Vec::new();
        let mut offset = 0;
        loop {
            let page: DagCollection = self
                .get_json(
                    "/dags",
                    &[
                        ("limit", Document::Number(Number::PosInt(DAGS_PAGE))),
                        ("offset", Document::Number(Number::PosInt(offset))),
                    ],
                )
                .await?;
            let received = page.dags.len() as u64;
            dags.extend(page.dags);
            offset += received;
            if received == 0 || offset >= page.total_entries {
                break;
            }
        }
        debug!(environment = %self.environment, dags = dags.len(), "DAGs listed");
        Ok(dags)
    }

    /// The newest run whose type moves Airflow's schedule on: `scheduled`
    /// or `backfill`. The scheduler computes the next interval from the
    /// latest of those, never from manual or dataset/asset-triggered runs,
    /// so those are skipped (and paged past).
    async fn last_scheduled_run(&self, dag_id: &str) -> Result<Option<LastRun>, MwaaError> {
        let path = format!("/dags/{dag_id}/dagRuns");
        let mut offset = 0;
        loop {
            let page: DagRunCollection = self
                .get_json(
                    &path,
                    &[
                        ("limit", Document::Number(Number::PosInt(RUNS_PAGE))),
                        ("offset", Document::Number(Number::PosInt(offset))),
                        (
                            "order_by",
                            Document::String(self.dialect.newest_first().to_owned()),
                        ),
                    ],
                )
                .await?;
            let received = page.dag_runs.len() as u64;
            if let Some(run) = page.dag_runs.iter().find_map(scheduled_run) {
                return Ok(Some(run));
            }
            offset += received;
            if received == 0 || offset >= page.total_entries {
                return Ok(None);
            }
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, Document)],
    ) -> Result<T, MwaaError> {
        let body = self.get(path, query).await?;
        serde_json::from_value(body).map_err(|err| MwaaError::UnexpectedReply {
            path: path.to_owned(),
            detail: err.to_string(),
        })
    }

    /// One `GET` through InvokeRestApi; the Airflow reply's JSON body.
    ///
    /// Errors: `RestApiForbidden` when Airflow answers 403 (the Airflow role
    /// may not read this), `RestApi` for Airflow's other errors,
    /// `AccessDenied` (airflow:InvokeRestApi) when IAM refuses the call,
    /// `EnvironmentNotFound`, `PathTooLong`.
    async fn get(&self, path: &str, query: &[(&str, Document)]) -> Result<Value, MwaaError> {
        if path.len() > MAX_PATH_LEN {
            return Err(MwaaError::PathTooLong {
                path: path.to_owned(),
            });
        }
        let parameters = query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        let reply = self
            .client
            .invoke_rest_api()
            .name(&self.environment)
            .method(RestApiMethod::Get)
            .path(path)
            .query_parameters(Document::Object(parameters))
            .send()
            .await;
        let output = match reply {
            Ok(output) => output,
            Err(err) => return Err(self.failure(path, err)),
        };
        let body = output
            .rest_api_response()
            .map(document_to_json)
            .unwrap_or(Value::Null);
        match output.rest_api_status_code() {
            Some(200..=299) | None => Ok(body),
            Some(status) => Err(self.airflow_error(path, status, Some(&body))),
        }
    }

    fn failure(
        &self,
        path: &str,
        err: aws_sdk_mwaa::error::SdkError<
            InvokeRestApiError,
            aws_sdk_mwaa::config::http::HttpResponse,
        >,
    ) -> MwaaError {
        match err.as_service_error() {
            Some(InvokeRestApiError::RestApiClientException(e)) => {
                let body = e.rest_api_response().map(document_to_json);
                let status = e.rest_api_status_code().unwrap_or(400);
                self.airflow_error(path, status, body.as_ref())
            }
            Some(InvokeRestApiError::RestApiServerException(e)) => {
                let body = e.rest_api_response().map(document_to_json);
                let status = e.rest_api_status_code().unwrap_or(500);
                self.airflow_error(path, status, body.as_ref())
            }
            Some(InvokeRestApiError::ResourceNotFoundException(_)) => {
                MwaaError::EnvironmentNotFound {
                    environment: self.environment.clone(),
                    region: self.region.clone(),
                }
            }
            Some(e) if e.code() == Some("AccessDeniedException") => MwaaError::AccessDenied {
                action: "airflow:InvokeRestApi",
                resource: format!("{}<airflow-role>", self.role_arn_prefix),
                detail: service_detail(&err),
            },
            _ => aws_failure("MWAA", "InvokeRestApi", err),
        }
    }

    fn airflow_error(&self, path: &str, status: i32, body: Option<&Value>) -> MwaaError {
        if status == 403 {
            return MwaaError::RestApiForbidden {
                environment: self.environment.clone(),
                path: path.to_owned(),
                role_arn_prefix: self.role_arn_prefix.clone(),
            };
        }
        MwaaError::RestApi {
            environment: self.environment.clone(),
            path: path.to_owned(),
            status,
            detail: body.map(airflow_problem).unwrap_or_default(),
        }
    }
}

/// A run that counts as the schedule's last, as Airflow's scheduler sees it.
fn scheduled_run(run: &DagRunEntry) -> Option<LastRun> {
    let counts = matches!(run.run_type.as_deref(), Some("scheduled" | "backfill"));
    let logical_date = run.logical_date.or(run.execution_date)?;
    counts.then_some(LastRun {
        logical_date,
        data_interval_start: run.data_interval_start,
        data_interval_end: run.data_interval_end,
    })
}

/// Airflow's problem+json (`title`, `detail`), or the raw body.
fn airflow_problem(body: &Value) -> String {
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    match (field("title"), field("detail")) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(text), None) | (None, Some(text)) => text.to_owned(),
        (None, None) => body.to_string(),
    }
}

/// InvokeRestApi's reply body as JSON.
pub(super) fn document_to_json(document: &Document) -> Value {
    match document {
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), document_to_json(value)))
                .collect(),
        ),
        Document::Array(items) => Value::Array(items.iter().map(document_to_json).collect()),
        Document::Number(Number::PosInt(n)) => Value::from(*n),
        Document::Number(Number::NegInt(n)) => Value::from(*n),
        Document::Number(Number::Float(f)) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::String(text) => Value::String(text.clone()),
        Document::Bool(flag) => Value::Bool(*flag),
        Document::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(value: Value) -> DagRunEntry {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_major_version_picks_the_dialect() {
        assert_eq!(Dialect::from_version("2.10.3"), Dialect::Airflow2);
        assert_eq!(Dialect::from_version("2.4.3"), Dialect::Airflow2);
        assert_eq!(Dialect::from_version("3.0.6"), Dialect::Airflow3);
        assert_eq!(Dialect::from_version("v3.1"), Dialect::Airflow3);
        assert_eq!(Dialect::from_version(""), Dialect::Airflow2);
        assert_eq!(Dialect::Airflow2.newest_first(), "-execution_date");
        assert_eq!(Dialect::Airflow3.newest_first(), "-logical_date");
    }

    #[test]
    fn scheduled_and_backfill_runs_count_manual_runs_do_not() {
        let scheduled = run(json!({
            "run_type": "scheduled",
            "execution_date": "2024-03-01T06:00:00+00:00",
            "logical_date": "2024-03-01T06:00:00+00:00",
            "data_interval_start": "2024-03-01T06:00:00+00:00",
            "data_interval_end": "2024-03-02T06:00:00+00:00",
        }));
        let last = scheduled_run(&scheduled).unwrap();
        assert_eq!(last.logical_date.to_rfc3339(), "2024-03-01T06:00:00+00:00");
        assert_eq!(
            last.data_interval_end.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-03-02T06:00:00+00:00")
        );

        let backfill = run(json!({"run_type": "backfill", "logical_date": "2024-01-01T00:00:00Z"}));
        assert!(scheduled_run(&backfill).is_some());
        for run_type in ["manual", "dataset_triggered", "asset_triggered"] {
            let other = run(json!({"run_type": run_type, "logical_date": "2024-01-01T00:00:00Z"}));
            assert!(scheduled_run(&other).is_none(), "{run_type}");
        }
    }

    #[test]
    fn airflow_2_runs_without_logical_date_use_execution_date() {
        let old =
            run(json!({"run_type": "scheduled", "execution_date": "2024-01-01T00:00:00+01:00"}));
        assert_eq!(
            scheduled_run(&old).unwrap().logical_date.to_rfc3339(),
            "2023-12-31T23:00:00+00:00"
        );
        let airflow3_manual = run(json!({"run_type": "manual", "logical_date": null}));
        assert!(scheduled_run(&airflow3_manual).is_none());
    }

    #[test]
    fn documents_become_json() {
        let mut inner = HashMap::new();
        inner.insert("n".to_owned(), Document::Number(Number::NegInt(-2)));
        inner.insert("f".to_owned(), Document::Number(Number::Float(1.5)));
        let mut outer = HashMap::new();
        outer.insert(
            "a".to_owned(),
            Document::Array(vec![
                Document::Bool(true),
                Document::Null,
                Document::String("s".to_owned()),
                Document::Number(Number::PosInt(7)),
            ]),
        );
        outer.insert("o".to_owned(), Document::Object(inner));
        assert_eq!(
            document_to_json(&Document::Object(outer)),
            json!({"a": [true, null, "s", 7], "o": {"n": -2, "f": 1.5}})
        );
    }

    #[test]
    fn airflow_problems_read_as_title_and_detail() {
        let body = json!({"title": "DAG not found", "detail": "DAG with dag_id: 'x' not found", "status": 404});
        assert_eq!(
            airflow_problem(&body),
            "DAG not found: DAG with dag_id: 'x' not found"
        );
        assert_eq!(airflow_problem(&json!("oops")), "\"oops\"");
    }
}
