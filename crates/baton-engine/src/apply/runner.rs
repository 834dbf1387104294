//! The runner: executes one node of the action graph — evaluates the instance's configuration,
//! calls the provider (with retries and timeouts), checks its result against the reviewed plan,
//! and writes state and journal in one transaction.
//!
//! Must not decide the order of work (the graph does) or write state in batches.

use super::actions::ANode;
use super::fault::{fault_injection, Injected};
use super::opts::ApplyOpts;
use super::perform::{perform, probe, Performed, Worker};
use super::prepare::{restored_object, Prepared};
use crate::context::Context;
use crate::expand::{count_index, each_values, Expansion};
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
use baton_provider::ProviderError;
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

    /// The object an action produced joins the evaluation state, if the action says where.
    pub(super) fn remember(&self, p: &Prepared, v: Value) {
        if let Some(rep) = p.repetition {
            self.state
                .set_instance(&p.addr.module, &p.addr.resource, rep, p.addr.key.clone(), v);
        }
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
        let reg = self.worker.registry;
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
        let (p, keys) = self.prepare_apply(c, r, info, rt)?;
        let object = &p.object;
        // A resumed create whose outcome was lost: look for the object before creating again.
        if p.creating() && self.probing(i) {
            let found = probe(&p, &self.worker).map_err(|e| provider_diag(&c.addr, r, e, 1))?;
            if let Some(new) = found.filter(|v| v.is_wholly_known()) {
                let j = self.begin(&c.addr, "", p.verb, p.prior(), p.planned())?;
                let obj = object.encode_as(&new, InstanceStatus::Ready);
                self.done(&j, 0, Some(&new), &[(key.clone(), Some(obj))])?;
                self.remember(&p, new);
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
            action: p.shown,
            id: if p.shown == Action::Update {
                old_id
            } else {
                None
            },
        });
        let j = self.begin(&c.addr, "", p.verb, p.prior(), p.planned())?;
        let Performed { result, attempts } = perform(&p, &self.worker);
        let new = match result {
            Ok(Some(v)) => v,
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
                    action: p.shown,
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
                    action: p.shown,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                return Err(d);
            }
        };
        self.done(
            &j,
            attempts,
            Some(&new),
            &[(key.clone(), Some(object.encode(&new)))],
        )?;
        self.remember(&p, new.clone());
        self.observer.event(Event::ApplyDone {
            addr: c.addr.clone(),
            deposed: None,
            action: p.shown,
            elapsed: j.started.elapsed(),
            id: new
                .get_attr("id")
                .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string)),
            attempts,
        });
        self.bump(p.shown);
        // With create-time provisioners to run, the object was recorded tainted until they all
        // succeed, so a crash in between leaves it to be replaced, not taken as complete.
        if object.status == InstanceStatus::Tainted {
            let pctx = self.worker.call_ctx(p.timeout);
            self.provisioners(c, r, &new, ProvisionerWhen::Create, &keys, &pctx)?;
            let ready = object.encode_as(&new, InstanceStatus::Ready);
            self.store
                .put_object(self.opts.fence, self.serial, &key, Some(&ready))
                .map_err(state_err)?;
        }
        let (count, each) = keys;
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
        let reg = self.worker.registry;
        let Some((info, _)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let key = ObjectKey::current(c.addr.clone());
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
                let obj = restored_object(c, info).encode(&c.after);
                let j = self.begin(&c.addr, "", "adopt", None, Some(&c.after))?;
                self.done(&j, 0, Some(&c.after), &[(key, Some(obj))])?;
                self.bump(Action::Forget);
                return Ok(());
            }
            _ => {}
        }
        let p = self.prepare_restore(c, self.resource_config(&c.addr), info);
        let object = &p.object;
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: p.shown,
            id: None,
        });
        let j = self.begin(&c.addr, "", p.verb, p.prior(), p.planned())?;
        let Performed { result, attempts } = perform(&p, &self.worker);
        match result {
            Ok(Some(v)) => {
                self.done(&j, attempts, Some(&v), &[(key, Some(object.encode(&v)))])?;
                self.observer.event(Event::ApplyDone {
                    addr: c.addr.clone(),
                    deposed: None,
                    action: p.shown,
                    elapsed: j.started.elapsed(),
                    id: v
                        .get_attr("id")
                        .and_then(|x| x.clone().unmark().0.as_str().map(str::to_string)),
                    attempts,
                });
                self.bump(p.shown);
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
                    action: p.shown,
                    elapsed: j.started.elapsed(),
                    attempts,
                });
                Err(d)
            }
        }
    }

    pub(super) fn read_data(&self, c: &ResourceChange) -> VisitResult {
        let reg = self.worker.registry;
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
        let p = self.prepare_read(c, r, info, dt)?;
        let object = &p.object;
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: None,
            action: Action::Read,
            id: None,
        });
        let j = self.begin(&c.addr, "", p.verb, p.prior(), p.planned())?;
        let Performed { result, attempts } = perform(&p, &self.worker);
        let v = match result {
            Ok(v) => v,
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
        self.done(
            &j,
            attempts,
            v.as_ref(),
            &[(p.key(), v.as_ref().map(|v| object.encode(v)))],
        )?;
        if let Some(v) = v {
            self.remember(&p, v);
        }
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
        let reg = self.worker.registry;
        let Some((info, _)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let r = self.resource_config(&c.addr);
        let p = self.prepare_delete(c, r, info);
        let key = p.key();
        if self.probing_destroy(i) {
            // A delete whose outcome was lost: the object may already be gone.
            if let Ok(None) = probe(&p, &self.worker) {
                let j = self.begin(&c.addr, &key.deposed, p.verb, p.prior(), p.planned())?;
                self.done(&j, 0, None, &[(key, None)])?;
                return Ok(());
            }
        }
        if p.deposed.is_none() {
            if let Some(r) = r {
                let keys = match self.instance_keys(&c.addr, r) {
                    Ok(x) => x,
                    Err(_) => (count_index(&c.addr.key), string_each(&c.addr.key)),
                };
                let pctx = self.worker.call_ctx(p.timeout);
                self.provisioners(c, r, &c.before, ProvisionerWhen::Destroy, &keys, &pctx)?;
            }
        }
        let id = c
            .before
            .get_attr("id")
            .and_then(|v| v.clone().unmark().0.as_str().map(str::to_string));
        self.observer.event(Event::ApplyStart {
            addr: c.addr.clone(),
            deposed: p.deposed.clone(),
            action: Action::Delete,
            id,
        });
        let j = self.begin(&c.addr, &key.deposed, p.verb, p.prior(), p.planned())?;
        let Performed { result, attempts } = perform(&p, &self.worker);
        if let Err(e) = result {
            self.observer.event(Event::ApplyFailed {
                addr: c.addr.clone(),
                deposed: p.deposed.clone(),
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
            deposed: p.deposed,
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
