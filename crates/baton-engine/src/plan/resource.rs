//! One resource node of the walk: expand `count`/`for_each` per module instance and hand each
//! instance to [`super::managed`] or [`super::data`]; untargeted resources (and destroy mode)
//! take their values from state. Also the steps both kinds share: evaluating the
//! configuration body, reporting provider validation, and resource-level dependencies.
//!
//! This module decides no action itself.

use super::run::Planner;
use crate::body::eval_body;
use crate::context::module_of;
use crate::expand::{count_index, each_values, expand, placeholder_repeat, Expansion};
use crate::graph::NodeKey;
use crate::model::PlanMode;
use crate::values::Repetition;
use baton_config::Resource;
use baton_core::{
    Diagnostic, InstanceAddr, InstanceKey, ModuleInstance, ModulePath, ResourceAddr, ResourceMode,
};
use baton_eval::{Type, Value};
use baton_graph::NodeId;
use baton_provider::AttrDiag;
use std::collections::HashMap;

impl Planner<'_> {
    pub(super) fn resource(&mut self, id: NodeId, p: &ModulePath, addr: &ResourceAddr) {
        let Some(m) = module_of(&self.ctx.config, p) else {
            return;
        };
        let Some(r) = m.resources.get(addr) else {
            return;
        };
        let targeted = self.targeted.as_ref().is_none_or(|t| t.contains(&id));
        for mi in self.state.module_instances(p) {
            if !targeted || self.opts.mode == PlanMode::Destroy {
                self.values_from_state(&mi, r);
                continue;
            }
            let exp = {
                let scope = self.scope(&mi);
                let mut ev = self.evaluator(&scope);
                expand(
                    &mut ev,
                    r.count.as_deref(),
                    r.for_each.as_deref(),
                    self.opts.validate_only,
                )
            };
            let exp = match exp {
                Ok(Some(e)) => e,
                Ok(None) => Expansion {
                    repetition: if r.count.is_some() {
                        Repetition::Count
                    } else {
                        Repetition::ForEach
                    },
                    keys: vec![],
                },
                Err(d) => {
                    self.diags.push(d.in_context(r.describe()));
                    continue;
                }
            };
            // With an unknown expansion (validate only), check the body once as a placeholder.
            let placeholder = exp.keys.is_empty()
                && self.opts.validate_only
                && (r.count.is_some() || r.for_each.is_some());
            self.state.set_resource(
                &mi,
                addr,
                crate::values::ResourceValues {
                    repetition: exp.repetition,
                    instances: crate::values::Instances::Empty,
                },
            );
            let keys = if placeholder {
                vec![(None, None)]
            } else {
                exp.keys.clone()
            };
            if addr.mode == ResourceMode::Managed && !placeholder {
                self.prepare_instances(&mi, r, &keys);
            }
            for (key, each_val) in keys {
                let iaddr = InstanceAddr::new(mi.clone(), addr.clone(), key.clone());
                let (count, each) = if placeholder {
                    placeholder_repeat(r.count.is_some(), r.for_each.is_some())
                } else {
                    (count_index(&key), each_values(&key, &each_val))
                };
                let v = match addr.mode {
                    ResourceMode::Managed => {
                        self.plan_managed(id, &iaddr, r, count, each, placeholder)
                    }
                    ResourceMode::Data => self.plan_data(id, &iaddr, r, count, each),
                };
                let v = v.unwrap_or_else(|| Value::unknown(resource_type(&self.ctx.providers, r)));
                self.state.set_instance(&mi, addr, exp.repetition, key, v);
            }
        }
    }

    /// The planner visits a resource's instances one after another; a type whose planning
    /// talks to hosts (a `connection` block in its body) is first told of every instance's
    /// configuration ([`baton_provider::ResourceType::prepare`]) so it can connect to all of
    /// them at once. The configurations are evaluated for that alone: their diagnostics are
    /// the instance's own planning's to report.
    fn prepare_instances(
        &mut self,
        mi: &ModuleInstance,
        r: &Resource,
        keys: &[(Option<InstanceKey>, Option<Value>)],
    ) {
        if keys.len() < 2 || !r.config.blocks.iter().any(|b| b.type_ == "connection") {
            return;
        }
        let Some((_, rt)) = self.ctx.providers.resource_type(&r.addr.type_) else {
            return;
        };
        let configs: Vec<Value> = keys
            .iter()
            .filter_map(|(key, each_val)| {
                let mut scope = self.scope(mi);
                scope.count_index = count_index(key);
                scope.each = each_values(key, each_val);
                let mut ev = self.evaluator(&scope);
                let (v, d) = eval_body(&mut ev, &r.config, rt.schema(), r.def_span, "");
                (!d.has_errors()).then_some(v)
            })
            .collect();
        rt.prepare(&configs.iter().collect::<Vec<_>>());
    }

    /// Untargeted (or destroy mode): references see the values in state.
    fn values_from_state(&mut self, mi: &ModuleInstance, r: &Resource) {
        let rep = if r.count.is_some() {
            Repetition::Count
        } else if r.for_each.is_some() {
            Repetition::ForEach
        } else {
            Repetition::Single
        };
        self.state.set_resource(
            mi,
            &r.addr,
            crate::values::ResourceValues {
                repetition: rep,
                instances: crate::values::Instances::Empty,
            },
        );
        if self.prior_by_resource.is_none() {
            let mut idx: HashMap<(ModuleInstance, ResourceAddr), Vec<InstanceAddr>> =
                HashMap::new();
            for k in self.prior.objects.keys() {
                if k.deposed.is_empty() {
                    idx.entry((k.addr.module.clone(), k.addr.resource.clone()))
                        .or_default()
                        .push(k.addr.clone());
                }
            }
            self.prior_by_resource = Some(idx);
        }
        let addrs = self
            .prior_by_resource
            .as_ref()
            .and_then(|idx| idx.get(&(mi.clone(), r.addr.clone())).cloned())
            .unwrap_or_default();
        for a in addrs {
            if let Some(Some(v)) = self.refreshed.get(&(a.clone(), None)) {
                self.state
                    .set_instance(mi, &r.addr, rep, a.key.clone(), v.clone());
                self.planned.insert(a);
            }
        }
    }

    pub(super) fn eval_config(
        &mut self,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
        schema: &baton_provider::Schema,
    ) -> Option<Value> {
        let (v, d) = {
            let mut scope = self.scope(&iaddr.module);
            scope.count_index = count;
            scope.each = each;
            let mut ev = self.evaluator(&scope);
            eval_body(&mut ev, &r.config, schema, r.def_span, &r.describe())
        };
        let had_errors = d.has_errors();
        self.diags.extend(d);
        if had_errors {
            return None;
        }
        Some(v)
    }

    pub(super) fn provider_diags(&mut self, r: &Resource, found: Vec<AttrDiag>) -> bool {
        let mut errors = false;
        for a in found {
            let span = a
                .attr
                .as_ref()
                .and_then(|n| r.config.attr(n).map(|x| x.expr.span))
                .unwrap_or(r.def_span);
            let d = if a.error {
                errors = true;
                Diagnostic::error(a.summary, a.detail)
            } else {
                Diagnostic::warning(a.summary, a.detail)
            };
            self.diags.push(d.at(span).in_context(r.describe()));
        }
        errors
    }

    /// Resource-level dependencies as state records them.
    pub(super) fn dependencies_of(&mut self, id: NodeId) -> Vec<String> {
        if let Some(v) = self.deps_cache.get(&id) {
            return v.clone();
        }
        let mut v: Vec<String> = self
            .ctx
            .graph
            .resource_dependencies(id)
            .into_iter()
            .map(|k| match k {
                NodeKey::Resource(p, r) if p.is_root() => r.to_string(),
                NodeKey::Resource(p, r) => format!("{p}.{r}"),
                other => other.to_string(),
            })
            .collect();
        v.sort();
        v.dedup();
        self.deps_cache.insert(id, v.clone());
        v
    }
}

/// The object type of a resource's schema.
fn resource_type(reg: &baton_provider::Registry, r: &Resource) -> Type {
    match r.addr.mode {
        ResourceMode::Managed => reg
            .resource_type(&r.addr.type_)
            .map(|(_, t)| t.schema().object_type()),
        ResourceMode::Data => reg
            .data_source(&r.addr.type_)
            .map(|(_, t)| t.schema().object_type()),
    }
    .unwrap_or(Type::Dynamic)
}
