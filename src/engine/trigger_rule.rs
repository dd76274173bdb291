//! Airflow's trigger rules as one pure function: given a task's rule and the
//! states of its upstream tasks, run it, skip it, fail it upstream, or wait.

use crate::dag::TriggerRule;
use crate::model::TaskState;

/// What the engine does with a task whose upstream states are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Wait,
    Run,
    Skip,
    UpstreamFailed,
}

/// Counts of a task's upstream states.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    pub total: usize,
    pub success: usize,
    pub skipped: usize,
    pub failed: usize,
    pub upstream_failed: usize,
}

impl Upstream {
    pub fn from_states(states: impl IntoIterator<Item = TaskState>) -> Self {
        let mut counts = Upstream::default();
        for state in states {
            counts.total += 1;
            match state {
                TaskState::Success => counts.success += 1,
                TaskState::Skipped => counts.skipped += 1,
                TaskState::Failed => counts.failed += 1,
                TaskState::UpstreamFailed => counts.upstream_failed += 1,
                _ => {}
            }
        }
        counts
    }

    fn done(&self) -> usize {
        self.success + self.skipped + self.failed + self.upstream_failed
    }

    fn all_done(&self) -> bool {
        self.done() == self.total
    }

    fn failures(&self) -> usize {
        self.failed + self.upstream_failed
    }
}

/// Airflow 2's `TriggerRuleDep` with `flag_upstream_failed`: decisions that
/// are already certain are taken before every upstream task has finished
/// (one failure makes `all_success` upstream_failed at once).
pub fn decide(rule: TriggerRule, up: Upstream) -> Decision {
    if up.total == 0 {
        return Decision::Run;
    }
    match rule {
        TriggerRule::AllSuccess => {
            if up.failures() > 0 {
                Decision::UpstreamFailed
            } else if up.skipped > 0 {
                Decision::Skip
            } else if up.success == up.total {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::AllFailed => {
            if up.success > 0 || up.skipped > 0 {
                Decision::Skip
            } else if up.all_done() {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::AllDone => {
            if up.all_done() {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
        TriggerRule::OneSuccess => {
            if up.success > 0 {
                Decision::Run
            } else if !up.all_done() {
                Decision::Wait
            } else if up.skipped == up.total {
                Decision::Skip
            } else {
                Decision::UpstreamFailed
            }
        }
        TriggerRule::OneFailed => {
            if up.failures() > 0 {
                Decision::Run
            } else if up.all_done() {
                Decision::Skip
            } else {
                Decision::Wait
            }
        }
        TriggerRule::NoneFailed => {
            if up.failures() > 0 {
                Decision::UpstreamFailed
            } else if up.all_done() {
                Decision::Run
            } else {
                Decision::Wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use TaskState::{Failed as F, Running as R, Skipped as S, Success as OK, UpstreamFailed as UF};
    use TriggerRule::*;

    #[test]
    fn each_rule_decides_as_airflow_does() {
        let cases: &[(TriggerRule, &[TaskState], Decision)] = &[
            (AllSuccess, &[OK, OK], Run),
            (AllSuccess, &[OK, R], Wait),
            (AllSuccess, &[F, R], UpstreamFailed),
            (AllSuccess, &[UF, OK], UpstreamFailed),
            (AllSuccess, &[S, OK], Skip),
            (AllFailed, &[F, UF], Run),
            (AllFailed, &[F, R], Wait),
            (AllFailed, &[F, OK], Skip),
            (AllFailed, &[S, F], Skip),
            (AllDone, &[F, OK, S, UF], Run),
            (AllDone, &[F, R], Wait),
            (OneSuccess, &[OK, R], Run),
            (OneSuccess, &[F, R], Wait),
            (OneSuccess, &[F, S], UpstreamFailed),
            (OneSuccess, &[S, S], Skip),
            (OneFailed, &[F, R], Run),
            (OneFailed, &[UF, R], Run),
            (OneFailed, &[OK, R], Wait),
            (OneFailed, &[OK, S], Skip),
            (NoneFailed, &[OK, S], Run),
            (NoneFailed, &[OK, R], Wait),
            (NoneFailed, &[F, R], UpstreamFailed),
            (NoneFailed, &[UF, OK], UpstreamFailed),
        ];
        for (rule, states, expected) in cases {
            let decision = decide(*rule, Upstream::from_states(states.iter().copied()));
            assert_eq!(decision, *expected, "{rule:?} with {states:?}");
        }
    }

    #[test]
    fn a_task_without_upstream_always_runs() {
        for rule in [
            AllSuccess, AllFailed, AllDone, OneSuccess, OneFailed, NoneFailed,
        ] {
            assert_eq!(decide(rule, Upstream::default()), Run);
        }
    }
}
