//! Loads every DAG file of a folder. A broken file becomes an import error
//! (as in Airflow) and never stops the other files from loading.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Dag, DagError};
use crate::model::DagId;

/// The DAGs of a folder and the files that failed to load.
#[derive(Debug, Default, Clone)]
pub struct DagBag {
    pub dags: BTreeMap<DagId, Arc<Dag>>,
    pub import_errors: Vec<ImportError>,
}

/// A DAG file that did not load, with every mistake found in it.
#[derive(Debug, Clone)]
pub struct ImportError {
    pub file: PathBuf,
    pub errors: Vec<DagError>,
}

impl DagBag {
    /// Loads `path`: one `.yaml`/`.yml` file, or every such file in a folder
    /// (not recursive, in name order). Errors only when the folder itself
    /// cannot be read.
    pub fn load(path: &Path) -> std::io::Result<DagBag> {
        let files = if path.is_dir() {
            dag_files(path)?
        } else {
            vec![path.to_path_buf()]
        };
        let mut bag = DagBag::default();
        for file in files {
            bag.add_file(&file);
        }
        Ok(bag)
    }

    fn add_file(&mut self, file: &Path) {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                self.import_errors.push(ImportError {
                    file: file.to_path_buf(),
                    errors: vec![DagError::new(
                        file,
                        None,
                        format!("cannot read the file: {err}"),
                    )],
                });
                return;
            }
        };
        match super::load(file, &text) {
            Ok(dag) => {
                if let Some(other) = self.dags.get(&dag.dag_id) {
                    let message = format!(
                        "dag_id `{}` is already defined by {}",
                        dag.dag_id,
                        other.fileloc.display()
                    );
                    self.import_errors.push(ImportError {
                        file: file.to_path_buf(),
                        errors: vec![
                            DagError::new(file, None, message)
                                .hint("give each DAG file its own dag_id"),
                        ],
                    });
                } else {
                    self.dags.insert(dag.dag_id.clone(), Arc::new(dag));
                }
            }
            Err(errors) => self.import_errors.push(ImportError {
                file: file.to_path_buf(),
                errors,
            }),
        }
    }

    /// Every error of every broken file, in file order.
    pub fn errors(&self) -> impl Iterator<Item = &DagError> {
        self.import_errors.iter().flat_map(|e| e.errors.iter())
    }
}

/// The DAG files directly in `dir`, sorted by name.
pub fn dag_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        })
        .collect();
    files.sort();
    Ok(files)
}
