//! The configuration's dependency graph: one node per input variable, local value, output,
//! resource (managed or data) and module call, in every module of the tree; an edge wherever
//! one refers to another (references, `depends_on`, module nesting).
//!
//! Building the graph validates every reference (undeclared names are diagnostics with their
//! location) and reports cycles naming every member with its location. It evaluates nothing.
//!
//! Provider blocks are not nodes: they are evaluated before the walk (see [`crate::providers`]).
//! Their references are checked here all the same, and what the root module's blocks refer to
//! is recorded in [`ConfigGraph::providers`].

use baton_config::{Config, Expr, Module, Resource};
use baton_core::{Diagnostic, Diagnostics, ModulePath, ResourceAddr, ResourceMode, Sources, Span};
use baton_eval::refs::{references, RefAt, Reference};
use baton_graph::{Graph, NodeId};
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKey {
    Var(ModulePath, String),
    Local(ModulePath, String),
    Output(ModulePath, String),
    Resource(ModulePath, ResourceAddr),
    /// The call of module `name` from the module at the path (expands its instances).
    ModuleCall(ModulePath, String),
}

impl NodeKey {
    pub fn module(&self) -> &ModulePath {
        match self {
            NodeKey::Var(m, _)
            | NodeKey::Local(m, _)
            | NodeKey::Output(m, _)
            | NodeKey::Resource(m, _)
            | NodeKey::ModuleCall(m, _) => m,
        }
    }
}

impl std::fmt::Display for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = |m: &ModulePath| {
            if m.is_root() {
                String::new()
            } else {
                format!("{m}.")
            }
        };
        match self {
            NodeKey::Var(m, n) => write!(f, "{}var.{n}", prefix(m)),
            NodeKey::Local(m, n) => write!(f, "{}local.{n}", prefix(m)),
            NodeKey::Output(m, n) => write!(f, "{}output.{n}", prefix(m)),
            NodeKey::Resource(m, r) => write!(f, "{}{r}", prefix(m)),
            NodeKey::ModuleCall(m, n) => write!(f, "{}module.{n}", prefix(m)),
        }
    }
}

pub struct ConfigGraph {
    pub graph: Graph<NodeKey>,
    pub index: HashMap<NodeKey, NodeId>,
    pub spans: HashMap<NodeKey, Span>,
    /// Errors that planning reports but `validate` does not (a block referring to itself),
    /// as Terraform's validate walk does not find them.
    pub plan_errors: Diagnostics,
    /// The nodes each `provider` block of the root module refers to directly, by its
    /// configuration key (`aws`, `aws.west`: [`crate::provider_refs::config_key`]).
    pub providers: HashMap<String, Vec<NodeId>>,
}

impl ConfigGraph {
    pub fn id(&self, k: &NodeKey) -> Option<NodeId> {
        self.index.get(k).copied()
    }

    /// The resources a node depends on, directly or through values (locals, variables,
    /// outputs, module calls), not through other resources.
    pub fn resource_dependencies(&self, id: NodeId) -> BTreeSet<NodeKey> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeId> = self.graph.dependencies(id).to_vec();
        let mut seen = std::collections::HashSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            let k = self.graph.node(n);
            if matches!(k, NodeKey::Resource(..)) {
                out.insert(k.clone());
            } else {
                stack.extend(self.graph.dependencies(n).iter().copied());
            }
        }
        out
    }
}

/// Every expression of a resource block whose references create dependencies.
pub fn resource_exprs(r: &Resource) -> Vec<&Expr> {
    let mut v: Vec<&Expr> = Vec::new();
    v.extend(r.count.as_deref());
    v.extend(r.for_each.as_deref());
    collect_body(&r.config, &mut v);
    for p in &r.provisioners {
        if p.when == baton_config::ProvisionerWhen::Create {
            collect_body(&p.body, &mut v);
        }
    }
    v.extend(r.depends_on.iter());
    for c in r
        .lifecycle
        .preconditions
        .iter()
        .chain(r.lifecycle.postconditions.iter())
    {
        v.push(&c.condition);
        v.extend(c.error_message.iter());
    }
    v.extend(r.lifecycle.replace_triggered_by.iter());
    v
}

fn collect_body<'a>(b: &'a baton_config::Body, v: &mut Vec<&'a Expr>) {
    for a in &b.attrs {
        v.push(&a.expr);
    }
    for blk in &b.blocks {
        collect_body(&blk.body, v);
    }
}

struct Builder<'a> {
    g: Graph<NodeKey>,
    index: HashMap<NodeKey, NodeId>,
    spans: HashMap<NodeKey, Span>,
    diags: Diagnostics,
    plan_errors: Diagnostics,
    providers: HashMap<String, Vec<NodeId>>,
    sources: &'a Sources,
}

impl Builder<'_> {
    fn node(&mut self, k: NodeKey, span: Span) -> NodeId {
        if let Some(id) = self.index.get(&k) {
            return *id;
        }
        let id = self.g.add_node(k.clone());
        self.index.insert(k.clone(), id);
        self.spans.insert(k, span);
        id
    }
}

/// Builds the graph of a whole configuration tree.
pub fn build(config: &Config, sources: &Sources) -> (ConfigGraph, Diagnostics) {
    let mut b = Builder {
        g: Graph::new(),
        index: HashMap::new(),
        spans: HashMap::new(),
        diags: Diagnostics::new(),
        plan_errors: Diagnostics::new(),
        providers: HashMap::new(),
        sources,
    };
    // Nodes first, so references can find them.
    add_nodes(&mut b, config);
    add_edges(&mut b, config, None);
    // Cycles.
    let cycles = b.g.cycles();
    for c in cycles {
        let names: Vec<String> = c
            .iter()
            .map(|id| {
                let k = b.g.node(*id);
                let loc = b
                    .spans
                    .get(k)
                    .and_then(|s| b.sources.location(*s))
                    .unwrap_or_default();
                format!("  - {k} ({loc})")
            })
            .collect();
        let first = b.g.node(c[0]).clone();
        let mut ring: Vec<String> = c.iter().map(|id| b.g.node(*id).to_string()).collect();
        ring.push(first.to_string());
        b.diags.push(
            Diagnostic::error(
                format!("Cycle: {}", ring.join(" → ")),
                format!(
                    "These objects refer to each other in a loop, so none of them can be evaluated first:\n{}",
                    names.join("\n")
                ),
            )
            .at_opt(b.spans.get(&first).copied()),
        );
    }
    (
        ConfigGraph {
            graph: b.g,
            index: b.index,
            spans: b.spans,
            plan_errors: b.plan_errors,
            providers: b.providers,
        },
        b.diags,
    )
}

fn add_nodes(b: &mut Builder<'_>, cfg: &Config) {
    let m = &cfg.module;
    let p = &m.path;
    for v in m.variables.values() {
        b.node(NodeKey::Var(p.clone(), v.name.clone()), v.def_span);
    }
    for l in m.locals.values() {
        b.node(NodeKey::Local(p.clone(), l.name.clone()), l.span);
    }
    for o in m.outputs.values() {
        b.node(NodeKey::Output(p.clone(), o.name.clone()), o.def_span);
    }
    for r in m.resources.values() {
        b.node(NodeKey::Resource(p.clone(), r.addr.clone()), r.def_span);
    }
    for c in m.module_calls.values() {
        b.node(NodeKey::ModuleCall(p.clone(), c.name.clone()), c.def_span);
    }
    for child in cfg.children.values() {
        add_nodes(b, child);
    }
}

/// Resolves a reference made inside module `m` to the nodes it depends on.
fn targets_of(b: &mut Builder<'_>, cfg: &Config, r: &RefAt, context: &str) -> Vec<NodeId> {
    let m = &cfg.module;
    let p = &m.path;
    let mut out = Vec::new();
    let undeclared = |what: &str, detail: String| {
        Diagnostic::error(format!("Reference to undeclared {what}"), detail)
            .at(r.span)
            .in_context(context.to_string())
    };
    match &r.reference {
        Reference::Var(n) => match b.index.get(&NodeKey::Var(p.clone(), n.clone())) {
            Some(id) => out.push(*id),
            None => b.diags.push(undeclared(
                "input variable",
                format!("An input variable with the name \"{n}\" has not been declared. This variable can be declared with a variable \"{n}\" {{}} block."),
            )),
        },
        Reference::Local(n) => match b.index.get(&NodeKey::Local(p.clone(), n.clone())) {
            Some(id) => out.push(*id),
            None => b.diags.push(undeclared(
                "local value",
                format!("A local value with the name \"{n}\" has not been declared."),
            )),
        },
        Reference::Module(n) => {
            let Some(call_id) = b.index.get(&NodeKey::ModuleCall(p.clone(), n.clone())).copied()
            else {
                b.diags.push(undeclared(
                    "module",
                    format!("No module call named \"{n}\" is declared in {}.", module_name(p)),
                ));
                return out;
            };
            out.push(call_id);
            let child_path = p.child(n);
            if let Some(child) = cfg.children.get(n) {
                match &r.next_attr {
                    Some(o) if child.module.outputs.contains_key(o) => {
                        if let Some(id) = b.index.get(&NodeKey::Output(child_path.clone(), o.clone())) {
                            out.push(*id);
                        }
                    }
                    Some(o) => {
                        let o = o.clone();
                        b.diags.push(
                            Diagnostic::error(
                                "Unsupported attribute",
                                format!("This object does not have an attribute named \"{o}\": module \"{n}\" declares no such output."),
                            )
                            .at(r.span)
                            .in_context(context.to_string()),
                        );
                    }
                    _ => {
                        for o in child.module.outputs.keys() {
                            if let Some(id) = b.index.get(&NodeKey::Output(child_path.clone(), o.clone())) {
                                out.push(*id);
                            }
                        }
                    }
                }
            }
        }
        Reference::Resource(addr) => {
            match b.index.get(&NodeKey::Resource(p.clone(), addr.clone())) {
                Some(id) => out.push(*id),
                None => {
                    let kind = match addr.mode {
                        ResourceMode::Managed => "managed resource",
                        ResourceMode::Data => "data resource",
                    };
                    let decl = match addr.mode {
                        ResourceMode::Managed => format!("\"{}\" \"{}\"", addr.type_, addr.name),
                        ResourceMode::Data => format!("\"{}\" \"{}\"", addr.type_, addr.name),
                    };
                    b.diags.push(undeclared(
                        "resource",
                        format!("A {kind} {decl} has not been declared in {}.", module_name(p)),
                    ));
                }
            }
        }
        _ => {}
    }
    out
}

fn module_name(p: &ModulePath) -> String {
    if p.is_root() {
        "the root module".to_string()
    } else {
        p.to_string()
    }
}

fn edges_from(b: &mut Builder<'_>, cfg: &Config, from: NodeId, exprs: &[&Expr], context: &str) {
    for e in exprs {
        let (refs, diags) = references(e);
        for d in diags {
            b.diags.push(d.in_context(context.to_string()));
        }
        for r in refs {
            for t in targets_of(b, cfg, &r, context) {
                if t == from && matches!(r.reference, Reference::Resource(_)) {
                    b.plan_errors.push(
                        Diagnostic::error(
                            "Self-referential block",
                            format!(
                                "Configuration for {} may not refer to itself.",
                                b.g.node(from)
                            ),
                        )
                        .at(r.span)
                        .in_context(context.to_string()),
                    );
                    continue;
                }
                b.g.add_edge(from, t);
            }
        }
    }
}

fn add_edges(b: &mut Builder<'_>, cfg: &Config, parent: Option<(&Config, &str)>) {
    let m: &Module = &cfg.module;
    let p = m.path.clone();
    // Everything in a child module waits for the module call to be expanded.
    let call_id = parent.and_then(|(pc, name)| {
        b.index
            .get(&NodeKey::ModuleCall(
                pc.module.path.clone(),
                name.to_string(),
            ))
            .copied()
    });
    let mut module_nodes = Vec::new();

    for v in m.variables.values() {
        let Some(id) = b
            .index
            .get(&NodeKey::Var(p.clone(), v.name.clone()))
            .copied()
        else {
            continue;
        };
        module_nodes.push(id);
        if let Some((pc, name)) = parent {
            if let Some(call) = pc.module.module_calls.get(name) {
                if let Some(input) = call.inputs.iter().find(|a| a.name == v.name) {
                    let ctx = format!("module \"{name}\"");
                    edges_from(b, pc, id, &[&input.expr], &ctx);
                }
            }
        }
        let ctx = format!("variable \"{}\"", v.name);
        let exprs: Vec<&Expr> = v
            .validations
            .iter()
            .flat_map(|c| std::iter::once(&c.condition).chain(c.error_message.iter()))
            .collect();
        // A validation may refer to its own variable; other references are dependencies.
        for e in exprs {
            let (refs, _) = references(e);
            for r in refs {
                if r.reference == Reference::Var(v.name.clone()) {
                    continue;
                }
                for t in targets_of(b, cfg, &r, &ctx) {
                    if t != id {
                        b.g.add_edge(id, t);
                    }
                }
            }
        }
    }
    for l in m.locals.values() {
        let Some(id) = b
            .index
            .get(&NodeKey::Local(p.clone(), l.name.clone()))
            .copied()
        else {
            continue;
        };
        module_nodes.push(id);
        edges_from(b, cfg, id, &[&l.expr], "locals");
    }
    for o in m.outputs.values() {
        let Some(id) = b
            .index
            .get(&NodeKey::Output(p.clone(), o.name.clone()))
            .copied()
        else {
            continue;
        };
        module_nodes.push(id);
        let mut exprs: Vec<&Expr> = vec![&o.value];
        exprs.extend(o.depends_on.iter());
        for c in &o.preconditions {
            exprs.push(&c.condition);
            exprs.extend(c.error_message.iter());
        }
        edges_from(b, cfg, id, &exprs, &format!("output \"{}\"", o.name));
    }
    for r in m.resources.values() {
        let Some(id) = b
            .index
            .get(&NodeKey::Resource(p.clone(), r.addr.clone()))
            .copied()
        else {
            continue;
        };
        module_nodes.push(id);
        let exprs = resource_exprs(r);
        edges_from(b, cfg, id, &exprs, &r.describe());
    }
    for c in m.module_calls.values() {
        let Some(id) = b
            .index
            .get(&NodeKey::ModuleCall(p.clone(), c.name.clone()))
            .copied()
        else {
            continue;
        };
        module_nodes.push(id);
        let mut exprs: Vec<&Expr> = Vec::new();
        exprs.extend(c.count.iter());
        exprs.extend(c.for_each.iter());
        exprs.extend(c.depends_on.iter());
        edges_from(b, cfg, id, &exprs, &format!("module \"{}\"", c.name));
    }
    if let Some(call) = call_id {
        for n in module_nodes {
            b.g.add_edge(n, call);
        }
    }
    // An import block's id (and for_each) must be known when its target is planned.
    if parent.is_none() {
        for imp in &m.imports {
            let Some(target) = import_resource(&imp.to) else {
                continue;
            };
            let Some(id) = b.index.get(&target).copied() else {
                continue;
            };
            let mut exprs: Vec<&Expr> = vec![&imp.id];
            exprs.extend(imp.for_each.iter());
            edges_from(b, cfg, id, &exprs, "import");
        }
    }
    for pb in &m.providers {
        let mut exprs = Vec::new();
        collect_body(&pb.config, &mut exprs);
        let context = format!("provider \"{}\"", pb.name);
        let mut deps = Vec::new();
        for e in exprs {
            let (refs, diags) = references(e);
            for d in diags {
                b.diags.push(d.in_context(context.clone()));
            }
            for r in refs {
                deps.extend(targets_of(b, cfg, &r, &context));
            }
        }
        if parent.is_none() {
            b.providers.insert(
                crate::provider_refs::config_key(&pb.name, pb.alias.as_deref()),
                deps,
            );
        }
    }
    for (name, child) in &cfg.children {
        add_edges(b, child, Some((cfg, name)));
    }
}

/// The resource an import block's `to` names (its instance key may be an expression).
fn import_resource(e: &Expr) -> Option<NodeKey> {
    use baton_config::TraversalStep;
    let (root, steps) = e.as_traversal()?;
    let mut module = ModulePath::root();
    let mut names = std::iter::once(root.to_string()).chain(steps.iter().filter_map(|s| match s {
        TraversalStep::Attr(a, _) => Some(a.to_string()),
        TraversalStep::Index(..) => None,
    }));
    let mut cur = names.next()?;
    while cur == "module" {
        module = module.child(&names.next()?);
        cur = names.next()?;
    }
    let addr = if cur == "data" {
        let t = names.next()?;
        ResourceAddr::data(&t, &names.next()?)
    } else {
        ResourceAddr::managed(&cur, &names.next()?)
    };
    Some(NodeKey::Resource(module, addr))
}
