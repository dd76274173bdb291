//! Request extractors whose rejections are problem JSON: a JSON body, path
//! segments, and query parameters read the way Airflow (connexion) reads
//! them (repeatable keys, Airflow's page-limit rules).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Airflow's default and largest page (`[api] fallback_page_limit`,
/// `maximum_page_limit`).
const PAGE_LIMIT: i64 = 100;

/// A JSON request body; any rejection (not JSON, malformed, wrong shape,
/// too large) becomes problem JSON.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::payload_too_large(),
        JsonRejection::MissingJsonContentType(_) => ApiError::bad_request(
            "the request body must be JSON, sent with `Content-Type: application/json`",
        ),
        JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request(rejection.body_text())
        }
        _ => ApiError::bad_request("the request body could not be read"),
    }
}

/// Path segments, with a problem-JSON rejection.
#[derive(Debug, Clone)]
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
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
                "'{v}' is not of type 'boolean' - '{key}'"
            ))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("'{v}' is not of type 'integer' - '{key}'"))
                })
            })
            .transpose()
    }

    /// `limit` and `offset` as Airflow applies them: limit defaults to 100,
    /// is capped at 100, and 0 means the default; negatives are refused.
    pub fn page(&self) -> Result<(i64, i64), ApiError> {
        let limit = match self.int("limit")? {
            None | Some(0) => PAGE_LIMIT,
            Some(n) if n < 0 => {
                return Err(ApiError::bad_request(
                    "Page limit must be a positive integer",
                ));
            }
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

/// An ISO 8601 / RFC 3339 instant; one without an offset is read as UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    Some(naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_an_offset_or_none_are_accepted() {
        let utc = parse_time("2024-01-01T00:00:00Z");
        assert_eq!(parse_time("2024-01-01T01:00:00+01:00"), utc);
        assert_eq!(parse_time("2024-01-01T00:00:00"), utc);
        assert_eq!(parse_time("2024-01-01 00:00:00.000"), utc);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-01-01"), None);
    }
}
