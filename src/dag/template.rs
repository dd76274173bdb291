//! What a task's templates may use, checked when the DAG loads rather than
//! when a try renders them: Airflow's names (the engine's context), the
//! DAG's declared params, the filters and tests of the engine's minijinja
//! environment. `engine::template` renders with [`environment`] and the
//! names in [`CONTEXT_NAMES`]; a test there keeps the two in step.

use std::collections::{BTreeSet, HashMap};

use minijinja::machinery::{Token, WhitespaceConfig, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use super::error::suggest;

/// The top-level names a template can read when a try renders it.
pub const CONTEXT_NAMES: &[&str] = &[
    "ds",
    "ds_nodash",
    "ts",
    "ts_nodash",
    "logical_date",
    "data_interval_start",
    "data_interval_end",
    "run_id",
    "dag_id",
    "task_id",
    "try_number",
    "params",
    "conf",
    "env",
    "tasks",
];

/// minijinja's built-in filters and tests, for did-you-mean hints only:
/// whether one exists is asked of the environment itself.
const FILTER_NAMES: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];
const TEST_NAMES: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// The environment tries render with: minijinja's built-ins, and an
/// undefined name is an error rather than an empty string.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// What a DAG offers its templates beyond the fixed names.
pub struct Scope<'s> {
    /// The DAG's declared params (a trigger's conf overrides only these).
    pub params: &'s serde_json::Map<String, serde_json::Value>,
    /// Every task id of the DAG.
    pub task_ids: &'s dyn Fn(&str) -> bool,
    /// Candidates for did-you-mean on task ids (may be cut short).
    pub task_names: &'s [&'s str],
}

/// What checking one template found.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Mistakes that would fail the try: `(message, hint)`.
    pub errors: Vec<(String, String)>,
    /// Tasks whose output the template reads (`tasks.<id>.output`); each
    /// must be upstream of the task, which only the caller knows.
    pub outputs: Vec<String>,
    /// The names it reads that a trigger can set: `conf…` and `params…`.
    pub trigger_inputs: Vec<String>,
}

/// Checks templates against one environment, remembering which filters
/// and tests exist, and what each template's code was found to use.
pub struct Checker {
    env: Environment<'static>,
    globals: BTreeSet<String>,
    known: HashMap<(bool, String), bool>,
    /// Findings by a template's code with its raw text left out: a
    /// generated DAG's 100,000 `echo {i} {{ ds }}` are checked once.
    seen: HashMap<String, Findings>,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

/// At most this many templates' findings are remembered.
const REMEMBERED: usize = 10_000;

impl Checker {
    pub fn new() -> Self {
        let env = environment();
        let globals = env.globals().map(|(name, _)| name.to_string()).collect();
        Checker {
            env,
            globals,
            known: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Checks `source`, a string field of a task, against `scope` (which
    /// must stay the same between calls). Texts without `{{`, `{%` or `{#`
    /// are not templates and cost nothing.
    pub fn check(&mut self, source: &str, scope: &Scope<'_>) -> Findings {
        if !(source.contains("{{") || source.contains("{%") || source.contains("{#")) {
            return Findings::default();
        }
        let code = Code::of(source);
        if let Some(key) = &code.key
            && let Some(findings) = self.seen.get(key)
        {
            return findings.clone();
        }
        let findings = self.check_new(source, &code, scope);
        if let Some(key) = code.key
            && self.seen.len() < REMEMBERED
        {
            self.seen.insert(key, findings.clone());
        }
        findings
    }

    fn check_new(&mut self, source: &str, code: &Code, scope: &Scope<'_>) -> Findings {
        let mut findings = Findings::default();
        let template = match self.env.template_from_str(source) {
            Ok(template) => template,
            Err(err) => {
                findings.errors.push((
                    format!(
                        "does not compile: {}",
                        err.detail().unwrap_or("syntax error")
                    ),
                    "check the {{ }} and {% %} pairs".to_string(),
                ));
                return findings;
            }
        };
        let mut names: Vec<String> = template.undeclared_variables(true).into_iter().collect();
        names.sort();
        for name in &names {
            self.check_name(name, scope, &mut findings);
        }
        for (is_filter, name) in code
            .filters
            .iter()
            .map(|f| (true, f))
            .chain(code.tests.iter().map(|t| (false, t)))
        {
            if self.exists(is_filter, name) {
                continue;
            }
            let (what, names) = if is_filter {
                ("filter", FILTER_NAMES)
            } else {
                ("test", TEST_NAMES)
            };
            let hint = suggest(name, names.iter().copied()).unwrap_or_else(|| {
                format!("minijinja's {what}s are listed at https://docs.rs/minijinja/latest/minijinja/{what}s/")
            });
            findings
                .errors
                .push((format!("uses an unknown {what} `{name}`"), hint));
        }
        findings
    }

    fn check_name(&self, name: &str, scope: &Scope<'_>, findings: &mut Findings) {
        let mut parts = name.split('.');
        let root = parts.next().unwrap_or_default();
        let second = parts.next();
        match root {
            "params" => {
                findings.trigger_inputs.push(name.to_string());
                let Some(key) = second else { return };
                if scope.params.contains_key(key) {
                    return;
                }
                let declared: Vec<&str> = scope.params.keys().map(String::as_str).collect();
                let hint = suggest(key, declared.iter().copied()).unwrap_or_else(|| {
                    if declared.is_empty() {
                        format!("declare it with a default: `params: {{ {key}: … }}` (a trigger's conf can override it)")
                    } else {
                        format!(
                            "declare it under `params:` beside {}",
                            declared.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        )
                    }
                });
                let message = if declared.is_empty() {
                    format!("reads `params.{key}`, but the DAG declares no params")
                } else {
                    format!("reads `params.{key}`, which the DAG's params do not declare")
                };
                findings.errors.push((message, hint));
            }
            "conf" => findings.trigger_inputs.push(name.to_string()),
            "tasks" => {
                let Some(id) = second else { return };
                if !(scope.task_ids)(id) {
                    let hint = suggest(id, scope.task_names.iter().copied()).unwrap_or_else(|| {
                        "name a task of this DAG that runs before this one".to_string()
                    });
                    findings.errors.push((
                        format!("reads `tasks.{id}`, but the DAG has no task `{id}`"),
                        hint,
                    ));
                    return;
                }
                match parts.next() {
                    None | Some("output") => findings.outputs.push(id.to_string()),
                    Some(other) => findings.errors.push((
                        format!("reads `tasks.{id}.{other}`, which does not exist"),
                        format!("a task's result is `tasks.{id}.output`"),
                    )),
                }
            }
            known if CONTEXT_NAMES.contains(&known) || self.globals.contains(known) => {}
            unknown => {
                let hint = airflow_name(unknown)
                    .map(str::to_string)
                    .or_else(|| suggest(unknown, CONTEXT_NAMES.iter().copied()))
                    .unwrap_or_else(|| {
                        format!(
                            "the names a template can use are {}",
                            CONTEXT_NAMES.join(", ")
                        )
                    });
                findings.errors.push((
                    format!("uses `{unknown}`, which is not a template variable"),
                    hint,
                ));
            }
        }
    }

    /// Whether the environment has the filter (or test) `name`: calling an
    /// unknown one fails with its own error kind, and built-ins are pure.
    fn exists(&mut self, is_filter: bool, name: &str) -> bool {
        if let Some(&known) = self.known.get(&(is_filter, name.to_string())) {
            return known;
        }
        let exists = match self.env.template_from_str("") {
            Ok(template) => {
                let state = template.new_state();
                let kind = if is_filter {
                    state.apply_filter(name, &[]).err().map(|e| e.kind())
                } else {
                    state.perform_test(name, &[]).err().map(|e| e.kind())
                };
                !matches!(
                    kind,
                    Some(ErrorKind::UnknownFilter | ErrorKind::UnknownTest)
                )
            }
            Err(_) => true,
        };
        self.known.insert((is_filter, name.to_string()), exists);
        exists
    }
}

/// What airless offers for an Airflow template name it does not have.
fn airflow_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "execution_date" => "Airflow 2 renamed it `logical_date`; airless uses that name",
        "next_execution_date" | "next_ds" => "use `data_interval_end`",
        "prev_execution_date" | "prev_ds" => "use `data_interval_start`",
        "dag_run" => "a trigger's conf is `conf` (Airflow's `dag_run.conf`)",
        "ti" | "task_instance" => {
            "an upstream task's result is `tasks.<id>.output` (Airflow's XCom)"
        }
        "var" => "airless has no Variables: read the environment with `env.NAME`",
        "macros" => {
            "airless has no `macros`: use the date names (`ds`, `ds_nodash`, `data_interval_end`…) and minijinja's filters"
        }
        _ => return None,
    })
}

/// A template's code: the filters (`x | name`, `{% filter name %}`) and
/// tests (`x is name`, `x is not name`) it names, and a key made of every
/// token but its raw text, which decides everything a check finds. No key
/// when the template does not tokenize (its error is the compiler's to say).
struct Code {
    filters: BTreeSet<String>,
    tests: BTreeSet<String>,
    key: Option<String>,
}

impl Code {
    fn of(source: &str) -> Code {
        let mut tokens: Vec<(Token<'_>, (usize, usize))> = Vec::new();
        let mut tokenizes = true;
        for token in tokenize(source, false, SyntaxConfig, WhitespaceConfig::default()) {
            match token {
                Ok((token, span)) => tokens.push((
                    token,
                    (span.start_offset as usize, span.end_offset as usize),
                )),
                Err(_) => {
                    tokenizes = false;
                    break;
                }
            }
        }
        let mut key = String::new();
        let mut filters = BTreeSet::new();
        let mut tests = BTreeSet::new();
        for (i, (token, (start, end))) in tokens.iter().enumerate() {
            if !matches!(token, Token::TemplateData(_)) {
                key.push_str(source.get(*start..*end).unwrap_or_default());
                key.push('\u{0}');
            }
            let next_ident = |at: usize| match tokens.get(at) {
                Some((Token::Ident(name), _)) => Some(*name),
                _ => None,
            };
            match token {
                Token::Pipe => {
                    if let Some(name) = next_ident(i + 1) {
                        filters.insert(name.to_string());
                    }
                }
                Token::Ident("filter")
                    if matches!(tokens.get(i.wrapping_sub(1)), Some((Token::BlockStart, _))) =>
                {
                    if let Some(name) = next_ident(i + 1) {
                        filters.insert(name.to_string());
                    }
                }
                Token::Ident("is") => {
                    let at = if next_ident(i + 1) == Some("not") {
                        i + 2
                    } else {
                        i + 1
                    };
                    if let Some(name) = next_ident(at) {
                        tests.insert(name.to_string());
                    }
                }
                _ => {}
            }
        }
        Code {
            filters,
            tests,
            key: tokenizes.then_some(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> Findings {
        let params: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"records": 500}"#).unwrap();
        let ids = ["extract", "load"];
        let scope = Scope {
            params: &params,
            task_ids: &|id| ids.contains(&id),
            task_names: &ids,
        };
        Checker::new().check(source, &scope)
    }

    fn errors(source: &str) -> Vec<String> {
        check(source)
            .errors
            .into_iter()
            .map(|(m, h)| format!("{m} — {h}"))
            .collect()
    }

    #[test]
    fn airflow_names_and_builtins_pass() {
        let ok = [
            "{{ ds }} {{ ds_nodash }} {{ ts }} {{ ts_nodash }} {{ logical_date }}",
            "{{ data_interval_start }} {{ data_interval_end }} {{ run_id }} {{ dag_id }}",
            "{{ task_id }} {{ try_number }} {{ params.records }} {{ conf.x }} {{ env.HOME }}",
            "{% for i in range(3) %}{{ loop.index }}{{ i | string | upper }}{% endfor %}",
            "{% set n = params.records * 2 %}{{ n is even }}{{ n is not none }}",
            "{{ tasks.extract.output.rows | default(0) }}",
            "{% filter upper %}x{% endfilter %}{{ 'a|b' }}",
            "plain text with | a pipe and is words",
        ];
        for source in ok {
            assert_eq!(errors(source), Vec::<String>::new(), "{source}");
        }
    }

    #[test]
    fn misspelt_names_filters_and_tests_are_refused_with_a_suggestion() {
        assert_eq!(
            errors("{{ dss }}"),
            ["uses `dss`, which is not a template variable — did you mean `ds`?"]
        );
        assert_eq!(
            errors("{{ ds | uper }}"),
            ["uses an unknown filter `uper` — did you mean `upper`?"]
        );
        assert_eq!(
            errors("{% if x is od %}{% endif %}"),
            [
                "uses `x`, which is not a template variable — the names a template can use are ds, ds_nodash, ts, ts_nodash, logical_date, data_interval_start, data_interval_end, run_id, dag_id, task_id, try_number, params, conf, env, tasks",
                "uses an unknown test `od` — did you mean `odd`?",
            ]
        );
        assert_eq!(
            errors("{{ params.recods }}"),
            [
                "reads `params.recods`, which the DAG's params do not declare — did you mean `records`?"
            ]
        );
        assert_eq!(
            errors("{{ tasks.extrct.output }}"),
            ["reads `tasks.extrct`, but the DAG has no task `extrct` — did you mean `extract`?"]
        );
        assert_eq!(
            errors("{{ tasks.extract.outptu }}"),
            [
                "reads `tasks.extract.outptu`, which does not exist — a task's result is `tasks.extract.output`"
            ]
        );
        assert_eq!(
            errors("{{ ds"),
            [
                "does not compile: unexpected end of input, expected end of variable block — check the {{ }} and {% %} pairs"
            ]
        );
    }

    #[test]
    fn templates_that_differ_only_in_text_are_checked_once() {
        let params = serde_json::Map::new();
        let scope = Scope {
            params: &params,
            task_ids: &|_| false,
            task_names: &[],
        };
        let mut checker = Checker::new();
        for i in 0..3 {
            let found = checker.check(&format!("echo {i} {{{{ dss }}}}"), &scope);
            assert_eq!(found.errors.len(), 1);
        }
        assert!(checker.check("echo {{ ds }}", &scope).errors.is_empty());
        assert_eq!(checker.seen.len(), 2);
    }

    #[test]
    fn outputs_and_trigger_inputs_are_reported_to_the_caller() {
        let found = check("{{ tasks.load.output }} {{ conf.table }} {{ params.records }}");
        assert_eq!(found.outputs, ["load"]);
        assert_eq!(found.trigger_inputs, ["conf.table", "params.records"]);
    }
}
