//! The integration test binary: drives airless in-process (and as a real
//! binary where a crash is the point) against temp databases and folders.
#![allow(clippy::unwrap_used)]

mod alerts;
mod api;
mod api_v1_more;
mod api_v2;
mod browser;
mod cli;
mod cli_ops;
mod connections;
mod control;
mod crash;
mod daemon;
mod dag_loading;
mod dag_warnings;
mod databricks;
mod databricks_client;
mod databricks_crash;
mod db;
mod emulate;
mod engine;
mod fakes;
mod fd_exhaustion;
mod hostile_api;
mod hostile_dags;
mod ingest;
mod kafka_rest_client;
mod kinesis_rest_client;
mod lake_s3;
mod layout;
mod next_runs;
mod nodes;
mod notify_channels;
mod ownership;
mod port;
mod port_mwaa;
mod postgres;
mod scheduler;
mod secrets;
mod shutdown_logs;
mod support;
mod validation;
mod web;
