//! The YAML reader on its own: anchors, merges, tags, duplicates, bombs
//! and positions.

use super::*;

fn doc(text: &str) -> Doc<'_> {
    parse(Path::new("t.yaml"), text).unwrap_or_else(|e| panic!("{text}: {}", e[0]))
}

fn errors(text: &str) -> Vec<String> {
    match parse(Path::new("t.yaml"), text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn text_at<'d>(d: &'d Doc<'_>, path: &str) -> Option<&'d str> {
    d.text(d.find(path)?.1)
}

#[test]
fn an_anchor_outside_the_tasks_is_used_inside_them() {
    let d = doc("common: &cmd echo hi\ntasks:\n  - command: *cmd\n  - command: *cmd\n");
    assert_eq!(text_at(&d, "tasks[0].command"), Some("echo hi"));
    assert_eq!(text_at(&d, "tasks[1].command"), Some("echo hi"));
    // an alias points at its anchor: the position is where the value is written
    let at = d.pos(d.find("tasks[1].command").unwrap().1);
    assert_eq!(at, Pos { line: 1, column: 9 });
}

#[test]
fn merge_keys_fill_in_what_the_mapping_does_not_set() {
    let d = doc("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  x: 0\n");
    assert_eq!(text_at(&d, "c.x"), Some("0"));
    // the first mapping listed wins
    assert_eq!(text_at(&d, "c.y"), Some("2"));
    assert_eq!(text_at(&d, "c.z"), Some("4"));
    assert!(d.find("c.<<").is_none());
}

#[test]
fn a_merge_of_something_else_is_refused() {
    assert_eq!(
        errors("a: 1\nb:\n  <<: 3\n"),
        [
            "t.yaml:3:7: a merge key `<<` takes a mapping or a list of mappings — write `<<: *defaults` or `<<: [*defaults, *more]` where each anchor names a mapping"
        ]
    );
}

#[test]
fn the_alias_bomb_is_refused_before_it_expands() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let started = std::time::Instant::now();
    let found = errors(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.yaml:7:")
            && found[0].contains("the aliases in this file stand for more than 1000000 values (at `*a5`), which looks like an alias bomb"),
        "{}",
        found[0]
    );
}

#[test]
fn a_recursive_alias_is_refused() {
    assert_eq!(
        errors("a: &a [1, *a]\n"),
        [
            "t.yaml:1:11: alias `*a` is inside the node its anchor names — a recursive alias never ends; copy the values instead"
        ]
    );
}

#[test]
fn tags_outside_the_core_schema_are_refused_at_their_line() {
    assert_eq!(
        errors("a: 1\ncommand: !!python/object/apply:os.system [\"id\"]\nb: !Ref x\n"),
        [
            "t.yaml:2:10: tag `!!python/object/apply:os.system` is not allowed: a DAG file holds plain data, and airless never builds objects from tags — remove the tag; the tags YAML's core schema has are !!str, !!int, !!float, !!bool, !!null, !!seq and !!map",
            "t.yaml:3:4: tag `!Ref` is not allowed: a DAG file holds plain data, and airless never builds objects from tags — remove the tag; the tags YAML's core schema has are !!str, !!int, !!float, !!bool, !!null, !!seq and !!map",
        ]
    );
    assert_eq!(
        errors("a: !!int abc\n"),
        [
            "t.yaml:1:4: `!!int` value `abc` is not a whole number — write a whole number, or remove the tag"
        ]
    );
}

#[test]
fn core_tags_decide_how_a_scalar_reads() {
    let d = doc("a: !!str 12\nb: !!float 3\nc: ! 7\nd: !!map {x: 1}\n");
    let scalar = |path| match d.value(d.find(path).unwrap().1) {
        Value::Scalar(s) => s.resolve(),
        other => panic!("{other:?}"),
    };
    assert_eq!(scalar("a"), Resolved::Str("12"));
    assert_eq!(scalar("b"), Resolved::Float(3.0));
    assert_eq!(scalar("c"), Resolved::Str("7"));
}

#[test]
fn duplicate_keys_are_reported_at_the_duplicate() {
    assert_eq!(
        errors("tasks:\n  - task_id: a\n    retries: 1\n    retries: 2\n"),
        [
            "t.yaml:4:5: duplicate key `retries` (first on line 3) — remove one of them; YAML keeps only one value per key"
        ]
    );
}

#[test]
fn positions_never_fall_past_the_end_of_the_file() {
    assert_eq!(
        errors("a: [1, 2\n"),
        [
            "t.yaml:1:4: the `[` that opens here is never closed (while parsing a flow sequence, expected ',' or ']') — add the closing `]`"
        ]
    );
    assert_eq!(
        errors("a: \"abc\n"),
        [
            "t.yaml:1:4: the quoted string that starts here does not end (while scanning a quoted scalar, found unexpected end of stream) — add the closing quote, or indent the string's next lines further than its key"
        ]
    );
}

#[test]
fn control_characters_and_bad_bytes_are_reported_where_they_are() {
    assert_eq!(
        errors("a: 1\nb: x\0y\n"),
        [
            "t.yaml:2:5: a NUL byte (\\u{0}) is not allowed in a YAML file — remove it; inside a double-quoted string, write a control character as an escape such as \"\\x07\""
        ]
    );
    let err = decode(Path::new("t.yaml"), b"a: 1\nb: caf\xe9\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.yaml:2:7: byte 0xE9 is not UTF-8; DAG files are read as UTF-8 — save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`); the text here may be Latin-1 or Windows-1252"
    );
}

#[test]
fn nesting_is_bounded() {
    let text = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
    let found = errors(&text);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].contains("nest more than 64 levels"),
        "{}",
        found[0]
    );
}

#[test]
fn core_schema_scalars_resolve() {
    for (text, expected) in [
        ("~", Resolved::Null),
        ("", Resolved::Null),
        ("True", Resolved::Bool(true)),
        ("yes", Resolved::Str("yes")),
        ("-12", Resolved::Int(-12)),
        ("0x1F", Resolved::Int(31)),
        ("0o17", Resolved::Int(15)),
        ("1.5e3", Resolved::Float(1500.0)),
        (".5", Resolved::Float(0.5)),
        ("1_000", Resolved::Str("1_000")),
        ("2024-01-01", Resolved::Str("2024-01-01")),
        (
            "99999999999999999999999999999999999999999",
            Resolved::Int(i128::MAX),
        ),
    ] {
        assert_eq!(resolve_plain(text), expected, "{text}");
    }
}
