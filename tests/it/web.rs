//! The web UI over HTTP, as a browser sends it (forms, cookies, redirects)
//! against `serve` in-process: every page renders what the store holds,
//! actions are previewed before they act, POSTs without the session's CSRF
//! token are refused with nothing changed, and with tokens set a login is
//! required. (`browser.rs` drives the same pages in Chromium.)

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::support::TestApp;

/// A DAG whose `check` fails until the flag file exists, beside a task
/// that always succeeds and one that always fails.
pub(crate) fn flaky_dag(dir: &std::path::Path) -> String {
    format!(
        r#"dag_id: flaky
description: Fails until a flag file exists
schedule: "0 6 * * 1-5"
start_date: 2030-01-01
params:
  flag: {flag}
  rows: 10
  verbose: false
tasks:
  - task_id: extract
    kind: shell
    command: "echo extracting; sleep {{{{ conf.pause | default(0) }}}}"
  - task_id: check
    kind: shell
    depends_on: [extract]
    env: {{ FLAG: "{{{{ params.flag }}}}", ROWS: "{{{{ params.rows }}}}" }}
    command: echo "checking $FLAG for $ROWS rows"; test -f "$FLAG"
  - task_id: load
    kind: shell
    depends_on: [check]
    command: echo loaded
  - task_id: optional
    kind: shell
    depends_on: [extract]
    command: echo "optional fails"; exit 3
"#,
        flag = dir.join("flag").display()
    )
}

pub(crate) async fn start(tokens: Option<&str>) -> (tempfile::TempDir, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dags")).unwrap();
    std::fs::write(dir.path().join("dags/flaky.yaml"), flaky_dag(dir.path())).unwrap();
    std::fs::write(
        dir.path().join("dags/broken.yaml"),
        "dag_id: broken\ntasks: [\n",
    )
    .unwrap();
    let vars: Vec<(&str, &str)> = tokens
        .map(|t| vec![("AIRLESS_API_TOKENS", t)])
        .unwrap_or_default();
    let app = TestApp::start(dir.path(), &vars).await;
    (dir, app)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser's session: the cookie it was given and the CSRF token of the
/// page it read.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn visit(base: &str) -> Browser {
        let http = client();
        let response = http.get(format!("{base}/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = session_cookie(&response);
        Browser {
            http,
            base: base.to_string(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        // minijinja writes `/` in attributes as `&#x2f;`; a browser reads
        // it back as `/`
        let status = response.status();
        (status, text(response).await)
    }

    async fn csrf(&self) -> String {
        let (_, page) = self.get("/").await;
        csrf_of(&page)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap().replace("&#x2f;", "/")
}

fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_string()
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_string()
}

async fn api(app: &TestApp, path: &str) -> Value {
    reqwest::get(format!("{}{path}", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn runs_of(app: &TestApp, dag: &str) -> Vec<Value> {
    api(app, &format!("/api/v1/dags/{dag}/dagRuns")).await["dag_runs"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_for_run_end(app: &TestApp, dag: &str) -> Value {
    crate::daemon::wait_for("the run to end", Duration::from_secs(30), async || {
        runs_of(app, dag)
            .await
            .first()
            .is_some_and(|r| r["state"] == "failed" || r["state"] == "success")
    })
    .await;
    runs_of(app, dag).await.remove(0)
}

#[tokio::test]
async fn the_dags_page_shows_schedules_in_words_runs_and_import_errors() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let (status, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("At 06:00, Monday through Friday"), "{page}");
    assert!(page.contains("<code>0 6 * * 1-5</code>"));
    // the first interval, 2030-01-01 06:00 → 01-02 06:00, starts at its end
    assert!(page.contains("2030-01-02 06:00:00"), "the next run: {page}");
    assert!(page.contains("broken.yaml"), "the import error's file");
    assert!(
        page.contains("broken.yaml:2:8: the `[` that opens here is never closed"),
        "the import error's place and words: {page}"
    );
    assert!(page.contains("no runs yet"));
    app.stop().await;
}

#[tokio::test]
async fn a_trigger_is_previewed_then_queued_with_the_forms_conf() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let (status, form) = browser.get("/dags/flaky/trigger").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("name=\"param.rows\""), "{form}");
    assert!(form.contains("value=\"10\""));
    let csrf = csrf_of(&form);

    // the preview queues nothing
    let preview = browser
        .post(
            "/dags/flaky/trigger",
            &[
                ("csrf", &csrf),
                ("param.rows", "7"),
                ("param.verbose", "on"),
                ("conf", r#"{"note": "from the form"}"#),
            ],
        )
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("Trigger flaky?"), "{preview}");
    assert!(preview.contains("&quot;rows&quot;: 7"), "{preview}");
    assert!(preview.contains("&quot;verbose&quot;: true"));
    assert!(preview.contains("&quot;note&quot;: &quot;from the form&quot;"));
    assert!(
        runs_of(&app, "flaky").await.is_empty(),
        "a preview queues nothing"
    );

    // confirming posts the previewed conf
    let conf_final = {
        let at = preview.find("name=\"conf_final\" value=\"").unwrap() + 25;
        let end = preview[at..].find('"').unwrap();
        preview[at..at + end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&amp;", "&")
    };
    let done = browser
        .post(
            "/dags/flaky/trigger",
            &[
                ("csrf", &csrf),
                ("conf_final", &conf_final),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/dags/flaky/runs/manual__"),
        "{location}"
    );
    let runs = runs_of(&app, "flaky").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conf"]["rows"], 7);
    assert_eq!(runs[0]["conf"]["verbose"], true);
    assert_eq!(runs[0]["conf"]["note"], "from the form");
    app.stop().await;
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    for form in [
        vec![("confirm", "yes"), ("conf_final", "{}")],
        vec![
            ("confirm", "yes"),
            ("conf_final", "{}"),
            ("csrf", "0123456789abcdef"),
        ],
    ] {
        let refused = browser.post("/dags/flaky/trigger", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("security token") || page.contains("CSRF"),
            "{page}"
        );
    }
    let refused = browser
        .post(
            "/dags/flaky/pause",
            &[("paused", "true"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // another session's token is not this one's
    let other = Browser::visit(&app.base).await;
    let foreign = other.csrf().await;
    let refused = browser
        .post(
            "/dags/flaky/pause",
            &[("paused", "true"), ("confirm", "yes"), ("csrf", &foreign)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(runs_of(&app, "flaky").await.is_empty());
    assert_eq!(api(&app, "/api/v1/dags/flaky").await["is_paused"], false);
    app.stop().await;
}

#[tokio::test]
async fn clear_and_mark_are_previewed_then_done_through_the_door() {
    let (dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let csrf = browser.csrf().await;
    reqwest::Client::new()
        .post(format!("{}/api/v1/dags/flaky/dagRuns", app.base))
        .json(&serde_json::json!({"dag_run_id": "r1"}))
        .send()
        .await
        .unwrap();
    let run = wait_for_run_end(&app, "flaky").await;
    assert_eq!(run["state"], "failed");

    let (status, page) = browser.get("/dags/flaky/runs/r1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("command exited with code 1"), "{page}");
    assert!(page.contains("/dags/flaky/runs/r1/tasks/check/logs/1"));

    // the preview lists check and, downstream, load
    let preview = browser
        .post(
            "/dags/flaky/runs/r1/clear",
            &[("csrf", &csrf), ("task_id", "check"), ("downstream", "on")],
        )
        .await;
    let preview = text(preview).await;
    assert!(preview.contains("Clear 2 task instance(s)?"), "{preview}");
    assert!(preview.contains("check — failed (try 1)"));
    assert!(preview.contains("load — upstream_failed (try 0)"));
    assert!(
        !preview.contains("optional —"),
        "optional is not downstream of check"
    );
    assert_eq!(
        runs_of(&app, "flaky").await[0]["state"],
        "failed",
        "a preview clears nothing"
    );

    std::fs::write(dir.path().join("flag"), "").unwrap();
    let done = browser
        .post(
            "/dags/flaky/runs/r1/clear",
            &[
                ("csrf", &csrf),
                ("task_id", "check"),
                ("downstream", "on"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    crate::daemon::wait_for("load to succeed", Duration::from_secs(30), async || {
        let tis = api(&app, "/api/v1/dags/flaky/dagRuns/r1/taskInstances").await;
        tis["task_instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["task_id"] == "load" && t["state"] == "success")
    })
    .await;
    let run = wait_for_run_end(&app, "flaky").await;
    assert_eq!(run["state"], "failed", "optional still failed");

    // mark optional success: previewed, then marked
    let preview = browser
        .post(
            "/dags/flaky/runs/r1/tasks/optional/mark",
            &[("csrf", &csrf), ("state", "success")],
        )
        .await;
    let preview = text(preview).await;
    assert!(preview.contains("optional — failed → success"), "{preview}");
    let done = browser
        .post(
            "/dags/flaky/runs/r1/tasks/optional/mark",
            &[("csrf", &csrf), ("state", "success"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let ti = api(&app, "/api/v1/dags/flaky/dagRuns/r1/taskInstances/optional").await;
    assert_eq!(ti["state"], "success");
    app.stop().await;
}

#[tokio::test]
async fn pause_is_previewed_then_set() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let csrf = browser.csrf().await;
    let preview = browser
        .post(
            "/dags/flaky/pause",
            &[("csrf", &csrf), ("paused", "true"), ("back", "/")],
        )
        .await;
    let preview = text(preview).await;
    assert!(preview.contains("Pause flaky?"), "{preview}");
    assert!(preview.contains("stops the scheduler"));
    assert_eq!(api(&app, "/api/v1/dags/flaky").await["is_paused"], false);
    let done = browser
        .post(
            "/dags/flaky/pause",
            &[
                ("csrf", &csrf),
                ("paused", "true"),
                ("back", "/"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/");
    assert_eq!(api(&app, "/api/v1/dags/flaky").await["is_paused"], true);
    // a `back` to another site (or one no header can carry) is not followed
    for back in ["//evil.example", "/\\evil.example", "/\n"] {
        let done = browser
            .post(
                "/dags/flaky/pause",
                &[
                    ("csrf", &csrf),
                    ("paused", "false"),
                    ("back", back),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "{back:?}");
        assert_eq!(done.headers()[LOCATION], "/dags/flaky", "{back:?}");
    }
    assert_eq!(api(&app, "/api/v1/dags/flaky").await["is_paused"], false);
    app.stop().await;
}

#[tokio::test]
async fn bad_addresses_and_queries_get_a_page_that_says_what_is_wrong() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    for (path, status, words) in [
        (
            "/dags/nope",
            StatusCode::NOT_FOUND,
            "There is no DAG `nope` in the DAG folder.",
        ),
        (
            "/dags/flaky/runs/nope",
            StatusCode::NOT_FOUND,
            "DAG `flaky` has no run `nope`.",
        ),
        (
            "/dags/flaky?runs=lots",
            StatusCode::BAD_REQUEST,
            "`runs` must be a whole number of 0 or more, not `lots`",
        ),
        (
            "/dags/flaky?from=2026-13-01",
            StatusCode::BAD_REQUEST,
            "`from` must be a date like 2026-12-31, not `2026-13-01`",
        ),
        (
            "/dags/flaky?state=done",
            StatusCode::BAD_REQUEST,
            "`state` must be queued, running, success or failed, not `done`",
        ),
        (
            "/dags/%3Cscript%3E",
            StatusCode::NOT_FOUND,
            "There is no DAG `&lt;script&gt;`",
        ),
    ] {
        let (got, page) = browser.get(path).await;
        assert_eq!(got, status, "{path}: {page}");
        assert!(page.contains(words), "{path}: {page}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_runs_log_is_shown_tailed_from_an_offset_and_downloaded() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    reqwest::Client::new()
        .post(format!("{}/api/v1/dags/flaky/dagRuns", app.base))
        .json(&serde_json::json!({"dag_run_id": "r1", "conf": {"rows": 3}}))
        .send()
        .await
        .unwrap();
    wait_for_run_end(&app, "flaky").await;
    let log = "/dags/flaky/runs/r1/tasks/check/logs/1";
    let (status, page) = browser.get(log).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("checking"), "{page}");
    assert!(page.contains("command exited with code 1"));
    let response = browser
        .http
        .get(format!("{}{log}?from=0", app.base))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-airless-running"], "0");
    let size: usize = response.headers()["x-airless-log-size"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let whole = response.text().await.unwrap();
    assert_eq!(whole.len(), size);
    let response = browser
        .http
        .get(format!("{}{log}?from=10", app.base))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), whole[10..]);
    let response = browser
        .http
        .get(format!("{}{log}?download=1", app.base))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"flaky.r1.check.1.log\"")
    );
    assert_eq!(response.text().await.unwrap(), whole);
    let (status, page) = browser.get("/dags/flaky/runs/r1/tasks/check/logs/9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("has no try 9"));
    app.stop().await;
}

#[tokio::test]
async fn the_event_stream_says_when_a_dag_changes() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let mut events = browser
        .http
        .get(format!("{}/ui/events?dag_id=flaky", app.base))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    reqwest::Client::new()
        .post(format!("{}/api/v1/dags/flaky/dagRuns", app.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: change"), "{text}");
    drop(events);
    app.stop().await;
}

#[tokio::test]
async fn with_tokens_the_ui_asks_for_a_login_and_keeps_a_signed_session() {
    let (_dir, app) = start(Some("s3cret,other")).await;
    let http = client();
    let response = http
        .get(format!("{}/dags/flaky", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/login?next=%2Fdags%2Fflaky");
    let page = http
        .get(format!("{}/login?next=%2Fdags%2Fflaky", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("API token"));

    let wrong = http
        .post(format!("{}/login", app.base))
        .form(&[("token", "guess"), ("next", "/dags/flaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That token is not one of the API tokens.")
    );

    // each token logs in on its own
    let right = http
        .post(format!("{}/login", app.base))
        .form(&[("token", "other"), ("next", "/dags/flaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()[LOCATION], "/dags/flaky");
    let set = right.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{}/dags/flaky", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Log out"));

    // a cookie changed by hand is no session
    let last = if cookie.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
    let response = http
        .get(format!("{}/", app.base))
        .header(COOKIE, forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // a POST without a session is refused, not redirected
    let response = http
        .post(format!("{}/dags/flaky/pause", app.base))
        .form(&[("paused", "true"), ("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // `next` never leads to another site, nor breaks the redirect
    for next in [
        "//evil.example/",
        "/\\evil.example/",
        "/dags\r\nSet-Cookie: x=1",
        "https://evil.example/",
    ] {
        let response = http
            .post(format!("{}/login", app.base))
            .form(&[("token", "s3cret"), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(response.headers()[LOCATION], "/", "{next:?}");
    }
    // the API still takes its Bearer token and nothing else
    let api = http
        .get(format!("{}/api/v1/dags", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn a_cancel_is_previewed_then_kills_the_running_try_and_fails_the_run() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let csrf = browser.csrf().await;
    reqwest::Client::new()
        .post(format!("{}/api/v1/dags/flaky/dagRuns", app.base))
        .json(&serde_json::json!({"dag_run_id": "long", "conf": {"pause": 60}}))
        .send()
        .await
        .unwrap();
    crate::daemon::wait_for("extract to run", Duration::from_secs(30), async || {
        let ti = api(
            &app,
            "/api/v1/dags/flaky/dagRuns/long/taskInstances/extract",
        )
        .await;
        ti["state"] == "running"
    })
    .await;
    let preview = browser
        .post("/dags/flaky/runs/long/cancel", &[("csrf", &csrf)])
        .await;
    let preview = text(preview).await;
    assert!(preview.contains("Cancel run long?"), "{preview}");
    assert!(preview.contains("extract — running → its running try is killed and fails"));
    assert!(preview.contains("check — none → skipped"), "{preview}");
    assert_eq!(
        api(&app, "/api/v1/dags/flaky/dagRuns/long").await["state"],
        "running"
    );
    let done = browser
        .post(
            "/dags/flaky/runs/long/cancel",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api(&app, "/api/v1/dags/flaky/dagRuns/long").await["state"],
        "failed"
    );
    let extract = api(
        &app,
        "/api/v1/dags/flaky/dagRuns/long/taskInstances/extract",
    )
    .await;
    assert_eq!(extract["state"], "failed");
    app.stop().await;
}

/// An open tab never holds a stop for the whole grace period: its event
/// stream ends cleanly when the daemon shuts down (the browser reconnects
/// to the next one), rather than being cut when the grace runs out.
#[tokio::test]
async fn an_open_event_stream_ends_cleanly_when_the_daemon_stops() {
    let (_dir, app) = start(None).await;
    let browser = Browser::visit(&app.base).await;
    let mut events = browser
        .http
        .get(format!("{}/ui/events", app.base))
        .header(COOKIE, &browser.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let stop = tokio::spawn(app.stop());
    loop {
        match events.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(err) => panic!("the event stream was cut instead of ended: {err}"),
        }
    }
    stop.await.unwrap();
}
