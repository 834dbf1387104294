//! Tests of the graph's human-facing text through the public API: DOT output and the cycle
//! paths an error message is built from, as `expect-test` snapshots (refresh them with
//! `UPDATE_EXPECT=1 cargo test -p baton-graph`).
//!
//! These tests must not depend on anything but the crate's public API.

use baton_graph::{Graph, NodeId};
use expect_test::{expect, Expect};

/// Builds a graph of named nodes; each edge is `(dependent, dependency)` by name.
fn named(names: &[&str], edges: &[(&str, &str)]) -> Graph<String> {
    let mut graph = Graph::new();
    for name in names {
        graph.add_node((*name).to_owned());
    }
    let id = |name: &str| -> NodeId {
        let index = names
            .iter()
            .position(|n| *n == name)
            .expect("edge names a known node");
        graph.ids().nth(index).expect("index is in range")
    };
    let edges: Vec<(NodeId, NodeId)> = edges.iter().map(|(from, to)| (id(from), id(to))).collect();
    for (from, to) in edges {
        graph.add_edge(from, to);
    }
    graph
}

fn check_dot(graph: &Graph<String>, expect: Expect) {
    expect.assert_eq(&graph.to_dot(|_, name| name.clone()));
}

/// Renders every cycle the way an error message would: `a -> b -> a`.
fn check_cycles(graph: &Graph<String>, expect: Expect) {
    let text: Vec<String> = graph
        .cycles()
        .iter()
        .map(|cycle| {
            let mut names: Vec<&str> = cycle.iter().map(|&id| graph.node(id).as_str()).collect();
            names.push(graph.node(cycle[0]));
            names.join(" -> ")
        })
        .collect();
    expect.assert_eq(&text.join("\n"));
}

#[test]
fn dot_lists_nodes_then_edges_from_dependent_to_dependency() {
    let graph = named(
        &[
            "aws_instance.web",
            "aws_subnet.a",
            "aws_vpc.main",
            "output \"ip\"",
        ],
        &[
            ("aws_instance.web", "aws_vpc.main"),
            ("aws_instance.web", "aws_subnet.a"),
            ("aws_subnet.a", "aws_vpc.main"),
            ("output \"ip\"", "aws_instance.web"),
        ],
    );
    check_dot(
        &graph,
        expect![[r#"
            digraph {
                n0 [label="aws_instance.web"];
                n1 [label="aws_subnet.a"];
                n2 [label="aws_vpc.main"];
                n3 [label="output \"ip\""];
                n0 -> n1;
                n0 -> n2;
                n1 -> n2;
                n3 -> n0;
            }
        "#]],
    );
    check_dot(
        &graph.transitive_reduction(),
        expect![[r#"
            digraph {
                n0 [label="aws_instance.web"];
                n1 [label="aws_subnet.a"];
                n2 [label="aws_vpc.main"];
                n3 [label="output \"ip\""];
                n0 -> n1;
                n1 -> n2;
                n3 -> n0;
            }
        "#]],
    );
}

#[test]
fn dot_escapes_labels() {
    let graph = named(&["back\\slash", "two\r\nlines"], &[]);
    check_dot(
        &graph,
        expect![[r#"
            digraph {
                n0 [label="back\\slash"];
                n1 [label="two\nlines"];
            }
        "#]],
    );
    check_dot(
        &named(&[], &[]),
        expect![[r#"
        digraph {
        }
    "#]],
    );
}

#[test]
fn cycles_name_every_member_in_order() {
    let graph = named(
        &["a", "b", "c", "d", "e", "f", "g"],
        &[
            // c -> a -> b -> c
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            // a self-loop, reached from the first cycle
            ("c", "d"),
            ("d", "d"),
            // a second, disjoint cycle
            ("e", "g"),
            ("g", "f"),
            ("f", "e"),
        ],
    );
    check_cycles(
        &graph,
        expect![[r#"
            a -> b -> c -> a
            d -> d
            e -> g -> f -> e"#]],
    );
    let cycles = graph.toposort().expect_err("the graph is cyclic");
    assert_eq!(cycles, graph.cycles());
}

#[test]
fn acyclic_graph_sorts_deterministically() {
    let graph = named(
        &["app", "db", "net", "dns", "cache"],
        &[
            ("app", "db"),
            ("app", "cache"),
            ("db", "net"),
            ("cache", "net"),
            ("dns", "app"),
        ],
    );
    check_cycles(&graph, expect![[""]]);
    let order: Vec<&str> = graph
        .toposort()
        .expect("the graph is acyclic")
        .iter()
        .map(|&id| graph.node(id).as_str())
        .collect();
    assert_eq!(order, ["net", "db", "cache", "app", "dns"]);
    // Deletions walk the reversed graph: dependents first.
    let reversed = graph.reversed();
    let order: Vec<&str> = reversed
        .toposort()
        .expect("the graph is acyclic")
        .iter()
        .map(|&id| graph.node(id).as_str())
        .collect();
    assert_eq!(order, ["dns", "app", "db", "cache", "net"]);
}
