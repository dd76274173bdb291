//! The `airless` binary: parse the command line, load the config, start
//! telemetry, run the command, and map its result to the exit code.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = airless::cli::Cli::parse();
    let env = airless::config::environment();
    let config = match airless::config::Config::load(cli.config.as_deref(), &env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return std::process::ExitCode::from(2);
        }
    };
    // the daemon logs its lifecycle; one-shot commands only what went wrong
    let default_level = match cli.command {
        airless::cli::Command::Serve { .. } => "info",
        _ => "warn",
    };
    let filter = env
        .get("AIRLESS_LOG")
        .and_then(|directives| tracing_subscriber::EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default_level));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // colour codes only for a person at a terminal, never in a log file
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log_format {
        airless::config::LogFormat::Json => subscriber.json().init(),
        airless::config::LogFormat::Text => subscriber.init(),
    }
    match airless::cli::run(cli.command, config, env).await {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err:#}");
            // an unknown DAG, run or task is the caller's mistake, not a failure of ours
            if err.downcast_ref::<airless::cli::NotFound>().is_some() {
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::from(2)
            }
        }
    }
}
