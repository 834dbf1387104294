//! Planning one managed resource instance: preconditions, provider validation, adopting an
//! `import`ed object, `ignore_changes`, the provider's plan, the replace decision (provider
//! `requires_replace`, tainted, `--replace`, `replace_triggered_by`), `prevent_destroy`,
//! postconditions, and the resulting [`ResourceChange`].
//!
//! Deletions of objects no longer configured are not decided here (see [`super::orphans`]).

use super::run::Planner;
use crate::model::{Action, ActionReason, Checkable, PlanMode, ResourceChange};
use crate::nodes::CheckSite;
use baton_config::{Expr, ExprKind, IgnoreChanges, Resource};
use baton_core::{Diagnostic, InstanceAddr, InstanceKey};
use baton_eval::{PathStep, Value};
use baton_graph::NodeId;
use baton_provider::plan::{mark_schema_sensitive, proposed_new};
use baton_provider::PlanRequest;
use baton_state::InstanceStatus;

impl Planner<'_> {
    pub(super) fn plan_managed(
        &mut self,
        id: NodeId,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
        placeholder: bool,
    ) -> Option<Value> {
        let ctx = self.ctx;
        let (info, rt) = ctx.providers.resource_type(&r.addr.type_)?;
        let pctx = self.call_ctx(info, iaddr);
        let schema = rt.schema();
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
        if self.provider_diags(r, rt.validate(&config)) {
            return None;
        }
        if placeholder || self.opts.validate_only {
            return Some(mark_schema_sensitive(
                schema,
                proposed_new(schema, None, &config),
            ));
        }
        self.planned.insert(iaddr.clone());
        let prior_obj = self.prior.current(iaddr);
        let mut prior_val = self
            .refreshed
            .get(&(iaddr.clone(), None))
            .cloned()
            .flatten();
        // An `import` block adopts an existing object as this instance's prior state.
        let mut importing = None;
        if prior_val.is_none() && self.opts.mode == PlanMode::Normal {
            match self.find_import(iaddr) {
                Ok(Some(id)) => {
                    let imported = rt
                        .import(&pctx, &id)
                        .and_then(|v| rt.read(&pctx, &v).map(|o| o.unwrap_or(v)));
                    match imported {
                        Ok(v) => {
                            prior_val = Some(mark_schema_sensitive(schema, v));
                            importing = Some(id);
                        }
                        Err(e) => {
                            self.diags.push(
                                Diagnostic::error(
                                    format!("Cannot import {iaddr}"),
                                    format!("{}: {}", e.summary, e.detail),
                                )
                                .at(r.def_span),
                            );
                            return None;
                        }
                    }
                }
                Ok(None) => {}
                Err(d) => {
                    self.diags.push(d);
                    return None;
                }
            }
        }
        if self.opts.mode == PlanMode::RefreshOnly {
            return prior_val;
        }
        let tainted =
            prior_obj.is_some_and(|o| o.status == InstanceStatus::Tainted) && prior_val.is_some();
        // ignore_changes: keep prior values for ignored attributes.
        let config_eff = match (&r.lifecycle.ignore_changes, &prior_val) {
            (IgnoreChanges::None, _) | (_, None) => config.clone(),
            (IgnoreChanges::All, Some(pv)) => ignore_all(&config, pv, schema),
            (IgnoreChanges::Paths(paths), Some(pv)) => ignore_paths(&config, pv, paths),
        };
        let proposed = proposed_new(schema, prior_val.as_ref(), &config_eff);
        let resp = match rt.plan(PlanRequest {
            prior: prior_val.as_ref(),
            config: &config_eff,
            proposed,
            ctx: &pctx,
        }) {
            Ok(r) => r,
            Err(e) => {
                let span = attr_span(r, e.attr.as_deref());
                self.diags.push(
                    Diagnostic::error(e.summary, e.detail)
                        .at(span)
                        .in_context(r.describe()),
                );
                return None;
            }
        };
        for w in &resp.warnings {
            self.diags.push(
                Diagnostic::warning(w.summary.clone(), w.detail.clone())
                    .at(r.def_span)
                    .in_context(r.describe()),
            );
        }
        let config_marks = config_eff.sensitive_paths();
        let mut planned = mark_schema_sensitive(schema, resp.planned.mark_paths(&config_marks));
        let mut replace_paths = resp.requires_replace.clone();
        let mut reason = None;
        let by_request = self.opts.replace.iter().any(|a| a == iaddr);
        let triggered =
            prior_val.is_some() && self.replace_triggered(iaddr, r, count.clone(), each.clone());
        let mut replace = prior_val.is_some()
            && (!replace_paths.is_empty() || tainted || by_request || triggered);
        if replace {
            reason = Some(if tainted {
                ActionReason::ReplaceBecauseTainted
            } else if by_request {
                ActionReason::ReplaceByRequest
            } else if triggered {
                ActionReason::ReplaceByTriggers
            } else {
                ActionReason::ReplaceBecauseCannotUpdate
            });
            // Plan the new object as a create.
            let proposed = proposed_new(schema, None, &config_eff);
            match rt.plan(PlanRequest {
                prior: None,
                config: &config_eff,
                proposed,
                ctx: &pctx,
            }) {
                Ok(r2) => {
                    planned = mark_schema_sensitive(schema, r2.planned.mark_paths(&config_marks))
                }
                Err(e) => {
                    let span = attr_span(r, e.attr.as_deref());
                    self.diags.push(
                        Diagnostic::error(e.summary, e.detail)
                            .at(span)
                            .in_context(r.describe()),
                    );
                    return None;
                }
            }
        } else {
            replace_paths.clear();
        }
        let action = match &prior_val {
            None => Action::Create,
            Some(_) if replace => {
                if r.lifecycle.create_before_destroy {
                    Action::CreateThenDelete
                } else {
                    Action::DeleteThenCreate
                }
            }
            Some(pv) if pv.raw_equal(&planned) => Action::NoOp,
            Some(_) => Action::Update,
        };
        if action.is_replace() && r.lifecycle.prevent_destroy {
            self.diags.push(prevent_destroy_error(iaddr, r));
            replace = false;
            let _ = replace;
        }
        // Postconditions are checked against the planned object: a condition that depends on
        // a value known only after apply is `unknown` now and decided by apply.
        if !r.lifecycle.postconditions.is_empty() {
            self.check_rules_with(CheckSite {
                module: &iaddr.module,
                object: Checkable::Resource(iaddr.resource.clone()),
                key: iaddr.key.clone(),
                rules: &r.lifecycle.postconditions,
                summary: "Resource postcondition failed",
                subject: &iaddr.to_string(),
                self_value: Some(&planned),
                count,
                each,
            });
        }
        if planned.contains_infinity() {
            // The state (JSON) cannot hold it; Terraform fails the same way.
            self.diags.push(
                Diagnostic::error(
                    "Failed to encode resource in state",
                    format!("failed to encode {iaddr} in state: failed to serialize value: cannot serialize infinity as JSON"),
                )
                .at(r.def_span),
            );
            return None;
        }
        let deps = self.dependencies_of(id);
        self.changes.push(ResourceChange {
            addr: iaddr.clone(),
            deposed: None,
            provider_name: info.name.to_string(),
            provider_source: info.source.to_string(),
            action,
            reason,
            before: prior_val
                .clone()
                .unwrap_or_else(|| Value::null(schema.object_type())),
            after: planned.clone(),
            replace_paths,
            dependencies: deps,
            create_before_destroy: r.lifecycle.create_before_destroy,
            previous_addr: None,
            importing,
        });
        Some(planned)
    }

    /// Whether any `replace_triggered_by` reference has a planned change.
    fn replace_triggered(
        &mut self,
        iaddr: &InstanceAddr,
        r: &Resource,
        count: Option<Value>,
        each: Option<(Value, Value)>,
    ) -> bool {
        for e in &r.lifecycle.replace_triggered_by {
            let Some((root, steps)) = e.as_traversal() else {
                self.diags.push(
                    Diagnostic::error(
                        "Invalid replace_triggered_by expression",
                        "replace_triggered_by must reference a managed resource, a resource instance, or one of their attributes.",
                    )
                    .at(e.span),
                );
                continue;
            };
            let rs = baton_eval::refs::root_span(e);
            let rr = match baton_eval::refs::parse_reference(root, rs, &steps) {
                Ok(rr) => rr,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            let baton_eval::Reference::Resource(target) = &rr.reference else {
                self.diags.push(
                    Diagnostic::error(
                        "Invalid replace_triggered_by expression",
                        "replace_triggered_by must reference a managed resource, a resource instance, or one of their attributes.",
                    )
                    .at(e.span),
                );
                continue;
            };
            let rest = &steps[rr.consumed..];
            // An optional index, then attribute names.
            let mut key: Option<Option<InstanceKey>> = None;
            let mut attrs: Vec<String> = Vec::new();
            for (i, s) in rest.iter().enumerate() {
                match s {
                    baton_config::TraversalStep::Index(k, _) if i == 0 => {
                        let kv = {
                            let mut scope = self.scope(&iaddr.module);
                            scope.count_index = count.clone();
                            scope.each = each.clone();
                            let mut ev = self.evaluator(&scope);
                            ev.eval(k)
                        };
                        match kv {
                            Ok(v) => {
                                key = Some(if let Some(n) = v.as_number() {
                                    n.to_i64().map(InstanceKey::Int)
                                } else {
                                    v.as_str().map(|s| InstanceKey::Str(s.to_string()))
                                })
                            }
                            Err(d) => self.diags.push(d),
                        }
                    }
                    baton_config::TraversalStep::Attr(a, _) => attrs.push(a.to_string()),
                    baton_config::TraversalStep::Index(..) => break,
                }
            }
            for c in &self.changes {
                if c.addr.module != iaddr.module || &c.addr.resource != target {
                    continue;
                }
                if let Some(k) = &key {
                    if &c.addr.key != k {
                        continue;
                    }
                }
                if matches!(c.action, Action::NoOp | Action::Read) {
                    continue;
                }
                if attrs.is_empty() {
                    return true;
                }
                let get = |v: &Value| {
                    let mut cur = Some(v.clone());
                    for a in &attrs {
                        cur = cur.and_then(|x| x.get_attr(a).cloned());
                    }
                    cur
                };
                match (get(&c.before), get(&c.after)) {
                    (Some(b), Some(a)) if a.is_wholly_known() && b.raw_equal(&a) => {}
                    _ => return true,
                }
            }
        }
        false
    }
}

pub(super) fn prevent_destroy_error(addr: &InstanceAddr, r: &Resource) -> Diagnostic {
    Diagnostic::error(
        "Instance cannot be destroyed",
        format!("Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using --target."),
    )
    .at(r.def_span)
    .in_context(r.describe())
}

/// `ignore_changes = all`: every configurable attribute keeps its prior value.
fn ignore_all(config: &Value, prior: &Value, schema: &baton_provider::Schema) -> Value {
    let mut m = config
        .as_entries()
        .map(baton_eval::Entries::to_map)
        .unwrap_or_default();
    for (name, a) in &schema.attrs {
        if a.required || a.optional {
            if let Some(pv) = prior.get_attr(name) {
                m.insert(name.clone(), pv.clone());
            }
        }
    }
    for name in schema.blocks.keys() {
        if let Some(pv) = prior.get_attr(name) {
            m.insert(name.clone(), pv.clone());
        }
    }
    Value::object(m)
}

/// `ignore_changes = [a, b["k"]]`: the listed paths keep their prior values.
fn ignore_paths(config: &Value, prior: &Value, paths: &[Expr]) -> Value {
    let mut out = config.clone();
    for p in paths {
        let Some((root, steps)) = p.as_traversal() else {
            continue;
        };
        let mut path = vec![PathStep::Key(root.to_string())];
        for s in steps {
            match s {
                baton_config::TraversalStep::Attr(a, _) => path.push(PathStep::Key(a.to_string())),
                baton_config::TraversalStep::Index(k, _) => match &k.kind {
                    ExprKind::String(s) => path.push(PathStep::Key(s.clone())),
                    ExprKind::Number(n) => match n.parse::<usize>() {
                        Ok(i) => path.push(PathStep::Index(i)),
                        Err(_) => break,
                    },
                    _ => break,
                },
            }
        }
        let prior_at = value_at(prior, &path);
        out = baton_eval::value::set_path(out, &path, &|_old| {
            prior_at.clone().unwrap_or_else(Value::dynamic_null)
        });
    }
    out
}

fn value_at(v: &Value, path: &[PathStep]) -> Option<Value> {
    let mut cur = v.clone();
    for s in path {
        cur = match s {
            PathStep::Key(k) => cur.get_attr(k)?.clone(),
            PathStep::Index(i) => cur.as_seq()?.get(*i)?.clone(),
        };
    }
    Some(cur)
}

/// Where a provider's error about attribute path `attr` (`name`, `tag[0].key`) points: the
/// top-level argument it starts with, when the block sets it; else the block.
fn attr_span(r: &Resource, attr: Option<&str>) -> baton_core::Span {
    attr.and_then(|a| {
        let top = a.split(['.', '[']).next().unwrap_or(a);
        r.config.attr(top).map(|x| x.expr.span)
    })
    .unwrap_or(r.def_span)
}
