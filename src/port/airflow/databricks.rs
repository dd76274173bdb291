//! DatabricksSubmitRunOperator and DatabricksRunNowOperator → `kind:
//! databricks`. Named arguments override the `json=` dict, as in the
//! provider; keys airless has no place for are reported one by one.

use super::model::TaskDecl;
use super::operators::{KindOut, placeholder};
use super::reader::Note;
use super::value::Value;
use super::yaml::Node;

/// Operator arguments that are also `json=` keys (the provider copies them in).
const SUBMIT_JSON_ARGS: &[&str] = &[
    "spark_jar_task",
    "notebook_task",
    "spark_python_task",
    "spark_submit_task",
    "pipeline_task",
    "dbt_task",
    "new_cluster",
    "existing_cluster_id",
    "libraries",
    "run_name",
    "timeout_seconds",
    "idempotency_token",
    "access_control_list",
    "git_source",
    "tasks",
    "job_clusters",
];

const RUN_NOW_JSON_ARGS: &[&str] = &[
    "job_id",
    "job_name",
    "notebook_params",
    "job_parameters",
    "python_params",
    "python_named_params",
    "jar_params",
    "spark_submit_params",
    "idempotency_token",
    "dbt_commands",
    "pipeline_params",
    "sql_params",
];

/// The JSON the provider would send: `json=` with the named arguments on top.
fn merged_json(task: &TaskDecl, named: &[&str]) -> Vec<(String, Value, u32)> {
    let mut out: Vec<(String, Value, u32)> = Vec::new();
    if let Some(k) = task.args.get("json") {
        if let Value::Dict(items) = &k.value {
            for (key, value) in items {
                if let Value::Str(key) = key {
                    out.push((key.clone(), value.clone(), k.line));
                }
            }
        } else {
            out.push(("json".to_string(), k.value.clone(), k.line));
        }
    }
    for name in named {
        if let Some(k) = task.args.get(name) {
            out.retain(|(key, _, _)| key != name);
            out.push((name.to_string(), k.value.clone(), k.line));
        }
    }
    out
}

fn why_not(value: &Value) -> String {
    match value {
        Value::Unknown(why) => why.clone(),
        other => format!("it is {}", other.describe()),
    }
}

/// Operator arguments (not JSON) common to both operators.
fn operator_args(task: &TaskDecl, out: &mut KindOut, notes: &mut Vec<Note>) {
    let id = &task.task_id;
    out.consume(&[
        "json",
        "databricks_conn_id",
        "polling_period_seconds",
        "wait_for_termination",
        "databricks_retry_limit",
        "databricks_retry_delay",
        "databricks_retry_args",
    ]);
    if let Some(k) = task.args.get("databricks_conn_id")
        && k.value != Value::Str("databricks_default".to_string())
    {
        notes.push(Note::new(k.line, format!("`{id}`: databricks_conn_id {}", k.value.describe()), "airless has no Airflow connections; it reads DATABRICKS_HOST and DATABRICKS_TOKEN (or ~/.databrickscfg); set `profile:` or `host:`/`token:` on the task if this connection is another workspace".to_string()));
    }
    match task
        .args
        .get("polling_period_seconds")
        .map(|k| (&k.value, k.line))
    {
        Some((Value::Int(n), _)) if *n > 0 => {
            out.key("poll_interval", Node::Plain(format!("{n}s")), None)
        }
        Some((Value::Float(f), _)) if *f > 0.0 => out.key(
            "poll_interval",
            Node::Plain(super::value::duration_text((f * 1e6).round() as i64)),
            None,
        ),
        Some((other, line)) => notes.push(Note {
            line,
            what: format!("`{id}`: `polling_period_seconds`"),
            why: format!("{}; not carried over", why_not(other)),
        }),
        None => {}
    }
    match task
        .args
        .get("wait_for_termination")
        .map(|k| (&k.value, k.line))
    {
        Some((Value::Bool(b), _)) => out.key("wait_for_termination", Node::Bool(*b), None),
        Some((other, line)) => notes.push(Note {
            line,
            what: format!("`{id}`: `wait_for_termination`"),
            why: format!("{}; not carried over", why_not(other)),
        }),
        None => {}
    }
    for name in [
        "databricks_retry_limit",
        "databricks_retry_delay",
        "databricks_retry_args",
    ] {
        if let Some(k) = task.args.get(name) {
            notes.push(Note::new(k.line, format!("`{id}`: `{name}`"), "airless retries Databricks API calls itself (429 with Retry-After, 5xx with backoff); not carried over".to_string()));
        }
    }
}

/// `DatabricksSubmitRunOperator` → `databricks` with `notebook_path`.
pub fn submit(task: &TaskDecl, file: &str, notes: &mut Vec<Note>) -> KindOut {
    let id = task.task_id.clone();
    let json = merged_json(task, SUBMIT_JSON_ARGS);
    let get = |key: &str| json.iter().rev().find(|(k, _, _)| k == key);
    if let Some((_, value, _)) = get("json") {
        return placeholder(
            task,
            file,
            format!("its json= is not static: {}", why_not(value)),
            notes,
        );
    }
    for other_task in [
        "spark_python_task",
        "spark_jar_task",
        "spark_submit_task",
        "pipeline_task",
        "dbt_task",
        "python_wheel_task",
        "sql_task",
        "run_job_task",
        "tasks",
    ] {
        if get(other_task).is_some() {
            let why = if other_task == "tasks" {
                "a multi-task run (`tasks`) has no airless form; airless submits one notebook per task".to_string()
            } else {
                format!(
                    "`{other_task}`: airless's databricks kind submits notebooks (or runs a job by job_id); make this a job and use DatabricksRunNowOperator's job_id"
                )
            };
            return placeholder(task, file, why, notes);
        }
    }
    let Some((_, notebook_task, nb_line)) = get("notebook_task") else {
        return placeholder(task, file, "it has no notebook_task".to_string(), notes);
    };
    let nb_line = *nb_line;
    let notebook_path = match notebook_task {
        Value::Dict(_) => notebook_task.get("notebook_path").cloned(),
        other => {
            return placeholder(
                task,
                file,
                format!("its notebook_task is not static: {}", why_not(other)),
                notes,
            );
        }
    };
    let notebook_path = match notebook_path {
        Some(Value::Str(path)) => path,
        Some(other) => {
            return placeholder(
                task,
                file,
                format!("its notebook path is not static: {}", why_not(&other)),
                notes,
            );
        }
        None => {
            return placeholder(
                task,
                file,
                "its notebook_task has no notebook_path".to_string(),
                notes,
            );
        }
    };
    let cluster = match (get("existing_cluster_id"), get("new_cluster")) {
        (Some((_, Value::Str(cluster), line)), _) => {
            if !looks_like_cluster_id(cluster) {
                notes.push(Note::new(*line, format!("`{id}`: existing_cluster_id `{cluster}`"), "looks like a cluster name, not an id (like 1108-162752-8okw8dgg); Databricks wants the id: Compute → the cluster → More → View JSON → cluster_id. Kept as written".to_string()));
            }
            ("existing_cluster_id", Node::Str(cluster.clone()))
        }
        (Some((_, other, _)), _) => {
            return placeholder(
                task,
                file,
                format!("its existing_cluster_id is not static: {}", why_not(other)),
                notes,
            );
        }
        (None, Some((_, value, _))) => match Node::from_value(value) {
            Some(node @ Node::Map(_)) => ("new_cluster", node),
            _ => {
                return placeholder(
                    task,
                    file,
                    format!("its new_cluster is not static: {}", why_not(value)),
                    notes,
                );
            }
        },
        (None, None) => {
            return placeholder(
                task,
                file,
                "it names no cluster (existing_cluster_id or new_cluster); airless's databricks kind needs one".to_string(),
                notes,
            );
        }
    };
    let mut out = KindOut {
        kind: "databricks",
        ..KindOut::default()
    };
    out.consume(SUBMIT_JSON_ARGS);
    out.key("notebook_path", Node::Str(notebook_path), None);
    out.key(cluster.0, cluster.1, None);
    if let Value::Dict(items) = notebook_task {
        for (key, value) in items {
            let Value::Str(key) = key else { continue };
            match key.as_str() {
                "notebook_path" => {}
                "base_parameters" => match string_map(value) {
                    Some(node) => out.key("base_parameters", node, None),
                    None => notes.push(Note::new(
                        nb_line,
                        format!("`{id}`: notebook_task base_parameters"),
                        format!("{}; not carried over", why_not(value)),
                    )),
                },
                "source" if *value == Value::Str("WORKSPACE".to_string()) => {}
                other => notes.push(Note::new(
                    nb_line,
                    format!("`{id}`: notebook_task `{other}`"),
                    "airless runs workspace notebooks by path; not carried over".to_string(),
                )),
            }
        }
    }
    for (key, value, line) in &json {
        match key.as_str() {
            "notebook_task" | "existing_cluster_id" | "new_cluster" => {}
            "run_name" => match value {
                Value::Str(name) => out.key("run_name", Node::Str(name.clone()), None),
                other => notes.push(Note::new(*line, format!("`{id}`: `run_name`"), format!("{}; not carried over", why_not(other)))),
            },
            "timeout_seconds" => match value {
                Value::Int(n) if *n > 0 => out.key(
                    "execution_timeout",
                    Node::Plain(super::value::duration_text(n.saturating_mul(1_000_000))),
                    Some("from timeout_seconds: airless cancels the Databricks run when it passes".to_string()),
                ),
                Value::Int(0) => {}
                other => notes.push(Note::new(*line, format!("`{id}`: `timeout_seconds`"), format!("{}; not carried over", why_not(other)))),
            },
            "idempotency_token" => notes.push(Note::new(*line, format!("`{id}`: `idempotency_token`"), "airless derives its own token from (dag_id, run_id, task_id, try) so a retry never starts the job twice; not carried over".to_string())),
            "libraries" => notes.push(Note::new(*line, format!("`{id}`: `libraries`"), "airless submits no libraries; install them on the cluster (or in new_cluster's init scripts) instead".to_string())),
            other => notes.push(Note::new(*line, format!("`{id}`: `{other}`"), "no airless databricks key for it; not carried over".to_string())),
        }
    }
    operator_args(task, &mut out, notes);
    out
}

/// `DatabricksRunNowOperator` → `databricks` with `job_id`.
pub fn run_now(task: &TaskDecl, file: &str, notes: &mut Vec<Note>) -> KindOut {
    let id = task.task_id.clone();
    let json = merged_json(task, RUN_NOW_JSON_ARGS);
    let get = |key: &str| json.iter().rev().find(|(k, _, _)| k == key);
    if let Some((_, value, _)) = get("json") {
        return placeholder(
            task,
            file,
            format!("its json= is not static: {}", why_not(value)),
            notes,
        );
    }
    let job_id = match get("job_id").map(|(_, v, _)| v) {
        Some(Value::Int(n)) if *n > 0 => *n,
        Some(Value::Str(s)) if s.trim().parse::<i64>().is_ok_and(|n| n > 0) => {
            s.trim().parse::<i64>().unwrap_or_default()
        }
        Some(other) => {
            return placeholder(
                task,
                file,
                format!(
                    "its job_id is not a number known statically: {}",
                    why_not(other)
                ),
                notes,
            );
        }
        None if get("job_name").is_some() => {
            return placeholder(
                task,
                file,
                "it names the job by job_name; airless needs the numeric job_id (Workflows → the job → Job details)".to_string(),
                notes,
            );
        }
        None => return placeholder(task, file, "it has no job_id".to_string(), notes),
    };
    let mut out = KindOut {
        kind: "databricks",
        ..KindOut::default()
    };
    out.consume(RUN_NOW_JSON_ARGS);
    out.key("job_id", Node::Int(job_id), None);
    for (key, value, line) in &json {
        match key.as_str() {
            "job_id" => {}
            "notebook_params" | "job_parameters" => match string_map(value) {
                Some(node) => out.key(key, node, None),
                None => notes.push(Note::new(*line, format!("`{id}`: `{key}`"), format!("{}; not carried over", why_not(value)))),
            },
            "idempotency_token" => notes.push(Note::new(*line, format!("`{id}`: `idempotency_token`"), "airless derives its own token from (dag_id, run_id, task_id, try); not carried over".to_string())),
            other => notes.push(Note::new(*line, format!("`{id}`: `{other}`"), "airless's databricks kind passes job_parameters and notebook_params only; not carried over".to_string())),
        }
    }
    operator_args(task, &mut out, notes);
    out
}

/// A parameters dict as the provider sends it: values as strings (it
/// stringifies numbers); `None` if a value is not a static scalar.
fn string_map(value: &Value) -> Option<Node> {
    let Value::Dict(items) = value else {
        return None;
    };
    let mut out = Vec::new();
    for (key, value) in items {
        let Value::Str(key) = key else { return None };
        let text = match value {
            Value::Bool(b) => b.to_string(),
            Value::Str(_) | Value::Int(_) | Value::Float(_) => value.to_py_str()?,
            _ => return None,
        };
        out.push((key.clone(), Node::Str(text)));
    }
    Some(Node::Map(out))
}

/// Databricks cluster ids look like `1108-162752-8okw8dgg`: MMDD-HHMMSS-suffix.
fn looks_like_cluster_id(text: &str) -> bool {
    if text.contains("{{") {
        return true;
    }
    let parts: Vec<&str> = text.split('-').collect();
    matches!(parts.as_slice(), [a, b, c]
        if a.len() == 4 && a.bytes().all(|x| x.is_ascii_digit())
        && b.len() == 6 && b.bytes().all(|x| x.is_ascii_digit())
        && !c.is_empty() && c.bytes().all(|x| x.is_ascii_lowercase() || x.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_told_from_names() {
        assert!(looks_like_cluster_id("1108-162752-8okw8dgg"));
        assert!(looks_like_cluster_id("0923-164208-meows279"));
        assert!(!looks_like_cluster_id("pinterest-cluster"));
        assert!(!looks_like_cluster_id("My Cluster"));
    }
}
