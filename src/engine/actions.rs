//! What an operator does to runs, the same from the API and the web UI:
//! cancel a run, clear task instances (with their downstream or upstream),
//! mark one, pause a DAG. Each goes through the command door and wakes the
//! scheduler when there is new work.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{EngineError, Launcher, Mark};
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
