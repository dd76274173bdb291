//! Where each key and value of a YAML file sits (line and column), so every
//! error can name `file:line:col`. Built from yaml-rust2's marked events;
//! knows nothing about DAGs beyond the `tasks` list it cuts out for per-task parsing.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of the nodes of one YAML document, by path (`tasks[2].depends_on[0]`).
#[derive(Debug, Default)]
pub struct SourceMap {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    task_ranges: Vec<(usize, usize)>,
}

impl SourceMap {
    /// Maps `text`; a text that does not parse gives an empty map (serde_yaml
    /// reports the syntax error with its own position).
    pub fn build(text: &str) -> SourceMap {
        let mut receiver = Receiver::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut receiver, false).is_err() {
            return SourceMap::default();
        }
        let line_starts = line_starts(text);
        let to_byte = |pos: Pos| byte_offset(text, &line_starts, pos);
        let items: Vec<usize> = (0..)
            .map_while(|i| receiver.values.get(&format!("tasks[{i}]")).copied())
            .map(to_byte)
            .collect();
        let flow = receiver
            .values
            .get("tasks")
            .is_some_and(|&pos| text[to_byte(pos)..].starts_with('['));
        let mut task_ranges = Vec::with_capacity(items.len());
        for (i, &start) in items.iter().enumerate() {
            let (end, closer) = match items.get(i + 1) {
                Some(&next) => (next, if flow { ',' } else { '-' }),
                None => (
                    receiver.tasks_end.map(to_byte).unwrap_or(text.len()),
                    if flow { ']' } else { '\n' },
                ),
            };
            task_ranges.push((start, trim_item_end(text, start, end, closer)));
        }
        SourceMap {
            values: receiver.values,
            keys: receiver.keys,
            task_ranges,
        }
    }

    /// The position of the value at `path`.
    pub fn value(&self, path: &str) -> Option<Pos> {
        self.values.get(path).copied()
    }

    /// The position of the key whose value is at `path` (falls back to the value).
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    /// Task `index` alone, preceded by as many empty lines and spaces as came
    /// before it, so serde_yaml parses it alone and still reports positions
    /// in the original file. `None` when the task's extent is unknown.
    pub fn isolate_task(&self, text: &str, index: usize) -> Option<String> {
        let &(start, end) = self.task_ranges.get(index)?;
        // spaces keep the first line's columns; other lines are emptied so no
        // blank-but-indented line joins a block scalar of the task
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let lines_before = text[..line_start].bytes().filter(|&b| b == b'\n').count();
        let columns_before = text[line_start..start].chars().count();
        let mut out = String::with_capacity(lines_before + columns_before + end - start);
        out.push_str(&"\n".repeat(lines_before));
        out.push_str(&" ".repeat(columns_before));
        out.push_str(&text[start..end]);
        Some(out)
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

fn byte_offset(text: &str, line_starts: &[usize], pos: Pos) -> usize {
    let Some(&line_start) = line_starts.get(pos.line.saturating_sub(1)) else {
        return text.len();
    };
    text[line_start..]
        .char_indices()
        .nth(pos.column.saturating_sub(1))
        .map(|(i, _)| line_start + i)
        .unwrap_or(text.len())
}

/// Drops trailing blanks and `closer`, the one character that belongs to the
/// list rather than the item: the next block item's `-`, a flow list's `,`
/// or `]` (a block list's last item has none: `'\n'`, already trimmed). A
/// `]` or `-` ending the item's own last value is kept.
fn trim_item_end(text: &str, start: usize, end: usize, closer: char) -> usize {
    let trimmed = text[start..end].trim_end();
    let trimmed = trimmed.strip_suffix(closer).unwrap_or(trimmed).trim_end();
    start + trimmed.len()
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

#[derive(Default)]
struct Receiver {
    stack: Vec<Frame>,
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    tasks_end: Option<Pos>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Receiver {
    /// Called at the start of every node: returns its path, or `None` when the
    /// node is a mapping key (recorded as such).
    fn enter_node(&mut self, scalar_key: Option<&str>, pos: Pos) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Some(child)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some(key) => Some(join(path, &key)),
                None => {
                    // a key: plain scalars name the path, complex keys get a placeholder
                    let name = scalar_key.unwrap_or("?").to_string();
                    self.keys.insert(join(path, &name), pos);
                    // a block mapping is reported where its first key ends: start it at the key
                    if let Some(start) = self.values.get_mut(path.as_str())
                        && (pos.line, pos.column) < (start.line, start.column)
                    {
                        *start = pos;
                    }
                    *key = Some(name);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Receiver {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let pos = Pos {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match event {
            Event::Scalar(value, ..) => {
                if let Some(path) = self.enter_node(Some(&value), pos) {
                    self.values.insert(path, pos);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.enter_node(None, pos) {
                    self.values.insert(path, pos);
                }
            }
            Event::MappingStart(..) => {
                let path = self.enter_node(None, pos).unwrap_or_default();
                self.values.insert(path.clone(), pos);
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.enter_node(None, pos).unwrap_or_default();
                self.values.insert(path.clone(), pos);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { path, .. }) = self.stack.pop()
                    && path == "tasks"
                {
                    self.tasks_end = Some(pos);
                }
            }
            Event::MappingEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const TEXT: &str = "dag_id: x\nschedule: \"@daily\"\ntasks:\n  - task_id: a\n    kind: noop\n  - task_id: b  # é\n    depends_on: [a]\n    kind: shell\n    command: echo\nmax_active_runs: 1\n";

    #[test]
    fn keys_and_values_are_found_by_path() {
        let map = SourceMap::build(TEXT);
        assert_eq!(map.key("schedule"), Some(Pos { line: 2, column: 1 }));
        assert_eq!(
            map.value("schedule"),
            Some(Pos {
                line: 2,
                column: 11
            })
        );
        assert_eq!(
            map.value("tasks[1].task_id"),
            Some(Pos {
                line: 6,
                column: 14
            })
        );
        assert_eq!(
            map.value("tasks[1].depends_on[0]"),
            Some(Pos {
                line: 7,
                column: 18
            })
        );
        assert_eq!(
            map.key("max_active_runs"),
            Some(Pos {
                line: 10,
                column: 1
            })
        );
    }

    #[test]
    fn an_isolated_task_parses_alone_at_its_original_position() {
        let map = SourceMap::build(TEXT);
        let first = map.isolate_task(TEXT, 0).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&first).unwrap();
        assert_eq!(value["task_id"], "a");
        assert!(value.get("command").is_none());
        let second = map.isolate_task(TEXT, 1).unwrap();
        let value: serde_yaml::Value = serde_yaml::from_str(&second).unwrap();
        assert_eq!(value["command"], "echo");
        assert!(value.get("max_active_runs").is_none());
        // the task keeps its line and column
        assert_eq!(second.lines().nth(5), Some("    task_id: b  # é"));
    }

    #[test]
    fn a_last_task_keeps_the_bracket_or_dash_that_ends_its_last_value() {
        for (last_line, key, value) in [
            ("depends_on: [a]", "depends_on", "[a]"),
            ("command: cat -", "command", "cat -"),
        ] {
            let text = format!("tasks:\n  - task_id: a\n  - task_id: b\n    {last_line}\n");
            let map = SourceMap::build(&text);
            let last: serde_yaml::Value =
                serde_yaml::from_str(&map.isolate_task(&text, 1).unwrap()).unwrap();
            let expected: serde_yaml::Value = serde_yaml::from_str(value).unwrap();
            assert_eq!(last[key], expected, "{last_line}");
        }
    }

    #[test]
    fn flow_style_tasks_are_isolated_too() {
        let text = "tasks: [{task_id: a, kind: noop}, {task_id: b, kind: noop}]\n";
        let map = SourceMap::build(text);
        for i in 0..2 {
            let isolated = map.isolate_task(text, i).unwrap();
            let value: serde_yaml::Value = serde_yaml::from_str(&isolated).unwrap();
            assert_eq!(value["kind"], "noop");
        }
    }
}
