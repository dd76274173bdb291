//! `ingest`: replaces MSK Connect's S3 sink. Reads each topic through a
//! Kafka REST Proxy consumer from the group's committed offset up to the end
//! offset seen at the start, writes objects of `flush_size` records whose
//! keys derive from their first offset, and commits each object's offsets
//! only after it is written: a retried or crashed ingest rewrites the same
//! keys and never duplicates a record.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::lake::Lake;
use super::{TaskContext, TaskError, TaskResult};
use crate::clients::kafka_rest::{Consumer, KafkaRestClient, KafkaRestError};
use crate::dag::spec::{IngestSource, IngestSpec};

/// How long a fetch waits for records, and how long without any record
/// before a topic that should have more is an error.
const FETCH_TIMEOUT: Duration = Duration::from_secs(1);
const STALL_LIMIT: Duration = Duration::from_secs(60);
const FETCH_MAX_BYTES: u64 = 16 * 1024 * 1024;

pub async fn run(spec: &IngestSpec, ctx: &TaskContext) -> TaskResult {
    let IngestSource::KafkaRest { url, group, topics } = &spec.source;
    let lake = Lake::open(&spec.sink).await?;
    let client = KafkaRestClient::new(url, ctx.http.clone()).map_err(kafka)?;
    let name = consumer_name(ctx);
    let consumer = client.create_consumer(group, &name).await.map_err(kafka)?;
    ctx.log.line(&format!(
        "consumer {name} in group {group} created; landing {} topic(s) in {}",
        topics.len(),
        lake.describe()
    ));
    let result = land(
        &client,
        &consumer,
        topics,
        &lake,
        spec.flush_size.max(1),
        ctx,
    )
    .await;
    // the instance goes whatever happened: a retry makes its own
    if let Err(err) = consumer.delete().await {
        ctx.log
            .line(&format!("could not delete consumer {name}: {err}"));
    }
    result
}

/// One consumer name per try, within the proxy's naming rules.
fn consumer_name(ctx: &TaskContext) -> String {
    let raw = format!(
        "airless-{}-{}-{}-{}",
        ctx.dag_id, ctx.run_id, ctx.task_id, ctx.try_number
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn kafka(err: KafkaRestError) -> TaskError {
    TaskError::transient_from(err)
}

/// Per topic: where the group stands, where the topic ends, what is buffered.
struct Progress {
    next: i64,
    end: i64,
    buffer: Vec<Value>,
    buffer_start: i64,
    landed: u64,
}

async fn land(
    client: &KafkaRestClient,
    consumer: &Consumer,
    topics: &[String],
    lake: &Lake,
    flush_size: usize,
    ctx: &TaskContext,
) -> TaskResult {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&names).await.map_err(kafka)?;
    let committed = consumer
        .committed(&names.iter().map(|t| (*t, 0)).collect::<Vec<_>>())
        .await
        .map_err(kafka)?;
    let mut progress: BTreeMap<String, Progress> = BTreeMap::new();
    for topic in topics {
        let end = client.end_offset(topic, 0).await.map_err(kafka)?;
        let next = committed
            .iter()
            .find(|c| &c.topic == topic)
            .map(|c| c.next_offset)
            .unwrap_or(0);
        ctx.log
            .line(&format!("{topic}: from offset {next} to {end}"));
        progress.insert(
            topic.clone(),
            Progress {
                next,
                end,
                buffer: Vec::new(),
                buffer_start: next,
                landed: 0,
            },
        );
    }
    let mut objects = 0u64;
    let mut last_record = tokio::time::Instant::now();
    while progress.values().any(|p| p.next < p.end) {
        if ctx.cancel.is_cancelled() {
            return Err(TaskError::cancelled(
                "ingest stopped; nothing past the last commit counts as landed",
            ));
        }
        let records = tokio::select! {
            records = consumer.fetch(FETCH_TIMEOUT, FETCH_MAX_BYTES) => records.map_err(kafka)?,
            () = ctx.cancel.cancelled() => return Err(TaskError::cancelled("ingest stopped; nothing past the last commit counts as landed")),
        };
        if records.is_empty() {
            if last_record.elapsed() > STALL_LIMIT {
                let waiting: Vec<String> = progress
                    .iter()
                    .filter(|(_, p)| p.next < p.end)
                    .map(|(t, p)| format!("{t} at {} of {}", p.next, p.end))
                    .collect();
                return Err(TaskError::transient(format!(
                    "the proxy returned no records for {}s while {} still had records",
                    STALL_LIMIT.as_secs(),
                    waiting.join(", ")
                )));
            }
            continue;
        }
        last_record = tokio::time::Instant::now();
        for record in records {
            let Some(p) = progress.get_mut(&record.topic) else {
                continue;
            };
            if record.partition != 0 || record.offset < p.next || record.offset >= p.end {
                // another partition, a record already landed, or one past the end seen at start
                continue;
            }
            if record.offset != p.next {
                return Err(TaskError::transient(format!(
                    "{}: expected offset {} but the proxy returned {}; records were skipped, so this try stops and the retry resumes from the last commit",
                    record.topic, p.next, record.offset
                )));
            }
            if p.buffer.is_empty() {
                p.buffer_start = record.offset;
            }
            p.buffer.push(record.value);
            p.next = record.offset + 1;
            if p.buffer.len() >= flush_size || p.next == p.end {
                flush(consumer, lake, &record.topic, p, ctx).await?;
                objects += 1;
            }
        }
    }
    let landed: BTreeMap<&String, u64> = progress.iter().map(|(t, p)| (t, p.landed)).collect();
    ctx.log
        .line(&format!("landed {landed:?} in {objects} object(s)"));
    Ok(json!({ "records": landed, "objects": objects }))
}

/// Writes the buffered records as one object, then commits past them.
async fn flush(
    consumer: &Consumer,
    lake: &Lake,
    topic: &str,
    p: &mut Progress,
    ctx: &TaskContext,
) -> Result<(), TaskError> {
    let records = std::mem::take(&mut p.buffer);
    lake.write(topic, 0, p.buffer_start, &records).await?;
    consumer.commit(&[(topic, 0, p.next)]).await.map_err(|err| {
        TaskError::transient(format!("{topic}: the object at offset {} is written but committing offset {} failed ({}); the retry rewrites the same object", p.buffer_start, p.next, kafka(err).describe()))
    })?;
    p.landed += records.len() as u64;
    ctx.log.line(&format!(
        "{topic}: {} record(s) from offset {} written and committed",
        records.len(),
        p.buffer_start
    ));
    Ok(())
}
