//! The step graph of a workflow: a step depends on every step its expressions reference
//! (`step.NAME...`) and every step in its `depends_on`. Checked at load: unknown steps,
//! inputs, limits and workflows, and cycles, each a diagnostic at its source.
//!
//! Must not evaluate or run anything.

use crate::model::{Step, StepKind, Workflow, Workflows};
use baton_config::Expr;
use baton_core::{Diagnostic, Diagnostics, Span};
use baton_eval::refs::{references, Reference};
use std::collections::BTreeSet;

/// The expressions of a step, in a fixed order.
pub fn exprs(s: &Step) -> Vec<&Expr> {
    let mut out: Vec<&Expr> = Vec::new();
    match &s.kind {
        StepKind::Apply { dir } | StepKind::Destroy { dir } => out.push(dir),
        StepKind::Command { command } => out.push(command),
        StepKind::Approval { message, .. } => out.extend(message.iter()),
        StepKind::Workflow { .. } => {}
        StepKind::Value { outputs } => out.push(outputs),
        StepKind::AnsiblePlaybook(p) => out.extend(p.exprs()),
    }
    for e in [
        &s.env,
        &s.vars,
        &s.inputs,
        &s.environment,
        &s.for_each,
        &s.count,
        &s.cache_key,
    ]
    .into_iter()
    .flatten()
    {
        out.push(e);
    }
    out
}

/// The steps `s` depends on, by name, sorted, each with where it is named.
pub fn dependencies(s: &Step) -> Vec<(String, Span)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for e in exprs(s) {
        for r in references(e).0 {
            if let Reference::Resource(a) = &r.reference {
                if is_step_ref(&r.reference) && seen.insert(a.name.clone()) {
                    out.push((a.name.clone(), r.span));
                }
            }
        }
    }
    for (n, span) in &s.depends_on {
        if seen.insert(n.clone()) {
            out.push((n.clone(), *span));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Checks `w`'s references and its graph.
pub fn check(w: &Workflow, all: &Workflows, diags: &mut Diagnostics) {
    for (s, in_compensate) in w
        .steps
        .iter()
        .map(|s| (s, false))
        .chain(w.compensate.iter().map(|s| (s, true)))
    {
        for e in exprs(s) {
            let (refs, errs) = references(e);
            for e in errs {
                diags.push(e);
            }
            for r in refs {
                check_reference(w, s, &r.reference, r.span, in_compensate, diags);
            }
        }
        for (n, span) in &s.depends_on {
            if w.step(n).is_none() {
                diags.push(unknown_step(w, n, *span));
            }
            if in_compensate {
                diags.push(
                    Diagnostic::error(
                        "Unsupported argument",
                        "A compensation runs after the run was rolled back, in the order written; depends_on does not apply.",
                    )
                    .at(*span),
                );
            }
        }
        for (l, span) in &s.limits {
            if all.limit(l).is_none() {
                diags.push(
                    Diagnostic::error(
                        "Unknown limit",
                        format!("There is no limit \"{l}\": declare it at the top level of a workflow file, limit \"{l}\" {{ max = 1 }}."),
                    )
                    .at(*span),
                );
            }
        }
        if let StepKind::Workflow { name, name_span } = &s.kind {
            if all.get(name).is_none() {
                diags.push(
                    Diagnostic::error(
                        "Unknown workflow",
                        format!(
                            "There is no workflow \"{name}\" in this directory's *.baton.hcl files."
                        ),
                    )
                    .at(*name_span),
                );
            } else if calls(all, name, &w.name, &mut BTreeSet::new()) {
                diags.push(
                    Diagnostic::error(
                        "Workflow calls itself",
                        format!("Workflow \"{name}\" leads back to \"{}\": child workflows cannot form a cycle.", w.name),
                    )
                    .at(*name_span),
                );
            }
        }
    }
    if let Err(cycle) = order(w) {
        diags.push(
            Diagnostic::error(
                "Cycle in the step graph",
                format!(
                    "Workflow \"{}\" has steps that depend on each other in a circle: {}.",
                    w.name,
                    cycle.join(" → ")
                ),
            )
            .at(w.step(&cycle[0]).map(|s| s.def_span).unwrap_or(w.def_span)),
        );
    }
}

/// Whether workflow `from` (or a child of it) runs workflow `target`.
fn calls(all: &Workflows, from: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
    if from == target {
        return true;
    }
    if !seen.insert(from.to_string()) {
        return false;
    }
    let Some(w) = all.get(from) else {
        return false;
    };
    w.steps.iter().chain(&w.compensate).any(|s| match &s.kind {
        StepKind::Workflow { name, .. } => calls(all, name, target, seen),
        _ => false,
    })
}

fn unknown_step(w: &Workflow, name: &str, span: Span) -> Diagnostic {
    let known: Vec<&str> = w.steps.iter().map(|s| s.name.as_str()).collect();
    Diagnostic::error(
        "Reference to undeclared step",
        format!(
            "Workflow \"{}\" has no step \"{name}\"{}.",
            w.name,
            if known.is_empty() {
                String::new()
            } else {
                format!("; its steps are {}", known.join(", "))
            }
        ),
    )
    .at(span)
}

fn check_reference(
    w: &Workflow,
    s: &Step,
    r: &Reference,
    span: Span,
    in_compensate: bool,
    diags: &mut Diagnostics,
) {
    match r {
        Reference::Resource(a) if is_step_ref(r) => {
            if w.step(&a.name).is_none() {
                diags.push(unknown_step(w, &a.name, span));
            } else if a.name == s.name && !in_compensate {
                diags.push(
                    Diagnostic::error(
                        "Self-referential step",
                        format!("Step \"{}\" cannot refer to itself.", s.name),
                    )
                    .at(span),
                );
            }
        }
        Reference::Resource(a) if a.type_ == "input" => {
            if !w.inputs.iter().any(|i| i.name == a.name) {
                diags.push(
                    Diagnostic::error(
                        "Reference to undeclared input",
                        format!(
                            "Workflow \"{}\" has no input \"{}\"; declare it with input \"{}\" {{ ... }}.",
                            w.name, a.name, a.name
                        ),
                    )
                    .at(span),
                );
            }
        }
        Reference::Resource(a) if a.type_ == "run" || a.type_ == "workflow" => {
            let ok = match a.type_.as_str() {
                "run" => a.name == "id",
                _ => a.name == "name",
            };
            if !ok {
                diags.push(
                    Diagnostic::error(
                        "Invalid reference",
                        "The run's attributes are run.id and workflow.name.",
                    )
                    .at(span),
                );
            }
        }
        Reference::EachKey | Reference::EachValue if s.for_each.is_none() => diags.push(
            Diagnostic::error(
                "Reference to \"each\" in context without for_each",
                "The \"each\" object can be used only in a step that has for_each set.",
            )
            .at(span),
        ),
        Reference::CountIndex if s.count.is_none() => diags.push(
            Diagnostic::error(
                "Reference to \"count\" in non-counted context",
                "The \"count\" object can only be used in a step that has count set.",
            )
            .at(span),
        ),
        Reference::EachKey | Reference::EachValue | Reference::CountIndex => {}
        Reference::PathModule | Reference::PathRoot | Reference::PathCwd => {}
        other => diags.push(
            Diagnostic::error(
                "Invalid reference",
                format!(
                    "{other} cannot be used in a workflow; a step can refer to input.NAME, step.NAME, each, count, path.module, run.id and workflow.name."
                ),
            )
            .at(span),
        ),
    }
}

/// The steps in an order that respects their dependencies (by name), or a cycle.
pub fn order(w: &Workflow) -> Result<Vec<String>, Vec<String>> {
    let mut g = baton_graph::Graph::new();
    let ids: Vec<_> = w.steps.iter().map(|s| g.add_node(s.name.clone())).collect();
    for (i, s) in w.steps.iter().enumerate() {
        for (d, _) in dependencies(s) {
            if let Some(j) = w.steps.iter().position(|x| x.name == d) {
                if i != j {
                    g.add_edge(ids[i], ids[j]);
                }
            }
        }
    }
    g.toposort()
        .map_err(|cycles| {
            cycles
                .into_iter()
                .next()
                .unwrap_or_default()
                .into_iter()
                .map(|id| g.node(id).clone())
                .collect()
        })
        .map(|order| order.into_iter().map(|id| g.node(id).clone()).collect())
}

/// Whether a reference is `step.NAME`.
pub(crate) fn is_step_ref(r: &baton_eval::refs::Reference) -> bool {
    matches!(r, baton_eval::refs::Reference::Resource(a)
        if a.type_ == "step" && a.mode == baton_core::ResourceMode::Managed)
}
