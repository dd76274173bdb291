//! Typed client of the Databricks Jobs API 2.1: `run-now`, `runs/submit`,
//! `runs/get`, `runs/cancel`, with unified auth (token or OAuth M2M) and
//! retries that wait on the injected clock. No orchestration: polling and
//! timeouts belong to the `databricks` executor.

pub mod auth;
mod config_file;
mod error;
mod idempotency;
mod oauth;
mod run;
mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::USER_AGENT;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use self::auth::{Auth, Credentials};
use self::oauth::{Exchange, TokenCache};
use crate::clients::retry::RetryPolicy;
use crate::model::clock::Clock;

pub use self::error::DatabricksError;
pub use self::idempotency::idempotency_token;
pub use self::run::RunStatus;

pub(crate) const USER_AGENT_VALUE: &str = concat!("airless/", env!("CARGO_PKG_VERSION"));

/// Databricks' own advice: back off from a second up to a minute.
pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(60),
};

/// `POST /api/2.1/jobs/run-now`: trigger an existing job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunNow {
    pub job_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_parameters: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook_params: Option<BTreeMap<String, String>>,
    /// From [`idempotency_token`]: a repeat returns the first run's id.
    pub idempotency_token: String,
}

/// `POST /api/2.1/jobs/runs/submit`: a one-time run, not a saved job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmitRun {
    pub run_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// From [`idempotency_token`]: a repeat returns the first run's id.
    pub idempotency_token: String,
    pub tasks: Vec<SubmitTask>,
}

impl SubmitRun {
    /// The common case: one notebook task (key `notebook`) on `cluster`.
    pub fn notebook(
        run_name: &str,
        notebook: NotebookTask,
        cluster: Cluster,
        idempotency_token: String,
    ) -> Self {
        Self {
            run_name: run_name.to_owned(),
            timeout_seconds: None,
            idempotency_token,
            tasks: vec![SubmitTask {
                task_key: "notebook".to_owned(),
                notebook_task: notebook,
                cluster,
            }],
        }
    }
}

/// One task of a submitted run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmitTask {
    pub task_key: String,
    pub notebook_task: NotebookTask,
    #[serde(flatten)]
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotebookTask {
    /// Workspace path, e.g. `/Repos/data/pins/clean` (spaces allowed).
    pub notebook_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_parameters: Option<BTreeMap<String, String>>,
}

/// Where a submitted task runs; serialised as `existing_cluster_id` or
/// `new_cluster` beside the task's other fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Cluster {
    #[serde(rename = "existing_cluster_id")]
    Existing(String),
    /// A cluster spec passed through unchanged (`spark_version`,
    /// `node_type_id`, `num_workers`, …).
    #[serde(rename = "new_cluster")]
    New(Value),
}

/// A client of one workspace's Jobs API.
///
/// Every call retries 429 and 503 after `Retry-After`, other 5xx and lost
/// connections with backoff, per its [`RetryPolicy`] (default
/// [`DEFAULT_RETRY`]); other 4xx fail at once. Submitting and run-now are
/// safe to retry because each carries an idempotency token. All waits go
/// through the clock, never a tokio timer.
#[derive(Debug)]
pub struct JobsClient {
    http: reqwest::Client,
    creds: Credentials,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    tokens: TokenCache,
}

impl JobsClient {
    pub fn new(http: reqwest::Client, creds: Credentials, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            creds,
            clock,
            retry: DEFAULT_RETRY,
            tokens: TokenCache::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The workspace URL requests go to.
    pub fn host(&self) -> &str {
        self.creds.host()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.creds
    }

    /// Every secret this client knows (token, client secret, OAuth access
    /// tokens issued so far), for masking in task logs.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = self.creds.secrets();
        secrets.extend(self.tokens.issued());
        secrets
    }

    /// Triggers job `req.job_id`; returns the new (or, for a repeated
    /// idempotency token, the earlier) run id.
    pub async fn run_now(&self, req: &RunNow) -> Result<i64, DatabricksError> {
        let operation = format!("run job {}", req.job_id);
        let reply: RunIdReply = self
            .call(&operation, Method::POST, "/api/2.1/jobs/run-now", Some(req))
            .await?;
        Ok(reply.run_id)
    }

    /// Submits a one-time run; returns the new (or, for a repeated
    /// idempotency token, the earlier) run id.
    pub async fn submit(&self, req: &SubmitRun) -> Result<i64, DatabricksError> {
        let operation = format!("submit run {:?}", req.run_name);
        let reply: RunIdReply = self
            .call(
                &operation,
                Method::POST,
                "/api/2.1/jobs/runs/submit",
                Some(req),
            )
            .await?;
        Ok(reply.run_id)
    }

    /// `runs/get`: where the run is and how it ended.
    pub async fn get_run(&self, run_id: i64) -> Result<RunStatus, DatabricksError> {
        let operation = format!("get run {run_id}");
        let path = format!("/api/2.1/jobs/runs/get?run_id={run_id}");
        let body = self.call_raw(&operation, Method::GET, &path, None).await?;
        run::parse(&body).map_err(|reason| DatabricksError::BadReply { operation, reason })
    }

    /// Asks Databricks to cancel the run; returns before it has stopped
    /// (poll [`Self::get_run`] for TERMINATED). Cancelling an ended run is
    /// a no-op, so this is safe to repeat.
    pub async fn cancel(&self, run_id: i64) -> Result<(), DatabricksError> {
        #[derive(Serialize)]
        struct Body {
            run_id: i64,
        }
        let operation = format!("cancel run {run_id}");
        let _: Value = self
            .call(
                &operation,
                Method::POST,
                "/api/2.1/jobs/runs/cancel",
                Some(&Body { run_id }),
            )
            .await?;
        Ok(())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, DatabricksError> {
        let body =
            body.map(serde_json::to_value)
                .transpose()
                .map_err(|e| DatabricksError::BadReply {
                    operation: operation.to_owned(),
                    reason: format!("the request cannot be encoded: {e}"),
                })?;
        let bytes = self
            .call_raw(operation, method, path, body.as_ref())
            .await?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map_err(|e| DatabricksError::BadReply {
            operation: operation.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Sends with retries and the bearer token; a 2xx body or our error.
    /// With OAuth, a 401 drops the cached token and tries once more.
    async fn call_raw(
        &self,
        operation: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, DatabricksError> {
        let url = format!("{}{path}", self.creds.host());
        let mut renewed = false;
        loop {
            let bearer = self.bearer().await?;
            let response = transport::send(
                &self.retry,
                self.clock.as_ref(),
                operation,
                self.creds.host(),
                || {
                    let request = self
                        .http
                        .request(method.clone(), &url)
                        .bearer_auth(bearer.expose_secret())
                        .header(USER_AGENT, USER_AGENT_VALUE);
                    match body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                },
            )
            .await?;
            let status = response.status();
            if status.as_u16() == 401
                && !renewed
                && matches!(self.creds.auth(), Auth::OAuthM2m { .. })
            {
                self.tokens.invalidate().await;
                renewed = true;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| DatabricksError::BadReply {
                    operation: operation.to_owned(),
                    reason: format!("the reply broke off: {e}"),
                })?;
            if status.is_success() {
                return Ok(bytes.to_vec());
            }
            let (error_code, message) = transport::error_parts(&String::from_utf8_lossy(&bytes));
            if status.as_u16() == 401 || status.as_u16() == 403 {
                return Err(DatabricksError::Rejected {
                    credential: self.creds.describe(),
                    status: status.as_u16(),
                    message: if message.is_empty() {
                        error_code
                    } else {
                        message
                    },
                });
            }
            return Err(DatabricksError::Api {
                operation: operation.to_owned(),
                status: status.as_u16(),
                error_code,
                message,
            });
        }
    }

    async fn bearer(&self) -> Result<SecretString, DatabricksError> {
        match self.creds.auth() {
            Auth::Token(token) => Ok(token.clone()),
            Auth::OAuthM2m {
                client_id,
                client_secret,
            } => {
                self.tokens
                    .get(Exchange {
                        http: &self.http,
                        clock: self.clock.as_ref(),
                        retry: &self.retry,
                        host: self.creds.host(),
                        client_id,
                        client_secret,
                        credential: self.creds.describe(),
                    })
                    .await
            }
        }
    }
}

#[derive(Deserialize)]
struct RunIdReply {
    run_id: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_submit_body_has_the_documented_shape() {
        let req = SubmitRun {
            timeout_seconds: Some(3600),
            ..SubmitRun::notebook(
                "pins clean",
                NotebookTask {
                    notebook_path: "/Repos/data/pins/clean posts".to_owned(),
                    base_parameters: Some(BTreeMap::from([(
                        "date".to_owned(),
                        "2026-01-01".to_owned(),
                    )])),
                },
                Cluster::Existing("0101-abc".to_owned()),
                "airless-00".to_owned(),
            )
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "run_name": "pins clean",
                "timeout_seconds": 3600,
                "idempotency_token": "airless-00",
                "tasks": [{
                    "task_key": "notebook",
                    "notebook_task": {
                        "notebook_path": "/Repos/data/pins/clean posts",
                        "base_parameters": {"date": "2026-01-01"}
                    },
                    "existing_cluster_id": "0101-abc"
                }]
            })
        );
    }

    #[test]
    fn a_new_cluster_spec_passes_through() {
        let task = SubmitTask {
            task_key: "t".to_owned(),
            notebook_task: NotebookTask {
                notebook_path: "/n".to_owned(),
                base_parameters: None,
            },
            cluster: Cluster::New(json!({"spark_version": "15.4.x-scala2.12", "num_workers": 2})),
        };
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({
                "task_key": "t",
                "notebook_task": {"notebook_path": "/n"},
                "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 2}
            })
        );
    }

    #[test]
    fn a_run_now_body_leaves_out_unset_parameters() {
        let req = RunNow {
            job_id: 42,
            job_parameters: None,
            notebook_params: Some(BTreeMap::from([("a".to_owned(), "b".to_owned())])),
            idempotency_token: "tok".to_owned(),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"job_id": 42, "notebook_params": {"a": "b"}, "idempotency_token": "tok"})
        );
    }
}
