//! Markup written by hand where a page repeats it thousands of times (the
//! DAGs page's squares, the grid's cells): the template engine is an
//! interpreter, and 2,500 cells through it cost more than the page's
//! queries. Everything from data is escaped here.

use std::fmt::Write as _;

use super::view::{RunCell, TaskCell};

/// `text` safe inside HTML text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A DAG's runs as coloured squares, oldest first, each a link to its run
/// (its title names it: a link without text takes its title as its name).
pub fn squares(runs: &[RunCell]) -> String {
    let mut out = String::with_capacity(runs.len() * 160);
    for run in runs {
        out.push_str("<a class=\"sq st-");
        out.push_str(run.state.name);
        out.push_str("\" href=\"");
        escape_into(&mut out, &run.url);
        out.push_str("\" title=\"");
        escape_into(&mut out, &run.title);
        let _ = write!(
            out,
            "\"><span aria-hidden=\"true\">{}</span></a>",
            run.state.icon
        );
    }
    out
}

/// One grid row's cells: a task's instances across the shown runs.
pub fn grid_cells(cells: &[Option<TaskCell>]) -> String {
    let mut out = String::with_capacity(cells.len() * 180);
    for cell in cells {
        out.push_str("<td>");
        if let Some(cell) = cell {
            out.push_str("<a class=\"cell st-");
            out.push_str(cell.state.name);
            out.push_str("\" href=\"");
            escape_into(&mut out, &cell.url);
            out.push_str("\" title=\"");
            escape_into(&mut out, &cell.title);
            let _ = write!(
                out,
                "\"><span aria-hidden=\"true\">{}</span>",
                cell.state.icon
            );
            if cell.tries > 1 {
                let _ = write!(out, "<sup>{}</sup>", cell.tries);
            }
            out.push_str("</a>");
        }
        out.push_str("</td>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
