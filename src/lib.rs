//! airless: one binary that replaces Apache Airflow / AWS MWAA.
//!
//! The modules, top to bottom (imports point down only):
//! - [`cli`]: the command line; remote commands talk to the daemon over HTTP
//! - [`app`]: the composition root of `serve`: `build(config) -> App`,
//!   `App::run(listener, shutdown)`
//! - [`web`]: the web UI at `/`: server-rendered pages (DAGs, grid, graph,
//!   runs, logs), previewed actions through the command door, live updates
//!   from its events, login sessions and CSRF
//! - [`api`]: the Airflow-compatible HTTP API (`/api/v1`, Airflow 3's
//!   `/api/v2` with `/auth/token` JWTs, `/health`,
//!   `/metrics`): parse → command door or reads → DTO; errors mapped once
//! - [`scheduler`]: *when* a run starts (timetables, catchup, queued runs,
//!   adoption), the DAG processor (files parsed in parallel, DAGs published
//!   as files finish), the DAG-folder watcher, and the alert sender (the
//!   outbox to the channels, grouping, retries, deadlines)
//! - [`engine`]: *how* a run proceeds: `control` is the one door that changes
//!   state and publishes events; the run driver, leases, trigger rules,
//!   templates, recovery
//! - [`kinds`]: *what* a task does, one file per kind (noop, shell, http,
//!   emulate, ingest, databricks): Airflow's operators
//! - [`clients`]: typed wrappers over external APIs (Databricks, Kafka REST,
//!   Kinesis, S3, MWAA); import nothing above them but `model`
//! - [`store`]: read and write traits over the records; `sqlite` is the only
//!   module with SQL, and only the command door gets the write side
//! - [`dag`]: YAML files → validated, immutable `Dag`s: `yaml` (one pass,
//!   positions kept, PyYAML's anchors and merges), spec, validation, `template`
//!   checks, graph, timetable, bag (folder, ownership, size cap), folder (a
//!   load whose files finish one by one), registry
//! - [`port`]: Airflow DAG files and live MWAA environments → airless YAML
//! - [`notify`]: alerts: the message, the channel contract and one file per
//!   channel kind (Slack, webhook, PagerDuty, e-mail, SNS)
//! - [`config`]: typed settings from `airless.toml` and `AIRLESS_*`
//! - [`model`]: plain records and rules shared by every layer: ids, states
//!   and their transitions, DagRun, TaskInstance, DagVersion, Owner, events,
//!   the clock, the web UI's addresses (links alerts carry). No I/O.
//!
//! Glossary (Airflow's words): a *DagRun* is one run of a DAG for one
//! `logical_date`; a *TaskInstance* is one task in one DagRun; each attempt
//! at it is a *try*, numbered by `try_number` from 1. An *owner* is a process
//! that drives runs (`serve`, `dags test`); it holds a *lease* on each run it
//! drives. A *DagVersion* is one loaded text of a DAG file; a run finishes on
//! the version it started on.

pub mod api;
pub mod app;
pub mod cli;
pub mod clients;
pub mod config;
pub mod dag;
pub mod engine;
pub mod kinds;
pub mod model;
pub mod notify;
pub mod port;
pub mod scheduler;
pub mod store;
pub mod web;
