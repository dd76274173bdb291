//! Alert channels against servers that speak the real protocols on
//! 127.0.0.1: Slack and webhooks over HTTP, PagerDuty Events v2, SMTP, and
//! SNS's Query protocol through aws-sdk-sns. Each channel is built the way
//! the daemon builds it: a `[notify.NAME]` table, `${VAR}`s resolved, then
//! `notify::build`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airless::notify::config::SnsConfig;
use airless::notify::email::EmailChannel;
use airless::notify::sns::SnsChannel;
use airless::notify::{Alert, AlertEvent, Channel, ChannelConfig, DeliveryError, Message, build};
use aws_credential_types::Credentials;

use crate::fakes::hooks::FakeHooks;
use crate::fakes::pagerduty::{AlertState, FakePagerDuty};
use crate::fakes::smtp::{CA_PEM, FakeSmtp, TlsMode};
use crate::fakes::sns::FakeSns;

/// The channel `[notify.NAME]` (given as TOML) describes, with `env`.
fn channel(name: &str, toml_table: &str, env: &[(&str, &str)]) -> Arc<dyn Channel> {
    try_channel(name, toml_table, env).unwrap()
}

fn try_channel(
    name: &str,
    toml_table: &str,
    env: &[(&str, &str)],
) -> Result<Arc<dyn Channel>, String> {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let table: toml::Table = toml::from_str(toml_table).unwrap();
    let config = ChannelConfig::from_table(name, table)?;
    let resolved = config
        .resolve(&env)
        .map_err(|e| format!("notify.{name}: {e}"))?;
    build(name, &resolved)
}

fn alert(event: AlertEvent, task: Option<&str>) -> Alert {
    let now = chrono::Utc::now();
    Alert {
        event,
        dag_id: "pinterest_batch".into(),
        run_id: Some("scheduled__2026-12-01T06:00:00+00:00".into()),
        task_id: task.map(String::from),
        logical_date: Some(now),
        try_number: task.map(|_| 3),
        state: Some(
            if event.is_trouble() {
                "failed"
            } else {
                "success"
            }
            .into(),
        ),
        error: event.is_trouble().then(|| "exit code 2".to_string()),
        log_tail: None,
        run_url: Some("http://airless.local:8080/dags/pinterest_batch/runs/r1".into()),
        log_url: task.map(|_| "http://airless.local:8080/dags/pinterest_batch/runs/r1/log".into()),
        external_url: None,
        at: now,
    }
}

/// A port on 127.0.0.1 that nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// --- Slack ------------------------------------------------------------------

#[tokio::test]
async fn slack_posts_the_subject_in_bold_then_the_text_with_links() {
    let hooks = FakeHooks::start().await;
    let slack = channel(
        "team-slack",
        "kind = \"slack\"\nurl = \"${SLACK_URL}\"",
        &[("SLACK_URL", &hooks.url("/services/T000/B000/XXXX"))],
    );
    let message = Message::new(vec![alert(AlertEvent::Failure, Some("clean"))]);

    slack.send(&message).await.unwrap();

    let received = hooks.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/services/T000/B000/XXXX");
    assert_eq!(received[0].header("content-type"), Some("application/json"));
    let text = received[0].json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.starts_with("*[airless] failure: pinterest_batch.clean (run scheduled__"),
        "{text}"
    );
    assert!(text.contains("\nfailure: pinterest_batch.clean"), "{text}");
    assert!(text.contains("  error: exit code 2"), "{text}");
    assert!(
        text.contains("  <http://airless.local:8080/dags/pinterest_batch/runs/r1|run>"),
        "{text}"
    );
}

#[tokio::test]
async fn slack_throttling_is_a_retry_after_what_retry_after_says() {
    let hooks = FakeHooks::start().await;
    let slack = channel(
        "s",
        &format!("kind = \"slack\"\nurl = \"{}\"", hooks.url("/hook")),
        &[],
    );
    hooks.reply_next(429, Some("7"), "rate_limited");

    let err = slack
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();

    assert_eq!(
        err,
        DeliveryError::Retry {
            message: "HTTP 429: rate_limited".into(),
            after: Some(Duration::from_secs(7)),
        }
    );
    // and the next try goes through
    slack
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(hooks.received().len(), 2);
}

#[tokio::test]
async fn slack_404_is_permanent() {
    let hooks = FakeHooks::start().await;
    let slack = channel(
        "s",
        &format!("kind = \"slack\"\nurl = \"{}\"", hooks.url("/gone")),
        &[],
    );
    hooks.reply_next(404, None, "no_service");

    let err = slack
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();

    assert_eq!(err, DeliveryError::Permanent("HTTP 404: no_service".into()));
}

#[tokio::test]
async fn a_refused_connection_is_a_retry_and_the_secret_url_stays_out_of_the_error() {
    let port = closed_port().await;
    let slack = channel(
        "s",
        &format!("kind = \"slack\"\nurl = \"http://127.0.0.1:{port}/services/SECRET\""),
        &[],
    );

    let err = slack
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();

    let DeliveryError::Retry { message, after } = &err else {
        panic!("expected a retry, got {err:?}")
    };
    assert_eq!(*after, None);
    assert!(!message.contains("SECRET"), "{message}");
    assert!(!format!("{slack:?}").contains("SECRET"));
}

#[tokio::test]
async fn a_server_error_is_a_retry() {
    let hooks = FakeHooks::start().await;
    let slack = channel(
        "s",
        &format!("kind = \"slack\"\nurl = \"{}\"", hooks.url("/hook")),
        &[],
    );
    hooks.reply_next(503, None, "down");

    let err = slack
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();

    assert!(
        matches!(err, DeliveryError::Retry { after: None, .. }),
        "{err:?}"
    );
}

// --- Webhook ----------------------------------------------------------------

#[tokio::test]
async fn a_webhook_sends_its_template_with_its_method_and_headers() {
    let hooks = FakeHooks::start().await;
    let table = format!(
        r#"kind = "webhook"
url = "{url}"
method = "PUT"
headers = {{ Authorization = "Bearer ${{HOOK_TOKEN}}", "X-Source" = "airless" }}
body = '''
{{"title": {{{{ message.subject | tojson }}}},
 "count": {{{{ alerts | length }}}},
 "tasks": [{{% for a in alerts %}}{{{{ a.task_id | tojson }}}}{{% if not loop.last %}},{{% endif %}}{{% endfor %}}],
 "resolve": {{{{ message.resolve | tojson }}}}}}
'''
"#,
        url = hooks.url("/teams/in")
    );
    let hook = channel("teams", &table, &[("HOOK_TOKEN", "t0ken")]);
    let message = Message::new(vec![
        alert(AlertEvent::Failure, Some("clean")),
        alert(AlertEvent::Failure, Some("load")),
    ]);

    hook.send(&message).await.unwrap();

    let received = hooks.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("PUT", "/teams/in")
    );
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.header("x-source"), Some("airless"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.json(),
        serde_json::json!({
            "title": "[airless] pinterest_batch: 2 alerts",
            "count": 2,
            "tasks": ["clean", "load"],
            "resolve": false,
        })
    );
}

#[tokio::test]
async fn a_webhook_without_a_body_posts_the_whole_message_as_json() {
    let hooks = FakeHooks::start().await;
    let hook = channel(
        "hook",
        &format!("kind = \"webhook\"\nurl = \"{}\"", hooks.url("/in")),
        &[],
    );
    let message = Message::new(vec![alert(AlertEvent::Recovery, None)]);

    hook.send(&message).await.unwrap();

    let body = hooks.received()[0].json();
    assert_eq!(hooks.received()[0].method, "POST");
    assert_eq!(body["subject"], message.subject.as_str());
    assert_eq!(body["text"], message.text.as_str());
    assert_eq!(body["dedup_key"], "pinterest_batch");
    assert_eq!(body["resolve"], true);
    assert_eq!(body["flapping"], false);
    assert_eq!(body["alerts"][0]["event"], "recovery");
}

#[tokio::test]
async fn a_webhook_keeps_the_content_type_its_headers_set() {
    let hooks = FakeHooks::start().await;
    let table = format!(
        "kind = \"webhook\"\nurl = \"{}\"\nheaders = {{ \"Content-Type\" = \"text/plain\" }}\n\
         body = \"{{{{ message.subject }}}}\"",
        hooks.url("/in")
    );
    let hook = channel("plain", &table, &[]);
    let message = Message::sample(chrono::Utc::now());

    hook.send(&message).await.unwrap();

    let request = &hooks.received()[0];
    assert_eq!(request.header("content-type"), Some("text/plain"));
    assert_eq!(request.body, message.subject);
}

// --- PagerDuty --------------------------------------------------------------

const ROUTING_KEY: &str = "R0123456789ABCDEF0123456789ABCDE";

fn pagerduty(pd: &FakePagerDuty) -> Arc<dyn Channel> {
    channel(
        "oncall-pagerduty",
        &format!(
            "kind = \"pagerduty\"\nrouting_key = \"${{PD_KEY}}\"\nurl = \"{}\"\n\
             severity = \"critical\"\nsource = \"airless-prod\"",
            pd.enqueue_url()
        ),
        &[("PD_KEY", ROUTING_KEY)],
    )
}

#[tokio::test]
async fn pagerduty_triggers_then_resolves_with_the_same_dedup_key() {
    let pd = FakePagerDuty::start(ROUTING_KEY).await;
    let channel = pagerduty(&pd);
    let missed = Message::new(vec![alert(AlertEvent::Deadline, None)]);
    let recovered = Message::new(vec![alert(AlertEvent::Recovery, None)]);
    assert_eq!(missed.dedup_key, recovered.dedup_key);

    channel.send(&missed).await.unwrap();
    assert_eq!(pd.alert("pinterest_batch"), Some(AlertState::Triggered));
    channel.send(&recovered).await.unwrap();

    assert_eq!(pd.alert("pinterest_batch"), Some(AlertState::Resolved));
    let events = pd.events();
    assert_eq!(events.len(), 2);
    let trigger = &events[0];
    assert_eq!(trigger["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], "pinterest_batch");
    assert_eq!(trigger["payload"]["summary"], missed.subject.as_str());
    assert_eq!(trigger["payload"]["source"], "airless-prod");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert_eq!(
        trigger["payload"]["custom_details"]["text"],
        missed.text.as_str()
    );
    assert_eq!(
        trigger["links"][0]["href"],
        "http://airless.local:8080/dags/pinterest_batch/runs/r1"
    );
    assert_eq!(
        events[1],
        serde_json::json!({
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": "pinterest_batch",
        })
    );
}

#[tokio::test]
async fn pagerduty_throttling_is_a_retry_and_a_bad_routing_key_is_permanent() {
    let pd = FakePagerDuty::start(ROUTING_KEY).await;
    let message = Message::new(vec![alert(AlertEvent::Failure, Some("clean"))]);
    pd.throttle_next(1);

    let err = pagerduty(&pd).send(&message).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Retry { .. }), "{err:?}");

    let wrong = channel(
        "pd",
        &format!(
            "kind = \"pagerduty\"\nrouting_key = \"not-the-key\"\nurl = \"{}\"",
            pd.enqueue_url()
        ),
        &[],
    );
    let err = wrong.send(&message).await.unwrap_err();
    let DeliveryError::Permanent(text) = &err else {
        panic!("expected permanent, got {err:?}")
    };
    assert!(
        text.starts_with("HTTP 400:") && text.contains("routing_key"),
        "{text}"
    );
    assert!(pd.events().is_empty());
}

// --- E-mail -----------------------------------------------------------------

fn email_table(port: u16, extra: &str) -> String {
    format!(
        "kind = \"email\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\n\
         from = \"airless <airless@example.com>\"\n\
         to = [\"oncall@example.com\", \"Data Team <data@example.com>\"]\n{extra}"
    )
}

#[tokio::test]
async fn an_email_arrives_with_its_from_to_subject_and_text() {
    let smtp = FakeSmtp::start(None).await;
    let mail = channel("mail", &email_table(smtp.port, ""), &[]);
    let message = Message::new(vec![alert(AlertEvent::Failure, Some("clean"))]);

    mail.send(&message).await.unwrap();

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let got = &mails[0];
    assert_eq!(got.mail_from, "airless@example.com");
    assert_eq!(got.rcpt_to, ["oncall@example.com", "data@example.com"]);
    assert_eq!(got.header("From").unwrap(), "airless <airless@example.com>");
    assert_eq!(
        got.header("To").unwrap(),
        "oncall@example.com, \"Data Team\" <data@example.com>"
    );
    assert_eq!(got.header("Subject").unwrap(), message.subject);
    assert!(
        got.header("Content-Type")
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        got.header("Content-Type")
    );
    assert!(got.header("Message-ID").is_some());
    assert_eq!(
        got.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(got.body().trim_end(), message.text);
    assert_eq!(got.authenticated_as, None);
}

#[tokio::test]
async fn an_email_logs_in_with_the_password_from_the_environment() {
    let smtp = FakeSmtp::start(Some(("alerts", "pa55word"))).await;
    let table = email_table(
        smtp.port,
        "username = \"alerts\"\npassword = \"${SMTP_PASSWORD}\"",
    );

    channel("mail", &table, &[("SMTP_PASSWORD", "pa55word")])
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(smtp.mails()[0].authenticated_as.as_deref(), Some("alerts"));

    let err = channel("mail", &table, &[("SMTP_PASSWORD", "wrong")])
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();
    let DeliveryError::Permanent(text) = &err else {
        panic!("a refused login is permanent, got {err:?}")
    };
    assert!(text.contains("535"), "{text}");
    assert!(!text.contains("wrong"), "{text}");
    assert_eq!(smtp.mails().len(), 1);
}

#[tokio::test]
async fn an_email_4xx_is_a_retry_and_a_5xx_is_permanent() {
    let smtp = FakeSmtp::start(None).await;
    let mail = channel("mail", &email_table(smtp.port, ""), &[]);
    let message = Message::sample(chrono::Utc::now());

    smtp.reply_to_rcpt(Some("451 4.3.0 Mailbox temporarily unavailable"));
    let err = mail.send(&message).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Retry { message, .. } if message.contains("451")),
        "{err:?}"
    );

    smtp.reply_to_rcpt(Some("550 5.1.1 User unknown"));
    let err = mail.send(&message).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Permanent(text) if text.contains("550")),
        "{err:?}"
    );

    smtp.reply_to_rcpt(None);
    mail.send(&message).await.unwrap();
    assert_eq!(smtp.mails().len(), 1);
}

#[tokio::test]
async fn an_email_to_a_closed_port_is_a_retry() {
    let port = closed_port().await;
    let mail = channel("mail", &email_table(port, ""), &[]);

    let err = mail
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();

    assert!(matches!(err, DeliveryError::Retry { .. }), "{err:?}");
}

/// The e-mail channel of `[notify.mail]` with `tls`, trusting the fake's CA.
fn email_over_tls(port: u16, tls: &str, extra: &str) -> EmailChannel {
    let table = email_table(port, extra).replace("tls = \"none\"", &format!("tls = \"{tls}\""));
    let ChannelConfig::Email(config) =
        ChannelConfig::from_table("mail", toml::from_str(&table).unwrap()).unwrap()
    else {
        panic!("not an e-mail table")
    };
    EmailChannel::with_roots("mail", &config, &[CA_PEM]).unwrap()
}

#[tokio::test]
async fn an_email_goes_over_starttls_to_a_verified_relay_and_logs_in() {
    let smtp = FakeSmtp::start_with(TlsMode::StartTls, Some(("alerts", "pa55word"))).await;
    let mail = email_over_tls(
        smtp.port,
        "starttls",
        "username = \"alerts\"\npassword = \"pa55word\"",
    );
    let message = Message::sample(chrono::Utc::now());

    mail.send(&message).await.unwrap();

    let got = &smtp.mails()[0];
    assert!(got.over_tls);
    assert_eq!(got.authenticated_as.as_deref(), Some("alerts"));
    assert_eq!(got.header("Subject").unwrap(), message.subject);
    assert_eq!(got.body().trim_end(), message.text);
}

#[tokio::test]
async fn an_email_goes_over_tls_from_the_first_byte() {
    let smtp = FakeSmtp::start_with(TlsMode::Implicit, None).await;
    let mail = email_over_tls(smtp.port, "tls", "");

    mail.send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap();

    assert!(smtp.mails()[0].over_tls);
}

#[tokio::test]
async fn starttls_is_never_skipped_nor_an_unknown_certificate_trusted() {
    // a relay that does not offer STARTTLS gets nothing in plain text
    let plain = FakeSmtp::start(None).await;
    let err = email_over_tls(plain.port, "starttls", "")
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();
    assert!(plain.mails().is_empty(), "{err:?}");

    // a certificate from a CA nobody trusts is refused
    let smtp = FakeSmtp::start_with(TlsMode::StartTls, None).await;
    let untrusting = channel(
        "mail",
        &email_table(smtp.port, "").replace("tls = \"none\"", "tls = \"starttls\""),
        &[],
    );
    let err = untrusting
        .send(&Message::sample(chrono::Utc::now()))
        .await
        .unwrap_err();
    assert!(smtp.mails().is_empty(), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err:?}"
    );
}

// --- SNS --------------------------------------------------------------------

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:airless-alerts";

fn sns(fake: &FakeSns, topic: &str) -> SnsChannel {
    SnsChannel::new(
        "sns",
        &SnsConfig {
            topic_arn: topic.into(),
            region: None,
            endpoint_url: Some(fake.base_url.clone()),
        },
        Some(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        )),
    )
    .unwrap()
}

#[tokio::test]
async fn sns_publishes_the_subject_and_text_to_the_topic() {
    let fake = FakeSns::start().await;
    fake.create_topic(TOPIC);
    let message = Message::new(vec![alert(AlertEvent::Failure, Some("clean"))]);

    sns(&fake, TOPIC).send(&message).await.unwrap();

    let published = fake.published();
    assert_eq!(published.len(), 1);
    let got = &published[0];
    assert_eq!(got.topic_arn, TOPIC);
    assert_eq!(got.message, message.text);
    assert_eq!(got.subject.as_deref(), Some(message.subject.as_str()));
    assert_eq!(got.access_key_id, "AKIDTEST");
    assert_eq!(
        got.region, "eu-west-1",
        "the region comes from the topic ARN"
    );
}

#[tokio::test]
async fn sns_subjects_are_cut_to_one_line_under_100_characters() {
    let fake = FakeSns::start().await;
    fake.create_topic(TOPIC);
    let mut long = alert(AlertEvent::Failure, Some(&"very_long_task_name_".repeat(8)));
    long.dag_id = "a_dag\nwith_a_newline".into();
    let message = Message::new(vec![long]);

    sns(&fake, TOPIC).send(&message).await.unwrap();

    let subject = fake.published()[0].subject.clone().unwrap();
    assert!(subject.len() < 100, "{subject}");
    assert!(
        !subject.contains('\n') && subject.ends_with("..."),
        "{subject}"
    );
    assert!(
        subject.starts_with("[airless] failure: a_dag with_a_newline."),
        "{subject}"
    );
}

#[tokio::test]
async fn sns_throttling_is_a_retry_and_a_missing_topic_is_permanent() {
    let fake = FakeSns::start().await;
    fake.create_topic(TOPIC);
    let message = Message::sample(chrono::Utc::now());
    fake.throttle_next(1);

    let err = sns(&fake, TOPIC).send(&message).await.unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Retry { message, .. } if message.contains("Throttling")),
        "{err:?}"
    );
    assert_eq!(
        fake.requests(),
        1,
        "the SDK does not retry: the outbox does"
    );

    let err = sns(&fake, "arn:aws:sns:eu-west-1:123456789012:nobody")
        .send(&message)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeliveryError::Permanent(text) if text.contains("NotFound")),
        "{err:?}"
    );
    assert!(fake.published().is_empty());
}

#[tokio::test]
async fn a_fifo_topic_gets_a_group_and_drops_a_repeated_message() {
    let fifo = "arn:aws:sns:eu-west-1:123456789012:airless-alerts.fifo";
    let fake = FakeSns::start().await;
    fake.create_topic(fifo);
    let channel = sns(&fake, fifo);
    let message = Message::new(vec![alert(AlertEvent::Failure, Some("clean"))]);

    channel.send(&message).await.unwrap();
    channel.send(&message).await.unwrap();

    let published = fake.published();
    assert_eq!(
        published.len(),
        1,
        "a retried publish is not delivered twice"
    );
    assert_eq!(
        published[0].message_group_id.as_deref(),
        Some("pinterest_batch")
    );
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn an_sns_table_builds_with_the_standard_chain() {
    let fake = FakeSns::start().await;
    let built = channel(
        "sns",
        &format!(
            "kind = \"sns\"\ntopic_arn = \"{TOPIC}\"\nendpoint_url = \"{}\"",
            fake.base_url
        ),
        &[],
    );
    assert!(format!("{built:?}").contains("airless-alerts"));
}

// --- Configuration ----------------------------------------------------------

#[test]
fn every_kind_reads_from_an_airless_toml_with_secrets_from_the_environment() {
    let text = r#"
[notify.team-slack]
kind = "slack"
url = "${SLACK_URL}"

[notify.teams]
kind = "webhook"
url = "https://example.webhook.office.com/webhookb2/${TEAMS_PATH}"
headers = { "X-Api-Key" = "${TEAMS_KEY}" }

[notify.oncall-pagerduty]
kind = "pagerduty"
routing_key = "${PD_KEY}"

[notify.mail]
kind = "email"
smtp_host = "email-smtp.eu-west-1.amazonaws.com"
tls = "tls"
smtp_port = 465
username = "${SES_USER}"
password = "${SES_PASSWORD}"
from = "airless@example.com"
to = ["data@example.com"]

[notify.sns]
kind = "sns"
topic_arn = "arn:aws:sns:eu-west-1:123456789012:alerts"
"#;
    let env: BTreeMap<String, String> = [
        ("SLACK_URL", "https://hooks.slack.com/services/T/B/X"),
        ("TEAMS_PATH", "abc"),
        ("TEAMS_KEY", "k"),
        ("PD_KEY", ROUTING_KEY),
        ("SES_USER", "AKIA"),
        ("SES_PASSWORD", "p"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let file: toml::Table = toml::from_str(text).unwrap();
    let notify = file["notify"].as_table().unwrap().clone();
    let mut kinds = Vec::new();
    for (name, table) in notify {
        let config = ChannelConfig::from_table(&name, table.as_table().unwrap().clone()).unwrap();
        kinds.push(config.kind());
        build(&name, &config.resolve(&env).unwrap()).unwrap();
    }
    kinds.sort();
    assert_eq!(kinds, ["email", "pagerduty", "slack", "sns", "webhook"]);
}

#[test]
fn configuration_mistakes_are_said_in_words() {
    type Env = &'static [(&'static str, &'static str)];
    let cases: [(&str, Env, &str); 7] = [
        (
            "kind = \"slack\"\nurl = \"${SLACK_URL}\"",
            &[],
            "notify.x: url uses ${SLACK_URL}, which is not set",
        ),
        (
            "kind = \"slack\"\nurl = \"hooks.slack.com/services/SECRET\"",
            &[],
            "notify.x: url is not a valid URL",
        ),
        (
            "kind = \"slack\"\nurl = \"https://h\"\nchannel = \"#x\"",
            &[],
            "unknown key `channel`",
        ),
        (
            "kind = \"teams\"\nurl = \"https://h\"",
            &[],
            "unknown kind `teams`",
        ),
        (
            "kind = \"email\"\nsmtp_host = \"h\"\nfrom = \"a@b.c\"\nto = []",
            &[],
            "notify.x: to is empty",
        ),
        (
            "kind = \"email\"\nsmtp_host = \"h\"\ntls = \"ssl\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]",
            &[],
            "notify.x: tls = \"ssl\" is not one of starttls, tls, none",
        ),
        (
            "kind = \"pagerduty\"\nrouting_key = \"k\"\nseverity = \"${SEV}\"",
            &[("SEV", "fatal")],
            "notify.x: severity `fatal` is not one of critical, error, warning, info",
        ),
    ];
    for (table, env, expected) in cases {
        let err = try_channel("x", table, env).unwrap_err();
        assert!(
            err.contains(expected),
            "`{err}` should contain `{expected}`"
        );
        assert!(!err.contains("SECRET"), "{err}");
    }
}
