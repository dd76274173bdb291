//! The serde mirror of a DAG file: every key, one shape per key, unknown keys
//! refused. `parse` is the only way in; it reads each task on its own so one
//! broken task never hides the mistakes in the others.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::error::{DagError, suggest};
use super::source::{Pos, SourceMap};

/// The DAG-level keys of a file (`tasks` is read task by task).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagSpec {
    pub dag_id: Option<String>,
    pub description: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub catchup: Option<bool>,
    pub timetable: Option<TimetableSpec>,
    pub max_active_runs: Option<u32>,
    pub max_active_tasks: Option<u32>,
    pub is_paused_upon_creation: Option<bool>,
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
    pub default_args: Option<TaskDefaults>,
    pub tasks: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimetableSpec {
    Interval,
    Trigger,
}

/// Airflow's `default_args`; every key may also be set on a task, which wins.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDefaults {
    pub retries: Option<u32>,
    pub retry_delay: Option<String>,
    pub retry_exponential_backoff: Option<bool>,
    pub max_retry_delay: Option<String>,
    pub execution_timeout: Option<String>,
}

/// Airflow's trigger rules: when a task runs, given its upstream tasks' states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    #[default]
    AllSuccess,
    AllDone,
    AllFailed,
    OneSuccess,
    OneFailed,
    NoneFailed,
}

impl TriggerRule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllSuccess => "all_success",
            Self::AllDone => "all_done",
            Self::AllFailed => "all_failed",
            Self::OneSuccess => "one_success",
            Self::OneFailed => "one_failed",
            Self::NoneFailed => "none_failed",
        }
    }
}

/// The keys every task has, whatever its kind.
#[derive(Debug, Clone)]
pub struct TaskCommon {
    pub task_id: String,
    pub depends_on: Vec<String>,
    pub trigger_rule: TriggerRule,
    pub overrides: TaskDefaults,
}

/// One task as written: its common keys and its kind's keys.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Position in the file's `tasks` list (for error positions).
    pub index: usize,
    pub common: TaskCommon,
    pub kind: KindSpec,
}

/// `shell`: a string is run by `bash -c`, a list is run as argv.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum ShellCommand {
    Script(String),
    Argv(Vec<String>),
}

/// Declares a kind: its spec struct and the file struct (common keys + the
/// kind's keys, unknown keys refused) that serde reads a task of that kind into.
macro_rules! task_kind {
    ($spec:ident, $file:ident { $($(#[$meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
        pub struct $spec {
            $($(#[$meta])* pub $field: $ty,)*
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $file {
            task_id: String,
            #[allow(dead_code)]
            kind: String,
            #[serde(default)]
            depends_on: Vec<String>,
            #[serde(default)]
            trigger_rule: TriggerRule,
            retries: Option<u32>,
            retry_delay: Option<String>,
            retry_exponential_backoff: Option<bool>,
            max_retry_delay: Option<String>,
            execution_timeout: Option<String>,
            $($(#[$meta])* $field: $ty,)*
        }

        impl $file {
            fn split(self) -> (TaskCommon, $spec) {
                let common = TaskCommon {
                    task_id: self.task_id,
                    depends_on: self.depends_on,
                    trigger_rule: self.trigger_rule,
                    overrides: TaskDefaults {
                        retries: self.retries,
                        retry_delay: self.retry_delay,
                        retry_exponential_backoff: self.retry_exponential_backoff,
                        max_retry_delay: self.max_retry_delay,
                        execution_timeout: self.execution_timeout,
                    },
                };
                (common, $spec { $($field: self.$field,)* })
            }
        }
    };
}

task_kind!(NoopSpec, NoopFile {});

task_kind!(ShellSpec, ShellFile {
    command: ShellCommand,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    cwd: Option<String>,
});

task_kind!(HttpSpec, HttpFile {
    #[serde(default = "default_method")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    json: Option<serde_json::Value>,
    #[serde(default)]
    expect_status: Option<Vec<u16>>,
});

fn default_method() -> String {
    "GET".to_string()
}

/// A number that may also be a template (`records: "{{ params.records }}"`),
/// read as a number once the try's templates are rendered.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum TemplatedNumber {
    Number(serde_json::Number),
    Template(String),
}

impl TemplatedNumber {
    /// The value as a whole number; `field` names it in the error.
    pub fn whole(&self, field: &str) -> Result<u64, String> {
        let text = match self {
            Self::Number(n) => n.to_string(),
            Self::Template(t) => t.trim().to_string(),
        };
        text.parse()
            .map_err(|_| format!("`{field}` must be a whole number, got `{text}`"))
    }

    /// The value as a positive number; `field` names it in the error.
    pub fn positive(&self, field: &str) -> Result<f64, String> {
        let text = match self {
            Self::Number(n) => n.to_string(),
            Self::Template(t) => t.trim().to_string(),
        };
        match text.parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
            _ => Err(format!("`{field}` must be a positive number, got `{text}`")),
        }
    }

    /// Whether it is a template still to be rendered.
    pub fn is_template(&self) -> bool {
        matches!(self, Self::Template(t) if t.contains("{{"))
    }
}

/// How `emulate` picks the row offset of each post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampler {
    /// The original script: Python's `random.seed(seed)`, then per post
    /// `randrange(0, 2)` (its sleep) and `randint(0, 11000)`.
    #[default]
    Python,
    /// Offsets 0, 1, 2, … in order.
    Sequential,
}

/// Where `ingest` reads records.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum IngestSource {
    /// The Kafka REST Proxy v2 consumer API.
    KafkaRest {
        url: String,
        /// The consumer group whose committed offsets say what has landed.
        group: String,
        topics: Vec<String>,
    },
}

/// Where records go. `emulate` takes any sink; `ingest` a lake (`dir`, `s3`),
/// both in the S3 sink connector's layout.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkSpec {
    /// Kafka REST Proxy (behind API Gateway): `POST {url}/topics/{topic}`, batched.
    KafkaRest {
        url: String,
        #[serde(default = "default_batch_size")]
        batch_size: usize,
    },
    /// API Gateway → Kinesis: `PUT {url}/streams/{stream}/record`, one record each.
    KinesisRest { url: String },
    /// A local lake folder.
    Dir {
        path: String,
        #[serde(default = "default_prefix")]
        prefix: String,
    },
    /// An S3 bucket (aws-sdk-s3; the standard AWS credential chain — the
    /// instance profile on EC2 — unless keys are given, e.g. from `env`).
    S3 {
        bucket: String,
        #[serde(default = "default_prefix")]
        prefix: String,
        #[serde(default)]
        region: Option<String>,
        /// An S3-compatible endpoint; AWS when absent.
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        path_style: bool,
        #[serde(default)]
        access_key_id: Option<String>,
        #[serde(default)]
        secret_access_key: Option<String>,
    },
}

impl SinkSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::KafkaRest { .. } => "kafka_rest",
            Self::KinesisRest { .. } => "kinesis_rest",
            Self::Dir { .. } => "dir",
            Self::S3 { .. } => "s3",
        }
    }
}

fn default_batch_size() -> usize {
    100
}

fn default_prefix() -> String {
    "topics".to_string()
}

fn default_flush_size() -> usize {
    1000
}

fn default_seed() -> TemplatedNumber {
    TemplatedNumber::Number(100.into())
}

task_kind!(EmulateSpec, EmulateFile {
    /// `demo`, or an sqlx URL: `mysql://…`, `sqlite://…`.
    source: String,
    /// Source table → topic (or Kinesis stream).
    streams: BTreeMap<String, String>,
    records: TemplatedNumber,
    #[serde(default)]
    rate: Option<TemplatedNumber>,
    #[serde(default = "default_seed")]
    seed: TemplatedNumber,
    #[serde(default)]
    sampler: Sampler,
    sink: SinkSpec,
    /// Records per lake object (`dir` and `s3` sinks), as the connector's `flush.size`.
    #[serde(default = "default_flush_size")]
    flush_size: usize,
});

task_kind!(
    IngestSpec,
    IngestFile {
        source: IngestSource,
        sink: SinkSpec,
        /// Records per object, as the connector's `flush.size`.
        #[serde(default = "default_flush_size")]
        flush_size: usize,
    }
);

task_kind!(DatabricksSpec, DatabricksFile {
    /// An existing job: `jobs/run-now`.
    #[serde(default)]
    job_id: Option<TemplatedNumber>,
    #[serde(default)]
    job_parameters: Option<BTreeMap<String, String>>,
    #[serde(default)]
    notebook_params: Option<BTreeMap<String, String>>,
    /// A one-time notebook run: `jobs/runs/submit`.
    #[serde(default)]
    notebook_path: Option<String>,
    #[serde(default)]
    existing_cluster_id: Option<String>,
    #[serde(default)]
    new_cluster: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    base_parameters: Option<BTreeMap<String, String>>,
    #[serde(default)]
    run_name: Option<String>,
    /// Time between `runs/get` calls (Airflow's `polling_period_seconds`).
    #[serde(default)]
    poll_interval: Option<String>,
    /// `false`: succeed once the run is accepted (a streaming notebook).
    #[serde(default = "default_true")]
    wait_for_termination: bool,
    /// Auth overrides; otherwise DATABRICKS_* variables or ~/.databrickscfg.
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
});

fn default_true() -> bool {
    true
}

/// The kind-specific keys of a task.
#[derive(Debug, Clone, PartialEq)]
pub enum KindSpec {
    Noop(NoopSpec),
    Shell(ShellSpec),
    Http(HttpSpec),
    Emulate(EmulateSpec),
    Ingest(IngestSpec),
    Databricks(DatabricksSpec),
}

/// Every `kind:` value airless knows.
pub const KINDS: &[&str] = &["noop", "shell", "http", "emulate", "ingest", "databricks"];

impl KindSpec {
    /// Whether a try cut off by a stop of airless goes on after the restart
    /// (its remote job kept running) instead of failing as interrupted.
    pub fn resumable(&self) -> bool {
        matches!(self, Self::Databricks(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Noop(_) => "noop",
            Self::Shell(_) => "shell",
            Self::Http(_) => "http",
            Self::Emulate(_) => "emulate",
            Self::Ingest(_) => "ingest",
            Self::Databricks(_) => "databricks",
        }
    }
}

fn read_task(
    kind: &str,
    isolated: &str,
) -> Option<Result<(TaskCommon, KindSpec), serde_yaml::Error>> {
    fn read<F: for<'de> Deserialize<'de>>(text: &str) -> Result<F, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }
    Some(match kind {
        "noop" => read::<NoopFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Noop(s))
        }),
        "shell" => read::<ShellFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Shell(s))
        }),
        "http" => read::<HttpFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Http(s))
        }),
        "emulate" => read::<EmulateFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Emulate(s))
        }),
        "ingest" => read::<IngestFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Ingest(s))
        }),
        "databricks" => read::<DatabricksFile>(isolated).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Databricks(s))
        }),
        _ => return None,
    })
}

/// What `parse` could read of a file, with every mistake it found.
#[derive(Debug)]
pub struct ParsedFile {
    pub header: Option<DagSpec>,
    pub tasks: Vec<TaskSpec>,
    /// How many entries the `tasks` list has, readable or not.
    pub task_count: usize,
    /// The `task_id` of every entry that has one, readable or not, so a
    /// broken task does not also break the `depends_on` that name it.
    pub all_task_ids: Vec<String>,
    pub source: SourceMap,
    pub errors: Vec<DagError>,
}

/// Reads a DAG file's text. Syntax errors stop here; otherwise the DAG keys
/// and each task are read separately and all their mistakes are collected.
pub fn parse(file: &Path, text: &str) -> ParsedFile {
    let mut parsed = ParsedFile {
        header: None,
        tasks: Vec::new(),
        task_count: 0,
        all_task_ids: Vec::new(),
        source: SourceMap::default(),
        errors: Vec::new(),
    };
    let document: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(document) => document,
        Err(err) => {
            parsed.errors.push(from_serde(
                file,
                &err,
                "this is not valid YAML; check the indentation and quoting around this spot",
            ));
            return parsed;
        }
    };
    parsed.source = SourceMap::build(text);
    match serde_yaml::from_str::<DagSpec>(text) {
        Ok(header) => parsed.header = Some(header),
        Err(err) => parsed.errors.push(from_serde(file, &err, "")),
    }
    let items = match document.get("tasks") {
        Some(serde_yaml::Value::Sequence(items)) => items.as_slice(),
        Some(serde_yaml::Value::Null) | None => &[],
        Some(_) => {
            parsed.errors.push(
                DagError::new(file, parsed.source.value("tasks"), "`tasks` must be a list")
                    .hint("write each task as a `- task_id: …` item under `tasks:`"),
            );
            &[]
        }
    };
    parsed.task_count = items.len();
    parsed.all_task_ids = items
        .iter()
        .filter_map(|i| i.get("task_id")?.as_str().map(String::from))
        .collect();
    for (index, item) in items.iter().enumerate() {
        match read_one_task(file, text, &parsed.source, index, item) {
            Ok(task) => parsed.tasks.push(task),
            Err(err) => parsed.errors.push(err),
        }
    }
    parsed
}

fn read_one_task(
    file: &Path,
    text: &str,
    source: &SourceMap,
    index: usize,
    item: &serde_yaml::Value,
) -> Result<TaskSpec, DagError> {
    let path = format!("tasks[{index}]");
    let name = item
        .get("task_id")
        .and_then(|v| v.as_str())
        .map(|id| format!("task `{id}`"))
        .unwrap_or_else(|| format!("task #{}", index + 1));
    if !item.is_mapping() {
        return Err(DagError::new(
            file,
            source.value(&path),
            format!("{name} must be a mapping with `task_id` and `kind`"),
        )
        .hint("write it as `- task_id: …` with `kind: …` and the other keys indented below it"));
    }
    let kind = match item.get("kind") {
        Some(serde_yaml::Value::String(kind)) => kind.as_str(),
        Some(_) => {
            return Err(DagError::new(
                file,
                source.value(&format!("{path}.kind")),
                format!("{name}: `kind` must be a name"),
            )
            .hint(format!("use one of {}", KINDS.join(", "))));
        }
        None => {
            return Err(
                DagError::new(file, source.value(&path), format!("{name} has no `kind`"))
                    .hint(format!("add `kind:` with one of {}", KINDS.join(", "))),
            );
        }
    };
    let isolated = source
        .isolate_task(text, index)
        .unwrap_or_else(|| text.to_string());
    match read_task(kind, &isolated) {
        None => {
            let hint = suggest(kind, KINDS.iter().copied())
                .unwrap_or_else(|| format!("use one of {}", KINDS.join(", ")));
            Err(DagError::new(
                file,
                source.value(&format!("{path}.kind")),
                format!("{name}: unknown kind `{kind}`"),
            )
            .hint(hint))
        }
        Some(Err(err)) => Err(from_serde(file, &err, "").prefixed(&name)),
        Some(Ok((common, kind))) => Ok(TaskSpec {
            index,
            common,
            kind,
        }),
    }
}

impl DagError {
    fn prefixed(mut self, name: &str) -> Self {
        self.message = format!("{name}: {}", self.message);
        self
    }
}

/// Turns a serde_yaml error into ours: its position (where an unclosed quote
/// opens, for one), its message without the "at line … column …" marks, and a
/// hint derived from what serde expected.
fn from_serde(file: &Path, err: &serde_yaml::Error, fallback_hint: &str) -> DagError {
    let mut pos = err.location().map(|l| Pos {
        line: l.line(),
        column: l.column(),
    });
    let (message, marks) = without_marks(&err.to_string());
    let message = message.replace("expected u32", "expected a whole number");
    // an unclosed quote or bracket runs to the end of the file: libyaml's
    // last mark is where it opens, the spot to fix
    if message.starts_with("found unexpected end of stream")
        && let Some(&opened) = marks.last()
    {
        pos = Some(opened);
    }
    let hint = serde_hint(&message)
        .or_else(|| (!fallback_hint.is_empty()).then(|| fallback_hint.to_string()));
    let error = DagError::new(file, pos, message);
    match hint {
        Some(hint) => error.hint(hint),
        None => error,
    }
}

/// `message` without the ` at line L column C` marks serde_yaml and libyaml
/// put in it (the error's position says where), and those marks in order.
fn without_marks(message: &str) -> (String, Vec<Pos>) {
    const AT: &str = " at line ";
    let mut out = String::with_capacity(message.len());
    let mut marks = Vec::new();
    let mut rest = message;
    while let Some(at) = rest.find(AT) {
        out.push_str(&rest[..at]);
        let after = &rest[at + AT.len()..];
        let number = |s: &str| -> Option<(usize, usize)> {
            let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            Some((s[..digits].parse().ok()?, digits))
        };
        let mark = number(after).and_then(|(line, len)| {
            let tail = after[len..].strip_prefix(" column ")?;
            let (column, len) = number(tail)?;
            Some((Pos { line, column }, &tail[len..]))
        });
        match mark {
            Some((pos, tail)) => {
                marks.push(pos);
                rest = tail;
            }
            None => {
                out.push_str(AT);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, marks)
}

/// Hints for serde's stable message shapes: unknown field/variant, missing
/// field, wrong type.
fn serde_hint(message: &str) -> Option<String> {
    let backticked = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(at) = message
        .find("unknown field `")
        .or_else(|| message.find("unknown variant `"))
    {
        let names = backticked(&message[at..]);
        let (got, expected) = names.split_first()?;
        return Some(
            suggest(got, expected.iter().map(String::as_str))
                .unwrap_or_else(|| format!("remove it or use one of: {}", expected.join(", "))),
        );
    }
    if message.contains("while scanning a quoted scalar") {
        return Some(
            "the quote that opens here is never closed; add the closing quote".to_string(),
        );
    }
    if message.contains("expected a boolean") {
        return Some("write true or false".to_string());
    }
    if message.contains("expected a whole number") {
        return Some("write a whole number, e.g. 3".to_string());
    }
    if let Some(at) = message.find("missing field `") {
        let field = backticked(&message[at..]).into_iter().next()?;
        return Some(format!("add `{field}:`"));
    }
    if message.contains("expected a string") {
        return Some("quote the value, e.g. \"2m\" or \"@daily\"".to_string());
    }
    if message.contains("did not match any variant of untagged enum ShellCommand") {
        return Some("`command` is a string (run by bash -c) or a list of strings (argv); quote list items that YAML reads as numbers, like \"-1\"".to_string());
    }
    None
}
