//! The workflow's own policy gate, before each step starts: the Rego policies in `policies/`
//! beside the workflow files, in packages under `workflow` (`package workflow.release`), see
//! the run (`input.workflow`: name, inputs with sensitive ones redacted, the step graph;
//! `input.run`), the step about to start (`input.step`: name, key, kind, arguments) and, for a
//! stack step, the plan of that stack (`input.plan`, the `terraform show -json` document).
//! A `deny` message fails the step; a `require_approval` message makes it wait for
//! `baton approve RUN approve:KEY` first. Like the stack gate, it fails closed: a policy that
//! cannot be loaded or evaluated denies.
//!
//! Must not write anything: the driving loop records what the gate decided.

use crate::graph;
use crate::model::Workflow;
use baton_core::Sources;
use baton_eval::Value;
use serde_json::{json, Value as J};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The policy directory of a workflow, if it has one.
pub(super) fn policy_dir(wf: &Workflow) -> Option<PathBuf> {
    let d = wf.dir.join(baton_engine::policy::DEFAULT_DIR);
    d.is_dir().then_some(d)
}

/// What the gate decided for one step.
#[derive(Debug, Default)]
pub(super) struct Verdict {
    pub deny: Vec<String>,
    pub require_approval: Vec<String>,
}

/// The input document of the gate.
pub(super) fn input(
    wf: &Workflow,
    run_id: &str,
    who: &str,
    inputs: &BTreeMap<String, Value>,
    step: J,
    plan: Option<J>,
) -> J {
    let shown = super::shown_values(inputs);
    let steps: Vec<J> = wf
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": s.kind.as_str(),
                "after": graph::dependencies(s).into_iter().map(|(d, _)| d).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = json!({
        "workflow": { "name": wf.name, "inputs": shown, "steps": steps },
        "run": { "id": run_id, "user": who, "time": baton_engine::now_rfc3339() },
        "step": step,
    });
    if let (Some(p), Some(m)) = (plan, doc.as_object_mut()) {
        m.insert("plan".into(), p);
    }
    doc
}

/// Evaluates the policies of `dir` over `input`.
pub(super) fn evaluate(dir: &std::path::Path, input: &J, sources: &Sources) -> Verdict {
    let result =
        baton_policy::eval_query(&[dir.to_path_buf()], Some(input), "data.workflow", sources);
    let value = match result {
        Ok(v) => v,
        Err(d) => {
            return Verdict {
                deny: vec![format!(
                    "the workflow policies could not be evaluated: {}",
                    d.iter()
                        .map(|x| {
                            let at = x
                                .subject
                                .and_then(|s| sources.location(s))
                                .map(|l| format!("{l}: "))
                                .unwrap_or_default();
                            format!("{at}{}: {}", x.summary, x.detail)
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                )],
                require_approval: Vec::new(),
            }
        }
    };
    // The query's value: `data.workflow`, every package under it.
    let doc = value
        .pointer("/result/0/expressions/0/value")
        .cloned()
        .unwrap_or(J::Null);
    let mut v = Verdict::default();
    collect(&doc, &mut v);
    v.deny.sort();
    v.deny.dedup();
    v.require_approval.sort();
    v.require_approval.dedup();
    v
}

/// The `deny` and `require_approval` messages of every package in `doc`.
fn collect(doc: &J, v: &mut Verdict) {
    let J::Object(m) = doc else { return };
    for (k, x) in m {
        let into = match k.as_str() {
            "deny" => Some(&mut v.deny),
            "require_approval" => Some(&mut v.require_approval),
            _ => None,
        };
        match (into, x) {
            (Some(list), J::Array(items)) => {
                list.extend(items.iter().map(message));
            }
            (Some(list), J::Bool(true)) => list.push(format!("rule {k} holds")),
            (Some(list), J::String(s)) => list.push(s.clone()),
            (None, J::Object(_)) => collect(x, v),
            _ => {}
        }
    }
}

fn message(j: &J) -> String {
    match j {
        J::String(s) => s.clone(),
        J::Object(o) => o
            .get("msg")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| j.to_string()),
        other => other.to_string(),
    }
}
