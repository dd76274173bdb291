//! The notification channels ported DAGs name: each distinct Airflow e-mail
//! list or notifier becomes one `[notify.NAME]` table for airless.toml,
//! named by its kind (`email`, `email-2`, `slack`, …). What DAG files do not
//! say (SMTP servers, webhook URLs, credentials) is a `${ENV}` placeholder
//! with a comment saying where Airflow keeps it. No I/O.

/// What a channel sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// E-mail over SMTP to `to`.
    Email {
        to: Vec<String>,
        from: Option<String>,
    },
    /// A Slack incoming webhook, whose URL Airflow keeps in a connection.
    Slack {
        conn_id: String,
        /// For Airflow's Slack API notifier: the channel it posted to.
        api_channel: Option<String>,
    },
    /// An AWS SNS topic.
    Sns {
        topic_arn: String,
        region: Option<String>,
        conn_id: String,
    },
}

impl ChannelKind {
    fn base_name(&self) -> &'static str {
        match self {
            ChannelKind::Email { .. } => "email",
            ChannelKind::Slack { .. } => "slack",
            ChannelKind::Sns { .. } => "sns",
        }
    }
}

/// One `[notify.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// Where Airflow keeps what the DAG files do not say (the SMTP server,
    /// the connection), one line each.
    pub sources: Vec<String>,
    /// The DAGs that name it.
    pub dags: Vec<String>,
}

/// Every channel of a port, in the order first needed.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    pub list: Vec<Channel>,
}

impl Channels {
    /// The name of the channel for `kind`, added when new: the first of a
    /// kind is called by the kind (`email`), the next ones `email-2`, ….
    /// `source` says where Airflow keeps the rest of its settings.
    pub fn name_for(&mut self, kind: ChannelKind, source: &str, dag_id: &str) -> String {
        let index = match self.list.iter().position(|c| c.kind == kind) {
            Some(index) => index,
            None => {
                let base = kind.base_name();
                let same = self
                    .list
                    .iter()
                    .filter(|c| c.kind.base_name() == base)
                    .count();
                let name = if same == 0 {
                    base.to_string()
                } else {
                    format!("{base}-{}", same + 1)
                };
                self.list.push(Channel {
                    name,
                    kind,
                    sources: Vec::new(),
                    dags: Vec::new(),
                });
                self.list.len() - 1
            }
        };
        let channel = &mut self.list[index];
        if !channel.sources.iter().any(|s| s == source) {
            channel.sources.push(source.to_string());
        }
        if !channel.dags.iter().any(|d| d == dag_id) {
            channel.dags.push(dag_id.to_string());
        }
        channel.name.clone()
    }

    /// The `[notify.NAME]` tables as TOML, with comments; empty when no DAG
    /// names a channel.
    pub fn toml(&self) -> String {
        let mut out = String::new();
        for (i, channel) in self.list.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            render(channel, &mut out);
        }
        out
    }
}

fn render(channel: &Channel, out: &mut String) {
    let env = env_name(&channel.name);
    out.push_str(&format!("# named by: {}\n", channel.dags.join(", ")));
    match &channel.kind {
        ChannelKind::Email { to, from } => {
            for source in &channel.sources {
                out.push_str(&format!("# the SMTP server: {source}\n"));
            }
            out.push_str(
                "# (DAG files do not say it: fill in the variables, or write the values here)\n",
            );
            out.push_str(&format!("[notify.{}]\n", channel.name));
            out.push_str("kind = \"email\"\n");
            out.push_str(&format!("to = {}\n", toml_list(to)));
            match from {
                Some(from) => out.push_str(&format!("from = {}\n", toml_str(from))),
                None => out.push_str(
                    "from = \"${AIRLESS_SMTP_FROM}\"  # Airflow's [smtp] smtp_mail_from, or the connection's from_email\n",
                ),
            }
            out.push_str("smtp_host = \"${AIRLESS_SMTP_HOST}\"\n");
            out.push_str("smtp_port = 587  # Airflow's default is 25\n");
            out.push_str("tls = \"starttls\"  # Airflow's smtp_starttls (default True)\n");
            out.push_str("username = \"${AIRLESS_SMTP_USERNAME}\"\n");
            out.push_str("password = \"${AIRLESS_SMTP_PASSWORD}\"\n");
        }
        ChannelKind::Slack {
            conn_id,
            api_channel,
        } => {
            match api_channel {
                Some(slack_channel) => out.push_str(&format!(
                    "# Airflow posted to {slack_channel} with the Slack API token of connection `{conn_id}`;\n# airless posts to an incoming webhook: create one for {slack_channel} and set {env}_WEBHOOK_URL to its URL\n"
                )),
                None => out.push_str(&format!(
                    "# the webhook URL is in Airflow connection `{conn_id}` (its password, or host + password): set {env}_WEBHOOK_URL to it\n"
                )),
            }
            out.push_str(&format!("[notify.{}]\n", channel.name));
            out.push_str("kind = \"slack\"\n");
            out.push_str(&format!("url = \"${{{env}_WEBHOOK_URL}}\"\n"));
        }
        ChannelKind::Sns {
            topic_arn,
            region,
            conn_id,
        } => {
            out.push_str(&format!(
                "# AWS credentials come from the standard chain (environment, profile, instance role); Airflow used connection `{conn_id}`\n"
            ));
            out.push_str(&format!("[notify.{}]\n", channel.name));
            out.push_str("kind = \"sns\"\n");
            out.push_str(&format!("topic_arn = {}\n", toml_str(topic_arn)));
            match region {
                Some(region) => out.push_str(&format!("region = {}\n", toml_str(region))),
                None => out.push_str("region = \"${AWS_REGION}\"\n"),
            }
        }
    }
}

/// `slack-2` → `AIRLESS_SLACK_2`.
fn env_name(channel: &str) -> String {
    let upper: String = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("AIRLESS_{upper}")
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn toml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &[&str]) -> ChannelKind {
        ChannelKind::Email {
            to: to.iter().map(ToString::to_string).collect(),
            from: None,
        }
    }

    #[test]
    fn a_channel_is_named_by_its_kind_and_numbered_when_another_of_its_kind_differs() {
        let mut channels = Channels::default();
        assert_eq!(channels.name_for(email(&["a@x.io"]), "cfg", "one"), "email");
        assert_eq!(
            channels.name_for(email(&["b@x.io"]), "cfg", "one"),
            "email-2"
        );
        assert_eq!(channels.name_for(email(&["a@x.io"]), "cfg", "two"), "email");
        let slack = ChannelKind::Slack {
            conn_id: "slack_default".into(),
            api_channel: None,
        };
        assert_eq!(channels.name_for(slack, "conn", "two"), "slack");
        assert_eq!(channels.list[0].dags, vec!["one", "two"]);
    }

    #[test]
    fn the_tables_read_back_as_toml_with_placeholders_for_what_dag_files_do_not_say() {
        let mut channels = Channels::default();
        channels.name_for(email(&["a@x.io", "b\"@x.io"]), "airflow.cfg", "d");
        channels.name_for(
            ChannelKind::Slack {
                conn_id: "slack_alerts".into(),
                api_channel: None,
            },
            "conn",
            "d",
        );
        channels.name_for(
            ChannelKind::Sns {
                topic_arn: "arn:aws:sns:eu-west-1:1:t".into(),
                region: Some("eu-west-1".into()),
                conn_id: "aws_default".into(),
            },
            "conn",
            "d",
        );
        let text = channels.toml();
        let back: toml::Table = toml::from_str(&text).unwrap();
        let notify = back["notify"].as_table().unwrap();
        assert_eq!(notify["email"]["to"][1].as_str(), Some("b\"@x.io"));
        assert_eq!(
            notify["email"]["smtp_host"].as_str(),
            Some("${AIRLESS_SMTP_HOST}")
        );
        assert_eq!(
            notify["slack"]["url"].as_str(),
            Some("${AIRLESS_SLACK_WEBHOOK_URL}")
        );
        assert_eq!(notify["sns"]["region"].as_str(), Some("eu-west-1"));
    }
}
