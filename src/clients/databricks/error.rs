//! What can go wrong talking to Databricks, in words a person can act on.
//! No message ever carries a token or client secret: only where they came from.

/// An error of one Jobs API (or OAuth token) call, after the client's retries.
#[derive(Debug, thiserror::Error)]
pub enum DatabricksError {
    /// HTTP 401 or 403: the token (or OAuth client) is wrong, expired or lacks
    /// permission. `credential` is e.g. "the token from DATABRICKS_TOKEN".
    #[error("Databricks rejected {credential} (HTTP {status}: {message})")]
    Rejected {
        credential: String,
        status: u16,
        message: String,
    },

    /// Any other non-2xx reply; `error_code` and `message` are Databricks'
    /// own (e.g. `INVALID_PARAMETER_VALUE`), empty when the body had none.
    #[error("{operation} failed: Databricks answered HTTP {status}{}: {message}", code_part(.error_code))]
    Api {
        operation: String,
        status: u16,
        error_code: String,
        message: String,
    },

    /// No reply at all (refused, reset, timed out), after every retry.
    #[error("{operation} failed: could not reach Databricks at {host} after {attempts} attempts")]
    Unreachable {
        operation: String,
        host: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    #[error("{operation} failed: the Databricks host {host:?} does not make a valid URL")]
    InvalidHost {
        operation: String,
        host: String,
        #[source]
        source: reqwest::Error,
    },

    /// A 2xx reply we could not understand.
    #[error("{operation} failed: could not read Databricks' reply: {reason}")]
    BadReply { operation: String, reason: String },
}

fn code_part(error_code: &str) -> String {
    if error_code.is_empty() {
        String::new()
    } else {
        format!(" {error_code}")
    }
}

impl DatabricksError {
    /// Whether the same call may succeed later: no reply, 429 or 5xx.
    /// Rejected credentials and other 4xx answers are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Api { status, .. } => *status == 429 || *status >= 500,
            Self::Rejected { .. } | Self::InvalidHost { .. } | Self::BadReply { .. } => false,
        }
    }

    /// The HTTP status of the reply, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } | Self::Api { status, .. } => Some(*status),
            Self::Unreachable { .. } | Self::InvalidHost { .. } | Self::BadReply { .. } => None,
        }
    }

    /// Databricks' `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`), when given.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            Self::Api { error_code, .. } if !error_code.is_empty() => Some(error_code),
            _ => None,
        }
    }
}
