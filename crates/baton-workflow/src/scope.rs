//! What a workflow's expressions can see: `input.NAME`, `step.NAME` (a finished step: its
//! `outputs` and `status`; a fanned-out step is a map or list of those by instance),
//! `each.key`/`each.value`, `count.index`, `path.module`, `run.id` and `workflow.name`.
//!
//! Must not read anything but what it is given (no store, no files).

use baton_core::Diagnostic;
use baton_eval::refs::{RefAt, Reference};
use baton_eval::{Scope, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The values a workflow's expressions refer to.
pub struct WfScope<'a> {
    pub dir: &'a Path,
    pub run_id: &'a str,
    pub workflow: &'a str,
    pub inputs: &'a BTreeMap<String, Value>,
    /// Finished steps by name (see [`crate::exec`]).
    pub steps: &'a HashMap<String, Value>,
    /// `each.key`, `each.value` of a `for_each` instance.
    pub each: Option<(Value, Value)>,
    /// `count.index` of a `count` instance.
    pub count: Option<Value>,
}

impl Scope for WfScope<'_> {
    fn get(&self, r: &RefAt) -> Result<Value, Diagnostic> {
        let missing = |what: String| Diagnostic::error("Value not available", what).at(r.span);
        match &r.reference {
            Reference::Resource(a) if a.type_ == "input" => self
                .inputs
                .get(&a.name)
                .cloned()
                .ok_or_else(|| missing(format!("There is no input \"{}\".", a.name))),
            Reference::Resource(a) if a.type_ == "step" => {
                self.steps.get(&a.name).cloned().ok_or_else(|| {
                    missing(format!(
                        "Step \"{}\" has not finished, so its outputs are not known yet.",
                        a.name
                    ))
                })
            }
            Reference::Resource(a) if a.type_ == "run" && a.name == "id" => {
                Ok(Value::string(self.run_id))
            }
            Reference::Resource(a) if a.type_ == "workflow" && a.name == "name" => {
                Ok(Value::string(self.workflow))
            }
            Reference::EachKey => self
                .each
                .as_ref()
                .map(|(k, _)| k.clone())
                .ok_or_else(|| missing("each.key is only set in a for_each step.".into())),
            Reference::EachValue => self
                .each
                .as_ref()
                .map(|(_, v)| v.clone())
                .ok_or_else(|| missing("each.value is only set in a for_each step.".into())),
            Reference::CountIndex => self
                .count
                .clone()
                .ok_or_else(|| missing("count.index is only set in a step with count.".into())),
            Reference::PathModule | Reference::PathRoot | Reference::PathCwd => {
                Ok(Value::string(self.dir.to_string_lossy().to_string()))
            }
            other => Err(missing(format!("{other} cannot be used in a workflow."))),
        }
    }
}
