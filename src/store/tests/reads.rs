//! The read side: pages of DagRuns and TaskInstances, the history reads and metrics.

use super::*;

/// Four runs of two DAGs: a `m1` manual queued at 0; a `S1` scheduled at
/// 3600, running since 3700; a `s2` scheduled at 7200, 7300 to 7400; b `s1`
/// scheduled at 0, failed at 500.
async fn four_runs(b: &Backend) -> Vec<DagRun> {
    register(&b.writer, "a", "v1", &[]).await;
    register(&b.writer, "b", "v1", &[]).await;
    let w = &b.writer;
    let m1 = create(w, "a", "m1", RunType::Manual, t(0), &["x"]).await;
    let s1 = create(w, "a", "S1", RunType::Scheduled, t(3600), &["x"]).await;
    let s2 = create(w, "a", "s2", RunType::Scheduled, t(7200), &["x"]).await;
    let bs1 = create(w, "b", "s1", RunType::Scheduled, t(0), &["x"]).await;
    w.set_run_state(s1.id, RunState::Queued, RunState::Running, t(3700), None)
        .await
        .expect("start");
    w.set_run_state(s2.id, RunState::Queued, RunState::Running, t(7300), None)
        .await
        .expect("start");
    w.set_run_state(s2.id, RunState::Running, RunState::Success, t(7400), None)
        .await
        .expect("finish");
    w.set_run_state(bs1.id, RunState::Queued, RunState::Failed, t(500), None)
        .await
        .expect("fail");
    vec![m1, s1, s2, bs1]
}

#[tokio::test]
async fn dag_run_pages_filter_order_and_count() {
    for b in backends().await {
        let n = b.name;
        four_runs(&b).await;
        let page = |query: DagRunQuery<'static>| {
            let reader = b.reader.clone();
            async move {
                let (runs, total) = reader.dag_run_page(&query).await.expect("page");
                (run_ids(&runs), total)
            }
        };
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            page(all_runs()).await,
            (names(&["a/m1", "a/S1", "a/s2", "b/s1"]), 4),
            "{n}"
        );
        let b_only: &'static [DagId] = Box::leak(Box::new([DagId::new("b")]));
        assert_eq!(
            page(DagRunQuery {
                dag_ids: Some(b_only),
                ..all_runs()
            })
            .await,
            (names(&["b/s1"]), 1),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                states: &[RunState::Running, RunState::Success],
                ..all_runs()
            })
            .await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                run_types: &[RunType::Manual],
                ..all_runs()
            })
            .await,
            (names(&["a/m1"]), 1),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                logical_date: Bounds {
                    gte: Some(t(3600)),
                    lte: None
                },
                ..all_runs()
            })
            .await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                logical_date: Bounds {
                    gte: Some(t(1)),
                    lte: Some(t(3600))
                },
                ..all_runs()
            })
            .await,
            (names(&["a/S1"]), 1),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                start_date: Bounds {
                    gte: None,
                    lte: Some(t(7300))
                },
                ..all_runs()
            })
            .await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}: never started is outside"
        );
        assert_eq!(
            page(DagRunQuery {
                end_date: Bounds {
                    gte: Some(t(0)),
                    lte: None
                },
                ..all_runs()
            })
            .await,
            (names(&["a/s2", "b/s1"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                updated_at: Bounds {
                    gte: Some(t(3700)),
                    lte: None
                },
                ..all_runs()
            })
            .await,
            (names(&["a/S1", "a/s2"]), 2),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                updated_at: Bounds {
                    gte: None,
                    lte: Some(t(500))
                },
                ..all_runs()
            })
            .await,
            (names(&["a/m1", "b/s1"]), 2),
            "{n}"
        );
        let ordered = |order: DagRunOrder, descending: bool| DagRunQuery {
            order,
            descending,
            ..all_runs()
        };
        assert_eq!(
            page(ordered(DagRunOrder::StartDate, false)).await.0,
            names(&["a/m1", "b/s1", "a/S1", "a/s2"]),
            "{n}: NULLs first"
        );
        assert_eq!(
            page(ordered(DagRunOrder::StartDate, true)).await.0,
            names(&["a/s2", "a/S1", "b/s1", "a/m1"]),
            "{n}: NULLs last"
        );
        assert_eq!(
            page(ordered(DagRunOrder::EndDate, true)).await.0,
            names(&["a/s2", "b/s1", "a/S1", "a/m1"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::State, false)).await.0,
            names(&["b/s1", "a/m1", "a/S1", "a/s2"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::RunId, false)).await.0,
            names(&["a/S1", "a/m1", "b/s1", "a/s2"]),
            "{n}: byte order"
        );
        assert_eq!(
            page(ordered(DagRunOrder::DagId, true)).await.0,
            names(&["b/s1", "a/s2", "a/S1", "a/m1"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::LogicalDate, false)).await.0,
            names(&["a/m1", "b/s1", "a/S1", "a/s2"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::ExternalTrigger, true)).await.0,
            names(&["a/m1", "b/s1", "a/s2", "a/S1"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::Conf, false)).await.0,
            names(&["a/S1", "a/m1", "b/s1", "a/s2"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(DagRunOrder::Id, true)).await.0,
            names(&["b/s1", "a/s2", "a/S1", "a/m1"]),
            "{n}"
        );
        assert_eq!(
            page(DagRunQuery {
                limit: 2,
                offset: 1,
                ..all_runs()
            })
            .await,
            (names(&["a/S1", "a/s2"]), 4),
            "{n}: the total ignores the page"
        );
        assert_eq!(
            page(DagRunQuery {
                limit: 0,
                ..all_runs()
            })
            .await,
            (vec![], 4),
            "{n}"
        );

        let newest: Vec<String> = b
            .reader
            .dag_runs(None, 10, 0)
            .await
            .expect("runs")
            .iter()
            .map(|r| format!("{}/{}", r.dag_id, r.run_id))
            .collect();
        assert_eq!(
            newest,
            names(&["a/s2", "a/S1", "b/s1", "a/m1"]),
            "{n}: newest first, then by id"
        );
        let a_page = b
            .reader
            .dag_runs(Some(&DagId::new("a")), 1, 1)
            .await
            .expect("runs");
        assert_eq!(run_ids(&a_page), names(&["a/S1"]), "{n}");
        assert_eq!(
            run_ids(
                &b.reader
                    .runs_in_state(RunState::Queued)
                    .await
                    .expect("runs")
            ),
            names(&["a/m1"]),
            "{n}"
        );
        assert_eq!(
            run_ids(
                &b.reader
                    .runs_in_state(RunState::Running)
                    .await
                    .expect("runs")
            ),
            names(&["a/S1"]),
            "{n}"
        );
        let a = DagId::new("a");
        assert_eq!(
            b.reader.run_at_logical_date(&a, t(7200)).await.expect("at"),
            Some(RunId::new("s2")),
            "{n}"
        );
        assert_eq!(
            b.reader.run_at_logical_date(&a, t(7201)).await.expect("at"),
            None,
            "{n}"
        );
    }
}

#[tokio::test]
async fn task_instance_pages_filter_by_duration_and_dates() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[]).await;
        let w = &b.writer;
        let r1 = create(w, "a", "r1", RunType::Manual, t(0), &["x", "y", "z"]).await;
        let r2 = create(w, "a", "r2", RunType::Manual, t(3600), &["x"]).await;
        run_try(&b, &r1, "x", t_ms(10_000), t_ms(11_500), TaskState::Success).await;
        run_try(&b, &r1, "y", t(20), t(23), TaskState::Failed).await;
        let r2x = ti(&b.reader, &r2, "x").await;
        w.start_try(r2x.id, TaskState::None, 1, "/l", t(3700), None)
            .await
            .expect("start");

        let page = |query: TaskInstanceQuery<'static>| {
            let reader = b.reader.clone();
            async move {
                let page = reader.task_instance_page(&query).await.expect("page");
                let runs: Vec<i64> = page.dag_runs.iter().map(|r| r.id).collect();
                let tis: Vec<String> = page
                    .task_instances
                    .iter()
                    .map(|ti| {
                        let run = if ti.dag_run_id == page.dag_runs[0].id {
                            &page.dag_runs[0]
                        } else {
                            &page.dag_runs[page.dag_runs.len() - 1]
                        };
                        format!("{}.{}", run.run_id, ti.task_id)
                    })
                    .collect();
                (tis, page.total, runs)
            }
        };
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let all = page(all_task_instances()).await;
        assert_eq!(
            (all.0.clone(), all.1),
            (names(&["r1.x", "r1.y", "r1.z", "r2.x"]), 4),
            "{n}"
        );
        assert_eq!(all.2, vec![r1.id, r2.id], "{n}: the runs, by id");
        let within = |gte: Option<f64>, lte: Option<f64>| TaskInstanceQuery {
            duration: Bounds { gte, lte },
            ..all_task_instances()
        };
        assert_eq!(
            page(within(Some(1.5), None)).await.0,
            names(&["r1.x", "r1.y"]),
            "{n}"
        );
        assert_eq!(
            page(within(None, Some(1.5))).await.0,
            names(&["r1.x"]),
            "{n}: to the millisecond"
        );
        assert_eq!(
            page(within(Some(1.501), None)).await.0,
            names(&["r1.y"]),
            "{n}"
        );
        assert_eq!(
            page(within(Some(3.0), Some(3.0))).await.0,
            names(&["r1.y"]),
            "{n}"
        );
        let ordered = |order: TaskInstanceOrder, descending: bool| TaskInstanceQuery {
            order,
            descending,
            ..all_task_instances()
        };
        assert_eq!(
            page(ordered(TaskInstanceOrder::Duration, false)).await.0,
            names(&["r1.z", "r2.x", "r1.x", "r1.y"]),
            "{n}: NULLs first"
        );
        assert_eq!(
            page(ordered(TaskInstanceOrder::Duration, true)).await.0,
            names(&["r1.y", "r1.x", "r2.x", "r1.z"]),
            "{n}: NULLs last"
        );
        assert_eq!(
            page(ordered(TaskInstanceOrder::State, false)).await.0,
            names(&["r1.z", "r1.y", "r2.x", "r1.x"]),
            "{n}: none first"
        );
        assert_eq!(
            page(ordered(TaskInstanceOrder::StartDate, true)).await.0,
            names(&["r2.x", "r1.y", "r1.x", "r1.z"]),
            "{n}"
        );
        assert_eq!(
            page(ordered(TaskInstanceOrder::EndDate, false)).await.0,
            names(&["r1.z", "r2.x", "r1.x", "r1.y"]),
            "{n}"
        );
        let none_state: &'static [TaskState] = &[TaskState::None];
        assert_eq!(
            page(TaskInstanceQuery {
                states: Some(none_state),
                ..all_task_instances()
            })
            .await
            .0,
            names(&["r1.z"]),
            "{n}"
        );
        let x: &'static [TaskId] = Box::leak(Box::new([TaskId::new("x")]));
        let only_x = page(TaskInstanceQuery {
            task_ids: Some(x),
            ..all_task_instances()
        })
        .await;
        assert_eq!((only_x.0, only_x.1), (names(&["r1.x", "r2.x"]), 2), "{n}");
        let r2_only: &'static [RunId] = Box::leak(Box::new([RunId::new("r2")]));
        let second = page(TaskInstanceQuery {
            run_ids: Some(r2_only),
            ..all_task_instances()
        })
        .await;
        assert_eq!((second.0, second.2), (names(&["r2.x"]), vec![r2.id]), "{n}");
        let other_dag: &'static [DagId] = Box::leak(Box::new([DagId::new("other")]));
        assert_eq!(
            page(TaskInstanceQuery {
                dag_ids: Some(other_dag),
                ..all_task_instances()
            })
            .await
            .1,
            0,
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery {
                start_date: Bounds {
                    gte: Some(t(20)),
                    lte: None
                },
                ..all_task_instances()
            })
            .await
            .0,
            names(&["r1.y", "r2.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery {
                end_date: Bounds {
                    gte: None,
                    lte: Some(t(12))
                },
                ..all_task_instances()
            })
            .await
            .0,
            names(&["r1.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery {
                logical_date: Bounds {
                    gte: Some(t(1)),
                    lte: None
                },
                ..all_task_instances()
            })
            .await
            .0,
            names(&["r2.x"]),
            "{n}"
        );
        assert_eq!(
            page(TaskInstanceQuery {
                updated_at: Bounds {
                    gte: Some(t(23)),
                    lte: Some(t(3700))
                },
                ..all_task_instances()
            })
            .await
            .0,
            names(&["r1.y", "r2.x"]),
            "{n}"
        );
        let paged = page(TaskInstanceQuery {
            limit: 1,
            offset: 3,
            ..all_task_instances()
        })
        .await;
        assert_eq!(
            (paged.0, paged.1, paged.2),
            (names(&["r2.x"]), 4, vec![r2.id]),
            "{n}"
        );
    }
}

#[tokio::test]
async fn the_history_reads_agree() {
    for b in backends().await {
        let n = b.name;
        let runs = four_runs(&b).await;
        register(&b.writer, "empty", "v1", &[]).await;
        let w = &b.writer;
        let late_manual = create(w, "a", "m9", RunType::Manual, t(90_000), &["x", "y"]).await;

        let recent: Vec<String> = b
            .reader
            .recent_runs(2)
            .await
            .expect("recent")
            .iter()
            .map(|r| {
                format!(
                    "{}/{}/{}/{}",
                    r.dag_id,
                    r.run_id,
                    r.run_type.as_str(),
                    r.state.as_str()
                )
            })
            .collect();
        assert_eq!(
            recent,
            vec![
                "a/m9/manual/queued",
                "a/s2/scheduled/success",
                "b/s1/scheduled/failed"
            ],
            "{n}"
        );
        let summary = b.reader.recent_runs(1).await.expect("recent");
        assert_eq!(
            summary[0],
            crate::store::RunSummary::from(&late_manual),
            "{n}"
        );

        let a = DagId::new("a");
        assert_eq!(
            b.reader.last_scheduled_interval(&a).await.expect("last"),
            Some((t(7200), t(10_800))),
            "{n}: manual runs aside"
        );
        assert_eq!(
            b.reader
                .last_scheduled_interval(&DagId::new("empty"))
                .await
                .expect("last"),
            None,
            "{n}"
        );
        let intervals = b
            .reader
            .last_scheduled_intervals()
            .await
            .expect("intervals");
        assert_eq!(intervals.len(), 2, "{n}: {intervals:?}");
        assert_eq!(intervals.get("a"), Some(&(t(7200), t(10_800))), "{n}");
        assert_eq!(intervals.get("b"), Some(&(t(0), t(3600))), "{n}");

        let counts = b.reader.active_run_counts().await.expect("counts");
        assert_eq!(counts.get("a"), Some(&(2, 1)), "{n}");
        assert_eq!(counts.get("b"), None, "{n}");

        let (m1, s1) = (&runs[0], &runs[1]);
        run_try(&b, s1, "x", t(3800), t(3900), TaskState::Failed).await;
        let mut cells: Vec<(i64, String, TaskState, u32)> = b
            .reader
            .task_cells(&[m1.id, s1.id, late_manual.id])
            .await
            .expect("cells")
            .into_iter()
            .map(|c| (c.dag_run_id, c.task_id.to_string(), c.state, c.try_number))
            .collect();
        cells.sort_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
        assert_eq!(
            cells,
            vec![
                (m1.id, "x".into(), TaskState::None, 0),
                (s1.id, "x".into(), TaskState::Failed, 1),
                (late_manual.id, "x".into(), TaskState::None, 0),
                (late_manual.id, "y".into(), TaskState::None, 0)
            ],
            "{n}"
        );
        assert!(
            b.reader.task_cells(&[]).await.expect("cells").is_empty(),
            "{n}"
        );

        let candidates = |run_id: Option<&'static str>,
                          start: Option<DateTime<Utc>>,
                          end: Option<DateTime<Utc>>,
                          states: &'static [TaskState]| {
            let reader = b.reader.clone();
            async move {
                reader
                    .clear_candidates(
                        &DagId::new("a"),
                        run_id.map(RunId::new).as_ref(),
                        start,
                        end,
                        states,
                    )
                    .await
                    .expect("candidates")
                    .into_iter()
                    .map(|c| {
                        format!(
                            "{}.{}:{}:{}:{}",
                            c.run_id,
                            c.task_id,
                            c.state.as_str(),
                            c.try_number,
                            c.run_state.as_str()
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            candidates(None, None, None, &[TaskState::None, TaskState::Failed]).await,
            vec![
                "m1.x:none:0:queued",
                "S1.x:failed:1:running",
                "s2.x:none:0:success",
                "m9.x:none:0:queued",
                "m9.y:none:0:queued"
            ],
            "{n}: oldest run first"
        );
        assert_eq!(
            candidates(None, None, None, &[TaskState::Failed]).await,
            vec!["S1.x:failed:1:running"],
            "{n}"
        );
        assert_eq!(
            candidates(Some("s2"), None, None, &[TaskState::None]).await,
            vec!["s2.x:none:0:success"],
            "{n}"
        );
        assert_eq!(
            candidates(
                None,
                Some(t(3600)),
                Some(t(7200)),
                &[TaskState::None, TaskState::Failed]
            )
            .await,
            vec!["S1.x:failed:1:running", "s2.x:none:0:success"],
            "{n}"
        );
        let full = b
            .reader
            .clear_candidates(&a, None, Some(t(3600)), Some(t(3600)), &[TaskState::Failed])
            .await
            .expect("candidates");
        assert_eq!(
            (full[0].dag_run_id, full[0].logical_date, full[0].ti_id),
            (s1.id, t(3600), ti(&b.reader, s1, "x").await.id),
            "{n}"
        );
    }
}

#[tokio::test]
async fn metrics_count_and_sum_the_whole_database() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "a", "v1", &[("x", "failure", "ops")]).await;
        register(&b.writer, "b", "v1", &[]).await;
        let w = &b.writer;
        // scheduled: due at the interval's end (t(3600)), started 10 s late
        let s = create(w, "a", "s", RunType::Scheduled, t(0), &["x", "y"]).await;
        w.set_run_state(s.id, RunState::Queued, RunState::Running, t(3610), None)
            .await
            .expect("start");
        // manual: due when queued (t(100)), started 5 s later
        let m = create(w, "a", "m", RunType::Manual, t(100), &["x"]).await;
        w.set_run_state(m.id, RunState::Queued, RunState::Running, t(105), None)
            .await
            .expect("start");
        create(w, "b", "q", RunType::Manual, t(0), &["x"]).await;
        run_try(
            &b,
            &s,
            "x",
            t_ms(3_620_000),
            t_ms(3_621_250),
            TaskState::Success,
        )
        .await;
        run_try(&b, &m, "x", t(110), t(113), TaskState::Failed).await;
        let y = ti(&b.reader, &s, "y").await;
        w.start_try(y.id, TaskState::None, 1, "/l", t(3700), None)
            .await
            .expect("start");

        let metrics = b.reader.metrics().await.expect("metrics");
        let runs: Vec<(String, RunState, i64)> = metrics
            .dag_runs
            .iter()
            .map(|(d, s, c)| (d.to_string(), *s, *c))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("a".into(), RunState::Running, 2),
                ("b".into(), RunState::Queued, 1)
            ],
            "{n}"
        );
        let mut tis = metrics.task_instances.clone();
        tis.sort_by_key(|(s, _)| s.as_str());
        assert_eq!(
            tis,
            vec![
                (TaskState::Failed, 1),
                (TaskState::None, 1),
                (TaskState::Running, 1),
                (TaskState::Success, 1)
            ],
            "{n}"
        );
        assert_eq!(
            metrics.task_durations.len(),
            1,
            "{n}: {:?}",
            metrics.task_durations
        );
        let (dag, task, seconds, count) = &metrics.task_durations[0];
        assert_eq!((dag.as_str(), task.as_str(), *count), ("a", "x", 2), "{n}");
        assert!((seconds - 4.25).abs() < 1e-3, "{n}: {seconds}");
        assert_eq!(metrics.scheduling_delays.len(), 1, "{n}");
        let (dag, delay, started) = &metrics.scheduling_delays[0];
        assert_eq!((dag.as_str(), *started), ("a", 2), "{n}");
        assert!((delay - 15.0).abs() < 1e-3, "{n}: {delay}");
        assert_eq!(
            metrics.alerts,
            vec![("ops".to_string(), "pending".to_string(), 1)],
            "{n}"
        );
    }
}
