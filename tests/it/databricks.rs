//! The `databricks` kind through the engine, against the in-process
//! Databricks test server, in virtual time (a 30 s poll costs nothing):
//! one run per try, the run recorded before polling, failures with the state
//! message, 429/5xx, auth mistakes, cancel and timeout → `runs/cancel`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airless::clients::databricks::idempotency_token;
use airless::model::VirtualClock;
use airless::model::{RunState, TaskState};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::fakes::databricks::{FakeDatabricks, Fault, Route, RunScript, TOKEN};
use crate::support::{TestEnv, jan1};

const NOTEBOOK: &str = "/Workspace/Users/team@example.com/pinterest/Batch Processing - Databricks";

/// A virtual-time engine whose environment has only a HOME without a
/// ~/.databrickscfg, plus `env`.
async fn env_with(env: &[(&str, &str)]) -> (TestEnv, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let mut vars: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.insert("HOME".into(), home.path().display().to_string());
    let clock = Arc::new(VirtualClock::starting_at(jan1()));
    (TestEnv::with(clock, 8, vars).await, home)
}

fn notebook_dag(host: &str, extra: &str) -> String {
    format!(
        r#"
dag_id: batch
tasks:
  - task_id: clean
    kind: databricks
    host: "{host}"
    notebook_path: {NOTEBOOK}
    existing_cluster_id: 1108-162752-8okw8dgg
    base_parameters: {{ ds: "{{{{ ds }}}}" }}
{extra}
  - task_id: after
    kind: shell
    depends_on: [clean]
    command: echo "{{{{ tasks.clean.output.run_id }}}} {{{{ tasks.clean.output.result_state }}}}"
"#
    )
}

fn log_of(ti: &airless::model::TaskInstance) -> String {
    std::fs::read_to_string(ti.log_path.as_ref().unwrap()).unwrap()
}

#[tokio::test]
async fn a_notebook_run_is_submitted_once_recorded_and_polled_to_success() {
    let fake = FakeDatabricks::start().await;
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.states());

    let submitted = fake.submitted();
    assert_eq!(submitted.len(), 1);
    let body = &submitted[0];
    let run_id = tis.get("clean").output.as_ref().unwrap()["run_id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        body["idempotency_token"],
        json!(idempotency_token(
            "batch",
            "manual__2024-01-01T00:00:00+00:00",
            "clean",
            1
        ))
    );
    assert_eq!(body["tasks"][0]["notebook_task"]["notebook_path"], NOTEBOOK);
    assert_eq!(
        body["tasks"][0]["notebook_task"]["base_parameters"],
        json!({"ds": "2024-01-01"})
    );
    assert_eq!(
        body["tasks"][0]["existing_cluster_id"],
        "1108-162752-8okw8dgg"
    );

    let clean = tis.get("clean");
    assert_eq!(
        clean.external_id.as_deref(),
        Some(run_id.to_string().as_str())
    );
    let url = clean.external_url.clone().unwrap();
    assert!(url.starts_with(&fake.base_url), "{url}");
    let output = clean.output.clone().unwrap();
    assert_eq!(output["run_page_url"], json!(url));
    assert_eq!(output["result_state"], "SUCCESS");
    // downstream templates read the output
    assert_eq!(
        tis.get("after").output,
        Some(json!(format!("{run_id} SUCCESS")))
    );

    let log = log_of(clean);
    assert!(log.contains(&url), "{log}");
    assert!(log.contains("is RUNNING"), "{log}");
    assert!(log.contains("is TERMINATED SUCCESS"), "{log}");
    assert!(!log.contains(TOKEN), "the token reached the log:\n{log}");
    assert_eq!(fake.runs().len(), 1);
}

#[tokio::test]
async fn a_failed_run_fails_the_try_with_its_state_message_and_page_and_the_retry_is_a_new_run() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::fails(
        "Notebook raised: AnalysisException: Path does not exist: s3://lake/topics",
    ));
    fake.script_next_run(RunScript::succeeds());
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(
        &fake.base_url,
        "    retries: 1\n    retry_delay: 2m",
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let clean = tis.get("clean");
    assert_eq!(clean.try_number, 2);
    let tries = env.store.task_tries(clean.id).await.unwrap();
    let first = tries[0].error.clone().unwrap();
    assert!(
        first
            .contains("TERMINATED FAILED: Notebook raised: AnalysisException: Path does not exist"),
        "{first}"
    );
    assert!(
        first.contains(&format!("{}/#job/", fake.base_url)),
        "{first}"
    );
    let log = std::fs::read_to_string(&tries[0].log_path).unwrap();
    assert!(log.contains("AnalysisException"), "{log}");

    // the retry has its own token, so its own run
    let tokens: Vec<_> = fake
        .submitted()
        .iter()
        .map(|b| b["idempotency_token"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(tokens[0], tokens[1]);
    assert_eq!(fake.runs().len(), 2);
}

#[tokio::test]
async fn failures_without_retries_fail_the_run() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::ends(
        "TIMEDOUT",
        "Run timed out after 3600 seconds",
    ));
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let clean = tis.get("clean");
    assert_eq!(clean.state, TaskState::Failed);
    assert!(
        clean
            .error
            .as_deref()
            .unwrap()
            .contains("ended TERMINATED TIMEDOUT: Run timed out after 3600 seconds"),
        "{:?}",
        clean.error
    );
    assert_eq!(tis.get("after").state, TaskState::UpstreamFailed);
}

#[tokio::test]
async fn a_429_with_retry_after_and_500s_are_waited_out() {
    let fake = FakeDatabricks::start().await;
    fake.fail_next_on(
        Route::Submit,
        1,
        Fault::TooManyRequests {
            retry_after: Some(17),
        },
    );
    fake.fail_next_on(Route::GetRun, 2, Fault::ServerError);
    fake.fail_next_on(
        Route::GetRun,
        1,
        Fault::Unavailable {
            retry_after: Some(5),
        },
    );
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("clean").error);
    assert_eq!(
        fake.calls(Route::Submit),
        2,
        "the 429 and the retried submit"
    );
    assert_eq!(fake.runs().len(), 1);
    // the submit waited the 17 s the server asked for before anything else
    let clean = tis.get("clean");
    let took = clean.end_date.unwrap() - clean.start_date.unwrap();
    assert!(took >= chrono::Duration::seconds(17), "{took}");
}

#[tokio::test]
async fn a_missing_token_names_the_variable_and_the_profile() {
    let fake = FakeDatabricks::start().await;
    let (env, _home) = env_with(&[]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("clean").error.clone().unwrap();
    assert!(error.contains("DATABRICKS_TOKEN"), "{error}");
    assert!(error.contains(".databrickscfg"), "{error}");
    assert_eq!(fake.calls(Route::Submit), 0);
}

#[tokio::test]
async fn a_wrong_token_is_reported_as_rejected_without_showing_it() {
    let fake = FakeDatabricks::start().await;
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", "dapi-wrong-token-0000")]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let clean = tis.get("clean");
    let error = clean.error.clone().unwrap();
    assert!(error.contains("DATABRICKS_TOKEN"), "{error}");
    assert!(error.contains("403") || error.contains("401"), "{error}");
    assert!(!error.contains("dapi-wrong-token-0000"), "{error}");
    let log = log_of(clean);
    assert!(!log.contains("dapi-wrong-token-0000"), "{log}");
}

#[tokio::test]
async fn a_profile_of_databrickscfg_is_used_and_a_missing_profile_is_named() {
    let fake = FakeDatabricks::start().await;
    let (env, home) = env_with(&[("DATABRICKS_CONFIG_PROFILE", "prod")]).await;
    std::fs::write(
        home.path().join(".databrickscfg"),
        format!(
            "[DEFAULT]\nhost = https://nowhere.invalid\ntoken = dapi-default\n\n[prod]\nhost = {}\ntoken = {TOKEN}\n",
            fake.base_url
        ),
    )
    .unwrap();
    let dag = env.dag(
        &notebook_dag(&fake.base_url, "")
            .replace(&format!("    host: \"{}\"\n", fake.base_url), ""),
    );
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("clean").error);

    let dag = env.dag(&notebook_dag(&fake.base_url, "    profile: staging"));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let error = tis.get("clean").error.clone().unwrap();
    assert!(error.contains("staging"), "{error}");
    assert!(error.contains(".databrickscfg"), "{error}");
}

#[tokio::test]
async fn run_now_starts_a_job_with_its_parameters() {
    let fake = FakeDatabricks::start().await;
    fake.add_job(4242);
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&format!(
        r#"
dag_id: job
tasks:
  - task_id: nightly
    kind: databricks
    host: "{}"
    job_id: 4242
    job_parameters: {{ day: "{{{{ ds }}}}" }}
"#,
        fake.base_url
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success, "{:?}", tis.get("nightly").error);
    let requests = fake.requests(Route::RunNow);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["job_id"], 4242);
    assert_eq!(requests[0]["job_parameters"], json!({"day": "2024-01-01"}));
    assert!(requests[0]["idempotency_token"].is_string());
}

#[tokio::test]
async fn wait_for_termination_false_returns_once_the_run_is_accepted() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::runs_until_finished());
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(
        &fake.base_url,
        "    wait_for_termination: false",
    ));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Success);
    let runs = fake.runs();
    assert_eq!(runs.len(), 1);
    assert!(!runs[0].finished);
    assert_eq!(
        tis.get("clean").external_id,
        Some(runs[0].run_id.to_string())
    );
}

/// Drives a run of `dag` in the background; returns the run's id and task.
async fn start(
    env: &Arc<TestEnv>,
    dag: &Arc<airless::dag::Dag>,
    cancel: CancellationToken,
) -> (i64, tokio::task::JoinHandle<RunState>) {
    let id = env.create(dag).await;
    let (env2, dag2) = (env.clone(), dag.clone());
    let handle = tokio::spawn(async move {
        match env2
            .engine
            .drive(dag2, id, cancel, CancellationToken::new())
            .await
            .unwrap()
        {
            airless::engine::DriveOutcome::Finished(state) => state,
            other => panic!("{other:?}"),
        }
    });
    (id, handle)
}

async fn until(mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the condition never held");
}

#[tokio::test]
async fn cancelling_the_dag_run_cancels_the_databricks_run() {
    let fake = FakeDatabricks::start().await;
    fake.set_default_script(RunScript::runs_until_finished());
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let env = Arc::new(env);
    let dag = env.dag(&notebook_dag(&fake.base_url, ""));
    let cancel = CancellationToken::new();
    let (id, handle) = start(&env, &dag, cancel.clone()).await;
    until(|| fake.calls(Route::GetRun) >= 3).await;
    cancel.cancel();
    assert_eq!(handle.await.unwrap(), RunState::Failed);
    let runs = fake.runs();
    assert_eq!(fake.cancelled_runs(), vec![runs[0].run_id]);
    assert!(runs[0].finished);
    let tis = env.tis(id).await;
    let clean = tis.get("clean");
    assert_eq!(clean.state, TaskState::Failed);
    assert!(
        clean.error.as_deref().unwrap().contains("CANCELED"),
        "{:?}",
        clean.error
    );
}

#[tokio::test]
async fn execution_timeout_cancels_the_databricks_run() {
    let fake = FakeDatabricks::start().await;
    fake.set_default_script(RunScript::runs_until_finished());
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(&fake.base_url, "    execution_timeout: 2h"));
    let (state, tis) = env.run(&dag).await;
    assert_eq!(state, RunState::Failed);
    let runs = fake.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(fake.cancelled_runs(), vec![runs[0].run_id]);
    let clean = tis.get("clean");
    let error = clean.error.clone().unwrap();
    assert!(error.contains("timed out"), "{error}");
    assert!(error.contains("CANCELED"), "{error}");
    // the submit asked Databricks to stop it too
    assert_eq!(fake.submitted()[0]["timeout_seconds"], 7200);
    // polled every 30 s for the first hour, every minute in the second
    assert_eq!(runs[0].gets, 1 + 120 + 60 + 1, "runs/get calls in 2 h");
}

#[tokio::test]
async fn a_resumed_try_whose_run_failed_is_retried_as_the_next_try() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::fails(
        "Cluster terminated while the notebook ran",
    ));
    fake.script_next_run(RunScript::succeeds());
    let (env, _home) = env_with(&[("DATABRICKS_TOKEN", TOKEN)]).await;
    let dag = env.dag(&notebook_dag(
        &fake.base_url,
        "    retries: 1\n    retry_delay: 1m",
    ));
    // what a daemon killed while polling leaves behind: the run running, the
    // try running with its Databricks run recorded
    let id = env.create(&dag).await;
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/2.1/jobs/runs/submit", fake.base_url))
        .bearer_auth(TOKEN)
        .json(&json!({
            "run_name": "before the crash",
            "idempotency_token": "before-the-crash",
            "tasks": [{"task_key": "clean", "existing_cluster_id": "1108-162752-8okw8dgg",
                       "notebook_task": {"notebook_path": NOTEBOOK}}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let databricks_run = reply["run_id"].as_i64().unwrap();
    let clean = env.tis(id).await.get("clean").clone();
    // the state a kill -9 leaves, written through the door as the driver did
    let control = env.engine.control();
    let mut run = env.store.dag_run(id).await.unwrap();
    assert!(control.claim_run(&run, None).await.unwrap());
    control.start_run(&mut run).await.unwrap();
    let log = env.path("attempt=1.log").display().to_string();
    control.start_try(&run, &clean, 1, &log).await.unwrap();
    control
        .record_external(clean.id, 1, &databricks_run.to_string(), None)
        .await
        .unwrap();

    let outcome = env
        .engine
        .drive(
            dag.clone(),
            id,
            CancellationToken::new(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        airless::engine::DriveOutcome::Finished(RunState::Success)
    );
    let clean = env.tis(id).await.get("clean").clone();
    let tries = env.store.task_tries(clean.id).await.unwrap();
    let numbers: Vec<(u32, TaskState)> = tries.iter().map(|t| (t.try_number, t.state)).collect();
    assert_eq!(
        numbers,
        [(1, TaskState::UpForRetry), (2, TaskState::Success)]
    );
    assert!(
        tries[0]
            .error
            .as_deref()
            .unwrap()
            .contains("Cluster terminated"),
        "{:?}",
        tries[0].error
    );
    assert_eq!(clean.try_number, 2);
    assert_eq!(
        fake.runs().len(),
        2,
        "the resumed run, then the retry's own"
    );
    let log = std::fs::read_to_string(env.path("attempt=1.log")).unwrap();
    assert!(
        log.contains(&format!("re-attaching to Databricks run {databricks_run}")),
        "{log}"
    );
}
