//! Hostile and careless DAG files. Every file in tests/fixtures/hostile is
//! loaded alone (with a 16 KiB size cap, so one fixture can be too large)
//! and what it gives — each error and warning as `file:line:col: message —
//! hint`, or `file: loads` — must match `expected.txt` there exactly; the
//! folder cases (a dag_id claimed twice, broken symlinks, loops) are built
//! from tests/fixtures/hostile/folder in a temp folder and checked against
//! `folder/expected.txt`. `AIRLESS_BLESS=1` rewrites both files from what the
//! loader says now: review the diff. Focused tests below pin anchors, merge
//! keys, the alias bomb, tags, warnings, ownership, symlinks, the size cap
//! and the linear-time loading.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use airless::dag::{DagBag, KindSpec, LoadOptions, ShellCommand};

/// The size cap the corpus is loaded with.
const CORPUS_MAX_SIZE: u64 = 16 * 1024;

fn hostile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile")
}

/// What loading `bag` said, one line per error or warning, with `dir/`
/// taken off the paths; `name: loads` when it said nothing.
fn report(bag: &DagBag, dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let lines: Vec<String> = bag
        .errors()
        .chain(bag.warnings())
        .map(|e| e.to_string().replace(&prefix, ""))
        .collect();
    if lines.is_empty() {
        vec![format!("{name}: loads")]
    } else {
        lines
    }
}

/// Compares `actual` with the file `expected`, or rewrites it when blessing.
fn assert_matches(expected: &Path, actual: &str) {
    if std::env::var_os("AIRLESS_BLESS").is_some() {
        std::fs::write(expected, actual).unwrap();
        return;
    }
    let wanted = std::fs::read_to_string(expected).unwrap_or_default();
    if wanted != actual {
        let diff: Vec<String> = wanted
            .lines()
            .zip(actual.lines())
            .filter(|(w, a)| w != a)
            .take(5)
            .map(|(w, a)| format!("expected: {w}\n  actual: {a}"))
            .collect();
        panic!(
            "{} does not match ({} lines expected, {} found); first differences:\n{}\n(AIRLESS_BLESS=1 rewrites it)",
            expected.display(),
            wanted.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// The corpus files, sorted by name.
fn corpus() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(hostile())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_hostile_file_gets_its_exact_message() {
    let dir = hostile();
    let options = LoadOptions {
        max_dag_file_size: CORPUS_MAX_SIZE,
        previous: None,
    };
    let names = corpus();
    assert!(names.len() >= 100, "the corpus has {} files", names.len());
    let mut out = String::new();
    let mut misnamed = Vec::new();
    for name in &names {
        let bag = DagBag::load_with(&dir.join(name), &options).unwrap();
        let lines = report(&bag, &dir, name);
        // the names say what a file is for: `_loads`, `_warns`, or refused
        let loads = bag.import_errors.is_empty();
        let warns = bag.warnings().next().is_some();
        if loads != (name.contains("_loads") || name.contains("_warns"))
            || warns != name.contains("_warns")
        {
            misnamed.push(format!("{name}: {lines:?}"));
        }
        for line in lines {
            assert!(line.starts_with(name.as_str()), "{name}: {line}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    assert_matches(&dir.join("expected.txt"), &out);
    assert!(misnamed.is_empty(), "misnamed:\n{}", misnamed.join("\n"));
}

/// Sets a file's modification time.
fn touch(path: &Path, at: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(at).unwrap();
}

fn days_ago(days: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(days * 86_400)
}

#[test]
fn folder_cases_get_their_exact_messages() {
    let source = hostile().join("folder");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    // the original is older than the file that claims its dag_id, and
    // sorts after it by name
    touch(&dir.join("z_original.yaml"), days_ago(30));
    touch(&dir.join("a_newcomer.yaml"), days_ago(1));
    std::os::unix::fs::symlink("missing.yaml", dir.join("broken_link.yaml")).unwrap();
    std::os::unix::fs::symlink("loop_b.yaml", dir.join("loop_a.yaml")).unwrap();
    std::os::unix::fs::symlink("loop_a.yaml", dir.join("loop_b.yaml")).unwrap();
    std::os::unix::fs::symlink("self.yml", dir.join("self.yml")).unwrap();

    let bag = DagBag::load(dir).unwrap();

    let mut out = String::new();
    for line in report(&bag, dir, "folder") {
        out.push_str(&line);
        out.push('\n');
    }
    assert_matches(&source.join("expected.txt"), &out);
    assert_eq!(
        bag.dags.keys().map(|d| d.as_str()).collect::<Vec<_>>(),
        ["other", "shared"]
    );
    assert_eq!(bag.dags["shared"].fileloc, dir.join("z_original.yaml"));
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const SHARED: &str = "dag_id: shared\nschedule: null\ntasks:\n  - task_id: a\n    kind: noop\n";

#[test]
fn the_file_that_held_a_dag_id_keeps_it_whatever_the_names_sort_to() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let original = write(dir, "z_original.yaml", SHARED);
    let before = DagBag::load(dir).unwrap();
    assert_eq!(before.dags["shared"].fileloc, original);

    // a newer file claims the dag_id, then the original is edited: with
    // the previous bag, the original still holds it
    let newcomer = write(dir, "a_newcomer.yaml", SHARED);
    touch(&newcomer, days_ago(2));
    std::fs::write(&original, format!("{SHARED}    retries: 1\n")).unwrap();
    touch(&original, days_ago(1));
    let options = LoadOptions {
        previous: Some(&before),
        ..LoadOptions::default()
    };
    let after = DagBag::load_with(dir, &options).unwrap();
    assert_eq!(after.dags["shared"].fileloc, original);
    let refused: Vec<String> = after.errors().map(ToString::to_string).collect();
    assert_eq!(
        refused,
        [format!(
            "{}:1:1: dag_id `shared` is already defined by {}, which had it first — give each DAG file its own dag_id",
            newcomer.display(),
            original.display()
        )]
    );

    // with no history, the file modified longest ago wins
    let fresh = DagBag::load(dir).unwrap();
    assert_eq!(fresh.dags["shared"].fileloc, newcomer);

    // the owner broken: the newcomer still does not take the dag_id over
    std::fs::write(&original, "dag_id: shared\ntasks: [").unwrap();
    let broken = DagBag::load_with(dir, &options).unwrap();
    assert!(!broken.dags.contains_key("shared"));
    assert_eq!(broken.import_errors.len(), 2);
}

#[test]
fn an_unchanged_file_is_not_parsed_again() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    write(dir, "shared.yaml", SHARED);
    let changing = write(dir, "other.yaml", &SHARED.replace("shared", "other"));
    let before = DagBag::load(dir).unwrap();
    std::fs::write(
        &changing,
        SHARED
            .replace("shared", "other")
            .replace("noop", "noop\n    retries: 2"),
    )
    .unwrap();
    let options = LoadOptions {
        previous: Some(&before),
        ..LoadOptions::default()
    };
    let after = DagBag::load_with(dir, &options).unwrap();
    assert!(Arc::ptr_eq(&before.dags["shared"], &after.dags["shared"]));
    assert!(!Arc::ptr_eq(&before.dags["other"], &after.dags["other"]));
    assert_eq!(after.dags["other"].tasks[0].retry.retries, 2);
}

#[test]
fn broken_symlinks_and_loops_are_import_errors_in_folder_mode() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    write(dir, "good.yaml", SHARED);
    std::os::unix::fs::symlink("gone.yaml", dir.join("dangling.yaml")).unwrap();
    std::os::unix::fs::symlink("b.yaml", dir.join("a.yaml")).unwrap();
    std::os::unix::fs::symlink("a.yaml", dir.join("b.yaml")).unwrap();

    let bag = DagBag::load(dir).unwrap();

    assert_eq!(bag.dags.len(), 1);
    let errors: Vec<String> = bag
        .errors()
        .map(|e| {
            e.to_string()
                .replacen(&format!("{}/", dir.display()), "", 1)
        })
        .collect();
    assert_eq!(
        errors,
        [
            "a.yaml: the file is a symlink loop: following it leads back to a link already followed — point the symlink at a real file, or remove it",
            "b.yaml: the file is a symlink loop: following it leads back to a link already followed — point the symlink at a real file, or remove it",
            "dangling.yaml: the file is a broken symlink: its target `gone.yaml` does not exist — point the symlink at a real file, or remove it",
        ]
    );
    // the watcher's fingerprint sees them too, so fixing one reloads
    assert_eq!(airless::dag::bag::dag_files(dir).unwrap().len(), 4);
}

#[test]
fn a_file_over_the_default_size_cap_is_refused_unread() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("huge.yaml");
    // sparse: 17 MiB of nothing, written in no time
    std::fs::File::create(&path)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let bag = DagBag::load(temp.path()).unwrap();
    let errors: Vec<String> = bag.errors().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}: the file is 17 MiB (17825792 bytes), larger than the 16 MiB (16777216 bytes) a DAG file may have — split it into several DAG files, or raise max_dag_file_size in airless.toml",
            path.display()
        )]
    );
    assert_eq!(airless::dag::DEFAULT_MAX_DAG_FILE_SIZE, 16 * 1024 * 1024);
}

fn load_fixture(name: &str) -> airless::dag::Dag {
    let path = hostile().join(name);
    airless::dag::load(&path, &std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {}", e[0]))
}

fn script(dag: &airless::dag::Dag, task: &str) -> String {
    let index = dag.task_index(task).unwrap();
    match &dag.tasks[index].kind {
        KindSpec::Shell(shell) => match &shell.command {
            ShellCommand::Script(s) => s.clone(),
            ShellCommand::Argv(argv) => argv.join(" "),
        },
        other => panic!("{task} is {}", other.name()),
    }
}

#[test]
fn an_anchor_outside_the_tasks_is_read_inside_each_of_them() {
    let dag = load_fixture("anchor_in_params_used_in_tasks_loads.yaml");
    assert_eq!(script(&dag, "a"), "echo shared");
    assert_eq!(script(&dag, "b"), "echo shared");
    assert_eq!(dag.params["command"], "echo shared");
}

#[test]
fn merge_keys_give_tasks_shared_settings_that_their_own_keys_override() {
    let dag = load_fixture("anchor_task_settings_merged_loads.yaml");
    let a = &dag.tasks[0];
    let b = &dag.tasks[1];
    assert_eq!((a.retry.retries, b.retry.retries), (2, 5));
    assert_eq!(b.retry.retry_delay, Duration::from_secs(60));

    let dag = load_fixture("anchor_whole_task_merged_loads.yaml");
    let ids: Vec<&str> = dag.tasks.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["first", "second", "third"]);
    assert_eq!(script(&dag, "third"), "echo {{ task_id }}");
    assert_eq!(dag.tasks[2].retry.retries, 1);
    assert_eq!(dag.graph.upstream(2).collect::<Vec<_>>(), [1]);

    let dag = load_fixture("anchor_merge_list_loads.yaml");
    // the first mapping listed wins: `command` comes from `a`
    assert_eq!(script(&dag, "t"), "echo a");
    assert_eq!(dag.tasks[0].retry.retries, 3);
}

#[test]
fn the_alias_bomb_is_refused_at_once() {
    let path = hostile().join("anchor_alias_bomb.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let started = Instant::now();
    let errors = airless::dag::load(&path, &text).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("looks like an alias bomb"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_python_tag_is_refused_where_it_is_never_run() {
    let path = hostile().join("tag_python_object_apply.yaml");
    let errors = airless::dag::load(&path, &std::fs::read_to_string(&path).unwrap()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].pos.map(|p| (p.line, p.column)), Some((6, 14)));
    assert!(
        errors[0]
            .message
            .starts_with("tag `!!python/object/apply:os.system` is not allowed")
    );
}

#[test]
fn a_trigger_input_in_a_shell_script_is_a_warning_that_does_not_fail_validation() {
    let temp = tempfile::tempdir().unwrap();
    for name in [
        "template_conf_in_a_script_warns.yaml",
        "template_conf_in_a_list_loads.yaml",
    ] {
        std::fs::copy(hostile().join(name), temp.path().join(name)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_airless"))
        .args(["dags", "validate"])
        .arg(temp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("template_conf_in_a_script_warns.yaml:6:14: warning: task `a`: `command` is a shell script that puts `{{ conf.table }}` into it: shell injection"), "{stdout}");
    assert!(
        lines[0].contains("`env: { TABLE: \"{{ conf.table }}\" }`"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        format!("2 DAG(s) valid in {}; 1 warning(s)", temp.path().display())
    );
}

/// A chain of `tasks` shell tasks, each depending on the one before.
fn chain(tasks: usize) -> String {
    let mut text = String::from("dag_id: chain\nschedule: null\ntasks:\n");
    for i in 0..tasks {
        text.push_str(&format!(
            "  - task_id: task_{i:06}\n    kind: shell\n    command: echo {i} {{{{ ds }}}}\n"
        ));
        if i > 0 {
            text.push_str(&format!("    depends_on: [task_{:06}]\n", i - 1));
        }
    }
    text
}

fn time_to_load(text: &str) -> Duration {
    let started = Instant::now();
    let dag = airless::dag::load(Path::new("chain.yaml"), text).unwrap();
    let elapsed = started.elapsed();
    assert!(dag.tasks.len() > 1);
    elapsed
}

#[test]
fn loading_takes_time_in_proportion_to_the_file() {
    let small = chain(2_500);
    let large = chain(20_000);
    // the best of three, so a busy machine does not decide
    let best = |text: &str| (0..3).map(|_| time_to_load(text)).min().unwrap();
    let (small, large) = (best(&small), best(&large));
    // 8× the tasks: linear is 8× the time, quadratic 64×
    assert!(
        large < small * 24,
        "2,500 tasks {small:?}, 20,000 tasks {large:?}"
    );
    // generous for a debug build on a shared machine; the benchmark
    // (bench/dag-load) measures the release build against 0.2 s
    assert!(
        large < Duration::from_secs(10),
        "20,000 tasks took {large:?}"
    );
}

#[test]
fn a_cycle_through_ten_thousand_tasks_is_named_in_one_short_line() {
    let mut text = chain(10_000);
    text = text.replacen(
        "    command: echo 0 {{ ds }}\n",
        "    command: echo 0 {{ ds }}\n    depends_on: [task_009999]\n",
        1,
    );
    let started = Instant::now();
    let errors = airless::dag::load(Path::new("cycle.yaml"), &text).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "cycle.yaml:7:5: the tasks form a cycle: task_000000 -> task_000001 -> task_000002 -> task_000003 -> task_000004 -> … -> task_009995 -> task_009996 -> task_009997 -> task_009998 -> task_009999 -> task_000000 (10000 tasks) — remove one of these depends_on entries so the graph has no loop"
    );
}
