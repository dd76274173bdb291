//! `/ui/events`: the command door's events as server-sent events, so an
//! open page refreshes its live part when something it shows changes. A
//! page names its DAG (and run); the DAGs page takes every event. The
//! page's script closes the stream while its tab is hidden.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

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
    let stream = BroadcastStream::new(web.app.control().subscribe()).filter_map(move |event| {
        match event {
            Ok(event) if concerns(&event, &query) => {
                Some(Ok(SseEvent::default().event("change").data("changed")))
            }
            Ok(_) => None,
            // events were missed: refresh anyway
            Err(BroadcastStreamRecvError::Lagged(_)) => {
                Some(Ok(SseEvent::default().event("change").data("lagged")))
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
