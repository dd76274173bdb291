#!/usr/bin/env python3
"""A client written against Airflow's documented stable REST API (v1), the
way scripts trigger MWAA DAGs today: trigger a DAG with conf, then poll the
DAGRun until it ends. Standard library only. Usage:

    v1_client.py BASE_URL DAG_ID TOKEN

Exit 0 when the run succeeded, 1 otherwise; prints what it saw.
"""
import base64, json, sys, time, urllib.parse, urllib.request

base, dag_id, token = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
auth = "Basic " + base64.b64encode(f"airflow:{token}".encode()).decode()


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method,
                                 headers={"Authorization": auth, "Content-Type": "application/json",
                                          "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


run = call("POST", f"/dags/{dag_id}/dagRuns", {"conf": {"source": "v1_client.py"}})
run_id = run["dag_run_id"]
print("triggered", run_id, run["state"])
quoted = urllib.parse.quote(run_id, safe="")
for _ in range(600):
    run = call("GET", f"/dags/{dag_id}/dagRuns/{quoted}")
    if run["state"] in ("success", "failed"):
        break
    time.sleep(0.1)
tis = call("GET", f"/dags/{dag_id}/dagRuns/{quoted}/taskInstances")
for ti in tis["task_instances"]:
    print(ti["task_id"], ti["state"], ti["try_number"])
print("final", run["state"], json.dumps(run["conf"]))
sys.exit(0 if run["state"] == "success" and run["conf"] == {"source": "v1_client.py"} else 1)
