//! Airflow 3's (FastAPI's) error bodies: `{"detail": "..."}` for an
//! `HTTPException`, `{"detail": [{"type", "loc", "msg", "input"}, …]}` with
//! 422 for a request that fails validation. 5xx are logged here, once.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::engine::{ControlError, EngineError};
use crate::store::StoreError;

/// An error answered on `/api/v2` and `/auth/token`.
#[derive(Debug, Clone)]
pub enum V2Error {
    /// An `HTTPException(status, detail)`.
    Http { status: StatusCode, detail: String },
    /// 422: every field that failed, as pydantic lists them.
    Validation(Vec<Invalid>),
}

/// One failed field: pydantic's error type, where, what, and the input.
#[derive(Debug, Clone, Serialize)]
pub struct Invalid {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Box<Value>>,
}

impl Invalid {
    /// A failed field at `loc` (`["body", "logical_date"]`).
    pub fn new(kind: &'static str, loc: &[&str], msg: impl Into<String>, input: Value) -> Self {
        Invalid {
            kind,
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(Box::new(ctx));
        self
    }
}

impl V2Error {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        V2Error::Http {
            status,
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 401 as Airflow 3 answers a request without valid credentials.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Not authenticated")
    }

    pub fn invalid(errors: Vec<Invalid>) -> Self {
        V2Error::Validation(errors)
    }

    /// 500: logs `err` and answers a body without it.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!("the API failed to answer a request: {err:#}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    pub fn status(&self) -> StatusCode {
        match self {
            V2Error::Http { status, .. } => *status,
            V2Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match self {
            V2Error::Http { detail, .. } => json!({ "detail": detail }),
            V2Error::Validation(errors) => json!({ "detail": errors }),
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A v1 error (from logic shared with v1) keeps its status; its detail, or
/// its title when it has none, becomes the `detail`.
impl From<ApiError> for V2Error {
    fn from(err: ApiError) -> Self {
        // a 5xx was logged where it was made
        let detail = err.detail().unwrap_or(err.title()).to_string();
        Self::new(err.status(), detail)
    }
}

impl From<StoreError> for V2Error {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<ControlError> for V2Error {
    fn from(err: ControlError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<EngineError> for V2Error {
    fn from(err: EngineError) -> Self {
        ApiError::from(err).into()
    }
}
