//! The DAG folder as the local commands read it: loaded whole, or one DAG
//! found in it with a message that says why not.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::dag::{Dag, DagBag};

/// Every DAG of `folder`, or why it cannot be read (a missing folder
/// named, with how to point at the right one).
pub(super) fn load_bag(folder: &Path) -> anyhow::Result<DagBag> {
    if !folder.is_dir() {
        bail!(
            "the DAG folder {} does not exist: run this where it is, or set `dags_folder` in airless.toml (or --config FILE), or AIRLESS_DAGS_FOLDER",
            folder.display()
        );
    }
    DagBag::load(folder).with_context(|| format!("cannot read the DAG folder {}", folder.display()))
}

/// The DAG `dag_id` from the DAG folder, or an error that says why not.
pub(super) fn find_dag(config: &Config, dag_id: &str) -> anyhow::Result<Arc<Dag>> {
    let bag = load_bag(&config.dags_folder)?;
    if let Some(dag) = bag.dags.get(dag_id) {
        return Ok(dag.clone());
    }
    let mut message = format!("no DAG `{dag_id}` in {}", config.dags_folder.display());
    let broken: Vec<String> = bag.errors().map(ToString::to_string).collect();
    if !broken.is_empty() {
        message.push_str(&format!(
            "; these files failed to load:\n  {}",
            broken.join("\n  ")
        ));
    } else if !bag.dags.is_empty() {
        message.push_str(&format!(
            " (it has: {})",
            bag.dags
                .keys()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Err(super::NotFound(message).into())
}
