//! Airflow's failure e-mails, notifier callbacks and SLAs → airless's alert
//! keys (`on_failure`, `on_retry`, `on_success`, `deadline`) naming channels
//! (`crate::port::channels`). Notifiers of the Slack, SNS and SMTP providers
//! map to channels; a plain Python callback stays in the report with its line.
//! Reads the reader's values only.

use super::model::{Args, Keyword};
use super::reader::{Note, Reader};
use super::value::{NotifierValue, Value};
use super::yaml::Node;
use crate::port::AirflowVersion;
use crate::port::channels::{ChannelKind, Channels};

/// Provider notifiers, as classes and as their function forms.
pub const NOTIFIERS: &[&str] = &[
    "SlackWebhookNotifier",
    "send_slack_webhook_notification",
    "SlackNotifier",
    "send_slack_notification",
    "SnsNotifier",
    "send_sns_notification",
    "SmtpNotifier",
    "send_smtp_notification",
];

/// Task arguments (and `default_args` keys) read here rather than carried
/// one by one: they combine (`email` with its flags, `sla` with `email`).
pub const ALERT_ARGS: &[&str] = &[
    "email",
    "email_on_failure",
    "email_on_retry",
    "on_failure_callback",
    "on_retry_callback",
    "on_success_callback",
    "sla",
];

/// Where Airflow keeps the SMTP server of `email=`.
const SMTP_CFG: &str =
    "Airflow's [smtp] section (airflow.cfg, or MWAA's smtp.* configuration options)";

/// The alert arguments of one owner (a DAG's default_args, or what a task
/// sets itself), the last of each name kept.
#[derive(Debug, Clone, Default)]
pub struct AlertArgs(Vec<Keyword>);

impl AlertArgs {
    pub fn set(&mut self, keyword: Keyword) {
        self.0.retain(|k| k.name != keyword.name);
        self.0.push(keyword);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `name` is set to something other than None.
    pub fn has(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|k| !matches!(k.value, Value::None))
    }

    fn get(&self, name: &str) -> Option<&Keyword> {
        self.0.iter().find(|k| k.name == name)
    }
}

/// The airless keys an owner gets, with comments that keep Airflow's
/// message templates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertKeys {
    pub on_failure: Vec<String>,
    pub on_retry: Vec<String>,
    pub on_success: Vec<String>,
    /// `(after, notify)`.
    pub deadline: Option<(String, Vec<String>)>,
    pub comments: Vec<String>,
}

/// What a DAG's own callbacks (`DAG(on_failure_callback=…,
/// on_success_callback=…, sla_miss_callback=…)`) name.
#[derive(Debug, Clone, Default)]
pub struct RunCallbacks {
    on_failure: Vec<String>,
    on_success: Vec<String>,
    sla_miss: Vec<String>,
    pub comments: Vec<String>,
}

/// What the mapping needs besides the arguments.
pub struct Context<'c, 'r> {
    pub reader: &'c Reader<'r>,
    pub dag_id: &'c str,
    pub version: AirflowVersion,
    pub channels: &'c mut Channels,
    pub notes: &'c mut Vec<Note>,
    /// Set while reading arguments noted elsewhere (a DAG's default_args
    /// seen again from a task).
    pub quiet: bool,
}

impl Context<'_, '_> {
    /// A note, once: a DAG's default_args are read again for every task.
    fn note(&mut self, line: u32, what: String, why: String) {
        if !self.quiet
            && !self
                .notes
                .iter()
                .any(|n| n.line == line && n.what == what && n.why == why)
        {
            self.notes.push(Note::new(line, what, why));
        }
    }
}

/// The DAG's own callbacks. Airflow calls them once per run; airless's
/// DAG-level keys alert per task, so each mapping says so.
/// `any_sla` says whether a task of the DAG has an `sla`, without which
/// Airflow never calls sla_miss_callback.
pub fn run_callbacks(args: &Args, any_sla: bool, ctx: &mut Context<'_, '_>) -> RunCallbacks {
    let mut run = RunCallbacks::default();
    for (arg, key) in [
        ("on_failure_callback", "on_failure"),
        ("on_success_callback", "on_success"),
        ("sla_miss_callback", "deadline"),
    ] {
        let Some(k) = args.get(arg) else { continue };
        if arg == "sla_miss_callback" && (!any_sla || ctx.version == AirflowVersion::V3) {
            if !matches!(k.value, Value::None) {
                let why = if ctx.version == AirflowVersion::V3 {
                    "Airflow 3 has no SLAs (Deadline Alerts replaced them); not carried over"
                } else {
                    "no task has an `sla`, so Airflow never calls it; not carried over"
                };
                ctx.note(k.line, format!("DAG: `{arg}`"), why.to_string());
            }
            continue;
        }
        let names = callback_channels(k, key, "DAG", &mut run.comments, ctx, true);
        if names.is_empty() {
            continue;
        }
        let why = match arg {
            "on_failure_callback" => format!(
                "became `on_failure: {}` on the DAG; Airflow calls it once when a run fails, airless alerts for each task that fails after its last retry (alerts within the grouping window go out as one message)",
                list(&names)
            ),
            "on_success_callback" => format!(
                "became `on_success: {}` on the DAG; Airflow calls it once when a run succeeds, airless alerts for each task that succeeds (grouped within the window); to hear once per run, move `on_success` to the last task",
                list(&names)
            ),
            _ => format!(
                "its channels {} are told of missed SLAs through `deadline`",
                list(&names)
            ),
        };
        ctx.note(k.line, format!("DAG: `{arg}`"), why);
        let target = match arg {
            "on_failure_callback" => &mut run.on_failure,
            "on_success_callback" => &mut run.on_success,
            _ => &mut run.sla_miss,
        };
        add_all(target, &names);
    }
    run
}

/// The keys of an owner: `inherited` (a DAG's default_args, for a task)
/// under `own` (what the owner sets itself). Only `own` arguments are
/// noted and commented; inherited ones were when the DAG was read.
pub fn resolve(
    inherited: &AlertArgs,
    own: &AlertArgs,
    owner: &str,
    run: &RunCallbacks,
    ctx: &mut Context<'_, '_>,
) -> AlertKeys {
    let mut merged = inherited.clone();
    for k in &own.0 {
        merged.set(k.clone());
    }
    let is_own = |k: &Keyword| own.get(&k.name).is_some();
    let mut keys = AlertKeys::default();

    // an SLA Airflow 2 acts on: it e-mails a miss to `email` whatever the flags
    let sla_after = merged
        .get("sla")
        .and_then(|k| match (&k.value, ctx.version) {
            (Value::TimeDelta(d), AirflowVersion::V2) if d.micros > 0 => Some(d.text.clone()),
            _ => None,
        });

    // e-mail: Airflow sends it on failure and on retry unless told not to
    let mut email_channel = None;
    let email = merged
        .get("email")
        .and_then(|k| match recipients(&k.value) {
            Ok(to) if to.is_empty() => None,
            Ok(to) => Some((k, to)),
            Err(why) => {
                if is_own(k) {
                    ctx.note(
                        k.line,
                        format!("{owner}: `email`"),
                        format!("{why}; not carried over, so no e-mail goes out"),
                    );
                }
                None
            }
        });
    if let Some((email_kw, to)) = email {
        let flag = |name: &str, ctx: &mut Context<'_, '_>| match merged.get(name) {
            None => true,
            Some(k) => match &k.value {
                Value::Bool(b) => *b,
                Value::None => false,
                other => {
                    if is_own(k) {
                        let why = match other {
                            Value::Unknown(why) => why.clone(),
                            other => format!("it is {}", other.describe()),
                        };
                        ctx.note(
                            k.line,
                            format!("{owner}: `{name}`"),
                            format!("{why}; taken as False"),
                        );
                    }
                    false
                }
            },
        };
        let on_failure = flag("email_on_failure", ctx);
        let on_retry = flag("email_on_retry", ctx);
        let named: Vec<&str> = [("on_failure", on_failure), ("on_retry", on_retry)]
            .into_iter()
            .filter_map(|(key, on)| on.then_some(key))
            .collect();
        let channel = (!named.is_empty() || sla_after.is_some()).then(|| {
            ctx.channels
                .name_for(ChannelKind::Email { to, from: None }, SMTP_CFG, ctx.dag_id)
        });
        if let Some(channel) = &channel {
            if on_failure {
                add(&mut keys.on_failure, channel);
            }
            if on_retry {
                add(&mut keys.on_retry, channel);
            }
        }
        if is_own(email_kw) {
            let defaults: Vec<&str> = ["email_on_failure", "email_on_retry"]
                .into_iter()
                .filter(|n| merged.get(n).is_none())
                .collect();
            let why = match &channel {
                None => "email_on_failure and email_on_retry are False, so Airflow sends no e-mail; not carried over".to_string(),
                Some(channel) if named.is_empty() => format!(
                    "email_on_failure and email_on_retry are False, but Airflow e-mails missed SLAs to it: it became the channel `{channel}` (its table is below), named by `deadline`; its SMTP server is in {SMTP_CFG}, not in the DAG file: fill in the channel's variables"
                ),
                Some(channel) => {
                    let mut why = format!(
                        "became the channel `{channel}` (its table is below), named by {}",
                        named
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    );
                    if !defaults.is_empty() {
                        why.push_str(&format!(
                            ": {} {} not set and Airflow defaults {} to True (unless airflow.cfg's [email] default_email_on_failure / default_email_on_retry say otherwise)",
                            defaults.join(" and "),
                            if defaults.len() == 1 { "is" } else { "are" },
                            if defaults.len() == 1 { "it" } else { "both" }
                        ));
                    }
                    why.push_str(&format!(
                        "; its SMTP server is in {SMTP_CFG}, not in the DAG file: fill in the channel's variables"
                    ));
                    why
                }
            };
            ctx.note(email_kw.line, format!("{owner}: `email`"), why);
        }
        email_channel = channel;
    }

    // callbacks
    for (arg, key) in [
        ("on_failure_callback", "on_failure"),
        ("on_retry_callback", "on_retry"),
        ("on_success_callback", "on_success"),
    ] {
        let Some(k) = merged.get(arg) else { continue };
        let names = if is_own(k) {
            callback_channels(k, key, owner, &mut keys.comments, ctx, false)
        } else {
            let quiet = std::mem::replace(&mut ctx.quiet, true);
            let names = callback_channels(k, key, owner, &mut Vec::new(), ctx, false);
            ctx.quiet = quiet;
            names
        };
        let target = match key {
            "on_failure" => &mut keys.on_failure,
            "on_retry" => &mut keys.on_retry,
            _ => &mut keys.on_success,
        };
        add_all(target, &names);
    }
    add_all(&mut keys.on_failure, &run.on_failure);
    add_all(&mut keys.on_success, &run.on_success);

    // sla: Airflow 2 e-mails a miss to the task's `email` and calls the
    // DAG's sla_miss_callback, measured from the end of the data interval
    if let Some(k) = merged
        .get("sla")
        .filter(|k| !matches!(k.value, Value::None))
    {
        let own_sla = is_own(k);
        let mut notify = Vec::new();
        if let Some(channel) = &email_channel {
            add(&mut notify, channel);
        }
        add_all(&mut notify, &run.sla_miss);
        let what = format!("{owner}: `sla`");
        match (&k.value, ctx.version) {
            (_, AirflowVersion::V3) => {
                if own_sla {
                    ctx.note(
                        k.line,
                        what,
                        "Airflow 3 has no SLAs (Deadline Alerts replaced them) and ignores it; not carried over".to_string(),
                    );
                }
            }
            (Value::TimeDelta(d), _) if d.micros > 0 && !notify.is_empty() => {
                if own_sla {
                    ctx.note(
                        k.line,
                        what,
                        format!(
                            "became `deadline: {{after: {}, from: data_interval_end, notify: {}}}`: Airflow 2 measures an SLA from the end of the data interval; airless alerts once when the {} has not finished by then",
                            d.text,
                            list(&notify),
                            if owner == "default_args" { "run" } else { "task" }
                        ),
                    );
                }
                keys.deadline = Some((d.text.clone(), notify));
            }
            (Value::TimeDelta(d), _) if d.micros > 0 => {
                if own_sla {
                    ctx.note(
                        k.line,
                        what,
                        format!(
                            "no `email` or sla_miss_callback notifier to tell, so Airflow only records a miss in its UI; not carried over (write `deadline: {{after: {}, from: data_interval_end, notify: [CHANNEL]}}` to be told)",
                            d.text
                        ),
                    );
                }
            }
            (other, _) => {
                if own_sla {
                    let why = match other {
                        Value::Unknown(why) => why.clone(),
                        other => format!("it is {}", other.describe()),
                    };
                    ctx.note(k.line, what, format!("{why}; not carried over"));
                }
            }
        }
    }
    keys
}

/// The keys as YAML entries: all of them for a DAG (`base` empty), or for a
/// task those that differ from its DAG's (`[]` silences one the DAG sets).
pub fn entries(keys: &AlertKeys, base: Option<&AlertKeys>) -> Vec<(String, Node, Option<String>)> {
    let mut out = Vec::new();
    for (key, names, dag) in [
        ("on_failure", &keys.on_failure, base.map(|b| &b.on_failure)),
        ("on_retry", &keys.on_retry, base.map(|b| &b.on_retry)),
        ("on_success", &keys.on_success, base.map(|b| &b.on_success)),
    ] {
        let write = match dag {
            None => !names.is_empty(),
            Some(dag) => dag != names,
        };
        if write {
            out.push((key.to_string(), seq(names), None));
        }
    }
    if let Some((after, notify)) = &keys.deadline
        && base.and_then(|b| b.deadline.as_ref()) != keys.deadline.as_ref()
    {
        out.push((
            "deadline".to_string(),
            Node::Map(vec![
                ("after".to_string(), Node::Plain(after.clone())),
                (
                    "from".to_string(),
                    Node::Plain("data_interval_end".to_string()),
                ),
                ("notify".to_string(), seq(notify)),
            ]),
            None,
        ));
    }
    out
}

fn seq(names: &[String]) -> Node {
    Node::Seq(names.iter().map(|n| Node::Str(n.clone())).collect())
}

/// The channels a callback argument names (a notifier, or a list of them);
/// anything else is noted as not carried over. `run` says the DAG's own
/// callback (its mapping is noted by the caller).
fn callback_channels(
    k: &Keyword,
    key: &str,
    owner: &str,
    comments: &mut Vec<String>,
    ctx: &mut Context<'_, '_>,
    run: bool,
) -> Vec<String> {
    let arg = k.name.as_str();
    let items = match &k.value {
        Value::List(items) => items.clone(),
        Value::None => Vec::new(),
        other => vec![other.clone()],
    };
    let what = format!("{owner}: `{arg}`");
    let mut names = Vec::new();
    for item in items {
        let reason = match item {
            Value::Notifier(n) => {
                if let Some(name) = notifier(&n, arg, &what, comments, ctx) {
                    if !run {
                        ctx.note(
                            n.line,
                            format!("{what} {}", n.name),
                            format!(
                                "became the channel `{name}` (its table is below), named by `{key}`"
                            ),
                        );
                    }
                    add(&mut names, &name);
                }
                continue;
            }
            Value::Function(index) => {
                let def = ctx.reader.functions[index].def;
                format!(
                    "`{}` (defined at line {}) is Python code; airless runs none on an alert",
                    def.name.as_str(),
                    ctx.reader.line(def)
                )
            }
            Value::Symbol(path) => {
                format!("`{path}` is Python code; airless runs none on an alert")
            }
            Value::Unknown(why) => why,
            other => format!("it is {}", other.describe()),
        };
        ctx.note(
            k.line,
            what.clone(),
            format!(
                "{reason}; not carried over: name a channel in `{key}` instead (a `webhook` channel reaches most services)"
            ),
        );
    }
    names
}

/// A provider notifier as a channel; `None` (noted) when its target is not
/// known statically.
fn notifier(
    n: &NotifierValue,
    arg: &str,
    what: &str,
    comments: &mut Vec<String>,
    ctx: &mut Context<'_, '_>,
) -> Option<String> {
    let what = format!("{what} {}", n.name);
    if n.positional > 0 {
        ctx.note(
            n.line,
            what,
            "its positional arguments are not read (write them as keywords); not carried over"
                .to_string(),
        );
        return None;
    }
    let text = |name: &str| match n.get(name) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let conn = |name: &str, default: &str| match n.get(name) {
        None | Some(Value::None) => Ok(default.to_string()),
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "its `{name}` is not known statically ({}); not carried over",
            other.describe()
        )),
    };
    let known = |result: Result<String, String>, ctx: &mut Context<'_, '_>| match result {
        Ok(value) => Some(value),
        Err(why) => {
            ctx.note(n.line, what.clone(), why);
            None
        }
    };
    let (kind, source, templates, read): (ChannelKind, String, &[&str], &[&str]) =
        match n.name.as_str() {
            "SlackWebhookNotifier" | "send_slack_webhook_notification" => {
                let conn_id = known(conn("slack_webhook_conn_id", "slack_default"), ctx)?;
                (
                    ChannelKind::Slack {
                        conn_id: conn_id.clone(),
                        api_channel: None,
                    },
                    format!("Airflow connection `{conn_id}`"),
                    &["text", "blocks", "attachments"],
                    &["slack_webhook_conn_id"],
                )
            }
            "SlackNotifier" | "send_slack_notification" => {
                let conn_id = known(conn("slack_conn_id", "slack_api_default"), ctx)?;
                let channel = known(conn("channel", "#general"), ctx)?;
                (
                    ChannelKind::Slack {
                        conn_id: conn_id.clone(),
                        api_channel: Some(channel),
                    },
                    format!("Airflow connection `{conn_id}`"),
                    &["text", "blocks", "attachments"],
                    &["slack_conn_id", "channel"],
                )
            }
            "SnsNotifier" | "send_sns_notification" => {
                let Some(Value::Str(topic_arn)) = n.get("target_arn") else {
                    let why = n
                        .get("target_arn")
                        .map_or("it has no target_arn".to_string(), |v| {
                            format!("its target_arn is not known statically ({})", v.describe())
                        });
                    ctx.note(n.line, what, format!("{why}; not carried over"));
                    return None;
                };
                let conn_id = known(conn("aws_conn_id", "aws_default"), ctx)?;
                let region = text("region_name")
                    .or_else(|| topic_arn.split(':').nth(3).map(str::to_string))
                    .filter(|r| !r.is_empty());
                (
                    ChannelKind::Sns {
                        topic_arn: topic_arn.clone(),
                        region,
                        conn_id: conn_id.clone(),
                    },
                    format!("Airflow connection `{conn_id}`"),
                    &["message", "subject", "message_attributes"],
                    &["target_arn", "aws_conn_id", "region_name"],
                )
            }
            _ => {
                // SmtpNotifier, send_smtp_notification
                let to = match n.get("to").map(recipients) {
                    Some(Ok(to)) if !to.is_empty() => to,
                    Some(Err(why)) => {
                        ctx.note(n.line, what, format!("its `to` {why}; not carried over"));
                        return None;
                    }
                    _ => {
                        ctx.note(n.line, what, "it has no `to`; not carried over".to_string());
                        return None;
                    }
                };
                let conn_id = known(conn("smtp_conn_id", "smtp_default"), ctx)?;
                (
                    ChannelKind::Email {
                        to,
                        from: text("from_email"),
                    },
                    format!("Airflow connection `{conn_id}`"),
                    &["subject", "html_content", "template"],
                    &["to", "from_email", "smtp_conn_id"],
                )
            }
        };
    let mut kept = Vec::new();
    for name in templates {
        if let Some(value) = n.get(name) {
            let shown = match value {
                Value::Str(s) => s.clone(),
                other => other.describe(),
            };
            comments.push(format!(
                "Airflow's {arg} {} {name}: {}",
                n.name,
                shown.replace('\n', "\\n")
            ));
            kept.push(format!("`{name}`"));
        }
    }
    if !kept.is_empty() {
        ctx.note(
            n.line,
            what.clone(),
            format!(
                "its {} {} kept as a comment in the YAML: airless sends its own message (DAG, task, run, state, the error and the last log lines, links)",
                kept.join(", "),
                if kept.len() == 1 { "is" } else { "are" }
            ),
        );
    }
    let ignored: Vec<String> = n
        .keywords
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !templates.contains(k) && !read.contains(k))
        .map(|k| format!("`{k}`"))
        .collect();
    if !ignored.is_empty() {
        ctx.note(
            n.line,
            what,
            format!("{} not carried over", ignored.join(", ")),
        );
    }
    Some(ctx.channels.name_for(kind, &source, ctx.dag_id))
}

/// Addresses from `email=` / `to=`: a string (Airflow splits it on `,` and
/// `;`) or a list of strings.
fn recipients(value: &Value) -> Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split([',', ';'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    };
    match value {
        Value::None => Ok(Vec::new()),
        Value::Str(s) => Ok(split(s)),
        Value::List(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Str(s) => out.extend(split(s)),
                    Value::Unknown(why) => return Err(why.clone()),
                    other => return Err(format!("holds {}", other.describe())),
                }
            }
            out.dedup();
            Ok(out)
        }
        Value::Unknown(why) => Err(why.clone()),
        other => Err(format!("is {}", other.describe())),
    }
}

fn add(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
    }
}

fn add_all(names: &mut Vec<String>, more: &[String]) {
    for name in more {
        add(names, name);
    }
}

fn list(names: &[String]) -> String {
    format!("[{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_split_as_airflow_splits_them() {
        assert_eq!(
            recipients(&Value::Str("a@x.io, b@x.io;c@x.io".into())).unwrap(),
            vec!["a@x.io", "b@x.io", "c@x.io"]
        );
        assert_eq!(
            recipients(&Value::List(vec![Value::Str("a@x.io".into())])).unwrap(),
            vec!["a@x.io"]
        );
        assert!(recipients(&Value::Unknown("`x` is computed".into())).is_err());
    }

    #[test]
    fn a_task_writes_only_the_keys_that_differ_from_its_dag() {
        let dag = AlertKeys {
            on_failure: vec!["email".into()],
            on_retry: vec!["email".into()],
            ..AlertKeys::default()
        };
        let task = AlertKeys {
            on_failure: vec!["email".into()],
            ..AlertKeys::default()
        };
        let written = entries(&task, Some(&dag));
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].0, "on_retry");
        assert_eq!(written[0].1, Node::Seq(vec![]));
        assert_eq!(entries(&dag, None).len(), 2);
    }
}
