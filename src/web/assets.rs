//! The stylesheet and the script, compiled into the binary and served with
//! a version in their URL, so browsers cache them for good.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("assets/airless.css");
const JS: &str = include_str!("assets/airless.js");

/// A short hash of both assets: their URLs change when they do.
pub fn version() -> String {
    let digest = Sha256::new().chain_update(CSS).chain_update(JS).finalize();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// `GET /ui/assets/{version}/{name}`.
pub async fn serve(Path((_version, name)): Path<(String, String)>) -> Response {
    let (body, kind) = match name.as_str() {
        "airless.css" => (CSS, "text/css; charset=utf-8"),
        "airless.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
