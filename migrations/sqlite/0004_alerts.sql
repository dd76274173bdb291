-- Alerts. `alert_routes` says which channels hear of what, per task
-- (written with each DAG version); `alerts` is the outbox. The triggers
-- below write an alert in the same statement as the state change that
-- causes it, whoever makes it (scheduler, API, web UI, CLI, another
-- process): an alert cannot be lost between the two.

CREATE TABLE alert_routes (
    dag_id  TEXT NOT NULL,
    -- '' for the DAG's run-level events (recovery)
    task_id TEXT NOT NULL,
    event   TEXT NOT NULL CHECK (event IN ('failure', 'retry', 'success', 'recovery')),
    channel TEXT NOT NULL,
    PRIMARY KEY (dag_id, task_id, event, channel)
) WITHOUT ROWID;

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    channel          TEXT NOT NULL,
    event            TEXT NOT NULL,
    dag_id           TEXT NOT NULL,
    dag_run_id       INTEGER,
    task_instance_id INTEGER,
    task_id          TEXT,
    try_number       INTEGER,
    -- the state that fired it, and the error then
    state            TEXT,
    error            TEXT,
    created_at       TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    delivered_at     TEXT
);
-- one alert per try's end, and one per run for run-level events
CREATE UNIQUE INDEX alerts_once_per_try
    ON alerts (task_instance_id, try_number, event, channel) WHERE task_instance_id IS NOT NULL;
CREATE UNIQUE INDEX alerts_once_per_run
    ON alerts (dag_run_id, event, channel) WHERE task_instance_id IS NULL AND dag_run_id IS NOT NULL;
CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE status = 'pending';

CREATE TRIGGER alert_on_task_state AFTER UPDATE OF state ON task_instances
WHEN NEW.state IN ('failed', 'up_for_retry', 'success') AND OLD.state <> NEW.state
BEGIN
    INSERT OR IGNORE INTO alerts (channel, event, dag_id, dag_run_id, task_instance_id, task_id,
                                  try_number, state, error, created_at, next_attempt_at)
    SELECT r.channel, r.event, d.dag_id, NEW.dag_run_id, NEW.id, NEW.task_id, NEW.try_number,
           NEW.state, NEW.error,
           COALESCE(NEW.end_date, strftime('%Y-%m-%dT%H:%M:%f000000+00:00', 'now')),
           COALESCE(NEW.end_date, strftime('%Y-%m-%dT%H:%M:%f000000+00:00', 'now'))
    FROM dag_runs d
    JOIN alert_routes r ON r.dag_id = d.dag_id AND r.task_id = NEW.task_id
    WHERE d.id = NEW.dag_run_id
      AND r.event = CASE NEW.state WHEN 'failed' THEN 'failure'
                                   WHEN 'up_for_retry' THEN 'retry'
                                   ELSE 'success' END;
END;

-- a recovery: a run succeeds and the DAG's run that finished last before it failed
-- (only for DAGs with recovery routes: the look back is skipped for the rest)
CREATE INDEX dag_runs_by_dag_and_end ON dag_runs (dag_id, end_date);
CREATE TRIGGER alert_on_recovery AFTER UPDATE OF state ON dag_runs
WHEN NEW.state = 'success' AND OLD.state <> 'success'
 AND EXISTS (SELECT 1 FROM alert_routes
             WHERE dag_id = NEW.dag_id AND task_id = '' AND event = 'recovery')
 AND (SELECT p.state FROM dag_runs p
      WHERE p.dag_id = NEW.dag_id AND p.id <> NEW.id AND p.end_date IS NOT NULL
        AND p.state IN ('success', 'failed')
      ORDER BY p.end_date DESC LIMIT 1) = 'failed'
BEGIN
    INSERT OR IGNORE INTO alerts (channel, event, dag_id, dag_run_id, state, created_at, next_attempt_at)
    SELECT r.channel, 'recovery', NEW.dag_id, NEW.id, 'success',
           COALESCE(NEW.end_date, strftime('%Y-%m-%dT%H:%M:%f000000+00:00', 'now')),
           COALESCE(NEW.end_date, strftime('%Y-%m-%dT%H:%M:%f000000+00:00', 'now'))
    FROM alert_routes r
    WHERE r.dag_id = NEW.dag_id AND r.task_id = '' AND r.event = 'recovery';
END;
