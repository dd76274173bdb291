//! The DAG-folder watcher: reloads the folder through the
//! [`DagProcessor`] when a file's name, size or modification time changes.
//! Only changed files are parsed again, off the async runtime, and each
//! one's DAG is published as it finishes. A broken edit keeps the DAG's last
//! good version scheduled.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use super::dag_processor::DagProcessor;
use crate::dag::DagRegistry;

/// How often the DAG folder is checked for added, changed and deleted files.
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads the DAG folder whenever it changes, until `stop` fires.
pub async fn watch_dag_folder(
    folder: PathBuf,
    processor: DagProcessor,
    registry: DagRegistry,
    stop: CancellationToken,
) {
    let mut seen = fingerprint(&folder);
    loop {
        tokio::select! {
            () = tokio::time::sleep(RELOAD_INTERVAL) => {}
            () = stop.cancelled() => return,
        }
        // a folder that cannot be listed now (out of file descriptors) is
        // looked at again on the next tick, not taken as emptied
        let Some(now) = fingerprint(&folder) else {
            continue;
        };
        if Some(&now) == seen.as_ref() {
            continue;
        }
        seen = Some(now);
        // parsed off the runtime, file by file; a file whose text did not
        // change is not parsed again, and the DAGs that held a dag_id keep it
        match processor.load(Some(registry.snapshot()), &stop).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => tracing::error!(folder = %folder.display(), "{err}"),
        }
    }
}

/// Each DAG file's name, size and modification time; `None` when the
/// folder cannot be listed.
fn fingerprint(folder: &Path) -> Option<Vec<(PathBuf, u64, Option<SystemTime>)>> {
    let files = crate::dag::bag::dag_files(folder).ok()?;
    let marks = files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, size, modified)
        })
        .collect();
    Some(marks)
}
