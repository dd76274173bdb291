//! The DAG-folder watcher: reloads the folder when a file's name, size or
//! modification time changes, records the new DAG versions through the
//! command door, and has the scheduler re-plan. Only changed files are
//! parsed again, off the async runtime. A broken edit keeps the DAG's last
//! good version scheduled.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::dag::{DagBag, DagRegistry};
use crate::engine::Launcher;

/// How often the DAG folder is checked for added, changed and deleted files.
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads the DAG folder whenever it changes, until `stop` fires.
pub async fn watch_dag_folder(
    folder: PathBuf,
    max_dag_file_size: u64,
    registry: DagRegistry,
    launcher: Launcher,
    stop: CancellationToken,
) {
    let mut seen = fingerprint(&folder);
    loop {
        tokio::select! {
            () = tokio::time::sleep(RELOAD_INTERVAL) => {}
            () = stop.cancelled() => return,
        }
        let now = fingerprint(&folder);
        if now == seen {
            continue;
        }
        seen = now;
        // parsed off the runtime; a file whose text did not change is not
        // parsed again, and the DAGs that held a dag_id keep it
        let previous = registry.snapshot();
        let path = folder.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let options = crate::dag::bag::LoadOptions {
                max_dag_file_size,
                previous: Some(&previous),
            };
            DagBag::load_with(&path, &options)
        })
        .await;
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!("the DAG loader stopped: {err}");
                continue;
            }
        };
        match loaded {
            Ok(mut bag) => {
                let control = launcher.control();
                let recorded = async {
                    control.register_dags(&bag).await?;
                    control.restore_last_good(&mut bag).await
                };
                if let Err(err) = recorded.await {
                    tracing::error!("cannot record the reloaded DAGs: {err}");
                    continue;
                }
                for error in bag.errors() {
                    tracing::warn!("import error: {error}");
                }
                for warning in bag.warnings() {
                    tracing::warn!("{warning}");
                }
                tracing::info!(
                    dags = bag.dags.len(),
                    import_errors = bag.import_errors.len(),
                    "DAG folder reloaded"
                );
                registry.replace(bag);
                launcher.reschedule();
            }
            Err(err) => {
                tracing::error!(folder = %folder.display(), "cannot read the DAG folder: {err}")
            }
        }
    }
}

fn fingerprint(folder: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    crate::dag::bag::dag_files(folder)
        .unwrap_or_default()
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, size, modified)
        })
        .collect()
}
