//! The integration test binary: drives airless in-process (and as a real
//! binary where a crash is the point) against temp databases and folders.

mod crash;
mod engine;
mod support;
mod validation;
