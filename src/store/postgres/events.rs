//! Peers' events over `LISTEN`/`NOTIFY`: one channel per schema (so
//! databases shared by several installations, or tests in schemas of one
//! database, never hear each other), and the task that keeps listening
//! across lost connections.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;

use crate::store::StoreError;

/// Payloads waiting for the receiver, at most; more are dropped (events
/// are hints: a peer reads the state itself).
const CAPACITY: usize = 1024;

/// The longest wait between two attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The `NOTIFY` channel of the peers on `schema`: an identifier, so at most
/// 63 bytes (PostgreSQL's NAMEDATALEN - 1), cut on a character boundary.
pub(super) fn channel(schema: &str) -> String {
    let mut name = format!("airless_events_{schema}");
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

/// Starts listening on `channel` (before returning: a payload notified
/// after this returns is received) and forwards what arrives until the
/// receiver is dropped.
pub(super) async fn listen(
    options: &PgConnectOptions,
    channel: &str,
    location: &str,
) -> Result<mpsc::Receiver<String>, StoreError> {
    // its own connection: the listener keeps it for as long as it lives,
    // and it must not take one of the store's
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options.clone());
    let listener = subscribe(&pool, channel)
        .await
        .map_err(|err| StoreError::Open {
            path: location.to_string(),
            message: format!("cannot listen for peers' events: {err}"),
        })?;
    let (sender, receiver) = mpsc::channel(CAPACITY);
    tokio::spawn(forward(pool, channel.to_string(), listener, sender));
    Ok(receiver)
}

async fn subscribe(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

async fn forward(
    pool: PgPool,
    channel: String,
    listener: PgListener,
    sender: mpsc::Sender<String>,
) {
    let mut listener = Some(listener);
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(active) = listener.as_mut() else {
            tokio::select! {
                _ = sender.closed() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match subscribe(&pool, &channel).await {
                Ok(fresh) => listener = Some(fresh),
                Err(err) => {
                    tracing::warn!(%channel, error = %err, "cannot listen for peers' events yet");
                }
            }
            continue;
        };
        let received = tokio::select! {
            _ = sender.closed() => break,
            received = active.recv() => received,
        };
        match received {
            Ok(notification) => {
                backoff = Duration::from_millis(100);
                match sender.try_send(notification.payload().to_string()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::debug!(%channel, "dropped a peer's event: the receiver is behind");
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            Err(err) => {
                // the listener reconnects a dropped connection by itself;
                // anything else (the server restarting, refusing) gets a
                // fresh listener, its connection given back first, tried
                // again with backoff until it works
                tracing::warn!(
                    %channel,
                    error = %err,
                    "lost the connection that listens for peers' events; listening again"
                );
                listener = None;
            }
        }
    }
    drop(listener);
    pool.close().await;
}
