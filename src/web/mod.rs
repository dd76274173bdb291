//! The web UI, served by `serve` at `/` beside the API: the DAGs, each
//! DAG's grid and graph, a run's task instances, each try's log, and the
//! operator's actions (trigger, clear, mark, cancel, pause), each previewed
//! before it is done. Server-rendered from templates and assets compiled
//! into the binary; pages refresh their live part as the command door's
//! events arrive. Depends on `api` (the shared state and token check),
//! `engine` (actions), `dag`, `scheduler` and `store`; only `app` depends
//! on it.

mod actions;
mod assets;
mod error;
mod html;
mod live;
mod login;
mod pages;
mod render;
pub mod session;
mod svg;
mod view;
mod words;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use crate::api::AppState;
pub use error::PageError;
use session::{Keys, Session};

/// What every page handler holds.
#[derive(Debug, Clone)]
pub struct WebState {
    pub app: AppState,
    pub ui: Arc<Ui>,
}

/// The compiled templates and the session keys.
pub struct Ui {
    pub env: minijinja::Environment<'static>,
    pub keys: Keys,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").field("keys", &self.keys).finish()
    }
}

/// What the frame of every page needs: the CSRF token for its forms and
/// whether there is a session to log out of.
#[derive(Debug, Serialize)]
pub struct Chrome {
    pub csrf: String,
    pub login_required: bool,
}

impl WebState {
    pub fn chrome(&self, session: &Session) -> Chrome {
        Chrome {
            csrf: self.ui.keys.csrf(session),
            login_required: self.ui.keys.login_required,
        }
    }
}

/// The largest form accepted (a trigger's conf included).
const MAX_FORM: usize = 1024 * 1024;

/// The UI's routes.
pub fn router(app: AppState) -> Router {
    let ui = Arc::new(Ui {
        env: render::environment(),
        keys: Keys::new(&app.api_tokens),
    });
    let web = WebState { app, ui };
    let run = "/dags/{dag_id}/runs/{run_id}";
    let pages = Router::new()
        .route("/", get(pages::dags::page))
        .route("/dags/{dag_id}", get(pages::dag::page))
        .route(run, get(pages::run::page))
        .route(
            &format!("{run}/tasks/{{task_id}}/logs/{{try_number}}"),
            get(pages::log::page),
        )
        .route(
            "/dags/{dag_id}/trigger",
            get(actions::trigger_form).post(actions::trigger),
        )
        .route("/dags/{dag_id}/pause", post(actions::pause))
        .route(&format!("{run}/clear"), post(actions::clear))
        .route(&format!("{run}/cancel"), post(actions::cancel))
        .route(
            &format!("{run}/tasks/{{task_id}}/mark"),
            post(actions::mark),
        )
        .route("/ui/events", get(live::events))
        .route("/logout", post(login::logout))
        .route_layer(middleware::from_fn_with_state(
            web.clone(),
            session::require_session,
        ));
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/ui/assets/{version}/{name}", get(assets::serve))
        .merge(pages)
        .layer(middleware::map_response(guard_headers))
        // a grid of 100 tasks x 25 runs is mostly the same markup: gzip
        // sends it at a tenth of its size
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .with_state(web)
}

/// Headers that keep the pages from being framed by another site or
/// running script from anywhere but the binary itself.
async fn guard_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
