//! The operator's actions, each a POST through the command door and each
//! shown first as a preview of what it will touch (as Airflow's dry runs):
//! a POST without `confirm=yes` renders the preview, whose button posts the
//! same fields again with it. Every POST must carry the session's CSRF
//! token.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::SubsecRound;
use serde::Serialize;
use serde_json::{Map, Value};

use super::session::Session;
use super::view;
use super::{Chrome, PageError, WebState, render};
use crate::dag::Dag;
use crate::engine::actions::{self, ClearSelection};
use crate::engine::{Mark, RunRequest, default_run_id};
use crate::model::{DagId, DagRun, RunId, RunState, RunType, TaskId, TaskState};

type Fields = Vec<(String, String)>;

fn field<'a>(form: &'a Fields, name: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn flag(form: &Fields, name: &str) -> bool {
    matches!(field(form, name), Some("on" | "true" | "yes" | "1"))
}

/// Refuses a POST whose CSRF token is missing or not this session's.
pub(super) fn check_csrf(
    web: &WebState,
    session: &Session,
    form: &Fields,
) -> Result<(), PageError> {
    match field(form, "csrf") {
        Some(token) if web.ui.keys.csrf_matches(session, token) => Ok(()),
        Some(_) => Err(PageError::forbidden(
            "This form has expired (its security token does not match your session). Reload the page and try again.",
        )),
        None => Err(PageError::forbidden(
            "This form carries no security token (CSRF): actions are taken only from airless's own pages.",
        )),
    }
}

/// A local path to go back to, never another site.
fn back(form: &Fields, default: String) -> String {
    field(form, "back")
        .and_then(super::session::local_path)
        .map_or(default, str::to_string)
}

#[derive(Debug, Serialize)]
struct Preview {
    chrome: Chrome,
    title: String,
    /// What will happen, in sentences.
    summary: Vec<String>,
    /// What it touches, one line each.
    items: Vec<String>,
    action: String,
    button: String,
    danger: bool,
    /// The submitted fields, posted again with `confirm=yes`.
    hidden: Vec<(String, String)>,
    cancel_url: String,
    nothing: bool,
    /// Other previews of the same action: a label and the fields to post.
    alternatives: Vec<(String, Vec<(String, String)>)>,
}

struct Plan {
    title: String,
    summary: Vec<String>,
    items: Vec<String>,
    button: String,
    danger: bool,
    nothing: bool,
    alternatives: Vec<(String, Fields)>,
}

fn preview(
    web: &WebState,
    session: &Session,
    action: String,
    form: &Fields,
    cancel_url: String,
    plan: Plan,
) -> Response {
    let hidden = form
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "confirm")
        .cloned()
        .collect();
    render::page(
        &web.ui.env,
        "preview.html",
        Preview {
            chrome: web.chrome(session),
            title: plan.title,
            summary: plan.summary,
            items: plan.items,
            action,
            button: plan.button,
            danger: plan.danger,
            hidden,
            cancel_url,
            nothing: plan.nothing,
            alternatives: plan.alternatives,
        },
    )
}

fn dag_of(web: &WebState, dag_id: &str) -> Result<Arc<Dag>, PageError> {
    web.app.dags.get(dag_id).ok_or_else(|| {
        PageError::not_found(format!("There is no DAG `{dag_id}` in the DAG folder."))
    })
}

async fn run_of(web: &WebState, dag_id: &str, run_id: &str) -> Result<DagRun, PageError> {
    web.app
        .reader()
        .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
        .await?
        .ok_or_else(|| PageError::not_found(format!("DAG `{dag_id}` has no run `{run_id}`.")))
}

// ---------------------------------------------------------------- trigger

#[derive(Debug, Serialize)]
struct ParamField {
    name: String,
    field: String,
    /// `number`, `checkbox`, `text` or `json`.
    input: &'static str,
    value: String,
    checked: bool,
}

#[derive(Debug, Serialize)]
struct TriggerPage {
    chrome: Chrome,
    dag_id: String,
    dag_url: String,
    action: String,
    params: Vec<ParamField>,
    paused: bool,
}

/// `GET /dags/{dag_id}/trigger`: a form made from the DAG's `params`
/// (their defaults filled in) and a raw JSON conf.
pub async fn trigger_form(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path(dag_id): Path<String>,
) -> Result<Response, PageError> {
    let dag = dag_of(&web, &dag_id)?;
    let params = dag
        .params
        .iter()
        .map(|(name, value)| {
            let (input, shown) = match value {
                Value::Number(n) => ("number", n.to_string()),
                Value::Bool(_) => ("checkbox", String::new()),
                Value::String(s) => ("text", s.clone()),
                other => ("json", other.to_string()),
            };
            ParamField {
                field: format!("param.{name}"),
                name: name.clone(),
                input,
                value: shown,
                checked: value.as_bool().unwrap_or(false),
            }
        })
        .collect();
    let paused = web
        .app
        .reader()
        .dag(&dag.dag_id)
        .await?
        .map_or(dag.is_paused_upon_creation, |r| r.is_paused);
    Ok(render::page(
        &web.ui.env,
        "trigger.html",
        TriggerPage {
            chrome: web.chrome(&session),
            dag_url: view::dag_url(&dag_id),
            action: format!("{}/trigger", view::dag_url(&dag_id)),
            dag_id,
            params,
            paused,
        },
    ))
}

/// The conf a trigger form asks for: each param's field read by the type
/// of its default, then the raw JSON's keys on top.
fn conf_of(dag: &Dag, form: &Fields) -> Result<Map<String, Value>, PageError> {
    // a confirmed trigger posts the conf it previewed
    if let Some(conf) = field(form, "conf_final") {
        return match serde_json::from_str::<Value>(conf) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(PageError::bad_request(
                "The previewed conf is not a JSON object.",
            )),
        };
    }
    let mut conf = Map::new();
    for (name, default) in &dag.params {
        let key = format!("param.{name}");
        let value = match default {
            Value::Bool(_) => Value::Bool(flag(form, &key)),
            Value::Number(_) => match field(form, &key).map(str::trim) {
                None | Some("") => default.clone(),
                Some(text) => serde_json::from_str::<serde_json::Number>(text)
                    .map(Value::Number)
                    .map_err(|_| {
                        PageError::bad_request(format!(
                            "The param `{name}` takes a number, not `{text}`."
                        ))
                    })?,
            },
            Value::String(_) => Value::String(field(form, &key).unwrap_or_default().to_string()),
            _ => match field(form, &key).map(str::trim) {
                None | Some("") => default.clone(),
                Some(text) => serde_json::from_str(text).map_err(|err| {
                    PageError::bad_request(format!("The param `{name}` is not valid JSON: {err}."))
                })?,
            },
        };
        conf.insert(name.clone(), value);
    }
    match field(form, "conf").map(str::trim) {
        None | Some("") => {}
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(raw)) => conf.extend(raw),
            Ok(_) => {
                return Err(PageError::bad_request(
                    "The conf must be a JSON object, such as {\"records\": 500}.",
                ));
            }
            Err(err) => {
                return Err(PageError::bad_request(format!(
                    "The conf is not valid JSON: {err}."
                )));
            }
        },
    }
    Ok(conf)
}

/// `POST /dags/{dag_id}/trigger`: previews the run, then queues it and
/// goes to its page.
pub async fn trigger(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path(dag_id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    check_csrf(&web, &session, &form)?;
    let dag = dag_of(&web, &dag_id)?;
    let conf = conf_of(&dag, &form)?;
    let run_id = match field(&form, "run_id").map(str::trim) {
        None | Some("") => None,
        Some(id) if RunId::is_allowed(id) => Some(RunId::new(id)),
        Some(id) => {
            return Err(PageError::bad_request(format!(
                "The run id `{id}` may hold letters, digits and `_ . ~ : + -` only, at most 250 characters (Airflow's rule)."
            )));
        }
    };
    if !flag(&form, "confirm") {
        let paused = web
            .app
            .reader()
            .dag(&dag.dag_id)
            .await?
            .map_or(dag.is_paused_upon_creation, |r| r.is_paused);
        let conf_text =
            serde_json::to_string_pretty(&Value::Object(conf.clone())).unwrap_or_default();
        let mut summary = vec![format!(
            "This queues a manual run of {dag_id} now, with the conf below."
        )];
        if paused {
            summary.push(format!(
                "{dag_id} is paused: the run waits in the queue until it is unpaused."
            ));
        }
        let mut fields: Fields = vec![("conf_final".to_string(), Value::Object(conf).to_string())];
        if let Some(run_id) = &run_id {
            fields.push(("run_id".to_string(), run_id.to_string()));
        }
        return Ok(preview(
            &web,
            &session,
            format!("{}/trigger", view::dag_url(&dag_id)),
            &fields,
            view::dag_url(&dag_id),
            Plan {
                title: format!("Trigger {dag_id}?"),
                summary,
                items: conf_text.lines().map(str::to_string).collect(),
                button: "Trigger".to_string(),
                danger: false,
                nothing: false,
                alternatives: Vec::new(),
            },
        ));
    }
    let now = web.app.control().now().trunc_subsecs(6);
    let request = RunRequest {
        run_id: Some(run_id.unwrap_or_else(|| default_run_id(RunType::Manual, now))),
        run_type: RunType::Manual,
        logical_date: now,
        data_interval: dag.timetable.manual_data_interval(now),
        conf: Value::Object(conf),
    };
    let run = web.app.launcher.trigger(&dag, &request).await?;
    tracing::info!(dag_id = %dag.dag_id, run_id = %run.run_id, "dag run triggered from the web UI");
    Ok(Redirect::to(&view::run_url(&dag_id, run.run_id.as_str())).into_response())
}

// ------------------------------------------------------------------ pause

/// `POST /dags/{dag_id}/pause` with `paused=true|false`.
pub async fn pause(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path(dag_id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    check_csrf(&web, &session, &form)?;
    let paused = match field(&form, "paused") {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(PageError::bad_request("`paused` must be true or false.")),
    };
    let dag = web.app.dags.get(&dag_id);
    let id = DagId::new(&dag_id);
    let reader = web.app.reader();
    if dag.is_none() && reader.dag(&id).await?.is_none() {
        return Err(PageError::not_found(format!("There is no DAG `{dag_id}`.")));
    }
    let back_to = back(&form, view::dag_url(&dag_id));
    if !flag(&form, "confirm") {
        let active = reader.active_run_counts().await?;
        let (queued, running) = active.get(dag_id.as_str()).copied().unwrap_or((0, 0));
        let summary = if paused {
            vec![
                format!(
                    "Pausing {dag_id} stops the scheduler from creating and starting its runs."
                ),
                format!(
                    "{running} running run(s) go on to their end; {queued} queued run(s) wait until it is unpaused."
                ),
            ]
        } else {
            let next = match &dag {
                Some(dag) => crate::scheduler::next_run(reader, dag, web.app.control().now())
                    .await?
                    .map(|n| view::time(n.run_after)),
                None => None,
            };
            vec![
                format!("Unpausing {dag_id} lets the scheduler create and start its runs."),
                match next {
                    Some(at) => format!(
                        "Its next scheduled run starts at {at} UTC; {queued} queued run(s) start now."
                    ),
                    None => format!("It has no scheduled runs; {queued} queued run(s) start now."),
                },
            ]
        };
        return Ok(preview(
            &web,
            &session,
            format!("{}/pause", view::dag_url(&dag_id)),
            &form,
            back_to,
            Plan {
                title: format!("{} {dag_id}?", if paused { "Pause" } else { "Unpause" }),
                summary,
                items: Vec::new(),
                button: if paused { "Pause" } else { "Unpause" }.to_string(),
                danger: paused,
                nothing: false,
                alternatives: Vec::new(),
            },
        ));
    }
    actions::set_paused(&web.app.launcher, &id, dag.as_ref(), paused).await?;
    Ok(Redirect::to(&back_to).into_response())
}

// ------------------------------------------------------------------ clear

/// `POST /dags/{dag_id}/runs/{run_id}/clear`: `task_id` (or every task),
/// `downstream`, `only_failed`.
pub async fn clear(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path((dag_id, run_id)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    check_csrf(&web, &session, &form)?;
    let dag = dag_of(&web, &dag_id)?;
    let run = run_of(&web, &dag_id, &run_id).await?;
    let task_id = field(&form, "task_id").filter(|t| !t.is_empty());
    if let Some(task) = task_id
        && dag.task_index(task).is_none()
    {
        return Err(PageError::not_found(format!(
            "{dag_id} has no task `{task}`."
        )));
    }
    let selection = ClearSelection {
        run_id: Some(run.run_id.clone()),
        task_ids: task_id.map(|t| std::iter::once(t.to_string()).collect()),
        include_downstream: flag(&form, "downstream"),
        include_upstream: false,
        states: actions::finished_states(flag(&form, "only_failed")),
        start: None,
        end: None,
    };
    let run_url = view::run_url(&dag_id, &run_id);
    if !flag(&form, "confirm") {
        let candidates = actions::clear(&web.app.launcher, &dag, &selection, true).await?;
        let mut summary = vec![match task_id {
            Some(task) => format!(
                "This clears {task}{} in run {run_id}: each goes back to no status and runs again, with its retries renewed.",
                if selection.include_downstream {
                    " and every task downstream of it"
                } else {
                    ""
                }
            ),
            None => format!(
                "This clears the {} tasks of run {run_id}: each goes back to no status and runs again, with its retries renewed.",
                if flag(&form, "only_failed") {
                    "failed"
                } else {
                    "finished"
                }
            ),
        }];
        if run.state.is_finished() {
            summary.push(format!("The run ({}) is queued again.", run.state));
        }
        if !run.state.is_finished() || web.app.launcher.is_active(run.id) {
            summary.push("The run is still going: its driver holds its tasks' states, so nothing is cleared until it ends.".to_string());
        }
        let nothing = candidates.is_empty();
        return Ok(preview(
            &web,
            &session,
            format!("{run_url}/clear"),
            &form,
            run_url,
            Plan {
                title: format!("Clear {} task instance(s)?", candidates.len()),
                summary,
                items: candidates
                    .iter()
                    .map(|c| {
                        format!(
                            "{} — {} (try {})",
                            c.task_id,
                            c.state.as_str(),
                            c.try_number
                        )
                    })
                    .collect(),
                button: "Clear".to_string(),
                danger: true,
                nothing,
                alternatives: clear_alternatives(&form, task_id.is_some()),
            },
        ));
    }
    actions::clear(&web.app.launcher, &dag, &selection, false).await?;
    Ok(Redirect::to(&run_url).into_response())
}

/// The clear's other shapes, to preview instead: with or without the
/// task's downstream, only the failed instances or every finished one.
fn clear_alternatives(form: &Fields, one_task: bool) -> Vec<(String, Fields)> {
    let with = |name: &str, on: bool| -> Fields {
        let mut fields: Fields = form
            .iter()
            .filter(|(k, _)| k != name && k != "csrf" && k != "confirm")
            .cloned()
            .collect();
        if on {
            fields.push((name.to_string(), "on".to_string()));
        }
        fields
    };
    let mut alternatives = Vec::new();
    if one_task {
        let downstream = flag(form, "downstream");
        alternatives.push((
            if downstream {
                "Without its downstream tasks"
            } else {
                "With its downstream tasks"
            }
            .to_string(),
            with("downstream", !downstream),
        ));
    }
    let only_failed = flag(form, "only_failed");
    alternatives.push((
        if only_failed {
            "Every finished instance, not only failed ones"
        } else {
            "Only failed instances"
        }
        .to_string(),
        with("only_failed", !only_failed),
    ));
    alternatives
}

// ------------------------------------------------------------------- mark

/// `POST /dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark` with
/// `state=success|failed`.
pub async fn mark(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path((dag_id, run_id, task_id)): Path<(String, String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    check_csrf(&web, &session, &form)?;
    let (mark, to) = match field(&form, "state") {
        Some("success") => (Mark::Success, TaskState::Success),
        Some("failed") => (Mark::Failed, TaskState::Failed),
        _ => return Err(PageError::bad_request("`state` must be success or failed.")),
    };
    let run = run_of(&web, &dag_id, &run_id).await?;
    let ti = web
        .app
        .reader()
        .task_instances(run.id)
        .await?
        .into_iter()
        .find(|ti| ti.task_id.as_str() == task_id)
        .ok_or_else(|| PageError::not_found(format!("Run `{run_id}` has no task `{task_id}`.")))?;
    let run_url = view::run_url(&dag_id, &run_id);
    if !flag(&form, "confirm") {
        let mut summary = vec![format!(
            "This marks {task_id} of run {run_id} {to} (it is {} now). Nothing runs; its tries stay as they are.",
            ti.state.as_str().replace('_', " ")
        )];
        if ti.state == TaskState::Running {
            summary.push("It is running: a running task instance cannot be marked. Cancel the run or wait for the try to end.".to_string());
        }
        if run.state != RunState::Queued && !run.state.is_finished() {
            summary
                .push("Its run is being driven: marks are refused until the run ends.".to_string());
        }
        return Ok(preview(
            &web,
            &session,
            format!("{run_url}/tasks/{}/mark", view::url_encode(&task_id)),
            &form,
            run_url,
            Plan {
                title: format!("Mark {task_id} {to}?"),
                summary,
                items: vec![format!("{task_id} — {} → {to}", ti.state.as_str())],
                button: format!("Mark {to}"),
                danger: to == TaskState::Failed,
                nothing: ti.state == to,
                alternatives: Vec::new(),
            },
        ));
    }
    actions::mark(&web.app.launcher, &run, &TaskId::new(&task_id), mark).await?;
    Ok(Redirect::to(&run_url).into_response())
}

// ----------------------------------------------------------------- cancel

/// `POST /dags/{dag_id}/runs/{run_id}/cancel`: fails the run, killing its
/// running tries and skipping what has not run.
pub async fn cancel(
    State(web): State<WebState>,
    Extension(session): Extension<Session>,
    Path((dag_id, run_id)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    check_csrf(&web, &session, &form)?;
    let run = run_of(&web, &dag_id, &run_id).await?;
    let run_url = view::run_url(&dag_id, &run_id);
    if !flag(&form, "confirm") {
        let instances = web.app.reader().task_instances(run.id).await?;
        let items = instances
            .iter()
            .filter(|ti| !ti.state.is_finished())
            .map(|ti| {
                let what = if ti.state == TaskState::Running {
                    "its running try is killed and fails"
                } else {
                    "skipped"
                };
                format!("{} — {} → {what}", ti.task_id, ti.state.as_str())
            })
            .collect::<Vec<_>>();
        let nothing = run.state.is_finished();
        return Ok(preview(
            &web,
            &session,
            format!("{run_url}/cancel"),
            &form,
            run_url,
            Plan {
                title: format!("Cancel run {run_id}?"),
                summary: vec![if nothing {
                    format!("The run has already ended ({}).", run.state)
                } else {
                    "The run fails: running tries are killed, tasks that have not run are skipped."
                        .to_string()
                }],
                items,
                button: "Cancel the run".to_string(),
                danger: true,
                nothing,
                alternatives: Vec::new(),
            },
        ));
    }
    if !run.state.is_finished() {
        actions::cancel_run(&web.app.launcher, run).await?;
    }
    Ok(Redirect::to(&run_url).into_response())
}
