//! The web UI's addresses of a DAG, a run and a try's log: the pages link
//! them and alerts carry them. Pure.

/// Percent-encodes `text` for a URL path segment or query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The page of a DAG, of one of its runs, of a try's log.
pub fn dag_url(dag_id: &str) -> String {
    format!("/dags/{}", url_encode(dag_id))
}

pub fn run_url(dag_id: &str, run_id: &str) -> String {
    format!("{}/runs/{}", dag_url(dag_id), url_encode(run_id))
}

pub fn log_url(dag_id: &str, run_id: &str, task_id: &str, try_number: u32) -> String {
    format!(
        "{}/tasks/{}/logs/{try_number}",
        run_url(dag_id, run_id),
        url_encode(task_id)
    )
}
