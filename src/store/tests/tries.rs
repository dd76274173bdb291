//! Tries recorded by the database itself, and writes fenced by the run's lease.

use super::*;

#[tokio::test]
async fn every_try_is_recorded_by_the_database() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a", "b"]).await;
        let a = ti(&b.reader, &run, "a").await;
        let w = &b.writer;
        w.start_try(a.id, TaskState::None, 1, "/logs/a/1.log", t(10), None)
            .await
            .expect("start");
        let running = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (
                running.state,
                running.try_number,
                running.start_date,
                running.log_path.as_deref()
            ),
            (TaskState::Running, 1, Some(t(10)), Some("/logs/a/1.log")),
            "{n}"
        );
        let tries = b.reader.task_tries(a.id).await.expect("tries");
        assert_eq!(tries.len(), 1, "{n}");
        assert_eq!(
            (
                tries[0].try_number,
                tries[0].state,
                tries[0].start_date,
                tries[0].end_date,
                tries[0].log_path.as_str()
            ),
            (1, TaskState::Running, t(10), None, "/logs/a/1.log"),
            "{n}"
        );
        assert!(
            is_conflict(
                w.start_try(a.id, TaskState::None, 1, "/x", t(11), None)
                    .await
            ),
            "{n}: started already"
        );
        assert!(
            is_conflict(
                w.finish_try(a.id, 2, &end(TaskState::Success, t(12), None), None)
                    .await
            ),
            "{n}: another try"
        );
        let retry_at = t(100);
        w.finish_try(
            a.id,
            1,
            &TryEnd {
                state: TaskState::UpForRetry,
                output: None,
                error: Some("boom"),
                next_retry_at: Some(retry_at),
                now: t(20),
            },
            None,
        )
        .await
        .expect("fail once");
        let waiting = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (
                waiting.state,
                waiting.end_date,
                waiting.error.as_deref(),
                waiting.next_retry_at
            ),
            (
                TaskState::UpForRetry,
                Some(t(20)),
                Some("boom"),
                Some(retry_at)
            ),
            "{n}"
        );
        assert!(
            is_conflict(
                w.finish_try(a.id, 1, &end(TaskState::Success, t(21), None), None)
                    .await
            ),
            "{n}: ended already"
        );

        w.set_task_state(a.id, TaskState::UpForRetry, TaskState::Queued, t(100), None)
            .await
            .expect("requeue");
        w.start_try(a.id, TaskState::Queued, 2, "/logs/a/2.log", t(101), None)
            .await
            .expect("start again");
        let fresh = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (fresh.error.clone(), fresh.next_retry_at, fresh.end_date),
            (None, None, None),
            "{n}: a new try starts clean"
        );
        let output = json!({ "rows": 3 });
        w.finish_try(
            a.id,
            2,
            &TryEnd {
                state: TaskState::Success,
                output: Some(&output),
                error: None,
                next_retry_at: None,
                now: t(130),
            },
            None,
        )
        .await
        .expect("succeed");
        let done = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (done.state, done.output.clone(), done.try_number),
            (TaskState::Success, Some(output), 2),
            "{n}"
        );

        let tries = b.reader.task_tries(a.id).await.expect("tries");
        let shape: Vec<_> = tries
            .iter()
            .map(|t| {
                (
                    t.try_number,
                    t.state,
                    t.start_date,
                    t.end_date,
                    t.log_path.clone(),
                    t.error.clone(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    1,
                    TaskState::UpForRetry,
                    t(10),
                    Some(t(20)),
                    "/logs/a/1.log".to_string(),
                    Some("boom".to_string())
                ),
                (
                    2,
                    TaskState::Success,
                    t(101),
                    Some(t(130)),
                    "/logs/a/2.log".to_string(),
                    None
                ),
            ],
            "{n}"
        );
        let bt = ti(&b.reader, &run, "b").await;
        w.start_try(bt.id, TaskState::None, 1, "/logs/b/1.log", t(5), None)
            .await
            .expect("start b");
        let of_run: Vec<(String, u32, TaskState)> = b
            .reader
            .tries_of_run(run.id)
            .await
            .expect("tries of run")
            .into_iter()
            .map(|(task, t)| (task.to_string(), t.try_number, t.state))
            .collect();
        assert_eq!(
            of_run,
            vec![
                ("a".to_string(), 1, TaskState::UpForRetry),
                ("a".to_string(), 2, TaskState::Success),
                ("b".to_string(), 1, TaskState::Running)
            ],
            "{n}"
        );

        // cleared: back to none, tries kept, the next try may run
        assert!(
            is_conflict(w.clear_task_instance(a.id, TaskState::Failed, 5).await),
            "{n}: not failed"
        );
        w.clear_task_instance(a.id, TaskState::Success, 4)
            .await
            .expect("clear");
        let cleared = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (
                cleared.state,
                cleared.max_tries,
                cleared.output.clone(),
                cleared.end_date,
                cleared.try_number
            ),
            (TaskState::None, 4, None, None, 2),
            "{n}"
        );
        assert_eq!(
            b.reader.task_tries(a.id).await.expect("tries").len(),
            2,
            "{n}"
        );
    }
}

#[tokio::test]
async fn writes_without_the_runs_lease_change_nothing() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a"]).await;
        let w = &b.writer;
        assert!(
            w.claim_run(run.id, "A", t(60), None, None)
                .await
                .expect("claim"),
            "{n}"
        );
        let a = ti(&b.reader, &run, "a").await;
        let (mine, theirs) = (Some("A"), Some("B"));

        assert!(
            is_conflict(
                w.set_run_state(run.id, RunState::Queued, RunState::Running, t(1), theirs)
                    .await
            ),
            "{n}"
        );
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(1), mine)
            .await
            .expect("start the run");
        assert!(
            is_conflict(
                w.set_task_state(a.id, TaskState::None, TaskState::Queued, t(2), theirs)
                    .await
            ),
            "{n}"
        );
        assert!(
            is_conflict(
                w.start_try(a.id, TaskState::None, 1, "/l", t(2), theirs)
                    .await
            ),
            "{n}"
        );
        let untouched = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (untouched.state, untouched.try_number),
            (TaskState::None, 0),
            "{n}"
        );
        assert!(
            b.reader.task_tries(a.id).await.expect("tries").is_empty(),
            "{n}: no try recorded"
        );

        w.start_try(a.id, TaskState::None, 1, "/l", t(2), mine)
            .await
            .expect("start a try");
        assert!(
            is_conflict(
                w.set_external(a.id, 1, "job-1", Some("https://x/1"), theirs)
                    .await
            ),
            "{n}"
        );
        assert!(
            is_conflict(w.set_external(a.id, 2, "job-1", None, mine).await),
            "{n}: another try"
        );
        w.set_external(a.id, 1, "job-1", Some("https://x/1"), mine)
            .await
            .expect("external");
        let group = ProcessGroup {
            pgid: 777,
            owner: "A".into(),
            boot_id: "boot".into(),
        };
        assert!(
            is_conflict(w.set_process_group(a.id, 1, &group, theirs).await),
            "{n}"
        );
        assert!(
            is_conflict(w.set_process_group(a.id, 3, &group, None).await),
            "{n}: another try"
        );
        w.set_process_group(a.id, 1, &group, mine)
            .await
            .expect("process group");
        let running = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (
                running.external_id.as_deref(),
                running.external_url.as_deref(),
                running.process_group.clone()
            ),
            (Some("job-1"), Some("https://x/1"), Some(group.clone())),
            "{n}"
        );
        assert!(
            is_conflict(
                w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), theirs)
                    .await
            ),
            "{n}"
        );
        assert_eq!(
            ti(&b.reader, &run, "a").await.state,
            TaskState::Running,
            "{n}"
        );
        // a lease given up: only unfenced writes (runs nobody drives) pass
        w.release_run(run.id, "B")
            .await
            .expect("release by another");
        assert_eq!(
            b.reader
                .dag_run(run.id)
                .await
                .expect("run")
                .lease
                .map(|l| l.owner),
            Some("A".into()),
            "{n}"
        );
        w.release_run(run.id, "A").await.expect("release");
        assert!(
            b.reader.dag_run(run.id).await.expect("run").lease.is_none(),
            "{n}"
        );
        assert!(
            is_conflict(
                w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), mine)
                    .await
            ),
            "{n}"
        );
        w.finish_try(a.id, 1, &end(TaskState::Success, t(3), None), None)
            .await
            .expect("unfenced");
        let next = ti(&b.reader, &run, "a").await;
        assert_eq!(next.state, TaskState::Success, "{n}");
        w.set_task_state(a.id, TaskState::Success, TaskState::None, t(4), None)
            .await
            .expect("clear");
        w.start_try(a.id, TaskState::None, 2, "/l2", t(5), None)
            .await
            .expect("a second try");
        let second = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (
                second.external_id,
                second.external_url,
                second.process_group
            ),
            (None, None, None),
            "{n}: a new try forgets the last one's remote job and processes"
        );
    }
}
