//! PLACEHOLDER until the Airflow-exact timetable lands.
use chrono::{DateTime, Utc};
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
}
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron `{0}`")]
    Invalid(String),
}
impl CronSchedule {
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        Ok(CronSchedule {
            expr: expr.to_string(),
        })
    }
    pub fn expr(&self) -> &str {
        &self.expr
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimetableKind {
    Interval,
    Trigger,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunInfo {
    pub logical_date: DateTime<Utc>,
    pub data_interval: DataInterval,
    pub run_after: DateTime<Utc>,
}
#[derive(Debug, Clone)]
pub struct Timetable {
    pub schedule: Option<CronSchedule>,
    pub kind: TimetableKind,
    pub timezone: chrono_tz::Tz,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub catchup: bool,
}
impl Timetable {
    pub fn next_run_info(
        &self,
        _last: Option<DataInterval>,
        _now: DateTime<Utc>,
    ) -> Option<RunInfo> {
        None
    }
    pub fn next_runs(&self, _after: DateTime<Utc>, _n: usize) -> Vec<RunInfo> {
        Vec::new()
    }
    pub fn due_runs(
        &self,
        _last: Option<DataInterval>,
        _now: DateTime<Utc>,
        _limit: usize,
    ) -> Vec<RunInfo> {
        Vec::new()
    }
    pub fn next_wakeup(
        &self,
        _last: Option<DataInterval>,
        _now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        None
    }
}
impl Timetable {
    pub fn manual_data_interval(&self, run_after: DateTime<Utc>) -> DataInterval {
        DataInterval {
            start: run_after,
            end: run_after,
        }
    }
}
