//! The outbox: alerts written by triggers with the state change, run and import alerts, deliveries.

use super::*;

#[tokio::test]
async fn alerts_are_written_with_the_state_change_that_causes_them() {
    for b in backends().await {
        let n = b.name;
        register(
            &b.writer,
            "etl",
            "v1",
            &[
                ("a", "failure", "ops"),
                ("a", "failure", "chat"),
                ("a", "retry", "ops"),
                ("a", "success", "ops"),
            ],
        )
        .await;
        let run = create(
            &b.writer,
            "etl",
            "r",
            RunType::Manual,
            t(0),
            &["a", "quiet"],
        )
        .await;
        let w = &b.writer;
        let a = ti(&b.reader, &run, "a").await;
        w.start_try(a.id, TaskState::None, 1, "/logs/a/1.log", t(10), None)
            .await
            .expect("start");
        w.set_external(a.id, 1, "job", Some("https://remote/1"), None)
            .await
            .expect("external");
        w.finish_try(
            a.id,
            1,
            &end(TaskState::Failed, t(20), Some("exit 1")),
            None,
        )
        .await
        .expect("fail");
        run_try(&b, &run, "quiet", t(10), t(21), TaskState::Failed).await;

        let pending = b.reader.pending_alerts(100).await.expect("pending");
        let mut shape: Vec<(String, String, Option<String>)> = pending
            .iter()
            .map(|a| (a.channel.clone(), a.event.clone(), a.task_id.clone()))
            .collect();
        shape.sort();
        assert_eq!(
            shape,
            vec![
                (
                    "chat".to_string(),
                    "failure".to_string(),
                    Some("a".to_string())
                ),
                (
                    "ops".to_string(),
                    "failure".to_string(),
                    Some("a".to_string())
                )
            ],
            "{n}: routed channels only, none for a task without routes"
        );
        assert_eq!(pending.len(), 2, "{n}: {pending:?}");
        let ops = pending
            .iter()
            .find(|a| a.channel == "ops")
            .expect("ops alert");
        assert_eq!(ops.dag_id, "etl", "{n}");
        assert_eq!(ops.run_id.as_deref(), Some("r"), "{n}");
        assert_eq!(ops.logical_date, Some(t(0)), "{n}");
        assert_eq!(ops.task_id.as_deref(), Some("a"), "{n}");
        assert_eq!(ops.try_number, Some(1), "{n}");
        assert_eq!(ops.state.as_deref(), Some("failed"), "{n}");
        assert_eq!(ops.error.as_deref(), Some("exit 1"), "{n}");
        assert_eq!(ops.log_path.as_deref(), Some("/logs/a/1.log"), "{n}");
        assert_eq!(ops.external_url.as_deref(), Some("https://remote/1"), "{n}");
        assert_eq!((ops.created_at, ops.next_attempt_at), (t(20), t(20)), "{n}");
        assert_eq!(
            (ops.status.as_str(), ops.attempts, ops.delivered_at),
            ("pending", 0, None),
            "{n}"
        );

        // the same try failing again (marked success, then failed) alerts once
        w.set_task_state(a.id, TaskState::Failed, TaskState::Success, t(30), None)
            .await
            .expect("mark success");
        w.set_task_state(a.id, TaskState::Success, TaskState::Failed, t(31), None)
            .await
            .expect("mark failed");
        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        let events: Vec<(String, String, Option<u32>)> = alerts
            .iter()
            .map(|a| (a.event.clone(), a.channel.clone(), a.try_number))
            .collect();
        assert_eq!(
            events.iter().filter(|(e, _, _)| e == "failure").count(),
            2,
            "{n}: one failure alert per channel and try: {events:?}"
        );
        assert_eq!(
            events.iter().filter(|(e, _, _)| e == "success").count(),
            1,
            "{n}: {events:?}"
        );
        // a retry alerts on its own route
        let run2 = create(&b.writer, "etl", "r2", RunType::Manual, t(100), &["a"]).await;
        let a2 = ti(&b.reader, &run2, "a").await;
        w.start_try(a2.id, TaskState::None, 1, "/logs/r2/a/1.log", t(110), None)
            .await
            .expect("start");
        w.finish_try(
            a2.id,
            1,
            &end(TaskState::UpForRetry, t(120), Some("flaky")),
            None,
        )
        .await
        .expect("retry");
        let retry: Vec<_> = b
            .reader
            .alerts(Some("pending"), 100)
            .await
            .expect("alerts")
            .into_iter()
            .filter(|a| a.event == "retry")
            .collect();
        assert_eq!(retry.len(), 1, "{n}");
        assert_eq!(
            (retry[0].run_id.as_deref(), retry[0].error.as_deref()),
            (Some("r2"), Some("flaky")),
            "{n}"
        );
        // newest first
        let newest = b.reader.alerts(None, 1).await.expect("alerts");
        assert_eq!(newest[0].event, "retry", "{n}");
    }
}

#[tokio::test]
async fn a_success_after_a_failure_is_a_recovery() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[("", "recovery", "ops")]).await;
        register(&b.writer, "other", "v1", &[]).await;
        let w = &b.writer;
        let r1 = create(&b.writer, "etl", "r1", RunType::Manual, t(0), &[]).await;
        let r2 = create(&b.writer, "etl", "r2", RunType::Manual, t(10), &[]).await;
        let r3 = create(&b.writer, "etl", "r3", RunType::Manual, t(20), &[]).await;
        let o1 = create(&b.writer, "other", "o1", RunType::Manual, t(0), &[]).await;
        let o2 = create(&b.writer, "other", "o2", RunType::Manual, t(10), &[]).await;
        w.set_run_state(r1.id, RunState::Queued, RunState::Failed, t(100), None)
            .await
            .expect("fail");
        for (run, at) in [(&r2, 110), (&r3, 130)] {
            w.set_run_state(run.id, RunState::Queued, RunState::Running, t(at), None)
                .await
                .expect("start");
            w.set_run_state(
                run.id,
                RunState::Running,
                RunState::Success,
                t(at + 10),
                None,
            )
            .await
            .expect("succeed");
        }
        // no recovery route: no recovery
        w.set_run_state(o1.id, RunState::Queued, RunState::Failed, t(100), None)
            .await
            .expect("fail");
        w.set_run_state(o2.id, RunState::Queued, RunState::Running, t(110), None)
            .await
            .expect("start");
        w.set_run_state(o2.id, RunState::Running, RunState::Success, t(120), None)
            .await
            .expect("succeed");

        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        assert_eq!(alerts.len(), 1, "{n}: {alerts:?}");
        let recovery = &alerts[0];
        assert_eq!(
            (
                recovery.event.as_str(),
                recovery.channel.as_str(),
                recovery.dag_id.as_str(),
                recovery.run_id.as_deref(),
                recovery.state.as_deref(),
                recovery.task_id.as_deref(),
                recovery.created_at
            ),
            (
                "recovery",
                "ops",
                "etl",
                Some("r2"),
                Some("success"),
                None,
                t(120)
            ),
            "{n}"
        );
        // succeeding again (cleared and rerun) does not alert twice
        w.set_run_state(r2.id, RunState::Success, RunState::Queued, t(200), None)
            .await
            .expect("requeue");
        w.set_run_state(r1.id, RunState::Failed, RunState::Queued, t(200), None)
            .await
            .expect("requeue");
        w.set_run_state(r1.id, RunState::Queued, RunState::Failed, t(205), None)
            .await
            .expect("fail");
        w.set_run_state(r2.id, RunState::Queued, RunState::Running, t(210), None)
            .await
            .expect("start");
        w.set_run_state(r2.id, RunState::Running, RunState::Success, t(220), None)
            .await
            .expect("succeed");
        assert_eq!(
            b.reader.alerts(None, 100).await.expect("alerts").len(),
            1,
            "{n}"
        );
        let _ = r3;
    }
}

#[tokio::test]
async fn deliveries_are_recorded_on_the_outbox() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        let channels = vec!["ops".to_string(), "chat".to_string()];
        w.insert_import_error_alert("/dags/bad.yaml", "line 3: oops", &channels, t(10))
            .await
            .expect("import error");
        w.insert_import_error_alert("/dags/bad.yaml", "line 4: oops", &channels[..1], t(20))
            .await
            .expect("import error again");
        let pending = b.reader.pending_alerts(100).await.expect("pending");
        let shape: Vec<_> = pending
            .iter()
            .map(|a| {
                (
                    a.event.as_str(),
                    a.channel.as_str(),
                    a.dag_id.as_str(),
                    a.error.as_deref(),
                    a.created_at,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    "import_error",
                    "ops",
                    "/dags/bad.yaml",
                    Some("line 3: oops"),
                    t(10)
                ),
                (
                    "import_error",
                    "chat",
                    "/dags/bad.yaml",
                    Some("line 3: oops"),
                    t(10)
                ),
                (
                    "import_error",
                    "ops",
                    "/dags/bad.yaml",
                    Some("line 4: oops"),
                    t(20)
                ),
            ],
            "{n}: oldest first"
        );
        assert_eq!(
            b.reader.pending_alerts(1).await.expect("pending").len(),
            1,
            "{n}"
        );
        let ids: Vec<i64> = pending.iter().map(|a| a.id).collect();

        w.alerts_delivered(&ids[..1], t(30))
            .await
            .expect("delivered");
        w.alerts_not_delivered(&ids[1..2], "timeout", Some(t(90)))
            .await
            .expect("try again");
        w.alerts_not_delivered(&ids[2..], "refused", None)
            .await
            .expect("give up");
        // a delivered alert is not touched again
        w.alerts_not_delivered(&ids[..1], "late", None)
            .await
            .expect("noop");

        let all = b.reader.alerts(None, 100).await.expect("alerts");
        let by_id = |id: i64| all.iter().find(|a| a.id == id).expect("alert").clone();
        let delivered = by_id(ids[0]);
        assert_eq!(
            (
                delivered.status.as_str(),
                delivered.attempts,
                delivered.delivered_at,
                delivered.last_error
            ),
            ("delivered", 1, Some(t(30)), None),
            "{n}"
        );
        let retried = by_id(ids[1]);
        assert_eq!(
            (
                retried.status.as_str(),
                retried.attempts,
                retried.next_attempt_at,
                retried.last_error.as_deref()
            ),
            ("pending", 1, t(90), Some("timeout")),
            "{n}"
        );
        let failed = by_id(ids[2]);
        assert_eq!(
            (
                failed.status.as_str(),
                failed.attempts,
                failed.next_attempt_at,
                failed.last_error.as_deref()
            ),
            ("failed", 1, t(20), Some("refused")),
            "{n}"
        );
        let only_failed = b.reader.alerts(Some("failed"), 100).await.expect("alerts");
        assert_eq!(
            only_failed.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![ids[2]],
            "{n}"
        );
        assert_eq!(
            b.reader
                .pending_alerts(100)
                .await
                .expect("pending")
                .iter()
                .map(|a| a.id)
                .collect::<Vec<_>>(),
            vec![ids[1]],
            "{n}"
        );
        w.alerts_delivered(&[], t(40)).await.expect("nothing");
    }
}

#[tokio::test]
async fn run_alerts_are_inserted_once() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        let late = create(&b.writer, "etl", "late", RunType::Manual, t(0), &["a"]).await;
        let other = create(&b.writer, "etl", "other", RunType::Manual, t(10), &["a"]).await;
        let done = create(&b.writer, "etl", "done", RunType::Manual, t(20), &["a"]).await;
        w.set_run_state(done.id, RunState::Queued, RunState::Failed, t(30), None)
            .await
            .expect("fail");
        let without: Vec<String> = b
            .reader
            .runs_without_deadline_alert(&DagId::new("etl"))
            .await
            .expect("runs")
            .iter()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(
            without,
            vec!["late", "other"],
            "{n}: unfinished, by logical date"
        );

        let channels = vec!["ops".to_string(), "chat".to_string()];
        for _ in 0..2 {
            w.insert_run_alert(&late, None, "deadline", &channels, t(40))
                .await
                .expect("run alert");
        }
        let task = ti(&b.reader, &other, "a").await;
        for _ in 0..2 {
            w.insert_run_alert(&other, Some(&task), "deadline", &channels[..1], t(50))
                .await
                .expect("task alert");
        }
        let alerts = b.reader.alerts(None, 100).await.expect("alerts");
        assert_eq!(alerts.len(), 3, "{n}: {alerts:?}");
        let task_alert = alerts
            .iter()
            .find(|a| a.task_id.is_some())
            .expect("task alert");
        assert_eq!(
            (
                task_alert.try_number,
                task_alert.state.as_deref(),
                task_alert.run_id.as_deref(),
                task_alert.created_at
            ),
            (Some(0), Some("none"), Some("other"), t(50)),
            "{n}"
        );
        let run_alert = alerts
            .iter()
            .find(|a| a.task_id.is_none())
            .expect("run alert");
        assert_eq!(
            (run_alert.state.as_deref(), run_alert.try_number),
            (Some("queued"), None),
            "{n}"
        );
        // a task's deadline alert does not count as its run's
        let without: Vec<String> = b
            .reader
            .runs_without_deadline_alert(&DagId::new("etl"))
            .await
            .expect("runs")
            .iter()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(without, vec!["other"], "{n}");
    }
}
