"""For every DAG of the port corpus: the next runs airless computes for the
ported YAML equal the ones Airflow computes for the original .py file.

Run with an Airflow 2.10.5 interpreter (port_next_runs.sh makes one):

    python tests/airflow/port_next_runs.py --airless target/debug/airless

Each tests/fixtures/port/*.py is ported with `airless port airflow` (files
named af3_* with `--airflow-version 3`), loaded with Airflow's DagBag (never
edited), and for each `--after` date the next N runs are compared: logical
date, data interval and run time, from `airless dags next-runs DAG -n N
--after T` and from Airflow's own timetable iterated from the DAG's start
date (catchup on, as `next-runs` ignores catchup).

Airflow-3 files are loaded with `[scheduler] create_cron_data_intervals =
False`, which makes Airflow 2.10 build Airflow 3's CronTriggerTimetable for
cron schedules; an Airflow-3 timedelta schedule (DeltaTriggerTimetable) has no
2.10 counterpart and is skipped with a message. A DAG whose schedule the
port could not carry over (reported) has no airless runs and is skipped with
the port report's reason. Provider packages that are not installed
(databricks, amazon, standard) are replaced by stub operators: only the
schedule matters here. Exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airless-airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

import airflow  # noqa: E402
from airflow.models import BaseOperator  # noqa: E402
from airflow.models.dagbag import DagBag  # noqa: E402
from airflow.timetables.base import TimeRestriction  # noqa: E402
from airflow.timetables.simple import NullTimetable  # noqa: E402

import logging  # noqa: E402

logging.disable(logging.CRITICAL)  # Airflow logs a failed Variable lookup and every file it fills the DagBag from

REPO = Path(__file__).resolve().parents[2]
DEFAULT_AFTERS = ["2024-10-25T00:00:00Z", "2025-03-05T00:00:00Z"]
_BASE_ARGS = set(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"}


class _StubOperator(BaseOperator):
    """Stands in for an operator of a provider that is not installed."""

    def __init__(self, **kwargs):
        super().__init__(**{k: v for k, v in kwargs.items() if k in _BASE_ARGS})


def _sdk_attr(name: str):
    """`airflow.sdk` (Airflow 3) names, found where Airflow 2.10 keeps them."""
    import airflow.decorators
    import airflow.models.baseoperator
    import airflow.utils.task_group

    for module in (airflow, airflow.decorators, airflow.utils.task_group, airflow.models.baseoperator):
        if hasattr(module, name):
            return getattr(module, name)
    return type(name, (_StubOperator,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: only modules nothing else can import land here."""

    def find_spec(self, name, path, target=None):
        if name.startswith("airflow.providers.") or name == "airflow.sdk":
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__path__ = []
        sdk = module.__name__ == "airflow.sdk"

        def __getattr__(attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            value = _sdk_attr(attr) if sdk else type(attr, (_StubOperator,), {})
            setattr(module, attr, value)
            return value

        module.__getattr__ = __getattr__


sys.meta_path.append(_StubFinder())


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def iso(d) -> str:
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def airflow_runs(dag, after: datetime, n: int) -> list[tuple[str, str, str, str]]:
    """The first n runs with logical date >= after, iterating the DAG's own
    timetable from its start date as the scheduler does with catchup."""
    # the scheduler's restriction (start and end dates of the DAG and its
    # tasks, so a start_date only in default_args counts), with catchup
    bounds = dag._time_restriction
    restriction = TimeRestriction(earliest=bounds.earliest, latest=bounds.latest, catchup=True)
    runs, last = [], None
    for _ in range(200_000):
        info = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        if info.logical_date >= after:
            runs.append(
                (iso(info.logical_date), iso(info.data_interval.start), iso(info.data_interval.end), iso(info.run_after))
            )
            if len(runs) == n:
                break
        last = info.data_interval
    return runs


def airless_runs(binary: str, folder: Path, dag_id: str, after: str, n: int) -> list[tuple[str, str, str, str]]:
    env = dict(os.environ, AIRLESS_DAGS_FOLDER=str(folder))
    result = subprocess.run(
        [binary, "dags", "next-runs", dag_id, "-n", str(n), "--after", after],
        capture_output=True, text=True, cwd=folder, env=env, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airless dags next-runs {dag_id} failed: {result.stderr.strip()}")
    runs = []
    for line in result.stdout.splitlines():
        if "interval" not in line:
            continue  # "<dag> has no runs at or after …"
        logical, rest = line.split("  interval ", 1)
        interval, starts = rest.split("  starts ", 1)
        start, end = interval.split(" → ", 1)
        runs.append(tuple(iso(utc(t.strip())) for t in (logical, start, end, starts)))
    return runs


def port(binary: str, source: Path, out: Path, v3: bool) -> None:
    command = [binary, "port", "airflow", str(source), "-o", str(out)]
    if v3:
        command += ["--airflow-version", "3"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"airless port airflow {source.name} failed:\n{result.stdout}{result.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airless", required=True, help="the airless binary")
    parser.add_argument("--fixtures", default=str(REPO / "tests/fixtures/port"))
    parser.add_argument("--after", action="append", help=f"default: {' and '.join(DEFAULT_AFTERS)}")
    parser.add_argument("-n", type=int, default=10)
    args = parser.parse_args()
    assert airflow.__version__ == "2.10.5", f"needs Airflow 2.10.5, not {airflow.__version__}"
    afters = args.after or DEFAULT_AFTERS
    binary = str(Path(args.airless).resolve())
    work = Path(tempfile.mkdtemp(prefix="airless-port-next-runs-"))
    matched = skipped = mismatched = 0
    try:
        for source in sorted(Path(args.fixtures).glob("*.py")):
            try:
                compile(source.read_text(), str(source), "exec")
            except SyntaxError:
                print(f"skip {source.name}: not valid Python (the port reports it)")
                skipped += 1
                continue
            v3 = source.name.startswith("af3_")
            out = work / source.stem
            port(binary, source, out, v3)
            os.environ["AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS"] = "False" if v3 else "True"
            bag = DagBag(dag_folder=str(source), include_examples=False, safe_mode=False, read_dags_from_db=False)
            for path, error in bag.import_errors.items():
                print(f"MISMATCH {source.name}: Airflow cannot import it: {error}")
                mismatched += 1
            for dag_id in sorted(bag.dags):
                dag = bag.dags[dag_id]
                label = f"{source.name} {dag_id}"
                if not (out / f"{dag_id}.yaml").exists():
                    print(f"MISMATCH {label}: not ported")
                    mismatched += 1
                    continue
                timetable = type(dag.timetable).__name__
                if v3 and timetable.startswith("Delta"):
                    print(f"skip {label}: an Airflow 3 timedelta or default schedule has no Airflow 2.10 counterpart")
                    skipped += 1
                    continue
                dropped = next(
                    (line for line in (out / f"{dag_id}.yaml").read_text().splitlines() if line.startswith("schedule: null  #")),
                    None,
                )
                if dropped:
                    reason = dropped.split("#", 1)[1].strip()
                    print(f"skip {label}: schedule not carried over ({reason}; reported)")
                    skipped += 1
                    continue
                for after in afters:
                    want = [] if isinstance(dag.timetable, NullTimetable) else airflow_runs(dag, utc(after), args.n)
                    got = airless_runs(binary, out, dag_id, after, args.n)
                    if got == want:
                        matched += 1
                        print(f"ok   {label} after {after}: {len(got)} run(s) ({timetable})")
                        continue
                    mismatched += 1
                    print(f"MISMATCH {label} after {after} ({timetable})")
                    for i in range(max(len(got), len(want))):
                        w = want[i] if i < len(want) else None
                        g = got[i] if i < len(got) else None
                        print(f"  {'==' if w == g else '!='} airflow {w}\n     airless {g}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"port_next_runs: {matched} passed, {mismatched} failed, {skipped} skipped")
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
