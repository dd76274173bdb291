//! Typed wrappers over the external APIs airless talks to; no orchestration.
//! Each client retries what may succeed on a second try and reports the rest
//! in our terms.

pub mod databricks;
pub mod kafka_rest;
pub mod kinesis_rest;
pub mod retry;
pub mod s3;

/// Parses an API's base URL so path segments can be pushed onto it: it must
/// be able to be a base, and a trailing slash is dropped (it would leave `//`
/// in every URL). The error is the reason, for the caller's own error type.
pub(crate) fn base_url(text: &str) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    if url.cannot_be_a_base() {
        return Err("it cannot be a base".to_owned());
    }
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    }
    Ok(url)
}
