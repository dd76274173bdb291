//! The login form (when `api_tokens` are set): one of the API tokens buys a
//! session cookie; logging out clears it.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::render;
use super::session::set_cookie;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Login {
    token: String,
    next: Option<String>,
}

#[derive(Debug, Serialize)]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<&'a str>,
    login_required: bool,
}

/// Only a path on this site: never `//elsewhere` or `https://…`.
fn safe_next(next: Option<&str>) -> &str {
    next.and_then(super::session::local_path).unwrap_or("/")
}

/// `GET /login`.
pub async fn form(State(web): State<WebState>, Query(query): Query<Next>) -> Response {
    if !web.ui.keys.login_required {
        return Redirect::to("/").into_response();
    }
    render::page(
        &web.ui.env,
        "login.html",
        LoginPage {
            next: safe_next(query.next.as_deref()),
            error: None,
            login_required: true,
        },
    )
}

/// `POST /login`: a right token sets the session cookie and goes on to
/// `next`; a wrong one shows the form again, 401.
pub async fn submit(State(web): State<WebState>, Form(login): Form<Login>) -> Response {
    let next = safe_next(login.next.as_deref());
    let tokens = &web.app.api_tokens;
    if !tokens.is_empty() && crate::api::auth::token_matches(tokens, login.token.trim().as_bytes())
    {
        let (value, _) = web.ui.keys.issue(chrono::Utc::now());
        let mut response = Redirect::to(next).into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, set_cookie(&value));
        return response;
    }
    if tokens.is_empty() {
        return Redirect::to("/").into_response();
    }
    tracing::warn!("web login refused: the token is not one of the API tokens");
    let mut response = render::page(
        &web.ui.env,
        "login.html",
        LoginPage {
            next,
            error: Some("That token is not one of the API tokens."),
            login_required: true,
        },
    );
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

/// `POST /logout` (with the session's CSRF token, like every POST).
pub async fn logout(
    State(web): State<WebState>,
    axum::Extension(session): axum::Extension<super::session::Session>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(refused) = super::actions::check_csrf(&web, &session, &form) {
        return refused.into_response();
    }
    let target = if web.ui.keys.login_required {
        "/login"
    } else {
        "/"
    };
    let mut response = Redirect::to(target).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(""));
    response
}
