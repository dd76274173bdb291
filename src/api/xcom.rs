//! `…/taskInstances/{task_id}/xcomEntries`: a task's stored JSON output as
//! Airflow's XCom with key `return_value` (the only XCom airless keeps),
//! pushed when its try ended.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::AppState;
use super::dto::{Iso, XComCollection, XComJson};
use super::error::ApiError;
use super::extract::{Params, Segments};
use super::form::py_str;
use crate::model::{DagId, DagRun, RunId, TaskId, TaskInstance};
use crate::store::{Bounds, TaskInstanceOrder, TaskInstanceQuery};

/// The one XCom key airless has.
pub const RETURN_VALUE: &str = "return_value";

/// Which XComs a list asks for; `~` in a path segment is any.
#[derive(Debug, Clone, Default)]
pub struct XComFilter {
    pub dag_id: Option<DagId>,
    pub run_id: Option<RunId>,
    pub task_id: Option<TaskId>,
    pub map_index: Option<i64>,
    pub key: Option<String>,
}

/// The XCom a task instance pushed: its output, unless it had none (a
/// `null` output is not pushed, as Airflow does not push `None`).
fn pushed(ti: &TaskInstance) -> Option<&Value> {
    ti.output.as_ref().filter(|value| !value.is_null())
}

fn entry(run: &DagRun, ti: &TaskInstance, value: Option<Value>) -> XComJson {
    XComJson {
        key: RETURN_VALUE,
        timestamp: ti.end_date.map(Iso),
        execution_date: Iso(run.logical_date),
        map_index: -1,
        task_id: ti.task_id.to_string(),
        dag_id: run.dag_id.to_string(),
        value,
    }
}

/// The XComs `filter` matches, ordered as Airflow orders them (logical
/// date, task, DAG), one page of them and how many in all. An unknown DAG,
/// run or task has none.
pub async fn xcom_entries(
    state: &AppState,
    filter: &XComFilter,
    (limit, offset): (i64, i64),
) -> Result<XComCollection, ApiError> {
    if filter.map_index.is_some_and(|i| i != -1)
        || filter.key.as_deref().is_some_and(|k| k != RETURN_VALUE)
    {
        return Ok(XComCollection {
            xcom_entries: Vec::new(),
            total_entries: 0,
        });
    }
    let dag_ids = filter.dag_id.clone().map(|id| vec![id]);
    let run_ids = filter.run_id.clone().map(|id| vec![id]);
    let task_ids = filter.task_id.clone().map(|id| vec![id]);
    let page = state
        .reader()
        .task_instance_page(&TaskInstanceQuery {
            dag_ids: dag_ids.as_deref(),
            run_ids: run_ids.as_deref(),
            task_ids: task_ids.as_deref(),
            states: None,
            logical_date: Bounds::default(),
            start_date: Bounds::default(),
            end_date: Bounds::default(),
            updated_at: Bounds::default(),
            duration: Bounds::default(),
            order: TaskInstanceOrder::Id,
            descending: false,
            limit: i64::MAX,
            offset: 0,
        })
        .await?;
    let runs: HashMap<i64, &DagRun> = page.dag_runs.iter().map(|r| (r.id, r)).collect();
    let mut entries: Vec<(&DagRun, &TaskInstance)> = page
        .task_instances
        .iter()
        .filter(|ti| pushed(ti).is_some())
        .filter_map(|ti| Some((*runs.get(&ti.dag_run_id)?, ti)))
        .collect();
    entries.sort_by(|(ra, a), (rb, b)| {
        (ra.logical_date, a.task_id.as_str(), ra.dag_id.as_str()).cmp(&(
            rb.logical_date,
            b.task_id.as_str(),
            rb.dag_id.as_str(),
        ))
    });
    let total_entries = entries.len();
    let xcom_entries = entries
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(run, ti)| entry(run, ti, None))
        .collect();
    Ok(XComCollection {
        xcom_entries,
        total_entries,
    })
}

/// The XCom `key` of one task instance, its value native JSON or, with
/// `stringify` (Airflow's default), the string Python's `str()` makes of it.
/// 404 `XCom entry not found` for anything missing.
pub async fn xcom_entry(
    state: &AppState,
    (dag_id, run_id, task_id): (&str, &str, &str),
    key: &str,
    stringify: bool,
) -> Result<XComJson, ApiError> {
    let missing = || ApiError::not_found("XCom entry not found", None);
    if key != RETURN_VALUE {
        return Err(missing());
    }
    let store = state.reader();
    let run = store
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
        .ok_or_else(missing)?;
    let ti = store
        .task_instances(run.id)
        .await?
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task_id)
        .ok_or_else(missing)?;
    let output = pushed(&ti).cloned().ok_or_else(missing)?;
    let value = if stringify {
        Value::String(python_str(&output))
    } else {
        output
    };
    Ok(entry(&run, &ti, Some(value)))
}

/// Python's `str()` of a JSON value loaded as Python loads it.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => py_str(text),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), python_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

fn any(segment: String) -> Option<String> {
    (segment != "~").then_some(segment)
}

/// `GET …/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries`; `~`
/// for the DAG, run or task lists across them. Filters `xcom_key` and
/// `map_index`; `limit`, `offset`.
pub async fn list(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id)): Segments<(String, String, String)>,
    params: Params,
) -> Result<Json<XComCollection>, ApiError> {
    let page = params.page()?;
    let map_index = match params.get("map_index") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!(
                "{} is not of type 'integer' - 'map_index'",
                py_str(text)
            ))
        })?),
        None => None,
    };
    let filter = XComFilter {
        dag_id: any(dag_id).map(DagId::new),
        run_id: any(run_id).map(RunId::new),
        task_id: any(task_id).map(TaskId::new),
        map_index,
        key: params.get("xcom_key").map(str::to_string),
    };
    Ok(Json(xcom_entries(&state, &filter, page).await?))
}

/// `GET …/taskInstances/{task_id}/xcomEntries/{xcom_key}`; `stringify`
/// (default true) and `deserialize` as Airflow takes them, `map_index`
/// -1 only.
pub async fn get(
    State(state): State<AppState>,
    Segments((dag_id, run_id, task_id, key)): Segments<(String, String, String, String)>,
    params: Params,
) -> Result<Json<XComJson>, ApiError> {
    let stringify = params.bool("stringify")?.unwrap_or(true);
    // the output is stored as JSON: deserialized or not, it is the same
    params.bool("deserialize")?;
    if params.get("map_index").is_some_and(|i| i != "-1") {
        return Err(ApiError::not_found("XCom entry not found", None));
    }
    Ok(Json(
        xcom_entry(&state, (&dag_id, &run_id, &task_id), &key, stringify).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_is_stringified_as_python_prints_it() {
        assert_eq!(python_str(&json!("plain")), "plain");
        assert_eq!(
            python_str(&json!({"rows": 3, "ok": true, "names": ["a", "b'c"], "none": null})),
            r#"{'names': ['a', "b'c"], 'none': None, 'ok': True, 'rows': 3}"#
        );
        assert_eq!(python_str(&json!(1.5)), "1.5");
    }
}
