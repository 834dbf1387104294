//! Planning: refresh every object in state through its provider (in parallel), then walk the
//! configuration graph in dependency order evaluating variables, locals, module expansions,
//! resources and outputs, and decide per resource instance: no-op, create, update, replace,
//! delete or read. The result is a [`Plan`]; nothing is written anywhere.
//!
//! The walk evaluates every node it can and skips only nodes whose dependencies failed, so one
//! plan reports every independent error.
//!
//! `run` is the entry point and the walk; `refresh`, `resource`, `managed`, `data`, `imports`,
//! `orphans` and `outputs` each add methods to the one `Planner` for their concern.

mod data;
mod imports;
mod managed;
mod opts;
mod orphans;
mod outputs;
mod refresh;
mod resource;
mod run;

pub use opts::{ObjKey, PlanOpts};
pub use run::plan;
