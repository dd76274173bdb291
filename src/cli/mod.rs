//! The command line: clap types, and the commands. `dags …` and `tasks test`
//! work in-process on the DAG folder and the state database; `db …` looks
//! after the database itself.

mod dags;
mod db;
mod folder;
mod notify;
pub mod port;
mod remote;
mod table;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;

/// The `AIRLESS_*` variables, listed under `--help`.
const ENVIRONMENT_HELP: &str = "\
Environment (each overrides its key in airless.toml):
  AIRLESS_CONFIG          the config file (as --config)
  AIRLESS_DAGS_FOLDER     dags_folder: where the DAG files are (./dags)
  AIRLESS_DATABASE        database: a SQLite file (./airless.db) or a postgres:// URL
  AIRLESS_DATABASE_POOL_SIZE  database_pool_size
  AIRLESS_LOGS_FOLDER     logs_folder: each try's log (./logs)
  AIRLESS_BIND            bind: the HTTP address (127.0.0.1:8080)
  AIRLESS_API_TOKENS      api_tokens, comma-separated; the CLI sends the first
  AIRLESS_URL             the daemon's address for remote commands (as --url)
  AIRLESS_PARALLELISM     parallelism: tasks running at once (32)
  AIRLESS_SHUTDOWN_GRACE  shutdown_grace: running tasks' time to finish (30s)
  AIRLESS_LOG_FORMAT      log_format: text or json
  AIRLESS_LOG             the log filter (info for serve, warn otherwise)
Config file: --config, AIRLESS_CONFIG, ./airless.toml, then /etc/airless/airless.toml.";

#[derive(Debug, Parser)]
#[command(
    name = "airless",
    version,
    about = "One binary that replaces Apache Airflow / AWS MWAA",
    after_help = ENVIRONMENT_HELP
)]
pub struct Cli {
    /// Config file (default: ./airless.toml, else /etc/airless/airless.toml, when it exists).
    #[arg(long, global = true, env = "AIRLESS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: schedule DAGs, run their tasks, serve the HTTP API.
    #[command(after_help = ENVIRONMENT_HELP)]
    Serve {
        /// The HTTP address to listen on (overrides `bind` and AIRLESS_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// The DAG folder (overrides `dags_folder` and AIRLESS_DAGS_FOLDER).
        #[arg(long)]
        dags_folder: Option<PathBuf>,
        /// The state database, a SQLite file or a postgres:// URL (overrides
        /// `database` and AIRLESS_DATABASE).
        #[arg(long)]
        database: Option<String>,
    },
    /// Trigger a DAG on the running daemon.
    Trigger {
        /// The DAG to trigger.
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
    /// Print a try's log from the running daemon.
    Logs {
        /// The DAG.
        dag_id: String,
        /// The run (its run id, as `runs list` shows it).
        run_id: String,
        /// The task.
        task_id: String,
        /// The try (default: the latest).
        #[arg(long = "try")]
        try_number: Option<u32>,
        /// Keep printing the log as it grows until the try ends.
        #[arg(long)]
        follow: bool,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Queue a run for every interval between two dates (the daemon runs them).
    Backfill {
        /// The DAG to backfill.
        dag_id: String,
        /// First logical date (inclusive).
        #[arg(long)]
        from: String,
        /// Last logical date (inclusive).
        #[arg(long)]
        to: String,
        /// Clear the task instances of intervals that already have a run, so
        /// they run again (Airflow's --reset-dagruns).
        #[arg(long)]
        reset: bool,
        /// Also queue intervals that have not ended yet.
        #[arg(long)]
        allow_future: bool,
        /// Only list the intervals; queue nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do it without asking.
        #[arg(long, short = 'y')]
        yes: bool,
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
        /// The DAG.
        dag_id: String,
        /// The graph's notation.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// List the next runs: logical date, data interval, and when each starts.
    NextRuns {
        /// The DAG.
        dag_id: String,
        /// How many runs.
        #[arg(short = 'n', default_value_t = 5)]
        n: usize,
        /// Only runs whose logical date is at or after this (default: the
        /// runs the scheduler creates next, the one that starts next first).
        #[arg(long)]
        after: Option<String>,
    },
    /// Pause a DAG on the running daemon: no new runs are scheduled or started.
    Pause {
        /// The DAG.
        dag_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Unpause a DAG on the running daemon.
    Unpause {
        /// The DAG.
        dag_id: String,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Run one whole DagRun in-process and record it; exits 1 if it fails.
    Test {
        /// The DAG.
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
        /// The DAG.
        dag_id: String,
        /// The task.
        task_id: String,
        /// The logical date (default: now), in the DAG's timezone unless it has an offset.
        #[arg(long)]
        date: Option<String>,
        /// An upstream task's output, as `TASK=JSON` (repeatable), for the
        /// templates that read it (`{{ tasks.TASK.output }}`).
        #[arg(long = "upstream-output", value_name = "TASK=JSON")]
        upstream_output: Vec<String>,
        /// Read the upstream outputs from this existing run in the database
        /// (read-only); `--upstream-output` overrides single tasks.
        #[arg(long, value_name = "RUN_ID")]
        from_run: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List recent runs, newest first (by when they were queued or started).
    List {
        /// Only this DAG's runs (default: every DAG's).
        dag_id: Option<String>,
        /// How many runs at most.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only runs in this state: queued, running, success or failed (repeatable).
        #[arg(long)]
        state: Vec<String>,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Show a run: each task's state, tries, duration, error and log path.
    Show {
        /// The DAG.
        dag_id: String,
        /// The run.
        run_id: String,
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
    /// The API token to send (default: the first of `api_tokens` or AIRLESS_API_TOKENS).
    #[arg(long)]
    pub token: Option<String>,
}

/// A clear "not found" (an unknown DAG, run or task): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotFound(pub String);

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// Runs a command with its loaded config; the returned code is the
/// process's exit code.
pub async fn run(
    command: Command,
    mut config: Config,
    env: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<i32> {
    match command {
        Command::Serve {
            bind,
            dags_folder,
            database,
        } => {
            if let Some(bind) = bind {
                config.bind = bind.parse().map_err(|_| {
                    anyhow::anyhow!("--bind: `{bind}` is not an address like 127.0.0.1:8080")
                })?;
            }
            if let Some(folder) = dags_folder {
                config.dags_folder = folder;
            }
            if let Some(database) = database {
                let pool_size = match &config.database {
                    crate::store::Location::Postgres { pool_size, .. } => *pool_size,
                    crate::store::Location::Sqlite(_) => crate::store::DEFAULT_POOL_SIZE,
                };
                config.database =
                    crate::store::Location::parse(&database).with_pool_size(pool_size);
            }
            crate::app::serve(config, env).await.map(|()| 0)
        }
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
            state,
            remote,
        }) => {
            remote::Client::new(&config, &remote)?
                .list_runs(dag_id.as_deref(), limit, &state)
                .await
        }
        Command::Runs(RunsCommand::Show {
            dag_id,
            run_id,
            remote,
        }) => {
            remote::Client::new(&config, &remote)?
                .show_run(&dag_id, &run_id)
                .await
        }
        Command::Logs {
            dag_id,
            run_id,
            task_id,
            try_number,
            follow,
            remote,
        } => {
            remote::Client::new(&config, &remote)?
                .logs(&dag_id, &run_id, &task_id, try_number, follow)
                .await
        }
        Command::Backfill {
            dag_id,
            from,
            to,
            reset,
            allow_future,
            dry_run,
            yes,
            remote,
        } => {
            let options = remote::BackfillOptions {
                reset,
                allow_future,
                dry_run,
                yes,
            };
            remote::backfill(&config, &remote, &dag_id, &from, &to, options).await
        }
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
            upstream_output,
            from_run,
        }) => {
            let upstream = dags::Upstream {
                outputs: upstream_output,
                from_run,
            };
            dags::test_task(&config, env, &dag_id, &task_id, date.as_deref(), upstream).await
        }
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand and every argument in the tree, with its path.
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} <{id}>"));
            }
        }
        for sub in command.get_subcommands() {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_name() != "help" && sub.get_about().is_none() {
                missing.push(sub_path.clone());
            }
            walk(sub, &sub_path, missing);
        }
    }

    #[test]
    fn every_subcommand_and_argument_has_a_description() {
        let command = super::Cli::command();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&command, "airless", &mut missing);
        assert!(missing.is_empty(), "no help for: {missing:#?}");
    }
}
