//! The scheduler: which runs it creates after downtime (catchup on and off),
//! `max_active_runs`, paused DAGs, end dates, a DST day, and never the same
//! interval twice. Virtual time: no test waits for a real day.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airless::dag::{Dag, DagBag, DagRegistry};
use airless::engine::Launcher;
use airless::model::{Clock, RunState, RunType, SystemClock, VirtualClock};
use airless::scheduler::Scheduler;
use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::support::TestEnv;

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn daily(catchup: bool, extra: &str) -> String {
    format!(
        "dag_id: daily\nschedule: \"@daily\"\nstart_date: 2024-01-01\ncatchup: {catchup}\n{extra}tasks:\n  - {{ task_id: t, kind: noop }}\n"
    )
}

struct Setup {
    env: TestEnv,
    clock: VirtualClock,
    scheduler: Scheduler,
}

async fn setup(yaml: &str, now: DateTime<Utc>) -> (Setup, Arc<Dag>) {
    let clock = VirtualClock::starting_at(now);
    let env = TestEnv::with(Arc::new(clock.clone()), 4, BTreeMap::new()).await;
    let dag = env.dag(yaml);
    let mut bag = DagBag::default();
    bag.dags.insert(dag.dag_id.clone(), dag.clone());
    env.engine.control().register_dags(&bag).await.unwrap();
    let registry = DagRegistry::new(bag);
    let launcher = Launcher::new(env.engine.clone(), CancellationToken::new());
    let scheduler = Scheduler::new(registry, launcher, Arc::new(clock.clone()));
    (
        Setup {
            env,
            clock,
            scheduler,
        },
        dag,
    )
}

impl Setup {
    /// Logical dates of the scheduled runs, oldest first.
    async fn scheduled(&self) -> Vec<DateTime<Utc>> {
        let mut runs: Vec<_> = self
            .env
            .store
            .dag_runs(None, 1000, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.run_type == RunType::Scheduled)
            .map(|r| r.logical_date)
            .collect();
        runs.sort();
        runs
    }

    /// Finishes every queued run (drives them to the end), as the daemon would.
    async fn finish_all(&self, dag: &Arc<Dag>) {
        for run in self
            .env
            .store
            .runs_in_state(RunState::Queued)
            .await
            .unwrap()
        {
            self.env
                .engine
                .drive(
                    dag.clone(),
                    run.id,
                    CancellationToken::new(),
                    CancellationToken::new(),
                )
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn after_three_days_down_catchup_true_creates_every_missed_interval_in_order() {
    let (s, dag) = setup(&daily(true, ""), at(2024, 1, 2, 0, 0)).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(s.scheduled().await, vec![at(2024, 1, 1, 0, 0)]);
    s.finish_all(&dag).await;
    // down from Jan 2 to Jan 5 01:00
    s.clock.advance(chrono::Duration::hours(73));
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(
        s.scheduled().await,
        vec![
            at(2024, 1, 1, 0, 0),
            at(2024, 1, 2, 0, 0),
            at(2024, 1, 3, 0, 0),
            at(2024, 1, 4, 0, 0)
        ]
    );
}

#[tokio::test]
async fn after_three_days_down_catchup_false_creates_only_the_latest_interval() {
    let (s, dag) = setup(&daily(false, ""), at(2024, 1, 2, 0, 0)).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    s.finish_all(&dag).await;
    s.clock.advance(chrono::Duration::hours(73));
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(
        s.scheduled().await,
        vec![at(2024, 1, 1, 0, 0), at(2024, 1, 4, 0, 0)]
    );
}

#[tokio::test]
async fn a_scheduling_pass_repeated_after_a_restart_never_creates_an_interval_twice() {
    let (s, _dag) = setup(&daily(true, "max_active_runs: 16\n"), at(2024, 1, 4, 0, 0)).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(s.scheduled().await.len(), 3);
}

#[tokio::test]
async fn max_active_runs_bounds_how_many_runs_catchup_creates() {
    let (s, dag) = setup(&daily(true, "max_active_runs: 1\n"), at(2024, 1, 4, 0, 0)).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(
        s.scheduled().await,
        vec![at(2024, 1, 1, 0, 0)],
        "one active run at a time"
    );
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(s.scheduled().await.len(), 1, "still one while it is queued");
    s.finish_all(&dag).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(
        s.scheduled().await,
        vec![at(2024, 1, 1, 0, 0), at(2024, 1, 2, 0, 0)]
    );
}

#[tokio::test]
async fn a_paused_dag_creates_no_runs() {
    let (s, dag) = setup(&daily(true, ""), at(2024, 1, 4, 0, 0)).await;
    s.env
        .engine
        .control()
        .set_paused(&dag.dag_id, true)
        .await
        .unwrap();
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert!(s.scheduled().await.is_empty());
}

#[tokio::test]
async fn a_dag_paused_upon_creation_waits_for_an_unpause() {
    let (s, dag) = setup(
        &daily(true, "is_paused_upon_creation: true\n"),
        at(2024, 1, 2, 0, 0),
    )
    .await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert!(s.scheduled().await.is_empty());
    s.env
        .engine
        .control()
        .set_paused(&dag.dag_id, false)
        .await
        .unwrap();
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    assert_eq!(s.scheduled().await.len(), 1);
}

#[tokio::test]
async fn end_date_stops_the_runs() {
    let (s, _dag) = setup(
        &daily(true, "end_date: 2024-01-02\nmax_active_runs: 16\n"),
        at(2024, 1, 10, 0, 0),
    )
    .await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    // Airflow creates a run whose interval starts at or before end_date
    assert_eq!(
        s.scheduled().await,
        vec![at(2024, 1, 1, 0, 0), at(2024, 1, 2, 0, 0)]
    );
}

#[tokio::test]
async fn a_dst_day_in_london_gives_airflows_intervals() {
    // Values from Airflow 2.10.5: CronDataIntervalTimetable("0 1 * * *", Europe/London),
    // start 2024-03-29, catchup: on 2024-03-31 01:00 local does not exist, so that
    // run starts at 02:00 BST (01:00Z) and the next interval is 23 hours long.
    let yaml = "dag_id: london\nschedule: \"0 1 * * *\"\ntimezone: Europe/London\nstart_date: 2024-03-29\ncatchup: true\nmax_active_runs: 16\ntasks:\n  - { task_id: t, kind: noop }\n";
    let (s, _dag) = setup(yaml, at(2024, 4, 1, 0, 30)).await;
    s.scheduler.create_due_runs(s.clock.now()).await.unwrap();
    let runs = s.env.store.dag_runs(None, 10, 0).await.unwrap();
    let mut intervals: Vec<_> = runs
        .iter()
        .map(|r| (r.logical_date, r.data_interval_end))
        .collect();
    intervals.sort();
    assert_eq!(
        intervals,
        vec![
            (at(2024, 3, 29, 1, 0), at(2024, 3, 30, 1, 0)),
            (at(2024, 3, 30, 1, 0), at(2024, 3, 31, 1, 0)),
            (at(2024, 3, 31, 1, 0), at(2024, 4, 1, 0, 0)),
        ]
    );
}

#[tokio::test]
async fn max_active_runs_1_holds_while_a_slow_task_runs() {
    // real time: three intervals are due now, the task takes 300 ms
    let start = (Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let yaml = format!(
        "dag_id: slow\nschedule: \"@daily\"\nstart_date: {start}\ncatchup: true\nmax_active_runs: 1\ntasks:\n  - {{ task_id: t, kind: shell, command: 'sleep 0.3' }}\n"
    );
    let env = TestEnv::new().await;
    let dag = env.dag(&yaml);
    let mut bag = DagBag::default();
    bag.dags.insert(dag.dag_id.clone(), dag.clone());
    env.engine.control().register_dags(&bag).await.unwrap();
    let launcher = Launcher::new(env.engine.clone(), CancellationToken::new());
    let scheduler = Scheduler::new(
        DagRegistry::new(bag),
        launcher.clone(),
        Arc::new(SystemClock),
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(scheduler.run(stop.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = env.store.dag_runs(None, 100, 0).await.unwrap();
        let active = runs
            .iter()
            .filter(|r| matches!(r.state, RunState::Running | RunState::Queued))
            .count();
        assert!(
            active <= 1,
            "{active} runs active at once with max_active_runs 1"
        );
        if runs.len() == 3 && runs.iter().all(|r| r.state == RunState::Success) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the three runs did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await.unwrap();
    assert!(launcher.shutdown(Duration::from_secs(5)).await);
}
