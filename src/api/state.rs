//! What every handler holds: the loaded DAGs, the launcher (and through it
//! the command door and the store's read side), the API tokens.

use std::sync::Arc;

use crate::dag::DagRegistry;
use crate::engine::{Control, Launcher};
use crate::store::Reader;

#[derive(Debug, Clone)]
pub struct AppState {
    pub dags: DagRegistry,
    pub launcher: Launcher,
    /// Accepted bearer tokens (also Basic passwords); empty = no auth, which
    /// `serve` allows on loopback only.
    pub api_tokens: Arc<Vec<secrecy::SecretString>>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    pub fn reader(&self) -> &Reader {
        self.launcher.reader()
    }

    pub fn control(&self) -> &Control {
        self.launcher.control()
    }
}
