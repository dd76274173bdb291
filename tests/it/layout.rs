//! The architecture as a test: imports point down, and only the command
//! door (`engine::control`) and the store itself reach the store's write
//! side. Outside the crate the write side is not even nameable (a
//! `compile_fail` doctest on `store` shows it); inside, this source check.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `(file relative to src/, line number, line)` for every line of code
/// (comments skipped) under `src/` that contains one of `needles`.
fn lines_with(needles: &[&str]) -> Vec<(String, usize, String)> {
    let root = src();
    let mut hits = Vec::new();
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|needle| code.contains(needle)) {
                hits.push((name.clone(), n + 1, line.trim().to_string()));
            }
        }
    }
    hits
}

fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_'))
}

#[test]
fn only_the_command_door_and_the_store_reach_the_write_side() {
    let root = src();
    let mut intruders = Vec::new();
    for file in rust_files(&root) {
        let name = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("store/") || name == "engine/control.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // `Writer` is a common word (the porter has a YAML one): it counts
        // where the file imports from the store
        let uses_store = text.contains("crate::store");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            let named = words(line).any(|w| w == "StateWrite" || (uses_store && w == "Writer"))
                || line.contains("store::open(");
            if named {
                intruders.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        intruders.is_empty(),
        "only engine/control.rs and store/ may name the store's write side: {intruders:#?}"
    );
    // and the door does reach it, so the check above checks something
    assert!(
        lines_with(&["crate::store::open("])
            .iter()
            .any(|(file, _, _)| file == "engine/control.rs")
    );
}

#[test]
fn no_sql_outside_the_store_implementations() {
    let sql: Vec<_> = lines_with(&[
        "sqlx::query",
        "SqlitePool",
        "PgPool",
        "julianday",
        "json_each",
    ])
    .into_iter()
    .filter(|(file, _, _)| {
        // the store's own test suite makes and drops PostgreSQL schemas
        ![
            "store/sqlite/",
            "store/postgres/",
            "store/tests/",
            "store/copy.rs",
            "kinds/emulate/",
        ]
        .iter()
        .any(|dir| file.starts_with(dir))
    })
    .collect();
    assert!(
        sql.is_empty(),
        "SQL outside store/sqlite and store/postgres: {sql:#?}"
    );
}

#[test]
fn imports_point_down() {
    let above = |module: &str| -> Vec<&'static str> {
        match module {
            "model" => vec![
                "crate::web",
                "crate::notify",
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
                "crate::engine",
                "crate::kinds",
                "crate::clients",
                "crate::store",
                "crate::dag",
                "crate::port",
                "crate::config",
            ],
            "clients" => vec![
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
                "crate::engine",
                "crate::kinds",
                "crate::store",
                "crate::dag",
                "crate::port",
                "crate::config",
            ],
            "store" => vec![
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
                "crate::engine",
                "crate::kinds",
                "crate::clients",
                "crate::dag",
                "crate::port",
            ],
            "web" => vec!["crate::app", "crate::cli"],
            "api" => vec!["crate::web", "crate::app", "crate::cli"],
            "engine" => vec![
                "crate::web",
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
            ],
            "notify" => vec![
                "crate::web",
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
                "crate::engine",
                "crate::kinds",
                "crate::store",
                "crate::dag",
                "crate::port",
            ],
            "kinds" => vec![
                "crate::api",
                "crate::app",
                "crate::cli",
                "crate::scheduler",
                "crate::engine",
                "crate::store",
            ],
            _ => vec![],
        }
    };
    let root = src();
    let mut upward = Vec::new();
    for file in rust_files(&root) {
        let name = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = name.split(['/', '.']).next().unwrap_or("").to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for forbidden in above(&module) {
                if line.contains(&format!("{forbidden}::"))
                    || line.contains(&format!("{forbidden};"))
                {
                    upward.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up: {upward:#?}");
}
