//! One DAG the reader found → airless YAML text: the DAG keys, default_args,
//! and each task with its kind, dependencies and overrides; then the text is
//! checked with airless's validation so the port never writes a broken file.

use std::path::Path;

use super::alerts::{self, AlertArgs};
use super::model::{Args, DagDecl, Keyword, TaskDecl};
use super::operators::{self, KindOut};
use super::reader::{Note, Reader};
use super::schedule::{self, Timing};
use super::task_args::{self, Carried};
use super::templates;
use super::value::Value;
use super::yaml::{Node, Writer};
use crate::dag::timetable::TimetableKind;
use crate::port::channels::Channels;
use crate::port::{PortOptions, SourceFile};

/// DAG arguments read elsewhere (timing, default_args) or here.
const DAG_KEYS: &[&str] = &[
    "dag_id",
    "description",
    "schedule",
    "schedule_interval",
    "timetable",
    "start_date",
    "end_date",
    "catchup",
    "default_args",
    "max_active_runs",
    "max_active_tasks",
    "concurrency",
    "is_paused_upon_creation",
    "params",
    "tags",
    "on_failure_callback",
    "on_success_callback",
    "sla_miss_callback",
];

/// Task arguments the task layer reads itself.
const TASK_KEYS: &[&str] = &[
    "task_id",
    "dag",
    "task_group",
    "default_args",
    "trigger_rule",
];

type Entry = (String, Node, Option<String>);

struct TaskOut {
    task_id: String,
    comments: Vec<String>,
    kind: &'static str,
    depends_on: Vec<String>,
    trigger_rule: Option<Node>,
    entries: Vec<Entry>,
    /// The alert arguments the task sets itself (or its groups' default_args).
    alert_args: AlertArgs,
}

/// Returns (dag_id, YAML, line of the DAG).
pub fn convert(
    reader: &Reader<'_>,
    index: usize,
    source: &SourceFile,
    opts: &PortOptions,
    channels: &mut Channels,
    notes: &mut Vec<Note>,
) -> (String, String, u32) {
    let dag = &reader.model.dags[index];
    let dag_id = dag_id(dag, &source.path, notes);
    let default_args = match dag.args.get("default_args") {
        Some(Keyword {
            value: v @ Value::Dict(_),
            ..
        }) => Some(v.clone()),
        Some(Keyword {
            value: Value::None, ..
        })
        | None => None,
        Some(k) => {
            let why = match &k.value {
                Value::Unknown(why) => why.clone(),
                other => format!("it is {}", other.describe()),
            };
            notes.push(Note::new(
                k.line,
                "default_args".to_string(),
                format!("{why}; not carried over"),
            ));
            None
        }
    };
    let timing = schedule::timing(
        dag,
        default_args.as_ref(),
        opts.airflow_version,
        opts.live.get(&dag_id),
        notes,
    );

    let mut header_comments: Vec<String> = Vec::new();
    let mut header: Vec<Entry> = Vec::new();
    header.push(("dag_id".into(), Node::Str(dag_id.clone()), None));
    dag_keys(dag, &mut header, &mut header_comments, notes);

    // default_args: retry keys stay in default_args; a trigger_rule applies
    // to every task; operator arguments go to the tasks that take them
    let default_line = dag.args.get("default_args").map_or(dag.line, |k| k.line);
    let mut defaults: Vec<Entry> = Vec::new();
    let mut inherited: Vec<Keyword> = Vec::new();
    let mut dag_alert_args = AlertArgs::default();
    if let Some(Value::Dict(items)) = &default_args {
        for (key, value) in items {
            let Value::Str(key) = key else { continue };
            match key.as_str() {
                "start_date" | "end_date" => {}
                name if alerts::ALERT_ARGS.contains(&name) => dag_alert_args.set(Keyword {
                    name: key.clone(),
                    value: value.clone(),
                    line: default_line,
                }),
                "trigger_rule" => inherited.push(Keyword {
                    name: key.clone(),
                    value: value.clone(),
                    line: default_line,
                }),
                _ => match task_args::carry(key, value, default_line, "default_args", notes) {
                    Carried::Key(k, node, comment) => defaults.push((k.to_string(), node, comment)),
                    Carried::Comment(text) => header_comments.push(text),
                    Carried::Dropped => {}
                    Carried::NotCommon => inherited.push(Keyword {
                        name: key.clone(),
                        value: value.clone(),
                        line: default_line,
                    }),
                },
            }
        }
    }

    let mut tasks: Vec<TaskOut> = Vec::new();
    let mut used_inherited: Vec<String> = Vec::new();
    let members: Vec<usize> = (0..reader.model.tasks.len())
        .filter(|&t| reader.model.tasks[t].dag == Some(index))
        .collect();
    for &t in &members {
        let task = &reader.model.tasks[t];
        let out = task_out(
            reader,
            task,
            &inherited,
            &source.path,
            notes,
            &mut used_inherited,
        );
        let mut out = out;
        out.depends_on = reader
            .model
            .upstream(t)
            .into_iter()
            .filter(|u| members.contains(u))
            .map(|u| reader.model.tasks[u].task_id.clone())
            .collect();
        tasks.push(out);
    }
    for keyword in &inherited {
        if !used_inherited.contains(&keyword.name) && keyword.name != "trigger_rule" {
            notes.push(Note::new(
                keyword.line,
                format!("default_args: `{}`", keyword.name),
                "no ported task takes it; not carried over".to_string(),
            ));
        }
    }
    if tasks.is_empty() {
        notes.push(Note::new(dag.line, format!("DAG `{dag_id}`"), "has no tasks airless could find; a `noop` task `placeholder` was added because airless needs one".to_string()));
        tasks.push(TaskOut {
            task_id: "placeholder".to_string(),
            comments: vec!["the Airflow DAG has no tasks the port could read".to_string()],
            kind: "noop",
            depends_on: Vec::new(),
            trigger_rule: None,
            entries: Vec::new(),
            alert_args: AlertArgs::default(),
        });
    }

    // alerts: the DAG's keys come from its default_args and its own
    // callbacks; a task writes only the keys its own arguments change
    let mut ctx = alerts::Context {
        reader,
        dag_id: &dag_id,
        version: opts.airflow_version,
        channels: &mut *channels,
        notes: &mut *notes,
        quiet: false,
    };
    let any_sla = dag_alert_args.has("sla") || tasks.iter().any(|t| t.alert_args.has("sla"));
    let run = alerts::run_callbacks(&dag.args, any_sla, &mut ctx);
    let dag_alerts = alerts::resolve(
        &AlertArgs::default(),
        &dag_alert_args,
        "default_args",
        &run,
        &mut ctx,
    );
    for task in &mut tasks {
        if task.alert_args.is_empty() {
            continue;
        }
        let owner = format!("task `{}`", task.task_id);
        let keys = alerts::resolve(&dag_alert_args, &task.alert_args, &owner, &run, &mut ctx);
        task.comments.extend(keys.comments.iter().cloned());
        task.entries
            .extend(alerts::entries(&keys, Some(&dag_alerts)));
    }
    let mut alert_comments = run.comments.clone();
    alert_comments.extend(dag_alerts.comments.iter().cloned());
    let dag_alert_entries = alerts::entries(&dag_alerts, None);

    let alerts_out = DagAlerts {
        comments: alert_comments,
        entries: dag_alert_entries,
    };
    let text = write(
        source,
        opts,
        &timing,
        header.clone(),
        header_comments.clone(),
        defaults.clone(),
        &alerts_out,
        &tasks,
    );
    let file_name = format!("{dag_id}.yaml");
    if let Err(errors) = crate::dag::load(Path::new(&file_name), &text) {
        for error in errors {
            notes.push(Note::new(dag.line, format!("DAG `{dag_id}`"), format!("the written YAML does not pass airless's validation (a bug in the port; please report it): {error}")));
        }
    }
    (dag_id, text, dag.line)
}

fn dag_id(dag: &DagDecl, path: &str, notes: &mut Vec<Note>) -> String {
    let given = dag
        .args
        .positional
        .first()
        .map(|(v, l)| (v, *l))
        .or_else(|| dag.args.get("dag_id").map(|k| (&k.value, k.line)));
    match given {
        Some((Value::Str(id), _)) => id.clone(),
        None if dag.function_name.is_some() => dag.function_name.clone().unwrap_or_default(),
        other => {
            let fallback = format!("{}_line_{}", super::stem(path), dag.line);
            let why = match other {
                Some((Value::Unknown(why), _)) => why.clone(),
                Some((v, _)) => format!("it is {}", v.describe()),
                None => "it has none".to_string(),
            };
            notes.push(Note::new(
                other.map_or(dag.line, |(_, l)| l),
                "dag_id".to_string(),
                format!("not known statically ({why}); the DAG is called `{fallback}`"),
            ));
            fallback
        }
    }
}

/// The DAG keys besides timing: description, concurrency, params, and notes
/// for everything else.
fn dag_keys(
    dag: &DagDecl,
    header: &mut Vec<Entry>,
    comments: &mut Vec<String>,
    notes: &mut Vec<Note>,
) {
    let args = &dag.args;
    let unknown = |k: &Keyword, notes: &mut Vec<Note>| {
        let why = match &k.value {
            Value::Unknown(why) => why.clone(),
            other => format!("it is {}", other.describe()),
        };
        notes.push(Note::new(
            k.line,
            format!("`{}`", k.name),
            format!("{why}; not carried over"),
        ));
    };
    if let Some(k) = args.get("description") {
        match &k.value {
            Value::Str(s) => header.push(("description".into(), Node::Str(s.clone()), None)),
            Value::None => {}
            _ => unknown(k, notes),
        }
    }
    if let Some(k) = args.get("max_active_runs") {
        match k.value {
            Value::Int(n) if n > 0 => header.push(("max_active_runs".into(), Node::Int(n), None)),
            _ => unknown(k, notes),
        }
    }
    if let Some(k) = args
        .get("max_active_tasks")
        .or_else(|| args.get("concurrency"))
    {
        match k.value {
            Value::Int(n) if n > 0 => header.push(("max_active_tasks".into(), Node::Int(n), None)),
            _ => unknown(k, notes),
        }
    }
    if let Some(k) = args.get("is_paused_upon_creation") {
        match k.value {
            Value::Bool(b) => header.push(("is_paused_upon_creation".into(), Node::Bool(b), None)),
            Value::None => {}
            _ => unknown(k, notes),
        }
    }
    let mut params: Vec<(String, Node)> = Vec::new();
    if let Some(k) = args.get("params") {
        match Node::from_value(&k.value) {
            Some(Node::Map(items)) => params.extend(items),
            Some(Node::Null) => {}
            _ => unknown(k, notes),
        }
    }
    for (name, value, line) in &dag.function_params {
        match Node::from_value(value) {
            Some(node) => {
                params.retain(|(k, _)| k != name);
                params.push((name.clone(), node));
            }
            None => {
                let why = match value {
                    Value::Unknown(why) => why.clone(),
                    other => format!("it is {}", other.describe()),
                };
                notes.push(Note::new(
                    *line,
                    format!("DAG param `{name}`"),
                    format!("{why}; not carried over"),
                ));
            }
        }
    }
    if !params.is_empty() {
        header.push(("params".into(), Node::Map(params), None));
    }
    if let Some(k) = args.get("tags") {
        if let Some(node) = Node::from_value(&k.value) {
            let text = match node {
                Node::Seq(items) => items
                    .iter()
                    .map(|n| match n {
                        Node::Str(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            comments.push(format!("tags: {text}"));
        }
        notes.push(Note::new(
            k.line,
            "`tags`".to_string(),
            "airless has no tags; kept as a comment".to_string(),
        ));
    }
    for k in &args.keywords {
        if DAG_KEYS.contains(&k.name.as_str()) {
            continue;
        }
        let why = match k.name.as_str() {
            "dagrun_timeout" => {
                "airless has no run timeout; set execution_timeout on the tasks instead"
            }
            "doc_md" => "documentation only; not carried over",
            "default_view" | "orientation" | "owner_links" | "dag_display_name" => {
                "UI only; not carried over"
            }
            "access_control" => "airless has API tokens, not per-DAG roles; not carried over",
            "render_template_as_native_obj" => {
                "airless renders templates to strings (JSON stays JSON); not carried over"
            }
            "template_searchpath"
            | "user_defined_macros"
            | "user_defined_filters"
            | "jinja_environment_kwargs"
            | "template_undefined" => {
                "airless templates have no search path, custom macros or filters; not carried over"
            }
            "max_consecutive_failed_dag_runs" | "fail_stop" => {
                "airless has no such DAG rule; not carried over"
            }
            "auto_register" => "has no meaning in airless",
            _ => "airless has no such DAG key; not carried over",
        };
        notes.push(Note::new(k.line, format!("`{}`", k.name), why.to_string()));
    }
    for (value, line) in args.positional.iter().skip(1) {
        notes.push(Note::new(
            *line,
            format!("positional argument {}", value.describe()),
            "only dag_id is read positionally; not carried over".to_string(),
        ));
    }
}

/// One task: its kind, overrides and notes. `inherited` holds the DAG's
/// default_args that are operator arguments.
fn task_out(
    reader: &Reader<'_>,
    task: &TaskDecl,
    inherited: &[Keyword],
    file: &str,
    notes: &mut Vec<Note>,
    used_inherited: &mut Vec<String>,
) -> TaskOut {
    let mut alert_args = AlertArgs::default();
    let owner = format!("task `{}`", task.task_id);
    // the layers of default_args under the task's own arguments:
    // DAG, then enclosing groups (outermost first), then the task's own
    let mut layers: Vec<(Value, u32)> = Vec::new();
    let mut group = task.group;
    let mut groups = Vec::new();
    while let Some(g) = group {
        groups.push(g);
        group = reader.model.groups[g].parent;
    }
    for g in groups.into_iter().rev() {
        if let Some(d) = &reader.model.groups[g].default_args {
            layers.push(d.clone());
        }
    }
    if let Some(k) = task.args.get("default_args") {
        layers.push((k.value.clone(), k.line));
    }
    let mut effective = Args {
        positional: task.args.positional.clone(),
        keywords: Vec::new(),
    };
    let explicit = |name: &str| task.args.get(name).is_some();
    let mut from_dag: Vec<String> = Vec::new();
    for k in inherited {
        if !explicit(&k.name) {
            effective.keywords.push(k.clone());
            from_dag.push(k.name.clone());
        }
    }
    let mut layered: Vec<Keyword> = Vec::new();
    for (value, line) in &layers {
        match value {
            Value::Dict(items) => {
                for (key, v) in items {
                    if let Value::Str(key) = key
                        && !explicit(key)
                    {
                        layered.retain(|k| k.name != *key);
                        effective.keywords.retain(|k| k.name != *key);
                        from_dag.retain(|n| n != key);
                        layered.push(Keyword {
                            name: key.clone(),
                            value: v.clone(),
                            line: *line,
                        });
                    }
                }
            }
            Value::None => {}
            other => {
                let why = match other {
                    Value::Unknown(why) => why.clone(),
                    other => format!("it is {}", other.describe()),
                };
                notes.push(Note::new(
                    *line,
                    format!("{owner}: default_args"),
                    format!("{why}; not carried over"),
                ));
            }
        }
    }
    effective.keywords.extend(layered.iter().cloned());
    effective
        .keywords
        .extend(task.args.keywords.iter().cloned());
    let view = TaskDecl {
        args: effective,
        ..task.clone()
    };

    let kind: KindOut = operators::kind_of(&view, file, notes);
    for name in &from_dag {
        if kind.consumed.contains(name) && !used_inherited.contains(name) {
            used_inherited.push(name.clone());
        }
    }
    let trigger_rule = view
        .args
        .get("trigger_rule")
        .and_then(|k| task_args::trigger_rule(&k.value, k.line, &owner, notes));
    let mut entries: Vec<Entry> = kind.entries;
    let mut comments = kind.comments;
    let mut kind_name = kind.kind;
    // a template that reads what airless does not have (Airflow Variables,
    // macros) could only fail: the task becomes a placeholder, its fields
    // kept as comments, so the DAG still loads and the graph stays whole
    let unusable: Vec<(String, String)> = entries
        .iter()
        .flat_map(|(_, node, _)| template_problems(node))
        .collect();
    if !kind.placeholder && !unusable.is_empty() {
        for (key, node, _) in std::mem::take(&mut entries) {
            comments.push(match node {
                Node::Str(text) => format!("was {key}: {}", text.replace('\n', "\\n")),
                _ => format!("was {key}: (not carried over)"),
            });
        }
        kind_name = "noop";
        for (name, why) in unusable {
            if !notes.iter().any(|n| {
                n.line == task.line && n.what == format!("{owner}: template name `{name}`")
            }) {
                notes.push(Note::new(
                    task.line,
                    format!("{owner}: template name `{name}`"),
                    format!("{why}; the task became a `noop` placeholder (its fields are kept as comments) so the graph stays intact"),
                ));
            }
        }
    }
    if !kind.placeholder {
        let mut retry: Vec<Entry> = Vec::new();
        for k in &view.args.keywords {
            let name = k.name.as_str();
            if TASK_KEYS.contains(&name) || kind.consumed.iter().any(|c| c == name) {
                continue;
            }
            let inherited_from_dag = from_dag.iter().any(|n| n == name);
            if inherited_from_dag {
                continue; // Airflow passes a default_args key only to operators that take it
            }
            if alerts::ALERT_ARGS.contains(&name) {
                alert_args.set(k.clone());
                continue;
            }
            match task_args::carry(name, &k.value, k.line, &owner, notes) {
                Carried::Key(key, node, comment) => {
                    if !entries.iter().any(|(e, _, _)| e == key) {
                        retry.retain(|(e, _, _)| e != key);
                        retry.push((key.to_string(), node, comment));
                    }
                }
                Carried::Comment(text) => comments.push(text),
                Carried::Dropped => {}
                Carried::NotCommon => notes.push(Note {
                    line: k.line,
                    what: format!("{owner}: `{name}`"),
                    why: format!(
                        "not an argument airless knows for {}; not carried over",
                        task.class_name()
                    ),
                }),
            }
        }
        entries.extend(retry);
        for (name, why) in entries
            .iter()
            .flat_map(|(_, node, _)| template_problems(node))
        {
            if !notes.iter().any(|n| {
                n.line == task.line && n.what == format!("{owner}: template name `{name}`")
            }) {
                notes.push(Note::new(
                    task.line,
                    format!("{owner}: template name `{name}`"),
                    format!("{why}; the template is kept as written and fails when rendered"),
                ));
            }
        }
    }
    for (value, line) in &task.args.positional {
        if !kind.placeholder {
            notes.push(Note::new(
                *line,
                format!("{owner}: positional argument {}", value.describe()),
                "operators take keyword arguments; not carried over".to_string(),
            ));
        }
    }
    TaskOut {
        task_id: task.task_id.clone(),
        comments,
        kind: kind_name,
        depends_on: Vec::new(),
        trigger_rule,
        entries,
        alert_args,
    }
}

fn template_problems(node: &Node) -> Vec<(String, String)> {
    match node {
        Node::Str(s) => templates::airflow_only_names(s),
        Node::Seq(items) => items.iter().flat_map(template_problems).collect(),
        Node::Map(items) => items
            .iter()
            .flat_map(|(_, v)| template_problems(v))
            .collect(),
        _ => Vec::new(),
    }
}

/// The DAG-level alert keys, with the comments that keep Airflow's templates.
#[derive(Default)]
struct DagAlerts {
    comments: Vec<String>,
    entries: Vec<Entry>,
}

#[allow(clippy::too_many_arguments)]
fn write(
    source: &SourceFile,
    opts: &PortOptions,
    timing: &Timing,
    header: Vec<Entry>,
    header_comments: Vec<String>,
    defaults: Vec<Entry>,
    alerts: &DagAlerts,
    tasks: &[TaskOut],
) -> String {
    let mut w = Writer::default();
    w.comment(
        0,
        &format!(
            "Ported from {} by `airless port airflow` with {} semantics.\nWhat was not carried over is listed in {}.",
            source.path,
            opts.airflow_version.label(),
            crate::port::REPORT_FILE
        ),
    );
    for comment in &header_comments {
        w.comment(0, comment);
    }
    let mut header = header.into_iter();
    if let Some((k, v, c)) = header.next() {
        w.entry(0, &k, &v, c.as_deref());
    }
    let rest: Vec<Entry> = header.collect();
    let take = |name: &str| rest.iter().find(|(k, _, _)| k == name);
    if let Some((k, v, c)) = take("description") {
        w.entry(0, k, v, c.as_deref());
    }
    let schedule = match &timing.schedule {
        Some(expr) => Node::Str(expr.clone()),
        None => Node::Null,
    };
    w.entry(0, "schedule", &schedule, timing.schedule_comment.as_deref());
    w.entry(
        0,
        "timezone",
        &Node::Plain(timing.timezone.name().to_string()),
        timing.timezone_comment.as_deref(),
    );
    if let Some(start) = timing.start {
        if let Some(comment) = &timing.start_comment {
            w.comment(0, comment);
        }
        let text = schedule::date_text(start, timing.timezone, timing.start_exact);
        w.entry(0, "start_date", &date_node(text), None);
    }
    if let Some(end) = timing.end {
        let text = schedule::date_text(end, timing.timezone, false);
        w.entry(0, "end_date", &date_node(text), None);
    }
    w.entry(
        0,
        "catchup",
        &Node::Bool(timing.catchup),
        timing.catchup_comment.as_deref(),
    );
    let kind = match timing.kind {
        TimetableKind::Interval => "interval",
        TimetableKind::Trigger => "trigger",
    };
    let kind_comment = timing.kind_comment.clone().or_else(|| {
        Some(match timing.kind {
            TimetableKind::Interval => format!(
                "{}: a run covers [tick, next tick) and starts at its end",
                opts.airflow_version.label()
            ),
            TimetableKind::Trigger => format!(
                "{}: a run starts at each tick",
                opts.airflow_version.label()
            ),
        })
    });
    w.entry(
        0,
        "timetable",
        &Node::Plain(kind.to_string()),
        kind_comment.as_deref(),
    );
    for name in ["max_active_runs", "max_active_tasks"] {
        if let Some((k, v, c)) = take(name) {
            w.entry(0, k, v, c.as_deref());
        }
    }
    match timing.paused {
        Some(paused) => w.entry(
            0,
            "is_paused_upon_creation",
            &Node::Bool(paused),
            timing.paused_comment.as_deref(),
        ),
        None => {
            if let Some((k, v, c)) = take("is_paused_upon_creation") {
                w.entry(0, k, v, c.as_deref());
            }
        }
    }
    if let Some((k, v, c)) = take("params") {
        w.entry(0, k, v, c.as_deref());
    }
    if !alerts.entries.is_empty() {
        for comment in &alerts.comments {
            w.comment(0, comment);
        }
        for (k, v, c) in &alerts.entries {
            w.entry(0, k, v, c.as_deref());
        }
    }
    if !defaults.is_empty() {
        let map = Node::Map(
            defaults
                .iter()
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect(),
        );
        w.entry(0, "default_args", &map, None);
    }
    w.entry(0, "tasks", &Node::Seq(Vec::new()), None);
    // replace the `tasks: []` just written with the list
    let mut text = w.finish();
    if !tasks.is_empty() {
        text.truncate(text.len() - "tasks: []\n".len());
        text.push_str("tasks:\n");
        let mut w = Writer::default();
        for (i, task) in tasks.iter().enumerate() {
            if i > 0 {
                w.blank();
            }
            for comment in &task.comments {
                w.comment(2, comment);
            }
            w.item(2, "task_id", &Node::Str(task.task_id.clone()), None);
            w.entry(4, "kind", &Node::Plain(task.kind.to_string()), None);
            if !task.depends_on.is_empty() {
                let deps = Node::Seq(
                    task.depends_on
                        .iter()
                        .map(|d| Node::Str(d.clone()))
                        .collect(),
                );
                w.entry(4, "depends_on", &deps, None);
            }
            if let Some(rule) = &task.trigger_rule {
                w.entry(4, "trigger_rule", rule, None);
            }
            for (k, v, c) in &task.entries {
                w.entry(4, k, v, c.as_deref());
            }
        }
        text.push_str(&w.finish());
    }
    text
}

fn date_node(text: String) -> Node {
    if text.len() == 10 {
        Node::Plain(text)
    } else {
        Node::Str(text)
    }
}
