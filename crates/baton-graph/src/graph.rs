//! The graph itself: `NodeId`, `Graph<N>`, edge bookkeeping and the structural queries built
//! on it (closures, reversal, topological order, transitive reduction).
//!
//! It must not interpret payloads or do I/O; cycle detection lives in `cycles.rs`, DOT text in
//! `dot.rs`, and running visits in `walk.rs`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

/// The identity of a node in one [`Graph`]: ids are handed out densely from 0 in insertion
/// order, so they double as indices (see [`NodeId::index`]). An id from one graph means nothing
/// in another, except in the graphs derived from it ([`Graph::reversed`],
/// [`Graph::transitive_reduction`]), which keep every id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId(u32);

impl NodeId {
    /// The id's position in insertion order, e.g. to index [`crate::WalkReport::outcomes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A directed dependency graph whose nodes carry payloads of type `N`.
///
/// An edge `from -> to` means *`from` depends on `to`*: `to` must complete before `from` starts.
#[derive(Clone, Debug)]
pub struct Graph<N> {
    nodes: Vec<N>,
    /// `deps[i]`: what node `i` depends on, in insertion order, without duplicates.
    deps: Vec<Vec<NodeId>>,
    /// `dependents[i]`: what depends on node `i`, in insertion order, without duplicates.
    dependents: Vec<Vec<NodeId>>,
    /// Every edge as `(from, to)`, so duplicates are rejected in O(1) even on wide nodes.
    edges: HashSet<(NodeId, NodeId)>,
}

impl<N> Default for Graph<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N> Graph<N> {
    pub fn new() -> Self {
        Graph {
            nodes: Vec::new(),
            deps: Vec::new(),
            dependents: Vec::new(),
            edges: HashSet::new(),
        }
    }

    /// Adds a node and returns its id (the next index).
    ///
    /// # Panics
    /// If the graph already holds `u32::MAX` nodes.
    pub fn add_node(&mut self, payload: N) -> NodeId {
        let id =
            NodeId(u32::try_from(self.nodes.len()).expect("a graph holds fewer than 2^32 nodes"));
        self.nodes.push(payload);
        self.deps.push(Vec::new());
        self.dependents.push(Vec::new());
        id
    }

    /// Records that `from` depends on `to`: `to` must complete before `from` starts.
    /// Duplicate edges are ignored; `from == to` is a self-loop, i.e. a cycle of one.
    ///
    /// # Panics
    /// If either id is not a node of this graph.
    pub fn add_edge(&mut self, from: NodeId, to: NodeId) {
        assert!(
            from.index() < self.len() && to.index() < self.len(),
            "edge {from:?} -> {to:?} names a node outside this graph of {} nodes",
            self.len()
        );
        if self.edges.insert((from, to)) {
            self.deps[from.index()].push(to);
            self.dependents[to.index()].push(from);
        }
    }

    /// Whether `from` depends directly on `to`.
    pub fn has_edge(&self, from: NodeId, to: NodeId) -> bool {
        self.edges.contains(&(from, to))
    }

    pub fn node(&self, id: NodeId) -> &N {
        &self.nodes[id.index()]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut N {
        &mut self.nodes[id.index()]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Every id, in increasing order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<N> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// Every node with its payload, in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &N)> {
        self.ids().zip(self.nodes.iter())
    }

    /// What `id` depends on (direct dependencies), in the order the edges were added.
    pub fn dependencies(&self, id: NodeId) -> &[NodeId] {
        &self.deps[id.index()]
    }

    /// What depends on `id` (direct dependents), in the order the edges were added.
    pub fn dependents(&self, id: NodeId) -> &[NodeId] {
        &self.dependents[id.index()]
    }

    /// Every node, dependencies first; among nodes that are ready at the same time the lowest
    /// id comes first, so the order depends only on the nodes and edges, not on the order the
    /// edges were added. On a cyclic graph, returns every cycle (as [`Graph::cycles`]).
    pub fn toposort(&self) -> Result<Vec<NodeId>, Vec<Vec<NodeId>>> {
        let mut remaining: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<NodeId>> = self
            .ids()
            .filter(|id| remaining[id.index()] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(Reverse(id)) = ready.pop() {
            order.push(id);
            for &dependent in self.dependents(id) {
                let left = &mut remaining[dependent.index()];
                *left -= 1;
                if *left == 0 {
                    ready.push(Reverse(dependent));
                }
            }
        }
        if order.len() == self.len() {
            Ok(order)
        } else {
            Err(self.cycles())
        }
    }

    /// The same nodes and ids with every edge reversed: what depended on a node becomes its
    /// dependency, e.g. to walk deletions after their dependents.
    pub fn reversed(&self) -> Graph<N>
    where
        N: Clone,
    {
        Graph {
            nodes: self.nodes.clone(),
            deps: self.dependents.clone(),
            dependents: self.deps.clone(),
            edges: self.edges.iter().map(|&(from, to)| (to, from)).collect(),
        }
    }

    /// Every node reachable from `roots` by following dependencies, roots included.
    pub fn dependencies_closure(&self, roots: &[NodeId]) -> HashSet<NodeId> {
        closure(roots, |id| self.dependencies(id))
    }

    /// Every node reachable from `roots` by following dependents, roots included: what would
    /// be affected if the roots changed.
    pub fn dependents_closure(&self, roots: &[NodeId]) -> HashSet<NodeId> {
        closure(roots, |id| self.dependents(id))
    }

    /// The same nodes and ids without the edges implied by others: `a -> c` is dropped when
    /// `a` also reaches `c` through another dependency. Reachability is unchanged. Meant for
    /// readable DOT output; costs O(nodes × edges) in the worst case.
    ///
    /// A cyclic graph has no unique reduction, so it is returned unchanged.
    pub fn transitive_reduction(&self) -> Graph<N>
    where
        N: Clone,
    {
        if self.toposort().is_err() {
            return self.clone();
        }
        let mut reduced = Graph {
            nodes: self.nodes.clone(),
            deps: vec![Vec::new(); self.len()],
            dependents: vec![Vec::new(); self.len()],
            edges: HashSet::new(),
        };
        // `reached_from[x] == u` marks `x` as reachable from `u` by a path of two or more edges.
        let mut reached_from = vec![usize::MAX; self.len()];
        let mut stack = Vec::new();
        for u in self.ids() {
            for &w in self.dependencies(u) {
                for &x in self.dependencies(w) {
                    if reached_from[x.index()] != u.index() {
                        reached_from[x.index()] = u.index();
                        stack.push(x);
                    }
                }
            }
            while let Some(x) = stack.pop() {
                for &y in self.dependencies(x) {
                    if reached_from[y.index()] != u.index() {
                        reached_from[y.index()] = u.index();
                        stack.push(y);
                    }
                }
            }
            for &v in self.dependencies(u) {
                if reached_from[v.index()] != u.index() {
                    reduced.add_edge(u, v);
                }
            }
        }
        reduced
    }
}

fn closure<'g>(roots: &[NodeId], next: impl Fn(NodeId) -> &'g [NodeId]) -> HashSet<NodeId> {
    let mut seen: HashSet<NodeId> = roots.iter().copied().collect();
    let mut stack: Vec<NodeId> = seen.iter().copied().collect();
    while let Some(id) = stack.pop() {
        for &other in next(id) {
            if seen.insert(other) {
                stack.push(other);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[(usize, usize)]) -> (Graph<usize>, Vec<NodeId>) {
        let mut g = Graph::new();
        let ids: Vec<NodeId> = (0..n).map(|i| g.add_node(i)).collect();
        for &(from, to) in edges {
            g.add_edge(ids[from], ids[to]);
        }
        (g, ids)
    }

    fn indices(ids: &[NodeId]) -> Vec<usize> {
        ids.iter().map(|id| id.index()).collect()
    }

    #[test]
    fn duplicate_edges_are_ignored() {
        let (mut g, ids) = graph(2, &[(0, 1), (0, 1)]);
        g.add_edge(ids[0], ids[1]);
        assert_eq!(g.edge_count(), 1);
        assert_eq!(g.dependencies(ids[0]), &[ids[1]]);
        assert_eq!(g.dependents(ids[1]), &[ids[0]]);
        assert!(g.has_edge(ids[0], ids[1]));
        assert!(!g.has_edge(ids[1], ids[0]));
    }

    #[test]
    fn payloads_are_reachable_by_id() {
        let (mut g, ids) = graph(3, &[]);
        *g.node_mut(ids[1]) = 41;
        assert_eq!(*g.node(ids[1]), 41);
        assert_eq!(
            g.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            vec![0, 41, 2]
        );
        assert_eq!(g.len(), 3);
        assert!(!g.is_empty());
        assert!(Graph::<()>::new().is_empty());
    }

    #[test]
    fn toposort_puts_dependencies_first_and_breaks_ties_by_id() {
        // 0 depends on 3; 2 depends on 1; 1 and 3 are roots.
        let (g, _) = graph(4, &[(0, 3), (2, 1)]);
        assert_eq!(g.toposort().map(|o| indices(&o)), Ok(vec![1, 2, 3, 0]));
    }

    #[test]
    fn toposort_does_not_depend_on_edge_insertion_order() {
        let edges = [(0, 1), (0, 2), (1, 3), (2, 3), (4, 0), (4, 3), (5, 2)];
        let mut reversed_edges = edges;
        reversed_edges.reverse();
        let (a, _) = graph(6, &edges);
        let (b, _) = graph(6, &reversed_edges);
        let order = a.toposort().map(|o| indices(&o));
        assert_eq!(order, Ok(vec![3, 1, 2, 0, 4, 5]));
        assert_eq!(order, b.toposort().map(|o| indices(&o)));
    }

    #[test]
    fn toposort_reports_cycles() {
        let (g, _) = graph(3, &[(0, 1), (1, 0), (2, 0)]);
        let cycles = g
            .toposort()
            .map_err(|c| c.iter().map(|c| indices(c)).collect::<Vec<_>>());
        assert_eq!(cycles, Err(vec![vec![0, 1]]));
    }

    #[test]
    fn reversed_swaps_dependencies_and_dependents() {
        let (g, ids) = graph(3, &[(0, 1), (1, 2)]);
        let r = g.reversed();
        assert_eq!(r.dependencies(ids[1]), &[ids[0]]);
        assert_eq!(r.dependents(ids[1]), &[ids[2]]);
        assert!(r.has_edge(ids[2], ids[1]));
        assert_eq!(r.toposort().map(|o| indices(&o)), Ok(vec![0, 1, 2]));
    }

    #[test]
    fn closures_follow_edges_transitively_and_include_roots() {
        // 0 -> 1 -> 2, 3 -> 1, 4 alone.
        let (g, ids) = graph(5, &[(0, 1), (1, 2), (3, 1)]);
        let mut deps: Vec<usize> = g
            .dependencies_closure(&[ids[0]])
            .iter()
            .map(|i| i.index())
            .collect();
        deps.sort();
        assert_eq!(deps, vec![0, 1, 2]);
        let mut dependents: Vec<usize> = g
            .dependents_closure(&[ids[1], ids[4]])
            .iter()
            .map(|i| i.index())
            .collect();
        dependents.sort();
        assert_eq!(dependents, vec![0, 1, 3, 4]);
    }

    #[test]
    fn transitive_reduction_drops_implied_edges_only() {
        // 0 -> 1 -> 2, 0 -> 2 (implied), 0 -> 3 -> 2 (3 also reaches 2), 4 -> 2 (kept).
        let (g, ids) = graph(5, &[(0, 1), (1, 2), (0, 2), (0, 3), (3, 2), (4, 2)]);
        let r = g.transitive_reduction();
        let mut edges: Vec<(usize, usize)> = r
            .ids()
            .flat_map(|from| {
                r.dependencies(from)
                    .iter()
                    .map(move |to| (from.index(), to.index()))
            })
            .collect();
        edges.sort();
        assert_eq!(edges, vec![(0, 1), (0, 3), (1, 2), (3, 2), (4, 2)]);
        assert!(!r.has_edge(ids[0], ids[2]));
        assert_eq!(r.dependents(ids[2]).len(), 3);
    }

    #[test]
    fn transitive_reduction_leaves_cyclic_graphs_alone() {
        let (g, _) = graph(3, &[(0, 1), (1, 2), (2, 0), (0, 2)]);
        assert_eq!(g.transitive_reduction().edge_count(), 4);
    }
}
