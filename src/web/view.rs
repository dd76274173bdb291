//! What the templates show, already in words: states with their icon, times
//! in UTC, durations, links. Plain data the pages build and serialize.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dag::Dag;
use crate::store::{RunSummary, TaskCellState};

/// A state as a page shows it: its name (the CSS class and the tooltip)
/// and an icon, so states differ without colour too.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    pub name: &'static str,
    pub icon: &'static str,
    /// Words for screen readers and tooltips ("up for retry").
    pub label: String,
}

pub fn state(name: &'static str) -> StateView {
    let icon = match name {
        "success" => "✓",
        "failed" => "✗",
        "running" => "▶",
        "queued" => "•",
        "up_for_retry" => "↻",
        "upstream_failed" => "↑",
        "skipped" => "»",
        _ => "",
    };
    StateView {
        name,
        icon,
        label: if name == "none" {
            "no status".to_string()
        } else {
            name.replace('_', " ")
        },
    }
}

/// `at` as `2026-12-02 06:40:12` (UTC).
pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `at` as `12-02 06:40` for a column head.
pub fn short_time(at: DateTime<Utc>) -> String {
    at.format("%m-%d %H:%M").to_string()
}

/// A duration as people say it: `0.8 s`, `42 s`, `3 m 04 s`, `2 h 05 m`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return String::new();
    }
    if seconds < 10.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    match whole {
        0..60 => format!("{whole} s"),
        60..3600 => format!("{} m {:02} s", whole / 60, whole % 60),
        _ => format!("{} h {:02} m", whole / 3600, (whole % 3600) / 60),
    }
}

/// Seconds from `start` to `end` (or to `now` while it runs).
pub fn seconds_between(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<f64> {
    let start = start?;
    let end = end.unwrap_or(now);
    Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
}

pub use crate::model::links::{dag_url, log_url, run_url, url_encode};

/// What the DAGs page's row and the DAG page's heading both say of a DAG.
#[derive(Debug, Clone, Serialize)]
pub struct DagHeading {
    pub dag_id: String,
    pub url: String,
    pub description: Option<String>,
    pub schedule_words: String,
    pub cron: Option<String>,
    pub timezone: String,
    pub fileloc: String,
}

impl DagHeading {
    pub fn new(dag: &Dag) -> DagHeading {
        DagHeading {
            dag_id: dag.dag_id.to_string(),
            url: dag_url(dag.dag_id.as_str()),
            description: dag.description.clone(),
            schedule_words: super::words::schedule(&dag.timetable),
            cron: dag
                .timetable
                .schedule
                .as_ref()
                .map(|c| c.expr().to_string()),
            timezone: dag.timetable.timezone.name().to_string(),
            fileloc: dag.fileloc.display().to_string(),
        }
    }
}

/// One run as a coloured square or a grid column head.
#[derive(Debug, Clone, Serialize)]
pub struct RunCell {
    pub run_id: String,
    pub url: String,
    pub state: StateView,
    pub run_type: &'static str,
    pub logical_date: String,
    pub short_date: String,
    pub title: String,
}

impl RunCell {
    pub fn new(run: &RunSummary) -> RunCell {
        RunCell {
            run_id: run.run_id.to_string(),
            url: run_url(run.dag_id.as_str(), run.run_id.as_str()),
            state: state(run.state.as_str()),
            run_type: run.run_type.as_str(),
            logical_date: time(run.logical_date),
            short_date: short_time(run.logical_date),
            title: format!(
                "{} · {} · {}",
                short_time(run.logical_date),
                run.state.as_str(),
                run.run_id
            ),
        }
    }
}

/// One task instance as a grid cell.
#[derive(Debug, Clone, Serialize)]
pub struct TaskCell {
    pub state: StateView,
    pub tries: u32,
    pub url: String,
    pub title: String,
}

impl TaskCell {
    pub fn new(run: &RunSummary, ti: &TaskCellState) -> TaskCell {
        let st = state(ti.state.as_str());
        let url = if ti.try_number > 0 {
            log_url(
                run.dag_id.as_str(),
                run.run_id.as_str(),
                ti.task_id.as_str(),
                ti.try_number,
            )
        } else {
            run_url(run.dag_id.as_str(), run.run_id.as_str())
        };
        TaskCell {
            // the column's head names the run; the date tells which one
            title: format!(
                "{} · {} · {} · try {}",
                ti.task_id,
                short_time(run.logical_date),
                st.label,
                ti.try_number
            ),
            state: st,
            tries: ti.try_number,
            url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(0.84), "0.8 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(184.0), "3 m 04 s");
        assert_eq!(duration(7500.0), "2 h 05 m");
    }

    #[test]
    fn links_hold_nothing_html_would_read_as_markup() {
        // the templates write these links unescaped
        let url = log_url("d<\"&'>", "r \"x\"&<", "t'&", 3);
        assert!(
            url.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~%/".contains(c)),
            "{url}"
        );
    }

    #[test]
    fn ids_are_encoded_in_links() {
        assert_eq!(
            run_url("d", "manual__2026-01-01T00:00:00+00:00"),
            "/dags/d/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00"
        );
    }
}
