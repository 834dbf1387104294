//! Graphviz DOT rendering of a graph, with labels supplied by the caller.
//!
//! It must not invent labels from payloads (the caller knows what they mean) nor write files:
//! it returns text, in an order that depends only on the nodes and edges.

use std::fmt::Write as _;

use crate::graph::{Graph, NodeId};

impl<N> Graph<N> {
    /// The graph as Graphviz DOT text: one statement per node, `n<index> [label="..."]`, with
    /// the label from `label` quoted and escaped, then one edge per dependency pointing from the
    /// dependent to its dependency (as `terraform graph` draws them). Nodes come in id order,
    /// each node's edges in dependency id order.
    pub fn to_dot(&self, label: impl Fn(NodeId, &N) -> String) -> String {
        let mut out = String::from("digraph {\n");
        for (id, payload) in self.iter() {
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "    n{} [label=\"{}\"];",
                id.index(),
                escape(&label(id, payload))
            );
        }
        let mut deps: Vec<NodeId> = Vec::new();
        for id in self.ids() {
            deps.clear();
            deps.extend_from_slice(self.dependencies(id));
            deps.sort();
            for dep in &deps {
                let _ = writeln!(out, "    n{} -> n{};", id.index(), dep.index());
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Escapes text for a double-quoted DOT string: backslashes and quotes are escaped, line
/// breaks become `\n` (a centred line break in Graphviz), carriage returns are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
