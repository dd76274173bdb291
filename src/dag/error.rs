//! One mistake in one DAG file: where it is and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::source::Pos;

/// A mistake found while loading a DAG file. Displayed as
/// `file:line:col: message — hint`, the form editors and terminals link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub message: String,
    pub hint: Option<String>,
}

impl DagError {
    pub fn new(file: &Path, pos: Option<Pos>, message: impl Into<String>) -> Self {
        DagError {
            file: file.to_path_buf(),
            pos,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for DagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DagError {}

/// "did you mean `x`?" for a misspelt name, when one candidate is close.
pub fn suggest<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(got, c), c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
