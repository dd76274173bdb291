//! Instants written as Airflow writes them: Python's `isoformat()` of an
//! aware UTC datetime (`2024-01-01T00:00:00+00:00`, microseconds only when
//! non-zero). Run ids, templates (`ts`) and the API all use this one form.

use chrono::{DateTime, SecondsFormat, SubsecRound, Timelike, Utc};

/// A std duration as a chrono one, saturating at chrono's maximum (a
/// duration from config or a DAG file can be longer than chrono allows).
pub fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

pub fn isoformat(t: DateTime<Utc>) -> String {
    let t = t.trunc_subsecs(6);
    let format = if t.nanosecond() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    t.to_rfc3339_opts(format, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn whole_seconds_and_microseconds_print_as_python_does() {
        let t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(isoformat(t), "2024-01-01T00:00:00+00:00");
        let t = t + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(isoformat(t), "2024-01-01T00:00:00.123456+00:00");
    }
}
