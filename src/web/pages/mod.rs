//! The pages people read: the DAGs, one DAG, one run, one try's log.

pub mod dag;
pub mod dags;
pub mod log;
pub mod run;
