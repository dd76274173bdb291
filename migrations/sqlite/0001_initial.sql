-- airless state: DAGs, DagRuns, TaskInstances and every try of each.
-- Times are UTC RFC 3339 text; states are snake_case text checked here.

CREATE TABLE dags (
    dag_id         TEXT PRIMARY KEY NOT NULL,
    is_paused      INTEGER NOT NULL DEFAULT 0 CHECK (is_paused IN (0, 1)),
    fileloc        TEXT NOT NULL DEFAULT '',
    last_parsed_at TEXT
);

CREATE TABLE dag_runs (
    id                  INTEGER PRIMARY KEY,
    dag_id              TEXT NOT NULL REFERENCES dags (dag_id),
    run_id              TEXT NOT NULL,
    run_type            TEXT NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill')),
    state               TEXT NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
    logical_date        TEXT NOT NULL,
    data_interval_start TEXT NOT NULL,
    data_interval_end   TEXT NOT NULL,
    conf                TEXT NOT NULL DEFAULT '{}',
    queued_at           TEXT NOT NULL,
    start_date          TEXT,
    end_date            TEXT,
    UNIQUE (dag_id, run_id)
);

-- a scheduled interval runs once, whatever restarts happen
CREATE UNIQUE INDEX dag_runs_one_per_interval
    ON dag_runs (dag_id, logical_date) WHERE run_type IN ('scheduled', 'backfill');
CREATE INDEX dag_runs_by_state ON dag_runs (state);

CREATE TABLE task_instances (
    id            INTEGER PRIMARY KEY,
    dag_run_id    INTEGER NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
    task_id       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('none', 'queued', 'running', 'success', 'failed',
                                                 'up_for_retry', 'upstream_failed', 'skipped')),
    try_number    INTEGER NOT NULL DEFAULT 0,
    max_tries     INTEGER NOT NULL DEFAULT 0,
    start_date    TEXT,
    end_date      TEXT,
    next_retry_at TEXT,
    output        TEXT,
    error         TEXT,
    -- the remote job a try started (a Databricks run id), so a restart re-attaches
    external_id   TEXT,
    external_url  TEXT,
    -- the current try's log file
    log_path      TEXT,
    UNIQUE (dag_run_id, task_id)
);

CREATE TABLE task_tries (
    id               INTEGER PRIMARY KEY,
    task_instance_id INTEGER NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
    try_number       INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('running', 'success', 'failed', 'up_for_retry')),
    start_date       TEXT NOT NULL,
    end_date         TEXT,
    log_path         TEXT NOT NULL,
    error            TEXT,
    UNIQUE (task_instance_id, try_number)
);

-- every try is recorded by the database itself, in the same statement that
-- moves its task instance: a try cannot start or end without its row
CREATE TRIGGER task_try_started AFTER UPDATE OF state ON task_instances
WHEN NEW.state = 'running' AND OLD.state <> 'running'
BEGIN
    INSERT INTO task_tries (task_instance_id, try_number, state, start_date, log_path)
    VALUES (NEW.id, NEW.try_number, 'running', NEW.start_date, COALESCE(NEW.log_path, ''));
END;

CREATE TRIGGER task_try_ended AFTER UPDATE OF state ON task_instances
WHEN OLD.state = 'running' AND NEW.state IN ('success', 'failed', 'up_for_retry')
BEGIN
    UPDATE task_tries SET state = NEW.state, end_date = NEW.end_date, error = NEW.error
    WHERE task_instance_id = NEW.id AND try_number = OLD.try_number;
END;
