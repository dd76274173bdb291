//! Request bodies checked against the fields Airflow's schema loads, before
//! serde sees them, so every answer is in Airflow's words: a wrong type as
//! connexion says it (`'yes' is not of type 'boolean' - 'is_paused'`),
//! missing and unknown fields as marshmallow does, all of them at once
//! (`{'state': ['Unknown field.']}`). A `null` is the same as an absent
//! field. Depends on nothing but `error`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;

/// What a body field holds, as Airflow's OpenAPI schema types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Boolean,
    String,
    /// An integer no less than this; larger than 64 bits is read as the
    /// largest 64-bit one.
    Integer {
        minimum: i64,
    },
    /// A number (`duration_gte`).
    Number,
    /// An ISO 8601 string, read by the handler.
    DateTime,
    Object,
    /// A list of strings; `nulls` allows `null` items (Airflow's `none` state).
    Strings {
        nulls: bool,
    },
}

/// One field of a body.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

impl Field {
    pub const fn optional(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
        }
    }

    pub const fn required(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: true,
        }
    }
}

/// A request body: its serde shape and the fields it may carry (which must
/// be exactly the shape's; each form's test checks it with [`sample`]).
pub trait Form: DeserializeOwned {
    const FIELDS: &'static [Field];
}

/// Checks `value` against `T`'s fields and builds it. A wrong type is
/// answered alone, as connexion answers it before marshmallow loads;
/// missing and unknown fields are answered together.
pub fn load<T: Form>(value: Value) -> Result<T, ApiError> {
    let Value::Object(mut map) = value else {
        return Err(ApiError::bad_request(format!(
            "{} is not of type 'object'",
            py_repr(&value)
        )));
    };
    let mut messages: Vec<(String, &'static str)> = Vec::new();
    for field in T::FIELDS {
        match map.get_mut(field.name) {
            None | Some(Value::Null) => {
                map.remove(field.name);
                if field.required {
                    messages.push((field.name.to_string(), "Missing data for required field."));
                }
            }
            Some(value) => check(field, value)?,
        }
    }
    let mut unknown: Vec<&String> = map
        .keys()
        .filter(|key| !T::FIELDS.iter().any(|f| f.name == key.as_str()))
        .collect();
    unknown.sort();
    messages.extend(
        unknown
            .into_iter()
            .map(|key| (key.clone(), "Unknown field.")),
    );
    if !messages.is_empty() {
        return Err(ApiError::bad_request(marshmallow(&messages)));
    }
    serde_json::from_value(Value::Object(map)).map_err(|err| {
        // the checks above let through only what the shape takes
        ApiError::internal(&format!("a checked request body did not load: {err}"))
    })
}

/// Connexion's answer to a value of the wrong type or range.
fn check(field: &Field, value: &mut Value) -> Result<(), ApiError> {
    let wrong = |value: &Value, kind: &str, path: &str| {
        ApiError::bad_request(format!(
            "{} is not of type '{kind}' - '{path}'",
            py_repr(value)
        ))
    };
    match field.kind {
        Kind::Boolean if !value.is_boolean() => Err(wrong(value, "boolean", field.name)),
        Kind::String | Kind::DateTime if !value.is_string() => {
            Err(wrong(value, "string", field.name))
        }
        Kind::Object if !value.is_object() => Err(wrong(value, "object", field.name)),
        Kind::Number if !value.is_number() => Err(wrong(value, "number", field.name)),
        Kind::Integer { minimum } => {
            let n = match (value.as_i64(), value.as_u64()) {
                (Some(n), _) => n,
                (None, Some(_)) => i64::MAX,
                (None, None) => return Err(wrong(value, "integer", field.name)),
            };
            if n < minimum {
                return Err(ApiError::bad_request(format!(
                    "{n} is less than the minimum of {minimum} - '{}'",
                    field.name
                )));
            }
            *value = Value::from(n);
            Ok(())
        }
        Kind::Strings { nulls } => {
            let Some(items) = value.as_array() else {
                return Err(wrong(value, "array", field.name));
            };
            for (i, item) in items.iter().enumerate() {
                if !(item.is_string() || (nulls && item.is_null())) {
                    return Err(wrong(item, "string", &format!("{}.{i}", field.name)));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Marshmallow's `ValidationError.messages` as Python prints the dict.
fn marshmallow(messages: &[(String, &str)]) -> String {
    let entries: Vec<String> = messages
        .iter()
        .map(|(field, message)| format!("{}: [{}]", py_str(field), py_str(message)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// A single-field marshmallow message: `{'field': ['message']}`.
pub fn field_message(field: &str, message: &str) -> String {
    marshmallow(&[(field.to_string(), message)])
}

/// How many characters of a string, or items of a list or object, an
/// error message repeats.
const SHOWN: usize = 100;

/// A JSON value as Python's `repr` prints it (as jsonschema quotes it),
/// shortened past [`SHOWN`] characters or items.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str(s),
        Value::Array(items) => {
            let mut shown: Vec<String> = items.iter().take(SHOWN).map(py_repr).collect();
            if items.len() > SHOWN {
                shown.push("...".to_string());
            }
            format!("[{}]", shown.join(", "))
        }
        Value::Object(map) => py_dict(map),
    }
}

fn py_dict(map: &Map<String, Value>) -> String {
    let mut shown: Vec<String> = map
        .iter()
        .take(SHOWN)
        .map(|(k, v)| format!("{}: {}", py_str(k), py_repr(v)))
        .collect();
    if map.len() > SHOWN {
        shown.push("...".to_string());
    }
    format!("{{{}}}", shown.join(", "))
}

/// A string as Python's `repr` quotes it; control and direction-changing
/// characters are escaped, so a message never carries them raw.
pub fn py_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len().min(SHOWN * 4) + 2);
    out.push(quote);
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || invisible(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `text` escaped as [`py_str`] escapes it, without the quotes: for
/// messages that quote with backticks.
pub fn escaped(text: &str) -> String {
    let quoted = py_str(text);
    let mut chars = quoted.chars();
    chars.next();
    chars.next_back();
    chars.as_str().to_string()
}

/// Format characters that reorder or hide text in a terminal.
fn invisible(c: char) -> bool {
    matches!(c as u32, 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2069 | 0xfeff)
}

/// A body with every field of `T` set to a value of its kind: a form's test
/// loads it to show that its fields and its serde shape agree.
#[cfg(test)]
pub fn sample<T: Form>() -> Result<T, ApiError> {
    let map: Map<String, Value> = T::FIELDS
        .iter()
        .map(|field| {
            let value = match field.kind {
                Kind::Boolean => Value::Bool(true),
                Kind::String => Value::from("x"),
                Kind::Integer { minimum } => Value::from(minimum),
                Kind::Number => Value::from(1.5),
                Kind::DateTime => Value::from("2024-01-01T00:00:00+00:00"),
                Kind::Object => serde_json::json!({}),
                Kind::Strings { .. } => serde_json::json!(["x"]),
            };
            (field.name.to_string(), value)
        })
        .collect();
    load(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Patch {
        is_paused: Option<bool>,
        state: String,
        limit: Option<i64>,
        ids: Option<Vec<String>>,
    }

    impl Form for Patch {
        const FIELDS: &'static [Field] = &[
            Field::optional("is_paused", Kind::Boolean),
            Field::required("state", Kind::String),
            Field::optional("limit", Kind::Integer { minimum: 1 }),
            Field::optional("ids", Kind::Strings { nulls: false }),
        ];
    }

    fn detail(value: Value) -> String {
        let err = load::<Patch>(value).unwrap_err();
        err.detail().unwrap_or_default().to_string()
    }

    #[test]
    fn a_sample_body_loads() {
        assert!(sample::<Patch>().is_ok());
    }

    #[test]
    fn nulls_are_absent_and_big_integers_saturate() {
        let patch: Patch =
            load(json!({"is_paused": null, "state": "x", "limit": 18446744073709551615u64}))
                .unwrap();
        assert_eq!(
            patch,
            Patch {
                is_paused: None,
                state: "x".into(),
                limit: Some(i64::MAX),
                ids: None
            }
        );
    }

    #[test]
    fn every_unknown_and_missing_field_is_named_as_marshmallow_names_them() {
        assert_eq!(
            detail(json!({"zeta": 1, "alpha": 2, "is_paused": true})),
            "{'state': ['Missing data for required field.'], 'alpha': ['Unknown field.'], 'zeta': ['Unknown field.']}"
        );
        assert_eq!(
            detail(json!({"state": "x", "it's": 1})),
            "{\"it's\": ['Unknown field.']}"
        );
    }

    #[test]
    fn a_wrong_type_is_answered_as_connexion_answers_it() {
        assert_eq!(
            detail(json!({"is_paused": "yes", "state": "x"})),
            "'yes' is not of type 'boolean' - 'is_paused'"
        );
        assert_eq!(
            detail(json!({"state": 5})),
            "5 is not of type 'string' - 'state'"
        );
        assert_eq!(
            detail(json!({"state": "x", "limit": 1.5})),
            "1.5 is not of type 'integer' - 'limit'"
        );
        assert_eq!(
            detail(json!({"state": "x", "limit": -3})),
            "-3 is less than the minimum of 1 - 'limit'"
        );
        assert_eq!(
            detail(json!({"state": "x", "ids": ["a", false]})),
            "False is not of type 'string' - 'ids.1'"
        );
        assert_eq!(
            detail(json!([1, null])),
            "[1, None] is not of type 'object'"
        );
    }

    #[test]
    fn python_repr_escapes_what_a_terminal_would_act_on() {
        assert_eq!(py_str("a\u{1b}[31m\n\u{202e}"), "'a\\x1b[31m\\n\\u202e'");
        assert_eq!(py_str("\\'\""), "'\\\\\\'\"'");
        assert_eq!(
            py_str(&"x".repeat(150)),
            format!("'{}...'", "x".repeat(100))
        );
        assert_eq!(py_repr(&json!({"a": [true, 1.5]})), "{'a': [True, 1.5]}");
    }
}
