//! The Databricks Jobs API client against the fake workspace: run life
//! cycles, retries in virtual time, auth errors, OAuth M2M and idempotency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airless::clients::databricks::auth::{self, AuthOverrides, Credentials};
use airless::clients::databricks::{
    Cluster, DatabricksError, JobsClient, NotebookTask, RunNow, RunStatus, SubmitRun,
    idempotency_token,
};
use airless::clients::retry::RetryPolicy;
use airless::model::clock::{Clock, VirtualClock};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::fakes::databricks::{
    CLIENT_ID, CLIENT_SECRET, FakeDatabricks, Fault, Route, RunScript, TOKEN,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 6, 0, 0).unwrap()
}

fn clock() -> Arc<VirtualClock> {
    Arc::new(VirtualClock::starting_at(t0()))
}

fn waited(clock: &VirtualClock) -> i64 {
    (clock.now() - t0()).num_seconds()
}

fn client(fake: &FakeDatabricks, clock: &Arc<VirtualClock>) -> JobsClient {
    let creds = Credentials::token(&fake.base_url, TOKEN, "DATABRICKS_TOKEN");
    JobsClient::new(reqwest::Client::new(), creds, clock.clone())
}

fn oauth_client(fake: &FakeDatabricks, clock: &Arc<VirtualClock>, secret: &str) -> JobsClient {
    let creds = Credentials::oauth_m2m(
        &fake.base_url,
        CLIENT_ID,
        secret,
        "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET",
    );
    JobsClient::new(reqwest::Client::new(), creds, clock.clone())
}

fn clean_posts(try_number: u32) -> SubmitRun {
    SubmitRun::notebook(
        "pins clean",
        NotebookTask {
            notebook_path: "/Repos/data team/pins/clean posts".to_owned(),
            base_parameters: Some(BTreeMap::from([
                ("date".to_owned(), "2026-01-01".to_owned()),
                ("lake".to_owned(), "s3://lake/raw".to_owned()),
            ])),
        },
        Cluster::Existing("0101-123456-abcdef".to_owned()),
        idempotency_token("pins", "scheduled__2026-01-01", "clean", try_number),
    )
}

/// Polls until the run ends, collecting every state seen.
async fn poll(client: &JobsClient, run_id: i64) -> (Vec<String>, RunStatus) {
    let mut seen = Vec::new();
    for _ in 0..20 {
        let status = client.get_run(run_id).await.unwrap();
        seen.push(status.life_cycle_state.clone());
        if status.is_terminal() {
            return (seen, status);
        }
    }
    panic!("run {run_id} never ended; saw {seen:?}");
}

#[tokio::test]
async fn submitted_notebook_run_is_polled_to_success() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);

    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    let (seen, status) = poll(&client, run_id).await;

    assert_eq!(
        seen,
        ["QUEUED", "PENDING", "RUNNING", "TERMINATING", "TERMINATED"]
    );
    assert!(status.is_success(), "{status:?}");
    assert_eq!(status.run_id, run_id);
    assert_eq!(
        status.run_page_url.as_deref(),
        Some(format!("{}/#job/0/run/{run_id}", fake.base_url).as_str())
    );
    let submitted = fake.submitted();
    assert_eq!(submitted.len(), 1);
    let task = &submitted[0]["tasks"][0];
    assert_eq!(
        task["notebook_task"]["notebook_path"],
        "/Repos/data team/pins/clean posts"
    );
    assert_eq!(
        task["notebook_task"]["base_parameters"],
        json!({"date": "2026-01-01", "lake": "s3://lake/raw"})
    );
    assert_eq!(task["existing_cluster_id"], "0101-123456-abcdef");
    assert_eq!(
        submitted[0]["idempotency_token"],
        idempotency_token("pins", "scheduled__2026-01-01", "clean", 1)
    );
    assert_eq!(fake.bearers()[0], TOKEN);
    assert_eq!(waited(&clock), 0, "no retries, no waits");
}

#[tokio::test]
async fn failed_run_reports_its_result_and_state_message() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(
        RunScript::fails("Workload failed, see run output for details").with_states(&["RUNNING"]),
    );
    let clock = clock();
    let client = client(&fake, &clock);

    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    let (seen, status) = poll(&client, run_id).await;

    assert_eq!(seen, ["RUNNING", "TERMINATED"]);
    assert!(status.is_terminal());
    assert!(!status.is_success());
    assert_eq!(status.result_state.as_deref(), Some("FAILED"));
    assert_eq!(
        status.state_message,
        "Workload failed, see run output for details"
    );
    assert_eq!(
        status.termination_code.as_deref(),
        Some("RUN_EXECUTION_ERROR")
    );
    assert_eq!(
        status.summary(),
        "TERMINATED FAILED: Workload failed, see run output for details"
    );
}

#[tokio::test]
async fn workspaces_without_the_status_object_are_read_from_state() {
    let fake = FakeDatabricks::start().await;
    fake.set_legacy_replies(true);
    fake.script_next_run(RunScript::ends("TIMEDOUT", "Run timed out").with_states(&[]));
    let clock = clock();
    let client = client(&fake, &clock);

    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    let status = client.get_run(run_id).await.unwrap();

    assert_eq!(status.life_cycle_state, "TERMINATED");
    assert_eq!(status.result_state.as_deref(), Some("TIMEDOUT"));
    assert_eq!(status.state_message, "Run timed out");
    assert_eq!(status.termination_code, None);
    assert!(!status.is_success());
}

#[tokio::test]
async fn rate_limited_submit_waits_for_retry_after_and_starts_one_run() {
    let fake = FakeDatabricks::start().await;
    fake.fail_next_on(
        Route::Submit,
        2,
        Fault::TooManyRequests {
            retry_after: Some(7),
        },
    );
    let clock = clock();
    let client = client(&fake, &clock);

    let run_id = client.submit(&clean_posts(1)).await.unwrap();

    assert_eq!(waited(&clock), 14, "two Retry-After: 7 waits");
    assert_eq!(fake.calls(Route::Submit), 3);
    assert_eq!(fake.runs().len(), 1);
    assert_eq!(fake.runs()[0].run_id, run_id);
    let tokens: Vec<_> = fake
        .submitted()
        .iter()
        .map(|b| b["idempotency_token"].clone())
        .collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
}

#[tokio::test]
async fn rate_limit_without_retry_after_backs_off() {
    let fake = FakeDatabricks::start().await;
    fake.fail_next(2, Fault::TooManyRequests { retry_after: None });
    let clock = clock();
    let client = client(&fake, &clock);

    client.submit(&clean_posts(1)).await.unwrap();

    assert_eq!(waited(&clock), 1 + 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_exponential_backoff() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);
    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    fake.fail_next(3, Fault::ServerError);

    let status = client.get_run(run_id).await.unwrap();

    assert_eq!(status.life_cycle_state, "QUEUED");
    assert_eq!(fake.calls(Route::GetRun), 4);
    assert_eq!(waited(&clock), 1 + 2 + 4);
}

#[tokio::test]
async fn unavailable_honours_retry_after() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);
    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    fake.fail_next(
        1,
        Fault::Unavailable {
            retry_after: Some(30),
        },
    );
    fake.fail_next(1, Fault::Unavailable { retry_after: None });

    client.cancel(run_id).await.unwrap();

    assert_eq!(waited(&clock), 30 + 2);
    assert_eq!(fake.calls(Route::Cancel), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_attempts_with_databricks_message() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock).with_retry(RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(60),
    });
    fake.fail_next(10, Fault::ServerError);

    let error = client.submit(&clean_posts(1)).await.unwrap_err();

    assert_eq!(fake.calls(Route::Submit), 3);
    assert!(error.is_transient());
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.error_code(), Some("INTERNAL_ERROR"));
    assert_eq!(
        error.to_string(),
        "submit run \"pins clean\" failed: Databricks answered HTTP 500 INTERNAL_ERROR: Internal error."
    );
}

#[tokio::test]
async fn a_wrong_token_is_rejected_at_once_naming_where_it_came_from() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let creds = Credentials::token(
        &fake.base_url,
        "dapi-wrong-secret",
        "profile [DEFAULT] of /home/x/.databrickscfg",
    );
    let client = JobsClient::new(reqwest::Client::new(), creds, clock.clone());

    let error = client.submit(&clean_posts(1)).await.unwrap_err();

    let message = error.to_string();
    assert_eq!(
        message,
        "Databricks rejected the token from profile [DEFAULT] of /home/x/.databrickscfg (HTTP 403: Invalid access token.)"
    );
    assert!(!format!("{error:?}").contains("dapi-wrong-secret"));
    assert!(!error.is_transient());
    assert_eq!(fake.calls(Route::Submit), 1);
    assert!(fake.runs().is_empty());
}

#[tokio::test]
async fn a_bad_request_fails_at_once_with_databricks_error_code() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);

    let error = client
        .run_now(&RunNow {
            job_id: 99,
            job_parameters: None,
            notebook_params: None,
            idempotency_token: idempotency_token("d", "r", "t", 1),
        })
        .await
        .unwrap_err();

    assert_eq!(
        error.to_string(),
        "run job 99 failed: Databricks answered HTTP 400 INVALID_PARAMETER_VALUE: Job 99 does not exist."
    );
    assert_eq!(error.error_code(), Some("INVALID_PARAMETER_VALUE"));
    assert!(!error.is_transient());
    assert_eq!(fake.calls(Route::RunNow), 1);

    let error = client.get_run(123).await.unwrap_err();
    assert!(
        error.to_string().ends_with("Run 123 does not exist."),
        "{error}"
    );
}

#[tokio::test]
async fn an_unreachable_host_is_named_after_bounded_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let clock = clock();
    let creds = Credentials::token(&host, "dapi-x", "DATABRICKS_TOKEN");
    let client =
        JobsClient::new(reqwest::Client::new(), creds, clock.clone()).with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        });

    let error = client.get_run(1).await.unwrap_err();

    assert!(
        matches!(error, DatabricksError::Unreachable { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("get run 1 failed: could not reach Databricks at {host} after 3 attempts")
    );
    assert!(error.is_transient());
    assert_eq!(waited(&clock), 1 + 2);
}

#[tokio::test]
async fn run_now_sends_job_parameters_and_is_idempotent() {
    let fake = FakeDatabricks::start().await;
    fake.add_job(42);
    let clock = clock();
    let client = client(&fake, &clock);
    let req = RunNow {
        job_id: 42,
        job_parameters: Some(BTreeMap::from([(
            "day".to_owned(),
            "2026-01-01".to_owned(),
        )])),
        notebook_params: None,
        idempotency_token: idempotency_token("pins", "manual__1", "analyse", 1),
    };

    let first = client.run_now(&req).await.unwrap();
    let second = client.run_now(&req).await.unwrap();

    assert_eq!(first, second);
    assert_eq!(fake.runs().len(), 1);
    assert_eq!(fake.runs()[0].job_id, Some(42));
    assert_eq!(
        fake.requests(Route::RunNow)[0],
        json!({
            "job_id": 42,
            "job_parameters": {"day": "2026-01-01"},
            "idempotency_token": req.idempotency_token,
        })
    );
    let status = client.get_run(first).await.unwrap();
    assert_eq!(
        status.run_page_url,
        Some(format!("{}/#job/42/run/{first}", fake.base_url))
    );
}

#[tokio::test]
async fn submitting_twice_with_one_token_starts_one_run() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);

    let first = client.submit(&clean_posts(1)).await.unwrap();
    let again = client.submit(&clean_posts(1)).await.unwrap();
    let next_try = client.submit(&clean_posts(2)).await.unwrap();

    assert_eq!(first, again);
    assert_ne!(first, next_try);
    assert_eq!(fake.runs().len(), 2);
    assert_eq!(fake.calls(Route::Submit), 3);
}

#[tokio::test]
async fn a_new_cluster_spec_reaches_databricks_unchanged() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = client(&fake, &clock);
    let spec =
        json!({"spark_version": "15.4.x-scala2.12", "node_type_id": "m5d.large", "num_workers": 2});
    let mut req = clean_posts(1);
    req.tasks[0].cluster = Cluster::New(spec.clone());
    req.timeout_seconds = Some(3600);

    client.submit(&req).await.unwrap();

    let body = &fake.submitted()[0];
    assert_eq!(body["tasks"][0]["new_cluster"], spec);
    assert_eq!(body["tasks"][0].get("existing_cluster_id"), None);
    assert_eq!(body["timeout_seconds"], 3600);
}

#[tokio::test]
async fn cancel_moves_a_running_run_to_canceled() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::runs_until_finished());
    let clock = clock();
    let client = client(&fake, &clock);
    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    for expected in ["PENDING", "RUNNING", "RUNNING"] {
        assert_eq!(
            client.get_run(run_id).await.unwrap().life_cycle_state,
            expected
        );
    }

    client.cancel(run_id).await.unwrap();
    let (seen, status) = poll(&client, run_id).await;

    assert_eq!(seen, ["TERMINATING", "TERMINATED"]);
    assert_eq!(status.result_state.as_deref(), Some("CANCELED"));
    assert!(!status.is_success());
    assert_eq!(fake.calls(Route::Cancel), 1);
    assert_eq!(fake.cancelled_runs(), [run_id]);
    assert_eq!(fake.requests(Route::Cancel)[0], json!({"run_id": run_id}));

    // Cancelling an ended run is a no-op, so repeating it is safe.
    client.cancel(run_id).await.unwrap();
    assert_eq!(
        client
            .get_run(run_id)
            .await
            .unwrap()
            .result_state
            .as_deref(),
        Some("CANCELED")
    );
}

#[tokio::test]
async fn a_held_run_ends_when_the_test_finishes_it() {
    let fake = FakeDatabricks::start().await;
    fake.script_next_run(RunScript::runs_until_finished());
    let clock = clock();
    let client = client(&fake, &clock);
    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    client.get_run(run_id).await.unwrap();

    fake.finish_run(run_id, "SUCCESS", "");

    assert!(client.get_run(run_id).await.unwrap().is_success());
}

#[tokio::test]
async fn oauth_m2m_token_is_fetched_once_and_refreshed_before_expiry() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = oauth_client(&fake, &clock, CLIENT_SECRET);

    let run_id = client.submit(&clean_posts(1)).await.unwrap();
    client.get_run(run_id).await.unwrap();
    assert_eq!(fake.calls(Route::Token), 1);
    assert_eq!(
        fake.requests(Route::Token)[0],
        json!({"form": "grant_type=client_credentials&scope=all-apis"})
    );

    // expires_in 3600: still fresh 59 minutes in, refreshed a minute before.
    clock.advance(chrono::Duration::seconds(3539));
    client.get_run(run_id).await.unwrap();
    assert_eq!(fake.calls(Route::Token), 1);
    clock.advance(chrono::Duration::seconds(1));
    client.get_run(run_id).await.unwrap();

    assert_eq!(fake.calls(Route::Token), 2);
    assert_eq!(
        fake.bearers(),
        [
            "fake-oauth-access-1",
            "fake-oauth-access-1",
            "fake-oauth-access-1",
            "fake-oauth-access-2"
        ]
    );
    let secrets = client.secrets();
    for secret in [CLIENT_SECRET, "fake-oauth-access-1", "fake-oauth-access-2"] {
        assert!(
            secrets.iter().any(|s| s == secret),
            "{secret} not in secrets"
        );
    }
}

#[tokio::test]
async fn a_revoked_access_token_is_replaced_once() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = oauth_client(&fake, &clock, CLIENT_SECRET);
    let run_id = client.submit(&clean_posts(1)).await.unwrap();

    fake.revoke_issued_tokens();
    client.get_run(run_id).await.unwrap();

    assert_eq!(fake.calls(Route::Token), 2);
    assert_eq!(fake.calls(Route::GetRun), 2);
}

#[tokio::test]
async fn a_token_endpoint_hiccup_is_retried() {
    let fake = FakeDatabricks::start().await;
    fake.fail_next_on(
        Route::Token,
        1,
        Fault::Unavailable {
            retry_after: Some(5),
        },
    );
    let clock = clock();
    let client = oauth_client(&fake, &clock, CLIENT_SECRET);

    client.submit(&clean_posts(1)).await.unwrap();

    assert_eq!(fake.calls(Route::Token), 2);
    assert_eq!(waited(&clock), 5);
}

#[tokio::test]
async fn a_wrong_client_secret_is_rejected_naming_the_client() {
    let fake = FakeDatabricks::start().await;
    let clock = clock();
    let client = oauth_client(&fake, &clock, "not-the-secret");

    let error = client.submit(&clean_posts(1)).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        "Databricks rejected the OAuth client `fake-service-principal` from DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (HTTP 401: Client authentication failed)"
    );
    assert!(!format!("{error:?}").contains("not-the-secret"));
    assert_eq!(fake.calls(Route::Token), 1);
    assert_eq!(fake.calls(Route::Submit), 0);
}

fn env_from(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

#[tokio::test]
async fn credentials_from_a_named_profile_reach_the_workspace() {
    let fake = FakeDatabricks::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".databrickscfg"),
        format!(
            "[DEFAULT]\nhost = https://elsewhere.cloud.databricks.com\ntoken = dapi-other\n\n\
             [staging]\nhost = {}/\ntoken = {TOKEN}\n",
            fake.base_url
        ),
    )
    .unwrap();
    let env = env_from(vec![
        ("HOME", home.path().display().to_string()),
        ("DATABRICKS_CONFIG_PROFILE", "staging".to_owned()),
    ]);

    let creds = auth::resolve(&AuthOverrides::default(), &env).unwrap();
    assert_eq!(creds.host(), fake.base_url);
    let file = home.path().join(".databrickscfg").display().to_string();
    assert_eq!(creds.auth_origin(), format!("profile [staging] of {file}"));
    let clock = clock();
    let client = JobsClient::new(reqwest::Client::new(), creds, clock.clone());
    client.submit(&clean_posts(1)).await.unwrap();
    assert_eq!(client.secrets(), [TOKEN]);

    let overrides = AuthOverrides {
        profile: Some("prod".to_owned()),
        ..AuthOverrides::default()
    };
    let error = auth::resolve(&overrides, &env).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "Databricks profile [prod] (from the task's `profile`) is not in {file}; profiles there: DEFAULT, staging"
        )
    );
}

#[test]
fn missing_host_and_token_name_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join(".databrickscfg").display().to_string();
    let env = env_from(vec![("HOME", home.path().display().to_string())]);

    let error = auth::resolve(&AuthOverrides::default(), &env)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "no Databricks host: set DATABRICKS_HOST, or `host` in profile [DEFAULT] of {file}, or the task's `host`"
        )
    );

    let env = env_from(vec![
        ("HOME", home.path().display().to_string()),
        ("DATABRICKS_HOST", "dbc-1.cloud.databricks.com".to_owned()),
    ]);
    let error = auth::resolve(&AuthOverrides::default(), &env)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "no Databricks credentials for https://dbc-1.cloud.databricks.com: set DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET), or `token` (or `client_id` and `client_secret`) in profile [DEFAULT] of {file}, or the task's `token`"
        )
    );
}
