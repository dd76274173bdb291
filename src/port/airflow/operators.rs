//! Operators → airless task kinds: BashOperator → `shell`, Empty/Dummy →
//! `noop`, DatabricksSubmitRun / RunNow → `databricks`. Any other operator,
//! or one whose essential argument is not static, becomes a `noop`
//! placeholder (so the graph stays intact) and a report line.

use super::model::TaskDecl;
use super::reader::Note;
use super::value::Value;
use super::yaml::Node;

/// Keys every operator takes that the task layer reads, not the kind.
const TASK_LEVEL: &[&str] = &[
    "task_id",
    "dag",
    "task_group",
    "default_args",
    "trigger_rule",
];

/// A task's kind and its keys.
#[derive(Debug, Default)]
pub struct KindOut {
    pub kind: &'static str,
    pub entries: Vec<(String, Node, Option<String>)>,
    /// Comments written above the task.
    pub comments: Vec<String>,
    /// The arguments read here (the task layer reads the rest).
    pub consumed: Vec<String>,
    /// A `noop` standing in for a task airless cannot run.
    pub placeholder: bool,
}

impl KindOut {
    pub(super) fn key(&mut self, key: &str, node: Node, comment: Option<String>) {
        self.entries.push((key.to_string(), node, comment));
    }

    pub(super) fn consume(&mut self, names: &[&str]) {
        self.consumed.extend(names.iter().map(|s| s.to_string()));
    }
}

pub fn kind_of(task: &TaskDecl, file: &str, notes: &mut Vec<Note>) -> KindOut {
    let class = task.class_name();
    match class {
        "EmptyOperator" | "DummyOperator" => KindOut {
            kind: "noop",
            ..KindOut::default()
        },
        "BashOperator" => bash(task, file, notes),
        "@task.bash" if matches!(task.returns, Some(Value::Str(_))) => {
            let mut out = KindOut {
                kind: "shell",
                ..KindOut::default()
            };
            if let Some(Value::Str(command)) = &task.returns {
                out.key("command", Node::Str(command.clone()), None);
            }
            out.consume(&["env", "cwd", "append_env"]);
            shell_env(task, &mut out, notes);
            out
        }
        "DatabricksSubmitRunOperator" | "DatabricksSubmitRunDeferrableOperator" => {
            super::databricks::submit(task, file, notes)
        }
        "DatabricksRunNowOperator" | "DatabricksRunNowDeferrableOperator" => {
            super::databricks::run_now(task, file, notes)
        }
        _ => {
            let why = match class {
                "PythonOperator" | "@task" | "BranchPythonOperator" | "ShortCircuitOperator"
                | "PythonVirtualenvOperator" | "ExternalPythonOperator" | "@task.virtualenv"
                | "@task.external_python" | "@task.branch" | "@task.short_circuit" => {
                    "airless does not run Python callables; move the code to a script and run it with a `shell` task (`command: python3 script.py`)".to_string()
                }
                "@task.bash" => "its command is computed by Python when the task runs; write it as a `shell` task".to_string(),
                _ if class.ends_with("Sensor") => {
                    "airless has no sensors; a `shell` task that polls, with retries, can stand in".to_string()
                }
                _ => "airless has no kind for this operator (it has noop, shell, http, emulate, ingest, databricks)".to_string(),
            };
            placeholder(task, file, why, notes)
        }
    }
}

/// A `noop` standing in for `task`, with a comment and a note.
pub fn placeholder(task: &TaskDecl, file: &str, why: String, notes: &mut Vec<Note>) -> KindOut {
    let class = task.class_name();
    notes.push(Note::new(
        task.line,
        format!("{class} `{}`", task.task_id),
        format!("{why}; it became a `noop` placeholder so the graph stays intact"),
    ));
    let consumed = task
        .args
        .keywords
        .iter()
        .map(|k| k.name.clone())
        .filter(|n| !TASK_LEVEL.contains(&n.as_str()))
        .collect();
    KindOut {
        kind: "noop",
        comments: vec![format!(
            "placeholder for {class} at {file}:{} (not carried over; see the report)",
            task.line
        )],
        consumed,
        placeholder: true,
        entries: Vec::new(),
    }
}

fn bash(task: &TaskDecl, file: &str, notes: &mut Vec<Note>) -> KindOut {
    let command = task.args.get("bash_command");
    let command = match command.map(|k| &k.value) {
        Some(Value::Str(c)) if !c.trim().is_empty() => c.clone(),
        Some(other) => {
            let why = match other {
                Value::Unknown(why) => format!("its bash_command is not static: {why}"),
                other => format!("its bash_command is {}", other.describe()),
            };
            return placeholder(task, file, why, notes);
        }
        None => return placeholder(task, file, "it has no bash_command".to_string(), notes),
    };
    let mut out = KindOut {
        kind: "shell",
        ..KindOut::default()
    };
    out.consume(&[
        "bash_command",
        "env",
        "cwd",
        "append_env",
        "output_encoding",
        "skip_on_exit_code",
        "output_processor",
    ]);
    if [".sh", ".bash"].iter().any(|ext| command.ends_with(ext)) {
        let line = task.args.get("bash_command").map_or(task.line, |k| k.line);
        notes.push(Note {
            line,
            what: format!("BashOperator `{}`: bash_command `{command}`", task.task_id),
            why: "Airflow reads a .sh file as a Jinja template and runs its text; airless runs the command, so the script runs unrendered (relative to the task's cwd)".to_string(),
        });
    }
    out.key("command", Node::Str(command), None);
    shell_env(task, &mut out, notes);
    if let Some(k) = task.args.get("skip_on_exit_code")
        && !matches!(k.value, Value::None)
    {
        notes.push(Note::new(
            k.line,
            format!("BashOperator `{}`: `skip_on_exit_code`", task.task_id),
            "airless has no skipped-by-exit-code; any non-zero exit fails the try".to_string(),
        ));
    }
    for name in ["output_encoding", "output_processor"] {
        if let Some(k) = task.args.get(name) {
            notes.push(Note::new(
                k.line,
                format!("BashOperator `{}`: `{name}`", task.task_id),
                "not carried over (airless reads output as UTF-8)".to_string(),
            ));
        }
    }
    out
}

/// `env` and `cwd` of a BashOperator or `@task.bash`.
fn shell_env(task: &TaskDecl, out: &mut KindOut, notes: &mut Vec<Note>) {
    if let Some(k) = task.args.get("env") {
        match &k.value {
            Value::Dict(items) if Node::from_value(&k.value).is_some() => {
                let map: Vec<(String, Node)> = items
                    .iter()
                    .filter_map(|(key, v)| match (key, v) {
                        (Value::Str(key), Value::Str(v)) => {
                            Some((key.clone(), Node::Str(v.clone())))
                        }
                        (Value::Str(key), other) => {
                            other.to_py_str().map(|v| (key.clone(), Node::Str(v)))
                        }
                        _ => None,
                    })
                    .collect();
                let appends = matches!(
                    task.args.get("append_env").map(|a| &a.value),
                    Some(Value::Bool(true))
                );
                if !appends {
                    notes.push(Note::new(k.line, format!("`{}`: `env`", task.task_id), "Airflow replaces the whole environment with it (append_env=False); airless adds it to the daemon's environment".to_string()));
                }
                out.key("env", Node::Map(map), None);
            }
            Value::None => {}
            other => {
                let why = match other {
                    Value::Unknown(why) => why.clone(),
                    other => format!("it is {}", other.describe()),
                };
                notes.push(Note::new(
                    k.line,
                    format!("`{}`: `env`", task.task_id),
                    format!("{why}; not carried over"),
                ));
            }
        }
    }
    if let Some(k) = task.args.get("cwd") {
        match &k.value {
            Value::Str(cwd) => out.key("cwd", Node::Str(cwd.clone()), None),
            Value::None => {}
            other => {
                let why = match other {
                    Value::Unknown(why) => why.clone(),
                    other => format!("it is {}", other.describe()),
                };
                notes.push(Note::new(
                    k.line,
                    format!("`{}`: `cwd`", task.task_id),
                    format!("{why}; not carried over"),
                ));
            }
        }
    }
}
