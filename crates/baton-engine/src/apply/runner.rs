//! The runner: executes one node of the action graph — evaluates the instance's configuration,
//! calls the provider (with retries and timeouts), checks its result against the reviewed plan,
//! and writes state and journal in one transaction.
//!
//! Must not decide the order of work (the graph does) or write state in batches.

use super::actions::ANode;
use super::fault::{fault_injection, Injected};
use super::opts::{ApplyOpts, RetryPolicy};
use super::perform::Worker;
use crate::body::eval_body;
use crate::context::Context;
use crate::expand::{count_index, each_values, expand, Expansion};
use crate::graph::NodeKey;
use crate::model::Checkable;
use crate::model::{Action, ActionReason, Plan, PlanMode, ResourceChange};
use crate::nodes::{module_of, CheckSite, NodeEval};
use crate::statecodec::encode_object;
use crate::values::{EvalState, Repetition};
use crate::{Event, Observer};
use baton_config::{ProvisionerWhen, Resource};
use baton_core::{
    Diagnostic, Diagnostics, InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr,
};
use baton_eval::Value;
use baton_graph::NodeId;
use baton_provider::plan::{mark_schema_sensitive, proposed_new};
use baton_provider::{ApplyRequest, PlanRequest, ProviderCtx, ProviderError};
use baton_state::{
    EntryOutcome, EntryStatus, InstanceStatus, JournalEntry, ObjectKey, RawJson, StateError,
    StateStore, StateWrite,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `count.index` and `each.key`/`each.value` of one instance.
pub(super) type InstanceKeys = (Option<Value>, Option<(Value, Value)>);
/// Cached `for_each` expansions per resource in a module instance.
pub(super) type ExpansionCache =
    Mutex<HashMap<(ModuleInstance, ResourceAddr), Arc<Option<Expansion>>>>;

pub(super) struct Runner<'a> {
    pub(super) ctx: &'a Context,
    pub(super) plan: &'a Plan,
    pub(super) store: &'a dyn StateStore,
    pub(super) serial: u64,
    pub(super) opts: &'a ApplyOpts,
    /// `apply` or `rollback`, recorded on journal entries.
    pub(super) phase: &'static str,
    pub(super) observer: &'a dyn Observer,
    pub(super) state: &'a EvalState,
    /// What the provider calls run with.
    pub(super) worker: Worker,
    /// `for_each` values per resource in a module instance, evaluated once.
    pub(super) expansions: ExpansionCache,
    /// (created, updated, destroyed, imported, restored without a provider call)
    pub(super) counts: Mutex<(usize, usize, usize, usize, usize)>,
    /// Deposed keys of create-before-destroy replacements made by this walk, by address.
    pub(super) deposed: Mutex<HashMap<InstanceAddr, String>>,
}

pub(super) type VisitResult = Result<(), Diagnostics>;

pub(super) fn state_err(e: StateError) -> Diagnostics {
    Diagnostic::error("Failed to save state", e.to_string()).into()
}

/// A journaled action in progress.
pub(super) struct Journaled {
    pub(super) seq: u64,
    pub(super) started: Instant,
}

impl Runner<'_> {
    pub(super) fn nodes(&self) -> NodeEval<'_> {
        NodeEval {
            ctx: self.ctx,
            state: self.state,
            planning: false,
            validate_only: false,
            // A saved plan applied later still sees the time it was made.
            plan_timestamp: Some(&self.plan.timestamp),
        }
    }

    pub(super) fn visit(&self, n: ANode) -> VisitResult {
        match n {
            ANode::Config(id) => self.config_node(id),
            ANode::Apply(i) => self.apply_change(i),
            ANode::Destroy(i) => self.destroy_change(i),
        }
    }

    // ----- the journal -----

    /// Records the intent of an action before it starts.
    pub(super) fn begin(
        &self,
        addr: &InstanceAddr,
        deposed: &str,
        action: &str,
        prior: Option<&Value>,
        planned: Option<&Value>,
    ) -> Result<Journaled, Diagnostics> {
        let enc = |v: Option<&Value>| match v {
            Some(v) if !v.is_null() => RawJson::from_value(&v.to_typed_json()),
            _ => RawJson::null(),
        };
        let injected = fault_injection(self.opts.fault.as_ref(), self.phase, addr);
        let seq = self
            .store
            .journal_start(
                self.opts.fence,
                &JournalEntry {
                    run_id: self.opts.run_id.clone(),
                    seq: 0,
                    addr: addr.to_string(),
                    deposed: deposed.to_string(),
                    action: action.to_string(),
                    prior: enc(prior),
                    planned: enc(planned),
                    status: EntryStatus::Started,
                    new_value: None,
                    error: None,
                    attempts: 0,
                    started_at: crate::now_rfc3339(),
                    duration_ms: None,
                    phase: self.phase.to_string(),
                },
            )
            .map_err(state_err)?;
        if injected == Ok(Injected::KillAfterIntent) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
        let j = Journaled {
            seq,
            started: Instant::now(),
        };
        if let Err(d) = injected {
            // An injected failure is journaled like a real one.
            self.failed(&j, 1, &d);
            return Err(d);
        }
        Ok(j)
    }

    /// Records a successful outcome together with the state writes it implies.
    pub(super) fn done(
        &self,
        j: &Journaled,
        attempts: u32,
        new: Option<&Value>,
        writes: &[(ObjectKey, Option<baton_state::InstanceState>)],
    ) -> VisitResult {
        let w: Vec<StateWrite<'_>> = writes
            .iter()
            .map(|(k, o)| StateWrite {
                serial: self.serial,
                key: k,
                object: o.as_ref(),
            })
            .collect();
        self.store
            .journal_finish(
                self.opts.fence,
                &self.opts.run_id,
                j.seq,
                &EntryOutcome {
                    status: EntryStatus::Done,
                    new_value: Some(match new {
                        Some(v) => RawJson::from_value(&v.to_typed_json()),
                        None => RawJson::null(),
                    }),
                    error: None,
                    attempts,
                    duration_ms: j.started.elapsed().as_millis() as u64,
                },
                &w,
            )
            .map_err(state_err)
    }

    /// Records a failed outcome. The error text must not contain sensitive values (provider
    /// errors never do).
    pub(super) fn failed(&self, j: &Journaled, attempts: u32, error: &Diagnostics) {
        let text: Vec<String> = error
            .errors()
            .map(|d| format!("{}: {}", d.summary, d.detail))
            .collect();
        let _ = self.store.journal_finish(
            self.opts.fence,
            &self.opts.run_id,
            j.seq,
            &EntryOutcome {
                status: EntryStatus::Failed,
                new_value: None,
                error: Some(text.join("; ")),
                attempts,
                duration_ms: j.started.elapsed().as_millis() as u64,
            },
            &[],
        );
    }

    pub(super) fn config_node(&self, id: NodeId) -> VisitResult {
        let key = self.ctx.graph.graph.node(id);
        let d = match key {
            NodeKey::Var(p, n) => {
                if p.is_root() {
                    Diagnostics::new()
                } else {
                    self.nodes().var(p, n, &|_, _| Ok(None)).1
                }
            }
            NodeKey::Local(p, n) => self.nodes().local(p, n),
            NodeKey::Output(p, n) => self.nodes().output(p, n),
            NodeKey::ModuleCall(p, n) => self.nodes().module_call(p, n),
            NodeKey::Resource(p, r) => {
                // A resource with no instances is still an (empty) collection to references.
                if let Some(res) = module_of(&self.ctx.config, p).and_then(|m| m.resources.get(r)) {
                    for mi in self.state.module_instances(p) {
                        if !self.state.has_resource(&mi, r) {
                            self.state.set_resource(
                                &mi,
                                r,
                                crate::values::ResourceValues {
                                    repetition: rep_of(res),
                                    instances: crate::values::Instances::Empty,
                                },
                            );
                        }
                    }
                }
                Diagnostics::new()
            }
        };
        if d.has_errors() {
            Err(d)
        } else {
            Ok(())
        }
    }

    pub(super) fn resource_config(&self, addr: &InstanceAddr) -> Option<&Resource> {
        module_of(&self.ctx.config, &addr.module.path())
            .and_then(|m| m.resources.get(&addr.resource).map(|r| &**r))
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

    pub(super) fn bump(&self, action: Action) {
        if let Ok(mut c) = self.counts.lock() {
            match action {
                Action::Create => c.0 += 1,
                Action::Update => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::NoOp => c.3 += 1,
                _ => c.4 += 1,
            }
        }
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

    /// The provider context for one action: the resource's `timeouts` entry applies.
    pub(super) fn action_ctx(&self, r: Option<&Resource>, which: &str) -> ProviderCtx {
        self.worker.call_ctx(
            r.and_then(|r| r.timeouts.as_deref())
                .and_then(|t| t.get(which)),
        )
    }

    pub(super) fn resumed(&self, i: usize) -> Option<&Option<Value>> {
        self.opts.resume.as_ref().and_then(|r| r.done_apply.get(&i))
    }

    pub(super) fn probing(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.probe_apply.contains(&i))
    }

    pub(super) fn resumed_destroy(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.done_destroy.contains(&i))
    }

    pub(super) fn probing_destroy(&self, i: usize) -> bool {
        self.opts
            .resume
            .as_ref()
            .is_some_and(|r| r.probe_destroy.contains(&i))
    }

    pub(super) fn apply_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if let Some(done) = self.resumed(i) {
            // Done by the interrupted run: only its result is needed here.
            if let (Some(v), Some(r)) = (done, self.resource_config(&c.addr)) {
                self.state.set_instance(
                    &c.addr.module,
                    &c.addr.resource,
                    rep_of(r),
                    c.addr.key.clone(),
                    v.clone(),
                );
            }
            return Ok(());
        }
        if c.action == Action::Read {
            return self.read_data(c);
        }
        if self.plan.mode == PlanMode::Restore {
            return self.restore_change(c);
        }
        let reg = baton_provider::registry();
        let Some((info, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let Some(r) = self.resource_config(&c.addr) else {
            return Err(Diagnostic::error(
                "Missing configuration",
                format!("The configuration for {} is gone.", c.addr),
            )
            .into());
        };
        let schema = rt.schema();
        let key = ObjectKey::current(c.addr.clone());
        if let Some(id) = &c.importing {
            // Adopt the imported object first: it is in state even if the change fails.
            self.observer.event(Event::ApplyStart {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                id: Some(id.clone()),
            });
            let j = self.begin(&c.addr, "", "import", None, Some(&c.before))?;
            let obj = encode_object(
                &c.before,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.done(&j, 1, Some(&c.before), &[(key.clone(), Some(obj))])?;
            self.observer.event(Event::ApplyDone {
                addr: c.addr.clone(),
                deposed: None,
                action: Action::NoOp,
                elapsed: j.started.elapsed(),
                id: Some(id.clone()),
                attempts: 1,
            });
            self.bump(Action::NoOp);
            if c.action == Action::NoOp {
                return Ok(());
            }
        }
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
        let prior = if creating { None } else { Some(&c.before) };
        // Apply-time ignore_changes keeps what the plan decided.
        let config = if creating {
            config
        } else {
            keep_ignored(&config, &c.after, r, schema)
        };
        let proposed = proposed_new(schema, prior, &config);
        let final_plan = rt
            .plan(PlanRequest {
                prior,
                config: &config,
                proposed,
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
        let display_action = match c.action {
            Action::DeleteThenCreate | Action::CreateThenDelete => Action::Create,
            a => a,
        };
        let which = if creating { "create" } else { "update" };
        let pctx = self.action_ctx(Some(r), which);
        // A resumed create whose outcome was lost: look for the object before creating again.
        if creating && self.probing(i) {
            let found = rt
                .find(&pctx, &planned)
                .map_err(|e| provider_diag(&c.addr, r, e, 1))?;
            if let Some(found) = found.filter(|v| v.is_wholly_known()) {
                let j = self.begin(&c.addr, "", which, prior, Some(&planned))?;
                let new =
                    mark_schema_sensitive(schema, found.mark_paths(&planned.sensitive_paths()));
                let obj = encode_object(
                    &new,
                    &info.state_string(),
                    c.dependencies.clone(),
                    r.lifecycle.create_before_destroy,
                    InstanceStatus::Ready,
                );
                self.done(&j, 0, Some(&new), &[(key.clone(), Some(obj))])?;
                self.state.set_instance(
                    &c.addr.module,
                    &c.addr.resource,
                    rep_of(r),
                    c.addr.key.clone(),
                    new,
                );
                return Ok(());
            }
        }
        if c.action == Action::CreateThenDelete {
            // The old object becomes deposed until the new one exists.
            if let Some(obj) = self
                .store
                .current()
                .ok()
                .and_then(|s| s.objects.get(&key).cloned())
            {
                let dk = ObjectKey {
                    addr: c.addr.clone(),
                    deposed: deposed_key(&c.addr),
                };
                let j = self.begin(
                    &c.addr,
                    &dk.deposed,
                    "depose",
                    Some(&c.before),
                    Some(&c.before),
                )?;
                self.done(
                    &j,
                    0,
                    Some(&c.before),
                    &[(dk.clone(), Some(obj)), (key.clone(), None)],
                )?;
                if let Ok(mut m) = self.deposed.lock() {
                    m.insert(c.addr.clone(), dk.deposed.clone());
                }
            }
        }
        let old_id = c
            .before
            .get_attr("id")
            .and_then(|v| v.as_str().map(str::to_string));
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: display_action,
            id: if display_action == Action::Update {
                old_id
            } else {
                None
            },
        });
        let j = self.begin(&c.addr, "", which, prior, Some(&planned))?;
        let (result, attempts) = self.worker.with_retries(self.retry_policy(Some(r)), || {
            rt.apply(ApplyRequest {
                prior,
                planned: Some(&planned),
                config: &config,
                ctx: &pctx,
            })
        });
        let new = match result {
            Ok(Some(v)) => mark_schema_sensitive(schema, v.mark_paths(&planned.sensitive_paths())),
            Ok(None) => {
                let d: Diagnostics = Diagnostic::error(
                    "Provider returned no object",
                    format!("The provider returned no object after applying {}.", c.addr),
                )
                .into();
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display_action,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
        };
        // With create-time provisioners to run, the object is recorded tainted until they all
        // succeed, so a crash in between leaves it to be replaced, not taken as complete.
        let has_provisioners = creating
            && r.provisioners
                .iter()
                .any(|p| p.when == ProvisionerWhen::Create);
        let status = if has_provisioners {
            InstanceStatus::Tainted
        } else {
            InstanceStatus::Ready
        };
        let obj = encode_object(
            &new,
            &info.state_string(),
            c.dependencies.clone(),
            r.lifecycle.create_before_destroy,
            status,
        );
        self.done(&j, attempts, Some(&new), &[(key.clone(), Some(obj))])?;
        self.state.set_instance(
            &c.addr.module,
            &c.addr.resource,
            rep_of(r),
            c.addr.key.clone(),
            new.clone(),
        );
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: display_action,
            elapsed: j.started.elapsed(),
            id: new
                .get_attr("id")
                .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string)),
            attempts,
        });
        self.bump(display_action);
        if has_provisioners {
            self.provisioners(
                c,
                r,
                &new,
                ProvisionerWhen::Create,
                &(count.clone(), each.clone()),
                &pctx,
            )?;
            let ready = encode_object(
                &new,
                &info.state_string(),
                c.dependencies.clone(),
                r.lifecycle.create_before_destroy,
                InstanceStatus::Ready,
            );
            self.store
                .put_object(self.opts.fence, self.serial, &key, Some(&ready))
                .map_err(state_err)?;
        }
        let post = self.nodes().check_rules(CheckSite {
            module: &c.addr.module,
            object: Checkable::Resource(c.addr.resource.clone()),
            key: c.addr.key.clone(),
            rules: &r.lifecycle.postconditions,
            summary: "Resource postcondition failed",
            subject: &c.addr.to_string(),
            self_value: Some(&new),
            count,
            each,
        });
        if post.has_errors() {
            return Err(post);
        }
        Ok(())
    }

    /// Restore mode: write recorded objects back (recreate, update back, or restore a deposed
    /// object), without evaluating configuration.
    pub(super) fn restore_change(&self, c: &ResourceChange) -> VisitResult {
        let reg = baton_provider::registry();
        let Some((info, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let key = ObjectKey::current(c.addr.clone());
        let encode = |v: &Value| {
            encode_object(
                v,
                &info.state_string(),
                c.dependencies.clone(),
                c.create_before_destroy,
                InstanceStatus::Ready,
            )
        };
        match c.reason {
            Some(ActionReason::RestoreDeposed) => {
                let dk = ObjectKey {
                    addr: c.addr.clone(),
                    deposed: c.deposed.clone().unwrap_or_default(),
                };
                let obj = self
                    .store
                    .current()
                    .ok()
                    .and_then(|s| s.objects.get(&dk).cloned());
                let j = self.begin(&c.addr, &dk.deposed, "restore", None, Some(&c.after))?;
                self.done(&j, 0, Some(&c.after), &[(key, obj), (dk, None)])?;
                self.bump(Action::Forget);
                return Ok(());
            }
            Some(ActionReason::Readopt) => {
                let j = self.begin(&c.addr, "", "adopt", None, Some(&c.after))?;
                self.done(&j, 0, Some(&c.after), &[(key, Some(encode(&c.after)))])?;
                self.bump(Action::Forget);
                return Ok(());
            }
            _ => {}
        }
        let creating = c.action != Action::Update;
        let prior = if creating { None } else { Some(&c.before) };
        let r = self.resource_config(&c.addr);
        let which = if creating { "create" } else { "update" };
        let pctx = self.action_ctx(r, which);
        let display = if creating {
            Action::Create
        } else {
            Action::Update
        };
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: display,
            id: None,
        });
        let j = self.begin(&c.addr, "", which, prior, Some(&c.after))?;
        let (result, attempts) = self.worker.with_retries(self.retry_policy(r), || {
            rt.apply(ApplyRequest {
                prior,
                planned: Some(&c.after),
                config: &c.after,
                ctx: &pctx,
            })
        });
        match result {
            Ok(Some(v)) => {
                let v =
                    mark_schema_sensitive(rt.schema(), v.mark_paths(&c.after.sensitive_paths()));
                self.done(&j, attempts, Some(&v), &[(key, Some(encode(&v)))])?;
                self.observer.event(Event::ApplyDone {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display,
                    elapsed: j.started.elapsed(),
                    id: v
                        .get_attr("id")
                        .and_then(|x| x.clone().unmark().0.as_str().map(str::to_string)),
                    attempts,
                });
                self.bump(display);
                Ok(())
            }
            Ok(None) | Err(_) => {
                let detail = match result {
                    Err(e) => format!("{}: {}", e.summary, e.detail),
                    _ => "the provider returned no object".to_string(),
                };
                let d: Diagnostics =
                    Diagnostic::error(format!("Cannot restore {}", c.addr), detail).into();
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: display,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                Err(d)
            }
        }
    }

    pub(super) fn read_data(&self, c: &ResourceChange) -> VisitResult {
        let reg = baton_provider::registry();
        let Some((info, dt)) = reg.data_source(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown data source",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let Some(r) = self.resource_config(&c.addr) else {
            return Ok(());
        };
        let (config, _) = self.eval_instance_config(c, r, dt.schema())?;
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::Read,
            id: None,
        });
        let j = self.begin(&c.addr, "", "read", None, Some(&config))?;
        let ro = config.clone().unmark_deep().0;
        let pctx = self.action_ctx(Some(r), "read");
        let (res, attempts) = self
            .worker
            .with_retries(self.retry_policy(Some(r)), || dt.read(&pctx, &ro));
        let v = match res {
            Ok(v) => mark_schema_sensitive(dt.schema(), v.mark_paths(&config.sensitive_paths())),
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                self.failed(&j, attempts, &d);
                self.observer.event(Event::ApplyFailed {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: Action::Read,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
        };
        let obj = encode_object(
            &v,
            &info.state_string(),
            c.dependencies.clone(),
            false,
            InstanceStatus::Ready,
        );
        self.done(
            &j,
            attempts,
            Some(&v),
            &[(ObjectKey::current(c.addr.clone()), Some(obj))],
        )?;
        self.state.set_instance(
            &c.addr.module,
            &c.addr.resource,
            rep_of(r),
            c.addr.key.clone(),
            v,
        );
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::Read,
            elapsed: j.started.elapsed(),
            id: None,
            attempts,
        });
        Ok(())
    }

    pub(super) fn destroy_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if self.resumed_destroy(i) {
            return Ok(());
        }
        if c.action == Action::Forget || c.reason == Some(ActionReason::UndoImport) {
            let key = ObjectKey {
                addr: c.addr.clone(),
                deposed: c.deposed.clone().unwrap_or_default(),
            };
            let j = self.begin(&c.addr, &key.deposed, "forget", Some(&c.before), None)?;
            self.done(&j, 0, None, &[(key, None)])?;
            self.bump(Action::Forget);
            return Ok(());
        }
        let reg = baton_provider::registry();
        let Some((_, rt)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        // The object to destroy: for a create-before-destroy replacement, the deposed one.
        let deposed = match (&c.deposed, c.action) {
            (Some(d), _) => Some(d.clone()),
            (None, Action::CreateThenDelete) => self
                .deposed
                .lock()
                .ok()
                .and_then(|m| m.get(&c.addr).cloned()),
            _ => None,
        };
        let key = ObjectKey {
            addr: c.addr.clone(),
            deposed: deposed.clone().unwrap_or_default(),
        };
        let r = self.resource_config(&c.addr);
        let pctx = self.action_ctx(r, "delete");
        if self.probing_destroy(i) {
            // A delete whose outcome was lost: the object may already be gone.
            if let Ok(None) = rt.read(&pctx, &c.before) {
                let j = self.begin(&c.addr, &key.deposed, "delete", Some(&c.before), None)?;
                self.done(&j, 0, None, &[(key, None)])?;
                return Ok(());
            }
        }
        if deposed.is_none() {
            if let Some(r) = r {
                let keys = match self.instance_keys(&c.addr, r) {
                    Ok(x) => x,
                    Err(_) => (count_index(&c.addr.key), string_each(&c.addr.key)),
                };
                self.provisioners(c, r, &c.before, ProvisionerWhen::Destroy, &keys, &pctx)?;
            }
        }
        let id = c
            .before
            .get_attr("id")
            .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string));
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: deposed.clone(),
            action: Action::Delete,
            id,
        });
        let j = self.begin(&c.addr, &key.deposed, "delete", Some(&c.before), None)?;
        let (res, attempts) = self.worker.with_retries(self.retry_policy(r), || {
            rt.apply(ApplyRequest {
                prior: Some(&c.before),
                planned: None,
                config: &Value::dynamic_null(),
                ctx: &pctx,
            })
        });
        if let Err(e) = res {
            self.observer.event(Event::ApplyFailed {
                addr: c.addr.clone(),
                deposed: deposed.clone(),
                action: Action::Delete,
                elapsed: j.started.elapsed(),
                attempts,
            });
            let d: Diagnostics = Diagnostic::error(e.summary, attempts_note(e.detail, attempts))
                .in_context(format!("{}", c.addr))
                .into();
            self.failed(&j, attempts, &d);
            return Err(d);
        }
        self.done(&j, attempts, None, &[(key, None)])?;
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed,
            action: Action::Delete,
            elapsed: j.started.elapsed(),
            id: None,
            attempts,
        });
        self.bump(Action::Delete);
        Ok(())
    }
}

pub(super) fn deposed_key(addr: &InstanceAddr) -> String {
    let h = sha2_hex(&format!("{addr}{}", crate::now_rfc3339()));
    h[..8].to_string()
}

pub(super) fn sha2_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

pub(super) fn string_each(key: &Option<InstanceKey>) -> Option<(Value, Value)> {
    each_values(key, &None)
}

pub(super) fn rep_of(r: &Resource) -> Repetition {
    if r.count.is_some() {
        Repetition::Count
    } else if r.for_each.is_some() {
        Repetition::ForEach
    } else {
        Repetition::Single
    }
}

pub(super) fn attempts_note(detail: String, attempts: u32) -> String {
    if attempts > 1 {
        format!("{detail} (after {attempts} attempts)")
    } else {
        detail
    }
}

pub(super) fn provider_diag(
    addr: &InstanceAddr,
    r: &Resource,
    e: ProviderError,
    attempts: u32,
) -> Diagnostics {
    let span = e
        .attr
        .as_ref()
        .and_then(|n| r.config.attr(n).map(|a| a.expr.span))
        .unwrap_or(r.def_span);
    Diagnostic::error(e.summary, attempts_note(e.detail, attempts))
        .at(span)
        .in_context(format!("{} ({addr})", r.describe()))
        .into()
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
