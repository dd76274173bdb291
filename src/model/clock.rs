//! The engine's notion of "now" and of waiting, injectable so retry and
//! scheduling logic is tested in virtual time, without real sleeps.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
    /// Completes at `at` (at once if it has passed).
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep;
}

/// Wall-clock time and tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Virtual time for tests: it stands still until someone sleeps, then jumps
/// straight to the deadline. A run with a 30-minute retry delay finishes in
/// milliseconds, and recorded times differ by exactly the delays.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl VirtualClock {
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        VirtualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves time forward by `by` (never backwards).
    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.now.lock() {
            *now += by.max(chrono::Duration::zero());
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .map(|now| *now)
            .unwrap_or_else(|poisoned| *poisoned.into_inner())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        if let Ok(mut now) = self.now.lock()
            && at > *now
        {
            *now = at;
        }
        Box::pin(tokio::task::yield_now())
    }
}
