//! Calls: `DAG(...)`, `TaskGroup(...)`, operators, TaskFlow and `@dag`
//! functions create things in the model; `chain()` and `set_upstream` set
//! dependencies; `datetime`, `timedelta`, `pendulum` and a few builtins are
//! computed; everything else is `Unknown`.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use ruff_python_ast::{Arguments, Expr, ExprCall, Stmt};
use ruff_text_size::Ranged;

use super::model::{Args, DagDecl, GroupDecl, Keyword};
use super::reader::{FunctionKind, Reader};
use super::value::{NotifierValue, PyDateTime, PyTimeDelta, TimetableValue, Value, Zone};

/// Names of calls whose result moves each time the file is imported.
const MOVING_DATES: &[&str] = &[
    "days_ago",
    "now",
    "today",
    "utcnow",
    "yesterday",
    "tomorrow",
    "utcfromtimestamp",
    "fromtimestamp",
];

impl<'a> Reader<'a> {
    pub(super) fn eval_args(&mut self, arguments: &'a Arguments) -> Args {
        let mut args = Args::default();
        for arg in arguments.args.iter() {
            let line = self.line(arg);
            if let Expr::Starred(starred) = arg {
                match self.eval(&starred.value) {
                    Value::List(items) => {
                        args.positional.extend(items.into_iter().map(|v| (v, line)))
                    }
                    _ => args.positional.push((self.unknown(starred.range), line)),
                }
            } else {
                let value = self.eval(arg);
                args.positional.push((value, line));
            }
        }
        for keyword in arguments.keywords.iter() {
            let line = self.line(keyword);
            let value = self.eval(&keyword.value);
            match &keyword.arg {
                Some(name) => args.keywords.push(Keyword {
                    name: name.as_str().to_string(),
                    value,
                    line,
                }),
                None => match value {
                    Value::Dict(items) => {
                        for (key, value) in items {
                            if let Value::Str(name) = key {
                                args.keywords.push(Keyword { name, value, line });
                            }
                        }
                    }
                    _ => {
                        let source = self.snippet(keyword.range);
                        self.note(
                            line,
                            format!("`{source}`"),
                            "keyword arguments unpacked from a value computed at import time are not carried over",
                        );
                    }
                },
            }
        }
        args
    }

    pub(super) fn eval_call(&mut self, call: &'a ExprCall, statement: bool) -> Value {
        // methods of values the file made
        if let Expr::Attribute(attr) = call.func.as_ref() {
            let base = self.eval(&attr.value);
            let method = attr.attr.as_str();
            match &base {
                Value::Task(_) | Value::Group(_) | Value::List(_)
                    if matches!(method, "set_downstream" | "set_upstream") =>
                {
                    let line = self.line(call);
                    let snippet = self.snippet(call.range());
                    let args = self.eval_args(&call.arguments);
                    for (other, _) in &args.positional {
                        if method == "set_downstream" {
                            self.link(&base, other, line, &snippet);
                        } else {
                            self.link(other, &base, line, &snippet);
                        }
                    }
                    return Value::None;
                }
                Value::Task(_) | Value::Function(_)
                    if matches!(method, "expand" | "partial" | "override" | "expand_kwargs") =>
                {
                    let line = self.line(call);
                    let snippet = self.snippet(call.range());
                    self.note(
                        line,
                        format!("`{snippet}`"),
                        "dynamic task mapping and `.override()` are not carried over; write the tasks out",
                    );
                    return Value::Unknown(format!("`{snippet}` maps tasks at run time"));
                }
                Value::Str(text) => {
                    let text = text.clone();
                    let args = self.eval_args(&call.arguments);
                    return string_method(&text, method, &args)
                        .unwrap_or_else(|| self.unknown(call.range()));
                }
                Value::Dict(items) if matches!(method, "items" | "keys" | "values") => {
                    return Value::List(
                        items
                            .iter()
                            .map(|(k, v)| match method {
                                "items" => Value::List(vec![k.clone(), v.clone()]),
                                "keys" => k.clone(),
                                _ => v.clone(),
                            })
                            .collect(),
                    );
                }
                Value::Dict(items) if method == "get" || method == "copy" || method == "update" => {
                    let args = self.eval_args(&call.arguments);
                    return match method {
                        "copy" => base.clone(),
                        "get" => match args.positional.first() {
                            Some((Value::Str(key), _)) => {
                                base.get(key).cloned().unwrap_or_else(|| {
                                    args.positional
                                        .get(1)
                                        .map_or(Value::None, |(v, _)| v.clone())
                                })
                            }
                            _ => self.unknown(call.range()),
                        },
                        _ => {
                            // `default_args.update({...})` changes the dict in place
                            let mut items = items.clone();
                            let mut updates: Vec<(Value, Value)> = Vec::new();
                            if let Some((Value::Dict(more), _)) = args.positional.first() {
                                updates.extend(more.iter().cloned());
                            }
                            for k in &args.keywords {
                                updates.push((Value::Str(k.name.clone()), k.value.clone()));
                            }
                            for (key, value) in updates {
                                items.retain(|(k, _)| *k != key);
                                items.push((key, value));
                            }
                            if let Expr::Name(name) = attr.value.as_ref() {
                                self.bind(name.id.as_str(), Value::Dict(items));
                            }
                            Value::None
                        }
                    };
                }
                Value::Dag(_) if matches!(method, "test" | "cli" | "run") => return Value::None,
                _ => {}
            }
            // the base is evaluated once: evaluating it again would repeat its effects
            return match base {
                Value::Symbol(path) => {
                    self.call_symbol(&format!("{path}.{method}"), call, statement)
                }
                Value::Unknown(why) => Value::Unknown(why),
                _ => self.unknown(call.range()),
            };
        }
        if let Expr::Name(name) = call.func.as_ref()
            && let Some(value) = self.builtin(name.id.as_str(), call)
        {
            return value;
        }
        let callee = self.eval(&call.func);
        match callee {
            Value::Symbol(path) => self.call_symbol(&path, call, statement),
            Value::Function(index) => self.call_function(index, call, statement),
            Value::Unknown(why) => Value::Unknown(why),
            _ => self.unknown(call.range()),
        }
    }

    fn call_symbol(&mut self, path: &str, call: &'a ExprCall, statement: bool) -> Value {
        let name = path.rsplit('.').next().unwrap_or(path);
        let line = self.line(call);
        let snippet = self.snippet(call.range());
        let module = path.rsplit_once('.').map_or("", |(m, _)| m);
        match name {
            "DAG" => {
                let args = self.eval_args(&call.arguments);
                let index = self.model.dags.len();
                self.model.dags.push(DagDecl {
                    line,
                    args,
                    function_name: None,
                    function_params: Vec::new(),
                });
                return Value::Dag(index);
            }
            "TaskGroup" => {
                let args = self.eval_args(&call.arguments);
                return self.create_group(args, line);
            }
            "chain" | "chain_linear" | "cross_downstream" => {
                let args = self.eval_args(&call.arguments);
                let values: Vec<Value> = args.positional.into_iter().map(|(v, _)| v).collect();
                match name {
                    "chain" => self.chain(&values, line, &snippet),
                    "cross_downstream" => {
                        if let [up, down] = values.as_slice() {
                            for u in as_items(up) {
                                self.link(&u, down, line, &snippet);
                            }
                        }
                    }
                    _ => {
                        for pair in values.windows(2) {
                            for u in as_items(&pair[0]) {
                                self.link(&u, &pair[1], line, &snippet);
                            }
                        }
                    }
                }
                return Value::None;
            }
            _ => {}
        }
        if name == "datetime"
            && (module.ends_with("datetime")
                || module.contains("pendulum")
                || module.contains("timezone"))
        {
            let args = self.eval_args(&call.arguments);
            // pendulum and airflow.utils.timezone make aware datetimes (UTC by default)
            let default_zone =
                (!module.ends_with("datetime")).then(|| Zone::Named("UTC".to_string()));
            return datetime(&args, default_zone).unwrap_or_else(|| self.unknown(call.range()));
        }
        if matches!(name, "timedelta" | "duration") {
            let args = self.eval_args(&call.arguments);
            return timedelta(&args).unwrap_or_else(|| self.unknown(call.range()));
        }
        if (name == "timezone" && module.contains("pendulum"))
            || matches!(name, "ZoneInfo" | "Timezone")
        {
            let args = self.eval_args(&call.arguments);
            return match args.positional.first() {
                Some((Value::Str(tz), _)) => Value::Zone(Zone::Named(tz.clone())),
                _ => self.unknown(call.range()),
            };
        }
        if name == "timezone" && module.ends_with("datetime") {
            let args = self.eval_args(&call.arguments);
            return match args.positional.first() {
                Some((Value::TimeDelta(d), _)) => {
                    match d.seconds().and_then(|s| i32::try_from(s).ok()) {
                        Some(seconds) => Value::Zone(Zone::Fixed(seconds)),
                        None => self.unknown(call.range()),
                    }
                }
                _ => self.unknown(call.range()),
            };
        }
        if name == "parse" && module.contains("pendulum") {
            let args = self.eval_args(&call.arguments);
            let zone = match args.get("tz").map(|k| &k.value) {
                Some(Value::Str(tz)) => Some(Zone::Named(tz.clone())),
                Some(Value::Zone(z)) => Some(z.clone()),
                _ => Some(Zone::Named("UTC".to_string())),
            };
            return match args.positional.first() {
                Some((Value::Str(text), _)) => {
                    parse_iso(text, zone).unwrap_or_else(|| self.unknown(call.range()))
                }
                _ => self.unknown(call.range()),
            };
        }
        if matches!(name, "partial" | "expand" | "expand_kwargs") {
            self.note(
                line,
                format!("`{snippet}`"),
                "dynamic task mapping creates its tasks when a run starts; not carried over (write the tasks out)",
            );
            return Value::Unknown(format!("`{snippet}` maps tasks at run time"));
        }
        if MOVING_DATES.contains(&name) {
            return Value::Unknown(format!(
                "`{snippet}` changes every time Airflow imports the file"
            ));
        }
        if name == "get" && module.ends_with("Variable") {
            return Value::Unknown(format!(
                "`{snippet}` reads an Airflow Variable when the file is imported"
            ));
        }
        if (name == "get" && module.ends_with("environ")) || name == "getenv" {
            return Value::Unknown(format!(
                "`{snippet}` reads the environment when Airflow imports the file"
            ));
        }
        if matches!(name, "CronTriggerTimetable" | "CronDataIntervalTimetable") {
            let args = self.eval_args(&call.arguments);
            let expr = args
                .positional
                .first()
                .map(|(v, _)| v.clone())
                .or_else(|| args.get("cron").map(|k| k.value.clone()))
                .unwrap_or(Value::None);
            let zone = args
                .get("timezone")
                .map(|k| k.value.clone())
                .or_else(|| args.positional.get(1).map(|(v, _)| v.clone()));
            let interval = args.get("interval").map(|k| k.value.clone()).filter(|v| {
                !matches!(v, Value::TimeDelta(d) if d.micros == 0) && *v != Value::Int(0)
            });
            return Value::Timetable(Box::new(TimetableValue {
                class: name.to_string(),
                expr,
                zone: zone.as_ref().and_then(to_zone),
                interval,
            }));
        }
        if name == "Param" {
            let args = self.eval_args(&call.arguments);
            if args.keywords.iter().any(|k| k.name != "default") {
                self.note(
                    line,
                    format!("`{snippet}`"),
                    "only the default is carried over to `params`; airless does not check a param's type, range or description",
                );
            }
            return args
                .positional
                .first()
                .map(|(v, _)| v.clone())
                .or_else(|| args.get("default").map(|k| k.value.clone()))
                .unwrap_or(Value::None);
        }
        if path == "os.path.join" {
            let args = self.eval_args(&call.arguments);
            let mut out = String::new();
            for (value, _) in &args.positional {
                let Value::Str(part) = value else {
                    return value
                        .unknown_reason()
                        .map(|w| Value::Unknown(w.to_string()))
                        .unwrap_or_else(|| self.unknown(call.range()));
                };
                if part.starts_with('/') {
                    out = part.clone();
                } else if out.is_empty() || out.ends_with('/') {
                    out.push_str(part);
                } else {
                    out.push('/');
                    out.push_str(part);
                }
            }
            return Value::Str(out);
        }
        if super::alerts::NOTIFIERS.contains(&name) {
            let args = self.eval_args(&call.arguments);
            return Value::Notifier(Box::new(NotifierValue {
                name: name.to_string(),
                keywords: args
                    .keywords
                    .into_iter()
                    .map(|k| (k.name, k.value))
                    .collect(),
                positional: args.positional.len(),
                line,
            }));
        }
        let has_task_id = call
            .arguments
            .keywords
            .iter()
            .any(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == "task_id"));
        if name.ends_with("Operator") || name.ends_with("Sensor") || has_task_id {
            let args = self.eval_args(&call.arguments);
            return self.create_task(path.to_string(), args, line, None);
        }
        let _ = statement;
        self.unknown(call.range())
    }

    /// Python builtins on constants: `dict`, `str`, `int`, `float`, `bool`,
    /// `list`, `tuple`, `range`, `len`, `sorted`.
    fn builtin(&mut self, name: &str, call: &'a ExprCall) -> Option<Value> {
        if !matches!(
            name,
            "dict"
                | "str"
                | "int"
                | "float"
                | "bool"
                | "list"
                | "tuple"
                | "range"
                | "len"
                | "sorted"
        ) {
            return None;
        }
        // a name bound in the file shadows the builtin
        if self.scopes.iter().any(|s| s.contains_key(name)) {
            return None;
        }
        let args = self.eval_args(&call.arguments);
        let first = args.positional.first().map(|(v, _)| v.clone());
        let value = match (name, first) {
            ("dict", None) => Some(Value::Dict(
                args.keywords
                    .iter()
                    .map(|k| (Value::Str(k.name.clone()), k.value.clone()))
                    .collect(),
            )),
            ("dict", Some(Value::Dict(mut items))) => {
                for k in &args.keywords {
                    items.push((Value::Str(k.name.clone()), k.value.clone()));
                }
                Some(Value::Dict(items))
            }
            ("str", Some(v)) => v.to_py_str().map(Value::Str),
            ("int", Some(Value::Str(s))) => s.trim().parse().ok().map(Value::Int),
            ("int", Some(Value::Float(f))) => Some(Value::Int(f.trunc() as i64)),
            ("int", Some(v @ Value::Int(_))) => Some(v),
            ("float", Some(Value::Str(s))) => s.trim().parse().ok().map(Value::Float),
            ("float", Some(Value::Int(i))) => Some(Value::Float(i as f64)),
            ("bool", Some(v)) => v.truthy().map(Value::Bool),
            ("list" | "tuple", Some(Value::List(items))) => Some(Value::List(items)),
            ("list" | "tuple", Some(Value::Dict(items))) => {
                Some(Value::List(items.into_iter().map(|(k, _)| k).collect()))
            }
            ("sorted", Some(Value::List(mut items)))
                if items.iter().all(|v| matches!(v, Value::Str(_))) =>
            {
                items.sort_by_key(|v| v.to_py_str());
                Some(Value::List(items))
            }
            ("len", Some(Value::List(items))) => i64::try_from(items.len()).ok().map(Value::Int),
            ("len", Some(Value::Str(s))) => i64::try_from(s.chars().count()).ok().map(Value::Int),
            ("range", _) => {
                let numbers: Vec<i64> = args
                    .positional
                    .iter()
                    .filter_map(|(v, _)| match v {
                        Value::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                let (start, stop, step) = match numbers.as_slice() {
                    [stop] if args.positional.len() == 1 => (0, *stop, 1),
                    [start, stop] if args.positional.len() == 2 => (*start, *stop, 1),
                    [start, stop, step] if args.positional.len() == 3 && *step != 0 => {
                        (*start, *stop, *step)
                    }
                    _ => return Some(self.unknown(call.range())),
                };
                let mut items = Vec::new();
                let mut i = start;
                while (step > 0 && i < stop) || (step < 0 && i > stop) {
                    items.push(Value::Int(i));
                    if items.len() > 10_000 {
                        return Some(self.unknown(call.range()));
                    }
                    i += step;
                }
                Some(Value::List(items))
            }
            _ => None,
        };
        Some(value.unwrap_or_else(|| self.unknown(call.range())))
    }

    fn call_function(&mut self, index: usize, call: &'a ExprCall, statement: bool) -> Value {
        let line = self.line(call);
        let snippet = self.snippet(call.range());
        self.functions[index].called = true;
        let kind = self.functions[index].kind.clone();
        let def = self.functions[index].def;
        match kind {
            FunctionKind::Dag(decorator) => self.instantiate_dag(index, decorator, call),
            FunctionKind::Task {
                decorator,
                call: decorator_call,
            } => {
                let mut args = self.eval_args(&call.arguments);
                let decorator_args = match decorator_call {
                    Some(c) => self.eval_args(&c.arguments),
                    None => Args::default(),
                };
                // upstream tasks passed as arguments are dependencies
                let mut upstream = Vec::new();
                for (value, _) in &args.positional {
                    collect_tasks(value, &mut upstream);
                }
                for k in &args.keywords {
                    collect_tasks(&k.value, &mut upstream);
                }
                let mut task_args = decorator_args;
                task_args.keywords.append(&mut args.keywords);
                task_args.positional = args.positional;
                if task_args.get("task_id").is_none() {
                    task_args.keywords.push(Keyword {
                        name: "task_id".to_string(),
                        value: Value::Str(def.name.as_str().to_string()),
                        line,
                    });
                }
                let returns = if decorator == "@task.bash" {
                    self.static_return(def)
                } else {
                    None
                };
                let task = self.create_task(decorator, task_args, line, returns);
                if let Value::Task(t) = task {
                    for up in upstream {
                        self.add_edge(up, t, line);
                    }
                }
                task
            }
            FunctionKind::TaskGroup => {
                self.note(
                    line,
                    format!("@task_group `{snippet}`"),
                    "task groups made by a decorated function are not followed; write `with TaskGroup(...)` instead",
                );
                Value::Unknown(format!("`{snippet}` is a @task_group call"))
            }
            FunctionKind::Plain => {
                if statement {
                    self.note(
                        line,
                        format!("call `{snippet}`"),
                        "a function of the file is not followed; tasks or dependencies it creates are not carried over",
                    );
                }
                Value::Unknown(format!(
                    "`{snippet}` calls a function of the file when Airflow imports it"
                ))
            }
        }
    }

    /// What a function without parameters returns, when that is a constant.
    fn static_return(&mut self, def: &'a ruff_python_ast::StmtFunctionDef) -> Option<Value> {
        if !def.parameters.is_empty() {
            return None;
        }
        let value = def.body.iter().find_map(|stmt| match stmt {
            Stmt::Return(ret) => ret.value.as_deref(),
            _ => None,
        })?;
        self.scopes.push(HashMap::new());
        let result = self.eval(value);
        self.scopes.pop();
        result.is_constant().then_some(result)
    }

    fn instantiate_dag(
        &mut self,
        index: usize,
        decorator: Option<&'a ExprCall>,
        call: &'a ExprCall,
    ) -> Value {
        let line = self.line(call);
        if self.depth > 4 {
            return self.unknown(call.range());
        }
        let def = self.functions[index].def;
        let args = match decorator {
            Some(d) => self.eval_args(&d.arguments),
            None => Args::default(),
        };
        let call_args = self.eval_args(&call.arguments);
        let mut params = Vec::new();
        let all_params = def
            .parameters
            .posonlyargs
            .iter()
            .chain(def.parameters.args.iter())
            .chain(def.parameters.kwonlyargs.iter());
        for (position, param) in all_params.enumerate() {
            let name = param.parameter.name.as_str().to_string();
            let param_line = self.line(&param.parameter);
            let given = call_args
                .get(&name)
                .map(|k| k.value.clone())
                .or_else(|| call_args.positional.get(position).map(|(v, _)| v.clone()));
            let value = match (given, &param.default) {
                (Some(v), _) => v,
                (None, Some(default)) => self.eval(default),
                (None, None) => Value::Unknown(format!("DAG param `{name}` has no default")),
            };
            params.push((name, value, param_line));
        }
        let dag = self.model.dags.len();
        self.model.dags.push(DagDecl {
            line: self.line(def),
            args,
            function_name: Some(def.name.as_str().to_string()),
            function_params: params.clone(),
        });
        let mut scope = HashMap::new();
        for (name, _, _) in &params {
            scope.insert(
                name.clone(),
                Value::Unknown(format!(
                    "the DAG param `{name}` is only known when a run starts; use `{{{{ params.{name} }}}}` in a template"
                )),
            );
        }
        self.scopes.push(scope);
        self.dag_stack.push(dag);
        self.depth += 1;
        self.exec_block(&def.body);
        self.depth -= 1;
        self.dag_stack.pop();
        self.scopes.pop();
        let _ = line;
        Value::Dag(dag)
    }

    fn create_group(&mut self, args: Args, line: u32) -> Value {
        let raw_id = args
            .positional
            .first()
            .map(|(v, _)| v.clone())
            .or_else(|| args.get("group_id").map(|k| k.value.clone()));
        let raw_id = match raw_id {
            Some(Value::Str(id)) => id,
            other => {
                let why = other
                    .as_ref()
                    .and_then(|v| v.unknown_reason().map(str::to_string))
                    .unwrap_or_else(|| "it has no group_id".to_string());
                let fallback = format!("group_line_{line}");
                self.note(
                    line,
                    "TaskGroup id",
                    format!(
                        "not known statically ({why}); its tasks are prefixed with `{fallback}`"
                    ),
                );
                fallback
            }
        };
        let prefix_group_id = !matches!(
            args.get("prefix_group_id").map(|k| &k.value),
            Some(Value::Bool(false))
        );
        let parent = match args.get("parent_group").map(|k| &k.value) {
            Some(Value::Group(g)) => Some(*g),
            _ => self.group_stack.last().copied(),
        };
        for k in &args.keywords {
            if !matches!(
                k.name.as_str(),
                "group_id"
                    | "prefix_group_id"
                    | "dag"
                    | "parent_group"
                    | "default_args"
                    | "tooltip"
                    | "ui_color"
                    | "ui_fgcolor"
                    | "add_suffix_on_collision"
            ) {
                self.note(
                    k.line,
                    format!("TaskGroup `{raw_id}` argument `{}`", k.name),
                    "no airless equivalent; not carried over",
                );
            }
        }
        let default_args = args.get("default_args").map(|k| (k.value.clone(), k.line));
        let index = self.model.groups.len();
        self.model.groups.push(GroupDecl {
            raw_id,
            prefix_group_id,
            parent,
            default_args,
        });
        Value::Group(index)
    }

    /// Creates a task of `class` (an operator's import path, or `@task…`).
    pub(super) fn create_task(
        &mut self,
        class: String,
        args: Args,
        line: u32,
        returns: Option<Value>,
    ) -> Value {
        let raw_id = match args.get("task_id").map(|k| &k.value) {
            Some(Value::Str(id)) => id.clone(),
            other => {
                let why = match other {
                    Some(Value::Unknown(why)) => why.clone(),
                    Some(v) => format!("it is {}", v.describe()),
                    None => "it has no task_id".to_string(),
                };
                let fallback = format!("task_line_{line}");
                self.note(
                    line,
                    format!(
                        "task id of `{}`",
                        class.rsplit('.').next().unwrap_or(&class)
                    ),
                    format!("not known statically ({why}); the task is called `{fallback}`"),
                );
                fallback
            }
        };
        let dag = match args.get("dag").map(|k| &k.value) {
            Some(Value::Dag(d)) => Some(*d),
            _ => self.dag_stack.last().copied(),
        };
        let group = match args.get("task_group").map(|k| &k.value) {
            Some(Value::Group(g)) => Some(*g),
            _ => self.group_stack.last().copied(),
        };
        let mut task_id = match group {
            Some(g) => self.model.child_id(g, &raw_id),
            None => raw_id,
        };
        let taken = |model: &super::model::Model, id: &str| {
            model.tasks.iter().any(|t| t.task_id == id && t.dag == dag)
        };
        if taken(&self.model, &task_id) {
            if class.starts_with('@') {
                // TaskFlow gives a repeated call a suffix, as Airflow does
                let base = task_id.clone();
                let mut n = 1;
                while taken(&self.model, &format!("{base}__{n}")) {
                    n += 1;
                }
                task_id = format!("{base}__{n}");
            } else {
                let base = task_id.clone();
                let mut n = 2;
                while taken(&self.model, &format!("{base}_{n}")) {
                    n += 1;
                }
                task_id = format!("{base}_{n}");
                self.note(
                    line,
                    format!("task `{base}`"),
                    format!("a second task with this id (Airflow refuses the file: DuplicateTaskIdFound); this one is called `{task_id}`"),
                );
            }
        }
        let index = self.model.tasks.len();
        self.model.tasks.push(super::model::TaskDecl {
            line,
            class,
            task_id,
            dag,
            group,
            args,
            returns,
        });
        Value::Task(index)
    }

    /// `a >> b`: every endpoint of `up` before every endpoint of `down`.
    pub(super) fn link(&mut self, up: &Value, down: &Value, line: u32, snippet: &str) {
        if matches!(up, Value::List(_)) && matches!(down, Value::List(_)) {
            self.note(
                line,
                format!("dependency `{snippet}`"),
                "a list cannot be set upstream of a list (Airflow raises TypeError); use cross_downstream() or chain(); not carried over",
            );
            return;
        }
        let (Some(ups), Some(downs)) = (
            self.endpoints(up, true, line, snippet),
            self.endpoints(down, false, line, snippet),
        ) else {
            return;
        };
        for &u in &ups {
            for &d in &downs {
                self.add_edge(u, d, line);
            }
        }
    }

    /// The tasks a value stands for in a dependency: a group's leaves when it
    /// is upstream, its roots when downstream.
    fn endpoints(
        &mut self,
        value: &Value,
        upstream: bool,
        line: u32,
        snippet: &str,
    ) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        let items = match value {
            Value::List(items) => items.clone(),
            other => vec![other.clone()],
        };
        for item in items {
            match item {
                Value::Task(t) => out.push(t),
                Value::Group(g) => {
                    if upstream {
                        out.extend(self.model.group_leaves(g));
                    } else {
                        out.extend(self.model.group_roots(g));
                    }
                }
                other => {
                    let why = match other {
                        Value::Unknown(why) => why,
                        other => format!("{} is not a task", other.describe()),
                    };
                    self.note(
                        line,
                        format!("dependency `{snippet}`"),
                        format!("not carried over: {why}"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(super) fn add_edge(&mut self, up: usize, down: usize, line: u32) {
        let (a, b) = (self.model.tasks[up].dag, self.model.tasks[down].dag);
        match (a, b) {
            (Some(x), Some(y)) if x != y => {
                let (u, d) = (
                    self.model.tasks[up].task_id.clone(),
                    self.model.tasks[down].task_id.clone(),
                );
                self.note(
                    line,
                    format!("dependency `{u}` >> `{d}`"),
                    "the tasks are in different DAGs (Airflow refuses this); not carried over",
                );
                return;
            }
            (Some(x), None) => self.model.tasks[down].dag = Some(x),
            (None, Some(y)) => self.model.tasks[up].dag = Some(y),
            _ => {}
        }
        if up == down {
            let id = self.model.tasks[up].task_id.clone();
            self.note(
                line,
                format!("dependency of `{id}` on itself"),
                "a cycle (Airflow refuses the DAG); not carried over",
            );
            return;
        }
        if !self.model.edges.contains(&(up, down)) {
            self.model.edges.push((up, down));
        }
    }

    /// Airflow's `chain()`: consecutive elements linked; two lists of the
    /// same length linked pairwise.
    fn chain(&mut self, values: &[Value], line: u32, snippet: &str) {
        for pair in values.windows(2) {
            match (&pair[0], &pair[1]) {
                (Value::List(ups), Value::List(downs)) => {
                    if ups.len() != downs.len() {
                        self.note(
                            line,
                            format!("`{snippet}`"),
                            "chain() of two lists of different lengths (Airflow raises an error); not carried over",
                        );
                        continue;
                    }
                    for (u, d) in ups.iter().zip(downs) {
                        self.link(u, d, line, snippet);
                    }
                }
                (up, down) => self.link(up, down, line, snippet),
            }
        }
    }

    /// The dag_id of a DAG value, when given as a constant.
    pub(super) fn dag_id_of(&self, value: &Value) -> Option<String> {
        let Value::Dag(d) = value else { return None };
        let dag = &self.model.dags[*d];
        match dag
            .args
            .positional
            .first()
            .map(|(v, _)| v)
            .or_else(|| dag.args.get("dag_id").map(|k| &k.value))
        {
            Some(Value::Str(id)) => Some(id.clone()),
            _ => dag.function_name.clone(),
        }
    }
}

fn as_items(value: &Value) -> Vec<Value> {
    match value {
        Value::List(items) => items.clone(),
        other => vec![other.clone()],
    }
}

fn collect_tasks(value: &Value, out: &mut Vec<usize>) {
    match value {
        Value::Task(t) => out.push(*t),
        Value::List(items) => items.iter().for_each(|v| collect_tasks(v, out)),
        Value::Dict(items) => items.iter().for_each(|(_, v)| collect_tasks(v, out)),
        _ => {}
    }
}

/// A tzinfo value as a zone: a name, `pendulum.timezone(...)`, `timezone.utc`.
pub(super) fn to_zone(value: &Value) -> Option<Zone> {
    match value {
        Value::Zone(z) => Some(z.clone()),
        Value::Str(name) => Some(Zone::Named(name.clone())),
        Value::Symbol(path) if path.ends_with(".utc") || path.ends_with(".UTC") => {
            Some(Zone::Named("UTC".to_string()))
        }
        _ => None,
    }
}

/// `datetime(2024, 1, 1, 6, 0, tzinfo=...)` and `pendulum.datetime(..., tz=...)`.
fn datetime(args: &Args, default_zone: Option<Zone>) -> Option<Value> {
    let names = [
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "microsecond",
    ];
    let mut parts = [0i64, 1, 1, 0, 0, 0, 0];
    for (i, (value, _)) in args.positional.iter().enumerate() {
        match (i, value) {
            (0..=6, Value::Int(n)) => parts[i] = *n,
            (7, zone) => {
                let _ = to_zone(zone)?;
            }
            _ => return None,
        }
    }
    let mut zone = default_zone;
    if let Some((value, _)) = args.positional.get(7) {
        zone = Some(to_zone(value)?);
    }
    for keyword in &args.keywords {
        if let Some(i) = names.iter().position(|n| *n == keyword.name) {
            let Value::Int(n) = keyword.value else {
                return None;
            };
            parts[i] = n;
        } else if matches!(keyword.name.as_str(), "tzinfo" | "tz") {
            zone = match &keyword.value {
                Value::None => None,
                other => Some(to_zone(other)?),
            };
        } else {
            return None;
        }
    }
    if args.positional.len() < 3 && args.get("day").is_none() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(parts[0]).ok()?,
        u32::try_from(parts[1]).ok()?,
        u32::try_from(parts[2]).ok()?,
    )?;
    let naive = date.and_hms_micro_opt(
        u32::try_from(parts[3]).ok()?,
        u32::try_from(parts[4]).ok()?,
        u32::try_from(parts[5]).ok()?,
        u32::try_from(parts[6]).ok()?,
    )?;
    Some(Value::DateTime(PyDateTime { naive, zone }))
}

/// `pendulum.parse("2024-01-01")`, `pendulum.parse("2024-01-01T06:00:00")`.
fn parse_iso(text: &str, zone: Option<Zone>) -> Option<Value> {
    let text = text.trim();
    let naive = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        })?;
    Some(Value::DateTime(PyDateTime { naive, zone }))
}

/// `timedelta(days=1)`, `timedelta(minutes=2)`, `pendulum.duration(hours=1)`;
/// a single whole-number unit keeps its unit in the YAML (`seconds=120` → `120s`).
fn timedelta(args: &Args) -> Option<Value> {
    // timedelta's positional order
    let order = [
        "days",
        "seconds",
        "microseconds",
        "milliseconds",
        "minutes",
        "hours",
        "weeks",
    ];
    let micros_per = |unit: &str| -> Option<f64> {
        Some(match unit {
            "weeks" => 604_800e6,
            "days" => 86_400e6,
            "hours" => 3_600e6,
            "minutes" => 60e6,
            "seconds" => 1e6,
            "milliseconds" => 1e3,
            "microseconds" => 1.0,
            _ => return None,
        })
    };
    let mut given: Vec<(&str, &Value)> = Vec::new();
    for (i, (value, _)) in args.positional.iter().enumerate() {
        given.push((order.get(i)?, value));
    }
    for k in &args.keywords {
        given.push((k.name.as_str(), &k.value));
    }
    let mut micros = 0f64;
    for (unit, value) in &given {
        let n = match value {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            _ => return None,
        };
        micros += n * micros_per(unit)?;
    }
    let micros = micros.round() as i64;
    let mut delta = PyTimeDelta::from_micros(micros);
    if let [(unit, Value::Int(n))] = given.as_slice() {
        let suffix = match *unit {
            "days" => Some("d"),
            "hours" => Some("h"),
            "minutes" => Some("m"),
            "seconds" => Some("s"),
            "milliseconds" => Some("ms"),
            _ => None,
        };
        if let Some(suffix) = suffix.filter(|_| *n >= 0) {
            delta.text = format!("{n}{suffix}");
        }
    }
    Some(Value::TimeDelta(delta))
}

/// `"...".format(...)`, `.upper()`, `.lower()`, `.strip()`, `.replace()`, `.join()`.
fn string_method(text: &str, method: &str, args: &Args) -> Option<Value> {
    let arg = |i: usize| args.positional.get(i).map(|(v, _)| v);
    Some(Value::Str(match method {
        "upper" => text.to_uppercase(),
        "lower" => text.to_lowercase(),
        "strip" => text.trim().to_string(),
        "replace" => match (arg(0), arg(1)) {
            (Some(Value::Str(a)), Some(Value::Str(b))) => text.replace(a.as_str(), b),
            _ => return None,
        },
        "join" => match arg(0) {
            Some(Value::List(items)) => {
                let parts: Option<Vec<String>> = items
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                parts?.join(text)
            }
            _ => return None,
        },
        "format" => format_str(text, args)?,
        _ => return None,
    }))
}

/// `str.format` with `{}`, `{0}` and `{name}` fields and no format specs.
fn format_str(template: &str, args: &Args) -> Option<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut auto = 0;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let value = if field.is_empty() {
                    auto += 1;
                    args.positional.get(auto - 1).map(|(v, _)| v)
                } else if let Ok(i) = field.parse::<usize>() {
                    args.positional.get(i).map(|(v, _)| v)
                } else {
                    args.get(&field).map(|k| &k.value)
                };
                out.push_str(&value?.to_py_str()?);
            }
            c => out.push(c),
        }
    }
    Some(out)
}
