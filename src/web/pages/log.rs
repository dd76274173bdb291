//! `/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try}`: one try's
//! log (secrets were masked before it reached the disk). While the try
//! runs the page's script asks for what was appended (`?from=N`, plain
//! text); `?download=1` sends the whole file.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::kinds::log::read_try_log;
use crate::model::{DagId, RunId, TaskState};
use crate::web::session::Session;
use crate::web::view::{self, StateView};
use crate::web::{Chrome, PageError, WebState, render};

/// The page shows at most the last 2 MiB of a log; the download has all.
const PAGE_LOG_BYTES: u64 = 2 * 1024 * 1024;

#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    from: Option<u64>,
    download: Option<String>,
}

#[derive(Debug, Serialize)]
struct TryLink {
    try_number: u32,
    url: String,
    current: bool,
}

#[derive(Debug, Serialize)]
struct LogPage {
    chrome: Chrome,
    dag_id: String,
    dag_url: String,
    run_id: String,
    run_url: String,
    task_id: String,
    try_number: u32,
    state: StateView,
    running: bool,
    error: Option<String>,
    text: String,
    truncated: bool,
    size: u64,
    tries: Vec<TryLink>,
    download_url: String,
}

pub async fn page(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path((dag_id, run_id, task_id, try_number)): Path<(String, String, String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response, PageError> {
    let try_number: u32 = try_number.parse().map_err(|_| {
        PageError::bad_request(format!(
            "A try is a whole number from 1, not `{try_number}`."
        ))
    })?;
    let reader = web.app.reader();
    let run = reader
        .find_dag_run(&DagId::new(&dag_id), &RunId::new(&run_id))
        .await?
        .ok_or_else(|| PageError::not_found(format!("DAG `{dag_id}` has no run `{run_id}`.")))?;
    let ti = reader
        .task_instances(run.id)
        .await?
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task_id)
        .ok_or_else(|| PageError::not_found(format!("Run `{run_id}` has no task `{task_id}`.")))?;
    let tries = reader.task_tries(ti.id).await?;
    let attempt = tries
        .iter()
        .find(|t| t.try_number == try_number)
        .ok_or_else(|| {
            PageError::not_found(format!(
                "Task `{task_id}` of run `{run_id}` has no try {try_number}."
            ))
        })?;
    let running = attempt.state == TaskState::Running;
    let read_error = |err: std::io::Error| PageError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("The log {} cannot be read: {err}", attempt.log_path),
    };

    if query.download.is_some() {
        let chunk = read_try_log(attempt, 0, u64::MAX)
            .await
            .map_err(read_error)?;
        let name = format!("{dag_id}.{run_id}.{task_id}.{try_number}.log").replace(
            |c: char| !(c.is_ascii_alphanumeric() || "._-+".contains(c)),
            "_",
        );
        let mut response = chunk.text.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        return Ok(response);
    }
    if let Some(from) = query.from {
        // the tail: what was written since byte `from`
        let chunk = read_try_log(attempt, from, PAGE_LOG_BYTES)
            .await
            .map_err(read_error)?;
        let mut response = chunk.text.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-airless-log-size", HeaderValue::from(chunk.size));
        headers.insert(
            "x-airless-running",
            HeaderValue::from_static(if running { "1" } else { "0" }),
        );
        return Ok(response);
    }

    let chunk = read_try_log(attempt, 0, PAGE_LOG_BYTES)
        .await
        .map_err(read_error)?;
    let page_url = |n: u32| view::log_url(&dag_id, &run_id, &task_id, n);
    Ok(render::page(
        &web.ui.env,
        "log.html",
        LogPage {
            chrome: web.chrome(&session),
            dag_url: view::dag_url(&dag_id),
            run_url: view::run_url(&dag_id, &run_id),
            download_url: format!("{}?download=1", page_url(try_number)),
            tries: tries
                .iter()
                .map(|t| TryLink {
                    try_number: t.try_number,
                    url: page_url(t.try_number),
                    current: t.try_number == try_number,
                })
                .collect(),
            state: view::state(attempt.state.as_str()),
            running,
            error: attempt.error.clone(),
            truncated: chunk.start > 0,
            size: chunk.size,
            text: chunk.text,
            dag_id,
            run_id,
            task_id,
            try_number,
        },
    ))
}
