//! The providers of a run: the set of provider types a configuration is loaded with
//! ([`Context::providers`](crate::Context::providers): the built-in set, [`builtin`], unless
//! the caller brings another), and the settings the root module's `provider "NAME" { ... }`
//! blocks give them ([`ProviderConfigs`]), which reach every provider call in
//! [`ProviderCtx::config`].
//!
//! Provider blocks are evaluated before any provider is called — refresh comes before the
//! plan walk — by `evaluate`: each block of the root module without `alias`, against its
//! provider's schema, in a scope holding the input variables and local values it needs
//! (evaluated here as the walk evaluates them). A block may refer to input variables, local
//! values, `path.*`, `terraform.workspace` and functions; one that depends on a resource, data
//! source or module is an error, as Baton cannot evaluate it before planning. Terraform
//! evaluates such a block during its walk instead, with unknown values while planning.
//! Blocks with `alias` are checked when loading but not evaluated: Baton does not honour the
//! `provider` meta-argument, so no call could use them. Provider blocks in child modules are
//! checked the same way and ignored, as before.
//!
//! Must not call providers itself, nor keep anything between runs.

use crate::body::eval_body;
use crate::context::Context;
use crate::graph::NodeKey;
use crate::nodes::{NodeEval, RootValue};
use crate::values::EvalState;
use baton_config::Config;
use baton_core::{Diagnostic, Diagnostics, ModuleInstance};
use baton_core::{InstanceAddr, ModulePath};
use baton_eval::{Type, Value};
use baton_graph::NodeId;
use baton_provider::{ProviderCtx, ProviderInfo};
use std::collections::{BTreeMap, HashSet};

pub use crate::context::builtin_providers as builtin;
pub use crate::provider_refs::{
    config_key, resource_alias, set_resolver, state_alias, state_source, Resolver,
};

/// The evaluated settings of a run's providers, by provider local name: the root module's
/// `provider` blocks, each an object of its provider's schema (unset arguments null, without
/// sensitive marks). A provider without a block has none.
#[derive(Clone, Debug, Default)]
pub struct ProviderConfigs(BTreeMap<String, Value>, Aliases);

/// Which aliased provider configuration each resource uses, by the resource's address
/// without instance keys (`module.net.aws_instance.web`); resources absent use their
/// provider's default configuration.
#[derive(Clone, Debug, Default)]
struct Aliases(BTreeMap<(ModulePath, baton_core::ResourceAddr), String>);

impl ProviderConfigs {
    /// Settings by provider configuration key, as a worker receives them with a task.
    pub(crate) fn from_map(m: BTreeMap<String, Value>) -> ProviderConfigs {
        ProviderConfigs(m, Aliases::default())
    }

    /// Records the aliased configuration each resource of `config` uses, and, for objects
    /// of `state` whose resources the configuration no longer has, the one state recorded.
    pub(crate) fn learn_aliases(&mut self, config: &Config, state: Option<&baton_state::Snapshot>) {
        fn walk(c: &Config, path: &mut Vec<String>, root: &Config, out: &mut Aliases) {
            let mp = ModulePath(path.clone());
            for r in c.module.resources.values() {
                if let Some(a) = resource_alias(root, &mp, r) {
                    out.0.insert((mp.clone(), r.addr.clone()), a);
                }
            }
            for (name, child) in &c.children {
                path.push(name.clone());
                walk(child, path, root, out);
                path.pop();
            }
        }
        walk(config, &mut Vec::new(), config, &mut self.1);
        if let Some(s) = state {
            for (k, obj) in &s.objects {
                let key = (k.addr.module.path(), k.addr.resource.clone());
                let configured = config
                    .descendant(&key.0)
                    .is_some_and(|c| c.module.resources.contains_key(&key.1));
                if configured {
                    continue;
                }
                if let Some(a) = state_alias(&obj.provider) {
                    self.1 .0.insert(key, a.to_string());
                }
            }
        }
    }

    /// The alias of the configuration the object at `addr` uses (`None`: the default one).
    pub fn alias_of(&self, addr: &InstanceAddr) -> Option<&str> {
        self.1
             .0
            .get(&(addr.module.path(), addr.resource.clone()))
            .map(String::as_str)
    }

    /// The context of a call for the object at `addr`, a type of provider `p`: `base` with
    /// the settings of the configuration that object uses.
    pub fn ctx_at(&self, base: &ProviderCtx, p: ProviderInfo, addr: &InstanceAddr) -> ProviderCtx {
        self.ctx_for(base, p, self.alias_of(addr))
    }

    /// How state names the provider configuration of the object at `addr`:
    /// `provider["SOURCE"]`, with `.ALIAS` for an aliased one (as Terraform).
    pub fn state_string(&self, p: ProviderInfo, addr: &InstanceAddr) -> String {
        match self.alias_of(addr) {
            Some(a) => format!("{}.{a}", p.state_string()),
            None => p.state_string(),
        }
    }

    /// The settings of the provider configuration `key` (`aws`, `aws.west`), if the
    /// configuration has a block for it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The context of a call to a type of provider `p` through its default configuration:
    /// `base` with `p`'s settings.
    pub fn ctx(&self, base: &ProviderCtx, p: ProviderInfo) -> ProviderCtx {
        self.ctx_for(base, p, None)
    }

    /// The context of a call through configuration `alias` of provider `p` (`None`: the
    /// default one). An alias the configuration does not define gets no settings.
    pub fn ctx_for(&self, base: &ProviderCtx, p: ProviderInfo, alias: Option<&str>) -> ProviderCtx {
        let mut ctx = base.clone();
        ctx.config = self.get(&config_key(p.name, alias)).cloned();
        ctx
    }
}

/// How [`evaluate`] treats what goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A plan or an apply: every problem is an error, and the caller stops before calling a
    /// provider. A variable or local value the blocks need that fails is reported here (the
    /// walk that would report it does not run).
    Run,
    /// `validate`: the blocks are type-checked with unknown variables; a failing variable or
    /// local value is left to the walk to report, and dependence on resources is not
    /// checked (Terraform's validate accepts it).
    Validate,
    /// A restore (rollback): undoing changes must not fail for want of settings, so problems
    /// are warnings and the provider gets none.
    BestEffort,
}

/// Evaluates the root module's provider blocks for the providers of `nodes.ctx`. `nodes`
/// evaluates into a state of its own (not the walk's: the walk evaluates everything again).
/// `root` gives the root input variables' raw values, as to the plan walk; without it, they
/// are already in that state (an apply seeds them from the plan).
pub(crate) fn evaluate(
    nodes: &NodeEval<'_>,
    root: Option<&RootValue<'_>>,
    mode: Mode,
) -> (ProviderConfigs, Diagnostics) {
    let ctx = nodes.ctx;
    let mut configs = ProviderConfigs::default();
    configs.learn_aliases(&ctx.config, None);
    let mut diags = Diagnostics::new();
    let blocks: Vec<_> = ctx
        .config
        .module
        .providers
        .iter()
        .filter_map(|b| ctx.providers.provider(&b.name).map(|(_, s)| (b, s)))
        .collect();
    if blocks.is_empty() {
        return (configs, diags);
    }
    let g = &ctx.graph.graph;
    // What each block depends on; a block that depends on anything but variables and local
    // values cannot be evaluated yet.
    let mut needed: HashSet<NodeId> = HashSet::new();
    let mut closures = Vec::new();
    let mut unavailable = Vec::new();
    for (b, schema) in blocks {
        let key = config_key(&b.name, b.alias.as_deref());
        let direct = ctx.graph.providers.get(&key).cloned().unwrap_or_default();
        let closure = g.dependencies_closure(&direct);
        let mut outside: Vec<&NodeKey> = closure
            .iter()
            .map(|id| g.node(*id))
            .filter(|k| !matches!(k, NodeKey::Var(..) | NodeKey::Local(..)))
            .collect();
        outside.sort();
        if let Some(first) = outside.first() {
            if mode != Mode::Validate {
                unavailable.push(b.name.as_str());
                let d = Diagnostics(vec![
                    Diagnostic::error(
                        "Unsupported provider configuration",
                        format!(
                            "The settings of provider \"{}\" depend on {first}. Baton evaluates provider blocks before planning, from input variables and local values only, so a provider block cannot depend on resources, data sources or modules.",
                            b.name
                        ),
                    )
                    .at(b.def_span)
                    .in_context(format!("provider \"{}\"", b.name)),
                ]);
                diags.extend(if mode == Mode::BestEffort {
                    warnings(d)
                } else {
                    d
                });
                continue;
            }
        }
        needed.extend(
            closure
                .iter()
                .copied()
                .filter(|id| matches!(g.node(*id), NodeKey::Var(..) | NodeKey::Local(..))),
        );
        closures.push((b, schema, closure));
    }
    // The variables and local values the blocks need, in dependency order.
    let mut failed: HashSet<NodeId> = HashSet::new();
    let mut dep_diags = Diagnostics::new();
    if !needed.is_empty() {
        let order = g.toposort().unwrap_or_default();
        for id in order.into_iter().filter(|id| needed.contains(id)) {
            if g.dependencies(id).iter().any(|d| failed.contains(d)) {
                failed.insert(id);
                continue;
            }
            let d = match (g.node(id), root) {
                (NodeKey::Var(p, n), Some(root)) => nodes.var(p, n, root).1,
                (NodeKey::Var(p, n), None) if !p.is_root() => {
                    nodes.var(p, n, &|_, _, _| Ok(None)).1
                }
                (NodeKey::Local(p, n), _) => nodes.local(p, n),
                _ => Diagnostics::new(),
            };
            if d.has_errors() {
                failed.insert(id);
                dep_diags.extend(d);
            }
        }
    }
    match mode {
        Mode::Run => diags.extend(dep_diags),
        Mode::Validate => {}
        Mode::BestEffort => diags.extend(warnings(dep_diags)),
    }
    let root_instance = ModuleInstance::root();
    for (b, schema, closure) in closures {
        if closure.iter().any(|id| failed.contains(id)) {
            unavailable.push(b.name.as_str());
            continue;
        }
        let context = format!("provider \"{}\"", b.name);
        let (v, d) = {
            let scope = nodes.scope(&root_instance);
            let mut ev = nodes.evaluator(&scope);
            eval_body(&mut ev, &b.config, schema, b.def_span, &context)
        };
        if d.has_errors() {
            unavailable.push(b.name.as_str());
        } else {
            configs
                .0
                .insert(config_key(&b.name, b.alias.as_deref()), v.unmark_deep().0);
        }
        diags.extend(if mode == Mode::BestEffort {
            warnings(d)
        } else {
            d
        });
    }
    if mode == Mode::BestEffort && !unavailable.is_empty() {
        diags.push(Diagnostic::warning(
            "Provider settings not available",
            format!(
                "The settings of {} could not be evaluated (see above): this restore calls {} without them.",
                unavailable
                    .iter()
                    .map(|n| format!("provider \"{n}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                if unavailable.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    (configs, diags)
}

/// The providers' settings for an apply walk: the configuration's provider blocks evaluated
/// with the root variables `variables` (a plan's), `timestamp` being the plan's time. Errors
/// stop the run before its first action, except for a `restore`, which must not fail for want
/// of settings (its variables are the undone run's, or none: then defaults).
pub(crate) fn for_apply(
    ctx: &Context,
    variables: &BTreeMap<String, Value>,
    timestamp: &str,
    restore: bool,
) -> (ProviderConfigs, Diagnostics) {
    let state = EvalState::new();
    let nodes = NodeEval {
        ctx,
        state: &state,
        planning: false,
        validate_only: false,
        plan_timestamp: Some(timestamp),
    };
    let mode = if restore { Mode::BestEffort } else { Mode::Run };
    let root = |name: &str, _: &Type, _: bool| Ok(variables.get(name).cloned());
    evaluate(&nodes, Some(&root), mode)
}

fn warnings(d: Diagnostics) -> Diagnostics {
    Diagnostics(
        d.into_iter()
            .map(|mut x| {
                x.severity = baton_core::Severity::Warning;
                x
            })
            .collect(),
    )
}
