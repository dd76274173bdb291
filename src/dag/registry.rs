//! The DAGs the daemon has loaded, swapped whole on reload.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Dag, DagBag};

/// The DAGs currently loaded; swapped whole on reload, read without locks
/// held across awaits.
#[derive(Debug, Clone, Default)]
pub struct DagRegistry {
    current: Arc<RwLock<Arc<DagBag>>>,
    /// When the folder was last (re)loaded, unix ms; 0 while the first load
    /// runs.
    loaded_at: Arc<AtomicI64>,
}

impl DagRegistry {
    pub fn new(bag: DagBag) -> Self {
        let registry = Self::loading();
        registry.replace(bag);
        registry
    }

    /// An empty registry whose first load is still running.
    pub fn loading() -> Self {
        DagRegistry {
            current: Arc::new(RwLock::new(Arc::new(DagBag::default()))),
            loaded_at: Arc::default(),
        }
    }

    /// When the DAG folder was last loaded; `None` while the first load runs.
    pub fn loaded_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self.loaded_at.load(Ordering::Relaxed) {
            0 => None,
            millis => chrono::DateTime::from_timestamp_millis(millis),
        }
    }

    /// The DAGs and import errors as of now.
    pub fn snapshot(&self) -> Arc<DagBag> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn get(&self, dag_id: &str) -> Option<Arc<Dag>> {
        self.snapshot().dags.get(dag_id).cloned()
    }

    /// Installs the DAGs of a load still running (the files finished so
    /// far): served and scheduled at once, while [`Self::loaded_at`] still
    /// says when the last load finished (`None` during the first).
    pub fn update(&self, partial: DagBag) {
        let partial = Arc::new(partial);
        match self.current.write() {
            Ok(mut guard) => *guard = partial,
            Err(poisoned) => *poisoned.into_inner() = partial,
        }
    }

    /// Installs a freshly loaded bag (in which the command door has put
    /// back the last good version of each DAG whose file is now broken).
    pub fn replace(&self, fresh: DagBag) {
        let fresh = Arc::new(fresh);
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        self.loaded_at
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }
}
