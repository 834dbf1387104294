//! Root module outputs: their changes against state (for rendering and plan JSON) and the
//! planned values kept in the plan.
//!
//! Reads the walk's values only; evaluates nothing.

use super::run::Planner;
use crate::model::{Action, OutputChange, PlanMode};
use crate::statecodec::decode_output;
use crate::values::NamedValue;
use baton_core::ModuleInstance;
use baton_eval::Value;
use std::collections::BTreeMap;

impl Planner<'_> {
    pub(super) fn output_changes(&self) -> Vec<OutputChange> {
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
                // Terraform keeps no null outputs in state: absent and null are the same.
                None if after.is_wholly_known() && after.is_null() => Action::NoOp,
                None => Action::Create,
                Some(b) if after.is_wholly_known() && same_value(b, &after) => Action::NoOp,
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

    pub(super) fn planned_outputs(&self) -> BTreeMap<String, (Value, bool)> {
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

/// Whether an output's value is unchanged, as Terraform decides it (cty's `Equals`): the same
/// type, and the same value, numbers being equal when they print the same (so a number read
/// back from its decimal form in a state file equals the one it was computed as).
fn same_value(before: &Value, after: &Value) -> bool {
    before.raw_equal(after) || (before.ty() == after.ty() && before.to_json() == after.to_json())
}
