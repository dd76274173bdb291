//! The task graph: a petgraph DAG whose node `i` is the DAG's task `i`.
//! Edges point downstream. Built only from validated ids; pure.

use petgraph::Direction;
use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

/// An acyclic task graph. Construct with [`TaskGraph::build`].
#[derive(Debug, Clone)]
pub struct TaskGraph {
    graph: DiGraph<(), ()>,
    topo: Vec<usize>,
}

impl TaskGraph {
    /// Builds the graph of `count` tasks from `(upstream, downstream)` edges;
    /// on cycles returns each one as the list of task indices around it
    /// (first index repeated at the end).
    pub fn build(count: usize, edges: &[(usize, usize)]) -> Result<TaskGraph, Vec<Vec<usize>>> {
        let mut graph = DiGraph::with_capacity(count, edges.len());
        for _ in 0..count {
            graph.add_node(());
        }
        for &(up, down) in edges {
            graph.update_edge(NodeIndex::new(up), NodeIndex::new(down), ());
        }
        match toposort(&graph, None) {
            Ok(order) => Ok(TaskGraph {
                topo: order.into_iter().map(NodeIndex::index).collect(),
                graph,
            }),
            Err(_) => Err(cycles(&graph)),
        }
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Tasks in an order where every task comes after its upstream tasks.
    pub fn topological_order(&self) -> &[usize] {
        &self.topo
    }

    pub fn upstream(&self, task: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(task), Direction::Incoming)
            .map(NodeIndex::index)
    }

    pub fn downstream(&self, task: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(task), Direction::Outgoing)
            .map(NodeIndex::index)
    }

    /// Tasks nothing depends on: their states decide the run's state.
    pub fn leaves(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&t| self.downstream(t).next().is_none())
    }

    /// Every edge as `(upstream, downstream)`.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (e.source().index(), e.target().index()))
    }
}

/// One cycle per strongly connected component that has one, as a closed
/// path: the shortest way from the component's first task back to itself.
/// In order of their first task. Iterative throughout (petgraph's Tarjan
/// recurses once per task and overflows the stack on a long cycle).
fn cycles(graph: &DiGraph<(), ()>) -> Vec<Vec<usize>> {
    let mut found: Vec<Vec<usize>> = Vec::new();
    for component in kosaraju_scc(graph) {
        let Some(&first) = component.iter().min_by_key(|n| n.index()) else {
            continue;
        };
        if component.len() == 1 && !graph.contains_edge(first, first) {
            continue;
        }
        let in_component: std::collections::HashSet<NodeIndex> =
            component.iter().copied().collect();
        // breadth-first from `first` until an edge leads back to it
        let mut came_from: std::collections::HashMap<NodeIndex, NodeIndex> = Default::default();
        let mut queue = std::collections::VecDeque::from([first]);
        let mut last = None;
        'search: while let Some(node) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = graph
                .neighbors(node)
                .filter(|n| in_component.contains(n))
                .collect();
            next.sort_by_key(|n| n.index());
            for n in next {
                if n == first {
                    last = Some(node);
                    break 'search;
                }
                if let std::collections::hash_map::Entry::Vacant(entry) = came_from.entry(n) {
                    entry.insert(node);
                    queue.push_back(n);
                }
            }
        }
        let Some(mut node) = last else { continue };
        let mut path = vec![first];
        while node != first {
            path.push(node);
            match came_from.get(&node) {
                Some(&prev) => node = prev,
                None => break,
            }
        }
        path.push(first);
        // collected from the end back to the start
        path.reverse();
        found.push(path.into_iter().map(NodeIndex::index).collect());
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_sorts_upstream_first() {
        let graph = TaskGraph::build(3, &[(2, 1), (1, 0)]).unwrap();
        assert_eq!(graph.topological_order(), &[2, 1, 0]);
        assert_eq!(graph.leaves().collect::<Vec<_>>(), vec![0]);
        assert_eq!(graph.upstream(0).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn a_cycle_is_returned_as_a_closed_path() {
        let cycles = TaskGraph::build(4, &[(0, 1), (1, 2), (2, 0), (2, 3)]).unwrap_err();
        assert_eq!(cycles, vec![vec![0, 1, 2, 0]]);
    }

    #[test]
    fn a_cycle_through_100_000_tasks_does_not_overflow_the_stack() {
        let n = 100_000;
        let edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let cycles = TaskGraph::build(n, &edges).unwrap_err();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), n + 1);
    }

    #[test]
    fn a_task_depending_on_itself_is_a_cycle() {
        let cycles = TaskGraph::build(2, &[(1, 1)]).unwrap_err();
        assert_eq!(cycles, vec![vec![1, 1]]);
    }
}
