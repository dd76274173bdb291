//! In-process servers that speak the documented contracts of the SaaS parts
//! nobody can run here.

pub mod databricks;
pub mod kafka_rest;
pub mod mwaa;
pub mod s3;
