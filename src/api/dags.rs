//! `/api/v1/dags` (list, get, pause/unpause), `/api/v1/importErrors` and
//! `/api/v1/dagWarnings`: what the last load of the DAG folder found.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::AppState;
use super::dto::{
    DagCollection, DagDetailJson, DagJson, DagWarningCollection, DagWarningJson,
    ImportErrorCollection, ImportErrorJson, Iso,
};
use super::error::ApiError;
use super::extract::{Body, Params, Segments};
use super::form::{Field, Form, Kind, py_str};
use crate::dag::{Dag, DagBag};
use crate::engine::actions;
use crate::model::DagId;
use crate::model::DagRecord;

/// `GET /api/v1/dags`: the loaded DAGs (and, with `only_active=false`, DAGs
/// the database still remembers), ordered by `dag_id`.
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<DagCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let only_active = params.bool("only_active")?.unwrap_or(true);
    let paused = params.bool("paused")?;
    let pattern = params.get("dag_id_pattern").map(str::to_lowercase);
    let tags = params.all("tags");
    let (field, descending) = params.order_by("dag_id");
    if field != "dag_id" {
        return Err(ApiError::bad_request(format!(
            "Ordering with {} is disallowed or the attribute does not exist on the model",
            py_str(field)
        )));
    }

    let (bag, listed) = listed_dags(&state, only_active).await?;
    let mut dags = Vec::new();
    for (dag_id, row) in listed {
        let dag = bag.dags.get(&dag_id).map(|d| d.as_ref());
        let json = dag_json(&state, &dag_id, dag, row.as_ref(), &bag).await?;
        let keep = paused.is_none_or(|p| p == json.is_paused)
            && pattern
                .as_deref()
                .is_none_or(|p| dag_id.as_str().to_lowercase().contains(p))
            // airless DAGs have no tags, so a tag filter matches none
            && tags.is_empty();
        if keep {
            dags.push(json);
        }
    }
    let (dags, total_entries) = page_of(dags, descending, offset, limit);
    Ok(Json(DagCollection {
        dags,
        total_entries,
    }))
}

/// What a DAG list shows, by `dag_id`: every loaded DAG and, unless
/// `loaded_only`, the DAGs only the database remembers; each with its row
/// (v1 and v2 alike).
pub(super) async fn listed_dags(
    state: &AppState,
    loaded_only: bool,
) -> Result<(Arc<DagBag>, Vec<(DagId, Option<DagRecord>)>), crate::store::StoreError> {
    let bag = state.dags.snapshot();
    let mut rows: BTreeMap<DagId, DagRecord> = state
        .reader()
        .dags()
        .await?
        .into_iter()
        .map(|row| (row.dag_id.clone(), row))
        .collect();
    let mut ids: Vec<DagId> = bag.dags.keys().cloned().collect();
    if !loaded_only {
        ids.extend(
            rows.keys()
                .filter(|id| !bag.dags.contains_key(*id))
                .cloned(),
        );
        ids.sort();
    }
    let listed = ids
        .into_iter()
        .map(|dag_id| {
            let row = rows.remove(&dag_id);
            (dag_id, row)
        })
        .collect();
    Ok((bag, listed))
}

/// One page of `items` (reversed first for a descending order), and how
/// many there are in all.
pub(super) fn page_of<T>(
    mut items: Vec<T>,
    descending: bool,
    offset: i64,
    limit: i64,
) -> (Vec<T>, usize) {
    if descending {
        items.reverse();
    }
    let total = items.len();
    let page = items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(0))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect();
    (page, total)
}

/// `GET /api/v1/dags/{dag_id}`
pub async fn get(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
) -> Result<Json<DagJson>, ApiError> {
    let dag_id = DagId::new(dag_id);
    let bag = state.dags.snapshot();
    let row = state.reader().dag(&dag_id).await?;
    let dag = bag.dags.get(&dag_id).map(|d| d.as_ref());
    if dag.is_none() && row.is_none() {
        return Err(ApiError::not_found(
            "DAG not found",
            Some(format!("The DAG with dag_id: {dag_id} was not found")),
        ));
    }
    Ok(Json(
        dag_json(&state, &dag_id, dag, row.as_ref(), &bag).await?,
    ))
}

/// The DAG `dag_id` as loaded, with what its file says (Airflow's
/// `DAGDetail`); 404 when it is not loaded.
pub async fn dag_details(state: &AppState, dag_id: &DagId) -> Result<DagDetailJson, ApiError> {
    let bag = state.dags.snapshot();
    let Some(dag) = bag.dags.get(dag_id) else {
        return Err(ApiError::not_found(
            "DAG not found",
            Some(format!("The DAG with dag_id: {dag_id} was not found")),
        ));
    };
    let row = state.reader().dag(dag_id).await?;
    let base = dag_json(state, dag_id, Some(dag.as_ref()), row.as_ref(), &bag).await?;
    Ok(DagDetailJson::new(
        dag,
        base,
        row.and_then(|r| r.last_parsed_at),
    ))
}

/// `GET /api/v1/dags/{dag_id}/details`
pub async fn details(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
) -> Result<Json<DagDetailJson>, ApiError> {
    Ok(Json(dag_details(&state, &DagId::new(dag_id)).await?))
}

/// The one field of Airflow's `DAG` schema that loads: the others are
/// read-only, so marshmallow refuses them as unknown.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DagPatch {
    is_paused: bool,
}

impl Form for DagPatch {
    const FIELDS: &'static [Field] = &[Field::required("is_paused", Kind::Boolean)];
}

/// `PATCH /api/v1/dags/{dag_id}` with `{"is_paused": bool}`; `update_mask`,
/// if given, may name `is_paused` only. Any other field, even one of the
/// DAG's read-only ones sent back whole, is a 400 naming it.
pub async fn patch(
    State(state): State<AppState>,
    Segments(dag_id): Segments<String>,
    params: Params,
    Body(body): Body<DagPatch>,
) -> Result<Json<DagJson>, ApiError> {
    let mask = params.all("update_mask");
    if !mask.is_empty() && mask != ["is_paused"] {
        return Err(ApiError::bad_request(
            "Only `is_paused` field can be updated through the REST API",
        ));
    }
    let paused = body.is_paused;
    let dag_id = DagId::new(dag_id);
    let bag = state.dags.snapshot();
    let store = state.reader();
    let dag = bag.dags.get(&dag_id);
    if dag.is_none() && store.dag(&dag_id).await?.is_none() {
        // the daemon records a DAG when it loads it; this one was not yet
        return Err(ApiError::not_found(
            format!("Dag with id: '{dag_id}' not found"),
            None,
        ));
    }
    actions::set_paused(&state.launcher, &dag_id, dag, paused).await?;
    let row = store.dag(&dag_id).await?;
    Ok(Json(
        dag_json(&state, &dag_id, dag.map(|d| d.as_ref()), row.as_ref(), &bag).await?,
    ))
}

/// The DAG's JSON, with its next scheduled run as the scheduler sees it.
async fn dag_json(
    state: &AppState,
    dag_id: &DagId,
    dag: Option<&Dag>,
    row: Option<&DagRecord>,
    bag: &DagBag,
) -> Result<DagJson, ApiError> {
    let next = match dag {
        Some(dag) => {
            crate::scheduler::next_run(state.reader(), dag, state.launcher.engine().now()).await?
        }
        None => None,
    };
    Ok(DagJson::new(dag_id.as_str(), dag, row, bag, next))
}

/// `GET /api/v1/importErrors`: the DAG files that failed to load, each
/// with every mistake found in it.
pub async fn import_errors(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ImportErrorCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let bag = state.dags.snapshot();
    let errors: Vec<ImportErrorJson> = bag
        .import_errors
        .iter()
        .enumerate()
        .map(|(i, error)| {
            // the file's modification time: when the broken version was written
            let modified = std::fs::metadata(&error.file)
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or(state.started_at);
            ImportErrorJson {
                import_error_id: i + 1,
                timestamp: Some(Iso(modified)),
                filename: error.file.display().to_string(),
                stack_trace: error
                    .errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            }
        })
        .collect();
    let total_entries = errors.len();
    Ok(Json(ImportErrorCollection {
        import_errors: errors
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect(),
        total_entries,
    }))
}

/// `GET /api/v1/dagWarnings`: the warnings of the DAGs loaded now (a
/// trigger's conf in a shell script), replaced whenever the folder is
/// reloaded. Filters `dag_id` and `warning_type`; `order_by` one of
/// `dag_id`, `warning_type`, `message`, `timestamp` (the default), `-` first
/// for descending. A warning's timestamp is when its DAG was last parsed.
pub async fn dag_warnings(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<DagWarningCollection>, ApiError> {
    let (limit, offset) = params.page()?;
    let (field, descending) = params.order_by("timestamp");
    if !matches!(field, "dag_id" | "warning_type" | "message" | "timestamp") {
        return Err(ApiError::bad_request(format!(
            "Ordering with {} is disallowed or the attribute does not exist on the model",
            py_str(field)
        )));
    }
    let dag_id = params.get("dag_id").filter(|id| !id.is_empty());
    let warning_type = params.get("warning_type").filter(|t| !t.is_empty());
    let bag = state.dags.snapshot();
    let parsed: BTreeMap<DagId, chrono::DateTime<chrono::Utc>> = state
        .reader()
        .dags()
        .await?
        .into_iter()
        .filter_map(|row| Some((row.dag_id.clone(), row.last_parsed_at?)))
        .collect();
    let fallback = state.dags.loaded_at().unwrap_or(state.started_at);
    let mut warnings: Vec<DagWarningJson> = bag
        .dags
        .values()
        .filter(|dag| dag_id.is_none_or(|id| dag.dag_id.as_str() == id))
        .flat_map(|dag| {
            let timestamp = parsed.get(&dag.dag_id).copied().unwrap_or(fallback);
            dag.warnings.iter().filter_map(move |warning| {
                Some(DagWarningJson {
                    dag_id: dag.dag_id.to_string(),
                    warning_type: warning.warning_type()?.as_str(),
                    message: warning.to_string(),
                    timestamp: Iso(timestamp),
                })
            })
        })
        .filter(|warning| warning_type.is_none_or(|t| warning.warning_type == t))
        .collect();
    // a stable order: the field asked for, then the DAG and the message
    warnings.sort_by(|a, b| {
        let by_field = match field {
            "dag_id" => a.dag_id.cmp(&b.dag_id),
            "warning_type" => a.warning_type.cmp(b.warning_type),
            "message" => a.message.cmp(&b.message),
            _ => a.timestamp.0.cmp(&b.timestamp.0),
        };
        let by_field = if descending {
            by_field.reverse()
        } else {
            by_field
        };
        by_field
            .then_with(|| a.dag_id.cmp(&b.dag_id))
            .then_with(|| a.message.cmp(&b.message))
    });
    let total_entries = warnings.len();
    Ok(Json(DagWarningCollection {
        dag_warnings: warnings
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect(),
        total_entries,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::form::sample;

    #[test]
    fn the_patch_forms_fields_match_its_shape() {
        assert!(sample::<DagPatch>().is_ok());
    }
}
