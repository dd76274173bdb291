//! One mistake in one DAG file: where it is and what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::source::Pos;

/// A mistake found while loading a DAG file. Displayed as
/// `file:line:col: message — hint`, the form editors and terminals link; a
/// warning as `file:line:col: warning: message — hint`. Control characters
/// from the file are escaped (`\u{7}`) when the error is made, so none
/// reaches a terminal, a log or the API raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DagError {
    pub file: PathBuf,
    pub pos: Option<Pos>,
    pub message: String,
    pub hint: Option<String>,
    pub severity: Severity,
}

/// An error keeps the file from loading; a warning is printed beside a DAG
/// that loads (and served by `/api/v1/dagWarnings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Error,
    Warning(WarningType),
}

/// What a warning is about: Airflow's `DagWarningType`, with airless's own
/// kinds of warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WarningType {
    /// A template puts a trigger's `conf` (or `params`, which a conf
    /// overrides) into a shell script.
    ShellInjection,
}

impl WarningType {
    /// The name the API serves, in the words of Airflow's own
    /// (`non-existent pool`).
    pub fn as_str(self) -> &'static str {
        match self {
            WarningType::ShellInjection => "shell injection",
        }
    }
}

impl DagError {
    pub fn new(file: &Path, pos: Option<Pos>, message: impl Into<String>) -> Self {
        DagError {
            file: file.to_path_buf(),
            pos,
            message: escape_controls(&message.into()),
            hint: None,
            severity: Severity::Error,
        }
    }

    /// A warning of `kind`: the DAG still loads.
    pub fn warning(
        file: &Path,
        pos: Option<Pos>,
        kind: WarningType,
        message: impl Into<String>,
    ) -> Self {
        DagError {
            severity: Severity::Warning(kind),
            ..DagError::new(file, pos, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(escape_controls(&hint.into()));
        self
    }

    pub fn is_warning(&self) -> bool {
        self.warning_type().is_some()
    }

    /// What the warning is about; `None` for an error.
    pub fn warning_type(&self) -> Option<WarningType> {
        match self.severity {
            Severity::Warning(kind) => Some(kind),
            Severity::Error => None,
        }
    }
}

impl fmt::Display for DagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.column)?;
        }
        if self.is_warning() {
            write!(f, ": warning")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DagError {}

/// `text` with control characters, and the invisible characters that
/// reorder or hide text on a terminal, written as escapes (`\u{7}`, `\n`).
pub fn escape_controls(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Above this many candidates no did-you-mean is computed: comparing a
/// name with every task of a 100,000-task DAG, for every mistake, would
/// make a broken file slow to report.
pub const MAX_SUGGESTION_CANDIDATES: usize = 10_000;

/// "did you mean `x`?" for a misspelt name, when one candidate is close.
pub fn suggest<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let got_len = got.chars().count();
    candidates
        .into_iter()
        .take(MAX_SUGGESTION_CANDIDATES)
        // the distance is at least the difference in length
        .filter(|c| c.chars().count().abs_diff(got_len) <= 2.max(c.len() / 4))
        .map(|c| (strsim::damerau_levenshtein(got, c), c))
        // and a suggestion must keep something of what was written
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4) && *distance < got_len)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_message_raw() {
        let error = DagError::new(Path::new("d.yaml"), None, "task_id `a\u{7}b\u{202E}c\nd`");
        assert_eq!(error.message, "task_id `a\\u{7}b\\u{202e}c\\nd`");
    }

    #[test]
    fn a_warning_says_so() {
        let warning = DagError::warning(
            Path::new("d.yaml"),
            Some(Pos { line: 3, column: 4 }),
            WarningType::ShellInjection,
            "careful",
        )
        .hint("do this");
        assert_eq!(
            warning.to_string(),
            "d.yaml:3:4: warning: careful — do this"
        );
    }
}
