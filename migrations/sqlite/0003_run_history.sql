-- The web UI's history reads: a DAG's newest runs by logical date (the
-- DAGs page's squares, the grid's columns) without sorting all its runs.
CREATE INDEX dag_runs_by_dag_and_date ON dag_runs (dag_id, logical_date);
