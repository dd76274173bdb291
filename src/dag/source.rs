//! Where each key and value of a DAG file sits (line and column), so every
//! error can name `file:line:col`. Answers from the file's YAML document by
//! path (`tasks[2].depends_on[0]`); knows nothing about DAGs.

use super::yaml::Doc;

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Positions of the nodes of one DAG file, by path. Empty when the file's
/// YAML could not be read.
#[derive(Debug, Default)]
pub struct SourceMap<'a> {
    doc: Option<Doc<'a>>,
}

impl<'a> SourceMap<'a> {
    pub fn new(doc: Doc<'a>) -> Self {
        SourceMap { doc: Some(doc) }
    }

    /// The document, when the YAML was read.
    pub fn doc(&self) -> Option<&Doc<'a>> {
        self.doc.as_ref()
    }

    /// The position of the value at `path`.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let doc = self.doc.as_ref()?;
        let (_, value) = doc.find(path)?;
        Some(doc.pos(value))
    }

    /// The position of the key whose value is at `path` (falls back to the value).
    pub fn key(&self, path: &str) -> Option<Pos> {
        let doc = self.doc.as_ref()?;
        let (key, value) = doc.find(path)?;
        Some(doc.pos(key.unwrap_or(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    pub const TEXT: &str = "dag_id: x\nschedule: \"@daily\"\ntasks:\n  - task_id: a\n    kind: noop\n  - task_id: b  # é\n    depends_on: [a]\n    kind: shell\n    command: echo\nmax_active_runs: 1\nstreams: {a.b: 1}\n";

    #[test]
    fn keys_and_values_are_found_by_path() {
        let doc = crate::dag::yaml::parse(Path::new("x.yaml"), TEXT).unwrap();
        let map = SourceMap::new(doc);
        let at = |line, column| Some(Pos { line, column });
        assert_eq!(map.key("schedule"), at(2, 1));
        assert_eq!(map.value("schedule"), at(2, 11));
        assert_eq!(map.value("tasks[1].task_id"), at(6, 14));
        assert_eq!(map.value("tasks[1].depends_on[0]"), at(7, 18));
        assert_eq!(map.key("max_active_runs"), at(10, 1));
        // a key with a dot in it
        assert_eq!(map.key("streams.a.b"), at(11, 11));
        assert_eq!(map.value("tasks[2]"), None);
        assert_eq!(map.value("nope"), None);
    }
}
