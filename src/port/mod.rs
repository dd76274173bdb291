//! Airflow DAG files → airless YAML, plus a report of everything not carried
//! over. `airflow` reads Python statically (never runs it); `mwaa` fetches the
//! files and live state of an MWAA environment. Depends on `dag` (to check
//! every YAML it writes) and nothing that does I/O.

pub mod airflow;
mod channels;
pub mod mwaa;
mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use channels::{Channel, ChannelKind};
pub use report::{FileError, ReportItem};

/// One Airflow DAG file: `path` is how messages name it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// Which Airflow's defaults a file is read with: Airflow 2 (MWAA's line)
/// catches up by default and uses data-interval timetables; Airflow 3 does
/// not catch up and uses trigger timetables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AirflowVersion {
    V2,
    V3,
}

impl AirflowVersion {
    /// `"2.10.3"` → V2, `"3.0.6"` → V3, `"2"` → V2; `None` for other majors.
    pub fn from_version_string(s: &str) -> Option<Self> {
        let major = s.trim().trim_start_matches(['v', 'V']);
        let major = major.split('.').next().unwrap_or_default();
        match major {
            "2" => Some(Self::V2),
            "3" => Some(Self::V3),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::V2 => "Airflow 2",
            Self::V3 => "Airflow 3",
        }
    }
}

/// What a live environment knows about one DAG.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Whether the DAG is paused there; a paused DAG stays paused.
    pub is_paused: Option<bool>,
    /// The last scheduled run there; the port starts at the next interval.
    pub last_run: Option<LastRun>,
}

/// A DagRun of the live environment.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub logical_date: DateTime<Utc>,
    pub data_interval_start: Option<DateTime<Utc>>,
    pub data_interval_end: Option<DateTime<Utc>>,
}

/// How to port: the Airflow whose defaults apply, and live state by dag_id.
#[derive(Debug, Clone)]
pub struct PortOptions {
    pub airflow_version: AirflowVersion,
    pub live: BTreeMap<String, LiveState>,
}

/// One DAG written as airless YAML.
#[derive(Debug, Clone)]
pub struct PortedDag {
    pub dag_id: String,
    /// `<dag_id>.yaml`: where it goes in the output folder.
    pub file_name: String,
    /// The Airflow file it came from (its `SourceFile::path`).
    pub source: String,
    pub yaml: String,
}

/// Everything a port produced: the DAGs, the notification channels they
/// name, what was not carried over, and the files that could not be read.
#[derive(Debug, Clone, Default)]
pub struct PortOutcome {
    pub dags: Vec<PortedDag>,
    /// The `[notify.NAME]` tables the DAGs' alert keys name.
    pub channels: Vec<Channel>,
    pub report: Vec<ReportItem>,
    pub errors: Vec<FileError>,
}

/// The report's file name, next to the YAML files (the DAG loader reads only
/// `.yaml` / `.yml`).
pub const REPORT_FILE: &str = "airless-port-report.txt";

/// The channels' file, next to the YAML files: `[notify.NAME]` tables to
/// copy into airless.toml.
pub const NOTIFY_FILE: &str = "airless.notify.toml";

impl PortOutcome {
    /// The `[notify.NAME]` tables the ported DAGs name, as TOML with
    /// placeholders for what the DAG files do not say; `None` when no DAG
    /// names a channel.
    pub fn notify_toml(&self) -> Option<String> {
        if self.channels.is_empty() {
            return None;
        }
        let channels = channels::Channels {
            list: self.channels.clone(),
        };
        Some(format!(
            "# Channels named by DAGs ported with `airless port airflow`: copy these\n# tables into airless.toml and fill in the ${{...}} variables.\n\n{}",
            channels.toml()
        ))
    }

    /// The report as people read it: one line per item, `file:line: what: why`,
    /// errors first, then a summary line.
    pub fn report_text(&self) -> String {
        report::render(self)
    }
}

/// Ports every file. A file that is not valid Python becomes an error with
/// its line; everything else that cannot be carried over becomes a report
/// item, never a silent drop. Every YAML returned passes airless's validation.
pub fn port_sources(sources: &[SourceFile], opts: &PortOptions) -> PortOutcome {
    let mut outcome = PortOutcome::default();
    let mut channels = channels::Channels::default();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for source in sources {
        match airflow::port_file(source, opts, &mut channels) {
            Err(error) => outcome.errors.push(error),
            Ok(file) => {
                outcome.report.extend(file.report);
                for dag in file.dags {
                    if let Some(first) = seen.get(&dag.dag_id) {
                        outcome.report.push(ReportItem {
                            file: source.path.clone(),
                            line: dag.line,
                            what: format!("DAG `{}`", dag.dag_id),
                            why: format!(
                                "{first} already defines this dag_id; Airflow refuses the second, so it is not written"
                            ),
                        });
                        continue;
                    }
                    seen.insert(dag.dag_id.clone(), source.path.clone());
                    outcome.dags.push(PortedDag {
                        file_name: format!("{}.yaml", dag.dag_id),
                        dag_id: dag.dag_id,
                        source: source.path.clone(),
                        yaml: dag.yaml,
                    });
                }
            }
        }
    }
    outcome.channels = channels.list;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_by_their_major() {
        assert_eq!(
            AirflowVersion::from_version_string("2.10.3"),
            Some(AirflowVersion::V2)
        );
        assert_eq!(
            AirflowVersion::from_version_string("3.0.6"),
            Some(AirflowVersion::V3)
        );
        assert_eq!(
            AirflowVersion::from_version_string("3"),
            Some(AirflowVersion::V3)
        );
        assert_eq!(AirflowVersion::from_version_string("1.10.12"), None);
    }
}
