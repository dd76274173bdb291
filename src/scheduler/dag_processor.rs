//! The DAG processor: parses the files of the DAG folder in parallel on the
//! blocking pool, smallest first, and publishes the DAGs as files finish, so
//! one slow or huge file never delays the others: their DAGs are served,
//! triggerable and scheduled while it is still being read. Each publication
//! records new DAG versions through the command door, puts back the last good
//! version of broken files, adopts runs left unfinished and has the
//! scheduler re-plan. Which file keeps a dag_id is decided as
//! [`crate::dag::FolderLoad`] says, so the outcome never depends on which
//! file finished first. Depends on `dag` and `engine`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dag::bag::{FileLoad, LoadOptions, dag_files, load_file};
use crate::dag::{Dag, DagBag, DagRegistry, FolderLoad};
use crate::engine::{ControlError, Launcher};
use crate::model::DagId;

/// Why a load of the DAG folder did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    #[error("cannot read the DAG folder {}: {source}", .folder.display())]
    Folder {
        folder: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record the loaded DAGs: {0}")]
    Record(#[from] ControlError),
    #[error("the DAG loader stopped: {0}")]
    Stopped(String),
}

/// Loads the DAG folder into the registry, file by file.
#[derive(Debug, Clone)]
pub struct DagProcessor {
    folder: PathBuf,
    max_dag_file_size: u64,
    registry: DagRegistry,
    launcher: Launcher,
}

/// What this load has already recorded, so each publication records only
/// what is new.
#[derive(Default)]
struct Published {
    /// (dag_id, text hash, file) of every DAG version recorded.
    versions: HashSet<(DagId, String, PathBuf)>,
    /// The last good DAGs put back for each broken file that finished.
    restored: HashMap<PathBuf, Vec<Arc<Dag>>>,
}

/// While the folder loads, how often the DAGs of the files finished so far
/// are published (each publication records them and re-plans).
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// How many files are parsed at once: one more than the CPUs, so a file
/// stuck in a read (a hung network mount) never holds back the others.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        + 1
}

impl DagProcessor {
    pub fn new(
        folder: PathBuf,
        max_dag_file_size: u64,
        registry: DagRegistry,
        launcher: Launcher,
    ) -> Self {
        DagProcessor {
            folder,
            max_dag_file_size,
            registry,
            launcher,
        }
    }

    /// Loads the folder, publishing DAGs as their files finish; the files
    /// whose text did not change since `previous` are not parsed again, and
    /// the DAGs that held a dag_id in it keep it. Once every file has
    /// finished, installs the whole bag (the registry then says when) and
    /// returns true; returns false if `stop` fired first.
    pub async fn load(
        &self,
        previous: Option<Arc<DagBag>>,
        stop: &CancellationToken,
    ) -> Result<bool, ProcessorError> {
        let folder = self.folder.clone();
        let listed = tokio::task::spawn_blocking(move || {
            let files = if folder.is_dir() {
                dag_files(&folder)?
            } else {
                vec![folder.clone()]
            };
            Ok::<_, std::io::Error>(smallest_first(files))
        })
        .await
        .map_err(|err| ProcessorError::Stopped(err.to_string()))?;
        let (files, order) = listed.map_err(|source| ProcessorError::Folder {
            folder: self.folder.clone(),
            source,
        })?;
        let mut load = FolderLoad::new(files, previous.clone());
        let (sender, mut finished) = mpsc::unbounded_channel::<FileLoad>();
        let feeder = tokio::spawn(feed(order, self.max_dag_file_size, previous, sender));
        let mut published = Published::default();
        // the first file to finish is published at once, then at most one
        // publication per PUBLISH_EVERY gathers every file finished meanwhile
        let mut publish_at = Instant::now();
        let mut unpublished = false;
        while !load.is_complete() {
            let (waiting, at) = (unpublished, publish_at);
            let due = async move {
                if waiting {
                    tokio::time::sleep_until(at).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                next = finished.recv() => {
                    match next {
                        Some(file) => load.finish(file),
                        None => load.abandon_unfinished(
                            "the DAG loader stopped before this file was read: it is read again on the next change",
                        ),
                    }
                    while let Ok(file) = finished.try_recv() {
                        load.finish(file);
                    }
                    unpublished = true;
                }
                () = due => {}
                () = stop.cancelled() => {
                    feeder.abort();
                    return Ok(false);
                }
            }
            if unpublished && !load.is_complete() && Instant::now() >= publish_at {
                self.publish_partial(&load, &mut published).await?;
                unpublished = false;
                publish_at = Instant::now() + PUBLISH_EVERY;
            }
        }
        self.publish_complete(load.bag()).await?;
        Ok(true)
    }

    /// Publishes the DAGs of the files finished so far.
    async fn publish_partial(
        &self,
        load: &FolderLoad,
        published: &mut Published,
    ) -> Result<(), ProcessorError> {
        let control = self.launcher.control();
        let mut bag = load.bag();
        let fresh: BTreeMap<DagId, Arc<Dag>> = bag
            .dags
            .iter()
            .filter(|(_, dag)| {
                published.versions.insert((
                    dag.dag_id.clone(),
                    dag.source_hash.clone(),
                    dag.fileloc.clone(),
                ))
            })
            .map(|(id, dag)| (id.clone(), dag.clone()))
            .collect();
        control
            .register_dags(&DagBag {
                dags: fresh,
                import_errors: bag.import_errors.clone(),
            })
            .await?;
        // the last good version of each file that broke, looked up once
        for error in &bag.import_errors {
            if load.is_done(&error.file) && !published.restored.contains_key(&error.file) {
                let mut probe = DagBag {
                    dags: BTreeMap::new(),
                    import_errors: vec![error.clone()],
                };
                control.restore_last_good(&mut probe).await?;
                published
                    .restored
                    .insert(error.file.clone(), probe.dags.into_values().collect());
            }
        }
        for error in &bag.import_errors {
            for dag in published.restored.get(&error.file).into_iter().flatten() {
                bag.dags
                    .entry(dag.dag_id.clone())
                    .or_insert_with(|| dag.clone());
            }
        }
        self.adopt(&bag).await?;
        tracing::debug!(
            dags = bag.dags.len(),
            "DAGs published while the folder loads"
        );
        self.registry.update(bag);
        self.launcher.reschedule();
        Ok(())
    }

    /// Records and installs the whole bag once every file has finished.
    async fn publish_complete(&self, mut bag: DagBag) -> Result<(), ProcessorError> {
        let control = self.launcher.control();
        control.register_dags(&bag).await?;
        control.restore_last_good(&mut bag).await?;
        for error in bag.errors() {
            tracing::warn!("import error: {error}");
        }
        for warning in bag.warnings() {
            tracing::warn!("{warning}");
        }
        tracing::info!(dags = bag.dags.len(), import_errors = bag.import_errors.len(), folder = %self.folder.display(), "DAG folder loaded");
        self.adopt(&bag).await?;
        self.registry.replace(bag);
        self.launcher.reschedule();
        Ok(())
    }

    /// Runs left running resume before the scheduler sees their DAG.
    async fn adopt(&self, bag: &DagBag) -> Result<(), ProcessorError> {
        let view = DagRegistry::new(bag.clone());
        let adopted =
            crate::engine::recovery::adopt_runs(self.launcher.control(), &view, &self.launcher)
                .await?;
        if adopted > 0 {
            tracing::info!(runs = adopted, "resuming runs left unfinished");
        }
        Ok(())
    }
}

/// The files by name (for the load) and the order to parse them in:
/// smallest first, so small files never wait behind a big one.
fn smallest_first(files: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut order: Vec<(u64, PathBuf)> = files
        .iter()
        .map(|file| {
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            (size, file.clone())
        })
        .collect();
    order.sort();
    (files, order.into_iter().map(|(_, file)| file).collect())
}

/// Parses `order` on the blocking pool, [`workers`] files at a time, and
/// sends each outcome as it finishes.
async fn feed(
    order: Vec<PathBuf>,
    max_dag_file_size: u64,
    previous: Option<Arc<DagBag>>,
    sender: mpsc::UnboundedSender<FileLoad>,
) {
    let slots = Arc::new(Semaphore::new(workers()));
    for file in order {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (sender, previous) = (sender.clone(), previous.clone());
        tokio::task::spawn_blocking(move || {
            let options = LoadOptions {
                max_dag_file_size,
                previous: previous.as_deref(),
            };
            let loaded = load_file(Path::new(&file), &options);
            drop(slot);
            let _ = sender.send(loaded);
        });
    }
}
