//! `airless db migrate | copy | clean`: the state database's upkeep. Migrate
//! and copy go to the store; clean goes through the command door as a
//! `dags test` owner would, so it works beside a running daemon.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;

use crate::config::Config;
use crate::engine::Control;
use crate::model::{OwnerKind, SystemClock};
use crate::store::{Cleaned, Location};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the migrations the configured database lacks (`serve` does it too).
    Migrate,
    /// Copy a whole state database into an empty one, ids kept: a single
    /// box's SQLite file into PostgreSQL, or back.
    Copy {
        /// The database to copy: a SQLite file (`sqlite://airless.db`) or a
        /// `postgres://` URL. No `airless serve` may be running on it.
        #[arg(long)]
        from: String,
        /// The database to copy into: created and migrated if needed; it
        /// must hold no DAGs or runs.
        #[arg(long)]
        to: String,
    },
    /// Delete what finished before a date: runs (but each DAG's newest
    /// scheduled one), their task instances, tries and log files, old
    /// alerts and stopped owners (Airflow's `db clean`).
    Clean {
        /// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
        #[arg(long)]
        before: String,
        /// Only print what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(command: DbCommand, config: &Config) -> anyhow::Result<i32> {
    match command {
        DbCommand::Migrate => migrate(&config.database).await,
        DbCommand::Copy { from, to } => copy(&Location::parse(&from), &Location::parse(&to)).await,
        DbCommand::Clean {
            before,
            dry_run,
            yes,
        } => clean(config, &before, dry_run, yes).await,
    }
}

async fn migrate(database: &Location) -> anyhow::Result<i32> {
    match crate::store::migrate(database).await {
        Ok(applied) if applied.is_empty() => {
            println!("{database} is up to date");
            Ok(0)
        }
        Ok(applied) => {
            let versions: Vec<String> = applied.iter().map(|v| format!("{v:04}")).collect();
            println!("migrated {database}: applied {}", versions.join(", "));
            Ok(0)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Ok(1)
        }
    }
}

async fn copy(from: &Location, to: &Location) -> anyhow::Result<i32> {
    match crate::store::copy(from, to).await {
        Ok(copied) => {
            println!(
                "copied {from} into {to} in {:.1}s",
                copied.elapsed.as_secs_f64()
            );
            let rows: Vec<Vec<String>> = copied
                .tables
                .iter()
                .map(|(table, n)| vec![(*table).to_string(), n.to_string()])
                .collect();
            print!("{}", super::table::render(&["table", "rows"], &rows));
            Ok(0)
        }
        Err(err) => {
            eprintln!("error: {err}");
            Ok(1)
        }
    }
}

/// Reads `--before`: a date (midnight UTC) or an RFC 3339 time.
fn parse_before(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn clean(config: &Config, before: &str, dry_run: bool, yes: bool) -> anyhow::Result<i32> {
    let Some(before) = parse_before(before) else {
        eprintln!("error: --before `{before}` is not a date (YYYY-MM-DD) or an RFC 3339 time");
        return Ok(2);
    };
    // a missing file is a mistaken path, never a database to create
    if let Some(path) = config.database.sqlite_path()
        && !path.exists()
    {
        eprintln!(
            "error: the state database {} does not exist",
            config.database
        );
        return Ok(1);
    }
    // as `dags test` does: beside a running daemon, without its scheduler lock
    let control = match Control::open(
        &config.database,
        OwnerKind::DagsTest,
        Arc::new(SystemClock),
        config.lease_timeout,
    )
    .await
    {
        Ok(control) => control,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(1);
        }
    };
    let code = clean_with(&control, config, before, dry_run, yes).await;
    if let Err(err) = control.stop().await {
        tracing::warn!("cannot record that this process stopped: {err}");
    }
    code
}

async fn clean_with(
    control: &Control,
    config: &Config,
    before: DateTime<Utc>,
    dry_run: bool,
    yes: bool,
) -> anyhow::Result<i32> {
    let found = match control.clean(before, true).await {
        Ok(found) => found,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(1);
        }
    };
    println!(
        "{}: what finished before {}",
        config.database,
        crate::model::time::isoformat(before)
    );
    print!("{}", counts(&found));
    if dry_run {
        println!("dry run: nothing deleted");
        return Ok(0);
    }
    if found == Cleaned::default() {
        println!("nothing to delete");
        return Ok(0);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!("error: pass --yes to delete without asking");
            return Ok(1);
        }
        print!("Delete these? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            println!("nothing deleted");
            return Ok(1);
        }
    }
    let cleaned = match control.clean(before, false).await {
        Ok(cleaned) => cleaned,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(1);
        }
    };
    println!(
        "deleted {}, {}, {}, {}, {}",
        plural(cleaned.dag_runs, "DAG run", "DAG runs"),
        plural(cleaned.task_instances, "task instance", "task instances"),
        plural(cleaned.task_tries, "task try", "task tries"),
        plural(cleaned.alerts, "alert", "alerts"),
        plural(cleaned.owners, "owner", "owners"),
    );
    let logs = remove_logs(&cleaned.log_paths, &config.logs_folder);
    let mut line = format!(
        "removed {}",
        plural(logs.removed as i64, "log file", "log files")
    );
    if logs.missing > 0 {
        line.push_str(&format!(" ({} already gone)", logs.missing));
    }
    println!("{line}");
    if logs.failed.is_empty() {
        return Ok(0);
    }
    eprintln!(
        "could not remove {}:",
        plural(logs.failed.len() as i64, "log file", "log files")
    );
    for (path, err) in logs.failed.iter().take(10) {
        eprintln!("  {path}: {err}");
    }
    if logs.failed.len() > 10 {
        eprintln!("  … and {} more", logs.failed.len() - 10);
    }
    Ok(1)
}

/// `1 task try`, `2 task tries`.
fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The counts of a clean, one line each.
fn counts(cleaned: &Cleaned) -> String {
    [
        ("DAG runs", cleaned.dag_runs),
        ("task instances", cleaned.task_instances),
        ("task tries", cleaned.task_tries),
        ("alerts", cleaned.alerts),
        ("owners", cleaned.owners),
    ]
    .into_iter()
    .map(|(what, n)| format!("  {what:<16}{n}\n"))
    .collect()
}

/// What removing the deleted tries' log files came to.
#[derive(Debug, Default)]
struct RemovedLogs {
    removed: usize,
    /// Already gone: fine.
    missing: usize,
    failed: Vec<(String, std::io::Error)>,
}

/// The folders airless makes for each try's log under the logs folder
/// (`dag_id=…/run_id=…/task_id=…/attempt=N.log`): the only ones removed,
/// and only when empty.
const LOG_FOLDERS: [&str; 3] = ["dag_id=", "run_id=", "task_id="];

/// Removes each log file, then the log folders that held it once empty,
/// never the logs folder itself or anything above it.
fn remove_logs(paths: &[String], logs_folder: &Path) -> RemovedLogs {
    let mut logs = RemovedLogs::default();
    for path in paths {
        let file = Path::new(path);
        match std::fs::remove_file(file) {
            Ok(()) => logs.removed += 1,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => logs.missing += 1,
            Err(err) => {
                logs.failed.push((path.clone(), err));
                continue;
            }
        }
        let mut folder = file.parent();
        while let Some(dir) = folder {
            let ours = dir
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| LOG_FOLDERS.iter().any(|prefix| n.starts_with(prefix)));
            if !ours || dir == logs_folder || std::fs::remove_dir(dir).is_err() {
                break;
            }
            folder = dir.parent();
        }
    }
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_is_a_date_at_midnight_utc_or_an_rfc3339_time() {
        assert_eq!(
            parse_before("2024-03-01").map(|t| t.to_rfc3339()),
            Some("2024-03-01T00:00:00+00:00".to_string())
        );
        assert_eq!(
            parse_before("2024-03-01T06:00:00+02:00").map(|t| t.to_rfc3339()),
            Some("2024-03-01T04:00:00+00:00".to_string())
        );
        assert_eq!(parse_before("March 1st"), None);
        assert_eq!(parse_before("2024-02-30"), None);
    }

    #[test]
    fn removing_logs_takes_their_empty_folders_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let run = logs.join("dag_id=d").join("run_id=r");
        let gone = run.join("task_id=a").join("attempt=1.log");
        let kept = run.join("task_id=b").join("attempt=1.log");
        for file in [&gone, &kept] {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, "log").unwrap();
        }
        let removed = remove_logs(
            &[
                gone.display().to_string(),
                logs.join("never-there.log").display().to_string(),
            ],
            &logs,
        );
        assert_eq!((removed.removed, removed.missing), (1, 1));
        assert!(removed.failed.is_empty());
        assert!(!run.join("task_id=a").exists());
        assert!(kept.exists());

        let removed = remove_logs(&[kept.display().to_string()], &logs);
        assert_eq!(removed.removed, 1);
        assert!(!logs.join("dag_id=d").exists());
        assert!(logs.exists(), "the logs folder itself stays");
    }
}
