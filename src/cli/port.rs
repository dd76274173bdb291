//! `port airflow FILE|DIR…` and `port mwaa --environment NAME`: Airflow DAG
//! files → `dags/*.yaml` plus a report of what was not carried over, written
//! next to them and printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use crate::port::{self, AirflowVersion, FileError, PortOptions, PortOutcome, SourceFile};

#[derive(Debug, clap::Subcommand)]
pub enum PortCommand {
    /// Port Airflow DAG files (read statically, never run) to airless YAML.
    Airflow {
        /// DAG files, or folders searched for *.py files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where the YAML files and the report go.
        #[arg(short = 'o', long, default_value = "dags")]
        out: PathBuf,
        /// Whose defaults apply: 2 (MWAA's line; catchup on, interval
        /// timetable) or 3 (catchup off, trigger timetable). Default 2.
        #[arg(long, value_parser = parse_version)]
        airflow_version: Option<AirflowVersion>,
    },
    /// Port the DAGs of a live MWAA environment, starting each where MWAA stopped.
    Mwaa {
        /// The MWAA environment's name.
        #[arg(long)]
        environment: String,
        /// Its AWS region (default: the AWS configuration's).
        #[arg(long)]
        region: Option<String>,
        /// Another endpoint for the MWAA API (tests, proxies).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Where the YAML files and the report go.
        #[arg(short = 'o', long, default_value = "dags")]
        out: PathBuf,
    },
}

fn parse_version(text: &str) -> Result<AirflowVersion, String> {
    AirflowVersion::from_version_string(text).ok_or_else(|| {
        format!("unknown Airflow version `{text}`; use 2 or 3 (or a full version such as 2.10.5)")
    })
}

/// Runs a port; the exit code is 1 when a file could not be read or parsed.
pub async fn run(cmd: PortCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PortCommand::Airflow {
            paths,
            out,
            airflow_version,
        } => {
            let (sources, mut errors) = read_sources(&paths);
            if sources.is_empty() && errors.is_empty() {
                return Err(anyhow!("no .py files in {}", list(&paths)));
            }
            let opts = PortOptions {
                airflow_version: airflow_version.unwrap_or(AirflowVersion::V2),
                live: Default::default(),
            };
            let mut outcome = port::port_sources(&sources, &opts);
            errors.append(&mut outcome.errors);
            outcome.errors = errors;
            finish(&outcome, &out)
        }
        PortCommand::Mwaa {
            environment,
            region,
            endpoint_url,
            out,
        } => {
            let request = port::mwaa::MwaaRequest {
                environment: environment.clone(),
                region,
                endpoint_url,
            };
            let snapshot = port::mwaa::fetch(&request)
                .await
                .map_err(|e| anyhow!("cannot read MWAA environment `{environment}`: {e}"))?;
            let version = AirflowVersion::from_version_string(&snapshot.airflow_version).ok_or_else(|| {
                anyhow!(
                    "MWAA environment `{environment}` runs Airflow {}, which the port does not know",
                    snapshot.airflow_version
                )
            })?;
            println!(
                "MWAA environment `{environment}`: Airflow {}, {} DAG file(s)",
                snapshot.airflow_version,
                snapshot.sources.len()
            );
            let opts = PortOptions {
                airflow_version: version,
                live: snapshot.live,
            };
            let outcome = port::port_sources(&snapshot.sources, &opts);
            finish(&outcome, &out)
        }
    }
}

/// Writes the YAML files, the channels they name and the report, prints the report.
fn finish(outcome: &PortOutcome, out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for dag in &outcome.dags {
        let path = out.join(&dag.file_name);
        std::fs::write(&path, &dag.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {} (from {})", path.display(), dag.source);
    }
    if let Some(toml) = outcome.notify_toml() {
        let path = out.join(port::NOTIFY_FILE);
        std::fs::write(&path, toml).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "wrote {} (channels to copy into airless.toml)",
            path.display()
        );
    }
    let report = outcome.report_text();
    let report_path = out.join(port::REPORT_FILE);
    std::fs::write(&report_path, &report)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    println!("\n{report}report written to {}", report_path.display());
    Ok(if outcome.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every file named, and every *.py under every folder named, sorted; an
/// unreadable file is an error, not a stop.
fn read_sources(paths: &[PathBuf]) -> (Vec<SourceFile>, Vec<FileError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            if let Err(err) = walk(path, &mut found) {
                errors.push(file_error(path, format!("cannot read the folder: {err}")));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut sources = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => sources.push(SourceFile {
                path: file.display().to_string(),
                text,
            }),
            Err(err) => errors.push(file_error(&file, format!("cannot read it: {err}"))),
        }
    }
    (sources, errors)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "__pycache__");
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "py") {
            out.push(path);
        }
    }
    Ok(())
}

fn file_error(path: &Path, message: String) -> FileError {
    FileError {
        file: path.display().to_string(),
        line: None,
        column: None,
        message,
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
