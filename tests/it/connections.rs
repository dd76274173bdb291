//! Connections cannot take the daemon down (the real binary): 1,000 idle
//! connections and 200 that send their headers a byte a second, while a DAG
//! runs, leave `/health` fast and every try successful; a connection over
//! the cap is refused at once; SIGTERM with a request still unfinished
//! exits within the grace period.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::daemon::{Daemon, wait_for, workspace};

fn address(daemon: &Daemon) -> String {
    daemon.base.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_leave_health_fast_and_tries_running() {
    let (dir, dags) = workspace();
    let mut tasks = String::from("dag_id: busy\nschedule: null\ntasks:\n");
    for i in 0..20 {
        tasks.push_str(&format!(
            "  - {{ task_id: t{i}, kind: shell, command: \"sleep 0.2; echo {i}\" }}\n"
        ));
    }
    std::fs::write(dags.join("busy.yaml"), tasks).unwrap();
    let daemon = Daemon::start_with_env(dir.path(), &[("AIRLESS_HEADER_READ_TIMEOUT", "3s")]).await;
    let addr = address(&daemon);

    // 1,000 connections that never send a byte
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // 200 that send their headers a byte a second
    let stop_slow = tokio_util::sync::CancellationToken::new();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let addr = addr.clone();
        let stop = stop_slow.clone();
        slow.push(tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::connect(&addr).await else {
                return;
            };
            for byte in b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => return,
                }
                if stream.write_all(&[*byte]).await.is_err() {
                    return; // cut off by the header timeout
                }
            }
        }));
    }

    let run = daemon.post("/api/v1/dags/busy/dagRuns", json!({})).await;
    let run_id = run["dag_run_id"].as_str().unwrap().replace('+', "%2B");

    // /health over fresh connections, while all of the above is open
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let reply = client
            .get(format!("{}/health", daemon.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        times.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    times.sort();
    let p99 = times[98];
    println!(
        "/health with 1,000 idle and 200 slow connections: p50 {:?}, p99 {p99:?}",
        times[49]
    );
    assert!(p99 <= Duration::from_millis(100), "/health p99 {p99:?}");

    let path = format!("/api/v1/dags/busy/dagRuns/{run_id}");
    wait_for("the run to end", Duration::from_secs(60), async || {
        daemon.get(&path).await["state"] != "running"
            && daemon.get(&path).await["state"] != "queued"
    })
    .await;
    assert_eq!(daemon.get(&path).await["state"], "success");
    let tis = daemon.get(&format!("{path}/taskInstances")).await;
    for ti in tis["task_instances"].as_array().unwrap() {
        assert_eq!(ti["state"], "success", "{ti}");
        assert_eq!(ti["try_number"], 1, "{ti}");
    }

    // the idle ones were cut off by the header timeout
    let mut closed = 0;
    for stream in idle.iter_mut().take(50) {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 50,
        "idle connections are closed after header_read_timeout"
    );
    stop_slow.cancel();
    for task in slow {
        let _ = task.await;
    }
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(!log.contains("Too many open files"), "{log}");
}

#[tokio::test]
async fn a_connection_over_the_cap_is_refused_at_once_with_a_503() {
    let (dir, _dags) = workspace();
    let daemon = Daemon::start_with_env(dir.path(), &[("AIRLESS_MAX_CONNECTIONS", "20")]).await;
    let addr = address(&daemon);
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // once the server has taken all 20 (idle: each holds its slot until the
    // header timeout), the next connection is answered 503 straight away
    let mut refused = None;
    for _ in 0..50 {
        let started = Instant::now();
        let mut extra = TcpStream::connect(&addr).await.unwrap();
        let _ = extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut answer = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(2), extra.read_to_string(&mut answer)).await;
        if answer.starts_with("HTTP/1.1 503") {
            refused = Some((answer, started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (answer, took) = refused.expect("a connection over the cap is refused");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(answer.contains("too many open connections"), "{answer}");
    drop(held);
    // and it serves again once they are gone
    wait_for("a free slot", Duration::from_secs(5), async || {
        reqwest::get(format!("{}/health", daemon.base))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
}

#[tokio::test]
async fn sigterm_with_an_unfinished_request_exits_within_the_grace_period() {
    let (dir, _dags) = workspace();
    let mut daemon = Daemon::start_with_env(
        dir.path(),
        &[
            ("AIRLESS_SHUTDOWN_GRACE", "2s"),
            ("AIRLESS_HEADER_READ_TIMEOUT", "60s"),
        ],
    )
    .await;
    let addr = address(&daemon);
    // headers started, never finished; and a body promised, never sent
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut body = TcpStream::connect(&addr).await.unwrap();
    body.write_all(
        b"POST /api/v1/dags/x/dagRuns HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let status = daemon.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took <= Duration::from_secs(3), "exited after {took:?}");
}
