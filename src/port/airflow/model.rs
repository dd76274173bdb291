//! What reading a file found: the DAGs, tasks and TaskGroups it creates and
//! the dependencies between tasks, with the arguments each was called with.

use super::value::Value;

/// Arguments of one call, evaluated, each with its line.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub positional: Vec<(Value, u32)>,
    pub keywords: Vec<Keyword>,
}

#[derive(Debug, Clone)]
pub struct Keyword {
    pub name: String,
    pub value: Value,
    pub line: u32,
}

impl Args {
    pub fn get(&self, name: &str) -> Option<&Keyword> {
        self.keywords.iter().rev().find(|k| k.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct DagDecl {
    pub line: u32,
    pub args: Args,
    /// A `@dag` function's name: the dag_id when none is given.
    pub function_name: Option<String>,
    /// A `@dag` function's parameters with their defaults: Airflow's params.
    pub function_params: Vec<(String, Value, u32)>,
}

#[derive(Debug, Clone)]
pub struct TaskDecl {
    pub line: u32,
    /// The class as the file names it, resolved through imports
    /// (`airflow.operators.bash.BashOperator`), or `@task` for TaskFlow.
    pub class: String,
    /// The id Airflow gives it, group prefix included.
    pub task_id: String,
    pub dag: Option<usize>,
    pub group: Option<usize>,
    pub args: Args,
    /// For a TaskFlow task: what its function body returns, when static
    /// (`@task.bash` returns the command).
    pub returns: Option<Value>,
}

impl TaskDecl {
    /// The class's own name: `BashOperator`.
    pub fn class_name(&self) -> &str {
        if self.class.starts_with('@') {
            return &self.class;
        }
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }
}

#[derive(Debug, Clone)]
pub struct GroupDecl {
    /// The id as given (`group_id`).
    pub raw_id: String,
    pub prefix_group_id: bool,
    pub parent: Option<usize>,
    pub default_args: Option<(Value, u32)>,
}

/// Everything a file creates.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub dags: Vec<DagDecl>,
    pub tasks: Vec<TaskDecl>,
    pub groups: Vec<GroupDecl>,
    /// (upstream, downstream) task indices, in the order they were set.
    pub edges: Vec<(usize, usize)>,
}

impl Model {
    /// Airflow's `TaskGroup.group_id`: prefixed by the parent's when the
    /// parent prefixes its children.
    pub fn group_id(&self, group: usize) -> String {
        let g = &self.groups[group];
        match g.parent {
            Some(parent) => self.child_id(parent, &g.raw_id),
            None => g.raw_id.clone(),
        }
    }

    /// Airflow's `TaskGroup.child_id`.
    pub fn child_id(&self, group: usize, label: &str) -> String {
        if self.groups[group].prefix_group_id {
            format!("{}.{label}", self.group_id(group))
        } else {
            label.to_string()
        }
    }

    /// Whether `task` is inside `group`, directly or through nested groups.
    pub fn in_group(&self, task: usize, group: usize) -> bool {
        let mut current = self.tasks[task].group;
        while let Some(g) = current {
            if g == group {
                return true;
            }
            current = self.groups[g].parent;
        }
        false
    }

    /// Tasks of `group` with no upstream inside it (where `x >> group` lands).
    pub fn group_roots(&self, group: usize) -> Vec<usize> {
        self.group_ends(group, |(up, down)| (down, up))
    }

    /// Tasks of `group` with no downstream inside it (where `group >> x` starts).
    pub fn group_leaves(&self, group: usize) -> Vec<usize> {
        self.group_ends(group, |edge| edge)
    }

    /// Members of `group` that are the first of no edge inside the group,
    /// with each edge seen through `orient` as (this side, other side).
    fn group_ends(&self, group: usize, orient: fn((usize, usize)) -> (usize, usize)) -> Vec<usize> {
        let members: Vec<usize> = (0..self.tasks.len())
            .filter(|&t| self.in_group(t, group))
            .collect();
        members
            .iter()
            .copied()
            .filter(|&t| {
                !self.edges.iter().any(|&edge| {
                    let (this, other) = orient(edge);
                    this == t && members.contains(&other)
                })
            })
            .collect()
    }

    /// The upstream tasks of `task`, in the order the edges were set.
    pub fn upstream(&self, task: usize) -> Vec<usize> {
        let mut ups = Vec::new();
        for &(up, down) in &self.edges {
            if down == task && !ups.contains(&up) {
                ups.push(up);
            }
        }
        ups
    }
}
