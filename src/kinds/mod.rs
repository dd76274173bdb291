//! What one task does: one file per kind (Airflow's operators). A kind gets its
//! (already rendered) spec and a [`TaskContext`], and returns the task's JSON
//! output or a [`TaskError`]. Kinds never touch the store; the engine
//! records what they return and decides retries.

mod databricks;
pub mod emulate;
mod http;
mod ingest;
pub mod lake;
pub mod log;
mod noop;
mod shell;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::dag::KindSpec;
use crate::model::clock::Clock;
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
    /// Cancelled when the run is cancelled or the try times out; kinds
    /// stop their work (and the remote side's) when it fires.
    pub cancel: CancellationToken,
    pub http: reqwest::Client,
    /// Working directory for tasks that do not set one.
    pub workdir: Option<PathBuf>,
    /// The process environment (DATABRICKS_*, HOME, …) as the engine sees it,
    /// without airless's own secrets.
    pub env: Arc<BTreeMap<String, String>>,
    /// Variables of the process environment a spawned command must not
    /// inherit (airless's API tokens, its database URL).
    pub hidden_env: Arc<Vec<String>>,
    /// "Now" and waiting (virtual in tests).
    pub clock: Arc<dyn Clock>,
    /// Fires when airless is stopping: a kind whose remote job outlives
    /// it returns [`FailureKind::Detached`] and re-attaches after the restart.
    pub shutdown: CancellationToken,
    /// When `execution_timeout` ends this try, in `clock` time; kinds
    /// that wait on a remote job stop waiting then (the engine also stops them).
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    /// This try was running when airless stopped and is resumed: the same
    /// try, with the remote job it recorded, if it got that far.
    pub resumed: Option<Resumed>,
    /// Records the remote job this try started, durably, before it waits.
    pub recorder: Arc<dyn TryRecorder>,
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

/// Where a try writes down, durably and before it waits, what an adopter
/// needs if this process dies: the remote job it started (a Databricks run)
/// and the process group it spawned (a shell command). The engine records
/// them through the command door.
pub trait TryRecorder: Send + Sync + std::fmt::Debug {
    fn external<'a>(&'a self, external: &'a External) -> RecordFuture<'a>;
    fn process_group(&self, pgid: i32) -> RecordFuture<'_>;
}

/// Records nothing: `tasks test`, which keeps no state.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRecorder;

impl TryRecorder for NoRecorder {
    fn external<'a>(&'a self, _external: &'a External) -> RecordFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    fn process_group(&self, _pgid: i32) -> RecordFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}

/// Why a try failed, so the engine can decide what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The work failed in a way a retry may fix (a non-zero exit, a 5xx, a
    /// connection refused): retried per `retries`.
    Transient,
    /// Retrying cannot help (an empty command, an unknown HTTP method, a
    /// template that cannot render): failed at once, no retry.
    Permanent,
    /// `execution_timeout` ended the try: retried per `retries`.
    TimedOut,
    /// The context's token fired: the run was cancelled.
    Cancelled,
    /// airless is stopping and the remote job goes on: the try stays
    /// `running` and is resumed after the restart. Not a failure.
    Detached,
}

/// A failed try: an outcome to record, not a crash. Carries its kind and,
/// where a library error caused it, that error as its source.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct TaskError {
    pub kind: FailureKind,
    pub message: String,
    #[source]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TaskError {
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Transient, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Permanent, message)
    }

    pub fn timed_out(message: impl Into<String>) -> Self {
        Self::new(FailureKind::TimedOut, message)
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Cancelled, message)
    }

    pub fn detached(message: impl Into<String>) -> Self {
        Self::new(FailureKind::Detached, message)
    }

    /// The same error, caused by `source`.
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// A transient failure that is `source` itself (its message first).
    pub fn transient_from(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::transient(source.to_string()).caused_by(source)
    }

    /// The message and its causes, `what: why: root`, as a person reads it.
    pub fn describe(&self) -> String {
        match &self.source {
            Some(source) if source.to_string() == self.message => error_chain(source.as_ref()),
            Some(source) => format!("{}: {}", self.message, error_chain(source.as_ref())),
            None => self.message.clone(),
        }
    }

    /// Whether a retry may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, FailureKind::Transient | FailureKind::TimedOut)
    }
}

impl PartialEq for TaskError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.describe() == other.describe()
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
