//! Applying a plan: a graph of actions built from the plan (not from the configuration),
//! walked in dependency order with at most `parallelism` actions at once. Each action
//! re-evaluates its configuration with the now-known values of its dependencies, checks the
//! provider's final plan against the reviewed one, applies it, and saves the object to state
//! before anything that depends on it starts. Deletions run after their dependents are gone.
//! An action is prepared (evaluated into owned values), performed (the provider call, which
//! needs nothing else, so it may run on a worker process: see [`remote`]) and recorded
//! (journal, state, evaluation state), in that order.
//!
//! Every apply is a *run*: before an action starts its intent is journaled, and its outcome is
//! journaled in the same transaction as the state write it implies, so a crash at any point
//! leaves a journal that says exactly what is done, what is not, and what is unknown. A failed
//! action stops its dependents; independent work finishes; then, with the rollback policy, every
//! change the run completed is undone (see [`crate::rollback`]). Actions on hosts form failure
//! domains ([`domains`]): a host that fails fails alone, unless too many do. This module prints nothing:
//! progress goes to the [`Observer`].

mod actions;
pub mod domains;
mod fault;
mod opts;
mod perform;
mod prepare;
mod provisioners;
mod record;
pub mod remote;
mod run;
mod runner;
mod walk;
mod worker;

pub use domains::{domain_of, failed_domains, DomainReport};
pub use fault::{kill_this_process, Fault, FaultInjection, FaultSpecError};
pub use opts::{ApplyOpts, FailurePolicy, ResumeInfo, RetryPolicy, Workers};
pub(crate) use prepare::schema_version;
pub use remote::{release_task_providers, run_resource_task, RESOURCE_TASK};
pub use run::{apply, plan_summary, ApplyReport, RollbackReport};
