#!/usr/bin/env bash
# Compares `airless dags next-runs` on every ported DAG of tests/fixtures/port
# with Airflow 2.10.5's own timetables for the original .py files.
#   usage: tests/airflow/port_next_runs.sh path/to/airless [--after T ...] [-n N]
# The virtualenv ($AIRLESS_AIRFLOW_VENV, default ~/.cache/airless-airflow-venv)
# is made once with `pip install apache-airflow==2.10.5` (about a minute) and reused.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 path/to/airless [port_next_runs.py options]" >&2
  exit 2
fi
airless=$1
shift
venv=${AIRLESS_AIRFLOW_VENV:-$HOME/.cache/airless-airflow-venv}
if ! "$venv/bin/python" -c 'import sys, airflow; sys.exit(airflow.__version__ != "2.10.5")' 2>/dev/null; then
  echo "creating $venv with apache-airflow==2.10.5" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check apache-airflow==2.10.5
fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
AIRFLOW_HOME=$home "$venv/bin/python" "$(dirname "$0")/port_next_runs.py" --airless "$airless" "$@"
