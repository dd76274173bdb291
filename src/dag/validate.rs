//! A DAG file's text → a [`Dag`], or every mistake in it at once, each with
//! its position and what to do. The only place DAG rules are checked,
//! templates included: a mistake that would fail a try is refused here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::{DagError, WarningType, suggest};
use super::graph::TaskGraph;
use super::source::{Pos, SourceMap};
use super::spec::{
    self, KindSpec, ParsedFile, ShellCommand, TaskDefaults, TaskSpec, TimetableSpec,
};
use super::template;
use super::timetable::{CronSchedule, Timetable, TimetableKind};
use super::yaml::{self, NodeId, Value};
use super::{Dag, DagAlerts, Deadline, DeadlineFrom, RetryPolicy, Task, TaskAlerts, duration};
use crate::model::{DagId, TaskId};

/// Airflow's defaults for a DAG's concurrency.
const DEFAULT_MAX_ACTIVE_RUNS: u32 = 16;
const DEFAULT_MAX_ACTIVE_TASKS: u32 = 16;

/// Airflow's longest dag_id or task_id.
pub const MAX_ID_LENGTH: usize = 250;

/// The mistakes reported for one file; the rest are counted.
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// The years a start_date or end_date may fall in.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// A cycle longer than this is shown by its first and last steps.
const CYCLE_SHOWN: usize = 10;

/// The keys every task has; the engine renders only the others.
const COMMON_KEYS: &[&str] = &[
    "task_id",
    "kind",
    "depends_on",
    "trigger_rule",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "max_retry_delay",
    "execution_timeout",
    "on_failure",
    "on_retry",
    "on_success",
    "deadline",
];

/// Reads and validates one DAG file's text. `file` names it in errors and
/// gives the default `dag_id` (its stem). Warnings go to `Dag::warnings`.
pub fn load(file: &Path, text: &str) -> Result<Dag, Vec<DagError>> {
    load_shared(file, Arc::from(text))
}

/// [`load`] for a file's bytes, which must be UTF-8: the text is kept once,
/// as the DAG's source, without a second copy alive while it is read.
pub fn load_bytes(file: &Path, bytes: Vec<u8>) -> Result<Dag, Vec<DagError>> {
    yaml::decode(file, &bytes).map_err(|e| vec![e])?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    load_shared(file, Arc::from(text))
}

/// [`load`] for text already shared: it becomes the DAG's `source`.
pub fn load_shared(file: &Path, text: Arc<str>) -> Result<Dag, Vec<DagError>> {
    let mut dag = check(file, spec::parse(file, &text))?;
    dag.source_hash = source_hash(&text);
    dag.source = text;
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

fn check(file: &Path, parsed: ParsedFile<'_>) -> Result<Dag, Vec<DagError>> {
    let ParsedFile {
        header,
        tasks,
        task_count,
        all_task_ids,
        source,
        errors,
    } = parsed;
    let mut checker = Checker {
        file,
        source: &source,
        errors,
        warnings: Vec::new(),
    };
    let files = Files {
        tasks,
        task_count,
        all_task_ids,
    };
    let ready = checker.check(header, files);
    let Checker {
        errors, warnings, ..
    } = checker;
    // positions are no longer needed: the document goes before the tasks
    // are built, so the two are never in memory together
    drop(source);
    match ready {
        Some(Ready {
            mut dag,
            specs,
            defaults,
        }) if errors.is_empty() => {
            dag.tasks = specs
                .into_iter()
                .map(|spec| build_task(spec, &defaults))
                .collect();
            dag.warnings = warnings;
            Ok(dag)
        }
        _ => Err(capped(file, errors)),
    }
}

/// A DAG that passed every check, its tasks still as read.
struct Ready {
    dag: Dag,
    specs: Vec<TaskSpec>,
    defaults: TaskDefaults,
}

/// At most [`MAX_ERRORS_PER_FILE`] errors, then one that counts the rest.
fn capped(file: &Path, mut errors: Vec<DagError>) -> Vec<DagError> {
    if errors.len() > MAX_ERRORS_PER_FILE {
        let more = errors.len() - MAX_ERRORS_PER_FILE;
        errors.truncate(MAX_ERRORS_PER_FILE);
        errors.push(
            DagError::new(
                file,
                None,
                format!("… and {more} more mistakes in this file"),
            )
            .hint("fix the ones above first"),
        );
    }
    errors
}

/// The tasks as read, apart from the DAG keys.
struct Files {
    tasks: Vec<TaskSpec>,
    task_count: usize,
    all_task_ids: HashSet<String>,
}

struct Checker<'c, 'a> {
    file: &'c Path,
    source: &'c SourceMap<'a>,
    errors: Vec<DagError>,
    warnings: Vec<DagError>,
}

impl Checker<'_, '_> {
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

    fn check(&mut self, header: Option<spec::DagSpec>, files: Files) -> Option<Ready> {
        let read_cleanly = self.errors.is_empty();
        let Some(header) = header else {
            // each task was read on its own: its mistakes are reported too
            self.tasks(&files);
            self.graph(&files, &task_index(&files));
            return None;
        };
        let dag_id = match &header.dag_id {
            Some(id) => id.clone(),
            None => self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if let Some((message, hint)) = id_problem("dag_id", &dag_id) {
            let path = if header.dag_id.is_some() {
                "dag_id"
            } else {
                ""
            };
            if path.is_empty() {
                self.errors.push(DagError::new(self.file, None, message).hint(format!(
                    "{hint}; with no `dag_id:` key the dag_id is the file's name: add `dag_id: …` or rename the file"
                )));
            } else {
                self.error(path, message, hint);
            }
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
            Ok(schedule) if !schedule.fires() => {
                self.error(
                    "schedule",
                    format!("schedule `{}` never fires: no date matches it", schedule.expr()),
                    "check the day-of-month and month fields: February has at most 29 days; April, June, September and November have 30",
                );
                None
            }
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
        let mut defaults = header.default_args.clone().unwrap_or_default();
        self.check_durations("default_args", "default_args.", &defaults);
        // the DAG's own alert keys apply to every task, as default_args do
        // (and win over them: they are the DAG's)
        for (key, dag_level, default) in [
            ("on_failure", &header.on_failure, &mut defaults.on_failure),
            ("on_retry", &header.on_retry, &mut defaults.on_retry),
            ("on_success", &header.on_success, &mut defaults.on_success),
        ] {
            if let Some(channels) = dag_level {
                self.check_channels(key, channels);
                *default = Some(channels.clone());
            }
        }
        for (key, channels) in [
            (
                "default_args.on_failure",
                &header
                    .default_args
                    .as_ref()
                    .and_then(|d| d.on_failure.clone()),
            ),
            (
                "default_args.on_retry",
                &header
                    .default_args
                    .as_ref()
                    .and_then(|d| d.on_retry.clone()),
            ),
            (
                "default_args.on_success",
                &header
                    .default_args
                    .as_ref()
                    .and_then(|d| d.on_success.clone()),
            ),
            ("on_recovery", &header.on_recovery),
        ] {
            if let Some(channels) = channels {
                self.check_channels(key, channels);
            }
        }
        let deadline = header
            .deadline
            .as_ref()
            .and_then(|spec| self.deadline("deadline", spec));

        if files.task_count == 0 && read_cleanly {
            self.key_error(
                "tasks",
                "the DAG has no tasks",
                "add a `tasks:` list with at least one `- task_id: … kind: …` entry",
            );
        }

        self.tasks(&files);
        let index = task_index(&files);
        let graph = self.graph(&files, &index);
        let params = header.params.clone().unwrap_or_default();
        self.templates(&files, &index, &params, graph.as_ref());
        drop(index);

        if !self.errors.is_empty() || files.tasks.len() != files.task_count {
            return None;
        }
        let graph = graph?;
        let dag = Dag {
            dag_id: DagId::new(dag_id),
            description: header.description,
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
            params,
            tasks: Vec::new(),
            graph,
            source: Arc::from(""),
            source_hash: String::new(),
            warnings: Vec::new(),
            alerts: DagAlerts {
                on_recovery: header.on_recovery.clone().unwrap_or_default(),
                deadline,
            },
        };
        Some(Ready {
            dag,
            specs: files.tasks,
            defaults,
        })
    }

    /// Channel names: what `[notify.NAME]` allows.
    fn check_channels(&mut self, key: &str, channels: &[String]) {
        for (i, name) in channels.iter().enumerate() {
            let fine = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !fine {
                self.error(
                    &format!("{key}[{i}]"),
                    format!("{key} names the channel `{name}`, which is not a channel name"),
                    "name a `[notify.NAME]` table of airless.toml: letters, digits, `-` and `_`, at most 64 characters",
                );
            }
        }
    }

    /// Checks a `deadline` at `key` (`deadline` or `tasks[i].deadline`).
    fn deadline(&mut self, key: &str, spec: &spec::DeadlineSpec) -> Option<Deadline> {
        self.check_channels(&format!("{key}.notify"), &spec.notify);
        match parse_deadline(spec) {
            Ok(deadline) => Some(deadline),
            Err(problems) => {
                for (field, message, hint) in problems {
                    self.error(&format!("{key}.{field}"), format!("{key}.{message}"), hint);
                }
                None
            }
        }
    }

    fn date(&mut self, key: &str, text: &str, tz: Tz) -> Option<DateTime<Utc>> {
        match parse_date(text, tz) {
            Ok(date) if !YEARS.contains(&date.year()) => {
                let (what, hint) = if date.year() < *YEARS.start() {
                    ("before 1900", "write a date from 1900-01-01 on")
                } else {
                    ("after 9999", "write a date before 10000-01-01")
                };
                self.error(key, format!("{key} `{}` is {what}", text.trim()), hint);
                None
            }
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

    /// Each task's id, durations and kind fields.
    fn tasks(&mut self, files: &Files) {
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(files.tasks.len());
        for spec in &files.tasks {
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
            if let Some((message, hint)) = id_problem("task_id", id) {
                self.error(&format!("{path}.task_id"), message, hint);
            }
            if let Some(deadline) = &spec.common.deadline {
                self.deadline(&format!("{path}.deadline"), deadline);
            }
            let overrides = &spec.common.overrides;
            for (key, channels) in [
                ("on_failure", &overrides.on_failure),
                ("on_retry", &overrides.on_retry),
                ("on_success", &overrides.on_success),
            ] {
                if let Some(channels) = channels {
                    self.check_channels(&format!("{path}.{key}"), channels);
                }
            }
            self.check_durations(&path, &format!("task `{id}`: "), &spec.common.overrides);
            self.kind_fields(&path, id, &spec.kind);
        }
    }

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
                for (i, status) in http.expect_status.iter().flatten().enumerate() {
                    if !(100..=599).contains(status) {
                        self.error(
                            &format!("{path}.expect_status[{i}]"),
                            format!("task `{id}`: expect_status: {status} is not an HTTP status; expected a whole number from 100 to 599"),
                            "e.g. `expect_status: [200, 204]`",
                        );
                    }
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

    /// Every template of every task: it compiles, and every name, filter,
    /// test, param and upstream output it uses exists. A shell script that
    /// reads a trigger's conf (or params, which conf overrides) is warned
    /// about: that is shell injection.
    fn templates(
        &mut self,
        files: &Files,
        index: &HashMap<&str, usize>,
        params: &serde_json::Map<String, serde_json::Value>,
        graph: Option<&TaskGraph>,
    ) {
        let Some(doc) = self.source.doc() else {
            return;
        };
        let Some(task_list) = doc.root().and_then(|root| doc.get(root, "tasks")) else {
            return;
        };
        let Value::Seq(items) = doc.value(task_list) else {
            return;
        };
        let all_ids = &files.all_task_ids;
        let task_ids = |id: &str| all_ids.contains(id);
        let names: Vec<&str> = index.keys().copied().take(error_candidates()).collect();
        let scope = template::Scope {
            params,
            task_ids: &task_ids,
            task_names: &names,
        };
        let mut checker = template::Checker::new();
        let mut ancestry = Ancestry::new(graph, files.tasks.len());
        let mut strings = Vec::new();
        for (position, spec) in files.tasks.iter().enumerate() {
            let Some(&item) = items.get(spec.index) else {
                continue;
            };
            strings.clear();
            template_strings(doc, item, &mut strings);
            let id = spec.common.task_id.as_str();
            for (field, node) in &strings {
                let Some(text) = doc.text(*node) else {
                    continue;
                };
                let findings = checker.check(text, &scope);
                let pos = Some(doc.pos(*node));
                for (message, hint) in findings.errors {
                    self.errors.push(
                        DagError::new(
                            self.file,
                            pos,
                            format!("task `{id}`: template in `{field}` {message}"),
                        )
                        .hint(hint),
                    );
                }
                for upstream in &findings.outputs {
                    let Some(&j) = index.get(upstream.as_str()) else {
                        // a broken task: its own error says why
                        continue;
                    };
                    if j == position {
                        self.errors.push(
                            DagError::new(self.file, pos, format!("task `{id}`: template in `{field}` reads `tasks.{upstream}.output`, its own output, which does not exist while it runs"))
                                .hint("read the output of a task it depends on"),
                        );
                    } else if ancestry.is_upstream(j, position) == Some(false) {
                        self.errors.push(
                            DagError::new(self.file, pos, format!("task `{id}`: template in `{field}` reads `tasks.{upstream}.output`, but `{upstream}` is not upstream of `{id}`"))
                                .hint(format!("add `{upstream}` to the depends_on of `{id}` (or of a task `{id}` depends on), so its output exists when `{id}` runs")),
                        );
                    }
                }
                let is_script = field == "command"
                    && matches!(&spec.kind, KindSpec::Shell(shell) if matches!(shell.command, ShellCommand::Script(_)));
                if is_script && !findings.trigger_inputs.is_empty() {
                    self.warnings.push(injection_warning(
                        self.file,
                        pos,
                        id,
                        &findings.trigger_inputs,
                    ));
                }
            }
        }
    }

    fn graph(&mut self, files: &Files, index: &HashMap<&str, usize>) -> Option<TaskGraph> {
        let mut edges = Vec::with_capacity(files.tasks.len());
        for (i, spec) in files.tasks.iter().enumerate() {
            for (j, upstream) in spec.common.depends_on.iter().enumerate() {
                match index.get(upstream.as_str()) {
                    Some(&up) => edges.push((up, i)),
                    // that task is broken: its own error says why
                    None if files.all_task_ids.contains(upstream) => {}
                    None => {
                        let hint = suggest(upstream, index.keys().copied()).unwrap_or_else(|| {
                            format!("depend on one of: {}", some_sorted(index.keys().copied()))
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
        if files.tasks.len() != files.task_count {
            return None;
        }
        match TaskGraph::build(files.tasks.len(), &edges) {
            Ok(graph) => Some(graph),
            Err(cycles) => {
                for cycle in cycles {
                    let names: Vec<&str> = cycle
                        .iter()
                        .map(|&i| files.tasks[i].common.task_id.as_str())
                        .collect();
                    let first = &files.tasks[cycle[0]];
                    self.key_error(
                        &format!("tasks[{}].depends_on", first.index),
                        format!("the tasks form a cycle: {}", cycle_text(&names)),
                        "remove one of these depends_on entries so the graph has no loop",
                    );
                }
                None
            }
        }
    }
}

/// Each task's position among the tasks read, by id (the last one of a
/// duplicate id).
fn task_index(files: &Files) -> HashMap<&str, usize> {
    files
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.common.task_id.as_str(), i))
        .collect()
}

/// How many names a did-you-mean compares against.
fn error_candidates() -> usize {
    super::error::MAX_SUGGESTION_CANDIDATES
}

/// A `deadline` table as a [`Deadline`], or each of its problems as
/// `(field, message after the key, hint)`.
fn parse_deadline(
    spec: &spec::DeadlineSpec,
) -> Result<Deadline, Vec<(&'static str, String, &'static str)>> {
    let mut problems = Vec::new();
    let after = match duration::parse(&spec.after) {
        Ok(after) if !after.is_zero() => Some(after),
        _ => {
            problems.push((
                "after",
                format!("after `{}` is not a duration", spec.after),
                "write a duration such as 30m, 2h or 1d",
            ));
            None
        }
    };
    let from = match spec.from.as_deref().unwrap_or("data_interval_end") {
        "queued" => Some(DeadlineFrom::Queued),
        "logical_date" => Some(DeadlineFrom::LogicalDate),
        "data_interval_end" => Some(DeadlineFrom::DataIntervalEnd),
        other => {
            problems.push((
                "from",
                format!("from `{other}` is not an instant a run has"),
                "use queued, logical_date or data_interval_end (the default)",
            ));
            None
        }
    };
    if spec.notify.is_empty() {
        problems.push((
            "notify",
            "notify names no channel".to_string(),
            "name at least one `[notify.NAME]` channel, e.g. notify: [team-slack]",
        ));
    }
    match (after, from) {
        (Some(after), Some(from)) if problems.is_empty() => Ok(Deadline {
            after,
            from,
            notify: spec.notify.clone(),
        }),
        _ => Err(problems),
    }
}

/// A task with its defaults applied.
fn build_task(spec: TaskSpec, defaults: &TaskDefaults) -> Task {
    let o = &spec.common.overrides;
    let pick = |task: &Option<String>, dag: &Option<String>| {
        task.as_deref()
            .or(dag.as_deref())
            .and_then(|d| duration::parse(d).ok())
    };
    Task {
        retry: RetryPolicy {
            retries: o.retries.or(defaults.retries).unwrap_or(0),
            retry_delay: pick(&o.retry_delay, &defaults.retry_delay)
                .unwrap_or(RetryPolicy::default().retry_delay),
            exponential_backoff: o
                .retry_exponential_backoff
                .or(defaults.retry_exponential_backoff)
                .unwrap_or(false),
            max_retry_delay: pick(&o.max_retry_delay, &defaults.max_retry_delay),
        },
        execution_timeout: pick(&o.execution_timeout, &defaults.execution_timeout),
        deadline: spec
            .common
            .deadline
            .as_ref()
            .and_then(|d| parse_deadline(d).ok()),
        alerts: TaskAlerts {
            on_failure: o
                .on_failure
                .clone()
                .or_else(|| defaults.on_failure.clone())
                .unwrap_or_default(),
            on_retry: o
                .on_retry
                .clone()
                .or_else(|| defaults.on_retry.clone())
                .unwrap_or_default(),
            on_success: o
                .on_success
                .clone()
                .or_else(|| defaults.on_success.clone())
                .unwrap_or_default(),
        },
        task_id: TaskId::new(spec.common.task_id),
        kind: spec.kind,
        trigger_rule: spec.common.trigger_rule,
    }
}

/// What is wrong with a dag_id or task_id, by Airflow's rule (letters,
/// digits, `_`, `-`, `.`; at most 250 characters), plus `.` and `..`,
/// which name folders: `(message, hint)`.
pub fn id_problem(what: &str, id: &str) -> Option<(String, String)> {
    const RULE: &str = "use letters, digits, `_`, `-` and `.` only, at most 250 characters";
    if id.is_empty() {
        return Some((
            format!("{what} is empty"),
            format!("give it a name; {RULE}"),
        ));
    }
    if id == "." || id == ".." {
        return Some((
            format!("{what} `{id}` is not allowed: `.` and `..` name folders"),
            "use a name with letters or digits, e.g. `daily_load`".to_string(),
        ));
    }
    let length = id.chars().count();
    if length > MAX_ID_LENGTH {
        let start: String = id.chars().take(40).collect();
        return Some((
            format!(
                "{what} `{start}…` is {length} characters long; Airflow allows at most {MAX_ID_LENGTH}"
            ),
            "shorten it".to_string(),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let (at, bad) = id.chars().enumerate().find(|&(_, c)| !allowed(c))?;
    let shown = match bad {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("the control character `{}`", c.escape_debug()),
        c => format!("`{c}`"),
    };
    Some((
        format!(
            "{what} `{id}` has a character Airflow does not allow: {shown} (character {})",
            at + 1
        ),
        RULE.to_string(),
    ))
}

/// Up to 20 names, sorted, and how many more there are.
fn some_sorted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    let total = names.len();
    let mut shown = names.into_iter().take(20).collect::<Vec<_>>().join(", ");
    if total > 20 {
        shown.push_str(&format!(" … ({total} tasks)"));
    }
    shown
}

/// A cycle as `a -> b -> c -> a`; a long one by its first and last five
/// steps and its length.
fn cycle_text(names: &[&str]) -> String {
    // the first task closes the cycle: it is both first and last
    let tasks = names.len().saturating_sub(1);
    if tasks <= CYCLE_SHOWN {
        return names.join(" -> ");
    }
    let half = CYCLE_SHOWN / 2;
    format!(
        "{} -> … -> {} ({tasks} tasks)",
        names[..half].join(" -> "),
        names[names.len() - half - 1..].join(" -> ")
    )
}

/// Every string a try renders in task `item`, with its field path: the
/// values (never the keys) under each key but the common ones.
fn template_strings(doc: &yaml::Doc<'_>, item: NodeId, out: &mut Vec<(String, NodeId)>) {
    let Value::Map(pairs) = doc.value(item) else {
        return;
    };
    for pair in pairs.chunks_exact(2) {
        let Some(key) = doc.text(pair[0]) else {
            continue;
        };
        if COMMON_KEYS.contains(&key) {
            continue;
        }
        collect_strings(doc, key.to_string(), pair[1], out, 0);
    }
}

fn collect_strings(
    doc: &yaml::Doc<'_>,
    field: String,
    node: NodeId,
    out: &mut Vec<(String, NodeId)>,
    depth: usize,
) {
    if depth > yaml::MAX_DEPTH {
        return;
    }
    match doc.value(node) {
        Value::Scalar(scalar) => {
            if scalar.text.contains("{{")
                || scalar.text.contains("{%")
                || scalar.text.contains("{#")
            {
                out.push((field, node));
            }
        }
        Value::Seq(items) => {
            for (i, &child) in items.iter().enumerate() {
                collect_strings(doc, format!("{field}[{i}]"), child, out, depth + 1);
            }
        }
        Value::Map(pairs) => {
            for pair in pairs.chunks_exact(2) {
                let key = doc.text(pair[0]).unwrap_or("?");
                collect_strings(doc, format!("{field}.{key}"), pair[1], out, depth + 1);
            }
        }
    }
}

/// The warning for a shell script that a trigger's input reaches.
fn injection_warning(file: &Path, pos: Option<Pos>, id: &str, inputs: &[String]) -> DagError {
    let shown: Vec<String> = inputs
        .iter()
        .map(|name| format!("`{{{{ {name} }}}}`"))
        .collect();
    let first = &inputs[0];
    let var = first
        .rsplit('.')
        .next()
        .unwrap_or("value")
        .to_ascii_uppercase();
    let via = if inputs.iter().all(|n| n.starts_with("params")) {
        "a trigger's conf overrides params, so whoever triggers the DAG can run commands through it"
    } else {
        "whoever triggers the DAG with a conf can run commands through it"
    };
    DagError::warning(
        file,
        pos,
        WarningType::ShellInjection,
        format!(
            "task `{id}`: `command` is a shell script that puts {} into it: shell injection, since {via}",
            shown.join(", ")
        ),
    )
    .hint(format!(
        "pass it as an environment variable and quote it — `env: {{ {var}: \"{{{{ {first} }}}}\" }}` with `\"${var}\"` in the command — or use the list form, `command: [my-tool, \"{{{{ {first} }}}}\"]`, which no shell reads (Airflow's BashOperator docs give the same advice)"
    ))
}

/// Answers "is task `up` upstream of task `down`?" over the graph, within
/// a total budget of steps so a hostile file cannot make it quadratic:
/// `None` when the graph is unknown or the budget is spent.
struct Ancestry<'g> {
    graph: Option<&'g TaskGraph>,
    budget: usize,
    seen: Vec<u32>,
    round: u32,
    queue: VecDeque<usize>,
}

impl<'g> Ancestry<'g> {
    fn new(graph: Option<&'g TaskGraph>, tasks: usize) -> Self {
        Ancestry {
            graph,
            budget: 4 * tasks + 1_000_000,
            seen: vec![0; if graph.is_some() { tasks } else { 0 }],
            round: 0,
            queue: VecDeque::new(),
        }
    }

    fn is_upstream(&mut self, up: usize, down: usize) -> Option<bool> {
        let graph = self.graph?;
        if graph.upstream(down).any(|t| t == up) {
            return Some(true);
        }
        self.round += 1;
        self.queue.clear();
        self.queue.push_back(down);
        while let Some(task) = self.queue.pop_front() {
            for parent in graph.upstream(task) {
                if parent == up {
                    return Some(true);
                }
                self.budget = self.budget.checked_sub(1)?;
                if self.seen[parent] != self.round {
                    self.seen[parent] = self.round;
                    self.queue.push_back(parent);
                }
            }
        }
        Some(false)
    }
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
