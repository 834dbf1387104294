//! The run lifecycle: begin the run and journal it, walk the action graph, roll back on
//! failure, write outputs and finish the run record.
//!
//! Must not evaluate configuration or call providers itself (that is the runner's) and must not
//! print: progress goes to the [`Observer`].

use super::actions::build_graph;
use super::domains::{AfterFailure, DomainReport, Domains};
use super::opts::{ApplyOpts, FailurePolicy};
use super::perform::Worker;
use super::walk::Runner;
use crate::context::Context;
use crate::model::{Action, Plan, PlanMode};
use crate::nodes::module_of;
use crate::providers::ProviderConfigs;
use crate::statecodec::{decode_object, encode_object, encode_output};
use crate::values::{EvalState, NamedValue, Repetition};
use crate::{Event, Observer};
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, ModuleInstance, ResourceAddr, ResourceMode,
};
use baton_eval::Value;
use baton_graph::{StopHandle, WalkOpts};
use baton_provider::ProviderCtx;
use baton_state::{
    InstanceStatus, ObjectKey, OutputState, RawJson, RunRecord, RunStatus, StateError, StateStore,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What an automatic rollback did.
#[derive(Debug, Default)]
pub struct RollbackReport {
    pub ok: bool,
    pub undone: usize,
    pub diags: Diagnostics,
    /// After a rollback that did not finish: what is left to undo, one line per object.
    pub left: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ApplyReport {
    pub diags: Diagnostics,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub imported: usize,
    pub serial: u64,
    /// Root outputs after the apply: value and sensitivity.
    pub outputs: BTreeMap<String, (Value, bool)>,
    /// The walk was stopped (interrupt) before finishing.
    pub stopped: bool,
    /// Set when the run failed and was rolled back automatically.
    pub rollback: Option<RollbackReport>,
    pub status: Option<RunStatus>,
    /// The failure domains (hosts) of the run's actions and how they fared; `None` when no
    /// action has one. A run whose only failures are tolerated domain failures is not rolled
    /// back: it ends `failed`, keeping what completed (the next apply retries the failed hosts).
    pub domains: Option<DomainReport>,
    /// SHA-256 of the plan's file form (see [`crate::planfile::digest`]), computed while the
    /// run was recorded.
    pub plan_digest: Option<String>,
}

/// A short summary of a plan for the run record.
pub fn plan_summary(plan: &Plan) -> String {
    let (a, c, d) = plan.summary();
    let (i, f) = plan.summary_extra();
    let mut s = format!("{a} to add, {c} to change, {d} to destroy");
    if i > 0 {
        s = format!("{i} to import, {s}");
    }
    if f > 0 {
        s.push_str(&format!(", {f} to forget"));
    }
    s
}

/// Applies `plan` to `store`, whose current state is `prior` (the caller read it while holding
/// the state lock, which it keeps until this returns). Records the run and its journal.
pub fn apply(
    ctx: &Context,
    plan: &Plan,
    store: &dyn StateStore,
    prior: &baton_state::Snapshot,
    opts: &ApplyOpts,
    observer: &dyn Observer,
    stop: &StopHandle,
) -> Result<ApplyReport, StateError> {
    let serial = store.begin_version(opts.fence, &opts.run_id, &opts.command)?;
    let info = baton_state::lock::current_lock_info(&opts.command);
    let plan_digest: std::cell::RefCell<Option<String>> = std::cell::RefCell::new(None);
    store.begin_run(
        opts.fence,
        &RunRecord {
            id: opts.run_id.clone(),
            kind: opts.command.clone(),
            status: RunStatus::Running,
            who: if opts.who.is_empty() {
                info.who.clone()
            } else {
                opts.who.clone()
            },
            host: info.host.clone(),
            pid: info.pid,
            process_start: info.process_start.clone(),
            started_at: crate::now_rfc3339(),
            finished_at: None,
            serial,
            summary: plan_summary(plan),
            plan: RawJson::null(),
            parent: opts.parent.clone(),
            on_failure: opts.on_failure.as_str().to_string(),
        },
        // The first pass (which measures the plan) also digests it, for the audit record.
        &|w| {
            let digested = plan_digest.borrow().is_some();
            if digested {
                return crate::planfile::write_json(plan, w);
            }
            let mut d = crate::planfile::DigestWriter::new(w);
            crate::planfile::write_json(plan, &mut d)?;
            plan_digest.replace(Some(d.finish()));
            Ok(())
        },
    )?;
    // The providers' settings, for this walk and for the rollback that may follow it.
    let (mut configs, config_diags) = crate::providers::for_apply(
        ctx,
        &plan.variables,
        &plan.timestamp,
        plan.mode == PlanMode::Restore,
    );
    // Objects whose resources are gone keep the configuration state recorded for them.
    configs.learn_aliases(&ctx.config, Some(&store.current()?));
    let env = RunEnv {
        ctx,
        store,
        opts,
        observer,
        stop,
        configs: &configs,
    };
    let exec = if config_diags.has_errors() {
        Exec {
            diags: config_diags,
            counts: (0, 0, 0, 0, 0),
            stopped: false,
            state: EvalState::new(),
            domains: None,
            tolerated: false,
        }
    } else {
        let mut exec = execute(env, plan, prior, serial, "apply")?;
        let mut diags = config_diags;
        diags.extend(exec.diags);
        exec.diags = diags;
        exec
    };
    let mut report = ApplyReport {
        serial,
        diags: exec.diags,
        added: exec.counts.0,
        changed: exec.counts.1,
        destroyed: exec.counts.2,
        imported: exec.counts.3,
        stopped: exec.stopped,
        domains: exec.domains.clone(),
        plan_digest: plan_digest.into_inner(),
        ..ApplyReport::default()
    };
    let failed = report.diags.has_errors();
    let mut status = if report.stopped {
        RunStatus::Stopped
    } else if failed {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    // Automatic rollback of a failed run (never of a restore, which is itself an undo, nor of
    // a run whose only failures are hosts failing alone, within max_fail_percentage).
    if failed
        && !exec.tolerated
        && !report.stopped
        && opts.on_failure == FailurePolicy::Rollback
        && plan.mode != PlanMode::Restore
    {
        observer.event(Event::RollbackStart {
            run_id: opts.run_id.clone(),
        });
        let current = store.current()?;
        let probe = crate::rollback::Probe {
            dir: &ctx.dir,
            configs: &configs,
        };
        let (rb_plan, d) = crate::rollback::plan_for_run(
            store,
            &opts.run_id,
            &current,
            &ctx.providers,
            Some(probe),
        )?;
        let mut rb = RollbackReport {
            diags: d,
            ..RollbackReport::default()
        };
        if !rb.diags.has_errors() {
            let exec = execute(env, &rb_plan, &current, serial, "rollback")?;
            rb.undone = exec.counts.0 + exec.counts.1 + exec.counts.2 + exec.counts.4;
            rb.diags.extend(exec.diags);
            rb.ok = !rb.diags.has_errors() && !exec.stopped;
        }
        status = if rb.ok {
            RunStatus::RolledBack
        } else {
            rb.left = crate::rollback::remaining(store, &opts.run_id)?;
            RunStatus::RollbackFailed
        };
        report.rollback = Some(rb);
    }
    // A complete destroy leaves no data sources behind either, as in Terraform.
    if plan.mode == PlanMode::Destroy && !failed {
        let current = store.current()?;
        for k in current.objects.keys() {
            if k.addr.resource.mode == baton_core::ResourceMode::Data {
                store.put_object(opts.fence, serial, k, None)?;
            }
        }
    }
    // Root outputs: evaluated by the walk, or (after a rollback) as they were.
    let mut outputs: BTreeMap<String, OutputState> = BTreeMap::new();
    let rolled_back = status == RunStatus::RolledBack;
    if plan.mode == PlanMode::Restore || rolled_back {
        outputs = prior.outputs.clone();
        for (name, prev) in &prior.outputs {
            if let Ok(v) = crate::statecodec::decode_output(prev) {
                report.outputs.insert(name.clone(), (v, prev.sensitive));
            }
        }
    } else if plan.mode != PlanMode::Destroy {
        let root = ModuleInstance::root();
        for (name, o) in &ctx.config.module.outputs {
            match exec.state.get(&root, &NamedValue::Output(name.clone())) {
                Some(v) if v.is_wholly_known() && !v.is_null() => {
                    outputs.insert(name.clone(), encode_output(&v, o.sensitive));
                    report.outputs.insert(name.clone(), (v, o.sensitive));
                }
                Some(v) if v.is_null() => {}
                _ => {
                    if let Some(prev) = prior.outputs.get(name) {
                        outputs.insert(name.clone(), prev.clone());
                        if let Ok(v) = crate::statecodec::decode_output(prev) {
                            report.outputs.insert(name.clone(), (v, prev.sensitive));
                        }
                    }
                }
            }
        }
    }
    store.put_outputs(opts.fence, serial, &outputs)?;
    store.finish_version(
        opts.fence,
        serial,
        if status == RunStatus::Completed {
            "complete"
        } else {
            "failed"
        },
    )?;
    store.finish_run(opts.fence, &opts.run_id, status)?;
    report.status = Some(status);
    Ok(report)
}

/// The outcome of walking one plan.
pub(super) struct Exec {
    pub(super) diags: Diagnostics,
    /// (created, updated, destroyed, imported, restored)
    pub(super) counts: (usize, usize, usize, usize, usize),
    pub(super) stopped: bool,
    pub(super) state: EvalState,
    /// How the failure domains fared (the run's own walk only).
    pub(super) domains: Option<DomainReport>,
    /// Every failure of the walk was a domain failing alone: the run is not rolled back.
    pub(super) tolerated: bool,
}

/// What every walk of one run shares: the configuration, the store, the run's options, where
/// progress goes, the stop handle and the providers' settings.
#[derive(Clone, Copy)]
pub(super) struct RunEnv<'a> {
    pub ctx: &'a Context,
    pub store: &'a dyn StateStore,
    pub opts: &'a ApplyOpts,
    pub observer: &'a dyn Observer,
    pub stop: &'a StopHandle,
    pub configs: &'a ProviderConfigs,
}

/// Walks `plan` (the run's plan in the phase "apply", or the plan that undoes it in the phase
/// "rollback") against `prior`, writing into state version `serial`.
pub(super) fn execute(
    env: RunEnv<'_>,
    plan: &Plan,
    prior: &baton_state::Snapshot,
    serial: u64,
    phase: &'static str,
) -> Result<Exec, StateError> {
    let RunEnv {
        ctx,
        store,
        opts,
        observer,
        stop,
        configs,
    } = env;
    let resuming = opts.resume.is_some();
    // Renames (`moved` blocks) first, so every later write uses the new addresses. A resumed
    // run repeats only the renames that did not happen yet.
    let moved_prior;
    let prior = if plan.moves.is_empty() || phase != "apply" {
        prior
    } else {
        let renames: HashMap<&InstanceAddr, &InstanceAddr> =
            plan.moves.iter().map(|(f, t)| (f, t)).collect();
        let mut next = prior.clone();
        next.objects.clear();
        // Every moved object's old address is cleared before any is written at its new one,
        // so a chain of moves (`a` to `b` while `b` moves to `c`) loses nothing.
        for k in prior
            .objects
            .keys()
            .filter(|k| renames.contains_key(&k.addr))
        {
            store.put_object(opts.fence, serial, k, None)?;
        }
        for (k, obj) in &prior.objects {
            match renames.get(&k.addr) {
                Some(to) => {
                    let nk = ObjectKey {
                        addr: (*to).clone(),
                        deposed: k.deposed.clone(),
                    };
                    // Moved to another type: it now belongs to that type's provider, with the
                    // value that provider made of it (the plan's refreshed value), written here
                    // at once so no later step is needed to finish the move.
                    let mut obj = obj.clone();
                    if to.resource.type_ != k.addr.resource.type_ {
                        if let Some((info, rt)) = ctx.providers.resource_type(&to.resource.type_) {
                            obj.provider = configs.state_string(info, to);
                            obj.schema_version = rt.schema().version;
                        }
                        let deposed = (!k.deposed.is_empty()).then(|| k.deposed.clone());
                        if let Some(v) = plan.refreshed.get(&((*to).clone(), deposed)) {
                            obj.value = RawJson::from_value(&v.to_typed_json());
                        }
                    }
                    store.put_object(opts.fence, serial, &nk, Some(&obj))?;
                    next.objects.insert(nk, obj);
                }
                None => {
                    next.objects.insert(k.clone(), obj.clone());
                }
            }
        }
        moved_prior = next;
        &moved_prior
    };
    // Refresh results: objects found gone are forgotten, changed ones recorded; data source
    // results read while planning are saved. (A resumed run's interrupted predecessor did this.)
    if phase == "apply" && !resuming {
        for (k, obj) in &prior.objects {
            let key = (
                k.addr.clone(),
                if k.deposed.is_empty() {
                    None
                } else {
                    Some(k.deposed.clone())
                },
            );
            match plan.refreshed.get(&key) {
                None => {
                    let in_scope =
                        plan.targets.is_empty() || plan.changes.iter().any(|c| c.addr == k.addr);
                    let is_data = k.addr.resource.mode == ResourceMode::Data;
                    if (is_data || in_scope) && plan.mode != PlanMode::Restore {
                        store.put_object(opts.fence, serial, k, None)?;
                    }
                }
                Some(v) => {
                    // Refreshed objects were upgraded to their type's schema version.
                    let version = match k.addr.resource.mode {
                        ResourceMode::Managed => {
                            super::schema_version(&ctx.providers, &k.addr.resource.type_)
                        }
                        ResourceMode::Data => obj.schema_version,
                    };
                    if let Ok(old) = decode_object(obj) {
                        if !old.raw_equal(v)
                            || old.sensitive_paths() != v.sensitive_paths()
                            || obj.schema_version != version
                        {
                            let mut o = obj.clone();
                            o.value = RawJson::from_value(&v.to_typed_json());
                            o.schema_version = version;
                            store.put_object(opts.fence, serial, k, Some(&o))?;
                        }
                    }
                }
            }
        }
        for ((addr, deposed), v) in &plan.refreshed {
            if addr.resource.mode == ResourceMode::Data && deposed.is_none() {
                let info = ctx.providers.data_source(&addr.resource.type_);
                let provider = info
                    .map(|(p, _)| configs.state_string(p, addr))
                    .unwrap_or_default();
                let o = encode_object(v, &provider, Vec::new(), false, InstanceStatus::Ready);
                store.put_object(
                    opts.fence,
                    serial,
                    &ObjectKey::current(addr.clone()),
                    Some(&o),
                )?;
            }
        }
    }

    let eval_state = EvalState::new();
    if plan.mode != PlanMode::Restore {
        seed_values(ctx, plan, &eval_state);
    }
    let (graph, diags) = build_graph(ctx, plan);
    if diags.has_errors() {
        return Ok(Exec {
            diags,
            counts: (0, 0, 0, 0, 0),
            stopped: false,
            state: eval_state,
            domains: None,
            tolerated: false,
        });
    }
    let runner = Runner {
        ctx,
        plan,
        store,
        serial,
        opts,
        phase,
        observer,
        state: &eval_state,
        worker: Worker {
            registry: ctx.providers.clone(),
            configs: configs.clone(),
            // Commands started for this run carry its id, so that a later resume or rollback
            // can find the ones a crash left running.
            ctx: ProviderCtx {
                cancel: opts.cancel.clone(),
                run_id: Some(opts.run_id.clone()),
                ..ctx.provider_ctx()
            },
            stop: stop.clone(),
        },
        expansions: Mutex::new(HashMap::new()),
        waiter: Default::default(),
        counts: Mutex::new((0, 0, 0, 0, 0)),
        deposed: Mutex::new(
            opts.resume
                .as_ref()
                .map(|r| r.deposed.clone())
                .unwrap_or_default(),
        ),
    };
    let wopts = WalkOpts {
        parallelism: opts.parallelism.max(1),
    };
    // Under the rollback policy a failure stops new actions from starting (the run is going to
    // be undone, so starting more work only lengthens the undo); running ones finish. A user
    // interrupt still stops the walk through the parent handle.
    let walk_stop = stop.child();
    // A failure on a host (a failure domain) fails that host alone: its actions not yet
    // started are not started (an empty error: nothing to report, dependents skipped), and the
    // rest goes on, unless too many hosts failed.
    let stop_on_failure = opts.on_failure == FailurePolicy::Rollback
        && phase == "apply"
        && plan.mode != PlanMode::Restore;
    if phase == "apply" {
        crate::prepare::objects(
            &ctx.providers,
            plan.changes
                .iter()
                .filter(|c| c.action != Action::NoOp)
                .map(|c| {
                    let v = if c.after.is_null() {
                        &c.before
                    } else {
                        &c.after
                    };
                    (c.addr.resource.type_.as_str(), v)
                }),
        );
    }
    let domains = if phase == "apply" {
        Domains::of_plan(plan, opts.max_fail_percentage)
    } else {
        None
    };
    let walk = baton_graph::walk(
        &graph,
        &wopts,
        &walk_stop,
        |_, node| {
            let domain = domains.as_ref().and_then(|ds| ds.of(node));
            if let (Some(ds), Some(d)) = (&domains, domain) {
                if ds.has_failed(d) {
                    return Err(Diagnostics::new());
                }
            }
            let r = runner.visit(*node);
            if let Err(e) = &r {
                let after = match &domains {
                    Some(ds) => ds.failed(domain, e),
                    None => AfterFailure::OutsideDomains,
                };
                let stop_now = match after {
                    AfterFailure::Tolerated => false,
                    AfterFailure::OutsideDomains => stop_on_failure,
                    AfterFailure::FleetFailed => true,
                };
                if stop_now {
                    walk_stop.stop();
                }
            }
            r
        },
        |_| {},
    );
    let (domain_report, mut tolerated) = match &domains {
        Some(ds) => {
            let (r, t) = ds.finish();
            (Some(r), t)
        }
        None => (None, false),
    };
    let interrupted = walk.stopped && stop.is_stopped();
    let mut out = diags;
    let mut failures = walk.failures;
    failures.sort_by_key(|(id, _)| *id);
    for (_, f) in failures {
        match f {
            baton_graph::Failure::Returned(d) => out.extend(d),
            baton_graph::Failure::Panicked { message } => {
                tolerated = false;
                out.push(Diagnostic::error(
                    "Internal error",
                    format!("An action failed unexpectedly: {message}"),
                ))
            }
        }
    }
    let counts = runner.counts.lock().map(|g| *g).unwrap_or((0, 0, 0, 0, 0));
    if plan.mode == PlanMode::Normal && !out.has_errors() && !walk.stopped && phase == "apply" {
        out.extend(crate::checks::run(
            ctx,
            &eval_state,
            false,
            &plan.timestamp,
            &runner.worker.ctx,
            configs,
        ));
    }
    drop(runner);
    Ok(Exec {
        diags: out,
        counts,
        stopped: interrupted,
        state: eval_state,
        domains: domain_report,
        tolerated,
    })
}

/// Values known before the walk starts: root variables, and every instance's planned value.
pub(super) fn seed_values(ctx: &Context, plan: &Plan, state: &EvalState) {
    let root = ModuleInstance::root();
    for (k, v) in &plan.variables {
        state.set(&root, NamedValue::Var(k.clone()), v.clone());
    }
    let rep_of = |mi: &ModuleInstance, r: &ResourceAddr| -> Repetition {
        module_of(&ctx.config, &mi.path())
            .and_then(|m| m.resources.get(r))
            .map(|res| {
                if res.count.is_some() {
                    Repetition::Count
                } else if res.for_each.is_some() {
                    Repetition::ForEach
                } else {
                    Repetition::Single
                }
            })
            .unwrap_or(Repetition::Single)
    };
    // Resources in configuration start empty (so a resource with no instances is an empty
    // collection rather than unknown).
    for c in &plan.changes {
        if c.deposed.is_some() || c.action == Action::Delete {
            continue;
        }
        let rep = rep_of(&c.addr.module, &c.addr.resource);
        state.set_instance(
            &c.addr.module,
            &c.addr.resource,
            rep,
            c.addr.key.clone(),
            c.after.clone(),
        );
    }
    let deleted: std::collections::HashSet<&InstanceAddr> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| &c.addr)
        .collect();
    for ((addr, deposed), v) in &plan.refreshed {
        if deposed.is_some() {
            continue;
        }
        if state
            .instance(&addr.module, &addr.resource, &addr.key)
            .is_some()
        {
            continue;
        }
        if deleted.contains(addr) {
            continue;
        }
        let rep = rep_of(&addr.module, &addr.resource);
        state.set_instance(
            &addr.module,
            &addr.resource,
            rep,
            addr.key.clone(),
            v.clone(),
        );
    }
}
