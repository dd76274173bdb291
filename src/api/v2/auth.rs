//! Airflow 3's token login: `POST /auth/token` with `{"username",
//! "password"}`, where the password is one of the configured API tokens,
//! answers a JWT (HS256, signed with a key derived from the tokens, so it
//! survives a restart and dies when the tokens change). `/api/v2` accepts
//! `Authorization: Bearer <jwt>` or the raw token; with no tokens configured
//! (loopback only) nothing is required, as on `/api/v1`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::V2Error;
use super::extract::{Body, Field, Kind, Model};
use crate::api::AppState;
use crate::api::auth::token_matches;

/// How long a JWT is valid (Airflow's `[api_auth] jwt_expiration_time`
/// is shorter; scripts that log in once a day expect a day).
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(24);

/// The JWT's audience and issuer, so a token of another system is refused.
const AUDIENCE: &str = "urn:airless:api";

/// Airflow's `LoginBody`.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
}

impl Model for LoginBody {
    const FIELDS: &'static [Field] = &[
        Field::required("username", Kind::String),
        Field::required("password", Kind::String),
    ];
}

/// `POST /auth/token`: 201 `{"access_token": jwt}` when the password is one
/// of the API tokens (any user name); 401 `Invalid credentials` otherwise.
/// Without tokens configured, anyone gets a token (it is not checked).
pub async fn token(
    State(state): State<AppState>,
    Body(body): Body<LoginBody>,
) -> Result<Response, V2Error> {
    let tokens = state.api_tokens.as_slice();
    if !tokens.is_empty() && !token_matches(tokens, body.password.as_bytes()) {
        return Err(V2Error::new(
            StatusCode::UNAUTHORIZED,
            "Invalid credentials",
        ));
    }
    let now = state.launcher.engine().now();
    let jwt = issue(tokens, &body.username, now);
    Ok((StatusCode::CREATED, Json(json!({ "access_token": jwt }))).into_response())
}

/// Lets a v2 request through when auth is off, or it carries a JWT we
/// signed that has not expired, or one of the raw tokens.
pub async fn require_jwt(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let tokens = state.api_tokens.as_slice();
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let now = state.launcher.engine().now();
    let accepted = bearer(request.headers()).is_some_and(|presented| {
        verify(tokens, presented, now).is_some() || token_matches(tokens, presented.as_bytes())
    });
    if accepted {
        next.run(request).await
    } else {
        V2Error::unauthenticated().into_response()
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
}

/// The signing key: derived from the tokens (none: a fixed key, as tokens
/// are then never checked).
fn key(tokens: &[SecretString]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"airless api jwt\0");
    for token in tokens {
        hasher.update(token.expose_secret().as_bytes());
        hasher.update(b"\0");
    }
    hasher.finalize().into()
}

fn sign(key: &[u8], signing_input: &str) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(signing_input.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

/// A JWT for `username`, valid from `now` for [`LIFETIME`].
pub fn issue(tokens: &[SecretString], username: &str, now: DateTime<Utc>) -> String {
    let header = json!({ "alg": "HS256", "typ": "JWT" });
    let mut jti = [0u8; 16];
    if getrandom::fill(&mut jti).is_err() {
        jti.copy_from_slice(&Sha256::digest(format!("{now:?}{username}"))[..16]);
    }
    let claims = json!({
        "sub": username,
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": (now + LIFETIME).timestamp(),
        "aud": AUDIENCE,
        "iss": AUDIENCE,
        "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(&key(tokens), &signing_input).unwrap_or_default();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of `jwt` if we signed it (HS256 only), it is for us, and it is
/// valid at `now`.
pub fn verify(tokens: &[SecretString], jwt: &str, now: DateTime<Utc>) -> Option<Value> {
    let (signing_input, signature) = jwt.rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    // the algorithm is ours to choose, never the token's
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return None;
    }
    let expected = sign(&key(tokens), signing_input)?;
    let given = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if !bool::from(expected.ct_eq(&given)) {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    let now = now.timestamp();
    let exp = claims.get("exp")?.as_i64()?;
    let nbf = claims
        .get("nbf")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    let for_us = claims.get("aud").and_then(Value::as_str) == Some(AUDIENCE);
    (for_us && now < exp && now >= nbf).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tokens(list: &[&str]) -> Vec<SecretString> {
        list.iter()
            .map(|t| SecretString::from(t.to_string()))
            .collect()
    }

    #[test]
    fn a_jwt_is_valid_until_it_expires_and_only_under_the_same_tokens() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ours = tokens(&["s3cret"]);
        let jwt = issue(&ours, "admin", now);
        assert_eq!(jwt.split('.').count(), 3);
        let claims = verify(&ours, &jwt, now + chrono::Duration::hours(23)).unwrap();
        assert_eq!(claims["sub"], "admin");
        assert_eq!(claims["exp"], (now + LIFETIME).timestamp());
        assert!(verify(&ours, &jwt, now + LIFETIME).is_none());
        assert!(verify(&tokens(&["other"]), &jwt, now).is_none());
    }

    #[test]
    fn a_tampered_or_unsigned_jwt_is_refused() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ours = tokens(&["s3cret"]);
        let jwt = issue(&ours, "admin", now);
        let (head, rest) = jwt.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD
            .encode(json!({"sub": "admin", "exp": i64::MAX, "aud": AUDIENCE}).to_string());
        assert!(verify(&ours, &format!("{head}.{forged}.{signature}"), now).is_none());
        let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string());
        assert!(verify(&ours, &format!("{none}.{forged}."), now).is_none());
        assert!(verify(&ours, "not-a-jwt", now).is_none());
    }
}
