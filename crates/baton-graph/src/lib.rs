//! A generic dependency graph: nodes carrying opaque payloads, "depends on" edges, cycle
//! reports that name every member in order, a deterministic topological order, Graphviz DOT
//! output, and a bounded parallel walker that stops a failed node's dependents while letting
//! independent work finish.
//!
//! This crate must know nothing about infrastructure (no addresses, resources or providers):
//! payloads are type parameters, and callers give them meaning. It does no I/O and has no async
//! runtime; the walker uses plain `std` threads.
//!
//! Edge direction everywhere: `add_edge(from, to)` means *`from` depends on `to`*, so `to` is
//! visited before `from`.

mod cycles;
mod dot;
mod graph;
mod walk;

pub use graph::{Graph, NodeId};
pub use walk::{walk, Failure, Outcome, SkipReason, StopHandle, WalkEvent, WalkOpts, WalkReport};
