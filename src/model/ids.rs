//! Newtype ids, parsed once at the edge so a bare `String` never crosses a module boundary.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A DAG's id: the `dag_id` key, or the file name without `.yaml`.
    DagId
);
string_id!(
    /// A task's id, unique within its DAG.
    TaskId
);
string_id!(
    /// A DagRun's id, unique within its DAG (`manual__…`, `scheduled__…`).
    RunId
);

impl RunId {
    /// Whether `text` may name a run people create: Airflow's `[scheduler]
    /// allowed_run_id_pattern` (`^[A-Za-z0-9_.~:+-]+$`) within its
    /// 250-character column.
    pub fn is_allowed(text: &str) -> bool {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.~:+-".contains(c);
        !text.is_empty() && text.len() <= 250 && text.chars().all(allowed)
    }
}
