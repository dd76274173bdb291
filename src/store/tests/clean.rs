//! `db clean`.

use super::*;

#[tokio::test]
async fn clean_deletes_old_finished_runs_but_each_dags_newest_scheduled_one() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[]).await;
        let w = &b.writer;
        let s1 = create(w, "a", "s1", RunType::Scheduled, t(0), &["x"]).await;
        let s2 = create(w, "a", "s2", RunType::Scheduled, t(3600), &["x"]).await;
        let m1 = create(w, "a", "m1", RunType::Manual, t(50), &["x", "y"]).await;
        let m2 = create(w, "a", "m2", RunType::Manual, t(60), &["x"]).await;
        let late = create(w, "a", "late", RunType::Manual, t(70), &["x"]).await;
        for (run, at) in [(&s1, 10), (&s2, 3610), (&m1, 60), (&m2, 70), (&late, 80)] {
            w.set_run_state(run.id, RunState::Queued, RunState::Running, t(at), None)
                .await
                .expect("start");
        }
        let s1x = run_try(&b, &s1, "x", t(20), t(30), TaskState::Success).await;
        run_try(&b, &s2, "x", t(3620), t(3630), TaskState::Success).await;
        let m1x = run_try(&b, &m1, "x", t(61), t(62), TaskState::Failed).await;
        let m1y = ti(&b.reader, &m1, "y").await;
        w.start_try(m1y.id, TaskState::None, 1, "", t(63), None)
            .await
            .expect("a try without a log");
        w.finish_try(m1y.id, 1, &end(TaskState::Failed, t(64), None), None)
            .await
            .expect("fail");
        for (run, state, at) in [
            (&s1, RunState::Success, 100),
            (&s2, RunState::Success, 3700),
            (&m1, RunState::Failed, 200),
            (&late, RunState::Success, 20_000),
        ] {
            w.set_run_state(run.id, RunState::Running, state, t(at), None)
                .await
                .expect("finish");
        }
        // m2 stays running

        let channels = vec!["ops".to_string()];
        for at in [100, 200, 300, 20_000] {
            w.insert_import_error_alert("/dags/bad.yaml", "oops", &channels, t(at))
                .await
                .expect("alert");
        }
        let alert_ids: Vec<i64> = b
            .reader
            .pending_alerts(10)
            .await
            .expect("alerts")
            .iter()
            .map(|a| a.id)
            .collect();
        w.alerts_delivered(&alert_ids[..1], t(150))
            .await
            .expect("delivered");
        w.alerts_not_delivered(&alert_ids[1..2], "no", None)
            .await
            .expect("failed");
        w.alerts_delivered(&alert_ids[3..], t(20_001))
            .await
            .expect("delivered late");
        // alert 2 stays pending

        for id in ["old", "holder", "live", "recent"] {
            w.insert_owner(&owner(id, t(0))).await.expect("owner");
        }
        w.stop_owner("old", t(500)).await.expect("stop");
        w.stop_owner("holder", t(500)).await.expect("stop");
        assert!(
            w.claim_scheduler("holder", None).await.expect("lock"),
            "{n}"
        );
        w.stop_owner("recent", t(15_000)).await.expect("stop");

        let before = t(10_000);
        let expected = Cleaned {
            dag_runs: 2,
            task_instances: 3,
            task_tries: 3,
            alerts: 2,
            owners: 1,
            log_paths: Vec::new(),
        };
        let dry = w.clean(before, true).await.expect("dry run");
        assert_eq!(dry, expected, "{n}");
        assert_eq!(
            b.reader.dag_runs(None, 100, 0).await.expect("runs").len(),
            5,
            "{n}: a dry run deletes nothing"
        );
        assert_eq!(
            b.reader.alerts(None, 100).await.expect("alerts").len(),
            4,
            "{n}"
        );

        let mut cleaned = w.clean(before, false).await.expect("clean");
        cleaned.log_paths.sort();
        assert_eq!(
            cleaned,
            Cleaned {
                log_paths: vec![
                    "/logs/m1/x/1.log".to_string(),
                    "/logs/s1/x/1.log".to_string()
                ],
                ..expected
            },
            "{n}"
        );
        let left: Vec<String> = b
            .reader
            .dag_runs(None, 100, 0)
            .await
            .expect("runs")
            .iter()
            .map(|r| r.run_id.to_string())
            .collect();
        assert_eq!(left, vec!["s2", "late", "m2"], "{n}");
        assert!(
            b.reader.task_tries(s1x.id).await.expect("tries").is_empty(),
            "{n}: tries go with their runs"
        );
        assert!(
            b.reader.task_tries(m1x.id).await.expect("tries").is_empty(),
            "{n}"
        );
        assert!(
            b.reader
                .task_instances(m1.id)
                .await
                .expect("tis")
                .is_empty(),
            "{n}"
        );
        assert_eq!(
            b.reader.tries_of_run(s2.id).await.expect("tries").len(),
            1,
            "{n}"
        );
        let alerts: Vec<i64> = b
            .reader
            .alerts(None, 100)
            .await
            .expect("alerts")
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(alerts, vec![alert_ids[3], alert_ids[2]], "{n}");
        assert!(b.reader.owner("old").await.expect("owner").is_none(), "{n}");
        for kept in ["holder", "live", "recent"] {
            assert!(
                b.reader.owner(kept).await.expect("owner").is_some(),
                "{n}: {kept}"
            );
        }
        assert_eq!(
            w.clean(before, false).await.expect("again"),
            Cleaned::default(),
            "{n}"
        );
        // the scheduled run kept is where the timetable goes on
        assert_eq!(
            b.reader
                .last_scheduled_interval(&DagId::new("a"))
                .await
                .expect("last"),
            Some((t(3600), t(7200))),
            "{n}"
        );
    }
}
