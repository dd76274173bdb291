//! A small YAML writer for DAG files: block mappings, comments where the
//! port explains itself, strings quoted only when YAML would misread them.

use super::value::Value;

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Written as is (a date, a duration): the caller made sure it is plain.
    Plain(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A constant Python value as YAML; `None` if it is not a constant or a
    /// dict has a key that is not a string.
    pub fn from_value(value: &Value) -> Option<Node> {
        Some(match value {
            Value::None => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Int(i) => Node::Int(*i),
            Value::Float(f) if f.is_finite() => Node::Float(*f),
            Value::Str(s) => Node::Str(s.clone()),
            Value::List(items) => {
                Node::Seq(items.iter().map(Node::from_value).collect::<Option<_>>()?)
            }
            Value::Dict(items) => Node::Map(
                items
                    .iter()
                    .map(|(k, v)| match k {
                        Value::Str(k) => Some((k.clone(), Node::from_value(v)?)),
                        _ => None,
                    })
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Node::Seq(_) | Node::Map(_))
    }

    /// The scalar on one line (block strings are handled by the writer).
    fn inline(&self) -> String {
        match self {
            Node::Null => "null".to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => {
                let text = f.to_string();
                if text.contains(['.', 'e', 'E']) {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            Node::Str(s) => scalar(s),
            Node::Plain(s) => s.clone(),
            Node::Seq(items) if items.is_empty() => "[]".to_string(),
            Node::Map(items) if items.is_empty() => "{}".to_string(),
            Node::Seq(items) => {
                let inner: Vec<String> = items.iter().map(Node::inline).collect();
                format!("[{}]", inner.join(", "))
            }
            Node::Map(items) => {
                let inner: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{}: {}", scalar(k), v.inline()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

/// A string as a YAML scalar: plain when YAML reads it back as the same
/// string, otherwise double-quoted with JSON escapes (valid YAML).
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// Whether a multi-line string can be a literal block (`|`) and read back
/// unchanged.
fn block_style(s: &str) -> Option<&'static str> {
    if !s.contains('\n')
        || s.starts_with([' ', '\t', '\n'])
        || s.contains('\r')
        || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        || s.lines().any(|l| l.ends_with([' ', '\t']))
    {
        return None;
    }
    if s.ends_with("\n\n") {
        None
    } else if s.ends_with('\n') {
        Some("|")
    } else {
        Some("|-")
    }
}

/// The document being written.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn finish(self) -> String {
        self.out
    }

    pub fn blank(&mut self) {
        self.out.push('\n');
    }

    /// `# text` lines at `indent`; the text may span lines.
    pub fn comment(&mut self, indent: usize, text: &str) {
        for line in text.lines() {
            let pad = " ".repeat(indent);
            if line.is_empty() {
                self.out.push_str(&format!("{pad}#\n"));
            } else {
                self.out.push_str(&format!("{pad}# {line}\n"));
            }
        }
    }

    /// `key: value` at `indent`, with an optional trailing comment.
    pub fn entry(&mut self, indent: usize, key: &str, node: &Node, comment: Option<&str>) {
        let pad = " ".repeat(indent);
        self.write_entry(&pad, &pad, key, node, comment);
    }

    /// `- key: value`: the first key of a list item at `indent`; the item's
    /// other keys go at `indent + 2`.
    pub fn item(&mut self, indent: usize, key: &str, node: &Node, comment: Option<&str>) {
        let pad = " ".repeat(indent);
        let first = format!("{pad}- ");
        let rest = " ".repeat(indent + 2);
        self.write_entry(&first, &rest, key, node, comment);
    }

    fn write_entry(
        &mut self,
        first: &str,
        rest: &str,
        key: &str,
        node: &Node,
        comment: Option<&str>,
    ) {
        let trailing = comment
            .map(|c| format!("  # {}", one_line(c)))
            .unwrap_or_default();
        let key = scalar(key);
        match node {
            Node::Str(s) if block_style(s).is_some() => {
                let style = block_style(s).unwrap_or("|");
                self.out
                    .push_str(&format!("{first}{key}: {style}{trailing}\n"));
                for line in s.lines() {
                    if line.is_empty() {
                        self.out.push('\n');
                    } else {
                        self.out.push_str(&format!("{rest}  {line}\n"));
                    }
                }
            }
            Node::Seq(items)
                if !items.is_empty()
                    && items.iter().all(Node::is_scalar)
                    && node.inline().len() <= 100 =>
            {
                self.out
                    .push_str(&format!("{first}{key}: {}{trailing}\n", node.inline()));
            }
            Node::Seq(items) if !items.is_empty() => {
                self.out.push_str(&format!("{first}{key}:{trailing}\n"));
                for item in items {
                    self.seq_item(&format!("{rest}  "), item);
                }
            }
            Node::Map(items) if !items.is_empty() => {
                self.out.push_str(&format!("{first}{key}:{trailing}\n"));
                let inner = format!("{rest}  ");
                for (k, v) in items {
                    self.write_entry(&inner, &inner, k, v, None);
                }
            }
            scalar => {
                self.out
                    .push_str(&format!("{first}{key}: {}{trailing}\n", scalar.inline()));
            }
        }
    }

    fn seq_item(&mut self, pad: &str, node: &Node) {
        match node {
            Node::Map(items) if !items.is_empty() => {
                let rest = format!("{pad}  ");
                for (i, (k, v)) in items.iter().enumerate() {
                    if i == 0 {
                        self.write_entry(&format!("{pad}- "), &rest, k, v, None);
                    } else {
                        self.write_entry(&rest, &rest, k, v, None);
                    }
                }
            }
            Node::Seq(items) if !items.is_empty() => {
                self.out.push_str(&format!("{pad}- {}\n", node.inline()));
                let _ = items;
            }
            Node::Str(s) if block_style(s).is_some() => {
                self.out.push_str(&format!(
                    "{pad}- {}\n",
                    Node::Str(s.clone()).inline_quoted()
                ));
            }
            other => self.out.push_str(&format!("{pad}- {}\n", other.inline())),
        }
    }
}

impl Node {
    fn inline_quoted(&self) -> String {
        match self {
            Node::Str(s) => serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}")),
            other => other.inline(),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_plain_only_when_yaml_reads_them_back_unchanged() {
        assert_eq!(scalar("run_notebook"), "run_notebook");
        assert_eq!(scalar("@daily"), "\"@daily\"");
        assert_eq!(scalar("1108-162752-8okw8dgg"), "\"1108-162752-8okw8dgg\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("/Users/x/My notebook"), "\"/Users/x/My notebook\"");
        assert_eq!(scalar("echo {{ ds }}"), "\"echo {{ ds }}\"");
    }

    #[test]
    fn written_yaml_reads_back_as_the_same_values() {
        let mut w = Writer::default();
        let node = Node::Map(vec![
            ("a".into(), Node::Str("x: y".into())),
            (
                "b".into(),
                Node::Seq(vec![Node::Int(1), Node::Str("two".into())]),
            ),
            ("c".into(), Node::Str("line one\n  line two\n".into())),
            ("d".into(), Node::Map(vec![])),
            (
                "e".into(),
                Node::Seq(vec![Node::Map(vec![
                    ("k".into(), Node::Bool(true)),
                    ("l".into(), Node::Null),
                ])]),
            ),
        ]);
        w.entry(0, "root", &node, Some("why"));
        let text = w.finish();
        let back: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let root = &back["root"];
        assert_eq!(root["a"].as_str(), Some("x: y"));
        assert_eq!(root["c"].as_str(), Some("line one\n  line two\n"));
        assert_eq!(root["b"][1].as_str(), Some("two"));
        assert_eq!(root["e"][0]["k"].as_bool(), Some(true));
    }
}
