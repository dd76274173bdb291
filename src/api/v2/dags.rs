//! `/api/v2/dags` (list, get, pause/unpause), `/api/v2/importErrors`: the
//! v1 logic's results in Airflow 3's shapes.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::dto::{DagCollection, DagResponse, Instant};
use super::error::{Invalid, V2Error};
use super::extract::{Body, Field, Kind, Model, Params};
use crate::api::AppState;
use crate::api::dto::DagJson;
use crate::dag::{Dag, DagBag};
use crate::engine::actions;
use crate::model::{DagId, DagRecord};

fn not_found(dag_id: &str) -> V2Error {
    V2Error::not_found(format!("Dag with id {dag_id} was not found"))
}

async fn dag_response(
    state: &AppState,
    dag_id: &DagId,
    dag: Option<&Dag>,
    row: Option<&DagRecord>,
    bag: &DagBag,
) -> Result<DagResponse, V2Error> {
    let next = match dag {
        Some(dag) => {
            crate::scheduler::next_run(state.reader(), dag, state.launcher.engine().now()).await?
        }
        None => None,
    };
    let v1 = DagJson::new(dag_id.as_str(), dag, row, bag, next);
    Ok(DagResponse::new(v1, dag))
}

/// `GET /api/v2/dags`: the loaded DAGs (and, with `exclude_stale=false`,
/// the ones only the database remembers), by `dag_id`. Filters `paused`,
/// `dag_id_pattern` (SQL `LIKE`-ish: `%` any), `tags` (airless DAGs have
/// none, so any tag matches nothing).
pub async fn list(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<DagCollection>, V2Error> {
    let (limit, offset) = params.page()?;
    let (field, descending) = params.order_by("dag_id");
    if field != "dag_id" && field != "dag_display_name" {
        return Err(V2Error::bad_request(format!(
            "Ordering with '{field}' is disallowed or the attribute does not exist on the model"
        )));
    }
    let boolean = |key: &str| -> Result<Option<bool>, V2Error> {
        match params.get(key).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true" | "1" | "yes" | "on") => Ok(Some(true)),
            Some("false" | "0" | "no" | "off") => Ok(Some(false)),
            Some(other) => Err(V2Error::invalid(vec![Invalid::new(
                "bool_parsing",
                &["query", key],
                "Input should be a valid boolean, unable to interpret input",
                serde_json::json!(other),
            )])),
        }
    };
    let paused = boolean("paused")?;
    let exclude_stale = boolean("exclude_stale")?.unwrap_or(true);
    let pattern = params
        .get("dag_id_pattern")
        .map(|p| p.to_lowercase().replace('%', ""));
    let tags = params.all("tags");

    let (bag, listed) = crate::api::dags::listed_dags(&state, exclude_stale).await?;
    let mut dags = Vec::new();
    for (dag_id, row) in listed {
        let dag = bag.dags.get(&dag_id).map(|d| d.as_ref());
        let json = dag_response(&state, &dag_id, dag, row.as_ref(), &bag).await?;
        let keep = paused.is_none_or(|p| p == json.is_paused)
            && pattern
                .as_deref()
                .is_none_or(|p| dag_id.as_str().to_lowercase().contains(p))
            && tags.is_empty();
        if keep {
            dags.push(json);
        }
    }
    let (dags, total_entries) = crate::api::dags::page_of(dags, descending, offset, limit);
    Ok(Json(DagCollection {
        dags,
        total_entries,
    }))
}

/// `GET /api/v2/dags/{dag_id}`
pub async fn get(
    State(state): State<AppState>,
    Path(dag_id): Path<String>,
) -> Result<Json<DagResponse>, V2Error> {
    let dag_id = DagId::new(dag_id);
    let bag = state.dags.snapshot();
    let row = state.reader().dag(&dag_id).await?;
    let dag = bag.dags.get(&dag_id).map(|d| d.as_ref());
    if dag.is_none() && row.is_none() {
        return Err(not_found(dag_id.as_str()));
    }
    Ok(Json(
        dag_response(&state, &dag_id, dag, row.as_ref(), &bag).await?,
    ))
}

/// Airflow 3's `DAGPatchBody`.
#[derive(Debug, Deserialize)]
pub struct DagPatchBody {
    is_paused: bool,
}

impl Model for DagPatchBody {
    const FIELDS: &'static [Field] = &[Field::required("is_paused", Kind::Boolean)];
}

/// `PATCH /api/v2/dags/{dag_id}` with `{"is_paused": bool}`; an
/// `update_mask` may name `is_paused` only.
pub async fn patch(
    State(state): State<AppState>,
    Path(dag_id): Path<String>,
    params: Params,
    Body(body): Body<DagPatchBody>,
) -> Result<Json<DagResponse>, V2Error> {
    let mask = params.all("update_mask");
    if !mask.is_empty() && mask != ["is_paused"] {
        return Err(V2Error::bad_request(
            "Only `is_paused` field can be updated through the REST API",
        ));
    }
    let dag_id = DagId::new(dag_id);
    let bag = state.dags.snapshot();
    let store = state.reader();
    let dag = bag.dags.get(&dag_id);
    if dag.is_none() && store.dag(&dag_id).await?.is_none() {
        return Err(not_found(dag_id.as_str()));
    }
    actions::set_paused(&state.launcher, &dag_id, dag, body.is_paused).await?;
    let row = store.dag(&dag_id).await?;
    Ok(Json(
        dag_response(&state, &dag_id, dag.map(|d| d.as_ref()), row.as_ref(), &bag).await?,
    ))
}

/// Airflow 3's `ImportErrorResponse`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportErrorResponse {
    import_error_id: usize,
    timestamp: Instant,
    filename: String,
    bundle_name: Option<&'static str>,
    stack_trace: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportErrorCollection {
    import_errors: Vec<ImportErrorResponse>,
    total_entries: usize,
}

/// `GET /api/v2/importErrors`: the DAG files that failed to load, each with
/// every mistake found in it.
pub async fn import_errors(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ImportErrorCollection>, V2Error> {
    let (limit, offset) = params.page()?;
    let bag = state.dags.snapshot();
    let errors: Vec<ImportErrorResponse> = bag
        .import_errors
        .iter()
        .enumerate()
        .map(|(i, error)| {
            let modified = std::fs::metadata(&error.file)
                .and_then(|m| m.modified())
                .ok()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or(state.started_at);
            ImportErrorResponse {
                import_error_id: i + 1,
                timestamp: Instant(modified),
                filename: error.file.display().to_string(),
                bundle_name: Some("dags-folder"),
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
