//! Pipeline throughput, not a test (`bench/pipeline` runs it): emulate posts/s
//! (demo and MariaDB source → the Kafka REST test proxy) beside a Python
//! baseline doing what `user_posting_emulation.py` does against the same
//! proxy and tables, and ingest records/s (proxy → the in-process S3). Tasks
//! run through the real engine as one-task DAGs; everything is on 127.0.0.1.
//! Prints medians, the ratios and the targets; skips the MySQL and Python
//! rows, saying why, when MariaDB or the baseline's venv is missing.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use airless::engine::{Control, DriveOutcome, Engine, EngineSettings, RunRequest};
use airless::kinds::emulate::demo::{self, DEMO_ROWS, Table};
use airless::kinds::emulate::sampler::PythonRandom;
use airless::model::{OwnerKind, RunType, SystemClock};
use airless::model::{RunId, RunState};

#[path = "../tests/it/fakes/mod.rs"]
#[allow(dead_code)]
mod fakes;

use fakes::kafka_rest::FakeKafkaRest;
use fakes::s3::FakeS3;

const EMULATE_TARGET_RATIO: f64 = 20.0;
const INGEST_TARGET: f64 = 20_000.0;
const DATABASE: &str = "airless_bench";
const USAGE: &str = "usage: cargo bench --bench pipeline [-- --quick]";

/// How much work each measurement does and how often it is repeated.
struct Sizes {
    demo_posts: u64,
    mysql_posts: u64,
    python_posts: u64,
    ingest_records: u64,
    runs: usize,
    python_runs: usize,
}

const FULL: Sizes = Sizes {
    demo_posts: 5_000,
    mysql_posts: 2_000,
    python_posts: 300,
    ingest_records: 30_000,
    runs: 5,
    python_runs: 3,
};

const QUICK: Sizes = Sizes {
    demo_posts: 500,
    mysql_posts: 300,
    python_posts: 30,
    ingest_records: 3_000,
    runs: 1,
    python_runs: 1,
};

fn main() -> ExitCode {
    let mut sizes = &FULL;
    let mut benching = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            // `cargo bench` passes `--bench`; `cargo test --benches` does not
            "--bench" => benching = true,
            "--quick" => sizes = &QUICK,
            other => {
                eprintln!("unknown argument `{other}`\n{USAGE}");
                return ExitCode::FAILURE;
            }
        }
    }
    if !benching {
        println!("pipeline: a benchmark, not a test; run it with bench/pipeline");
        return ExitCode::SUCCESS;
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .and_then(|runtime| runtime.block_on(bench(sizes)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipeline bench failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(sizes: &Sizes) -> anyhow::Result<()> {
    let header = format!(
        "airless pipeline benchmark, {}\nmachine: {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine()
    );
    eprintln!("{header}");
    let proxy = FakeKafkaRest::start().await;
    let mut airless = Airless::new().await?;

    let demo = emulate(
        &mut airless,
        &proxy,
        "demo",
        "demo",
        sizes.demo_posts,
        sizes.runs,
    )
    .await?;

    let (mysql, floor, python) = match mariadb().await {
        Err(reason) => {
            eprintln!("skipping the MySQL and Python rows: {reason:#}");
            let needs = || Err("needs MariaDB".to_string());
            (Err(format!("{reason:#}")), needs(), needs())
        }
        Ok(server) => {
            seed_database(&server).await?;
            let floor = mariadb_alone(&server, sizes.mysql_posts, sizes.runs).await?;
            let url = format!("{}/{DATABASE}", server.url);
            let mysql = emulate(
                &mut airless,
                &proxy,
                "mysql",
                &url,
                sizes.mysql_posts,
                sizes.runs,
            )
            .await?;
            let python = match python_interpreter().await {
                Ok(python) => Ok(python_baseline(&python, &proxy, &url, sizes).await?),
                Err(reason) => {
                    eprintln!("skipping the Python row: {reason:#}");
                    Err(format!("{reason:#}"))
                }
            };
            (Ok(mysql), Ok(floor), python)
        }
    };

    let ingest = ingest(&mut airless, &proxy, sizes.ingest_records, sizes.runs).await?;

    println!("{header}");
    println!(
        "{:<44} {:>18}  {:<18} runs",
        "measurement", "median", "target"
    );
    let posts = "posts/s";
    print_row(
        &format!("emulate demo -> proxy ({} posts)", sizes.demo_posts),
        Ok(&demo),
        posts,
        "",
    );
    print_row(
        &format!("emulate mysql -> proxy ({} posts)", sizes.mysql_posts),
        mysql.as_ref(),
        posts,
        "",
    );
    print_row(
        "  MariaDB alone: the same 3 queries per post",
        floor.as_ref(),
        posts,
        "(mysql's ceiling)",
    );
    print_row(
        &format!("python baseline ({} posts)", sizes.python_posts),
        python.as_ref(),
        posts,
        "",
    );
    for (name, ours) in [("demo", Ok(&demo)), ("mysql", mysql.as_ref())] {
        let label = format!("ratio emulate {name} / python");
        match (ours, python.as_ref()) {
            (Ok(ours), Ok(python)) => {
                let ratio = ours.median / python.median;
                println!(
                    "{label:<44} {:>18}  {}",
                    format!("{ratio:.1} x"),
                    // the target is for the demo source; from MySQL
                    // the server's `LIMIT k, 1` bounds both sides
                    if name == "demo" {
                        verdict(ratio, EMULATE_TARGET_RATIO, " x")
                    } else {
                        "(bounded by MariaDB)".to_string()
                    }
                );
            }
            _ => println!("{label:<44} {:>18}", "skipped"),
        }
    }
    print_row(
        &format!("ingest proxy -> S3 ({} records)", sizes.ingest_records),
        Ok(&ingest),
        "records/s",
        &verdict(ingest.median, INGEST_TARGET, ""),
    );
    println!(
        "python: {}; like the original script it creates an engine and connects per post and opens an HTTP connection per record; airless keeps one database connection and one HTTP client and sends batches of 100",
        python
            .as_ref()
            .map(|p| p.note.as_str())
            .unwrap_or("skipped")
    );
    Ok(())
}

/// Medians of per-run rates, with the runs kept for the table.
struct Measured {
    median: f64,
    runs: Vec<f64>,
    note: String,
}

impl Measured {
    fn new(runs: Vec<f64>, note: String) -> Measured {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Measured { median, runs, note }
    }
}

fn print_row(label: &str, measured: Result<&Measured, &String>, unit: &str, target: &str) {
    match measured {
        Ok(m) => {
            let runs: Vec<String> = m.runs.iter().map(|r| rate(*r)).collect();
            println!(
                "{label:<44} {:>18}  {target:<18} {}",
                format!("{} {unit}", rate(m.median)),
                runs.join(" ")
            );
        }
        Err(reason) => println!("{label:<44} {:>18}  ({reason})", "skipped"),
    }
}

/// A rate with a decimal only where it matters.
fn rate(value: f64) -> String {
    if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    }
}

fn verdict(value: f64, target: f64, unit: &str) -> String {
    let mark = if value >= target { "ok" } else { "MISSED" };
    format!(">= {target:.0}{unit} {mark}")
}

/// CPU model, cores, kernel and load: the bench shares the machine.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    format!(
        "{model}, {cores} cores, Linux {}, load average {load} at start",
        kernel.trim()
    )
}

/// An engine over a temp state database, running one-task DAGs as
/// `airless dags test` does.
struct Airless {
    _dir: tempfile::TempDir,
    engine: Engine,
    runs: u64,
}

impl Airless {
    async fn new() -> anyhow::Result<Airless> {
        let dir = tempfile::tempdir().context("cannot create a temp dir")?;
        let control = Control::open(
            &dir.path().join("airless.db"),
            OwnerKind::DagsTest,
            Arc::new(SystemClock),
            Duration::from_secs(15),
        )
        .await?;
        let engine = Engine::new(
            control,
            EngineSettings {
                parallelism: 4,
                logs_dir: dir.path().join("logs"),
                env: Default::default(),
            },
        );
        Ok(Airless {
            _dir: dir,
            engine,
            runs: 0,
        })
    }

    /// Runs the DAG to the end: its wall time (run created → finished) and
    /// its one task's output; an error unless the run succeeded.
    async fn run(&mut self, yaml: &str) -> anyhow::Result<(Duration, Value)> {
        let dag = airless::dag::load(Path::new("bench.yaml"), yaml).map_err(|errors| {
            let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow!("the bench's DAG does not load: {}", errors.join("; "))
        })?;
        let dag = Arc::new(dag);
        self.runs += 1;
        let now = chrono::Utc::now();
        let request = RunRequest {
            run_id: Some(RunId::new(format!("bench__{}", self.runs))),
            run_type: RunType::Manual,
            logical_date: now,
            data_interval: dag.timetable.manual_data_interval(now),
            conf: json!({}),
        };
        let started = Instant::now();
        let run = self
            .engine
            .control()
            .create_driven_run(&dag, &request)
            .await?;
        let outcome = self
            .engine
            .drive(
                dag.clone(),
                run.id,
                CancellationToken::new(),
                CancellationToken::new(),
            )
            .await?;
        let elapsed = started.elapsed();
        let tis = self.engine.reader().task_instances(run.id).await?;
        let ti = tis.first().context("the run has no task instance")?;
        match outcome {
            DriveOutcome::Finished(RunState::Success) => {
                Ok((elapsed, ti.output.clone().unwrap_or_default()))
            }
            other => bail!(
                "task `{}` did not succeed ({other:?}): {}",
                ti.task_id,
                ti.error.as_deref().unwrap_or("no error recorded")
            ),
        }
    }
}

fn streams(prefix: &str) -> String {
    format!(
        "{{ pinterest_data: {prefix}.pin, geolocation_data: {prefix}.geo, user_data: {prefix}.user }}"
    )
}

/// `runs` emulate runs of `posts` posts from `source`, default sampler
/// (seed 100, as the script) and default batch size, to topics `{name}.*`.
async fn emulate(
    airless: &mut Airless,
    proxy: &FakeKafkaRest,
    name: &str,
    source: &str,
    posts: u64,
    runs: usize,
) -> anyhow::Result<Measured> {
    let yaml = format!(
        "dag_id: bench_emulate_{name}\ntasks:\n  - task_id: emulate\n    kind: emulate\n    source: \"{source}\"\n    records: {posts}\n    streams: {}\n    sink: {{ kind: kafka_rest, url: \"{}\" }}\n",
        streams(name),
        proxy.base_url
    );
    let mut rates = Vec::new();
    for r in 1..=runs {
        let (elapsed, output) = airless.run(&yaml).await?;
        if output["posts"] != json!(posts) {
            bail!("emulate {name} sent {output} instead of {posts} posts");
        }
        let rate = posts as f64 / elapsed.as_secs_f64();
        eprintln!(
            "emulate {name}: run {r}/{runs}: {posts} posts in {elapsed:.2?} = {rate:.0} posts/s"
        );
        rates.push(rate);
    }
    let landed = proxy.topic(&format!("{name}.user")).len() as u64;
    if landed != posts * runs as u64 {
        bail!(
            "the proxy holds {landed} records in {name}.user, expected {}",
            posts * runs as u64
        );
    }
    Ok(Measured::new(rates, String::new()))
}

/// A MariaDB server that answers, and its URL without a database.
struct MariaDb {
    url: String,
    pool: sqlx::MySqlPool,
}

async fn mariadb() -> anyhow::Result<MariaDb> {
    let url = "mysql://root@127.0.0.1:3306".to_string();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .with_context(|| format!("MariaDB is not reachable at {url} (bench/pipeline starts it)"))?;
    Ok(MariaDb { url, pool })
}

/// The three tables with the demo source's rows, so both sources send the
/// same posts; recreated on every run of the bench (a few seconds).
async fn seed_database(server: &MariaDb) -> anyhow::Result<()> {
    let started = Instant::now();
    let tables = [
        (
            Table::Pin,
            "(`index` INT PRIMARY KEY, unique_id VARCHAR(36), title TEXT, description TEXT, poster_name TEXT, follower_count VARCHAR(20), tag_list TEXT, is_image_or_video VARCHAR(40), image_src TEXT, downloaded INT, save_location TEXT, category VARCHAR(40))",
            &[
                "index",
                "unique_id",
                "title",
                "description",
                "poster_name",
                "follower_count",
                "tag_list",
                "is_image_or_video",
                "image_src",
                "downloaded",
                "save_location",
                "category",
            ][..],
        ),
        (
            Table::Geo,
            "(ind INT PRIMARY KEY, timestamp DATETIME, latitude DOUBLE, longitude DOUBLE, country TEXT)",
            &["ind", "timestamp", "latitude", "longitude", "country"][..],
        ),
        (
            Table::User,
            "(ind INT PRIMARY KEY, first_name TEXT, last_name TEXT, age INT, date_joined DATETIME)",
            &["ind", "first_name", "last_name", "age", "date_joined"][..],
        ),
    ];
    let pool = &server.pool;
    for sql in [
        format!("DROP DATABASE IF EXISTS {DATABASE}"),
        format!("CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    for (table, columns_sql, columns) in tables {
        let name = table.name();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {DATABASE}.{name} {columns_sql}"
        )))
        .execute(pool)
        .await
        .with_context(|| format!("cannot create {DATABASE}.{name}"))?;
        let quoted: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
        let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
        let offsets: Vec<u64> = (0..DEMO_ROWS).collect();
        for chunk in offsets.chunks(500) {
            let sql = format!(
                "INSERT INTO {DATABASE}.{name} ({}) VALUES {}",
                quoted.join(", "),
                vec![placeholders.as_str(); chunk.len()].join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for &offset in chunk {
                let row = demo::row(table, offset)
                    .with_context(|| format!("the demo source has no {name} row {offset}"))?;
                for column in columns {
                    query = match row.get(*column) {
                        Some(Value::Number(n)) if n.is_i64() => query.bind(n.as_i64()),
                        Some(Value::Number(n)) => query.bind(n.as_f64()),
                        Some(Value::String(s)) => query.bind(s.clone()),
                        Some(Value::Null) | None => query.bind(None::<String>),
                        Some(other) => query.bind(other.to_string()),
                    };
                }
            }
            query
                .execute(pool)
                .await
                .with_context(|| format!("cannot load the demo rows into {DATABASE}.{name}"))?;
        }
    }
    eprintln!(
        "seeded {DATABASE} with {DEMO_ROWS} demo rows per table in {:.1?}",
        started.elapsed()
    );
    Ok(())
}

/// The queries alone, on one connection as the mysql source uses, for the
/// offsets the emulate runs draw (seed 100, as the script): the most the
/// mysql source could reach, since `LIMIT k, 1` makes MariaDB walk k rows.
async fn mariadb_alone(server: &MariaDb, posts: u64, runs: usize) -> anyhow::Result<Measured> {
    let mut connection = server.pool.acquire().await?;
    let mut rates = Vec::new();
    for r in 1..=runs {
        let mut random = PythonRandom::seeded(100);
        let started = Instant::now();
        for _ in 0..posts {
            let offset = random.post_draw(11_000).offset;
            for table in Table::ALL {
                let sql = format!(
                    "SELECT * FROM {DATABASE}.{} LIMIT {offset}, 1",
                    table.name()
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .fetch_optional(&mut *connection)
                    .await?
                    .with_context(|| format!("{} has no row {offset}", table.name()))?;
            }
        }
        let elapsed = started.elapsed();
        let rate = posts as f64 / elapsed.as_secs_f64();
        eprintln!(
            "MariaDB alone: run {r}/{runs}: {posts} posts' queries in {elapsed:.2?} = {rate:.0} posts/s"
        );
        rates.push(rate);
    }
    Ok(Measured::new(rates, String::new()))
}

/// The venv's interpreter from `bench/pipeline`, checked for the modules.
async fn python_interpreter() -> anyhow::Result<String> {
    let python = std::env::var("AIRLESS_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let check = tokio::process::Command::new(&python)
        .args(["-c", "import pymysql, requests"])
        .output()
        .await
        .with_context(|| format!("cannot run {python}"))?;
    if !check.status.success() {
        bail!(
            "{python} lacks pymysql or requests (bench/pipeline sets up a venv): {}",
            String::from_utf8_lossy(&check.stderr).trim()
        );
    }
    Ok(python)
}

/// `bench/python_baseline.py`, `python_runs` times; its own loop timing.
async fn python_baseline(
    python: &str,
    proxy: &FakeKafkaRest,
    mysql_url: &str,
    sizes: &Sizes,
) -> anyhow::Result<Measured> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/python_baseline.py");
    let db_url = mysql_url.replacen("mysql://", "mysql+pymysql://", 1);
    let posts = sizes.python_posts;
    let mut rates = Vec::new();
    let mut note = String::new();
    for r in 1..=sizes.python_runs {
        let out = tokio::process::Command::new(python)
            .arg(script)
            .args([&proxy.base_url, &db_url, &posts.to_string(), "py"])
            .output()
            .await
            .with_context(|| format!("cannot run {python} {script}"))?;
        if !out.status.success() {
            bail!(
                "{script} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .with_context(|| format!("{script} printed no JSON report: {stdout}"))?;
        let rate = report["posts_per_s"]
            .as_f64()
            .with_context(|| format!("no posts_per_s in {report}"))?;
        note = report["driver"].as_str().unwrap_or_default().to_string();
        eprintln!(
            "python baseline: run {r}/{}: {posts} posts in {:.2}s = {rate:.1} posts/s",
            sizes.python_runs,
            report["seconds"].as_f64().unwrap_or_default()
        );
        rates.push(rate);
    }
    let landed = proxy.topic("py.user").len() as u64;
    let expected = posts * sizes.python_runs as u64;
    if landed != expected {
        bail!("the proxy holds {landed} records in py.user, expected {expected}");
    }
    Ok(Measured::new(rates, note))
}

/// `runs` ingests of `records` records (three topics, pre-filled with demo
/// rows) into the in-process S3, flush_size 1000, a fresh group each run.
async fn ingest(
    airless: &mut Airless,
    proxy: &FakeKafkaRest,
    records: u64,
    runs: usize,
) -> anyhow::Result<Measured> {
    let per_topic = records / 3;
    let records = per_topic * 3;
    for (table, topic) in [
        (Table::Pin, "in.pin"),
        (Table::Geo, "in.geo"),
        (Table::User, "in.user"),
    ] {
        let rows =
            (0..per_topic).filter_map(|o| demo::row(table, o % DEMO_ROWS).map(Value::Object));
        proxy.seed(topic, rows);
    }
    let dir = tempfile::tempdir().context("cannot create a temp dir")?;
    let s3 = FakeS3::start(dir.path()).await;
    s3.create_bucket("lake");
    let mut rates = Vec::new();
    for r in 1..=runs {
        let yaml = format!(
            "dag_id: bench_ingest\ntasks:\n  - task_id: ingest\n    kind: ingest\n    flush_size: 1000\n    source: {{ kind: kafka_rest, url: \"{}\", group: bench-{r}, topics: [in.pin, in.geo, in.user] }}\n    sink: {{ kind: s3, bucket: lake, endpoint: \"{}\", path_style: true, region: us-east-1, access_key_id: {}, secret_access_key: \"{}\" }}\n",
            proxy.base_url, s3.endpoint, s3.access_key, s3.secret_key
        );
        let (elapsed, output) = airless.run(&yaml).await?;
        let landed: u64 = output["records"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or_default();
        if landed != records {
            bail!("ingest landed {output} instead of {records} records");
        }
        let rate = records as f64 / elapsed.as_secs_f64();
        eprintln!(
            "ingest: run {r}/{runs}: {records} records in {} objects in {elapsed:.2?} = {rate:.0} records/s",
            output["objects"]
        );
        rates.push(rate);
    }
    Ok(Measured::new(rates, String::new()))
}
