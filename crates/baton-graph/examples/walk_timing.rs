//! Measures the walker's own overhead on large graphs of no-op visits, to check that
//! scheduling stays cheap: `cargo run --release -p baton-graph --example walk_timing`.
//!
//! It must not be used as a test: it prints timings and asserts nothing about them.

use std::time::Instant;

use baton_graph::{walk, Graph, NodeId, StopHandle, WalkOpts};

fn main() {
    let cases: [(&str, Graph<()>); 4] = [
        (
            "10,000 nodes, 100 layers, 3 deps each",
            layered(100, 100, 3),
        ),
        (
            "10,000 nodes, 10 layers, full fan-in of 1,000",
            layered_full(10, 1_000),
        ),
        (
            "100,000 nodes in a chain",
            one_edge_each(100_000, |i| i - 1),
        ),
        (
            "100,000 nodes in a binary tree",
            one_edge_each(100_000, |i| (i - 1) / 2),
        ),
    ];
    for (name, graph) in &cases {
        for parallelism in [1, 4, 10] {
            let started = Instant::now();
            let mut events = 0usize;
            let report = walk(
                graph,
                &WalkOpts { parallelism },
                &StopHandle::new(),
                |_, _| -> Result<(), ()> { Ok(()) },
                |_| events += 1,
            );
            let elapsed = started.elapsed();
            println!(
                "{name:<48} parallelism {parallelism:>2}: {:>8.2} ms, {} edges, {events} events, all done: {}",
                elapsed.as_secs_f64() * 1e3,
                graph.edge_count(),
                report.all_done()
            );
        }
    }
}

fn nodes(n: usize) -> (Graph<()>, Vec<NodeId>) {
    let mut graph = Graph::new();
    let ids = (0..n).map(|_| graph.add_node(())).collect();
    (graph, ids)
}

fn layered(layers: usize, width: usize, fan_in: usize) -> Graph<()> {
    let (mut graph, ids) = nodes(layers * width);
    let mut seed: u64 = 7;
    for layer in 1..layers {
        for i in 0..width {
            for _ in 0..fan_in {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let dep = (layer - 1) * width + (seed >> 33) as usize % width;
                graph.add_edge(ids[layer * width + i], ids[dep]);
            }
        }
    }
    graph
}

fn layered_full(layers: usize, width: usize) -> Graph<()> {
    let (mut graph, ids) = nodes(layers * width);
    for layer in 1..layers {
        for i in 0..width {
            for j in 0..width {
                graph.add_edge(ids[layer * width + i], ids[(layer - 1) * width + j]);
            }
        }
    }
    graph
}

fn one_edge_each(n: usize, dependency: impl Fn(usize) -> usize) -> Graph<()> {
    let (mut graph, ids) = nodes(n);
    for i in 1..n {
        graph.add_edge(ids[i], ids[dependency(i)]);
    }
    graph
}
