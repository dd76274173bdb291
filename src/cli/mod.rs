//! The command line: clap types, and the commands. `dags …` and `tasks test`
//! work in-process on the DAG folder and the state database.

mod dags;
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
    /// Work with DAG files.
    #[command(subcommand)]
    Dags(DagsCommand),
    /// Work with single tasks.
    #[command(subcommand)]
    Tasks(TasksCommand),
}

#[derive(Debug, Subcommand)]
pub enum DagsCommand {
    /// List the DAGs, their next run, and the files that failed to load.
    List,
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
        /// Only runs whose logical date is at or after this (default: now).
        #[arg(long)]
        after: Option<String>,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Runs a command; the returned code is the process's exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let env = crate::config::environment();
    let config = Config::load(cli.config.as_deref(), &env)?;
    match cli.command {
        Command::Dags(command) => dags::run(command, &config, env).await,
        Command::Tasks(TasksCommand::Test {
            dag_id,
            task_id,
            date,
        }) => dags::test_task(&config, env, &dag_id, &task_id, date.as_deref()).await,
    }
}
