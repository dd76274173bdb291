//! `airless port airflow`: every Airflow file in tests/fixtures/port is ported
//! and its YAML (`<file>.<dag_id>.yaml`) and report (`<file>.report`) are
//! asserted exactly; every YAML must pass airless's validation. Files named
//! `af3_*` are ported with Airflow 3 semantics, the others with Airflow 2.
//! Alert fixtures (tests/fixtures/port/alerts) also have their channels
//! (`<file>.notify.toml`). `AIRLESS_BLESS=1 cargo test port` rewrites the
//! expected files (review the diff).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use airless::dag::Timetable;
use airless::dag::timetable::CronSchedule;
use airless::port::{AirflowVersion, LastRun, LiveState, PortOptions, SourceFile, port_sources};
use chrono::{DateTime, Utc};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/port")
}

fn options(version: AirflowVersion) -> PortOptions {
    PortOptions {
        airflow_version: version,
        live: BTreeMap::new(),
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn port_one(name: &str, opts: &PortOptions) -> airless::port::PortOutcome {
    port_path(&fixtures(), name, opts)
}

fn port_path(folder: &Path, name: &str, opts: &PortOptions) -> airless::port::PortOutcome {
    let text = std::fs::read_to_string(folder.join(name)).unwrap();
    port_sources(
        &[SourceFile {
            path: name.to_string(),
            text,
        }],
        opts,
    )
}

/// Checks `actual` against the file `path`, or writes it when blessing.
fn expect_file(path: &Path, actual: &str, failures: &mut Vec<String>) {
    let name = path.display();
    if std::env::var_os("AIRLESS_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => failures.push(format!(
            "{name} differs\n--- expected\n{expected}\n--- actual\n{actual}"
        )),
        Err(_) => failures.push(format!(
            "{name} is missing; its content would be:\n{actual}"
        )),
    }
}

/// airless's validation of a ported YAML.
fn validate(file_name: &str, yaml: &str) -> Result<(), Vec<String>> {
    airless::dag::load(Path::new(file_name), yaml)
        .map(|_| ())
        .map_err(|e| e.iter().map(ToString::to_string).collect())
}

/// Ports every `.py` of `folder` (alone) and checks its YAML
/// (`<file>.<dag_id>.yaml`), report (`<file>.report`) and channels
/// (`<file>.notify.toml`, when any) against the expected files.
fn check_corpus(folder: &Path, at_least: usize) {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let sources: Vec<&String> = names.iter().filter(|n| n.ends_with(".py")).collect();
    assert!(
        sources.len() >= at_least,
        "the corpus has {} files",
        sources.len()
    );
    let mut failures = Vec::new();
    let mut expected: Vec<String> = Vec::new();
    for name in sources {
        let stem = name.trim_end_matches(".py");
        let version = if stem.starts_with("af3_") {
            AirflowVersion::V3
        } else {
            AirflowVersion::V2
        };
        let outcome = port_path(folder, name, &options(version));
        for dag in &outcome.dags {
            let file = format!("{stem}.{}.yaml", dag.dag_id);
            expect_file(&folder.join(&file), &dag.yaml, &mut failures);
            expected.push(file);
            if let Err(errors) = validate(&dag.file_name, &dag.yaml) {
                failures.push(format!(
                    "{name}: {} does not validate:\n{}",
                    dag.file_name,
                    errors.join("\n")
                ));
            }
        }
        expect_file(
            &folder.join(format!("{stem}.report")),
            &outcome.report_text(),
            &mut failures,
        );
        if let Some(toml) = outcome.notify_toml() {
            let file = format!("{stem}.notify.toml");
            expect_file(&folder.join(&file), &toml, &mut failures);
            expected.push(file);
        }
    }
    for name in names
        .iter()
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".toml"))
    {
        if !expected.contains(name) {
            failures.push(format!("{name} is not produced by any fixture any more"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_ports_to_its_expected_yaml_and_report() {
    check_corpus(&fixtures(), 15);
}

/// The alert fixtures live in their own folder: tests/airflow/port_next_runs.sh
/// compares the top folder's schedules with Airflow's, and these need
/// provider notifiers it does not install.
#[test]
fn every_alert_fixture_ports_to_its_expected_yaml_report_and_channels() {
    check_corpus(&fixtures().join("alerts"), 8);
}

#[test]
fn a_file_that_is_not_python_is_an_error_with_its_line_and_nothing_is_written() {
    let outcome = port_one("invalid_python.py", &options(AirflowVersion::V2));
    assert!(outcome.dags.is_empty());
    assert_eq!(outcome.errors.len(), 1);
    let error = &outcome.errors[0];
    assert_eq!(
        (error.file.as_str(), error.line),
        ("invalid_python.py", Some(7))
    );
}

#[test]
fn the_mwaa_dag_is_carried_over_with_its_notebook_cluster_and_retries() {
    let outcome = port_one("mwaa_databricks_daily.py", &options(AirflowVersion::V2));
    let [dag] = outcome.dags.as_slice() else {
        panic!("one DAG expected")
    };
    let yaml: serde_yaml::Value = serde_yaml::from_str(&dag.yaml).unwrap();
    assert_eq!(yaml["schedule"].as_str(), Some("@daily"));
    assert_eq!(yaml["default_args"]["retries"].as_u64(), Some(5));
    assert_eq!(yaml["default_args"]["retry_delay"].as_str(), Some("120s"));
    let task = &yaml["tasks"][0];
    assert_eq!(task["kind"].as_str(), Some("databricks"));
    assert_eq!(
        task["notebook_path"].as_str(),
        Some("/Users/ahmed.pinterest@gmail.com/Pinterest Data Pipeline/clean and analyse")
    );
    assert_eq!(
        task["existing_cluster_id"].as_str(),
        Some("1108-162752-8okw8dgg")
    );
}

/// Ports the MWAA DAG as if MWAA had run it up to `last`, and returns the
/// ported timetable and the YAML.
fn ported_after(
    name: &str,
    dag_id: &str,
    version: AirflowVersion,
    live: LiveState,
) -> (Timetable, String) {
    let mut opts = options(version);
    opts.live.insert(dag_id.to_string(), live);
    let outcome = port_one(name, &opts);
    let dag = outcome.dags.iter().find(|d| d.dag_id == dag_id).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&dag.yaml).unwrap();
    let tz: chrono_tz::Tz = yaml["timezone"].as_str().unwrap().parse().unwrap();
    let start =
        airless::dag::validate::parse_date(yaml["start_date"].as_str().unwrap(), tz).unwrap();
    let timetable = Timetable {
        schedule: Some(CronSchedule::parse(yaml["schedule"].as_str().unwrap()).unwrap()),
        kind: if yaml["timetable"].as_str() == Some("trigger") {
            airless::dag::TimetableKind::Trigger
        } else {
            airless::dag::TimetableKind::Interval
        },
        timezone: tz,
        start_date: Some(start),
        end_date: None,
        catchup: yaml["catchup"].as_bool().unwrap(),
    };
    (timetable, dag.yaml.clone())
}

#[test]
fn a_live_interval_dag_starts_at_the_first_interval_mwaa_has_not_run() {
    let live = LiveState {
        is_paused: Some(true),
        last_run: Some(LastRun {
            logical_date: at("2024-06-09T00:00:00Z"),
            data_interval_start: Some(at("2024-06-09T00:00:00Z")),
            data_interval_end: Some(at("2024-06-10T00:00:00Z")),
        }),
    };
    let (timetable, yaml) = ported_after(
        "mwaa_databricks_daily.py",
        "0a1b2c3d4e5f_dag",
        AirflowVersion::V2,
        live,
    );
    assert!(
        yaml.contains("start_date: \"2024-06-10T00:00:00Z\""),
        "{yaml}"
    );
    assert!(yaml.contains("is_paused_upon_creation: true"), "{yaml}");
    assert!(
        yaml.contains("# MWAA's last run has logical date 2024-06-09T00:00:00Z"),
        "{yaml}"
    );
    // cut over on the 12th at 09:00 (catchup false): the run for the 11th only;
    // never the 9th again
    let due = timetable.due_runs(None, at("2024-06-12T09:00:00Z"), 10);
    let logical: Vec<_> = due.iter().map(|r| r.logical_date).collect();
    assert_eq!(logical, vec![at("2024-06-11T00:00:00Z")]);
    // cut over on the 10th at 09:00, before MWAA would have missed anything
    let due = timetable.due_runs(None, at("2024-06-11T00:00:01Z"), 10);
    assert_eq!(due[0].logical_date, at("2024-06-10T00:00:00Z"));
}

#[test]
fn a_live_interval_dag_without_a_recorded_interval_end_computes_it() {
    let live = LiveState {
        is_paused: None,
        last_run: Some(LastRun {
            logical_date: at("2024-06-09T00:00:00Z"),
            data_interval_start: None,
            data_interval_end: None,
        }),
    };
    let (timetable, _) = ported_after(
        "mwaa_databricks_daily.py",
        "0a1b2c3d4e5f_dag",
        AirflowVersion::V2,
        live,
    );
    assert_eq!(timetable.start_date, Some(at("2024-06-10T00:00:00Z")));
}

#[test]
fn a_live_trigger_dag_with_catchup_runs_every_tick_after_the_last_one_exactly_once() {
    let live = LiveState {
        is_paused: Some(false),
        last_run: Some(LastRun {
            logical_date: at("2025-02-01T07:00:00Z"), // 02:00 in New York
            data_interval_start: Some(at("2025-02-01T07:00:00Z")),
            data_interval_end: Some(at("2025-02-01T07:00:00Z")),
        }),
    };
    let (mut timetable, yaml) = ported_after(
        "af3_trigger_semantics.py",
        "af3_trigger_semantics",
        AirflowVersion::V3,
        live,
    );
    assert!(
        yaml.contains("start_date: \"2025-02-01T02:00:01-05:00\""),
        "{yaml}"
    );
    assert!(yaml.contains("is_paused_upon_creation: false"), "{yaml}");
    timetable.catchup = true;
    let due = timetable.due_runs(None, at("2025-02-03T12:00:00Z"), 10);
    let logical: Vec<_> = due.iter().map(|r| r.logical_date).collect();
    assert_eq!(
        logical,
        vec![at("2025-02-02T07:00:00Z"), at("2025-02-03T07:00:00Z")]
    );
}

#[test]
fn a_live_run_before_the_files_start_date_leaves_the_start_date_alone() {
    let live = LiveState {
        is_paused: None,
        last_run: Some(LastRun {
            logical_date: at("2023-06-09T00:00:00Z"),
            data_interval_start: None,
            data_interval_end: Some(at("2023-06-10T00:00:00Z")),
        }),
    };
    let (timetable, yaml) = ported_after(
        "mwaa_databricks_daily.py",
        "0a1b2c3d4e5f_dag",
        AirflowVersion::V2,
        live,
    );
    assert_eq!(timetable.start_date, Some(at("2024-01-01T00:00:00Z")));
    assert!(!yaml.contains("MWAA's last run"), "{yaml}");
}

#[tokio::test]
async fn the_cli_writes_the_yaml_and_the_report_and_fails_only_on_unreadable_files() {
    use airless::cli::port::{PortCommand, run};
    let out = tempfile::tempdir().unwrap();
    let code = run(PortCommand::Airflow {
        paths: vec![
            fixtures().join("mwaa_databricks_daily.py"),
            fixtures().join("schedules.py"),
        ],
        out: out.path().to_path_buf(),
        airflow_version: None,
    })
    .await
    .unwrap();
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );
    assert!(out.path().join("0a1b2c3d4e5f_dag.yaml").exists());
    assert!(out.path().join("preset_hourly.yaml").exists());
    let report = std::fs::read_to_string(out.path().join("airless-port-report.txt")).unwrap();
    assert!(report.contains("schedules.py:24: schedule:"), "{report}");
    let bag = airless::dag::DagBag::load(out.path()).unwrap();
    assert_eq!(bag.import_errors.len(), 0);

    let code = run(PortCommand::Airflow {
        paths: vec![fixtures().join("invalid_python.py")],
        out: out.path().to_path_buf(),
        airflow_version: None,
    })
    .await
    .unwrap();
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::from(1))
    );
}

#[tokio::test]
async fn the_cli_writes_the_channels_the_ported_dags_name_beside_them() {
    use airless::cli::port::{PortCommand, run};
    let out = tempfile::tempdir().unwrap();
    let alerts = fixtures().join("alerts");
    run(PortCommand::Airflow {
        paths: vec![
            alerts.join("email_default_args.py"),
            alerts.join("email_flags_false.py"),
            alerts.join("slack_webhook.py"),
            alerts.join("sla.py"),
        ],
        out: out.path().to_path_buf(),
        airflow_version: None,
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(out.path().join("airless.notify.toml")).unwrap();
    let toml: toml::Table = toml::from_str(&text).unwrap();
    let notify = toml["notify"].as_table().unwrap();
    let mut names: Vec<&String> = notify.keys().collect();
    names.sort();
    // a channel per distinct recipient list or connection, shared across files
    assert_eq!(
        names,
        ["email", "email-2", "email-3", "slack", "slack-2"],
        "{text}"
    );
    assert_eq!(
        notify["email-3"]["to"].as_array().unwrap()[0].as_str(),
        Some("data-team@example.com")
    );
    assert!(
        text.contains("# named by: email_flags_false, sla_with_email\n"),
        "{text}"
    );
    assert_eq!(notify["slack"]["kind"].as_str(), Some("slack"));
    assert_eq!(
        notify["slack-2"]["url"].as_str(),
        Some("${AIRLESS_SLACK_2_WEBHOOK_URL}")
    );
    let report = std::fs::read_to_string(out.path().join("airless-port-report.txt")).unwrap();
    assert!(report.contains("[notify.email-2]"), "{report}");
    assert!(
        report.contains("the webhook URL is in Airflow connection `slack_sla`"),
        "{report}"
    );
}

#[test]
fn email_on_a_dag_becomes_on_failure_and_on_retry_with_an_email_channel() {
    let outcome = port_path(
        &fixtures().join("alerts"),
        "email_default_args.py",
        &options(AirflowVersion::V2),
    );
    let yaml: serde_yaml::Value = serde_yaml::from_str(&outcome.dags[0].yaml).unwrap();
    assert_eq!(yaml["on_failure"][0].as_str(), Some("email"));
    assert_eq!(yaml["on_retry"][0].as_str(), Some("email"));
    let tasks = yaml["tasks"].as_sequence().unwrap();
    let task = |id: &str| {
        tasks
            .iter()
            .find(|t| t["task_id"].as_str() == Some(id))
            .unwrap()
    };
    // email_on_retry=False on a task silences the DAG's on_retry for it
    assert_eq!(
        task("quiet")["on_retry"].as_sequence().map(Vec::len),
        Some(0)
    );
    assert!(task("quiet").get("on_failure").is_none());
    assert_eq!(task("billing")["on_failure"][0].as_str(), Some("email-2"));
    let [first, second] = outcome.channels.as_slice() else {
        panic!("two channels expected: {:?}", outcome.channels)
    };
    assert_eq!(
        first.kind,
        airless::port::ChannelKind::Email {
            to: vec!["data-team@example.com".into(), "oncall@example.com".into()],
            from: None
        }
    );
    assert_eq!(second.name, "email-2");
    let report = outcome.report_text();
    assert!(
        report.contains(
            "email_default_args.py:20: default_args: `email`: became the channel `email`"
        ),
        "{report}"
    );
    assert!(report.contains("not in the DAG file"), "{report}");
    assert!(
        report.contains("smtp_host = \"${AIRLESS_SMTP_HOST}\""),
        "{report}"
    );
}

#[test]
fn email_flags_set_to_false_send_nothing_unless_a_task_turns_them_on() {
    let outcome = port_path(
        &fixtures().join("alerts"),
        "email_flags_false.py",
        &options(AirflowVersion::V2),
    );
    let yaml: serde_yaml::Value = serde_yaml::from_str(&outcome.dags[0].yaml).unwrap();
    assert!(yaml.get("on_failure").is_none() && yaml.get("on_retry").is_none());
    assert_eq!(yaml["tasks"][1]["on_failure"][0].as_str(), Some("email"));
    assert!(yaml["tasks"][1].get("on_retry").is_none());
}

#[test]
fn notifiers_become_channels_and_python_callbacks_are_reported_with_their_lines() {
    let folder = fixtures().join("alerts");
    let v2 = options(AirflowVersion::V2);
    let slack = port_path(&folder, "slack_webhook.py", &v2);
    assert!(slack.dags[0].yaml.contains("\non_failure: [slack]\n"));
    assert!(slack.dags[0].yaml.contains("    on_retry: [slack]\n"));
    assert!(slack.dags[0].yaml.contains(
        "# Airflow's on_failure_callback SlackWebhookNotifier text: The DAG {{ dag.dag_id }} failed"
    ));
    let sns = port_path(&folder, "sns.py", &v2);
    assert!(sns.dags[0].yaml.contains("on_success: [sns-2]"));
    assert_eq!(
        sns.channels[0].kind,
        airless::port::ChannelKind::Sns {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:pipeline-alerts".into(),
            region: Some("eu-west-1".into()),
            conn_id: "aws_alerts".into()
        }
    );
    let smtp = port_path(&folder, "smtp.py", &v2);
    assert!(smtp.dags[0].yaml.contains("    on_failure: [email-2]\n"));
    assert!(
        smtp.notify_toml()
            .unwrap()
            .contains("from = \"airflow@example.com\"")
    );
    let list = port_path(&folder, "notifier_list.py", &v2);
    assert!(list.dags[0].yaml.contains("on_failure: [slack, email]"));
    let plain = port_path(&folder, "plain_callable.py", &v2);
    let report = plain.report_text();
    assert!(
        report.contains("plain_callable.py:20: DAG: `on_failure_callback`: `notify_team` (defined at line 11) is Python code"),
        "{report}"
    );
    assert!(
        report.contains("plain_callable.py:26: task `load`: `on_failure_callback`: `plugins.alerts.page_oncall` is Python code"),
        "{report}"
    );
    assert!(plain.dags[0].yaml.contains("    on_failure: [slack]\n"));
}

#[test]
fn an_airflow_2_sla_becomes_a_deadline_when_someone_is_told() {
    let folder = fixtures().join("alerts");
    let outcome = port_path(&folder, "sla.py", &options(AirflowVersion::V2));
    let told = outcome
        .dags
        .iter()
        .find(|d| d.dag_id == "sla_with_email")
        .unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&told.yaml).unwrap();
    assert_eq!(yaml["deadline"]["after"].as_str(), Some("2h"));
    assert_eq!(yaml["deadline"]["from"].as_str(), Some("data_interval_end"));
    assert_eq!(yaml["deadline"]["notify"][1].as_str(), Some("slack"));
    assert_eq!(yaml["tasks"][1]["deadline"]["after"].as_str(), Some("30m"));
    let nobody = outcome
        .dags
        .iter()
        .find(|d| d.dag_id == "sla_nobody_told")
        .unwrap();
    assert!(!nobody.yaml.contains("deadline"));
    assert!(outcome.report_text().contains(
        "sla.py:30: task `land`: `sla`: no `email` or sla_miss_callback notifier to tell"
    ));
    let af3 = port_path(&folder, "af3_sla.py", &options(AirflowVersion::V3));
    assert!(!af3.dags[0].yaml.contains("deadline"));
    assert!(af3.report_text().contains("Airflow 3 has no SLAs"));
}
