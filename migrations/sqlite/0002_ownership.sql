-- One owner per run: the processes that drive runs, the scheduler's lock,
-- run leases, DAG versions, and the process group of each shell try.

CREATE TABLE owners (
    id           TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('serve', 'dags_test')),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    pid_start    INTEGER NOT NULL,
    boot_id      TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    stopped_at   TEXT
);

-- SQLite takes one scheduler: the `serve` owner holding this row
CREATE TABLE scheduler_lock (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    owner_id TEXT NOT NULL REFERENCES owners (id)
);

CREATE TABLE dag_versions (
    id             INTEGER PRIMARY KEY,
    dag_id         TEXT NOT NULL REFERENCES dags (dag_id),
    version_number INTEGER NOT NULL,
    hash           TEXT NOT NULL,
    source         TEXT NOT NULL,
    fileloc        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (dag_id, version_number),
    UNIQUE (dag_id, hash)
);

ALTER TABLE dags ADD COLUMN latest_version INTEGER REFERENCES dag_versions (id);

ALTER TABLE dag_runs ADD COLUMN dag_version INTEGER REFERENCES dag_versions (id);
ALTER TABLE dag_runs ADD COLUMN lease_owner TEXT;
ALTER TABLE dag_runs ADD COLUMN lease_expires_at TEXT;
CREATE INDEX dag_runs_by_lease_owner ON dag_runs (lease_owner) WHERE lease_owner IS NOT NULL;

ALTER TABLE task_instances ADD COLUMN pgid INTEGER;
ALTER TABLE task_instances ADD COLUMN pg_owner TEXT;
ALTER TABLE task_instances ADD COLUMN pg_boot_id TEXT;
