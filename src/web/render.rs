//! The page templates, compiled into the binary, and how a page or one of
//! its live fragments is rendered.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("dags.html", include_str!("templates/dags.html")),
    ("dag.html", include_str!("templates/dag.html")),
    ("run.html", include_str!("templates/run.html")),
    ("log.html", include_str!("templates/log.html")),
    ("trigger.html", include_str!("templates/trigger.html")),
    ("preview.html", include_str!("templates/preview.html")),
    ("login.html", include_str!("templates/login.html")),
];

/// Every template, loaded once; a template that does not compile is a bug
/// caught by the unit test below.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(err) = env.add_template(name, source) {
            tracing::error!("the web template {name} does not compile: {err:#}");
        }
    }
    env.add_global("assets", super::assets::version());
    env
}

/// Renders `name` with `context`. (A page's script refreshes its live
/// parts by fetching the page again and swapping the `data-live` elements.)
pub fn page(env: &Environment<'static>, name: &str, context: impl Serialize) -> Response {
    let rendered = env
        .get_template(name)
        .and_then(|template| template.render(&context));
    match rendered {
        Ok(html) => {
            let mut response = Html(html).into_response();
            // pages show live state: never served from a cache
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(err) => {
            tracing::error!("rendering {name}: {err:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The page could not be drawn: {err}"),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("{name}: {err:#}"));
        }
    }
}
