//! DAG files with mistakes: every message, with its position and what to do, asserted.
//! Each file in tests/fixtures/broken holds one mistake (a few hold several, to
//! show they are all reported at once); the files in tests/fixtures/valid still
//! load beside them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use airless::dag::{DagBag, KindSpec, TriggerRule, load};

/// Broken files whose mistake only the croner timetable sees: the placeholder
/// schedule parser accepts any text. Empty this when it lands.
const AWAITING_CRONER: &[&str] = &[];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(folder: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(folder)
}

/// The `.yaml` file names in a fixtures folder, sorted.
fn file_names(folder: &str) -> BTreeSet<String> {
    std::fs::read_dir(fixtures(folder))
        .expect("the fixtures folder is readable")
        .map(|entry| {
            let entry = entry.expect("the fixtures folder is readable");
            entry.file_name().to_string_lossy().into_owned()
        })
        .filter(|name| name.ends_with(".yaml"))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the fixture is readable")
}

fn stem(name: &str) -> &str {
    name.strip_suffix(".yaml").unwrap_or(name)
}

/// Loads `tests/fixtures/broken/{name}` and checks it fails with exactly
/// `expected`, each written as `line:col: message — hint` after the path.
fn assert_errors(name: &str, expected: &[&str]) {
    let path = fixtures("broken").join(name);
    let text = read(&path);
    let errors = match load(&path, &text) {
        Ok(dag) => panic!("{name} loaded as DAG `{}`, expected errors", dag.dag_id),
        Err(errors) => errors,
    };
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected: Vec<String> = expected
        .iter()
        .map(|e| format!("{}:{e}", path.display()))
        .collect();
    assert_eq!(rendered, expected);
    assert!(errors.iter().all(|e| e.file == path && e.pos.is_some()));
}

/// One test per broken file: `test_name: "file.yaml" => ["line:col: message — hint", …];`
macro_rules! broken_files {
    ($( $(#[$attr:meta])* $test:ident: $file:literal => [$($error:literal),+ $(,)?]; )+) => {
        $(
            #[test]
            $(#[$attr])*
            fn $test() {
                assert_errors($file, &[$($error),+]);
            }
        )+

        /// Every broken file the tests above cover.
        const BROKEN_FILES: &[&str] = &[$($file),+];
    };
}

broken_files! {
    a_misspelt_dag_key_is_named_with_its_position_and_suggestion: "misspelt_dag_key.yaml" => [
        "3:1: unknown field `shedule`, expected one of `dag_id`, `description`, `schedule`, `timezone`, `start_date`, `end_date`, `catchup`, `timetable`, `max_active_runs`, `max_active_tasks`, `is_paused_upon_creation`, `params`, `default_args`, `on_failure`, `on_retry`, `on_success`, `on_recovery`, `deadline`, `tasks` — did you mean `schedule`?",
    ];

    a_misspelt_task_key_is_named_with_its_position_and_suggestion: "misspelt_task_key.yaml" => [
        "12:5: task `load`: unknown field `retires`, expected one of `task_id`, `kind`, `depends_on`, `trigger_rule`, `retries`, `retry_delay`, `retry_exponential_backoff`, `max_retry_delay`, `execution_timeout`, `on_failure`, `on_retry`, `on_success`, `deadline`, `command`, `env`, `cwd` — did you mean `retries`?",
    ];

    a_misspelt_default_args_key_is_named_with_its_position_and_suggestion: "misspelt_default_args_key.yaml" => [
        "7:3: default_args: unknown field `retry_dealy`, expected one of `retries`, `retry_delay`, `retry_exponential_backoff`, `max_retry_delay`, `execution_timeout`, `on_failure`, `on_retry`, `on_success` — did you mean `retry_delay`?",
    ];

    an_unknown_kind_suggests_the_closest_kind: "unknown_kind.yaml" => [
        "6:11: task `extract`: unknown kind `shel` — did you mean `shell`?",
    ];

    a_task_without_a_kind_lists_the_kinds: "missing_kind.yaml" => [
        "5:5: task `extract` has no `kind` — add `kind:` with one of noop, shell, http, emulate, ingest, databricks",
    ];

    a_shell_task_without_a_command_asks_for_one: "shell_without_command.yaml" => [
        "5:5: task `extract`: missing field `command` — add `command:`",
    ];

    a_databricks_task_must_choose_a_job_or_a_notebook_and_its_parameters: "databricks_job_and_notebook.yaml" => [
        "3:5: task `clean`: give either `job_id` or `notebook_path` — `job_id: 123` runs an existing job (run-now); `notebook_path` + `existing_cluster_id` submits a one-time notebook run",
        "8:5: task `report`: a notebook run needs exactly one of `existing_cluster_id` or `new_cluster` — e.g. `existing_cluster_id: 1108-162752-8okw8dgg`",
        "11:21: task `report`: `job_parameters` goes with `job_id` — pass a notebook run's parameters as `base_parameters`",
        "12:20: task `report`: `poll_interval` must be at least 1s — e.g. `poll_interval: 30s`",
    ];

    a_databricks_notebook_without_a_cluster_asks_for_one: "databricks_without_cluster.yaml" => [
        "3:5: task `clean`: a notebook run needs exactly one of `existing_cluster_id` or `new_cluster` — e.g. `existing_cluster_id: 1108-162752-8okw8dgg`",
    ];

    an_http_task_without_a_url_asks_for_one: "http_without_url.yaml" => [
        "5:5: task `notify`: missing field `url` — add `url:`",
    ];

    a_duplicate_task_id_points_at_the_second_and_names_the_first_line: "duplicate_task_ids.yaml" => [
        "8:14: duplicate task_id `load` (first defined on line 5) — give every task its own task_id",
    ];

    an_unknown_upstream_task_suggests_the_closest_task_id: "unknown_upstream.yaml" => [
        "8:18: task `transform` depends on `extrct`, which is not a task of this DAG — did you mean `extract`?",
    ];

    a_cycle_is_named_task_by_task: "cycle.yaml" => [
        "6:5: the tasks form a cycle: a -> b -> c -> a — remove one of these depends_on entries so the graph has no loop",
    ];

    a_task_depending_on_itself_is_a_cycle: "self_dependency.yaml" => [
        "8:5: the tasks form a cycle: load -> load — remove one of these depends_on entries so the graph has no loop",
    ];

    a_cron_field_out_of_range_names_the_field_and_its_range: "invalid_cron.yaml" => [
        "3:11: invalid cron `61 * * * *`: minute 61 is out of range 0-59 — write 5 fields (minute hour day-of-month month day-of-week), a preset (@hourly @daily @weekly @monthly @yearly) or null",
    ];

    a_six_field_cron_is_refused_for_its_seconds_field: "six_field_cron.yaml" => [
        "3:11: invalid cron `0 0 * * * *`: 6 fields given but a seconds field is not supported — write 5 fields (minute hour day-of-month month day-of-week), a preset (@hourly @daily @weekly @monthly @yearly) or null",
    ];

    an_unknown_timezone_suggests_the_closest_zone: "unknown_timezone.yaml" => [
        "4:11: unknown timezone `Europe/Londn` — did you mean `Europe/London`?",
    ];

    a_duration_written_as_clock_time_shows_the_accepted_forms: "duration_as_clock_time.yaml" => [
        "5:16: default_args.retry_delay: invalid duration `0:05:00` — write it like 90s, 2m, 1h30m or 1d",
    ];

    a_duration_without_a_unit_offers_the_units: "duration_without_unit.yaml" => [
        "8:24: task `extract`: execution_timeout: duration `300` has no unit — write it as 300s, 300m or 300h",
    ];

    a_word_for_a_duration_shows_the_accepted_forms: "duration_nonsense.yaml" => [
        "7:20: default_args.max_retry_delay: invalid duration `soon` — write it like 90s, 2m, 1h30m or 1d",
    ];

    a_misspelt_trigger_rule_suggests_the_closest_rule: "misspelt_trigger_rule.yaml" => [
        "10:19: task `report`: trigger_rule: unknown variant `all_sucess`, expected one of `all_success`, `all_done`, `all_failed`, `one_success`, `one_failed`, `none_failed` — did you mean `all_success`?",
    ];

    bad_indentation_points_at_the_line_that_breaks_the_yaml: "bad_indentation.yaml" => [
        "6:4: while parsing a block collection, did not find expected '-' indicator — this is not valid YAML; check the indentation and quoting around this spot",
    ];

    an_unclosed_quote_points_at_where_the_quote_opens: "unclosed_quote.yaml" => [
        "3:14: the quoted string that starts here does not end (invalid indentation in quoted scalar) — add the closing quote, or indent the string's next lines further than its key",
    ];

    a_word_where_a_count_belongs_asks_for_a_whole_number: "retries_not_a_number.yaml" => [
        "8:14: task `extract`: retries: invalid type: string \"three\", expected a whole number from 0 to 4294967295 — write a whole number, e.g. 3",
    ];

    a_word_where_a_boolean_belongs_asks_for_true_or_false: "catchup_maybe.yaml" => [
        "5:10: catchup: invalid type: string \"maybe\", expected a boolean — write true or false",
    ];

    a_schedule_without_a_start_date_asks_for_one: "schedule_without_start_date.yaml" => [
        "3:1: a scheduled DAG needs a start_date — add `start_date: 2024-01-01` (in the DAG's timezone), or set `schedule: null` for manual runs only",
    ];

    an_end_date_before_the_start_date_is_refused: "end_date_before_start_date.yaml" => [
        "5:11: end_date is before start_date — move end_date after start_date or remove it",
    ];

    an_empty_task_list_asks_for_a_task: "no_tasks.yaml" => [
        "4:1: the DAG has no tasks — add a `tasks:` list with at least one `- task_id: … kind: …` entry",
    ];

    an_impossible_date_shows_the_date_forms: "invalid_date.yaml" => [
        "4:13: invalid date `2024-13-01` — write a date like 2024-01-01, 2024-01-01T06:00 or 2024-01-01T06:00:00+01:00",
    ];

    an_unknown_http_method_lists_the_methods: "unknown_http_method.yaml" => [
        "7:13: task `notify`: unknown HTTP method `FETCH` — use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
    ];

    an_unclosed_template_names_the_task_and_field: "template_syntax_error.yaml" => [
        "7:14: task `extract`: template in `command` does not compile: unexpected end of input, expected end of variable block — check the {{ }} and {% %} pairs",
    ];

    max_active_runs_of_zero_is_refused: "max_active_runs_zero.yaml" => [
        "4:18: max_active_runs must be at least 1 — set it to 1 or more, or remove it for the default of 16",
    ];

    tasks_written_as_a_mapping_asks_for_a_list: "tasks_not_a_list.yaml" => [
        "5:3: `tasks` must be a list — write each task as a `- task_id: …` item under `tasks:`",
    ];

    a_task_that_is_a_bare_name_asks_for_task_keys: "task_not_a_mapping.yaml" => [
        "7:5: task #2 must be a mapping with `task_id` and `kind` — write it as `- task_id: …` with `kind: …` and the other keys indented below it",
    ];

    mistakes_in_two_tasks_and_a_dag_key_are_all_reported_at_once: "three_mistakes.yaml" => [
        "5:1: unknown field `max_active_run`, expected one of `dag_id`, `description`, `schedule`, `timezone`, `start_date`, `end_date`, `catchup`, `timetable`, `max_active_runs`, `max_active_tasks`, `is_paused_upon_creation`, `params`, `default_args`, `on_failure`, `on_retry`, `on_success`, `on_recovery`, `deadline`, `tasks` — did you mean `max_active_runs`?",
        "10:5: task `extract`: unknown field `retires`, expected one of `task_id`, `kind`, `depends_on`, `trigger_rule`, `retries`, `retry_delay`, `retry_exponential_backoff`, `max_retry_delay`, `execution_timeout`, `on_failure`, `on_retry`, `on_success`, `deadline`, `command`, `env`, `cwd` — did you mean `retries`?",
        "15:19: task `load`: trigger_rule: unknown variant `all_sucess`, expected one of `all_success`, `all_done`, `all_failed`, `one_success`, `one_failed`, `none_failed` — did you mean `all_success`?",
    ];

    a_misspelt_dag_key_does_not_hide_the_mistakes_in_the_tasks: "dag_key_and_graph_mistakes.yaml" => [
        "4:1: unknown field `descripton`, expected one of `dag_id`, `description`, `schedule`, `timezone`, `start_date`, `end_date`, `catchup`, `timetable`, `max_active_runs`, `max_active_tasks`, `is_paused_upon_creation`, `params`, `default_args`, `on_failure`, `on_retry`, `on_success`, `on_recovery`, `deadline`, `tasks` — did you mean `description`?",
        "8:13: task `extract`: unknown HTTP method `FETCH` — use one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        "11:18: task `load` depends on `extrct`, which is not a task of this DAG — did you mean `extract`?",
    ];
}

#[test]
fn every_broken_file_has_a_test() {
    let listed: BTreeSet<String> = BROKEN_FILES.iter().map(|f| f.to_string()).collect();
    assert_eq!(file_names("broken"), listed);
}

#[test]
fn a_last_task_ending_in_a_flow_list_loads() {
    let block = "schedule: null\ntasks:\n  - task_id: extract\n    kind: noop\n  - task_id: load\n    kind: noop\n    depends_on: [extract]\n";
    let flow = "schedule: null\ntasks: [{task_id: extract, kind: noop}, {task_id: load, kind: noop, depends_on: [extract]}]\n";
    for text in [block, flow] {
        let dag = load(Path::new("ends_in_a_list.yaml"), text)
            .unwrap_or_else(|errors| panic!("{text}\n{}", errors[0]));
        assert_eq!(dag.graph.upstream(1).collect::<Vec<_>>(), vec![0]);
    }
}

fn load_valid(name: &str) -> airless::dag::Dag {
    let path = fixtures("valid").join(name);
    let text = read(&path);
    load(&path, &text).unwrap_or_else(|errors| {
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{name} should load:\n{}", rendered.join("\n"))
    })
}

#[test]
fn task_keys_win_over_default_args_key_by_key() {
    let dag = load_valid("every_key.yaml");
    let task = |id: &str| &dag.tasks[dag.task_index(id).unwrap()];
    let minutes = |m: u64| std::time::Duration::from_secs(m * 60);

    let extract = task("extract");
    assert_eq!(extract.retry.retries, 3);
    assert_eq!(
        extract.retry.retry_delay,
        std::time::Duration::from_secs(90)
    );
    assert!(!extract.retry.exponential_backoff);
    assert_eq!(extract.retry.max_retry_delay, Some(minutes(10)));
    assert_eq!(extract.execution_timeout, Some(minutes(90)));

    let load = task("load");
    assert_eq!(load.retry.retries, 2);
    assert_eq!(load.retry.retry_delay, minutes(2));
    assert!(load.retry.exponential_backoff);
    assert_eq!(load.retry.max_retry_delay, Some(minutes(30)));
    assert_eq!(load.execution_timeout, Some(minutes(60)));

    let KindSpec::Http(notify) = &task("notify").kind else {
        panic!("notify is an http task");
    };
    assert_eq!(notify.method, "POST");
    assert_eq!(notify.expect_status, Some(vec![200, 204]));
    assert_eq!(dag.max_active_runs, 2);
    assert_eq!(dag.max_active_tasks, 8);
    assert!(dag.is_paused_upon_creation);
    assert!(dag.timetable.catchup);
}

#[test]
fn all_six_trigger_rules_are_read() {
    let dag = load_valid("all_trigger_rules.yaml");
    let rules: Vec<TriggerRule> = dag.tasks[2..].iter().map(|t| t.trigger_rule).collect();
    assert_eq!(
        rules,
        [
            TriggerRule::AllSuccess,
            TriggerRule::AllDone,
            TriggerRule::AllFailed,
            TriggerRule::OneSuccess,
            TriggerRule::OneFailed,
            TriggerRule::NoneFailed,
        ]
    );
}

#[test]
fn a_dag_with_a_null_schedule_needs_no_start_date() {
    let dag = load_valid("manual_only.yaml");
    assert!(dag.timetable.schedule.is_none());
    assert!(dag.timetable.start_date.is_none());
}

#[test]
fn broken_files_do_not_stop_valid_dags_in_the_same_folder_from_loading() {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["broken", "valid"] {
        for name in file_names(folder) {
            std::fs::copy(fixtures(folder).join(&name), dir.path().join(&name)).unwrap();
        }
    }

    let bag = DagBag::load(dir.path()).unwrap();

    // every fixture's dag_id is its file name

    let loaded: BTreeSet<&str> = bag
        .dags
        .keys()
        .map(|id| id.as_str())
        .filter(|id| !AWAITING_CRONER.iter().any(|f| stem(f) == *id))
        .collect();
    let valid = file_names("valid");
    assert_eq!(loaded, valid.iter().map(|f| stem(f)).collect());

    let failed: BTreeSet<String> = bag
        .import_errors
        .iter()
        .map(|e| e.file.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let broken: BTreeSet<String> = file_names("broken")
        .into_iter()
        .filter(|f| !AWAITING_CRONER.contains(&f.as_str()))
        .collect();
    assert_eq!(failed, broken);
    for import_error in &bag.import_errors {
        assert!(!import_error.errors.is_empty());
        assert!(
            import_error
                .errors
                .iter()
                .all(|e| e.file == import_error.file)
        );
    }
}

fn airless(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .expect("the airless binary runs");
    (
        output.status.code(),
        String::from_utf8(output.stdout).expect("airless prints UTF-8"),
    )
}

#[test]
fn dags_validate_prints_every_mistake_of_every_broken_file_and_exits_1() {
    let (code, stdout) = airless(&["dags", "validate", "tests/fixtures/broken"]);

    assert_eq!(code, Some(1), "{stdout}");
    for name in file_names("broken") {
        if !AWAITING_CRONER.contains(&name.as_str()) {
            let location = format!("tests/fixtures/broken/{name}:");
            assert!(
                stdout.contains(&location),
                "{name} is not named in:\n{stdout}"
            );
        }
    }
    // the same folder in-process: the CLI prints exactly what the loader finds
    let bag = DagBag::load(&fixtures("broken")).unwrap();
    let prefix = format!("{}/", manifest_dir().display());
    let mut expected: Vec<String> = bag
        .errors()
        .map(|e| e.to_string().replacen(&prefix, "", 1))
        .collect();
    expected.push(format!(
        "{} error(s) in {} file(s); {} DAG(s) valid",
        expected.len(),
        bag.import_errors.len(),
        bag.dags.len()
    ));
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn dags_validate_accepts_every_dag_we_ship() {
    let shipped = std::fs::read_dir(manifest_dir().join("dags"))
        .unwrap()
        .filter(|entry| {
            let path = entry.as_ref().unwrap().path();
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            )
        })
        .count();

    let (code, stdout) = airless(&["dags", "validate", "dags"]);

    assert_eq!(code, Some(0), "{stdout}");
    // warnings (a trigger's input in a shell script) do not fail validation
    let (summary, warnings) = stdout
        .trim_end()
        .lines()
        .collect::<Vec<_>>()
        .split_last()
        .map(|(s, w)| (s.to_string(), w.to_vec()))
        .unwrap_or_default();
    assert!(
        summary.starts_with(&format!("{shipped} DAG(s) valid in dags")),
        "{stdout}"
    );
    assert!(
        warnings.iter().all(|w| w.contains(": warning: ")),
        "{stdout}"
    );
}

#[test]
fn the_pinterest_pipeline_ships_paused_with_the_mwaa_dags_settings() {
    let path = manifest_dir().join("dags/pinterest_batch.yaml");
    let dag = load(&path, &read(&path)).unwrap();
    assert!(
        dag.is_paused_upon_creation,
        "a fresh install must not fire it unconfigured"
    );
    let kinds: Vec<(&str, &str)> = dag
        .tasks
        .iter()
        .map(|t| (t.task_id.as_str(), t.kind.name()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("emulate", "emulate"),
            ("ingest", "ingest"),
            ("clean", "databricks")
        ]
    );
    let clean = &dag.tasks[2];
    assert_eq!(clean.retry.retries, 5);
    assert_eq!(clean.retry.retry_delay, std::time::Duration::from_secs(120));
    let KindSpec::Databricks(spec) = &clean.kind else {
        panic!("clean is not a databricks task")
    };
    assert!(
        spec.notebook_path.as_deref().unwrap().contains(' '),
        "a path with spaces"
    );
    assert!(
        spec.existing_cluster_id
            .as_deref()
            .unwrap()
            .contains("env.DATABRICKS_CLUSTER_ID")
    );
}
