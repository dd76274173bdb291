//! Events across `serve` peers on a shared database (PostgreSQL): what this
//! process commits is sent to the others in batches (`NOTIFY`), and what
//! they commit is published here as if it happened here — the web UI's live
//! views and the alerts see every node's changes, and a run queued or ended
//! on another node wakes this scheduler at once. Best effort: a lost
//! notification costs a live update, never state (the store is the truth,
//! and the scheduler still polls).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Control, Launcher};
use crate::model::Event;

/// PostgreSQL's payload limit is 8,000 bytes; stay under it.
const PAYLOAD_LIMIT: usize = 7_900;

/// Events taken from the queue per batch at most.
const BATCH: usize = 512;

/// A try's error is cut to this many characters on its way to peers.
const TEXT_LIMIT: usize = 2_000;

/// One event and the owner that committed it.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    event: Event,
}

/// Bridges this process's events and its peers' until `stop` fires. Does
/// nothing on a database without peers (SQLite).
pub async fn bridge(launcher: Launcher, stop: CancellationToken) {
    let control = launcher.control().clone();
    let Some(outgoing) = control.take_outgoing() else {
        return;
    };
    let incoming = match control.listen_to_peers().await {
        Ok(incoming) => incoming,
        Err(err) => {
            tracing::warn!(
                "cannot listen to peers' events (live views show this node's only): {err}"
            );
            None
        }
    };
    let send = tokio::spawn(send_to_peers(control.clone(), outgoing, stop.clone()));
    if let Some(incoming) = incoming {
        receive_from_peers(launcher, incoming, stop).await;
    } else {
        stop.cancelled().await;
    }
    let _ = send.await;
}

/// Sends this process's events in batches, packed into payloads under
/// PostgreSQL's limit.
async fn send_to_peers(
    control: Control,
    mut outgoing: mpsc::Receiver<Event>,
    stop: CancellationToken,
) {
    let me = control.owner().id.clone();
    let mut batch = Vec::with_capacity(BATCH);
    let mut warned_at: Option<DateTime<Utc>> = None;
    loop {
        batch.clear();
        tokio::select! {
            n = outgoing.recv_many(&mut batch, BATCH) => if n == 0 { return },
            () = stop.cancelled() => return,
        }
        let payloads = pack(&me, batch.drain(..));
        if let Err(err) = control.notify_peers(&payloads).await {
            // at most one warning a minute while the database is away
            let now = control.now();
            if warned_at.is_none_or(|at| now - at > chrono::Duration::minutes(1)) {
                warned_at = Some(now);
                tracing::warn!("cannot send events to peers (their live views lag): {err}");
            }
        }
    }
}

/// Publishes peers' events here; wakes the scheduler for work they queued
/// or freed, and re-plans when they paused or unpaused a DAG.
async fn receive_from_peers(
    launcher: Launcher,
    mut incoming: mpsc::Receiver<String>,
    stop: CancellationToken,
) {
    let me = launcher.control().owner().id.clone();
    loop {
        let payload = tokio::select! {
            payload = incoming.recv() => match payload {
                Some(payload) => payload,
                None => return,
            },
            () = stop.cancelled() => return,
        };
        let Ok(envelopes) = serde_json::from_str::<Vec<Envelope>>(&payload) else {
            tracing::debug!("ignored a peer payload that is not a list of events");
            continue;
        };
        for Envelope { from, event } in envelopes {
            if from == me {
                continue;
            }
            match &event {
                Event::RunQueued { .. } | Event::RunFinished { .. } => launcher.wake().notify_one(),
                Event::DagPaused { .. } | Event::DagUnpaused { .. } => launcher.reschedule(),
                _ => {}
            }
            launcher.control().publish_from_peer(event);
        }
    }
}

/// JSON arrays of envelopes, each under [`PAYLOAD_LIMIT`] bytes. Long
/// errors are shortened; an event still too large alone is left out, and
/// so are import errors (each node sees its own folder's).
fn pack(from: &str, events: impl Iterator<Item = Event>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::from("[");
    for event in events {
        // every node loads the same DAG folder and sees its import errors
        // itself; sent on, the alert sender would record each one twice
        if matches!(
            event,
            Event::ImportErrorAppeared { .. } | Event::ImportErrorCleared { .. }
        ) {
            continue;
        }
        let envelope = Envelope {
            from: from.to_string(),
            event: shorten(event),
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            continue;
        };
        if json.len() + 2 > PAYLOAD_LIMIT {
            continue;
        }
        if current.len() + json.len() + 2 > PAYLOAD_LIMIT {
            current.push(']');
            payloads.push(std::mem::replace(&mut current, String::from("[")));
        }
        if current.len() > 1 {
            current.push(',');
        }
        current.push_str(&json);
    }
    if current.len() > 1 {
        current.push(']');
        payloads.push(current);
    }
    payloads
}

fn shorten(event: Event) -> Event {
    let cut = |text: String| -> String {
        if text.chars().count() <= TEXT_LIMIT {
            text
        } else {
            let mut short: String = text.chars().take(TEXT_LIMIT).collect();
            short.push('…');
            short
        }
    };
    match event {
        Event::TryEnded {
            dag_id,
            run_id,
            task_id,
            try_number,
            state,
            error,
            log_path,
            at,
        } => Event::TryEnded {
            dag_id,
            run_id,
            task_id,
            try_number,
            state,
            error: error.map(cut),
            log_path,
            at,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DagId, RunId, TaskId, TaskState};

    fn ended(error: &str) -> Event {
        Event::TryEnded {
            dag_id: DagId::new("d"),
            run_id: RunId::new("r"),
            task_id: TaskId::new("t"),
            try_number: 1,
            state: TaskState::Failed,
            error: Some(error.to_string()),
            log_path: "/l".into(),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn payloads_stay_under_the_limit_and_keep_every_event() {
        let events: Vec<Event> = (0..500).map(|i| ended(&format!("boom {i}"))).collect();
        let payloads = pack("me", events.clone().into_iter());
        assert!(payloads.len() > 1, "500 events need several payloads");
        let mut back = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= PAYLOAD_LIMIT, "{} bytes", payload.len());
            let envelopes: Vec<Envelope> = serde_json::from_str(payload).unwrap();
            back.extend(envelopes.into_iter().map(|e| e.event));
        }
        assert_eq!(back, events);
    }

    #[test]
    fn a_long_error_is_shortened_not_dropped() {
        let payloads = pack("me", std::iter::once(ended(&"x".repeat(50_000))));
        assert_eq!(payloads.len(), 1);
        let envelopes: Vec<Envelope> = serde_json::from_str(&payloads[0]).unwrap();
        match &envelopes[0].event {
            Event::TryEnded { error: Some(e), .. } => {
                assert_eq!(e.chars().count(), TEXT_LIMIT + 1)
            }
            other => panic!("{other:?}"),
        }
    }
}
