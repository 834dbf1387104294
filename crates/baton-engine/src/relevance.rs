//! Which resource attributes a plan's changes depend on: Terraform's `relevant_attributes`
//! in plan JSON (what tells a reader which drift matters).
//!
//! Starting from the configuration of every resource instance the plan changes and the value
//! of every output it changes, references are followed through locals, input variables (to
//! the calling module's argument), module outputs and the configuration of referenced
//! resources, until nothing new appears; the resource attributes met on the way are the
//! answer. References are read statically, as Terraform's analysis reads them: a traversal
//! stops at its first index that is not a literal (`a[count.index].b` is all of `a`).
//!
//! It reads only the configuration and the plan; it evaluates nothing.

use crate::context::Context;
use crate::model::{Action, Plan};
use crate::nodes::module_of;
use baton_config::{Body, Expr, Module};
use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr};
use baton_eval::refs::{references_with_steps, Reference, StaticStep};
use std::collections::{BTreeSet, HashSet, VecDeque};

/// One resource attribute (or a whole resource, with an empty path) that changes depend on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RelevantAttr {
    /// The resource instance (or the resource, when no instance is named) as an address.
    pub resource: String,
    pub attribute: Vec<StaticStep>,
}

/// The relevant attributes of `plan`, in address order.
pub fn relevant_attributes(ctx: &Context, plan: &Plan) -> Vec<RelevantAttr> {
    let a = Analyzer::new(ctx, plan);
    let mut start = Vec::new();
    for c in &plan.changes {
        if c.action == Action::NoOp {
            continue;
        }
        if let Some(r) = a.resource(&c.addr.module, &c.addr.resource) {
            start.extend(a.body_refs(&c.addr.module, &r.config));
        }
    }
    let root = ModuleInstance::root();
    for oc in &plan.outputs {
        if oc.action == Action::NoOp {
            continue;
        }
        if let Some(o) = ctx.config.module.outputs.get(&oc.name) {
            start.extend(a.expr_refs(&root, &o.value));
        }
    }
    // Module outputs are not in the plan; an output whose value depends on a changing
    // resource changes with it, as Terraform's plan records.
    for mi in &a.instances {
        if mi.is_root() {
            continue;
        }
        let Some(m) = module_of(&ctx.config, &mi.path()) else {
            continue;
        };
        for o in m.outputs.values() {
            let refs = a.expr_refs(mi, &o.value);
            if a.closure(refs.clone()).iter().any(|n| a.changes(n)) {
                start.extend(refs);
            }
        }
    }
    let mut out: BTreeSet<RelevantAttr> = BTreeSet::new();
    for n in a.closure(start) {
        if let Node::Resource {
            module,
            addr,
            key,
            path,
        } = n
        {
            out.insert(RelevantAttr {
                resource: InstanceAddr::new(module, addr, key).to_string(),
                attribute: path,
            });
        }
    }
    out.into_iter().collect()
}

/// Something a reference leads to, in a module instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    Resource {
        module: ModuleInstance,
        addr: ResourceAddr,
        key: Option<InstanceKey>,
        path: Vec<StaticStep>,
    },
    Var(ModuleInstance, String),
    Local(ModuleInstance, String),
    Output(ModuleInstance, String),
}

struct Analyzer<'a> {
    ctx: &'a Context,
    /// The module instances the plan knows of (where its changes and checks are).
    instances: BTreeSet<ModuleInstance>,
    /// Resources (module instance, address, key) with a change other than no-op.
    changing: HashSet<(ModuleInstance, ResourceAddr, Option<InstanceKey>)>,
}

impl<'a> Analyzer<'a> {
    fn new(ctx: &'a Context, plan: &Plan) -> Analyzer<'a> {
        let mut instances = BTreeSet::new();
        let mut add = |mi: &ModuleInstance| {
            let mut cur = Some(mi.clone());
            while let Some(m) = cur {
                cur = m.parent();
                instances.insert(m);
            }
        };
        add(&ModuleInstance::root());
        for c in &plan.changes {
            add(&c.addr.module);
        }
        for c in &plan.checks {
            add(&c.module);
        }
        for (a, _) in plan.refreshed.keys() {
            add(&a.module);
        }
        let changing = plan
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| {
                (
                    c.addr.module.clone(),
                    c.addr.resource.clone(),
                    c.addr.key.clone(),
                )
            })
            .collect();
        Analyzer {
            ctx,
            instances,
            changing,
        }
    }

    fn module(&self, mi: &ModuleInstance) -> Option<&'a Module> {
        module_of(&self.ctx.config, &mi.path())
    }

    fn resource(
        &self,
        mi: &ModuleInstance,
        addr: &ResourceAddr,
    ) -> Option<&'a baton_config::Resource> {
        self.module(mi)
            .and_then(|m| m.resources.get(addr))
            .map(|r| &**r)
    }

    /// Whether a node is a resource the plan changes (any instance, when none is named).
    fn changes(&self, n: &Node) -> bool {
        match n {
            Node::Resource {
                module, addr, key, ..
            } => self
                .changing
                .iter()
                .any(|(m, a, k)| m == module && a == addr && (key.is_none() || k == key)),
            _ => false,
        }
    }

    /// Everything reachable from `start` (itself included), following references.
    fn closure(&self, start: Vec<Node>) -> Vec<Node> {
        let mut seen: HashSet<Node> = HashSet::new();
        let mut order = Vec::new();
        let mut queue: VecDeque<Node> = start.into();
        while let Some(n) = queue.pop_front() {
            if !seen.insert(n.clone()) {
                continue;
            }
            queue.extend(self.meta_refs(&n));
            order.push(n);
        }
        order
    }

    /// What a node's value is computed from.
    fn meta_refs(&self, n: &Node) -> Vec<Node> {
        match n {
            Node::Resource {
                module, addr, path, ..
            } => {
                let Some(r) = self.resource(module, addr) else {
                    return Vec::new();
                };
                // Narrowed to the argument or nested blocks the path names, if any.
                if let Some(StaticStep::Attr(first)) = path.first() {
                    if let Some(a) = r.config.attr(first) {
                        return self.expr_refs(module, &a.expr);
                    }
                    let blocks: Vec<&Body> = r.config.blocks_of(first).map(|b| &b.body).collect();
                    if !blocks.is_empty() {
                        return blocks
                            .into_iter()
                            .flat_map(|b| self.body_refs(module, b))
                            .collect();
                    }
                }
                self.body_refs(module, &r.config)
            }
            Node::Var(mi, name) => {
                let (Some(parent), Some((call, _))) = (mi.parent(), mi.0.last()) else {
                    return Vec::new();
                };
                self.module(&parent)
                    .and_then(|m| m.module_calls.get(call))
                    .and_then(|c| c.inputs.iter().find(|a| &a.name == name))
                    .map(|a| self.expr_refs(&parent, &a.expr))
                    .unwrap_or_default()
            }
            Node::Local(mi, name) => self
                .module(mi)
                .and_then(|m| m.locals.get(name))
                .map(|l| self.expr_refs(mi, &l.expr))
                .unwrap_or_default(),
            Node::Output(mi, name) => self
                .module(mi)
                .and_then(|m| m.outputs.get(name))
                .map(|o| self.expr_refs(mi, &o.value))
                .unwrap_or_default(),
        }
    }

    fn body_refs(&self, mi: &ModuleInstance, b: &Body) -> Vec<Node> {
        let mut out = Vec::new();
        for a in &b.attrs {
            out.extend(self.expr_refs(mi, &a.expr));
        }
        for blk in &b.blocks {
            out.extend(self.body_refs(mi, &blk.body));
        }
        out
    }

    fn expr_refs(&self, mi: &ModuleInstance, e: &Expr) -> Vec<Node> {
        let mut out = Vec::new();
        for (r, steps) in references_with_steps(e) {
            match r.reference {
                Reference::Var(n) => out.push(Node::Var(mi.clone(), n)),
                Reference::Local(n) => out.push(Node::Local(mi.clone(), n)),
                Reference::Resource(addr) => {
                    let (key, path) = match steps.split_first() {
                        Some((first, rest)) => match instance_key(first) {
                            Some(k) => (Some(k), rest.to_vec()),
                            None => (None, steps.clone()),
                        },
                        None => (None, Vec::new()),
                    };
                    out.push(Node::Resource {
                        module: mi.clone(),
                        addr,
                        key,
                        path,
                    });
                }
                Reference::Module(call) => out.extend(self.module_refs(mi, &call, &steps)),
                _ => {}
            }
        }
        out
    }

    /// `module.NAME[KEY].OUTPUT`: that output of that instance; without a key, of every
    /// instance; without an output, every output.
    fn module_refs(&self, mi: &ModuleInstance, call: &str, steps: &[StaticStep]) -> Vec<Node> {
        let (key, rest) = match steps.split_first() {
            Some((first, rest)) => match instance_key(first) {
                Some(k) => (Some(k), rest),
                None => (None, steps),
            },
            None => (None, steps),
        };
        let children: Vec<ModuleInstance> = match key {
            Some(k) => vec![mi.child(call, Some(k))],
            None => {
                let known: Vec<ModuleInstance> = self
                    .instances
                    .iter()
                    .filter(|c| {
                        c.parent().as_ref() == Some(mi)
                            && c.0.last().is_some_and(|(n, _)| n == call)
                    })
                    .cloned()
                    .collect();
                if known.is_empty() {
                    vec![mi.child(call, None)]
                } else {
                    known
                }
            }
        };
        let mut out = Vec::new();
        for child in children {
            match rest.first() {
                Some(StaticStep::Attr(o)) => out.push(Node::Output(child, o.clone())),
                _ => {
                    if let Some(m) = self.module(&child) {
                        out.extend(
                            m.outputs
                                .keys()
                                .map(|o| Node::Output(child.clone(), o.clone())),
                        );
                    }
                }
            }
        }
        out
    }
}

/// A literal index as an instance key.
fn instance_key(s: &StaticStep) -> Option<InstanceKey> {
    match s {
        StaticStep::Number(n) => n.parse().ok().map(InstanceKey::Int),
        StaticStep::Key(k) => Some(InstanceKey::Str(k.clone())),
        StaticStep::Attr(_) => None,
    }
}
