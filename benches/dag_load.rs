//! DAG-file loading, not a test (`bench/dag-load` runs it): generated chains
//! of shell tasks (each depends on the one before, as the hostile-input
//! issue measured them) written to a temp folder and loaded with
//! `DagBag::load` — read, YAML, validation, graph, templates — five times
//! each. Prints the median time, the peak heap while loading as a multiple
//! of the file's size (a counting allocator sees every allocation), the
//! targets and the machine. No network.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use airless::dag::DagBag;

/// Counts the bytes allocated now and the most allocated at once.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; the
// counters are only read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let now = CURRENT.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RUNS: usize = 5;
/// Tasks, and the most time a load of them may take (release build).
const TARGETS: [(usize, Duration); 2] = [
    (20_000, Duration::from_millis(200)),
    (100_000, Duration::from_secs(1)),
];
/// Peak heap while loading, as a multiple of the file's size.
const MEMORY_TARGET: f64 = 10.0;

/// A chain of `tasks` shell tasks, `task_000001` depending on `task_000000`.
fn chain(tasks: usize) -> String {
    let mut text = String::with_capacity(tasks * 100);
    text.push_str("dag_id: chain\nschedule: \"@daily\"\nstart_date: 2024-01-01\ntasks:\n");
    for i in 0..tasks {
        text.push_str(&format!(
            "  - task_id: task_{i:06}\n    kind: shell\n    command: echo {i} {{{{ ds }}}}\n"
        ));
        if i > 0 {
            text.push_str(&format!("    depends_on: [task_{:06}]\n", i - 1));
        }
    }
    text
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: u64 = info
                .lines()
                .find(|l| l.starts_with("MemTotal"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "? GiB".into());
    format!(
        "{cpu}, {cores} cores, {memory} RAM, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn main() -> ExitCode {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("DAG loading ({profile} build), median of {RUNS} runs");
    println!("machine: {}", machine());
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("cannot make a temp folder");
        return ExitCode::FAILURE;
    };
    let mut missed = false;
    for (tasks, target) in TARGETS {
        let file = dir.path().join(format!("chain_{tasks}.yaml"));
        let text = chain(tasks);
        if let Err(err) = std::fs::write(&file, &text) {
            eprintln!("cannot write {}: {err}", file.display());
            return ExitCode::FAILURE;
        }
        let size = text.len();
        drop(text);
        let mut times = Vec::with_capacity(RUNS);
        let mut peaks = Vec::with_capacity(RUNS);
        let mut kept = 0;
        for _ in 0..RUNS {
            let before = CURRENT.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let started = Instant::now();
            let bag = match DagBag::load(&file) {
                Ok(bag) => bag,
                Err(err) => {
                    eprintln!("cannot load {}: {err}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            times.push(started.elapsed());
            peaks.push(PEAK.load(Ordering::Relaxed).saturating_sub(before));
            kept = CURRENT.load(Ordering::Relaxed).saturating_sub(before);
            if let Some(error) = bag.errors().next() {
                eprintln!("the generated chain does not load: {error}");
                return ExitCode::FAILURE;
            }
            assert_eq!(bag.dags.len(), 1);
            drop(bag);
        }
        times.sort();
        peaks.sort_unstable();
        let median = times[RUNS / 2];
        let peak = peaks[RUNS / 2] as f64 / size as f64;
        let time_ok = median <= target;
        let memory_ok = peak <= MEMORY_TARGET;
        missed |= !(time_ok && memory_ok);
        println!(
            "{tasks:>7} tasks, {:>5.1} MiB: {:>7.1} ms (target ≤ {} ms: {}), peak heap {peak:.1}× the file (target ≤ {MEMORY_TARGET}×: {}), the loaded DAG {:.1}×; runs {:?} ms",
            size as f64 / 1024.0 / 1024.0,
            median.as_secs_f64() * 1000.0,
            target.as_millis(),
            if time_ok { "ok" } else { "MISSED" },
            if memory_ok { "ok" } else { "MISSED" },
            kept as f64 / size as f64,
            times.iter().map(|t| t.as_millis()).collect::<Vec<_>>(),
        );
    }
    if missed && !cfg!(debug_assertions) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
