//! Durations as people write them in DAG files: `90s`, `2m`, `1h30m`, `1d`.

use std::time::Duration;

/// Parses `90s`, `2m`, `1h30m`, `1h 30m`, `500ms`, `1d`. A bare number is
/// refused: the unit is what makes `retry_delay: 300` unambiguous.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
        return Err(format!(
            "duration `{text}` has no unit; write it as {trimmed}s, {trimmed}m or {trimmed}h"
        ));
    }
    humantime::parse_duration(trimmed).map_err(|err| {
        format!("invalid duration `{text}` ({err}); write it like 90s, 2m, 1h30m or 1d")
    })
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
        assert_eq!(
            parse("300").unwrap_err(),
            "duration `300` has no unit; write it as 300s, 300m or 300h"
        );
        assert!(
            parse("2 fortnights")
                .unwrap_err()
                .contains("write it like 90s")
        );
    }
}
