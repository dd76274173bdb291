//! Durations as people write them in DAG files: `90s`, `2m`, `1h30m`, `1d`.

use std::time::Duration;

/// Why a duration was refused; `hint` says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("duration `{0}` has no unit")]
    NoUnit(String),
    #[error("invalid duration `{0}`")]
    Invalid(String),
}

impl DurationError {
    pub fn hint(&self) -> String {
        match self {
            Self::NoUnit(n) => format!("write it as {n}s, {n}m or {n}h"),
            Self::Invalid(_) => "write it like 90s, 2m, 1h30m or 1d".to_string(),
        }
    }
}

/// Parses `90s`, `2m`, `1h30m`, `1h 30m`, `500ms`, `1d`. A bare number is
/// refused: the unit is what makes `retry_delay: 300` unambiguous.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
        return Err(DurationError::NoUnit(trimmed.to_string()));
    }
    humantime::parse_duration(trimmed).map_err(|_| DurationError::Invalid(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_write_durations_with_units() {
        let cases = [
            ("90s", 90),
            ("2m", 120),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("1d", 86_400),
            ("30m", 1800),
        ];
        for (text, seconds) in cases {
            assert_eq!(parse(text), Ok(Duration::from_secs(seconds)), "{text}");
        }
    }

    #[test]
    fn a_bare_number_or_nonsense_is_refused_with_the_fix() {
        let no_unit = parse("300").unwrap_err();
        assert_eq!(no_unit.to_string(), "duration `300` has no unit");
        assert_eq!(no_unit.hint(), "write it as 300s, 300m or 300h");
        let nonsense = parse("2 fortnights").unwrap_err();
        assert_eq!(nonsense.to_string(), "invalid duration `2 fortnights`");
        assert_eq!(nonsense.hint(), "write it like 90s, 2m, 1h30m or 1d");
    }
}
