//! Slack through an incoming webhook: one POST of `{"text": …}` in Slack's
//! mrkdwn, the subject bold on the first line and each `label: URL` line of
//! the text turned into a `<URL|label>` link. Slack answers 429 with
//! `Retry-After` when it throttles.

use serde_json::json;

use super::config::SlackConfig;
use super::{Channel, DeliveryError, Message, http};

/// A Slack incoming webhook; its URL is a secret and never shown.
pub struct SlackChannel {
    name: String,
    url: reqwest::Url,
    client: reqwest::Client,
}

impl SlackChannel {
    /// Errors: the URL is not http(s).
    pub fn new(name: &str, config: &SlackConfig) -> Result<SlackChannel, String> {
        Ok(SlackChannel {
            name: name.to_owned(),
            url: http::parse_url("url", &config.url)?,
            client: http::client()?,
        })
    }
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackChannel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Channel for SlackChannel {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let body = json!({ "text": mrkdwn(message) });
        http::deliver(self.client.post(self.url.clone()).json(&body)).await
    }
}

/// The message in Slack's mrkdwn: `*subject*`, then the text with `&`, `<`
/// and `>` escaped (Slack's control characters) and link lines as links.
pub fn mrkdwn(message: &Message) -> String {
    let mut out = format!("*{}*\n", escape(message.subject.trim()));
    for line in message.text.lines() {
        out.push_str(&link_line(line).unwrap_or_else(|| escape(line)));
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// `  run: https://…` as `  <https://…|run>`; `None` for other lines.
fn link_line(line: &str) -> Option<String> {
    let indent = &line[..line.len() - line.trim_start().len()];
    let (label, url) = line.trim_start().split_once(": ")?;
    let url = url.trim();
    let is_url = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace);
    if !is_url || label.is_empty() || label.contains(['<', '>', '|']) {
        return None;
    }
    let url = url
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C");
    Some(format!("{indent}<{url}|{}>", escape(label)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{Alert, AlertEvent};

    #[test]
    fn the_subject_is_bold_and_urls_are_links() {
        let mut alert = Message::sample(chrono::Utc::now()).alerts[0].clone();
        alert.run_url = Some("http://airless:8080/dags/d/runs/r?x=1&y=2".into());
        alert.error = Some("x < y & z".into());
        let text = mrkdwn(&Message::new(vec![alert]));
        assert!(
            text.starts_with("*[airless] failure: airless_test.notify_test"),
            "{text}"
        );
        assert!(
            text.contains("  <http://airless:8080/dags/d/runs/r?x=1&y=2|run>"),
            "{text}"
        );
        assert!(text.contains("error: x &lt; y &amp; z"), "{text}");
    }

    #[test]
    fn a_line_that_is_not_a_link_stays_text() {
        assert_eq!(link_line("  error: see https://x y"), None);
        assert_eq!(link_line("plain"), None);
        let alert = Alert {
            event: AlertEvent::Recovery,
            ..Message::sample(chrono::Utc::now()).alerts[0].clone()
        };
        assert!(mrkdwn(&Message::new(vec![alert])).starts_with("*[airless] recovery"));
    }
}
