//! Commands that talk to a running daemon over its Airflow-compatible API:
//! `trigger`, `runs list|show`, `logs`, `dags pause|unpause`, `backfill`.
//! Errors and log paths of tries are not in the API: they are read from the
//! state database when this host has it (read-only), and left out otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use anyhow::{Context, anyhow, bail};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{NotFound, RemoteArgs, table};
use crate::config::Config;
use crate::dag::validate::parse_date;
use crate::model::{DagId, RunId, TaskState, TaskTry};

pub struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    database: crate::store::Location,
}

/// A failed API call: the status and Airflow's `detail` (or `title`).
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ApiFailure {
    pub status: reqwest::StatusCode,
    pub detail: String,
}

/// The states a run can be filtered by.
const RUN_STATES: [&str; 4] = ["queued", "running", "success", "failed"];

impl Client {
    pub fn new(config: &Config, remote: &RemoteArgs) -> anyhow::Result<Client> {
        let base = match &remote.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let mut bind = config.bind;
                if bind.ip().is_unspecified() {
                    bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{bind}")
            }
        };
        Ok(Client {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            token: remote.token.clone().or_else(|| {
                config
                    .api_tokens
                    .first()
                    .map(|t| t.expose_secret().to_string())
            }),
            database: config.database.clone(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let response = self.send(method, path, body, "application/json").await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    /// Sends a request; a status other than 2xx is an [`ApiFailure`] (a 401
    /// says how to pass a token).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        accept: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .header(reqwest::header::ACCEPT, accept);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach airless at {}: is `airless serve` running? (set --url or AIRLESS_URL)", self.base))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!(
                "{status}: the daemon at {} wants an API token: pass --token TOKEN, or set AIRLESS_API_TOKENS (or `api_tokens` in airless.toml) to one of the daemon's tokens",
                self.base
            );
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .or_else(|| body.get("title").and_then(Value::as_str))
            .unwrap_or("no detail")
            .to_string();
        Err(ApiFailure { status, detail }.into())
    }

    /// The DAG as the daemon has it; an unknown one is [`NotFound`].
    async fn dag(&self, dag_id: &str) -> anyhow::Result<Value> {
        match self
            .call(reqwest::Method::GET, &format!("/dags/{dag_id}"), None)
            .await
        {
            Err(err) if is_status(&err, 404) => Err(NotFound(format!(
                "no DAG `{dag_id}` on the daemon at {} (`airless dags list` lists them)",
                self.base
            ))
            .into()),
            other => other,
        }
    }

    /// The run; an unknown DAG or run is [`NotFound`].
    async fn run(&self, dag_id: &str, run_id: &str) -> anyhow::Result<Value> {
        self.dag(dag_id).await?;
        match self
            .call(
                reqwest::Method::GET,
                &format!("/dags/{dag_id}/dagRuns/{run_id}"),
                None,
            )
            .await
        {
            Err(err) if is_status(&err, 404) => Err(NotFound(format!(
                "DAG `{dag_id}` has no run `{run_id}` (`airless runs list {dag_id}` lists them)"
            ))
            .into()),
            other => other,
        }
    }

    async fn task_instances(&self, dag_id: &str, run_id: &str) -> anyhow::Result<Vec<Value>> {
        let tis = self
            .call(
                reqwest::Method::GET,
                &format!("/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=10000"),
                None,
            )
            .await?;
        Ok(tis
            .get("task_instances")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Every try of the run with its error and log path, read from the
    /// state database when this host has it (read-only; empty otherwise:
    /// the API does not carry them).
    async fn tries(
        store: Option<&crate::store::Reader>,
        dag_id: &str,
        run_id: &str,
    ) -> Vec<(String, TaskTry)> {
        let Some(store) = store else {
            return Vec::new();
        };
        let Ok(Some(run)) = store
            .find_dag_run(&DagId::new(dag_id), &RunId::new(run_id))
            .await
        else {
            return Vec::new();
        };
        store
            .tries_of_run(run.id)
            .await
            .map(|tries| {
                tries
                    .into_iter()
                    .map(|(task, t)| (task.to_string(), t))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn trigger(
        &self,
        dag_id: &str,
        conf: Option<&str>,
        wait: bool,
    ) -> anyhow::Result<i32> {
        let conf: Value = match conf {
            Some(text) => {
                serde_json::from_str(text).map_err(|e| anyhow!("--conf is not valid JSON: {e}"))?
            }
            None => json!({}),
        };
        let dag = self.dag(dag_id).await?;
        let paused = dag["is_paused"].as_bool().unwrap_or(false);
        if paused && wait {
            eprintln!(
                "error: the DAG is paused: `airless dags unpause {dag_id}`, then trigger it again (nothing was triggered)"
            );
            return Ok(1);
        }
        let run = self
            .call(
                reqwest::Method::POST,
                &format!("/dags/{dag_id}/dagRuns"),
                Some(json!({ "conf": conf })),
            )
            .await?;
        let run_id = run
            .get("dag_run_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        println!(
            "triggered {dag_id} / {run_id} ({})",
            run.get("state").and_then(Value::as_str).unwrap_or("queued")
        );
        if paused {
            eprintln!(
                "note: the DAG is paused: the run starts when you unpause it (`airless dags unpause {dag_id}`)"
            );
        }
        if !wait {
            return Ok(0);
        }
        let mut shown: BTreeSet<String> = BTreeSet::new();
        let store = crate::store::open_reader(self.database.clone()).await.ok();
        loop {
            // the run's state first: every change before it ends is then printed below
            let run = self
                .call(
                    reqwest::Method::GET,
                    &format!("/dags/{dag_id}/dagRuns/{run_id}"),
                    None,
                )
                .await?;
            let tis = self.task_instances(dag_id, &run_id).await?;
            let tries = Self::tries(store.as_ref(), dag_id, &run_id).await;
            for line in changes(&tis, &tries) {
                if shown.insert(line.clone()) {
                    println!("  {line}");
                }
            }
            match run.get("state").and_then(Value::as_str) {
                Some("success") => {
                    println!("run {run_id}: success");
                    return Ok(0);
                }
                Some("failed") => {
                    println!("run {run_id}: failed");
                    return Ok(1);
                }
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    pub async fn list_runs(
        &self,
        dag_id: Option<&str>,
        limit: usize,
        states: &[String],
    ) -> anyhow::Result<i32> {
        for state in states {
            if !RUN_STATES.contains(&state.as_str()) {
                bail!(
                    "--state `{state}` is not a run state (one of: {})",
                    RUN_STATES.join(", ")
                );
            }
        }
        if let Some(dag_id) = dag_id {
            self.dag(dag_id).await?;
        }
        let filter: String = states.iter().map(|s| format!("&state={s}")).collect();
        // newest first by when each was queued (the order they were made in),
        // not by logical date: a backfill of last year is not "newest"
        let runs = self
            .call(
                reqwest::Method::GET,
                &format!(
                    "/dags/{}/dagRuns?order_by=-id&limit={limit}{filter}",
                    dag_id.unwrap_or("~")
                ),
                None,
            )
            .await?;
        let field = |run: &Value, key: &str| {
            run.get(key)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        };
        let rows: Vec<Vec<String>> = runs
            .get("dag_runs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|run| {
                [
                    "dag_id",
                    "dag_run_id",
                    "run_type",
                    "state",
                    "logical_date",
                    "start_date",
                    "end_date",
                ]
                .iter()
                .map(|k| field(run, k))
                .collect()
            })
            .collect();
        print!(
            "{}",
            table::render(
                &[
                    "dag_id",
                    "run_id",
                    "type",
                    "state",
                    "logical_date",
                    "start",
                    "end"
                ],
                &rows
            )
        );
        Ok(0)
    }

    /// `runs show`: the run, then one row per task (state, tries, duration,
    /// the last try's error and log path).
    pub async fn show_run(&self, dag_id: &str, run_id: &str) -> anyhow::Result<i32> {
        let run = self.run(dag_id, run_id).await?;
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or("-").to_string();
        println!(
            "{dag_id} / {run_id}: {} ({}, logical date {}, started {}, ended {})",
            text(&run, "state"),
            text(&run, "run_type"),
            text(&run, "logical_date"),
            text(&run, "start_date"),
            text(&run, "end_date"),
        );
        let tis = self.task_instances(dag_id, run_id).await?;
        let store = crate::store::open_reader(self.database.clone()).await.ok();
        let tries = Self::tries(store.as_ref(), dag_id, run_id).await;
        let rows: Vec<Vec<String>> = tis
            .iter()
            .map(|ti| {
                let task = text(ti, "task_id");
                let last = tries.iter().rev().find(|(t, _)| *t == task).map(|(_, t)| t);
                vec![
                    task.clone(),
                    ti["state"].as_str().unwrap_or("none").to_string(),
                    ti["try_number"].as_u64().unwrap_or(0).to_string(),
                    ti["duration"]
                        .as_f64()
                        .map_or("-".to_string(), |d| format!("{d:.1}s")),
                    last.and_then(|t| t.error.clone())
                        .map_or("-".to_string(), |e| one_line(&e)),
                    last.map(|t| t.log_path.clone())
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| "-".to_string()),
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &["task", "state", "tries", "duration", "error", "log"],
                &rows
            )
        );
        // the tries before each task's last one, which the table does not show
        let earlier: Vec<Vec<String>> = tries
            .iter()
            .enumerate()
            .filter(|(i, (task, _))| tries[i + 1..].iter().any(|(t, _)| t == task))
            .map(|(_, (task, t))| {
                vec![
                    task.clone(),
                    t.try_number.to_string(),
                    t.state.as_str().to_string(),
                    t.error.as_deref().map_or("-".to_string(), one_line),
                    if t.log_path.is_empty() {
                        "-".to_string()
                    } else {
                        t.log_path.clone()
                    },
                ]
            })
            .collect();
        if !earlier.is_empty() {
            println!("\nearlier tries:");
            print!(
                "{}",
                table::render(&["task", "try", "state", "error", "log"], &earlier)
            );
        }
        Ok(match run["state"].as_str() {
            Some("failed") => 1,
            _ => 0,
        })
    }

    /// `logs`: a try's log (the latest try by default); with `follow`, the
    /// lines as they come until the try ends.
    pub async fn logs(
        &self,
        dag_id: &str,
        run_id: &str,
        task_id: &str,
        try_number: Option<u32>,
        follow: bool,
    ) -> anyhow::Result<i32> {
        self.run(dag_id, run_id).await?;
        let ti_path = format!("/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}");
        let ti = match self.call(reqwest::Method::GET, &ti_path, None).await {
            Err(err) if is_status(&err, 404) => {
                return Err(NotFound(format!(
                    "run `{run_id}` of DAG `{dag_id}` has no task `{task_id}`"
                ))
                .into());
            }
            other => other?,
        };
        let latest = ti["try_number"].as_u64().unwrap_or(0) as u32;
        let wanted = try_number.unwrap_or(latest);
        if wanted == 0 || wanted > latest {
            let made = if latest == 0 {
                "no try yet".to_string()
            } else {
                format!("tries 1 to {latest}")
            };
            return Err(NotFound(format!(
                "task `{task_id}` of run `{run_id}` has no try {wanted} ({made})"
            ))
            .into());
        }
        let log_path = format!("{ti_path}/logs/{wanted}");
        let mut printed = 0;
        loop {
            let text = self
                .send(reqwest::Method::GET, &log_path, None, "text/plain")
                .await?
                .text()
                .await?;
            if let Some(new) = text.get(printed..) {
                print!("{new}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            printed = text.len();
            if !follow {
                return Ok(0);
            }
            let ti = self.call(reqwest::Method::GET, &ti_path, None).await?;
            let now_try = ti["try_number"].as_u64().unwrap_or(0) as u32;
            let running = matches!(
                ti["state"].as_str(),
                Some("running" | "queued" | "scheduled")
            );
            if now_try > wanted || !running {
                // one last read: the lines written as the try ended
                let text = self
                    .send(reqwest::Method::GET, &log_path, None, "text/plain")
                    .await?
                    .text()
                    .await?;
                if let Some(new) = text.get(printed..) {
                    print!("{new}");
                }
                return Ok(0);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `dags list` as the running daemon sees it (what is actually
    /// scheduled, a broken file's last good version included); `None` when
    /// no daemon answers at this address.
    pub async fn list_dags(&self) -> anyhow::Result<Option<i32>> {
        let probe = self
            .http
            .get(format!("{}/health", self.base))
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        if probe.is_err() {
            return Ok(None);
        }
        let mut rows = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .call(
                    reqwest::Method::GET,
                    &format!("/dags?limit=100&offset={offset}"),
                    None,
                )
                .await?;
            let dags = page["dags"].as_array().cloned().unwrap_or_default();
            for dag in &dags {
                let schedule = match &dag["schedule_interval"] {
                    Value::Null => "None".to_string(),
                    Value::String(text) => text.clone(),
                    other => other["value"].as_str().unwrap_or("?").to_string(),
                };
                rows.push(vec![
                    dag["dag_id"].as_str().unwrap_or("?").to_string(),
                    schedule,
                    table::iso_text(&dag["next_dagrun"]),
                    table::iso_text(&dag["next_dagrun_create_after"]),
                    if dag["is_paused"].as_bool().unwrap_or(false) {
                        "yes"
                    } else {
                        "no"
                    }
                    .to_string(),
                    dag["fileloc"].as_str().unwrap_or("").to_string(),
                ]);
            }
            offset += dags.len();
            let total = page["total_entries"].as_u64().unwrap_or(0) as usize;
            if dags.is_empty() || offset >= total {
                break;
            }
        }
        print!("{}", table::render(&table::LIST_COLUMNS, &rows));
        let errors = self
            .call(reqwest::Method::GET, "/importErrors?limit=1000", None)
            .await?;
        let errors = errors["import_errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !errors.is_empty() {
            println!("\nimport errors (the last good version of a broken file stays scheduled):");
            for error in errors {
                for line in error["stack_trace"].as_str().unwrap_or("").lines() {
                    println!("  {line}");
                }
            }
        }
        println!("(as scheduled by the daemon at {})", self.base);
        Ok(Some(0))
    }

    pub async fn set_paused(&self, dag_id: &str, paused: bool) -> anyhow::Result<i32> {
        self.dag(dag_id).await?;
        self.call(
            reqwest::Method::PATCH,
            &format!("/dags/{dag_id}"),
            Some(json!({ "is_paused": paused })),
        )
        .await?;
        println!(
            "{dag_id} is now {}",
            if paused { "paused" } else { "unpaused" }
        );
        Ok(0)
    }
}

/// What `backfill` may do beyond queueing the intervals that have no run.
#[derive(Debug, Clone, Copy)]
pub struct BackfillOptions {
    /// Clear the task instances of intervals that already have a run.
    pub reset: bool,
    /// Queue intervals that have not ended yet too.
    pub allow_future: bool,
    /// Only list what would be done.
    pub dry_run: bool,
    /// Clear without asking.
    pub yes: bool,
}

/// Queues one `backfill__…` run per interval of the DAG's timetable whose
/// logical date lies in [from, to]; the daemon runs them within
/// `max_active_runs`. It lists the intervals first; an interval that already
/// has a run is skipped, or with `reset` its task instances are cleared so
/// it runs again (asking first, as Airflow's `--reset-dagruns` does, unless
/// `yes`; without a terminal to ask on it refuses). Intervals that have not
/// ended are refused unless `allow_future`; dates before the DAG's
/// `start_date` are named, not silently dropped.
pub async fn backfill(
    config: &Config,
    remote: &RemoteArgs,
    dag_id: &str,
    from: &str,
    to: &str,
    options: BackfillOptions,
) -> anyhow::Result<i32> {
    let dag = super::folder::find_dag(config, dag_id)?;
    let tz = dag.timetable.timezone;
    let from = parse_date(from, tz).map_err(|e| anyhow!("--from: {e}"))?;
    let to = parse_date(to, tz).map_err(|e| anyhow!("--to: {e}"))?;
    if to < from {
        bail!("--to is before --from");
    }
    if dag.timetable.schedule.is_none() {
        bail!(
            "DAG `{dag_id}` has no schedule, so it has no intervals to backfill; trigger it instead"
        );
    }
    let iso = table::iso;
    if let Some(start) = dag.timetable.start_date
        && from < start
    {
        println!(
            "dates from {} to before {} fall before the DAG's start_date and have no interval: left out",
            iso(from),
            iso(start)
        );
    }
    if let Some(end) = dag.timetable.end_date
        && to > end
    {
        println!(
            "dates after {} fall after the DAG's end_date and have no interval: left out",
            iso(end)
        );
    }
    let intervals: Vec<_> = dag
        .timetable
        .next_runs(from, 10_000)
        .into_iter()
        .take_while(|r| r.logical_date <= to)
        .collect();
    let now = Utc::now();
    let future: Vec<_> = intervals.iter().filter(|r| r.run_after > now).collect();
    if !future.is_empty() && !options.allow_future {
        let dates: Vec<String> = future.iter().map(|r| iso(r.logical_date)).collect();
        eprintln!(
            "error: {} interval(s) have not ended yet: {}\nnothing was queued; pass --allow-future to queue them too, or an earlier --to",
            future.len(),
            dates.join(", ")
        );
        return Ok(1);
    }
    let client = Client::new(config, remote)?;
    client.dag(dag_id).await?;
    // the runs that already cover an interval, by logical date
    let existing = client
        .call(
            reqwest::Method::GET,
            &format!(
                "/dags/{dag_id}/dagRuns?execution_date_gte={}&execution_date_lte={}&limit=10000",
                iso(from),
                iso(to)
            ),
            None,
        )
        .await?;
    let existing: BTreeMap<DateTime<Utc>, (String, String)> = existing["dag_runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|run| {
            let date = DateTime::parse_from_rfc3339(run["logical_date"].as_str()?).ok()?;
            Some((
                date.with_timezone(&Utc),
                (
                    run["dag_run_id"].as_str()?.to_string(),
                    run["state"].as_str().unwrap_or("-").to_string(),
                ),
            ))
        })
        .collect();
    let mut to_queue = Vec::new();
    let mut to_clear = Vec::new();
    for info in &intervals {
        let interval = format!(
            "{} → {}",
            iso(info.data_interval.start),
            iso(info.data_interval.end)
        );
        match existing.get(&info.logical_date) {
            Some((run_id, state)) if options.reset => {
                println!("  reset  {interval}  {run_id} ({state}): its task instances cleared");
                to_clear.push(run_id.clone());
            }
            Some((run_id, state)) => {
                println!("  skip   {interval}  {run_id} ({state}) exists; --reset runs it again");
            }
            None => {
                let run_id = crate::engine::default_run_id(
                    crate::model::RunType::Backfill,
                    info.logical_date,
                );
                println!("  queue  {interval}  {run_id}");
                to_queue.push((run_id, *info));
            }
        }
    }
    println!(
        "{dag_id}: {} interval(s), {} to queue, {} to reset",
        intervals.len(),
        to_queue.len(),
        to_clear.len()
    );
    if options.dry_run || (to_queue.is_empty() && to_clear.is_empty()) {
        return Ok(0);
    }
    if !to_clear.is_empty() && !options.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            eprintln!(
                "error: --reset clears existing runs: pass --yes to go ahead without a terminal (nothing was done)"
            );
            return Ok(1);
        }
        print!(
            "Clear {} run(s) and queue {}? [y/N] ",
            to_clear.len(),
            to_queue.len()
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing was done");
            return Ok(1);
        }
    }
    for run_id in &to_clear {
        client
            .call(
                reqwest::Method::POST,
                &format!("/dags/{dag_id}/clearTaskInstances"),
                Some(json!({
                    "dry_run": false,
                    "dag_run_id": run_id,
                    "only_failed": false,
                })),
            )
            .await?;
        println!("reset {run_id}");
    }
    let mut queued = 0;
    for (run_id, info) in to_queue {
        let body = json!({
            "dag_run_id": run_id.as_str(),
            "logical_date": iso(info.logical_date),
            "data_interval_start": iso(info.data_interval.start),
            "data_interval_end": iso(info.data_interval.end),
            "conf": {},
        });
        match client
            .call(
                reqwest::Method::POST,
                &format!("/dags/{dag_id}/dagRuns"),
                Some(body),
            )
            .await
        {
            Ok(_) => {
                queued += 1;
                println!("queued {run_id}");
            }
            Err(err) if is_status(&err, 409) => println!("skipped {run_id}: {err}"),
            Err(err) => return Err(err),
        }
    }
    println!(
        "{queued} run(s) queued, {} reset for {dag_id}",
        to_clear.len()
    );
    Ok(0)
}

fn is_status(err: &anyhow::Error, status: u16) -> bool {
    err.downcast_ref::<ApiFailure>()
        .is_some_and(|f| f.status.as_u16() == status)
}

/// The first line of an error, for a table cell.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

/// What `trigger --wait` prints about each task: every try's start and end
/// (its error and log path when it failed), and states reached without a
/// try (upstream_failed, skipped). Never a task that has not started.
fn changes(tis: &[Value], tries: &[(String, TaskTry)]) -> Vec<String> {
    let mut lines = Vec::new();
    for ti in tis {
        let task = ti["task_id"].as_str().unwrap_or("?");
        let state = ti["state"].as_str().unwrap_or("none");
        let try_number = ti["try_number"].as_u64().unwrap_or(0);
        let own: Vec<&TaskTry> = tries
            .iter()
            .filter(|(t, _)| t == task)
            .map(|(_, t)| t)
            .collect();
        if own.is_empty() {
            // no database at hand: what the API says
            match state {
                "running" if try_number > 0 => {
                    lines.push(format!("{task}: try {try_number} running"));
                }
                "success" | "failed" | "up_for_retry" if try_number > 0 => {
                    lines.push(format!("{task}: try {try_number} {state}"));
                }
                "upstream_failed" | "skipped" | "removed" => lines.push(format!("{task}: {state}")),
                _ => {}
            }
            continue;
        }
        for t in own {
            lines.push(format!("{task}: try {} running", t.try_number));
            if t.end_date.is_none() {
                continue;
            }
            let log = if t.log_path.is_empty() {
                String::new()
            } else {
                format!(" (log: {})", t.log_path)
            };
            let error = t
                .error
                .as_deref()
                .map_or(String::new(), |e| format!(": {}", one_line(e)));
            lines.push(match t.state {
                TaskState::Success => format!("{task}: try {} success", t.try_number),
                TaskState::UpForRetry => format!(
                    "{task}: try {} failed{error}{log}; up for retry",
                    t.try_number
                ),
                other => format!(
                    "{task}: try {} {}{error}{log}",
                    t.try_number,
                    other.as_str()
                ),
            });
        }
    }
    lines
}
