//! What a Python expression of a DAG file is worth when read statically: a
//! constant, a date or duration, a DAG / task / group created by the file, an
//! imported name, or `Unknown` with the reason it cannot be known.

use chrono::NaiveDateTime;

/// A statically known Python value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A list, tuple or set, in order.
    List(Vec<Value>),
    /// A dict, in insertion order.
    Dict(Vec<(Value, Value)>),
    DateTime(PyDateTime),
    TimeDelta(PyTimeDelta),
    Zone(Zone),
    /// An imported name, by its dotted path (`airflow.operators.bash.BashOperator`).
    Symbol(String),
    /// A cron timetable object (`CronTriggerTimetable(...)` and friends).
    Timetable(Box<TimetableValue>),
    /// A task the file created (index into the model's tasks).
    Task(usize),
    /// A TaskGroup the file created.
    Group(usize),
    /// A DAG the file created.
    Dag(usize),
    /// A function defined in the file.
    Function(usize),
    /// A notifier of Airflow's providers (`SlackWebhookNotifier(...)`,
    /// `send_smtp_notification(...)`), set as a callback.
    Notifier(Box<NotifierValue>),
    /// Not knowable without running the file; the reason says why.
    Unknown(String),
}

/// A `datetime`: wall-clock time and, when aware, its zone.
#[derive(Debug, Clone, PartialEq)]
pub struct PyDateTime {
    pub naive: NaiveDateTime,
    pub zone: Option<Zone>,
}

/// A `tzinfo`: an IANA name or a fixed offset in seconds east of UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Named(String),
    Fixed(i32),
}

/// A `timedelta`, with the way it is best written in YAML (`120s` for
/// `timedelta(seconds=120)`, `2m` for `timedelta(minutes=2)`).
#[derive(Debug, Clone, PartialEq)]
pub struct PyTimeDelta {
    pub micros: i64,
    pub text: String,
}

/// `CronTriggerTimetable(expr, timezone=…)` or `CronDataIntervalTimetable(expr, timezone)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimetableValue {
    pub class: String,
    pub expr: Value,
    pub zone: Option<Zone>,
    /// The trigger timetable's `interval`, when given and not zero.
    pub interval: Option<Value>,
}

/// A notifier call: its class or function name and its keyword arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierValue {
    /// `SlackWebhookNotifier`, `send_sns_notification`, ….
    pub name: String,
    pub keywords: Vec<(String, Value)>,
    /// How many positional arguments it was given (the port reads keywords only).
    pub positional: usize,
    pub line: u32,
}

impl NotifierValue {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.keywords
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

impl PyTimeDelta {
    /// A duration in microseconds, written with the largest unit that divides it.
    pub fn from_micros(micros: i64) -> Self {
        PyTimeDelta {
            micros,
            text: duration_text(micros),
        }
    }

    pub fn seconds(&self) -> Option<i64> {
        (self.micros % 1_000_000 == 0).then_some(self.micros / 1_000_000)
    }
}

/// `90_000_000` → `90s`, `120_000_000` → `2m`, `86_400_000_000` → `1d`.
pub fn duration_text(micros: i64) -> String {
    if micros % 1_000_000 != 0 {
        if micros % 1000 == 0 {
            return format!("{}ms", micros / 1000);
        }
        return format!("{micros}us");
    }
    let secs = micros / 1_000_000;
    if secs == 0 {
        return "0s".to_string();
    }
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

impl Value {
    /// Python's `str()` of a constant, for f-strings and `str(...)`.
    pub fn to_py_str(&self) -> Option<String> {
        Some(match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => format!("{f:.1}"),
            Value::Float(f) => f.to_string(),
            Value::Bool(true) => "True".to_string(),
            Value::Bool(false) => "False".to_string(),
            Value::None => "None".to_string(),
            _ => return None,
        })
    }

    /// Python truthiness of a constant; `None` when it is not a constant.
    pub fn truthy(&self) -> Option<bool> {
        Some(match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(items) => !items.is_empty(),
            Value::Dict(items) => !items.is_empty(),
            Value::DateTime(_) | Value::TimeDelta(_) | Value::Zone(_) => true,
            _ => return None,
        })
    }

    /// The value of `key` in a dict with string keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether the value is fully known (no `Unknown`, no file objects inside).
    pub fn is_constant(&self) -> bool {
        match self {
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => true,
            Value::List(items) => items.iter().all(Value::is_constant),
            Value::Dict(items) => items
                .iter()
                .all(|(k, v)| matches!(k, Value::Str(_)) && v.is_constant()),
            _ => false,
        }
    }

    /// The first reason inside, if anything in the value is unknown.
    pub fn unknown_reason(&self) -> Option<&str> {
        match self {
            Value::Unknown(why) => Some(why),
            Value::List(items) => items.iter().find_map(Value::unknown_reason),
            Value::Dict(items) => items
                .iter()
                .find_map(|(k, v)| k.unknown_reason().or_else(|| v.unknown_reason())),
            _ => None,
        }
    }

    /// A short description for messages: `a string`, `timedelta(...)`, ….
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".to_string(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::List(_) => "a list".to_string(),
            Value::Dict(_) => "a dict".to_string(),
            Value::DateTime(_) => "a datetime".to_string(),
            Value::TimeDelta(d) => format!("a timedelta of {}", d.text),
            Value::Zone(_) => "a timezone".to_string(),
            Value::Symbol(path) => format!("`{path}`"),
            Value::Timetable(t) => format!("a {}", t.class),
            Value::Task(_) => "a task".to_string(),
            Value::Group(_) => "a TaskGroup".to_string(),
            Value::Dag(_) => "a DAG".to_string(),
            Value::Function(_) => "a function".to_string(),
            Value::Notifier(n) => format!("a {}", n.name),
            Value::Unknown(why) => why.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_unit_that_divides_them() {
        assert_eq!(duration_text(120_000_000), "2m");
        assert_eq!(duration_text(90_000_000), "90s");
        assert_eq!(duration_text(86_400_000_000), "1d");
        assert_eq!(duration_text(7_200_000_000), "2h");
        assert_eq!(duration_text(1_500_000), "1500ms");
    }
}
