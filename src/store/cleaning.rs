//! The statements of `airless db clean`, for both stores: each takes the
//! cut-off instant as its one parameter, written `cutoff` (`?1` in SQLite,
//! `$1` in PostgreSQL).

use super::Cleaned;

/// What `db clean` counts, reads and deletes.
pub(super) struct CleanSql {
    /// Runs, task instances, tries, alerts and owners, in that order.
    pub counts: [String; 5],
    /// The log files of the tries deleted.
    pub log_paths: String,
    /// Runs (their task instances and tries go with them, ON DELETE
    /// CASCADE), alerts, owners.
    pub deletes: [String; 3],
}

pub(super) fn clean_sql(cutoff: &str) -> CleanSql {
    // finished runs that ended (or, never started, were queued) before the
    // cut-off, except each DAG's newest scheduled run, which its timetable
    // continues from
    let runs = format!(
        "SELECT id FROM dag_runs r
         WHERE r.state IN ('success', 'failed') AND COALESCE(r.end_date, r.queued_at) < {cutoff}
           AND NOT (r.run_type = 'scheduled' AND r.logical_date =
                    (SELECT MAX(s.logical_date) FROM dag_runs s
                     WHERE s.dag_id = r.dag_id AND s.run_type = 'scheduled'))"
    );
    let alerts = format!("status IN ('delivered', 'failed') AND created_at < {cutoff}");
    let owners = format!(
        "stopped_at IS NOT NULL AND stopped_at < {cutoff}
         AND id NOT IN (SELECT owner_id FROM scheduler_lock)"
    );
    let tries = format!(
        "FROM task_tries t JOIN task_instances ti ON ti.id = t.task_instance_id
         WHERE ti.dag_run_id IN ({runs})"
    );
    CleanSql {
        counts: [
            format!("SELECT COUNT(*) FROM dag_runs WHERE id IN ({runs})"),
            format!("SELECT COUNT(*) FROM task_instances WHERE dag_run_id IN ({runs})"),
            format!("SELECT COUNT(*) {tries}"),
            format!("SELECT COUNT(*) FROM alerts WHERE {alerts}"),
            format!("SELECT COUNT(*) FROM owners WHERE {owners}"),
        ],
        log_paths: format!("SELECT t.log_path {tries} AND t.log_path <> '' ORDER BY t.id"),
        deletes: [
            format!("DELETE FROM dag_runs WHERE id IN ({runs})"),
            format!("DELETE FROM alerts WHERE {alerts}"),
            format!("DELETE FROM owners WHERE {owners}"),
        ],
    }
}

impl Cleaned {
    /// The counts of [`CleanSql::counts`], in their order.
    pub(super) fn counted(
        [dag_runs, task_instances, task_tries, alerts, owners]: [i64; 5],
    ) -> Self {
        Cleaned {
            dag_runs,
            task_instances,
            task_tries,
            alerts,
            owners,
            log_paths: Vec::new(),
        }
    }
}
