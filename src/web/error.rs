//! A page that cannot be shown, as a small HTML page a person reads.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::engine::{ControlError, EngineError};
use crate::store::StoreError;

#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn not_found(message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(err: StoreError) -> Self {
        let status = match err {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict { .. }
            | StoreError::DuplicateRun { .. }
            | StoreError::DuplicateInterval { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("web page: {err}");
        }
        PageError {
            status,
            message: err.to_string(),
        }
    }
}

impl From<ControlError> for PageError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Store(err) => err.into(),
            other => PageError {
                status: StatusCode::CONFLICT,
                message: other.to_string(),
            },
        }
    }
}

impl From<EngineError> for PageError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Control(err) => err.into(),
            other => PageError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: other.to_string(),
            },
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · airless</title><link rel=\"stylesheet\" href=\"/ui/assets/{}/airless.css\"></head><body><header class=\"top\"><a class=\"brand\" href=\"/\">airless</a></header><main><h1>{title}</h1><p class=\"error-message\" role=\"alert\">{}</p><p><a href=\"/\">Back to the DAGs</a></p></main></body></html>",
            super::assets::version(),
            super::html::escape(&self.message)
        );
        (self.status, Html(body)).into_response()
    }
}
