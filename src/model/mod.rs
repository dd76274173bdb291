//! Plain data shared by every layer: ids, states and the records of runs.
//! No I/O and no dependency on any other airless module.

pub mod clock;
pub mod event;
mod ids;
pub mod links;
mod records;
mod state;
pub mod time;

pub use clock::{Clock, SystemClock, VirtualClock};
pub use event::Event;
pub use ids::{DagId, RunId, TaskId};
pub use records::{
    DagRecord, DagRun, DagVersion, Lease, Owner, OwnerKind, ProcessGroup, RunType, TaskInstance,
    TaskTry,
};
pub use state::{RunState, StateParseError, TaskState, TransitionError};
