//! Request parsing as FastAPI does it for Airflow 3: a JSON body checked
//! against its fields (pydantic's error types, every failed field listed,
//! 422), and query parameters with integer bounds.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::{Invalid, V2Error};
use crate::api::time::{TimeError, body_instant};

/// What a body field must hold.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    Boolean,
    /// A JSON object.
    Object,
    /// An ISO 8601 instant with an offset (pydantic's `AwareDatetime`).
    DateTime,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A list of strings.
    Strings,
    /// An integer at least this.
    Integer {
        minimum: i64,
    },
}

/// A body field: its name, kind, whether it must be present, whether
/// `null` is allowed.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub nullable: bool,
}

impl Field {
    pub const fn optional(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
            nullable: true,
        }
    }

    /// Present, but `null` allowed (`logical_date` of a trigger).
    pub const fn required_nullable(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: true,
            nullable: true,
        }
    }

    pub const fn required(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: true,
            nullable: false,
        }
    }
}

/// A body model: its fields, and whether unknown ones are refused
/// (Airflow's `StrictBaseModel`, `extra="forbid"`).
pub trait Model: DeserializeOwned {
    const FIELDS: &'static [Field];
    const FORBID_EXTRA: bool = true;
}

/// A JSON body checked against its [`Model`].
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: Model> FromRequest<S> for Body<T> {
    type Rejection = V2Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, V2Error> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                V2Error::new(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
            } else {
                V2Error::bad_request("the request body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(V2Error::invalid(vec![Invalid::new(
                "missing",
                &["body"],
                "Field required",
                Value::Null,
            )]));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
            let mut loc = vec![json!("body")];
            loc.push(json!(err.column().saturating_sub(1)));
            V2Error::invalid(vec![Invalid {
                kind: "json_invalid",
                loc,
                msg: "JSON decode error".to_string(),
                input: json!({}),
                ctx: Some(Box::new(json!({ "error": err.to_string() }))),
            }])
        })?;
        load(value).map(Body)
    }
}

/// Checks `value` against `T`'s fields, listing every failure, then reads it.
pub fn load<T: Model>(value: Value) -> Result<T, V2Error> {
    let Value::Object(map) = &value else {
        return Err(V2Error::invalid(vec![Invalid::new(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            value,
        )]));
    };
    let mut errors = Vec::new();
    for field in T::FIELDS {
        match map.get(field.name) {
            None if field.required => errors.push(Invalid::new(
                "missing",
                &["body", field.name],
                "Field required",
                value.clone(),
            )),
            None => {}
            Some(Value::Null) if field.nullable => {}
            Some(given) => {
                if let Some(error) = check(field, given) {
                    errors.push(error);
                }
            }
        }
    }
    if T::FORBID_EXTRA {
        for (key, given) in map {
            if !T::FIELDS.iter().any(|f| f.name == key) {
                errors.push(Invalid::new(
                    "extra_forbidden",
                    &["body", key],
                    "Extra inputs are not permitted",
                    given.clone(),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(V2Error::invalid(errors));
    }
    serde_json::from_value(value).map_err(|err| {
        V2Error::invalid(vec![Invalid::new(
            "value_error",
            &["body"],
            format!("Value error, {err}"),
            Value::Null,
        )])
    })
}

/// Why `given` is not a `field`, if it is not.
fn check(field: &Field, given: &Value) -> Option<Invalid> {
    let loc = ["body", field.name];
    let wrong = |kind: &'static str, msg: &str| Some(Invalid::new(kind, &loc, msg, given.clone()));
    match field.kind {
        Kind::String if !given.is_string() => {
            wrong("string_type", "Input should be a valid string")
        }
        Kind::Boolean if !given.is_boolean() => {
            wrong("bool_type", "Input should be a valid boolean")
        }
        Kind::Object if !given.is_object() => {
            wrong("dict_type", "Input should be a valid dictionary")
        }
        Kind::Integer { minimum } => match given.as_i64() {
            None => wrong("int_type", "Input should be a valid integer"),
            Some(n) if n < minimum => Some(
                Invalid::new(
                    "greater_than_equal",
                    &loc,
                    format!("Input should be greater than or equal to {minimum}"),
                    given.clone(),
                )
                .with_ctx(json!({ "ge": minimum })),
            ),
            Some(_) => None,
        },
        Kind::Strings => match given.as_array() {
            None => wrong("list_type", "Input should be a valid list"),
            Some(items) => items
                .iter()
                .enumerate()
                .find(|(_, item)| !item.is_string())
                .map(|(i, item)| Invalid {
                    kind: "string_type",
                    loc: vec![json!("body"), json!(field.name), json!(i)],
                    msg: "Input should be a valid string".to_string(),
                    input: item.clone(),
                    ctx: None,
                }),
        },
        Kind::OneOf(allowed) => {
            let ok = given.as_str().is_some_and(|s| allowed.contains(&s));
            if ok {
                return None;
            }
            let expected = one_of(allowed);
            Some(
                Invalid::new(
                    "enum",
                    &loc,
                    format!("Input should be {expected}"),
                    given.clone(),
                )
                .with_ctx(json!({ "expected": expected })),
            )
        }
        Kind::DateTime => {
            let Some(text) = given.as_str() else {
                return wrong("datetime_type", "Input should be a valid datetime");
            };
            match body_instant(text) {
                Ok(_) => None,
                Err(TimeError::Naive) => wrong("timezone_aware", "Input should have timezone info"),
                Err(err) => Some(
                    Invalid::new(
                        "datetime_from_date_parsing",
                        &loc,
                        format!("Input should be a valid datetime or date, {err}"),
                        given.clone(),
                    )
                    .with_ctx(json!({ "error": err.to_string() })),
                ),
            }
        }
        _ => None,
    }
}

/// pydantic's list of choices: `'a', 'b' or 'c'`.
fn one_of(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|s| format!("'{s}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A body instant already checked by [`load`].
pub fn instant(text: Option<&str>) -> Option<DateTime<Utc>> {
    text.and_then(|t| body_instant(t).ok())
}

/// The query string as (key, value) pairs; a key may repeat.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = V2Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, V2Error> {
        match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(rejection) => Err(V2Error::bad_request(rejection.body_text())),
        }
    }
}

/// Airflow's `[api] maximum_page_limit` and default page.
pub const PAGE_LIMIT: i64 = 100;

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable key.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// An integer parameter at least `minimum`, if given.
    pub fn integer(&self, key: &str, minimum: i64) -> Result<Option<i64>, Invalid> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let input = json!(text);
        let n: i64 = text.trim().parse().map_err(|_| {
            Invalid::new(
                "int_parsing",
                &["query", key],
                "Input should be a valid integer, unable to parse string as an integer",
                input.clone(),
            )
        })?;
        if n < minimum {
            return Err(Invalid::new(
                "greater_than_equal",
                &["query", key],
                format!("Input should be greater than or equal to {minimum}"),
                input,
            )
            .with_ctx(json!({ "ge": minimum })));
        }
        Ok(Some(n))
    }

    /// A number parameter greater than 0 (`interval` of the wait).
    pub fn positive(&self, key: &str) -> Result<Option<f64>, Invalid> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let input = json!(text);
        let n: f64 = text.trim().parse().map_err(|_| {
            Invalid::new(
                "float_parsing",
                &["query", key],
                "Input should be a valid number, unable to parse string as a number",
                input.clone(),
            )
        })?;
        if n.is_nan() || n <= 0.0 {
            return Err(Invalid::new(
                "greater_than",
                &["query", key],
                "Input should be greater than 0",
                input,
            )
            .with_ctx(json!({ "gt": 0 })));
        }
        Ok(Some(n))
    }

    /// `limit` (default 50 as Airflow 3, at most 100) and `offset`.
    pub fn page(&self) -> Result<(i64, i64), V2Error> {
        let limit = self.integer("limit", 0);
        let offset = self.integer("offset", 0);
        match (limit, offset) {
            (Ok(limit), Ok(offset)) => {
                Ok((limit.unwrap_or(50).min(PAGE_LIMIT), offset.unwrap_or(0)))
            }
            (limit, offset) => Err(V2Error::invalid(
                [limit.err(), offset.err()].into_iter().flatten().collect(),
            )),
        }
    }

    /// A date-time range filter `{name}_gte`/`_lte` (and `_gt`/`_lt` taken
    /// as inclusive bounds, which is exact at microsecond precision less
    /// one).
    pub fn range(&self, name: &str) -> Result<crate::store::Bounds<DateTime<Utc>>, V2Error> {
        let read = |suffix: &str| -> Result<Option<DateTime<Utc>>, V2Error> {
            let key = format!("{name}_{suffix}");
            let Some(text) = self.get(&key) else {
                return Ok(None);
            };
            crate::api::time::query_instant(text)
                .map(Some)
                .map_err(|err| {
                    V2Error::invalid(vec![
                        Invalid::new(
                            "datetime_from_date_parsing",
                            &["query", key.as_str()],
                            format!("Input should be a valid datetime or date, {err}"),
                            json!(text),
                        )
                        .with_ctx(json!({ "error": err.to_string() })),
                    ])
                })
        };
        let micro = chrono::Duration::microseconds(1);
        let gte = match (read("gte")?, read("gt")?) {
            (Some(t), _) => Some(t),
            (None, Some(t)) => Some(t + micro),
            (None, None) => None,
        };
        let lte = match (read("lte")?, read("lt")?) {
            (Some(t), _) => Some(t),
            (None, Some(t)) => Some(t - micro),
            (None, None) => None,
        };
        Ok(crate::store::Bounds { gte, lte })
    }

    /// `order_by` as Airflow 3 reads it: a field, `-` first for descending.
    pub fn order_by(&self, default: &'static str) -> (String, bool) {
        let given = self.get("order_by").unwrap_or(default);
        match given.strip_prefix('-') {
            Some(field) => (field.to_string(), true),
            None => (given.to_string(), false),
        }
    }
}
