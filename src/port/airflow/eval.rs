//! Expressions → [`Value`]s: constants, containers, names, f-strings and
//! simple arithmetic, plus `>>` / `<<`, which set dependencies. Anything
//! else is `Unknown` with the source text and why.

use std::collections::HashMap;

use ruff_python_ast::{
    BoolOp, CmpOp, ConversionFlag, Expr, FStringPart, InterpolatedStringElement, Number, Operator,
    UnaryOp,
};
use ruff_text_size::{Ranged, TextRange};

use super::reader::Reader;
use super::value::{PyDateTime, PyTimeDelta, Value};

impl<'a> Reader<'a> {
    /// Evaluates an expression statement; a call of a function of the file
    /// whose result is dropped is noted (it may create tasks).
    pub(super) fn eval_statement(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            self.eval_call(call, true);
        } else {
            self.eval(expr);
        }
    }

    pub(super) fn unknown(&self, range: TextRange) -> Value {
        Value::Unknown(format!(
            "`{}` is computed when Airflow imports the file",
            self.snippet(range)
        ))
    }

    pub fn eval(&mut self, expr: &'a Expr) -> Value {
        match expr {
            Expr::StringLiteral(s) => Value::Str(s.value.to_str().to_string()),
            Expr::FString(f) => self.fstring(f),
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => i.as_i64().map_or_else(|| self.unknown(n.range), Value::Int),
                Number::Float(f) => Value::Float(*f),
                Number::Complex { .. } => self.unknown(n.range),
            },
            Expr::BooleanLiteral(b) => Value::Bool(b.value),
            Expr::NoneLiteral(_) => Value::None,
            Expr::Name(name) => {
                let id = name.id.as_str();
                self.lookup(id)
                    .unwrap_or_else(|| Value::Unknown(format!("`{id}` is not defined in the file")))
            }
            Expr::Attribute(attr) => {
                let base = self.eval(&attr.value);
                let name = attr.attr.as_str();
                match base {
                    Value::Symbol(path) => Value::Symbol(format!("{path}.{name}")),
                    // a task's XComArg keeps its dependency
                    Value::Task(t) if name == "output" => Value::Task(t),
                    Value::Dag(_) if name == "dag_id" => self
                        .dag_id_of(&base)
                        .map_or_else(|| self.unknown(attr.range), Value::Str),
                    Value::Unknown(why) => Value::Unknown(why),
                    _ => self.unknown(attr.range),
                }
            }
            Expr::List(list) => self.sequence(&list.elts),
            Expr::Tuple(tuple) => self.sequence(&tuple.elts),
            Expr::Set(set) => self.sequence(&set.elts),
            Expr::Dict(dict) => {
                let mut items: Vec<(Value, Value)> = Vec::new();
                for item in &dict.items {
                    match &item.key {
                        Some(key) => {
                            let key = self.eval(key);
                            let value = self.eval(&item.value);
                            items.retain(|(k, _)| *k != key);
                            items.push((key, value));
                        }
                        None => match self.eval(&item.value) {
                            Value::Dict(more) => {
                                for (key, value) in more {
                                    items.retain(|(k, _)| *k != key);
                                    items.push((key, value));
                                }
                            }
                            _ => return self.unknown(dict.range),
                        },
                    }
                }
                Value::Dict(items)
            }
            Expr::BinOp(bin) => match bin.op {
                Operator::RShift | Operator::LShift => {
                    let left = self.eval(&bin.left);
                    let right = self.eval(&bin.right);
                    let line = self.line(bin);
                    let snippet = self.snippet(bin.range);
                    if bin.op == Operator::RShift {
                        self.link(&left, &right, line, &snippet);
                    } else {
                        self.link(&right, &left, line, &snippet);
                    }
                    right
                }
                op => {
                    let left = self.eval(&bin.left);
                    let right = self.eval(&bin.right);
                    self.binary(left, op, right, bin.range)
                }
            },
            Expr::UnaryOp(unary) => {
                let operand = self.eval(&unary.operand);
                match (unary.op, operand) {
                    (UnaryOp::USub, Value::Int(i)) => Value::Int(-i),
                    (UnaryOp::USub, Value::Float(f)) => Value::Float(-f),
                    (UnaryOp::USub, Value::TimeDelta(d)) => {
                        Value::TimeDelta(PyTimeDelta::from_micros(-d.micros))
                    }
                    (UnaryOp::UAdd, v @ (Value::Int(_) | Value::Float(_))) => v,
                    (UnaryOp::Not, v) => v
                        .truthy()
                        .map_or_else(|| self.unknown(unary.range), |b| Value::Bool(!b)),
                    _ => self.unknown(unary.range),
                }
            }
            Expr::BoolOp(bool_op) => {
                let mut last = Value::None;
                for value in &bool_op.values {
                    last = self.eval(value);
                    match (bool_op.op, last.truthy()) {
                        (_, None) => return self.unknown(bool_op.range),
                        (BoolOp::And, Some(false)) | (BoolOp::Or, Some(true)) => return last,
                        _ => {}
                    }
                }
                last
            }
            Expr::If(if_exp) => match self.eval(&if_exp.test).truthy() {
                Some(true) => self.eval(&if_exp.body),
                Some(false) => self.eval(&if_exp.orelse),
                None => self.unknown(if_exp.range),
            },
            Expr::Compare(cmp) => {
                if cmp.ops.len() != 1 || cmp.comparators.len() != 1 {
                    return self.unknown(cmp.range);
                }
                let left = self.eval(&cmp.left);
                let right = self.eval(&cmp.comparators[0]);
                if !left.is_constant() || !right.is_constant() {
                    return self.unknown(cmp.range);
                }
                let contains = |haystack: &Value, needle: &Value| match haystack {
                    Value::List(items) => Some(items.contains(needle)),
                    Value::Dict(items) => Some(items.iter().any(|(k, _)| k == needle)),
                    Value::Str(s) => match needle {
                        Value::Str(n) => Some(s.contains(n.as_str())),
                        _ => None,
                    },
                    _ => None,
                };
                let result = match cmp.ops[0] {
                    CmpOp::Eq | CmpOp::Is => Some(left == right),
                    CmpOp::NotEq | CmpOp::IsNot => Some(left != right),
                    CmpOp::In => contains(&right, &left),
                    CmpOp::NotIn => contains(&right, &left).map(|b| !b),
                    CmpOp::Lt | CmpOp::LtE | CmpOp::Gt | CmpOp::GtE => match (&left, &right) {
                        (Value::Int(a), Value::Int(b)) => Some(match cmp.ops[0] {
                            CmpOp::Lt => a < b,
                            CmpOp::LtE => a <= b,
                            CmpOp::Gt => a > b,
                            _ => a >= b,
                        }),
                        _ => None,
                    },
                };
                result.map_or_else(|| self.unknown(cmp.range), Value::Bool)
            }
            Expr::Subscript(sub) => {
                let base = self.eval(&sub.value);
                let key = self.eval(&sub.slice);
                match (&base, &key) {
                    (Value::Dict(_), Value::Str(k)) => base
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| self.unknown(sub.range)),
                    (Value::List(items), Value::Int(i)) => {
                        let index = if *i < 0 {
                            i64::try_from(items.len()).unwrap_or(0) + i
                        } else {
                            *i
                        };
                        usize::try_from(index)
                            .ok()
                            .and_then(|i| items.get(i).cloned())
                            .unwrap_or_else(|| self.unknown(sub.range))
                    }
                    (Value::Symbol(path), _) if path.ends_with("environ") => {
                        Value::Unknown(format!(
                            "`{}` reads the environment when Airflow imports the file",
                            self.snippet(sub.range)
                        ))
                    }
                    (Value::Unknown(why), _) => Value::Unknown(why.clone()),
                    _ => self.unknown(sub.range),
                }
            }
            Expr::Call(call) => self.eval_call(call, false),
            Expr::ListComp(comp) => self.comprehension(&comp.elt, &comp.generators, comp.range),
            Expr::Lambda(lambda) => Value::Unknown(format!(
                "`{}` is Python code that airless cannot run",
                self.snippet(lambda.range)
            )),
            other => self.unknown(other.range()),
        }
    }

    fn sequence(&mut self, elts: &'a [Expr]) -> Value {
        let mut items = Vec::with_capacity(elts.len());
        for elt in elts {
            if let Expr::Starred(starred) = elt {
                match self.eval(&starred.value) {
                    Value::List(more) => items.extend(more),
                    _ => return self.unknown(starred.range),
                }
            } else {
                items.push(self.eval(elt));
            }
        }
        Value::List(items)
    }

    fn fstring(&mut self, f: &'a ruff_python_ast::ExprFString) -> Value {
        let mut out = String::new();
        for part in f.value.iter() {
            match part {
                FStringPart::Literal(lit) => out.push_str(&lit.value),
                FStringPart::FString(fs) => {
                    for element in &fs.elements {
                        match element {
                            InterpolatedStringElement::Literal(lit) => out.push_str(&lit.value),
                            InterpolatedStringElement::Interpolation(inner) => {
                                let plain = inner.format_spec.is_none()
                                    && matches!(
                                        inner.conversion,
                                        ConversionFlag::None | ConversionFlag::Str
                                    );
                                let value = self.eval(&inner.expression);
                                match value.to_py_str() {
                                    Some(text) if plain => out.push_str(&text),
                                    _ => {
                                        let why = match value {
                                            Value::Unknown(why) => why,
                                            _ => format!(
                                                "`{}` is formatted when Airflow imports the file",
                                                self.snippet(inner.range)
                                            ),
                                        };
                                        return Value::Unknown(why);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Value::Str(out)
    }

    fn comprehension(
        &mut self,
        elt: &'a Expr,
        generators: &'a [ruff_python_ast::Comprehension],
        range: TextRange,
    ) -> Value {
        let [generator] = generators else {
            return self.unknown(range);
        };
        let items = match self.eval(&generator.iter) {
            Value::List(items) => items,
            Value::Dict(items) => items.into_iter().map(|(k, _)| k).collect(),
            Value::Unknown(why) => return Value::Unknown(why),
            _ => return self.unknown(range),
        };
        let Expr::Name(target) = &generator.target else {
            return self.unknown(range);
        };
        let mut out = Vec::new();
        self.scopes.push(HashMap::new());
        for item in items {
            self.bind(target.id.as_str(), item);
            let mut keep = true;
            for condition in &generator.ifs {
                match self.eval(condition).truthy() {
                    Some(b) => keep &= b,
                    None => {
                        self.scopes.pop();
                        return self.unknown(range);
                    }
                }
            }
            if keep {
                out.push(self.eval(elt));
            }
        }
        self.scopes.pop();
        Value::List(out)
    }

    /// `+ - * / // %` on constants, dates and durations.
    pub(super) fn binary(
        &self,
        left: Value,
        op: Operator,
        right: Value,
        range: TextRange,
    ) -> Value {
        use Value::{DateTime, Float, Int, List, Str, TimeDelta};
        let value = match (op, left, right) {
            (_, Value::Unknown(why), _) | (_, _, Value::Unknown(why)) => Value::Unknown(why),
            (Operator::Add, Str(a), Str(b)) => Str(a + &b),
            (Operator::Add, Int(a), Int(b)) => a.checked_add(b).map_or(Value::None, Int),
            (Operator::Sub, Int(a), Int(b)) => a.checked_sub(b).map_or(Value::None, Int),
            (Operator::Mult, Int(a), Int(b)) => a.checked_mul(b).map_or(Value::None, Int),
            (Operator::FloorDiv, Int(a), Int(b)) if b != 0 => Int(a.div_euclid(b)),
            (Operator::Add, Float(a), Float(b)) => Float(a + b),
            (Operator::Mult, Float(a), Int(b)) | (Operator::Mult, Int(b), Float(a)) => {
                Float(a * b as f64)
            }
            (Operator::Div, Int(a), Int(b)) if b != 0 => Float(a as f64 / b as f64),
            (Operator::Add, List(mut a), List(b)) => {
                a.extend(b);
                List(a)
            }
            (Operator::Add, TimeDelta(a), TimeDelta(b)) => {
                TimeDelta(PyTimeDelta::from_micros(a.micros + b.micros))
            }
            (Operator::Sub, TimeDelta(a), TimeDelta(b)) => {
                TimeDelta(PyTimeDelta::from_micros(a.micros - b.micros))
            }
            (Operator::Mult, TimeDelta(a), Int(n)) | (Operator::Mult, Int(n), TimeDelta(a)) => {
                TimeDelta(PyTimeDelta::from_micros(a.micros.saturating_mul(n)))
            }
            (Operator::Add, DateTime(d), TimeDelta(t))
            | (Operator::Add, TimeDelta(t), DateTime(d)) => {
                match d
                    .naive
                    .checked_add_signed(chrono::TimeDelta::microseconds(t.micros))
                {
                    Some(naive) => DateTime(PyDateTime { naive, ..d }),
                    None => Value::None,
                }
            }
            (Operator::Sub, DateTime(d), TimeDelta(t)) => match d
                .naive
                .checked_sub_signed(chrono::TimeDelta::microseconds(t.micros))
            {
                Some(naive) => DateTime(PyDateTime { naive, ..d }),
                None => Value::None,
            },
            _ => Value::None,
        };
        if value == Value::None {
            self.unknown(range)
        } else {
            value
        }
    }
}
