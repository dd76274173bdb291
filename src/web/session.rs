//! Who may use the web UI. With `api_tokens` set, a login form takes one of
//! the tokens and sets a session cookie (signed, HttpOnly,
//! SameSite=Strict, expiring after 12 hours); without tokens (loopback
//! only) every visitor gets an anonymous session at once. Either way every
//! POST carries a CSRF token derived from the session, so a page on another
//! site cannot act through the visitor's browser.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::WebState;

pub const COOKIE: &str = "airless_session";
/// How long a session lasts.
pub const LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// The key sessions are signed with. With tokens it is derived from them,
/// so sessions survive a restart and die when the tokens change; without,
/// it is random per process.
#[derive(Clone)]
pub struct Keys {
    key: [u8; 32],
    /// Whether a login is required (tokens are set).
    pub login_required: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("login_required", &self.login_required)
            .finish_non_exhaustive()
    }
}

/// A valid session: its id (random) and when it ends.
#[derive(Debug, Clone)]
pub struct Session {
    id: String,
    pub expires: DateTime<Utc>,
}

impl Keys {
    pub fn new(tokens: &[SecretString]) -> Keys {
        let key = if tokens.is_empty() {
            let mut key = [0u8; 32];
            if getrandom::fill(&mut key).is_err() {
                // no entropy source: a key from the clock and the process
                // still differs per run; sessions only guard CSRF here
                key = Sha256::digest(format!(
                    "{:?}{}",
                    std::time::SystemTime::now(),
                    std::process::id()
                ))
                .into();
            }
            key
        } else {
            let mut hasher = Sha256::new();
            hasher.update(b"airless web session\0");
            for token in tokens {
                hasher.update(token.expose_secret().as_bytes());
                hasher.update(b"\0");
            }
            hasher.finalize().into()
        };
        Keys {
            key,
            login_required: !tokens.is_empty(),
        }
    }

    fn sign(&self, purpose: &str, payload: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            // HMAC takes a key of any length
            Err(_) => return String::new(),
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// A new session's cookie value: `expires.id.signature`.
    pub fn issue(&self, now: DateTime<Utc>) -> (String, Session) {
        let mut id = [0u8; 16];
        if getrandom::fill(&mut id).is_err() {
            let digest = Sha256::digest(format!("{now:?}{}", std::process::id()));
            id.copy_from_slice(&digest[..16]);
        }
        let session = Session {
            id: hex(&id),
            expires: now + LIFETIME,
        };
        let payload = format!("{}.{}", session.expires.timestamp(), session.id);
        let value = format!("{payload}.{}", self.sign("session", &payload));
        (value, session)
    }

    /// The session a cookie value carries, if it is ours and not expired.
    pub fn verify(&self, value: &str, now: DateTime<Utc>) -> Option<Session> {
        let (payload, signature) = value.rsplit_once('.')?;
        let expected = self.sign("session", payload);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return None;
        }
        let (expires, id) = payload.split_once('.')?;
        let expires = DateTime::from_timestamp(expires.parse().ok()?, 0)?;
        (expires > now).then(|| Session {
            id: id.to_string(),
            expires,
        })
    }

    /// The CSRF token every POST of `session` must carry.
    pub fn csrf(&self, session: &Session) -> String {
        self.sign("csrf", &session.id)
    }

    /// Whether `presented` is `session`'s CSRF token.
    pub fn csrf_matches(&self, session: &Session, presented: &str) -> bool {
        bool::from(self.csrf(session).as_bytes().ct_eq(presented.as_bytes()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `path` when it is a path on this site a redirect may go to: it starts
/// with one `/` (never `//host` or `/\host`, which browsers read as another
/// site) and holds no control or space character (a header could not carry
/// it).
pub fn local_path(path: &str) -> Option<&str> {
    let fine = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace());
    fine.then_some(path)
}

/// The `Set-Cookie` value for a session cookie `value` (empty clears it).
pub fn set_cookie(value: &str) -> HeaderValue {
    let max_age = if value.is_empty() {
        0
    } else {
        LIFETIME.num_seconds()
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("airless_session=; Path=/; Max-Age=0"))
}

/// The session cookie's value in `headers`, if any.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

/// Lets a request through with its session in the request's extensions:
/// a valid cookie's, or (without tokens) a fresh anonymous one set on the
/// response. Without a session where a login is required: a page request
/// goes to the login form, anything else is 401.
pub async fn require_session(
    State(web): State<WebState>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = Utc::now();
    let keys = &web.ui.keys;
    if let Some(session) = cookie(request.headers()).and_then(|v| keys.verify(v, now)) {
        request.extensions_mut().insert(session);
        return next.run(request).await;
    }
    if keys.login_required {
        if request.method() == Method::GET {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            let location = format!("/login?next={}", super::view::url_encode(&target));
            return Redirect::to(&location).into_response();
        }
        return (
            StatusCode::UNAUTHORIZED,
            "Your session has ended: log in again.",
        )
            .into_response();
    }
    let (value, session) = keys.issue(now);
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&value));
    response
}
