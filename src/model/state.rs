//! Run and task-instance states with their one pure transition function.
//! Stored as snake_case TEXT (the names Airflow's API uses).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a DagRun.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    Success,
    Failed,
}

impl RunState {
    pub const ALL: [RunState; 4] = [Self::Queued, Self::Running, Self::Success, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }

    /// The run's one transition function: `Ok(next)` when a run may move
    /// from `self` to `next`, an error naming both states otherwise.
    pub fn transition(self, next: RunState) -> Result<RunState, TransitionError> {
        use RunState::*;
        let allowed = matches!(
            (self, next),
            (Queued, Running) | (Queued, Failed) | (Running, Success) | (Running, Failed)
                // clearing a finished run's tasks puts the run back to work
                | (Success, Queued) | (Failed, Queued)
        );
        if allowed {
            Ok(next)
        } else {
            Err(TransitionError {
                what: "a DagRun",
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

/// The state of one TaskInstance (one task in one DagRun).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Created with the run; its upstream tasks have not finished yet.
    None,
    /// Its trigger rule passed; waiting for a concurrency slot.
    Queued,
    Running,
    Success,
    Failed,
    /// A try failed and retries remain; runs again after the retry delay.
    UpForRetry,
    UpstreamFailed,
    Skipped,
}

impl TaskState {
    pub const ALL: [TaskState; 8] = [
        Self::None,
        Self::Queued,
        Self::Running,
        Self::Success,
        Self::Failed,
        Self::UpForRetry,
        Self::UpstreamFailed,
        Self::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::UpForRetry => "up_for_retry",
            Self::UpstreamFailed => "upstream_failed",
            Self::Skipped => "skipped",
        }
    }

    /// Finished for good: downstream trigger rules may look at it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Success | Self::Failed | Self::UpstreamFailed | Self::Skipped
        )
    }

    /// The one transition function: `Ok(next)` when a task instance may move
    /// from `self` to `next`, an error naming both states otherwise.
    pub fn transition(self, next: TaskState) -> Result<TaskState, TransitionError> {
        use TaskState::*;
        let allowed = match (self, next) {
            (None, Queued | UpstreamFailed | Skipped) => true,
            // a task whose slot is free when its trigger rule passes starts at once
            (None, Running) => true,
            (Queued, Running | UpstreamFailed | Skipped | Failed) => true,
            (Running, Success | Failed | UpForRetry) => true,
            (UpForRetry, Queued | Failed) => true,
            // a cancelled run skips what has not run yet (Airflow's
            // set_dag_run_state_to_failed)
            (UpForRetry, Skipped) => true,
            // a person marks a task instance that is not running
            (None | Queued | UpForRetry, Success | Failed) => true,
            (Success, Failed | Skipped)
            | (Failed, Success | Skipped)
            | (UpstreamFailed, Success | Failed | Skipped)
            | (Skipped, Success | Failed) => true,
            // a cleared task starts again from scratch
            (Success | Failed | UpstreamFailed | Skipped, None) => true,
            _ => false,
        };
        if allowed {
            Ok(next)
        } else {
            Err(TransitionError {
                what: "a task instance",
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

/// A state change the transition function does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot move from {from} to {to}")]
pub struct TransitionError {
    pub what: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

/// A state name that is not one of ours (read from storage or an API body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state `{0}`")]
pub struct StateParseError(pub String);

macro_rules! text_enum {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = StateParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::ALL
                    .into_iter()
                    .find(|state| state.as_str() == s)
                    .ok_or_else(|| StateParseError(s.to_string()))
            }
        }
    };
}

text_enum!(RunState);
text_enum!(TaskState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_transition_is_decided_by_the_table() {
        use TaskState::*;
        let allowed = [
            (None, Queued),
            (None, UpstreamFailed),
            (None, Skipped),
            (None, Running),
            (Queued, Running),
            (Queued, UpstreamFailed),
            (Queued, Skipped),
            (Queued, Failed),
            (Running, Success),
            (Running, Failed),
            (Running, UpForRetry),
            (UpForRetry, Queued),
            (UpForRetry, Failed),
            (UpForRetry, Skipped),
            (None, Success),
            (None, Failed),
            (Queued, Success),
            (UpForRetry, Success),
            (Success, Failed),
            (Success, Skipped),
            (Failed, Success),
            (Failed, Skipped),
            (UpstreamFailed, Success),
            (UpstreamFailed, Failed),
            (UpstreamFailed, Skipped),
            (Skipped, Success),
            (Skipped, Failed),
            (Success, None),
            (Failed, None),
            (UpstreamFailed, None),
            (Skipped, None),
        ];
        for from in TaskState::ALL {
            for to in TaskState::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(
                    from.transition(to).is_ok(),
                    expected,
                    "{from} -> {to} should be {}",
                    if expected { "allowed" } else { "refused" }
                );
            }
        }
    }

    #[test]
    fn a_refused_transition_names_both_states() {
        let err = TaskState::Success
            .transition(TaskState::Running)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a task instance cannot move from success to running"
        );
    }

    #[test]
    fn every_run_transition_is_decided_by_the_table() {
        use RunState::*;
        let allowed = [
            (Queued, Running),
            (Queued, Failed),
            (Running, Success),
            (Running, Failed),
            (Success, Queued),
            (Failed, Queued),
        ];
        for from in RunState::ALL {
            for to in RunState::ALL {
                assert_eq!(
                    from.transition(to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_refused_run_transition_names_both_states() {
        let err = RunState::Success.transition(RunState::Running).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a DagRun cannot move from success to running"
        );
    }

    #[test]
    fn states_round_trip_through_their_stored_names() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(state));
        }
        for state in RunState::ALL {
            assert_eq!(state.as_str().parse::<RunState>(), Ok(state));
        }
        assert!("bogus".parse::<TaskState>().is_err());
    }
}
