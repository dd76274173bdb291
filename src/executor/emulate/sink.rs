//! Where `emulate` sends posts: the Kafka REST Proxy (batched), API Gateway
//! → Kinesis (one record per request), or straight into a local lake folder
//! in the S3 sink connector's layout (`lake::object_key`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::clients::kafka_rest::KafkaRestClient;
use crate::clients::kinesis_rest::KinesisRestClient;
use crate::dag::spec::EmulateSink;
use crate::executor::{TaskContext, TaskError, lake};

pub enum Sink {
    Kafka {
        client: KafkaRestClient,
        batch_size: usize,
        pending: BTreeMap<String, Vec<Value>>,
    },
    Kinesis {
        client: KinesisRestClient,
    },
    Dir {
        lake: lake::DirLake,
        flush_size: usize,
        pending: BTreeMap<String, Vec<Value>>,
    },
}

impl Sink {
    pub fn open(spec: &EmulateSink, ctx: &TaskContext) -> Result<Sink, TaskError> {
        Ok(match spec {
            EmulateSink::KafkaRest { url, batch_size } => Sink::Kafka {
                client: KafkaRestClient::new(url, ctx.http.clone())
                    .map_err(|e| TaskError::failed(e.to_string()))?,
                batch_size: (*batch_size).max(1),
                pending: BTreeMap::new(),
            },
            EmulateSink::KinesisRest { url } => Sink::Kinesis {
                client: KinesisRestClient::new(url, ctx.http.clone())
                    .map_err(|e| TaskError::failed(e.to_string()))?,
            },
            EmulateSink::Dir {
                path,
                prefix,
                flush_size,
            } => Sink::Dir {
                lake: lake::DirLake::new(PathBuf::from(path), prefix.clone()),
                flush_size: (*flush_size).max(1),
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
                    TaskError::failed(format!(
                        "sending to Kinesis stream `{topic}` failed: {}",
                        chain(&e)
                    ))
                })?;
            }
            Sink::Dir {
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
            Sink::Dir { lake, pending, .. } => {
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
            TaskError::failed(format!(
                "producing to topic `{topic}` failed: {}",
                chain(&e)
            ))
        })
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
