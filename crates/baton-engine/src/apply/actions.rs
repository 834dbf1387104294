//! The action graph, built from the plan (never from the configuration): one node per change
//! and per configuration value the changes need, with destroy edges reversed.
//!
//! Must not evaluate anything or touch state: it only orders the plan's changes.

use crate::context::Context;
use crate::graph::NodeKey;
use crate::model::{Action, Plan, PlanMode};
use baton_core::{Diagnostic, Diagnostics, InstanceAddr};
use baton_graph::{Graph, NodeId};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug)]
pub(super) enum ANode {
    Config(NodeId),
    Apply(usize),
    Destroy(usize),
}

/// The resource a change belongs to, as dependency lists name it (module path, no keys).
pub(super) fn config_resource(addr: &InstanceAddr) -> String {
    let p = addr.module.path();
    if p.is_root() {
        addr.resource.to_string()
    } else {
        format!("{p}.{}", addr.resource)
    }
}

pub(super) fn build_graph(ctx: &Context, plan: &Plan) -> (Graph<ANode>, Diagnostics) {
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
