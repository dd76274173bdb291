//! Renders a task's string fields as minijinja templates with Airflow's
//! names (`ds`, `ts`, `params`, `conf`, `env`, `tasks.<id>.output`, …) when
//! a try starts. An undefined name fails the try with a message naming it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use minijinja::Environment;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::dag::KindSpec;

/// What a template can see, for one try.
#[derive(Debug, Clone)]
pub struct TemplateVars<'a> {
    pub dag_id: &'a str,
    pub run_id: &'a str,
    pub task_id: &'a str,
    pub try_number: u32,
    pub logical_date: DateTime<Utc>,
    pub data_interval: (DateTime<Utc>, DateTime<Utc>),
    pub params: &'a Map<String, Value>,
    pub conf: &'a Value,
    pub env: &'a BTreeMap<String, String>,
    /// Outputs of this run's finished tasks, by task id.
    pub outputs: &'a BTreeMap<String, Value>,
}

/// A rendering context built once per try.
#[derive(Debug)]
pub struct TemplateContext {
    context: Value,
    env: Environment<'static>,
}

use crate::model::time::isoformat as iso;

impl TemplateContext {
    pub fn new(vars: &TemplateVars<'_>) -> Self {
        // Airflow: params are the DAG's, overridden by the trigger's conf
        let mut params = vars.params.clone();
        if let Value::Object(conf) = vars.conf {
            for (key, value) in conf {
                if params.contains_key(key) {
                    params.insert(key.clone(), value.clone());
                }
            }
        }
        let tasks: Map<String, Value> = vars
            .outputs
            .iter()
            .map(|(id, output)| (id.clone(), json!({ "output": output })))
            .collect();
        let context = json!({
            "ds": vars.logical_date.format("%Y-%m-%d").to_string(),
            "ds_nodash": vars.logical_date.format("%Y%m%d").to_string(),
            "ts": iso(vars.logical_date),
            "ts_nodash": vars.logical_date.format("%Y%m%dT%H%M%S").to_string(),
            "logical_date": iso(vars.logical_date),
            "data_interval_start": iso(vars.data_interval.0),
            "data_interval_end": iso(vars.data_interval.1),
            "run_id": vars.run_id,
            "dag_id": vars.dag_id,
            "task_id": vars.task_id,
            "try_number": vars.try_number,
            "params": params,
            "conf": vars.conf,
            "env": vars.env,
            "tasks": tasks,
        });
        // the environment `dags validate` checks templates against
        let env = crate::dag::template::environment();
        TemplateContext { context, env }
    }

    /// The kind's spec with every string field rendered.
    pub fn render_kind(&self, kind: &KindSpec) -> Result<KindSpec, String> {
        Ok(match kind {
            KindSpec::Noop(spec) => KindSpec::Noop(spec.clone()),
            KindSpec::Shell(spec) => KindSpec::Shell(self.render_spec(spec)?),
            KindSpec::Http(spec) => KindSpec::Http(self.render_spec(spec)?),
            KindSpec::Emulate(spec) => KindSpec::Emulate(self.render_spec(spec)?),
            KindSpec::Ingest(spec) => KindSpec::Ingest(self.render_spec(spec)?),
            KindSpec::Databricks(spec) => KindSpec::Databricks(self.render_spec(spec)?),
        })
    }

    fn render_spec<T: Serialize + DeserializeOwned>(&self, spec: &T) -> Result<T, String> {
        let mut value = serde_json::to_value(spec).map_err(|e| e.to_string())?;
        self.render_value("", &mut value)?;
        serde_json::from_value(value)
            .map_err(|e| format!("rendered fields no longer fit the task: {e}"))
    }

    fn render_value(&self, field: &str, value: &mut Value) -> Result<(), String> {
        match value {
            Value::String(text) if text.contains("{{") || text.contains("{%") => {
                *text = self.render_str(field, text)?;
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.render_value(&format!("{field}[{i}]"), item)?;
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let path = if field.is_empty() {
                        key.clone()
                    } else {
                        format!("{field}.{key}")
                    };
                    self.render_value(&path, item)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Renders one template; `field` names it in errors.
    pub fn render_str(&self, field: &str, source: &str) -> Result<String, String> {
        self.env.render_str(source, &self.context).map_err(|err| {
            let reason = self
                .missing_name(source)
                .unwrap_or_else(|| match err.detail() {
                    Some(detail) => format!("{} ({detail})", err.kind()),
                    None => err.kind().to_string(),
                });
            format!("template in `{field}`: {reason}")
        })
    }

    /// Names the first undefined variable a template uses, if any.
    fn missing_name(&self, source: &str) -> Option<String> {
        let template = self.env.template_from_str(source).ok()?;
        let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        names.sort();
        names.into_iter().find_map(|name| {
            let mut node = &self.context;
            for part in name.split('.') {
                match node.get(part) {
                    Some(next) => node = next,
                    None => {
                        return Some(match name.strip_prefix("env.") {
                            Some(var) => format!("environment variable `{var}` is not set"),
                            None if name.starts_with("tasks.") => format!("`{name}` is undefined: that task has not finished with an output in this run, or is not upstream of this one"),
                            None => format!("`{name}` is undefined"),
                        });
                    }
                }
            }
            None
        })
    }
}

/// Environment values whose names look secret (TOKEN, PASSWORD, SECRET, KEY):
/// the task log masks them.
pub fn secret_values(env: &BTreeMap<String, String>) -> Vec<String> {
    const MARKERS: [&str; 4] = ["TOKEN", "PASSWORD", "SECRET", "KEY"];
    let mut secrets: Vec<String> = env
        .iter()
        .filter(|(name, value)| {
            let upper = name.to_ascii_uppercase();
            value.len() >= 4 && MARKERS.iter().any(|m| upper.contains(m))
        })
        // a list such as AIRLESS_API_TOKENS=t1,t2: each item is a secret too
        .flat_map(|(_, value)| {
            std::iter::once(value.clone()).chain(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|part| part.len() >= 4 && *part != value)
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    // the longest first, so a list is masked whole before its items
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    secrets
}

/// The variables of airless's own config that hold secrets (API tokens, a
/// database URL with a password): no task sees them, in its environment or
/// in `{{ env.… }}`.
pub fn hidden_variables(env: &BTreeMap<String, String>) -> Vec<String> {
    const MARKERS: [&str; 4] = ["TOKEN", "PASSWORD", "SECRET", "KEY"];
    env.keys()
        .filter(|name| {
            name.starts_with("AIRLESS_")
                && (name.as_str() == "AIRLESS_DATABASE" || MARKERS.iter().any(|m| name.contains(m)))
        })
        .cloned()
        .collect()
}

/// `value` with every secret in its strings masked (outputs are stored
/// and served masked, as logs are).
pub fn mask_json(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::String(text) => {
            let mut masked = text.clone();
            for secret in secrets {
                if masked.contains(secret.as_str()) {
                    masked = masked.replace(secret.as_str(), "***");
                }
            }
            Value::String(masked)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| mask_json(v, secrets)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_json(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::{ShellCommand, ShellSpec};
    use chrono::TimeZone;

    fn render(
        source: &str,
        env: &[(&str, &str)],
        outputs: &[(&str, Value)],
    ) -> Result<String, String> {
        let params = json!({"records": 500})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let outputs: BTreeMap<String, Value> = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let vars = TemplateVars {
            dag_id: "demo",
            run_id: "scheduled__2024-01-01T00:00:00+00:00",
            task_id: "t",
            try_number: 2,
            logical_date: start,
            data_interval: (start, start + chrono::Duration::days(1)),
            params: &params,
            conf: &json!({"records": 7, "extra": "x"}),
            env: &env,
            outputs: &outputs,
        };
        TemplateContext::new(&vars).render_str("command", source)
    }

    #[test]
    fn airflow_names_render() {
        assert_eq!(
            render("{{ ds }} {{ ds_nodash }} {{ ts }}", &[], &[]).unwrap(),
            "2024-01-01 20240101 2024-01-01T00:00:00+00:00"
        );
        assert_eq!(
            render("{{ data_interval_end }} {{ try_number }}", &[], &[]).unwrap(),
            "2024-01-02T00:00:00+00:00 2"
        );
        assert_eq!(
            render("{{ params.records }} {{ conf.extra }}", &[], &[]).unwrap(),
            "7 x"
        );
        assert_eq!(
            render("{{ env.HOME_DIR }}", &[("HOME_DIR", "/h")], &[]).unwrap(),
            "/h"
        );
    }

    #[test]
    fn upstream_output_is_reachable() {
        let out = render(
            "{{ tasks.extract.output.rows }}",
            &[],
            &[("extract", json!({"rows": 42}))],
        )
        .unwrap();
        assert_eq!(out, "42");
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let err = render("echo {{ env.DATABRICKS_TOKEN }}", &[], &[]).unwrap_err();
        assert_eq!(
            err,
            "template in `command`: environment variable `DATABRICKS_TOKEN` is not set"
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = render("{{ params.nope }}", &[], &[]).unwrap_err();
        assert_eq!(err, "template in `command`: `params.nope` is undefined");
    }

    #[test]
    fn list_commands_render_element_by_element() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let empty = Map::new();
        let env = BTreeMap::new();
        let outputs = BTreeMap::new();
        let vars = TemplateVars {
            dag_id: "d",
            run_id: "r",
            task_id: "t",
            try_number: 1,
            logical_date: start,
            data_interval: (start, start),
            params: &empty,
            conf: &Value::Null,
            env: &env,
            outputs: &outputs,
        };
        let kind = KindSpec::Shell(ShellSpec {
            command: ShellCommand::Argv(vec!["echo".into(), "{{ ds }}".into()]),
            env: BTreeMap::from([("D".to_string(), "{{ dag_id }}".to_string())]),
            cwd: None,
        });
        let KindSpec::Shell(rendered) = TemplateContext::new(&vars).render_kind(&kind).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            rendered.command,
            ShellCommand::Argv(vec!["echo".into(), "2024-01-01".into()])
        );
        assert_eq!(rendered.env["D"], "d");
    }

    #[test]
    fn the_dag_validator_knows_every_name_a_template_can_read() {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let (params, env, outputs) = (Map::new(), BTreeMap::new(), BTreeMap::new());
        let vars = TemplateVars {
            dag_id: "d",
            run_id: "r",
            task_id: "t",
            try_number: 1,
            logical_date: start,
            data_interval: (start, start),
            params: &params,
            conf: &Value::Null,
            env: &env,
            outputs: &outputs,
        };
        let context = TemplateContext::new(&vars).context;
        let mut rendered: Vec<&str> = context
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut checked = crate::dag::template::CONTEXT_NAMES.to_vec();
        rendered.sort_unstable();
        checked.sort_unstable();
        assert_eq!(rendered, checked);
    }

    #[test]
    fn secret_looking_names_are_masked() {
        let env = BTreeMap::from([
            ("DATABRICKS_TOKEN".to_string(), "dapi123".to_string()),
            ("DB_PASSWORD".to_string(), "hunter22".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        let mut secrets = secret_values(&env);
        secrets.sort();
        assert_eq!(secrets, vec!["dapi123", "hunter22"]);
    }

    #[test]
    fn each_token_of_a_list_is_a_secret_of_its_own_and_airless_secrets_are_hidden() {
        let env: BTreeMap<String, String> = [
            ("AIRLESS_API_TOKENS", "first-token,second-token"),
            ("AIRLESS_DATABASE", "postgres://u:pw@db/airless"),
            ("AIRLESS_BIND", "127.0.0.1:8080"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            secret_values(&env),
            ["first-token,second-token", "second-token", "first-token"]
        );
        assert_eq!(
            hidden_variables(&env),
            ["AIRLESS_API_TOKENS", "AIRLESS_DATABASE"]
        );
        let output = json!({"line": "token=first-token", "n": 1, "list": ["second-token"]});
        assert_eq!(
            mask_json(&output, &secret_values(&env)),
            json!({"line": "token=***", "n": 1, "list": ["***"]})
        );
    }
}
