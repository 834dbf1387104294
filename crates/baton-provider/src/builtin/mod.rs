//! Built-in providers, one module each. Each module implements [`crate::ResourceType`] or
//! [`crate::DataSourceType`] for its types and is registered in [`crate::registry`].

#[cfg(test)]
mod conformance_tests;
pub mod external;
pub mod local;
pub mod null;
pub mod random;
pub mod shell;
pub mod terraform_data;
pub mod time;

use crate::ProviderError;
use baton_eval::Value;
use std::collections::BTreeMap;

/// Attributes of an object value (empty for null/unknown).
pub(crate) fn attrs(v: &Value) -> BTreeMap<String, Value> {
    v.as_entries().map(|e| e.to_map()).unwrap_or_default()
}

/// A string attribute, if set and known.
pub(crate) fn str_attr(v: &Value, name: &str) -> Option<String> {
    v.get_attr(name)
        .and_then(|x| x.clone().unmark_deep().0.as_str().map(str::to_string))
}

pub(crate) fn planned_or_err(planned: Option<&Value>) -> Result<&Value, ProviderError> {
    planned.ok_or_else(|| {
        ProviderError::permanent("Internal error", "apply called without a planned value")
    })
}
