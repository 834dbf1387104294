//! Applying a plan: a graph of actions built from the plan (not from the configuration),
//! walked in dependency order with at most `parallelism` actions at once. Each action
//! re-evaluates its configuration with the now-known values of its dependencies, checks the
//! provider's final plan against the reviewed one, applies it, and saves the object to state
//! before anything that depends on it starts. Deletions run after their dependents are gone.
//!
//! Every apply is a *run*: before an action starts its intent is journaled, and its outcome is
//! journaled in the same transaction as the state write it implies, so a crash at any point
//! leaves a journal that says exactly what is done, what is not, and what is unknown. A failed
//! action stops its dependents; independent work finishes; then, with the rollback policy, every
//! change the run completed is undone (see [`crate::rollback`]). This module prints nothing:
//! progress goes to the [`Observer`].

use crate::body::eval_body;
use crate::context::Context;
use crate::expand::{count_index, each_values, expand, Expansion};
use crate::graph::NodeKey;
use crate::model::Checkable;
use crate::model::{Action, ActionReason, Plan, PlanMode, ResourceChange};
use crate::nodes::{module_of, CheckSite, NodeEval};
use crate::statecodec::{decode_object, encode_object, encode_output};
use crate::values::{EvalState, NamedValue, Repetition};
use crate::{Event, Observer};
use baton_config::{OnFailure, ProvisionerWhen, Resource};
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr, ResourceMode,
};
use baton_eval::Value;
use baton_graph::{Graph, NodeId, StopHandle, WalkOpts};
use baton_provider::exec::{run, CommandSpec};
use baton_provider::plan::{mark_schema_sensitive, proposed_new};
use baton_provider::{ApplyRequest, ErrorKind, PlanRequest, ProviderCtx, ProviderError};
use baton_state::{
    EntryOutcome, EntryStatus, Fence, InstanceStatus, JournalEntry, ObjectKey, OutputState,
    RawJson, RunRecord, RunStatus, StateError, StateStore, StateWrite,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Retries of retryable provider failures: `attempts` in all, exponential backoff from `base`
/// capped at `cap`, with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        }
    }
}

pub use baton_config::FailurePolicy;

/// What a resumed run already knows from the interrupted one.
#[derive(Clone, Debug, Default)]
pub struct ResumeInfo {
    /// Create/update/read parts of changes (by index in the plan) already done, with the
    /// object they produced.
    pub done_apply: HashMap<usize, Option<Value>>,
    /// Delete parts already done.
    pub done_destroy: HashSet<usize>,
    /// Parts whose outcome is unknown (the process died while they ran): the real object is
    /// checked before acting, so nothing is created twice.
    pub probe_apply: HashSet<usize>,
    pub probe_destroy: HashSet<usize>,
    /// Deposed keys made by the interrupted run's create-before-destroy replacements.
    pub deposed: HashMap<InstanceAddr, String>,
}

#[derive(Clone, Debug)]
pub struct ApplyOpts {
    pub parallelism: usize,
    pub run_id: String,
    /// `apply`, `destroy`, `resume` or `rollback`: the run's kind and the version's command.
    pub command: String,
    pub retry: RetryPolicy,
    pub on_failure: FailurePolicy,
    /// The run this one resumes or rolls back.
    pub parent: Option<String>,
    pub resume: Option<ResumeInfo>,
    /// Set to kill in-flight actions (a second interrupt); they are reported as failed.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
    /// A fault to inject (tests and chaos drills; the binary reads `BATON_FAULT_INJECT`).
    pub fault: Option<FaultInjection>,
    /// The fencing token of the state lock the caller holds ([`baton_state::LockGuard::fence`]);
    /// every write of the run carries it, and fails once another holder took the lock over.
    pub fence: Fence,
}

/// A fault injected into the apply phase of a run: `fail:K` makes the K-th action fail before
/// it starts; `kill:K` makes the process kill itself (SIGKILL) right after the K-th action's
/// intent is journaled, before the provider is called — the worst moment for a crash.
/// Actions are counted from 1 across the run's apply phase; clones share the count.
#[derive(Clone, Debug)]
pub struct FaultInjection {
    pub fault: Fault,
    /// The action (1-based) it hits.
    pub at: u64,
    seen: Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Fail,
    Kill,
}

/// A fault injection spec that is not `fail:K` or `kill:K`.
#[derive(Debug, thiserror::Error)]
#[error("invalid fault injection {spec:?}: expected fail:K or kill:K with K at least 1")]
pub struct FaultSpecError {
    pub spec: String,
}

impl FaultInjection {
    pub fn new(fault: Fault, at: u64) -> FaultInjection {
        FaultInjection {
            fault,
            at,
            seen: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }
}

impl std::str::FromStr for FaultInjection {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = || FaultSpecError {
            spec: spec.to_string(),
        };
        let (what, k) = spec.split_once(':').ok_or_else(err)?;
        let fault = match what.trim() {
            "fail" => Fault::Fail,
            "kill" => Fault::Kill,
            _ => return Err(err()),
        };
        match k.trim().parse::<u64>() {
            Ok(at) if at >= 1 => Ok(FaultInjection::new(fault, at)),
            _ => Err(err()),
        }
    }
}

impl Default for ApplyOpts {
    fn default() -> Self {
        ApplyOpts {
            parallelism: 10,
            run_id: String::new(),
            command: "apply".into(),
            retry: RetryPolicy::default(),
            on_failure: FailurePolicy::Rollback,
            parent: None,
            resume: None,
            cancel: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            fault: None,
            // No lock: matches no acquisition (tokens start at 1), so writes are refused.
            fence: Fence::default(),
        }
    }
}

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
    /// SHA-256 of the plan's file form (see [`crate::planfile::digest`]), computed while the
    /// run was recorded.
    pub plan_digest: Option<String>,
}

#[derive(Clone, Copy, Debug)]
enum ANode {
    Config(NodeId),
    Apply(usize),
    Destroy(usize),
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
            who: info.who.clone(),
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
    let exec = execute(
        ctx, plan, store, prior, serial, opts, "apply", observer, stop,
    )?;
    let mut report = ApplyReport {
        serial,
        diags: exec.diags,
        added: exec.counts.0,
        changed: exec.counts.1,
        destroyed: exec.counts.2,
        imported: exec.counts.3,
        stopped: exec.stopped,
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
    // Automatic rollback of a failed run (never of a restore, which is itself an undo).
    if failed
        && !report.stopped
        && opts.on_failure == FailurePolicy::Rollback
        && plan.mode != PlanMode::Restore
    {
        observer.event(Event::RollbackStart {
            run_id: opts.run_id.clone(),
        });
        let current = store.current()?;
        let (rb_plan, d) =
            crate::rollback::plan_for_run(store, &opts.run_id, &current, Some(&ctx.dir))?;
        let mut rb = RollbackReport {
            diags: d,
            ..RollbackReport::default()
        };
        if !rb.diags.has_errors() {
            let exec = execute(
                ctx, &rb_plan, store, &current, serial, opts, "rollback", observer, stop,
            )?;
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
struct Exec {
    diags: Diagnostics,
    /// (created, updated, destroyed, imported, restored)
    counts: (usize, usize, usize, usize, usize),
    stopped: bool,
    state: EvalState,
}

#[allow(clippy::too_many_arguments)]
fn execute(
    ctx: &Context,
    plan: &Plan,
    store: &dyn StateStore,
    prior: &baton_state::Snapshot,
    serial: u64,
    opts: &ApplyOpts,
    phase: &'static str,
    observer: &dyn Observer,
    stop: &StopHandle,
) -> Result<Exec, StateError> {
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
        for (k, obj) in &prior.objects {
            match renames.get(&k.addr) {
                Some(to) => {
                    let nk = ObjectKey {
                        addr: (*to).clone(),
                        deposed: k.deposed.clone(),
                    };
                    store.put_object(opts.fence, serial, k, None)?;
                    store.put_object(opts.fence, serial, &nk, Some(obj))?;
                    next.objects.insert(nk, obj.clone());
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
                    if let Ok(old) = decode_object(obj) {
                        if !old.raw_equal(v) || old.sensitive_paths() != v.sensitive_paths() {
                            let mut o = obj.clone();
                            o.value = RawJson::from_value(&v.to_typed_json());
                            store.put_object(opts.fence, serial, k, Some(&o))?;
                        }
                    }
                }
            }
        }
        for ((addr, deposed), v) in &plan.refreshed {
            if addr.resource.mode == ResourceMode::Data && deposed.is_none() {
                let info = baton_provider::registry().data_source(&addr.resource.type_);
                let provider = info.map(|(p, _)| p.state_string()).unwrap_or_default();
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
        // Commands started for this run carry its id, so that a later resume or rollback can
        // find the ones a crash left running.
        pctx: ProviderCtx {
            cancel: opts.cancel.clone(),
            run_id: Some(opts.run_id.clone()),
            ..ProviderCtx::new(ctx.dir.clone())
        },
        expansions: Mutex::new(HashMap::new()),
        counts: Mutex::new((0, 0, 0, 0, 0)),
        stop: stop.clone(),
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
    let stop_on_failure = opts.on_failure == FailurePolicy::Rollback
        && phase == "apply"
        && plan.mode != PlanMode::Restore;
    let walk = baton_graph::walk(
        &graph,
        &wopts,
        &walk_stop,
        |_, node| {
            let r = runner.visit(*node);
            if r.is_err() && stop_on_failure {
                walk_stop.stop();
            }
            r
        },
        |_| {},
    );
    let interrupted = walk.stopped && stop.is_stopped();
    let mut out = diags;
    let mut failures = walk.failures;
    failures.sort_by_key(|(id, _)| *id);
    for (_, f) in failures {
        match f {
            baton_graph::Failure::Returned(d) => out.extend(d),
            baton_graph::Failure::Panicked { message } => out.push(Diagnostic::error(
                "Internal error",
                format!("An action failed unexpectedly: {message}"),
            )),
        }
    }
    let counts = runner.counts.lock().map(|g| *g).unwrap_or((0, 0, 0, 0, 0));
    if plan.mode == PlanMode::Normal && !out.has_errors() && !walk.stopped && phase == "apply" {
        out.extend(crate::checks::run(
            ctx,
            &eval_state,
            false,
            &plan.timestamp,
            &runner.pctx,
        ));
    }
    drop(runner);
    Ok(Exec {
        diags: out,
        counts,
        stopped: interrupted,
        state: eval_state,
    })
}

/// Values known before the walk starts: root variables, and every instance's planned value.
fn seed_values(ctx: &Context, plan: &Plan, state: &EvalState) {
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

/// The resource a change belongs to, as dependency lists name it (module path, no keys).
fn config_resource(addr: &InstanceAddr) -> String {
    let p = addr.module.path();
    if p.is_root() {
        addr.resource.to_string()
    } else {
        format!("{p}.{}", addr.resource)
    }
}

fn build_graph(ctx: &Context, plan: &Plan) -> (Graph<ANode>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut g: Graph<ANode> = Graph::new();
    let cg = &ctx.graph.graph;
    let destroy_mode = matches!(plan.mode, PlanMode::Destroy | PlanMode::Restore);
    // Config nodes mirror the configuration graph (same ids).
    let mut cfg_ids: Vec<NodeId> = Vec::new();
    if !destroy_mode {
        for id in cg.ids() {
            cfg_ids.push(g.add_node(ANode::Config(id)));
        }
        for id in cg.ids() {
            for d in cg.dependencies(id) {
                g.add_edge(cfg_ids[id.index()], cfg_ids[d.index()]);
            }
        }
    }
    let mut apply_nodes: HashMap<usize, NodeId> = HashMap::new();
    let mut destroy_nodes: HashMap<usize, NodeId> = HashMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::NoOp if c.importing.is_some() && plan.mode != PlanMode::Restore => {
                apply_nodes.insert(i, g.add_node(ANode::Apply(i)));
            }
            Action::NoOp => {}
            Action::Forget => {
                destroy_nodes.insert(i, g.add_node(ANode::Destroy(i)));
            }
            Action::Create | Action::Update | Action::Read => {
                apply_nodes.insert(i, g.add_node(ANode::Apply(i)));
            }
            Action::Delete => {
                destroy_nodes.insert(i, g.add_node(ANode::Destroy(i)));
            }
            Action::DeleteThenCreate | Action::CreateThenDelete => {
                apply_nodes.insert(i, g.add_node(ANode::Apply(i)));
                destroy_nodes.insert(i, g.add_node(ANode::Destroy(i)));
            }
        }
    }
    // Create/update: after the resource's dependencies; the resource waits for its instances.
    for (&i, &n) in &apply_nodes {
        let c = &plan.changes[i];
        if !destroy_mode {
            let key = NodeKey::Resource(c.addr.module.path(), c.addr.resource.clone());
            if let Some(rid) = ctx.graph.id(&key) {
                for d in cg.dependencies(rid) {
                    g.add_edge(n, cfg_ids[d.index()]);
                }
                g.add_edge(cfg_ids[rid.index()], n);
            }
        }
        match c.action {
            Action::DeleteThenCreate => {
                if let Some(&dn) = destroy_nodes.get(&i) {
                    g.add_edge(n, dn);
                }
            }
            Action::CreateThenDelete => {
                if let Some(&dn) = destroy_nodes.get(&i) {
                    g.add_edge(dn, n);
                }
            }
            _ => {}
        }
    }
    // Destroys: a resource is destroyed after everything that depended on it.
    let mut destroy_by_res: HashMap<String, Vec<usize>> = HashMap::new();
    for &i in destroy_nodes.keys() {
        destroy_by_res
            .entry(config_resource(&plan.changes[i].addr))
            .or_default()
            .push(i);
    }
    let mut apply_by_res: HashMap<String, Vec<usize>> = HashMap::new();
    for &i in apply_nodes.keys() {
        apply_by_res
            .entry(config_resource(&plan.changes[i].addr))
            .or_default()
            .push(i);
    }
    for (&i, &dn) in &destroy_nodes {
        let b = &plan.changes[i];
        for dep in &b.dependencies {
            // b depends on dep: dep's destroys wait for b's destroy.
            for &j in destroy_by_res.get(dep).map(Vec::as_slice).unwrap_or(&[]) {
                if j != i {
                    g.add_edge(destroy_nodes[&j], dn);
                }
            }
        }
    }
    // Restoring: objects are (re)created in dependency order, from their recorded dependencies.
    if plan.mode == PlanMode::Restore {
        for (&i, &an) in &apply_nodes {
            for dep in &plan.changes[i].dependencies {
                for &j in apply_by_res.get(dep).map(Vec::as_slice).unwrap_or(&[]) {
                    if j != i {
                        g.add_edge(an, apply_nodes[&j]);
                    }
                }
            }
        }
    }
    for (&i, &an) in &apply_nodes {
        let b = &plan.changes[i];
        for dep in &b.dependencies {
            for &j in destroy_by_res.get(dep).map(Vec::as_slice).unwrap_or(&[]) {
                let a = &plan.changes[j];
                // A create-before-destroy replacement (or a plain delete) of something this
                // object uses is destroyed only after this object moved on.
                if matches!(a.action, Action::CreateThenDelete | Action::Delete) {
                    g.add_edge(destroy_nodes[&j], an);
                }
            }
        }
    }
    let cycles = g.cycles();
    if !cycles.is_empty() {
        let names: Vec<String> = cycles[0]
            .iter()
            .map(|id| match g.node(*id) {
                ANode::Config(c) => cg.node(*c).to_string(),
                ANode::Apply(i) => format!("{} (apply)", plan.changes[*i].addr),
                ANode::Destroy(i) => format!("{} (destroy)", plan.changes[*i].addr),
            })
            .collect();
        diags.push(Diagnostic::error(
            "Cycle in the apply graph",
            format!("The planned actions depend on each other in a loop: {}. This can happen when create_before_destroy is set on a resource but not on the resources it depends on.", names.join(" → ")),
        ));
    }
    (g, diags)
}

/// `count.index` and `each.key`/`each.value` of one instance.
type InstanceKeys = (Option<Value>, Option<(Value, Value)>);
/// Cached `for_each` expansions per resource in a module instance.
type ExpansionCache = Mutex<HashMap<(ModuleInstance, ResourceAddr), Arc<Option<Expansion>>>>;

struct Runner<'a> {
    ctx: &'a Context,
    plan: &'a Plan,
    store: &'a dyn StateStore,
    serial: u64,
    opts: &'a ApplyOpts,
    /// `apply` or `rollback`, recorded on journal entries.
    phase: &'static str,
    observer: &'a dyn Observer,
    state: &'a EvalState,
    pctx: ProviderCtx,
    /// `for_each` values per resource in a module instance, evaluated once.
    expansions: ExpansionCache,
    /// (created, updated, destroyed, imported, restored without a provider call)
    counts: Mutex<(usize, usize, usize, usize, usize)>,
    stop: StopHandle,
    /// Deposed keys of create-before-destroy replacements made by this walk, by address.
    deposed: Mutex<HashMap<InstanceAddr, String>>,
}

type VisitResult = Result<(), Diagnostics>;

fn state_err(e: StateError) -> Diagnostics {
    Diagnostic::error("Failed to save state", e.to_string()).into()
}

/// A journaled action in progress.
struct Journaled {
    seq: u64,
    started: Instant,
}

impl Runner<'_> {
    fn nodes(&self) -> NodeEval<'_> {
        NodeEval {
            ctx: self.ctx,
            state: self.state,
            planning: false,
            validate_only: false,
            // A saved plan applied later still sees the time it was made.
            plan_timestamp: Some(&self.plan.timestamp),
        }
    }

    fn visit(&self, n: ANode) -> VisitResult {
        match n {
            ANode::Config(id) => self.config_node(id),
            ANode::Apply(i) => self.apply_change(i),
            ANode::Destroy(i) => self.destroy_change(i),
        }
    }

    // ----- the journal -----

    /// Records the intent of an action before it starts.
    fn begin(
        &self,
        addr: &InstanceAddr,
        deposed: &str,
        action: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Journaled, Diagnostics> {
        let enc = |v: Option<&Value>| match v {
            Some(v) if !v.is_null() => RawJson::from_value(&v.to_typed_json()),
            _ => RawJson::null(),
        };
        let injected = fault_injection(self.opts.fault.as_ref(), self.phase, addr);
        let seq = self
            .store
            .journal_start(
                self.opts.fence,
                &JournalEntry {
                    run_id: self.opts.run_id.clone(),
                    seq: 0,
                    addr: addr.to_string(),
                    deposed: deposed.to_string(),
                    action: action.to_string(),
                    prior: enc(prior),
                    planned: enc(planned),
                    status: EntryStatus::Started,
                    new_value: None,
                    error: None,
                    attempts: 0,
                    started_at: crate::now_rfc3339(),
                    duration_ms: None,
                    phase: self.phase.to_string(),
                },
            )
            .map_err(state_err)?;
        if injected == Ok(Injected::KillAfterIntent) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
        let j = Journaled {
            seq,
            started: Instant::now(),
        };
        if let Err(d) = injected {
            // An injected failure is journaled like a real one.
            self.failed(&j, 1, &d);
            return Err(d);
        }
        Ok(j)
    }

    /// Records a successful outcome together with the state writes it implies.
    fn done(
        &self,
        j: &Journaled,
        attempts: u32,
        new: Option<&Value>,
        writes: &[(ObjectKey, Option<baton_state::InstanceState>)],
    ) -> VisitResult {
        let w: Vec<StateWrite<'_>> = writes
            .iter()
            .map(|(k, o)| StateWrite {
                serial: self.serial,
                key: k,
                object: o.as_ref(),
            })
            .collect();
        self.store
            .journal_finish(
                self.opts.fence,
                &self.opts.run_id,
                j.seq,
                &EntryOutcome {
                    status: EntryStatus::Done,
                    new_value: Some(match new {
                        Some(v) => RawJson::from_value(&v.to_typed_json()),
                        None => RawJson::null(),
                    }),
                    error: None,
                    attempts,
                    duration_ms: j.started.elapsed().as_millis() as u64,
                },
                &w,
            )
            .map_err(state_err)
    }

    /// Records a failed outcome. The error text must not contain sensitive values (provider
    /// errors never do).
    fn failed(&self, j: &Journaled, attempts: u32, error: &Diagnostics) {
        let text: Vec<String> = error
            .errors()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        let _ = self.store.journal_finish(
            self.opts.fence,
            &self.opts.run_id,
            j.seq,
            &EntryOutcome {
                status: EntryStatus::Failed,
                new_value: None,
                error: Some(text.join("; ")),
                attempts,
                duration_ms: j.started.elapsed().as_millis() as u64,
            },
            &[],
        );
    }

    fn config_node(&self, id: NodeId) -> VisitResult {
        let key = self.ctx.graph.graph.node(id);
        let d = match key {
            NodeKey::Var(p, n) => {
                if p.is_root() {
                    Diagnostics::new()
                } else {
                    self.nodes().var(p, n, &|_, _| Ok(None)).1
                }
            }
            NodeKey::Local(p, n) => self.nodes().local(p, n),
            NodeKey::Output(p, n) => self.nodes().output(p, n),
            NodeKey::ModuleCall(p, n) => self.nodes().module_call(p, n),
            NodeKey::Resource(p, r) => {
                // A resource with no instances is still an (empty) collection to references.
                if let Some(res) = module_of(&self.ctx.config, p).and_then(|m| m.resources.get(r)) {
                    for mi in self.state.module_instances(p) {
                        if !self.state.has_resource(&mi, r) {
                            self.state.set_resource(
                                &mi,
                                r,
                                crate::values::ResourceValues {
                                    repetition: rep_of(res),
                                    instances: crate::values::Instances::Empty,
                                },
                            );
                        }
                    }
                }
                Diagnostics::new()
            }
        };
        if d.has_errors() {
            Err(d)
        } else {
            Ok(())
        }
    }

    fn resource_config(&self, addr: &InstanceAddr) -> Option<&Resource> {
        module_of(&self.ctx.config, &addr.module.path())
            .and_then(|m| m.resources.get(&addr.resource).map(|r| &**r))
    }

    /// count.index and each.* of an instance (for_each evaluated once per resource).
    fn instance_keys(
        &self,
        addr: &InstanceAddr,
        r: &Resource,
    ) -> Result<InstanceKeys, Diagnostics> {
        let count = count_index(&addr.key);
        if r.for_each.is_none() {
            return Ok((count, None));
        }
        let k = (addr.module.clone(), addr.resource.clone());
        let cached = self.expansions.lock().ok().and_then(|m| m.get(&k).cloned());
        let exp = match cached {
            Some(e) => e,
            None => {
                let nodes = self.nodes();
                let scope = nodes.scope(&addr.module);
                let mut ev = nodes.evaluator(&scope);
                let e = expand(&mut ev, None, r.for_each.as_deref(), false)
                    .map_err(|d| Diagnostics::from(d.in_context(r.describe())))?;
                let e = Arc::new(e);
                if let Ok(mut m) = self.expansions.lock() {
                    m.insert(k, e.clone());
                }
                e
            }
        };
        let each_value = exp.as_ref().as_ref().and_then(|e| {
            e.keys
                .iter()
                .find(|(key, _)| *key == addr.key)
                .and_then(|(_, v)| v.clone())
        });
        Ok((count, each_values(&addr.key, &each_value)))
    }

    fn eval_instance_config(
        &self,
        c: &ResourceChange,
        r: &Resource,
        schema: &baton_provider::Schema,
    ) -> Result<(Value, InstanceKeys), Diagnostics> {
        let (count, each) = self.instance_keys(&c.addr, r)?;
        let nodes = self.nodes();
        let mut scope = nodes.scope(&c.addr.module);
        scope.count_index = count.clone();
        scope.each = each.clone();
        let mut ev = nodes.evaluator(&scope);
        let (v, d) = eval_body(&mut ev, &r.config, schema, r.def_span, &r.describe());
        if d.has_errors() {
            return Err(d);
        }
        Ok((v, (count, each)))
    }

    fn bump(&self, action: Action) {
        if let Ok(mut c) = self.counts.lock() {
            match action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::NoOp => c.3 += 1,
                _ => c.4 += 1,
            }
        }
    }

    /// The retry policy of a resource: its `retry` block over the run's policy.
    fn retry_policy(&self, r: Option<&Resource>) -> RetryPolicy {
        let mut p = self.opts.retry;
        if let Some(retry) = r.and_then(|r| r.retry.as_deref()) {
            p.attempts = retry.attempts.unwrap_or(p.attempts);
            p.base = retry.backoff.unwrap_or(p.base);
            p.cap = retry.max_backoff.unwrap_or(p.cap);
        }
        p
    }

    /// The provider context for one action: the resource's `timeouts` entry applies.
    fn action_ctx(&self, r: Option<&Resource>, which: &str) -> ProviderCtx {
        let mut ctx = self.pctx.clone();
        ctx.timeout = r
            .and_then(|r| r.timeouts.as_deref())
            .and_then(|t| t.get(which));
        ctx
    }

    /// Calls `f`, retrying retryable failures with exponential backoff and jitter. Returns the
    /// result and the number of attempts made.
    fn with_retries<T>(
        &self,
        policy: RetryPolicy,
        mut f: impl FnMut() -> Result<T, ProviderError>,
    ) -> (Result<T, ProviderError>, u32) {
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return (Ok(v), attempt),
                Err(e)
                    if e.kind == ErrorKind::Retryable
                        && attempt < policy.attempts
                        && !self.stop.is_stopped()
                        && !self.pctx.is_cancelled() =>
                {
                    let exp = policy.base.saturating_mul(1 << (attempt - 1).min(16));
                    let capped = exp.min(policy.cap);
                    // Full jitter on half of the delay: between 50% and 100% of it.
                    let delay = capped.mul_f64(0.5 + rand_fraction() * 0.5);
                    let until = Instant::now() + delay;
                    while Instant::now() < until && !self.pctx.is_cancelled() {
                        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
                    }
                    attempt += 1;
                }
                Err(e) => return (Err(e), attempt),
            }
        }
    }

    fn resumed(&self, i: usize) -> Option<&Option<Value>> {
        self.opts.resume.as_ref().and_then(|r| r.done_apply.get(&i))
    }

    fn probing(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.probe_apply.contains(&i))
    }

    fn resumed_destroy(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.done_destroy.contains(&i))
    }

    fn probing_destroy(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.probe_destroy.contains(&i))
    }

    fn apply_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if let Some(done) = self.resumed(i) {
            // Done by the interrupted run: only its result is needed here.
            if let (Some(v), Some(r)) = (done, self.resource_config(&c.addr)) {
                self.state.set_instance(
                    &c.addr.module,
                    &c.addr.resource,
                    rep_of(r),
                    c.addr.key.clone(),
                    v.clone(),
                );
            }
            return Ok(());
        }
        if c.action == Action::Read {
            return self.read_data(c);
        }
        if self.plan.mode == PlanMode::Restore {
            return self.restore_change(c);
        }
        let reg = baton_provider::registry();
        let Some((info, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let Some(r) = self.resource_config(&c.addr) else {
            return Err(Diagnostic::error(
                "Missing configuration",
                format!("The configuration for {} is gone.", c.addr),
            )
            .into());
        };
        let schema = rt.schema();
        let key = ObjectKey::current(c.addr.clone());
        if let Some(id) = &c.importing {
            // Adopt the imported object first: it is in state even if the change fails.
            self.observer.event(Event::ApplyStart {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                id: Some(id.clone()),
            });
            let j = self.begin(&c.addr, "", "import", None, Some(&c.before))?;
            let obj = encode_object(
                &c.before,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.done(&j, 1, Some(&c.before), &[(key.clone(), Some(obj))])?;
            self.observer.event(Event::ApplyDone {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                elapsed: j.started.elapsed(),
                id: Some(id.clone()),
                attempts: 1,
            });
            self.bump(Action::NoOp);
            if c.action == Action::NoOp {
                return Ok(());
            }
        }
        let (config, (count, each)) = self.eval_instance_config(c, r, schema)?;
        let pre = self.nodes().check_rules(CheckSite {
            module: &c.addr.module,
            object: Checkable::Resource(c.addr.resource.clone()),
            key: c.addr.key.clone(),
            rules: &r.lifecycle.preconditions,
            summary: "Resource precondition failed",
            subject: &c.addr.to_string(),
            self_value: None,
            count: count.clone(),
            each: each.clone(),
        });
        if pre.has_errors() {
            return Err(pre);
        }
        let creating = matches!(
            c.action,
            Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete
        );
        let prior = if creating { None } else { Some(&c.before) };
        // Apply-time ignore_changes keeps what the plan decided.
        let config = if creating {
            config
        } else {
            keep_ignored(&config, &c.after, r, schema)
        };
        let proposed = proposed_new(schema, prior, &config);
        let final_plan = rt
            .plan(PlanRequest {
                prior,
                config: &config,
                proposed,
            })
            .map_err(|e| provider_diag(&c.addr, r, e, 1))?;
        let planned = mark_schema_sensitive(
            schema,
            final_plan.planned.mark_paths(&config.sensitive_paths()),
        );
        if let Some(path) = inconsistent(&c.after, &planned) {
            return Err(Diagnostic::error(
                "Provider produced inconsistent final plan",
                format!("When expanding the plan for {} to include new values learned so far during apply, the provider produced a value for .{path} that differs from the reviewed plan. This is a bug in the provider, or the configuration changed between plan and apply.", c.addr),
            )
            .at(r.def_span)
            .into());
        }
        let display_action = match c.action {
            Action::DeleteThenCreate | Action::CreateThenDelete => Action::Create,
            a => a,
        };
        let which = if creating { "create" } else { "update" };
        let pctx = self.action_ctx(Some(r), which);
        // A resumed create whose outcome was lost: look for the object before creating again.
        if creating && self.probing(i) {
            let found = rt
                .find(&pctx, &planned)
                .map_err(|e| provider_diag(&c.addr, r, e, 1))?;
            if let Some(found) = found.filter(|v| v.is_wholly_known()) {
                let j = self.begin(&c.addr, "", which, prior, Some(&planned))?;
                let new =
                    mark_schema_sensitive(schema, found.mark_paths(&planned.sensitive_paths()));
                let obj = encode_object(
                    &new,
                    &info.state_string(),
                    c.dependencies.clone(),
                    r.lifecycle.create_before_destroy,
                    InstanceStatus::Ready,
                );
                self.done(&j, 0, Some(&new), &[(key.clone(), Some(obj))])?;
                self.state.set_instance(
                    &c.addr.module,
                    &c.addr.resource,
                    rep_of(r),
                    c.addr.key.clone(),
                    new,
                );
                return Ok(());
            }
        }
        if c.action == Action::CreateThenDelete {
            // The old object becomes deposed until the new one exists.
            if let Some(obj) = self
                .store
                .current()
                .ok()
                .and_then(|s| s.objects.get(&key).cloned())
            {
                let dk = ObjectKey {
                    addr: c.addr.clone(),
                    deposed: deposed_key(&c.addr),
                };
                let j = self.begin(
                    &c.addr,
                    &dk.deposed,
                    "depose",
                    Some(&c.before),
                    Some(&c.before),
                )?;
                self.done(
                    &j,
                    0,
                    Some(&c.before),
                    &[(dk.clone(), Some(obj)), (key.clone(), None)],
                )?;
                if let Ok(mut m) = self.deposed.lock() {
                    m.insert(c.addr.clone(), dk.deposed.clone());
                }
            }
        }
        let old_id = c
            .before
            .get_attr("id")
            .and_then(|v| v.as_str().map(str::to_string));
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: display_action,
            id: if display_action == Action::Update {
                old_id
            } else {
                None
            },
        });
        let j = self.begin(&c.addr, "", which, prior, Some(&planned))?;
        let (result, attempts) = self.with_retries(self.retry_policy(Some(r)), || {
            rt.apply(ApplyRequest {
                prior,
                planned: Some(&planned),
                config: &config,
                ctx: &pctx,
            })
        });
        let new = match result {
            Ok(Some(v)) => mark_schema_sensitive(schema, v.mark_paths(&planned.sensitive_paths())),
            Ok(None) => {
                let d: Diagnostics = Diagnostic::error(
                    "Provider returned no object",
                    format!("The provider returned no object after applying {}.", c.addr),
                )
                .into();
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
        };
        // With create-time provisioners to run, the object is recorded tainted until they all
        // succeed, so a crash in between leaves it to be replaced, not taken as complete.
        let has_provisioners = creating
            && r.provisioners
                .iter()
                .any(|p| p.when == ProvisionerWhen::Create);
        let status = if has_provisioners {
            InstanceStatus::Tainted
        } else {
            InstanceStatus::Ready
        };
        let obj = encode_object(
            &new,
            &info.state_string(),
            c.dependencies.clone(),
            r.lifecycle.create_before_destroy,
            status,
        );
        self.done(&j, attempts, Some(&new), &[(key.clone(), Some(obj))])?;
        self.state.set_instance(
            &c.addr.module,
            &c.addr.resource,
            rep_of(r),
            c.addr.key.clone(),
            new.clone(),
        );
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: display_action,
            elapsed: j.started.elapsed(),
            id: new
                .get_attr("id")
                .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string)),
            attempts,
        });
        self.bump(display_action);
        if has_provisioners {
            self.provisioners(
                c,
                r,
                &new,
                ProvisionerWhen::Create,
                count.clone(),
                each.clone(),
                &pctx,
            )?;
            let ready = encode_object(
                &new,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.store
                .put_object(self.opts.fence, self.serial, &key, Some(&ready))
                .map_err(state_err)?;
        }
        let post = self.nodes().check_rules(CheckSite {
            module: &c.addr.module,
            object: Checkable::Resource(c.addr.resource.clone()),
            key: c.addr.key.clone(),
            rules: &r.lifecycle.postconditions,
            summary: "Resource postcondition failed",
            subject: &c.addr.to_string(),
            self_value: Some(&new),
            count,
            each,
        });
        if post.has_errors() {
            return Err(post);
        }
        Ok(())
    }

    /// Restore mode: write recorded objects back (recreate, update back, or restore a deposed
    /// object), without evaluating configuration.
    fn restore_change(&self, c: &ResourceChange) -> VisitResult {
        let reg = baton_provider::registry();
        let Some((info, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let key = ObjectKey::current(c.addr.clone());
        let encode = |v: &Value| {
            encode_object(
                v,
                &info.state_string(),
                c.dependencies.clone(),
                c.create_before_destroy,
                InstanceStatus::Ready,
            )
        };
        match c.reason {
            Some(ActionReason::RestoreDeposed) => {
                let dk = ObjectKey {
                    addr: c.addr.clone(),
                    deposed: c.deposed.clone().unwrap_or_default(),
                };
                let obj = self
                    .store
                    .current()
                    .ok()
                    .and_then(|s| s.objects.get(&dk).cloned());
                let j = self.begin(&c.addr, &dk.deposed, "restore", None, Some(&c.after))?;
                self.done(&j, 0, Some(&c.after), &[(key, obj), (dk, None)])?;
                self.bump(Action::Forget);
                return Ok(());
            }
            Some(ActionReason::Readopt) => {
                let j = self.begin(&c.addr, "", "adopt", None, Some(&c.after))?;
                self.done(&j, 0, Some(&c.after), &[(key, Some(encode(&c.after)))])?;
                self.bump(Action::Forget);
                return Ok(());
            }
            _ => {}
        }
        let creating = c.action != Action::Update;
        let prior = if creating { None } else { Some(&c.before) };
        let r = self.resource_config(&c.addr);
        let which = if creating { "create" } else { "update" };
        let pctx = self.action_ctx(r, which);
        let display = if creating {
            Action::Create
        } else {
            Action::Update
        };
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: display,
            id: None,
        });
        let j = self.begin(&c.addr, "", which, prior, Some(&c.after))?;
        let (result, attempts) = self.with_retries(self.retry_policy(r), || {
            rt.apply(ApplyRequest {
                prior,
                planned: Some(&c.after),
                config: &c.after,
                ctx: &pctx,
            })
        });
        match result {
            Ok(Some(v)) => {
                let v =
                    mark_schema_sensitive(rt.schema(), v.mark_paths(&c.after.sensitive_paths()));
                self.done(&j, attempts, Some(&v), &[(key, Some(encode(&v)))])?;
                self.observer.event(Event::ApplyDone {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display,
                    elapsed: j.started.elapsed(),
                    id: v
                        .get_attr("id")
                        .and_then(|x| x.clone().unmark().0.as_str().map(str::to_string)),
                    attempts,
                });
                self.bump(display);
                Ok(())
            }
            Ok(None) | Err(_) => {
                let detail = match result {
                    Err(e) => format!("{}: {}", e.summary, e.detail),
                    _ => "the provider returned no object".to_string(),
                };
                let d: Diagnostics =
                    Diagnostic::error(format!("Cannot restore {}", c.addr), detail).into();
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                Err(d)
            }
        }
    }

    fn read_data(&self, c: &ResourceChange) -> VisitResult {
        let reg = baton_provider::registry();
        let Some((info, dt)) = reg.data_source(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown data source",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let Some(r) = self.resource_config(&c.addr) else {
            return Ok(());
        };
        let (config, _) = self.eval_instance_config(c, r, dt.schema())?;
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::Read,
            id: None,
        });
        let j = self.begin(&c.addr, "", "read", None, Some(&config))?;
        let ro = config.clone().unmark_deep().0;
        let pctx = self.action_ctx(Some(r), "read");
        let (res, attempts) = self.with_retries(self.retry_policy(Some(r)), || dt.read(&pctx, &ro));
        let v = match res {
            Ok(v) => mark_schema_sensitive(dt.schema(), v.mark_paths(&config.sensitive_paths())),
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: Action::Read,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
        };
        let obj = encode_object(
            &v,
            &info.state_string(),
            c.dependencies.clone(),
            false,
            InstanceStatus::Ready,
        );
        self.done(
            &j,
            attempts,
            Some(&v),
            &[(ObjectKey::current(c.addr.clone()), Some(obj))],
        )?;
        self.state.set_instance(
            &c.addr.module,
            &c.addr.resource,
            rep_of(r),
            c.addr.key.clone(),
            v,
        );
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::Read,
            elapsed: j.started.elapsed(),
            id: None,
            attempts,
        });
        Ok(())
    }

    fn destroy_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if self.resumed_destroy(i) {
            return Ok(());
        }
        if c.action == Action::Forget || c.reason == Some(ActionReason::UndoImport) {
            let key = ObjectKey {
                addr: c.addr.clone(),
                deposed: c.deposed.clone().unwrap_or_default(),
            };
            let j = self.begin(&c.addr, &key.deposed, "forget", Some(&c.before), None)?;
            self.done(&j, 0, None, &[(key, None)])?;
            self.bump(Action::Forget);
            return Ok(());
        }
        let reg = baton_provider::registry();
        let Some((_, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        // The object to destroy: for a create-before-destroy replacement, the deposed one.
        let deposed = match (&c.deposed, c.action) {
            (Some(d), _) => Some(d.clone()),
            (None, Action::CreateThenDelete) => self
                .deposed
                .lock()
                .ok()
                .and_then(|m| m.get(&c.addr).cloned()),
            _ => None,
        };
        let key = ObjectKey {
            addr: c.addr.clone(),
            deposed: deposed.clone().unwrap_or_default(),
        };
        let r = self.resource_config(&c.addr);
        let pctx = self.action_ctx(r, "delete");
        if self.probing_destroy(i) {
            // A delete whose outcome was lost: the object may already be gone.
            if let Ok(None) = rt.read(&pctx, &c.before) {
                let j = self.begin(&c.addr, &key.deposed, "delete", Some(&c.before), None)?;
                self.done(&j, 0, None, &[(key, None)])?;
                return Ok(());
            }
        }
        if deposed.is_none() {
            if let Some(r) = r {
                let (count, each) = match self.instance_keys(&c.addr, r) {
                    Ok(x) => x,
                    Err(_) => (count_index(&c.addr.key), string_each(&c.addr.key)),
                };
                self.provisioners(
                    c,
                    r,
                    &c.before,
                    ProvisionerWhen::Destroy,
                    count,
                    each,
                    &pctx,
                )?;
            }
        }
        let id = c
            .before
            .get_attr("id")
            .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string));
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: deposed.clone(),
            action: Action::Delete,
            id,
        });
        let j = self.begin(&c.addr, &key.deposed, "delete", Some(&c.before), None)?;
        let (res, attempts) = self.with_retries(self.retry_policy(r), || {
            rt.apply(ApplyRequest {
                prior: Some(&c.before),
                planned: None,
                config: &Value::dynamic_null(),
                ctx: &pctx,
            })
        });
        if let Err(e) = res {
            self.observer.event(Event::ApplyFailed {
                addr: c.addr.clone(),
                deposed: deposed.clone(),
                action: Action::Delete,
                elapsed: j.started.elapsed(),
                attempts,
            });
            let d: Diagnostics = Diagnostic::error(e.summary, attempts_note(e.detail, attempts))
                .in_context(format!("{}", c.addr))
                .into();
            self.failed(&j, attempts, &d);
            return Err(d);
        }
        self.done(&j, attempts, None, &[(key, None)])?;
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed,
            action: Action::Delete,
            elapsed: j.started.elapsed(),
            id: None,
            attempts,
        });
        self.bump(Action::Delete);
        Ok(())
    }

    /// Runs the `local-exec` provisioners of `when` for an object.
    #[allow(clippy::too_many_arguments)]
    fn provisioners(
        &self,
        c: &ResourceChange,
        r: &Resource,
        self_value: &Value,
        when: ProvisionerWhen,
        count: Option<Value>,
        each: Option<(Value, Value)>,
        pctx: &ProviderCtx,
    ) -> VisitResult {
        for p in r.provisioners.iter().filter(|p| p.when == when) {
            let nodes = self.nodes();
            let mut scope = nodes.scope(&c.addr.module);
            scope.self_value = Some(self_value.clone());
            scope.count_index = count.clone();
            scope.each = each.clone();
            let mut ev = nodes.evaluator(&scope);
            let schema = local_exec_schema();
            let (cfg, d) = eval_body(
                &mut ev,
                &p.body,
                &schema,
                p.def_span,
                &format!("provisioner \"{}\"", p.kind),
            );
            if d.has_errors() {
                return Err(d);
            }
            let sensitive = cfg.contains_sensitive();
            let cfg = cfg.unmark_deep().0;
            let command = cfg
                .get_attr("command")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let interpreter = cfg
                .get_attr("interpreter")
                .and_then(|v| {
                    v.as_seq().map(|s| {
                        s.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    })
                })
                .filter(|v| !v.is_empty());
            let quiet = cfg
                .get_attr("quiet")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let cwd = cfg
                .get_attr("working_dir")
                .and_then(|v| v.as_str().map(|s| self.pctx.resolve(s)))
                .unwrap_or_else(|| self.ctx.dir.clone());
            let mut spec = CommandSpec::shell(&command, interpreter, cwd);
            spec.cancel = self.pctx.cancel.clone();
            spec.run_tag = pctx.run_id.clone();
            spec.timeout = pctx.timeout;
            if let Some(env) = cfg
                .get_attr("environment")
                .and_then(|v| v.as_entries().cloned())
            {
                for (k, v) in env {
                    if let Some(s) = v.as_str() {
                        spec.env.push((k, s.to_string()));
                    }
                }
            }
            self.observer.event(Event::ProvisionerStart {
                addr: c.addr.clone(),
                kind: p.kind.clone(),
            });
            if !quiet && !sensitive {
                self.observer.event(Event::ProvisionerOutput {
                    addr: c.addr.clone(),
                    kind: p.kind.clone(),
                    line: format!("Executing: {:?}", spec.argv),
                });
            }
            let observer = self.observer;
            let addr = c.addr.clone();
            let kind = p.kind.clone();
            let out = run(&spec, |_, line| {
                if !sensitive {
                    observer.event(Event::ProvisionerOutput {
                        addr: addr.clone(),
                        kind: kind.clone(),
                        line: line.to_string(),
                    });
                }
            });
            if sensitive {
                self.observer.event(Event::ProvisionerOutput {
                    addr: c.addr.clone(),
                    kind: p.kind.clone(),
                    line: "(output suppressed due to sensitive value in config)".into(),
                });
            }
            let failed = match &out {
                Ok(o) if o.success() => None,
                Ok(o) if o.timed_out => Some(
                    "timed out (the command and everything it started were killed)".to_string(),
                ),
                Ok(o) => Some(match o.code {
                    Some(code) => format!("exit status {code}"),
                    None => "killed".to_string(),
                }),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failed {
                if p.on_failure == OnFailure::Continue {
                    continue;
                }
                let shown = if sensitive {
                    "(sensitive value)".to_string()
                } else {
                    format!("{command:?}")
                };
                return Err(Diagnostic::error(
                    "local-exec provisioner error",
                    format!("Error running command {shown}: {why}."),
                )
                .at(p.def_span)
                .in_context(r.describe())
                .into());
            }
        }
        Ok(())
    }
}

fn deposed_key(addr: &InstanceAddr) -> String {
    let h = sha2_hex(&format!("{addr}{}", crate::now_rfc3339()));
    h[..8].to_string()
}

fn sha2_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn string_each(key: &Option<InstanceKey>) -> Option<(Value, Value)> {
    each_values(key, &None)
}

fn rep_of(r: &Resource) -> Repetition {
    if r.count.is_some() {
        Repetition::Count
    } else if r.for_each.is_some() {
        Repetition::ForEach
    } else {
        Repetition::Single
    }
}

fn rand_fraction() -> f64 {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(n % 1000) / 1000.0
}

fn attempts_note(detail: String, attempts: u32) -> String {
    if attempts > 1 {
        format!("{detail} (after {attempts} attempts)")
    } else {
        detail
    }
}

fn provider_diag(
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

/// Where a final plan contradicts a known value of the reviewed one, if anywhere.
fn inconsistent(reviewed: &Value, final_: &Value) -> Option<String> {
    if !reviewed.is_known() {
        return None;
    }
    match (reviewed.as_entries(), final_.as_entries()) {
        (Some(a), Some(b)) if reviewed.get_attr("id").is_some() || !a.is_empty() => {
            for (k, av) in a {
                let Some(bv) = b.get(k) else {
                    return Some(k.clone());
                };
                if !av.is_wholly_known() {
                    if av.is_known() {
                        if let Some(p) = inconsistent(av, bv) {
                            return Some(format!("{k}.{p}"));
                        }
                    }
                    continue;
                }
                if !av.raw_equal(bv) {
                    return Some(k.clone());
                }
            }
            None
        }
        _ => {
            if reviewed.is_wholly_known() && !reviewed.raw_equal(final_) {
                Some(String::new())
            } else {
                None
            }
        }
    }
}

/// At apply, attributes under `ignore_changes` keep the values the plan decided.
fn keep_ignored(
    config: &Value,
    planned: &Value,
    r: &Resource,
    schema: &baton_provider::Schema,
) -> Value {
    match &r.lifecycle.ignore_changes {
        baton_config::IgnoreChanges::None => config.clone(),
        _ => {
            let mut m = config
                .as_entries()
                .map(baton_eval::Entries::to_map)
                .unwrap_or_default();
            let names: Vec<String> = match &r.lifecycle.ignore_changes {
                baton_config::IgnoreChanges::All => schema.attrs.keys().cloned().collect(),
                baton_config::IgnoreChanges::Paths(ps) => ps
                    .iter()
                    .filter_map(|p| p.as_traversal().map(|(root, _)| root.to_string()))
                    .collect(),
                baton_config::IgnoreChanges::None => Vec::new(),
            };
            for n in names {
                if let (Some(pv), true) = (planned.get_attr(&n), m.contains_key(&n)) {
                    if schema
                        .attrs
                        .get(&n)
                        .is_some_and(|a| a.required || a.optional)
                    {
                        m.insert(n.clone(), pv.clone());
                    }
                }
            }
            Value::object(m)
        }
    }
}

fn local_exec_schema() -> baton_provider::Schema {
    use baton_eval::Type;
    use baton_provider::{Attr, Schema};
    Schema::new()
        .attr("command", Attr::required(Type::String))
        .attr("interpreter", Attr::optional(Type::list(Type::String)))
        .attr("environment", Attr::optional(Type::map(Type::String)))
        .attr("working_dir", Attr::optional(Type::String))
        .attr("quiet", Attr::optional(Type::Bool))
}

/// What an injected fault does to one action.
#[derive(Debug, PartialEq)]
enum Injected {
    Nothing,
    /// Kill the process once this action's intent is journaled.
    KillAfterIntent,
}

/// Counts an action of the apply phase against `fault` ([`FaultInjection`]).
fn fault_injection(
    fault: Option<&FaultInjection>,
    phase: &str,
    addr: &InstanceAddr,
) -> Result<Injected, Diagnostics> {
    use std::sync::atomic::Ordering;
    let Some(f) = fault else {
        return Ok(Injected::Nothing);
    };
    if phase != "apply" {
        return Ok(Injected::Nothing);
    }
    let n = f.seen.fetch_add(1, Ordering::SeqCst) + 1;
    if n != f.at {
        return Ok(Injected::Nothing);
    }
    match f.fault {
        Fault::Fail => Err(Diagnostic::error(
            "Injected failure",
            format!("Fault injection failed action {n} ({addr})."),
        )
        .into()),
        Fault::Kill => Ok(Injected::KillAfterIntent),
    }
}
