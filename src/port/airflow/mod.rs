//! One Airflow DAG file → airless YAML. The file is parsed with Ruff's
//! Python parser and read statically (`reader`, `eval`, `calls`); each DAG
//! it creates is converted (`convert`) and written (`yaml`), then checked
//! with airless's own validation. Nothing here runs Python.

mod alerts;
mod calls;
mod convert;
mod databricks;
mod eval;
mod model;
mod operators;
mod reader;
mod schedule;
mod task_args;
mod templates;
mod value;
mod yaml;

use std::path::Path;

use reader::{FunctionKind, LineIndex, Reader};

use super::channels::Channels;
use super::{FileError, PortOptions, ReportItem, SourceFile};

/// A file's DAGs as YAML and its report items (sorted by line).
#[derive(Debug)]
pub struct FilePort {
    pub dags: Vec<DagPort>,
    pub report: Vec<ReportItem>,
}

#[derive(Debug)]
pub struct DagPort {
    pub dag_id: String,
    /// Where the DAG is declared.
    pub line: u32,
    pub yaml: String,
}

/// Ports one file; an error only when it is not valid Python. The channels
/// its DAGs name are added to `channels` (shared by every file of a port).
pub fn port_file(
    source: &SourceFile,
    opts: &PortOptions,
    channels: &mut Channels,
) -> Result<FilePort, FileError> {
    let parsed = ruff_python_parser::parse_module(&source.text).map_err(|err| {
        let lines = LineIndex::new(&source.text);
        let offset = err.location.start().to_usize();
        FileError {
            file: source.path.clone(),
            line: Some(lines.line(offset)),
            column: Some(lines.column(&source.text, offset)),
            message: format!("not valid Python: {}", err.error),
        }
    })?;
    let mut reader = Reader::new(&source.text);
    reader.exec_block(parsed.suite());
    after_walk(&mut reader);

    let mut dags = Vec::new();
    let mut notes = std::mem::take(&mut reader.notes);
    for index in 0..reader.model.dags.len() {
        let (dag_id, yaml, line) =
            convert::convert(&reader, index, source, opts, channels, &mut notes);
        dags.push(DagPort { dag_id, line, yaml });
    }
    if reader.model.dags.is_empty() {
        notes.push(reader::Note {
            line: 1,
            what: "file".to_string(),
            why: "no DAG in it (no `DAG(...)`, `with DAG(...)` or called `@dag` function); nothing to port".to_string(),
        });
    }
    notes.sort_by_key(|n| n.line);
    let report = notes
        .into_iter()
        .map(|n| ReportItem {
            file: source.path.clone(),
            line: n.line,
            what: n.what,
            why: n.why,
        })
        .collect();
    Ok(FilePort { dags, report })
}

/// Notes only the whole file shows: `@dag` functions never called,
/// default_args never passed, tasks in no DAG.
fn after_walk(reader: &mut Reader<'_>) {
    let mut notes = Vec::new();
    for function in &reader.functions {
        if matches!(function.kind, FunctionKind::Dag(_)) && !function.called {
            notes.push(reader::Note {
                line: reader.line(function.def),
                what: format!("@dag function `{}`", function.def.name.as_str()),
                why: "never called, so Airflow does not load it either; not ported".to_string(),
            });
        }
    }
    for (name, line) in &reader.default_args_vars {
        if !reader.used.contains(name) {
            notes.push(reader::Note {
                line: *line,
                what: format!("`{name}`"),
                why: "defined but never passed to a DAG or task (`default_args=`), so Airflow ignores it and so does the port".to_string(),
            });
        }
    }
    for task in &reader.model.tasks {
        if task.dag.is_none() {
            notes.push(reader::Note {
                line: task.line,
                what: format!("task `{}`", task.task_id),
                why: "belongs to no DAG (no `dag=`, outside `with DAG`), so Airflow ignores it; not ported".to_string(),
            });
        }
    }
    reader.notes.extend(notes);
}

/// The stem of a file path, for messages and fallback ids.
fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dag".to_string())
}
