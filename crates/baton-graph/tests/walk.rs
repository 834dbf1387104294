//! Tests of the bounded parallel walker through the public API: order, failure propagation,
//! the parallelism bound, stopping, panics, cycles and large graphs.
//!
//! These tests must not assert on wall-clock durations: order is checked with counters, and
//! sleeps only make overlaps likely, never required for a test to pass (except the one test
//! that proves visits overlap, which waits on a channel with a generous timeout).

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::Duration;

use baton_graph::{
    walk, Failure, Graph, NodeId, Outcome, SkipReason, StopHandle, WalkEvent, WalkOpts, WalkReport,
};
use expect_test::{expect, Expect};

/// A graph of `n` nodes whose payload is their index; each edge is `(dependent, dependency)`.
fn graph(n: usize, edges: &[(usize, usize)]) -> (Graph<usize>, Vec<NodeId>) {
    let mut graph = Graph::new();
    let ids: Vec<NodeId> = (0..n).map(|i| graph.add_node(i)).collect();
    for &(from, to) in edges {
        graph.add_edge(ids[from], ids[to]);
    }
    (graph, ids)
}

fn opts(parallelism: usize) -> WalkOpts {
    WalkOpts { parallelism }
}

/// Walks and renders every event as one line.
fn walk_logged(
    graph: &Graph<usize>,
    opts: &WalkOpts,
    stop: &StopHandle,
    visit: impl Fn(NodeId, &usize) -> Result<(), String> + Sync,
) -> (WalkReport<String>, String) {
    let mut log = String::new();
    let report = walk(graph, opts, stop, visit, |event| {
        let _ = match event {
            WalkEvent::Started(id) => writeln!(log, "start {}", id.index()),
            WalkEvent::Finished(id, Ok(())) => writeln!(log, "done {}", id.index()),
            WalkEvent::Finished(id, Err(failure)) => {
                writeln!(log, "failed {}: {failure}", id.index())
            }
            WalkEvent::Skipped(id, SkipReason::Dependency(dep)) => {
                writeln!(log, "skipped {} (dependency {})", id.index(), dep.index())
            }
            WalkEvent::Skipped(id, reason) => writeln!(log, "skipped {} ({reason:?})", id.index()),
        };
    });
    (report, log)
}

fn outcomes<E>(report: &WalkReport<E>) -> String {
    report
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::Done => 'D',
            Outcome::Failed => 'F',
            Outcome::Skipped => 'S',
        })
        .collect()
}

fn check(log: &str, expect: Expect) {
    expect.assert_eq(log);
}

/// A small deterministic pseudo-random sequence, so graphs are irregular but reproducible.
fn lcg(seed: &mut u64) -> usize {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) as usize
}

/// `layers` layers of `width` nodes; each node depends on up to `fan_in` nodes of the layer
/// before it.
fn layered(layers: usize, width: usize, fan_in: usize) -> Graph<usize> {
    let mut seed = 7;
    let mut edges = Vec::new();
    for layer in 1..layers {
        for i in 0..width {
            for _ in 0..fan_in {
                edges.push((
                    layer * width + i,
                    (layer - 1) * width + lcg(&mut seed) % width,
                ));
            }
        }
    }
    graph(layers * width, &edges).0
}

#[test]
fn events_come_in_order_and_a_failure_skips_only_its_dependents() {
    // 1 -> 0, 2 -> 1, 4 -> {3, 0}; 1 fails.
    let (graph, _) = graph(5, &[(1, 0), (2, 1), (4, 3), (4, 0)]);
    let (report, log) = walk_logged(&graph, &opts(1), &StopHandle::new(), |_, &n| {
        if n == 1 {
            Err("boom".to_owned())
        } else {
            Ok(())
        }
    });
    check(
        &log,
        expect![[r#"
            start 0
            done 0
            start 1
            failed 1: boom
            skipped 2 (dependency 1)
            start 3
            done 3
            start 4
            done 4
        "#]],
    );
    assert_eq!(outcomes(&report), "DFSDD");
    assert!(!report.stopped);
    assert!(!report.all_done());
}

#[test]
fn dependencies_finish_before_dependents_start() {
    let graph = layered(20, 15, 3);
    for parallelism in [1, 2, 4, 16] {
        let clock = AtomicUsize::new(0);
        let started: Vec<AtomicUsize> = graph.ids().map(|_| AtomicUsize::new(usize::MAX)).collect();
        let finished: Vec<AtomicUsize> =
            graph.ids().map(|_| AtomicUsize::new(usize::MAX)).collect();
        let report = walk(
            &graph,
            &opts(parallelism),
            &StopHandle::new(),
            |id, &n| -> Result<(), ()> {
                started[id.index()].store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                if n % 7 == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
                finished[id.index()].store(clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
                Ok(())
            },
            |_| {},
        );
        assert!(report.all_done());
        for from in graph.ids() {
            for &to in graph.dependencies(from) {
                let done = finished[to.index()].load(Ordering::SeqCst);
                let start = started[from.index()].load(Ordering::SeqCst);
                assert!(
                    done < start,
                    "{from:?} started at {start} before {to:?} finished at {done}"
                );
            }
        }
    }
}

#[test]
fn failure_skips_dependents_transitively_while_independent_nodes_complete() {
    // Chain 0 <- 1 <- 2 <- 3 with 1 failing; 4 depends on 2 and 5; 5..=9 are independent.
    let (graph, ids) = graph(10, &[(1, 0), (2, 1), (3, 2), (4, 2), (4, 5)]);
    let visited = AtomicUsize::new(0);
    let report = walk(
        &graph,
        &opts(3),
        &StopHandle::new(),
        |_, &n| {
            visited.fetch_add(1, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(1));
            if n == 1 {
                Err(format!("node {n} failed"))
            } else {
                Ok(())
            }
        },
        |_| {},
    );
    assert_eq!(outcomes(&report), "DFSSSDDDDD");
    assert_eq!(visited.load(Ordering::SeqCst), 7);
    // The error is kept even though `on_event` ignored it.
    assert_eq!(report.failures.len(), 1);
    let (id, failure) = &report.failures[0];
    assert_eq!(*id, ids[1]);
    assert!(matches!(failure, Failure::Returned(message) if message == "node 1 failed"));
    assert_eq!(report.outcome(ids[9]), Outcome::Done);
}

#[test]
fn skip_events_name_the_dependency_that_did_not_finish() {
    let (graph, _) = graph(4, &[(1, 0), (2, 1), (3, 2)]);
    let (report, log) = walk_logged(&graph, &opts(2), &StopHandle::new(), |_, &n| {
        if n == 0 {
            Err("no".to_owned())
        } else {
            Ok(())
        }
    });
    check(
        &log,
        expect![[r#"
            start 0
            failed 0: no
            skipped 1 (dependency 0)
            skipped 2 (dependency 1)
            skipped 3 (dependency 2)
        "#]],
    );
    assert_eq!(outcomes(&report), "FSSS");
}

#[test]
fn parallelism_bound_is_never_exceeded() {
    let (graph, _) = graph(40, &[(30, 0), (31, 1), (32, 30), (33, 32)]);
    for parallelism in [0, 1, 3, 8] {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let report = walk(
            &graph,
            &opts(parallelism),
            &StopHandle::new(),
            |_, _| -> Result<(), ()> {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(3));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            },
            |_| {},
        );
        assert!(report.all_done());
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= parallelism.max(1),
            "parallelism {parallelism}: {most} at once"
        );
    }
}

#[test]
fn independent_visits_overlap() {
    // Node 0 can only succeed if node 1 runs while node 0 is still running.
    let (graph, _) = graph(2, &[]);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(rx);
    let report = walk(
        &graph,
        &opts(2),
        &StopHandle::new(),
        |_, &n| -> Result<(), &str> {
            if n == 0 {
                let rx = rx.lock().map_err(|_| "poisoned")?;
                rx.recv_timeout(Duration::from_secs(60))
                    .map_err(|_| "node 1 never ran alongside")
            } else {
                tx.send(()).map_err(|_| "node 0 is gone")
            }
        },
        |_| {},
    );
    assert!(report.all_done(), "{:?}", report.failures);
}

#[test]
fn stop_from_inside_a_visit_skips_unstarted_nodes() {
    // Chain 0 <- 1 <- 2 <- 3 <- 4, and 5 independent; node 2 asks to stop.
    let (graph, _) = graph(6, &[(1, 0), (2, 1), (3, 2), (4, 3)]);
    let stop = StopHandle::new();
    let (report, log) = walk_logged(&graph, &opts(1), &stop, |_, &n| {
        if n == 2 {
            stop.stop();
        }
        Ok(())
    });
    check(
        &log,
        expect![[r#"
            start 0
            done 0
            start 1
            done 1
            start 2
            done 2
            skipped 3 (Stopped)
            skipped 4 (Stopped)
            skipped 5 (Stopped)
        "#]],
    );
    assert_eq!(outcomes(&report), "DDDSSS");
    assert!(report.stopped);
    assert!(stop.is_stopped());
}

#[test]
fn stop_from_another_thread_lets_the_running_visit_finish() {
    let (graph, _) = graph(3, &[(1, 0), (2, 1)]);
    let stop = StopHandle::new();
    let (ask, asked) = mpsc::channel::<()>();
    let (ack, acked) = mpsc::channel::<()>();
    let acked = Mutex::new(acked);
    let report = thread::scope(|scope| {
        let stopper = stop.clone();
        scope.spawn(move || {
            if asked.recv().is_ok() {
                stopper.stop();
                let _ = ack.send(());
            }
        });
        walk(
            &graph,
            &opts(2),
            &stop,
            |_, &n| -> Result<(), &str> {
                if n == 0 {
                    ask.send(()).map_err(|_| "stopper is gone")?;
                    let acked = acked.lock().map_err(|_| "poisoned")?;
                    acked.recv().map_err(|_| "stopper never stopped")?;
                }
                Ok(())
            },
            |_| {},
        )
    });
    assert_eq!(outcomes(&report), "DSS");
    assert!(report.stopped);
}

#[test]
fn stop_before_the_walk_starts_nothing() {
    let (graph, _) = graph(3, &[(1, 0)]);
    let stop = StopHandle::new();
    stop.stop();
    let visited = AtomicUsize::new(0);
    let (report, _) = walk_logged(&graph, &opts(4), &stop, |_, _| {
        visited.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    assert_eq!(visited.load(Ordering::SeqCst), 0);
    assert_eq!(outcomes(&report), "SSS");
    assert!(report.stopped);
}

#[test]
fn stop_during_the_last_visit_is_not_reported_as_stopped() {
    let (graph, _) = graph(2, &[(1, 0)]);
    let stop = StopHandle::new();
    let (report, _) = walk_logged(&graph, &opts(1), &stop, |_, &n| {
        if n == 1 {
            stop.stop();
        }
        Ok(())
    });
    assert!(report.all_done());
    assert!(!report.stopped);
}

#[test]
fn panic_in_a_visit_is_reported_as_a_failure() {
    let (graph, ids) = graph(4, &[(1, 0), (2, 1)]);
    let (report, log) = walk_logged(&graph, &opts(2), &StopHandle::new(), |_, &n| {
        if n == 1 {
            panic!("visit {n} exploded");
        }
        Ok(())
    });
    assert_eq!(outcomes(&report), "DFSD");
    assert!(
        log.contains("failed 1: panicked: visit 1 exploded\n"),
        "{log}"
    );
    assert!(matches!(
        &report.failures[..],
        [(id, Failure::Panicked { message })] if *id == ids[1] && message == "visit 1 exploded"
    ));
}

#[test]
fn panic_without_a_string_message_is_still_reported() {
    let (graph, _) = graph(1, &[]);
    let (report, log) = walk_logged(&graph, &opts(1), &StopHandle::new(), |_, _| {
        panic::panic_any(42_u8);
    });
    assert_eq!(outcomes(&report), "F");
    check(
        &log,
        expect![[r#"
            start 0
            failed 0: panicked: a panic without a message
        "#]],
    );
}

#[test]
fn nodes_in_or_behind_a_cycle_are_skipped_and_the_rest_runs() {
    // 0 <-> 1, 2 depends on 1, 3 depends on itself, 4 and 5 are fine.
    let (graph, _) = graph(6, &[(0, 1), (1, 0), (2, 1), (3, 3), (5, 4)]);
    let (report, log) = walk_logged(&graph, &opts(3), &StopHandle::new(), |_, _| Ok(()));
    assert_eq!(outcomes(&report), "SSSSDD");
    assert!(!report.stopped);
    assert!(
        log.ends_with(
            "skipped 0 (Cycle)\nskipped 1 (Cycle)\nskipped 2 (Cycle)\nskipped 3 (Cycle)\n"
        ),
        "{log}"
    );
}

#[test]
fn a_panicking_event_handler_does_not_hang_the_walk() {
    let (graph, _) = graph(1_000, &[]);
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        walk(
            &graph,
            &opts(2),
            &StopHandle::new(),
            |_, _| -> Result<(), ()> {
                thread::sleep(Duration::from_micros(100));
                Ok(())
            },
            |event| {
                if matches!(event, WalkEvent::Finished(..)) {
                    panic!("handler failed");
                }
            },
        )
    }));
    // Reaching this line at all is the point: the walk neither hung nor swallowed the panic.
    assert!(result.is_err());
}

#[test]
fn empty_graph_walks_to_an_empty_report() {
    let graph: Graph<()> = Graph::new();
    let report = walk(
        &graph,
        &WalkOpts::default(),
        &StopHandle::new(),
        |_, _| -> Result<(), ()> { Ok(()) },
        |_| {},
    );
    assert!(report.outcomes.is_empty() && report.failures.is_empty() && !report.stopped);
}

#[test]
fn ten_thousand_node_layered_walk_completes() {
    let graph = layered(100, 100, 3);
    let visited = AtomicUsize::new(0);
    let mut events = 0;
    let report = walk(
        &graph,
        &opts(8),
        &StopHandle::new(),
        |_, _| -> Result<(), ()> {
            visited.fetch_add(1, Ordering::Relaxed);
            Ok(())
        },
        |_| events += 1,
    );
    assert!(report.all_done());
    assert_eq!(visited.load(Ordering::Relaxed), 10_000);
    assert_eq!(events, 20_000);
}

#[test]
fn hundred_thousand_nodes_with_one_edge_each_complete() {
    let n = 100_000;
    // A chain (no parallelism possible) and a binary tree (plenty of it).
    let chain: Vec<(usize, usize)> = (1..n).map(|i| (i, i - 1)).collect();
    let tree: Vec<(usize, usize)> = (1..n).map(|i| (i, (i - 1) / 2)).collect();
    for edges in [chain, tree] {
        let (graph, _) = graph(n, &edges);
        let report = walk(
            &graph,
            &opts(4),
            &StopHandle::new(),
            |_, _| -> Result<(), ()> { Ok(()) },
            |_| {},
        );
        assert!(report.all_done());
    }
}

#[test]
fn child_stop_handle_follows_its_parents_but_not_the_other_way() {
    let root = StopHandle::new();
    let child = root.child();
    let grandchild = child.child();
    child.stop();
    assert!(child.is_stopped());
    assert!(grandchild.is_stopped());
    assert!(!root.is_stopped());

    let root = StopHandle::new();
    let grandchild = root.child().child();
    assert!(!grandchild.is_stopped());
    root.stop();
    assert!(grandchild.is_stopped());
}
