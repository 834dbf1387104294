//! Workflows: one tracked operation across stacks, commands, approvals and child workflows.
//! `load` reads the `*.baton.hcl` language into `model`; `graph` is the step graph; `cron`
//! the schedules' time arithmetic.
//!
//! Architecture invariant: a workflow's stack steps go through the engine's run lifecycle
//! (`baton_engine::lifecycle`), never around it, and a workflow run's progress is recorded
//! in a `WorkflowStore` before the next step is scheduled. Nothing here prints.

pub mod agent;
pub mod cron;
pub mod exec;
pub mod graph;
pub mod load;
pub mod model;
pub mod preview;
mod scope;

pub use load::{load_dir, load_texts, SUFFIX};
pub use model::{
    ApprovalRules, Input, Limit, Schedule, Step, StepKind, Trigger, Workflow, Workflows,
};
