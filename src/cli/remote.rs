//! Commands that talk to a running daemon over its Airflow-compatible API:
//! `trigger`, `runs list`, `dags pause|unpause`, `backfill`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{RemoteArgs, table};
use crate::config::Config;
use crate::dag::validate::parse_date;

pub struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

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
            token: config
                .api_tokens
                .first()
                .map(|t| t.expose_secret().to_string()),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method, &url);
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
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let detail = body
                .get("detail")
                .and_then(Value::as_str)
                .or_else(|| body.get("title").and_then(Value::as_str))
                .unwrap_or("no detail");
            bail!("{status}: {detail}");
        }
        Ok(body)
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
        if !wait {
            return Ok(0);
        }
        let mut shown: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let tis = self
                .call(
                    reqwest::Method::GET,
                    &format!("/dags/{dag_id}/dagRuns/{run_id}/taskInstances"),
                    None,
                )
                .await?;
            for ti in tis
                .get("task_instances")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let task = ti
                    .get("task_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let state = ti
                    .get("state")
                    .and_then(Value::as_str)
                    .unwrap_or("none")
                    .to_string();
                if shown.get(&task) != Some(&state) {
                    println!(
                        "  {task}: {state} (try {})",
                        ti.get("try_number").and_then(Value::as_u64).unwrap_or(0)
                    );
                    shown.insert(task, state);
                }
            }
            let run = self
                .call(
                    reqwest::Method::GET,
                    &format!("/dags/{dag_id}/dagRuns/{run_id}"),
                    None,
                )
                .await?;
            match run.get("state").and_then(Value::as_str) {
                Some("success") => {
                    println!("run {run_id}: success");
                    return Ok(0);
                }
                Some("failed") => {
                    println!("run {run_id}: failed");
                    return Ok(1);
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    pub async fn list_runs(&self, dag_id: Option<&str>, limit: usize) -> anyhow::Result<i32> {
        let runs = self
            .call(
                reqwest::Method::GET,
                &format!(
                    "/dags/{}/dagRuns?order_by=-execution_date&limit={limit}",
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
                    super::dags::iso_text(&dag["next_dagrun"]),
                    super::dags::iso_text(&dag["next_dagrun_create_after"]),
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
        print!("{}", table::render(&super::dags::LIST_COLUMNS, &rows));
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

/// Queues one `backfill__…` run per interval of the DAG's timetable whose
/// logical date lies in [from, to]; the daemon runs them within
/// `max_active_runs`. An interval that already has a run is reported and skipped.
pub async fn backfill(
    config: &Config,
    remote: &RemoteArgs,
    dag_id: &str,
    from: &str,
    to: &str,
) -> anyhow::Result<i32> {
    let dag = super::dags::find_dag(config, dag_id)?;
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
    let client = Client::new(config, remote)?;
    let mut queued = 0;
    for info in dag
        .timetable
        .next_runs(from, 10_000)
        .into_iter()
        .take_while(|r| r.logical_date <= to)
    {
        let run_id =
            crate::engine::default_run_id(crate::model::RunType::Backfill, info.logical_date);
        let body = json!({
            "dag_run_id": run_id.as_str(),
            "logical_date": super::dags::iso(info.logical_date),
            "data_interval_start": super::dags::iso(info.data_interval.start),
            "data_interval_end": super::dags::iso(info.data_interval.end),
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
            Err(err) if err.to_string().starts_with("409") => println!("skipped {run_id}: {err}"),
            Err(err) => return Err(err),
        }
    }
    println!("{queued} run(s) queued for {dag_id}");
    Ok(0)
}
