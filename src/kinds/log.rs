//! One try's log file. Every line is timestamped and has secret values
//! masked before it reaches the disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An append-only log; cheap to clone, safe to share between the readers of
/// a child's stdout and stderr. Write failures are reported once on stderr
/// and never fail the task.
#[derive(Clone)]
pub struct TaskLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    sink: Mutex<Option<Box<dyn Write + Send>>>,
    /// Grows when a task kind learns a secret (a token from a profile).
    secrets: Mutex<Vec<String>>,
}

impl std::fmt::Debug for TaskLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLog")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl TaskLog {
    /// Creates (truncating) the log at `path`, making its folders.
    pub fn create(path: &Path, secrets: Vec<String>) -> std::io::Result<TaskLog> {
        TaskLog::open(path, secrets, false)
    }

    /// Opens the log at `path` to go on writing it (a try resumed after a
    /// restart keeps one log), creating it if it is gone.
    pub fn append(path: &Path, secrets: Vec<String>) -> std::io::Result<TaskLog> {
        TaskLog::open(path, secrets, true)
    }

    fn open(path: &Path, secrets: Vec<String>, append: bool) -> std::io::Result<TaskLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options.open(path)?;
        Ok(TaskLog {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                sink: Mutex::new(Some(Box::new(file))),
                secrets: Mutex::new(secrets),
            }),
        })
    }

    /// Masks `secret` in every line written from now on.
    pub fn add_secret(&self, secret: &str) {
        if secret.len() < 4 {
            return;
        }
        let mut secrets = self
            .inner
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
        }
    }

    /// A log that keeps nothing (when the log file cannot be created).
    pub fn discard() -> TaskLog {
        TaskLog::to_sink(None, Vec::new())
    }

    /// A log printed on stdout (for `tasks test`, which records nothing).
    pub fn stdout(secrets: Vec<String>) -> TaskLog {
        TaskLog::to_sink(Some(Box::new(std::io::stdout())), secrets)
    }

    fn to_sink(sink: Option<Box<dyn Write + Send>>, secrets: Vec<String>) -> TaskLog {
        TaskLog {
            inner: Arc::new(Inner {
                path: PathBuf::new(),
                sink: Mutex::new(sink),
                secrets: Mutex::new(secrets),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// `text` with every secret value replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.to_string();
        let secrets = self
            .inner
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for secret in secrets.iter() {
            if masked.contains(secret.as_str()) {
                masked = masked.replace(secret.as_str(), "***");
            }
        }
        masked
    }

    /// Appends one timestamped, masked line.
    pub fn line(&self, text: &str) {
        let line = format!(
            "[{}] {}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            self.mask(text)
        );
        let Ok(mut guard) = self.inner.sink.lock() else {
            return;
        };
        if let Some(sink) = guard.as_mut()
            && let Err(err) = sink.write_all(line.as_bytes()).and_then(|()| sink.flush())
        {
            eprintln!(
                "airless: cannot write task log {}: {err}",
                self.inner.path.display()
            );
            *guard = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/attempt=1.log");
        let log = TaskLog::create(&path, vec!["s3cr3t-token".to_string()]).unwrap();
        log.line("calling with Bearer s3cr3t-token now");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("calling with Bearer *** now"), "{text}");
        assert!(!text.contains("s3cr3t"));
    }
}

/// A stretch of a try's log: its text (invalid UTF-8 replaced) from byte
/// `start`, and the file's size when read.
#[derive(Debug, Clone, Default)]
pub struct LogChunk {
    pub text: String,
    pub start: u64,
    pub size: u64,
}

/// Reads a try's log from byte `from`, at most the last `max` bytes of it.
/// A log not written yet (or a try without one) reads as empty.
pub async fn read_log(path: &str, from: u64, max: u64) -> std::io::Result<LogChunk> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    if path.is_empty() {
        return Ok(LogChunk::default());
    }
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LogChunk::default());
        }
        Err(err) => return Err(err),
    };
    let size = file.metadata().await?.len();
    let start = from.min(size).max(size.saturating_sub(max));
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut bytes = Vec::with_capacity(usize::try_from(size - start).unwrap_or(0));
    file.take(size - start).read_to_end(&mut bytes).await?;
    Ok(LogChunk {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        start,
        size: start + bytes.len() as u64,
    })
}

/// A try's log from byte `from` (at most the last `max` bytes). A try that
/// ended without a log file (it could not be created, as when airless was
/// out of file descriptors) still says why it failed.
pub async fn read_try_log(
    attempt: &crate::model::TaskTry,
    from: u64,
    max: u64,
) -> std::io::Result<LogChunk> {
    let chunk = read_log(&attempt.log_path, from, max).await?;
    if chunk.size == 0
        && from == 0
        && attempt.end_date.is_some()
        && !Path::new(&attempt.log_path).exists()
        && let Some(error) = &attempt.error
    {
        return Ok(LogChunk {
            text: format!("the try's log could not be written\ntry failed: {error}\n"),
            start: 0,
            size: 0,
        });
    }
    Ok(chunk)
}
