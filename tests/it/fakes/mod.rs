//! In-process servers that speak the documented contracts of the SaaS parts
//! nobody can run here.

pub mod databricks;
pub mod hooks;
pub mod kafka_rest;
pub mod mwaa;
pub mod pagerduty;
pub mod s3;
pub mod smtp;
pub mod sns;

/// A free port on `127.0.0.1` for a fake, and its base URL (`http://127.0.0.1:P`).
pub async fn listen(what: &str) -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind the fake {what}: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local address of the fake {what}: {e}"));
    (listener, format!("http://{addr}"))
}

/// Serves `app` in a tokio task, which the fake aborts when it is dropped.
pub fn serve(listener: tokio::net::TcpListener, app: axum::Router) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}
