//! The port report: what was not carried over (file:line, what, why) and the
//! files that could not be read. Plain text, one line per item.

use super::PortOutcome;

/// One construct not carried over, or carried over with a change of meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportItem {
    pub file: String,
    /// 1-based line in `file`.
    pub line: u32,
    /// The construct, e.g. "PythonOperator `extract`".
    pub what: String,
    /// Why it was not carried over and what the YAML has instead.
    pub why: String,
}

/// A file that could not be read or is not valid Python; nothing of it is ported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    /// 1-based line and column, when the error has a position.
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: ", self.file)?,
            (Some(line), None) => write!(f, "{}:{line}: ", self.file)?,
            _ => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{}", self.message)
    }
}

impl std::fmt::Display for ReportItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.what, self.why
        )
    }
}

pub(super) fn render(outcome: &PortOutcome) -> String {
    let mut out = String::new();
    for error in &outcome.errors {
        out.push_str(&format!("error: {error}\n"));
    }
    for item in &outcome.report {
        out.push_str(&format!("{item}\n"));
    }
    if !outcome.channels.is_empty() {
        let channels = super::channels::Channels {
            list: outcome.channels.clone(),
        };
        out.push_str(&format!(
            "\nThe alert keys of the ported DAGs name these channels; airless reads them from airless.toml (they are also in {}):\n\n{}\n",
            super::NOTIFY_FILE,
            channels.toml()
        ));
    }
    out.push_str(&format!(
        "{} DAG(s) ported, {} construct(s) not carried over as written, {} file(s) not read\n",
        outcome.dags.len(),
        outcome.report.len(),
        outcome.errors.len()
    ));
    out
}
