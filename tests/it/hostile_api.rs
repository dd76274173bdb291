//! The API against hostile and careless clients: malformed JSON, wrong
//! types, huge numbers, unknown fields, bad dates and filters, path
//! traversal and control characters in ids, wrong methods and content
//! types, oversized bodies and bad credentials. Every request gets a
//! precise problem JSON (status, title, detail, type) and changes nothing.
//! Uses the router-without-socket harness of `api`.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::api::{Api, Reply};

/// Airflow's problem `type` section for each status.
fn section(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthenticated",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "AlreadyExists",
        _ => "about:blank",
    }
}

fn problem(reply: &Reply, status: u16, title: &str, detail: Value) {
    reply.assert_problem(status, title, detail, section(status));
}

fn bad(reply: &Reply, detail: &str) {
    problem(reply, 400, "Bad Request", json!(detail));
}

/// A request with `body` sent as is under `content_type`.
async fn raw(
    api: &Api,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    api.send(request.body(body.into()).unwrap()).await
}

async fn json_bytes(api: &Api, method: Method, uri: &str, body: &'static [u8]) -> Reply {
    raw(api, method, uri, Some("application/json"), body).await
}

async fn run_count(api: &Api) -> usize {
    api.state
        .launcher
        .reader()
        .dag_runs(None, 1000, 0)
        .await
        .unwrap()
        .len()
}

const TRIGGER: &str = "/api/v1/dags/hello/dagRuns";

#[tokio::test]
async fn malformed_json_is_a_400_that_says_where() {
    let api = Api::new().await;
    let post = Method::POST;
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"{\"conf\": ").await,
        "Request body is not valid JSON: EOF while parsing a value at line 1 column 9",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"").await,
        "Request body is not valid JSON: EOF while parsing a value at line 1 column 0",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"{'conf': {}}").await,
        "Request body is not valid JSON: key must be a string at line 1 column 2",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"{} trailing").await,
        "Request body is not valid JSON: trailing characters at line 1 column 4",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"\xef\xbb\xbf{}").await,
        "Request body is not valid JSON: expected value at line 1 column 1",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"{\"note\": \"\xff\"}").await,
        "Request body is not valid JSON: invalid unicode code point at line 1 column 11",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"{\"conf\": {\"n\": 1e999}}").await,
        "Request body is not valid JSON: number out of range at line 1 column 20",
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    bad(
        &raw(&api, post.clone(), TRIGGER, Some("application/json"), deep).await,
        "Request body is not valid JSON: recursion limit exceeded at line 1 column 128",
    );
    // a body that is JSON but not an object, as connexion words it
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"[1, 2]").await,
        "[1, 2] is not of type 'object'",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"null").await,
        "None is not of type 'object'",
    );
    bad(
        &json_bytes(&api, post.clone(), TRIGGER, b"\"run\"").await,
        "'run' is not of type 'object'",
    );
    assert_eq!(run_count(&api).await, 0);
}

#[tokio::test]
async fn a_wrong_type_names_the_field_and_the_type() {
    let api = Api::new().await;
    api.post(TRIGGER, json!({"dag_run_id": "r"})).await;
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::POST,
            TRIGGER,
            json!({"conf": "not an object"}),
            "'not an object' is not of type 'object' - 'conf'",
        ),
        (
            Method::POST,
            TRIGGER,
            json!({"conf": ["a"]}),
            "['a'] is not of type 'object' - 'conf'",
        ),
        (
            Method::POST,
            TRIGGER,
            json!({"dag_run_id": 5}),
            "5 is not of type 'string' - 'dag_run_id'",
        ),
        (
            Method::POST,
            TRIGGER,
            json!({"logical_date": 1704067200}),
            "1704067200 is not of type 'string' - 'logical_date'",
        ),
        (
            Method::POST,
            TRIGGER,
            json!({"note": {"a": true}}),
            "{'a': True} is not of type 'string' - 'note'",
        ),
        (
            Method::PATCH,
            "/api/v1/dags/hello",
            json!({"is_paused": "true"}),
            "'true' is not of type 'boolean' - 'is_paused'",
        ),
        (
            Method::PATCH,
            "/api/v1/dags/hello",
            json!({"is_paused": 1}),
            "1 is not of type 'boolean' - 'is_paused'",
        ),
        (
            Method::PATCH,
            "/api/v1/dags/hello/dagRuns/r",
            json!({"state": ["failed"]}),
            "['failed'] is not of type 'string' - 'state'",
        ),
        (
            Method::POST,
            "/api/v1/dags/hello/clearTaskInstances",
            json!({"task_ids": "greet"}),
            "'greet' is not of type 'array' - 'task_ids'",
        ),
        (
            Method::POST,
            "/api/v1/dags/hello/clearTaskInstances",
            json!({"task_ids": ["greet", 1]}),
            "1 is not of type 'string' - 'task_ids.1'",
        ),
        (
            Method::POST,
            "/api/v1/dags/hello/clearTaskInstances",
            json!({"dry_run": "false"}),
            "'false' is not of type 'boolean' - 'dry_run'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/list",
            json!({"page_limit": 1.5}),
            "1.5 is not of type 'integer' - 'page_limit'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/list",
            json!({"page_limit": 0}),
            "0 is less than the minimum of 1 - 'page_limit'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/list",
            json!({"page_offset": -1}),
            "-1 is less than the minimum of 0 - 'page_offset'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/list",
            json!({"dag_ids": "hello"}),
            "'hello' is not of type 'array' - 'dag_ids'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"state": [null, 1]}),
            "1 is not of type 'string' - 'state.1'",
        ),
        (
            Method::POST,
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"duration_gte": "long"}),
            "'long' is not of type 'number' - 'duration_gte'",
        ),
    ];
    for (method, uri, body, detail) in cases {
        bad(&api.call(method, uri, Some(body)).await, detail);
    }
    assert_eq!(run_count(&api).await, 1);
    assert_eq!(
        api.get("/api/v1/dags/hello").await.json()["is_paused"],
        false
    );
}

#[tokio::test]
async fn unknown_and_missing_fields_are_all_named_and_nothing_changes() {
    let api = Api::new().await;
    api.post(TRIGGER, json!({"dag_run_id": "r"})).await;

    // a DAG sent back whole: its read-only fields are unknown to the load
    bad(
        &api.patch(
            "/api/v1/dags/hello",
            json!({"is_paused": true, "dag_id": "hello", "description": "x"}),
        )
        .await,
        "{'dag_id': ['Unknown field.'], 'description': ['Unknown field.']}",
    );
    assert_eq!(
        api.get("/api/v1/dags/hello").await.json()["is_paused"],
        false
    );
    bad(
        &api.patch("/api/v1/dags/hello", json!({})).await,
        "{'is_paused': ['Missing data for required field.']}",
    );
    bad(
        &api.patch("/api/v1/dags/hello", json!({"is_paused": null}))
            .await,
        "{'is_paused': ['Missing data for required field.']}",
    );
    bad(
        &api.patch("/api/v1/dags/hello", json!({"a\u{1b}[31m": 1}))
            .await,
        "{'is_paused': ['Missing data for required field.'], 'a\\x1b[31m': ['Unknown field.']}",
    );
    bad(
        &api.post(
            TRIGGER,
            json!({"dag_run_id": "x", "state": "success", "run_type": "backfill"}),
        )
        .await,
        "{'run_type': ['Unknown field.'], 'state': ['Unknown field.']}",
    );
    bad(
        &api.patch(
            "/api/v1/dags/hello/dagRuns/r",
            json!({"state": "failed", "note": "why"}),
        )
        .await,
        "{'note': ['Unknown field.']}",
    );
    bad(
        &api.patch("/api/v1/dags/hello/dagRuns/r", json!({})).await,
        "{'state': ['Missing data for required field.']}",
    );
    bad(
        &api.post(
            "/api/v1/dags/hello/clearTaskInstances",
            json!({"dry_run": false, "only_failed": false, "bogus": 1}),
        )
        .await,
        "{'bogus': ['Unknown field.']}",
    );
    bad(
        &api.post("/api/v1/dags/~/dagRuns/list", json!({"page_size": 10}))
            .await,
        "{'page_size': ['Unknown field.']}",
    );
    bad(
        &api.post(
            "/api/v1/dags/~/dagRuns/list",
            json!({"updated_at_gte": "2024-01-01T00:00:00Z"}),
        )
        .await,
        "{'updated_at_gte': ['Unknown field.']}",
    );
    bad(
        &api.post(
            "/api/v1/dags/~/dagRuns/~/taskInstances/list",
            json!({"sort": "state"}),
        )
        .await,
        "{'sort': ['Unknown field.']}",
    );
    assert_eq!(run_count(&api).await, 1);
    assert_eq!(api.run("hello", "r").await.state.as_str(), "queued");
}

#[tokio::test]
async fn invalid_date_times_in_a_body_are_400s_that_say_why() {
    let api = Api::new().await;
    let not_valid = "{'logical_date': ['Not a valid datetime.']}";
    for (date, why) in [
        (
            "2016-12-31T23:59:60+00:00",
            "`2016-12-31T23:59:60+00:00`: second must be in 0..59",
        ),
        (
            "2024-13-01T00:00:00Z",
            "`2024-13-01T00:00:00Z`: month must be in 1..12",
        ),
        (
            "2024-01-32T00:00:00Z",
            "`2024-01-32T00:00:00Z`: day is out of range for month",
        ),
        (
            "2023-02-29T12:00:00Z",
            "`2023-02-29T12:00:00Z`: day is out of range for month",
        ),
        (
            "2024-01-01T24:00:00Z",
            "`2024-01-01T24:00:00Z`: hour must be in 0..23",
        ),
        (
            "0000-01-01T00:00:00Z",
            "`0000-01-01T00:00:00Z`: year 0 is out of range",
        ),
        (
            "2024-01-01T00:00:00",
            "`2024-01-01T00:00:00`: no timezone offset (naive datetimes are disallowed)",
        ),
        ("2024-01-01", "`2024-01-01`: a date without a time of day"),
        (
            "2024-01-01T00:00:00+25:00",
            "`2024-01-01T00:00:00+25:00`: offset must be strictly between -24:00 and +24:00",
        ),
        (
            "next tuesday",
            "`next tuesday` is not an ISO 8601 date-time",
        ),
    ] {
        bad(
            &api.post(TRIGGER, json!({"logical_date": date})).await,
            &format!("{not_valid}: {why}"),
        );
    }
    bad(
        &api.post(
            TRIGGER,
            json!({"data_interval_start": "soon", "data_interval_end": "2024-01-01T00:00:00Z"}),
        )
        .await,
        "{'data_interval_start': ['Not a valid datetime.']}: `soon` is not an ISO 8601 date-time",
    );
    assert_eq!(run_count(&api).await, 0);

    let clear = "/api/v1/dags/hello/clearTaskInstances";
    bad(
        &api.post(clear, json!({"start_date": "2024-02-30T00:00:00Z"}))
            .await,
        "{'start_date': ['Not a valid datetime.']}: `2024-02-30T00:00:00Z`: day is out of range for month",
    );
    bad(
        &api.post(
            clear,
            json!({"start_date": "2024-02-02T00:00:00Z", "end_date": "2024-02-01T00:00:00Z"}),
        )
        .await,
        "{'_schema': ['end_date is sooner than start_date']}",
    );
    bad(
        &api.post(
            clear,
            json!({"dag_run_id": "r", "start_date": "2024-02-01T00:00:00Z"}),
        )
        .await,
        "{'_schema': ['Exactly one of dag_run_id or start_date must be provided']}",
    );
    bad(
        &api.post(clear, json!({"only_running": true})).await,
        "{'_schema': ['only_failed and only_running both are set to True']}",
    );
    bad(
        &api.post(clear, json!({"task_ids": []})).await,
        "{'task_ids': ['Shorter than minimum length 1.']}",
    );
    bad(
        &api.post(
            "/api/v1/dags/~/dagRuns/list",
            json!({"execution_date_gte": "2024-01-01T00:00:00"}),
        )
        .await,
        "{'execution_date_gte': ['Not a valid datetime.']}: `2024-01-01T00:00:00`: no timezone offset (naive datetimes are disallowed)",
    );
}

#[tokio::test]
async fn bad_filters_and_pages_in_a_query_are_400s() {
    let api = Api::new().await;
    let incorrect = |reply: &Reply, detail: &str| {
        problem(reply, 400, "Incorrect datetime argument", json!(detail));
    };
    incorrect(
        &api.get("/api/v1/dags/~/dagRuns?execution_date_gte=garbage")
            .await,
        "Invalid date string: 'garbage' (not an ISO 8601 date-time) - 'execution_date_gte'",
    );
    incorrect(
        &api.get("/api/v1/dags/hello/dagRuns?start_date_lte=2024-06-30T23:59:60Z")
            .await,
        "Invalid date string: '2024-06-30T23:59:60Z' (second must be in 0..59) - 'start_date_lte'",
    );
    incorrect(
        &api.get("/api/v1/dags/hello/dagRuns?end_date_gte=2024-13-01")
            .await,
        "Invalid date string: '2024-13-01' (month must be in 1..12) - 'end_date_gte'",
    );
    incorrect(
        &api.get("/api/v1/dags/hello/dagRuns?updated_at_lte=2024-01-32")
            .await,
        "Invalid date string: '2024-01-32' (day is out of range for month) - 'updated_at_lte'",
    );
    incorrect(
        &api.get("/api/v1/dags/hello/dagRuns?logical_date_gte=0000-01-01")
            .await,
        "Invalid date string: '0000-01-01' (year 0 is out of range) - 'logical_date_gte'",
    );
    incorrect(
        &api.get("/api/v1/dags/hello/dagRuns?execution_date_lte=")
            .await,
        "Invalid date string: '' (not an ISO 8601 date-time) - 'execution_date_lte'",
    );
    incorrect(
        &api.get("/api/v1/dags/~/dagRuns/~/taskInstances?execution_date_gte=tomorrow")
            .await,
        "Invalid date string: 'tomorrow' (not an ISO 8601 date-time) - 'execution_date_gte'",
    );
    incorrect(
        &api.get(
            "/api/v1/dags/~/dagRuns/~/taskInstances?updated_at_gte=2024-01-01T00%3A00%3A00%1B",
        )
        .await,
        "Invalid date string: '2024-01-01T00:00:00\\x1b' (not an ISO 8601 date-time) - 'updated_at_gte'",
    );
    bad(
        &api.get("/api/v1/dags/~/dagRuns/~/taskInstances?duration_gte=abc")
            .await,
        "'abc' is not of type 'number' - 'duration_gte'",
    );
    bad(
        &api.get("/api/v1/dags/~/dagRuns/~/taskInstances?duration_lte=NaN")
            .await,
        "'NaN' is not of type 'number' - 'duration_lte'",
    );
    bad(
        &api.get("/api/v1/dags/~/dagRuns/~/taskInstances?order_by=priority_weight")
            .await,
        "Ordering with 'priority_weight' is not supported",
    );
    problem(
        &api.get("/api/v1/dags/~/dagRuns?limit=-1").await,
        400,
        "Page limit must be a positive integer",
        Value::Null,
    );
    bad(
        &api.get("/api/v1/dags?limit=ten").await,
        "'ten' is not of type 'integer' - 'limit'",
    );
    bad(
        &api.get("/api/v1/importErrors?offset=-5").await,
        "-5 is less than the minimum of 0 - 'offset'",
    );
    bad(
        &api.get("/api/v1/dags/~/dagRuns?offset=1.5").await,
        "'1.5' is not of type 'integer' - 'offset'",
    );
    bad(
        &api.get("/api/v1/dags/~/dagRuns?order_by=%3BDROP%20TABLE%20dag_runs")
            .await,
        "Ordering with ';DROP TABLE dag_runs' is disallowed or the attribute does not exist on the model",
    );
    bad(
        &api.get("/api/v1/dags?paused=maybe").await,
        "'maybe' is not of type 'boolean' - 'paused'",
    );
    // a limit past 64 bits is capped as any large limit is
    let huge = api
        .get("/api/v1/dags/~/dagRuns?limit=99999999999999999999&offset=99999999999999999999")
        .await;
    assert_eq!(huge.status, StatusCode::OK, "{}", huge.text());
    assert_eq!(huge.json(), json!({"dag_runs": [], "total_entries": 0}));
    // Airflow's array filters match no airless task instance for another pool
    let none = api
        .get("/api/v1/dags/~/dagRuns/~/taskInstances?pool=gpu&state=bogus")
        .await;
    assert_eq!(
        none.json(),
        json!({"task_instances": [], "total_entries": 0})
    );
}

#[tokio::test]
async fn ids_with_traversal_control_characters_or_great_length_are_only_not_found() {
    let api = Api::new().await;
    problem(
        &api.get("/api/v1/dags/..%2F..%2Fetc%2Fpasswd").await,
        404,
        "DAG not found",
        json!("The DAG with dag_id: ../../etc/passwd was not found"),
    );
    problem(
        &api.get("/api/v1/dags/..").await,
        404,
        "DAG not found",
        json!("The DAG with dag_id: .. was not found"),
    );
    problem(
        &api.post("/api/v1/dags/%2E%2E/dagRuns", json!({})).await,
        404,
        "DAG not found",
        json!("DAG with dag_id: '..' not found"),
    );
    problem(
        &api.get("/api/v1/dags/hello%00").await,
        404,
        "DAG not found",
        json!("The DAG with dag_id: hello\u{0} was not found"),
    );
    problem(
        &api.get("/api/v1/dags/h%C3%A9llo%E2%80%AE").await,
        404,
        "DAG not found",
        json!("The DAG with dag_id: héllo\u{202e} was not found"),
    );
    let long = "a".repeat(10_000);
    problem(
        &api.get(&format!("/api/v1/dags/{long}")).await,
        404,
        "DAG not found",
        json!(format!("The DAG with dag_id: {long} was not found")),
    );
    bad(
        &api.get("/api/v1/dags/%FF").await,
        "the path parameter 'dag_id' is not UTF-8 once percent-decoded",
    );
    problem(
        &api.patch(
            "/api/v1/dags/hello/dagRuns/..%2F..%2Fx",
            json!({"state": "failed"}),
        )
        .await,
        404,
        "Dag Run id ../../x not found in dag hello",
        Value::Null,
    );
    problem(
        &api.get("/api/v1/dags/hello/dagRuns/%2E%2E/taskInstances/greet")
            .await,
        404,
        "Task instance not found",
        Value::Null,
    );
    bad(
        &api.get("/api/v1/dags/hello/dagRuns/r/taskInstances/greet/logs/-1")
            .await,
        "'-1' is not of type 'integer' - 'task_try_number'",
    );
    bad(
        &api.get("/api/v1/dags/hello/dagRuns/r/taskInstances/greet/logs/99999999999")
            .await,
        "'99999999999' is not of type 'integer' - 'task_try_number'",
    );
    for (run_id, shown) in [
        ("../x", "'../x'".to_string()),
        ("", "''".to_string()),
        ("a\nb", "'a\\nb'".to_string()),
        (&"r".repeat(251), format!("'{}...'", "r".repeat(100))),
    ] {
        bad(
            &api.post(TRIGGER, json!({"dag_run_id": run_id})).await,
            &format!(
                "The run_id provided {shown} does not match the pattern '^[A-Za-z0-9_.~:+-]+$'"
            ),
        );
    }
    // listing under a traversal id finds nothing rather than failing
    let empty = api.get("/api/v1/dags/..%2F/dagRuns/~/taskInstances").await;
    assert_eq!(
        empty.json(),
        json!({"task_instances": [], "total_entries": 0})
    );
    assert_eq!(run_count(&api).await, 0);
}

#[tokio::test]
async fn a_wrong_method_is_a_405_and_a_wrong_content_type_or_size_a_400_or_413() {
    let api = Api::new().await;
    for (method, uri) in [
        (Method::PUT, "/api/v1/dags/hello"),
        (
            Method::DELETE,
            "/api/v1/dags/hello/dagRuns/x/taskInstances/t",
        ),
        (Method::GET, "/api/v1/dags/hello/clearTaskInstances"),
        (Method::POST, "/api/v1/dags"),
        (Method::GET, "/api/v1/dags/~/dagRuns/list"),
        (Method::PATCH, "/health"),
    ] {
        problem(
            &api.call(method, uri, None).await,
            405,
            "Method Not Allowed",
            json!("The method is not allowed for the requested URL."),
        );
    }
    let must_be_json = "the request body must be JSON, sent with `Content-Type: application/json`";
    bad(
        &raw(&api, Method::POST, TRIGGER, Some("text/plain"), "{}").await,
        must_be_json,
    );
    bad(
        &raw(&api, Method::POST, TRIGGER, None, "{}").await,
        must_be_json,
    );
    bad(
        &raw(
            &api,
            Method::POST,
            TRIGGER,
            Some("application/x-www-form-urlencoded"),
            "conf=1",
        )
        .await,
        must_be_json,
    );
    bad(
        &raw(
            &api,
            Method::PATCH,
            "/api/v1/dags/hello",
            Some("application/jsonx"),
            "{}",
        )
        .await,
        must_be_json,
    );
    let over = format!("{{\"note\": \"{}\"}}", "x".repeat(1024 * 1024));
    problem(
        &raw(&api, Method::POST, TRIGGER, Some("application/json"), over).await,
        413,
        "Request Entity Too Large",
        json!("The data value transmitted exceeds the capacity limit."),
    );
    let over = format!(
        "{{\"is_paused\": true, \"x\": \"{}\"}}",
        "y".repeat(2 * 1024 * 1024)
    );
    problem(
        &raw(
            &api,
            Method::PATCH,
            "/api/v1/dags/hello",
            Some("application/json"),
            over,
        )
        .await,
        413,
        "Request Entity Too Large",
        json!("The data value transmitted exceeds the capacity limit."),
    );
    assert_eq!(run_count(&api).await, 0);
    // JSON under a charset or a `+json` type is still JSON
    let ok = raw(
        &api,
        Method::POST,
        TRIGGER,
        Some("application/json; charset=utf-8"),
        "{\"dag_run_id\": \"ok\"}",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let ok = raw(
        &api,
        Method::PATCH,
        "/api/v1/dags/hello",
        Some("application/merge-patch+json"),
        "{\"is_paused\": false}",
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
}

#[tokio::test]
async fn bad_credentials_are_a_401_that_reveals_nothing_even_beside_a_bad_body() {
    let api = Api::with_tokens(&["s3cret"]).await;
    let basic = |text: &[u8]| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };
    let long = format!("Bearer {}", "s".repeat(64 * 1024));
    let values: Vec<HeaderValue> = [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer S3CRET".to_string(),
        "Bearer s3cret s3cret".to_string(),
        "Basic !!!".to_string(),
        basic(b"s3cret"),
        basic(b":"),
        "Bearer\ts3cret".to_string(),
        long,
    ]
    .into_iter()
    .map(|v| HeaderValue::from_str(&v).unwrap())
    .chain([HeaderValue::from_bytes(b"Bearer s3cret\xff").unwrap()])
    .collect();
    for value in values {
        let reply = api
            .send(
                Request::post(TRIGGER)
                    .header(header::AUTHORIZATION, value)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from("{\"conf\": "))
                    .unwrap(),
            )
            .await;
        problem(&reply, 401, "Unauthorized", Value::Null);
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Basic");
    }
    // the same body with the token: the body's fault, now that it may be told
    let reply = api
        .send(
            Request::post(TRIGGER)
                .header(header::AUTHORIZATION, "Bearer s3cret")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"conf\": "))
                .unwrap(),
        )
        .await;
    bad(
        &reply,
        "Request body is not valid JSON: EOF while parsing a value at line 1 column 9",
    );
    assert_eq!(run_count(&api).await, 0);
}
