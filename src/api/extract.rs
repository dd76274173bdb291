//! Request extractors whose rejections are problem JSON: a JSON body, path
//! segments, and query parameters read the way Airflow (connexion) reads
//! them (repeatable keys, Airflow's page-limit rules).

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::form::{Form, escaped, field_message, load, py_str};
use super::time::{TimeError, body_instant, query_instant};
use crate::store::Bounds;

/// Airflow's default and largest page (`[api] fallback_page_limit`,
/// `maximum_page_limit`).
pub const PAGE_LIMIT: i64 = 100;

/// A JSON request body checked against its [`Form`]: not JSON, malformed,
/// a wrong type, a missing or unknown field, too large — each is problem
/// JSON saying which.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: Form> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::bad_request(
                "the request body must be JSON, sent with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::bad_request("the request body could not be read")
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::bad_request(format!("Request body is not valid JSON: {err}"))
        })?;
        load(value).map(Body)
    }
}

/// `application/json` or `application/*+json`, any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Path segments, with a problem-JSON rejection.
#[derive(Debug, Clone)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) => match err.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => Err(ApiError::bad_request(format!(
                    "the path parameter '{key}' is not UTF-8 once percent-decoded"
                ))),
                _ => Err(ApiError::bad_request("the URL path could not be read")),
            },
            Err(other) => Err(ApiError::internal(&other.body_text())),
        }
    }
}

/// The query string as (key, value) pairs; a key may repeat
/// (`state=failed&state=success`), as Airflow's array parameters do.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable key; comma-separated values are split too.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(format!(
                "{} is not of type 'boolean' - '{key}'",
                py_str(v)
            ))),
        }
    }

    /// An integer; one too large for 64 bits is the largest (Python's
    /// integers have no limit, and Airflow caps a page anyway).
    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_int(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{} is not of type 'integer' - '{key}'",
                        py_str(v)
                    ))
                })
            })
            .transpose()
    }

    /// A finite number (`duration_gte`).
    pub fn number(&self, key: &str) -> Result<Option<f64>, ApiError> {
        self.get(key)
            .map(|v| match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(n),
                _ => Err(ApiError::bad_request(format!(
                    "{} is not of type 'number' - '{key}'",
                    py_str(v)
                ))),
            })
            .transpose()
    }

    /// A date-time filter, read as Airflow's `format_datetime` reads one;
    /// a bad one is Airflow's `Incorrect datetime argument`.
    pub fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(key)
            .map(|v| {
                query_instant(v).map_err(|err| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "Incorrect datetime argument",
                        Some(format!(
                            "Invalid date string: {} ({err}) - '{key}'",
                            py_str(v)
                        )),
                    )
                })
            })
            .transpose()
    }

    /// The inclusive range `{name}_gte` .. `{name}_lte`.
    pub fn time_range(&self, name: &str) -> Result<Bounds<DateTime<Utc>>, ApiError> {
        Ok(time_bounds(
            self.time(&format!("{name}_gte"))?,
            self.time(&format!("{name}_lte"))?,
        ))
    }

    /// The range on a run's logical date: Airflow 2's `execution_date_*`
    /// and Airflow 3's `logical_date_*`; both given, both apply.
    pub fn logical_date_range(&self) -> Result<Bounds<DateTime<Utc>>, ApiError> {
        let a = self.time_range("execution_date")?;
        let b = self.time_range("logical_date")?;
        let pick = |x: Option<DateTime<Utc>>, y: Option<DateTime<Utc>>, later: bool| match (x, y) {
            (Some(x), Some(y)) => Some(if later { x.max(y) } else { x.min(y) }),
            (x, y) => x.or(y),
        };
        Ok(Bounds {
            gte: pick(a.gte, b.gte, true),
            lte: pick(a.lte, b.lte, false),
        })
    }

    /// `limit` and `offset` as Airflow applies them: limit defaults to 100,
    /// is capped at 100, and 0 means the default; negatives are refused.
    pub fn page(&self) -> Result<(i64, i64), ApiError> {
        let limit = match self.int("limit")? {
            None | Some(0) => PAGE_LIMIT,
            Some(n) if n < 0 => return Err(negative_limit()),
            Some(n) => n.min(PAGE_LIMIT),
        };
        let offset = match self.int("offset")? {
            None => 0,
            Some(n) if n < 0 => {
                return Err(ApiError::bad_request(format!(
                    "{n} is less than the minimum of 0 - 'offset'"
                )));
            }
            Some(n) => n,
        };
        Ok((limit, offset))
    }

    /// `order_by`: a field name, `-` first for descending.
    pub fn order_by<'a>(&'a self, default: &'a str) -> (&'a str, bool) {
        let order = self.get("order_by").unwrap_or(default);
        match order.strip_prefix('-') {
            Some(field) => (field, true),
            None => (order, false),
        }
    }
}

/// An inclusive range of instants. An upper bound given to the
/// microsecond covers its whole microsecond: the API writes instants to the
/// microsecond (as Airflow stores them) while the clock keeps nanoseconds,
/// so `start_date_lte` set to a run's `start_date` as shown finds the run.
pub fn time_bounds(
    gte: Option<DateTime<Utc>>,
    lte: Option<DateTime<Utc>>,
) -> Bounds<DateTime<Utc>> {
    let lte = lte.map(|t| {
        if chrono::Timelike::nanosecond(&t) % 1000 == 0 {
            t + chrono::Duration::nanoseconds(999)
        } else {
            t
        }
    });
    Bounds { gte, lte }
}

/// The `{name}_gte` / `{name}_lte` pair of a request body as one range.
pub fn body_range(
    name: &str,
    gte: Option<&str>,
    lte: Option<&str>,
) -> Result<Bounds<DateTime<Utc>>, ApiError> {
    Ok(time_bounds(
        body_time(&format!("{name}_gte"), gte)?,
        body_time(&format!("{name}_lte"), lte)?,
    ))
}

/// Airflow's `check_limit`: the message is the title, with no detail.
pub fn negative_limit() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "Page limit must be a positive integer",
        None,
    )
}

fn parse_int(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then_some(if negative { i64::MIN } else { i64::MAX })
}

/// A date-time field of a request body (`None` when absent); a bad one is
/// marshmallow's `Not a valid datetime.` with the reason.
pub fn body_time(field: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    body_instant(text).map(Some).map_err(|err| {
        let shown = escaped(text);
        let why = match err {
            TimeError::Syntax => format!("`{shown}` is not an ISO 8601 date-time"),
            other => format!("`{shown}`: {other}"),
        };
        ApiError::bad_request(format!(
            "{}: {why}",
            field_message(field, "Not a valid datetime.")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_too_large_for_64_bits_saturate_and_others_are_refused() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("99999999999999999999"), Some(i64::MAX));
        assert_eq!(parse_int("-99999999999999999999"), Some(i64::MIN));
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn a_bad_body_date_time_says_why() {
        let detail = |text: &str| {
            body_time("logical_date", Some(text))
                .unwrap_err()
                .detail()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            detail("yesterday"),
            "{'logical_date': ['Not a valid datetime.']}: `yesterday` is not an ISO 8601 date-time"
        );
        assert_eq!(
            detail("2016-12-31T23:59:60Z"),
            "{'logical_date': ['Not a valid datetime.']}: `2016-12-31T23:59:60Z`: second must be in 0..59"
        );
        assert_eq!(
            detail("bad\u{1b}"),
            "{'logical_date': ['Not a valid datetime.']}: `bad\\x1b` is not an ISO 8601 date-time"
        );
    }
}
