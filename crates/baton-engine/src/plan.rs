//! Planning: refresh every object in state through its provider (in parallel), then walk the
//! configuration graph in dependency order evaluating variables, locals, module expansions,
//! resources and outputs, and decide per resource instance: no-op, create, update, replace,
//! delete or read. The result is a [`Plan`]; nothing is written anywhere.
//!
//! The walk evaluates every node it can and skips only nodes whose dependencies failed, so one
//! plan reports every independent error.

use crate::body::eval_body;
use crate::context::{module_of, Context};
use crate::expand::{count_index, each_values, expand, placeholder_repeat, Expansion};
use crate::graph::NodeKey;
use crate::model::{
    Action, ActionReason, Checkable, Drift, OutputChange, Plan, PlanMode, ResourceChange,
};
use crate::nodes::CheckSite;
use crate::nodes::NodeEval;
use crate::statecodec::{decode_object, decode_output};
use crate::values::{EvalState, InstanceScope, NamedValue, Repetition};
use crate::vars::{gather, parse_text, CliVar, RawValue};
use crate::{Event, Observer};
use baton_config::{Expr, ExprKind, IgnoreChanges, Resource};
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModuleInstance, ModulePath, ResourceAddr,
    ResourceMode, Target,
};
use baton_eval::{Evaluator, FnCtx, PathStep, Type, Value};
use baton_graph::NodeId;
use baton_provider::plan::{mark_schema_sensitive, proposed_new};
use baton_provider::{AttrDiag, PlanRequest, ProviderCtx, ProviderInfo};
use baton_state::{InstanceStatus, Snapshot};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

#[derive(Clone, Debug)]
pub struct PlanOpts {
    pub mode: PlanMode,
    pub refresh: bool,
    pub targets: Vec<Target>,
    /// `--replace ADDR`: plan these instances as replaced.
    pub replace: Vec<InstanceAddr>,
    pub vars: Vec<CliVar>,
    /// The process environment (for `TF_VAR_*`).
    pub env: Vec<(String, String)>,
    pub parallelism: usize,
    /// `validate`: unknown input variables, no state, no provider reads.
    pub validate_only: bool,
}

impl Default for PlanOpts {
    fn default() -> Self {
        PlanOpts {
            mode: PlanMode::Normal,
            refresh: true,
            targets: Vec::new(),
            replace: Vec::new(),
            vars: Vec::new(),
            env: Vec::new(),
            parallelism: 10,
            validate_only: false,
        }
    }
}

/// Key of one object: an instance address and, for deposed objects, the deposed key.
pub type ObjKey = (InstanceAddr, Option<String>);

/// Plans `ctx` against `prior`. Returns the plan (possibly marked errored) and diagnostics.
pub fn plan(
    ctx: &Context,
    prior: &Snapshot,
    opts: &PlanOpts,
    observer: &dyn Observer,
) -> (Option<Plan>, Diagnostics) {
    let mut diags = Diagnostics::new();
    if !opts.validate_only && ctx.graph.plan_errors.has_errors() {
        diags.extend(ctx.graph.plan_errors.clone());
        return (None, diags);
    }
    if !opts.targets.is_empty() && !opts.validate_only {
        diags.push(Diagnostic::warning(
            "Resource targeting is in effect",
            "You are creating a plan with the --target option, which means that the result of this plan may not represent all of the changes requested by the current configuration.\n\nThe --target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when Baton specifically suggests to use it as part of an error message.",
        ));
    }
    let (raw_vars, d) = gather(
        &ctx.config.module,
        &ctx.dir,
        &opts.vars,
        &opts.env,
        &ctx.sources,
    );
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    // The plan's time (Terraform: when planning started): what `plantimestamp()` returns
    // while planning and while applying this plan.
    let timestamp = crate::now_rfc3339();
    let pctx = ProviderCtx::new(ctx.dir.clone());
    // Refresh.
    // Moves (`moved` blocks, implicit count moves) rename objects before anything else.
    let original = prior;
    let (stmts, d) = crate::moves::statements(&ctx.config);
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    let (moved_prior, moves, d) = crate::moves::apply_moves(prior, &stmts, &ctx.config);
    diags.extend(d);
    let prior = &moved_prior;
    let (refreshed, drift, d) = refresh(ctx, prior, opts, &pctx, observer);
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    let mut p = Planner {
        ctx,
        prior,
        opts,
        refreshed,
        state: EvalState::new(),
        changes: Vec::new(),
        diags,
        raw_vars,
        failed: HashSet::new(),
        planned: HashSet::new(),
        data_reads: BTreeMap::new(),
        pctx,
        variables: BTreeMap::new(),
        targeted: None,
        deps_cache: HashMap::new(),
        prior_by_resource: None,
        imports_matched: HashSet::new(),
        timestamp,
    };
    p.compute_targets();
    p.walk();
    let drift_list = drift;
    if opts.validate_only {
        return (None, p.diags);
    }
    if p.opts.mode == PlanMode::Normal {
        p.check_imports();
        p.orphans();
        if !p.diags.has_errors() {
            let w = crate::checks::run(ctx, &p.state, true, &p.timestamp, &p.pctx);
            p.diags.extend(w);
        }
    }
    if p.opts.mode == PlanMode::Destroy {
        p.destroy_changes();
    }
    p.deposed_changes();
    // Before anything changes, say which deletions a rollback could not undo with data.
    for c in &p.changes {
        if matches!(c.action, Action::Delete) || c.action.is_replace() {
            if let Some((_, rt)) = baton_provider::registry().resource_type(&c.addr.resource.type_)
            {
                if !rt.restorable() {
                    p.diags.push(Diagnostic::warning(
                        "Deletion cannot be fully undone",
                        format!("This plan destroys {}. If the run is rolled back, the object is recreated from its recorded attributes, but the data it holds cannot be restored.", c.addr),
                    ));
                }
            }
        }
    }
    let outputs = p.output_changes();
    let planned_outputs = p.planned_outputs();
    let errored = p.diags.has_errors();
    let mut changes = std::mem::take(&mut p.changes);
    changes.sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| a.deposed.cmp(&b.deposed)));
    let moved_from: HashMap<&InstanceAddr, &InstanceAddr> =
        moves.iter().map(|(f, t)| (t, f)).collect();
    for c in &mut changes {
        if let Some(from) = moved_from.get(&c.addr) {
            c.previous_addr = Some(Box::new((*from).clone()));
        }
    }
    let mut refreshed: BTreeMap<ObjKey, Value> = BTreeMap::new();
    for (k, v) in &p.refreshed {
        if let Some(v) = v {
            refreshed.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &p.data_reads {
        refreshed.insert((k.clone(), None), v.clone());
    }
    let plan = Plan {
        mode: opts.mode,
        lineage: original.lineage.clone(),
        serial: original.serial,
        changes,
        outputs,
        drift: drift_list,
        variables: p.variables.clone(),
        config_files: config_files(ctx),
        targets: opts.targets.iter().map(ToString::to_string).collect(),
        workspace: ctx.workspace.clone(),
        errored,
        refreshed,
        planned_outputs,
        terraform_version: crate::TERRAFORM_COMPAT_VERSION.to_string(),
        timestamp: p.timestamp.clone(),
        moves: moves.clone(),
        checks: p.state.check_results(),
    };
    (Some(plan), p.diags)
}

/// The text of every configuration file, relative to the root module.
fn config_files(ctx: &Context) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0u32;
    while let Some(f) = ctx.sources.get(baton_core::FileId(i)) {
        i += 1;
        if f.path.extension().is_some_and(|x| x == "tf") {
            if let Ok(rel) = f.path.strip_prefix(&ctx.dir) {
                out.push((rel.display().to_string(), f.text.clone()));
            }
        }
    }
    out
}

type Refreshed = HashMap<ObjKey, Option<Value>>;

fn refresh(
    _ctx: &Context,
    prior: &Snapshot,
    opts: &PlanOpts,
    pctx: &ProviderCtx,
    observer: &dyn Observer,
) -> (Refreshed, Vec<Drift>, Diagnostics) {
    let mut out: Refreshed = HashMap::new();
    let mut diags = Diagnostics::new();
    let mut todo = Vec::new();
    for (k, obj) in &prior.objects {
        let key: ObjKey = (
            k.addr.clone(),
            if k.deposed.is_empty() {
                None
            } else {
                Some(k.deposed.clone())
            },
        );
        let v = match decode_object(obj) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Invalid object in state",
                    format!("The state entry for {} cannot be decoded: {e}.", k.addr),
                ));
                continue;
            }
        };
        if k.addr.resource.mode == ResourceMode::Data {
            out.insert(key, Some(v));
            continue;
        }
        let refresh_this = opts.refresh
            && (opts.targets.is_empty() || opts.targets.iter().any(|t| k.addr.is_under(t)));
        if !refresh_this {
            out.insert(key, Some(v));
            continue;
        }
        todo.push((key, v));
    }
    let reg = baton_provider::registry();
    type ReadResult = (ObjKey, Value, Result<Option<Value>, String>);
    let results: Mutex<Vec<ReadResult>> = Mutex::new(Vec::new());
    let mut g: baton_graph::Graph<usize> = baton_graph::Graph::new();
    for i in 0..todo.len() {
        g.add_node(i);
    }
    let stop = baton_graph::StopHandle::new();
    let wopts = baton_graph::WalkOpts {
        parallelism: opts.parallelism.max(1),
    };
    let _ = baton_graph::walk(
        &g,
        &wopts,
        &stop,
        |_, i| -> Result<(), ()> {
            let (key, v) = &todo[*i];
            let res = match reg.resource_type(&key.0.resource.type_) {
                Some((_, rt)) => {
                    observer.event(Event::RefreshStart {
                        addr: key.0.clone(),
                    });
                    let r = rt
                        .read(pctx, v)
                        .map(|o| {
                            o.map(|x| {
                                mark_schema_sensitive(
                                    rt.schema(),
                                    x.mark_paths(&v.sensitive_paths()),
                                )
                            })
                        })
                        .map_err(|e| e.to_string());
                    observer.event(Event::RefreshDone {
                        addr: key.0.clone(),
                        id: v
                            .get_attr("id")
                            .and_then(|x| x.as_str().map(str::to_string)),
                    });
                    r
                }
                None => Ok(Some(v.clone())),
            };
            if let Ok(mut r) = results.lock() {
                r.push((key.clone(), v.clone(), res));
            }
            Ok(())
        },
        |_| {},
    );
    let mut drift = Vec::new();
    let results = results.into_inner().unwrap_or_default();
    for (key, before, res) in results {
        match res {
            Ok(after) => {
                let changed = match &after {
                    None => true,
                    Some(a) => !a.raw_equal(&before),
                };
                if changed {
                    let info = reg
                        .resource_type(&key.0.resource.type_)
                        .map(|(p, _)| p)
                        .unwrap_or(ProviderInfo {
                            name: "unknown",
                            source: "unknown",
                        });
                    drift.push(Drift {
                        addr: key.0.clone(),
                        deposed: key.1.clone(),
                        provider_name: info.name.to_string(),
                        provider_source: info.source.to_string(),
                        before: before.clone(),
                        after: after.clone().unwrap_or_else(|| Value::null(before.ty())),
                    });
                }
                out.insert(key, after);
            }
            Err(e) => diags.push(Diagnostic::error(format!("Failed to refresh {}", key.0), e)),
        }
    }
    drift.sort_by(|a, b| a.addr.cmp(&b.addr));
    (out, drift, diags)
}

struct Planner<'a> {
    ctx: &'a Context,
    prior: &'a Snapshot,
    opts: &'a PlanOpts,
    refreshed: Refreshed,
    state: EvalState,
    changes: Vec<ResourceChange>,
    diags: Diagnostics,
    raw_vars: BTreeMap<String, RawValue>,
    failed: HashSet<NodeId>,
    planned: HashSet<InstanceAddr>,
    data_reads: BTreeMap<InstanceAddr, Value>,
    pctx: ProviderCtx,
    variables: BTreeMap<String, Value>,
    /// With `--target`, the nodes to plan; others keep their state values.
    targeted: Option<HashSet<NodeId>>,
    /// Resource-level dependencies per graph node (computed once per resource).
    deps_cache: HashMap<NodeId, Vec<String>>,
    /// Current objects in state, by resource (built on first use).
    prior_by_resource: Option<HashMap<(ModuleInstance, ResourceAddr), Vec<InstanceAddr>>>,
    /// Import blocks (by index) that found their target instance.
    imports_matched: HashSet<usize>,
    /// When planning started (RFC 3339): the plan's timestamp.
    timestamp: String,
}

impl<'a> Planner<'a> {
    fn compute_targets(&mut self) {
        if self.opts.targets.is_empty() {
            return;
        }
        let g = &self.ctx.graph;
        let mut roots = Vec::new();
        for id in g.graph.ids() {
            if let NodeKey::Resource(p, r) = g.graph.node(id) {
                let hit = self.opts.targets.iter().any(|t| match t {
                    Target::Module(m) => {
                        p.0.len() >= m.0.len() && p.0.iter().zip(&m.0).all(|(a, b)| *a == b.0)
                    }
                    Target::Resource(m, tr)
                    | Target::Instance(baton_core::InstanceAddr {
                        module: m,
                        resource: tr,
                        ..
                    }) => m.path() == *p && tr == r,
                });
                if hit {
                    roots.push(id);
                }
            }
        }
        self.targeted = Some(g.graph.dependencies_closure(&roots));
    }

    fn evaluator<'s>(&'s self, scope: &'s InstanceScope<'s>) -> Evaluator<'s>
    where
        'a: 's,
    {
        Evaluator::new(
            scope,
            FnCtx {
                base_dir: &self.ctx.dir,
                sources: &self.ctx.sources,
                planning: true,
                plan_timestamp: self.plan_timestamp(),
            },
        )
    }

    fn walk(&mut self) {
        let order = match self.ctx.graph.graph.toposort() {
            Ok(o) => o,
            Err(_) => return, // cycles were reported when the graph was built
        };
        for id in order {
            if self
                .ctx
                .graph
                .graph
                .dependencies(id)
                .iter()
                .any(|d| self.failed.contains(d))
            {
                self.failed.insert(id);
                continue;
            }
            let key = self.ctx.graph.graph.node(id).clone();
            let before = self.diags.errors().count();
            match &key {
                NodeKey::Var(p, n) => self.var(p, n),
                NodeKey::Local(p, n) => self.local(p, n),
                NodeKey::Output(p, n) => self.output(p, n),
                NodeKey::ModuleCall(p, n) => self.module_call(p, n),
                NodeKey::Resource(p, r) => self.resource(id, p, r),
            }
            if self.diags.errors().count() > before {
                self.failed.insert(id);
            }
        }
    }

    fn scope<'s>(&'s self, mi: &'s ModuleInstance) -> InstanceScope<'s> {
        InstanceScope::new(
            &self.state,
            &self.ctx.config,
            mi,
            &self.ctx.dir,
            &self.ctx.workspace,
        )
    }

    /// What `plantimestamp()` returns: the plan's time, unknown while validating (as in
    /// Terraform's validate walk, which has no plan).
    fn plan_timestamp(&self) -> Option<&str> {
        (!self.opts.validate_only).then_some(self.timestamp.as_str())
    }

    fn nodes(&self) -> NodeEval<'_> {
        NodeEval {
            ctx: self.ctx,
            state: &self.state,
            planning: true,
            validate_only: self.opts.validate_only,
            plan_timestamp: self.plan_timestamp(),
        }
    }

    fn var(&mut self, p: &ModulePath, name: &str) {
        let raw_vars = &self.raw_vars;
        let validate_only = self.opts.validate_only;
        let sources = &self.ctx.sources;
        let (vals, d) = self.nodes().var(p, name, &|ty: &Type, literal: bool| {
            if validate_only {
                return Ok(Some(Value::unknown(ty.clone())));
            }
            match raw_vars.get(name) {
                Some(RawValue::Text { text, origin }) => {
                    parse_text(text, origin, literal, sources).map(Some)
                }
                Some(RawValue::Value { value, .. }) => Ok(Some(value.clone())),
                None => Ok(None),
            }
        });
        self.diags.extend(d);
        if p.is_root() {
            if let Some(v) = vals {
                self.variables.insert(name.to_string(), v);
            }
        }
    }

    fn check_rules_with(&mut self, site: CheckSite<'_>) {
        // `validate` checks variable validations only, as Terraform's validate walk does:
        // resource conditions are decided by plan and apply.
        if self.opts.validate_only {
            return;
        }
        let d = self.nodes().check_rules(site);
        self.diags.extend(d);
    }

    fn local(&mut self, p: &ModulePath, name: &str) {
        let d = self.nodes().local(p, name);
        self.diags.extend(d);
    }

    fn output(&mut self, p: &ModulePath, name: &str) {
        let d = self.nodes().output(p, name);
        self.diags.extend(d);
    }

    fn module_call(&mut self, p: &ModulePath, name: &str) {
        let d = self.nodes().module_call(p, name);
        self.diags.extend(d);
    }

    // ----- resources -----

    fn resource(&mut self, id: NodeId, p: &ModulePath, addr: &ResourceAddr) {
        let Some(m) = module_of(&self.ctx.config, p) else {
            return;
        };
        let Some(r) = m.resources.get(addr) else {
            return;
        };
        let targeted = self.targeted.as_ref().is_none_or(|t| t.contains(&id));
        for mi in self.state.module_instances(p) {
            if !targeted || self.opts.mode == PlanMode::Destroy {
                self.values_from_state(&mi, r);
                continue;
            }
            let exp = {
                let scope = self.scope(&mi);
                let mut ev = self.evaluator(&scope);
                expand(
                    &mut ev,
                    r.count.as_deref(),
                    r.for_each.as_deref(),
                    self.opts.validate_only,
                )
            };
            let exp = match exp {
                Ok(Some(e)) => e,
                Ok(None) => Expansion {
                    repetition: if r.count.is_some() {
                        Repetition::Count
                    } else {
                        Repetition::ForEach
                    },
                    keys: vec![],
                },
                Err(d) => {
                    self.diags.push(d.in_context(r.describe()));
                    continue;
                }
            };
            // With an unknown expansion (validate only), check the body once as a placeholder.
            let placeholder = exp.keys.is_empty()
                && self.opts.validate_only
                && (r.count.is_some() || r.for_each.is_some());
            self.state.set_resource(
                &mi,
                addr,
                crate::values::ResourceValues {
                    repetition: exp.repetition,
                    instances: crate::values::Instances::Empty,
                },
            );
            let keys = if placeholder {
                vec![(None, None)]
            } else {
                exp.keys.clone()
            };
            for (key, each_val) in keys {
                let iaddr = InstanceAddr::new(mi.clone(), addr.clone(), key.clone());
                let (count, each) = if placeholder {
                    placeholder_repeat(r.count.is_some(), r.for_each.is_some())
                } else {
                    (count_index(&key), each_values(&key, &each_val))
                };
                let v = match addr.mode {
                    ResourceMode::Managed => {
                        self.plan_managed(id, &iaddr, r, count, each, placeholder)
                    }
                    ResourceMode::Data => self.plan_data(id, &iaddr, r, count, each),
                };
                let v = v.unwrap_or_else(|| Value::unknown(resource_type(r)));
                self.state.set_instance(&mi, addr, exp.repetition, key, v);
            }
        }
    }

    /// Untargeted (or destroy mode): references see the values in state.
    fn values_from_state(&mut self, mi: &ModuleInstance, r: &Resource) {
        let rep = if r.count.is_some() {
            Repetition::Count
        } else if r.for_each.is_some() {
            Repetition::ForEach
        } else {
            Repetition::Single
        };
        self.state.set_resource(
            mi,
            &r.addr,
            crate::values::ResourceValues {
                repetition: rep,
                instances: crate::values::Instances::Empty,
            },
        );
        if self.prior_by_resource.is_none() {
            let mut idx: HashMap<(ModuleInstance, ResourceAddr), Vec<InstanceAddr>> =
                HashMap::new();
            for k in self.prior.objects.keys() {
                if k.deposed.is_empty() {
                    idx.entry((k.addr.module.clone(), k.addr.resource.clone()))
                        .or_default()
                        .push(k.addr.clone());
                }
            }
            self.prior_by_resource = Some(idx);
        }
        let addrs = self
            .prior_by_resource
            .as_ref()
            .and_then(|idx| idx.get(&(mi.clone(), r.addr.clone())).cloned())
            .unwrap_or_default();
        for a in addrs {
            if let Some(Some(v)) = self.refreshed.get(&(a.clone(), None)) {
                self.state
                    .set_instance(mi, &r.addr, rep, a.key.clone(), v.clone());
                self.planned.insert(a);
            }
        }
    }

    fn eval_config(
        &mut self,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
        schema: &baton_provider::Schema,
    ) -> Option<Value> {
        let (v, d) = {
            let mut scope = self.scope(&iaddr.module);
            scope.count_index = count;
            scope.each = each;
            let mut ev = self.evaluator(&scope);
            eval_body(&mut ev, &r.config, schema, r.def_span, &r.describe())
        };
        let had_errors = d.has_errors();
        self.diags.extend(d);
        if had_errors {
            return None;
        }
        Some(v)
    }

    fn provider_diags(&mut self, r: &Resource, found: Vec<AttrDiag>) -> bool {
        let mut errors = false;
        for a in found {
            let span = a
                .attr
                .as_ref()
                .and_then(|n| r.config.attr(n).map(|x| x.expr.span))
                .unwrap_or(r.def_span);
            let d = if a.error {
                errors = true;
                Diagnostic::error(a.summary, a.detail)
            } else {
                Diagnostic::warning(a.summary, a.detail)
            };
            self.diags.push(d.at(span).in_context(r.describe()));
        }
        errors
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_managed(
        &mut self,
        id: NodeId,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
        placeholder: bool,
    ) -> Option<Value> {
        let reg = baton_provider::registry();
        let (info, rt) = reg.resource_type(&r.addr.type_)?;
        let schema = rt.schema();
        let before_errs = self.diags.errors().count();
        self.check_rules_with(CheckSite {
            module: &iaddr.module,
            object: Checkable::Resource(iaddr.resource.clone()),
            key: iaddr.key.clone(),
            rules: &r.lifecycle.preconditions,
            summary: "Resource precondition failed",
            subject: &iaddr.to_string(),
            self_value: None,
            count: count.clone(),
            each: each.clone(),
        });
        if self.diags.errors().count() > before_errs {
            return None;
        }
        let config = self.eval_config(iaddr, r, count.clone(), each.clone(), schema)?;
        if self.provider_diags(r, rt.validate(&config)) {
            return None;
        }
        if placeholder || self.opts.validate_only {
            return Some(mark_schema_sensitive(
                schema,
                proposed_new(schema, None, &config),
            ));
        }
        self.planned.insert(iaddr.clone());
        let prior_obj = self.prior.current(iaddr);
        let mut prior_val = self
            .refreshed
            .get(&(iaddr.clone(), None))
            .cloned()
            .flatten();
        // An `import` block adopts an existing object as this instance's prior state.
        let mut importing = None;
        if prior_val.is_none() && self.opts.mode == PlanMode::Normal {
            match self.find_import(iaddr) {
                Ok(Some(id)) => {
                    let imported = rt
                        .import(&self.pctx, &id)
                        .and_then(|v| rt.read(&self.pctx, &v).map(|o| o.unwrap_or(v)));
                    match imported {
                        Ok(v) => {
                            prior_val = Some(mark_schema_sensitive(schema, v));
                            importing = Some(id);
                        }
                        Err(e) => {
                            self.diags.push(
                                Diagnostic::error(
                                    format!("Cannot import {iaddr}"),
                                    format!("{}: {}", e.summary, e.detail),
                                )
                                .at(r.def_span),
                            );
                            return None;
                        }
                    }
                }
                Ok(None) => {}
                Err(d) => {
                    self.diags.push(d);
                    return None;
                }
            }
        }
        if self.opts.mode == PlanMode::RefreshOnly {
            return prior_val;
        }
        let tainted =
            prior_obj.is_some_and(|o| o.status == InstanceStatus::Tainted) && prior_val.is_some();
        // ignore_changes: keep prior values for ignored attributes.
        let config_eff = match (&r.lifecycle.ignore_changes, &prior_val) {
            (IgnoreChanges::None, _) | (_, None) => config.clone(),
            (IgnoreChanges::All, Some(pv)) => ignore_all(&config, pv, schema),
            (IgnoreChanges::Paths(paths), Some(pv)) => ignore_paths(&config, pv, paths),
        };
        let proposed = proposed_new(schema, prior_val.as_ref(), &config_eff);
        let resp = match rt.plan(PlanRequest {
            prior: prior_val.as_ref(),
            config: &config_eff,
            proposed,
        }) {
            Ok(r) => r,
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(e.summary, e.detail)
                        .at(r.def_span)
                        .in_context(r.describe()),
                );
                return None;
            }
        };
        let config_marks = config_eff.sensitive_paths();
        let mut planned = mark_schema_sensitive(schema, resp.planned.mark_paths(&config_marks));
        let mut replace_paths = resp.requires_replace.clone();
        let mut reason = None;
        let by_request = self.opts.replace.iter().any(|a| a == iaddr);
        let triggered =
            prior_val.is_some() && self.replace_triggered(iaddr, r, count.clone(), each.clone());
        let mut replace = prior_val.is_some()
            && (!replace_paths.is_empty() || tainted || by_request || triggered);
        if replace {
            reason = Some(if tainted {
                ActionReason::ReplaceBecauseTainted
            } else if by_request {
                ActionReason::ReplaceByRequest
            } else if triggered {
                ActionReason::ReplaceByTriggers
            } else {
                ActionReason::ReplaceBecauseCannotUpdate
            });
            // Plan the new object as a create.
            let proposed = proposed_new(schema, None, &config_eff);
            match rt.plan(PlanRequest {
                prior: None,
                config: &config_eff,
                proposed,
            }) {
                Ok(r2) => {
                    planned = mark_schema_sensitive(schema, r2.planned.mark_paths(&config_marks))
                }
                Err(e) => {
                    self.diags.push(
                        Diagnostic::error(e.summary, e.detail)
                            .at(r.def_span)
                            .in_context(r.describe()),
                    );
                    return None;
                }
            }
        } else {
            replace_paths.clear();
        }
        let action = match &prior_val {
            None => Action::Create,
            Some(_) if replace => {
                if r.lifecycle.create_before_destroy {
                    Action::CreateThenDelete
                } else {
                    Action::DeleteThenCreate
                }
            }
            Some(pv) if pv.raw_equal(&planned) => Action::NoOp,
            Some(_) => Action::Update,
        };
        if action.is_replace() && r.lifecycle.prevent_destroy {
            self.diags.push(prevent_destroy_error(iaddr, r));
            replace = false;
            let _ = replace;
        }
        // Postconditions are checked against the planned object: a condition that depends on
        // a value known only after apply is `unknown` now and decided by apply.
        if !r.lifecycle.postconditions.is_empty() {
            self.check_rules_with(CheckSite {
                module: &iaddr.module,
                object: Checkable::Resource(iaddr.resource.clone()),
                key: iaddr.key.clone(),
                rules: &r.lifecycle.postconditions,
                summary: "Resource postcondition failed",
                subject: &iaddr.to_string(),
                self_value: Some(&planned),
                count,
                each,
            });
        }
        if planned.contains_infinity() {
            // The state (JSON) cannot hold it; Terraform fails the same way.
            self.diags.push(
                Diagnostic::error(
                    "Failed to encode resource in state",
                    format!("failed to encode {iaddr} in state: failed to serialize value: cannot serialize infinity as JSON"),
                )
                .at(r.def_span),
            );
            return None;
        }
        let deps = self.dependencies_of(id);
        self.changes.push(ResourceChange {
            addr: iaddr.clone(),
            deposed: None,
            provider_name: info.name.to_string(),
            provider_source: info.source.to_string(),
            action,
            reason,
            before: prior_val
                .clone()
                .unwrap_or_else(|| Value::null(schema.object_type())),
            after: planned.clone(),
            replace_paths,
            dependencies: deps,
            create_before_destroy: r.lifecycle.create_before_destroy,
            previous_addr: None,
            importing,
        });
        Some(planned)
    }

    /// Resource-level dependencies as state records them.
    fn dependencies_of(&mut self, id: NodeId) -> Vec<String> {
        if let Some(v) = self.deps_cache.get(&id) {
            return v.clone();
        }
        let mut v: Vec<String> = self
            .ctx
            .graph
            .resource_dependencies(id)
            .into_iter()
            .map(|k| match k {
                NodeKey::Resource(p, r) if p.is_root() => r.to_string(),
                NodeKey::Resource(p, r) => format!("{p}.{r}"),
                other => other.to_string(),
            })
            .collect();
        v.sort();
        v.dedup();
        self.deps_cache.insert(id, v.clone());
        v
    }

    /// Whether any `replace_triggered_by` reference has a planned change.
    fn replace_triggered(
        &mut self,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
    ) -> bool {
        for e in &r.lifecycle.replace_triggered_by {
            let Some((root, steps)) = e.as_traversal() else {
                self.diags.push(
                    Diagnostic::error(
                        "Invalid replace_triggered_by expression",
                        "replace_triggered_by must reference a managed resource, a resource instance, or one of their attributes.",
                    )
                    .at(e.span),
                );
                continue;
            };
            let rs = baton_eval::refs::root_span(e);
            let rr = match baton_eval::refs::parse_reference(root, rs, &steps) {
                Ok(rr) => rr,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            let baton_eval::Reference::Resource(target) = &rr.reference else {
                self.diags.push(
                    Diagnostic::error(
                        "Invalid replace_triggered_by expression",
                        "replace_triggered_by must reference a managed resource, a resource instance, or one of their attributes.",
                    )
                    .at(e.span),
                );
                continue;
            };
            let rest = &steps[rr.consumed..];
            // An optional index, then attribute names.
            let mut key: Option<Option<InstanceKey>> = None;
            let mut attrs: Vec<String> = Vec::new();
            for (i, s) in rest.iter().enumerate() {
                match s {
                    baton_config::TraversalStep::Index(k, _) if i == 0 => {
                        let kv = {
                            let mut scope = self.scope(&iaddr.module);
                            scope.count_index = count.clone();
                            scope.each = each.clone();
                            let mut ev = self.evaluator(&scope);
                            ev.eval(k)
                        };
                        match kv {
                            Ok(v) => {
                                key = Some(if let Some(n) = v.as_number() {
                                    n.to_i64().map(InstanceKey::Int)
                                } else {
                                    v.as_str().map(|s| InstanceKey::Str(s.to_string()))
                                })
                            }
                            Err(d) => self.diags.push(d),
                        }
                    }
                    baton_config::TraversalStep::Attr(a, _) => attrs.push(a.to_string()),
                    baton_config::TraversalStep::Index(..) => break,
                }
            }
            for c in &self.changes {
                if c.addr.module != iaddr.module || &c.addr.resource != target {
                    continue;
                }
                if let Some(k) = &key {
                    if &c.addr.key != k {
                        continue;
                    }
                }
                if matches!(c.action, Action::NoOp | Action::Read) {
                    continue;
                }
                if attrs.is_empty() {
                    return true;
                }
                let get = |v: &Value| {
                    let mut cur = Some(v.clone());
                    for a in &attrs {
                        cur = cur.and_then(|x| x.get_attr(a).cloned());
                    }
                    cur
                };
                match (get(&c.before), get(&c.after)) {
                    (Some(b), Some(a)) if a.is_wholly_known() && b.raw_equal(&a) => {}
                    _ => return true,
                }
            }
        }
        false
    }

    fn plan_data(
        &mut self,
        id: NodeId,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
    ) -> Option<Value> {
        let reg = baton_provider::registry();
        let (info, dt) = reg.data_source(&r.addr.type_)?;
        let schema = dt.schema();
        let before_errs = self.diags.errors().count();
        self.check_rules_with(CheckSite {
            module: &iaddr.module,
            object: Checkable::Resource(iaddr.resource.clone()),
            key: iaddr.key.clone(),
            rules: &r.lifecycle.preconditions,
            summary: "Resource precondition failed",
            subject: &iaddr.to_string(),
            self_value: None,
            count: count.clone(),
            each: each.clone(),
        });
        if self.diags.errors().count() > before_errs {
            return None;
        }
        let config = self.eval_config(iaddr, r, count.clone(), each.clone(), schema)?;
        if self.provider_diags(r, dt.validate(&config)) {
            return None;
        }
        if self.opts.validate_only {
            return Some(proposed_new(schema, None, &config));
        }
        self.planned.insert(iaddr.clone());
        let pending = self
            .ctx
            .graph
            .resource_dependencies(id)
            .iter()
            .any(|k| match k {
                NodeKey::Resource(_, ra) => self.changes.iter().any(|c| {
                    &c.addr.resource == ra && !matches!(c.action, Action::NoOp | Action::Read)
                }),
                _ => false,
            });
        if config.is_wholly_known() && !pending && self.opts.mode != PlanMode::Destroy {
            let ro = config.clone().unmark_deep().0;
            match dt.read(&self.pctx, &ro) {
                Ok(v) => {
                    let v = mark_schema_sensitive(schema, v.mark_paths(&config.sensitive_paths()));
                    if !r.lifecycle.postconditions.is_empty() {
                        self.check_rules_with(CheckSite {
                            module: &iaddr.module,
                            object: Checkable::Resource(iaddr.resource.clone()),
                            key: iaddr.key.clone(),
                            rules: &r.lifecycle.postconditions,
                            summary: "Resource postcondition failed",
                            subject: &iaddr.to_string(),
                            self_value: Some(&v),
                            count,
                            each,
                        });
                    }
                    self.data_reads.insert(iaddr.clone(), v.clone());
                    return Some(v);
                }
                Err(e) => {
                    let span = e
                        .attr
                        .as_ref()
                        .and_then(|n| r.config.attr(n).map(|a| a.expr.span))
                        .unwrap_or(r.def_span);
                    self.diags.push(
                        Diagnostic::error(e.summary, e.detail)
                            .at(span)
                            .in_context(r.describe()),
                    );
                    return None;
                }
            }
        }
        let planned = mark_schema_sensitive(schema, proposed_new(schema, None, &config));
        let dependencies = self.dependencies_of(id);
        self.changes.push(ResourceChange {
            addr: iaddr.clone(),
            deposed: None,
            provider_name: info.name.to_string(),
            provider_source: info.source.to_string(),
            action: Action::Read,
            reason: Some(if config.is_wholly_known() {
                ActionReason::ReadBecauseDependencyPending
            } else {
                ActionReason::ReadBecauseConfigUnknown
            }),
            before: Value::null(schema.object_type()),
            after: planned.clone(),
            replace_paths: Vec::new(),
            dependencies,
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
        Some(planned)
    }

    // ----- imports -----

    /// The id an `import` block gives for `iaddr`, if one targets it.
    fn find_import(&mut self, iaddr: &InstanceAddr) -> Result<Option<String>, Diagnostic> {
        let imports = self.ctx.config.module.imports.clone();
        let root = ModuleInstance::root();
        for (i, imp) in imports.iter().enumerate() {
            let pairs: Vec<Option<(Value, Value)>> = match &imp.for_each {
                None => vec![None],
                Some(fe) => {
                    let exp = {
                        let scope = self.scope(&root);
                        let mut ev = self.evaluator(&scope);
                        expand(&mut ev, None, Some(fe), false)?
                    };
                    exp.map(|e| e.keys.iter().map(|(k, v)| each_values(k, v)).collect())
                        .unwrap_or_default()
                }
            };
            for each in pairs {
                let (to, id) = {
                    let mut scope = self.scope(&root);
                    scope.each = each.clone();
                    let mut ev = self.evaluator(&scope);
                    let to = import_target(&mut ev, &imp.to)?;
                    if &to != iaddr {
                        continue;
                    }
                    let id = ev.eval(&imp.id)?;
                    (to, id)
                };
                let _ = to;
                self.imports_matched.insert(i);
                let id = id.unmark_deep().0;
                return match id.as_str() {
                    Some(s) if !s.is_empty() => Ok(Some(s.to_string())),
                    _ => Err(Diagnostic::error(
                        "Invalid import id argument",
                        "The import ID must be a known, non-empty string.",
                    )
                    .at(imp.id.span)),
                };
            }
        }
        Ok(None)
    }

    /// Every `import` block must target an instance the configuration declares.
    fn check_imports(&mut self) {
        if self.opts.mode != PlanMode::Normal || self.opts.validate_only {
            return;
        }
        let imports = self.ctx.config.module.imports.clone();
        for (i, imp) in imports.iter().enumerate() {
            if self.imports_matched.contains(&i) {
                continue;
            }
            // Targets already in state are no-ops.
            let root = ModuleInstance::root();
            let to = {
                let scope = self.scope(&root);
                let mut ev = self.evaluator(&scope);
                import_target(&mut ev, &imp.to).ok()
            };
            if imp.for_each.is_none() {
                if let Some(to) = &to {
                    if self.prior.current(to).is_some() {
                        continue;
                    }
                }
            } else if to.is_none() {
                // Keys came from for_each; every generated target was either matched or is in state.
                continue;
            }
            let shown = to
                .map(|t| t.to_string())
                .unwrap_or_else(|| "this address".into());
            self.diags.push(
                Diagnostic::error(
                    "Configuration for import target does not exist",
                    format!("The configuration for the given import target {shown} does not exist. All target instances must have an associated configuration to be imported."),
                )
                .at(imp.span),
            );
        }
    }

    // ----- deletions -----

    fn provider_of(&self, type_: &str) -> (String, String) {
        let reg = baton_provider::registry();
        match reg.resource_type(type_) {
            Some((p, _)) => (p.name.to_string(), p.source.to_string()),
            None => ("unknown".into(), "unknown".into()),
        }
    }

    fn delete_change(
        &mut self,
        addr: &InstanceAddr,
        deposed: Option<String>,
        reason: Option<ActionReason>,
    ) {
        let Some(Some(before)) = self
            .refreshed
            .get(&(addr.clone(), deposed.clone()))
            .cloned()
        else {
            return; // already gone
        };
        let obj_key = baton_state::ObjectKey {
            addr: addr.clone(),
            deposed: deposed.clone().unwrap_or_default(),
        };
        let deps = self
            .prior
            .objects
            .get(&obj_key)
            .map(|o| o.dependencies.clone())
            .unwrap_or_default();
        // prevent_destroy still applies while the configuration exists.
        if deposed.is_none() {
            if let Some(r) = module_of(&self.ctx.config, &addr.module.path())
                .and_then(|m| m.resources.get(&addr.resource))
            {
                if r.lifecycle.prevent_destroy {
                    self.diags.push(prevent_destroy_error(addr, r));
                }
            }
        }
        let (pn, ps) = self.provider_of(&addr.resource.type_);
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            deposed,
            provider_name: pn,
            provider_source: ps,
            action: Action::Delete,
            reason,
            after: Value::null(before.ty()),
            before,
            replace_paths: Vec::new(),
            dependencies: deps,
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
    }

    fn orphans(&mut self) {
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if !k.deposed.is_empty() || k.addr.resource.mode == ResourceMode::Data {
                continue;
            }
            if self.planned.contains(&k.addr) {
                continue;
            }
            if !self.opts.targets.is_empty()
                && !self.opts.targets.iter().any(|t| k.addr.is_under(t))
            {
                continue;
            }
            let reason = self.orphan_reason(&k.addr);
            if self.forgotten(&k.addr) {
                self.forget_change(&k.addr);
                continue;
            }
            self.delete_change(&k.addr, None, Some(reason));
        }
    }

    /// Whether a `removed` block with `destroy = false` covers this object.
    fn forgotten(&self, a: &InstanceAddr) -> bool {
        for m in self.ctx.config.all_modules() {
            for rm in &m.removed {
                if rm.destroy {
                    continue;
                }
                let Some(text) = crate::moves::address_text(&rm.from) else {
                    continue;
                };
                let Ok(t) = Target::parse(&text) else {
                    continue;
                };
                // Relative to the declaring module: prefix every instance of that module.
                let depth = m.path.0.len();
                if a.module.0.len() < depth
                    || a.module.0[..depth]
                        .iter()
                        .zip(&m.path.0)
                        .any(|((n, _), p)| n != p)
                {
                    continue;
                }
                let rel = InstanceAddr::new(
                    ModuleInstance(a.module.0[depth..].to_vec()),
                    a.resource.clone(),
                    a.key.clone(),
                );
                let hit = match &t {
                    Target::Resource(tm, tr) => {
                        rel.module.path() == tm.path() && &rel.resource == tr
                    }
                    Target::Module(tm) => {
                        rel.module.0.len() >= tm.0.len()
                            && rel.module.0.iter().zip(&tm.0).all(|(x, y)| x.0 == y.0)
                    }
                    Target::Instance(i) => {
                        i.module.path() == rel.module.path() && i.resource == rel.resource
                    }
                };
                if hit {
                    return true;
                }
            }
        }
        false
    }

    fn forget_change(&mut self, addr: &InstanceAddr) {
        let Some(Some(before)) = self.refreshed.get(&(addr.clone(), None)).cloned() else {
            return;
        };
        let (pn, ps) = self.provider_of(&addr.resource.type_);
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            deposed: None,
            provider_name: pn,
            provider_source: ps,
            action: Action::Forget,
            reason: None,
            after: Value::null(before.ty()),
            before,
            replace_paths: Vec::new(),
            dependencies: Vec::new(),
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
    }

    fn orphan_reason(&self, a: &InstanceAddr) -> ActionReason {
        let Some(m) = module_of(&self.ctx.config, &a.module.path()) else {
            return ActionReason::DeleteBecauseNoModule;
        };
        if !self
            .state
            .module_instances(&a.module.path())
            .contains(&a.module)
        {
            return ActionReason::DeleteBecauseNoModule;
        }
        match m.resources.get(&a.resource) {
            None => ActionReason::DeleteBecauseNoResourceConfig,
            Some(_) => match &a.key {
                Some(InstanceKey::Int(_)) => ActionReason::DeleteBecauseCountIndex,
                Some(InstanceKey::Str(_)) => ActionReason::DeleteBecauseEachKey,
                None => ActionReason::DeleteBecauseNoResourceConfig,
            },
        }
    }

    fn destroy_changes(&mut self) {
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if !k.deposed.is_empty() || k.addr.resource.mode == ResourceMode::Data {
                continue;
            }
            if !self.opts.targets.is_empty()
                && !self.opts.targets.iter().any(|t| k.addr.is_under(t))
            {
                continue;
            }
            self.delete_change(&k.addr, None, None);
        }
    }

    fn deposed_changes(&mut self) {
        if self.opts.mode == PlanMode::RefreshOnly {
            return;
        }
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if k.deposed.is_empty() {
                continue;
            }
            self.delete_change(&k.addr, Some(k.deposed.clone()), None);
        }
    }

    // ----- outputs -----

    fn output_changes(&self) -> Vec<OutputChange> {
        let mut out = Vec::new();
        let root = ModuleInstance::root();
        let destroy = self.opts.mode == PlanMode::Destroy;
        for (name, o) in &self.ctx.config.module.outputs {
            if destroy {
                continue;
            }
            let Some(after) = self.state.get(&root, &NamedValue::Output(name.clone())) else {
                continue;
            };
            let before = self
                .prior
                .outputs
                .get(name)
                .and_then(|s| decode_output(s).ok());
            let action = match &before {
                None => Action::Create,
                Some(b) if after.is_wholly_known() && b.raw_equal(&after) => Action::NoOp,
                Some(_) => Action::Update,
            };
            out.push(OutputChange {
                name: name.clone(),
                action,
                before: before.unwrap_or_else(Value::dynamic_null),
                after,
                sensitive: o.sensitive,
            });
        }
        for (name, s) in &self.prior.outputs {
            if destroy || !self.ctx.config.module.outputs.contains_key(name) {
                out.push(OutputChange {
                    name: name.clone(),
                    action: Action::Delete,
                    before: decode_output(s).unwrap_or_else(|_| Value::dynamic_null()),
                    after: Value::dynamic_null(),
                    sensitive: s.sensitive,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn planned_outputs(&self) -> BTreeMap<String, (Value, bool)> {
        let root = ModuleInstance::root();
        let mut out = BTreeMap::new();
        if self.opts.mode == PlanMode::Destroy {
            return out;
        }
        for (name, o) in &self.ctx.config.module.outputs {
            if let Some(v) = self.state.get(&root, &NamedValue::Output(name.clone())) {
                out.insert(name.clone(), (v, o.sensitive));
            }
        }
        out
    }
}

/// The object type of a resource's schema.
fn resource_type(r: &Resource) -> Type {
    let reg = baton_provider::registry();
    match r.addr.mode {
        ResourceMode::Managed => reg
            .resource_type(&r.addr.type_)
            .map(|(_, t)| t.schema().object_type()),
        ResourceMode::Data => reg
            .data_source(&r.addr.type_)
            .map(|(_, t)| t.schema().object_type()),
    }
    .unwrap_or(Type::Dynamic)
}

pub(crate) fn prevent_destroy_error(addr: &InstanceAddr, r: &Resource) -> Diagnostic {
    Diagnostic::error(
        "Instance cannot be destroyed",
        format!("Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using --target."),
    )
    .at(r.def_span)
    .in_context(r.describe())
}

/// `ignore_changes = all`: every configurable attribute keeps its prior value.
fn ignore_all(config: &Value, prior: &Value, schema: &baton_provider::Schema) -> Value {
    let mut m = config
        .as_entries()
        .map(baton_eval::Entries::to_map)
        .unwrap_or_default();
    for (name, a) in &schema.attrs {
        if a.required || a.optional {
            if let Some(pv) = prior.get_attr(name) {
                m.insert(name.clone(), pv.clone());
            }
        }
    }
    for name in schema.blocks.keys() {
        if let Some(pv) = prior.get_attr(name) {
            m.insert(name.clone(), pv.clone());
        }
    }
    Value::object(m)
}

/// `ignore_changes = [a, b["k"]]`: the listed paths keep their prior values.
fn ignore_paths(config: &Value, prior: &Value, paths: &[Expr]) -> Value {
    let mut out = config.clone();
    for p in paths {
        let Some((root, steps)) = p.as_traversal() else {
            continue;
        };
        let mut path = vec![PathStep::Key(root.to_string())];
        for s in steps {
            match s {
                baton_config::TraversalStep::Attr(a, _) => path.push(PathStep::Key(a.to_string())),
                baton_config::TraversalStep::Index(k, _) => match &k.kind {
                    ExprKind::String(s) => path.push(PathStep::Key(s.clone())),
                    ExprKind::Number(n) => match n.parse::<usize>() {
                        Ok(i) => path.push(PathStep::Index(i)),
                        Err(_) => break,
                    },
                    _ => break,
                },
            }
        }
        let prior_at = value_at(prior, &path);
        out = baton_eval::value::set_path(out, &path, &|_old| {
            prior_at.clone().unwrap_or_else(Value::dynamic_null)
        });
    }
    out
}

fn value_at(v: &Value, path: &[PathStep]) -> Option<Value> {
    let mut cur = v.clone();
    for s in path {
        cur = match s {
            PathStep::Key(k) => cur.get_attr(k)?.clone(),
            PathStep::Index(i) => cur.as_seq()?.get(*i)?.clone(),
        };
    }
    Some(cur)
}

/// Evaluates an import block's `to` address (its index may use `each`).
fn import_target(ev: &mut Evaluator<'_>, e: &Expr) -> Result<InstanceAddr, Diagnostic> {
    let bad = || {
        Diagnostic::error(
            "Invalid import address",
            "The import target must be a resource instance address, such as terraform_data.a or module.m.terraform_data.a[\"key\"].",
        )
        .at(e.span)
    };
    let (root, steps) = e.as_traversal().ok_or_else(bad)?;
    let mut names: Vec<(String, Option<InstanceKey>)> = Vec::new();
    let mut cur_root = Some(root.to_string());
    let mut module = ModuleInstance::root();
    let mut resource: Option<ResourceAddr> = None;
    let mut key: Option<InstanceKey> = None;
    let mut i = 0;
    let eval_key = |ev: &mut Evaluator<'_>, k: &Expr| -> Result<InstanceKey, Diagnostic> {
        let v = ev.eval(k)?.unmark_deep().0;
        if let Some(n) = v.as_number() {
            return n.to_i64().map(InstanceKey::Int).ok_or_else(bad);
        }
        v.as_str()
            .map(|s| InstanceKey::Str(s.to_string()))
            .ok_or_else(bad)
    };
    let attr = |i: usize| match steps.get(i) {
        Some(baton_config::TraversalStep::Attr(a, _)) => Some(a.to_string()),
        _ => None,
    };
    // module.NAME[KEY]... segments
    while cur_root.as_deref() == Some("module") {
        let name = attr(i).ok_or_else(bad)?;
        i += 1;
        let mut k = None;
        if let Some(baton_config::TraversalStep::Index(ke, _)) = steps.get(i) {
            k = Some(eval_key(ev, ke)?);
            i += 1;
        }
        names.push((name, k));
        cur_root = attr(i);
        if cur_root.is_some() {
            i += 1;
        }
    }
    module.0 = names;
    if let Some(type_) = cur_root {
        let (mode, type_, name) = if type_ == "data" {
            let t = attr(i).ok_or_else(bad)?;
            let n = attr(i + 1).ok_or_else(bad)?;
            i += 2;
            (ResourceMode::Data, t, n)
        } else {
            let n = attr(i).ok_or_else(bad)?;
            i += 1;
            (ResourceMode::Managed, type_, n)
        };
        resource = Some(ResourceAddr { mode, type_, name });
        if let Some(baton_config::TraversalStep::Index(ke, _)) = steps.get(i) {
            key = Some(eval_key(ev, ke)?);
            i += 1;
        }
    }
    if i != steps.len() {
        return Err(bad());
    }
    let resource = resource.ok_or_else(bad)?;
    if resource.mode == ResourceMode::Data {
        return Err(Diagnostic::error(
            "Invalid import address",
            "Only managed resources can be imported.",
        )
        .at(e.span));
    }
    Ok(InstanceAddr::new(module, resource, key))
}
