//! When DAG runs happen, computed exactly as Airflow 2.10 does it.
//! A cron schedule is evaluated on naive local wall-clock time, then made aware the way
//! Airflow/pendulum does (a time in a spring-forward gap moves forward by the gap; an
//! ambiguous fall-back time takes its second occurrence), with Airflow's hourly-cron DST fix.
//! Interval = `CronDataIntervalTimetable`, Trigger = `CronTriggerTimetable` with no interval.

use std::cmp::max;

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const FIELD_RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Why a schedule expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is blank.
    #[error("invalid cron ``: the schedule is empty")]
    Empty,
    /// Six fields: a leading seconds field, which Airflow schedules do not support here.
    #[error("invalid cron `{expr}`: 6 fields given but a seconds field is not supported")]
    SecondsField {
        /// The rejected expression.
        expr: String,
    },
    /// Neither 5 nor 6 fields.
    #[error("invalid cron `{expr}`: expected 5 fields, got {count}")]
    FieldCount {
        /// The rejected expression.
        expr: String,
        /// How many whitespace-separated fields it has.
        count: usize,
    },
    /// An `@name` that is not a known preset.
    #[error(
        "invalid cron `{expr}`: unknown preset (accepted: @hourly @daily @midnight @weekly @monthly @quarterly @yearly @annually)"
    )]
    UnknownPreset {
        /// The rejected expression.
        expr: String,
    },
    /// A numeric value outside its field's range.
    #[error("invalid cron `{expr}`: {field} {value} is out of range {min}-{max}")]
    OutOfRange {
        /// The rejected expression.
        expr: String,
        /// The field name, e.g. `minute`.
        field: &'static str,
        /// The offending value.
        value: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// Any other malformed field.
    #[error("invalid cron `{expr}`: {detail}")]
    Syntax {
        /// The rejected expression.
        expr: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A parsed schedule: a 5-field cron expression or an `@` preset.
///
/// Day-of-month and day-of-week combine with OR when both are restricted, as in POSIX cron
/// and Airflow (croniter).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    cron: Cron,
    // Airflow's `_covers_every_hour`: croniter expands the hour field to `*`.
    every_hour: bool,
}

impl CronSchedule {
    /// Parses a 5-field cron expression or a preset (`@hourly`, `@daily`, `@midnight`,
    /// `@weekly`, `@monthly`, `@quarterly`, `@yearly`, `@annually`).
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let fields_src = if trimmed.starts_with('@') {
            preset(trimmed).ok_or_else(|| ScheduleError::UnknownPreset {
                expr: trimmed.to_string(),
            })?
        } else {
            trimmed
        };
        let fields: Vec<&str> = fields_src.split_whitespace().collect();
        match fields.len() {
            5 => {}
            6 => {
                return Err(ScheduleError::SecondsField {
                    expr: trimmed.to_string(),
                });
            }
            count => {
                return Err(ScheduleError::FieldCount {
                    expr: trimmed.to_string(),
                    count,
                });
            }
        }
        let mut normalized = fields
            .iter()
            .enumerate()
            .map(|(index, field)| normalize_field(trimmed, index, field))
            .collect::<Result<Vec<_>, _>>()?;
        let parse = |fields: &[String]| {
            CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .dom_and_dow(false)
                .build()
                .parse(&fields.join(" "))
                .map_err(|err| ScheduleError::Syntax {
                    expr: trimmed.to_string(),
                    detail: croner_detail(&err.to_string()),
                })
        };
        // croniter neither joins nor intersects these: it schedules the `#`/`L` days alone
        // and fails outright when they never fall on the listed days of the month.
        if normalized[4].contains(['#', 'L']) && normalized[2] != "*" && normalized[2] != "?" {
            return Err(ScheduleError::Syntax {
                expr: trimmed.to_string(),
                detail: "a `#` or `L` day-of-week cannot be combined with a day-of-month, which Airflow does not schedule reliably; set day-of-month to *".to_string(),
            });
        }
        let mut cron = parse(&normalized)?;
        // croniter turns a day field listing every day into `*` when the other day field
        // contains `*`, which switches day-of-month/day-of-week from OR to AND.
        let full_dom = cron.pattern.days.values().len() == 31 && !cron.pattern.days.has_modifiers();
        let full_dow = cron.pattern.days_of_week.values().len() >= 7
            && !cron.pattern.days_of_week.has_modifiers();
        let mut rewritten = false;
        if full_dom && fields[4].contains('*') && normalized[2] != "*" {
            normalized[2] = "*".to_string();
            rewritten = true;
        }
        if full_dow && fields[2].contains('*') && normalized[4] != "*" {
            normalized[4] = "*".to_string();
            rewritten = true;
        }
        if rewritten {
            cron = parse(&normalized)?;
        }
        let every_hour = cron.pattern.hours.values().len() == 24;
        Ok(CronSchedule {
            expr: trimmed.to_string(),
            cron,
            every_hour,
        })
    }

    /// The expression as written (trimmed), preset names included.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The five cron fields, a preset (`@daily`) written out.
    pub fn cron_fields(&self) -> &str {
        preset(&self.expr).unwrap_or(&self.expr)
    }

    /// Whether any date matches the expression (`0 0 30 2 *` never does).
    /// Searched from 2000-01-01, a leap year, so `0 0 29 2 *` fires.
    pub fn fires(&self) -> bool {
        chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|start| self.cron.find_next_occurrence(&start, true).ok())
            .is_some()
    }

    /// First wall-clock tick strictly after `naive` (croniter `get_next`).
    fn next_naive(&self, naive: NaiveDateTime) -> Option<NaiveDateTime> {
        // Ticks are whole seconds, so "after 10:00:00.5" is "after 10:00:00".
        let whole = naive.with_nanosecond(0)?;
        self.cron.find_next_occurrence(&whole, false).ok()
    }

    /// Last wall-clock tick strictly before `naive` (croniter `get_prev`).
    fn prev_naive(&self, naive: NaiveDateTime) -> Option<NaiveDateTime> {
        let whole = naive.with_nanosecond(0)?;
        // croniter counts 10:00:00.5 as after a 10:00:00 tick.
        let inclusive = naive.nanosecond() != 0;
        self.cron.find_previous_occurrence(&whole, inclusive).ok()
    }
}

fn preset(expr: &str) -> Option<&'static str> {
    Some(match expr.to_ascii_lowercase().as_str() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@quarterly" => "0 0 1 */3 *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        _ => return None,
    })
}

/// Checks one field against the croniter syntax Airflow accepts, naming the field in errors,
/// and rewrites it into the croner equivalent. Forms on which the croniter releases Airflow
/// 2.10 allows disagree (`5-5`, `23/2`, stepped wrap-around ranges) are rejected.
fn normalize_field(expr: &str, index: usize, field: &str) -> Result<String, ScheduleError> {
    let name = FIELD_NAMES[index];
    let (min, max) = FIELD_RANGES[index];
    // croniter reads day-of-week 7 as Sunday (0) and steps day-of-week up to 6.
    let cycle_max = if index == 4 { 6 } else { max };
    let syntax = |detail: String| ScheduleError::Syntax {
        expr: expr.to_string(),
        detail,
    };
    let number = |text: &str, min: u32, max: u32| -> Result<Option<u32>, ScheduleError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let value = text.parse::<u32>().unwrap_or(u32::MAX);
        if value < min || value > max {
            return Err(ScheduleError::OutOfRange {
                expr: expr.to_string(),
                field: name,
                value,
                min,
                max,
            });
        }
        Ok(Some(value))
    };
    let value = |text: &str| -> Result<Option<u32>, ScheduleError> {
        let names: &[&str] = match index {
            3 => &MONTH_NAMES,
            4 => &DAY_NAMES,
            _ => &[],
        };
        if let Some(position) = names.iter().position(|known| *known == text) {
            let offset = if index == 3 { 1 } else { 0 };
            return Ok(u32::try_from(position).ok().map(|p| p + offset));
        }
        number(text, min, max)
    };
    let invalid = |item: &str| syntax(format!("{name} `{item}` is not a valid value or range"));
    let items: Vec<&str> = field.split(',').collect();
    let mut out = Vec::new();
    let (mut nth_items, mut plain_items) = (0, 0);
    for item in &items {
        let upper = item.to_ascii_uppercase();
        if upper == "*" || (upper == "?" && (index == 2 || index == 4)) {
            out.push(upper);
            plain_items += 1;
            continue;
        }
        let (range, step) = match upper.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (upper.as_str(), None),
        };
        let step = match step {
            None => None,
            Some(text) => match number(text, 1, u32::MAX) {
                Ok(Some(step)) => Some(step),
                _ => {
                    return Err(syntax(format!(
                        "{name} step `{text}` must be a positive number"
                    )));
                }
            },
        };
        if step.is_none() {
            if index == 2 && range == "L" {
                out.push(upper);
                continue;
            }
            if index == 2 && range.len() > 1 && range.ends_with('W') {
                if items.len() > 1 {
                    return Err(syntax(format!(
                        "day-of-month `{item}` cannot be part of a list"
                    )));
                }
                if number(&range[..range.len() - 1], min, max)?.is_some() {
                    out.push(upper);
                    continue;
                }
            }
            let last_day = match range.strip_prefix('L') {
                Some(day) if index == 4 && !day.is_empty() => value(day)?,
                _ => None,
            };
            if let Some(day) = last_day {
                out.push(format!("{}L", day % 7));
                nth_items += 1;
                continue;
            }
            if index == 4
                && let Some((day, nth)) = range.split_once('#')
            {
                let nth_ok = matches!(nth, "1" | "2" | "3" | "4" | "5");
                match value(day)? {
                    Some(day) if nth_ok => {
                        out.push(format!("{}#{nth}", day % 7));
                        nth_items += 1;
                        continue;
                    }
                    _ => return Err(invalid(item)),
                }
            }
        }
        plain_items += 1;
        let bounds: Vec<&str> = range.split('-').collect();
        let (low, high) = match bounds.as_slice() {
            [single] => {
                let low = if *single == "*" {
                    Some(min)
                } else {
                    value(single)?
                };
                let Some(low) = low else {
                    return Err(invalid(item));
                };
                let low = if index == 4 { low % 7 } else { low };
                match step {
                    None => {
                        out.push(low.to_string());
                        continue;
                    }
                    Some(_) if *single == "*" => (min, cycle_max),
                    Some(_) if low >= cycle_max => {
                        return Err(syntax(format!(
                            "{name} `{item}` steps from the last value, which Airflow versions read differently; write `{low}`"
                        )));
                    }
                    Some(_) => (low, cycle_max),
                }
            }
            [low, high] => match (value(low)?, value(high)?) {
                (Some(low), Some(high)) => (low, high),
                _ => return Err(invalid(item)),
            },
            _ => return Err(invalid(item)),
        };
        if low == high {
            return Err(syntax(format!(
                "{name} range `{item}` starts and ends on the same value, which Airflow versions read differently; write `{low}`"
            )));
        }
        let low = if index == 4 && low == 7 { 0 } else { low };
        if low < high {
            out.push(match step {
                Some(step) => format!("{low}-{high}/{step}"),
                None => format!("{low}-{high}"),
            });
        } else if step.is_some() {
            return Err(syntax(format!(
                "{name} range `{item}` wraps around with a step, which Airflow versions read differently; split it into two ranges"
            )));
        } else {
            let wrapped: Vec<String> = (low..=cycle_max)
                .chain(min..=high)
                .map(|v| v.to_string())
                .collect();
            out.push(wrapped.join(","));
        }
    }
    if nth_items > 0 && plain_items > 0 {
        return Err(syntax(format!(
            "day-of-week `{field}` mixes `#`/`L` days with plain days, which Airflow does not support"
        )));
    }
    Ok(out.join(","))
}

fn croner_detail(message: &str) -> String {
    let trimmed = message.trim().trim_end_matches('.');
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "the expression cannot be parsed".to_string(),
    }
}

/// Which Airflow 2 cron timetable drives the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimetableKind {
    /// `CronDataIntervalTimetable` (the MWAA default): a run covers one tick-to-tick interval
    /// and starts when the interval ends.
    Interval,
    /// `CronTriggerTimetable` with a zero interval: a run fires at each tick.
    Trigger,
}

/// The span of data a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataInterval {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

/// One scheduled run, as Airflow's `DagRunInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunInfo {
    /// Airflow's logical date (`execution_date`): the data interval start.
    pub logical_date: DateTime<Utc>,
    /// The data the run covers.
    pub data_interval: DataInterval,
    /// The earliest instant the run may be created: the data interval end.
    pub run_after: DateTime<Utc>,
}

/// A DAG's schedule together with its time restriction (`start_date`, `end_date`, `catchup`).
#[derive(Debug, Clone)]
pub struct Timetable {
    /// The cron schedule; `None` means manual runs only (`schedule=None`).
    pub schedule: Option<CronSchedule>,
    /// Interval or trigger semantics.
    pub kind: TimetableKind,
    /// The zone the cron expression is read in.
    pub timezone: Tz,
    /// The earliest instant a run may start (Airflow `start_date`).
    pub start_date: Option<DateTime<Utc>>,
    /// No run starts after this instant (Airflow `end_date`).
    pub end_date: Option<DateTime<Utc>>,
    /// Whether missed intervals are run (`true`) or skipped to the latest (`false`).
    pub catchup: bool,
}

/// Airflow's `TimeRestriction`.
#[derive(Debug, Clone, Copy)]
struct Restriction {
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
    catchup: bool,
}

/// A schedule read in a zone: Airflow's `CronMixin`.
struct Zoned<'a> {
    schedule: &'a CronSchedule,
    tz: Tz,
}

impl Zoned<'_> {
    fn naive(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.tz).naive_local()
    }

    /// Airflow's `make_aware` with `fold=1` through pendulum's `Timezone.convert`.
    fn aware(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(local) => Some(local.with_timezone(&Utc)),
            // fold=1: the second occurrence, i.e. the later instant.
            LocalResult::Ambiguous(a, b) => Some(max(a, b).with_timezone(&Utc)),
            // pendulum shifts a skipped time forward by the gap, which is the same instant
            // as reading the wall clock with the offset in force before the gap.
            LocalResult::None => {
                let before = self.offset_before_gap(naive)?;
                naive
                    .checked_sub_signed(TimeDelta::seconds(i64::from(before)))
                    .map(|utc| utc.and_utc())
            }
        }
    }

    /// UTC offset (seconds) of the last valid wall-clock time before a gap containing `naive`.
    fn offset_before_gap(&self, naive: NaiveDateTime) -> Option<i32> {
        (1..=4 * 48).find_map(|quarter| {
            let earlier = naive.checked_sub_signed(TimeDelta::minutes(15 * quarter))?;
            self.tz
                .offset_from_local_datetime(&earlier)
                .latest()
                .map(|offset| offset.fix().local_minus_utc())
        })
    }

    /// Airflow's `_get_next`.
    fn get_next(&self, current: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let naive = self.naive(current);
        let scheduled = self.schedule.next_naive(naive)?;
        if !self.schedule.every_hour {
            return self.aware(scheduled);
        }
        // Hourly schedules step by wall-clock delta from the aware instant, so the repeated
        // fall-back hour is run twice instead of skipped.
        current.checked_add_signed(scheduled - naive)
    }

    /// Airflow's `_get_prev`.
    fn get_prev(&self, current: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let naive = self.naive(current);
        let scheduled = self.schedule.prev_naive(naive)?;
        if !self.schedule.every_hour {
            return self.aware(scheduled);
        }
        current.checked_sub_signed(naive - scheduled)
    }

    /// Airflow's `_align_to_next`: `current` if it is on a tick, else the next tick.
    fn align_to_next(&self, current: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.get_next(current)?;
        if self.get_prev(next)? != current {
            Some(next)
        } else {
            Some(current)
        }
    }

    /// Airflow's `_align_to_prev`: `current` if it is on a tick, else the previous tick.
    fn align_to_prev(&self, current: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let prev = self.get_prev(current)?;
        if self.get_next(prev)? != current {
            Some(prev)
        } else {
            Some(current)
        }
    }

    /// `CronDataIntervalTimetable._skip_to_latest` with `utcnow()` = `now`.
    fn skip_to_latest(
        &self,
        earliest: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let last_start = self.get_prev(now)?;
        let next_start = self.get_next(last_start)?;
        let new_start = if next_start == now {
            last_start
        } else if next_start > now {
            self.get_prev(last_start)?
        } else {
            // Airflow raises here; the DAG then gets no next run.
            return None;
        };
        match earliest {
            None => Some(new_start),
            Some(earliest) => Some(max(new_start, self.align_to_next(earliest)?)),
        }
    }

    /// `_DataIntervalTimetable.next_dagrun_info`.
    fn next_interval(
        &self,
        last: Option<DataInterval>,
        restriction: Restriction,
        now: DateTime<Utc>,
    ) -> Option<RunInfo> {
        let earliest = if !restriction.catchup {
            Some(self.skip_to_latest(restriction.earliest, now)?)
        } else {
            match restriction.earliest {
                Some(earliest) => Some(self.align_to_next(earliest)?),
                None => None,
            }
        };
        let start = match last {
            None => earliest?,
            Some(last) => {
                let aligned_end = self.align_to_prev(last.end)?;
                earliest.map_or(aligned_end, |earliest| max(aligned_end, earliest))
            }
        };
        if restriction.latest.is_some_and(|latest| start > latest) {
            return None;
        }
        let end = self.get_next(start)?;
        Some(RunInfo {
            logical_date: start,
            data_interval: DataInterval { start, end },
            run_after: end,
        })
    }

    /// `CronTriggerTimetable.next_dagrun_info` with a zero interval.
    fn next_trigger(
        &self,
        last: Option<DataInterval>,
        restriction: Restriction,
        now: DateTime<Utc>,
    ) -> Option<RunInfo> {
        let tick = if restriction.catchup {
            match (last, restriction.earliest) {
                (Some(last), _) => self.get_next(last.end)?,
                (None, Some(earliest)) => self.align_to_next(earliest)?,
                (None, None) => return None,
            }
        } else {
            let mut tick = self.align_to_prev(now)?;
            if let Some(last) = last {
                tick = max(tick, self.get_next(last.end)?);
            }
            if let Some(earliest) = restriction.earliest {
                tick = max(tick, self.align_to_next(earliest)?);
            }
            tick
        };
        if restriction.latest.is_some_and(|latest| latest < tick) {
            return None;
        }
        Some(RunInfo {
            logical_date: tick,
            data_interval: DataInterval {
                start: tick,
                end: tick,
            },
            run_after: tick,
        })
    }
}

impl Timetable {
    fn zoned(&self) -> Option<Zoned<'_>> {
        self.schedule.as_ref().map(|schedule| Zoned {
            schedule,
            tz: self.timezone,
        })
    }

    fn info(
        &self,
        last: Option<DataInterval>,
        restriction: Restriction,
        now: DateTime<Utc>,
    ) -> Option<RunInfo> {
        let zoned = self.zoned()?;
        match self.kind {
            TimetableKind::Interval => zoned.next_interval(last, restriction, now),
            TimetableKind::Trigger => zoned.next_trigger(last, restriction, now),
        }
    }

    /// Airflow's `next_dagrun_info(last_automated_data_interval, restriction)` with `utcnow()`
    /// replaced by `now`; `None` when there is no further run.
    pub fn next_run_info(&self, last: Option<DataInterval>, now: DateTime<Utc>) -> Option<RunInfo> {
        let restriction = Restriction {
            earliest: self.start_date,
            latest: self.end_date,
            catchup: self.catchup,
        };
        self.info(last, restriction, now)
    }

    /// The next `n` runs the scheduler creates, in the order it creates them, when the
    /// last scheduled run covered `last` and the time is `now`: first [`Self::next_run_info`]
    /// (without catchup, the latest complete interval, which may be due already), then each
    /// interval after it. For an interval timetable a run starts when its data interval ends:
    /// the `@daily` run for 2024-01-01 starts at 2024-01-02T00:00.
    pub fn upcoming(
        &self,
        last: Option<DataInterval>,
        now: DateTime<Utc>,
        n: usize,
    ) -> Vec<RunInfo> {
        let Some(first) = self.next_run_info(last, now) else {
            return Vec::new();
        };
        // once the first exists, the scheduler wakes at each run's start and the runs follow
        // one another without a gap, as with catchup
        let following = Restriction {
            earliest: self.start_date,
            latest: self.end_date,
            catchup: true,
        };
        let mut runs = vec![first];
        while runs.len() < n {
            let Some(prev) = runs.last().copied() else {
                break;
            };
            let Some(info) = self.info(Some(prev.data_interval), following, now) else {
                break;
            };
            // a schedule that stops advancing would otherwise loop forever
            if info.logical_date <= prev.logical_date {
                break;
            }
            runs.push(info);
        }
        runs.truncate(n);
        runs
    }

    /// The next `n` runs whose logical date is at or after `after`, ignoring catchup but
    /// respecting `start_date` and `end_date`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<RunInfo> {
        let restriction = Restriction {
            earliest: Some(self.start_date.map_or(after, |start| max(start, after))),
            latest: self.end_date,
            catchup: true,
        };
        let mut runs: Vec<RunInfo> = Vec::new();
        while runs.len() < n {
            let last = runs.last().map(|run| run.data_interval);
            let Some(info) = self.info(last, restriction, after) else {
                break;
            };
            // A schedule that stops advancing would otherwise loop forever.
            if runs
                .last()
                .is_some_and(|prev| info.logical_date <= prev.logical_date)
            {
                break;
            }
            runs.push(info);
        }
        runs
    }

    /// The runs the scheduler must create at `now`, in order: `next_run_info` repeated from
    /// `last` while the run is due (`run_after <= now`), at most `limit` of them. Without
    /// catchup that is at most the latest missed interval; with catchup every missed one.
    pub fn due_runs(
        &self,
        last: Option<DataInterval>,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<RunInfo> {
        let mut runs: Vec<RunInfo> = Vec::new();
        let mut last = last;
        while runs.len() < limit {
            let Some(info) = self.next_run_info(last, now) else {
                break;
            };
            if info.run_after > now {
                break;
            }
            if runs
                .last()
                .is_some_and(|prev| info.logical_date <= prev.logical_date)
            {
                break;
            }
            last = Some(info.data_interval);
            runs.push(info);
        }
        runs
    }

    /// Airflow's `infer_manual_data_interval(run_after)` for a manual run:
    /// the interval timetable gives the last complete interval before
    /// `run_after` (triggered at 01:00 on the 25th, a `@daily` run covers the
    /// 24th); the trigger timetable and manual-only DAGs give an empty
    /// interval at `run_after`.
    pub fn manual_data_interval(&self, run_after: DateTime<Utc>) -> DataInterval {
        let empty = DataInterval {
            start: run_after,
            end: run_after,
        };
        let Some(zoned) = self.zoned() else {
            return empty;
        };
        if self.kind == TimetableKind::Trigger {
            return empty;
        }
        let interval = zoned.align_to_prev(run_after).and_then(|end| {
            Some(DataInterval {
                start: zoned.get_prev(end)?,
                end,
            })
        });
        interval.unwrap_or(empty)
    }

    /// When the scheduler should next look at this DAG, given the last scheduled interval:
    /// the next run's `run_after`, or `now` if that run is already due; `None` if no run
    /// will ever follow.
    pub fn next_wakeup(
        &self,
        last: Option<DataInterval>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.next_run_info(last, now)
            .map(|info| max(info.run_after, now))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::TimetableKind::{Interval, Trigger};
    use super::*;

    struct InfoCase {
        name: &'static str,
        kind: TimetableKind,
        cron: &'static str,
        tz: &'static str,
        start: Option<&'static str>,
        end: Option<&'static str>,
        catchup: bool,
        last: Option<(&'static str, &'static str)>,
        now: &'static str,
        // (logical_date, data_interval.start, data_interval.end, run_after)
        want: Option<(&'static str, &'static str, &'static str, &'static str)>,
    }

    struct SeqCase {
        name: &'static str,
        kind: TimetableKind,
        cron: &'static str,
        tz: &'static str,
        start: Option<&'static str>,
        end: Option<&'static str>,
        after: &'static str,
        n: usize,
        want: &'static [(&'static str, &'static str)],
    }

    struct DueCase {
        name: &'static str,
        kind: TimetableKind,
        cron: &'static str,
        tz: &'static str,
        start: Option<&'static str>,
        catchup: bool,
        last: Option<(&'static str, &'static str)>,
        now: &'static str,
        limit: usize,
        want: &'static [(&'static str, &'static str)],
    }

    struct WakeupCase {
        name: &'static str,
        kind: TimetableKind,
        cron: &'static str,
        tz: &'static str,
        start: Option<&'static str>,
        end: Option<&'static str>,
        catchup: bool,
        last: Option<(&'static str, &'static str)>,
        now: &'static str,
        want: Option<&'static str>,
    }

    // Expected values below come from Airflow 2.10.5 (pendulum 3, croniter) via
    // airflow_oracle.py (committed as tests/airflow/timetable_oracle.py); regenerate, don't edit.
    // Generated by airflow_oracle.py with Airflow 2.10.5.
    #[rustfmt::skip]
    const INFO_CASES: &[InfoCase] = &[
        InfoCase { name: "interval daily first run aligns an off-tick start date to the next midnight", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T10:15:00Z"), end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: Some(("2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z")) },
        InfoCase { name: "interval daily first run keeps a start date already on a tick", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: Some(("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z")) },
        InfoCase { name: "trigger daily first run aligns an off-tick start date to the next midnight", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T10:15:00Z"), end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: Some(("2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z")) },
        InfoCase { name: "interval with catchup and no start date has no run", kind: Interval, cron: "@daily", tz: "UTC", start: None, end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: None },
        InfoCase { name: "trigger with catchup and no start date has no run", kind: Trigger, cron: "@daily", tz: "UTC", start: None, end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: None },
        InfoCase { name: "interval follows the previous interval", kind: Interval, cron: "@hourly", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-01-01T05:00:00Z", "2024-01-01T06:00:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-01-01T06:00:00Z", "2024-01-01T06:00:00Z", "2024-01-01T07:00:00Z", "2024-01-01T07:00:00Z")) },
        InfoCase { name: "interval realigns a previous interval end left by an older schedule", kind: Interval, cron: "@hourly", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-01-01T04:17:00Z", "2024-01-01T05:17:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-01-01T05:00:00Z", "2024-01-01T05:00:00Z", "2024-01-01T06:00:00Z", "2024-01-01T06:00:00Z")) },
        InfoCase { name: "interval stops once the next start is past the end date", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: Some("2024-01-03T12:00:00Z"), catchup: true, last: Some(("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z")), now: "2024-06-01T00:00:00Z", want: None },
        InfoCase { name: "interval still runs when the start equals the end date", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: Some("2024-01-04T00:00:00Z"), catchup: true, last: Some(("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-01-04T00:00:00Z", "2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z", "2024-01-05T00:00:00Z")) },
        InfoCase { name: "trigger stops once the next tick is past the end date", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: Some("2024-01-03T12:00:00Z"), catchup: true, last: Some(("2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z")), now: "2024-06-01T00:00:00Z", want: None },
        InfoCase { name: "interval without catchup starts at the latest complete interval", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T15:30:00Z", want: Some(("2024-06-09T00:00:00Z", "2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z")) },
        InfoCase { name: "interval without catchup exactly on a tick takes the interval ending now", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T00:00:00Z", want: Some(("2024-06-09T00:00:00Z", "2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z")) },
        InfoCase { name: "interval without catchup respects a future start date", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-07-01T06:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T15:30:00Z", want: Some(("2024-07-02T00:00:00Z", "2024-07-02T00:00:00Z", "2024-07-03T00:00:00Z", "2024-07-03T00:00:00Z")) },
        InfoCase { name: "interval without catchup and no start date still schedules", kind: Interval, cron: "@hourly", tz: "UTC", start: None, end: None, catchup: false, last: None, now: "2024-06-10T15:30:00Z", want: Some(("2024-06-10T14:00:00Z", "2024-06-10T14:00:00Z", "2024-06-10T15:00:00Z", "2024-06-10T15:00:00Z")) },
        InfoCase { name: "interval without catchup does not repeat the last interval", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z")), now: "2024-06-10T15:30:00Z", want: Some(("2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-11T00:00:00Z", "2024-06-11T00:00:00Z")) },
        InfoCase { name: "trigger without catchup runs the latest past tick", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T15:30:00Z", want: Some(("2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z")) },
        InfoCase { name: "trigger without catchup after the latest tick waits for the next", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z")), now: "2024-06-10T15:30:00Z", want: Some(("2024-06-11T00:00:00Z", "2024-06-11T00:00:00Z", "2024-06-11T00:00:00Z", "2024-06-11T00:00:00Z")) },
        InfoCase { name: "trigger without catchup respects a future start date", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-07-01T06:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T15:30:00Z", want: Some(("2024-07-02T00:00:00Z", "2024-07-02T00:00:00Z", "2024-07-02T00:00:00Z", "2024-07-02T00:00:00Z")) },
        InfoCase { name: "interval start date on the tick before the new york gap day is pushed past it", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-03-09T07:30:00Z"), end: None, catchup: true, last: Some(("2024-03-08T07:30:00Z", "2024-03-09T07:30:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-11T06:30:00Z")) },
        InfoCase { name: "interval on new york spring forward maps 02:30 to 03:30 edt", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-01-01T05:00:00Z"), end: None, catchup: true, last: Some(("2024-03-08T07:30:00Z", "2024-03-09T07:30:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z")) },
        InfoCase { name: "interval on new york spring forward continues the day after", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-03-09T07:30:00Z"), end: None, catchup: true, last: Some(("2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z", "2024-03-11T06:30:00Z")) },
        InfoCase { name: "trigger on new york spring forward maps 02:30 to 03:30 edt", kind: Trigger, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-03-09T07:30:00Z"), end: None, catchup: true, last: Some(("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z")), now: "2024-06-01T00:00:00Z", want: Some(("2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z")) },
        InfoCase { name: "interval on new york fall back picks the second 01:30", kind: Interval, cron: "30 1 * * *", tz: "America/New_York", start: Some("2024-11-01T05:30:00Z"), end: None, catchup: true, last: Some(("2024-11-01T05:30:00Z", "2024-11-02T05:30:00Z")), now: "2024-12-01T00:00:00Z", want: Some(("2024-11-02T05:30:00Z", "2024-11-02T05:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z")) },
        InfoCase { name: "trigger on new york fall back picks the second 01:30", kind: Trigger, cron: "30 1 * * *", tz: "America/New_York", start: Some("2024-11-01T05:30:00Z"), end: None, catchup: true, last: Some(("2024-11-02T05:30:00Z", "2024-11-02T05:30:00Z")), now: "2024-12-01T00:00:00Z", want: Some(("2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z")) },
        InfoCase { name: "interval hourly without catchup inside the first new york fold hour", kind: Interval, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T05:45:00Z", want: Some(("2024-11-03T04:00:00Z", "2024-11-03T04:00:00Z", "2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z")) },
        InfoCase { name: "interval hourly without catchup inside the second new york fold hour", kind: Interval, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T06:45:00Z", want: Some(("2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z")) },
        InfoCase { name: "interval daily 01:30 without catchup during the new york fold", kind: Interval, cron: "30 1 * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T05:45:00Z", want: Some(("2024-11-02T05:30:00Z", "2024-11-02T05:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z")) },
        InfoCase { name: "trigger daily 01:30 without catchup between the two new york 01:30s", kind: Trigger, cron: "30 1 * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T05:45:00Z", want: Some(("2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z")) },
        InfoCase { name: "trigger daily 02:30 without catchup on new york spring forward", kind: Trigger, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-03-10T07:45:00Z", want: Some(("2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z")) },
        InfoCase { name: "interval start date inside the new york gap aligns to the next tick", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-03-10T07:10:00Z"), end: None, catchup: true, last: None, now: "2024-06-01T00:00:00Z", want: Some(("2024-03-11T06:30:00Z", "2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z", "2024-03-12T06:30:00Z")) },
        InfoCase { name: "interval without catchup half a second after a tick takes the interval ending at that tick", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-06-10T00:00:00.500000Z", want: Some(("2024-06-09T00:00:00Z", "2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z", "2024-06-10T00:00:00Z")) },
        InfoCase { name: "trigger without catchup half a second after a new york hourly tick runs that tick", kind: Trigger, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T06:00:00.500000Z", want: Some(("2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z")) },
        InfoCase { name: "interval hourly without catchup half a second into the second new york fold hour", kind: Interval, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-11-03T06:00:00.500000Z", want: Some(("2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z")) },
        InfoCase { name: "interval london fall back 01:30 picks the gmt one", kind: Interval, cron: "30 1 * * *", tz: "Europe/London", start: Some("2024-10-26T00:30:00Z"), end: None, catchup: true, last: Some(("2024-10-25T00:30:00Z", "2024-10-26T00:30:00Z")), now: "2024-12-01T00:00:00Z", want: Some(("2024-10-26T00:30:00Z", "2024-10-26T00:30:00Z", "2024-10-27T01:30:00Z", "2024-10-27T01:30:00Z")) },
    ];

    #[rustfmt::skip]
    const SEQ_CASES: &[SeqCase] = &[
        SeqCase { name: "interval hourly preset in utc", kind: Interval, cron: "@hourly", tz: "UTC", start: None, end: None, after: "2024-01-01T10:30:00Z", n: 3, want: &[("2024-01-01T11:00:00Z", "2024-01-01T12:00:00Z"), ("2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z"), ("2024-01-01T13:00:00Z", "2024-01-01T14:00:00Z")] },
        SeqCase { name: "interval daily preset in utc", kind: Interval, cron: "@daily", tz: "UTC", start: None, end: None, after: "2024-01-01T10:30:00Z", n: 3, want: &[("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"), ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"), ("2024-01-04T00:00:00Z", "2024-01-05T00:00:00Z")] },
        SeqCase { name: "interval weekly preset runs on sundays", kind: Interval, cron: "@weekly", tz: "UTC", start: None, end: None, after: "2024-01-01T00:00:00Z", n: 3, want: &[("2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"), ("2024-01-14T00:00:00Z", "2024-01-21T00:00:00Z"), ("2024-01-21T00:00:00Z", "2024-01-28T00:00:00Z")] },
        SeqCase { name: "interval monthly preset in utc", kind: Interval, cron: "@monthly", tz: "UTC", start: None, end: None, after: "2024-01-15T00:00:00Z", n: 3, want: &[("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"), ("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"), ("2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z")] },
        SeqCase { name: "interval yearly preset in utc", kind: Interval, cron: "@yearly", tz: "UTC", start: None, end: None, after: "2024-03-01T00:00:00Z", n: 2, want: &[("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"), ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")] },
        SeqCase { name: "interval plain cron every fifteen minutes on weekdays", kind: Interval, cron: "*/15 9-17 * * 1-5", tz: "UTC", start: None, end: None, after: "2024-01-05T17:20:00Z", n: 3, want: &[("2024-01-05T17:30:00Z", "2024-01-05T17:45:00Z"), ("2024-01-05T17:45:00Z", "2024-01-08T09:00:00Z"), ("2024-01-08T09:00:00Z", "2024-01-08T09:15:00Z")] },
        SeqCase { name: "interval first of month or monday", kind: Interval, cron: "0 0 1 * MON", tz: "UTC", start: None, end: None, after: "2024-01-25T00:00:00Z", n: 5, want: &[("2024-01-29T00:00:00Z", "2024-02-01T00:00:00Z"), ("2024-02-01T00:00:00Z", "2024-02-05T00:00:00Z"), ("2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"), ("2024-02-12T00:00:00Z", "2024-02-19T00:00:00Z"), ("2024-02-19T00:00:00Z", "2024-02-26T00:00:00Z")] },
        SeqCase { name: "interval start date after the query start wins", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-10T06:00:00Z"), end: None, after: "2024-01-01T00:00:00Z", n: 2, want: &[("2024-01-11T00:00:00Z", "2024-01-12T00:00:00Z"), ("2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z")] },
        SeqCase { name: "interval end date stops the sequence", kind: Interval, cron: "@daily", tz: "UTC", start: None, end: Some("2024-01-03T00:00:00Z"), after: "2024-01-01T00:00:00Z", n: 5, want: &[("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"), ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"), ("2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z")] },
        SeqCase { name: "interval new york daily 02:30 across spring forward", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-08T12:00:00Z", n: 4, want: &[("2024-03-09T07:30:00Z", "2024-03-10T07:30:00Z"), ("2024-03-10T07:30:00Z", "2024-03-11T06:30:00Z"), ("2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"), ("2024-03-12T06:30:00Z", "2024-03-13T06:30:00Z")] },
        SeqCase { name: "interval new york daily 02:30 across fall back", kind: Interval, cron: "30 2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-01T12:00:00Z", n: 4, want: &[("2024-11-02T06:30:00Z", "2024-11-03T07:30:00Z"), ("2024-11-03T07:30:00Z", "2024-11-04T07:30:00Z"), ("2024-11-04T07:30:00Z", "2024-11-05T07:30:00Z"), ("2024-11-05T07:30:00Z", "2024-11-06T07:30:00Z")] },
        SeqCase { name: "interval new york daily 01:30 across fall back", kind: Interval, cron: "30 1 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-01T12:00:00Z", n: 4, want: &[("2024-11-02T05:30:00Z", "2024-11-03T06:30:00Z"), ("2024-11-03T06:30:00Z", "2024-11-04T06:30:00Z"), ("2024-11-04T06:30:00Z", "2024-11-05T06:30:00Z"), ("2024-11-05T06:30:00Z", "2024-11-06T06:30:00Z")] },
        SeqCase { name: "interval new york daily 01:30 across spring forward", kind: Interval, cron: "30 1 * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-08T12:00:00Z", n: 4, want: &[("2024-03-09T06:30:00Z", "2024-03-10T06:30:00Z"), ("2024-03-10T06:30:00Z", "2024-03-11T05:30:00Z"), ("2024-03-11T05:30:00Z", "2024-03-12T05:30:00Z"), ("2024-03-12T05:30:00Z", "2024-03-13T05:30:00Z")] },
        SeqCase { name: "interval new york hourly across spring forward", kind: Interval, cron: "0 * * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-10T05:00:00Z", n: 5, want: &[("2024-03-10T05:00:00Z", "2024-03-10T06:00:00Z"), ("2024-03-10T06:00:00Z", "2024-03-10T07:00:00Z"), ("2024-03-10T07:00:00Z", "2024-03-10T08:00:00Z"), ("2024-03-10T08:00:00Z", "2024-03-10T09:00:00Z"), ("2024-03-10T09:00:00Z", "2024-03-10T10:00:00Z")] },
        SeqCase { name: "interval new york half past hourly across fall back", kind: Interval, cron: "30 * * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-03T04:00:00Z", n: 5, want: &[("2024-11-03T04:30:00Z", "2024-11-03T05:30:00Z"), ("2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z"), ("2024-11-03T06:30:00Z", "2024-11-03T07:30:00Z"), ("2024-11-03T07:30:00Z", "2024-11-03T08:30:00Z"), ("2024-11-03T08:30:00Z", "2024-11-03T09:30:00Z")] },
        SeqCase { name: "interval london daily 02:30 across spring forward", kind: Interval, cron: "30 2 * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-29T12:00:00Z", n: 4, want: &[("2024-03-30T02:30:00Z", "2024-03-31T01:30:00Z"), ("2024-03-31T01:30:00Z", "2024-04-01T01:30:00Z"), ("2024-04-01T01:30:00Z", "2024-04-02T01:30:00Z"), ("2024-04-02T01:30:00Z", "2024-04-03T01:30:00Z")] },
        SeqCase { name: "interval london daily 01:30 across fall back", kind: Interval, cron: "30 1 * * *", tz: "Europe/London", start: None, end: None, after: "2024-10-25T12:00:00Z", n: 4, want: &[("2024-10-26T00:30:00Z", "2024-10-27T01:30:00Z"), ("2024-10-27T01:30:00Z", "2024-10-28T01:30:00Z"), ("2024-10-28T01:30:00Z", "2024-10-29T01:30:00Z"), ("2024-10-29T01:30:00Z", "2024-10-30T01:30:00Z")] },
        SeqCase { name: "interval london daily 01:30 across spring forward", kind: Interval, cron: "30 1 * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-29T12:00:00Z", n: 4, want: &[("2024-03-30T01:30:00Z", "2024-03-31T01:30:00Z"), ("2024-03-31T01:30:00Z", "2024-04-01T00:30:00Z"), ("2024-04-01T00:30:00Z", "2024-04-02T00:30:00Z"), ("2024-04-02T00:30:00Z", "2024-04-03T00:30:00Z")] },
        SeqCase { name: "interval london hourly across fall back", kind: Interval, cron: "0 * * * *", tz: "Europe/London", start: None, end: None, after: "2024-10-26T23:00:00Z", n: 5, want: &[("2024-10-26T23:00:00Z", "2024-10-27T00:00:00Z"), ("2024-10-27T00:00:00Z", "2024-10-27T01:00:00Z"), ("2024-10-27T01:00:00Z", "2024-10-27T02:00:00Z"), ("2024-10-27T02:00:00Z", "2024-10-27T03:00:00Z"), ("2024-10-27T03:00:00Z", "2024-10-27T04:00:00Z")] },
        SeqCase { name: "interval london half past hourly across spring forward", kind: Interval, cron: "30 * * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-31T00:00:00Z", n: 4, want: &[("2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z"), ("2024-03-31T01:30:00Z", "2024-03-31T02:30:00Z"), ("2024-03-31T02:30:00Z", "2024-03-31T03:30:00Z"), ("2024-03-31T03:30:00Z", "2024-03-31T04:30:00Z")] },
        SeqCase { name: "interval new york every two hours across fall back", kind: Interval, cron: "0 */2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-03T03:00:00Z", n: 4, want: &[("2024-11-03T04:00:00Z", "2024-11-03T07:00:00Z"), ("2024-11-03T07:00:00Z", "2024-11-03T09:00:00Z"), ("2024-11-03T09:00:00Z", "2024-11-03T11:00:00Z"), ("2024-11-03T11:00:00Z", "2024-11-03T13:00:00Z")] },
        SeqCase { name: "trigger hourly preset in utc", kind: Trigger, cron: "@hourly", tz: "UTC", start: None, end: None, after: "2024-01-01T10:30:00Z", n: 3, want: &[("2024-01-01T11:00:00Z", "2024-01-01T11:00:00Z"), ("2024-01-01T12:00:00Z", "2024-01-01T12:00:00Z"), ("2024-01-01T13:00:00Z", "2024-01-01T13:00:00Z")] },
        SeqCase { name: "trigger daily preset in utc", kind: Trigger, cron: "@daily", tz: "UTC", start: None, end: None, after: "2024-01-01T10:30:00Z", n: 3, want: &[("2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z"), ("2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z"), ("2024-01-04T00:00:00Z", "2024-01-04T00:00:00Z")] },
        SeqCase { name: "trigger weekly preset runs on sundays", kind: Trigger, cron: "@weekly", tz: "UTC", start: None, end: None, after: "2024-01-01T00:00:00Z", n: 3, want: &[("2024-01-07T00:00:00Z", "2024-01-07T00:00:00Z"), ("2024-01-14T00:00:00Z", "2024-01-14T00:00:00Z"), ("2024-01-21T00:00:00Z", "2024-01-21T00:00:00Z")] },
        SeqCase { name: "trigger monthly preset in utc", kind: Trigger, cron: "@monthly", tz: "UTC", start: None, end: None, after: "2024-01-15T00:00:00Z", n: 3, want: &[("2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z"), ("2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z"), ("2024-04-01T00:00:00Z", "2024-04-01T00:00:00Z")] },
        SeqCase { name: "trigger yearly preset in utc", kind: Trigger, cron: "@yearly", tz: "UTC", start: None, end: None, after: "2024-03-01T00:00:00Z", n: 2, want: &[("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"), ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")] },
        SeqCase { name: "trigger plain cron every fifteen minutes on weekdays", kind: Trigger, cron: "*/15 9-17 * * 1-5", tz: "UTC", start: None, end: None, after: "2024-01-05T17:20:00Z", n: 3, want: &[("2024-01-05T17:30:00Z", "2024-01-05T17:30:00Z"), ("2024-01-05T17:45:00Z", "2024-01-05T17:45:00Z"), ("2024-01-08T09:00:00Z", "2024-01-08T09:00:00Z")] },
        SeqCase { name: "trigger first of month or monday", kind: Trigger, cron: "0 0 1 * MON", tz: "UTC", start: None, end: None, after: "2024-01-25T00:00:00Z", n: 5, want: &[("2024-01-29T00:00:00Z", "2024-01-29T00:00:00Z"), ("2024-02-01T00:00:00Z", "2024-02-01T00:00:00Z"), ("2024-02-05T00:00:00Z", "2024-02-05T00:00:00Z"), ("2024-02-12T00:00:00Z", "2024-02-12T00:00:00Z"), ("2024-02-19T00:00:00Z", "2024-02-19T00:00:00Z")] },
        SeqCase { name: "trigger start date after the query start wins", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-10T06:00:00Z"), end: None, after: "2024-01-01T00:00:00Z", n: 2, want: &[("2024-01-11T00:00:00Z", "2024-01-11T00:00:00Z"), ("2024-01-12T00:00:00Z", "2024-01-12T00:00:00Z")] },
        SeqCase { name: "trigger end date stops the sequence", kind: Trigger, cron: "@daily", tz: "UTC", start: None, end: Some("2024-01-03T00:00:00Z"), after: "2024-01-01T00:00:00Z", n: 5, want: &[("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"), ("2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z"), ("2024-01-03T00:00:00Z", "2024-01-03T00:00:00Z")] },
        SeqCase { name: "trigger new york daily 02:30 across spring forward", kind: Trigger, cron: "30 2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-08T12:00:00Z", n: 4, want: &[("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z"), ("2024-03-10T07:30:00Z", "2024-03-10T07:30:00Z"), ("2024-03-11T06:30:00Z", "2024-03-11T06:30:00Z"), ("2024-03-12T06:30:00Z", "2024-03-12T06:30:00Z")] },
        SeqCase { name: "trigger new york daily 02:30 across fall back", kind: Trigger, cron: "30 2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-01T12:00:00Z", n: 4, want: &[("2024-11-02T06:30:00Z", "2024-11-02T06:30:00Z"), ("2024-11-03T07:30:00Z", "2024-11-03T07:30:00Z"), ("2024-11-04T07:30:00Z", "2024-11-04T07:30:00Z"), ("2024-11-05T07:30:00Z", "2024-11-05T07:30:00Z")] },
        SeqCase { name: "trigger new york daily 01:30 across fall back", kind: Trigger, cron: "30 1 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-01T12:00:00Z", n: 4, want: &[("2024-11-02T05:30:00Z", "2024-11-02T05:30:00Z"), ("2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z"), ("2024-11-04T06:30:00Z", "2024-11-04T06:30:00Z"), ("2024-11-05T06:30:00Z", "2024-11-05T06:30:00Z")] },
        SeqCase { name: "trigger new york daily 01:30 across spring forward", kind: Trigger, cron: "30 1 * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-08T12:00:00Z", n: 4, want: &[("2024-03-09T06:30:00Z", "2024-03-09T06:30:00Z"), ("2024-03-10T06:30:00Z", "2024-03-10T06:30:00Z"), ("2024-03-11T05:30:00Z", "2024-03-11T05:30:00Z"), ("2024-03-12T05:30:00Z", "2024-03-12T05:30:00Z")] },
        SeqCase { name: "trigger new york hourly across spring forward", kind: Trigger, cron: "0 * * * *", tz: "America/New_York", start: None, end: None, after: "2024-03-10T05:00:00Z", n: 5, want: &[("2024-03-10T05:00:00Z", "2024-03-10T05:00:00Z"), ("2024-03-10T06:00:00Z", "2024-03-10T06:00:00Z"), ("2024-03-10T07:00:00Z", "2024-03-10T07:00:00Z"), ("2024-03-10T08:00:00Z", "2024-03-10T08:00:00Z"), ("2024-03-10T09:00:00Z", "2024-03-10T09:00:00Z")] },
        SeqCase { name: "trigger new york half past hourly across fall back", kind: Trigger, cron: "30 * * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-03T04:00:00Z", n: 5, want: &[("2024-11-03T04:30:00Z", "2024-11-03T04:30:00Z"), ("2024-11-03T05:30:00Z", "2024-11-03T05:30:00Z"), ("2024-11-03T06:30:00Z", "2024-11-03T06:30:00Z"), ("2024-11-03T07:30:00Z", "2024-11-03T07:30:00Z"), ("2024-11-03T08:30:00Z", "2024-11-03T08:30:00Z")] },
        SeqCase { name: "trigger london daily 02:30 across spring forward", kind: Trigger, cron: "30 2 * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-29T12:00:00Z", n: 4, want: &[("2024-03-30T02:30:00Z", "2024-03-30T02:30:00Z"), ("2024-03-31T01:30:00Z", "2024-03-31T01:30:00Z"), ("2024-04-01T01:30:00Z", "2024-04-01T01:30:00Z"), ("2024-04-02T01:30:00Z", "2024-04-02T01:30:00Z")] },
        SeqCase { name: "trigger london daily 01:30 across fall back", kind: Trigger, cron: "30 1 * * *", tz: "Europe/London", start: None, end: None, after: "2024-10-25T12:00:00Z", n: 4, want: &[("2024-10-26T00:30:00Z", "2024-10-26T00:30:00Z"), ("2024-10-27T01:30:00Z", "2024-10-27T01:30:00Z"), ("2024-10-28T01:30:00Z", "2024-10-28T01:30:00Z"), ("2024-10-29T01:30:00Z", "2024-10-29T01:30:00Z")] },
        SeqCase { name: "trigger london daily 01:30 across spring forward", kind: Trigger, cron: "30 1 * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-29T12:00:00Z", n: 4, want: &[("2024-03-30T01:30:00Z", "2024-03-30T01:30:00Z"), ("2024-03-31T01:30:00Z", "2024-03-31T01:30:00Z"), ("2024-04-01T00:30:00Z", "2024-04-01T00:30:00Z"), ("2024-04-02T00:30:00Z", "2024-04-02T00:30:00Z")] },
        SeqCase { name: "trigger london hourly across fall back", kind: Trigger, cron: "0 * * * *", tz: "Europe/London", start: None, end: None, after: "2024-10-26T23:00:00Z", n: 5, want: &[("2024-10-26T23:00:00Z", "2024-10-26T23:00:00Z"), ("2024-10-27T00:00:00Z", "2024-10-27T00:00:00Z"), ("2024-10-27T01:00:00Z", "2024-10-27T01:00:00Z"), ("2024-10-27T02:00:00Z", "2024-10-27T02:00:00Z"), ("2024-10-27T03:00:00Z", "2024-10-27T03:00:00Z")] },
        SeqCase { name: "trigger london half past hourly across spring forward", kind: Trigger, cron: "30 * * * *", tz: "Europe/London", start: None, end: None, after: "2024-03-31T00:00:00Z", n: 4, want: &[("2024-03-31T00:30:00Z", "2024-03-31T00:30:00Z"), ("2024-03-31T01:30:00Z", "2024-03-31T01:30:00Z"), ("2024-03-31T02:30:00Z", "2024-03-31T02:30:00Z"), ("2024-03-31T03:30:00Z", "2024-03-31T03:30:00Z")] },
        SeqCase { name: "trigger new york every two hours across fall back", kind: Trigger, cron: "0 */2 * * *", tz: "America/New_York", start: None, end: None, after: "2024-11-03T03:00:00Z", n: 4, want: &[("2024-11-03T04:00:00Z", "2024-11-03T04:00:00Z"), ("2024-11-03T07:00:00Z", "2024-11-03T07:00:00Z"), ("2024-11-03T09:00:00Z", "2024-11-03T09:00:00Z"), ("2024-11-03T11:00:00Z", "2024-11-03T11:00:00Z")] },
    ];

    #[rustfmt::skip]
    const DUE_CASES: &[DueCase] = &[
        DueCase { name: "interval without catchup after three days down runs only the latest interval", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: false, last: Some(("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 100, want: &[("2024-06-04T00:00:00Z", "2024-06-05T00:00:00Z")] },
        DueCase { name: "interval with catchup after three days down runs every missed interval in order", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 100, want: &[("2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z"), ("2024-06-03T00:00:00Z", "2024-06-04T00:00:00Z"), ("2024-06-04T00:00:00Z", "2024-06-05T00:00:00Z")] },
        DueCase { name: "interval with catchup is capped by the limit", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 2, want: &[("2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z"), ("2024-06-03T00:00:00Z", "2024-06-04T00:00:00Z")] },
        DueCase { name: "interval with nothing due yields no run", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-02T09:00:00Z", limit: 100, want: &[] },
        DueCase { name: "interval new york hourly catchup through the fall back fold", kind: Interval, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-11-03T03:00:00Z"), catchup: true, last: None, now: "2024-11-03T07:30:00Z", limit: 100, want: &[("2024-11-03T03:00:00Z", "2024-11-03T04:00:00Z"), ("2024-11-03T04:00:00Z", "2024-11-03T05:00:00Z"), ("2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z"), ("2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z")] },
        DueCase { name: "trigger without catchup after three days down runs only the latest interval", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: false, last: Some(("2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 100, want: &[("2024-06-05T00:00:00Z", "2024-06-05T00:00:00Z")] },
        DueCase { name: "trigger with catchup after three days down runs every missed interval in order", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 100, want: &[("2024-06-03T00:00:00Z", "2024-06-03T00:00:00Z"), ("2024-06-04T00:00:00Z", "2024-06-04T00:00:00Z"), ("2024-06-05T00:00:00Z", "2024-06-05T00:00:00Z")] },
        DueCase { name: "trigger with catchup is capped by the limit", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", limit: 2, want: &[("2024-06-03T00:00:00Z", "2024-06-03T00:00:00Z"), ("2024-06-04T00:00:00Z", "2024-06-04T00:00:00Z")] },
        DueCase { name: "trigger with nothing due yields no run", kind: Trigger, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), catchup: true, last: Some(("2024-06-02T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-02T09:00:00Z", limit: 100, want: &[] },
        DueCase { name: "trigger new york hourly catchup through the fall back fold", kind: Trigger, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-11-03T03:00:00Z"), catchup: true, last: None, now: "2024-11-03T07:30:00Z", limit: 100, want: &[("2024-11-03T03:00:00Z", "2024-11-03T03:00:00Z"), ("2024-11-03T04:00:00Z", "2024-11-03T04:00:00Z"), ("2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z"), ("2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z"), ("2024-11-03T07:00:00Z", "2024-11-03T07:00:00Z")] },
    ];

    #[rustfmt::skip]
    const WAKEUP_CASES: &[WakeupCase] = &[
        WakeupCase { name: "interval daily without catchup wakes at the next midnight", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-06-09T00:00:00Z", "2024-06-10T00:00:00Z")), now: "2024-06-10T15:30:00Z", want: Some("2024-06-11T00:00:00Z") },
        WakeupCase { name: "interval behind schedule wakes immediately", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z")), now: "2024-06-05T09:00:00Z", want: Some("2024-06-05T09:00:00Z") },
        WakeupCase { name: "interval past its end date never wakes", kind: Interval, cron: "@daily", tz: "UTC", start: Some("2024-01-01T00:00:00Z"), end: Some("2024-06-02T00:00:00Z"), catchup: true, last: Some(("2024-06-02T00:00:00Z", "2024-06-03T00:00:00Z")), now: "2024-06-03T09:00:00Z", want: None },
        WakeupCase { name: "trigger hourly wakes at the repeated new york hour", kind: Trigger, cron: "0 * * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-11-03T05:00:00Z", "2024-11-03T05:00:00Z")), now: "2024-11-03T05:10:00Z", want: Some("2024-11-03T06:00:00Z") },
        WakeupCase { name: "interval daily 01:30 wakes at the second new york 01:30", kind: Interval, cron: "30 1 * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-11-01T05:30:00Z", "2024-11-02T05:30:00Z")), now: "2024-11-02T12:00:00Z", want: Some("2024-11-03T06:30:00Z") },
        WakeupCase { name: "trigger daily 02:30 wakes at 03:30 edt on the new york gap day", kind: Trigger, cron: "30 2 * * *", tz: "America/New_York", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-03-09T07:30:00Z", "2024-03-09T07:30:00Z")), now: "2024-03-09T12:00:00Z", want: Some("2024-03-10T07:30:00Z") },
    ];

    // airflow validate('61 * * * *'): rejected: [61 * * * *] is not acceptable, out of range
    // airflow validate('0 24 * * *'): rejected: [0 24 * * *] is not acceptable, out of range
    // airflow validate('0 0 32 * *'): rejected: [0 0 32 * *] is not acceptable, out of range
    // airflow validate('0 0 * 13 *'): rejected: [0 0 * 13 *] is not acceptable, out of range
    // airflow validate('0 0 * * 8'): rejected: [0 0 * * 8] is not acceptable, out of range
    // airflow validate('0 0 * *'): rejected: Exactly 5, 6 or 7 columns has to be specified for iterator expression.
    // airflow validate('0 0 * * * *'): accepted
    // airflow validate('@fortnightly'): rejected: Exactly 5, 6 or 7 columns has to be specified for iterator expression.
    // airflow validate('0 0 1 * MON'): accepted
    // airflow validate('@quarterly'): accepted

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamps are RFC 3339")
            .with_timezone(&Utc)
    }

    fn interval((start, end): (&str, &str)) -> DataInterval {
        DataInterval {
            start: t(start),
            end: t(end),
        }
    }

    fn timetable(
        kind: TimetableKind,
        cron: &str,
        tz: &str,
        start: Option<&str>,
        end: Option<&str>,
        catchup: bool,
    ) -> Timetable {
        Timetable {
            schedule: Some(CronSchedule::parse(cron).expect("oracle crons parse")),
            kind,
            timezone: tz.parse().expect("oracle zones exist"),
            start_date: start.map(t),
            end_date: end.map(t),
            catchup,
        }
    }

    fn pairs(runs: &[RunInfo]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        runs.iter()
            .map(|run| (run.data_interval.start, run.data_interval.end))
            .collect()
    }

    fn check_run_shape(kind: TimetableKind, run: &RunInfo) -> bool {
        let interval = run.data_interval;
        match kind {
            Interval => run.logical_date == interval.start && run.run_after == interval.end,
            Trigger => {
                run.logical_date == interval.start
                    && interval.start == interval.end
                    && run.run_after == interval.end
            }
        }
    }

    #[test]
    fn next_run_info_matches_airflow_for_every_case() {
        let mut failures = Vec::new();
        for case in INFO_CASES {
            let tt = timetable(
                case.kind,
                case.cron,
                case.tz,
                case.start,
                case.end,
                case.catchup,
            );
            let got = tt.next_run_info(case.last.map(interval), t(case.now));
            let want = case.want.map(|(logical, start, end, run_after)| RunInfo {
                logical_date: t(logical),
                data_interval: DataInterval {
                    start: t(start),
                    end: t(end),
                },
                run_after: t(run_after),
            });
            if got != want {
                failures.push(format!("{}: got {got:?}, want {want:?}", case.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn next_runs_match_airflow_sequences_including_dst_days() {
        let mut failures = Vec::new();
        for case in SEQ_CASES {
            let tt = timetable(case.kind, case.cron, case.tz, case.start, case.end, false);
            let runs = tt.next_runs(t(case.after), case.n);
            let want: Vec<_> = case.want.iter().map(|&(s, e)| (t(s), t(e))).collect();
            if pairs(&runs) != want {
                failures.push(format!(
                    "{}: got {:?}, want {want:?}",
                    case.name,
                    pairs(&runs)
                ));
            }
            if let Some(bad) = runs.iter().find(|run| !check_run_shape(case.kind, run)) {
                failures.push(format!("{}: malformed run {bad:?}", case.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn due_runs_match_the_airflow_scheduler_loop() {
        let mut failures = Vec::new();
        for case in DUE_CASES {
            let tt = timetable(
                case.kind,
                case.cron,
                case.tz,
                case.start,
                None,
                case.catchup,
            );
            let runs = tt.due_runs(case.last.map(interval), t(case.now), case.limit);
            let want: Vec<_> = case.want.iter().map(|&(s, e)| (t(s), t(e))).collect();
            if pairs(&runs) != want {
                failures.push(format!(
                    "{}: got {:?}, want {want:?}",
                    case.name,
                    pairs(&runs)
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn next_wakeup_is_the_next_run_after_or_now_when_already_due() {
        let mut failures = Vec::new();
        for case in WAKEUP_CASES {
            let tt = timetable(
                case.kind,
                case.cron,
                case.tz,
                case.start,
                case.end,
                case.catchup,
            );
            let got = tt.next_wakeup(case.last.map(interval), t(case.now));
            let want = case.want.map(t);
            if got != want {
                failures.push(format!("{}: got {got:?}, want {want:?}", case.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_timetable_without_a_schedule_never_runs() {
        let tt = Timetable {
            schedule: None,
            kind: Interval,
            timezone: Tz::UTC,
            start_date: Some(t("2024-01-01T00:00:00Z")),
            end_date: None,
            catchup: true,
        };
        let now = t("2024-06-01T00:00:00Z");
        assert_eq!(tt.next_run_info(None, now), None);
        assert!(tt.next_runs(now, 5).is_empty());
        assert!(tt.due_runs(None, now, 5).is_empty());
        assert_eq!(tt.next_wakeup(None, now), None);
    }

    #[test]
    fn presets_expand_to_their_airflow_cron() {
        let cases = [
            ("@hourly", "0 * * * *"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@weekly", "0 0 * * 0"),
            ("@monthly", "0 0 1 * *"),
            ("@quarterly", "0 0 1 */3 *"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
        ];
        let from = t("2023-11-15T13:45:00Z");
        for (name, cron) in cases {
            let a = timetable(Trigger, name, "UTC", None, None, true).next_runs(from, 4);
            let b = timetable(Trigger, cron, "UTC", None, None, true).next_runs(from, 4);
            assert_eq!(pairs(&a), pairs(&b), "{name}");
            assert_eq!(a.len(), 4, "{name}");
            let parsed = CronSchedule::parse(name).expect("preset parses");
            assert_eq!(parsed.expr(), name);
        }
    }

    #[test]
    fn invalid_schedules_are_rejected_with_a_clear_message() {
        let cases = [
            ("61 * * * *", "minute 61 is out of range 0-59"),
            ("0 24 * * *", "hour 24 is out of range 0-23"),
            ("0 0 32 * *", "day-of-month 32 is out of range 1-31"),
            ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
            ("0 0 * 13 *", "month 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
            ("0 0-25 * * *", "hour 25 is out of range 0-23"),
            (
                "0 0 * * * *",
                "6 fields given but a seconds field is not supported",
            ),
            ("0 0 * *", "expected 5 fields, got 4"),
            ("0 0 * * * * 2024", "expected 5 fields, got 7"),
            ("*/0 * * * *", "minute step `0` must be a positive number"),
            (
                "0 0 * * FOO",
                "day-of-week `FOO` is not a valid value or range",
            ),
            (
                "0 0 * JANUARY *",
                "month `JANUARY` is not a valid value or range",
            ),
            (
                "0 0 LW * *",
                "day-of-month `LW` is not a valid value or range",
            ),
            (
                "0 0 * * 5L",
                "day-of-week `5L` is not a valid value or range",
            ),
            (
                "0 0 * * 5#6",
                "day-of-week `5#6` is not a valid value or range",
            ),
            (
                "0 5-5 * * *",
                "hour range `5-5` starts and ends on the same value, which Airflow versions read differently; write `5`",
            ),
            (
                "0 23/2 * * *",
                "hour `23/2` steps from the last value, which Airflow versions read differently; write `23`",
            ),
            (
                "0 22-4/2 * * *",
                "hour range `22-4/2` wraps around with a step, which Airflow versions read differently; split it into two ranges",
            ),
            (
                "0 0 15 * 1#1",
                "a `#` or `L` day-of-week cannot be combined with a day-of-month, which Airflow does not schedule reliably; set day-of-month to *",
            ),
            (
                "0 0 * * 1#2,3",
                "day-of-week `1#2,3` mixes `#`/`L` days with plain days, which Airflow does not support",
            ),
            ("0 0 32W * *", "day-of-month 32 is out of range 1-31"),
        ];
        for (expr, reason) in cases {
            let err = CronSchedule::parse(expr).expect_err(expr);
            assert_eq!(err.to_string(), format!("invalid cron `{expr}`: {reason}"));
        }
        let err = CronSchedule::parse("@fortnightly").expect_err("unknown preset");
        assert!(
            err.to_string()
                .starts_with("invalid cron `@fortnightly`: unknown preset (accepted: ")
        );
        assert_eq!(
            CronSchedule::parse("   ").expect_err("blank").to_string(),
            "invalid cron ``: the schedule is empty"
        );
    }

    #[test]
    fn valid_schedules_parse_and_keep_their_expression() {
        for expr in [
            "0 0 1 * MON",
            "*/15 9-17 * * 1-5",
            "0 0 * * 7",
            "0 0 L * *",
            "0 0 * jan,jul sun",
            "0 0 15W * *",
            "0 12 * * L5",
            "0 0 ? * 1#5",
        ] {
            let parsed = CronSchedule::parse(expr).expect(expr);
            assert_eq!(parsed.expr(), expr);
        }
    }

    #[test]
    fn a_manual_run_covers_the_last_complete_interval_as_in_airflow() {
        let tt = timetable(
            Interval,
            "@daily",
            "UTC",
            Some("2024-01-01T00:00:00Z"),
            None,
            false,
        );
        let got = tt.manual_data_interval(t("2024-01-25T01:00:00Z"));
        assert_eq!(
            got,
            DataInterval {
                start: t("2024-01-24T00:00:00Z"),
                end: t("2024-01-25T00:00:00Z")
            }
        );
        let on_tick = tt.manual_data_interval(t("2024-01-25T00:00:00Z"));
        assert_eq!(
            on_tick,
            DataInterval {
                start: t("2024-01-24T00:00:00Z"),
                end: t("2024-01-25T00:00:00Z")
            }
        );
        let trigger = timetable(Trigger, "@daily", "UTC", None, None, false);
        let at = t("2024-01-25T01:00:00Z");
        assert_eq!(
            trigger.manual_data_interval(at),
            DataInterval { start: at, end: at }
        );
    }

    struct UpcomingCase {
        name: &'static str,
        kind: TimetableKind,
        cron: &'static str,
        start: Option<&'static str>,
        end: Option<&'static str>,
        catchup: bool,
        last: Option<(&'static str, &'static str)>,
        now: &'static str,
        // (logical_date, run_after), the run that starts next first
        want: &'static [(&'static str, &'static str)],
    }

    #[rustfmt::skip]
    const UPCOMING_CASES: &[UpcomingCase] = &[
        UpcomingCase { name: "03:00 daily without catchup never run: the latest complete interval, due at once", kind: Interval, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-12-03T10:00:00Z", want: &[("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z"), ("2024-12-03T03:00:00Z", "2024-12-04T03:00:00Z")] },
        UpcomingCase { name: "03:00 daily after the 12-02 run: the 12-03 run, which starts 12-04 03:00", kind: Interval, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-12-03T03:00:00Z", "2024-12-04T03:00:00Z"), ("2024-12-04T03:00:00Z", "2024-12-05T03:00:00Z")] },
        UpcomingCase { name: "every 5 minutes at 01:08 after the 01:00 run: the 01:05 run starts at 01:10", kind: Interval, cron: "*/5 * * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-12-03T01:00:00Z", "2024-12-03T01:05:00Z")), now: "2024-12-03T01:08:00Z", want: &[("2024-12-03T01:05:00Z", "2024-12-03T01:10:00Z"), ("2024-12-03T01:10:00Z", "2024-12-03T01:15:00Z")] },
        UpcomingCase { name: "every 5 minutes with catchup at 01:08 after the 01:00 run: the same", kind: Interval, cron: "*/5 * * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-12-03T01:00:00Z", "2024-12-03T01:05:00Z")), now: "2024-12-03T01:08:00Z", want: &[("2024-12-03T01:05:00Z", "2024-12-03T01:10:00Z"), ("2024-12-03T01:10:00Z", "2024-12-03T01:15:00Z")] },
        UpcomingCase { name: "03:00 daily with catchup never run: every interval since start_date, in order", kind: Interval, cron: "0 3 * * *", start: Some("2024-12-01T00:00:00Z"), end: None, catchup: true, last: None, now: "2024-12-03T10:00:00Z", want: &[("2024-12-01T03:00:00Z", "2024-12-02T03:00:00Z"), ("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z"), ("2024-12-03T03:00:00Z", "2024-12-04T03:00:00Z")] },
        UpcomingCase { name: "03:00 daily with catchup after downtime: the first missed interval first", kind: Interval, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-11-29T03:00:00Z", "2024-11-30T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-11-30T03:00:00Z", "2024-12-01T03:00:00Z"), ("2024-12-01T03:00:00Z", "2024-12-02T03:00:00Z")] },
        UpcomingCase { name: "03:00 daily without catchup after downtime: only the latest missed interval", kind: Interval, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-11-29T03:00:00Z", "2024-11-30T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z"), ("2024-12-03T03:00:00Z", "2024-12-04T03:00:00Z")] },
        UpcomingCase { name: "03:00 daily with a future start date: its first interval", kind: Interval, cron: "0 3 * * *", start: Some("2025-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-12-03T10:00:00Z", want: &[("2025-01-01T03:00:00Z", "2025-01-02T03:00:00Z"), ("2025-01-02T03:00:00Z", "2025-01-03T03:00:00Z")] },
        UpcomingCase { name: "03:00 daily ends at its end date", kind: Interval, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: Some("2024-12-04T00:00:00Z"), catchup: false, last: Some(("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-12-03T03:00:00Z", "2024-12-04T03:00:00Z")] },
        UpcomingCase { name: "trigger 03:00 without catchup never run: the latest tick, due at once", kind: Trigger, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: None, now: "2024-12-03T10:00:00Z", want: &[("2024-12-03T03:00:00Z", "2024-12-03T03:00:00Z"), ("2024-12-04T03:00:00Z", "2024-12-04T03:00:00Z")] },
        UpcomingCase { name: "trigger 03:00 after the 12-03 tick: the next tick", kind: Trigger, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: false, last: Some(("2024-12-03T03:00:00Z", "2024-12-03T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-12-04T03:00:00Z", "2024-12-04T03:00:00Z"), ("2024-12-05T03:00:00Z", "2024-12-05T03:00:00Z")] },
        UpcomingCase { name: "trigger with catchup after downtime: the first missed tick first", kind: Trigger, cron: "0 3 * * *", start: Some("2024-01-01T00:00:00Z"), end: None, catchup: true, last: Some(("2024-12-01T03:00:00Z", "2024-12-01T03:00:00Z")), now: "2024-12-03T10:00:00Z", want: &[("2024-12-02T03:00:00Z", "2024-12-02T03:00:00Z"), ("2024-12-03T03:00:00Z", "2024-12-03T03:00:00Z"), ("2024-12-04T03:00:00Z", "2024-12-04T03:00:00Z")] },
    ];

    #[test]
    fn upcoming_runs_start_with_the_one_that_starts_next() {
        let mut failures = Vec::new();
        for case in UPCOMING_CASES {
            let tt = timetable(
                case.kind,
                case.cron,
                "UTC",
                case.start,
                case.end,
                case.catchup,
            );
            // past an end date, asking for more gives no more
            let n = case.want.len() + if case.end.is_some() { 2 } else { 0 };
            let got: Vec<_> = tt
                .upcoming(case.last.map(interval), t(case.now), n)
                .iter()
                .map(|run| (run.logical_date, run.run_after))
                .collect();
            let want: Vec<_> = case.want.iter().map(|&(l, r)| (t(l), t(r))).collect();
            if got != want {
                failures.push(format!("{}: got {got:?}, want {want:?}", case.name));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Plays the scheduler's loop (wake at `next_wakeup`, create what
    /// `due_runs` gives) and checks that it creates exactly the runs
    /// `upcoming` announced, each at its start or at once when already due.
    #[test]
    fn upcoming_runs_are_the_runs_the_scheduler_loop_creates() {
        let nows = [
            "2024-12-03T10:00:00Z",
            "2024-12-03T03:00:00Z",
            "2024-12-03T02:59:59.500000Z",
            "2024-03-10T06:45:00Z",
            "2024-11-03T05:45:00Z",
        ];
        let lasts: [Option<(&str, &str)>; 3] = [
            None,
            Some(("2024-12-02T03:00:00Z", "2024-12-03T03:00:00Z")),
            Some(("2024-11-20T03:00:00Z", "2024-11-20T03:00:00Z")),
        ];
        let mut checked = 0;
        for kind in [Interval, Trigger] {
            for cron in ["0 3 * * *", "*/5 * * * *", "@hourly", "30 1 * * *"] {
                for tz in ["UTC", "America/New_York"] {
                    for catchup in [false, true] {
                        for now in nows {
                            for last in lasts {
                                let tt = timetable(
                                    kind,
                                    cron,
                                    tz,
                                    Some("2024-11-25T00:00:00Z"),
                                    None,
                                    catchup,
                                );
                                let last = last.map(interval).filter(|l| l.end <= t(now));
                                let announced = tt.upcoming(last, t(now), 4);
                                let (mut at, mut prev, mut created) = (t(now), last, Vec::new());
                                while created.len() < 4 {
                                    let Some(wake) = tt.next_wakeup(prev, at) else {
                                        break;
                                    };
                                    at = wake;
                                    let due = tt.due_runs(prev, at, 1);
                                    let run = due[0];
                                    assert_eq!(at, max(run.run_after, t(now)));
                                    prev = Some(run.data_interval);
                                    created.push(run);
                                }
                                assert_eq!(
                                    announced, created,
                                    "{kind:?} {cron} {tz} catchup={catchup} now={now} last={last:?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 4 * 2 * 2 * 5 * 3);
    }
}
