//! The web UI in a real browser: Debian's Chromium driven over WebDriver
//! (chromedriver) against `serve` in-process. An operator triggers a DAG
//! from its params form, watches the grid change without reloading, reads
//! the failed try's log, clears it and sees it rerun and succeed, marks
//! another task instance success, pauses and unpauses; a hidden tab
//! fetches nothing; a forged POST is refused; with tokens a login comes
//! first. Skipped, with the reason printed, where Chromium is not
//! installed (`.ci/run` installs it). The screenshots in the README are
//! taken here: `AIRLESS_SCREENSHOTS=docs/screenshots cargo test browser`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::daemon::free_port;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    _shots_dir: Option<tempfile::TempDir>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Chromium under chromedriver, headless, with a fresh profile; `None`
/// (and why, printed) when they are not installed.
async fn browser() -> Option<Browser> {
    for program in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(program).exists() {
            eprintln!(
                "skipped: {program} is not installed (apt-get install -y chromium chromium-driver; .ci/run does)"
            );
            return None;
        }
    }
    let port = free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let mut builder = ClientBuilder::rustls().unwrap();
    builder.capabilities(capabilities);
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match builder.connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => break client,
            Err(err) => {
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not start: {err}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let (shots, shots_dir) = match std::env::var_os("AIRLESS_SCREENSHOTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir).unwrap();
            (dir, None)
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    Some(Browser {
        client,
        driver,
        _profile: profile,
        shots,
        _shots_dir: shots_dir,
    })
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The first element `css` matches, waited for up to 30 s.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no `{css}` within 30 s: {err}"))
    }

    /// Clicks `css`, finding it again if a live refresh replaced it
    /// between the find and the click.
    async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(err) if err.to_string().contains("stale element") => continue,
                Err(err) => panic!("clicking `{css}`: {err}"),
            }
        }
        panic!("`{css}` kept being replaced");
    }

    /// The text of `css`, read again if a live refresh replaced it.
    async fn text_of(&self, css: &str) -> String {
        for _ in 0..5 {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(err) if err.to_string().contains("stale element") => continue,
                Err(err) => panic!("reading `{css}`: {err}"),
            }
        }
        panic!("`{css}` kept being replaced");
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits up to 30 s for `script` to return true.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.js(script).await != Value::Bool(true) {
            if Instant::now() >= deadline {
                panic!(
                    "{what} did not happen within 30 s; the page:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// How many fetches the page's script has made.
    async fn fetches(&self) -> u64 {
        self.js("return performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch').length")
            .await
            .as_u64()
            .unwrap_or(0)
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
        assert!(png.len() > 10_000, "{name} shows something");
        std::fs::write(self.shots.join(name), png).unwrap();
    }
}

async fn paused(base: &str) -> bool {
    let dag: Value = reqwest::get(format!("{base}/api/v1/dags/flaky"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    dag["is_paused"] == true
}

#[tokio::test]
async fn an_operator_triggers_watches_reads_the_log_clears_marks_and_pauses_in_a_browser() {
    let Some(b) = browser().await else { return };
    let (dir, app) = crate::web::start(None).await;
    let base = app.base.clone();

    // the DAGs page → the trigger form made from the params
    b.goto(&format!("{base}/")).await;
    assert!(b.text().await.contains("At 06:00, Monday through Friday"));
    b.click(r#"tr[data-dag="flaky"] a.button"#).await;
    let rows = b.find(r#"input[name="param.rows"]"#).await;
    assert_eq!(rows.prop("value").await.unwrap().as_deref(), Some("10"));
    rows.clear().await.unwrap();
    rows.send_keys("7").await.unwrap();
    // extract sleeps 3 s: long enough to watch the grid change
    b.find("#conf")
        .await
        .send_keys(r#"{"pause": 3}"#)
        .await
        .unwrap();
    b.click("form.stack button.primary").await;
    b.find(".preview").await;
    let preview = b.text().await;
    assert!(preview.contains("Trigger flaky?"), "{preview}");
    assert!(preview.contains("\"rows\": 7"), "{preview}");
    assert!(preview.contains("\"pause\": 3"), "{preview}");
    b.click("form.buttons button[type=submit]").await;
    b.find("table.tasks").await;
    let run_path = b.path().await;
    assert!(
        run_path.starts_with("/dags/flaky/runs/manual__"),
        "{run_path}"
    );

    // the grid changes state live, without a reload
    b.goto(&format!("{base}/dags/flaky")).await;
    b.find("table.grid").await;
    b.js("window.sameDocument = true; return true").await;
    assert!(
        b.js(r#"return document.querySelector('table.grid a.cell.st-failed') === null"#)
            .await
            == Value::Bool(true),
        "nothing has failed yet when the page opens"
    );
    // a keyboard user's focus survives the live refreshes
    b.js(
        r#"const link = document.querySelector('#grid-live a.sq'); link.focus();
           window.focusedLabel = link.getAttribute('aria-label'); return true"#,
    )
    .await;
    b.until(
        "the grid shows check failed",
        r#"return document.querySelector('table.grid a.cell.st-failed[title^="check"]') !== null"#,
    )
    .await;
    assert_eq!(
        b.js("return window.sameDocument === true").await,
        Value::Bool(true)
    );
    assert_ne!(
        b.js("return document.body.dataset.refreshed || null").await,
        Value::Null
    );
    assert_eq!(
        b.js("return document.activeElement.getAttribute('aria-label') === window.focusedLabel")
            .await,
        Value::Bool(true),
        "the focused column head is focused again after the refresh"
    );
    b.until(
        "the graph shows check failed",
        r#"return document.querySelector('svg.graph g.node.st-failed[data-task="check"]') !== null"#,
    )
    .await;
    b.screenshot("dag.png").await;

    // the failed try's log
    b.click(r#"table.grid a.cell.st-failed[title^="check"]"#)
        .await;
    let text = b.text_of("#log").await;
    assert!(text.contains("checking"), "{text}");
    assert!(
        text.contains("for 7 rows"),
        "the param from the form reached the task: {text}"
    );
    assert!(b.text().await.contains("command exited with code 1"));
    b.screenshot("log.png").await;

    // clear check (with load, downstream): previewed, then it reruns
    b.goto(&format!("{base}{run_path}")).await;
    b.until(
        "the run has ended",
        r#"return document.querySelector('button[aria-label="Clear check and downstream"]') !== null"#,
    )
    .await;
    b.click(r#"button[aria-label="Clear check and downstream"]"#)
        .await;
    b.find(".preview").await;
    let preview = b.text().await;
    assert!(preview.contains("check — failed (try 1)"), "{preview}");
    assert!(
        preview.contains("load — upstream_failed (try 0)"),
        "{preview}"
    );
    std::fs::write(dir.path().join("flag"), "").unwrap();
    b.click("form.buttons button[type=submit]").await;
    b.find("table.tasks").await;
    b.js("window.sameDocument = true; return true").await;
    b.until(
        "check and load succeed on the page",
        r#"return document.querySelector('tr[data-task="check"] .badge.st-success') !== null
            && document.querySelector('tr[data-task="load"] .badge.st-success') !== null"#,
    )
    .await;
    assert_eq!(
        b.js("return window.sameDocument === true").await,
        Value::Bool(true)
    );

    // mark optional (which always fails) success
    b.click(r#"button[aria-label="Mark optional success"]"#)
        .await;
    b.find(".preview").await;
    assert!(b.text().await.contains("optional — failed → success"));
    b.click("form.buttons button[type=submit]").await;
    b.find(r#"tr[data-task="optional"] .badge.st-success"#)
        .await;

    // pause and unpause from the DAGs page
    b.goto(&format!("{base}/")).await;
    b.click(r#"tr[data-dag="flaky"] button.toggle"#).await;
    b.find(".preview").await;
    assert!(b.text().await.contains("Pause flaky?"));
    b.click("form.buttons button[type=submit]").await;
    let toggle = r#"tr[data-dag="flaky"] button.toggle"#;
    assert_eq!(b.text_of(toggle).await, "Paused");
    assert_eq!(b.path().await, "/");
    assert!(paused(&base).await);
    b.click(toggle).await;
    b.find(".preview").await;
    assert!(b.text().await.contains("Unpause flaky?"));
    b.click("form.buttons button[type=submit]").await;
    assert_eq!(b.text_of(toggle).await, "Active");
    assert!(!paused(&base).await);
    b.screenshot("dags.png").await;

    // a hidden tab fetches nothing; shown again, it catches up
    b.js(
        r#"Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
           document.dispatchEvent(new Event("visibilitychange"));
           window.before = document.body.dataset.refreshed || "none"; return true"#,
    )
    .await;
    let fetches = b.fetches().await;
    reqwest::Client::new()
        .post(format!("{base}/api/v1/dags/flaky/dagRuns"))
        .json(&json!({"dag_run_id": "while_hidden"}))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(b.fetches().await, fetches, "no fetch while hidden");
    b.js(
        r#"Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
           document.dispatchEvent(new Event("visibilitychange")); return true"#,
    )
    .await;
    b.until(
        "the shown page refreshes",
        r#"return (document.body.dataset.refreshed || "none") !== window.before"#,
    )
    .await;

    // a POST without the CSRF token (as another site would send) is refused
    b.js(r#"const f = document.createElement("form"); f.method = "post"; f.action = "/dags/flaky/pause";
           for (const [k, v] of [["paused", "true"], ["confirm", "yes"]]) {
             const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i); }
           document.body.appendChild(f); f.submit(); return true"#)
        .await;
    b.until(
        "the refusal is shown",
        r#"return document.body.innerText.includes("carries no security token")"#,
    )
    .await;
    assert!(!paused(&base).await, "the forged POST changed nothing");

    // on a phone's width nothing but the tables scrolls sideways
    b.client.set_window_size(390, 844).await.unwrap();
    b.goto(&format!("{base}/")).await;
    b.find("table.dags").await;
    assert_eq!(
        b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await,
        Value::Bool(true),
        "the DAGs page fits a phone's width"
    );
    b.client.clone().close().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn with_tokens_the_browser_logs_in_before_it_sees_a_page() {
    let Some(b) = browser().await else { return };
    let (_dir, app) = crate::web::start(Some("s3cret")).await;
    let base = app.base.clone();
    b.goto(&format!("{base}/dags/flaky")).await;
    b.find("#token").await;
    assert_eq!(b.path().await, "/login");
    b.find("#token").await.send_keys("wrong").await.unwrap();
    b.click("form button.primary").await;
    b.find(".error-message").await;
    assert!(
        b.text()
            .await
            .contains("That token is not one of the API tokens.")
    );
    b.find("#token").await.send_keys("s3cret").await.unwrap();
    b.click("form button.primary").await;
    b.find("table.grid, p.muted").await;
    assert_eq!(b.path().await, "/dags/flaky");
    // the session cookie is out of the page's reach
    assert_eq!(
        b.js("return document.cookie").await,
        Value::String(String::new())
    );
    b.click("form.logout button").await;
    b.find("#token").await;
    assert_eq!(b.path().await, "/login");
    b.client.clone().close().await.unwrap();
    app.stop().await;
}
