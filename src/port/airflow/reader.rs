//! Walks a parsed DAG file statement by statement, the way Python would run
//! it but without running anything: imports bind names, assignments bind
//! values, `with DAG(...)` / `with TaskGroup(...)` open a context, loops over
//! literal lists are unrolled. What cannot be followed becomes a note.

use std::collections::{HashMap, HashSet};

use ruff_python_ast::{Expr, Stmt, StmtFunctionDef};
use ruff_text_size::{Ranged, TextRange};

use super::model::Model;
use super::value::Value;

/// The most items a loop is unrolled for.
const MAX_UNROLL: usize = 1000;

/// Something not carried over, at a line of the file.
#[derive(Debug, Clone)]
pub struct Note {
    pub line: u32,
    pub what: String,
    pub why: String,
}

impl Note {
    pub fn new(line: u32, what: impl Into<String>, why: impl Into<String>) -> Note {
        Note {
            line,
            what: what.into(),
            why: why.into(),
        }
    }
}

/// Line numbers from byte offsets.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> u32 {
        u32::try_from(self.starts.partition_point(|&s| s <= offset)).unwrap_or(u32::MAX)
    }

    /// 1-based column (in characters) of a byte offset.
    pub fn column(&self, text: &str, offset: usize) -> u32 {
        let line = self.line(offset) as usize;
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let chars = text.get(start..offset).map_or(0, |s| s.chars().count());
        u32::try_from(chars + 1).unwrap_or(u32::MAX)
    }
}

/// How a function defined in the file behaves when called.
#[derive(Debug, Clone)]
pub enum FunctionKind<'a> {
    /// `@dag` / `@dag(...)`: calling it creates the DAG.
    Dag(Option<&'a ruff_python_ast::ExprCall>),
    /// `@task`, `@task.bash`, …: calling it creates a TaskFlow task.
    Task {
        decorator: String,
        call: Option<&'a ruff_python_ast::ExprCall>,
    },
    /// `@task_group`.
    TaskGroup,
    /// Any other function.
    Plain,
}

pub struct Function<'a> {
    pub def: &'a StmtFunctionDef,
    pub kind: FunctionKind<'a>,
    pub called: bool,
}

/// The walker's state. Expressions are evaluated in `eval.rs`, calls in
/// `calls.rs`.
pub struct Reader<'a> {
    pub(super) text: &'a str,
    pub(super) lines: LineIndex,
    pub model: Model,
    pub(super) scopes: Vec<HashMap<String, Value>>,
    pub(super) dag_stack: Vec<usize>,
    pub(super) group_stack: Vec<usize>,
    pub(super) functions: Vec<Function<'a>>,
    pub notes: Vec<Note>,
    /// Names read by some expression (to find default_args never passed).
    pub(super) used: HashSet<String>,
    /// Module-level dicts whose name says they are default_args, by line.
    pub(super) default_args_vars: Vec<(String, u32)>,
    pub(super) depth: u32,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut module = HashMap::new();
        // Airflow imports DAG files under a generated module name, never as __main__.
        module.insert(
            "__name__".to_string(),
            Value::Str("unusual_prefix_dag_file".to_string()),
        );
        Reader {
            text,
            lines: LineIndex::new(text),
            model: Model::default(),
            scopes: vec![module],
            dag_stack: Vec::new(),
            group_stack: Vec::new(),
            functions: Vec::new(),
            notes: Vec::new(),
            used: HashSet::new(),
            default_args_vars: Vec::new(),
            depth: 0,
        }
    }

    pub fn line(&self, node: &impl Ranged) -> u32 {
        self.lines.line(node.start().to_usize())
    }

    /// The source text of a node, on one line, shortened for messages.
    pub fn snippet(&self, range: TextRange) -> String {
        let raw = self
            .text
            .get(range.start().to_usize()..range.end().to_usize())
            .unwrap_or_default();
        let flat: String = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.chars().count() > 60 {
            let cut: String = flat.chars().take(57).collect();
            format!("{cut}...")
        } else {
            flat
        }
    }

    pub fn note(&mut self, line: u32, what: impl Into<String>, why: impl Into<String>) {
        self.notes.push(Note {
            line,
            what: what.into(),
            why: why.into(),
        });
    }

    pub(super) fn lookup(&mut self, name: &str) -> Option<Value> {
        self.used.insert(name.to_string());
        self.scopes
            .iter()
            .rev()
            .find_map(|scope| scope.get(name).cloned())
    }

    pub(super) fn bind(&mut self, name: &str, value: Value) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), value);
        }
    }

    /// Runs the statements of a module (or of a block).
    pub fn exec_block(&mut self, body: &'a [Stmt]) {
        for stmt in body {
            self.exec(stmt);
        }
    }

    fn exec(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(import) => {
                for alias in &import.names {
                    let path = alias.name.as_str();
                    match &alias.asname {
                        Some(asname) => self.bind(asname.as_str(), Value::Symbol(path.to_string())),
                        None => {
                            let first = path.split('.').next().unwrap_or(path);
                            self.bind(first, Value::Symbol(first.to_string()));
                        }
                    }
                }
            }
            Stmt::ImportFrom(import) => {
                let module = import.module.as_ref().map_or("", |m| m.as_str());
                let dots = ".".repeat(import.level as usize);
                for alias in &import.names {
                    let name = alias.name.as_str();
                    if name == "*" {
                        continue;
                    }
                    let bound = alias.asname.as_ref().map_or(name, |a| a.as_str());
                    let path = if module.is_empty() {
                        format!("{dots}{name}")
                    } else {
                        format!("{dots}{module}.{name}")
                    };
                    self.bind(bound, Value::Symbol(path));
                }
            }
            Stmt::Assign(assign) => {
                let value = self.eval(&assign.value);
                let line = self.line(stmt);
                for target in &assign.targets {
                    self.assign(target, value.clone(), line);
                }
            }
            Stmt::AnnAssign(assign) => {
                if let Some(value) = &assign.value {
                    let value = self.eval(value);
                    let line = self.line(stmt);
                    self.assign(&assign.target, value, line);
                }
            }
            Stmt::AugAssign(assign) => {
                let Expr::Name(name) = assign.target.as_ref() else {
                    let line = self.line(stmt);
                    let what = self.snippet(stmt.range());
                    self.note(
                        line,
                        format!("`{what}`"),
                        "an in-place change of an attribute or item is not followed",
                    );
                    return;
                };
                let current = self
                    .lookup(name.id.as_str())
                    .unwrap_or_else(|| Value::Unknown(format!("`{}` is not defined", name.id)));
                let right = self.eval(&assign.value);
                let value = self.binary(current, assign.op, right, stmt.range());
                self.bind(name.id.as_str(), value);
            }
            Stmt::Expr(expr) => {
                if matches!(expr.value.as_ref(), Expr::StringLiteral(_)) {
                    return; // a docstring
                }
                self.eval_statement(&expr.value);
            }
            Stmt::With(with) => self.with(with),
            Stmt::FunctionDef(def) => self.define_function(def),
            Stmt::ClassDef(class) => {
                // a class of the file: calling it with a task_id makes an unknown operator
                self.bind(
                    class.name.as_str(),
                    Value::Symbol(class.name.as_str().to_string()),
                );
            }
            Stmt::For(for_stmt) => self.for_loop(for_stmt),
            Stmt::If(if_stmt) => self.if_stmt(if_stmt),
            Stmt::Try(try_stmt) => {
                // the except branches run only when the body fails, which a
                // static read assumes it does not
                self.exec_block(&try_stmt.body);
                self.exec_block(&try_stmt.orelse);
                self.exec_block(&try_stmt.finalbody);
            }
            Stmt::While(_) | Stmt::Match(_) => {
                let line = self.line(stmt);
                let keyword = if matches!(stmt, Stmt::While(_)) {
                    "`while` loop"
                } else {
                    "`match` statement"
                };
                self.note(
                    line,
                    keyword,
                    "its outcome is only known when Airflow runs the file; tasks or dependencies it creates are not carried over",
                );
            }
            _ => {}
        }
    }

    /// Binds an assignment target: a name, or a tuple of names.
    fn assign(&mut self, target: &'a Expr, value: Value, line: u32) {
        match target {
            Expr::Name(name) => {
                let id = name.id.as_str();
                if self.scopes.len() == 1
                    && self.dag_stack.is_empty()
                    && id.to_ascii_lowercase().contains("default_args")
                    && matches!(value, Value::Dict(_))
                {
                    self.default_args_vars.push((id.to_string(), line));
                    self.used.remove(id);
                }
                self.bind(id, value);
            }
            Expr::Tuple(ruff_python_ast::ExprTuple { elts, .. })
            | Expr::List(ruff_python_ast::ExprList { elts, .. }) => match value {
                Value::List(items) if items.len() == elts.len() => {
                    for (target, item) in elts.iter().zip(items) {
                        self.assign(target, item, line);
                    }
                }
                other => {
                    let why = match other {
                        Value::Unknown(why) => why,
                        _ => "the value cannot be unpacked statically".to_string(),
                    };
                    for target in elts {
                        self.assign(target, Value::Unknown(why.clone()), line);
                    }
                }
            },
            Expr::Attribute(attr) => {
                let base = self.eval(&attr.value);
                if matches!(base, Value::Dag(_) | Value::Task(_) | Value::Group(_)) {
                    let what = self.snippet(target.range());
                    self.note(
                        line,
                        format!("`{what} = ...`"),
                        "setting an attribute after creation is not carried over; pass it as an argument instead",
                    );
                }
            }
            Expr::Subscript(sub) => {
                // `default_args["retries"] = 3`
                if let Expr::Name(name) = sub.value.as_ref() {
                    let key = self.eval(&sub.slice);
                    if let (Some(Value::Dict(mut items)), Value::Str(_)) =
                        (self.lookup(name.id.as_str()), &key)
                    {
                        items.retain(|(k, _)| *k != key);
                        items.push((key, value));
                        self.bind(name.id.as_str(), Value::Dict(items));
                    }
                }
            }
            _ => {}
        }
    }

    fn with(&mut self, with: &'a ruff_python_ast::StmtWith) {
        let (dags, groups) = (self.dag_stack.len(), self.group_stack.len());
        for item in &with.items {
            let value = self.eval(&item.context_expr);
            match &value {
                Value::Dag(d) => self.dag_stack.push(*d),
                Value::Group(g) => self.group_stack.push(*g),
                _ => {}
            }
            if let Some(target) = &item.optional_vars {
                let line = self.line(target.as_ref());
                self.assign(target, value, line);
            }
        }
        self.exec_block(&with.body);
        self.dag_stack.truncate(dags);
        self.group_stack.truncate(groups);
    }

    fn define_function(&mut self, def: &'a StmtFunctionDef) {
        let mut kind = FunctionKind::Plain;
        for decorator in &def.decorator_list {
            let (callee, call) = match &decorator.expression {
                Expr::Call(call) => (call.func.as_ref(), Some(call)),
                other => (other, None),
            };
            let path = match self.eval(callee) {
                Value::Symbol(path) => path,
                _ => continue,
            };
            let segments: Vec<&str> = path.split('.').collect();
            let last = segments.last().copied().unwrap_or_default();
            let before = segments
                .len()
                .checked_sub(2)
                .and_then(|i| segments.get(i))
                .copied();
            kind = if last == "dag" {
                FunctionKind::Dag(call)
            } else if last == "task_group" {
                FunctionKind::TaskGroup
            } else if last == "task" || before == Some("task") {
                let decorator = if last == "task" {
                    "@task".to_string()
                } else {
                    format!("@task.{last}")
                };
                FunctionKind::Task { decorator, call }
            } else {
                continue;
            };
        }
        let index = self.functions.len();
        self.functions.push(Function {
            def,
            kind,
            called: false,
        });
        self.bind(def.name.as_str(), Value::Function(index));
    }

    fn for_loop(&mut self, for_stmt: &'a ruff_python_ast::StmtFor) {
        let line = self.line(for_stmt);
        let iter = self.eval(&for_stmt.iter);
        let items = match iter {
            Value::List(items) => items,
            Value::Dict(items) => items.into_iter().map(|(k, _)| k).collect(),
            other => {
                let source = self.snippet(for_stmt.iter.range());
                let why = match other {
                    Value::Unknown(why) => why,
                    other => format!("it iterates over {}", other.describe()),
                };
                self.note(
                    line,
                    format!("loop `for ... in {source}`"),
                    format!(
                        "cannot be unrolled statically ({why}); the tasks and dependencies it creates are not carried over"
                    ),
                );
                return;
            }
        };
        if items.len() > MAX_UNROLL || has_jump(&for_stmt.body) {
            let source = self.snippet(for_stmt.iter.range());
            self.note(
                line,
                format!("loop `for ... in {source}`"),
                "cannot be unrolled statically (too long, or it uses break/continue); the tasks and dependencies it creates are not carried over",
            );
            return;
        }
        for item in items {
            self.assign(&for_stmt.target, item, line);
            self.exec_block(&for_stmt.body);
        }
        self.exec_block(&for_stmt.orelse);
    }

    fn if_stmt(&mut self, if_stmt: &'a ruff_python_ast::StmtIf) {
        let mut branches: Vec<(Option<&'a Expr>, &'a [Stmt])> =
            vec![(Some(&if_stmt.test), &if_stmt.body)];
        for clause in &if_stmt.elif_else_clauses {
            branches.push((clause.test.as_ref(), &clause.body));
        }
        for (test, body) in branches.iter().copied() {
            let Some(test) = test else {
                self.exec_block(body);
                return;
            };
            match self.eval(test).truthy() {
                Some(true) => {
                    self.exec_block(body);
                    return;
                }
                Some(false) => {}
                None => {
                    // version switches that only pick imports: take all of them
                    if branches.iter().all(|(_, b)| {
                        b.iter().all(|s| {
                            matches!(s, Stmt::Import(_) | Stmt::ImportFrom(_) | Stmt::Pass(_))
                        })
                    }) {
                        for (_, b) in &branches {
                            self.exec_block(b);
                        }
                        return;
                    }
                    let line = self.line(test);
                    let source = self.snippet(test.range());
                    self.note(
                        line,
                        format!("`if {source}:`"),
                        "the condition is only known when Airflow imports the file; no branch of it is carried over",
                    );
                    return;
                }
            }
        }
    }
}

/// Whether a loop body breaks or continues (at its own level).
fn has_jump(body: &[Stmt]) -> bool {
    body.iter().any(|stmt| match stmt {
        Stmt::Break(_) | Stmt::Continue(_) => true,
        Stmt::If(s) => has_jump(&s.body) || s.elif_else_clauses.iter().any(|c| has_jump(&c.body)),
        Stmt::With(s) => has_jump(&s.body),
        Stmt::Try(s) => has_jump(&s.body),
        _ => false,
    })
}
