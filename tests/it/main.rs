//! The integration test binary: drives airless in-process (and as a real
//! binary where a crash is the point) against temp databases and folders.
#![allow(clippy::unwrap_used)]

mod crash;
mod engine;
mod support;
mod validation;
