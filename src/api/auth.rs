//! Token auth for every route but `/health`: `Authorization: Bearer <token>`,
//! or Basic auth with any user name and the token as password (for clients
//! that only speak Basic, as Airflow's basic_auth backend expects). Tokens are
//! compared in constant time; a 401 says nothing about what was wrong.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Lets a request through when auth is off (no tokens configured) or it
/// carries one of the tokens.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.api_tokens.is_empty() {
        return next.run(request).await;
    }
    let accepted = presented_token(request.headers())
        .is_some_and(|presented| token_matches(&state.api_tokens, &presented));
    if accepted {
        next.run(request).await
    } else {
        ApiError::unauthenticated().into_response()
    }
}

/// Whether `presented` is one of `tokens`. Every token is compared, in
/// constant time, so the time taken does not tell which matched.
pub fn token_matches(tokens: &[secrecy::SecretString], presented: &[u8]) -> bool {
    let mut matched = subtle::Choice::from(0);
    for token in tokens {
        matched |= token.expose_secret().as_bytes().ct_eq(presented);
    }
    bool::from(matched)
}

/// The token a request presents: a Bearer token, or a Basic password.
fn presented_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(credentials.as_bytes().to_vec())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        Some(decoded[colon + 1..].to_vec())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn bearer_and_basic_both_present_the_token() {
        assert_eq!(
            presented_token(&headers("Bearer s3cret")),
            Some(b"s3cret".to_vec())
        );
        // "admin:s3cr:et" — the password may itself contain a colon
        assert_eq!(
            presented_token(&headers("Basic YWRtaW46czNjcjpldA==")),
            Some(b"s3cr:et".to_vec())
        );
        assert_eq!(presented_token(&headers("Basic not-base64!")), None);
        assert_eq!(presented_token(&headers("Digest abc")), None);
        assert_eq!(presented_token(&HeaderMap::new()), None);
    }
}
