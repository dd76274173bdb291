#!/usr/bin/env python3
"""The web UI at scale: with 1,000,000 task instances of history (100 DAGs of
100 tasks, 100 runs each, one try per instance), the server time of the DAGs
page and of a DAG page whose grid is 100 tasks x 25 runs (with its graph,
history and YAML), p50 and p99 over 200 requests per page, 3 rounds (median
round reported); the weight of each page without cache (its HTML as sent
uncompressed and gzipped, and the CSS + JS); the daemon's RSS after the run and its peak.

Usage: bench/ui.py [--quick]    (builds the release binary first;
       AIRLESS_BIN=path benchmarks that binary instead; stdlib only,
       loopback only). --quick: 10 DAGs, 50 requests, 1 round.
"""
import datetime, http.client, json, os, shutil, platform, signal, sqlite3, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
DAGS = 10 if QUICK else 100
TASKS = 100
RUNS = 100
REQUESTS = 50 if QUICK else 200
ROUNDS = 1 if QUICK else 3


# the same release build and port picking as the daemon benchmark
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import build, free_port  # noqa: E402


def dag_file(i):
    """100 noop tasks in 10 layers of 10, each task after two of the layer above."""
    lines = [f"dag_id: dag_{i:03d}", f"description: benchmark DAG {i}", 'schedule: "30 2 * * *"',
             "start_date: 2026-01-01", "catchup: false", "is_paused_upon_creation: true", "tasks:"]
    for layer in range(10):
        for j in range(10):
            deps = "" if layer == 0 else f", depends_on: [t{layer - 1}_{j}, t{layer - 1}_{(j + 1) % 10}]"
            lines.append(f"  - {{ task_id: t{layer}_{j}, kind: noop{deps} }}")
    return "\n".join(lines) + "\n"


class Daemon:
    def __init__(self, binary, work, port):
        env = dict(os.environ, AIRLESS_BIND=f"127.0.0.1:{port}", AIRLESS_DAGS_FOLDER=f"{work}/dags",
                   AIRLESS_DATABASE=f"{work}/airless.db", AIRLESS_LOGS_FOLDER=f"{work}/logs",
                   RUST_LOG="warn")
        env.pop("AIRLESS_API_TOKENS", None)
        self.port = port
        self.proc = subprocess.Popen([binary, "serve"], cwd=work, env=env,
                                     stdout=subprocess.DEVNULL, stderr=open(f"{work}/serve.log", "a"))
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if json.load(r)["dag_processor"]["status"] == "healthy":
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("serve did not become healthy; see serve.log")

    def memory(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return fields["VmRSS"], fields["VmHWM"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def iso(t):
    return t.isoformat(timespec="microseconds")


def seed(db):
    """RUNS scheduled runs per DAG, TASKS instances per run, one try each."""
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")
    versions = dict(c.execute("SELECT dag_id, latest_version FROM dags").fetchall())
    base = datetime.datetime(2026, 1, 1, 2, 30, tzinfo=datetime.timezone.utc)
    run_id = c.execute("SELECT COALESCE(MAX(id), 0) FROM dag_runs").fetchone()[0]
    ti_id = c.execute("SELECT COALESCE(MAX(id), 0) FROM task_instances").fetchone()[0]
    runs, tis, tries = [], [], []
    for d in range(DAGS):
        dag_id = f"dag_{d:03d}"
        for r in range(RUNS):
            run_id += 1
            logical = base + datetime.timedelta(days=r)
            start = logical + datetime.timedelta(days=1)
            failed = r % 17 == 5
            end = start + datetime.timedelta(seconds=95)
            runs.append((run_id, dag_id, f"scheduled__{iso(logical)}", "scheduled",
                         "failed" if failed else "success", iso(logical), iso(logical),
                         iso(logical + datetime.timedelta(days=1)), "{}", iso(start), iso(start),
                         iso(end), versions.get(dag_id)))
            for layer in range(10):
                for j in range(10):
                    ti_id += 1
                    state = "success"
                    if failed and layer == 6 and j == 3:
                        state = "failed"
                    elif failed and layer > 6:
                        state = "upstream_failed"
                    t0 = start + datetime.timedelta(seconds=layer * 9 + j * 0.3)
                    t1 = t0 + datetime.timedelta(seconds=8)
                    ran = state != "upstream_failed"
                    log = f"logs/dag_id={dag_id}/run_id=r{r}/task_id=t{layer}_{j}/attempt=1.log"
                    tis.append((ti_id, run_id, f"t{layer}_{j}", state, 1 if ran else 0, 1,
                                iso(t0) if ran else None, iso(t1) if ran else None,
                                log if ran else None))
                    if ran:
                        tries.append((ti_id, 1, state, iso(t0), iso(t1), log))
    with c:
        c.executemany("INSERT INTO dag_runs (id, dag_id, run_id, run_type, state, logical_date, "
                      "data_interval_start, data_interval_end, conf, queued_at, start_date, end_date, "
                      "dag_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs)
        c.executemany("INSERT INTO task_instances (id, dag_run_id, task_id, state, try_number, max_tries, "
                      "start_date, end_date, log_path) VALUES (?,?,?,?,?,?,?,?,?)", tis)
        c.executemany("INSERT INTO task_tries (task_instance_id, try_number, state, start_date, end_date, "
                      "log_path) VALUES (?,?,?,?,?,?)", tries)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return len(runs), len(tis)


def timed(port, path, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status == 200, (path, response.status, body[:300])
        size = len(body)
    conn.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], size, body


def gzip_weight(port, path):
    """The bytes a browser receives for `path` (it asks for gzip)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return len(body)


def asset_weight(port, html):
    total = 0
    for name in ("airless.css", "airless.js"):
        at = html.find(f"/{name}".encode())
        start = html.rfind(b'"', 0, at) + 1
        path = html[start:at].decode() + f"/{name}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
            total += len(r.read())
    return total


def main():
    binary = build()
    work = tempfile.mkdtemp(prefix="airless-ui-bench-")
    try:
        run(binary, work)
    finally:
        # the seeded database is a third of a gigabyte
        shutil.rmtree(work, ignore_errors=True)


def run(binary, work):
    os.makedirs(f"{work}/dags")
    for i in range(DAGS):
        with open(f"{work}/dags/dag_{i:03d}.yaml", "w") as f:
            f.write(dag_file(i))
    port = free_port()
    Daemon(binary, work, port).stop()  # creates the database and records the DAGs
    t0 = time.time()
    runs, tis = seed(f"{work}/airless.db")
    print(f"seeded {runs:,} runs and {tis:,} task instances in {time.time() - t0:.0f} s", file=sys.stderr)
    daemon = Daemon(binary, work, port)
    pages = {"DAGs page (/)": "/", f"DAG page, grid {TASKS} tasks x 25 runs": "/dags/dag_000?runs=25"}
    results = {name: [] for name in pages}
    weights = {}
    for name, path in pages.items():
        timed(port, path, 5)  # warm-up
    for _ in range(ROUNDS):
        for name, path in pages.items():
            p50, p99, size, body = timed(port, path, REQUESTS)
            results[name].append((p50, p99))
            weights[name] = (size, gzip_weight(port, path), asset_weight(port, body))
    rss, peak = daemon.memory()
    daemon.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"history: {DAGS} DAGs x {RUNS} runs x {TASKS} tasks = {tis:,} task instances, {runs:,} runs")
    print(f"{REQUESTS} requests per page per round, {ROUNDS} round(s); median round shown\n")
    print(f"{'page':40} {'p50 ms':>8} {'p99 ms':>8} {'HTML KiB':>9} {'gzipped':>8} {'+CSS/JS KiB':>12}")
    for name in pages:
        rounds = sorted(results[name])
        p50, p99 = rounds[len(rounds) // 2]
        html, gz, assets = weights[name]
        print(f"{name:40} {p50:8.1f} {p99:8.1f} {html / 1024:9.1f} {gz / 1024:8.1f} {assets / 1024:12.1f}")
    print(f"\nRSS after the run: {rss}; peak RSS: {peak}")


if __name__ == "__main__":
    main()
