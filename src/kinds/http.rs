//! `http`: one request; the response body is the output (JSON when it
//! parses). A status outside `expect_status` (default: any 2xx) fails the try
//! with the body's first 500 characters.

use std::str::FromStr;

use super::{TaskContext, TaskError, TaskResult, output_from_text};
use crate::dag::HttpSpec;

pub async fn run(spec: &HttpSpec, ctx: &TaskContext) -> TaskResult {
    let method = reqwest::Method::from_str(&spec.method)
        .map_err(|_| TaskError::permanent(format!("unknown HTTP method `{}`", spec.method)))?;
    ctx.log.line(&format!("{} {}", spec.method, spec.url));
    let mut request = ctx.http.request(method, &spec.url);
    for (name, value) in &spec.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &spec.json {
        request = request.json(body);
    }
    let response = tokio::select! {
        response = request.send() => response.map_err(|err| TaskError::transient(format!("request to {} failed", spec.url)).caused_by(err))?,
        () = ctx.cancel.cancelled() => return Err(TaskError::cancelled("the request was abandoned")),
    };
    let status = response.status();
    let body = tokio::select! {
        body = response.text() => body.map_err(|err| TaskError::transient(format!("cannot read the response body: {err}")))?,
        () = ctx.cancel.cancelled() => return Err(TaskError::cancelled("the request was abandoned")),
    };
    ctx.log
        .line(&format!("HTTP {status}, {} bytes", body.len()));
    let expected = match &spec.expect_status {
        Some(codes) => codes.contains(&status.as_u16()),
        None => status.is_success(),
    };
    if !expected {
        let excerpt: String = body.chars().take(500).collect();
        ctx.log.line(&excerpt);
        return Err(TaskError::transient(format!(
            "{} {} answered {status}: {excerpt}",
            spec.method, spec.url
        )));
    }
    Ok(output_from_text(&body))
}
