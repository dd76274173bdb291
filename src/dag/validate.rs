//! A DAG file's text → a [`Dag`], or every mistake in it at once, each with
//! its position and what to do. The only place DAG rules are checked.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::{DagError, suggest};
use super::graph::TaskGraph;
use super::source::SourceMap;
use super::spec::{self, KindSpec, ParsedFile, ShellCommand, TaskDefaults, TimetableSpec};
use super::timetable::{CronSchedule, Timetable, TimetableKind};
use super::{Dag, RetryPolicy, Task, duration};
use crate::model::{DagId, TaskId};

/// Airflow's defaults for a DAG's concurrency.
const DEFAULT_MAX_ACTIVE_RUNS: u32 = 16;
const DEFAULT_MAX_ACTIVE_TASKS: u32 = 16;

/// Reads and validates one DAG file's text. `file` names it in errors and
/// gives the default `dag_id` (its stem).
pub fn load(file: &Path, text: &str) -> Result<Dag, Vec<DagError>> {
    let parsed = spec::parse(file, text);
    let mut dag = Checker {
        file,
        source: &parsed.source,
        errors: parsed.errors.clone(),
    }
    .check(&parsed)?;
    dag.source_hash = source_hash(text);
    dag.source = std::sync::Arc::from(text);
    Ok(dag)
}

/// The hex SHA-256 of a DAG file's text: its version's identity.
pub fn source_hash(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Checker<'a> {
    file: &'a Path,
    source: &'a SourceMap,
    errors: Vec<DagError>,
}

impl Checker<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        let hint = hint.into();
        let error = DagError::new(self.file, self.source.value(path), message);
        self.errors.push(if hint.is_empty() {
            error
        } else {
            error.hint(hint)
        });
    }

    fn key_error(&mut self, path: &str, message: impl Into<String>, hint: impl Into<String>) {
        let error = DagError::new(self.file, self.source.key(path), message).hint(hint);
        self.errors.push(error);
    }

    fn check(mut self, parsed: &ParsedFile) -> Result<Dag, Vec<DagError>> {
        let Some(header) = &parsed.header else {
            // each task was read on its own: its mistakes are reported too
            self.tasks(parsed, &TaskDefaults::default());
            self.graph(parsed);
            return Err(self.errors);
        };
        let dag_id = match &header.dag_id {
            Some(id) => id.clone(),
            None => self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if !is_valid_id(&dag_id) {
            self.error(
                "dag_id",
                format!("dag_id `{dag_id}` has characters Airflow does not allow"),
                "use letters, digits, `_`, `-` and `.` only",
            );
        }

        let timezone = match &header.timezone {
            None => Tz::UTC,
            Some(name) => match Tz::from_str(name) {
                Ok(tz) => tz,
                Err(_) => {
                    let hint = suggest(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()))
                        .unwrap_or_else(|| {
                            "use an IANA name such as UTC, Europe/London or America/New_York"
                                .to_string()
                        });
                    self.error("timezone", format!("unknown timezone `{name}`"), hint);
                    Tz::UTC
                }
            },
        };

        let schedule = header.schedule.as_deref().and_then(|expr| match CronSchedule::parse(expr) {
            Ok(schedule) => Some(schedule),
            Err(err) => {
                self.error(
                    "schedule",
                    err.to_string(),
                    "write 5 fields (minute hour day-of-month month day-of-week), a preset (@hourly @daily @weekly @monthly @yearly) or null",
                );
                None
            }
        });
        let start_date = header
            .start_date
            .as_deref()
            .and_then(|text| self.date("start_date", text, timezone));
        let end_date = header
            .end_date
            .as_deref()
            .and_then(|text| self.date("end_date", text, timezone));
        if header.schedule.is_some() && header.start_date.is_none() {
            self.key_error(
                "schedule",
                "a scheduled DAG needs a start_date",
                "add `start_date: 2024-01-01` (in the DAG's timezone), or set `schedule: null` for manual runs only",
            );
        }
        if let (Some(start), Some(end)) = (start_date, end_date)
            && end < start
        {
            self.error(
                "end_date",
                "end_date is before start_date",
                "move end_date after start_date or remove it",
            );
        }
        for (key, value) in [
            ("max_active_runs", header.max_active_runs),
            ("max_active_tasks", header.max_active_tasks),
        ] {
            if value == Some(0) {
                self.error(
                    key,
                    format!("{key} must be at least 1"),
                    "set it to 1 or more, or remove it for the default of 16",
                );
            }
        }
        let defaults = header.default_args.clone().unwrap_or_default();
        self.check_durations("default_args", "default_args.", &defaults);

        if parsed.task_count == 0 && parsed.errors.is_empty() {
            self.key_error(
                "tasks",
                "the DAG has no tasks",
                "add a `tasks:` list with at least one `- task_id: … kind: …` entry",
            );
        }

        let tasks = self.tasks(parsed, &defaults);
        let graph = self.graph(parsed);

        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let (Some(tasks), Some(graph)) = (tasks, graph) else {
            return Err(self.errors);
        };
        Ok(Dag {
            dag_id: DagId::new(dag_id),
            description: header.description.clone(),
            fileloc: self.file.to_path_buf(),
            timetable: Timetable {
                schedule,
                kind: match header.timetable.unwrap_or(TimetableSpec::Interval) {
                    TimetableSpec::Interval => TimetableKind::Interval,
                    TimetableSpec::Trigger => TimetableKind::Trigger,
                },
                timezone,
                start_date,
                end_date,
                catchup: header.catchup.unwrap_or(false),
            },
            max_active_runs: header.max_active_runs.unwrap_or(DEFAULT_MAX_ACTIVE_RUNS),
            max_active_tasks: header.max_active_tasks.unwrap_or(DEFAULT_MAX_ACTIVE_TASKS),
            is_paused_upon_creation: header.is_paused_upon_creation.unwrap_or(false),
            params: header.params.clone().unwrap_or_default(),
            tasks,
            graph,
            source: std::sync::Arc::from(""),
            source_hash: String::new(),
        })
    }

    fn date(&mut self, key: &str, text: &str, tz: Tz) -> Option<DateTime<Utc>> {
        match parse_date(text, tz) {
            Ok(date) => Some(date),
            Err(message) => {
                self.error(
                    key,
                    message,
                    "write a date like 2024-01-01, 2024-01-01T06:00 or 2024-01-01T06:00:00+01:00",
                );
                None
            }
        }
    }

    /// Checks the durations of `default_args` or of a task; `prefix` starts
    /// each message (`default_args.` or ``task `x`: ``).
    fn check_durations(&mut self, base: &str, prefix: &str, args: &TaskDefaults) {
        let keys = [
            ("retry_delay", &args.retry_delay),
            ("max_retry_delay", &args.max_retry_delay),
            ("execution_timeout", &args.execution_timeout),
        ];
        for (key, text) in keys {
            if let Some(Err(err)) = text.as_deref().map(duration::parse) {
                self.error(
                    &format!("{base}.{key}"),
                    format!("{prefix}{key}: {err}"),
                    err.hint(),
                );
            }
        }
    }

    fn tasks(&mut self, parsed: &ParsedFile, defaults: &TaskDefaults) -> Option<Vec<Task>> {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut tasks = Vec::with_capacity(parsed.tasks.len());
        for spec in &parsed.tasks {
            let path = format!("tasks[{}]", spec.index);
            let id = spec.common.task_id.as_str();
            if let Some(&first) = seen.get(id) {
                let line = self
                    .source
                    .value(&format!("tasks[{first}].task_id"))
                    .map(|p| p.line)
                    .unwrap_or(0);
                self.error(
                    &format!("{path}.task_id"),
                    format!("duplicate task_id `{id}` (first defined on line {line})"),
                    "give every task its own task_id",
                );
            } else {
                seen.insert(id, spec.index);
            }
            if !is_valid_id(id) {
                self.error(
                    &format!("{path}.task_id"),
                    format!("task_id `{id}` has characters Airflow does not allow"),
                    "use letters, digits, `_`, `-` and `.` only",
                );
            }
            let o = &spec.common.overrides;
            self.check_durations(&path, &format!("task `{id}`: "), o);
            let pick =
                |task: &Option<String>, dag: &Option<String>| task.clone().or_else(|| dag.clone());
            let retry_delay =
                pick(&o.retry_delay, &defaults.retry_delay).and_then(|d| duration::parse(&d).ok());
            let max_retry_delay = pick(&o.max_retry_delay, &defaults.max_retry_delay)
                .and_then(|d| duration::parse(&d).ok());
            let execution_timeout = pick(&o.execution_timeout, &defaults.execution_timeout)
                .and_then(|d| duration::parse(&d).ok());
            self.kind_fields(&path, id, &spec.kind);
            tasks.push(Task {
                task_id: TaskId::new(id),
                kind: spec.kind.clone(),
                trigger_rule: spec.common.trigger_rule,
                retry: RetryPolicy {
                    retries: o.retries.or(defaults.retries).unwrap_or(0),
                    retry_delay: retry_delay.unwrap_or(RetryPolicy::default().retry_delay),
                    exponential_backoff: o
                        .retry_exponential_backoff
                        .or(defaults.retry_exponential_backoff)
                        .unwrap_or(false),
                    max_retry_delay,
                },
                execution_timeout,
            });
        }
        (tasks.len() == parsed.task_count).then_some(tasks)
    }

    /// Checks a kind's fields beyond their types: non-empty commands, HTTP
    /// methods, and that every template compiles.
    fn kind_fields(&mut self, path: &str, id: &str, kind: &KindSpec) {
        match kind {
            KindSpec::Noop(_) => {}
            KindSpec::Shell(shell) => {
                let empty = match &shell.command {
                    ShellCommand::Script(s) => s.trim().is_empty(),
                    ShellCommand::Argv(argv) => argv.is_empty(),
                };
                if empty {
                    self.error(
                        &format!("{path}.command"),
                        format!("task `{id}`: `command` is empty"),
                        "give the command to run, e.g. `command: echo hello`",
                    );
                }
            }
            KindSpec::Http(http) => {
                const METHODS: [&str; 7] =
                    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
                if !METHODS.contains(&http.method.as_str()) {
                    self.error(
                        &format!("{path}.method"),
                        format!("task `{id}`: unknown HTTP method `{}`", http.method),
                        format!("use one of {}", METHODS.join(", ")),
                    );
                }
                if http.url.trim().is_empty() {
                    self.error(
                        &format!("{path}.url"),
                        format!("task `{id}`: `url` is empty"),
                        "give the URL to call",
                    );
                }
            }
            KindSpec::Emulate(emulate) => self.emulate(path, id, emulate),
            KindSpec::Databricks(spec) => self.databricks(path, id, spec),
            KindSpec::Ingest(ingest) => {
                let super::spec::IngestSource::KafkaRest { topics, group, .. } = &ingest.source;
                if topics.is_empty() {
                    self.key_error(
                        &format!("{path}.source.topics"),
                        format!("task `{id}`: `topics` is empty"),
                        "list the topics to land, e.g. `[0a1b.pin, 0a1b.geo, 0a1b.user]`",
                    );
                }
                if group.trim().is_empty() {
                    self.error(
                        &format!("{path}.source.group"),
                        format!("task `{id}`: `group` is empty"),
                        "name the consumer group whose offsets track what has landed",
                    );
                }
                if matches!(
                    ingest.sink,
                    super::spec::SinkSpec::KafkaRest { .. }
                        | super::spec::SinkSpec::KinesisRest { .. }
                ) {
                    self.error(
                        &format!("{path}.sink.kind"),
                        format!(
                            "task `{id}`: ingest writes to a lake, not to `{}`",
                            ingest.sink.kind()
                        ),
                        "use `kind: s3` (a bucket) or `kind: dir` (a folder)",
                    );
                }
                if ingest.flush_size == 0 {
                    self.error(
                        &format!("{path}.flush_size"),
                        format!("task `{id}`: `flush_size` must be at least 1"),
                        "set it to 1 or more",
                    );
                }
            }
        }
        self.templates(path, id, kind);
    }

    /// `emulate`: a known source, tables as plain names, numbers that are
    /// numbers (unless templated), sizes of at least 1.
    fn emulate(&mut self, path: &str, id: &str, spec: &super::spec::EmulateSpec) {
        let source = spec.source.trim();
        let known = source == "demo"
            || source.starts_with("mysql://")
            || source.starts_with("sqlite:")
            || source.contains("{{");
        if !known {
            self.error(
                &format!("{path}.source"),
                format!("task `{id}`: unknown source `{source}`"),
                "use `demo`, a mysql://user:password@host:3306/db URL or a sqlite://path URL",
            );
        }
        if spec.streams.is_empty() {
            self.key_error(
                &format!("{path}.streams"),
                format!("task `{id}`: `streams` is empty"),
                "map each source table to its topic, e.g. `pinterest_data: 0a1b.pin`",
            );
        }
        for table in spec.streams.keys() {
            let plain =
                !table.is_empty() && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                self.key_error(
                    &format!("{path}.streams.{table}"),
                    format!("task `{id}`: `{table}` is not a plain table name"),
                    "use the table's name: letters, digits and `_`",
                );
            } else if source == "demo"
                && !["pinterest_data", "geolocation_data", "user_data"].contains(&table.as_str())
            {
                let hint = suggest(table, ["pinterest_data", "geolocation_data", "user_data"])
                    .unwrap_or_else(|| {
                        "the demo source has pinterest_data, geolocation_data and user_data"
                            .to_string()
                    });
                self.key_error(
                    &format!("{path}.streams.{table}"),
                    format!("task `{id}`: the demo source has no table `{table}`"),
                    hint,
                );
            }
        }
        let numbers = [
            ("records", Some(&spec.records), true),
            ("seed", Some(&spec.seed), true),
            ("rate", spec.rate.as_ref(), false),
        ];
        for (field, value, whole) in numbers {
            let Some(value) = value.filter(|v| !v.is_template()) else {
                continue;
            };
            let checked = if whole {
                value.whole(field).map(|_| ())
            } else {
                value.positive(field).map(|_| ())
            };
            if let Err(message) = checked {
                self.error(
                    &format!("{path}.{field}"),
                    format!("task `{id}`: {message}"),
                    "write a number, or a template such as \"{{ params.records }}\"",
                );
            }
        }
        if let super::spec::SinkSpec::KafkaRest { batch_size: 0, .. } = &spec.sink {
            self.error(
                &format!("{path}.sink.batch_size"),
                format!("task `{id}`: `batch_size` must be at least 1"),
                "set it to 1 or more",
            );
        }
        if spec.flush_size == 0 {
            self.error(
                &format!("{path}.flush_size"),
                format!("task `{id}`: `flush_size` must be at least 1"),
                "set it to 1 or more",
            );
        }
    }

    /// `databricks`: either a job (`job_id`) or a notebook on a cluster, and
    /// only the parameters that go with that choice.
    fn databricks(&mut self, path: &str, id: &str, spec: &super::spec::DatabricksSpec) {
        let notebook = spec.notebook_path.is_some();
        match (&spec.job_id, notebook) {
            (Some(_), true) | (None, false) => self.key_error(
                path,
                format!("task `{id}`: give either `job_id` or `notebook_path`"),
                "`job_id: 123` runs an existing job (run-now); `notebook_path` + `existing_cluster_id` submits a one-time notebook run",
            ),
            (Some(job), false) if !job.is_template() => {
                if let Err(message) = job.whole("job_id") {
                    self.error(&format!("{path}.job_id"), format!("task `{id}`: {message}"), "write the job's numeric id");
                }
            }
            _ => {}
        }
        if notebook {
            if spec.existing_cluster_id.is_some() == spec.new_cluster.is_some() {
                self.key_error(
                    path,
                    format!("task `{id}`: a notebook run needs exactly one of `existing_cluster_id` or `new_cluster`"),
                    "e.g. `existing_cluster_id: 1108-162752-8okw8dgg`",
                );
            }
            for (key, set) in [
                ("job_parameters", spec.job_parameters.is_some()),
                ("notebook_params", spec.notebook_params.is_some()),
            ] {
                if set {
                    self.error(
                        &format!("{path}.{key}"),
                        format!("task `{id}`: `{key}` goes with `job_id`"),
                        "pass a notebook run's parameters as `base_parameters`",
                    );
                }
            }
        } else {
            for (key, set) in [
                ("existing_cluster_id", spec.existing_cluster_id.is_some()),
                ("new_cluster", spec.new_cluster.is_some()),
                ("base_parameters", spec.base_parameters.is_some()),
            ] {
                if set {
                    self.error(&format!("{path}.{key}"), format!("task `{id}`: `{key}` goes with `notebook_path`"), "a job run uses the job's own cluster; pass parameters as `job_parameters` or `notebook_params`");
                }
            }
        }
        if let Some(interval) = &spec.poll_interval {
            match duration::parse(interval) {
                Ok(d) if d >= std::time::Duration::from_secs(1) => {}
                Ok(_) => self.error(
                    &format!("{path}.poll_interval"),
                    format!("task `{id}`: `poll_interval` must be at least 1s"),
                    "e.g. `poll_interval: 30s`",
                ),
                Err(message) => self.error(
                    &format!("{path}.poll_interval"),
                    format!("task `{id}`: {message}"),
                    "e.g. `poll_interval: 30s`",
                ),
            }
        }
    }

    fn templates(&mut self, path: &str, id: &str, kind: &KindSpec) {
        let value = match kind {
            KindSpec::Noop(_) => return,
            KindSpec::Shell(s) => serde_json::to_value(s),
            KindSpec::Http(h) => serde_json::to_value(h),
            KindSpec::Emulate(e) => serde_json::to_value(e),
            KindSpec::Ingest(i) => serde_json::to_value(i),
            KindSpec::Databricks(d) => serde_json::to_value(d),
        };
        let Ok(value) = value else { return };
        let mut strings = Vec::new();
        collect_strings("", &value, &mut strings);
        let env = minijinja::Environment::new();
        for (field, text) in strings {
            if let Err(err) = env.template_from_str(&text) {
                let top = field
                    .split(['.', '['])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                self.error(
                    &format!("{path}.{top}"),
                    format!(
                        "task `{id}`: template in `{field}` does not compile: {}",
                        err.detail().unwrap_or("syntax error")
                    ),
                    "check the {{ }} and {% %} pairs",
                );
            }
        }
    }

    fn graph(&mut self, parsed: &ParsedFile) -> Option<TaskGraph> {
        let index: HashMap<&str, usize> = parsed
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.common.task_id.as_str(), i))
            .collect();
        let mut edges = Vec::new();
        for (i, spec) in parsed.tasks.iter().enumerate() {
            for (j, upstream) in spec.common.depends_on.iter().enumerate() {
                match index.get(upstream.as_str()) {
                    Some(&up) => edges.push((up, i)),
                    // that task is broken: its own error says why
                    None if parsed.all_task_ids.contains(upstream) => {}
                    None => {
                        let hint = suggest(upstream, index.keys().copied()).unwrap_or_else(|| {
                            format!("depend on one of: {}", sorted(index.keys()))
                        });
                        self.error(
                            &format!("tasks[{}].depends_on[{j}]", spec.index),
                            format!("task `{}` depends on `{upstream}`, which is not a task of this DAG", spec.common.task_id),
                            hint,
                        );
                    }
                }
            }
        }
        if parsed.tasks.len() != parsed.task_count {
            return None;
        }
        match TaskGraph::build(parsed.tasks.len(), &edges) {
            Ok(graph) => Some(graph),
            Err(cycles) => {
                for cycle in cycles {
                    let names: Vec<&str> = cycle
                        .iter()
                        .map(|&i| parsed.tasks[i].common.task_id.as_str())
                        .collect();
                    let first = &parsed.tasks[cycle[0]];
                    self.key_error(
                        &format!("tasks[{}].depends_on", first.index),
                        format!("the tasks form a cycle: {}", names.join(" -> ")),
                        "remove one of these depends_on entries so the graph has no loop",
                    );
                }
                None
            }
        }
    }
}

fn sorted<'a>(names: impl Iterator<Item = &'a &'a str>) -> String {
    let mut names: Vec<&str> = names.copied().collect();
    names.sort_unstable();
    names.join(", ")
}

fn collect_strings(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_strings(&format!("{prefix}[{i}]"), item, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                collect_strings(&path, item, out);
            }
        }
        _ => {}
    }
}

/// Airflow's id rule: letters, digits, `_`, `-`, `.`; at most 250 characters.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 250
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `2024-01-01`, `2024-01-01T06:00[:00]`, `2024-01-01 06:00:00`, or RFC 3339
/// with an offset. Without an offset the time is in `tz`.
pub fn parse_date(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    let naive = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| {
            [
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        })
        .ok_or_else(|| format!("invalid date `{text}`"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
        .ok_or_else(|| {
            format!("`{text}` does not exist in {tz} (it falls in a daylight-saving gap)")
        })
}
