//! The command line: clap types, and the commands. `dags …` and `tasks test`
//! work in-process on the DAG folder and the state database; `db …` looks
//! after the database itself.

mod dags;
mod db;
mod notify;
pub mod port;
mod remote;
mod table;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "airless",
    version,
    about = "One binary that replaces Apache Airflow / AWS MWAA"
)]
pub struct Cli {
    /// Config file (default: ./airless.toml when it exists).
    #[arg(long, global = true, env = "AIRLESS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: schedule DAGs, run their tasks, serve the HTTP API.
    Serve,
    /// Trigger a DAG on the running daemon.
    Trigger {
        dag_id: String,
        /// The run's conf, as JSON.
        #[arg(long)]
        conf: Option<String>,
        /// Follow the run's tasks until it ends; the exit code is the run's result.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// DagRuns on the running daemon.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Queue a run for every interval between two dates (the daemon runs them).
    Backfill {
        dag_id: String,
        /// First logical date (inclusive).
        #[arg(long)]
        from: String,
        /// Last logical date (inclusive).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Work with DAG files.
    #[command(subcommand)]
    Dags(DagsCommand),
    /// Work with single tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Port Airflow DAG files or a live MWAA environment to airless YAML.
    #[command(subcommand)]
    Port(port::PortCommand),
    /// Alert channels (`[notify.NAME]` in airless.toml).
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// The state database: migrate it, copy it (SQLite → PostgreSQL), clean old history.
    #[command(subcommand)]
    Db(db::DbCommand),
}

#[derive(Debug, Subcommand)]
pub enum DagsCommand {
    /// List the DAGs, their next run, and the files that failed to load: as
    /// the running daemon schedules them, or from the files when none runs.
    List {
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Check DAG files; prints every mistake and exits 1 if there is any.
    Validate {
        /// A DAG file or folder (default: the dags folder).
        path: Option<PathBuf>,
    },
    /// Print a DAG's task graph.
    Show {
        dag_id: String,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// List the next runs: logical date, data interval, and when each starts.
    NextRuns {
        dag_id: String,
        #[arg(short = 'n', default_value_t = 5)]
        n: usize,
        /// Only runs whose logical date is at or after this (default: the
        /// runs the scheduler creates next, the one that starts next first).
        #[arg(long)]
        after: Option<String>,
    },
    /// Pause a DAG on the running daemon: no new runs are scheduled or started.
    Pause {
        dag_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Unpause a DAG on the running daemon.
    Unpause {
        dag_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Run one whole DagRun in-process and record it; exits 1 if it fails.
    Test {
        dag_id: String,
        /// The logical date (default: now), in the DAG's timezone unless it has an offset.
        #[arg(long)]
        date: Option<String>,
        /// The run's conf, as JSON.
        #[arg(long)]
        conf: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Run one task in-process without recording it; its log goes to stdout.
    Test {
        dag_id: String,
        task_id: String,
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List recent runs, newest first.
    List {
        dag_id: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Where the daemon's API is.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// The daemon's base URL (default: http:// and the configured `bind`).
    #[arg(long, env = "AIRLESS_URL")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Runs a command with its loaded config; the returned code is the
/// process's exit code.
pub async fn run(
    command: Command,
    config: Config,
    env: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<i32> {
    match command {
        Command::Serve => crate::app::serve(config, env).await.map(|()| 0),
        Command::Trigger {
            dag_id,
            conf,
            wait,
            remote,
        } => {
            remote::Client::new(&config, &remote)?
                .trigger(&dag_id, conf.as_deref(), wait)
                .await
        }
        Command::Runs(RunsCommand::List {
            dag_id,
            limit,
            remote,
        }) => {
            remote::Client::new(&config, &remote)?
                .list_runs(dag_id.as_deref(), limit)
                .await
        }
        Command::Backfill {
            dag_id,
            from,
            to,
            remote,
        } => remote::backfill(&config, &remote, &dag_id, &from, &to).await,
        Command::Dags(DagsCommand::Pause { dag_id, remote }) => {
            remote::Client::new(&config, &remote)?
                .set_paused(&dag_id, true)
                .await
        }
        Command::Dags(DagsCommand::Unpause { dag_id, remote }) => {
            remote::Client::new(&config, &remote)?
                .set_paused(&dag_id, false)
                .await
        }
        Command::Dags(command) => dags::run(command, &config, env).await,
        Command::Tasks(TasksCommand::Test {
            dag_id,
            task_id,
            date,
        }) => dags::test_task(&config, env, &dag_id, &task_id, date.as_deref()).await,
        Command::Notify(command) => notify::run(command, &config, &env).await,
        Command::Db(command) => db::run(command, &config).await,
        Command::Port(command) => {
            let code = port::run(command).await?;
            Ok(if code == std::process::ExitCode::SUCCESS {
                0
            } else {
                1
            })
        }
    }
}
