//! Loads every DAG file of a folder. A broken file becomes an import error
//! (as in Airflow) and never stops the other files from loading. A dag_id
//! belongs to the file that held it first; a file too large, a broken
//! symlink or a symlink loop is an import error like any other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::{Dag, DagError};
use crate::model::DagId;

/// The largest DAG file read unless configured otherwise: 16 MiB.
pub const DEFAULT_MAX_DAG_FILE_SIZE: u64 = 16 * 1024 * 1024;

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

/// How [`DagBag::load_with`] loads.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions<'p> {
    /// A larger file is an import error, not read (`max_dag_file_size`).
    pub max_dag_file_size: u64,
    /// The bag this load replaces. Its DAGs keep their dag_ids against
    /// newer files that claim them, and a file whose text is unchanged is
    /// not parsed again.
    pub previous: Option<&'p DagBag>,
}

impl Default for LoadOptions<'_> {
    fn default() -> Self {
        LoadOptions {
            max_dag_file_size: DEFAULT_MAX_DAG_FILE_SIZE,
            previous: None,
        }
    }
}

/// One file's outcome before dag_ids are shared out.
#[derive(Debug, Clone)]
pub struct FileLoad {
    pub(super) file: PathBuf,
    pub(super) modified: Option<SystemTime>,
    pub(super) outcome: Result<Arc<Dag>, Vec<DagError>>,
}

impl FileLoad {
    /// The file this is the outcome of.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl DagBag {
    /// Loads `path` with the default options: one `.yaml`/`.yml` file, or
    /// every such file in a folder (not recursive). Errors only when the
    /// folder itself cannot be read.
    pub fn load(path: &Path) -> std::io::Result<DagBag> {
        Self::load_with(path, &LoadOptions::default())
    }

    /// Loads `path` as [`DagBag::load`] does, with `options`. When two files
    /// claim one dag_id, the one that held it in `options.previous` keeps
    /// it; with no previous bag, the file modified longest ago (then the
    /// first by name). The others are import errors that name the owner.
    pub fn load_with(path: &Path, options: &LoadOptions<'_>) -> std::io::Result<DagBag> {
        let files = if path.is_dir() {
            dag_files(path)?
        } else {
            vec![path.to_path_buf()]
        };
        let loaded: Vec<FileLoad> = files.iter().map(|file| load_file(file, options)).collect();
        Ok(share_out(loaded, options.previous))
    }

    /// Every error of every broken file, in file order.
    pub fn errors(&self) -> impl Iterator<Item = &DagError> {
        self.import_errors.iter().flat_map(|e| e.errors.iter())
    }

    /// The warnings of the DAGs that loaded, by dag_id.
    pub fn warnings(&self) -> impl Iterator<Item = &DagError> {
        self.dags.values().flat_map(|dag| dag.warnings.iter())
    }
}

/// Reads and validates one file, reusing the previous bag's DAG when the
/// file's text is the one it was loaded from. Blocks while the file is
/// read and parsed: call it off the async runtime.
pub fn load_file(file: &Path, options: &LoadOptions<'_>) -> FileLoad {
    let fail = |error: DagError| FileLoad {
        file: file.to_path_buf(),
        modified: None,
        outcome: Err(vec![error]),
    };
    let metadata = match std::fs::metadata(file) {
        Ok(metadata) => metadata,
        Err(err) => return fail(unreadable(file, &err)),
    };
    let modified = metadata.modified().ok();
    let limit = options.max_dag_file_size;
    if metadata.len() > limit {
        return fail(too_large(file, metadata.len(), limit));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    let read = std::fs::File::open(file)
        // one byte more than allowed tells a file that grew since
        .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut bytes));
    if let Err(err) = read {
        return fail(unreadable(file, &err));
    }
    if bytes.len() as u64 > limit {
        return fail(too_large(file, bytes.len() as u64, limit));
    }
    let reused = options.previous.and_then(|bag| {
        bag.dags
            .values()
            .find(|dag| dag.fileloc == file && dag.source.as_bytes() == bytes.as_slice())
            .cloned()
    });
    let outcome = match reused {
        Some(dag) => Ok(dag),
        None => super::load_bytes(file, bytes).map(Arc::new),
    };
    FileLoad {
        file: file.to_path_buf(),
        modified,
        outcome,
    }
}

/// Gives each dag_id to one file; the other files that claim it become
/// import errors. The decision depends on `loaded` as a set (and on
/// `previous`), never on the order the files finished in.
pub(super) fn share_out(loaded: Vec<FileLoad>, previous: Option<&DagBag>) -> DagBag {
    // claimants of each dag_id, by their index in `loaded`
    let mut claims: HashMap<DagId, Vec<usize>> = HashMap::new();
    for (i, item) in loaded.iter().enumerate() {
        if let Ok(dag) = &item.outcome {
            claims.entry(dag.dag_id.clone()).or_default().push(i);
        }
    }
    let present: HashSet<&Path> = loaded.iter().map(|l| l.file.as_path()).collect();
    let mut owner_of: HashMap<DagId, PathBuf> = HashMap::new();
    for (dag_id, claimants) in &claims {
        let held = previous
            .and_then(|bag| bag.dags.get(dag_id))
            .map(|dag| dag.fileloc.clone())
            .filter(|file| present.contains(file.as_path()));
        let owner = held.unwrap_or_else(|| {
            let first = claimants
                .iter()
                .min_by(|&&a, &&b| {
                    let (a, b) = (&loaded[a], &loaded[b]);
                    a.modified
                        .unwrap_or(SystemTime::UNIX_EPOCH)
                        .cmp(&b.modified.unwrap_or(SystemTime::UNIX_EPOCH))
                        .then_with(|| a.file.cmp(&b.file))
                })
                .copied()
                .unwrap_or_default();
            loaded[first].file.clone()
        });
        owner_of.insert(dag_id.clone(), owner);
    }
    let mut bag = DagBag::default();
    for item in loaded {
        match item.outcome {
            Ok(dag) => {
                let owner = owner_of.get(&dag.dag_id);
                if owner == Some(&item.file) {
                    bag.dags.insert(dag.dag_id.clone(), dag);
                    continue;
                }
                let owner = owner.cloned().unwrap_or_default();
                let message = format!(
                    "dag_id `{}` is already defined by {}, which had it first",
                    dag.dag_id,
                    owner.display()
                );
                bag.import_errors.push(ImportError {
                    errors: vec![
                        DagError::new(&item.file, dag_id_pos(&dag), message)
                            .hint("give each DAG file its own dag_id"),
                    ],
                    file: item.file,
                });
            }
            Err(errors) => bag.import_errors.push(ImportError {
                file: item.file,
                errors,
            }),
        }
    }
    bag
}

/// Where a DAG's `dag_id` is written, if it is.
fn dag_id_pos(dag: &Dag) -> Option<super::source::Pos> {
    let doc = super::yaml::parse(&dag.fileloc, &dag.source).ok()?;
    let (key, _) = doc.find("dag_id")?;
    key.map(|k| doc.pos(k))
}

fn too_large(file: &Path, size: u64, limit: u64) -> DagError {
    DagError::new(
        file,
        None,
        format!(
            "the file is {}, larger than the {} a DAG file may have",
            size_text(size),
            size_text(limit)
        ),
    )
    .hint("split it into several DAG files, or raise max_dag_file_size in airless.toml")
}

/// `16 MiB`, `51.2 MiB`, `900 bytes`.
fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        let mib = bytes as f64 / MIB as f64;
        if bytes.is_multiple_of(MIB) {
            format!("{} MiB ({bytes} bytes)", bytes / MIB)
        } else {
            format!("{mib:.1} MiB ({bytes} bytes)")
        }
    } else {
        format!("{bytes} bytes")
    }
}

/// Why a DAG file cannot be read, a broken symlink and a symlink loop
/// named as such.
fn unreadable(file: &Path, err: &std::io::Error) -> DagError {
    let is_link = std::fs::symlink_metadata(file)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    if is_link && err.raw_os_error() == Some(nix::libc::ELOOP) {
        return DagError::new(
            file,
            None,
            "the file is a symlink loop: following it leads back to a link already followed",
        )
        .hint("point the symlink at a real file, or remove it");
    }
    if is_link && err.kind() == std::io::ErrorKind::NotFound {
        let target = std::fs::read_link(file)
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        return DagError::new(
            file,
            None,
            format!("the file is a broken symlink: its target `{target}` does not exist"),
        )
        .hint("point the symlink at a real file, or remove it");
    }
    DagError::new(file, None, format!("cannot read the file: {err}"))
}

/// The DAG files directly in `dir`, sorted by name: every `.yaml`/`.yml`
/// entry that is not a folder, broken symlinks included (they are import
/// errors, not silently skipped).
pub fn dag_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) && !p.is_dir()
        })
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_text(16 * 1024 * 1024), "16 MiB (16777216 bytes)");
        assert_eq!(size_text(50_000_000), "47.7 MiB (50000000 bytes)");
        assert_eq!(size_text(900), "900 bytes");
    }
}
