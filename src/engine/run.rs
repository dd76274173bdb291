//! The driver of one DagRun: keeps the task instances' states in memory,
//! mirrors every change to the store first, and starts tries as the trigger
//! rules and concurrency limits allow.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::template::{TemplateContext, TemplateVars};
use super::trigger_rule::{Decision, Upstream, decide};
use super::{DriveOutcome, Engine, EngineError, recovery};
use crate::dag::{Dag, KindSpec};
use crate::kinds::{self, FailureKind, TaskContext, TaskLog};
use crate::model::{DagRun, RunState, TaskInstance, TaskState};
use crate::store::TryEnd;

pub(super) struct Driver {
    engine: Engine,
    dag: Arc<Dag>,
    run: DagRun,
    /// Task instance of DAG task `i`, if the run has one.
    tis: Vec<Option<TaskInstance>>,
    outputs: BTreeMap<String, serde_json::Value>,
    /// Tasks to start, in order: `queued` in the store, or still `none` when
    /// their trigger rule just passed (written `queued` only if they must wait).
    ready: VecDeque<usize>,
    /// Tasks in `ready` whose state is still `none`.
    runnable: Vec<bool>,
    /// Running tries, each on its own tokio task.
    jobs: JoinSet<Result<Finished, EngineError>>,
    cancel: CancellationToken,
    shutdown: CancellationToken,
    cancelled: bool,
    /// Tries cut off by a stop that pick up where they were (a Databricks
    /// run is polled again, never submitted twice).
    resumable: Vec<usize>,
}

/// What a finished try job reports back (`running`: the try detached on
/// shutdown and resumes after the restart).
struct Finished {
    task: usize,
    /// The try that ended (a resumed try keeps its number).
    try_number: u32,
    state: TaskState,
    output: Option<serde_json::Value>,
    next_retry_at: Option<DateTime<Utc>>,
}

impl Driver {
    pub(super) async fn start(
        engine: Engine,
        dag: Arc<Dag>,
        dag_run_id: i64,
        cancel: CancellationToken,
        shutdown: CancellationToken,
    ) -> Result<Driver, EngineError> {
        let reader = engine.reader().clone();
        let run = reader.dag_run(dag_run_id).await?;
        if run.dag_id != dag.dag_id {
            return Err(EngineError::WrongDag(dag_run_id));
        }
        // a run is driven only by the holder of its lease
        let control = engine.control();
        if !run.state.is_finished() && !control.claim_run(&run, None).await? {
            let holder = control
                .holder_of(&run)
                .await?
                .unwrap_or_else(|| "another owner".to_string());
            return Err(super::ControlError::DrivenElsewhere {
                dag_id: run.dag_id.clone(),
                run_id: run.run_id.clone(),
                holder,
            }
            .into());
        }
        let run = reader.dag_run(dag_run_id).await?;
        let count = dag.tasks.len();
        let mut tis: Vec<Option<TaskInstance>> = vec![None; count];
        let mut outputs = BTreeMap::new();
        for ti in reader.task_instances(dag_run_id).await? {
            // a task removed from the DAG since the run was created is left as it is
            if let Some(i) = dag.task_index(ti.task_id.as_str()) {
                if ti.state == TaskState::Success {
                    outputs.insert(
                        ti.task_id.to_string(),
                        ti.output.clone().unwrap_or_default(),
                    );
                }
                tis[i] = Some(ti);
            }
        }
        Ok(Driver {
            engine,
            dag,
            run,
            tis,
            outputs,
            ready: VecDeque::new(),
            runnable: vec![false; count],
            jobs: JoinSet::new(),
            cancel,
            shutdown,
            cancelled: false,
            resumable: Vec::new(),
        })
    }

    fn state(&self, task: usize) -> Option<TaskState> {
        self.tis[task].as_ref().map(|ti| ti.state)
    }

    fn set_local(&mut self, task: usize, state: TaskState) {
        if let Some(ti) = self.tis[task].as_mut() {
            ti.state = state;
        }
    }

    pub(super) async fn drive(mut self) -> Result<DriveOutcome, EngineError> {
        let span =
            tracing::info_span!("dag_run", dag_id = %self.run.dag_id, run_id = %self.run.run_id);
        async move {
            if self.run.state.is_finished() {
                return Ok(DriveOutcome::Finished(self.run.state));
            }
            self.recover().await?;
            if self.run.state == RunState::Queued {
                self.engine.control().start_run(&mut self.run).await?;
                tracing::info!("dag run started");
            }
            let order = self.dag.graph.topological_order().to_vec();
            for task in order {
                self.evaluate(task).await?;
            }
            self.start_resumed();
            loop {
                if self.shutdown.is_cancelled() {
                    while let Some(joined) = self.jobs.join_next().await {
                        self.finished(joined).await?;
                    }
                    tracing::info!("shutting down: the run will resume after the restart");
                    return Ok(DriveOutcome::Interrupted);
                }
                self.promote_due_retries().await?;
                self.start_ready().await?;
                if self.jobs.is_empty() && !self.has_waiting_work() {
                    break;
                }
                let wake = self.next_retry_at();
                let retry_due = self.engine.clock().sleep_until(wake.unwrap_or_else(|| self.engine.now()));
                tokio::select! {
                    Some(joined) = self.jobs.join_next() => self.finished(joined).await?,
                    () = retry_due, if wake.is_some() => {}
                    () = self.cancel.cancelled(), if !self.cancelled => self.cancel_waiting().await?,
                    () = self.shutdown.cancelled() => {}
                }
            }
            let state = self.final_state();
            // a run failed by another process stays failed
            let state = self.engine.control().finish_run(&self.run, state).await?;
            tracing::info!(state = %state, "dag run finished");
            Ok(DriveOutcome::Finished(state))
        }
        .instrument(span)
        .await
    }

    /// Tries the store shows as running were cut off by a stop of airless.
    async fn recover(&mut self) -> Result<(), EngineError> {
        for task in 0..self.tis.len() {
            let Some(ti) = self.tis[task].clone() else {
                continue;
            };
            if ti.state == TaskState::Running && self.dag.tasks[task].kind.resumable() {
                tracing::info!(task_id = %ti.task_id, try_number = ti.try_number, external_id = ?ti.external_id, "resuming the interrupted try");
                self.resumable.push(task);
            } else if ti.state == TaskState::Running {
                let (state, next) = recovery::end_interrupted_try(
                    self.engine.control(),
                    &self.run,
                    &self.dag.tasks[task],
                    &ti,
                )
                .await?;
                if let Some(ti) = self.tis[task].as_mut() {
                    ti.state = state;
                    ti.next_retry_at = next;
                }
                if state == TaskState::Failed {
                    self.evaluate_downstream(task).await?;
                }
            } else if ti.state == TaskState::Queued {
                self.ready.push_back(task);
            }
        }
        Ok(())
    }

    /// Applies the trigger rule of `task` if it is still waiting; cascades
    /// skips and upstream failures downstream.
    async fn evaluate(&mut self, task: usize) -> Result<(), EngineError> {
        let mut pending = VecDeque::from([task]);
        while let Some(task) = pending.pop_front() {
            if self.state(task) != Some(TaskState::None) || self.runnable[task] {
                continue;
            }
            let upstream =
                Upstream::from_states(self.dag.graph.upstream(task).filter_map(|u| self.state(u)));
            let next = match decide(self.dag.tasks[task].trigger_rule, upstream) {
                Decision::Wait => continue,
                Decision::Run => {
                    self.runnable[task] = true;
                    self.ready.push_back(task);
                    continue;
                }
                Decision::Skip => TaskState::Skipped,
                Decision::UpstreamFailed => TaskState::UpstreamFailed,
            };
            self.set_state(task, TaskState::None, next).await?;
            pending.extend(self.dag.graph.downstream(task));
        }
        Ok(())
    }

    async fn evaluate_downstream(&mut self, task: usize) -> Result<(), EngineError> {
        let downstream: Vec<usize> = self.dag.graph.downstream(task).collect();
        for next in downstream {
            self.evaluate(next).await?;
        }
        Ok(())
    }

    async fn set_state(
        &mut self,
        task: usize,
        from: TaskState,
        to: TaskState,
    ) -> Result<(), EngineError> {
        let Some(ti) = &self.tis[task] else {
            return Ok(());
        };
        self.engine
            .control()
            .set_task_state(&self.run, ti, from, to)
            .await?;
        self.set_local(task, to);
        Ok(())
    }

    fn has_waiting_work(&self) -> bool {
        !self.ready.is_empty()
            || self.tis.iter().flatten().any(|ti| {
                matches!(
                    ti.state,
                    TaskState::UpForRetry | TaskState::Queued | TaskState::None
                )
            })
    }

    fn next_retry_at(&self) -> Option<DateTime<Utc>> {
        self.tis
            .iter()
            .flatten()
            .filter(|ti| ti.state == TaskState::UpForRetry)
            .filter_map(|ti| ti.next_retry_at)
            .min()
    }

    async fn promote_due_retries(&mut self) -> Result<(), EngineError> {
        let now = self.engine.now();
        for task in 0..self.tis.len() {
            let due = matches!(&self.tis[task], Some(ti) if ti.state == TaskState::UpForRetry && ti.next_retry_at.is_none_or(|at| at <= now));
            if due {
                self.set_state(task, TaskState::UpForRetry, TaskState::Queued)
                    .await?;
                self.ready.push_back(task);
            }
        }
        Ok(())
    }

    /// Starts the tries found running at start-up that resume rather than fail.
    fn start_resumed(&mut self) {
        if self.shutdown.is_cancelled() {
            return;
        }
        for task in std::mem::take(&mut self.resumable) {
            let Some(ti) = self.tis[task].clone() else {
                continue;
            };
            let job = self.try_job(task, ti, true);
            self.jobs.spawn(job.run());
        }
    }

    fn try_job(&self, task: usize, ti: TaskInstance, resume: bool) -> TryJob {
        TryJob {
            engine: self.engine.clone(),
            dag: self.dag.clone(),
            run: self.run.clone(),
            task,
            ti,
            // templates may read the outputs of upstream tasks
            outputs: self
                .dag
                .graph
                .upstream(task)
                .filter_map(|u| {
                    let id = self.dag.tasks[u].task_id.as_str();
                    self.outputs.get(id).map(|o| (id.to_string(), o.clone()))
                })
                .collect(),
            cancel: self.cancel.child_token(),
            shutdown: self.shutdown.clone(),
            resume,
        }
    }

    async fn start_ready(&mut self) -> Result<(), EngineError> {
        let cap = self.dag.max_active_tasks as usize;
        while self.jobs.len() < cap && !self.shutdown.is_cancelled() {
            let Some(task) = self.ready.pop_front() else {
                break;
            };
            self.runnable[task] = false;
            let Some(ti) = self.tis[task].clone() else {
                continue;
            };
            if !matches!(ti.state, TaskState::Queued | TaskState::None) {
                continue;
            }
            // the store moves it to running inside the job; mirror that now so
            // nothing starts it twice
            self.set_local(task, TaskState::Running);
            let job = self.try_job(task, ti, false);
            self.jobs.spawn(job.run());
        }
        // the rest wait for a slot: record that they are queued
        let waiting: Vec<usize> = self
            .ready
            .iter()
            .copied()
            .filter(|&t| self.runnable[t])
            .collect();
        for task in waiting {
            self.runnable[task] = false;
            self.set_state(task, TaskState::None, TaskState::Queued)
                .await?;
        }
        Ok(())
    }

    async fn finished(
        &mut self,
        joined: Result<Result<Finished, EngineError>, tokio::task::JoinError>,
    ) -> Result<(), EngineError> {
        // a panicking try is a bug; report it as the run's error rather than hide it
        let done = joined.map_err(|e| EngineError::Job(e.to_string()))??;
        if done.state == TaskState::Running {
            // detached on shutdown: the try stays running for the restart
            return Ok(());
        }
        if let Some(ti) = self.tis[done.task].as_mut() {
            ti.state = done.state;
            ti.try_number = done.try_number;
            ti.next_retry_at = done.next_retry_at;
        }
        if let Some(output) = done.output {
            self.outputs
                .insert(self.dag.tasks[done.task].task_id.to_string(), output);
        }
        if done.state.is_finished() {
            self.evaluate_downstream(done.task).await?;
        }
        Ok(())
    }

    /// The run was cancelled: running tries are being killed (their tokens
    /// are children of the run's); what has not run yet is skipped by the
    /// door's one cancel; nothing else starts.
    async fn cancel_waiting(&mut self) -> Result<(), EngineError> {
        self.cancelled = true;
        tracing::warn!("dag run cancelled");
        self.ready.clear();
        self.runnable.fill(false);
        let control = self.engine.control().clone();
        let me = control.owner().id.clone();
        control.skip_unstarted(&self.run, Some(&me)).await?;
        for ti in self.engine.reader().task_instances(self.run.id).await? {
            if let Some(task) = self.dag.task_index(ti.task_id.as_str())
                && ti.state != TaskState::Running
            {
                self.set_local(task, ti.state);
            }
        }
        Ok(())
    }

    /// Airflow's rule: the run failed if any leaf task failed or was
    /// upstream_failed (or the run was cancelled); otherwise it succeeded.
    fn final_state(&self) -> RunState {
        let leaf_failed = self.dag.graph.leaves().any(|t| {
            matches!(
                self.state(t),
                Some(TaskState::Failed | TaskState::UpstreamFailed)
            )
        });
        if self.cancelled || leaf_failed {
            RunState::Failed
        } else {
            RunState::Success
        }
    }
}

/// One try of one task instance, run on its own tokio task.
struct TryJob {
    engine: Engine,
    dag: Arc<Dag>,
    run: DagRun,
    task: usize,
    ti: TaskInstance,
    outputs: BTreeMap<String, serde_json::Value>,
    cancel: CancellationToken,
    shutdown: CancellationToken,
    /// Go on with the try the store shows running instead of starting one.
    resume: bool,
}

impl TryJob {
    async fn run(self) -> Result<Finished, EngineError> {
        let try_number = if self.resume {
            self.ti.try_number
        } else {
            self.ti.try_number + 1
        };
        let span = tracing::info_span!(
            "task_instance",
            dag_id = %self.run.dag_id,
            run_id = %self.run.run_id,
            task_id = %self.ti.task_id,
            try_number
        );
        self.run_try(try_number).instrument(span).await
    }

    async fn run_try(self, try_number: u32) -> Result<Finished, EngineError> {
        let inner = &self.engine.inner;
        let task = &self.dag.tasks[self.task];
        // like Airflow's EmptyOperator, a noop never reaches an executor: no
        // slot, no log file; its try is still recorded
        let noop = matches!(task.kind, KindSpec::Noop(_));
        let permit = if noop {
            None
        } else {
            tokio::select! {
                permit = inner.parallelism.clone().acquire_owned() => permit.ok(),
                () = self.cancel.cancelled() => None,
            }
        };
        if self.shutdown.is_cancelled() && !noop {
            // airless is stopping: a try that was still waiting for a slot
            // never starts; the restart starts it
            return Ok(Finished {
                task: self.task,
                try_number: self.ti.try_number,
                state: TaskState::Running,
                output: None,
                next_retry_at: None,
            });
        }
        let log_path = if noop {
            std::path::PathBuf::new()
        } else if self.resume && !self.ti.log_path.as_deref().unwrap_or_default().is_empty() {
            std::path::PathBuf::from(self.ti.log_path.as_deref().unwrap_or_default())
        } else {
            inner
                .logs_dir
                .join(format!("dag_id={}", self.run.dag_id))
                .join(format!("run_id={}", self.run.run_id))
                .join(format!("task_id={}", self.ti.task_id))
                .join(format!("attempt={try_number}.log"))
        };
        let control = self.engine.control();
        if !self.resume {
            let started = control
                .start_try(
                    &self.run,
                    &self.ti,
                    try_number,
                    &log_path.display().to_string(),
                )
                .await;
            match started {
                Ok(()) => tracing::info!("try started"),
                // another process failed the run (its waiting work skipped)
                // or took it: this try never starts
                Err(super::ControlError::Store(crate::store::StoreError::Conflict { .. })) => {
                    tracing::warn!("the task instance moved on elsewhere: the try does not start");
                    return Ok(Finished {
                        task: self.task,
                        try_number: self.ti.try_number,
                        state: TaskState::Skipped,
                        output: None,
                        next_retry_at: None,
                    });
                }
                Err(err) => return Err(err.into()),
            }
        }
        let opened = if self.resume {
            TaskLog::append(&log_path, inner.secrets.clone())
        } else {
            TaskLog::create(&log_path, inner.secrets.clone())
        };
        let log = if noop {
            TaskLog::discard()
        } else {
            opened.unwrap_or_else(|err| {
                tracing::warn!(path = %log_path.display(), "cannot create the task log: {err}");
                TaskLog::discard()
            })
        };
        if self.resume {
            log.line(&format!(
                "airless restarted: resuming try {try_number} of {} for task {} ({})",
                self.ti.max_tries,
                self.ti.task_id,
                task.kind.name()
            ));
        } else {
            log.line(&format!(
                "try {try_number} of {} for task {} ({}) in run {}",
                self.ti.max_tries,
                self.ti.task_id,
                task.kind.name(),
                self.run.run_id
            ));
        }

        let result = if noop {
            Ok(serde_json::Value::Null)
        } else if permit.is_none() {
            Err(kinds::TaskError::cancelled(
                "the run was cancelled before the try started",
            ))
        } else {
            self.execute(try_number, &log).await
        };
        drop(permit);

        if let Err(err) = &result
            && err.kind == FailureKind::Detached
        {
            log.line(&err.message);
            if inner.grace_over.is_cancelled() {
                tracing::warn!("{}", log.mask(&err.message));
            } else {
                tracing::info!("{}", log.mask(&err.message));
            }
            return Ok(Finished {
                task: self.task,
                try_number,
                state: TaskState::Running,
                output: None,
                next_retry_at: None,
            });
        }
        let now = self.engine.now();
        let (state, next_retry_at, output, error) = match result {
            Ok(output) => (TaskState::Success, None, Some(output), None),
            Err(err) => {
                // a cancelled run retries nothing; timeouts and transient
                // errors retry per `retries`; permanent ones never
                if err.is_retryable()
                    && !self.cancel.is_cancelled()
                    && try_number < self.ti.max_tries
                {
                    let delay = chrono::Duration::from_std(task.retry.delay_after(try_number))
                        .unwrap_or_default();
                    (
                        TaskState::UpForRetry,
                        Some(now + delay),
                        None,
                        Some(err.describe()),
                    )
                } else {
                    (TaskState::Failed, None, None, Some(err.describe()))
                }
            }
        };
        // outputs and errors are stored (and served) masked, as logs are
        let output = output.map(|o| super::template::mask_json(&o, &inner.secrets));
        let error = error.map(|e| log.mask(&e));
        match &error {
            None => log.line("try succeeded"),
            Some(message) => log.line(&format!("try failed: {message}; task is now {state}")),
        }
        control
            .end_try(
                &self.run,
                &self.ti,
                try_number,
                &TryEnd {
                    state,
                    output: output.as_ref(),
                    error: error.as_deref(),
                    next_retry_at,
                    now,
                },
                &log_path.display().to_string(),
            )
            .await?;
        match &error {
            None => tracing::info!("try succeeded"),
            Some(message) => tracing::warn!(state = %state, "try failed: {}", log.mask(message)),
        }
        Ok(Finished {
            task: self.task,
            try_number,
            state,
            output,
            next_retry_at,
        })
    }

    /// Renders the task's templates and runs it under its execution_timeout.
    async fn execute(&self, try_number: u32, log: &TaskLog) -> kinds::TaskResult {
        let inner = &self.engine.inner;
        let task = &self.dag.tasks[self.task];
        let vars = TemplateVars {
            dag_id: self.run.dag_id.as_str(),
            run_id: self.run.run_id.as_str(),
            task_id: self.ti.task_id.as_str(),
            try_number,
            logical_date: self.run.logical_date,
            data_interval: (self.run.data_interval_start, self.run.data_interval_end),
            params: &self.dag.params,
            conf: &self.run.conf,
            env: &inner.env,
            outputs: &self.outputs,
        };
        let kind = TemplateContext::new(&vars)
            .render_kind(&task.kind)
            .map_err(kinds::TaskError::permanent)?;
        let try_cancel = self.cancel.child_token();
        // a resumed try keeps the deadline of its start
        let started = match (self.resume, self.ti.start_date) {
            (true, Some(start)) => start,
            _ => self.engine.now(),
        };
        let deadline = task
            .execution_timeout
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|t| started + t);
        let ctx = TaskContext {
            dag_id: self.run.dag_id.clone(),
            run_id: self.run.run_id.clone(),
            task_id: self.ti.task_id.clone(),
            try_number,
            log: log.clone(),
            cancel: try_cancel.clone(),
            http: inner.http.clone(),
            workdir: None,
            env: inner.env.clone(),
            hidden_env: inner.hidden_env.clone(),
            clock: self.engine.clock().clone(),
            shutdown: self.shutdown.clone(),
            deadline,
            resumed: self.resume.then(|| kinds::Resumed {
                external: self.ti.external_id.clone().map(|id| kinds::External {
                    id,
                    url: self.ti.external_url.clone(),
                }),
            }),
            recorder: Arc::new(DoorRecorder {
                control: self.engine.control().clone(),
                ti_id: self.ti.id,
                try_number,
            }),
        };
        let work = kinds::execute(&kind, &ctx);
        tokio::pin!(work);
        let timeout = task
            .execution_timeout
            .zip(deadline)
            .map(|(timeout, deadline)| {
                (
                    timeout,
                    (deadline - self.engine.now()).to_std().unwrap_or_default(),
                )
            });
        let timed_out = async {
            match timeout {
                Some((_, left)) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = &mut work => result,
            () = timed_out => {
                let secs = timeout.map(|(t, _)| t).unwrap_or_default();
                log.line(&format!("execution_timeout of {}s reached: stopping the task", secs.as_secs()));
                try_cancel.cancel();
                let _ = work.await;
                Err(kinds::TaskError::timed_out(format!("timed out after {}s (execution_timeout)", secs.as_secs_f64())))
            }
            () = inner.grace_over.cancelled() => {
                let resumable = task.kind.resumable();
                if !resumable {
                    // stopped as a cancel stops it: a shell command's group
                    // is killed and every line it wrote reaches the log
                    try_cancel.cancel();
                    let _ = work.await;
                }
                let grace = inner.grace.get().copied().unwrap_or_default();
                Err(kinds::TaskError::detached(recovery::grace_ran_out(
                    grace,
                    resumable,
                    try_number,
                    self.ti.max_tries,
                )))
            }
        }
    }
}

/// Writes a try's remote job and process group to its task instance,
/// through the command door.
#[derive(Debug)]
struct DoorRecorder {
    control: super::Control,
    ti_id: i64,
    try_number: u32,
}

impl kinds::TryRecorder for DoorRecorder {
    fn external<'a>(&'a self, external: &'a kinds::External) -> kinds::RecordFuture<'a> {
        Box::pin(async move {
            self.control
                .record_external(
                    self.ti_id,
                    self.try_number,
                    &external.id,
                    external.url.as_deref(),
                )
                .await
                .map_err(|err| err.to_string())
        })
    }

    fn process_group(&self, pgid: i32) -> kinds::RecordFuture<'_> {
        Box::pin(async move {
            self.control
                .record_process_group(self.ti_id, self.try_number, pgid)
                .await
                .map_err(|err| err.to_string())
        })
    }
}
