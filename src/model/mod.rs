//! Plain data shared by every layer: ids, states and the records of runs.
//! No I/O and no dependency on any other airless module.

mod ids;
mod state;
pub mod time;

pub use ids::{DagId, RunId, TaskId};
pub use state::{RunState, StateParseError, TaskState, TransitionError};
