//! ISO 8601 instants as the API reads them, with Airflow's two rules: a
//! request body's date-time needs a time of day and an offset (marshmallow's
//! `DateTime` with `validate_istimezone`); a query filter may be a bare date
//! or naive, read as UTC (`format_datetime`, pendulum). Either way the
//! instant must exist in Python's calendar: years 1-9999, no leap second
//! (`23:59:60`), no month 13 or day 32. Depends on nothing in the crate.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Why a text is not an instant; `Range` carries Python's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// Not `YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH[:MM]]`.
    Syntax,
    /// A field out of range (`month must be in 1..12`).
    Range(&'static str),
    /// A date without a time of day where a date-time is required.
    DateOnly,
    /// No offset where one is required.
    Naive,
}

impl std::fmt::Display for TimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeError::Syntax => f.write_str("not an ISO 8601 date-time"),
            TimeError::Range(why) => f.write_str(why),
            TimeError::DateOnly => f.write_str("a date without a time of day"),
            TimeError::Naive => f.write_str("no timezone offset (naive datetimes are disallowed)"),
        }
    }
}

/// What the text says, before the rules of its use apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    local: NaiveDateTime,
    offset: Option<FixedOffset>,
    has_time: bool,
}

impl Parsed {
    fn to_utc(self, offset: FixedOffset) -> Result<DateTime<Utc>, TimeError> {
        let utc = self
            .local
            .checked_sub_offset(offset)
            .ok_or(TimeError::Range("date value out of range"))?;
        if !(1..=9999).contains(&chrono::Datelike::year(&utc)) {
            return Err(TimeError::Range("date value out of range"));
        }
        Ok(utc.and_utc())
    }
}

/// A date-time in a request body: `2024-01-01T00:00:00+00:00`, `…Z`, with
/// up to 12 fraction digits (nanoseconds kept); a space may stand for `T`.
pub fn body_instant(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let parsed = parse(text)?;
    if !parsed.has_time {
        return Err(TimeError::DateOnly);
    }
    let offset = parsed.offset.ok_or(TimeError::Naive)?;
    parsed.to_utc(offset)
}

/// A date-time filter in a query string: a body's forms, a bare date
/// (midnight) or no offset (UTC). Surrounding spaces are ignored, and a
/// space before the offset is read as the `+` an unencoded query turned
/// into one, as Airflow's `format_datetime` does.
pub fn query_instant(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let text = text.trim();
    let parsed = match parse(text) {
        Ok(parsed) => parsed,
        Err(err) => match text.rfind(' ') {
            Some(at) => {
                let plus = format!("{}+{}", &text[..at], &text[at + 1..]);
                parse(&plus).map_err(|_| err)?
            }
            None => return Err(err),
        },
    };
    parsed.to_utc(parsed.offset.unwrap_or_else(utc))
}

fn utc() -> FixedOffset {
    chrono::Offset::fix(&Utc)
}

/// Reads `text` as fixed-width ISO 8601, checking each field's range in
/// Python's order and words.
fn parse(text: &str) -> Result<Parsed, TimeError> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = at.digits(4)?;
    at.expect(b'-')?;
    let month = at.digits(2)?;
    at.expect(b'-')?;
    let day = at.digits(2)?;
    if year == 0 {
        return Err(TimeError::Range("year 0 is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err(TimeError::Range("month must be in 1..12"));
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or(TimeError::Range("day is out of range for month"))?;
    if at.done() {
        return Ok(Parsed {
            local: date.and_time(NaiveTime::MIN),
            offset: None,
            has_time: false,
        });
    }
    if !matches!(at.next(), Some(b'T' | b't' | b' ')) {
        return Err(TimeError::Syntax);
    }
    let hour = at.digits(2)?;
    at.expect(b':')?;
    let minute = at.digits(2)?;
    let mut second = 0;
    let mut nano = 0;
    if at.peek() == Some(b':') {
        at.next();
        second = at.digits(2)?;
        if matches!(at.peek(), Some(b'.' | b',')) {
            at.next();
            nano = at.fraction()?;
        }
    }
    if hour > 23 {
        return Err(TimeError::Range("hour must be in 0..23"));
    }
    if minute > 59 {
        return Err(TimeError::Range("minute must be in 0..59"));
    }
    if second > 59 {
        // 60 included: Python's datetime has no leap seconds
        return Err(TimeError::Range("second must be in 0..59"));
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano).ok_or(TimeError::Syntax)?;
    let offset = match at.next() {
        None => None,
        Some(b'Z' | b'z') => Some(utc()),
        Some(sign @ (b'+' | b'-')) => {
            let hours = at.digits(2)?;
            if at.peek() == Some(b':') {
                at.next();
            }
            let minutes = if at.done() { 0 } else { at.digits(2)? };
            if hours > 23 || minutes > 59 {
                return Err(TimeError::Range(
                    "offset must be strictly between -24:00 and +24:00",
                ));
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            let seconds = if sign == b'-' { -seconds } else { seconds };
            Some(FixedOffset::east_opt(seconds).ok_or(TimeError::Syntax)?)
        }
        Some(_) => return Err(TimeError::Syntax),
    };
    if !at.done() {
        return Err(TimeError::Syntax);
    }
    Ok(Parsed {
        local: date.and_time(time),
        offset,
        has_time: true,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek();
        self.pos += 1;
        byte
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn expect(&mut self, byte: u8) -> Result<(), TimeError> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            Err(TimeError::Syntax)
        }
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Result<u32, TimeError> {
        let mut value = 0;
        for _ in 0..n {
            match self.next() {
                Some(b @ b'0'..=b'9') => value = value * 10 + u32::from(b - b'0'),
                _ => return Err(TimeError::Syntax),
            }
        }
        Ok(value)
    }

    /// 1 to 12 fraction digits (marshmallow's limit) as nanoseconds.
    fn fraction(&mut self) -> Result<u32, TimeError> {
        let mut nano = 0;
        let mut count = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            self.pos += 1;
            if count < 9 {
                nano = nano * 10 + u32::from(b - b'0');
            }
            count += 1;
        }
        if count == 0 || count > 12 {
            return Err(TimeError::Syntax);
        }
        for _ in count..9 {
            nano *= 10;
        }
        Ok(nano)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn jan1() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn a_body_instant_needs_a_time_and_an_offset() {
        assert_eq!(body_instant("2024-01-01T00:00:00Z"), Ok(jan1()));
        assert_eq!(body_instant("2024-01-01T01:00:00+01:00"), Ok(jan1()));
        assert_eq!(body_instant("2024-01-01 01:00+0100"), Ok(jan1()));
        assert_eq!(body_instant("2023-12-31T23:00:00-01"), Ok(jan1()));
        assert_eq!(
            body_instant("2024-01-01T00:00:00.123456789123Z"),
            Ok(jan1() + chrono::Duration::nanoseconds(123_456_789))
        );
        assert_eq!(body_instant("2024-01-01T00:00:00"), Err(TimeError::Naive));
        assert_eq!(body_instant("2024-01-01"), Err(TimeError::DateOnly));
        assert_eq!(body_instant("yesterday"), Err(TimeError::Syntax));
        assert_eq!(body_instant(""), Err(TimeError::Syntax));
        assert_eq!(
            body_instant("2024-01-01T00:00:00Z "),
            Err(TimeError::Syntax)
        );
        assert_eq!(
            body_instant("2024-01-01T00:00:00.Z"),
            Err(TimeError::Syntax)
        );
        assert_eq!(
            body_instant("+2024-01-01T00:00:00Z"),
            Err(TimeError::Syntax)
        );
        assert_eq!(body_instant("20240101T000000Z"), Err(TimeError::Syntax));
    }

    #[test]
    fn instants_python_cannot_hold_are_out_of_range() {
        let range = |why| Err(TimeError::Range(why));
        assert_eq!(
            body_instant("2016-12-31T23:59:60Z"),
            range("second must be in 0..59")
        );
        assert_eq!(
            body_instant("2024-13-01T00:00:00Z"),
            range("month must be in 1..12")
        );
        assert_eq!(
            body_instant("2024-00-01T00:00:00Z"),
            range("month must be in 1..12")
        );
        assert_eq!(
            body_instant("2024-01-32T00:00:00Z"),
            range("day is out of range for month")
        );
        assert_eq!(
            body_instant("2023-02-29T00:00:00Z"),
            range("day is out of range for month")
        );
        assert!(body_instant("2024-02-29T00:00:00Z").is_ok());
        assert_eq!(
            body_instant("2024-01-01T24:00:00Z"),
            range("hour must be in 0..23")
        );
        assert_eq!(
            body_instant("2024-01-01T00:60:00Z"),
            range("minute must be in 0..59")
        );
        assert_eq!(
            body_instant("0000-01-01T00:00:00Z"),
            range("year 0 is out of range")
        );
        assert_eq!(
            body_instant("0001-01-01T00:00:00+01:00"),
            range("date value out of range")
        );
        assert_eq!(
            body_instant("9999-12-31T23:00:00-01:00"),
            range("date value out of range")
        );
        assert_eq!(
            body_instant("2024-01-01T00:00:00+24:00"),
            range("offset must be strictly between -24:00 and +24:00")
        );
    }

    #[test]
    fn a_query_instant_may_be_a_date_naive_or_have_its_plus_decoded_to_a_space() {
        assert_eq!(query_instant("2024-01-01"), Ok(jan1()));
        assert_eq!(query_instant(" 2024-01-01T00:00:00 "), Ok(jan1()));
        assert_eq!(query_instant("2024-01-01 00:00:00"), Ok(jan1()));
        assert_eq!(query_instant("2024-01-01T01:00:00 01:00"), Ok(jan1()));
        assert_eq!(query_instant("2024-01-01 01:00:00 01:00"), Ok(jan1()));
        assert_eq!(query_instant("garbage"), Err(TimeError::Syntax));
        assert_eq!(
            query_instant("2024-06-30T23:59:60 00:00"),
            Err(TimeError::Range("second must be in 0..59"))
        );
    }
}
