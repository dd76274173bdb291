//! `airless notify test NAME`: sends a sample alert through one channel of
//! airless.toml, so a team sees it arrive (and a mistake in the table, or a
//! refused delivery, in words) before a real failure needs it.

use std::collections::BTreeMap;

use clap::Subcommand;

use crate::config::Config;
use crate::notify::{DeliveryError, Message};

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a sample alert through the channel `[notify.NAME]`.
    Test {
        /// The channel's name (the NAME of `[notify.NAME]`).
        name: String,
    },
}

pub async fn run(
    command: NotifyCommand,
    config: &Config,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<i32> {
    let NotifyCommand::Test { name } = command;
    let Some(table) = config.notify.get(&name) else {
        let known: Vec<&str> = config.notify.keys().map(String::as_str).collect();
        eprintln!(
            "airless.toml has no [notify.{name}] table{}",
            if known.is_empty() {
                " (it configures no channels)".to_string()
            } else {
                format!("; its channels: {}", known.join(", "))
            }
        );
        return Ok(2);
    };
    let single = BTreeMap::from([(name.clone(), table.clone())]);
    let channels = match crate::notify::channels(&single, env) {
        Ok(channels) => channels,
        Err(err) => {
            eprintln!("{err}");
            return Ok(2);
        }
    };
    let Some(channel) = channels.get(&name) else {
        return Ok(2);
    };
    match channel.send(&Message::sample(chrono::Utc::now())).await {
        Ok(()) => {
            println!("sent a test alert through `{name}`");
            Ok(0)
        }
        Err(DeliveryError::Retry { message, .. }) => {
            eprintln!("`{name}` did not take the test alert (the daemon would retry): {message}");
            Ok(1)
        }
        Err(DeliveryError::Permanent(message)) => {
            eprintln!("`{name}` refused the test alert: {message}");
            Ok(1)
        }
    }
}
