//! Planning one data source instance: read it now when its configuration is known and no
//! dependency has a pending change, otherwise plan a read for apply.
//!
//! A data source never produces a create, update or delete.

use super::run::Planner;
use crate::graph::NodeKey;
use crate::model::{Action, ActionReason, Checkable, PlanMode, ResourceChange};
use crate::nodes::CheckSite;
use baton_config::Resource;
use baton_core::{Diagnostic, InstanceAddr};
use baton_eval::Value;
use baton_graph::NodeId;
use baton_provider::plan::{mark_schema_sensitive, proposed_new};

impl Planner<'_> {
    pub(super) fn plan_data(
        &mut self,
        id: NodeId,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
    ) -> Option<Value> {
        let ctx = self.ctx;
        let (info, dt) = ctx.providers.data_source(&r.addr.type_)?;
        let schema = dt.schema();
        let before_errs = self.diags.errors().count();
        self.check_rules_with(CheckSite {
            module: &iaddr.module,
            object: Checkable::Resource(iaddr.resource.clone()),
            key: iaddr.key.clone(),
            rules: &r.lifecycle.preconditions,
            summary: "Resource precondition failed",
            subject: &iaddr.to_string(),
            self_value: None,
            count: count.clone(),
            each: each.clone(),
        });
        if self.diags.errors().count() > before_errs {
            return None;
        }
        let config = self.eval_config(iaddr, r, count.clone(), each.clone(), schema)?;
        if self.provider_diags(r, dt.validate(&config)) {
            return None;
        }
        if self.opts.validate_only {
            return Some(proposed_new(schema, None, &config));
        }
        self.planned.insert(iaddr.clone());
        let pending = self
            .ctx
            .graph
            .resource_dependencies(id)
            .iter()
            .any(|k| match k {
                NodeKey::Resource(_, ra) => self.changes.iter().any(|c| {
                    &c.addr.resource == ra && !matches!(c.action, Action::NoOp | Action::Read)
                }),
                _ => false,
            });
        if config.is_wholly_known() && !pending && self.opts.mode != PlanMode::Destroy {
            let ro = config.clone().unmark_deep().0;
            match dt.read(&self.call_ctx(info, iaddr), &ro) {
                Ok(v) => {
                    let v = mark_schema_sensitive(schema, v.mark_paths(&config.sensitive_paths()));
                    if !r.lifecycle.postconditions.is_empty() {
                        self.check_rules_with(CheckSite {
                            module: &iaddr.module,
                            object: Checkable::Resource(iaddr.resource.clone()),
                            key: iaddr.key.clone(),
                            rules: &r.lifecycle.postconditions,
                            summary: "Resource postcondition failed",
                            subject: &iaddr.to_string(),
                            self_value: Some(&v),
                            count,
                            each,
                        });
                    }
                    self.data_reads.insert(iaddr.clone(), v.clone());
                    return Some(v);
                }
                Err(e) => {
                    let span = e
                        .attr
                        .as_ref()
                        .and_then(|n| r.config.attr(n).map(|a| a.expr.span))
                        .unwrap_or(r.def_span);
                    self.diags.push(
                        Diagnostic::error(e.summary, e.detail)
                            .at(span)
                            .in_context(r.describe()),
                    );
                    return None;
                }
            }
        }
        let planned = mark_schema_sensitive(schema, proposed_new(schema, None, &config));
        let dependencies = self.dependencies_of(id);
        self.changes.push(ResourceChange {
            addr: iaddr.clone(),
            deposed: None,
            provider_name: info.name.to_string(),
            provider_source: info.source.to_string(),
            action: Action::Read,
            reason: Some(if config.is_wholly_known() {
                ActionReason::ReadBecauseDependencyPending
            } else {
                ActionReason::ReadBecauseConfigUnknown
            }),
            before: Value::null(schema.object_type()),
            after: planned.clone(),
            replace_paths: Vec::new(),
            dependencies,
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
        Some(planned)
    }
}
