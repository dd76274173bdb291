//! The composition root of `airless serve`: [`build`] opens the state
//! database through the command door (refusing when another `serve` holds
//! it), loads the DAG folder and wires the engine, the scheduler and the HTTP
//! API; [`App::run`] serves on a listener it is handed until `shutdown`
//! completes, then stops in order. Nothing imports this module but `main`
//! (through `cli`) and the test harness.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::api::AppState;
use crate::config::Config;
use crate::dag::DagRegistry;
use crate::engine::{Control, Engine, EngineSettings, Launcher};
use crate::model::{Clock, OwnerKind, SystemClock};

/// A daemon ready to serve: state opened, nothing loaded or running yet.
pub struct App {
    config: Config,
    control: Control,
    registry: DagRegistry,
    launcher: Launcher,
    root: CancellationToken,
    channels: HashMap<String, Arc<dyn crate::notify::Channel>>,
}

/// Opens the state database as the one scheduler on it (refusing, before
/// anything else, when another `serve` holds it) and wires the engine. The
/// DAG folder is loaded by [`App::run`], after the port is open.
pub async fn build(config: Config, env: BTreeMap<String, String>) -> anyhow::Result<App> {
    if !config.bind.ip().is_loopback() && config.api_tokens.is_empty() {
        anyhow::bail!(
            "refusing to listen on {} without an API token: set `api_tokens` in airless.toml or AIRLESS_API_TOKENS, or bind to 127.0.0.1",
            config.bind
        );
    }
    if !config.dags_folder.is_dir() {
        anyhow::bail!(
            "the DAG folder {} does not exist: create it, or set `dags_folder` in airless.toml or AIRLESS_DAGS_FOLDER",
            config.dags_folder.display()
        );
    }
    // a channel that cannot be built stops the start, naming its table
    let channels = crate::notify::channels(&config.notify, &env)
        .map_err(|err| anyhow::anyhow!("{err} (in the [notify.*] tables of airless.toml)"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let control = Control::open(
        &config.database,
        OwnerKind::Serve,
        clock.clone(),
        config.lease_timeout,
    )
    .await?;
    let registry = DagRegistry::loading();
    let root = CancellationToken::new();
    let engine = Engine::new(
        control.clone(),
        EngineSettings {
            parallelism: config.parallelism,
            logs_dir: config.logs_folder.clone(),
            env,
        },
    );
    let launcher = Launcher::new(engine, root.child_token());
    Ok(App {
        config,
        control,
        registry,
        launcher,
        root,
        channels,
    })
}

impl App {
    /// The door this daemon changes state through (tests subscribe to it).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Runs until `shutdown` completes: the HTTP API on `listener` first
    /// (`/health` says the DAGs are loading until every file is parsed), the
    /// scheduler and the lease keeper, then the DAG folder is loaded file by
    /// file (each DAG served, scheduled and its unfinished runs adopted as
    /// its file finishes), then the folder watcher starts. Then: stop taking
    /// work, let running tries finish within `shutdown_grace`, give up every
    /// lease. A DAG folder that cannot be read stops it with that error.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let App {
            config,
            control,
            registry,
            launcher,
            root,
            channels,
        } = self;
        let state = AppState {
            dags: registry.clone(),
            launcher: launcher.clone(),
            api_tokens: Arc::new(config.api_tokens.clone()),
            started_at: control.now(),
        };
        match listener.local_addr() {
            Ok(address) => {
                tracing::info!("serving the API on http://{address}");
                tracing::info!("the web UI is at http://{address}/");
            }
            Err(err) => tracing::warn!("serving the API on an unknown address: {err}"),
        }
        // connections never take the file descriptors tries need: a few
        // hundred stay free whatever the limit
        let open_files = crate::api::server::raise_open_file_limit().unwrap_or(1024);
        let max_connections = config.max_connections.min(
            usize::try_from(open_files.saturating_sub(256))
                .unwrap_or(usize::MAX)
                .max(16),
        );
        let limits = crate::api::server::Limits {
            header_read_timeout: config.header_read_timeout,
            request_timeout: config.request_timeout,
            max_connections,
            grace: config.shutdown_grace,
        };
        let server_stop = root.child_token();
        let server = tokio::spawn(crate::api::server::serve(
            listener,
            crate::web::router(state.clone()).merge(crate::api::router(state)),
            limits,
            server_stop.clone(),
        ));

        // the scheduler runs while the folder loads: each DAG is scheduled
        // (and its unfinished runs adopted) as soon as its file is parsed
        let scheduler = crate::scheduler::Scheduler::new(
            registry.clone(),
            launcher.clone(),
            control.clock().clone(),
        );
        let scheduler_task = tokio::spawn(scheduler.run(root.child_token()));
        let leases = tokio::spawn(launcher.clone().keep_leases(root.child_token()));
        let checkpoints = tokio::spawn(checkpoint_wal(control.clone(), root.child_token()));
        let peers = tokio::spawn(crate::engine::peers::bridge(
            launcher.clone(),
            root.child_token(),
        ));
        let alerts = tokio::spawn(
            crate::scheduler::alerts::AlertSender::new(
                control.clone(),
                registry.clone(),
                channels,
                crate::scheduler::alerts::AlertSettings {
                    wait: config.notify_wait,
                    window: config.notify_window,
                    public_url: config.public_url.clone(),
                    import_errors: config.notify_import_errors.clone(),
                },
            )
            .run(root.child_token()),
        );
        let processor = crate::scheduler::dag_processor::DagProcessor::new(
            config.dags_folder.clone(),
            config.max_dag_file_size,
            registry.clone(),
            launcher.clone(),
        );
        tokio::pin!(shutdown);
        let loaded = tokio::select! {
            loaded = processor.load(None, &root) => Some(loaded),
            () = &mut shutdown => None,
        };
        let stopped = loaded.is_none();
        let mut failed = None;
        let watcher_task = match loaded {
            Some(Ok(_)) => Some(tokio::spawn(crate::scheduler::watch::watch_dag_folder(
                config.dags_folder.clone(),
                processor,
                registry.clone(),
                root.child_token(),
            ))),
            Some(Err(err)) => {
                failed = Some(anyhow::Error::new(err));
                None
            }
            None => None,
        };
        if !stopped && failed.is_none() {
            shutdown.await;
        }
        tracing::info!(grace = ?config.shutdown_grace, "shutting down: no new work; running tries may finish");
        root.cancel();
        let _ = scheduler_task.await;
        if let Some(watcher_task) = watcher_task {
            let _ = watcher_task.await;
        }
        let _ = checkpoints.await;
        let _ = peers.await;
        let _ = alerts.await;
        let _ = leases.await;
        if launcher.shutdown(config.shutdown_grace).await {
            tracing::info!("all running tries finished");
        } else {
            tracing::warn!(
                "shutdown grace ran out: the tries still running were stopped; each says above and in its log whether it is retried, fails or resumes after the restart"
            );
        }
        if let Err(err) = control.stop().await {
            tracing::warn!("cannot record the stop: {err}");
        }
        if let Err(err) = server.await {
            tracing::warn!("the API server task failed: {err}");
        }
        match failed {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// `airless serve`: builds the app, binds `bind`, runs until SIGTERM or SIGINT.
pub async fn serve(config: Config, env: BTreeMap<String, String>) -> anyhow::Result<()> {
    let bind = config.bind;
    let app = build(config, env).await?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"));
    let listener = match listener {
        Ok(listener) => listener,
        Err(err) => {
            // nothing ran: give the scheduler's lock back at once
            let _ = app.control.stop().await;
            return Err(err);
        }
    };
    app.run(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Checkpoints the WAL four times a second off the hot path (passive, or
/// truncating when it grew large or airless is idle).
async fn checkpoint_wal(control: Control, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
            () = stop.cancelled() => break,
        }
        if let Err(err) = control.checkpoint().await {
            tracing::warn!("WAL checkpoint failed: {err}");
        }
    }
}
