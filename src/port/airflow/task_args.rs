//! The arguments every Airflow task takes (and `default_args` holds):
//! retries and timeouts carried over under Airflow's names, trigger rules
//! mapped, and the rest (owner, pools, …) named in the report. Alert
//! arguments (e-mail, callbacks, sla) are read by `alerts`.

use super::reader::Note;
use super::value::Value;
use super::yaml::Node;

/// What became of one argument.
pub enum Carried {
    /// An airless key with its value.
    Key(&'static str, Node, Option<String>),
    /// Kept as a YAML comment (and in the report).
    Comment(String),
    /// Not carried over; already noted.
    Dropped,
    /// Not an argument of this table.
    NotCommon,
}

/// Carries over one common argument `name` (a task's or a `default_args`
/// key); `owner` names the task or DAG in notes.
pub fn carry(name: &str, value: &Value, line: u32, owner: &str, notes: &mut Vec<Note>) -> Carried {
    let mut note = |why: String| {
        notes.push(Note {
            line,
            what: format!("{owner}: `{name}`"),
            why,
        });
    };
    let unknown = |value: &Value| match value {
        Value::Unknown(why) => why.clone(),
        other => format!("it is {}", other.describe()),
    };
    match name {
        "retries" => {
            let retries = match value {
                Value::Int(n) => u32::try_from(*n).ok(),
                Value::Str(s) => s.trim().parse::<u32>().ok(),
                Value::Float(f) if f.fract() == 0.0 && *f >= 0.0 => Some(*f as u32),
                Value::None => Some(0),
                _ => None,
            };
            match retries {
                Some(n) => Carried::Key("retries", Node::Int(i64::from(n)), None),
                None => {
                    note(format!("{}; not carried over", unknown(value)));
                    Carried::Dropped
                }
            }
        }
        "retry_delay" | "max_retry_delay" | "execution_timeout" => {
            let key = match name {
                "retry_delay" => "retry_delay",
                "max_retry_delay" => "max_retry_delay",
                _ => "execution_timeout",
            };
            match value {
                Value::TimeDelta(d) if d.micros > 0 => {
                    Carried::Key(key, Node::Plain(d.text.clone()), None)
                }
                Value::Int(n) if *n > 0 => Carried::Key(key, Node::Plain(format!("{n}s")), None),
                Value::Float(f) if *f > 0.0 => Carried::Key(
                    key,
                    Node::Plain(super::value::duration_text((f * 1e6).round() as i64)),
                    None,
                ),
                Value::None if key == "execution_timeout" => Carried::Dropped,
                other => {
                    note(format!("{}; not carried over", unknown(other)));
                    Carried::Dropped
                }
            }
        }
        "retry_exponential_backoff" => match value {
            Value::Bool(b) => Carried::Key("retry_exponential_backoff", Node::Bool(*b), None),
            other => {
                note(format!("{}; not carried over", unknown(other)));
                Carried::Dropped
            }
        },
        "owner" => {
            let text = match Node::from_value(value) {
                Some(node) => format!("{name}: {}", node_text(&node)),
                None => format!("{name}: (computed at import time)"),
            };
            note("airless has no owner; kept as a comment".to_string());
            Carried::Comment(text)
        }
        "depends_on_past" | "wait_for_downstream" | "ignore_first_depends_on_past" => {
            if matches!(value, Value::Bool(false)) {
                return Carried::Dropped;
            }
            note("airless does not make a task wait for its previous run; `max_active_runs: 1` keeps runs in order, but a failed run does not block the next".to_string());
            Carried::Dropped
        }
        "pool"
        | "pool_slots"
        | "queue"
        | "priority_weight"
        | "weight_rule"
        | "executor_config"
        | "run_as_user"
        | "executor"
        | "max_active_tis_per_dag"
        | "max_active_tis_per_dagrun" => {
            note("airless has no pools, queues or priorities (one `parallelism` limit); not carried over".to_string());
            Carried::Dropped
        }
        // e-mail, on_failure/retry/success callbacks and sla are read by
        // `alerts`, which sees them together
        "on_execute_callback" | "on_skipped_callback" => {
            note(
                "airless has no alert when a task starts or is skipped; not carried over"
                    .to_string(),
            );
            Carried::Dropped
        }
        "sla_miss_callback" => {
            note(
                "a DAG argument, not a task's: Airflow ignores it here, and so does the port"
                    .to_string(),
            );
            Carried::Dropped
        }
        "doc" | "doc_md" | "doc_rst" | "doc_json" | "doc_yaml" => {
            note("documentation only; not carried over".to_string());
            Carried::Dropped
        }
        "do_xcom_push"
        | "multiple_outputs"
        | "deferrable"
        | "task_display_name"
        | "show_return_value_in_logs" => Carried::Dropped,
        _ => Carried::NotCommon,
    }
}

/// Airflow's trigger rules: airless has six; the others map to the closest
/// with a note saying how they differ.
pub fn trigger_rule(value: &Value, line: u32, owner: &str, notes: &mut Vec<Note>) -> Option<Node> {
    let rule = match value {
        Value::Str(s) => s.to_ascii_lowercase(),
        Value::Symbol(path) => path
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase(),
        other => {
            let why = match other {
                Value::Unknown(why) => why.clone(),
                other => format!("it is {}", other.describe()),
            };
            notes.push(Note {
                line,
                what: format!("{owner}: `trigger_rule`"),
                why: format!("{why}; the default all_success is used"),
            });
            return None;
        }
    };
    let (mapped, why) = match rule.as_str() {
        "all_success" => return None,
        "all_done" | "all_failed" | "one_success" | "one_failed" | "none_failed" => {
            return Some(Node::Plain(rule));
        }
        "none_failed_min_one_success" | "none_failed_or_skipped" => (
            "none_failed",
            "airless's none_failed also runs when every upstream task was skipped",
        ),
        "always" | "dummy" => (
            "all_done",
            "airless waits for the upstream tasks to finish; Airflow's always starts at once",
        ),
        "one_done" => (
            "all_done",
            "airless waits for every upstream task, not just the first to finish",
        ),
        "none_skipped" | "all_skipped" => (
            "all_done",
            "airless has no rule on skipped upstream tasks; all_done runs whatever their state",
        ),
        other => {
            notes.push(Note {
                line,
                what: format!("{owner}: trigger_rule `{other}`"),
                why: "unknown rule; the default all_success is used".to_string(),
            });
            return None;
        }
    };
    notes.push(Note {
        line,
        what: format!("{owner}: trigger_rule `{rule}`"),
        why: format!("became {mapped}: {why}"),
    });
    Some(Node::Plain(mapped.to_string()))
}

fn node_text(node: &Node) -> String {
    match node {
        Node::Str(s) => s.clone(),
        Node::Seq(items) => items.iter().map(node_text).collect::<Vec<_>>().join(", "),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        _ => "…".to_string(),
    }
}
