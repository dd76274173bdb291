//! A load of the DAG folder in progress: files finish in any order, and at
//! any moment [`FolderLoad::bag`] gives the DAGs known so far, files not
//! finished yet standing as the previous load left them. dag_ids are shared
//! out over that whole view every time, so once every file has finished the
//! bag is the one [`DagBag::load_with`] gives, whatever order the files
//! finished in. Pure bookkeeping: reading and parsing is the caller's.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::bag::{FileLoad, share_out};
use super::{Dag, DagBag, DagError};

/// The files of one load of the folder and those that have finished.
#[derive(Debug)]
pub struct FolderLoad {
    /// Every DAG file of the folder, by name.
    files: Vec<PathBuf>,
    previous: Option<Arc<DagBag>>,
    /// What the previous load found for each file, standing in until the
    /// file finishes: its outcome and the last good DAGs put back for it.
    stand_ins: HashMap<PathBuf, (FileLoad, Vec<Arc<Dag>>)>,
    done: HashMap<PathBuf, FileLoad>,
}

impl FolderLoad {
    /// A load of `files` (sorted by name, as [`super::bag::dag_files`] gives
    /// them) that replaces `previous`.
    pub fn new(files: Vec<PathBuf>, previous: Option<Arc<DagBag>>) -> Self {
        let stand_ins = previous
            .as_deref()
            .map(|bag| stand_ins(bag, &files))
            .unwrap_or_default();
        FolderLoad {
            files,
            previous,
            stand_ins,
            done: HashMap::new(),
        }
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Records a finished file (one not in the load is ignored).
    pub fn finish(&mut self, load: FileLoad) {
        if self.files.iter().any(|f| f == load.file()) {
            self.done.insert(load.file().to_path_buf(), load);
        }
    }

    /// Records every file not finished yet as an import error saying why
    /// (the reader stopped before it could say anything itself).
    pub fn abandon_unfinished(&mut self, why: &str) {
        for file in &self.files {
            if !self.done.contains_key(file) {
                let load = FileLoad {
                    file: file.clone(),
                    modified: None,
                    outcome: Err(vec![DagError::new(file, None, why)]),
                };
                self.done.insert(file.clone(), load);
            }
        }
    }

    pub fn is_done(&self, file: &Path) -> bool {
        self.done.contains_key(file)
    }

    /// Whether every file has finished.
    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|f| self.done.contains_key(f))
    }

    /// The DAGs and import errors as far as the load has got.
    pub fn bag(&self) -> DagBag {
        let mut view = Vec::with_capacity(self.files.len());
        let mut kept: Vec<&Arc<Dag>> = Vec::new();
        for file in &self.files {
            if let Some(load) = self.done.get(file) {
                view.push(load.clone());
            } else if let Some((load, restored)) = self.stand_ins.get(file) {
                view.push(load.clone());
                kept.extend(restored);
            }
        }
        let mut bag = share_out(view, self.previous.as_deref());
        for dag in kept {
            bag.dags
                .entry(dag.dag_id.clone())
                .or_insert_with(|| dag.clone());
        }
        bag
    }
}

/// What `previous` says of each of `files`: a broken file stays broken
/// (with its last good DAG put back), a loaded one keeps its DAG.
fn stand_ins(previous: &DagBag, files: &[PathBuf]) -> HashMap<PathBuf, (FileLoad, Vec<Arc<Dag>>)> {
    let wanted: HashSet<&PathBuf> = files.iter().collect();
    let mut dags: HashMap<&PathBuf, Vec<Arc<Dag>>> = HashMap::new();
    for dag in previous.dags.values() {
        if wanted.contains(&dag.fileloc) {
            dags.entry(&dag.fileloc).or_default().push(dag.clone());
        }
    }
    let mut out = HashMap::new();
    for error in &previous.import_errors {
        if wanted.contains(&error.file) {
            let load = FileLoad {
                file: error.file.clone(),
                modified: None,
                outcome: Err(error.errors.clone()),
            };
            let restored = dags.remove(&error.file).unwrap_or_default();
            out.insert(error.file.clone(), (load, restored));
        }
    }
    for (file, dags) in dags {
        if let Some(dag) = dags.into_iter().next() {
            let load = FileLoad {
                file: file.clone(),
                modified: None,
                outcome: Ok(dag),
            };
            out.insert(file.clone(), (load, Vec::new()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::LoadOptions;
    use crate::dag::bag::load_file;

    fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
        paths.sort();
        (dir, paths)
    }

    fn ids(bag: &DagBag) -> Vec<(String, String)> {
        bag.dags
            .values()
            .map(|d| {
                let name = d.fileloc.file_name().unwrap_or_default();
                (d.dag_id.to_string(), name.to_string_lossy().into_owned())
            })
            .collect()
    }

    const A: &str = "dag_id: x\nschedule: null\ntasks:\n  - { task_id: a, kind: noop }\n";
    const B: &str = "dag_id: x\nschedule: null\ntasks:\n  - { task_id: b, kind: noop }\n";
    const C: &str = "dag_id: c\nschedule: null\ntasks:\n  - { task_id: c, kind: noop }\n";

    #[test]
    fn the_finished_bag_is_the_same_whatever_order_the_files_finished_in() {
        let (_dir, files) = folder(&[("a.yaml", A), ("b.yaml", B), ("c.yaml", C)]);
        let options = LoadOptions::default();
        let whole =
            crate::dag::DagBag::load_with(files[0].parent().unwrap_or(Path::new(".")), &options)
                .unwrap();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [1, 0, 2]] {
            let mut load = FolderLoad::new(files.clone(), None);
            for i in order {
                assert!(!load.is_complete());
                load.finish(load_file(&files[i], &options));
            }
            assert!(load.is_complete());
            let bag = load.bag();
            assert_eq!(ids(&bag), ids(&whole), "order {order:?}");
            assert_eq!(bag.import_errors.len(), 1);
        }
    }

    #[test]
    fn a_file_not_finished_keeps_what_the_previous_load_found() {
        let (_dir, files) = folder(&[("a.yaml", A), ("c.yaml", C)]);
        let options = LoadOptions::default();
        let mut first = FolderLoad::new(files.clone(), None);
        for file in &files {
            first.finish(load_file(file, &options));
        }
        let previous = Arc::new(first.bag());
        let mut reload = FolderLoad::new(files.clone(), Some(previous));
        // only c.yaml has finished: a.yaml's DAG is still served
        reload.finish(load_file(&files[1], &options));
        assert_eq!(
            ids(&reload.bag()),
            [("c".into(), "c.yaml".into()), ("x".into(), "a.yaml".into())]
        );
    }

    #[test]
    fn a_new_file_claiming_a_held_dag_id_waits_for_its_holder() {
        let (dir, files) = folder(&[("a.yaml", A)]);
        let options = LoadOptions::default();
        let mut first = FolderLoad::new(files.clone(), None);
        first.finish(load_file(&files[0], &options));
        let previous = Arc::new(first.bag());
        let newer = dir.path().join("0-new.yaml");
        std::fs::write(&newer, B).unwrap();
        let all = vec![newer.clone(), files[0].clone()];
        let mut reload = FolderLoad::new(all, Some(previous));
        reload.finish(load_file(&newer, &options));
        let bag = reload.bag();
        assert_eq!(ids(&bag), [("x".into(), "a.yaml".into())]);
        assert_eq!(bag.import_errors[0].file, newer);
    }
}
