//! Typed wrappers over the external APIs airless talks to; no orchestration.
//! Each client retries what may succeed on a second try and reports the rest
//! in our terms.

pub mod databricks;
pub mod kafka_rest;
pub mod kinesis_rest;
pub mod retry;
pub mod s3;
