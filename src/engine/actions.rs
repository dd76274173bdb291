//! What an operator does to runs, the same from the API and the web UI:
//! cancel a run, clear task instances (with their downstream or upstream),
//! mark one, pause a DAG. Each goes through the command door and wakes the
//! scheduler when there is new work.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{ControlError, EngineError, Launcher, Mark};
use crate::dag::Dag;
use crate::model::{DagId, DagRun, RunId, RunState, TaskId, TaskInstance, TaskState};
use crate::store::ClearCandidate;

/// How long a cancel waits for the run's driver to record the end.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// The finished task instances a clear resets.
#[derive(Debug, Clone, Default)]
pub struct ClearSelection {
    /// One run, or every run (within `start`..=`end` by logical date).
    pub run_id: Option<RunId>,
    /// These tasks (and their relatives below), or every task.
    pub task_ids: Option<BTreeSet<String>>,
    /// Also every task downstream of a selected one.
    pub include_downstream: bool,
    /// Also every task upstream of a selected one.
    pub include_upstream: bool,
    /// Only instances in these states.
    pub states: Vec<TaskState>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// The states a clear of finished instances touches: failed ones
/// (`only_failed`), or every finished one.
pub fn finished_states(only_failed: bool) -> Vec<TaskState> {
    if only_failed {
        vec![TaskState::Failed, TaskState::UpstreamFailed]
    } else {
        vec![
            TaskState::Success,
            TaskState::Failed,
            TaskState::UpstreamFailed,
            TaskState::Skipped,
        ]
    }
}

/// The task ids `selection` names, widened to their downstream and
/// upstream relatives when asked; `None` is every task.
fn selected_tasks(dag: &Dag, selection: &ClearSelection) -> Option<BTreeSet<String>> {
    let named = selection.task_ids.as_ref()?;
    let mut chosen: BTreeSet<String> = named.clone();
    let roots: Vec<usize> = named.iter().filter_map(|t| dag.task_index(t)).collect();
    let mut walk = |down: bool| {
        let mut stack = roots.clone();
        let mut seen = vec![false; dag.tasks.len()];
        while let Some(task) = stack.pop() {
            let next: Vec<usize> = if down {
                dag.graph.downstream(task).collect()
            } else {
                dag.graph.upstream(task).collect()
            };
            for n in next {
                if !seen[n] {
                    seen[n] = true;
                    chosen.insert(dag.tasks[n].task_id.to_string());
                    stack.push(n);
                }
            }
        }
    };
    if selection.include_downstream {
        walk(true);
    }
    if selection.include_upstream {
        walk(false);
    }
    Some(chosen)
}

/// Lists (`dry_run`) or resets to `none` the finished task instances
/// `selection` matches; their finished runs are queued again. Runs being
/// driven are left alone: their driver holds their tasks' states.
pub async fn clear(
    launcher: &Launcher,
    dag: &Arc<Dag>,
    selection: &ClearSelection,
    dry_run: bool,
) -> Result<Vec<ClearCandidate>, EngineError> {
    let tasks = selected_tasks(dag, selection);
    let candidates: Vec<ClearCandidate> = launcher
        .reader()
        .clear_candidates(
            &dag.dag_id,
            selection.run_id.as_ref(),
            selection.start,
            selection.end,
            &selection.states,
        )
        .await?
        .into_iter()
        .filter(|c| {
            tasks
                .as_ref()
                .is_none_or(|ids| ids.contains(c.task_id.as_str()))
                && c.run_state != RunState::Running
                && !launcher.is_active(c.dag_run_id)
        })
        .collect();
    if dry_run {
        return Ok(candidates);
    }
    let cleared = launcher.control().clear(dag, candidates).await?;
    if !cleared.is_empty() {
        tracing::info!(dag_id = %dag.dag_id, task_instances = cleared.len(), "task instances cleared");
        launcher.wake().notify_one();
    }
    Ok(cleared)
}

/// Fails a run: one driven here is cancelled (its running tries killed)
/// and waited for up to 5 s; one driven nowhere fails at once, what has not
/// run skipped; a live owner elsewhere (`dags test`) sees the failed run at
/// its next heartbeat and stops its tries.
pub async fn cancel_run(launcher: &Launcher, run: DagRun) -> Result<DagRun, EngineError> {
    let store = launcher.reader();
    if launcher.cancel(run.id) {
        tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, "dag run cancelled");
        let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
        loop {
            let current = store.dag_run(run.id).await?;
            if current.state.is_finished() || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(launcher.control().fail_undriven_run(&run).await?)
}

/// Puts a finished run back to work.
pub async fn requeue_run(launcher: &Launcher, run: &DagRun) -> Result<DagRun, EngineError> {
    launcher.control().requeue_run(run).await?;
    launcher.wake().notify_one();
    Ok(launcher.reader().dag_run(run.id).await?)
}

/// Deletes a run with its task instances and logs; refused while it is
/// driven here or by another live process (cancel it first).
pub async fn delete_run(launcher: &Launcher, run: &DagRun) -> Result<(), EngineError> {
    if launcher.is_active(run.id) {
        return Err(ControlError::DrivenElsewhere {
            dag_id: run.dag_id.clone(),
            run_id: run.run_id.clone(),
            holder: "this airless serve".to_string(),
        }
        .into());
    }
    launcher.control().delete_run(run).await?;
    // a queued run no longer counts against max_active_runs
    launcher.wake().notify_one();
    Ok(())
}

/// Puts a finished run back to work from scratch (`PATCH … {"state":
/// "queued"}`): every finished task instance is cleared first, so the run
/// runs again instead of finishing at once with the old states.
pub async fn rerun(
    launcher: &Launcher,
    dag: &Arc<Dag>,
    run: &DagRun,
) -> Result<DagRun, EngineError> {
    let selection = ClearSelection {
        run_id: Some(run.run_id.clone()),
        states: finished_states(false),
        ..ClearSelection::default()
    };
    clear(launcher, dag, &selection, false).await?;
    let current = launcher.reader().dag_run(run.id).await?;
    if current.state.is_finished() {
        // nothing was cleared (a run without finished task instances)
        return requeue_run(launcher, &current).await;
    }
    Ok(current)
}

/// What a change of task-instance state touches: the named task (and its
/// relatives) in one run, and in earlier or later runs when asked
/// (Airflow's `set_state`).
#[derive(Debug, Clone)]
pub struct StateSelection {
    pub task_id: TaskId,
    pub run: DagRun,
    pub upstream: bool,
    pub downstream: bool,
    pub future: bool,
    pub past: bool,
}

/// One task instance a change of state touches.
#[derive(Debug, Clone)]
pub struct Altered {
    pub run: DagRun,
    pub task_id: TaskId,
}

/// Sets the task instances `selection` matches to `to` (success, failed or
/// skipped), those not already in it; with `dry_run` only lists them. As
/// Airflow's `set_task_instance_state`, the failed and upstream_failed
/// instances downstream of the named task are then cleared in the runs
/// touched, so those runs carry on (a finished one is queued again). A
/// run driven by a live process is refused whole (`DrivenElsewhere`):
/// its driver owns its states; cancel it or wait for it to end.
pub async fn set_task_state(
    launcher: &Launcher,
    dag: &Arc<Dag>,
    selection: &StateSelection,
    new_state: Mark,
    dry_run: bool,
) -> Result<Vec<Altered>, EngineError> {
    let to = match new_state {
        Mark::Success => TaskState::Success,
        Mark::Failed => TaskState::Failed,
        Mark::Skipped => TaskState::Skipped,
    };
    let mut tasks: BTreeSet<String> = BTreeSet::from([selection.task_id.to_string()]);
    let widened = selected_tasks(
        dag,
        &ClearSelection {
            task_ids: Some(tasks.clone()),
            include_downstream: selection.downstream,
            include_upstream: selection.upstream,
            ..ClearSelection::default()
        },
    );
    if let Some(widened) = widened {
        tasks = widened;
    }
    let store = launcher.reader();
    let mut runs = vec![selection.run.clone()];
    if selection.future || selection.past {
        let at = selection.run.logical_date;
        runs = store
            .dag_runs(Some(&dag.dag_id), i64::MAX, 0)
            .await?
            .into_iter()
            .filter(|r| {
                r.id == selection.run.id
                    || (selection.future && r.logical_date > at)
                    || (selection.past && r.logical_date < at)
            })
            .collect();
        runs.sort_by_key(|r| (r.logical_date, r.id));
    }
    let mut altered = Vec::new();
    for run in &runs {
        let instances = store.task_instances(run.id).await?;
        let changing: Vec<&TaskInstance> = instances
            .iter()
            .filter(|ti| tasks.contains(ti.task_id.as_str()) && ti.state != to)
            .collect();
        if changing.is_empty() {
            continue;
        }
        if !dry_run && launcher.is_active(run.id) {
            return Err(ControlError::DrivenElsewhere {
                dag_id: run.dag_id.clone(),
                run_id: run.run_id.clone(),
                holder: "this airless serve".to_string(),
            }
            .into());
        }
        for ti in changing {
            if !dry_run {
                mark(launcher, run, &ti.task_id, new_state).await?;
            }
            altered.push(Altered {
                run: run.clone(),
                task_id: ti.task_id.clone(),
            });
        }
    }
    if dry_run {
        return Ok(altered);
    }
    // resume what the named task's old state held back, as Airflow does
    let below: BTreeSet<String> = selected_tasks(
        dag,
        &ClearSelection {
            task_ids: Some(BTreeSet::from([selection.task_id.to_string()])),
            include_downstream: true,
            ..ClearSelection::default()
        },
    )
    .unwrap_or_default()
    .into_iter()
    .filter(|t| t != selection.task_id.as_str())
    .collect();
    if !below.is_empty() {
        for run in &runs {
            let clearing = ClearSelection {
                run_id: Some(run.run_id.clone()),
                task_ids: Some(below.clone()),
                states: finished_states(true),
                ..ClearSelection::default()
            };
            clear(launcher, dag, &clearing, false).await?;
        }
    }
    Ok(altered)
}

/// Marks a task instance of a run nobody drives success, failed or skipped.
pub async fn mark(
    launcher: &Launcher,
    run: &DagRun,
    task_id: &TaskId,
    mark: Mark,
) -> Result<TaskInstance, EngineError> {
    let marked = launcher
        .control()
        .mark_task_instance(run, task_id, mark)
        .await?;
    tracing::info!(dag_id = %run.dag_id, run_id = %run.run_id, task_id = %task_id, state = %marked.state, "task instance marked");
    Ok(marked)
}

/// Pauses or unpauses a DAG (recording it first if the store has not seen
/// it yet); the scheduler re-plans.
pub async fn set_paused(
    launcher: &Launcher,
    dag_id: &DagId,
    dag: Option<&Arc<Dag>>,
    paused: bool,
) -> Result<bool, EngineError> {
    if launcher.reader().dag(dag_id).await?.is_none()
        && let Some(dag) = dag
    {
        launcher.control().version_of(dag).await?;
    }
    let changed = launcher.control().set_paused(dag_id, paused).await?;
    tracing::info!(dag_id = %dag_id, paused, "DAG paused state set");
    launcher.reschedule();
    Ok(changed)
}
