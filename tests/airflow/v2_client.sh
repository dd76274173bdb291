#!/usr/bin/env bash
# The official Airflow 3 client (`apache-airflow-client` 3.x from PyPI,
# unchanged) against `airless serve`: JWT from /auth/token, trigger with conf,
# poll to success, task instances, a log (tests/airflow/v2_client.py).
#   usage: tests/airflow/v2_client.sh path/to/airless
# The virtualenv ($AIRLESS_CLIENT3_VENV, default ~/.cache/airless-client3-venv)
# is made once (about a minute) and reused. The daemon runs on a free
# loopback port in a temp folder with a token; it is stopped on exit.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 path/to/airless" >&2
  exit 2
fi
airless=$(realpath "$1")
script=$(realpath "$(dirname "$0")/v2_client.py")
venv=${AIRLESS_CLIENT3_VENV:-$HOME/.cache/airless-client3-venv}
if ! "$venv/bin/python" -c 'import sys, airflow_client.client as c; sys.exit(not c.__version__.startswith("3."))' 2>/dev/null; then
  echo "creating $venv with apache-airflow-client 3.x" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'apache-airflow-client>=3,<4'
fi

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/dags"
cat > "$work/dags/v2demo.yaml" <<'YAML'
dag_id: v2demo
description: What the Airflow 3 client test triggers
schedule: null
tasks:
  - task_id: greet
    kind: shell
    command: 'echo "hello $NAME"'
    env: { NAME: "{{ conf.name }}" }
  - task_id: done
    kind: noop
    depends_on: [greet]
YAML
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=v2-client-$RANDOM$RANDOM
(
  cd "$work"
  AIRLESS_BIND=127.0.0.1:$port AIRLESS_API_TOKENS=$token AIRLESS_DAGS_FOLDER=$work/dags \
    AIRLESS_DATABASE=$work/airless.db exec "$airless" serve > "$work/serve.log" 2>&1
) &
pid=$!
# ready when the DAG folder is loaded
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/api/v2/monitor/health" 2>/dev/null |
    python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["dag_processor"]["status"] != "healthy")' 2>/dev/null; then
    break
  fi
  sleep 0.2
done
if ! "$venv/bin/python" "$script" "http://127.0.0.1:$port" v2demo "$token"; then
  echo "the Airflow 3 client failed; the daemon said:" >&2
  tail -n 40 "$work/serve.log" >&2
  exit 1
fi
