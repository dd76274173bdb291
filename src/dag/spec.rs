//! The serde mirror of a DAG file: every key, one shape per key, unknown keys
//! refused. `parse` is the only way in: it reads the file once into a YAML
//! document, then the DAG keys and each task from it on their own, so one
//! broken task never hides the mistakes in the others.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};

use super::error::{DagError, suggest};
use super::source::SourceMap;
use super::yaml::de::from_node;
use super::yaml::{self, Doc, NodeId, Resolved, Value};

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
    /// Alerts for every task (a task's own keys win): channels named in
    /// `airless.toml`'s `[notify.NAME]`.
    pub on_failure: Option<Vec<String>>,
    pub on_retry: Option<Vec<String>>,
    pub on_success: Option<Vec<String>>,
    /// A run succeeds after the DAG's previous run failed.
    pub on_recovery: Option<Vec<String>>,
    /// The run has not finished this long after `from`.
    pub deadline: Option<DeadlineSpec>,
    pub tasks: Option<IgnoredAny>,
}

/// `deadline: { after: 2h, from: data_interval_end, notify: [oncall] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSpec {
    pub after: String,
    #[serde(default)]
    pub from: Option<String>,
    pub notify: Vec<String>,
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
    pub on_failure: Option<Vec<String>>,
    pub on_retry: Option<Vec<String>>,
    pub on_success: Option<Vec<String>>,
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
    /// The task must have finished this long after the run's instant.
    pub deadline: Option<DeadlineSpec>,
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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ShellCommand {
    Script(String),
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for ShellCommand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Command;
        impl<'de> Visitor<'de> for Command {
            type Value = ShellCommand;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command string (run by bash -c) or a list of strings (argv)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ShellCommand, E> {
                Ok(ShellCommand::Script(v.to_string()))
            }

            // `command: true` runs `true`
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ShellCommand, E> {
                Ok(ShellCommand::Script(v.to_string()))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ShellCommand, E> {
                Ok(ShellCommand::Script(v.to_string()))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ShellCommand, E> {
                Ok(ShellCommand::Script(v.to_string()))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ShellCommand, E> {
                Ok(ShellCommand::Script(v.to_string()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ShellCommand, A::Error> {
                let mut argv = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                Ok(ShellCommand::Argv(argv))
            }
        }
        deserializer.deserialize_any(Command)
    }
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
            on_failure: Option<Vec<String>>,
            on_retry: Option<Vec<String>>,
            on_success: Option<Vec<String>>,
            deadline: Option<DeadlineSpec>,
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
                        on_failure: self.on_failure,
                        on_retry: self.on_retry,
                        on_success: self.on_success,
                    },
                    deadline: self.deadline,
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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum TemplatedNumber {
    Number(serde_json::Number),
    Template(String),
}

impl<'de> Deserialize<'de> for TemplatedNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Number;
        impl Visitor<'_> for Number {
            type Value = TemplatedNumber;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a template such as \"{{ params.records }}\"")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<TemplatedNumber, E> {
                Ok(TemplatedNumber::Number(v.into()))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TemplatedNumber, E> {
                Ok(TemplatedNumber::Number(v.into()))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<TemplatedNumber, E> {
                serde_json::Number::from_f64(v)
                    .map(TemplatedNumber::Number)
                    .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TemplatedNumber, E> {
                Ok(TemplatedNumber::Template(v.to_string()))
            }
        }
        deserializer.deserialize_any(Number)
    }
}

impl TemplatedNumber {
    /// The value as a whole number; `field` names it in the error, which
    /// says whether the number is negative, fractional or too large.
    pub fn whole(&self, field: &str) -> Result<u64, String> {
        let text = match self {
            Self::Number(n) => n.to_string(),
            Self::Template(t) => t.trim().to_string(),
        };
        if let Ok(n) = text.parse::<u64>() {
            return Ok(n);
        }
        let range = format!("expected a whole number from 0 to {}", u64::MAX);
        let fault = match text.parse::<f64>() {
            Ok(v) if v.is_finite() && v.fract() != 0.0 => "is not a whole number",
            Ok(v) if v < 0.0 => "is negative",
            Ok(v) if v.is_finite() => "is out of range",
            Ok(_) => "is not a whole number",
            Err(_) => return Err(format!("`{field}` must be a whole number, got `{text}`")),
        };
        Err(format!("`{field}`: {text} {fault}; {range}"))
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
///
/// The larger kinds are boxed so a task of any kind stays small: a DAG of
/// 100,000 shell tasks holds 100,000 of these.
pub enum KindSpec {
    Noop(NoopSpec),
    Shell(ShellSpec),
    Http(Box<HttpSpec>),
    Emulate(Box<EmulateSpec>),
    Ingest(Box<IngestSpec>),
    Databricks(Box<DatabricksSpec>),
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
    doc: &Doc<'_>,
    item: NodeId,
) -> Option<Result<(TaskCommon, KindSpec), yaml::de::Error>> {
    Some(match kind {
        "noop" => from_node::<NoopFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Noop(s))
        }),
        "shell" => from_node::<ShellFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Shell(s))
        }),
        "http" => from_node::<HttpFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Http(Box::new(s)))
        }),
        "emulate" => from_node::<EmulateFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Emulate(Box::new(s)))
        }),
        "ingest" => from_node::<IngestFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Ingest(Box::new(s)))
        }),
        "databricks" => from_node::<DatabricksFile>(doc, item).map(|f| {
            let (c, s) = f.split();
            (c, KindSpec::Databricks(Box::new(s)))
        }),
        _ => return None,
    })
}

/// What `parse` could read of a file, with every mistake it found.
#[derive(Debug)]
pub struct ParsedFile<'a> {
    pub header: Option<DagSpec>,
    pub tasks: Vec<TaskSpec>,
    /// How many entries the `tasks` list has, readable or not.
    pub task_count: usize,
    /// The `task_id` of every entry that has one, readable or not, so a
    /// broken task does not also break the `depends_on` that name it.
    pub all_task_ids: HashSet<String>,
    pub source: SourceMap<'a>,
    pub errors: Vec<DagError>,
}

/// Reads a DAG file's text. YAML mistakes (syntax, tags, duplicate keys,
/// aliases) stop here; otherwise the DAG keys and each task are read
/// separately and all their mistakes are collected.
pub fn parse<'a>(file: &Path, text: &'a str) -> ParsedFile<'a> {
    let mut parsed = ParsedFile {
        header: None,
        tasks: Vec::new(),
        task_count: 0,
        all_task_ids: HashSet::new(),
        source: SourceMap::default(),
        errors: Vec::new(),
    };
    let doc = match yaml::parse(file, text) {
        Ok(doc) => doc,
        Err(errors) => {
            parsed.errors = errors;
            return parsed;
        }
    };
    let Some(root) = doc.root() else {
        parsed.errors.push(
            DagError::new(
                file,
                Some(super::source::Pos { line: 1, column: 1 }),
                "the file has no DAG in it",
            )
            .hint("a DAG file is a mapping with at least `tasks:`; see dags/ for examples"),
        );
        return parsed;
    };
    if !matches!(doc.value(root), Value::Map(_)) {
        parsed.errors.push(
            DagError::new(file, Some(doc.pos(root)), "the file must be a mapping of DAG keys")
                .hint("write `dag_id: …`, `schedule: …` and `tasks:` as `key: value` lines at the start of the line"),
        );
        return parsed;
    }
    match from_node::<DagSpec>(&doc, root) {
        Ok(header) => parsed.header = Some(header),
        Err(err) => parsed.errors.push(err.into_dag_error(file)),
    }
    let items: &[NodeId] = match doc.entry(root, "tasks") {
        None => &[],
        Some((_, tasks)) if doc.is_null(tasks) => &[],
        Some((_, tasks)) => match doc.value(tasks) {
            Value::Seq(items) => items,
            _ => {
                parsed.errors.push(
                    DagError::new(file, Some(doc.pos(tasks)), "`tasks` must be a list")
                        .hint("write each task as a `- task_id: …` item under `tasks:`"),
                );
                &[]
            }
        },
    };
    parsed.task_count = items.len();
    parsed.all_task_ids = items
        .iter()
        .filter_map(|&item| doc.text(doc.get(item, "task_id")?).map(String::from))
        .collect();
    parsed.tasks.reserve(items.len());
    for (index, &item) in items.iter().enumerate() {
        match read_one_task(file, &doc, index, item) {
            Ok(task) => parsed.tasks.push(task),
            Err(err) => parsed.errors.push(err),
        }
    }
    parsed.source = SourceMap::new(doc);
    parsed
}

fn read_one_task(
    file: &Path,
    doc: &Doc<'_>,
    index: usize,
    item: NodeId,
) -> Result<TaskSpec, DagError> {
    let name = match doc.get(item, "task_id").and_then(|id| doc.text(id)) {
        Some(id) if !id.is_empty() => format!("task `{id}`"),
        _ => format!("task #{}", index + 1),
    };
    if doc.is_null(item) {
        return Err(
            DagError::new(file, Some(doc.pos(item)), format!("{name} is empty")).hint(
                "write it as `- task_id: …` with `kind: …` and the other keys indented below it",
            ),
        );
    }
    if !matches!(doc.value(item), Value::Map(_)) {
        return Err(DagError::new(
            file,
            Some(doc.pos(item)),
            format!("{name} must be a mapping with `task_id` and `kind`"),
        )
        .hint("write it as `- task_id: …` with `kind: …` and the other keys indented below it"));
    }
    let kind_node = doc.get(item, "kind");
    let kind = match kind_node.map(|k| doc.value(k)) {
        Some(Value::Scalar(scalar)) if matches!(scalar.resolve(), Resolved::Str(_)) => scalar.text,
        Some(_) => {
            return Err(DagError::new(
                file,
                kind_node.map(|k| doc.pos(k)),
                format!("{name}: `kind` must be a name"),
            )
            .hint(format!("use one of {}", KINDS.join(", "))));
        }
        None => {
            return Err(
                DagError::new(file, Some(doc.pos(item)), format!("{name} has no `kind`"))
                    .hint(format!("add `kind:` with one of {}", KINDS.join(", "))),
            );
        }
    };
    match read_task(kind, doc, item) {
        None => {
            let hint = suggest(kind, KINDS.iter().copied()).unwrap_or_else(|| {
                if kind.to_ascii_lowercase().ends_with("operator") {
                    format!("airless has no Airflow operators; its kinds are {} (run Python as `kind: shell` with `command: python3 script.py`)", KINDS.join(", "))
                } else {
                    format!("use one of {}", KINDS.join(", "))
                }
            });
            Err(DagError::new(
                file,
                kind_node.map(|k| doc.pos(k)),
                format!("{name}: unknown kind `{kind}`"),
            )
            .hint(hint))
        }
        Some(Err(err)) => Err(err.into_dag_error(file).prefixed(&name)),
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
