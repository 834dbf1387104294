//! Workflow values kept in the store, read back: a run's inputs, a finished step as
//! `step.NAME` shows it, and a compensation's command evaluated against them.
//!
//! Must not write anything.

use crate::model::Workflow;
use crate::scope::WfScope;
use baton_core::Sources;
use baton_eval::{Evaluator, FnCtx, Value};
use baton_state::{WfRun, WfStep, WfStepStatus, WorkflowStore};
use std::collections::BTreeMap;

pub(super) fn decode_object(text: &str) -> Result<BTreeMap<String, Value>, String> {
    let j: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let v = Value::from_typed_json(&j)?;
    Ok(v.as_entries()
        .map(|e| e.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
        .unwrap_or_default())
}

/// A finished step instance as `step.NAME` shows it: its `outputs`, `status` and, for a
/// command, `exit_code`.
pub(super) fn finished_value(r: &WfStep) -> Value {
    let outputs = r
        .outputs
        .as_deref()
        .and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok())
        .and_then(|j| Value::from_typed_json(&j).ok())
        .unwrap_or_else(Value::empty_object);
    let mut m = BTreeMap::new();
    m.insert("outputs".to_string(), outputs);
    m.insert("status".to_string(), Value::string(r.status.as_str()));
    if let Some(c) = r.exit_code {
        m.insert("exit_code".to_string(), Value::int(i64::from(c)));
    }
    Value::object(m)
}

/// Evaluates an expression of a compensation to a string, against the run's inputs and the
/// steps that succeeded.
pub(super) fn const_string(
    store: &dyn WorkflowStore,
    sources: &Sources,
    run: &WfRun,
    wf: &Workflow,
    e: &baton_config::Expr,
) -> Result<String, String> {
    let inputs = decode_object(&run.inputs)?;
    let records: BTreeMap<String, WfStep> = store
        .steps(&run.id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|s| (s.key.clone(), s))
        .collect();
    let mut finished = std::collections::HashMap::new();
    for (k, r) in &records {
        if r.status == WfStepStatus::Succeeded && wf.step(k).is_some() {
            finished.insert(k.clone(), finished_value(r));
        }
    }
    let scope = WfScope {
        dir: &wf.dir,
        run_id: &run.id,
        workflow: &wf.name,
        inputs: &inputs,
        steps: &finished,
        each: None,
        count: None,
    };
    let mut ev = Evaluator::new(
        &scope,
        FnCtx {
            base_dir: &wf.dir,
            sources,
            planning: false,
            plan_timestamp: None,
        },
    );
    let v = ev
        .eval(e)
        .map_err(|d| format!("{}: {}", d.summary, d.detail))?
        .unmark_deep()
        .0;
    v.as_str().map(str::to_string).ok_or_else(|| {
        format!(
            "the command must be a string, not {}",
            v.ty().friendly_name()
        )
    })
}
