#!/usr/bin/env python3
"""Several `airless serve` peers on one PostgreSQL database (stdlib + psql; loopback only).

1. Throughput with 1, 2 and 3 nodes: task instances per second for
   - noop fan-outs (1 -> 48 -> 1, 50 task instances a run), 40 runs, and
   - shell chains (5 `true` tasks in a row), 40 runs,
   triggered round-robin over the nodes' APIs; measured from the database's
   own records (first run queued -> last task instance ended).
2. Failover: a node driving a long shell task is
   - killed (`kill -9`; on one machine its peers see its pid gone at once), and
   - stopped (SIGSTOP, as a node cut off the network: its peers wait for its
     lease to run out, `lease_timeout` 5 s here),
   and the time until a peer holds the run's lease is read from the database.
Each figure is the median of --rounds rounds (default 3). Every node shares the
same cores: on a 2-core machine three nodes compete for two cores.

Usage: bench/nodes.py [--rounds N]   (builds the release binary first; AIRLESS_BIN=path
       benchmarks that binary; AIRLESS_BENCH_POSTGRES=URL picks the database, else
       postgres://postgres@127.0.0.1:5432/postgres; each round gets its own schema)
"""
import json, os, platform, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import build, free_port  # noqa: E402

ADMIN = os.environ.get("AIRLESS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
RUNS = 40

FANOUT = "dag_id: fanout\nschedule: null\nmax_active_runs: 1000\ntasks:\n  - { task_id: start, kind: noop }\n" + "".join(
    f"  - {{ task_id: t{i:02}, kind: noop, depends_on: [start] }}\n" for i in range(48)
) + "  - { task_id: end, kind: noop, depends_on: [" + ", ".join(f"t{i:02}" for i in range(48)) + "] }\n"

CHAIN = "dag_id: chain\nschedule: null\nmax_active_runs: 1000\ntasks:\n" + "".join(
    f"  - {{ task_id: s{i}, kind: shell, command: 'true'{', depends_on: [s%d]' % (i - 1) if i else ''} }}\n"
    for i in range(5)
)

LONG = "dag_id: long\nschedule: null\ntasks:\n  - { task_id: wait, kind: shell, command: 'sleep 120', retries: 1, retry_delay: 0s }\n"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-qAtX", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Schema:
    def __init__(self, n):
        self.name = f"bench_{os.getpid()}_{n}_{int(time.time() * 1000) % 10**9}"
        psql(ADMIN, f"CREATE SCHEMA {self.name}")
        sep = "&" if "?" in ADMIN else "?"
        self.url = f"{ADMIN}{sep}options=-c%20search_path%3D{self.name}"

    def q(self, sql):
        return psql(self.url, sql)

    def drop(self):
        psql(ADMIN, f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


class Node:
    def __init__(self, binary, work, n, schema, lease_timeout="15s"):
        self.dir = os.path.join(work, f"node{n}")
        os.makedirs(os.path.join(self.dir, "dags"), exist_ok=True)
        for name, text in (("fanout.yaml", FANOUT), ("chain.yaml", CHAIN), ("long.yaml", LONG)):
            with open(os.path.join(self.dir, "dags", name), "w") as f:
                f.write(text)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AIRLESS_BIND=f"127.0.0.1:{self.port}", AIRLESS_LOG="warn",
                   AIRLESS_DATABASE=schema.url, AIRLESS_LEASE_TIMEOUT=lease_timeout,
                   AIRLESS_LOGS_FOLDER=os.path.join(work, "logs"), AIRLESS_SHUTDOWN_GRACE="2s")
        env.pop("AIRLESS_API_TOKENS", None)
        self.log = open(os.path.join(self.dir, "daemon.log"), "w")
        self.proc = subprocess.Popen([binary, "serve"], cwd=self.dir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        started = time.monotonic()
        while True:
            try:
                health = json.loads(urllib.request.urlopen(self.base + "/health", timeout=1).read())
                if health.get("dag_processor", {}).get("status") == "healthy":
                    break
            except Exception:
                pass
            if self.proc.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError(f"node {n} did not start: see {self.log.name}")
            time.sleep(0.02)

    def trigger(self, dag_id):
        req = urllib.request.Request(f"{self.base}/api/v1/dags/{dag_id}/dagRuns", data=b'{"conf": {}}',
                                     headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=30).read()

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def cluster(binary, work, count, schema, lease_timeout="15s"):
    return [Node(binary, work, n, schema, lease_timeout) for n in range(count)]


def throughput(binary, nodes_count, dag_id, tasks_per_run, n):
    schema = Schema(n)
    work = tempfile.mkdtemp(prefix="airless-nodes-")
    nodes = []
    try:
        nodes = cluster(binary, work, nodes_count, schema)
        for i in range(RUNS):
            nodes[i % nodes_count].trigger(dag_id)
        total = RUNS * tasks_per_run
        deadline = time.monotonic() + 600
        while int(schema.q("SELECT count(*) FROM task_instances WHERE state = 'success'")) < total:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} on {nodes_count} nodes did not finish")
            time.sleep(0.2)
        seconds = float(schema.q(
            "SELECT EXTRACT(EPOCH FROM (SELECT max(end_date) FROM task_instances) - (SELECT min(queued_at) FROM dag_runs))"))
        return total / seconds
    finally:
        for node in nodes:
            node.stop()
        schema.drop()
        shutil.rmtree(work, ignore_errors=True)


def failover(binary, how, n):
    schema = Schema(n)
    work = tempfile.mkdtemp(prefix="airless-nodes-")
    nodes = []
    try:
        nodes = cluster(binary, work, 2, schema, lease_timeout="5s")
        nodes[0].trigger("long")
        deadline = time.monotonic() + 60
        holder = ""
        while not holder:
            holder = schema.q("SELECT o.pid FROM dag_runs r JOIN owners o ON o.id = r.lease_owner "
                              "WHERE r.dag_id = 'long' AND r.state = 'running'")
            if time.monotonic() > deadline:
                raise RuntimeError("nobody drives the run")
            time.sleep(0.05)
        victim = next(node for node in nodes if str(node.proc.pid) == holder)
        struck = time.monotonic()
        if how == "kill":
            victim.proc.kill()
            victim.proc.wait()
        else:
            os.kill(victim.proc.pid, signal.SIGSTOP)
        while True:
            now = schema.q("SELECT o.pid FROM dag_runs r JOIN owners o ON o.id = r.lease_owner "
                           "WHERE r.dag_id = 'long'")
            if now and now != holder:
                return time.monotonic() - struck
            if time.monotonic() - struck > 120:
                raise RuntimeError("no peer adopted the run")
            time.sleep(0.05)
    finally:
        for node in nodes:
            node.stop()
        schema.drop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    binary = build()
    psql(ADMIN, "SELECT 1")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {cpu}, {os.cpu_count()} cores; PostgreSQL at {ADMIN.split('@')[-1]}; "
          f"median of {ROUNDS} rounds; {RUNS} runs per round")
    counter = 0
    for dag_id, tasks, label in (("fanout", 50, "noop fan-out 1->48->1"), ("chain", 5, "shell chain of 5")):
        for count in (1, 2, 3):
            rates = []
            for _ in range(ROUNDS):
                counter += 1
                rates.append(throughput(binary, count, dag_id, tasks, counter))
            print(f"{label:24} {count} node{'s' if count > 1 else ' '}: {statistics.median(rates):8.0f} task instances/s"
                  f"  (rounds: {', '.join(f'{r:.0f}' for r in rates)})")
    for how, label in (("kill", "kill -9 (pid gone)"), ("stop", "SIGSTOP (lease 5 s)")):
        times = []
        for _ in range(ROUNDS):
            counter += 1
            times.append(failover(binary, how, counter))
        print(f"failover after {label:20}: {statistics.median(times):5.1f} s until a peer holds the run"
              f"  (rounds: {', '.join(f'{t:.1f}' for t in times)})")


if __name__ == "__main__":
    main()
