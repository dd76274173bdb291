//! When a ported DAG runs: schedule, timetable, timezone, start/end dates and
//! catchup, with Airflow 2's or 3's defaults, and the live environment's
//! last run moving the start so the cut-over has no gap and no double run.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::model::{Args, DagDecl};
use super::reader::Note;
use super::value::{PyDateTime, Value, Zone};
use crate::dag::timetable::{CronSchedule, Timetable, TimetableKind};
use crate::port::{AirflowVersion, LiveState};

/// The timing keys of a ported DAG, with the comments that explain them.
#[derive(Debug, Clone)]
pub struct Timing {
    pub schedule: Option<String>,
    pub schedule_comment: Option<String>,
    pub kind: TimetableKind,
    pub kind_comment: Option<String>,
    pub timezone: Tz,
    pub timezone_comment: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub start_comment: Option<String>,
    /// Write the start with its UTC offset (a live cut-over point).
    pub start_exact: bool,
    pub end: Option<DateTime<Utc>>,
    pub catchup: bool,
    pub catchup_comment: Option<String>,
    pub paused: Option<bool>,
    pub paused_comment: Option<String>,
}

/// The schedule as the file gives it.
enum Schedule {
    Cron(String, Option<TimetableKind>, Option<Zone>),
    Delta(i64, String),
    Null,
    Unsupported(String),
}

pub fn timing(
    dag: &DagDecl,
    default_args: Option<&Value>,
    version: AirflowVersion,
    live: Option<&LiveState>,
    notes: &mut Vec<Note>,
) -> Timing {
    let args = &dag.args;
    let line_of = |name: &str| args.get(name).map_or(dag.line, |k| k.line);
    let mut note = |line: u32, what: &str, why: String| {
        notes.push(Note {
            line,
            what: what.to_string(),
            why,
        })
    };

    // start_date: the DAG's own, else default_args'
    let default_start = default_args.and_then(|d| d.get("start_date"));
    let start_value = args.get("start_date").map(|k| &k.value).or(default_start);
    let start_line = if args.get("start_date").is_some() {
        line_of("start_date")
    } else {
        dag.line
    };
    let start_dt = match start_value {
        None | Some(Value::None) => None,
        Some(Value::DateTime(d)) => Some(d.clone()),
        Some(Value::Str(text)) => parse_iso(text),
        Some(other) => {
            note(
                start_line,
                "start_date",
                format!(
                    "{}; airless needs a fixed date, so the DAG runs only when triggered until you set `start_date` and restore `schedule`",
                    describe_unknown(other)
                ),
            );
            None
        }
    };
    let start_unknown =
        matches!(start_value, Some(v) if !matches!(v, Value::None) && start_dt.is_none());

    // the DAG's timezone: the start date's when it has one (Airflow's rule)
    let mut zone = start_dt.as_ref().and_then(|d| d.zone.clone());
    let mut timezone_comment = None;
    let mut schedule = schedule_of(args, version, dag.line);
    if let Schedule::Cron(_, _, Some(z)) = &schedule {
        zone = Some(z.clone());
    }
    let mut tz = match &zone {
        None => Tz::UTC,
        Some(z) => match tz_of(z) {
            Ok(tz) => tz,
            Err(why) => {
                note(start_line, "timezone", why.clone());
                timezone_comment = Some(why);
                Tz::UTC
            }
        },
    };
    let to_utc = |d: &PyDateTime| -> Option<DateTime<Utc>> {
        match &d.zone {
            None => Some(d.naive.and_utc()),
            Some(z) => {
                let tz = tz_of(z).ok()?;
                match tz.from_local_datetime(&d.naive) {
                    LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
                    LocalResult::None => None,
                }
            }
        }
    };
    let mut start = start_dt.as_ref().and_then(to_utc);
    let end = match args
        .get("end_date")
        .map(|k| &k.value)
        .or(default_args.and_then(|d| d.get("end_date")))
    {
        None | Some(Value::None) => None,
        Some(Value::DateTime(d)) => to_utc(d),
        Some(other) => {
            note(
                line_of("end_date"),
                "end_date",
                format!("{}; not carried over", describe_unknown(other)),
            );
            None
        }
    };

    // catchup
    let (catchup, mut catchup_comment) = match args.get("catchup") {
        Some(k) => match k.value {
            Value::Bool(b) => (b, None),
            ref other => {
                let default = version == AirflowVersion::V2;
                note(
                    k.line,
                    "catchup",
                    format!(
                        "{}; the {} default ({default}) is used",
                        describe_unknown(other),
                        version.label()
                    ),
                );
                (default, Some(format!("{} default", version.label())))
            }
        },
        None => match version {
            AirflowVersion::V2 => (
                true,
                Some("Airflow 2 default (catchup_by_default)".to_string()),
            ),
            AirflowVersion::V3 => (
                false,
                Some("Airflow 3 default (catchup_by_default)".to_string()),
            ),
        },
    };

    let default_kind = match version {
        AirflowVersion::V2 => TimetableKind::Interval,
        AirflowVersion::V3 => TimetableKind::Trigger,
    };
    let mut kind = default_kind;
    let mut kind_comment = None;
    let mut schedule_comment = None;
    let schedule_line = ["schedule", "schedule_interval", "timetable"]
        .iter()
        .find_map(|k| args.get(k).map(|k| k.line))
        .unwrap_or(dag.line);

    let mut cron: Option<String> = None;
    if let Schedule::Delta(micros, text) = &schedule {
        match start.and_then(|s| delta_cron(*micros, s)) {
            Some(expr) => {
                if tz != Tz::UTC {
                    timezone_comment = Some(format!(
                        "Airflow adds timedelta schedules in UTC, whatever the start date's zone ({})",
                        tz.name()
                    ));
                    tz = Tz::UTC;
                }
                let explicit = ["schedule", "schedule_interval"]
                    .iter()
                    .any(|k| args.get(k).is_some());
                let origin = if explicit {
                    format!("timedelta of {text}")
                } else {
                    "Airflow 2's default schedule, timedelta(days=1)".to_string()
                };
                schedule_comment = Some(format!("{origin}, counted from start_date"));
                if let Some(s) = start
                    && !catchup
                    && s.timestamp_micros() % micros != 0
                {
                    note(
                        schedule_line,
                        format!("schedule timedelta of {text}").as_str(),
                        format!(
                            "became cron `{expr}` on start_date's grid; without catchup Airflow would move its runs to multiples of {text} since 1970-01-01 UTC"
                        ),
                    );
                }
                if version == AirflowVersion::V3 {
                    kind_comment = Some("Airflow 3 runs a timedelta at the end of each period (DeltaTriggerTimetable)".to_string());
                }
                cron = Some(expr);
            }
            None => {
                let why = if start.is_none() {
                    "it counts from start_date, which is not known statically".to_string()
                } else {
                    "no cron expression fires at the same times (it must divide an hour or a day evenly, or be a whole week, and start on a whole minute)".to_string()
                };
                if !start_unknown {
                    note(
                        schedule_line,
                        format!("schedule timedelta of {text}").as_str(),
                        format!(
                            "{why}; the DAG runs only when triggered until you set a cron `schedule`"
                        ),
                    );
                }
                schedule_comment = Some(format!("was a timedelta of {text}; see the report"));
            }
        }
    }
    match std::mem::replace(&mut schedule, Schedule::Null) {
        Schedule::Cron(expr, forced, _) => match CronSchedule::parse(&expr) {
            Ok(_) => {
                if let Some(forced) = forced {
                    kind = forced;
                }
                cron = Some(expr);
            }
            Err(err) => {
                note(
                    schedule_line,
                    format!("schedule `{expr}`").as_str(),
                    format!(
                        "{err}; the DAG runs only when triggered until you write a valid 5-field cron"
                    ),
                );
                schedule_comment = Some(format!(
                    "was `{expr}`, which airless cannot schedule; see the report"
                ));
            }
        },
        Schedule::Unsupported(why) => {
            note(
                schedule_line,
                "schedule",
                format!("{why}; the DAG runs only when triggered"),
            );
            schedule_comment = Some("see the report".to_string());
        }
        Schedule::Delta(..) | Schedule::Null => {}
    }
    if cron.is_some() && start.is_none() {
        if !start_unknown {
            note(
                dag.line,
                "start_date",
                "a scheduled DAG without a start_date (Airflow refuses it); the DAG runs only when triggered until you set one".to_string(),
            );
        }
        schedule_comment = Some(format!(
            "was {:?}; restore it once start_date is set",
            cron.as_deref().unwrap_or_default()
        ));
        cron = None;
    }
    if cron.is_some() && kind != default_kind && kind_comment.is_none() {
        kind_comment = Some("the file's timetable".to_string());
    }
    if cron.is_none() {
        catchup_comment = None;
    }

    let mut timing = Timing {
        schedule: cron,
        schedule_comment,
        kind,
        kind_comment,
        timezone: tz,
        timezone_comment,
        start,
        start_comment: None,
        start_exact: false,
        end,
        catchup,
        catchup_comment,
        paused: None,
        paused_comment: None,
    };
    if let Some(live) = live {
        apply_live(&mut timing, live, dag.line, notes);
    }
    if let (Some(s), Some(e)) = (timing.start, timing.end)
        && e < s
    {
        notes.push(Note::new(
            dag.line,
            "end_date".to_string(),
            "before start_date; not carried over".to_string(),
        ));
        timing.end = None;
    }
    let _ = &mut start;
    timing
}

/// The schedule argument, or the version's default.
fn schedule_of(args: &Args, version: AirflowVersion, _line: u32) -> Schedule {
    let given = ["schedule", "schedule_interval", "timetable"]
        .iter()
        .find_map(|k| args.get(k));
    let Some(given) = given else {
        return match version {
            AirflowVersion::V2 => Schedule::Delta(86_400_000_000, "1d".to_string()),
            AirflowVersion::V3 => Schedule::Null,
        };
    };
    match &given.value {
        Value::None => Schedule::Null,
        Value::Str(s) if s.trim() == "@once" => Schedule::Unsupported(
            "`@once` (one run at start_date) has no airless schedule; trigger that run by hand"
                .to_string(),
        ),
        Value::Str(s) if s.trim() == "@continuous" => Schedule::Unsupported(
            "`@continuous` (a new run as soon as one ends) has no airless schedule".to_string(),
        ),
        Value::Str(s) => Schedule::Cron(s.trim().to_string(), None, None),
        Value::TimeDelta(d) if d.micros > 0 => Schedule::Delta(d.micros, d.text.clone()),
        Value::Timetable(t) => {
            let Value::Str(expr) = &t.expr else {
                return Schedule::Unsupported(format!(
                    "{} with {}",
                    t.class,
                    describe_unknown(&t.expr)
                ));
            };
            let kind = if t.class == "CronTriggerTimetable" {
                TimetableKind::Trigger
            } else {
                TimetableKind::Interval
            };
            if t.interval.is_some() {
                return Schedule::Unsupported(format!(
                    "{} with an `interval` (a data interval before each tick) has no airless timetable",
                    t.class
                ));
            }
            Schedule::Cron(expr.trim().to_string(), Some(kind), t.zone.clone())
        }
        Value::List(_) => Schedule::Unsupported(
            "dataset (asset) scheduling has no airless equivalent".to_string(),
        ),
        Value::Symbol(path) if path.contains("Dataset") || path.contains("Asset") => {
            Schedule::Unsupported(
                "dataset (asset) scheduling has no airless equivalent".to_string(),
            )
        }
        other => Schedule::Unsupported(format!(
            "{} is not a schedule airless can read",
            describe_unknown(other)
        )),
    }
}

fn describe_unknown(value: &Value) -> String {
    match value {
        Value::Unknown(why) => why.clone(),
        other => format!("it is {}", other.describe()),
    }
}

/// An IANA zone for a tzinfo; fixed whole-hour offsets become `Etc/GMT±N`.
fn tz_of(zone: &Zone) -> Result<Tz, String> {
    match zone {
        Zone::Named(name) => {
            let name = if name.eq_ignore_ascii_case("utc") {
                "UTC"
            } else {
                name.as_str()
            };
            Tz::from_str(name).map_err(|_| format!("unknown timezone `{name}`; UTC is used"))
        }
        Zone::Fixed(0) => Ok(Tz::UTC),
        Zone::Fixed(seconds) if seconds % 3600 == 0 && seconds.abs() <= 14 * 3600 => {
            // Etc/GMT+N is N hours *behind* UTC
            let hours = -seconds / 3600;
            let name = if hours > 0 {
                format!("Etc/GMT+{hours}")
            } else {
                format!("Etc/GMT{hours}")
            };
            Tz::from_str(&name)
                .map_err(|_| format!("fixed offset {seconds}s has no IANA zone; UTC is used"))
        }
        Zone::Fixed(seconds) => Err(format!(
            "a fixed offset of {seconds}s is not a whole number of hours and has no IANA zone; UTC is used"
        )),
    }
}

fn parse_iso(text: &str) -> Option<PyDateTime> {
    let text = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(PyDateTime {
            naive: d.naive_utc(),
            zone: Some(Zone::Named("UTC".to_string())),
        });
    }
    let naive = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        })?;
    Some(PyDateTime { naive, zone: None })
}

/// A cron expression (UTC) firing at `start + k * delta`, when one exists.
pub fn delta_cron(micros: i64, start: DateTime<Utc>) -> Option<String> {
    if micros <= 0 || micros % 60_000_000 != 0 || start.second() != 0 || start.nanosecond() != 0 {
        return None;
    }
    let minutes = micros / 60_000_000;
    let (m, h) = (i64::from(start.minute()), i64::from(start.hour()));
    let list = |first: i64, step: i64, limit: i64| -> String {
        (0..limit / step)
            .map(|k| (first + k * step).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if minutes < 60 && 60 % minutes == 0 {
        return Some(if minutes == 1 {
            "* * * * *".to_string()
        } else {
            format!("{} * * * *", list(m % minutes, minutes, 60))
        });
    }
    if minutes % 60 != 0 {
        return None;
    }
    let hours = minutes / 60;
    if hours < 24 && 24 % hours == 0 {
        return Some(if hours == 1 {
            format!("{m} * * * *")
        } else {
            format!("{m} {} * * *", list(h % hours, hours, 24))
        });
    }
    match hours {
        24 => Some(format!("{m} {h} * * *")),
        168 => {
            let dow = start.weekday().num_days_from_sunday();
            Some(format!("{m} {h} * * {dow}"))
        }
        _ => None,
    }
}

use chrono::Datelike;

/// Moves the start past the live environment's last run and keeps a paused
/// DAG paused.
fn apply_live(timing: &mut Timing, live: &LiveState, line: u32, notes: &mut Vec<Note>) {
    if let Some(paused) = live.is_paused {
        timing.paused = Some(paused);
        timing.paused_comment = Some(if paused {
            "paused in MWAA: stays paused until you unpause it".to_string()
        } else {
            "running in MWAA".to_string()
        });
    }
    let (Some(last), Some(expr)) = (&live.last_run, timing.schedule.clone()) else {
        return;
    };
    let Ok(schedule) = CronSchedule::parse(&expr) else {
        return;
    };
    let next_start = match timing.kind {
        TimetableKind::Trigger => last.logical_date + chrono::TimeDelta::seconds(1),
        TimetableKind::Interval => match last.data_interval_end {
            Some(end) if end > last.logical_date => end,
            _ => {
                let table = Timetable {
                    schedule: Some(schedule),
                    kind: timing.kind,
                    timezone: timing.timezone,
                    start_date: None,
                    end_date: None,
                    catchup: true,
                };
                match table.next_runs(last.logical_date, 1).first() {
                    Some(run) => run.data_interval.end,
                    None => return,
                }
            }
        },
    };
    let described = match (timing.kind, last.data_interval_end) {
        (TimetableKind::Interval, Some(end)) => format!(
            "MWAA's last run has logical date {} (interval ending {})",
            rfc3339(last.logical_date, timing.timezone),
            rfc3339(end, timing.timezone)
        ),
        _ => format!(
            "MWAA's last run has logical date {}",
            rfc3339(last.logical_date, timing.timezone)
        ),
    };
    if timing.start.is_some_and(|s| s >= next_start) {
        return;
    }
    if timing.end.is_some_and(|e| next_start > e) {
        notes.push(Note {
            line,
            what: "schedule".to_string(),
            why: format!("{described}, the last before end_date: nothing is left to schedule, so the DAG runs only when triggered"),
        });
        timing.schedule_comment = Some(format!(
            "was {expr:?}; MWAA already ran every run up to end_date"
        ));
        timing.schedule = None;
        return;
    }
    let was = match timing.start {
        Some(s) => format!("the file says {}", rfc3339(s, timing.timezone)),
        None => "the file has no fixed start_date".to_string(),
    };
    timing.start_comment = Some(format!(
        "{described}; {was}. Starting here runs the next one, with no gap and no double run"
    ));
    timing.start = Some(next_start);
    timing.start_exact = true;
}

fn rfc3339(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A start or end date as YAML text in the DAG's zone: `2024-01-01`,
/// `2024-01-01T06:30:00`, or with its offset when the wall-clock time alone
/// is ambiguous (or `exact` is asked for).
pub fn date_text(t: DateTime<Utc>, tz: Tz, exact: bool) -> String {
    let local = t.with_timezone(&tz);
    let naive = local.naive_local();
    let unambiguous = matches!(tz.from_local_datetime(&naive), LocalResult::Single(_));
    if exact || !unambiguous || naive.nanosecond() != 0 {
        return local.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    }
    if naive.time() == chrono::NaiveTime::MIN {
        naive.format("%Y-%m-%d").to_string()
    } else {
        naive.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn timedeltas_that_divide_a_day_or_make_a_week_become_cron() {
        let start = at("2024-01-01T00:30:00Z");
        assert_eq!(
            delta_cron(86_400_000_000, start).as_deref(),
            Some("30 0 * * *")
        );
        assert_eq!(
            delta_cron(6 * 3_600_000_000, start).as_deref(),
            Some("30 0,6,12,18 * * *")
        );
        assert_eq!(
            delta_cron(3_600_000_000, start).as_deref(),
            Some("30 * * * *")
        );
        assert_eq!(
            delta_cron(15 * 60_000_000, start).as_deref(),
            Some("0,15,30,45 * * * *")
        );
        assert_eq!(
            delta_cron(7 * 86_400_000_000, start).as_deref(),
            Some("30 0 * * 1")
        );
        assert_eq!(delta_cron(2 * 86_400_000_000, start), None);
        assert_eq!(delta_cron(90 * 60_000_000, start), None);
    }

    #[test]
    fn dates_are_written_in_the_dag_zone() {
        let tz = Tz::Europe__London;
        assert_eq!(
            date_text(at("2024-01-01T00:00:00Z"), tz, false),
            "2024-01-01"
        );
        assert_eq!(
            date_text(at("2024-06-01T05:30:00Z"), tz, false),
            "2024-06-01T06:30:00"
        );
        assert_eq!(
            date_text(at("2024-06-01T05:30:00Z"), tz, true),
            "2024-06-01T06:30:00+01:00"
        );
    }
}
