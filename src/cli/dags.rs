//! `dags list|validate|show|next-runs|test` and `tasks test`: in-process
//! commands on the DAG folder and the state database.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::folder::{find_dag, load_bag};
use super::table::{self, LIST_COLUMNS, iso};
use super::{DagsCommand, GraphFormat};
use crate::config::Config;
use crate::dag::Dag;
use crate::dag::validate::parse_date;
use crate::engine::template::{TemplateContext, TemplateVars, secret_values};
use crate::engine::{
    Control, ControlError, DriveOutcome, Engine, EngineSettings, RunRequest, default_run_id,
};
use crate::kinds::{self, TaskContext, TaskLog};
use crate::model::{OwnerKind, RunId, RunState, RunType, SystemClock, TaskId};
use crate::store::StoreError;

pub async fn run(
    command: DagsCommand,
    config: &Config,
    env: BTreeMap<String, String>,
) -> anyhow::Result<i32> {
    match command {
        DagsCommand::List { remote } => {
            match super::remote::Client::new(config, &remote)?
                .list_dags()
                .await?
            {
                Some(code) => Ok(code),
                None => list(config).await,
            }
        }
        DagsCommand::Validate { path } => validate(path.as_deref().unwrap_or(&config.dags_folder)),
        DagsCommand::Show { dag_id, format } => {
            let dag = find_dag(config, &dag_id)?;
            print!(
                "{}",
                match format {
                    GraphFormat::Dot => dag.to_dot(),
                    GraphFormat::Mermaid => dag.to_mermaid(),
                }
            );
            Ok(0)
        }
        DagsCommand::NextRuns { dag_id, n, after } => next_runs(config, &dag_id, n, after).await,
        DagsCommand::Test { dag_id, date, conf } => {
            test_dag(config, env, &dag_id, date.as_deref(), conf.as_deref()).await
        }
        DagsCommand::Pause { .. } | DagsCommand::Unpause { .. } => unreachable_remote(),
    }
}

/// Pause and unpause go to the daemon; `cli::run` routes them there.
fn unreachable_remote() -> anyhow::Result<i32> {
    Err(anyhow!("pause and unpause talk to the running daemon"))
}

/// The state database for reading, if there is one (this never creates or
/// writes it).
async fn existing_reader(config: &Config) -> anyhow::Result<Option<crate::store::Reader>> {
    match crate::store::open_reader(&config.database).await {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Missing(_)) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// `dags next-runs`: without `--after`, the runs the scheduler creates next
/// (continuing from the DAG's newest scheduled run in the database), the
/// one that starts next first; with it, the runs whose logical date is at
/// or after that instant.
async fn next_runs(
    config: &Config,
    dag_id: &str,
    n: usize,
    after: Option<String>,
) -> anyhow::Result<i32> {
    let dag = find_dag(config, dag_id)?;
    let now = Utc::now();
    // without --after, a start that has passed means the run is due: the
    // scheduler creates it on its next pass
    let due_after = after.is_none().then_some(now);
    let runs = match after {
        Some(text) => {
            let after =
                parse_date(&text, dag.timetable.timezone).map_err(|e| anyhow!("--after: {e}"))?;
            let runs = dag.timetable.next_runs(after, n);
            if runs.is_empty() {
                println!("{dag_id} has no runs at or after {}", iso(after));
            }
            runs
        }
        None => {
            let runs = match existing_reader(config).await? {
                Some(store) => crate::scheduler::upcoming(&store, &dag, now, n).await?,
                None => crate::scheduler::upcoming_after(&dag, None, now, n),
            };
            if runs.is_empty() {
                println!("{dag_id} has no runs to come");
            }
            runs
        }
    };
    for run in runs {
        let due = match due_after {
            Some(now) if run.run_after <= now => "  (due)",
            _ => "",
        };
        println!(
            "{}  interval {} → {}  starts {}{due}",
            iso(run.logical_date),
            iso(run.data_interval.start),
            iso(run.data_interval.end),
            iso(run.run_after)
        );
    }
    Ok(0)
}

async fn list(config: &Config) -> anyhow::Result<i32> {
    let bag = load_bag(&config.dags_folder)?;
    // no daemon answers: the files, and the paused flags and newest
    // scheduled runs if a database exists (read-only: this command never
    // creates or writes one)
    let (paused, last): (BTreeMap<String, bool>, HashMap<String, _>) =
        match existing_reader(config).await? {
            Some(store) => (
                store.paused_dags().await?.into_iter().collect(),
                store.last_scheduled_intervals().await?,
            ),
            None => (BTreeMap::new(), HashMap::new()),
        };
    let now = Utc::now();
    let rows: Vec<Vec<String>> = bag
        .dags
        .values()
        .map(|dag| {
            let next =
                crate::scheduler::next_run_after(dag, last.get(dag.dag_id.as_str()).copied(), now);
            let is_paused = paused
                .get(dag.dag_id.as_str())
                .copied()
                .unwrap_or(dag.is_paused_upon_creation);
            vec![
                dag.dag_id.to_string(),
                dag.timetable
                    .schedule
                    .as_ref()
                    .map(|s| s.expr().to_string())
                    .unwrap_or_else(|| "None".into()),
                next.map_or_else(|| "-".into(), |r| iso(r.logical_date)),
                next.map_or_else(|| "-".into(), |r| iso(r.run_after)),
                if is_paused { "yes" } else { "no" }.into(),
                dag.fileloc.display().to_string(),
            ]
        })
        .collect();
    print!("{}", table::render(&LIST_COLUMNS, &rows));
    if !bag.import_errors.is_empty() {
        println!("\nimport errors:");
        for error in bag.errors() {
            println!("  {error}");
        }
    }
    Ok(0)
}

/// Prints every error, then every warning; exits 1 only for errors.
fn validate(path: &Path) -> anyhow::Result<i32> {
    let bag = load_bag(path)?;
    for error in bag.errors().chain(bag.warnings()) {
        println!("{error}");
    }
    let errors = bag.errors().count();
    let files = bag.import_errors.len();
    let warnings = match bag.warnings().count() {
        0 => String::new(),
        n => format!("; {n} warning(s)"),
    };
    if errors == 0 {
        println!(
            "{} DAG(s) valid in {}{warnings}",
            bag.dags.len(),
            path.display()
        );
        Ok(0)
    } else {
        println!(
            "{errors} error(s) in {files} file(s); {} DAG(s) valid{warnings}",
            bag.dags.len()
        );
        Ok(1)
    }
}

fn logical_date(dag: &Dag, date: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    match date {
        Some(text) => parse_date(text, dag.timetable.timezone).map_err(|e| anyhow!("--date: {e}")),
        None => Ok(Utc::now()),
    }
}

fn engine(config: &Config, control: Control, env: BTreeMap<String, String>) -> Engine {
    Engine::new(
        control,
        EngineSettings {
            parallelism: config.parallelism,
            logs_dir: config.logs_folder.clone(),
            env,
        },
    )
}

async fn test_dag(
    config: &Config,
    env: BTreeMap<String, String>,
    dag_id: &str,
    date: Option<&str>,
    conf: Option<&str>,
) -> anyhow::Result<i32> {
    let dag = find_dag(config, dag_id)?;
    let logical_date = logical_date(&dag, date)?;
    let conf: serde_json::Value = match conf {
        Some(text) => {
            serde_json::from_str(text).map_err(|e| anyhow!("--conf is not valid JSON: {e}"))?
        }
        None => serde_json::json!({}),
    };
    if !conf.is_object() {
        bail!("--conf must be a JSON object, like '{{\"records\": 10}}'");
    }
    // an owner of its own: the daemon beside it never starts or adopts this
    // run while this process lives, and adopts it if this process dies
    let control = Control::open(
        &config.database,
        OwnerKind::DagsTest,
        Arc::new(SystemClock),
        config.lease_timeout,
    )
    .await?;
    let store = control.reader().clone();
    let engine = engine(config, control.clone(), env);
    let base = default_run_id(RunType::Manual, logical_date);
    let mut request = RunRequest {
        run_id: Some(base.clone()),
        run_type: RunType::Manual,
        logical_date,
        data_interval: dag.timetable.manual_data_interval(logical_date),
        conf,
    };
    // `dags test` twice for one date keeps both runs: the second gets a suffix
    let mut attempt = 1;
    let run = loop {
        match control.create_driven_run(&dag, &request).await {
            Ok(run) => break run,
            Err(ControlError::Store(StoreError::DuplicateRun { .. })) if attempt < 1000 => {
                attempt += 1;
                request.run_id = Some(RunId::new(format!("{base}.{attempt}")));
            }
            Err(err) => return Err(err.into()),
        }
    };
    println!("running {} / {}", dag.dag_id, run.run_id);
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: cancelling the run");
            on_ctrl_c.cancel();
        }
    });
    let leases = tokio::spawn(keep_lease(control.clone(), run.id, cancel.clone()));
    let outcome = engine
        .drive(dag.clone(), run.id, cancel, CancellationToken::new())
        .await;
    leases.abort();
    if let Err(err) = control.stop().await {
        tracing::warn!("cannot record the stop: {err}");
    }
    let outcome = outcome?;
    let tis = store.task_instances(run.id).await?;
    let rows: Vec<Vec<String>> = tis
        .iter()
        .map(|ti| {
            let duration = match (ti.start_date, ti.end_date) {
                (Some(start), Some(end)) => {
                    format!("{:.3}s", (end - start).num_milliseconds() as f64 / 1000.0)
                }
                _ => "-".into(),
            };
            let error = ti
                .error
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(100)
                .collect();
            vec![
                ti.task_id.to_string(),
                ti.state.to_string(),
                ti.try_number.to_string(),
                duration,
                error,
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["task_id", "state", "tries", "duration", "error"], &rows)
    );
    let state = match outcome {
        DriveOutcome::Finished(state) => state,
        DriveOutcome::Interrupted => RunState::Running,
    };
    let finished = store.dag_run(run.id).await?;
    let took = match (finished.start_date, finished.end_date) {
        (Some(start), Some(end)) => format!(
            " in {:.3}s",
            (end - start).num_microseconds().unwrap_or(0) as f64 / 1e6
        ),
        _ => String::new(),
    };
    println!("run {} {}: {state}{took}", dag.dag_id, run.run_id);
    println!(
        "logs: {}",
        config
            .logs_folder
            .join(format!("dag_id={}", dag.dag_id))
            .join(format!("run_id={}", run.run_id))
            .display()
    );
    Ok(if state == RunState::Success { 0 } else { 1 })
}

/// Renews the run's lease while `dags test` drives it; cancels the run when
/// the lease is lost (another process failed the run over the API).
async fn keep_lease(control: Control, dag_run_id: i64, cancel: CancellationToken) {
    loop {
        tokio::time::sleep(crate::engine::lease::HEARTBEAT).await;
        match control.heartbeat().await {
            Ok(held) if !held.contains(&dag_run_id) => {
                eprintln!("the run was failed elsewhere: stopping its tries");
                cancel.cancel();
                return;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("cannot renew the run's lease: {err}"),
        }
    }
}

/// Where `tasks test` takes its upstream tasks' outputs from.
#[derive(Debug, Default)]
pub struct Upstream {
    /// `TASK=JSON`, each overriding what `from_run` gave that task.
    pub outputs: Vec<String>,
    /// A run in the state database whose task instances' outputs are read.
    pub from_run: Option<String>,
}

/// The upstream outputs, and the run they were read from (if any).
async fn upstream_outputs(
    config: &Config,
    dag: &Dag,
    upstream: &Upstream,
) -> anyhow::Result<(
    BTreeMap<String, serde_json::Value>,
    Option<crate::model::DagRun>,
)> {
    let mut outputs = BTreeMap::new();
    let mut from = None;
    if let Some(run_id) = &upstream.from_run {
        let store = crate::store::open_reader(config.database.clone())
            .await
            .map_err(|err| match err {
                StoreError::Missing(path) => anyhow!(
                    "--from-run: the state database {path} does not exist: set `database` in airless.toml, AIRLESS_DATABASE or --config"
                ),
                other => anyhow!("--from-run: {other}"),
            })?;
        let Some(run) = store
            .find_dag_run(&dag.dag_id, &RunId::new(run_id.as_str()))
            .await?
        else {
            return Err(super::NotFound(format!(
                "--from-run: DAG `{}` has no run `{run_id}` in {}",
                dag.dag_id, config.database
            ))
            .into());
        };
        for ti in store.task_instances(run.id).await? {
            if let Some(output) = ti.output {
                outputs.insert(ti.task_id.to_string(), output);
            }
        }
        from = Some(run);
    }
    for item in &upstream.outputs {
        let Some((task, json)) = item.split_once('=') else {
            bail!("--upstream-output `{item}` is not TASK=JSON");
        };
        if dag.task_index(task).is_none() {
            bail!(
                "--upstream-output: DAG `{}` has no task `{task}`",
                dag.dag_id
            );
        }
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| anyhow!("--upstream-output {task}: not valid JSON: {e}"))?;
        outputs.insert(task.to_string(), value);
    }
    Ok((outputs, from))
}

pub async fn test_task(
    config: &Config,
    env: BTreeMap<String, String>,
    dag_id: &str,
    task_id: &str,
    date: Option<&str>,
    upstream: Upstream,
) -> anyhow::Result<i32> {
    let dag = find_dag(config, dag_id)?;
    let Some(index) = dag.task_index(task_id) else {
        let ids: Vec<&str> = dag.tasks.iter().map(|t| t.task_id.as_str()).collect();
        return Err(super::NotFound(format!(
            "DAG `{dag_id}` has no task `{task_id}` (it has: {})",
            ids.join(", ")
        ))
        .into());
    };
    let task = &dag.tasks[index];
    let (outputs, from_run) = upstream_outputs(config, &dag, &upstream).await?;
    // a task tested against a past run sees that run's date, interval and conf
    let (logical_date, interval, run_id, conf) = match (from_run, date) {
        (Some(run), None) => (
            run.logical_date,
            crate::dag::DataInterval {
                start: run.data_interval_start,
                end: run.data_interval_end,
            },
            run.run_id,
            run.conf,
        ),
        (_, date) => {
            let logical_date = logical_date(&dag, date)?;
            (
                logical_date,
                dag.timetable.manual_data_interval(logical_date),
                default_run_id(RunType::Manual, logical_date),
                serde_json::json!({}),
            )
        }
    };
    let vars = TemplateVars {
        dag_id,
        run_id: run_id.as_str(),
        task_id,
        try_number: 1,
        logical_date,
        data_interval: (interval.start, interval.end),
        params: &dag.params,
        conf: &conf,
        env: &env,
        outputs: &outputs,
    };
    let log = TaskLog::stdout(secret_values(&env));
    let hidden = crate::engine::template::hidden_variables(&env);
    let kind = match TemplateContext::new(&vars).render_kind(&task.kind) {
        Ok(kind) => kind,
        Err(message) => {
            log.line(&format!("task failed: {message}"));
            return Ok(1);
        }
    };
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let ctx = TaskContext {
        dag_id: dag.dag_id.clone(),
        run_id,
        task_id: TaskId::new(task_id),
        try_number: 1,
        log: log.clone(),
        cancel,
        http: reqwest::Client::new(),
        workdir: None,
        hidden_env: Arc::new(hidden.clone()),
        env: Arc::new(
            env.iter()
                .filter(|(name, _)| !hidden.contains(name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        clock: Arc::new(SystemClock),
        shutdown: CancellationToken::new(),
        deadline: task
            .execution_timeout
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|t| chrono::Utc::now() + t),
        resumed: None,
        recorder: Arc::new(kinds::NoRecorder),
    };
    let work = kinds::execute(&kind, &ctx);
    let result = match task.execution_timeout {
        Some(timeout) => match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(kinds::TaskError::transient(format!(
                "timed out after {}s",
                timeout.as_secs()
            ))),
        },
        None => work.await,
    };
    match result {
        Ok(output) => {
            log.line(&format!("task succeeded; output: {output}"));
            Ok(0)
        }
        Err(err) => {
            log.line(&format!("task failed: {err}"));
            Ok(1)
        }
    }
}
