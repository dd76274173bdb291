//! Jinja in ported strings: Airflow's `{{ ds }}` works unchanged in airless,
//! but some of Airflow's template names do not exist there; find them.
//! (airless provides ds, ds_nodash, ts, ts_nodash, logical_date,
//! data_interval_start/end, run_id, dag_id, task_id, try_number, params,
//! conf, env and tasks.)

/// Airflow template names with no airless counterpart, and what to use.
const AIRFLOW_ONLY: &[(&str, &str)] = &[
    (
        "macros",
        "airless has no macros; compute the value in the command",
    ),
    ("var", "airless has no Airflow Variables; use `env.NAME`"),
    ("conn", "airless has no Airflow connections; use `env.NAME`"),
    (
        "ti",
        "airless has no task instance object; `tasks.<id>.output` is an upstream task's output",
    ),
    (
        "task_instance",
        "airless has no task instance object; `tasks.<id>.output` is an upstream task's output",
    ),
    (
        "dag_run",
        "airless has no dag_run object; `conf` is the trigger's conf and `run_id` the run's id",
    ),
    ("dag", "airless has no dag object; `dag_id` is its id"),
    ("task", "airless has no task object; `task_id` is its id"),
    ("execution_date", "use `logical_date`"),
    ("next_execution_date", "use `data_interval_end`"),
    ("prev_execution_date", "airless has no previous-run dates"),
    ("next_ds", "use `data_interval_end`"),
    ("next_ds_nodash", "use `data_interval_end`"),
    ("prev_ds", "airless has no previous-run dates"),
    ("prev_ds_nodash", "airless has no previous-run dates"),
    ("yesterday_ds", "airless has no yesterday_ds"),
    ("yesterday_ds_nodash", "airless has no yesterday_ds_nodash"),
    ("tomorrow_ds", "airless has no tomorrow_ds"),
    ("tomorrow_ds_nodash", "airless has no tomorrow_ds_nodash"),
    ("ts_nodash_with_tz", "use `ts`"),
    (
        "prev_data_interval_start_success",
        "airless has no previous-run dates",
    ),
    (
        "prev_data_interval_end_success",
        "airless has no previous-run dates",
    ),
    (
        "prev_start_date_success",
        "airless has no previous-run dates",
    ),
    ("prev_end_date_success", "airless has no previous-run dates"),
    ("inlets", "airless has no lineage"),
    ("outlets", "airless has no lineage"),
    ("triggering_dataset_events", "airless has no datasets"),
    ("test_mode", "airless has no test_mode"),
];

/// For each Airflow-only name used in `text`'s `{{ }}` / `{% %}` blocks:
/// the name and what to do instead. Dates used as objects
/// (`logical_date.strftime(...)`) are reported too: they are strings in airless.
pub fn airflow_only_names(text: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{']) {
        let after = &rest[open + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let Some(end) = body.find(close) else { break };
        for (name, attribute) in identifiers(&body[..end]) {
            let why = if let Some((_, why)) = AIRFLOW_ONLY.iter().find(|(n, _)| *n == name) {
                why.to_string()
            } else if attribute
                && matches!(
                    name.as_str(),
                    "logical_date" | "data_interval_start" | "data_interval_end"
                )
            {
                format!("`{name}` is an ISO-8601 string in airless, not a date object")
            } else {
                continue;
            };
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, why));
            }
        }
        rest = &body[end + close.len()..];
    }
    found
}

/// Top-level identifiers of a Jinja expression (not after `.`, not in
/// quotes), each with whether an attribute or call follows it.
fn identifiers(expr: &str) -> Vec<(String, bool)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let before = chars[..start].iter().rev().find(|c| !c.is_whitespace());
            let after_filter = before == Some(&'|');
            if before != Some(&'.') && !after_filter {
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                out.push((word, matches!(next, Some('.') | Some('('))));
            }
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_only_template_names_are_found() {
        let found = airflow_only_names(
            "echo {{ ds }} {{ var.value.bucket }} {{ macros.ds_add(ds, 1) }} {{ params.x }}",
        );
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["var", "macros"]);
        assert!(airflow_only_names("{{ ds_nodash }} {{ 'macros' }}").is_empty());
        let dates = airflow_only_names("{{ logical_date.strftime('%Y') }}");
        assert_eq!(dates[0].0, "logical_date");
    }
}
