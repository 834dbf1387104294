//! Provider references that need no run: which provider configuration a resource uses
//! (`config_key`, `resource_alias` through module calls' `providers` maps), how state names a
//! configuration (`state_source`, `state_alias`), and the process-wide resolver hook that turns
//! a loaded configuration into its provider set (`set_resolver`).
//!
//! Pure over the configuration and strings; below `context`, `graph` and `providers`, which use
//! it. Must not evaluate anything nor call providers.

use baton_config::{Config, Resource};
use baton_core::{Diagnostics, ModulePath};
use baton_provider::Registry;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// Finds the providers a configuration needs beyond the built-in set (provider plugins) and
/// returns the set its runs use, or the diagnostics that stop it (a provider not installed).
/// `dir` is the root module's directory.
pub type Resolver =
    dyn Fn(&Config, &Path, Arc<Registry>) -> (Option<Arc<Registry>>, Diagnostics) + Send + Sync;

static RESOLVER: OnceLock<Box<Resolver>> = OnceLock::new();

/// Installs the process's provider resolver, once, at start-up (the binary's: plugins found
/// as Terraform finds them). Every load with the built-in set ([`crate::load`], a
/// [`crate::lifecycle::RunRequest`] that brings no set of its own) goes through it; a caller
/// that brings its own set is left alone. Without one, runs use the built-in set. Returns
/// false when one was installed already.
pub fn set_resolver(r: Box<Resolver>) -> bool {
    RESOLVER.set(r).is_ok()
}

/// The set a load with the built-in set `builtin` uses: the resolver's answer, or `builtin`.
pub(crate) fn resolve(
    config: &Config,
    dir: &Path,
    builtin: Arc<Registry>,
) -> (Option<Arc<Registry>>, Diagnostics) {
    match RESOLVER.get() {
        Some(r) => r(config, dir, builtin),
        None => (Some(builtin), Diagnostics::new()),
    }
}

/// A provider configuration's key: its local name, with `.ALIAS` for an aliased one.
pub fn config_key(name: &str, alias: Option<&str>) -> String {
    match alias {
        Some(a) => format!("{name}.{a}"),
        None => name.to_string(),
    }
}

/// The root module's provider configuration a resource in module `module` uses, as its
/// alias (`None`: the default configuration): the resource's `provider` argument (or the
/// provider its type implies), passed up through each module call's `providers = { … }`
/// map; a default configuration a call does not map is inherited from the caller, as in
/// Terraform.
pub fn resource_alias(config: &Config, module: &ModulePath, r: &Resource) -> Option<String> {
    let mut alias = r.provider.as_ref().and_then(|p| p.alias.clone());
    let mut name = match &r.provider {
        Some(p) => p.name.clone(),
        None => r.addr.type_.split('_').next().unwrap_or("").to_string(),
    };
    // Walk from the module up to the root, translating through each call's map.
    let mut path = module.0.clone();
    while let Some(call_name) = path.pop() {
        let Some(parent) = config.descendant(&ModulePath(path.clone())) else {
            break;
        };
        let Some(call) = parent.module.module_calls.get(&call_name) else {
            break;
        };
        let key = config_key(&name, alias.as_deref());
        let mapped = call
            .providers
            .iter()
            .find(|(child, _)| provider_ref(child).is_some_and(|c| c == key))
            .and_then(|(_, parent_ref)| provider_ref(parent_ref));
        if let Some(parent_key) = mapped {
            let (n, a) = match parent_key.split_once('.') {
                Some((n, a)) => (n.to_string(), Some(a.to_string())),
                None => (parent_key, None),
            };
            name = n;
            alias = a;
        }
    }
    alias
}

/// `aws` or `aws.west` from a provider reference expression in a `providers` map.
fn provider_ref(e: &baton_config::Expr) -> Option<String> {
    let (name, steps) = e.as_traversal()?;
    match steps.as_slice() {
        [] => Some(name.to_string()),
        [baton_config::TraversalStep::Attr(a, _)] => Some(format!("{name}.{a}")),
        _ => None,
    }
}

/// The source address in a state provider string (`provider["SOURCE"]`, with or without
/// `.ALIAS`).
pub fn state_source(provider: &str) -> &str {
    provider
        .trim_start_matches("provider[\"")
        .split("\"]")
        .next()
        .unwrap_or_default()
}

/// The alias in a state provider string (`provider["…"].west` → `west`).
pub fn state_alias(provider: &str) -> Option<&str> {
    provider
        .rsplit_once("\"].")
        .map(|(_, a)| a)
        .filter(|a| !a.is_empty())
}
