//! Redaction of the values a plan JSON (in the shape of `terraform show -json`) marks
//! sensitive, before policies see it.
//!
//! Every marked value that is present and not null becomes [`REDACTED`]: a policy can still
//! tell that a value is set, never what it is. A null stays null (nothing to hide), so input
//! whose sensitive values were already nulled is left as it was. The `*_sensitive` maps
//! themselves are kept: they hold no values.

use serde_json::Value as Json;

/// What a policy sees in place of a sensitive value.
pub const REDACTED: &str = "(sensitive value)";

/// A copy of `input` with every value its plan JSON marks sensitive replaced by [`REDACTED`]:
/// `before`/`after` of `resource_changes`, `resource_drift` and `output_changes` (by
/// `before_sensitive`/`after_sensitive`), resource `values` in `planned_values` and
/// `prior_state` (by `sensitive_values`, in every child module), outputs with
/// `"sensitive": true`, and root `variables` declared sensitive in `configuration`.
pub fn redact(input: &Json) -> Json {
    let mut out = input.clone();
    for key in ["resource_changes", "resource_drift"] {
        if let Some(items) = out.get_mut(key).and_then(Json::as_array_mut) {
            for rc in items {
                if let Some(change) = rc.get_mut("change") {
                    redact_change(change);
                }
            }
        }
    }
    if let Some(outputs) = out.get_mut("output_changes").and_then(Json::as_object_mut) {
        for change in outputs.values_mut() {
            redact_change(change);
        }
    }
    if let Some(values) = out.get_mut("planned_values") {
        redact_values(values);
    }
    if let Some(values) = out.pointer_mut("/prior_state/values") {
        redact_values(values);
    }
    let sensitive_vars: Vec<String> = input
        .pointer("/configuration/root_module/variables")
        .and_then(Json::as_object)
        .map(|vars| {
            vars.iter()
                .filter(|(_, v)| v["sensitive"] == Json::Bool(true))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(vars) = out.get_mut("variables").and_then(Json::as_object_mut) {
        for name in sensitive_vars {
            if let Some(v) = vars.get_mut(&name).and_then(|v| v.get_mut("value")) {
                hide(v);
            }
        }
    }
    out
}

/// A `change` object: `before` by `before_sensitive`, `after` by `after_sensitive`.
fn redact_change(change: &mut Json) {
    for (value_key, marks_key) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
        let Some(obj) = change.as_object_mut() else {
            return;
        };
        let Some(marks) = obj.get(marks_key).cloned() else {
            continue;
        };
        if let Some(value) = obj.get_mut(value_key) {
            apply_marks(value, &marks);
        }
    }
}

/// `planned_values` or `prior_state.values`: outputs and the module tree.
fn redact_values(values: &mut Json) {
    if let Some(outputs) = values.get_mut("outputs").and_then(Json::as_object_mut) {
        for output in outputs.values_mut() {
            if output["sensitive"] == Json::Bool(true) {
                if let Some(v) = output.get_mut("value") {
                    hide(v);
                }
            }
        }
    }
    if let Some(root) = values.get_mut("root_module") {
        redact_module(root, 0);
    }
}

const MAX_MODULE_DEPTH: usize = 64;

fn redact_module(module: &mut Json, depth: usize) {
    if let Some(resources) = module.get_mut("resources").and_then(Json::as_array_mut) {
        for r in resources {
            let Some(obj) = r.as_object_mut() else {
                continue;
            };
            let Some(marks) = obj.get("sensitive_values").cloned() else {
                continue;
            };
            if let Some(values) = obj.get_mut("values") {
                apply_marks(values, &marks);
            }
        }
    }
    if depth < MAX_MODULE_DEPTH {
        if let Some(children) = module.get_mut("child_modules").and_then(Json::as_array_mut) {
            for child in children {
                redact_module(child, depth + 1);
            }
        }
    }
}

/// Walks a sensitivity map alongside the value it describes: `true` hides the value there;
/// objects and arrays descend.
fn apply_marks(value: &mut Json, marks: &Json) {
    match marks {
        Json::Bool(true) => hide(value),
        Json::Object(m) => {
            if let Some(obj) = value.as_object_mut() {
                for (k, mark) in m {
                    if let Some(v) = obj.get_mut(k) {
                        apply_marks(v, mark);
                    }
                }
            }
        }
        Json::Array(ms) => {
            if let Some(items) = value.as_array_mut() {
                for (v, mark) in items.iter_mut().zip(ms) {
                    apply_marks(v, mark);
                }
            }
        }
        _ => {}
    }
}

fn hide(value: &mut Json) {
    if !value.is_null() {
        *value = Json::String(REDACTED.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_descend_into_objects_and_lists() {
        let mut v = json!({"a": "x", "b": {"c": "y", "d": "z"}, "l": ["p", "q"], "n": null});
        apply_marks(
            &mut v,
            &json!({"b": {"c": true}, "l": [false, true], "n": true, "missing": true}),
        );
        assert_eq!(
            v,
            json!({"a": "x", "b": {"c": REDACTED, "d": "z"}, "l": ["p", REDACTED], "n": null})
        );
        let mut whole = json!({"k": [1, 2]});
        apply_marks(&mut whole, &json!(true));
        assert_eq!(whole, json!(REDACTED));
    }
}
