//! Where `emulate` sends posts: the Kafka REST Proxy (batched), API Gateway
//! → Kinesis (one record per request), or straight into a local lake folder
//! (a folder or S3) in the S3 sink connector's layout.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::clients::kafka_rest::KafkaRestClient;
use crate::clients::kinesis_rest::KinesisRestClient;
use crate::dag::spec::SinkSpec;
use crate::kinds::{TaskContext, TaskError, error_chain, lake};

pub enum Sink {
    Kafka {
        client: KafkaRestClient,
        batch_size: usize,
        pending: BTreeMap<String, Vec<Value>>,
    },
    Kinesis {
        client: KinesisRestClient,
    },
    Lake {
        lake: lake::Lake,
        flush_size: usize,
        pending: BTreeMap<String, Vec<Value>>,
    },
}

impl Sink {
    pub async fn open(
        spec: &SinkSpec,
        flush_size: usize,
        ctx: &TaskContext,
    ) -> Result<Sink, TaskError> {
        Ok(match spec {
            SinkSpec::KafkaRest { url, batch_size } => Sink::Kafka {
                client: KafkaRestClient::new(url, ctx.http.clone())
                    .map_err(|e| TaskError::transient(e.to_string()))?,
                batch_size: (*batch_size).max(1),
                pending: BTreeMap::new(),
            },
            SinkSpec::KinesisRest { url } => Sink::Kinesis {
                client: KinesisRestClient::new(url, ctx.http.clone())
                    .map_err(|e| TaskError::transient(e.to_string()))?,
            },
            SinkSpec::Dir { .. } | SinkSpec::S3 { .. } => Sink::Lake {
                lake: lake::Lake::open(spec).await?,
                flush_size: flush_size.max(1),
                pending: BTreeMap::new(),
            },
        })
    }

    /// Sends (or buffers) one record for `topic`; `key` partitions Kinesis records.
    pub async fn send(&mut self, topic: &str, record: Value, key: &str) -> Result<(), TaskError> {
        match self {
            Sink::Kafka {
                client,
                batch_size,
                pending,
            } => {
                let batch = pending.entry(topic.to_string()).or_default();
                batch.push(record);
                if batch.len() >= *batch_size {
                    let records = std::mem::take(batch);
                    produce(client, topic, &records).await?;
                }
            }
            Sink::Kinesis { client } => {
                client.put_record(topic, &record, key).await.map_err(|e| {
                    TaskError::transient(format!(
                        "sending to Kinesis stream `{topic}` failed: {}",
                        error_chain(&e)
                    ))
                })?;
            }
            Sink::Lake {
                lake,
                flush_size,
                pending,
            } => {
                let batch = pending.entry(topic.to_string()).or_default();
                batch.push(record);
                if batch.len() >= *flush_size {
                    let records = std::mem::take(batch);
                    lake.append(topic, &records).await?;
                }
            }
        }
        Ok(())
    }

    /// Sends what is buffered.
    pub async fn flush(&mut self) -> Result<(), TaskError> {
        match self {
            Sink::Kafka {
                client, pending, ..
            } => {
                for (topic, records) in std::mem::take(pending) {
                    if !records.is_empty() {
                        produce(client, &topic, &records).await?;
                    }
                }
            }
            Sink::Kinesis { .. } => {}
            Sink::Lake { lake, pending, .. } => {
                for (topic, records) in std::mem::take(pending) {
                    if !records.is_empty() {
                        lake.append(&topic, &records).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn produce(
    client: &KafkaRestClient,
    topic: &str,
    records: &[Value],
) -> Result<(), TaskError> {
    client
        .produce(topic, records)
        .await
        .map(|_| ())
        .map_err(|e| {
            TaskError::transient(format!(
                "producing to topic `{topic}` failed: {}",
                error_chain(&e)
            ))
        })
}
