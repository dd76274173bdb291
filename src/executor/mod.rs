//! What one task does: one file per kind. An executor gets its kind's
//! (already rendered) spec and a [`TaskContext`], and returns the task's JSON
//! output or a [`TaskError`]. Executors never touch the store; the engine
//! records what they return and decides retries.

mod databricks;
pub mod emulate;
mod http;
mod ingest;
pub mod lake;
mod log;
mod noop;
mod shell;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::dag::KindSpec;
use crate::engine::clock::Clock;
use crate::model::{DagId, RunId, TaskId};

pub use log::TaskLog;

/// Everything a try may use besides its spec.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub dag_id: DagId,
    pub run_id: RunId,
    pub task_id: TaskId,
    pub try_number: u32,
    /// This try's log; every line is masked for secrets.
    pub log: TaskLog,
    /// Cancelled when the run is cancelled or the try times out; executors
    /// stop their work (and the remote side's) when it fires.
    pub cancel: CancellationToken,
    pub http: reqwest::Client,
    /// Working directory for tasks that do not set one.
    pub workdir: Option<PathBuf>,
    /// The process environment (DATABRICKS_*, HOME, …) as the engine sees it.
    pub env: Arc<BTreeMap<String, String>>,
    /// "Now" and waiting (virtual in tests).
    pub clock: Arc<dyn Clock>,
    /// Fires when airless is stopping: an executor whose remote job outlives
    /// it returns [`FailureKind::Detached`] and re-attaches after the restart.
    pub shutdown: CancellationToken,
    /// When `execution_timeout` ends this try, in `clock` time; executors
    /// that wait on a remote job stop waiting then (the engine also stops them).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// This try was running when airless stopped and is resumed: the same
    /// try, with the remote job it recorded, if it got that far.
    pub resumed: Option<Resumed>,
    /// Records the remote job this try started, durably, before it waits.
    pub recorder: Arc<dyn ExternalRecorder>,
}

/// A try picked up again after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resumed {
    /// The remote job recorded before the stop, if the try got that far.
    pub external: Option<External>,
}

/// A remote job a try started (a Databricks run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    pub id: String,
    pub url: Option<String>,
}

pub type RecordFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where a try's remote job is written down (the store, in the engine).
pub trait ExternalRecorder: Send + Sync + std::fmt::Debug {
    fn record<'a>(&'a self, external: &'a External) -> RecordFuture<'a>;
}

/// Records nothing: `tasks test`, which keeps no state.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecorder;

impl ExternalRecorder for NoRecorder {
    fn record<'a>(&'a self, _external: &'a External) -> RecordFuture<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// Why a try failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The work itself failed (non-zero exit, unexpected status, bad template).
    Error,
    /// The context's token fired: the engine cancelled the try (cancel or timeout).
    Cancelled,
    /// airless is stopping and the remote job goes on: the try stays
    /// `running` and is resumed after the restart. Not a failure.
    Detached,
}

/// A failed try: an outcome to record, not a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TaskError {
    pub kind: FailureKind,
    pub message: String,
}

impl TaskError {
    pub fn failed(message: impl Into<String>) -> Self {
        TaskError {
            kind: FailureKind::Error,
            message: message.into(),
        }
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        TaskError {
            kind: FailureKind::Cancelled,
            message: message.into(),
        }
    }

    pub fn detached(message: impl Into<String>) -> Self {
        TaskError {
            kind: FailureKind::Detached,
            message: message.into(),
        }
    }
}

pub type TaskResult = Result<serde_json::Value, TaskError>;

/// Runs one try of a task of `kind`.
pub async fn execute(kind: &KindSpec, ctx: &TaskContext) -> TaskResult {
    match kind {
        KindSpec::Noop(_) => noop::run(ctx).await,
        KindSpec::Shell(spec) => shell::run(spec, ctx).await,
        KindSpec::Http(spec) => http::run(spec, ctx).await,
        KindSpec::Emulate(spec) => emulate::run(spec, ctx).await,
        KindSpec::Ingest(spec) => ingest::run(spec, ctx).await,
        KindSpec::Databricks(spec) => databricks::run(spec, ctx).await,
    }
}

/// A task's output from text it printed or received: JSON when it parses,
/// a JSON string otherwise (Airflow pushes the text itself to XCom).
pub fn output_from_text(text: &str) -> serde_json::Value {
    let trimmed = text.trim();
    serde_json::from_str(trimmed).unwrap_or_else(|_| serde_json::Value::String(trimmed.to_string()))
}

/// An error with its causes, `outer: inner: root`, as a person reads it.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
