//! The planning entry point: [`plan`] moves and refreshes the prior state, builds the
//! [`Planner`], walks the configuration graph in dependency order (variables, locals, outputs,
//! module calls here; resources in [`super::resource`]), then adds deletions and output changes
//! and assembles the [`Plan`].
//!
//! This module decides no resource action itself, and writes nothing anywhere: the result is
//! a value.

use super::opts::{ObjKey, PlanOpts};
use super::refresh::{refresh, Refreshed};
use crate::context::Context;
use crate::graph::NodeKey;
use crate::model::{Action, Plan, PlanMode, ResourceChange};
use crate::nodes::{CheckSite, NodeEval};
use crate::providers::{Mode as ProviderMode, ProviderConfigs};
use crate::values::{EvalState, InstanceScope};
use crate::vars::{gather, parse_text, RawValue};
use crate::Observer;
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, ModuleInstance, ModulePath, ResourceAddr, Target,
};
use baton_eval::{Evaluator, FnCtx, Type, Value};
use baton_graph::NodeId;
use baton_provider::{ProviderCtx, ProviderInfo};
use baton_state::Snapshot;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    let pctx = ctx.provider_ctx();
    // The providers' settings, before anything calls a provider.
    let configs = {
        let scratch = EvalState::new();
        let nodes = NodeEval {
            ctx,
            state: &scratch,
            planning: true,
            validate_only: opts.validate_only,
            plan_timestamp: (!opts.validate_only).then_some(timestamp.as_str()),
        };
        let root = root_value(&raw_vars, opts.validate_only, &ctx.sources, &ctx.dir);
        let mode = if opts.validate_only {
            ProviderMode::Validate
        } else {
            ProviderMode::Run
        };
        let (configs, d) = crate::providers::evaluate(&nodes, Some(&root), mode);
        diags.extend(d);
        if diags.has_errors() && !opts.validate_only {
            return (None, diags);
        }
        configs
    };
    // Refresh.
    // Moves (`moved` blocks, implicit count moves) rename objects before anything else.
    let original = prior;
    let (stmts, d) = crate::moves::statements(&ctx.config);
    diags.extend(d);
    if diags.has_errors() {
        return (None, diags);
    }
    let (mut moved_prior, moves, d) = crate::moves::apply_moves(prior, &stmts, &ctx.config);
    diags.extend(d);
    for (from, to) in moves
        .iter()
        .filter(|(f, t)| f.resource.type_ != t.resource.type_)
    {
        let objects = moved_prior.to_mut();
        if let Err(e) = move_across_types(ctx, &pctx, &configs, objects, from, to) {
            diags.push(e);
        }
    }
    if diags.has_errors() {
        return (None, diags);
    }
    let prior = &moved_prior;
    let (refreshed, drift, d) = refresh(ctx, prior, opts, &pctx, &configs, observer);
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
        configs,
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
            let w = crate::checks::run(ctx, &p.state, true, &p.timestamp, &p.pctx, &p.configs);
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
            if let Some((_, rt)) = ctx.providers.resource_type(&c.addr.resource.type_) {
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

/// How the plan finds a root variable's value: from its raw value (unknown while validating).
fn root_value<'f>(
    raw_vars: &'f BTreeMap<String, RawValue>,
    validate_only: bool,
    sources: &'f baton_core::Sources,
    dir: &'f std::path::Path,
) -> impl Fn(&str, &Type, bool) -> Result<Option<Value>, Diagnostic> + 'f {
    move |name: &str, ty: &Type, literal: bool| {
        if validate_only {
            return Ok(Some(Value::unknown(ty.clone())));
        }
        match raw_vars.get(name) {
            Some(RawValue::Text { text, origin }) => {
                parse_text(text, origin, literal, sources, dir).map(Some)
            }
            Some(RawValue::Value { value, .. }) => Ok(Some(value.clone())),
            None => Ok(None),
        }
    }
}

pub(super) struct Planner<'a> {
    pub(super) ctx: &'a Context,
    pub(super) prior: &'a Snapshot,
    pub(super) opts: &'a PlanOpts,
    pub(super) refreshed: Refreshed,
    pub(super) state: EvalState,
    pub(super) changes: Vec<ResourceChange>,
    pub(super) diags: Diagnostics,
    pub(super) raw_vars: BTreeMap<String, RawValue>,
    pub(super) failed: HashSet<NodeId>,
    pub(super) planned: HashSet<InstanceAddr>,
    pub(super) data_reads: BTreeMap<InstanceAddr, Value>,
    /// The provider context of the plan's calls (see [`Planner::call_ctx`]).
    pub(super) pctx: ProviderCtx,
    /// The providers' settings, from the root module's provider blocks.
    pub(super) configs: ProviderConfigs,
    pub(super) variables: BTreeMap<String, Value>,
    /// With `--target`, the nodes to plan; others keep their state values.
    pub(super) targeted: Option<HashSet<NodeId>>,
    /// Resource-level dependencies per graph node (computed once per resource).
    pub(super) deps_cache: HashMap<NodeId, Vec<String>>,
    /// Current objects in state, by resource (built on first use).
    pub(super) prior_by_resource:
        Option<HashMap<(ModuleInstance, ResourceAddr), Vec<InstanceAddr>>>,
    /// Import blocks (by index) that found their target instance.
    pub(super) imports_matched: HashSet<usize>,
    /// When planning started (RFC 3339): the plan's timestamp.
    pub(super) timestamp: String,
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

    pub(super) fn evaluator<'s>(&'s self, scope: &'s InstanceScope<'s>) -> Evaluator<'s>
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

    pub(super) fn scope<'s>(&'s self, mi: &'s ModuleInstance) -> InstanceScope<'s> {
        InstanceScope::new(&self.state, self.ctx, mi)
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

    /// The context of a call to a type of provider `p`: the plan's, with `p`'s settings.
    pub(super) fn call_ctx(&self, p: ProviderInfo, addr: &baton_core::InstanceAddr) -> ProviderCtx {
        self.configs.ctx_at(&self.pctx, p, addr)
    }

    fn var(&mut self, p: &ModulePath, name: &str) {
        let root = root_value(
            &self.raw_vars,
            self.opts.validate_only,
            &self.ctx.sources,
            &self.ctx.dir,
        );
        let (vals, d) = self.nodes().var(p, name, &root);
        self.diags.extend(d);
        if p.is_root() {
            if let Some(v) = vals {
                self.variables.insert(name.to_string(), v);
            }
        }
    }

    pub(super) fn check_rules_with(&mut self, site: CheckSite<'_>) {
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
}

/// A `moved` block between two resource types: the object now at `to` (still holding the
/// source type's state) is taken over by the target type's provider
/// ([`baton_provider::ResourceType::move_from`], Terraform's MoveResourceState) and recorded
/// as an object of the target type.
fn move_across_types(
    ctx: &Context,
    pctx: &ProviderCtx,
    configs: &ProviderConfigs,
    snapshot: &mut Snapshot,
    from: &baton_core::InstanceAddr,
    to: &baton_core::InstanceAddr,
) -> Result<(), Diagnostic> {
    let key = baton_state::ObjectKey::current(to.clone());
    let Some(obj) = snapshot.objects.get(&key).cloned() else {
        return Ok(());
    };
    let Some((info, rt)) = ctx.providers.resource_type(&to.resource.type_) else {
        return Ok(());
    };
    let state = crate::statecodec::decode_object(&obj).map_err(|e| {
        Diagnostic::error(
            "Invalid object in state",
            format!("The state entry for {from} cannot be decoded: {e}."),
        )
    })?;
    let source = baton_provider::MoveSource {
        provider: crate::providers::state_source(&obj.provider),
        type_name: &from.resource.type_,
        schema_version: obj.schema_version,
        state: &state,
    };
    let moved = rt
        .move_from(&configs.ctx_at(pctx, info, to), source)
        .map_err(|e| {
            Diagnostic::error(
                e.summary,
                format!("While moving {from} to {to}: {}", e.detail),
            )
        })?;
    let moved = baton_provider::plan::mark_schema_sensitive(rt.schema(), moved);
    let mut o = crate::statecodec::encode_object(
        &moved,
        &configs.state_string(info, to),
        obj.dependencies.clone(),
        obj.create_before_destroy,
        obj.status,
    );
    o.schema_version = rt.schema().version;
    snapshot.objects.insert(key, o);
    Ok(())
}
