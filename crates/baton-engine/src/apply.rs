//! Applying a plan: a graph of actions built from the plan (not from the configuration),
//! walked in dependency order with at most `parallelism` actions at once. Each action
//! re-evaluates its configuration with the now-known values of its dependencies, checks the
//! provider's final plan against the reviewed one, applies it, and saves the object to state
//! before anything that depends on it starts. Deletions run after their dependents are gone.
//!
//! A failed action stops its dependents only; independent work finishes and every error is
//! reported. This module prints nothing: progress goes to the [`Observer`].

use crate::body::eval_body;
use crate::context::Context;
use crate::expand::{count_index, each_values, expand, Expansion};
use crate::graph::NodeKey;
use crate::model::{Action, Plan, PlanMode, ResourceChange};
use crate::nodes::{module_of, NodeEval};
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
use baton_state::{InstanceStatus, ObjectKey, OutputState, StateError, StateStore};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ApplyOpts {
    pub parallelism: usize,
    pub run_id: String,
    /// `apply` or `destroy`, recorded with the state version.
    pub command: String,
    /// Attempts for retryable provider failures (1 = no retry).
    pub attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Set to kill in-flight actions (a second interrupt); they are reported as failed.
    pub cancel: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for ApplyOpts {
    fn default() -> Self {
        ApplyOpts {
            parallelism: 10,
            run_id: String::new(),
            command: "apply".into(),
            attempts: 3,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(30),
            cancel: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }
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
}

#[derive(Clone, Copy, Debug)]
enum ANode {
    Config(NodeId),
    Apply(usize),
    Destroy(usize),
}

/// Applies `plan` to `store`, whose current state is `prior` (the caller read it while holding
/// the state lock, which it keeps until this returns).
pub fn apply(
    ctx: &Context,
    plan: &Plan,
    store: &dyn StateStore,
    prior: &baton_state::Snapshot,
    opts: &ApplyOpts,
    observer: &dyn Observer,
    stop: &StopHandle,
) -> Result<ApplyReport, StateError> {
    let serial = store.begin_version(&opts.run_id, &opts.command)?;
    let mut report = ApplyReport {
        serial,
        ..ApplyReport::default()
    };
    // Renames (`moved` blocks) first, so every later write uses the new addresses.
    let moved_prior;
    let prior = if plan.moves.is_empty() {
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
                    store.put_object(serial, k, None)?;
                    store.put_object(serial, &nk, Some(obj))?;
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
    // results read while planning are saved.
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
                if is_data || in_scope {
                    store.put_object(serial, k, None)?;
                }
            }
            Some(v) => {
                if let Ok(old) = decode_object(obj) {
                    if !old.raw_equal(v) || old.sensitive_paths() != v.sensitive_paths() {
                        let mut o = obj.clone();
                        o.value = baton_state::RawJson::from_value(&v.to_typed_json());
                        store.put_object(serial, k, Some(&o))?;
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
            store.put_object(serial, &ObjectKey::current(addr.clone()), Some(&o))?;
        }
    }

    let eval_state = EvalState::new();
    seed_values(ctx, plan, &eval_state);
    let (graph, diags) = build_graph(ctx, plan);
    report.diags.extend(diags);
    if report.diags.has_errors() {
        store.finish_version(serial, "failed")?;
        return Ok(report);
    }
    let runner = Runner {
        ctx,
        plan,
        store,
        serial,
        opts,
        observer,
        state: &eval_state,
        pctx: ProviderCtx {
            cancel: opts.cancel.clone(),
            ..ProviderCtx::new(ctx.dir.clone())
        },
        expansions: Mutex::new(HashMap::new()),
        counts: Mutex::new((0, 0, 0, 0)),
        stop: stop.clone(),
    };
    let wopts = WalkOpts {
        parallelism: opts.parallelism.max(1),
    };
    let walk = baton_graph::walk(&graph, &wopts, stop, |_, node| runner.visit(*node), |_| {});
    report.stopped = walk.stopped;
    let mut failures = walk.failures;
    failures.sort_by_key(|(id, _)| *id);
    for (_, f) in failures {
        match f {
            baton_graph::Failure::Returned(d) => report.diags.extend(d),
            baton_graph::Failure::Panicked { message } => report.diags.push(Diagnostic::error(
                "Internal error",
                format!("An action failed unexpectedly: {message}"),
            )),
        }
    }
    let (a, c, d, imp) = runner.counts.lock().map(|g| *g).unwrap_or((0, 0, 0, 0));
    report.added = a;
    report.changed = c;
    report.destroyed = d;
    report.imported = imp;
    if plan.mode == PlanMode::Normal && !report.diags.has_errors() && !report.stopped {
        report
            .diags
            .extend(crate::checks::run(ctx, &eval_state, false, &runner.pctx));
    }
    // Root outputs.
    let mut outputs: BTreeMap<String, OutputState> = BTreeMap::new();
    if plan.mode != PlanMode::Destroy {
        let root = ModuleInstance::root();
        for (name, o) in &ctx.config.module.outputs {
            match eval_state.get(&root, &NamedValue::Output(name.clone())) {
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
    store.put_outputs(serial, &outputs)?;
    let status = if report.diags.has_errors() || report.stopped {
        "failed"
    } else {
        "complete"
    };
    store.finish_version(serial, status)?;
    Ok(report)
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
        if plan
            .changes
            .iter()
            .any(|c| &c.addr == addr && c.action == Action::Delete)
        {
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
    let destroy_mode = plan.mode == PlanMode::Destroy;
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
            Action::NoOp if c.importing.is_some() => {
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
type InstanceKeys = (Option<i64>, Option<(Value, Value)>);
/// Cached `for_each` expansions per resource in a module instance.
type ExpansionCache = Mutex<HashMap<(ModuleInstance, ResourceAddr), Arc<Option<Expansion>>>>;

struct Runner<'a> {
    ctx: &'a Context,
    plan: &'a Plan,
    store: &'a dyn StateStore,
    serial: u64,
    opts: &'a ApplyOpts,
    observer: &'a dyn Observer,
    state: &'a EvalState,
    pctx: ProviderCtx,
    /// `for_each` values per resource in a module instance, evaluated once.
    expansions: ExpansionCache,
    counts: Mutex<(usize, usize, usize, usize)>,
    stop: StopHandle,
}

type VisitResult = Result<(), Diagnostics>;

fn state_err(e: StateError) -> Diagnostics {
    Diagnostic::error("Failed to save state", e.to_string()).into()
}

impl Runner<'_> {
    fn nodes(&self) -> NodeEval<'_> {
        NodeEval {
            ctx: self.ctx,
            state: self.state,
            planning: false,
            validate_only: false,
        }
    }

    fn visit(&self, n: ANode) -> VisitResult {
        match n {
            ANode::Config(id) => self.config_node(id),
            ANode::Apply(i) => self.apply_change(i),
            ANode::Destroy(i) => self.destroy_change(i),
        }
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
                        if self.state.resource(&mi, r).is_none() {
                            self.state.set_resource(
                                &mi,
                                r,
                                crate::values::ResourceValues {
                                    repetition: rep_of(res),
                                    instances: BTreeMap::new(),
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
            .and_then(|m| m.resources.get(&addr.resource))
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
                let e = expand(&mut ev, None, r.for_each.as_ref(), false)
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
        scope.count_index = count;
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
                _ => {}
            }
        }
    }

    /// Calls `f`, retrying retryable failures with exponential backoff and jitter.
    fn with_retries<T>(
        &self,
        mut f: impl FnMut() -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.kind == ErrorKind::Retryable
                        && attempt < self.opts.attempts
                        && !self.stop.is_stopped() =>
                {
                    let exp = self
                        .opts
                        .backoff_base
                        .saturating_mul(1 << (attempt - 1).min(16));
                    let capped = exp.min(self.opts.backoff_cap);
                    let jitter = capped.mul_f64(rand_fraction() * 0.5);
                    std::thread::sleep(capped.saturating_sub(jitter / 2) + jitter / 2);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn apply_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if c.action == Action::Read {
            return self.read_data(c);
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
        if let Some(id) = &c.importing {
            // Adopt the imported object first: it is in state even if the change fails.
            self.observer.event(Event::ApplyStart {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                id: Some(id.clone()),
            });
            let obj = encode_object(
                &c.before,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.store
                .put_object(self.serial, &ObjectKey::current(c.addr.clone()), Some(&obj))
                .map_err(state_err)?;
            self.observer.event(Event::ApplyDone {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                elapsed: Duration::ZERO,
                id: Some(id.clone()),
            });
            if let Ok(mut n) = self.counts.lock() {
                n.3 += 1;
            }
            if c.action == Action::NoOp {
                return Ok(());
            }
        }
        let (config, (count, each)) = self.eval_instance_config(c, r, schema)?;
        let pre = self.nodes().check_rules(
            &c.addr.module,
            &r.lifecycle.preconditions,
            "Resource precondition failed",
            &c.addr.to_string(),
            None,
            count,
            each.clone(),
        );
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
            .map_err(|e| provider_diag(&c.addr, r, e))?;
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
        let key = ObjectKey::current(c.addr.clone());
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
                self.store
                    .put_object(self.serial, &dk, Some(&obj))
                    .map_err(state_err)?;
                self.store
                    .put_object(self.serial, &key, None)
                    .map_err(state_err)?;
                DEPOSED
                    .lock()
                    .map(|mut m| m.insert(c.addr.to_string(), dk.deposed.clone()))
                    .ok();
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
        let started = Instant::now();
        let result = self.with_retries(|| {
            rt.apply(ApplyRequest {
                prior,
                planned: Some(&planned),
                config: &config,
                ctx: &self.pctx,
            })
        });
        let new = match result {
            Ok(Some(v)) => mark_schema_sensitive(schema, v.mark_paths(&planned.sensitive_paths())),
            Ok(None) => {
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: started.elapsed(),
                });
                return Err(Diagnostic::error(
                    "Provider returned no object",
                    format!("The provider returned no object after applying {}.", c.addr),
                )
                .into());
            }
            Err(e) => {
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: started.elapsed(),
                });
                return Err(provider_diag(&c.addr, r, e));
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
        self.store
            .put_object(self.serial, &key, Some(&obj))
            .map_err(state_err)?;
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
            elapsed: started.elapsed(),
            id: new
                .get_attr("id")
                .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string)),
        });
        self.bump(display_action);
        if has_provisioners {
            self.provisioners(c, r, &new, ProvisionerWhen::Create, count, each.clone())?;
            let ready = encode_object(
                &new,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.store
                .put_object(self.serial, &key, Some(&ready))
                .map_err(state_err)?;
        }
        let post = self.nodes().check_rules(
            &c.addr.module,
            &r.lifecycle.postconditions,
            "Resource postcondition failed",
            &c.addr.to_string(),
            Some(&new),
            count,
            each,
        );
        if post.has_errors() {
            return Err(post);
        }
        Ok(())
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
        let started = Instant::now();
        let ro = config.clone().unmark_deep().0;
        let v = match self.with_retries(|| dt.read(&self.pctx, &ro)) {
            Ok(v) => mark_schema_sensitive(dt.schema(), v.mark_paths(&config.sensitive_paths())),
            Err(e) => {
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: Action::Read,
                    elapsed: started.elapsed(),
                });
                return Err(provider_diag(&c.addr, r, e));
            }
        };
        let obj = encode_object(
            &v,
            &info.state_string(),
            c.dependencies.clone(),
            false,
            InstanceStatus::Ready,
        );
        self.store
            .put_object(self.serial, &ObjectKey::current(c.addr.clone()), Some(&obj))
            .map_err(state_err)?;
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
            elapsed: started.elapsed(),
            id: None,
        });
        Ok(())
    }

    fn destroy_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if c.action == Action::Forget {
            self.store
                .put_object(self.serial, &ObjectKey::current(c.addr.clone()), None)
                .map_err(state_err)?;
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
            (None, Action::CreateThenDelete) => DEPOSED
                .lock()
                .ok()
                .and_then(|m| m.get(&c.addr.to_string()).cloned()),
            _ => None,
        };
        let key = ObjectKey {
            addr: c.addr.clone(),
            deposed: deposed.clone().unwrap_or_default(),
        };
        let r = self.resource_config(&c.addr);
        if deposed.is_none() {
            if let Some(r) = r {
                let (count, each) = match self.instance_keys(&c.addr, r) {
                    Ok(x) => x,
                    Err(_) => (count_index(&c.addr.key), string_each(&c.addr.key)),
                };
                self.provisioners(c, r, &c.before, ProvisionerWhen::Destroy, count, each)?;
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
        let started = Instant::now();
        let res = self.with_retries(|| {
            rt.apply(ApplyRequest {
                prior: Some(&c.before),
                planned: None,
                config: &Value::dynamic_null(),
                ctx: &self.pctx,
            })
        });
        if let Err(e) = res {
            self.observer.event(Event::ApplyFailed {
                addr: c.addr.clone(),
                deposed: deposed.clone(),
                action: Action::Delete,
                elapsed: started.elapsed(),
            });
            let d = Diagnostic::error(e.summary, e.detail).in_context(format!("{}", c.addr));
            return Err(d.into());
        }
        self.store
            .put_object(self.serial, &key, None)
            .map_err(state_err)?;
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed,
            action: Action::Delete,
            elapsed: started.elapsed(),
            id: None,
        });
        self.bump(Action::Delete);
        Ok(())
    }

    /// Runs the `local-exec` provisioners of `when` for an object.
    fn provisioners(
        &self,
        c: &ResourceChange,
        r: &Resource,
        self_value: &Value,
        when: ProvisionerWhen,
        count: Option<i64>,
        each: Option<(Value, Value)>,
    ) -> VisitResult {
        for p in r.provisioners.iter().filter(|p| p.when == when) {
            let nodes = self.nodes();
            let mut scope = nodes.scope(&c.addr.module);
            scope.self_value = Some(self_value.clone());
            scope.count_index = count;
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

/// Deposed keys of create-before-destroy replacements in this process, by instance address.
static DEPOSED: std::sync::LazyLock<Mutex<HashMap<String, String>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

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

fn provider_diag(addr: &InstanceAddr, r: &Resource, e: ProviderError) -> Diagnostics {
    let span = e
        .attr
        .as_ref()
        .and_then(|n| r.config.attr(n).map(|a| a.expr.span))
        .unwrap_or(r.def_span);
    Diagnostic::error(e.summary, e.detail)
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
            let mut m = config.as_entries().cloned().unwrap_or_default();
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
