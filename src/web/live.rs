//! `/ui/events`: the command door's events as server-sent events, so an
//! open page refreshes its live part when something it shows changes. A
//! page names its DAG (and run); the DAGs page takes every event. The
//! page's script closes the stream while its tab is hidden.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, ReceiverStream};

use super::WebState;
use crate::model::Event;

#[derive(Debug, Default, Deserialize)]
pub struct LiveQuery {
    dag_id: Option<String>,
    run_id: Option<String>,
}

fn concerns(event: &Event, query: &LiveQuery) -> bool {
    let dag_matches = match (&query.dag_id, event.dag_id()) {
        (None, _) => true,
        (Some(wanted), Some(dag_id)) => wanted == dag_id.as_str(),
        (Some(_), None) => false,
    };
    let run_matches = match (&query.run_id, event.run_id()) {
        (None, _) => true,
        (Some(wanted), Some(run_id)) => wanted == run_id.as_str(),
        // a pause concerns the DAG's runs too
        (Some(_), None) => true,
    };
    dag_matches && run_matches
}

pub async fn events(
    State(web): State<WebState>,
    Query(query): Query<LiveQuery>,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    // events are forwarded until the client leaves or the daemon shuts
    // down: then the stream ends, so an open tab never holds a stop for the
    // whole grace period (the browser reconnects to the next daemon)
    let (sender, receiver) = tokio::sync::mpsc::channel::<SseEvent>(16);
    let mut events = BroadcastStream::new(web.app.control().subscribe());
    let stop = web.app.launcher.shutting_down();
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                () = stop.cancelled() => break,
                () = sender.closed() => break,
                next = events.next() => next,
            };
            let change = match next {
                None => break,
                Some(Ok(event)) if concerns(&event, &query) => "changed",
                Some(Ok(_)) => continue,
                // events were missed: refresh anyway
                Some(Err(BroadcastStreamRecvError::Lagged(_))) => "lagged",
            };
            if sender
                .send(SseEvent::default().event("change").data(change))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver).map(Ok)).keep_alive(KeepAlive::default())
}
