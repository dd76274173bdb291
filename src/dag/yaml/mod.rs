//! A DAG file's text → one YAML document tree, read in a single pass, with
//! the line and column of every node. Scalars follow the YAML 1.2 core
//! schema; anchors, aliases and merge keys (`<<`) mean what they mean to
//! PyYAML, without copying: an alias points at its anchor's node, and the
//! values aliases add are counted so an alias bomb is refused before it
//! expands. Tags outside the core schema, duplicate keys, recursive aliases
//! and raw control characters are errors at their position. Knows nothing
//! about DAGs; `de` reads a node into the serde mirror.

pub mod de;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use super::error::DagError;
use super::source::Pos;

/// The index of a node in its [`Doc`].
pub type NodeId = u32;

/// How deep collections may nest. DAG files need about ten levels; the
/// bound keeps the recursive readers of `de` (and serde_json values) far
/// from the end of a thread's stack.
pub const MAX_DEPTH: usize = 64;

/// Values aliases may add to a file beyond what is written in it, at least;
/// a file may add as many values as it has bytes when that is more.
pub const MIN_ALIAS_EXPANSION: u64 = 1_000_000;

/// The tags a DAG file may use: the YAML core schema's.
pub const ALLOWED_TAGS: &str = "!!str, !!int, !!float, !!bool, !!null, !!seq and !!map";

/// A scalar as written: its quoting decides whether `123` is a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A core-schema tag on a scalar, which overrides how its text resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarTag {
    None,
    Str,
    Int,
    Float,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `owned`: the text lives in the document's own buffer (it had
    /// escapes or folded lines), else it is a slice of the file.
    Scalar {
        style: Style,
        tag: ScalarTag,
        owned: bool,
    },
    Seq,
    Map,
}

/// One node, 20 bytes: a 16 MiB file has a few million. `start..start+len`
/// is the scalar's text, or the collection's children in `Doc::children`
/// (a mapping's as key, value, key, value…).
#[derive(Debug, Clone, Copy)]
struct Node {
    line: u32,
    column: u32,
    start: u32,
    len: u32,
    kind: Kind,
}

/// A parsed YAML document: nodes in one arena, children by index.
#[derive(Debug)]
pub struct Doc<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    children: Vec<NodeId>,
    owned: String,
    root: Option<NodeId>,
}

/// What a node is, borrowed from its document.
#[derive(Debug, Clone, Copy)]
pub enum Value<'d> {
    Scalar(Scalar<'d>),
    Seq(&'d [NodeId]),
    /// Keys and values alternate.
    Map(&'d [NodeId]),
}

#[derive(Debug, Clone, Copy)]
pub struct Scalar<'d> {
    pub text: &'d str,
    pub style: Style,
    pub tag: ScalarTag,
}

/// A scalar's meaning under the core schema (and its tag).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'d> {
    Null,
    Bool(bool),
    /// Any whole number, however large; the reader checks the range.
    Int(i128),
    Float(f64),
    Str(&'d str),
}

impl<'a> Doc<'a> {
    /// The document's root node; `None` for a file with no document.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    pub fn pos(&self, id: NodeId) -> Pos {
        let node = self.node(id);
        Pos {
            line: node.line as usize,
            column: node.column as usize,
        }
    }

    fn node(&self, id: NodeId) -> &Node {
        // ids come only from this document
        &self.nodes[id as usize]
    }

    pub fn value(&self, id: NodeId) -> Value<'_> {
        let node = self.node(id);
        let range = node.start as usize..(node.start + node.len) as usize;
        match node.kind {
            Kind::Scalar { style, tag, owned } => Value::Scalar(Scalar {
                text: if owned {
                    &self.owned[range]
                } else {
                    &self.text[range]
                },
                style,
                tag,
            }),
            Kind::Seq => Value::Seq(&self.children[range]),
            Kind::Map => Value::Map(&self.children[range]),
        }
    }

    /// The scalar text of `id`, if it is a scalar.
    pub fn text(&self, id: NodeId) -> Option<&str> {
        match self.value(id) {
            Value::Scalar(s) => Some(s.text),
            _ => None,
        }
    }

    /// Whether `id` is a null scalar (`~`, `null`, or nothing at all).
    pub fn is_null(&self, id: NodeId) -> bool {
        matches!(self.value(id), Value::Scalar(s) if s.resolve() == Resolved::Null)
    }

    /// The key and value nodes of `key` in mapping `map`.
    pub fn entry(&self, map: NodeId, key: &str) -> Option<(NodeId, NodeId)> {
        let Value::Map(pairs) = self.value(map) else {
            return None;
        };
        pairs
            .chunks_exact(2)
            .find(|pair| self.text(pair[0]) == Some(key))
            .map(|pair| (pair[0], pair[1]))
    }

    /// The value of `key` in mapping `map`.
    pub fn get(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.entry(map, key).map(|(_, value)| value)
    }

    /// The key node (if any) and value node at `path` from the root, e.g.
    /// `tasks[2].depends_on[0]`; keys may themselves contain dots.
    pub fn find(&self, path: &str) -> Option<(Option<NodeId>, NodeId)> {
        let mut current = (None, self.root?);
        let mut rest = path;
        loop {
            rest = rest.strip_prefix('.').unwrap_or(rest);
            if rest.is_empty() {
                return Some(current);
            }
            if let Some(after) = rest.strip_prefix('[') {
                let close = after.find(']')?;
                let index: usize = after[..close].parse().ok()?;
                let Value::Seq(items) = self.value(current.1) else {
                    return None;
                };
                current = (None, *items.get(index)?);
                rest = &after[close + 1..];
                continue;
            }
            let Value::Map(pairs) = self.value(current.1) else {
                return None;
            };
            // the longest key that `rest` starts with, followed by a separator
            let (key_len, pair) = pairs
                .chunks_exact(2)
                .filter_map(|pair| {
                    let key = self.text(pair[0])?;
                    let after = rest.strip_prefix(key)?;
                    (after.is_empty() || after.starts_with(['.', '['])).then_some((key.len(), pair))
                })
                .max_by_key(|(len, _)| *len)?;
            current = (Some(pair[0]), pair[1]);
            rest = &rest[key_len..];
        }
    }
}

impl<'d> Scalar<'d> {
    /// The scalar's meaning: quoted and block scalars are strings, plain
    /// ones follow the YAML 1.2 core schema, a tag decides for itself.
    pub fn resolve(&self) -> Resolved<'d> {
        match self.tag {
            ScalarTag::Str => Resolved::Str(self.text),
            // checked when the document was read
            ScalarTag::Null => Resolved::Null,
            ScalarTag::Bool => resolve_plain(self.text),
            ScalarTag::Int | ScalarTag::Float => match resolve_plain(self.text) {
                Resolved::Int(n) if self.tag == ScalarTag::Float => Resolved::Float(n as f64),
                other => other,
            },
            ScalarTag::None if self.style == Style::Plain => resolve_plain(self.text),
            ScalarTag::None => Resolved::Str(self.text),
        }
    }
}

/// The YAML 1.2 core schema's reading of a plain scalar.
pub fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return Resolved::Int(int);
    }
    if is_core_float(text)
        && let Ok(float) = text.parse::<f64>()
    {
        return Resolved::Float(float);
    }
    Resolved::Str(text)
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`; a number too large for
/// i128 saturates (it is out of every range a DAG key has).
fn resolve_int(text: &str) -> Option<i128> {
    let (digits, radix, negative) = if let Some(octal) = text.strip_prefix("0o") {
        (octal, 8, false)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16, false)
    } else if let Some(rest) = text.strip_prefix('-') {
        (rest, 10, true)
    } else {
        (text.strip_prefix('+').unwrap_or(text), 10, false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let digit = i128::from(c.to_digit(radix)?);
        value = value
            .saturating_mul(i128::from(radix))
            .saturating_add(digit);
    }
    Some(if negative { -value } else { value })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The file's bytes as text, or why they are not: a byte that is not
/// UTF-8, at its line and column.
pub fn decode<'b>(file: &Path, bytes: &'b [u8]) -> Result<&'b str, DagError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => {
            let at = err.valid_up_to();
            if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
                return Err(DagError::new(
                    file,
                    Some(Pos { line: 1, column: 1 }),
                    "the file is UTF-16; DAG files are read as UTF-8",
                )
                .hint("save it as UTF-8"));
            }
            // the valid prefix is text: count its lines and characters
            let prefix = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
            let pos = end_pos(prefix);
            let byte = bytes.get(at).copied().unwrap_or_default();
            Err(DagError::new(
                file,
                Some(pos),
                format!("byte 0x{byte:02X} is not UTF-8; DAG files are read as UTF-8"),
            )
            .hint("save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); the text here may be Latin-1 or Windows-1252"))
        }
    }
}

/// The position just after `prefix`: where the next character is.
fn end_pos(prefix: &str) -> Pos {
    let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line: prefix.bytes().filter(|&b| b == b'\n').count() + 1,
        column: prefix[line_start..].chars().count() + 1,
    }
}

/// Characters YAML does not allow in a file (C0 and C1 controls other than
/// tab, line feed, carriage return and NEL; DEL; the non-characters
/// U+FFFE and U+FFFF), reported at the first one.
fn check_characters(file: &Path, text: &str) -> Result<(), DagError> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{84}' | '\u{86}'..='\u{9F}' | '\u{FFFE}' | '\u{FFFF}');
    let Some((at, c)) = text.char_indices().find(|&(_, c)| bad(c)) else {
        return Ok(());
    };
    let name = match c {
        '\u{0}' => "a NUL byte",
        '\u{7F}' => "a DEL character",
        '\u{FFFE}' | '\u{FFFF}' => "a non-character",
        _ => "a control character",
    };
    Err(DagError::new(
        file,
        Some(end_pos(&text[..at])),
        format!(
            "{name} ({}) is not allowed in a YAML file",
            c.escape_unicode()
        ),
    )
    .hint("remove it; inside a double-quoted string, write a control character as an escape such as \"\\x07\""))
}

/// Reads `text` into a document, or every YAML-level mistake in it: a
/// syntax error (the first, which stops the reading), or tags, duplicate
/// keys and aliases, all of them.
pub fn parse<'a>(file: &Path, text: &'a str) -> Result<Doc<'a>, Vec<DagError>> {
    check_characters(file, text).map_err(|e| vec![e])?;
    let mut builder = Builder::new(file, text);
    for item in Parser::new_from_str(text) {
        match item {
            Ok((event, span)) => {
                if let Err(stop) = builder.event(event, span) {
                    builder.errors.push(stop);
                    return Err(builder.errors);
                }
            }
            Err(err) => {
                let error = builder.syntax_error(&err);
                builder.errors.push(error);
                return Err(builder.errors);
            }
        }
    }
    if !builder.errors.is_empty() {
        return Err(builder.errors);
    }
    Ok(Doc {
        text,
        nodes: builder.nodes,
        children: builder.children,
        owned: builder.owned,
        root: builder.root,
    })
}

/// A collection being read.
struct Frame {
    node: NodeId,
    anchor: usize,
    /// Where its children start in `Builder::pending`.
    first_child: usize,
    /// `[` or `{` for a flow collection, which must be closed.
    opener: Option<char>,
}

/// A node read, and how many values it stands for with aliases expanded
/// (saturating): what an alias to it would add.
#[derive(Debug, Clone, Copy)]
struct Weighed {
    id: NodeId,
    weight: u32,
}

struct Builder<'f, 'a> {
    file: &'f Path,
    text: &'a str,
    nodes: Vec<Node>,
    children: Vec<NodeId>,
    owned: String,
    root: Option<NodeId>,
    stack: Vec<Frame>,
    /// Children of the open collections, innermost last.
    pending: Vec<Weighed>,
    /// A collection's children, reused from one collection to the next.
    scratch: Vec<NodeId>,
    /// Node of each anchor id once its node is complete; `None` while open.
    anchors: Vec<Option<Weighed>>,
    /// Values added by aliases so far, and the most allowed.
    expanded: u64,
    expansion_limit: u64,
    documents: usize,
    errors: Vec<DagError>,
    bounds: Bounds,
}

impl<'f, 'a> Builder<'f, 'a> {
    fn new(file: &'f Path, text: &'a str) -> Self {
        Builder {
            file,
            text,
            // about one node per 9 bytes in a typical DAG file
            nodes: Vec::with_capacity(text.len() / 9),
            children: Vec::with_capacity(text.len() / 10),
            owned: String::new(),
            root: None,
            stack: Vec::new(),
            pending: Vec::new(),
            scratch: Vec::new(),
            anchors: Vec::new(),
            expanded: 0,
            expansion_limit: MIN_ALIAS_EXPANSION.max(text.len() as u64),
            documents: 0,
            errors: Vec::new(),
            bounds: Bounds::of(text),
        }
    }

    fn pos_of(&self, span: &Span) -> Pos {
        self.bounds.clamp(Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        })
    }

    fn error(&self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) -> DagError {
        DagError::new(self.file, Some(pos), message).hint(hint)
    }

    fn event(&mut self, event: Event<'a>, span: Span) -> Result<(), DagError> {
        let pos = self.pos_of(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(
                        pos,
                        "the file holds a second YAML document",
                        "keep one DAG per file: remove the `---` and what follows, or move it to a file of its own",
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let (style, tag) = self.scalar_tag(pos, &text, style, tag.as_deref());
                let (start, len, owned) = self.store(text)?;
                let id = self.push(Node {
                    line: pos.line as u32,
                    column: pos.column as u32,
                    start,
                    len,
                    kind: Kind::Scalar { style, tag, owned },
                })?;
                self.complete(anchor, Weighed { id, weight: 1 });
            }
            Event::Alias(anchor) => self.alias(anchor, pos)?,
            // a flow collection's span holds its `[` or `{`; a block one's is empty
            Event::SequenceStart(anchor, tag) => {
                let opener = (span.end.index() > span.start.index()).then_some('[');
                self.start(pos, Kind::Seq, anchor, tag.as_deref(), opener)?;
            }
            Event::MappingStart(anchor, tag) => {
                let opener = (span.end.index() > span.start.index()).then_some('{');
                self.start(pos, Kind::Map, anchor, tag.as_deref(), opener)?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.end()?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<NodeId, DagError> {
        let id = NodeId::try_from(self.nodes.len()).map_err(|_| self.too_large())?;
        self.nodes.push(node);
        Ok(id)
    }

    fn too_large(&self) -> DagError {
        DagError::new(self.file, None, "the file has too many values to read")
            .hint("split it into several DAG files")
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// Where a scalar's text is kept: a slice of the file when the parser
    /// lent one, else appended to the document's own buffer.
    fn store(&mut self, text: Cow<'a, str>) -> Result<(u32, u32, bool), DagError> {
        let base = self.text.as_ptr() as usize;
        let (start, owned) = match &text {
            Cow::Borrowed(s)
                if (s.as_ptr() as usize) >= base
                    && (s.as_ptr() as usize) + s.len() <= base + self.text.len() =>
            {
                ((s.as_ptr() as usize) - base, false)
            }
            _ => {
                let start = self.owned.len();
                self.owned.push_str(&text);
                (start, true)
            }
        };
        let start = u32::try_from(start).map_err(|_| self.too_large())?;
        let len = u32::try_from(text.len()).map_err(|_| self.too_large())?;
        Ok((start, len, owned))
    }

    /// A complete node: its anchor now names it, and it joins its parent.
    fn complete(&mut self, anchor: usize, node: Weighed) {
        if anchor != 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize(anchor + 1, None);
            }
            self.anchors[anchor] = Some(node);
        }
        if self.stack.is_empty() {
            self.root = Some(node.id);
        } else {
            self.pending.push(node);
        }
    }

    fn alias(&mut self, anchor: usize, pos: Pos) -> Result<(), DagError> {
        let Some(target) = self.anchors.get(anchor).copied().flatten() else {
            return Err(self.error(
                pos,
                format!(
                    "alias `*{}` is inside the node its anchor names",
                    self.alias_name(pos)
                ),
                "a recursive alias never ends; copy the values instead",
            ));
        };
        self.expanded = self.expanded.saturating_add(u64::from(target.weight));
        if self.expanded > self.expansion_limit {
            return Err(self.error(
                pos,
                format!(
                    "the aliases in this file stand for more than {} values (at `*{}`), which looks like an alias bomb",
                    self.expansion_limit,
                    self.alias_name(pos)
                ),
                "use anchors for shared settings, not aliases of aliases of anchors",
            ));
        }
        if self.stack.is_empty() {
            self.root = Some(target.id);
        } else {
            self.pending.push(target);
        }
        Ok(())
    }

    /// The anchor name an alias at `pos` is written with (for messages
    /// only: it scans the file).
    fn alias_name(&self, pos: Pos) -> String {
        let Some(line) = self.text.split('\n').nth(pos.line.saturating_sub(1)) else {
            return String::new();
        };
        line.chars()
            .skip(pos.column)
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .collect()
    }

    fn start(
        &mut self,
        pos: Pos,
        kind: Kind,
        anchor: usize,
        tag: Option<&Tag>,
        opener: Option<char>,
    ) -> Result<(), DagError> {
        if let Some(tag) = tag {
            let expected = if matches!(kind, Kind::Map) {
                "map"
            } else {
                "seq"
            };
            match core_suffix(tag) {
                Some(suffix) if suffix == expected => {}
                _ if is_non_specific(tag) => {}
                Some(suffix @ ("str" | "int" | "float" | "bool" | "null" | "seq" | "map")) => {
                    let what = if matches!(kind, Kind::Map) {
                        "a mapping"
                    } else {
                        "a list"
                    };
                    let error = self.error(
                        pos,
                        format!("tag `!!{suffix}` is on {what}"),
                        format!("remove the tag, or write !!{expected}"),
                    );
                    self.errors.push(error);
                }
                _ => self.refuse_tag(pos, tag),
            }
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(
                pos,
                format!("lists and mappings nest more than {MAX_DEPTH} levels deep here"),
                "a DAG file needs a few levels; flatten this value",
            ));
        }
        let node = self.push(Node {
            line: pos.line as u32,
            column: pos.column as u32,
            start: 0,
            len: 0,
            kind,
        })?;
        if anchor != 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize(anchor + 1, None);
            }
            // an alias to it before it ends would be recursive
            self.anchors[anchor] = None;
        }
        self.stack.push(Frame {
            node,
            anchor,
            first_child: self.pending.len(),
            opener,
        });
        Ok(())
    }

    fn end(&mut self) -> Result<(), DagError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        // a merge key's value counts in full: an upper bound of what it adds
        let weight = self.pending[frame.first_child..]
            .iter()
            .fold(1u32, |sum, child| sum.saturating_add(child.weight));
        let mut items = std::mem::take(&mut self.scratch);
        items.clear();
        items.extend(
            self.pending
                .drain(frame.first_child..)
                .map(|child| child.id),
        );
        if matches!(self.node(frame.node).kind, Kind::Map) {
            items = self.finish_map(items);
        }
        let start = u32::try_from(self.children.len()).map_err(|_| self.too_large())?;
        let len = u32::try_from(items.len()).map_err(|_| self.too_large())?;
        self.children.extend_from_slice(&items);
        self.scratch = items;
        let node = &mut self.nodes[frame.node as usize];
        node.start = start;
        node.len = len;
        self.complete(
            frame.anchor,
            Weighed {
                id: frame.node,
                weight,
            },
        );
        Ok(())
    }

    /// The scalar text of a plain or quoted key.
    fn key_text(&self, id: NodeId) -> Option<&str> {
        let node = self.node(id);
        let Kind::Scalar { owned, .. } = node.kind else {
            return None;
        };
        let range = node.start as usize..(node.start + node.len) as usize;
        Some(if owned {
            &self.owned[range]
        } else {
            &self.text[range]
        })
    }

    fn is_merge_key(&self, id: NodeId) -> bool {
        matches!(
            self.node(id).kind,
            Kind::Scalar {
                style: Style::Plain,
                tag: ScalarTag::None,
                ..
            }
        ) && self.key_text(id) == Some("<<")
    }

    /// A mapping's entries with duplicate keys refused (the first kept) and
    /// merge keys applied as PyYAML does: the mapping's own keys win, then
    /// the merged mappings in the order listed.
    fn finish_map(&mut self, pairs: Vec<NodeId>) -> Vec<NodeId> {
        let mut merge: Option<NodeId> = None;
        let mut duplicates: Vec<(usize, NodeId)> = Vec::new();
        {
            let count = pairs.len() / 2;
            let key = |i: usize| self.key_text(pairs[2 * i]);
            // a task's few keys are compared pairwise; a large mapping hashed
            let mut seen: HashMap<&str, NodeId> = HashMap::new();
            for i in 0..count {
                let Some(text) = key(i) else { continue };
                let first = if count <= 16 {
                    (0..i).find(|&j| key(j) == Some(text)).map(|j| pairs[2 * j])
                } else {
                    let first = seen.get(text).copied();
                    seen.entry(text).or_insert(pairs[2 * i]);
                    first
                };
                match first {
                    Some(first) => duplicates.push((i, first)),
                    None if self.is_merge_key(pairs[2 * i]) => merge = Some(pairs[2 * i + 1]),
                    None => {}
                }
            }
        }
        if duplicates.is_empty() && merge.is_none() {
            return pairs;
        }
        let mut own: Vec<NodeId> = Vec::with_capacity(pairs.len());
        for (i, pair) in pairs.chunks_exact(2).enumerate() {
            if let Some(&(_, first)) = duplicates.iter().find(|(d, _)| *d == i) {
                let text = self.key_text(pair[0]).unwrap_or_default();
                let error = self.error(
                    self.pos_of_node(pair[0]),
                    format!(
                        "duplicate key `{text}` (first on line {})",
                        self.node(first).line
                    ),
                    "remove one of them; YAML keeps only one value per key",
                );
                self.errors.push(error);
            } else if Some(pair[1]) != merge || !self.is_merge_key(pair[0]) {
                own.extend_from_slice(pair);
            }
        }
        let Some(merge) = merge else {
            return own;
        };
        let sources: Vec<NodeId> = match self.node(merge).kind {
            Kind::Map => vec![merge],
            Kind::Seq => {
                let node = self.node(merge);
                let items =
                    self.children[node.start as usize..(node.start + node.len) as usize].to_vec();
                for &item in &items {
                    if !matches!(self.node(item).kind, Kind::Map) {
                        let error = self.merge_error(item);
                        self.errors.push(error);
                    }
                }
                items
            }
            Kind::Scalar { .. } => {
                let error = self.merge_error(merge);
                self.errors.push(error);
                Vec::new()
            }
        };
        let mut merged: Vec<NodeId> = Vec::new();
        {
            let mut present: HashSet<&str> = own
                .chunks_exact(2)
                .filter_map(|pair| self.key_text(pair[0]))
                .collect();
            for source in sources {
                let node = self.node(source);
                if !matches!(node.kind, Kind::Map) {
                    continue;
                }
                let entries = &self.children[node.start as usize..(node.start + node.len) as usize];
                for pair in entries.chunks_exact(2) {
                    match self.key_text(pair[0]) {
                        Some(text) if !present.insert(text) => {}
                        _ => merged.extend_from_slice(pair),
                    }
                }
            }
        }
        merged.extend(own);
        merged
    }

    fn merge_error(&self, id: NodeId) -> DagError {
        self.error(
            self.pos_of_node(id),
            "a merge key `<<` takes a mapping or a list of mappings",
            "write `<<: *defaults` or `<<: [*defaults, *more]` where each anchor names a mapping",
        )
    }

    fn pos_of_node(&self, id: NodeId) -> Pos {
        let node = self.node(id);
        Pos {
            line: node.line as usize,
            column: node.column as usize,
        }
    }

    /// The style and core tag of a scalar; any other tag, or a tag its text
    /// does not fit, is an error.
    fn scalar_tag(
        &mut self,
        pos: Pos,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
    ) -> (Style, ScalarTag) {
        let style = match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
            ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
        };
        let Some(tag) = tag else {
            return (style, ScalarTag::None);
        };
        if is_non_specific(tag) {
            return (style, ScalarTag::Str);
        }
        let (scalar_tag, fits, what) = match core_suffix(tag) {
            Some("str") => (ScalarTag::Str, true, ""),
            Some("int") => (
                ScalarTag::Int,
                matches!(resolve_plain(text), Resolved::Int(_)),
                "a whole number",
            ),
            Some("float") => (
                ScalarTag::Float,
                matches!(resolve_plain(text), Resolved::Int(_) | Resolved::Float(_)),
                "a number",
            ),
            Some("bool") => (
                ScalarTag::Bool,
                matches!(resolve_plain(text), Resolved::Bool(_)),
                "true or false",
            ),
            Some("null") => (
                ScalarTag::Null,
                matches!(resolve_plain(text), Resolved::Null),
                "empty, `~` or null",
            ),
            Some(suffix @ ("seq" | "map")) => {
                let error = self.error(
                    pos,
                    format!("tag `!!{suffix}` is on a single value"),
                    "remove the tag",
                );
                self.errors.push(error);
                return (style, ScalarTag::None);
            }
            _ => {
                self.refuse_tag(pos, tag);
                return (style, ScalarTag::None);
            }
        };
        if !fits {
            let suffix = core_suffix(tag).unwrap_or_default();
            let error = self.error(
                pos,
                format!(
                    "`!!{suffix}` value `{}` is not {what}",
                    text.chars().take(80).collect::<String>()
                ),
                format!("write {what}, or remove the tag"),
            );
            self.errors.push(error);
            return (style, ScalarTag::None);
        }
        (style, scalar_tag)
    }

    fn refuse_tag(&mut self, pos: Pos, tag: &Tag) {
        let error = self.error(
            pos,
            format!(
                "tag `{}` is not allowed: a DAG file holds plain data, and airless never builds objects from tags",
                tag_text(tag)
            ),
            format!("remove the tag; the tags YAML's core schema has are {ALLOWED_TAGS}"),
        );
        self.errors.push(error);
    }

    /// A syntax error from the parser, at a position in the file: an error
    /// at the very end inside an unclosed `[` or `{` points at the opener.
    fn syntax_error(&self, err: &ScanError) -> DagError {
        let raw = Pos {
            line: err.marker().line(),
            column: err.marker().col() + 1,
        };
        let end = end_pos(self.text.trim_end());
        let at_end = (raw.line, raw.column) >= (end.line, end.column);
        let open = self.stack.iter().rev().find_map(|frame| {
            frame
                .opener
                .map(|opener| (opener, self.pos_of_node(frame.node)))
        });
        let info = err.info();
        if let Some((opener, opened)) = open {
            let closer = if opener == '[' { ']' } else { '}' };
            if at_end {
                return self.error(
                    opened,
                    format!("the `{opener}` that opens here is never closed ({info})"),
                    format!("add the closing `{closer}`"),
                );
            }
            return self.error(
                self.bounds.clamp(raw),
                info.to_string(),
                format!(
                    "this is inside the `{opener}` opened on line {} column {}: is its `{closer}` missing?",
                    opened.line, opened.column
                ),
            );
        }
        if info.contains("quoted scalar") {
            return self.error(
                self.bounds.clamp(raw),
                format!("the quoted string that starts here does not end ({info})"),
                "add the closing quote, or indent the string's next lines further than its key",
            );
        }
        if info.contains("tab") {
            // point at the tab itself, on the line of the error or after it
            let tab = self
                .text
                .split('\n')
                .enumerate()
                .skip(raw.line.saturating_sub(1))
                .find_map(|(i, line)| {
                    let column = line.chars().position(|c| c == '\t')?;
                    Some(Pos {
                        line: i + 1,
                        column: column + 1,
                    })
                });
            return self.error(
                tab.unwrap_or(self.bounds.clamp(raw)),
                format!("a tab where YAML expects spaces ({info})"),
                "YAML indents with spaces only: replace the tab with spaces",
            );
        }
        let hint = if info.contains("unknown anchor") {
            "define the anchor (`&name`) before the alias (`*name`) that uses it"
        } else {
            "this is not valid YAML; check the indentation and quoting around this spot"
        };
        self.error(self.bounds.clamp(raw), info.to_string(), hint)
    }
}

/// The part of a core-schema tag after `tag:yaml.org,2002:`.
fn core_suffix(tag: &Tag) -> Option<&str> {
    const CORE: &str = "tag:yaml.org,2002:";
    if tag.handle == CORE {
        Some(&tag.suffix)
    } else if tag.handle.is_empty() {
        tag.suffix.strip_prefix(CORE)
    } else {
        None
    }
}

/// The `!` tag, which only says "not resolved": a string.
fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

/// A tag as its author wrote it (`!!python/object`, `!Ref`, `!<…>`).
fn tag_text(tag: &Tag) -> String {
    if let Some(suffix) = core_suffix(tag) {
        format!("!!{suffix}")
    } else if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else if tag.handle.is_empty() {
        format!("!<{}>", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Where positions may fall in a text: before its end, else on its last
/// character. Computed once per file.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// Just past the last character.
    end: Pos,
    /// The last character that is not a line break.
    last: Pos,
}

impl Bounds {
    fn of(text: &str) -> Self {
        let trimmed = text.trim_end_matches(['\n', '\r']);
        let last = match trimmed.char_indices().last() {
            Some((i, _)) => end_pos(&trimmed[..i]),
            None => Pos { line: 1, column: 1 },
        };
        Bounds {
            end: end_pos(text),
            last,
        }
    }

    /// `pos`, or the last character when `pos` is past the end.
    fn clamp(&self, pos: Pos) -> Pos {
        if pos < self.end { pos } else { self.last }
    }
}

#[cfg(test)]
mod tests;
