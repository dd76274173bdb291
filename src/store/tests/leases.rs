//! Owners, run leases, claims counted against max_active_runs (also under
//! concurrency), and the scheduler's lock.

use super::*;

#[tokio::test]
async fn a_run_is_claimed_when_free_or_from_its_observed_holder() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        let run = create(&b.writer, "etl", "r", RunType::Manual, t(0), &[]).await;
        assert!(
            w.claim_run(run.id, "A", t(60), None, None)
                .await
                .expect("claim"),
            "{n}"
        );
        assert!(
            !w.claim_run(run.id, "B", t(60), None, None)
                .await
                .expect("claim"),
            "{n}: held"
        );
        let stale = Lease {
            owner: "A".into(),
            expires_at: t(59),
        };
        assert!(
            !w.claim_run(run.id, "B", t(90), Some(&stale), None)
                .await
                .expect("claim"),
            "{n}: renewed since"
        );
        let seen = b
            .reader
            .dag_run(run.id)
            .await
            .expect("run")
            .lease
            .expect("lease");
        assert_eq!(
            seen,
            Lease {
                owner: "A".into(),
                expires_at: t(60)
            },
            "{n}"
        );
        assert!(
            w.claim_run(run.id, "B", t(90), Some(&seen), None)
                .await
                .expect("take over"),
            "{n}"
        );
        assert_eq!(
            b.reader.dag_run(run.id).await.expect("run").lease,
            Some(Lease {
                owner: "B".into(),
                expires_at: t(90)
            }),
            "{n}"
        );
        w.set_run_state(run.id, RunState::Queued, RunState::Failed, t(5), None)
            .await
            .expect("fail");
        w.release_run(run.id, "B").await.expect("release");
        assert!(
            !w.claim_run(run.id, "A", t(60), None, None)
                .await
                .expect("claim"),
            "{n}: finished"
        );
        assert!(
            !w.claim_run(run.id + 50, "A", t(60), None, Some(3))
                .await
                .expect("claim"),
            "{n}: unknown"
        );
    }
}

#[tokio::test]
async fn claims_count_max_active_runs() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        register(&b.writer, "other", "v1", &[]).await;
        let w = &b.writer;
        let mut runs = Vec::new();
        for i in 0..3 {
            runs.push(
                create(
                    &b.writer,
                    "etl",
                    &format!("r{i}"),
                    RunType::Manual,
                    t(i),
                    &[],
                )
                .await,
            );
        }
        // another DAG's runs do not count
        let o = create(&b.writer, "other", "o", RunType::Manual, t(0), &[]).await;
        assert!(
            w.claim_run(o.id, "A", t(60), None, Some(1))
                .await
                .expect("claim"),
            "{n}"
        );
        assert!(
            w.claim_run(runs[0].id, "A", t(60), None, Some(2))
                .await
                .expect("claim"),
            "{n}"
        );
        assert!(
            w.claim_run(runs[1].id, "B", t(60), None, Some(2))
                .await
                .expect("claim"),
            "{n}"
        );
        assert!(
            !w.claim_run(runs[2].id, "A", t(60), None, Some(2))
                .await
                .expect("claim"),
            "{n}: two are active"
        );
        // a run re-claimed (adopted) counts itself out
        let held = b.reader.dag_run(runs[0].id).await.expect("run").lease;
        assert!(
            w.claim_run(runs[0].id, "C", t(90), held.as_ref(), Some(2))
                .await
                .expect("adopt"),
            "{n}"
        );
        // a running run counts with or without a lease
        w.set_run_state(runs[0].id, RunState::Queued, RunState::Running, t(5), None)
            .await
            .expect("start");
        w.release_run(runs[0].id, "C").await.expect("release");
        assert!(
            !w.claim_run(runs[2].id, "A", t(60), None, Some(2))
                .await
                .expect("claim"),
            "{n}"
        );
        w.set_run_state(runs[0].id, RunState::Running, RunState::Success, t(6), None)
            .await
            .expect("finish");
        assert!(
            w.claim_run(runs[2].id, "A", t(60), None, Some(2))
                .await
                .expect("claim"),
            "{n}: a slot freed"
        );
        assert!(
            w.claim_run(
                runs[2].id,
                "A",
                t(70),
                b.reader
                    .dag_run(runs[2].id)
                    .await
                    .expect("run")
                    .lease
                    .as_ref(),
                None
            )
            .await
            .expect("renew without a count"),
            "{n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_exceed_max_active_runs() {
    for b in backends().await {
        let n = b.name;
        // two handles: two peers with their own connections
        let (_, peer) = b.reopen().await;
        for round in 0..3 {
            let dag = format!("busy{round}");
            register(&b.writer, &dag, "v1", &[]).await;
            let mut ids = Vec::new();
            for i in 0..8 {
                ids.push(
                    create(
                        &b.writer,
                        &dag,
                        &format!("r{i}"),
                        RunType::Manual,
                        t(i),
                        &[],
                    )
                    .await
                    .id,
                );
            }
            let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
            let mut claims = Vec::new();
            for (i, id) in ids.iter().copied().enumerate() {
                let writer = if i % 2 == 0 {
                    b.writer.clone()
                } else {
                    peer.clone()
                };
                let start = start.clone();
                claims.push(tokio::spawn(async move {
                    start.wait().await;
                    writer
                        .claim_run(id, &format!("owner-{i}"), t(600), None, Some(2))
                        .await
                        .expect("claim")
                }));
            }
            let mut won = 0;
            for claim in claims {
                if claim.await.expect("join") {
                    won += 1;
                }
            }
            assert_eq!(won, 2, "{n}: round {round}");
            let (runs, _) = b.reader.dag_run_page(&all_runs()).await.expect("runs");
            let leased = runs
                .iter()
                .filter(|r| r.dag_id.as_str() == dag && r.lease.is_some())
                .count();
            assert_eq!(leased, 2, "{n}: round {round}");
        }
    }
}

#[tokio::test]
async fn heartbeats_renew_held_runs_and_a_stop_frees_them() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let w = &b.writer;
        w.insert_owner(&owner("A", t(0))).await.expect("owner");
        w.insert_owner(&owner("B", t(0))).await.expect("owner");
        assert_eq!(
            b.reader.owner("A").await.expect("owner"),
            Some(owner("A", t(0))),
            "{n}"
        );
        assert!(
            b.reader.owner("nobody").await.expect("owner").is_none(),
            "{n}"
        );
        let mut ids = Vec::new();
        for i in 0..4 {
            let run = create(
                &b.writer,
                "etl",
                &format!("r{i}"),
                RunType::Manual,
                t(i),
                &[],
            )
            .await;
            ids.push(run.id);
        }
        for id in &ids[..3] {
            assert!(
                w.claim_run(*id, "A", t(60), None, None)
                    .await
                    .expect("claim"),
                "{n}"
            );
        }
        assert!(
            w.claim_run(ids[3], "B", t(60), None, None)
                .await
                .expect("claim"),
            "{n}"
        );
        w.set_run_state(ids[2], RunState::Queued, RunState::Failed, t(5), None)
            .await
            .expect("finish");

        let mut held = w.heartbeat("A", t(30), t(90)).await.expect("heartbeat");
        held.sort_unstable();
        assert_eq!(held, ids[..2].to_vec(), "{n}: unfinished runs only");
        assert_eq!(
            b.reader
                .owner("A")
                .await
                .expect("owner")
                .expect("A")
                .heartbeat_at,
            t(30),
            "{n}"
        );
        for id in &ids[..2] {
            assert_eq!(
                b.reader
                    .dag_run(*id)
                    .await
                    .expect("run")
                    .lease
                    .map(|l| l.expires_at),
                Some(t(90)),
                "{n}"
            );
        }
        assert_eq!(
            b.reader
                .dag_run(ids[3])
                .await
                .expect("run")
                .lease
                .map(|l| l.expires_at),
            Some(t(60)),
            "{n}"
        );
        assert!(
            w.heartbeat("nobody", t(30), t(90))
                .await
                .expect("heartbeat")
                .is_empty(),
            "{n}"
        );

        assert!(w.claim_scheduler("A", None).await.expect("lock"), "{n}");
        w.stop_owner("A", t(40)).await.expect("stop");
        let stopped = b.reader.owner("A").await.expect("owner").expect("A");
        assert_eq!(
            (stopped.stopped_at, stopped.heartbeat_at),
            (Some(t(40)), t(40)),
            "{n}"
        );
        for id in &ids[..3] {
            assert!(
                b.reader.dag_run(*id).await.expect("run").lease.is_none(),
                "{n}"
            );
        }
        assert!(
            b.reader.dag_run(ids[3]).await.expect("run").lease.is_some(),
            "{n}: B's kept"
        );
        assert!(
            b.reader.scheduler_holder().await.expect("holder").is_none(),
            "{n}"
        );
        assert!(
            w.heartbeat("A", t(50), t(90))
                .await
                .expect("heartbeat")
                .is_empty(),
            "{n}"
        );
    }
}

#[tokio::test]
async fn the_scheduler_lock_has_one_holder() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        for id in ["A", "B", "C"] {
            w.insert_owner(&owner(id, t(0))).await.expect("owner");
        }
        assert!(
            b.reader.scheduler_holder().await.expect("holder").is_none(),
            "{n}"
        );
        assert!(w.claim_scheduler("A", None).await.expect("claim"), "{n}");
        assert!(
            !w.claim_scheduler("B", None).await.expect("claim"),
            "{n}: held"
        );
        assert!(
            !w.claim_scheduler("B", Some("C")).await.expect("claim"),
            "{n}: not C's"
        );
        assert_eq!(
            b.reader
                .scheduler_holder()
                .await
                .expect("holder")
                .map(|o| o.id),
            Some("A".into()),
            "{n}"
        );
        assert!(
            w.claim_scheduler("B", Some("A")).await.expect("take over"),
            "{n}"
        );
        assert_eq!(
            b.reader
                .scheduler_holder()
                .await
                .expect("holder")
                .map(|o| o.id),
            Some("B".into()),
            "{n}"
        );
        w.stop_owner("B", t(10)).await.expect("stop");
        assert!(
            b.reader.scheduler_holder().await.expect("holder").is_none(),
            "{n}"
        );
        assert!(w.claim_scheduler("C", None).await.expect("claim"), "{n}");
    }
}
