//! A run's state as `runs/get` reports it, read from the newer `status`
//! object when present and from the classic `state` object otherwise.
//! Pure data and parsing; no HTTP.

use serde::Deserialize;

/// Where a run is in its life cycle and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStatus {
    pub run_id: i64,
    pub run_page_url: Option<String>,
    /// `status.state` (QUEUED, PENDING, RUNNING, TERMINATING, TERMINATED, …)
    /// or else `state.life_cycle_state` (which adds SKIPPED, INTERNAL_ERROR).
    pub life_cycle_state: String,
    /// SUCCESS, FAILED, TIMEDOUT, CANCELED, …; set once the run ended.
    pub result_state: Option<String>,
    /// `status.termination_details.message` or `state.state_message`.
    pub state_message: String,
    /// `status.termination_details.code` (SUCCESS, USER_CANCELED, DRIVER_ERROR, …).
    pub termination_code: Option<String>,
    /// `status.termination_details.type` (SUCCESS, CLIENT_ERROR, INTERNAL_ERROR, CLOUD_FAILURE).
    pub termination_type: Option<String>,
}

impl RunStatus {
    /// The run will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.life_cycle_state.as_str(),
            "TERMINATED" | "SKIPPED" | "INTERNAL_ERROR"
        )
    }

    /// TERMINATED with result SUCCESS; everything else terminal is a failure.
    pub fn is_success(&self) -> bool {
        self.life_cycle_state == "TERMINATED" && self.result_state.as_deref() == Some("SUCCESS")
    }

    /// One line for logs and failure messages, e.g.
    /// `TERMINATED FAILED: Workload failed, see run output for details`.
    pub fn summary(&self) -> String {
        let mut line = self.life_cycle_state.clone();
        if let Some(result) = &self.result_state {
            line.push(' ');
            line.push_str(result);
        }
        if !self.state_message.is_empty() {
            line.push_str(": ");
            line.push_str(&self.state_message);
        }
        line
    }
}

#[derive(Debug, Deserialize)]
struct Reply {
    run_id: i64,
    run_page_url: Option<String>,
    state: Option<StateReply>,
    status: Option<StatusReply>,
}

#[derive(Debug, Deserialize)]
struct StateReply {
    life_cycle_state: Option<String>,
    result_state: Option<String>,
    state_message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StatusReply {
    state: Option<String>,
    termination_details: Option<TerminationDetails>,
}

#[derive(Debug, Deserialize)]
struct TerminationDetails {
    code: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

/// Reads a `runs/get` body; `Err` names what is missing.
pub(crate) fn parse(body: &[u8]) -> Result<RunStatus, String> {
    let reply: Reply = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let state = reply.state;
    let status = reply.status;
    let details = status.as_ref().and_then(|s| s.termination_details.as_ref());

    let life_cycle_state = status
        .as_ref()
        .and_then(|s| s.state.clone())
        .or_else(|| state.as_ref().and_then(|s| s.life_cycle_state.clone()))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "neither status.state nor state.life_cycle_state is set".to_owned())?;
    let termination_code = details.and_then(|d| d.code.clone());
    let result_state = state
        .as_ref()
        .and_then(|s| s.result_state.clone())
        .or_else(|| {
            (life_cycle_state == "TERMINATED")
                .then(|| termination_code.as_deref().map(result_of_code))
                .flatten()
        });
    let state_message = details
        .and_then(|d| d.message.clone())
        .filter(|m| !m.is_empty())
        .or_else(|| state.as_ref().and_then(|s| s.state_message.clone()))
        .unwrap_or_default();

    Ok(RunStatus {
        run_id: reply.run_id,
        run_page_url: reply.run_page_url,
        life_cycle_state,
        result_state,
        state_message,
        termination_code,
        termination_type: details.and_then(|d| d.kind.clone()),
    })
}

/// The classic result state for a termination code, when only `status` came.
fn result_of_code(code: &str) -> String {
    match code {
        "SUCCESS" => "SUCCESS",
        "SUCCESS_WITH_FAILURES" => "SUCCESS_WITH_FAILURES",
        "USER_CANCELED" | "CANCELED" => "CANCELED",
        "SKIPPED" => "SKIPPED",
        _ => "FAILED",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_object_wins_over_the_classic_state() {
        let status = parse(
            br#"{"run_id": 7000000001, "run_page_url": "https://h/#job/0/run/7000000001",
                "state": {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "classic"},
                "status": {"state": "TERMINATED", "termination_details":
                    {"code": "DRIVER_ERROR", "type": "INTERNAL_ERROR", "message": "Driver went away"}}}"#,
        )
        .unwrap();
        assert_eq!(status.run_id, 7_000_000_001);
        assert_eq!(status.life_cycle_state, "TERMINATED");
        assert_eq!(status.result_state.as_deref(), Some("FAILED"));
        assert_eq!(status.state_message, "Driver went away");
        assert_eq!(status.termination_code.as_deref(), Some("DRIVER_ERROR"));
        assert!(status.is_terminal());
        assert!(!status.is_success());
        assert_eq!(status.summary(), "TERMINATED FAILED: Driver went away");
    }

    #[test]
    fn the_classic_state_is_enough() {
        let status = parse(
            br#"{"run_id": 5, "state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}}"#,
        )
        .unwrap();
        assert!(status.is_success());
        assert_eq!(status.run_page_url, None);
        assert_eq!(status.summary(), "TERMINATED SUCCESS");
    }

    #[test]
    fn running_runs_are_not_terminal() {
        for state in [
            "QUEUED",
            "PENDING",
            "RUNNING",
            "TERMINATING",
            "BLOCKED",
            "WAITING",
        ] {
            let body = format!(r#"{{"run_id": 1, "status": {{"state": "{state}"}}}}"#);
            let status = parse(body.as_bytes()).unwrap();
            assert!(!status.is_terminal(), "{state}");
            assert_eq!(status.result_state, None);
        }
    }

    #[test]
    fn skipped_and_internal_error_are_terminal_failures() {
        for state in ["SKIPPED", "INTERNAL_ERROR"] {
            let body = format!(r#"{{"run_id": 1, "state": {{"life_cycle_state": "{state}"}}}}"#);
            let status = parse(body.as_bytes()).unwrap();
            assert!(status.is_terminal() && !status.is_success(), "{state}");
        }
    }

    #[test]
    fn a_termination_code_alone_gives_the_result() {
        let status = parse(
            br#"{"run_id": 1, "status": {"state": "TERMINATED", "termination_details": {"code": "USER_CANCELED", "type": "SUCCESS", "message": "Run cancelled"}}}"#,
        )
        .unwrap();
        assert_eq!(status.result_state.as_deref(), Some("CANCELED"));
        assert!(!status.is_success());
    }

    #[test]
    fn a_reply_without_any_state_is_refused() {
        assert!(parse(br#"{"run_id": 1}"#).is_err());
    }
}
