//! airless: one binary that replaces Apache Airflow / AWS MWAA.
//!
//! The data flows top to bottom:
//! - [`dag`]: YAML files → validated, immutable `Dag`s (spec, validation, graph, timetable)
//! - [`engine`]: drives a `DagRun` to completion (ready set, concurrency, retries,
//!   timeouts, cancellation), recording every state change through [`store`]
//! - [`executor`]: what one task does, one file per kind
//! - [`store`]: SQLite through sqlx, the only module with SQL
//! - [`port`]: Airflow DAG files and live MWAA environments → airless YAML
//! - [`cli`]: the command line
//!
//! Glossary (Airflow's words): a *DagRun* is one run of a DAG for one
//! `logical_date`; a *TaskInstance* is one task in one DagRun; each attempt
//! at it is a *try*, numbered by `try_number` from 1.

pub mod api;
pub mod app;
pub mod cli;
pub mod clients;
pub mod config;
pub mod dag;
pub mod engine;
pub mod executor;
pub mod model;
pub mod port;
pub mod scheduler;
pub mod store;
