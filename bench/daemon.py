#!/usr/bin/env python3
"""Benchmarks of `airless serve` (stdlib only; loopback only).

1. trigger -> first task start latency (p50/p99) while triggering >= 100 DAG runs/s
   through the API; measured from the daemon's own records (run queued_at ->
   first try start_date), over 5 rounds, median reported.
2. idle RSS and CPU % over 60 s with 100 DAGs loaded.
3. start-up time with 1,000 DAG files (spawn -> /health answers), median of 5.
4. a 100-task noop chain triggered over the API: trigger -> run success, and the
   hand-off gap (a task's end -> its downstream task's start), from the daemon's
   own records, over 10 runs (median).

Usage: bench/daemon.py [--quick]    (builds the release binary first;
       AIRLESS_BIN=path benchmarks that binary instead)
"""
import datetime, json, os, platform, socket, sqlite3, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv


def build():
    if os.environ.get("AIRLESS_BIN"):  # benchmark that binary (e.g. another commit's)
        return os.path.abspath(os.environ["AIRLESS_BIN"])
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(os.path.abspath(target), "release", "airless")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_dags(folder, count, schedule='"0 3 * * *"'):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        with open(os.path.join(folder, f"dag_{i:04}.yaml"), "w") as f:
            f.write(f"dag_id: dag_{i:04}\nschedule: {schedule}\nstart_date: 2024-01-01\n"
                    f"is_paused_upon_creation: false\nmax_active_runs: 1000\ntasks:\n"
                    f"  - {{ task_id: first, kind: noop }}\n  - {{ task_id: second, kind: noop, depends_on: [first] }}\n")


class Daemon:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AIRLESS_BIND=f"127.0.0.1:{self.port}", AIRLESS_LOG="warn")
        env.pop("AIRLESS_API_TOKENS", None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([binary, "serve"], cwd=workdir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                health = json.loads(urllib.request.urlopen(self.base + "/health", timeout=1).read())
                # the port opens before the DAGs load ("loading"); older builds say null
                if health.get("dag_processor", {}).get("status") in (None, "healthy"):
                    break
                time.sleep(0.005)
            except Exception:
                if time.monotonic() - self.started > 60:
                    raise RuntimeError("serve did not start")
                time.sleep(0.005)
        self.startup = time.monotonic() - self.started

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def trigger(base, dag_id):
    req = urllib.request.Request(f"{base}/api/v1/dags/{dag_id}/dagRuns", data=b'{"conf": {}}',
                                 headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def latency_round(binary, rate, seconds):
    with tempfile.TemporaryDirectory() as work:
        # manual-only DAGs: only the triggers make runs (a daily schedule would
        # also run each DAG's latest interval at start-up, mixing two loads)
        write_dags(os.path.join(work, "dags"), 100, schedule="null")
        daemon = Daemon(binary, work)
        total = rate * seconds
        threads, start = [], time.monotonic()
        for i in range(total):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = threading.Thread(target=trigger, args=(daemon.base, f"dag_{i % 100:04}"))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        achieved = total / (time.monotonic() - start)
        db = sqlite3.connect(os.path.join(work, "airless.db"))
        deadline = time.monotonic() + 60
        while db.execute("SELECT COUNT(*) FROM dag_runs WHERE run_type = 'manual' AND state != 'success'").fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError("runs did not finish")
            time.sleep(0.1)
        rows = db.execute("""
            SELECT (julianday(MIN(ti.start_date)) - julianday(r.queued_at)) * 86400000.0
            FROM dag_runs r JOIN task_instances ti ON ti.dag_run_id = r.id
            WHERE r.run_type = 'manual' GROUP BY r.id""").fetchall()
        daemon.stop()
        ms = sorted(r[0] for r in rows)
        return achieved, ms[len(ms) // 2], ms[int(len(ms) * 0.99) - 1], len(ms)


def idle(binary, seconds):
    with tempfile.TemporaryDirectory() as work:
        write_dags(os.path.join(work, "dags"), 100)
        daemon = Daemon(binary, work)
        time.sleep(3)  # let it settle
        tick = os.sysconf("SC_CLK_TCK")

        def cpu():
            fields = open(f"/proc/{daemon.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        rss = next(int(l.split()[1]) for l in open(f"/proc/{daemon.proc.pid}/status") if l.startswith("VmRSS"))
        daemon.stop()
        return rss / 1024, 100.0 * (c1 - c0) / tick / (t1 - t0)


def instant(text):
    return datetime.datetime.fromisoformat(text)


def chain_rounds(binary, runs):
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(os.path.join(work, "dags"))
        with open(os.path.join(work, "dags", "chain.yaml"), "w") as f:
            f.write("dag_id: chain\nschedule: null\ntasks:\n  - { task_id: t0, kind: noop }\n")
            for i in range(1, 100):
                f.write(f"  - {{ task_id: t{i}, kind: noop, depends_on: [t{i - 1}] }}\n")
        daemon = Daemon(binary, work)
        db = sqlite3.connect(os.path.join(work, "airless.db"))
        totals, gaps = [], []
        for _ in range(runs):
            before = db.execute("SELECT COUNT(*) FROM dag_runs").fetchone()[0]
            trigger(daemon.base, "chain")
            deadline = time.monotonic() + 30
            while True:
                row = db.execute("SELECT id, state, queued_at, end_date FROM dag_runs ORDER BY id DESC LIMIT 1").fetchone()
                if db.execute("SELECT COUNT(*) FROM dag_runs").fetchone()[0] > before and row[1] == "success":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the chain did not finish")
                time.sleep(0.01)
            totals.append((instant(row[3]) - instant(row[2])).total_seconds() * 1000)
            tis = db.execute("SELECT task_id, start_date, end_date FROM task_instances WHERE dag_run_id = ?",
                             (row[0],)).fetchall()
            by_task = {t: (instant(s), instant(e)) for t, s, e in tis}
            gaps.extend((by_task[f"t{i}"][0] - by_task[f"t{i - 1}"][1]).total_seconds() * 1000 for i in range(1, 100))
        daemon.stop()
        return statistics.median(totals), statistics.median(gaps)


def startup(binary, files):
    with tempfile.TemporaryDirectory() as work:
        write_dags(os.path.join(work, "dags"), files)
        times = []
        for _ in range(5):
            daemon = Daemon(binary, work)
            times.append(daemon.startup)
            daemon.stop()
        return statistics.median(times)


def main():
    binary = build()
    cpu = next((l.split(":")[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}")
    rounds = 1 if QUICK else 5
    results = [latency_round(binary, 100, 5 if QUICK else 10) for _ in range(rounds)]
    for achieved, p50, p99, n in results:
        print(f"  round: {n} triggers at {achieved:.0f}/s: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"trigger -> first task start: p50 {statistics.median(r[1] for r in results):.2f} ms, "
          f"p99 {statistics.median(r[2] for r in results):.2f} ms (median of {rounds} rounds; target p99 <= 20 ms)")
    rss, cpu_pct = idle(binary, 10 if QUICK else 60)
    print(f"idle with 100 DAGs over {10 if QUICK else 60} s: RSS {rss:.1f} MB (target <= 30), CPU {cpu_pct:.2f} % (target <= 0.5)")
    print(f"start-up with 1,000 DAG files: {startup(binary, 1000):.3f} s, median of 5 (target <= 1 s)")
    total, gap = chain_rounds(binary, 10 if QUICK else 30)
    print(f"100-task noop chain over the API: trigger -> success {total:.1f} ms (target <= 50), "
          f"hand-off gap {gap:.3f} ms (target <= 0.2), median of {10 if QUICK else 30} runs")


if __name__ == "__main__":
    main()
