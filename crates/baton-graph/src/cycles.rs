//! Cycle detection: strongly connected components (iterative Tarjan, so deep graphs cannot
//! overflow the stack) and, for each cyclic component, a closed path through every member so
//! an error message can name them all in order.
//!
//! It must not decide what a cycle means to the caller (error, warning) or format messages.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::graph::{Graph, NodeId};

impl<N> Graph<N> {
    /// Every cycle, each as a closed path: `[a, b, c]` reads `a -> b -> c -> a`, each arrow an
    /// edge ("depends on"). A self-loop is a cycle of one, `[a]`.
    ///
    /// There is one entry per strongly connected component that contains a cycle, and its path
    /// names every member of that component. It starts at the component's lowest id and goes,
    /// each time, to the nearest member not yet named (lowest id first on ties), then back to
    /// the start. When the members do not lie on one simple loop (e.g. `a <-> b` and
    /// `a <-> c`), a member is named again where the path passes through it: `[a, b, a, c]`.
    ///
    /// Entries are sorted by their first id; the result depends only on the nodes and edges,
    /// not on the order the edges were added. Empty when the graph is acyclic.
    pub fn cycles(&self) -> Vec<Vec<NodeId>> {
        let components = self.strongly_connected_components();
        let mut component_of = vec![usize::MAX; self.len()];
        for (c, members) in components.iter().enumerate() {
            for member in members {
                component_of[member.index()] = c;
            }
        }
        let mut cycles: Vec<Vec<NodeId>> = components
            .iter()
            .enumerate()
            .filter(|(_, members)| members.len() > 1 || self.has_edge(members[0], members[0]))
            .map(|(c, members)| self.closed_path(members, |id| component_of[id.index()] == c))
            .collect();
        cycles.sort();
        cycles
    }

    /// Tarjan's algorithm without recursion. Each component's members are sorted by id.
    fn strongly_connected_components(&self) -> Vec<Vec<NodeId>> {
        const UNVISITED: usize = usize::MAX;
        let n = self.len();
        let mut index = vec![UNVISITED; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<NodeId> = Vec::new();
        // (node, position of the next dependency to look at)
        let mut calls: Vec<(NodeId, usize)> = Vec::new();
        let mut next_index = 0;
        let mut components = Vec::new();

        for root in self.ids() {
            if index[root.index()] != UNVISITED {
                continue;
            }
            index[root.index()] = next_index;
            low[root.index()] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root.index()] = true;
            calls.push((root, 0));

            while let Some(&mut (v, ref mut next_dep)) = calls.last_mut() {
                if let Some(&w) = self.dependencies(v).get(*next_dep) {
                    *next_dep += 1;
                    if index[w.index()] == UNVISITED {
                        index[w.index()] = next_index;
                        low[w.index()] = next_index;
                        next_index += 1;
                        stack.push(w);
                        on_stack[w.index()] = true;
                        calls.push((w, 0));
                    } else if on_stack[w.index()] {
                        low[v.index()] = low[v.index()].min(index[w.index()]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent.index()] = low[parent.index()].min(low[v.index()]);
                }
                if low[v.index()] == index[v.index()] {
                    let mut members = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w.index()] = false;
                        members.push(w);
                        if w == v {
                            break;
                        }
                    }
                    members.sort();
                    components.push(members);
                }
            }
        }
        components
    }

    /// A closed path through every member of one strongly connected component (see
    /// [`Graph::cycles`]). `members` is sorted and non-empty; `inside` tells membership.
    fn closed_path(&self, members: &[NodeId], inside: impl Fn(NodeId) -> bool) -> Vec<NodeId> {
        let start = members[0];
        let mut path = vec![start];
        if members.len() == 1 {
            return path;
        }
        let mut unnamed: HashSet<NodeId> = members[1..].iter().copied().collect();
        let mut current = start;
        while !unnamed.is_empty() {
            // Every node before the target on a shortest path is nearer, hence already named.
            let leg = self.shortest_path(current, |id| unnamed.contains(&id), &inside);
            for &id in &leg {
                unnamed.remove(&id);
            }
            path.extend_from_slice(&leg);
            match leg.last() {
                Some(&last) => current = last,
                // Unreachable inside a strongly connected component; never loop forever.
                None => break,
            }
        }
        let back = self.shortest_path(current, |id| id == start, &inside);
        path.extend_from_slice(back.split_last().map_or(&[][..], |(_, rest)| rest));
        path
    }

    /// Breadth-first search from `from` (excluded) to the nearest node satisfying `is_target`,
    /// staying `inside` and trying dependencies in id order. Returns the nodes after `from`,
    /// ending with the target; empty if none is reachable.
    fn shortest_path(
        &self,
        from: NodeId,
        is_target: impl Fn(NodeId) -> bool,
        inside: impl Fn(NodeId) -> bool,
    ) -> Vec<NodeId> {
        let mut parent: HashMap<NodeId, NodeId> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        let mut next: Vec<NodeId> = Vec::new();
        while let Some(id) = queue.pop_front() {
            next.clear();
            next.extend(self.dependencies(id).iter().copied().filter(|&d| inside(d)));
            next.sort();
            for &dep in &next {
                if dep == from || parent.contains_key(&dep) {
                    continue;
                }
                parent.insert(dep, id);
                if is_target(dep) {
                    let mut leg = vec![dep];
                    let mut at = dep;
                    while let Some(&p) = parent.get(&at) {
                        if p == from {
                            break;
                        }
                        leg.push(p);
                        at = p;
                    }
                    leg.reverse();
                    return leg;
                }
                queue.push_back(dep);
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::{Graph, NodeId};

    fn cycles_of(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
        let mut g = Graph::new();
        let ids: Vec<NodeId> = (0..n).map(|i| g.add_node(i)).collect();
        for &(from, to) in edges {
            g.add_edge(ids[from], ids[to]);
        }
        g.cycles()
            .iter()
            .map(|c| c.iter().map(|id| id.index()).collect())
            .collect()
    }

    #[test]
    fn acyclic_graph_has_no_cycles() {
        assert!(cycles_of(4, &[(0, 1), (1, 2), (0, 2), (3, 2)]).is_empty());
        assert!(cycles_of(0, &[]).is_empty());
    }

    #[test]
    fn simple_cycle_is_reported_in_edge_order_from_its_lowest_id() {
        // 2 -> 0 -> 3 -> 1 -> 2, plus a dependent (4) and a dependency (5) outside the loop.
        let edges = [(2, 0), (0, 3), (3, 1), (1, 2), (4, 2), (1, 5)];
        assert_eq!(cycles_of(6, &edges), vec![vec![0, 3, 1, 2]]);
    }

    #[test]
    fn self_loop_is_a_cycle_of_one() {
        assert_eq!(cycles_of(3, &[(0, 1), (1, 1)]), vec![vec![1]]);
    }

    #[test]
    fn two_disjoint_cycles_are_sorted_by_first_member() {
        // 3 <-> 4 is found first by Tarjan (it is reached from 0), 1 -> 2 -> 5 -> 1 later.
        let edges = [(0, 3), (3, 4), (4, 3), (1, 2), (2, 5), (5, 1)];
        assert_eq!(cycles_of(6, &edges), vec![vec![1, 2, 5], vec![3, 4]]);
    }

    #[test]
    fn figure_eight_names_every_member_and_repeats_the_crossing() {
        assert_eq!(
            cycles_of(3, &[(0, 1), (1, 0), (0, 2), (2, 0)]),
            vec![vec![0, 1, 0, 2]]
        );
    }

    #[test]
    fn cycle_paths_do_not_depend_on_edge_insertion_order() {
        let edges = [(0, 1), (1, 2), (2, 0), (1, 3), (3, 0), (4, 4)];
        let mut reversed = edges;
        reversed.reverse();
        assert_eq!(cycles_of(5, &edges), cycles_of(5, &reversed));
        // 0 -> 1 -> 2 -> 0 and 0 -> 1 -> 3 -> 0 share 0 -> 1: no simple loop holds all four.
        assert_eq!(cycles_of(5, &edges), vec![vec![0, 1, 2, 0, 1, 3], vec![4]]);
    }

    #[test]
    fn long_cycle_does_not_overflow_the_stack() {
        let n = 200_000;
        let edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let cycles = cycles_of(n, &edges);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0], (0..n).collect::<Vec<_>>());
    }
}
