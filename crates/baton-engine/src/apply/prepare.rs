//! The prepare step of an action: evaluates what the provider call needs against the walk's
//! evaluation state (configuration with its dependencies' now-known values, preconditions, the
//! provider's final plan checked against the reviewed one) and resolves the resource's
//! timeouts and retry policy, into a [`Prepared`] value that owns all of it.
//!
//! Must not call anything that acts on or reads real objects (the only provider call is the
//! final plan, a function of values), and must not write state, the journal or the evaluation
//! state (it only fills the walk's cache of `for_each` expansions).

use super::opts::RetryPolicy;
use super::walk::{provider_diag, rep_of, InstanceKeys, Runner};
use crate::body::eval_body;
use crate::expand::{count_index, each_values, expand};
use crate::model::{Action, Checkable, ResourceChange};
use crate::nodes::CheckSite;
use crate::statecodec::encode_object;
use crate::values::Repetition;
use baton_config::{ProvisionerWhen, Resource};
use baton_core::{Diagnostic, Diagnostics, InstanceAddr};
use baton_eval::Value;
use baton_provider::plan::{mark_schema_sensitive, proposed_new};
use baton_provider::{DataSourceType, PlanRequest, ProviderInfo, ResourceType};
use baton_state::{InstanceState, InstanceStatus, ObjectKey};
use std::sync::Arc;
use std::time::Duration;

/// One action, ready for its provider call: plain owned values, nothing borrowed from the
/// configuration or the evaluation state.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub(super) addr: InstanceAddr,
    /// The deposed object acted on, if not the current one.
    pub(super) deposed: Option<String>,
    /// The journal's word for the action (`create`, `update`, `delete`, `read`), which is also
    /// the `timeouts` entry that applies.
    pub(super) verb: &'static str,
    /// The action as the observer is told it.
    pub(super) shown: Action,
    /// The provider call, its inputs resolved.
    pub(super) call: Call,
    /// The call's time limit, from the resource's `timeouts` block.
    pub(super) timeout: Option<Duration>,
    pub(super) retry: RetryPolicy,
    /// How state records the object the call returns (a delete returns none).
    pub(super) object: ObjectRecord,
    /// How the returned object joins the evaluation state (`None`: it does not, as in a
    /// delete or a restore, which evaluates nothing).
    pub(super) repetition: Option<Repetition>,
}

/// A provider call with its inputs.
#[derive(Clone, Debug)]
pub(super) enum Call {
    /// Create (`prior` is `None`) or update a managed object.
    Apply {
        prior: Option<Value>,
        planned: Value,
        config: Value,
    },
    /// Delete a managed object.
    Delete { prior: Value },
    /// Read a data source.
    Read { config: Value },
}

/// What state records with an object besides its value.
#[derive(Clone, Debug)]
pub(super) struct ObjectRecord {
    /// The provider, as state names it.
    pub(super) provider: String,
    pub(super) dependencies: Vec<String>,
    pub(super) create_before_destroy: bool,
    /// The version of the resource type's schema the object's value follows.
    pub(super) schema_version: u32,
    /// Tainted while create-time provisioners are still to run, so that a crash before they
    /// all succeed leaves the object to be replaced, not taken as complete.
    pub(super) status: InstanceStatus,
}

impl ObjectRecord {
    /// `v` as state records it, with the prepared status.
    pub(super) fn encode(&self, v: &Value) -> InstanceState {
        self.encode_as(v, self.status)
    }

    /// `v` as state records it, with `status`.
    pub(super) fn encode_as(&self, v: &Value, status: InstanceStatus) -> InstanceState {
        let mut o = encode_object(
            v,
            &self.provider,
            self.dependencies.clone(),
            self.create_before_destroy,
            status,
        );
        o.schema_version = self.schema_version;
        o
    }
}

impl Prepared {
    /// The state key of the object acted on.
    pub(super) fn key(&self) -> ObjectKey {
        ObjectKey {
            addr: self.addr.clone(),
            deposed: self.deposed.clone().unwrap_or_default(),
        }
    }

    /// The object before the call, as the journal records it.
    pub(super) fn prior(&self) -> Option<&Value> {
        match &self.call {
            Call::Apply { prior, .. } => prior.as_ref(),
            Call::Delete { prior } => Some(prior),
            Call::Read { .. } => None,
        }
    }

    /// The object the call is to produce, as the journal records it: the planned object, or a
    /// data source's configuration.
    pub(super) fn planned(&self) -> Option<&Value> {
        match &self.call {
            Call::Apply { planned, .. } => Some(planned),
            Call::Delete { .. } => None,
            Call::Read { config } => Some(config),
        }
    }

    /// Whether the call creates an object.
    pub(super) fn creating(&self) -> bool {
        matches!(self.call, Call::Apply { prior: None, .. })
    }
}

impl Runner<'_> {
    /// Prepares a create or update: the instance's configuration evaluated, preconditions
    /// checked, `ignore_changes` applied, and the provider's final plan, which must agree with
    /// the reviewed one. Also returns the instance's `count.index`/`each.*` for what follows
    /// the call (provisioners, postconditions).
    pub(super) fn prepare_apply(
        &self,
        c: &ResourceChange,
        r: &Resource,
        info: ProviderInfo,
        rt: &dyn ResourceType,
    ) -> Result<(Prepared, InstanceKeys), Diagnostics> {
        let schema = rt.schema();
        let (config, (count, each)) = self.eval_instance_config(c, r, schema)?;
        let pre = self.nodes().check_rules(CheckSite {
            module: &c.addr.module,
            object: Checkable::Resource(c.addr.resource.clone()),
            key: c.addr.key.clone(),
            rules: &r.lifecycle.preconditions,
            summary: "Resource precondition failed",
            subject: &c.addr.to_string(),
            self_value: None,
            count: count.clone(),
            each: each.clone(),
        });
        if pre.has_errors() {
            return Err(pre);
        }
        let creating = matches!(
            c.action,
            Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete
        );
        let prior = if creating {
            None
        } else {
            Some(c.before.clone())
        };
        // Apply-time ignore_changes keeps what the plan decided.
        let config = if creating {
            config
        } else {
            keep_ignored(&config, &c.after, r, schema)
        };
        let proposed = proposed_new(schema, prior.as_ref(), &config);
        let final_plan = rt
            .plan(PlanRequest {
                prior: prior.as_ref(),
                config: &config,
                proposed,
                ctx: &self.worker.call_ctx(info, &c.addr, None),
            })
            .map_err(|e| provider_diag(&c.addr, r, e, 1))?;
        let planned = mark_schema_sensitive(
            schema,
            final_plan.planned.mark_paths(&config.sensitive_paths()),
        );
        if let Some(path) = inconsistent(&c.after, &planned) {
            return Err(Diagnostic::error(
                "Provider produced inconsistent final plan",
                format!("When expanding the plan for {} to include new values learned so far during apply, the provider produced a value for .{path} that differs from the reviewed plan. This is a bug in the provider, or the configuration changed between plan and apply.", c.addr),
            )
            .at(r.def_span)
            .into());
        }
        let verb = if creating { "create" } else { "update" };
        let provisioned = creating
            && r.provisioners
                .iter()
                .any(|p| p.when == ProvisionerWhen::Create);
        let prepared = Prepared {
            addr: c.addr.clone(),
            deposed: None,
            verb,
            shown: match c.action {
                Action::DeleteThenCreate | Action::CreateThenDelete => Action::Create,
                a => a,
            },
            call: Call::Apply {
                prior,
                planned,
                config,
            },
            timeout: timeout(Some(r), verb),
            retry: self.retry_policy(Some(r)),
            object: ObjectRecord {
                provider: self.worker.configs.state_string(info, &c.addr),
                schema_version: schema_version(&self.ctx.providers, &c.addr.resource.type_),
                dependencies: c.dependencies.clone(),
                create_before_destroy: r.lifecycle.create_before_destroy,
                status: if provisioned {
                    InstanceStatus::Tainted
                } else {
                    InstanceStatus::Ready
                },
            },
            repetition: Some(rep_of(r)),
        };
        Ok((prepared, (count, each)))
    }

    /// Prepares a restore (create or update back to the recorded object): the recorded object
    /// is both the plan and the configuration, nothing is evaluated.
    pub(super) fn prepare_restore(
        &self,
        c: &ResourceChange,
        r: Option<&Resource>,
        info: ProviderInfo,
    ) -> Prepared {
        let creating = c.action != Action::Update;
        let verb = if creating { "create" } else { "update" };
        Prepared {
            addr: c.addr.clone(),
            deposed: None,
            verb,
            shown: if creating {
                Action::Create
            } else {
                Action::Update
            },
            call: Call::Apply {
                prior: if creating {
                    None
                } else {
                    Some(c.before.clone())
                },
                planned: c.after.clone(),
                config: c.after.clone(),
            },
            timeout: timeout(r, verb),
            retry: self.retry_policy(r),
            object: restored_object(
                c,
                self.worker.configs.state_string(info, &c.addr),
                schema_version(&self.ctx.providers, &c.addr.resource.type_),
            ),
            repetition: None,
        }
    }

    /// Prepares a data source read: its configuration evaluated.
    pub(super) fn prepare_read(
        &self,
        c: &ResourceChange,
        r: &Resource,
        info: ProviderInfo,
        dt: &dyn DataSourceType,
    ) -> Result<Prepared, Diagnostics> {
        let (config, _) = self.eval_instance_config(c, r, dt.schema())?;
        Ok(Prepared {
            addr: c.addr.clone(),
            deposed: None,
            verb: "read",
            shown: Action::Read,
            call: Call::Read { config },
            timeout: timeout(Some(r), "read"),
            retry: self.retry_policy(Some(r)),
            object: ObjectRecord {
                provider: self.worker.configs.state_string(info, &c.addr),
                schema_version: schema_version(&self.ctx.providers, &c.addr.resource.type_),
                dependencies: c.dependencies.clone(),
                create_before_destroy: false,
                status: InstanceStatus::Ready,
            },
            repetition: Some(rep_of(r)),
        })
    }

    /// Prepares a delete. The object to delete is, for a create-before-destroy replacement,
    /// the one this walk deposed.
    pub(super) fn prepare_delete(
        &self,
        c: &ResourceChange,
        r: Option<&Resource>,
        info: ProviderInfo,
    ) -> Prepared {
        let deposed = match (&c.deposed, c.action) {
            (Some(d), _) => Some(d.clone()),
            (None, Action::CreateThenDelete) => self
                .deposed
                .lock()
                .ok()
                .and_then(|m| m.get(&c.addr).cloned()),
            _ => None,
        };
        Prepared {
            addr: c.addr.clone(),
            deposed,
            verb: "delete",
            shown: Action::Delete,
            call: Call::Delete {
                prior: c.before.clone(),
            },
            timeout: timeout(r, "delete"),
            retry: self.retry_policy(r),
            object: ObjectRecord {
                provider: self.worker.configs.state_string(info, &c.addr),
                schema_version: schema_version(&self.ctx.providers, &c.addr.resource.type_),
                dependencies: c.dependencies.clone(),
                create_before_destroy: c.create_before_destroy,
                status: InstanceStatus::Ready,
            },
            repetition: None,
        }
    }

    /// count.index and each.* of an instance (for_each evaluated once per resource).
    pub(super) fn instance_keys(
        &self,
        addr: &InstanceAddr,
        r: &Resource,
    ) -> Result<InstanceKeys, Diagnostics> {
        let count = count_index(&addr.key);
        if r.for_each.is_none() {
            return Ok((count, None));
        }
        let k = (addr.module.clone(), addr.resource.clone());
        let cached = self.expansions.lock().ok().and_then(|m| m.get(&k).cloned());
        let exp = match cached {
            Some(e) => e,
            None => {
                let nodes = self.nodes();
                let scope = nodes.scope(&addr.module);
                let mut ev = nodes.evaluator(&scope);
                let e = expand(&mut ev, None, r.for_each.as_deref(), false)
                    .map_err(|d| Diagnostics::from(d.in_context(r.describe())))?;
                let e = Arc::new(e);
                if let Ok(mut m) = self.expansions.lock() {
                    m.insert(k, e.clone());
                }
                e
            }
        };
        let each_value = exp.as_ref().as_ref().and_then(|e| {
            e.keys
                .iter()
                .find(|(key, _)| *key == addr.key)
                .and_then(|(_, v)| v.clone())
        });
        Ok((count, each_values(&addr.key, &each_value)))
    }

    pub(super) fn eval_instance_config(
        &self,
        c: &ResourceChange,
        r: &Resource,
        schema: &baton_provider::Schema,
    ) -> Result<(Value, InstanceKeys), Diagnostics> {
        let (count, each) = self.instance_keys(&c.addr, r)?;
        let nodes = self.nodes();
        let mut scope = nodes.scope(&c.addr.module);
        scope.count_index = count.clone();
        scope.each = each.clone();
        let mut ev = nodes.evaluator(&scope);
        let (v, d) = eval_body(&mut ev, &r.config, schema, r.def_span, &r.describe());
        if d.has_errors() {
            return Err(d);
        }
        Ok((v, (count, each)))
    }

    /// The retry policy of a resource: its `retry` block over the run's policy.
    pub(super) fn retry_policy(&self, r: Option<&Resource>) -> RetryPolicy {
        let mut p = self.opts.retry;
        if let Some(retry) = r.and_then(|r| r.retry.as_deref()) {
            p.attempts = retry.attempts.unwrap_or(p.attempts);
            p.base = retry.backoff.unwrap_or(p.base);
            p.cap = retry.max_backoff.unwrap_or(p.cap);
        }
        p
    }
}

/// How a restore records the object it writes back: as it was recorded, ready.
pub(super) fn restored_object(
    c: &ResourceChange,
    provider: String,
    schema_version: u32,
) -> ObjectRecord {
    ObjectRecord {
        provider,
        schema_version,
        dependencies: c.dependencies.clone(),
        create_before_destroy: c.create_before_destroy,
        status: InstanceStatus::Ready,
    }
}

/// The time limit of an operation (`create`, `read`, `update`, `delete`): the resource's
/// `timeouts` entry.
fn timeout(r: Option<&Resource>, verb: &str) -> Option<Duration> {
    r.and_then(|r| r.timeouts.as_deref())
        .and_then(|t| t.get(verb))
}

/// Where a final plan contradicts a known value of the reviewed one, if anywhere.
pub(super) fn inconsistent(reviewed: &Value, final_: &Value) -> Option<String> {
    if !reviewed.is_known() {
        return None;
    }
    match (reviewed.as_entries(), final_.as_entries()) {
        (Some(a), Some(b)) if reviewed.get_attr("id").is_some() || !a.is_empty() => {
            for (k, av) in a {
                let Some(bv) = b.get(k) else {
                    return Some(k.clone());
                };
                if !av.is_wholly_known() {
                    if av.is_known() {
                        if let Some(p) = inconsistent(av, bv) {
                            return Some(format!("{k}.{p}"));
                        }
                    }
                    continue;
                }
                if !av.raw_equal(bv) {
                    return Some(k.clone());
                }
            }
            None
        }
        _ => {
            if reviewed.is_wholly_known() && !reviewed.raw_equal(final_) {
                Some(String::new())
            } else {
                None
            }
        }
    }
}

/// At apply, attributes under `ignore_changes` keep the values the plan decided.
pub(super) fn keep_ignored(
    config: &Value,
    planned: &Value,
    r: &Resource,
    schema: &baton_provider::Schema,
) -> Value {
    match &r.lifecycle.ignore_changes {
        baton_config::IgnoreChanges::None => config.clone(),
        _ => {
            let mut m = config
                .as_entries()
                .map(baton_eval::Entries::to_map)
                .unwrap_or_default();
            let names: Vec<String> = match &r.lifecycle.ignore_changes {
                baton_config::IgnoreChanges::All => schema.attrs.keys().cloned().collect(),
                baton_config::IgnoreChanges::Paths(ps) => ps
                    .iter()
                    .filter_map(|p| p.as_traversal().map(|(root, _)| root.to_string()))
                    .collect(),
                baton_config::IgnoreChanges::None => Vec::new(),
            };
            for n in names {
                if let (Some(pv), true) = (planned.get_attr(&n), m.contains_key(&n)) {
                    if schema
                        .attrs
                        .get(&n)
                        .is_some_and(|a| a.required || a.optional)
                    {
                        m.insert(n.clone(), pv.clone());
                    }
                }
            }
            Value::object(m)
        }
    }
}

/// The schema version of managed resource type `type_` (0 for a type the set lacks).
pub(crate) fn schema_version(reg: &baton_provider::Registry, type_: &str) -> u32 {
    reg.resource_type(type_)
        .map(|(_, rt)| rt.schema().version)
        .unwrap_or(0)
}
