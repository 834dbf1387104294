//! `import` blocks: which block (if any) targets an instance and with what id, and the check
//! that every block targets a configured instance.
//!
//! Importing the object itself (the provider calls) belongs to [`super::managed`].

use super::run::Planner;
use crate::expand::{each_values, expand};
use crate::model::PlanMode;
use baton_config::Expr;
use baton_core::{
    Diagnostic, InstanceAddr, InstanceKey, ModuleInstance, ResourceAddr, ResourceMode,
};
use baton_eval::{Evaluator, Value};

impl Planner<'_> {
    /// The id an `import` block gives for `iaddr`, if one targets it.
    pub(super) fn find_import(
        &mut self,
        iaddr: &InstanceAddr,
    ) -> Result<Option<String>, Diagnostic> {
        let imports = self.ctx.config.module.imports.clone();
        for (i, (addr, id)) in self.opts.imports.iter().enumerate() {
            if addr == iaddr {
                self.imports_matched.insert(imports.len() + i);
                return Ok(Some(id.clone()));
            }
        }
        let root = ModuleInstance::root();
        for (i, imp) in imports.iter().enumerate() {
            let pairs: Vec<Option<(Value, Value)>> = match &imp.for_each {
                None => vec![None],
                Some(fe) => {
                    let exp = {
                        let scope = self.scope(&root);
                        let mut ev = self.evaluator(&scope);
                        expand(&mut ev, None, Some(fe), false)?
                    };
                    exp.map(|e| e.keys.iter().map(|(k, v)| each_values(k, v)).collect())
                        .unwrap_or_default()
                }
            };
            for each in pairs {
                let (to, id) = {
                    let mut scope = self.scope(&root);
                    scope.each = each.clone();
                    let mut ev = self.evaluator(&scope);
                    let to = import_target(&mut ev, &imp.to)?;
                    if &to != iaddr {
                        continue;
                    }
                    let id = ev.eval(&imp.id)?;
                    (to, id)
                };
                let _ = to;
                self.imports_matched.insert(i);
                let id = id.unmark_deep().0;
                return match id.as_str() {
                    Some(s) if !s.is_empty() => Ok(Some(s.to_string())),
                    _ => Err(Diagnostic::error(
                        "Invalid import id argument",
                        "The import ID must be a known, non-empty string.",
                    )
                    .at(imp.id.span)),
                };
            }
        }
        Ok(None)
    }

    /// Every `import` block must target an instance the configuration declares.
    pub(super) fn check_imports(&mut self) {
        if self.opts.mode != PlanMode::Normal || self.opts.validate_only {
            return;
        }
        let imports = self.ctx.config.module.imports.clone();
        for (i, (addr, _)) in self.opts.imports.iter().enumerate() {
            if self.prior.current(addr).is_some() {
                self.diags.push(Diagnostic::error(
                    "Resource already managed by Baton",
                    format!("Baton is already managing a remote object for {addr}. To import to this address you must first remove the existing object from the state (baton state rm)."),
                ));
            } else if !self.imports_matched.contains(&(imports.len() + i)) {
                self.diags.push(Diagnostic::error(
                    "Configuration for import target does not exist",
                    format!("The configuration for the given import target {addr} does not exist. To import it, first add a resource block for it to the configuration."),
                ));
            }
        }
        for (i, imp) in imports.iter().enumerate() {
            if self.imports_matched.contains(&i) {
                continue;
            }
            // Targets already in state are no-ops.
            let root = ModuleInstance::root();
            let to = {
                let scope = self.scope(&root);
                let mut ev = self.evaluator(&scope);
                import_target(&mut ev, &imp.to).ok()
            };
            if imp.for_each.is_none() {
                if let Some(to) = &to {
                    if self.prior.current(to).is_some() {
                        continue;
                    }
                }
            } else if to.is_none() {
                // Keys came from for_each; every generated target was either matched or is in state.
                continue;
            }
            let shown = to
                .map(|t| t.to_string())
                .unwrap_or_else(|| "this address".into());
            self.diags.push(
                Diagnostic::error(
                    "Configuration for import target does not exist",
                    format!("The configuration for the given import target {shown} does not exist. All target instances must have an associated configuration to be imported."),
                )
                .at(imp.span),
            );
        }
    }
}

/// Evaluates an import block's `to` address (its index may use `each`).
fn import_target(ev: &mut Evaluator<'_>, e: &Expr) -> Result<InstanceAddr, Diagnostic> {
    let bad = || {
        Diagnostic::error(
            "Invalid import address",
            "The import target must be a resource instance address, such as terraform_data.a or module.m.terraform_data.a[\"key\"].",
        )
        .at(e.span)
    };
    let (root, steps) = e.as_traversal().ok_or_else(bad)?;
    let mut names: Vec<(String, Option<InstanceKey>)> = Vec::new();
    let mut cur_root = Some(root.to_string());
    let mut module = ModuleInstance::root();
    let mut resource: Option<ResourceAddr> = None;
    let mut key: Option<InstanceKey> = None;
    let mut i = 0;
    let eval_key = |ev: &mut Evaluator<'_>, k: &Expr| -> Result<InstanceKey, Diagnostic> {
        let v = ev.eval(k)?.unmark_deep().0;
        if let Some(n) = v.as_number() {
            return n.to_i64().map(InstanceKey::Int).ok_or_else(bad);
        }
        v.as_str()
            .map(|s| InstanceKey::Str(s.to_string()))
            .ok_or_else(bad)
    };
    let attr = |i: usize| match steps.get(i) {
        Some(baton_config::TraversalStep::Attr(a, _)) => Some(a.to_string()),
        _ => None,
    };
    // module.NAME[KEY]... segments
    while cur_root.as_deref() == Some("module") {
        let name = attr(i).ok_or_else(bad)?;
        i += 1;
        let mut k = None;
        if let Some(baton_config::TraversalStep::Index(ke, _)) = steps.get(i) {
            k = Some(eval_key(ev, ke)?);
            i += 1;
        }
        names.push((name, k));
        cur_root = attr(i);
        if cur_root.is_some() {
            i += 1;
        }
    }
    module.0 = names;
    if let Some(type_) = cur_root {
        let (mode, type_, name) = if type_ == "data" {
            let t = attr(i).ok_or_else(bad)?;
            let n = attr(i + 1).ok_or_else(bad)?;
            i += 2;
            (ResourceMode::Data, t, n)
        } else {
            let n = attr(i).ok_or_else(bad)?;
            i += 1;
            (ResourceMode::Managed, type_, n)
        };
        resource = Some(ResourceAddr { mode, type_, name });
        if let Some(baton_config::TraversalStep::Index(ke, _)) = steps.get(i) {
            key = Some(eval_key(ev, ke)?);
            i += 1;
        }
    }
    if i != steps.len() {
        return Err(bad());
    }
    let resource = resource.ok_or_else(bad)?;
    if resource.mode == ResourceMode::Data {
        return Err(Diagnostic::error(
            "Invalid import address",
            "Only managed resources can be imported.",
        )
        .at(e.span));
    }
    Ok(InstanceAddr::new(module, resource, key))
}
