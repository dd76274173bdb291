//! The DAGs the daemon has loaded, swapped whole on reload.

use std::sync::{Arc, RwLock};

use super::{Dag, DagBag};

/// The DAGs currently loaded; swapped whole on reload, read without locks
/// held across awaits.
#[derive(Debug, Clone, Default)]
pub struct DagRegistry {
    current: Arc<RwLock<Arc<DagBag>>>,
}

impl DagRegistry {
    pub fn new(bag: DagBag) -> Self {
        DagRegistry {
            current: Arc::new(RwLock::new(Arc::new(bag))),
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

    /// Installs a freshly loaded bag (in which the command door has put
    /// back the last good version of each DAG whose file is now broken).
    pub fn replace(&self, fresh: DagBag) {
        let fresh = Arc::new(fresh);
        match self.current.write() {
            Ok(mut guard) => *guard = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }
}
