//! Deletions: objects in state that the configuration no longer declares (orphans, or
//! forgotten by a `removed` block with `destroy = false`), every object in destroy mode, and
//! deposed objects.
//!
//! Only objects already in state are considered here; configured instances are planned in
//! [`super::managed`].

use super::managed::prevent_destroy_error;
use super::run::Planner;
use crate::context::module_of;
use crate::model::{Action, ActionReason, PlanMode, ResourceChange};
use baton_core::{InstanceAddr, InstanceKey, ModuleInstance, ResourceMode, Target};
use baton_eval::Value;

impl Planner<'_> {
    fn provider_of(&self, type_: &str) -> (String, String) {
        match self.ctx.providers.resource_type(type_) {
            Some((p, _)) => (p.name.to_string(), p.source.to_string()),
            None => ("unknown".into(), "unknown".into()),
        }
    }

    fn delete_change(
        &mut self,
        addr: &InstanceAddr,
        deposed: Option<String>,
        reason: Option<ActionReason>,
    ) {
        let Some(Some(before)) = self
            .refreshed
            .get(&(addr.clone(), deposed.clone()))
            .cloned()
        else {
            return; // already gone
        };
        let obj_key = baton_state::ObjectKey {
            addr: addr.clone(),
            deposed: deposed.clone().unwrap_or_default(),
        };
        let deps = self
            .prior
            .objects
            .get(&obj_key)
            .map(|o| o.dependencies.clone())
            .unwrap_or_default();
        // prevent_destroy still applies while the configuration exists.
        if deposed.is_none() {
            if let Some(r) = module_of(&self.ctx.config, &addr.module.path())
                .and_then(|m| m.resources.get(&addr.resource))
            {
                if r.lifecycle.prevent_destroy {
                    self.diags.push(prevent_destroy_error(addr, r));
                }
            }
        }
        let (pn, ps) = self.provider_of(&addr.resource.type_);
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            deposed,
            provider_name: pn,
            provider_source: ps,
            action: Action::Delete,
            reason,
            after: Value::null(before.ty()),
            before,
            replace_paths: Vec::new(),
            dependencies: deps,
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
    }

    pub(super) fn orphans(&mut self) {
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if !k.deposed.is_empty() || k.addr.resource.mode == ResourceMode::Data {
                continue;
            }
            if self.planned.contains(&k.addr) {
                continue;
            }
            if !self.opts.targets.is_empty()
                && !self.opts.targets.iter().any(|t| k.addr.is_under(t))
            {
                continue;
            }
            let reason = self.orphan_reason(&k.addr);
            if self.forgotten(&k.addr) {
                self.forget_change(&k.addr);
                continue;
            }
            self.delete_change(&k.addr, None, Some(reason));
        }
    }

    /// Whether a `removed` block with `destroy = false` covers this object.
    fn forgotten(&self, a: &InstanceAddr) -> bool {
        for m in self.ctx.config.all_modules() {
            for rm in &m.removed {
                if rm.destroy {
                    continue;
                }
                let Some(text) = crate::moves::address_text(&rm.from) else {
                    continue;
                };
                let Ok(t) = Target::parse(&text) else {
                    continue;
                };
                // Relative to the declaring module: prefix every instance of that module.
                let depth = m.path.0.len();
                if a.module.0.len() < depth
                    || a.module.0[..depth]
                        .iter()
                        .zip(&m.path.0)
                        .any(|((n, _), p)| n != p)
                {
                    continue;
                }
                let rel = InstanceAddr::new(
                    ModuleInstance(a.module.0[depth..].to_vec()),
                    a.resource.clone(),
                    a.key.clone(),
                );
                let hit = match &t {
                    Target::Resource(tm, tr) => {
                        rel.module.path() == tm.path() && &rel.resource == tr
                    }
                    Target::Module(tm) => {
                        rel.module.0.len() >= tm.0.len()
                            && rel.module.0.iter().zip(&tm.0).all(|(x, y)| x.0 == y.0)
                    }
                    Target::Instance(i) => {
                        i.module.path() == rel.module.path() && i.resource == rel.resource
                    }
                };
                if hit {
                    return true;
                }
            }
        }
        false
    }

    fn forget_change(&mut self, addr: &InstanceAddr) {
        let Some(Some(before)) = self.refreshed.get(&(addr.clone(), None)).cloned() else {
            return;
        };
        let (pn, ps) = self.provider_of(&addr.resource.type_);
        self.changes.push(ResourceChange {
            addr: addr.clone(),
            deposed: None,
            provider_name: pn,
            provider_source: ps,
            action: Action::Forget,
            reason: None,
            after: Value::null(before.ty()),
            before,
            replace_paths: Vec::new(),
            dependencies: Vec::new(),
            create_before_destroy: false,
            previous_addr: None,
            importing: None,
        });
    }

    fn orphan_reason(&self, a: &InstanceAddr) -> ActionReason {
        let Some(m) = module_of(&self.ctx.config, &a.module.path()) else {
            return ActionReason::DeleteBecauseNoModule;
        };
        if !self
            .state
            .module_instances(&a.module.path())
            .contains(&a.module)
        {
            return ActionReason::DeleteBecauseNoModule;
        }
        match m.resources.get(&a.resource) {
            None => ActionReason::DeleteBecauseNoResourceConfig,
            Some(_) => match &a.key {
                Some(InstanceKey::Int(_)) => ActionReason::DeleteBecauseCountIndex,
                Some(InstanceKey::Str(_)) => ActionReason::DeleteBecauseEachKey,
                None => ActionReason::DeleteBecauseNoResourceConfig,
            },
        }
    }

    pub(super) fn destroy_changes(&mut self) {
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if !k.deposed.is_empty() || k.addr.resource.mode == ResourceMode::Data {
                continue;
            }
            if !self.opts.targets.is_empty()
                && !self.opts.targets.iter().any(|t| k.addr.is_under(t))
            {
                continue;
            }
            self.delete_change(&k.addr, None, None);
        }
    }

    pub(super) fn deposed_changes(&mut self) {
        if self.opts.mode == PlanMode::RefreshOnly {
            return;
        }
        let keys: Vec<baton_state::ObjectKey> = self.prior.objects.keys().cloned().collect();
        for k in keys {
            if k.deposed.is_empty() {
                continue;
            }
            self.delete_change(&k.addr, Some(k.deposed.clone()), None);
        }
    }
}
