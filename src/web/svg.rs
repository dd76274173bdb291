//! The DAG's graph as SVG, drawn on the server: tasks in layers from left
//! to right (a task one layer right of its furthest upstream), ordered
//! within a layer by where their upstream tasks sit, each box coloured by
//! the selected run's state and linked to its log.

use std::fmt::Write as _;

use super::html::escape;
use crate::dag::Dag;

const BOX_W: usize = 176;
const BOX_H: usize = 30;
const GAP_X: usize = 64;
const GAP_Y: usize = 14;
const PAD: usize = 8;

/// What one task box shows: its state (CSS class and icon) and a link.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    pub state: &'static str,
    pub icon: &'static str,
    pub url: Option<String>,
}

/// The graph of `dag`, with `states[i]` for task `i` (missing: no status).
pub fn draw(dag: &Dag, states: &[NodeState]) -> String {
    let count = dag.tasks.len();
    let mut layer = vec![0usize; count];
    for &task in dag.graph.topological_order() {
        layer[task] = dag
            .graph
            .upstream(task)
            .map(|up| layer[up] + 1)
            .max()
            .unwrap_or(0);
    }
    let layers = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    // in topological order each task's upstream rows are known: sort a
    // layer by the mean row of its upstream tasks (fewer crossings)
    let mut row = vec![0f64; count];
    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for &t in dag.graph.topological_order() {
        by_layer[layer[t]].push(t);
    }
    for (l, tasks) in by_layer.iter().enumerate() {
        let mut members: Vec<(f64, usize)> = tasks
            .iter()
            .map(|&t| {
                let ups: Vec<f64> = dag.graph.upstream(t).map(|u| row[u]).collect();
                let centre = if ups.is_empty() {
                    t as f64
                } else {
                    ups.iter().sum::<f64>() / ups.len() as f64
                };
                (centre, t)
            })
            .collect();
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (i, (_, t)) in members.iter().enumerate() {
            row[*t] = i as f64;
        }
        columns[l] = members.into_iter().map(|(_, t)| t).collect();
    }
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    let width = PAD * 2 + layers * BOX_W + layers.saturating_sub(1) * GAP_X;
    let height = PAD * 2 + rows * BOX_H + rows.saturating_sub(1) * GAP_Y;
    let at = |t: usize| {
        (
            PAD + layer[t] * (BOX_W + GAP_X),
            PAD + (row[t] as usize) * (BOX_H + GAP_Y),
        )
    };

    let mut svg = String::with_capacity(256 + count * 300);
    let _ = write!(
        svg,
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Task graph of {}">"#,
        escape(dag.dag_id.as_str())
    );
    for (up, down) in dag.graph.edges() {
        let (x1, y1) = at(up);
        let (x2, y2) = at(down);
        let (x1, y1) = (x1 + BOX_W, y1 + BOX_H / 2);
        let y2 = y2 + BOX_H / 2;
        let mid = (x1 + x2) / 2;
        let _ = write!(
            svg,
            r#"<path class="edge" d="M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}"/>"#
        );
    }
    for (t, task) in dag.tasks.iter().enumerate() {
        let (x, y) = at(t);
        let node = states.get(t).cloned().unwrap_or_default();
        let state = if node.state.is_empty() {
            "none"
        } else {
            node.state
        };
        let id = task.task_id.as_str();
        let shown: String = if id.chars().count() > 20 {
            id.chars().take(19).chain(['…']).collect()
        } else {
            id.to_string()
        };
        let label = format!(
            "{id}: {} task, {}",
            task.kind.name(),
            state.replace('_', " ")
        );
        if let Some(url) = &node.url {
            let _ = write!(svg, r#"<a href="{}">"#, escape(url));
        }
        let _ = write!(
            svg,
            r#"<g class="node st-{state}" data-task="{}"><title>{}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/><text x="{}" y="{}">{} {}</text></g>"#,
            escape(id),
            escape(&label),
            x + 8,
            y + BOX_H / 2 + 5,
            node.icon,
            escape(&shown)
        );
        if node.url.is_some() {
            svg.push_str("</a>");
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_ids_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
