#!/usr/bin/env python3
"""The official Airflow 3 Python client (`apache-airflow-client` 3.x,
unchanged) against airless's /api/v2: get a JWT from /auth/token (the
client has no helper for it: urllib, as Airflow 3's docs show), trigger a
run with conf, poll it to success, list its task instances, read a log.
Usage:

    v2_client.py BASE_URL DAG_ID TOKEN

Exit 0 when everything matched, 1 otherwise; prints what it saw.
"""
import json
import sys
import time
import urllib.request

import airflow_client.client
from airflow_client.client.api.dag_api import DAGApi
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api.monitor_api import MonitorApi
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.api.version_api import VersionApi
from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

base, dag_id, token = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]

request = urllib.request.Request(
    base + "/auth/token",
    data=json.dumps({"username": "admin", "password": token}).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=10) as response:
    assert response.status == 201, response.status
    jwt = json.load(response)["access_token"]
print("token", jwt.count("."), "dots")

configuration = airflow_client.client.Configuration(host=base, access_token=jwt)
failures = []
with airflow_client.client.ApiClient(configuration) as api_client:
    print("version", VersionApi(api_client).get_version().version)
    print("health", MonitorApi(api_client).get_health().metadatabase.status)
    dag = DAGApi(api_client).get_dag(dag_id)
    print("dag", dag.dag_id, "paused", dag.is_paused)

    runs = DagRunApi(api_client)
    conf = {"name": "v2_client.py"}
    run = runs.trigger_dag_run(dag_id, TriggerDAGRunPostBody(logical_date=None, conf=conf))
    print("triggered", run.dag_run_id, run.state.value)
    for _ in range(600):
        run = runs.get_dag_run(dag_id, run.dag_run_id)
        if run.state.value in ("success", "failed"):
            break
        time.sleep(0.1)
    print("final", run.state.value, json.dumps(run.conf))
    if run.state.value != "success" or run.conf != conf:
        failures.append(f"run {run.state.value} conf {run.conf}")

    listed = runs.get_dag_runs(dag_id, limit=10, order_by=["-id"])
    print("runs listed", listed.total_entries)

    tis = TaskInstanceApi(api_client)
    collection = tis.get_task_instances(dag_id, run.dag_run_id)
    for ti in collection.task_instances:
        print("task", ti.task_id, ti.state.value if ti.state else None, "try", ti.try_number)
        if ti.state is None or ti.state.value != "success":
            failures.append(f"task {ti.task_id} {ti.state}")

    log = tis.get_log(dag_id, run.dag_run_id, "greet", 1)
    lines = [m.event if hasattr(m, "event") else str(m) for m in log.content.actual_instance]
    print("log lines", len(lines), "token", log.continuation_token)
    if not any("hello v2_client.py" in line for line in lines):
        failures.append(f"log without the greeting: {lines}")

if failures:
    print("FAILED:", "; ".join(failures))
    sys.exit(1)
print("ok")
