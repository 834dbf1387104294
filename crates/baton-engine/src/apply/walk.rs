//! The state one apply walk shares between its steps: the [`Runner`] (the run's context, plan,
//! store, options, observer, evaluation state, the provider worker, counters) and the small
//! helpers prepare, perform's caller and record all use. The steps add their methods to
//! `Runner` in their own files; this one only defines it.
//!
//! Must not run anything: no provider call, no state write, no evaluation.

use super::opts::ApplyOpts;
use super::worker::Worker;
use crate::context::Context;
use crate::expand::{each_values, Expansion};
use crate::model::Plan;
use crate::values::{EvalState, Repetition};
use crate::Observer;
use baton_config::Resource;
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr,
};
use baton_eval::Value;
use baton_provider::ProviderError;
use baton_state::StateStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `count.index` and `each.key`/`each.value` of one instance.
pub(super) type InstanceKeys = (Option<Value>, Option<(Value, Value)>);
/// Cached `for_each` expansions per resource in a module instance.
pub(super) type ExpansionCache =
    Mutex<HashMap<(ModuleInstance, ResourceAddr), Arc<Option<Expansion>>>>;

pub(super) struct Runner<'a> {
    pub(super) ctx: &'a Context,
    pub(super) plan: &'a Plan,
    pub(super) store: &'a dyn StateStore,
    pub(super) serial: u64,
    pub(super) opts: &'a ApplyOpts,
    /// `apply` or `rollback`, recorded on journal entries.
    pub(super) phase: &'static str,
    pub(super) observer: &'a dyn Observer,
    pub(super) state: &'a EvalState,
    /// What the provider calls run with.
    pub(super) worker: Worker,
    /// `for_each` values per resource in a module instance, evaluated once.
    pub(super) expansions: ExpansionCache,
    /// (created, updated, destroyed, imported, restored without a provider call)
    pub(super) counts: Mutex<(usize, usize, usize, usize, usize)>,
    /// Deposed keys of create-before-destroy replacements made by this walk, by address.
    pub(super) deposed: Mutex<HashMap<InstanceAddr, String>>,
    /// Waits for the outcomes of actions handed to workers.
    pub(super) waiter: baton_state::queue::Waiter,
}

pub(super) type VisitResult = Result<(), Diagnostics>;

pub(super) fn string_each(key: &Option<InstanceKey>) -> Option<(Value, Value)> {
    each_values(key, &None)
}

pub(super) fn rep_of(r: &Resource) -> Repetition {
    if r.count.is_some() {
        Repetition::Count
    } else if r.for_each.is_some() {
        Repetition::ForEach
    } else {
        Repetition::Single
    }
}

pub(super) fn attempts_note(detail: String, attempts: u32) -> String {
    if attempts > 1 {
        format!("{detail} (after {attempts} attempts)")
    } else {
        detail
    }
}

pub(super) fn provider_diag(
    addr: &InstanceAddr,
    r: &Resource,
    e: ProviderError,
    attempts: u32,
) -> Diagnostics {
    let span = e
        .attr
        .as_ref()
        .and_then(|n| r.config.attr(n).map(|a| a.expr.span))
        .unwrap_or(r.def_span);
    Diagnostic::error(e.summary, attempts_note(e.detail, attempts))
        .at(span)
        .in_context(format!("{} ({addr})", r.describe()))
        .into()
}
