//! DagRuns and TaskInstances created, and their states moved by compare-and-swap.

use super::*;

#[tokio::test]
async fn a_created_run_is_queued_with_every_task_instance() {
    for b in backends().await {
        let n = b.name;
        assert_eq!(b.reader.is_shared(), b.is_postgres(), "{n}");
        b.reader.ping().await.expect("ping");
        let version = register(&b.writer, "etl", "v1", &[]).await;
        let dag_id = DagId::new("etl");
        let run_id = RunId::new("manual__1");
        let conf = json!({ "rows": [1, 2], "name": "é" });
        let (x, y) = (TaskId::new("extract"), TaskId::new("load"));
        let run = b
            .writer
            .create_dag_run(&NewDagRun {
                dag_id: &dag_id,
                run_id: &run_id,
                run_type: RunType::Manual,
                logical_date: t(60),
                data_interval: (t(0), t(60)),
                conf: &conf,
                tasks: vec![(&x, 3), (&y, 1)],
                dag_version: Some(version),
                lease: Some(Lease {
                    owner: "me".into(),
                    expires_at: t(90),
                }),
                now: t(61),
            })
            .await
            .expect("create");
        assert_eq!(run.state, RunState::Queued, "{n}");
        assert_eq!(run.run_type, RunType::Manual, "{n}");
        assert_eq!(run.logical_date, t(60), "{n}");
        assert_eq!(
            (run.data_interval_start, run.data_interval_end),
            (t(0), t(60)),
            "{n}"
        );
        assert_eq!(run.conf, conf, "{n}");
        assert_eq!(run.queued_at, t(61), "{n}");
        assert_eq!((run.start_date, run.end_date), (None, None), "{n}");
        assert_eq!(run.dag_version, Some(version), "{n}");
        assert_eq!(
            run.lease,
            Some(Lease {
                owner: "me".into(),
                expires_at: t(90)
            }),
            "{n}"
        );

        let read = b.reader.dag_run(run.id).await.expect("dag_run");
        assert_eq!((read.id, read.conf.clone()), (run.id, conf.clone()), "{n}");
        let found = b.reader.find_dag_run(&dag_id, &run_id).await.expect("find");
        assert_eq!(found.map(|r| r.id), Some(run.id), "{n}");
        let missing = b
            .reader
            .find_dag_run(&dag_id, &RunId::new("nope"))
            .await
            .expect("find");
        assert!(missing.is_none(), "{n}");
        assert!(
            matches!(
                b.reader.dag_run(run.id + 1000).await,
                Err(StoreError::NotFound(_))
            ),
            "{n}"
        );

        let tis = b.reader.task_instances(run.id).await.expect("tis");
        let shape: Vec<(String, TaskState, u32, u32)> = tis
            .iter()
            .map(|ti| {
                (
                    ti.task_id.to_string(),
                    ti.state,
                    ti.try_number,
                    ti.max_tries,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("extract".to_string(), TaskState::None, 0, 3),
                ("load".to_string(), TaskState::None, 0, 1)
            ],
            "{n}"
        );
        assert!(tis.iter().all(|ti| ti.dag_run_id == run.id
            && ti.start_date.is_none()
            && ti.output.is_none()
            && ti.process_group.is_none()));
        assert!(
            b.reader
                .task_tries(tis[0].id)
                .await
                .expect("tries")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_duplicate_run_id_and_a_duplicate_interval_are_told_apart() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        create(
            &b.writer,
            "etl",
            "scheduled__0",
            RunType::Scheduled,
            t(0),
            &["a"],
        )
        .await;

        let same_id = try_create(
            &b.writer,
            "etl",
            "scheduled__0",
            RunType::Manual,
            t(5),
            &["a"],
        )
        .await;
        assert!(
            matches!(&same_id, Err(StoreError::DuplicateRun { run_id, .. }) if run_id.as_str() == "scheduled__0"),
            "{n}: {same_id:?}"
        );
        let same_interval = try_create(
            &b.writer,
            "etl",
            "scheduled__again",
            RunType::Scheduled,
            t(0),
            &["a"],
        )
        .await;
        assert!(
            matches!(&same_interval, Err(StoreError::DuplicateInterval { logical_date, .. }) if *logical_date == t(0)),
            "{n}: {same_interval:?}"
        );
        let backfill = try_create(
            &b.writer,
            "etl",
            "backfill__0",
            RunType::Backfill,
            t(0),
            &["a"],
        )
        .await;
        assert!(
            matches!(backfill, Err(StoreError::DuplicateInterval { .. })),
            "{n}: a backfill takes the interval too"
        );
        // a manual run may share a scheduled run's logical date
        create(&b.writer, "etl", "manual__0", RunType::Manual, t(0), &["a"]).await;

        // nothing of the refused runs was left behind
        let (runs, total) = b.reader.dag_run_page(&all_runs()).await.expect("page");
        assert_eq!(total, 2, "{n}: {:?}", run_ids(&runs));
        let page = b
            .reader
            .task_instance_page(&all_task_instances())
            .await
            .expect("tis");
        assert_eq!(page.total, 2, "{n}");
        let unknown_dag =
            try_create(&b.writer, "nope", "manual__0", RunType::Manual, t(0), &[]).await;
        assert!(
            matches!(unknown_dag, Err(StoreError::Database(_))),
            "{n}: {unknown_dag:?}"
        );
    }
}

#[tokio::test]
async fn run_states_change_by_compare_and_swap() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a"]).await;
        let w = &b.writer;
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(10), None)
            .await
            .expect("start");
        assert!(
            is_conflict(
                w.set_run_state(run.id, RunState::Queued, RunState::Running, t(11), None)
                    .await
            ),
            "{n}: from a state it left"
        );
        assert!(
            is_conflict(
                w.set_run_state(run.id, RunState::Running, RunState::Queued, t(11), None)
                    .await
            ),
            "{n}: a transition the model forbids"
        );
        let running = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!(
            (running.state, running.start_date, running.end_date),
            (RunState::Running, Some(t(10)), None),
            "{n}"
        );

        w.set_run_state(run.id, RunState::Running, RunState::Success, t(20), None)
            .await
            .expect("finish");
        let done = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!(
            (done.state, done.start_date, done.end_date),
            (RunState::Success, Some(t(10)), Some(t(20))),
            "{n}"
        );

        // cleared: back to work, the first start kept
        w.set_run_state(run.id, RunState::Success, RunState::Queued, t(30), None)
            .await
            .expect("requeue");
        w.set_run_state(run.id, RunState::Queued, RunState::Running, t(40), None)
            .await
            .expect("restart");
        let again = b.reader.dag_run(run.id).await.expect("run");
        assert_eq!(
            (again.state, again.start_date, again.end_date),
            (RunState::Running, Some(t(10)), None),
            "{n}"
        );
        assert!(
            is_conflict(
                w.set_run_state(
                    run.id + 99,
                    RunState::Queued,
                    RunState::Running,
                    t(40),
                    None
                )
                .await
            ),
            "{n}: an unknown run"
        );
    }
}

#[tokio::test]
async fn task_states_change_by_compare_and_swap() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &["a", "b"]).await;
        let a = ti(&b.reader, &run, "a").await;
        let w = &b.writer;
        w.set_task_state(a.id, TaskState::None, TaskState::Queued, t(1), None)
            .await
            .expect("queue");
        assert!(
            is_conflict(
                w.set_task_state(a.id, TaskState::None, TaskState::Skipped, t(2), None)
                    .await
            ),
            "{n}"
        );
        assert_eq!(
            ti(&b.reader, &run, "a").await.state,
            TaskState::Queued,
            "{n}: unchanged"
        );
        assert!(
            matches!(
                w.set_task_state(a.id, TaskState::Queued, TaskState::UpForRetry, t(2), None)
                    .await,
                Err(StoreError::Corrupt(_))
            ),
            "{n}: a transition the model forbids"
        );
        w.set_task_state(a.id, TaskState::Queued, TaskState::Skipped, t(3), None)
            .await
            .expect("skip");
        let skipped = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (skipped.state, skipped.end_date),
            (TaskState::Skipped, Some(t(3))),
            "{n}"
        );
        w.set_task_state(a.id, TaskState::Skipped, TaskState::None, t(4), None)
            .await
            .expect("clear");
        let cleared = ti(&b.reader, &run, "a").await;
        assert_eq!(
            (cleared.state, cleared.end_date),
            (TaskState::None, None),
            "{n}"
        );
        // marking a task that never ran records no try
        let bt = ti(&b.reader, &run, "b").await;
        w.set_task_state(bt.id, TaskState::None, TaskState::Success, t(5), None)
            .await
            .expect("mark");
        assert!(
            b.reader.task_tries(bt.id).await.expect("tries").is_empty(),
            "{n}"
        );
    }
}

#[tokio::test]
async fn a_run_is_deleted_only_in_the_state_and_lease_it_was_read_in() {
    for b in backends().await {
        let n = b.name;
        let version = register(&b.writer, "etl", "v1", &[]).await;
        let dag_id = DagId::new("etl");
        let x = TaskId::new("extract");
        let run = b
            .writer
            .create_dag_run(&NewDagRun {
                dag_id: &dag_id,
                run_id: &RunId::new("manual__1"),
                run_type: RunType::Manual,
                logical_date: t(60),
                data_interval: (t(0), t(60)),
                conf: &json!({}),
                tasks: vec![(&x, 1)],
                dag_version: Some(version),
                lease: Some(Lease {
                    owner: "me".into(),
                    expires_at: t(90),
                }),
                now: t(61),
            })
            .await
            .expect("create");
        let stale = b
            .writer
            .delete_dag_run(run.id, RunState::Queued, None)
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{n}");
        let moved = b
            .writer
            .delete_dag_run(run.id, RunState::Failed, Some("me"))
            .await;
        assert!(matches!(moved, Err(StoreError::Conflict { .. })), "{n}");
        let logs = b
            .writer
            .delete_dag_run(run.id, RunState::Queued, Some("me"))
            .await
            .expect("delete");
        assert!(logs.is_empty(), "{n}");
        assert!(
            matches!(b.reader.dag_run(run.id).await, Err(StoreError::NotFound(_))),
            "{n}"
        );
        assert!(
            b.reader
                .task_instances(run.id)
                .await
                .expect("tis")
                .is_empty(),
            "{n}"
        );
    }
}
