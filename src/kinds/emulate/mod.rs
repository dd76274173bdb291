//! `emulate`: replaces the hand-run `user_posting_emulation.py`. Each post is
//! the row at one offset in every source table (`index == ind`), chosen as
//! the original script chooses it (`sampler: python`: Python's `random`, bit
//! for bit, including the draw of its sleep), and sent to the sink. Output:
//! `{"posts": N, "records": {"<topic>": n, …}}`.

pub mod demo;
pub mod sampler;
mod sink;
mod source;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{TaskContext, TaskError, TaskResult};
use crate::dag::spec::{EmulateSpec, Sampler};
pub use source::redact;

/// The original script draws `random.randint(0, 11000)`.
const PYTHON_MAX_OFFSET: u64 = 11_000;

pub async fn run(spec: &EmulateSpec, ctx: &TaskContext) -> TaskResult {
    let posts = spec
        .records
        .whole("records")
        .map_err(TaskError::permanent)?;
    let seed = spec.seed.whole("seed").map_err(TaskError::permanent)?;
    let rate = spec
        .rate
        .as_ref()
        .map(|r| r.positive("rate"))
        .transpose()
        .map_err(TaskError::transient)?;
    ctx.log.line(&format!(
        "emulating {posts} post(s) from {} ({} table(s)), sampler {:?}, seed {seed}{}",
        source::redact(&spec.source),
        spec.streams.len(),
        spec.sampler,
        rate.map(|r| format!(", {r} post(s)/s")).unwrap_or_default()
    ));
    let source = source::Source::open(&spec.source).await?;
    for table in spec.streams.keys() {
        source.check_table(table).await?;
    }
    let mut sink = sink::Sink::open(&spec.sink, spec.flush_size, ctx).await?;
    let mut random = sampler::PythonRandom::seeded(seed);
    let mut counts: BTreeMap<String, u64> = spec.streams.values().map(|t| (t.clone(), 0)).collect();
    let started = tokio::time::Instant::now();
    for post in 0..posts {
        if ctx.cancel.is_cancelled() {
            return Err(TaskError::cancelled("emulation stopped"));
        }
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64(post as f64 / rate);
            tokio::select! {
                () = tokio::time::sleep_until(due) => {}
                () = ctx.cancel.cancelled() => return Err(TaskError::cancelled("emulation stopped")),
            }
        }
        let offset = match spec.sampler {
            // the script sleeps randrange(0, 2) s, then draws the row; we keep
            // the draw (so seed 100 picks its rows) and pace by `rate` instead
            Sampler::Python => random.post_draw(PYTHON_MAX_OFFSET).offset,
            Sampler::Sequential => post,
        };
        for (table, topic) in &spec.streams {
            let Some(row) = source.row(table, offset).await? else {
                return Err(TaskError::transient(format!(
                    "table `{table}` has no row at offset {offset}"
                )));
            };
            let key = format!("{table}-{offset}");
            sink.send(topic, Value::Object(row), &key).await?;
            if let Some(n) = counts.get_mut(topic) {
                *n += 1;
            }
        }
    }
    sink.flush().await?;
    ctx.log.line(&format!("sent {posts} post(s): {counts:?}"));
    Ok(json!({ "posts": posts, "records": counts }))
}
