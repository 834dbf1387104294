//! The runner: executes one node of the action graph. A change goes through three steps:
//! prepare (evaluated against the walk's state into an owned
//! [`Prepared`](super::prepare::Prepared) value, see [`super::prepare`]), perform (the provider
//! call, from that value alone, see [`super::perform`]) and record (intent journaled before,
//! outcome and state writes after in one transaction, see [`super::record`]). The runner puts
//! them in order and judges the provider's answer.
//!
//! Must not decide the order of work (the graph does), call providers itself (prepare and
//! perform do), or write state in batches.

use super::actions::ANode;
use super::perform::{probe, Performed};
use super::record::object_id;
use super::walk::{attempts_note, provider_diag, rep_of, string_each, Runner, VisitResult};
use crate::expand::count_index;
use crate::graph::NodeKey;
use crate::model::Checkable;
use crate::model::{Action, ActionReason, PlanMode, ResourceChange};
use crate::nodes::{module_of, CheckSite, NodeEval};
use baton_config::{ProvisionerWhen, Resource};
use baton_core::{Diagnostic, Diagnostics, InstanceAddr};
use baton_eval::Value;
use baton_graph::NodeId;
use baton_state::InstanceStatus;

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

    pub(super) fn config_node(&self, id: NodeId) -> VisitResult {
        let key = self.ctx.graph.graph.node(id);
        let d = match key {
            NodeKey::Var(p, n) => {
                if p.is_root() {
                    Diagnostics::new()
                } else {
                    self.nodes().var(p, n, &|_, _, _| Ok(None)).1
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
        let reg = &*self.worker.registry;
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
        if let Some(id) = &c.importing {
            // Adopt the imported object first: it is in state even if the change fails.
            self.adopt_import(c, r, info, id)?;
            if c.action == Action::NoOp {
                return Ok(());
            }
        }
        let (p, (count, each)) = self.prepare_apply(c, r, info, rt)?;
        // A resumed create whose outcome was lost: look for the object before creating again.
        if p.creating() && self.probing(i) {
            // On workers, what the worker made of it for the interrupted run decides first.
            match self.outcome_from_parent(&p).map(|done| done.result) {
                Some(Ok(Some(made))) => return self.adopt_found(&p, made),
                // The worker's attempt failed: nothing was made; create it now.
                Some(_) => {}
                None => {
                    let found =
                        probe(&p, &self.worker).map_err(|e| provider_diag(&c.addr, r, e, 1))?;
                    if let Some(found) = found.filter(|v| v.is_wholly_known()) {
                        return self.adopt_found(&p, found);
                    }
                }
            }
        }
        if c.action == Action::CreateThenDelete {
            self.depose(c)?;
        }
        let old_id = if p.shown == Action::Update {
            object_id(&c.before)
        } else {
            None
        };
        let j = self.start(&p, old_id)?;
        let Performed { result, attempts } = self.perform(&p);
        let new = match result {
            Ok(Some(v)) => v,
            Ok(None) => {
                let d = Diagnostic::error(
                    "Provider returned no object",
                    format!("The provider returned no object after applying {}.", c.addr),
                );
                return Err(self.record_failed(&p, &j, attempts, d.into()));
            }
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                return Err(self.record_failed(&p, &j, attempts, d));
            }
        };
        self.record_done(&p, &j, attempts, Some(&new))?;
        // The object was recorded tainted if create-time provisioners are to run, and stays so
        // until they all succeed.
        if p.object.status == InstanceStatus::Tainted {
            let keys = (count.clone(), each.clone());
            self.provisioners(c, r, &new, ProvisionerWhen::Create, &keys, p.timeout)?;
            self.record_provisioned(&p, &new)?;
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
        let reg = &*self.worker.registry;
        let Some((info, _)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        match c.reason {
            Some(ActionReason::RestoreDeposed) => return self.restore_deposed(c),
            Some(ActionReason::Readopt) => return self.readopt(c, info),
            _ => {}
        }
        let p = self.prepare_restore(c, self.resource_config(&c.addr), info);
        let j = self.start(&p, None)?;
        let Performed { result, attempts } = self.perform(&p);
        let detail = match result {
            Ok(Some(v)) => return self.record_done(&p, &j, attempts, Some(&v)),
            Ok(None) => "the provider returned no object".to_string(),
            Err(e) => format!("{}: {}", e.summary, e.detail),
        };
        let d = Diagnostic::error(format!("Cannot restore {}", c.addr), detail);
        Err(self.record_failed(&p, &j, attempts, d.into()))
    }

    pub(super) fn read_data(&self, c: &ResourceChange) -> VisitResult {
        let reg = &*self.worker.registry;
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
        let j = self.start(&p, None)?;
        let Performed { result, attempts } = self.perform(&p);
        match result {
            Ok(v) => self.record_done(&p, &j, attempts, v.as_ref()),
            Err(e) => {
                let d = provider_diag(&c.addr, r, e, attempts);
                Err(self.record_failed(&p, &j, attempts, d))
            }
        }
    }

    pub(super) fn destroy_change(&self, i: usize) -> VisitResult {
        let c = &self.plan.changes[i];
        if self.resumed_destroy(i) {
            return Ok(());
        }
        if c.action == Action::Forget || c.reason == Some(ActionReason::UndoImport) {
            return self.forget(c);
        }
        let reg = &*self.worker.registry;
        let Some((info, _)) = reg.resource_type(&c.addr.resource.type_) else {
            return Err(Diagnostic::error(
                "Unknown resource type",
                format!("{} has no provider.", c.addr),
            )
            .into());
        };
        let r = self.resource_config(&c.addr);
        let p = self.prepare_delete(c, r, info);
        if self.probing_destroy(i) {
            // A delete whose outcome was lost: the object may already be gone (a worker's
            // finished delete for the interrupted run says so at once).
            if let Some(Performed { result: Ok(_), .. }) = self.outcome_from_parent(&p) {
                return self.record_gone(&p);
            }
            if let Ok(None) = probe(&p, &self.worker) {
                return self.record_gone(&p);
            }
        }
        if p.deposed.is_none() {
            if let Some(r) = r {
                let keys = match self.instance_keys(&c.addr, r) {
                    Ok(x) => x,
                    Err(_) => (count_index(&c.addr.key), string_each(&c.addr.key)),
                };
                self.provisioners(c, r, &c.before, ProvisionerWhen::Destroy, &keys, p.timeout)?;
            }
        }
        let j = self.start(&p, object_id(&c.before))?;
        let Performed { result, attempts } = self.perform(&p);
        match result {
            // A delete leaves no object, whatever the provider returned.
            Ok(_) => self.record_done(&p, &j, attempts, None),
            Err(e) => {
                let d = Diagnostic::error(e.summary, attempts_note(e.detail, attempts))
                    .in_context(format!("{}", c.addr));
                Err(self.record_failed(&p, &j, attempts, d.into()))
            }
        }
    }
}
