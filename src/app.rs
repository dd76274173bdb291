//! The composition root of `airless serve`: builds the store, the DAG
//! registry, the engine, the scheduler and the HTTP server; owns the root
//! cancellation token and the shutdown order.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::dag::DagBag;
pub use crate::dag::DagRegistry;
use crate::engine::Engine;
pub use crate::engine::Launcher;
use crate::store::Store;

/// What the HTTP API works with.
#[derive(Debug, Clone)]
pub struct AppState {
    pub dags: DagRegistry,
    pub launcher: Launcher,
    /// Accepted bearer tokens (also Basic passwords); empty = no auth, which
    /// `serve` allows on loopback only.
    pub api_tokens: Arc<Vec<secrecy::SecretString>>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// Runs `airless serve` until SIGTERM or SIGINT: recovery first, then the
/// scheduler, the DAG-folder watcher and the HTTP API. On a signal: stop
/// taking work, let running tries finish within `shutdown_grace`, exit.
pub async fn serve(
    config: crate::config::Config,
    env: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<()> {
    use anyhow::Context;

    if !config.bind.ip().is_loopback() && config.api_tokens.is_empty() {
        anyhow::bail!(
            "refusing to listen on {} without an API token: set `api_tokens` in airless.toml or AIRLESS_API_TOKENS, or bind to 127.0.0.1",
            config.bind
        );
    }
    let store = Store::open_for_daemon(&config.database).await?;
    let clock: Arc<dyn crate::engine::Clock> = Arc::new(crate::engine::SystemClock);
    let bag = DagBag::load(&config.dags_folder).with_context(|| {
        format!(
            "cannot read the DAG folder {}",
            config.dags_folder.display()
        )
    })?;
    register_dags(&store, &bag, clock.now()).await?;
    tracing::info!(dags = bag.dags.len(), import_errors = bag.import_errors.len(), folder = %config.dags_folder.display(), "DAGs loaded");
    for error in bag.errors() {
        tracing::warn!("import error: {error}");
    }
    let registry = DagRegistry::new(bag);

    let root = CancellationToken::new();
    let engine = Engine::new(
        store.clone(),
        clock.clone(),
        crate::engine::EngineSettings {
            parallelism: config.parallelism,
            logs_dir: config.logs_folder.clone(),
            env,
        },
    );
    let launcher = Launcher::new(engine, root.child_token());

    // restart safety: runs left running resume before anything new is scheduled
    let resumed = crate::engine::recovery::resume_runs(&store, &registry, &launcher).await?;
    if resumed > 0 {
        tracing::info!(
            runs = resumed,
            "resuming runs left unfinished by the last stop"
        );
    }

    let scheduler =
        crate::scheduler::Scheduler::new(registry.clone(), launcher.clone(), clock.clone());
    let scheduler_task = tokio::spawn(scheduler.run(root.child_token()));
    let checkpoints = tokio::spawn(checkpoint_wal(store.clone(), root.child_token()));
    let watcher_task = tokio::spawn(watch_dag_folder(
        config.dags_folder.clone(),
        registry.clone(),
        launcher.clone(),
        root.child_token(),
    ));

    let state = AppState {
        dags: registry,
        launcher: launcher.clone(),
        api_tokens: Arc::new(config.api_tokens.clone()),
        started_at: clock.now(),
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(address = %config.bind, "serving the API");
    let server_stop = root.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, crate::api::router(state))
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await
    });

    shutdown_signal().await;
    tracing::info!(grace = ?config.shutdown_grace, "shutting down: no new work; running tries may finish");
    root.cancel();
    let _ = scheduler_task.await;
    let _ = watcher_task.await;
    let _ = checkpoints.await;
    if launcher.shutdown(config.shutdown_grace).await {
        tracing::info!("all running tries finished");
    } else {
        tracing::warn!("shutdown grace ran out: unfinished tries are retried after the restart");
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!("the API server stopped with an error: {err}"),
        Err(err) => tracing::warn!("the API server task failed: {err}"),
    }
    Ok(())
}

/// Records every loaded DAG (new ones start paused if their file says so).
pub async fn register_dags(
    store: &Store,
    bag: &DagBag,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::store::StoreError> {
    let dags: Vec<_> = bag
        .dags
        .values()
        .map(|dag| {
            (
                &dag.dag_id,
                dag.fileloc.display().to_string(),
                dag.is_paused_upon_creation,
            )
        })
        .collect();
    store.register_dags(&dags, now).await
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

/// Checkpoints the WAL every second off the hot path, and once more at stop.
async fn checkpoint_wal(store: Store, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            () = stop.cancelled() => break,
        }
        if let Err(err) = store.checkpoint().await {
            tracing::warn!("WAL checkpoint failed: {err}");
        }
    }
}

/// How often the DAG folder is checked for added, changed and deleted files.
pub const RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads the DAG folder whenever a file's name, size or modification time
/// changes; a broken edit keeps the DAG's last good version scheduled.
pub async fn watch_dag_folder(
    folder: std::path::PathBuf,
    registry: DagRegistry,
    launcher: Launcher,
    stop: CancellationToken,
) {
    let mut seen = fingerprint(&folder);
    loop {
        tokio::select! {
            () = tokio::time::sleep(RELOAD_INTERVAL) => {}
            () = stop.cancelled() => return,
        }
        let now = fingerprint(&folder);
        if now == seen {
            continue;
        }
        seen = now;
        match DagBag::load(&folder) {
            Ok(bag) => {
                if let Err(err) =
                    register_dags(launcher.store(), &bag, launcher.engine().now()).await
                {
                    tracing::error!("cannot record the reloaded DAGs: {err}");
                    continue;
                }
                for error in bag.errors() {
                    tracing::warn!("import error: {error}");
                }
                tracing::info!(
                    dags = bag.dags.len(),
                    import_errors = bag.import_errors.len(),
                    "DAG folder reloaded"
                );
                registry.replace(bag);
                launcher.reschedule();
            }
            Err(err) => {
                tracing::error!(folder = %folder.display(), "cannot read the DAG folder: {err}")
            }
        }
    }
}

fn fingerprint(
    folder: &std::path::Path,
) -> Vec<(std::path::PathBuf, u64, Option<std::time::SystemTime>)> {
    crate::dag::bag::dag_files(folder)
        .unwrap_or_default()
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
            let modified = meta.and_then(|m| m.modified().ok());
            (path, size, modified)
        })
        .collect()
}
