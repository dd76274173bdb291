//! Plain-text tables for the terminal, and how their cells show instants.

use chrono::{DateTime, SecondsFormat, Utc};

/// The columns of `dags list`, whether the daemon answers or not: the next
/// run is the one the scheduler creates next (its logical date), and when
/// it starts.
pub(super) const LIST_COLUMNS: [&str; 6] =
    ["dag_id", "schedule", "next run", "starts", "paused", "file"];

/// An instant as the tables show it (RFC 3339, UTC, `Z`).
pub(super) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An API timestamp as [`iso`] writes it (`-` for none), so `dags list`
/// reads the same whether the daemon answers or not.
pub(super) fn iso_text(value: &serde_json::Value) -> String {
    match value.as_str() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| iso(t.with_timezone(&Utc)))
            .unwrap_or_else(|_| text.to_string()),
        None => "-".to_string(),
    }
}

/// Left-aligned columns separated by two spaces.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
