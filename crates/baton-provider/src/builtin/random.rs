//! The `random` provider: random_id, random_string, random_password, random_integer,
//! random_uuid, random_pet, random_shuffle, with hashicorp/random v3.6's schemas and planning
//! rules.
//!
//! Every configurable argument forces replacement except `keepers` (replaced only when a
//! non-null value changes, as the provider's `RequiresReplaceIfValuesNotNull` does) and
//! `override_special` (an update from `""` to null is in place). Values are generated at apply
//! (planned as unknown) and `read` returns the state unchanged: nothing exists outside state.
//!
//! Seeded results (`random_integer`, `random_shuffle`) come from a reimplementation of Go's
//! `math/rand` seeded the way the provider seeds it, so a seed gives the same result as
//! Terraform does (see [`gorand`]).
//!
//! This module must not print or log generated values: `random_password` results are secrets.

mod gorand;
mod id;
mod integer;
mod pet;
mod shuffle;
mod string;
mod uuid;
mod words;

use crate::plan::force_new_changes;
use crate::registry::{ProviderInfo, Registry};
use crate::schema::{Attr, Schema};
use crate::{AttrDiag, PlanRequest, PlanResponse, ProviderError};
use baton_eval::{PathStep, Type, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The provider these types belong to.
pub const PROVIDER: ProviderInfo = ProviderInfo {
    name: "random",
    source: "registry.terraform.io/hashicorp/random",
};

/// Registers this provider's types.
pub fn register(r: &mut Registry) {
    r.add_resource(PROVIDER, Arc::new(id::RandomId::new()));
    r.add_resource(PROVIDER, Arc::new(string::RandomString::new(false)));
    r.add_resource(PROVIDER, Arc::new(string::RandomString::new(true)));
    r.add_resource(PROVIDER, Arc::new(integer::RandomInteger::new()));
    r.add_resource(PROVIDER, Arc::new(uuid::RandomUuid::new()));
    r.add_resource(PROVIDER, Arc::new(pet::RandomPet::new()));
    r.add_resource(PROVIDER, Arc::new(shuffle::RandomShuffle::new()));
}

/// The largest length, byte count or result count Baton generates. The public provider has
/// no limit (and crashes on absurd values); this keeps a typo from exhausting memory.
const MAX_SIZE: i64 = 1 << 20;

const KEEPERS_DESC: &str = "Arbitrary map of values that, when changed, will trigger recreation of resource. See the main provider documentation for more information.";

/// The `keepers` attribute every random resource has. Replacement is decided by
/// [`keepers_require_replace`], not by `force_new`.
fn keepers_attr() -> Attr {
    Attr::optional(Type::map(Type::String)).describe(KEEPERS_DESC)
}

/// The known value of an attribute, without marks; `None` when absent, null or unknown.
fn known(v: &Value, name: &str) -> Option<Value> {
    let x = v.get_attr(name)?.clone().unmark_deep().0;
    (x.is_known() && !x.is_null()).then_some(x)
}

/// A known whole-number attribute (`None` when absent, null, unknown or not whole).
pub(crate) fn int_attr(v: &Value, name: &str) -> Option<i64> {
    known(v, name).and_then(|x| x.as_number().and_then(|n| n.to_i64()))
}

fn bool_attr(v: &Value, name: &str) -> Option<bool> {
    known(v, name).and_then(|x| x.as_bool())
}

fn str_attr(v: &Value, name: &str) -> Option<String> {
    known(v, name).and_then(|x| x.as_str().map(str::to_string))
}

fn is_unknown(v: &Value, name: &str) -> bool {
    v.get_attr(name).is_some_and(|x| !x.is_known())
}

/// Checks that a configured number attribute is a whole number in `[min, max]`.
fn check_int(config: &Value, name: &str, min: i64, max: i64, out: &mut Vec<AttrDiag>) {
    let Some(v) = known(config, name) else {
        return;
    };
    let Some(n) = v.as_number() else {
        return;
    };
    match n.to_i64() {
        None => out.push(AttrDiag::error(
            Some(name),
            "Invalid attribute value",
            format!("Attribute {name} must be a whole number between {min} and {max}, got: {n}."),
        )),
        Some(i) if i < min => out.push(AttrDiag::error(
            Some(name),
            "Invalid Attribute Value",
            format!("Attribute {name} value must be at least {min}, got: {i}"),
        )),
        Some(i) if i > max => out.push(AttrDiag::error(
            Some(name),
            "Invalid Attribute Value",
            format!("Attribute {name} value must be at most {max}, got: {i}"),
        )),
        Some(_) => {}
    }
}

/// hashicorp/random's `RequiresReplaceIfValuesNotNull` for `keepers`: a change replaces the
/// object unless it only adds keys with null values (or goes from null to such a map), so
/// states written by the SDK-based provider (which dropped null keys) do not force
/// replacement.
fn keepers_require_replace(prior: Option<&Value>, config: Option<&Value>) -> bool {
    let null = Value::null(Type::map(Type::String));
    let state = prior
        .cloned()
        .unwrap_or_else(|| null.clone())
        .unmark_deep()
        .0;
    let config = config.cloned().unwrap_or(null).unmark_deep().0;
    if config.is_wholly_known() && config.raw_equal(&state) {
        return false;
    }
    let empty = baton_eval::Entries::new();
    let config_elems = config.as_entries().unwrap_or(&empty);
    if state.is_null() {
        return config_elems.values().any(|v| !v.is_null());
    }
    let state_elems = state.as_entries().unwrap_or(&empty);
    for (k, cv) in config_elems {
        match state_elems.get(k) {
            None if cv.is_null() => {}
            Some(sv) if cv.is_known() && cv.raw_equal(sv) => {}
            _ => return true,
        }
    }
    let removed = state_elems.keys().any(|k| !config_elems.contains_key(k));
    removed
}

/// The plan shared by every random resource: the proposed object, adjusted by `adjust` (which
/// sees the configuration), with replacement forced by `force_new` attributes and `keepers`.
fn plan_random(
    schema: &Schema,
    req: &PlanRequest<'_>,
    adjust: impl FnOnce(&mut BTreeMap<String, Value>, &Value),
) -> PlanResponse {
    if !req.proposed.is_known() {
        return PlanResponse {
            planned: req.proposed.clone(),
            requires_replace: Vec::new(),
            warnings: Vec::new(),
        };
    }
    let mut planned = super::attrs(&req.proposed);
    adjust(&mut planned, req.config);
    let planned = Value::object(planned);
    let mut requires_replace = Vec::new();
    if let Some(prior) = req.prior {
        requires_replace = force_new_changes(schema, prior, &planned);
        if keepers_require_replace(prior.get_attr("keepers"), req.config.get_attr("keepers")) {
            requires_replace.push(vec![PathStep::Key("keepers".into())]);
        }
    }
    PlanResponse {
        planned,
        requires_replace,
        warnings: Vec::new(),
    }
}

/// A planned value needed at apply, or a permanent error naming the attribute when it is
/// still unknown (the engine resolves every unknown input before apply, so this is a bug).
fn need_known<T>(v: Option<T>, name: &str) -> Result<T, ProviderError> {
    v.ok_or_else(|| {
        ProviderError::permanent(
            "Internal error",
            format!("the planned value of {name} is not known at apply"),
        )
        .on_attr(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entries: &[(&str, Option<&str>)]) -> Value {
        Value::map(
            Type::String,
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        v.map_or_else(|| Value::null(Type::String), Value::string),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn keepers_replacement_rules() {
        let null = Value::null(Type::map(Type::String));
        // Equal: no replacement.
        assert!(!keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&m(&[("a", Some("1"))]))
        ));
        // Changed value, added key, removed key: replacement.
        assert!(keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&m(&[("a", Some("2"))]))
        ));
        assert!(keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&m(&[("a", Some("1")), ("b", Some("x"))]))
        ));
        assert!(keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&null)
        ));
        // Null to empty or all-null values: in place.
        assert!(!keepers_require_replace(Some(&null), Some(&m(&[]))));
        assert!(!keepers_require_replace(
            Some(&null),
            Some(&m(&[("a", None)]))
        ));
        assert!(keepers_require_replace(
            Some(&null),
            Some(&m(&[("a", Some("1"))]))
        ));
        // Empty to null, and a new key with a null value: in place.
        assert!(!keepers_require_replace(Some(&m(&[])), Some(&null)));
        assert!(!keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&m(&[("a", Some("1")), ("b", None)]))
        ));
        // An unknown value replaces.
        let unknown_elem = Value::map(
            Type::String,
            [("a".to_string(), Value::unknown(Type::String))]
                .into_iter()
                .collect(),
        );
        assert!(keepers_require_replace(
            Some(&m(&[("a", Some("1"))])),
            Some(&unknown_elem)
        ));
        assert!(!keepers_require_replace(None, None));
    }
}
