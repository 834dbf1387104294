//! Tells each resource type which of its objects a walk is about to read or change
//! ([`baton_provider::ResourceType::prepare`]), so slow set-up (connections to hosts) starts
//! for all of them at once instead of in the walk's order. Only grouping and the call: what a
//! type prepares is its own business, and nothing here may fail or wait.

use std::collections::BTreeMap;

use baton_eval::Value;
use baton_provider::Registry;

/// Calls `prepare` once per resource type with its objects among `objects` (type name, value).
pub(crate) fn objects<'a>(reg: &Registry, objects: impl Iterator<Item = (&'a str, &'a Value)>) {
    let mut by_type: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (t, v) in objects {
        by_type.entry(t).or_default().push(v);
    }
    for (t, vs) in by_type {
        if let Some((_, rt)) = reg.resource_type(t) {
            rt.prepare(&vs);
        }
    }
}
