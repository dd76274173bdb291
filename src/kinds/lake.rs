//! The lake layout of Confluent's S3 sink connector, so existing Databricks
//! notebooks read it unchanged:
//! `{prefix}/{topic}/partition={p}/{topic}+{p}+{start offset, 10 digits}.json`,
//! one JSON object per line. Keys derive from offsets: rewriting the same
//! records rewrites the same keys.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::TaskError;
use crate::clients::s3::{LakeS3, S3Settings};
use crate::dag::spec::SinkSpec;

/// A lake to write objects to: a local folder or an S3 bucket.
#[derive(Debug, Clone)]
pub enum Lake {
    Dir(DirLake),
    S3 { s3: LakeS3, prefix: String },
}

impl Lake {
    /// Opens the lake of `sink`; for S3, checks the bucket first, so a
    /// missing bucket or bad credentials fail before anything is read.
    pub async fn open(sink: &SinkSpec) -> Result<Lake, TaskError> {
        match sink {
            SinkSpec::KafkaRest { .. } | SinkSpec::KinesisRest { .. } => Err(TaskError::transient(
                format!("`{}` is not a lake: use kind dir or s3", sink.kind()),
            )),
            SinkSpec::Dir { path, prefix } => {
                Ok(Lake::Dir(DirLake::new(path.into(), prefix.clone())))
            }
            SinkSpec::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                path_style,
                access_key_id,
                secret_access_key,
            } => {
                let settings = S3Settings {
                    bucket: bucket.clone(),
                    region: region.clone(),
                    endpoint: endpoint.clone(),
                    force_path_style: *path_style,
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                };
                let s3 = LakeS3::connect(&settings)
                    .await
                    .map_err(|e| TaskError::transient(e.to_string()))?;
                s3.check_bucket()
                    .await
                    .map_err(|e| TaskError::transient(e.to_string()))?;
                Ok(Lake::S3 {
                    s3,
                    prefix: prefix.clone(),
                })
            }
        }
    }

    /// Writes `records` as the next object of `topic` (partition 0), numbered
    /// after the records already there; returns the offset after them.
    pub async fn append(&self, topic: &str, records: &[Value]) -> Result<i64, TaskError> {
        match self {
            Lake::Dir(dir) => dir.append(topic, records).await,
            Lake::S3 { s3, prefix } => {
                let first = object_key(prefix, topic, 0, 0);
                let folder = first
                    .rsplit_once('/')
                    .map(|(f, _)| format!("{f}/"))
                    .unwrap_or_default();
                let keys = s3
                    .list(&folder)
                    .await
                    .map_err(|e| TaskError::transient(e.to_string()))?;
                let last = keys
                    .iter()
                    .filter_map(|k| {
                        Some((
                            k.strip_suffix(".json")?
                                .rsplit('+')
                                .next()?
                                .parse::<i64>()
                                .ok()?,
                            k,
                        ))
                    })
                    .max_by_key(|(offset, _)| *offset);
                let next = match last {
                    None => 0,
                    Some((offset, key)) => {
                        let body = s3
                            .get(key)
                            .await
                            .map_err(|e| TaskError::transient(e.to_string()))?
                            .unwrap_or_default();
                        offset
                            + body
                                .split(|b| *b == b'\n')
                                .filter(|l| !l.is_empty())
                                .count() as i64
                    }
                };
                self.write(topic, 0, next, records).await?;
                Ok(next + records.len() as i64)
            }
        }
    }

    /// Where objects go, for logs.
    pub fn describe(&self) -> String {
        match self {
            Lake::Dir(dir) => dir.root().display().to_string(),
            Lake::S3 { s3, prefix } => format!("s3://{}/{}", s3.bucket(), prefix.trim_matches('/')),
        }
    }

    /// Writes the object holding `records` from `offset` (overwriting it).
    pub async fn write(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        records: &[Value],
    ) -> Result<(), TaskError> {
        match self {
            Lake::Dir(dir) => dir.write(topic, partition, offset, records).await,
            Lake::S3 { s3, prefix } => {
                let key = object_key(prefix, topic, partition, offset);
                s3.put(&key, object_body(records))
                    .await
                    .map_err(|e| TaskError::transient(format!("writing {key}: {e}")))
            }
        }
    }
}

/// The object key of the records of `topic`/`partition` starting at `offset`.
pub fn object_key(prefix: &str, topic: &str, partition: i32, offset: i64) -> String {
    let prefix = prefix.trim_matches('/');
    let name = format!("{topic}/partition={partition}/{topic}+{partition}+{offset:010}.json");
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// One JSON object per line.
pub fn object_body(records: &[Value]) -> Vec<u8> {
    let mut body = Vec::new();
    for record in records {
        body.extend_from_slice(record.to_string().as_bytes());
        body.push(b'\n');
    }
    body
}

/// A local folder in the lake layout (partition 0, as a REST-produced topic has).
#[derive(Debug, Clone)]
pub struct DirLake {
    root: PathBuf,
    prefix: String,
}

impl DirLake {
    pub fn new(root: PathBuf, prefix: String) -> Self {
        DirLake { root, prefix }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `records` as the next object of `topic`, numbered after the
    /// records already in the folder; the file appears whole (written aside,
    /// then renamed).
    pub async fn append(&self, topic: &str, records: &[Value]) -> Result<i64, TaskError> {
        let next = self.next_offset(topic).await?;
        self.write(topic, 0, next, records).await?;
        Ok(next + records.len() as i64)
    }

    /// Writes the object holding `records` from `offset` (overwriting it).
    pub async fn write(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        records: &[Value],
    ) -> Result<(), TaskError> {
        let path = self
            .root
            .join(object_key(&self.prefix, topic, partition, offset));
        let io = |what: &str, err: std::io::Error| {
            TaskError::transient(format!("cannot {what} {}: {err}", path.display()))
        };
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io("create the folder of", e))?;
        }
        let partial = path.with_extension("json.partial");
        tokio::fs::write(&partial, object_body(records))
            .await
            .map_err(|e| io("write", e))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| io("rename into", e))?;
        Ok(())
    }

    /// The offset after the last record of `topic` in the folder.
    async fn next_offset(&self, topic: &str) -> Result<i64, TaskError> {
        let dir = self.root.join(object_key(&self.prefix, topic, 0, 0));
        let Some(dir) = dir.parent() else {
            return Ok(0);
        };
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => {
                return Err(TaskError::transient(format!(
                    "cannot list {}: {err}",
                    dir.display()
                )));
            }
        };
        let mut last: Option<(i64, PathBuf)> = None;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(offset) = name
                .strip_suffix(".json")
                .and_then(|n| n.rsplit('+').next())
                .and_then(|o| o.parse::<i64>().ok())
            else {
                continue;
            };
            if last.as_ref().is_none_or(|(o, _)| offset > *o) {
                last = Some((offset, entry.path()));
            }
        }
        let Some((offset, path)) = last else {
            return Ok(0);
        };
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| TaskError::transient(format!("cannot read {}: {e}", path.display())))?;
        Ok(offset + text.lines().count() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_s3_sink_connector() {
        assert_eq!(
            object_key("topics", "0a1b.pin", 0, 0),
            "topics/0a1b.pin/partition=0/0a1b.pin+0+0000000000.json"
        );
        assert_eq!(
            object_key("/lake/", "t", 2, 1500),
            "lake/t/partition=2/t+2+0000001500.json"
        );
        assert_eq!(
            object_key("", "t", 0, 7),
            "t/partition=0/t+0+0000000007.json"
        );
    }

    #[tokio::test]
    async fn appends_continue_the_offsets_already_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let lake = DirLake::new(dir.path().to_path_buf(), "topics".into());
        let records: Vec<Value> = (0..3).map(|i| serde_json::json!({"i": i})).collect();
        assert_eq!(lake.append("t", &records).await.unwrap(), 3);
        assert_eq!(lake.append("t", &records[..2]).await.unwrap(), 5);
        let second =
            std::fs::read_to_string(dir.path().join("topics/t/partition=0/t+0+0000000003.json"))
                .unwrap();
        assert_eq!(second, "{\"i\":0}\n{\"i\":1}\n");
    }
}
