//! The one error type of the API, rendered as Airflow's problem JSON
//! (RFC 7807, `application/problem+json`). 5xx errors are logged here, once,
//! and their bodies never carry SQL or other internals.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::{ControlError, EngineError};
use crate::store::StoreError;

/// Where Airflow's API reference explains each problem type.
const DOCS: &str = "https://airflow.apache.org/docs/apache-airflow/2.10.5/stable-rest-api-ref.html";

/// An error answered to the client: status, Airflow's title and a detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    title: Cow<'static, str>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct Problem<'a> {
    detail: Option<&'a str>,
    status: u16,
    title: &'a str,
    #[serde(rename = "type")]
    kind: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        title: impl Into<Cow<'static, str>>,
        detail: Option<String>,
    ) -> Self {
        ApiError {
            status,
            title: title.into(),
            detail,
        }
    }

    /// 400, Airflow's `BadRequest`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad Request", Some(detail.into()))
    }

    /// 404 with Airflow's per-resource title (`DAG not found`, …).
    pub fn not_found(title: impl Into<Cow<'static, str>>, detail: Option<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, title, detail)
    }

    /// 409, Airflow's `AlreadyExists`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", Some(detail.into()))
    }

    /// 401; says nothing about which part of the credentials was wrong.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", None)
    }

    /// 413: the request body is over the limit.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            Some("The data value transmitted exceeds the capacity limit.".to_string()),
        )
    }

    /// 500: logs `err` and answers a body without it.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!("the API failed to answer a request: {err:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            Some(
                "The server encountered an internal error and was unable to complete your request."
                    .to_string(),
            ),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Airflow's `type` link for the statuses it documents; `about:blank`
    /// (RFC 7807's default) for the rest, as connexion answers them.
    fn kind(&self) -> String {
        let section = match self.status.as_u16() {
            400 => "BadRequest",
            401 => "Unauthenticated",
            403 => "PermissionDenied",
            404 => "NotFound",
            405 => "MethodNotAllowed",
            409 => "AlreadyExists",
            500 => "Unknown",
            _ => return "about:blank".to_string(),
        };
        format!("{DOCS}#section/Errors/{section}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            detail: self.detail.as_deref(),
            status: self.status.as_u16(),
            title: &self.title,
            kind: self.kind(),
        };
        let text = serde_json::to_string(&body).unwrap_or_default();
        let mut response = (self.status, text).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::NotFound(what) => {
                Self::not_found("Not Found", Some(format!("{what} not found")))
            }
            StoreError::DuplicateRun { .. }
            | StoreError::DuplicateInterval { .. }
            | StoreError::Conflict { .. } => Self::conflict(err.to_string()),
            _ => Self::internal(&err),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Store(err) => err.into(),
            ControlError::DrivenElsewhere { .. } | ControlError::Transition(_) => {
                Self::conflict(err.to_string())
            }
            other => Self::internal(&other),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Control(err) => err.into(),
            other => Self::internal(&other),
        }
    }
}
