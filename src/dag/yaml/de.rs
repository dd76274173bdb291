//! Reads a node of a [`Doc`] into any serde type. Errors carry the
//! position of the node at fault and the path to it from the node read
//! (`default_args.retries`), and say what was expected in a DAG author's
//! words: "a whole number from 0 to 4294967295", "a mapping", never a Rust
//! type name. Aliases are followed, never copied.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Unexpected, Visitor};

use super::{Doc, NodeId, Resolved, Value};
use crate::dag::error::{DagError, suggest};
use crate::dag::source::Pos;

/// Reads node `id` of `doc` as a `T`.
pub fn from_node<'de, 'a: 'de, T: Deserialize<'de>>(
    doc: &'de Doc<'a>,
    id: NodeId,
) -> Result<T, Error> {
    T::deserialize(NodeDe { doc, id })
}

/// Why a node does not fit the type read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
    pub pos: Option<Pos>,
    /// From the node read down to the node at fault: `sink.batch_size`,
    /// `command[2]`; empty when it is the node read.
    pub path: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
            pos: None,
            path: String::new(),
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the position unless a node further down already did.
    fn at(mut self, pos: Pos) -> Self {
        self.pos.get_or_insert(pos);
        self
    }

    fn under_key(mut self, key: &str) -> Self {
        self.path = match self.path.as_str() {
            "" => key.to_string(),
            rest if rest.starts_with('[') => format!("{key}{rest}"),
            rest => format!("{key}.{rest}"),
        };
        self
    }

    fn under_index(mut self, index: usize) -> Self {
        self.path = match self.path.as_str() {
            "" => format!("[{index}]"),
            rest if rest.starts_with('[') => format!("[{index}]{rest}"),
            rest => format!("[{index}].{rest}"),
        };
        self
    }

    /// The error as a DAG file mistake: `path: message — hint`.
    pub fn into_dag_error(self, file: &Path) -> DagError {
        let message = if self.path.is_empty() {
            self.message
        } else {
            format!("{}: {}", self.path, self.message)
        };
        let error = DagError::new(file, self.pos, message);
        match self.hint {
            Some(hint) => error.hint(hint),
            None => error,
        }
    }

    /// `got` where `expected` belongs, both already in an author's words.
    fn wrong_type(got: &str, expected: &str) -> Self {
        let error = Error::new(format!("invalid type: {got}, expected {expected}"));
        match type_hint(got, expected) {
            Some(hint) => error.hint(hint),
            None => error,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::new(scrub_type_names(&msg.to_string()))
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = exp.to_string();
        if let (Some(range), Unexpected::Float(f)) = (integer_range(&expected), &unexp) {
            return number_error(&f.to_string(), *f, range);
        }
        Error::wrong_type(&unexpected(&unexp), &expected_words(&expected))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = exp.to_string();
        if let Some(range) = integer_range(&expected) {
            match unexp {
                Unexpected::Signed(n) => return out_of_range(&n.to_string(), n.into(), range),
                Unexpected::Unsigned(n) => return out_of_range(&n.to_string(), n.into(), range),
                Unexpected::Float(f) => return number_error(&f.to_string(), f, range),
                _ => {}
            }
        }
        Error::new(format!(
            "invalid value: {}, expected {}",
            unexpected(&unexp),
            expected_words(&expected)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        Error::new(format!(
            "{len} items, expected {}",
            expected_words(&exp.to_string())
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = suggest(variant, expected.iter().copied())
            .unwrap_or_else(|| format!("use one of: {}", expected.join(", ")));
        Error::new(format!(
            "unknown variant `{variant}`, expected {}",
            one_of(expected)
        ))
        .hint(hint)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        // the message lists the keys
        let hint = suggest(field, expected.iter().copied()).unwrap_or_else(|| "remove it".into());
        Error::new(format!(
            "unknown field `{field}`, expected {}",
            one_of(expected)
        ))
        .hint(hint)
    }

    fn missing_field(field: &'static str) -> Self {
        Error::new(format!("missing field `{field}`")).hint(format!("add `{field}:`"))
    }
}

/// What to write instead, for `got` where `expected` belongs.
fn type_hint(got: &str, expected: &str) -> Option<&'static str> {
    Some(match expected {
        "a boolean" => "write true or false",
        e if e.starts_with("a whole number") => "write a whole number, e.g. 3",
        "a string" | "a number or a template such as \"{{ params.records }}\"" => match got {
            "a list" => "write one value here, not a list",
            "a mapping" => "write one value here, not a mapping",
            "an empty value" => "give it a value",
            _ => return None,
        },
        "a mapping" => "write `key: value` lines indented below the key",
        "a list" => "write `- item` lines below the key, or `[a, b]`",
        "a mapping with a `kind:`" => {
            "write it as a mapping that starts with `kind:`, e.g. `{kind: dir, path: lake}`"
        }
        e if e.starts_with("a command string") => {
            "e.g. `command: ./run.sh {{ ds }}`, or `command: [./run.sh, \"{{ ds }}\"]`"
        }
        _ => return None,
    })
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing here".to_string(),
        [one] => format!("`{one}`"),
        _ => format!(
            "one of {}",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The smallest and largest value of a Rust integer type, by the name
/// serde's number visitors expect.
fn integer_range(expected: &str) -> Option<(i128, i128)> {
    Some(match expected {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

fn whole_number((min, max): (i128, i128)) -> String {
    format!("a whole number from {min} to {max}")
}

/// `written` is a whole number outside `range`.
fn out_of_range(written: &str, value: i128, range: (i128, i128)) -> Error {
    let what = if value < 0 && range.0 == 0 {
        "is negative"
    } else {
        "is out of range"
    };
    Error::new(format!(
        "{written} {what}; expected {}",
        whole_number(range)
    ))
    .hint("write a whole number, e.g. 3")
}

/// `written` (a number) where a whole number in `range` belongs.
fn number_error(written: &str, value: f64, range: (i128, i128)) -> Error {
    if value.is_finite() && value.fract() == 0.0 {
        // a whole number written as a float, outside the range
        let what = if value < 0.0 && range.0 == 0 {
            "is negative"
        } else {
            "is out of range"
        };
        return Error::new(format!(
            "{written} {what}; expected {}",
            whole_number(range)
        ))
        .hint("write a whole number, e.g. 3");
    }
    Error::new(format!(
        "{written} is not a whole number; expected {}",
        whole_number(range)
    ))
    .hint("write a whole number, e.g. 3")
}

/// What serde's visitors expect, in an author's words.
fn expected_words(expected: &str) -> String {
    if let Some(range) = integer_range(expected) {
        return whole_number(range);
    }
    match expected {
        "f32" | "f64" => return "a number".to_string(),
        "a sequence" => return "a list".to_string(),
        "a map" => return "a mapping".to_string(),
        "a borrowed string" => return "a string".to_string(),
        "unit" => return "an empty value".to_string(),
        "option" => return "a value".to_string(),
        _ => {}
    }
    scrub_type_names(expected)
}

/// Replaces the Rust type names serde puts in messages (`struct DagSpec`,
/// `internally tagged enum SinkSpec`) by what they are in YAML.
pub fn scrub_type_names(message: &str) -> String {
    const NAMES: [(&str, &str); 6] = [
        ("internally tagged enum ", "a mapping with a `kind:`"),
        ("untagged enum ", "a value of another shape"),
        ("tuple struct ", "a list"),
        ("struct variant ", "a mapping"),
        ("struct ", "a mapping"),
        ("enum ", "one of the names listed"),
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    'scan: while !rest.is_empty() {
        for (rust, yaml) in NAMES {
            if let Some(after) = rest.strip_prefix(rust) {
                let name_len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let name = &after[..name_len];
                if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    out.push_str(yaml);
                    rest = &after[name_len..];
                    continue 'scan;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// serde's description of a value, in an author's words.
fn unexpected(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(n) => format!("integer `{n}`"),
        Unexpected::Signed(n) => format!("integer `{n}`"),
        Unexpected::Float(f) => format!("number `{f}`"),
        Unexpected::Char(c) => format!("character {c:?}"),
        Unexpected::Str(s) => format!("string {}", quoted(s)),
        Unexpected::Bytes(_) => "bytes".to_string(),
        Unexpected::Unit => "an empty value".to_string(),
        Unexpected::Option => "an optional value".to_string(),
        Unexpected::NewtypeStruct | Unexpected::NewtypeVariant => "a value".to_string(),
        Unexpected::Seq | Unexpected::TupleVariant => "a list".to_string(),
        Unexpected::Map | Unexpected::StructVariant => "a mapping".to_string(),
        Unexpected::Enum | Unexpected::UnitVariant => "a name".to_string(),
        Unexpected::Other(other) => other.to_string(),
    }
}

/// `text` in double quotes, escaped, cut at 80 characters.
fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!("{:?}{more}", cut)
}

/// A node being read.
#[derive(Clone, Copy)]
struct NodeDe<'de, 'a> {
    doc: &'de Doc<'a>,
    id: NodeId,
}

impl<'de, 'a: 'de> NodeDe<'de, 'a> {
    fn pos(&self) -> Pos {
        self.doc.pos(self.id)
    }

    /// What the node is, for "invalid type" messages.
    fn describe(&self) -> String {
        match self.doc.value(self.id) {
            Value::Seq(_) => "a list".to_string(),
            Value::Map(_) => "a mapping".to_string(),
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => "an empty value".to_string(),
                Resolved::Bool(b) => format!("boolean `{b}`"),
                Resolved::Int(_) => format!("integer `{}`", scalar.text),
                Resolved::Float(_) => format!("number `{}`", scalar.text),
                Resolved::Str(s) => format!("string {}", quoted(s)),
            },
        }
    }

    fn wrong_type(&self, expected: &str) -> Error {
        Error::wrong_type(&self.describe(), expected).at(self.pos())
    }

    fn integer<V: Visitor<'de>>(self, visitor: V, range: (i128, i128)) -> Result<V::Value, Error> {
        let Value::Scalar(scalar) = self.doc.value(self.id) else {
            return Err(self.wrong_type(&whole_number(range)));
        };
        let value = match scalar.resolve() {
            Resolved::Int(n) => n,
            Resolved::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 => f as i128,
            Resolved::Float(f) => {
                return Err(number_error(scalar.text, f, range).at(self.pos()));
            }
            _ => return Err(self.wrong_type(&whole_number(range))),
        };
        if value < range.0 || value > range.1 {
            return Err(out_of_range(scalar.text, value, range).at(self.pos()));
        }
        let result = match (i64::try_from(value), u64::try_from(value)) {
            (Ok(signed), _) if signed < 0 => visitor.visit_i64(signed),
            (_, Ok(unsigned)) => visitor.visit_u64(unsigned),
            _ => visitor.visit_i128(value),
        };
        result.map_err(|e: Error| e.at(self.pos()))
    }

    fn float<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let Value::Scalar(scalar) = self.doc.value(self.id) else {
            return Err(self.wrong_type("a number"));
        };
        match scalar.resolve() {
            Resolved::Int(n) => visitor.visit_f64(n as f64),
            Resolved::Float(f) => visitor.visit_f64(f),
            _ => Err(self.wrong_type("a number")),
        }
        .map_err(|e: Error| e.at(self.pos()))
    }
}

macro_rules! integers {
    ($($method:ident => $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.integer(visitor, (<$ty>::MIN as i128, <$ty>::MAX as i128))
            }
        )*
    };
}

impl<'de, 'a: 'de> de::Deserializer<'de> for NodeDe<'de, 'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match self.doc.value(self.id) {
            Value::Seq(items) => visitor.visit_seq(SeqDe::new(self.doc, items)),
            Value::Map(pairs) => visitor.visit_map(MapDe::new(self.doc, pairs)),
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(n) => match (i64::try_from(n), u64::try_from(n)) {
                    (Ok(signed), _) => visitor.visit_i64(signed),
                    (_, Ok(unsigned)) => visitor.visit_u64(unsigned),
                    _ => visitor.visit_f64(n as f64),
                },
                Resolved::Float(f) => visitor.visit_f64(f),
                Resolved::Str(s) => visitor.visit_borrowed_str(s),
            },
        };
        result.map_err(|e: Error| e.at(self.pos()))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.doc.value(self.id) {
            Value::Scalar(scalar) => match scalar.resolve() {
                Resolved::Bool(b) => visitor.visit_bool(b).map_err(|e: Error| e.at(self.pos())),
                _ => Err(self.wrong_type("a boolean")),
            },
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    integers! {
        deserialize_i8 => i8,
        deserialize_i16 => i16,
        deserialize_i32 => i32,
        deserialize_i64 => i64,
        deserialize_u8 => u8,
        deserialize_u16 => u16,
        deserialize_u32 => u32,
        deserialize_u64 => u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// Any scalar but null reads as its text as written: `command: true`
    /// is the string `true`, `- -1` in a list of strings is `-1`.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.doc.value(self.id) {
            Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => visitor
                .visit_borrowed_str(scalar.text)
                .map_err(|e: Error| e.at(self.pos())),
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.doc.is_null(self.id) {
            visitor.visit_none().map_err(|e: Error| e.at(self.pos()))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.doc.is_null(self.id) {
            visitor.visit_unit().map_err(|e: Error| e.at(self.pos()))
        } else {
            Err(self.wrong_type("an empty value"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.doc.value(self.id) {
            Value::Seq(items) => visitor
                .visit_seq(SeqDe::new(self.doc, items))
                .map_err(|e: Error| e.at(self.pos())),
            _ => Err(self.wrong_type("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.doc.value(self.id) {
            Value::Map(pairs) => visitor
                .visit_map(MapDe::new(self.doc, pairs))
                .map_err(|e: Error| e.at(self.pos())),
            _ => Err(self.wrong_type("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    /// Unit variants only: a name such as `all_success`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.doc.value(self.id) {
            Value::Scalar(scalar) if scalar.resolve() != Resolved::Null => visitor
                .visit_enum(UnitVariant { node: self })
                .map_err(|e: Error| e.at(self.pos())),
            _ => Err(self.wrong_type(&one_of(variants))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// Skips the node without reading it: `tasks` is read task by task.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct UnitVariant<'de, 'a> {
    node: NodeDe<'de, 'a>,
}

impl<'de, 'a: 'de> de::EnumAccess<'de> for UnitVariant<'de, 'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Error> {
        let value = seed.deserialize(self.node)?;
        Ok((value, self))
    }
}

impl<'de, 'a: 'de> de::VariantAccess<'de> for UnitVariant<'de, 'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value, Error> {
        Err(self.node.wrong_type("a mapping"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(self.node.wrong_type("a list"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(self.node.wrong_type("a mapping"))
    }
}

struct SeqDe<'de, 'a> {
    doc: &'de Doc<'a>,
    items: &'de [NodeId],
    next: usize,
}

impl<'de, 'a> SeqDe<'de, 'a> {
    fn new(doc: &'de Doc<'a>, items: &'de [NodeId]) -> Self {
        SeqDe {
            doc,
            items,
            next: 0,
        }
    }
}

impl<'de, 'a: 'de> de::SeqAccess<'de> for SeqDe<'de, 'a> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some(&id) = self.items.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        // an error serde made from buffered content has no position yet
        seed.deserialize(NodeDe { doc: self.doc, id })
            .map(Some)
            .map_err(|e| e.at(self.doc.pos(id)).under_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct MapDe<'de, 'a> {
    doc: &'de Doc<'a>,
    pairs: &'de [NodeId],
    next: usize,
}

impl<'de, 'a> MapDe<'de, 'a> {
    fn new(doc: &'de Doc<'a>, pairs: &'de [NodeId]) -> Self {
        MapDe {
            doc,
            pairs,
            next: 0,
        }
    }
}

impl<'de, 'a: 'de> de::MapAccess<'de> for MapDe<'de, 'a> {
    type Error = Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some(&id) = self.pairs.get(self.next) else {
            return Ok(None);
        };
        if !matches!(self.doc.value(id), Value::Scalar(_)) {
            return Err(
                Error::new("a key here must be a name, not a list or a mapping")
                    .hint("write `name: value`")
                    .at(self.doc.pos(id)),
            );
        }
        seed.deserialize(NodeDe { doc: self.doc, id }).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let key = self.pairs.get(self.next).copied();
        let Some(&id) = self.pairs.get(self.next + 1) else {
            return Err(Error::new("a key without a value"));
        };
        self.next += 2;
        seed.deserialize(NodeDe { doc: self.doc, id }).map_err(|e| {
            let name = key.and_then(|k| self.doc.text(k)).unwrap_or("?");
            e.at(self.doc.pos(id)).under_key(name)
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.pairs.len() - self.next) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::yaml::parse;
    use std::collections::BTreeMap;

    fn read<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, Error> {
        let doc = parse(Path::new("t.yaml"), text).map_err(|e| Error::new(e[0].to_string()))?;
        let root = doc.root().ok_or_else(|| Error::new("empty"))?;
        from_node(&doc, root)
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        retries: Option<u32>,
        ratio: Option<f64>,
        name: Option<String>,
        tags: Option<Vec<String>>,
        flag: Option<bool>,
    }

    #[test]
    fn numbers_out_of_range_say_so_with_the_range() {
        let cases = [
            (
                "retries: -1",
                "retries: -1 is negative; expected a whole number from 0 to 4294967295",
            ),
            (
                "retries: 1.5",
                "retries: 1.5 is not a whole number; expected a whole number from 0 to 4294967295",
            ),
            (
                "retries: 5000000000",
                "retries: 5000000000 is out of range; expected a whole number from 0 to 4294967295",
            ),
            (
                "retries: 1e100",
                "retries: 1e100 is out of range; expected a whole number from 0 to 4294967295",
            ),
            (
                "retries: .nan",
                "retries: .nan is not a whole number; expected a whole number from 0 to 4294967295",
            ),
            (
                "retries: three",
                "retries: invalid type: string \"three\", expected a whole number from 0 to 4294967295",
            ),
        ];
        for (text, message) in cases {
            let err = read::<Settings>(text).unwrap_err();
            assert_eq!(err.to_string(), message, "{text}");
            assert_eq!(
                err.pos,
                Some(Pos {
                    line: 1,
                    column: 10
                }),
                "{text}"
            );
        }
        let ok: Settings = read("retries: 3.0\nratio: 2").unwrap();
        assert_eq!(ok.retries, Some(3));
        assert_eq!(ok.ratio, Some(2.0));
    }

    #[test]
    fn scalars_read_as_strings_where_strings_belong() {
        let ok: Settings = read("name: 2024\ntags: [-1, true, x]").unwrap();
        assert_eq!(ok.name.as_deref(), Some("2024"));
        assert_eq!(ok.tags.unwrap(), vec!["-1", "true", "x"]);
        let err = read::<Settings>("tags: [a, {b: c}]").unwrap_err();
        assert_eq!(
            err.to_string(),
            "tags[1]: invalid type: a mapping, expected a string"
        );
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 1,
                column: 11
            })
        );
    }

    #[test]
    fn unknown_and_missing_keys_are_named_with_a_suggestion() {
        let err = read::<Settings>("retires: 3").unwrap_err();
        assert_eq!(err.pos, Some(Pos { line: 1, column: 1 }));
        assert!(
            err.message
                .starts_with("unknown field `retires`, expected one of `retries`")
        );
        assert_eq!(err.hint.as_deref(), Some("did you mean `retries`?"));
    }

    #[test]
    fn rust_type_names_never_reach_a_message() {
        let err = read::<Settings>("[1, 2]").unwrap_err();
        assert_eq!(err.to_string(), "invalid type: a list, expected a mapping");
        assert_eq!(
            scrub_type_names(
                "invalid type: map, expected struct DagSpec or untagged enum ShellCommand"
            ),
            "invalid type: map, expected a mapping or a value of another shape"
        );
    }

    #[test]
    fn aliases_and_merge_keys_read_as_the_values_they_name() {
        let text = "base: &base {a: 1, b: 2}\nuse:\n  <<: *base\n  b: 3\n";
        let value: BTreeMap<String, BTreeMap<String, i64>> = read(text).unwrap();
        assert_eq!(
            value["use"],
            BTreeMap::from([("a".into(), 1), ("b".into(), 3)])
        );
    }
}
